"""Hypothesis strategies the engine tests share (tests/ is on the path: `from streams import ...`)."""

from dataclasses import replace

import numpy as np
from hypothesis import strategies as st

from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE, fig7_engine
from pimlab.isa import Commands

POLICIES = ("static", "pingpong", "dcs")


@st.composite
def periodic_streams(draw, commands=(700, 700), refresh: bool = False):
    """(commands, policy, timing, gbuf_entries, obuf_entries): a random body of 2-12 commands repeated to about
    `commands` (a range) plus 10 bodies, its MAC rows moving on every body or never; with refresh=True the row
    presets may refresh often (tREFI 300-900)."""
    body = draw(st.integers(2, 12))
    gbuf_entries, obuf_entries = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    kind = np.array(draw(st.lists(st.sampled_from([0, 1, 1, 2]), min_size=body, max_size=body)))
    gbuf = np.array(draw(st.lists(st.integers(0, gbuf_entries - 1), min_size=body, max_size=body)))
    obuf = np.array(draw(st.lists(st.integers(0, obuf_entries - 1), min_size=body, max_size=body)))
    repeats = draw(st.integers(*commands)) // body + 10
    kinds = np.tile(kind, repeats)
    rows = np.repeat(np.arange(repeats) * draw(st.integers(0, 1)), body)
    stream = Commands.make(kinds, np.where(np.isin(kinds, [0, 1]), np.tile(gbuf, repeats), -1),
                           np.where(kinds != 0, np.tile(obuf, repeats), -1), np.where(kinds == 1, rows, -1))
    timing = draw(st.sampled_from([AIM_ENGINE, AIMSIM_ENGINE, fig7_engine()]))
    if refresh and timing.rows and draw(st.booleans()):
        interval = draw(st.integers(300, 900))
        timing = replace(timing, refresh=True, tREFI=interval, tRFC=interval // 6)
    return stream, draw(st.sampled_from(POLICIES)), timing, gbuf_entries, obuf_entries
