"""Fig. 15: throughput for (TP, PP) layouts of 8 CENT modules, techniques applied one after another.

Each cell is a serving run (`pimlab.system.serve`) of requests drawn from the dataset, so batch sizes and
pipeline bubbles come out of the run: fewer requests than stages leave stages idle.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab import paper, system
from pimlab.models import LLM_7B_32K, LLM_7B_128K_GQA
from pimlab.reproduce import Record, compare
from pimlab.validate import check_choice, check_int
from pimlab.workloads import MULTIFIELDQA, QMSUM

FIGURE = "15"
__all__ = ["TpPpData", "fig15", "TP_PP_PANELS"]

TP_PP_PANELS = {"a": (LLM_7B_32K, QMSUM), "b": (LLM_7B_128K_GQA, MULTIFIELDQA)}  # [Q Fig. 15 caption]
GRID = ((8, 1), (4, 2), (2, 4), (1, 8))  # [Q] 8 CENT modules (128 GB)


@dataclass(frozen=True)
class TpPpData:
    """tokens/s and mean batch (layouts x techniques) of one panel."""

    panel: str
    case: str
    layouts: tuple
    techniques: tuple
    tokens_per_s: np.ndarray
    mean_batch: np.ndarray

    @property
    def pp_gain_percent(self) -> float:
        """With every technique on: the best PP layout (pp > 1) over pure TP (pp = 1), in percent."""
        last = self.tokens_per_s[:, -1]
        pp = [i for i, (_, p) in enumerate(self.layouts) if p > 1]
        tp = [i for i, (_, p) in enumerate(self.layouts) if p == 1]
        return 100.0 * (last[pp].max() / last[tp].max() - 1.0)


@lru_cache(maxsize=8)
def fig15(panel: str = "a", requests: int = 96, seed: int = 0) -> TpPpData:
    """The (TP, PP) grid of one panel on 8 CENT modules, every technique step."""
    check_choice("panel", panel, tuple(TP_PP_PANELS))
    check_int("requests", requests, 2, 1 << 16)
    model, dataset = TP_PP_PANELS[panel]
    rate, batch = [], []
    for tp, pp in GRID:
        runs = [system.serve("cent", model, 8, tp, pp, dataset, t, requests=requests, seed=seed)
                for t in system.TECHNIQUES]
        rate.append([r.tokens_per_s for r in runs])
        batch.append([r.mean_batch for r in runs])
    return TpPpData(panel, f"{model.name} / {dataset.name}", GRID, system.TECHNIQUES, np.array(rate),
                    np.array(batch))


def scorecard() -> list[Record]:
    """Panel (b): how much more PP gives than TP once GQA's KV reuse and DPA raise the batch."""
    return [compare(paper.FIG15_PP_GAIN, fig15("b").pp_gain_percent, "best PP over best TP, all techniques (b)",
                    note="in pimlab's serving runs a micro-batch's round trip through the stages costs PP more "
                         "than DPA's larger batch gives back; the notebook shows the whole (TP, PP) grid")]
