"""The specialised loops (`pimlab.engine.fast`) give the plain reference loop's schedule, column for column.

The reference is `Engine.run_plain` (what `schedule(..., fast=False)` runs); every Trace column, the total, the
breakdown and the summary must be equal, over random streams, every built-in policy, the presets, refresh on with
short intervals, rows, buffer entries, the mode switch on / off and the data bus on / off. The periodic fast path
and the ring drive the specialised loops too: tests/test_summarize.py and tests/test_schedule.py compare them with
`fast=False`, and the long periodic streams below do it here.
"""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from streams import ISSUE9_ENTRIES, ISSUE9_STREAM, ISSUE9_TIMING, periodic_streams, short_streams, stream

from pimlab.engine.core import Engine
from pimlab.engine.fast import fast_loop
from pimlab.engine.periodic import FAST_MIN_COMMANDS
from pimlab.engine.policies import DCS, PingPong, Static, policy_class
from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE, KindTable, fig7_engine
from pimlab.isa import Kind, compile_attention_table, expand_table
from pimlab.schedule import schedule
from pimlab.trace import _FIELDS

_TIMINGS = [AIM_ENGINE, AIMSIM_ENGINE, fig7_engine(), fig7_engine(2, 2, 5, 5)]


@st.composite
def timings(draw):
    """A preset with the mode switch on or off, the data bus on or off, and (with rows) refresh often or not."""
    timing = draw(st.sampled_from(_TIMINGS))
    timing = replace(timing, tMODCH=draw(st.sampled_from([0, 1, 5, timing.tMODCH, 32])))
    if draw(st.booleans()):
        timing = replace(timing, bus_burst_cycles=draw(st.integers(0, 6)),
                         bus_turnaround_cycles=draw(st.sampled_from([KindTable(()), AIM_ENGINE.bus_turnaround_cycles])))
    if timing.rows and draw(st.booleans()):
        tRFC = draw(st.integers(20, 120))
        need = tRFC + timing.tMODCH + timing.row_cycles[(Kind.ACT, Kind.MAC)] + 2
        timing = replace(timing, refresh=True, tRFC=tRFC, tREFI=draw(st.integers(need + 1, need + 700)))
    return timing


@st.composite
def cases(draw):
    """(commands, policy class, timing, gbuf entries, obuf entries): short random streams, rows 0-3."""
    commands, gbuf_entries, obuf_entries = draw(short_streams(60))
    return commands, draw(st.sampled_from([Static, PingPong, DCS])), draw(timings()), gbuf_entries, obuf_entries


def _engine(commands, cls, timing, gbuf_entries, obuf_entries) -> Engine:
    return Engine(commands, cls(commands, timing, gbuf_entries, obuf_entries), timing, gbuf_entries, obuf_entries)


def _assert_same(got, want) -> None:
    for name in _FIELDS:
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert got.total_cycles == want.total_cycles
    assert got.breakdown() == want.breakdown() and got.summary() == want.summary()


def _assert_fast_is_plain(commands, cls, timing, gbuf_entries, obuf_entries) -> None:
    engine = _engine(commands, cls, timing, gbuf_entries, obuf_entries)
    assert fast_loop(engine) is not None
    _assert_same(engine.run().trace(), _engine(commands, cls, timing, gbuf_entries, obuf_entries).run_plain().trace())


@settings(max_examples=400, deadline=None)
@given(cases())
@example((ISSUE9_STREAM, Static, ISSUE9_TIMING, *ISSUE9_ENTRIES))  # issue 9's stream
@example((ISSUE9_STREAM, DCS, ISSUE9_TIMING, *ISSUE9_ENTRIES))  # issue 9's stream
@example((ISSUE9_STREAM, PingPong, ISSUE9_TIMING, *ISSUE9_ENTRIES))  # issue 9's stream
def test_fast_loops_give_the_plain_loops_trace(case):
    _assert_fast_is_plain(*case)


@pytest.mark.parametrize("policy, entries, regions", [("static", 1, 1), ("dcs", 2, 1), ("pingpong", 2, 2)])
@pytest.mark.parametrize("op, group, prefetch", [("qk", 1, False), ("sv", 4, False), ("qk", 8, True)])
@pytest.mark.parametrize("tMODCH, tREFI", [(32, 3333), (0, 400)])
def test_fast_loops_on_compiled_attention(policy, entries, regions, op, group, prefetch, tMODCH, tREFI):
    """Fig. 9 / 18 streams (odd sizes), refresh at its rate and often, the mode switch on and off."""
    table = compile_attention_table(op, 97, 63, group, group > 1, obuf_entries=entries, buffer_regions=regions,
                                    prefetch=prefetch)
    timing = replace(AIM_ENGINE, tMODCH=tMODCH, tREFI=tREFI, tRFC=min(AIM_ENGINE.tRFC, tREFI // 4))
    _assert_fast_is_plain(expand_table(table, 0), policy_class(policy), timing, 64, entries)


@settings(max_examples=25, deadline=None)
@given(periodic_streams(commands=(FAST_MIN_COMMANDS, FAST_MIN_COMMANDS + 1500), refresh=True))
def test_the_periodic_fast_path_drives_the_fast_loops_exactly(case):
    """Long periodic streams take the periodic fast path (replays), on top of the specialised loops."""
    commands, policy, timing, gbuf_entries, obuf_entries = case
    _assert_same(schedule(commands, policy, timing, gbuf_entries, obuf_entries),
                 schedule(commands, policy, timing, gbuf_entries, obuf_entries, fast=False))


def test_a_long_attention_stream_replays_through_the_fast_loops(monkeypatch):
    """SV with GQA and row reuse, long enough for the periodic fast path, under every policy, with and without
    refresh: periods are replayed into the specialised loops' state, and the schedule is the plain loop's."""
    import pimlab.engine.periodic as periodic

    replays = []
    replay = periodic.Replay._replay

    def counted(self, *args, **kwargs):
        replays.append(args)
        return replay(self, *args, **kwargs)

    monkeypatch.setattr(periodic.Replay, "_replay", counted)
    for policy, entries, regions in (("static", 1, 1), ("dcs", 2, 1), ("pingpong", 2, 2)):
        table = compile_attention_table("sv", 2048, 128, 8, True, obuf_entries=entries, buffer_regions=regions)
        commands = expand_table(table, 0)
        assert len(commands) > FAST_MIN_COMMANDS
        for timing in (AIMSIM_ENGINE, AIM_ENGINE):  # no refresh: whole-state replays; refresh: mostly the loop
            replays.clear()
            _assert_same(schedule(commands, policy, timing, 64, entries),
                         schedule(commands, policy, timing, 64, entries, fast=False))
            assert replays or timing.refresh, policy


def test_a_subclass_takes_the_plain_loop():
    """A subclass may change any rule: only the built-in classes themselves take a specialised loop."""

    class LateDCS(DCS):
        name = "late dcs"

        def earliest(self, engine, q, i, best, code, dep):
            got = super().earliest(engine, q, i, best, code, dep)
            return None if got is None else (got[0] + 1, got[1], got[2])

    commands = stream([0, 1, 1, 2], 0, 0, 0)
    assert fast_loop(_engine(commands, LateDCS, AIM_ENGINE, 4, 1)) is None
    plain = _engine(commands, DCS, AIM_ENGINE, 4, 1).run().trace()
    late = _engine(commands, LateDCS, AIM_ENGINE, 4, 1).run().trace()
    assert late.total_cycles > plain.total_cycles
