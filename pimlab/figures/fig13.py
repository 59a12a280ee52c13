"""Figs. 13 and 14: end-to-end throughput of PIM-only (CENT) and xPU+PIM (NeuPIMs) systems, technique by technique.

Each bar is a serving run of requests drawn from a Table II dataset on the best (tp, pp) layout (chosen by
one step of the first admitted batch): static reservations of the context window for the first three bars,
DPA's 1 MB chunks for the last, so DPA's larger batch emerges from the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab import paper, system
from pimlab.models import LLM_7B_32K, LLM_7B_128K_GQA, LLM_72B_32K, LLM_72B_128K_GQA
from pimlab.reproduce import Record, compare
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


@lru_cache(maxsize=16)
def fig13(kind: str = "cent", panel: str = "a", requests: int = 96, seed: int = 0) -> ThroughputBars:
    """The bars of Fig. 13 (kind "cent") or Fig. 14 (kind "neupims"), panel "a" (LongBench) or "b" (LV-Eval)."""
    check_choice("system", kind, system.SYSTEM_KINDS)
    check_choice("panel", panel, tuple(CASES))
    check_int("requests", requests, 1, 1 << 16)
    names, rate, tp, pp, batch, util = [], [], [], [], [], []
    for model, dataset in CASES[panel]:
        pool = dataset.sample(requests, seed)
        modules = SYSTEM_MODULES[(kind, _size(model))]
        names.append(f"{model.name} / {dataset.name}")
        row = [system.search(kind, model, modules, pool, t) for t in system.TECHNIQUES]
        runs = [system.serve(kind, model, modules, *s.best, dataset, t, requests=requests, seed=seed)
                for s, t in zip(row, system.TECHNIQUES)]
        rate.append([r.tokens_per_s for r in runs])
        tp.append([s.best[0] for s in row])
        pp.append([s.best[1] for s in row])
        batch.append([r.mean_batch for r in runs])
        util.append([r.mac_utilization for r in runs])
    return ThroughputBars(kind, panel, tuple(names), system.TECHNIQUES, np.array(rate), np.array(tp), np.array(pp),
                          np.array(batch), np.array(util))


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
