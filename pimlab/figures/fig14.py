"""Fig. 14: end-to-end throughput of xPU+PIM systems (NeuPIMs); the data is `fig13("neupims", panel)`."""

from __future__ import annotations

from pimlab import paper, system
from pimlab.figures.fig13 import fig13
from pimlab.reproduce import Record, compare

FIGURE = "14"
__all__ = []


def scorecard() -> list[Record]:
    """The largest xPU+PIM speedup on GQA models / LV-Eval."""
    return [compare(paper.XPU_PIM_HEADLINE, float(fig13("neupims", "b").speedup[:, -1].max()),
                    "max xPU+PIM speedup (LV-Eval)", note=system.GAP_NEUPIMS_BASELINE)]
