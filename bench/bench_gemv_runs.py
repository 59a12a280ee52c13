"""The system model's cold engine runs: CENT GEMVs (`system.cent_gemv_program`) through the fast path against the
plain loop, static and DCS, refresh on (the `aim` preset), checked equal.

Run: python bench/bench_gemv_runs.py (prints times and ratios; not a test). The shapes are LLM-72B-128K-GQA's FC
matrices split over 4..32 channels, as the Fig. 16 app's model switch runs them. Under a static policy the fast path
replays a GEMV's output tiles between refreshes (`pimlab.engine.periodic.tile_runs`); under DCS the two queues move
at different paces per tile, so it finds whole-chunk repeats only.
"""

import time

import numpy as np

from pimlab import isa, system
from pimlab.engine.core import Engine
from pimlab.hardware import CENT
from pimlab.models import LLM_72B_128K_GQA
from pimlab.schedule import schedule

SHAPES = [(8192, 64), (8192, 8), (29568, 20), (8192, 48), (24576, 32)]  # (d_in, output tiles)


def run(commands, policy: str, fast: bool):
    """(seconds, trace, the engine's replay or None) of one schedule."""
    module, engines, trace = CENT.module, [], Engine.trace
    Engine.trace = lambda self: engines.append(self) or trace(self)
    try:
        start = time.perf_counter()
        out = schedule(commands, policy, system._engine_timing("aim"), module.gbuf_entries, system.CENT_LATCHES,
                       fast=fast)
        seconds = time.perf_counter() - start
    finally:
        Engine.trace = trace
    return seconds, out, engines[0].replay


def main():
    print(f"{LLM_72B_128K_GQA.name} FC shapes on one CENT channel, refresh on; times on this machine, as loaded")
    for policy in ("static", "dcs"):
        total_fast = total_plain = 0.0
        for d_in, tiles in SHAPES:
            commands = isa.expand(system.cent_gemv_program(d_in, tiles, CENT.module))
            t_fast, fast, replay = run(commands, policy, True)
            t_plain, plain, _ = run(commands, policy, False)
            assert fast.total_cycles == plain.total_cycles and np.array_equal(fast.issue_cycles, plain.issue_cycles)
            replayed = sum(replay.replayed.values()) / len(commands) if replay is not None else 0.0
            total_fast, total_plain = total_fast + t_fast, total_plain + t_plain
            print(f"  {policy:6s} d_in {d_in:5d} x {tiles:2d} tiles: {len(commands):6d} commands, "
                  f"fast {t_fast * 1e3:6.1f} ms, plain {t_plain * 1e3:6.1f} ms, ratio {t_plain / t_fast:4.2f}x, "
                  f"{replayed:4.0%} replayed")
        print(f"  {policy}: fast {total_fast * 1e3:.0f} ms, plain loop {total_plain * 1e3:.0f} ms, "
              f"ratio {total_plain / total_fast:.2f}x")


if __name__ == "__main__":
    main()
