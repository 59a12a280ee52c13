"""The static figures `python -m pimlab reproduce --out` writes: per scorecard figure id, named builders.

Each entry is (file stem, builder); a builder computes the figure's data from pimlab with the notebook's
defaults and returns a standalone go.Figure (with frames where it animates). The decoder-block replay's figures
(notebook cent_block) belong to no scorecard figure and have no entry here.
"""

from __future__ import annotations

from collections.abc import Callable

import plotly.graph_objects as go

from pimlab import figures
from pimlab.figures import fig06
from pimlab.figures.fig04 import fig04
from pimlab.figures.fig10 import fig10
from pimlab.figures.fig13 import fig13
from pimlab.figures.fig15 import fig15
from pimlab.figures.fig16 import fig16
from pimlab.figures.fig17 import fig17
from pimlab.figures.fig18 import fig18
from pimlab.figures.fig19 import STATIC_RESERVE_FACTOR_CALIBRATED, chunk_maps, fig19
from pimlab.figures.fig20 import fig20
from pimlab.figures.systems_compare import comparison
from pimlab.hardware import AIM
from pimlab_widgets.breakdown import fig8_figure, fig9_figure, fig18_figure
from pimlab_widgets.capacity import instruction_bytes_figure, utilization_bars_figure
from pimlab_widgets.chunkmap import chunkmap_figure
from pimlab_widgets.fig02 import fig2_figure
from pimlab_widgets.module_explorer import module_figure
from pimlab_widgets.occupancy import occupancy_figure, thresholds_figure, utilization_figure
from pimlab_widgets.pipeline import fig7_figure
from pimlab_widgets.system import (
    bars_figure,
    energy_figure,
    gpu_figure,
    scalability_figure,
    tp_pp_figure,
)
from pimlab_widgets.system import utilization_figure as fig4_figure
from pimlab_widgets.systems import VIEWS, systems_figure


def _fig6_toy() -> list[tuple[str, go.Figure]]:
    toy = fig06.fig6_toy()
    return [("fig06_toy_" + label.lower().replace("-", "_"),
             occupancy_figure(fig06.occupancy_frames(toy.mapping(label), frames=40, label=label)))
            for label in toy.labels]


def _fig6_scale() -> list[tuple[str, go.Figure]]:
    big = fig06.fig6_paper_scale(modules=8, requests=16, seed=0)
    return [("fig06_paper_scale", utilization_figure(big)),
            ("fig06_thresholds", thresholds_figure(fig06.fig6_thresholds(AIM, head_dim=128, max_tokens=512)))]


GALLERY: dict[str, list[Callable[[], list[tuple[str, go.Figure]]]]] = {
    "IV": [lambda: [("table04_aim_module", module_figure(AIM))]],
    "2": [lambda: [("fig02", fig2_figure(figures.fig2()))]],
    "6": [_fig6_toy, _fig6_scale],
    "7": [lambda: [("fig07", fig7_figure(figures.fig7()))]],
    "8": [lambda: [("fig08", fig8_figure(figures.fig8()))]],
    "9": [lambda: [("fig09", fig9_figure(figures.fig9()))]],
    "18": [lambda: [("fig18", fig18_figure(fig18()))]],
    "10": [lambda: [("fig10_instruction_bytes", instruction_bytes_figure(fig10()))]],
    "19": [lambda: [("fig19_chunk_maps", chunkmap_figure(chunk_maps(frames=20))),
                    ("fig19_utilization", utilization_bars_figure(fig19(),
                                                                  fig19(reserve_factor=STATIC_RESERVE_FACTOR_CALIBRATED)))]],
    "4": [lambda: [("fig04", fig4_figure(fig04()))]],
    "13": [lambda: [(f"fig13_{kind}_{panel}", bars_figure(fig13(kind, panel)))
                    for kind in ("cent", "neupims") for panel in "ab"]],
    "15": [lambda: [(f"fig15_{panel}", tp_pp_figure(fig15(panel))) for panel in "ab"]],
    "16": [lambda: [("fig16", energy_figure(fig16()))]],
    "17": [lambda: [(f"fig17_{kind}", scalability_figure(fig17(kind))) for kind in ("cent", "neupims")]],
    "20": [lambda: [(f"fig20_{kind}", gpu_figure(fig20(kind))) for kind in ("cent", "neupims")]],
    "others": [lambda: [(f"systems_compare_{view}", systems_figure(comparison("LLM-7B-128K-GQA", "multifieldqa"), view))
                        for view in VIEWS]],
}


def builders(ids: list[str] | None = None) -> list[Callable[[], list[tuple[str, go.Figure]]]]:
    """The builders of the figures named by `ids` (scorecard ids such as "2" or "IV"; all when None)."""
    return [b for figure_id, group in GALLERY.items() if ids is None or figure_id in ids for b in group]
