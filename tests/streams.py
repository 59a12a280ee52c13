"""Hypothesis strategies the engine tests share (tests/ is on the path: `from streams import ...`)."""

from dataclasses import replace

import numpy as np
from hypothesis import strategies as st

from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE, fig7_engine
from pimlab.isa import Commands

POLICIES = ("static", "pingpong", "dcs")


def stream(kind, gbuf, obuf, row) -> Commands:
    """Commands from per-command kinds, GBuf / OBuf entries and rows; the fields a kind does not use are blanked."""
    kind = np.asarray(kind)
    return Commands.make(kind, np.where(np.isin(kind, [0, 1]), gbuf, -1), np.where(kind != 0, obuf, -1),
                         np.where(kind == 1, row, -1))


# issue 9's counter-example: 598 cycles static, 639 under DCS and ping-pong before ACTs waited for refresh
_W, _R, _M = 0, 2, 1
ISSUE9_STREAM = stream([_W, _R, _R, _R, _M, _M, _M, _M, _M, _W, _M], 0, [2, 2, 1, 2, 0, 0, 2, 0, 2, 0, 3],
                       [3, 1, 1, 1, 0, 3, 0, 0, 2, 1, 0])
ISSUE9_TIMING, ISSUE9_ENTRIES = replace(AIM_ENGINE, tREFI=253, tRFC=34), (1, 4)  # GBuf, OBuf entries


@st.composite
def short_streams(draw, max_commands: int = 40):
    """(commands, gbuf_entries, obuf_entries): 1..max_commands commands of random kinds (WR-INP, MAC, RD-OUT,
    WR-BIAS), entries and MAC rows 0-3."""
    n = draw(st.integers(1, max_commands))
    gbuf_entries, obuf_entries = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    kind = draw(st.lists(st.sampled_from([0, 1, 1, 2, 7]), min_size=n, max_size=n))
    gbuf = draw(st.lists(st.integers(0, gbuf_entries - 1), min_size=n, max_size=n))
    obuf = draw(st.lists(st.integers(0, obuf_entries - 1), min_size=n, max_size=n))
    row = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    return stream(kind, gbuf, obuf, row), gbuf_entries, obuf_entries


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
