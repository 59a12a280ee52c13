"""Whole-process time and peak memory of replaying CENT's decoder block, against the C++ AiM simulator.

Run: python bench/bench_replay.py [--contexts 4096,16384,32768] [--repeats 2]. Each replay is one
`python -m pimlab simulate TRACE --json` process (start-up, parsing and the replay included), timed as one
would time `ramulator2 -f test/example.yaml -t TRACE`: wall seconds and the process's peak resident memory.

- 4096 tokens: CENT's own block (`tests/data/cent-7b-4096`); the C++ simulator takes 5.3 s and 65 MB for it
  (measured, Release build, issue 11).
- Longer contexts: stand-in blocks from `bench/cent_blocks.py` (the attention and softmax op groups once per
  4096 tokens, on rows of their own; see its docstring: the same kind of block, not CENT's output). The C++
  time for them is ESTIMATED, not measured: at the C++ simulator's rate on the 4096 block, per DRAM command
  (5.3 s for that block's 4,714,880 commands) and, beside it, per simulated cycle (5.3 s for 762,668 cycles);
  the speed-up is given against the lower of the two. The C++ memory for them is not known (it holds the
  whole trace in memory, so it is at least the 65 MB it takes at 4096).

The machine is shared: the best wall time of `--repeats` runs is printed, with the CPU time of that run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cent_blocks import BASE_CONTEXT, synthesise  # noqa: E402

CPP_SECONDS, CPP_MB = 5.3, 65.0  # issue 11: the C++ simulator on the 4096-token block, measured
CPP_COMMANDS, CPP_CYCLES = 4_714_880, 762_668  # that block's DRAM commands and memory_system_cycles


def measure(path: Path) -> tuple[float, float, float, dict]:
    """Wall seconds, CPU seconds, peak MB and the JSON summary of one `python -m pimlab simulate` process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pimlab", "simulate", str(path), "--json"],
                            stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if status:
        raise RuntimeError(f"simulate exited with status {status}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", default="4096,16384,32768")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"{'context':>8}{'lines':>10}{'cycles':>10}{'commands':>11}{'wall s':>8}{'CPU s':>7}{'peak MB':>8}"
          f"{'C++ s':>17}{'speed-up':>10}{'C++ MB':>8}")
    with tempfile.TemporaryDirectory() as tmp:
        for context in (int(c) for c in args.contexts.split(",")):
            path = synthesise(context, Path(tmp) / f"block_{context}.trace")
            runs = sorted(measure(path) for _ in range(args.repeats))
            seconds, cpu, _, summary = runs[0]
            peak = max(r[2] for r in runs)
            commands, cycles = summary["commands"], summary["memory_system_cycles"]
            if context == BASE_CONTEXT:
                cpp, cpp_text, mb_text = CPP_SECONDS, f"{CPP_SECONDS:.1f} measured", f"{CPP_MB:.0f}"
            else:
                by_commands = CPP_SECONDS * commands / CPP_COMMANDS
                by_cycles = CPP_SECONDS * cycles / CPP_CYCLES
                cpp = min(by_commands, by_cycles)
                cpp_text, mb_text = f"{by_commands:.1f}/{by_cycles:.1f} est.", f">={CPP_MB:.0f}"
            print(f"{context:>8}{summary['requests']:>10}{cycles:>10}{commands:>11}{seconds:>8.2f}{cpu:>7.2f}"
                  f"{peak:>8.0f}{cpp_text:>17}{cpp / seconds:>9.1f}x{mb_text:>8}")
    print("C++ s for longer contexts: estimated from the 4096 block's rate per DRAM command / per cycle "
          "(speed-up against the lower); their blocks are bench/cent_blocks.py stand-ins. Shared machine: "
          "timings under load.")


if __name__ == "__main__":
    main()
