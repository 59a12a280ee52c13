"""`python -m pimlab simulate` as a whole process (start-up included): commands per second against the C++ AiM
simulator, and peak memory.

Run: python bench/bench_simulate.py [--tokens N]. Writes an AiM ISR trace (QK^T of one KV head with 8 query
heads, no row reuse, on channel 0 only, so that no identical channel is reused), replays it under static and
DCS with the aimsim preset, and prints wall time, commands per second (a command is one the channel's
controller issues: WR_GB / MAC / RD_MAC plus the inserted ACT, PRE, REF and mode switches) beside the C++
simulator's 0.6-0.9 M commands/s on one core (issue 9, Release build, this kind of machine), and the process's
peak resident memory.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pimlab.aimtrace import pimlab_mask, replay_trace, write_trace
from pimlab.isa import compile_attention

CPP_COMMANDS_PER_S = (0.6e6, 0.9e6)


def run(path: Path, policy: str) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one `python -m pimlab simulate` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pimlab", "simulate", str(path), "--policy", policy, "--json"],
                            stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    if status:
        raise RuntimeError(f"simulate exited with status {status}")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=1 << 20, help="context of the KV head (default 1M)")
    args = parser.parse_args()
    program = compile_attention("qk", args.tokens, 128, group=8, obuf_entries=1, ch_mask=pimlab_mask(0x80000000))
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "qk.trace"
        write_trace(program, path)
        lines = sum(1 for _ in path.open())
        print(f"trace: QK^T, {args.tokens:,} tokens, head dim 128, 8 query heads, channel 0; {lines:,} lines")
        for policy in ("static", "dcs"):
            commands = len(replay_trace(str(path), policy).trace)  # what the controller issues, counted in-process
            wall, peak = run(path, policy)
            rate = commands / wall
            print(f"  {policy:6s} {commands:>10,d} commands in {wall:6.2f} s (whole process) = {rate / 1e6:6.2f} M "
                  f"commands/s = {rate / CPP_COMMANDS_PER_S[1]:5.1f}x-{rate / CPP_COMMANDS_PER_S[0]:5.1f}x the C++ "
                  f"simulator; peak memory {peak:6.0f} MiB")


if __name__ == "__main__":
    main()
