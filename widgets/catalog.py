"""Every live app of the kit, by the name of its figure, with small defaults; and the kinds of bad input a
student can type. The bad-input tests and bench/bench_bad_input.py drive each app's controls from here, so an
app added to APPS is checked without editing them."""

from __future__ import annotations

import math

from pimlab_widgets.breakdown import fig8_app, fig9_app, fig18_app
from pimlab_widgets.chunkmap import chunkmap_app
from pimlab_widgets.fig02 import fig2_app
from pimlab_widgets.module_explorer import module_explorer
from pimlab_widgets.occupancy import ChannelOccupancy
from pimlab_widgets.pipeline import fig7_app
from pimlab_widgets.system import energy_app, gpu_app, scalability_app, throughput_app, tp_pp_app, utilization_app
from pimlab_widgets.systems import systems_app

APPS = {
    "tour: module explorer": module_explorer,
    "Fig. 2": fig2_app,
    "Fig. 6": lambda: ChannelOccupancy(frames=10),
    "Fig. 7": fig7_app,
    "Fig. 8": lambda: fig8_app(dims="64, 128"),
    "Fig. 9": lambda: fig9_app(groups="1, 4", tokens=256),
    "Fig. 18": lambda: fig18_app(groups="1, 4", tokens=256),
    "Figs. 10/19: chunk maps": chunkmap_app,
    "Fig. 4": utilization_app,
    "Figs. 13/14": throughput_app,
    "Fig. 15": tp_pp_app,
    "Fig. 16": energy_app,
    "Fig. 17": scalability_app,
    "Fig. 20": gpu_app,
    "systems comparison": systems_app,
}

BAD_INPUTS = {"zero": 0, "negative": -1, "huge": 10**12, "float": 2.5, "NaN": math.nan, "empty": "", "text": "abc"}
