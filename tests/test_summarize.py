"""pimlab.schedule.summarize: the totals of a schedule without its timeline, equal to the full schedule's."""

from dataclasses import replace
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streams import POLICIES as _POLICIES
from streams import periodic_streams

from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE, fig7_engine
from pimlab.isa import Commands, compile_attention, compile_gemv, expand, fig7_stream
from pimlab.schedule import schedule, summarize
from pimlab.trace import BREAKDOWN_KEYS, Summary


def _full(commands, policy, timing, gbuf_entries, obuf_entries) -> Summary:
    """The summary of the plain loop's materialised trace (no fast path)."""
    return schedule(commands, policy, timing, gbuf_entries, obuf_entries, fast=False).summary()


def test_fig7_summary_is_the_hand_worked_timeline():
    # Fig. 7(a): 3 WR-INP, 6 MAC, 2 RD-OUT; no rows, refresh or mode switch, so nothing is inserted
    static = summarize(expand(fig7_stream(1), 0), "static", fig7_engine(), 3, 1)
    assert (static.total_cycles, static.mac_cycles, static.commands) == (34, 6, 11)
    assert sum(static.breakdown().values()) == 34 and tuple(static.breakdown()) == BREAKDOWN_KEYS
    assert summarize(expand(fig7_stream(2), 0), "dcs", fig7_engine(), 3, 2).total_cycles == 22


