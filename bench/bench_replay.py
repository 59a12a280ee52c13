"""Whole-process time and peak memory of replaying CENT's decoder block, against the C++ AiM simulator.

Run: python bench/bench_replay.py [--contexts 4096,16384,32768,65536] [--layout cent|chunked] [--repeats 2].
Each replay is one `python -m pimlab simulate TRACE --json` process (start-up, parsing and the replay included),
timed as one would time `ramulator2 -f test/example.yaml -t TRACE`: wall seconds and the process's peak resident
memory.

- 4096 tokens: CENT's own block (`tests/data/cent-7b-4096`); the C++ simulator takes 5.3 s and 65 MB for it
  (measured, Release build, issue 11).
- Longer contexts: blocks from `bench/cent_blocks.py`: `--layout cent` (default) lays the KV cache, scores and
  V cache out for the context as CENT's generator does (its loops run longer; at 4096 it is the real block line
  for line), `--layout chunked` repeats the 4096 attention and softmax groups once per 4096 tokens on rows of
  their own (a harsher case for the skip: every loop is short). Neither is CENT's own output. The C++ time for
  them is ESTIMATED, not measured (no C++ build here): at the C++ simulator's rate on the 4096 block, per DRAM
  command (5.3 s for that block's 4,714,880 commands) and per simulated cycle (5.3 s for 762,668 cycles; the
  C++ ticks all 32 controllers every cycle); the speed-up is given against the lower of the two. The C++
  memory for them is not known: it reads the whole trace into memory, so at least the 65 MB of 4096.

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

BENCH = Path(__file__).resolve().parent
BASE_CONTEXT = 4096

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


def synthesise(context: int, out: Path, layout: str) -> Path:
    """The block's trace file, written by `cent_blocks.py` in a process of its own (a forked child's peak memory
    counts its parent's pages: building the block here would inflate the replay's)."""
    done = subprocess.run([sys.executable, str(BENCH / "cent_blocks.py"), str(context), str(out), layout],
                          check=True, stdout=subprocess.PIPE, text=True)
    return Path(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contexts", default="4096,16384,32768,65536")
    parser.add_argument("--layout", default="cent", choices=("cent", "chunked"))
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    print(f"{'context':>8}{'lines':>10}{'cycles':>10}{'commands':>11}{'wall s':>8}{'CPU s':>7}{'peak MB':>8}"
          f"{'C++ s':>17}{'speed-up':>10}{'by CPU':>8}{'C++ MB':>8}{'MB ratio':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        for context in (int(c) for c in args.contexts.split(",")):
            path = synthesise(context, Path(tmp) / f"block_{context}.trace", args.layout)
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
                  f"{peak:>8.0f}{cpp_text:>17}{cpp / seconds:>9.1f}x{cpp / cpu:>7.1f}x{mb_text:>8}"
                  f"{('' if context == BASE_CONTEXT else '<=') + f'{peak / CPP_MB:.2f}':>9}")
    print("C++ s for longer contexts: estimated from the 4096 block's rate per DRAM command / per cycle "
          f"(speed-up against the lower); their blocks are bench/cent_blocks.py stand-ins ({args.layout} layout). "
          "speed-up: C++ s / wall s; by CPU: C++ s / this process's CPU s (the machine is shared: wall time "
          "under load counts other processes' time). MB ratio: peak MB / the C++'s MB.")


if __name__ == "__main__":
    main()
