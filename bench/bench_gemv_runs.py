"""The system model's cold engine runs: CENT GEMVs (`system.cent_gemv_program`) through the fast path against the
specialised loop alone and the plain loop, static and DCS, refresh on (the `aim` preset), checked equal.

Run: python bench/bench_gemv_runs.py [--repeats R] (prints times and ratios; not a test). The shapes are
LLM-72B-128K-GQA's FC matrices split over 4..32 channels, as the Fig. 16 app's model switch runs them, and
GPT3-175B's four, as the systems comparison runs them. Under a static policy the fast path replays a GEMV's output
tiles between refreshes (`pimlab.engine.periodic.tile_runs`); under DCS too, each queue moving by its own step per
tile (`pimlab.engine.tiles`). "loop" is the specialised loop with the periodic fast path off (what the fast path
must beat); times are CPU seconds, the best of --repeats, on this machine as loaded.
"""

import argparse
import time

import numpy as np

from pimlab import isa, system
from pimlab.engine import periodic
from pimlab.engine.core import Engine
from pimlab.hardware import CENT
from pimlab.models import GPT3_175B, LLM_72B_128K_GQA
from pimlab.schedule import schedule

SHAPES = {LLM_72B_128K_GQA.name: [(8192, 64), (8192, 8), (29568, 20), (8192, 48), (24576, 32)],
          GPT3_175B.name: [(12288, 24), (12288, 64), (32768, 24), (12288, 32)]}  # (d_in, output tiles)


def run(commands, policy: str, mode: str, repeats: int):
    """(CPU seconds, trace, the engine's watcher or None) of the best of `repeats` schedules; mode: "fast",
    "loop" (the specialised loop, no periodic fast path) or "plain" (the reference loop)."""
    module, engines, trace, periodic_path = CENT.module, [], Engine.trace, periodic.schedule_periodic
    Engine.trace = lambda self: engines.append(self) or trace(self)
    if mode == "loop":
        periodic.schedule_periodic = lambda *args: None
    try:
        best = None
        for _ in range(repeats):
            start = time.process_time()
            out = schedule(commands, policy, system._engine_timing("aim"), module.gbuf_entries,
                           system.CENT_LATCHES, fast=mode != "plain")
            seconds = time.process_time() - start
            best = seconds if best is None else min(best, seconds)
    finally:
        Engine.trace, periodic.schedule_periodic = trace, periodic_path
    return best, out, engines[-1].replay


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    repeats = parser.parse_args().repeats
    for model, shapes in SHAPES.items():
        print(f"{model} FC shapes on one CENT channel, refresh on; CPU times on this machine, as loaded")
        for policy in ("static", "dcs"):
            totals = dict(fast=0.0, loop=0.0, plain=0.0)
            for d_in, tiles in shapes:
                commands = isa.expand(system.cent_gemv_program(d_in, tiles, CENT.module))
                t_fast, fast, replay = run(commands, policy, "fast", repeats)
                t_loop, _, _ = run(commands, policy, "loop", repeats)
                t_plain, plain, _ = run(commands, policy, "plain", 1)
                assert fast.total_cycles == plain.total_cycles and np.array_equal(fast.issue_cycles, plain.issue_cycles)
                replayed = sum(replay.replayed.values()) / len(commands) if replay is not None else 0.0
                for key, value in (("fast", t_fast), ("loop", t_loop), ("plain", t_plain)):
                    totals[key] += value
                print(f"  {policy:6s} d_in {d_in:5d} x {tiles:2d} tiles: {len(commands):6d} commands, "
                      f"fast {t_fast * 1e3:6.1f} ms, loop {t_loop * 1e3:6.1f} ms, plain {t_plain * 1e3:6.1f} ms, "
                      f"loop / fast {t_loop / t_fast:4.2f}x, {replayed:4.0%} replayed "
                      f"({type(replay).__name__ if replay is not None else 'no watcher'})")
            print(f"  {policy}: fast {totals['fast'] * 1e3:.0f} ms, loop {totals['loop'] * 1e3:.0f} ms, plain "
                  f"{totals['plain'] * 1e3:.0f} ms; loop / fast {totals['loop'] / totals['fast']:.2f}x, "
                  f"plain / fast {totals['plain'] / totals['fast']:.2f}x")


if __name__ == "__main__":
    main()
