"""Scheduler speed: commands per second of the plain loop and of the exact fast path.

Run: python bench/bench_schedule.py [--quick | --summaries | --loops | --figures [--quick] [--code PATH]]. Prints
numbers and the ratio to the C++ AiM reference (aim_simulator runs about 0.6-0.9 million commands per second on this
kind of machine, issue 3). Times are the best of 2 (plain loop on the long stream) or 3 runs. The `aim` preset
refreshes (tREFI), `aimsim` does not. --loops: the plain reference loop against the specialised loops of the
built-in policies on the Fig. 18 app's streams.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE
from pimlab.isa import compile_attention, expand
from pimlab.schedule import find_period, schedule

CPP_COMMANDS_PER_S = (0.6e6, 0.9e6)  # the C++ AiM reference, as issue 3 states it


def timed(commands, policy, timing, entries, fast, repeats: int = 3):
    """The trace and the best wall time of `repeats` runs (the machine is shared: the best run is the least
    disturbed one)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        trace = schedule(commands, policy, timing, 64, entries, fast=fast)
        best = min(best, time.perf_counter() - start)
    return trace, best


def ratio(rate: float) -> str:
    return f"{rate / CPP_COMMANDS_PER_S[1]:.2f}x-{rate / CPP_COMMANDS_PER_S[0]:.2f}x the C++ reference"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 16x smaller stream (a smoke run)")
    parser.add_argument("--summaries", action="store_true", help="only summarize vs schedule on the figures' "
                        "longest streams")
    args = parser.parse_args()
    tokens = 8192 if args.quick else 131072
    # one KV head's SV with GQA g = 8 and row reuse at 128K tokens: about one million commands
    print(f"stream: SV, {tokens} tokens, head_dim 128, GQA g = 8, row reuse (one channel)")
    for policy, entries in (("static", 1), ("dcs", 2)):
        commands = expand(compile_attention("sv", tokens, 128, group=8, row_reuse=True, obuf_entries=entries), 0)
        for timing in (AIM_ENGINE, AIMSIM_ENGINE):
            full, t_full = timed(commands, policy, timing, entries, fast=False, repeats=2)
            fast, t_fast = timed(commands, policy, timing, entries, fast=True)
            assert fast.total_cycles == full.total_cycles, (policy, timing.name)
            rate_full, rate_fast = len(commands) / t_full, len(commands) / t_fast
            print(f"  {policy:6s} {timing.name:6s} {len(commands):>9,d} commands, {full.total_cycles:>11,d} cycles:"
                  f"  plain loop {t_full:6.2f} s = {rate_full / 1e6:5.2f} M cmd/s ({ratio(rate_full)})"
                  f"  fast path {t_fast:6.2f} s = {rate_fast / 1e6:6.2f} M cmd/s ({ratio(rate_fast)})")
    print(f"fast path on one 128K-token head (MHA, QK^T then SV), tokens = {tokens}")
    for op in ("qk", "sv"):
        for policy, entries in (("static", 1), ("dcs", 2)):
            commands = expand(compile_attention(op, tokens, 128, obuf_entries=entries), 0)
            for timing in (AIM_ENGINE, AIMSIM_ENGINE):
                full, t_full = timed(commands, policy, timing, entries, fast=False)
                fast, t_fast = timed(commands, policy, timing, entries, fast=True)
                assert fast.total_cycles == full.total_cycles
                print(f"  {op} {policy:6s} {timing.name:6s} {len(commands):>8,d} commands, period "
                      f"{find_period(commands)[2]:>4d}: plain {t_full:6.3f} s, fast {t_fast:6.3f} s "
                      f"({t_full / t_fast:5.1f}x, {len(commands) / t_fast / 1e6:6.2f} M cmd/s, "
                      f"{ratio(len(commands) / t_fast)})")


