"""`python -m pimlab simulate` as a whole process (start-up included): commands per second against the C++ AiM
simulator, and peak memory.

Run: python bench/bench_simulate.py [--tokens N]. Writes an AiM ISR trace (QK^T of one KV head with 4 query
heads over 1M tokens, no row reuse, on channel 0 only, so that no identical channel is reused: about 4 M commands),
replays it under static and DCS with the aimsim preset (no --csv / --chrome-trace: totals only), and prints wall
time, commands per second (a command is one the channel's
controller issues: WR_GB / MAC / RD_MAC plus the inserted ACT, PRE, REF and mode switches) beside the C++
simulator's 0.6-0.9 M commands/s on one core (issue 9, Release build, this kind of machine), and the process's
peak resident memory. The same trace with all 32 channels' masks set is replayed too: pimlab schedules identical
channels once, the C++ simulator simulates each.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pimlab.aimtrace import pimlab_mask, read_table, replay_trace, write_trace
from pimlab.engine.timing import AIMSIM_ENGINE
from pimlab.isa import compile_attention, expand_table
from pimlab.schedule import summarize

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


def _split(path: Path, policy: str) -> str:
    """Where the time goes inside the process: reading the file, expanding, summarising."""
    start = time.perf_counter()
    table = read_table(path)
    parsed = time.perf_counter()
    commands = expand_table(table, 0)
    expanded = time.perf_counter()
    summarize(commands, policy, AIMSIM_ENGINE, 64, 1)
    done = time.perf_counter()
    return (f"read {parsed - start:5.2f} s ({len(table['op']):,} instructions), expand {expanded - parsed:4.2f} s, "
            f"summarize {done - expanded:5.2f} s ({len(commands):,} commands)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=1 << 20, help="context of the KV head (default 1M)")
    args = parser.parse_args()
    for label, mask in (("channel 0", 0x80000000), ("32 identical channels", 0xFFFFFFFF)):
        program = compile_attention("qk", args.tokens, 128, group=4, obuf_entries=1, ch_mask=pimlab_mask(mask))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "qk.trace"
            write_trace(program, path)
            lines = sum(1 for _ in path.open())
            print(f"trace: QK^T, {args.tokens:,} tokens, head dim 128, 4 query heads, {label}; {lines:,} lines")
            for policy in ("static", "dcs"):
                result = replay_trace(str(path), policy, timelines=False)
                commands = sum(s.commands for s in result.channel_summaries)  # issued by the channels' controllers
                wall, peak = run(path, policy)
                rate = commands / wall
                print(f"  {policy:6s} {commands:>11,d} commands in {wall:6.2f} s (whole process) = {rate / 1e6:6.2f} "
                      f"M commands/s = {rate / CPP_COMMANDS_PER_S[1]:5.1f}x-{rate / CPP_COMMANDS_PER_S[0]:5.1f}x "
                      f"the C++ simulator ({CPP_COMMANDS_PER_S[0] / 1e6}-{CPP_COMMANDS_PER_S[1] / 1e6} M/s); "
                      f"peak memory {peak:5.0f} MiB")
                if mask == 0x80000000:
                    print(f"         in-process: {_split(path, policy)}")


if __name__ == "__main__":
    main()
