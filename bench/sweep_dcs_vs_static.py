"""Long random sweep: DCS against static (and ping-pong) on random short streams, with the independent checker.

Run: python bench/sweep_dcs_vs_static.py [--streams 100000] [--seed 0]. Each stream draws what the property test
in tests/test_schedule.py draws (kinds, GBuf / OBuf entries, rows 0-3, a preset, often refresh every 150-900
cycles), a little wider. It prints how many streams break each relation and the worst one, as Python you can
paste into a test. Not run in CI (it takes minutes).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE, fig7_engine
from pimlab.isa import Commands
from pimlab.schedule import schedule
from pimlab.trace import check_hazards

TIMINGS = (AIM_ENGINE, AIMSIM_ENGINE, fig7_engine(), fig7_engine(2, 2, 5, 5))


def random_case(rng: np.random.Generator):
    n = int(rng.integers(1, 41))
    gbuf_entries, obuf_entries = int(rng.integers(1, 7)), int(rng.integers(1, 5))
    kind = rng.choice([0, 1, 1, 2, 7], n)
    commands = Commands.make(kind, np.where(np.isin(kind, [0, 1]), rng.integers(0, gbuf_entries, n), -1),
                             np.where(kind != 0, rng.integers(0, obuf_entries, n), -1),
                             np.where(kind == 1, rng.integers(0, 4, n), -1))
    timing = TIMINGS[int(rng.integers(0, len(TIMINGS)))]
    if timing.refresh or (timing.rows and rng.random() < 0.5):
        interval = int(rng.integers(150, 901))
        timing = replace(timing, refresh=True, tREFI=interval, tRFC=int(rng.integers(20, interval // 5 + 21)))
    return commands, timing, gbuf_entries, obuf_entries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    broken = {"hazard": 0, "dcs slower than static": 0, "dcs slower than static, no refresh": 0,
              "ping-pong hazard": 0}
    worst, commands_total, start, skipped = None, 0, time.perf_counter(), 0
    for _ in range(args.streams):
        try:
            commands, timing, g, o = random_case(rng)
        except ValueError:  # a refresh interval too short for a MAC between refreshes
            skipped += 1
            continue
        static, dcs = (schedule(commands, p, timing, g, o) for p in ("static", "dcs"))
        commands_total += len(commands)
        broken["hazard"] += bool(check_hazards(commands, dcs))
        broken["ping-pong hazard"] += bool(check_hazards(commands, schedule(commands, "pingpong", timing, g, o)))
        loss = dcs.total_cycles - static.total_cycles
        if loss > 0:
            broken["dcs slower than static"] += 1
            broken["dcs slower than static, no refresh"] += not timing.refresh
            if worst is None or loss > worst[0]:
                worst = (loss, commands, timing, g, o, static.total_cycles, dcs.total_cycles)
    took = time.perf_counter() - start
    print(f"{args.streams:,} random streams ({commands_total:,} commands, {skipped} timings rejected) in {took:.0f} s")
    for name, count in broken.items():
        print(f"  {name:<38} {count:>7,d} ({100 * count / max(1, args.streams - skipped):.4f} %)")
    if worst:
        loss, c, t, g, o, s, d = worst
        print(f"worst: DCS {d} vs static {s} cycles (+{loss}); preset {t.name}, refresh {t.refresh} tREFI {t.tREFI} "
              f"tRFC {t.tRFC}, gbuf_entries {g}, obuf_entries {o}")
        print(f"  kind {c.kind.tolist()}\n  gbuf {c.gbuf.tolist()}\n  obuf {c.obuf.tolist()}\n  row {c.row.tolist()}")


if __name__ == "__main__":
    main()