def summaries() -> None:
    """summarize (totals only, bounded) beside schedule(...).summary() on the figures' longest streams: seconds and
    the peak of memory allocated (tracemalloc) beyond the stream itself."""
    import tracemalloc

    from pimlab.figures.fig08 import gemv_repeats, gemv_stream
    from pimlab.schedule import summarize

    streams = {"Fig. 8, dim 64, 4,194,304 MACs": lambda: gemv_stream(64, gemv_repeats(64, 1 << 22), 2),
               "Fig. 8, dim 512, 4,194,304 MACs": lambda: gemv_stream(512, gemv_repeats(512, 1 << 22), 2),
               "Fig. 9, QK^T, MHA, 1,048,576 tokens": lambda: expand(compile_attention("qk", 1 << 20, 128,
                                                                                       obuf_entries=2), 0)}
    print("summarize vs schedule(...).summary() (aim preset, DCS, 2 OBuf entries; memory beyond the stream). Fig. 8 "
          "at dim 512: the whole state (refresh phase included) repeats only every 118 periods (128K commands), "
          "beyond summarize's window, so it schedules the stream on a ring (pimlab.engine.ring)")
    for name, build in streams.items():
        commands = build()
        row = []
        for label, run in (("summarize", summarize), ("schedule", lambda *a: schedule(*a).summary())):
            start = time.perf_counter()
            got = run(commands, "dcs", AIM_ENGINE, 64, 2)
            seconds = time.perf_counter() - start
            tracemalloc.start()  # a second run for the memory: tracing slows it down
            run(commands, "dcs", AIM_ENGINE, 64, 2)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            row.append((label, seconds, peak, got))
        assert row[0][3] == row[1][3]
        print(f"  {name}: {len(commands):,} commands; " + "; ".join(
            f"{label} {seconds:5.2f} s, +{peak:5.0f} MiB" for label, seconds, peak, _ in row))


# one figure computed in a fresh process: its wall time, and its peak resident memory (VmHWM) beyond the imports
_FIGURE = ("import resource, sys, time\nfrom pimlab.figures import fig08, fig09, fig18\n"
           "base = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
           "start = time.perf_counter()\nexec(sys.argv[1])\nwall = time.perf_counter() - start\n"
           "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
           "print(wall, (int(peak) - int(base)) / 1024)")

FIGURE_CASES = {  # name: figure call (the apps' largest accepted values, and their defaults)
    "Fig. 8 default (5 dims, 4,096 MACs per point)": "fig08.fig8(min_macs=4096)",
    "Fig. 8 dim 64, 4,194,304 MACs per point": "fig08.fig8(dims=(64,), min_macs=1 << 22)",
    "Fig. 8 dim 512, 4,194,304 MACs per point": "fig08.fig8(dims=(512,), min_macs=1 << 22)",
    "Fig. 8 dim 1024, 4,194,304 MACs per point": "fig08.fig8(dims=(1024,), min_macs=1 << 22)",
    "Fig. 8 dim 8192, 4,194,304 MACs per point": "fig08.fig8(dims=(8192,), min_macs=1 << 22)",
    "Fig. 9 default (512 tokens)": "fig09.fig9(tokens=512)",
    "Fig. 9 1,048,576 tokens (16 bars)": "fig09.fig9(tokens=1 << 20)",
    "Fig. 9 1,048,576 tokens, g = 16, head dim 16": "fig09.fig9(groups=(16,), tokens=1 << 20, head_dim=16)",
    "Fig. 18 default (512 tokens)": "fig18.fig18(tokens=512)",
    "Fig. 18 1,048,576 tokens (32 bars)": "fig18.fig18(tokens=1 << 20)",
}


