"""Fig. 16: energy per token, CENT vs CENT + PIMphony, FC and attention; attention by MAC, I/O, background, else.

Each bar is the best layout's step for a batch admitted from the dataset (static for CENT, DPA for
PIMphony), with energy from CENT's power model (`pimlab.energy`). "Else" in attention is its ACT/PRE
energy; the background is the channels' standby power over the attention's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab import paper, system
from pimlab.figures.fig13 import SYSTEM_MODULES
from pimlab.models import LLM_7B_32K, LLM_7B_128K_GQA, LLM_72B_32K, LLM_72B_128K_GQA
from pimlab.reproduce import Record, compare
from pimlab.validate import check_int
from pimlab.workloads import MULTIFIELDQA, QMSUM

FIGURE = "16"
__all__ = ["EnergyData", "fig16", "ENERGY_CASES", "ATTENTION_PARTS"]

# [Q Fig. 16 caption] (a) non-GQA on LongBench, (b) GQA on LV-Eval; 7B and 72B
ENERGY_CASES = ((LLM_7B_32K, QMSUM), (LLM_72B_32K, QMSUM), (LLM_7B_128K_GQA, MULTIFIELDQA),
                (LLM_72B_128K_GQA, MULTIFIELDQA))
ATTENTION_PARTS = ("mac", "io", "background", "else")
BARS = ("baseline", "tcp+dcs+dpa")


@dataclass(frozen=True)
class EnergyData:
    """Joules per token (cases x bars): FC and attention; attention's parts (cases x bars x ATTENTION_PARTS)."""

    cases: tuple
    bars: tuple
    fc_j: np.ndarray
    attention_j: np.ndarray
    attention_parts_j: np.ndarray
    attention_s: np.ndarray  # attention time per token

    @property
    def background_share(self) -> np.ndarray:
        """Background's share of attention energy (cases x bars)."""
        return self.attention_parts_j[..., ATTENTION_PARTS.index("background")] / self.attention_j

    @property
    def attention_speedup(self) -> np.ndarray:
        return self.attention_s[:, 0] / self.attention_s[:, 1]

    @property
    def attention_energy_reduction(self) -> np.ndarray:
        return self.attention_j[:, 0] / self.attention_j[:, 1]


def _per_token(step) -> tuple[float, float, np.ndarray, float]:
    e, b = step.energy_j, step.batch
    fc = sum(v for k, v in e.items() if k.startswith("fc.")) / b
    parts = np.array([e["attention.mac"], e["attention.io"], e["attention.background"], e["attention.actpre"]]) / b
    time = step.components_s.get("qk", 0) + step.components_s.get("sv", 0) + step.components_s.get("softmax", 0)
    return fc, float(parts.sum()), parts, time / b


@lru_cache(maxsize=4)
def fig16(requests: int = 256, seed: int = 0) -> EnergyData:
    """Energy per token of CENT and CENT + PIMphony on the four (model, dataset) cases."""
    check_int("requests", requests, 1, 1 << 16)
    names, fc, att, parts, times = [], [], [], [], []
    for model, dataset in ENERGY_CASES:
        pool = dataset.sample(requests, seed)
        modules = SYSTEM_MODULES[("cent", 72 if model.layers == 80 else 7)]
        rows = [_per_token(system.search("cent", model, modules, pool, bar).step) for bar in BARS]
        names.append(f"{model.name} / {dataset.name}")
        fc.append([r[0] for r in rows])
        att.append([r[1] for r in rows])
        parts.append([r[2] for r in rows])
        times.append([r[3] for r in rows])
    return EnergyData(tuple(names), BARS, np.array(fc), np.array(att), np.array(parts), np.array(times))


def scorecard() -> list[Record]:
    """Background share of attention energy (baseline, PIMphony), the largest attention speedup and energy cut."""
    d = fig16()
    return [
        compare(paper.FIG16_BACKGROUND_SHARE_BASE, 100 * float(d.background_share[:, 0].max()),
                "largest baseline background share of attention energy", note=system.GAP_HOST_SERIAL),
        compare(paper.FIG16_BACKGROUND_SHARE_PIMPHONY, 100 * float(d.background_share[:, 1].min()),
                "smallest PIMphony background share of attention energy", note=system.GAP_HOST_SERIAL),
        compare(paper.FIG16_ATTENTION_SPEEDUP, float(d.attention_speedup.max()), "max attention speedup",
        note=system.GAP_HOST_SERIAL),
        compare(paper.FIG16_ATTENTION_ENERGY_REDUCTION, float(d.attention_energy_reduction.max()),
                "max attention energy reduction",
                note="background power x time dominates pimlab's attention energy (CENT's power model), so energy "
                     "falls nearly as fast as time; the paper's attention-energy accounting is not public"),
    ]
