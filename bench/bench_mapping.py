"""Speed of the mapper and of the ChannelOccupancy app at 64 modules x 32 channels.

Run: /work/venv/bin/python bench/bench_mapping.py
Prints milliseconds (median of a few runs) and the ratio to the app's 100 ms budget.
"""

from __future__ import annotations

import statistics
import time

from pimlab.hardware import Module, System
from pimlab.mapping import SEGMENT_COLUMNS, map_batch
from pimlab.models import LLM_7B_32K
from pimlab.workloads import MULTIFIELDQA, QMSUM

BUDGET_MS = 100.0


def median_ms(function, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(1e3 * (time.perf_counter() - start))
    return statistics.median(times)


def expand_all(mapping) -> None:
    """Materialise every per-piece and per-segment column (what a full dump of the mapping costs)."""
    p, t = mapping.placement, mapping.timeline
    for name in ("request", "layer", "head", "tensor", "module_index", "channel", "token_start", "token_stop",
                 "dim_start", "dim_stop", "row_start", "row_stop"):
        getattr(p, name)
    for name in SEGMENT_COLUMNS:
        getattr(t, name)


def bench_mapper() -> None:
    system = System("64 x 32", "pim-only", Module(channels=32), modules=64)
    cases = (("LLM-7B-128K-GQA, multifieldqa x16", MULTIFIELDQA.model, MULTIFIELDQA.sample(16, 0), 8, 8),
             ("LLM-7B-32K, QMSum x8", LLM_7B_32K, QMSUM.sample(8, 0), 32, 2),
             ("LLM-7B-32K, QMSum x8", LLM_7B_32K, QMSUM.sample(8, 0), 8, 8))
    print("map_batch (placement + per-channel work + timeline), 64 modules x 32 channels, peak-rate cost;")
    print("then the same with every column expanded (placement and timeline are stored once per module shape)")
    for label, model, lengths, tp, pp in cases:
        for scheme in ("hfp", "tcp"):
            mapping = map_batch(system, model, lengths, scheme, tp, pp)
            ms = median_ms(lambda: map_batch(system, model, lengths, scheme, tp, pp))  # noqa: B023
            full = median_ms(lambda: expand_all(map_batch(system, model, lengths, scheme, tp, pp)))  # noqa: B023
            print(f"  {label:36s} {scheme} TP={tp:<2d} PP={pp:<2d} {len(mapping.placement):8d} pieces "
                  f"{ms:7.1f} ms, expanded {full:7.1f} ms")


def bench_app() -> None:
    from pimlab_widgets.occupancy import ChannelOccupancy

    app = ChannelOccupancy(workload="multifieldqa", modules=64, channels=32, batch=16, tp=8, scheme="tcp")
    frame = iter(range(1, 10**6))
    steps = {
        "time step (slider / play / step)": lambda: app.set(frame=next(frame) % app.frames),
        "colour by (same mapping)": lambda: app.set(colour_by="head" if app.data.colour_by != "head" else "layer"),
        "scheme, mapping cached": lambda: app.set(scheme="hfp" if app.app.values["scheme"] == "tcp" else "tcp"),
    }
    print("ChannelOccupancy update, 64 modules x 32 channels, LLM-7B-128K-GQA multifieldqa batch 16, TP 8 x PP 8")
    for label, step in steps.items():
        report(label, median_ms(step, repeat=9))
    for scheme in ("hfp", "tcp"):
        app.set(scheme=scheme)
        batches = iter(range(12, 17))  # each batch size once: every update maps again
        report("new batch (maps again), " + scheme.upper(), median_ms(lambda: app.set(batch=next(batches)), 5))  # noqa: B023
    assert not app.error, app.error
    print("ChannelOccupancy update, 64 modules x 32 channels, LLM-7B-32K QMSum batch 8 (524288 pieces), TP 8 x PP 8")
    app.set(workload=QMSUM.name, batch=8, scheme="tcp")
    seeds = iter(range(1, 10**6))
    report("new seed (maps again), TCP", median_ms(lambda: app.set(seed=next(seeds)), 5))
    assert not app.error, app.error


def report(label: str, ms: float) -> None:
    print(f"  {label:36s} {ms:7.1f} ms  ({ms / BUDGET_MS:.2f} of the {BUDGET_MS:.0f} ms budget)")


if __name__ == "__main__":
    bench_mapper()
    bench_app()
