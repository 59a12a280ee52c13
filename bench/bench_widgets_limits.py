"""First-time updates and the most expensive value each control of the engine apps accepts, in fresh processes.

Run: python bench/bench_widgets_limits.py [--timeout 60]. Each case runs in its own Python process (cold caches:
a first-time update, as a student opening the notebook gets) and prints its wall time, peak memory and the ratio
to the 1 s budget an accepted value has (live updates of the defaults: bench_widgets_pipeline.py). A case that
does not finish within the timeout prints as such.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

BUDGET_S = 1.0
CASES = {  # label: code run after the imports
    "Fig. 7 app, first time (defaults)": "fig7_app()",
    "Fig. 7, slowest knobs (t_rd_out = t_wr_inp = t_mac = 64, tCCDS = 16)":
        "fig7_app().set(t_rd_out=64, t_wr_inp=64, t_mac=64, tCCDS=16)",
    "Fig. 7, GBuf of 1 entry": "fig7_app().set(gbuf_entries=1)",
    "Fig. 8 app, first time (defaults)": "fig8_compute()",
    "Fig. 8, largest dimension (8192)": "fig8_compute(dims='8192')",
    "Fig. 8, most MACs per point (4,194,304)": "fig8_compute(min_macs=1 << 22)",
    "Fig. 8, most OBuf entries (64)": "fig8_compute(obuf_entries=64)",
    "Fig. 9 app, first time (defaults)": "fig9_compute()",
    "Fig. 9, most tokens (1,048,576)": "fig9_compute(tokens=1 << 20)",
    "Fig. 9, largest group (16)": "fig9_compute(groups='16')",
    "Fig. 18 app, first time (defaults)": "fig18_compute()",
    "Fig. 18, most tokens (1,048,576)": "fig18_compute(tokens=1 << 20)",
    "Fig. 18, smallest GBuf ping-pong accepts at head dim 128 (16 entries)": "fig18_compute(gbuf_entries=16)",
}
IMPORTS = ("from pimlab_widgets.pipeline import fig7_app; "
           "from pimlab_widgets.breakdown import fig8_compute, fig9_compute, fig18_compute; ")


def run(code: str, timeout_s: float) -> tuple[float | None, float]:
    """(seconds of the case itself or None on timeout, peak RSS MiB) in a fresh process."""
    script = (IMPORTS + "import time; t = time.perf_counter(); " + code +
              "; print(time.perf_counter() - t)")
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    start = time.perf_counter()
    while time.perf_counter() - start < timeout_s:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # reaps the child with its resource usage
        if pid:
            if status:
                return float("nan"), usage.ru_maxrss / 1024  # rejected or failed: its message is on stderr
            return float(proc.stdout.read().strip().splitlines()[-1]), usage.ru_maxrss / 1024
        time.sleep(0.05)
    proc.kill()
    _, _, usage = os.wait4(proc.pid, 0)
    return None, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--only", default="", help="run only the cases whose label contains this text")
    args = parser.parse_args()
    for label, code in CASES.items():
        if args.only not in label:
            continue
        seconds, peak = run(code, args.timeout)
        shown = f"> {args.timeout:.0f} s (stopped)" if seconds is None else f"{seconds:7.2f} s"
        ratio = "" if seconds is None else f" ({seconds / BUDGET_S:6.1f}x the 1 s budget)"
        print(f"{label:<70} {shown}{ratio}, peak memory {peak:5.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