@st.composite
def short_streams(draw):
    n = draw(st.integers(1, 40))
    gbuf_entries, obuf_entries = draw(st.integers(1, 6)), draw(st.integers(1, 4))
    kind = np.array(draw(st.lists(st.sampled_from([0, 1, 1, 2, 7]), min_size=n, max_size=n)))
    gbuf = np.array(draw(st.lists(st.integers(0, gbuf_entries - 1), min_size=n, max_size=n)))
    obuf = np.array(draw(st.lists(st.integers(0, obuf_entries - 1), min_size=n, max_size=n)))
    row = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    timing = draw(st.sampled_from([AIM_ENGINE, AIMSIM_ENGINE, fig7_engine()]))
    if timing.rows and draw(st.booleans()):
        interval = draw(st.integers(150, 900))
        timing = replace(timing, refresh=True, tREFI=interval, tRFC=draw(st.integers(20, interval // 5 + 20)))
    commands = Commands.make(kind, np.where(np.isin(kind, [0, 1]), gbuf, -1), np.where(kind != 0, obuf, -1),
                             np.where(kind == 1, row, -1))
    return commands, draw(st.sampled_from(_POLICIES)), timing, gbuf_entries, obuf_entries


@settings(max_examples=60, deadline=None)
@given(short_streams())
def test_summarize_equals_the_full_schedule_on_random_streams(case):
    assert summarize(*case) == _full(*case)


# The two fixtures below patch module constants for one test function (not per hypothesis example: they stay the
# same across examples, so the function-scoped-fixture health check is suppressed where they are used).
FIXTURE_PER_TEST = [HealthCheck.function_scoped_fixture]


@pytest.fixture
def short_thresholds():
    """Let the bounded summary take streams of a few thousand commands (it keeps 256 of each stretch)."""
    import pimlab.engine.summary as module

    with patch.multiple(module, MIN_COMMANDS=2000, KEEP_COMMANDS=256):
        yield


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURE_PER_TEST)
@given(periodic_streams(commands=(5000, 7000), refresh=True))
def test_summarize_equals_the_full_schedule_on_long_periodic_streams(short_thresholds, case):
    assert summarize(*case) == _full(*case)


@settings(max_examples=30, deadline=None)
@given(periodic_streams(commands=(5000, 7000), refresh=True))
def test_summarize_equals_the_full_schedule_with_a_capped_short_stream(case):
    """As short_thresholds, with the short stream capped at 1024 commands: whole-state steps often round past it."""
    import pimlab.engine.summary as module

    with patch.multiple(module, MIN_COMMANDS=2000, KEEP_COMMANDS=256, MAX_KEEP_COMMANDS=1024):
        got = summarize(*case)
    assert got == _full(*case)


@pytest.mark.parametrize("policy, entries, regions", [("static", 1, 1), ("dcs", 2, 1), ("pingpong", 2, 2)])
@pytest.mark.parametrize("refresh", [True, False])
def test_shortened_stream_summary_is_the_full_schedules(policy, entries, regions, refresh):
    """Streams of 50k-150k commands whose repeats the bounded summary removes and adds back."""
    from pimlab.engine.policies import policy_class
    from pimlab.engine.summary import summarize_periodic
    from pimlab.figures.fig08 import gemv_stream

    timing = replace(AIM_ENGINE, refresh=refresh)
    for commands in (gemv_stream(64, 2500, entries, buffer_regions=regions),
                     expand(compile_attention("qk", 65536, 128, 2, True, obuf_entries=entries,
                                              buffer_regions=regions), 0)):
        got = summarize_periodic(commands, policy_class(policy), timing, 64, entries)
        assert got is not None and got == _full(commands, policy, timing, 64, entries)


@pytest.mark.parametrize("policy, entries, regions", [("static", 1, 1), ("dcs", 2, 1), ("pingpong", 2, 2)])
def test_summarize_equals_the_full_schedule_on_compiled_attention(policy, entries, regions):
    commands = expand(compile_attention("qk", 16384, 128, 2, False, obuf_entries=entries, buffer_regions=regions), 0)
    assert summarize(commands, policy, AIM_ENGINE, 64, entries) == _full(commands, policy, AIM_ENGINE, 64, entries)


def test_summarize_equals_the_full_schedule_on_repeated_gemvs():
    from pimlab.figures.fig08 import gemv_stream

    commands = gemv_stream(256, 200, 2)
    for policy in _POLICIES:
        regions = 2 if policy == "pingpong" else 1
        stream = gemv_stream(256, 200, 2, buffer_regions=regions) if regions == 2 else commands
        assert summarize(stream, policy, AIM_ENGINE, 64, 2) == _full(stream, policy, AIM_ENGINE, 64, 2)


def test_summarize_validates_like_schedule():
    commands = expand(compile_gemv(64, 64), 0)
    with pytest.raises(ValueError, match="policy must be one of"):
        summarize(commands, "fifo")
    with pytest.raises(ValueError, match="empty"):
        summarize(Commands.make([]))


@pytest.mark.parametrize("op, tokens, group, reuse, preset", [
    ("qk", 32768, 2, False, "aimsim"), ("sv", 32768, 2, True, "aimsim"), ("qk", 65536, 4, True, "aimsim"),
    ("qk", 262144, 2, False, "aim")])  # with refresh the whole state repeats only every 8 refreshes here
@pytest.mark.parametrize("policy", _POLICIES)
def test_summarize_table_equals_the_full_schedule(short_thresholds, op, tokens, group, reuse, preset, policy):
    """From the instructions, never expanding the whole stream (repeats found on the instructions)."""
    from pimlab.engine.policies import policy_class
    from pimlab.engine.summary import TableSource, summarize_source
    from pimlab.isa import instruction_table
    from pimlab.schedule import summarize_table

    timing = AIM_ENGINE if preset == "aim" else AIMSIM_ENGINE
    entries, regions = (1, 1) if policy == "static" else (2, 2 if policy == "pingpong" else 1)
    program = compile_attention(op, tokens, 128, group, reuse, obuf_entries=entries, buffer_regions=regions,
                                ch_mask=0b110)
    table = instruction_table(program)
    full = schedule(expand(program, 2), policy, timing, 64, entries).summary()  # the fast path: exact (tested)
    assert summarize_table(table, 2, policy, timing, 64, entries) == full
    got = summarize_source(TableSource(table, 1), policy_class(policy), timing, 64, entries)
    assert got == full  # channel 1 gets the same stream; the shortened run itself answered


@pytest.fixture
def short_laps():
    """Rings of a few dozen commands per lap, so that streams of a few thousand commands go round many times."""
    import pimlab.engine.ring as module

    with patch.object(module, "LAP_COMMANDS", 48):
        yield


@settings(max_examples=40, deadline=None, suppress_health_check=FIXTURE_PER_TEST)
@given(periodic_streams(commands=(3000, 5000), refresh=True))
def test_ring_summary_equals_the_full_schedule_on_random_periodic_streams(short_laps, case):
    from pimlab.engine.policies import policy_class
    from pimlab.engine.summary import CommandSource, summarize_ring

    commands, policy, timing, gbuf_entries, obuf_entries = case
    got = summarize_ring(CommandSource(commands), policy_class(policy), timing, gbuf_entries, obuf_entries)
    assert got is None or got == _full(*case)


@pytest.mark.parametrize("policy, entries, regions", [("static", 1, 1), ("dcs", 2, 1), ("pingpong", 2, 2)])
@pytest.mark.parametrize("refresh_cycles", [3333, 700], ids=["tREFI 3333", "tREFI 700"])
def test_ring_summary_of_attention_equals_the_full_schedule(monkeypatch, policy, entries, regions, refresh_cycles):
    """SV with GQA and row reuse: the whole state repeats only after many refreshes; the ring goes round 30+ laps."""
    import pimlab.engine.ring as ring
    from pimlab.engine.policies import policy_class
    from pimlab.engine.summary import TableSource, summarize_ring
    from pimlab.isa import compile_attention_table, expand_table

    monkeypatch.setattr(ring, "LAP_COMMANDS", 2048)
    timing = replace(AIM_ENGINE, tREFI=refresh_cycles, tRFC=120)
    table = compile_attention_table("sv", 16384, 128, 8, True, obuf_entries=entries, buffer_regions=regions)
    source = TableSource(table, 0)
    laps = [x // lap for x, lap in ring.ring_plan(source.stretches, [0] * len(source.stretches))]
    assert sum(laps) >= 30
    got = summarize_ring(source, policy_class(policy), timing, 64, entries)
    assert got is not None and got == _full(expand_table(table, 0), policy, timing, 64, entries)


def test_summarize_table_takes_the_ring_when_the_whole_state_repeats_too_late(monkeypatch):
    import pimlab.engine.ring as ring
    import pimlab.engine.summary as summary
    from pimlab.isa import compile_attention_table, expand_table
    from pimlab.schedule import summarize_table

    monkeypatch.setattr(summary, "MAX_KEEP_COMMANDS", 20000)  # below this stream's super-period (tests above)
    monkeypatch.setattr(ring, "LAP_COMMANDS", 4096)
    rings = []
    monkeypatch.setattr(summary, "Ring", lambda *args: rings.append(ring.Ring(*args)) or rings[-1])
    table = compile_attention_table("sv", 32768, 128, 8, True, obuf_entries=2)
    got = summarize_table(table, 0, "dcs", AIM_ENGINE, 64, 2)
    assert len(rings) == 1 and rings[0].laps_left() == 0
    assert got == _full(expand_table(table, 0), "dcs", AIM_ENGINE, 64, 2)


@st.composite
def streams_ending_without_macs(draw):
    """(commands, policy, timing, gbuf_entries, obuf_entries): a periodic stretch with MACs, then a periodic
    stretch of register I/O only (as the software-pipelined order's trailing RD-OUTs): the last MAC's row stays
    open, and the compute queue runs out, while the ring goes round the second stretch."""
    gbuf_entries, obuf_entries = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    parts = []
    for kinds in ([0, 1, 1, 2], [0, 2]):
        body = draw(st.integers(2, 8))
        kind = np.array(draw(st.lists(st.sampled_from(kinds), min_size=body, max_size=body)))
        if len(parts) == 0:
            kind[0] = 1  # the first stretch has a MAC
        gbuf = np.array(draw(st.lists(st.integers(0, gbuf_entries - 1), min_size=body, max_size=body)))
        obuf = np.array(draw(st.lists(st.integers(0, obuf_entries - 1), min_size=body, max_size=body)))
        repeats = draw(st.integers(1200, 2400)) // body + 10
        kinds = np.tile(kind, repeats)
        rows = np.repeat(np.arange(repeats) * draw(st.integers(0, 1)), body)
        parts.append((kinds, np.where(np.isin(kinds, [0, 1]), np.tile(gbuf, repeats), -1),
                      np.where(kinds != 0, np.tile(obuf, repeats), -1), np.where(kinds == 1, rows, -1)))
    stream = Commands.make(*(np.concatenate(columns) for columns in zip(*parts)))
    timing = draw(st.sampled_from([AIM_ENGINE, AIMSIM_ENGINE]))
    if draw(st.booleans()):
        interval = draw(st.integers(300, 900))
        timing = replace(timing, refresh=True, tREFI=interval, tRFC=interval // 6)
    return stream, draw(st.sampled_from(_POLICIES)), timing, gbuf_entries, obuf_entries


@settings(max_examples=30, deadline=None, suppress_health_check=FIXTURE_PER_TEST)
@given(streams_ending_without_macs())
def test_ring_summary_equals_the_full_schedule_when_a_stretch_has_no_macs(short_laps, case):
    from pimlab.engine.policies import policy_class
    from pimlab.engine.summary import CommandSource, summarize_ring

    commands, policy, timing, gbuf_entries, obuf_entries = case
    got = summarize_ring(CommandSource(commands), policy_class(policy), timing, gbuf_entries, obuf_entries)
    assert got is None or got == _full(*case)


@pytest.mark.parametrize("policy, entries, regions", [("static", 1, 1), ("dcs", 2, 1), ("pingpong", 2, 2)])
def test_ring_goes_round_the_trailing_rd_outs_of_the_software_pipelined_order(monkeypatch, policy, entries, regions):
    """QK^T of GQA g = 8, software-pipelined: every query stays in the GBuf, so each RD-OUT waits for a load that
    never comes and all of them trail the MACs. The ring went round the MACs but gave up on that trailing stretch
    (the last MAC's row was still open, the compute queue had run out), and the app fell back to the full trace."""
    import pimlab.engine.ring as ring
    from pimlab.engine.policies import policy_class
    from pimlab.engine.summary import TableSource, summarize_ring
    from pimlab.isa import Kind, compile_attention_table, expand_table

    monkeypatch.setattr(ring, "LAP_COMMANDS", 2048)
    table = compile_attention_table("qk", 16384, 128, 8, True, obuf_entries=entries, buffer_regions=regions,
                                    prefetch=True)
    source = TableSource(table, 0)
    last = source.stretches[-1]
    assert not (table["op"][source.found[-1][0]:source.found[-1][1]] == Kind.MAC).any() and last[1] - last[0] > 4096
    rings = []
    monkeypatch.setattr(ring.Ring, "rewind", lambda self, steps, rewind=ring.Ring.rewind: (
        rings.append(self.k), rewind(self, steps))[1])
    got = summarize_ring(source, policy_class(policy), AIM_ENGINE, 64, entries)
    assert len(source.stretches) - 1 in rings  # the ring went round the last stretch
    assert got is not None and got == _full(expand_table(table, 0), policy, AIM_ENGINE, 64, entries)


def test_whole_step_rounding_may_pass_max_keep_instead_of_taking_the_ring(monkeypatch):
    """SV of GQA g = 8 under DCS: the whole state repeats every 70,176 commands, first seen in a short stream at
    MAX_KEEP_COMMANDS; removing a whole number of steps keeps a few periods more than MAX_KEEP. That short stream
    is scheduled (it passes MAX_KEEP by less than one step) instead of the whole stream going round the ring."""
    import pimlab.engine.summary as summary
    from pimlab.isa import compile_attention_table, expand_table
    from pimlab.schedule import summarize_table

    monkeypatch.setattr(summary, "summarize_ring", lambda *args: pytest.fail("the ring was taken"))
    table = compile_attention_table("sv", 131072, 128, 8, True, obuf_entries=2)
    got = summarize_table(table, 0, "dcs", AIM_ENGINE, 64, 2)
    assert got == schedule(expand_table(table, 0), "dcs", AIM_ENGINE, 64, 2).summary()  # fast path: exact (tested)


@st.composite
def almost_periodic(draw):
    """(signature, probe, q): a block of q values repeated, with a few values changed anywhere."""
    q = draw(st.integers(1, 6))
    block = draw(st.lists(st.integers(0, 3), min_size=q, max_size=q))
    sig = np.tile(np.array(block, dtype=np.int64), draw(st.integers(8, 40)))
    for _ in range(draw(st.integers(0, 4))):
        sig[draw(st.integers(0, len(sig) - 1))] = draw(st.integers(0, 5))
    return sig, draw(st.integers(1, len(sig) - 1)), q


@settings(max_examples=300, deadline=None)
@given(almost_periodic(), st.integers(2, 4))
def test_stretch_of_a_multiple_period_scans_only_outside_the_known_stretch(case, times):
    """`periodic._extent` of period times * q, given the stretch of period q: what comparing everything gives."""
    from pimlab.engine.periodic import _extent

    sig, probe, q = case
    p = times * q
    if p >= len(sig) or probe >= len(sig) - p:
        return
    known = (*_extent(sig, probe, q), q)
    assert _extent(sig, probe, p, known) == _extent(sig, probe, p)


@pytest.mark.parametrize("policy", _POLICIES)
def test_summarize_table_of_instructions_on_different_channels(short_thresholds, policy):
    """Rows whose masks differ: each channel's stream is its own rows (`TableSource` selects them)."""
    from pimlab.isa import expand_table, instruction_table
    from pimlab.schedule import summarize_table

    entries = 1 if policy == "static" else 2
    program = [*compile_attention("qk", 16384, 128, 2, obuf_entries=entries, ch_mask=0b01),
               *compile_attention("sv", 16384, 128, 2, True, obuf_entries=entries, ch_mask=0b11)]
    table = instruction_table(program)
    for channel in (0, 1):
        full = schedule(expand_table(table, channel), policy, AIMSIM_ENGINE, 64, entries).summary()
        assert summarize_table(table, channel, policy, AIMSIM_ENGINE, 64, entries) == full
