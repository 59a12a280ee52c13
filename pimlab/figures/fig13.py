"""Figs. 13 and 14: end-to-end throughput of PIM-only (CENT) and xPU+PIM (NeuPIMs) systems, technique by technique.

Each bar is a serving run of requests drawn from a Table II dataset on the best (tp, pp) layout (chosen by
one step of the first admitted batch): static reservations of the context window for the first three bars,
DPA's 1 MB chunks of each K or V stream (Fig. 19's rule) for the last, so DPA's larger batch emerges from
the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab import paper, system
from pimlab.models import LLM_7B_32K, LLM_7B_128K_GQA, LLM_72B_32K, LLM_72B_128K_GQA
from pimlab.reproduce import Record, compare
from pimlab.sweep import figure_sweep
from pimlab.validate import check_choice, check_int
from pimlab.workloads import LOOGLE_SD, MULTIFIELDQA, MUSIQUE, QMSUM

FIGURE = "13"
__all__ = ["ThroughputBars", "fig13", "CASES", "SYSTEM_MODULES"]

# [Q Sec. VIII-A] non-GQA models on LongBench, GQA models on LV-Eval
CASES = {"a": ((LLM_7B_32K, QMSUM), (LLM_7B_32K, MUSIQUE), (LLM_72B_32K, QMSUM), (LLM_72B_32K, MUSIQUE)),
         "b": ((LLM_7B_128K_GQA, MULTIFIELDQA), (LLM_7B_128K_GQA, LOOGLE_SD), (LLM_72B_128K_GQA, MULTIFIELDQA),
               (LLM_72B_128K_GQA, LOOGLE_SD))}
# [Q Figs. 13, 14 captions] 128 GB for 7B and 512 GB for 72B: CENT's 16 GB or NeuPIMs' 32 GB modules
SYSTEM_MODULES = {("cent", 7): 8, ("cent", 72): 32, ("neupims", 7): 4, ("neupims", 72): 16}


@dataclass(frozen=True)
class ThroughputBars:
    """tokens/s (cases x techniques) with each bar's best layout and batch."""

    system: str
    panel: str
    cases: tuple  # "model / dataset"
    techniques: tuple
    tokens_per_s: np.ndarray
    tp: np.ndarray
    pp: np.ndarray
    batch: np.ndarray
    mac_utilization: np.ndarray

    @property
    def speedup(self) -> np.ndarray:
        """Each bar over the case's baseline."""
        return self.tokens_per_s / self.tokens_per_s[:, :1]


def _size(model) -> int:
    return 72 if model.layers == 80 else 7


def bar(kind: str, panel: str, case: int, techniques: str, requests: int = 96, seed: int = 0) -> dict:
    """One bar: the best layout for the first admitted batch of case `case` of `panel`, and its serving run."""
    model, dataset = CASES[panel][case]
    pool = dataset.sample(requests, seed)
    modules = SYSTEM_MODULES[(kind, _size(model))]
    best = system.search(kind, model, modules, pool, techniques).best
    run = system.serve(kind, model, modules, *best, dataset, techniques, requests=requests, seed=seed)
    return {"tokens_per_s": run.tokens_per_s, "tp": best[0], "pp": best[1], "batch": run.mean_batch,
            "mac_utilization": run.mac_utilization}


@lru_cache(maxsize=16)
def fig13(kind: str = "cent", panel: str = "a", requests: int = 96, seed: int = 0, executor=None) -> ThroughputBars:
    """The bars of Fig. 13 (kind "cent") or Fig. 14 (kind "neupims"), panel "a" (LongBench) or "b" (LV-Eval);
    the bars run through `pimlab.sweep.figure_sweep` on `executor` (None: one local thread)."""
    check_choice("system", kind, system.SYSTEM_KINDS)
    check_choice("panel", panel, tuple(CASES))
    check_int("requests", requests, 1, 1 << 16)
    cases = CASES[panel]
    grid = {"kind": [kind], "panel": [panel], "case": list(range(len(cases))), "techniques": list(system.TECHNIQUES),
            "requests": [requests], "seed": [seed]}
    table = figure_sweep(bar, grid, executor)
    shaped = {name: table[name].reshape(len(cases), len(system.TECHNIQUES))
              for name in ("tokens_per_s", "tp", "pp", "batch", "mac_utilization")}
    names = tuple(f"{model.name} / {dataset.name}" for model, dataset in cases)
    return ThroughputBars(kind, panel, names, system.TECHNIQUES, **shaped)


def scorecard() -> list[Record]:
    """Headline speedups: the largest PIM-only one on GQA / LV-Eval, the range on non-GQA / LongBench (Figs. 13a
    and 14a together, as the paper states it); Fig. 14's own headline is in `fig14`."""
    cent_b = fig13("cent", "b")
    non_gqa = np.concatenate([fig13(k, "a").speedup[:, -1] for k in system.SYSTEM_KINDS])
    return [
        compare(paper.PIM_ONLY_HEADLINE, float(cent_b.speedup[:, -1].max()), "max PIM-only speedup (LV-Eval)",
                note=system.GAP_HOST_SERIAL),
        compare(paper.NON_GQA_SPEEDUP_MIN, float(non_gqa.min()), "min non-GQA speedup (LongBench)",
                note=system.GAP_HOST_SERIAL),
        compare(paper.NON_GQA_SPEEDUP_MAX, float(non_gqa.max()), "max non-GQA speedup (LongBench)",
                note=system.GAP_HOST_SERIAL),
    ]