def figures(quick: bool, code: str | None) -> None:
    """Each of FIGURE_CASES in a fresh process (no cache carried over): wall seconds and peak MB beyond imports.
    --code PATH runs another checkout's pimlab (e.g. main, for the numbers before a change)."""
    env = dict(os.environ, PYTHONPATH=code) if code else None
    print(f"figures at the apps' defaults and largest accepted values ({code or 'this checkout'}); the budget is "
          "1 s and 300 MB; under load on a shared 2-core machine")
    for name, call in FIGURE_CASES.items():
        if quick and "default" not in name:
            continue
        done = subprocess.run([sys.executable, "-c", _FIGURE, call], env=env, capture_output=True, text=True)
        if done.returncode:
            print(f"  {name}: failed: {done.stderr.strip().splitlines()[-1]}")
            continue
        wall, peak = map(float, done.stdout.split())
        print(f"  {name:48s} {wall:7.2f} s  +{peak:6.0f} MB" + ("  (over budget)" if wall > 1 or peak > 300 else ""))


def _bytecodes(engines, method: str) -> int:
    """Python bytecodes executed by engine.<method>() over `engines` (a count the machine's load does not move)."""
    count = [0]

    def tracer(frame, event, arg):
        frame.f_trace_opcodes = True
        if event == "opcode":
            count[0] += 1
        return tracer

    sys.settrace(tracer)
    try:
        for engine in engines:
            getattr(engine, method)()
    finally:
        sys.settrace(None)
    return count[0]


def loops(tokens: int = 257, head_dim: int = 127) -> None:
    """The Fig. 18 app's streams (a neighbour of its defaults: every group, both orders, both ops) under each
    scheduler variant: the plain reference loop (`Engine.run_plain`) against the specialised loop `Engine.run`
    takes (`pimlab.engine.fast`), in microseconds per command (best of 7, interleaved) and Python bytecodes per
    command (exact, whatever the load)."""
    import gc
    from dataclasses import replace

    from pimlab.engine.core import Engine
    from pimlab.engine.policies import policy_class
    from pimlab.figures.fig08 import VARIANTS, variant_setup
    from pimlab.isa import compile_attention_table, expand_table

    print(f"plain vs specialised loop on the Fig. 18 app's streams ({tokens} tokens, head_dim {head_dim}, groups "
          "1, 2, 4, 8, both orders, QK^T and SV; aim preset, tMODCH 32); times under load on a shared machine")
    gc.disable()
    for variant in VARIANTS:
        streams = []
        for op in ("qk", "sv"):
            for group in (1, 2, 4, 8):
                for prefetch in (False, True):
                    policy, entries, regions, timing = variant_setup(variant, 2, replace(AIM_ENGINE, tMODCH=32))
                    table = compile_attention_table(op, tokens, head_dim, group, group > 1, obuf_entries=entries,
                                                    buffer_regions=regions, prefetch=prefetch)
                    streams.append((expand_table(table, 0), policy_class(policy), timing, entries))
        n = sum(len(c) for c, *_ in streams)

        def engines(streams=streams):
            return [Engine(c, cls(c, t, 64, o), t, 64, o) for c, cls, t, o in streams]

        best = {"run_plain": float("inf"), "run": float("inf")}
        for _ in range(7):
            for method in best:
                built = engines()
                start = time.perf_counter()
                for engine in built:
                    getattr(engine, method)()
                best[method] = min(best[method], time.perf_counter() - start)
        ops = {method: _bytecodes(engines(), method) / n for method in best}
        print(f"  {variant:24s} {n:>6,d} commands: plain {best['run_plain'] / n * 1e6:5.2f} us/command "
              f"({ops['run_plain']:4.0f} bytecodes), specialised {best['run'] / n * 1e6:5.2f} us/command "
              f"({ops['run']:4.0f} bytecodes): {best['run_plain'] / best['run']:4.2f}x time, "
              f"{ops['run_plain'] / ops['run']:4.2f}x bytecodes")
    gc.enable()


if __name__ == "__main__":
    if "--figures" in sys.argv:
        at = sys.argv.index("--code") + 1 if "--code" in sys.argv else 0
        figures("--quick" in sys.argv, sys.argv[at] if at else None)
    elif "--loops" in sys.argv:
        loops()
    else:
        summaries() if "--summaries" in sys.argv else main()
