"""Speed of the mapper and of the ChannelOccupancy app at 64 modules x 32 channels.

Run: /work/venv/bin/python bench/bench_mapping.py
Prints milliseconds (median of a few runs) and the ratio to the app's 100 ms budget.
"""

from __future__ import annotations

import statistics
import time

from pimlab.hardware import Module, System
from pimlab.mapping import map_batch
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


def bench_mapper() -> None:
    system = System("64 x 32", "pim-only", Module(channels=32), modules=64)
    cases = (("LLM-7B-128K-GQA, multifieldqa x16", MULTIFIELDQA.model, MULTIFIELDQA.sample(16, 0), 8, 8),
             ("LLM-7B-32K, QMSum x8", LLM_7B_32K, QMSUM.sample(8, 0), 32, 2),
             ("LLM-7B-32K, QMSum x8", LLM_7B_32K, QMSUM.sample(8, 0), 8, 8))
    print("map_batch (placement + per-channel work + timeline), 64 modules x 32 channels, peak-rate cost")
    for label, model, lengths, tp, pp in cases:
        for scheme in ("hfp", "tcp"):
            mapping = map_batch(system, model, lengths, scheme, tp, pp)
            ms = median_ms(lambda: map_batch(system, model, lengths, scheme, tp, pp))  # noqa: B023
            print(f"  {label:36s} {scheme} TP={tp:<2d} PP={pp:<2d} {len(mapping.placement):8d} pieces "
                  f"{ms:7.1f} ms  ({1e3 * len(mapping.placement) / ms / 1e6:.2f} M pieces/s)")


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
        ms = median_ms(step, repeat=9)
        print(f"  {label:36s} {ms:7.1f} ms  ({ms / BUDGET_MS:.2f} of the {BUDGET_MS:.0f} ms budget)")
    for scheme in ("hfp", "tcp"):
        app.set(scheme=scheme)
        batches = iter(range(12, 17))  # each batch size once: every update maps again
        ms = median_ms(lambda: app.set(batch=next(batches)), repeat=5)  # noqa: B023
        print(f"  {'new batch (maps again), ' + scheme.upper():36s} {ms:7.1f} ms  "
              f"({ms / BUDGET_MS:.2f} of the {BUDGET_MS:.0f} ms budget)")
    assert not app.error, app.error


if __name__ == "__main__":
    bench_mapper()
    bench_app()
