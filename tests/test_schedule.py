"""pimlab.schedule: exact cycles on hand-checkable streams, invariants on random ones, bad input."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from streams import ISSUE9_ENTRIES, ISSUE9_STREAM, ISSUE9_TIMING, periodic_streams, short_streams

from pimlab.engine.periodic import FAST_MIN_COMMANDS, find_periods
from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE, fig7_engine
from pimlab.isa import Commands, Instruction, Kind, compile_attention, compile_gemv, expand, fig7_stream
from pimlab.schedule import dependency_ids, find_period, schedule
from pimlab.trace import Bound, check_hazards


def _issues(trace):
    """Issue cycles of the input commands in program order."""
    return trace.issue_cycles[trace.of_commands()].tolist()


def test_fig7_static_and_dcs_timelines_are_the_reconstruction():
    static = schedule(expand(fig7_stream(1), 0), "static", fig7_engine(), 3, 1)
    dcs = schedule(expand(fig7_stream(2), 0), "dcs", fig7_engine(), 3, 2)
    # docs/sources.md §6.1: closed form static = 6 tCCDS + t_WR + 2 t_MAC + 2 t_RD = 6 + 4 + 6 + 18
    assert _issues(static) == [0, 1, 2, 6, 7, 8, 11, 20, 21, 22, 25] and static.total_cycles == 34
    assert _issues(dcs) == [0, 1, 2, 4, 5, 6, 9, 7, 8, 10, 13] and dcs.total_cycles == 22
    m3 = dcs.of_commands()[3]
    assert dcs.bound_by[m3] == Bound.DATA and dcs.depends_on[m3] == 0  # M3 waits exactly for W0


def test_fig7_timing_knobs_move_the_static_closed_form():
    for c, wr, mac, rd in ((1, 4, 2, 10), (2, 3, 5, 6), (1, 6, 3, 8)):
        static = schedule(expand(fig7_stream(1), 0), "static", fig7_engine(c, wr, mac, rd), 3, 1)
        assert static.total_cycles == 6 * c + wr + 2 * mac + 2 * rd


_W, _B, _M, _R = Kind.WR_INP, Kind.WR_BIAS, Kind.MAC, Kind.RD_OUT
MICRO = {  # docs/sources.md §3.3: reference costs measured with aim_simulator
    "WR_GB 64": ([Instruction(_W, 1, 64, gpr_addr=0, gbuf_idx=0)], 128, False),
    "MAC_ABK 8, open row": ([Instruction(_M, 1, 8, gbuf_idx=0, row=0, col=0, out_idx=0)], 16, False),
    "MAC_ABK 64, new row": ([Instruction(_M, 1, 64, gbuf_idx=0, row=0, col=0, out_idx=0)], 226, True),
    "WR_BIAS + MAC_ABK 8 + RD_MAC": ([Instruction(_B, 1, 1, gpr_addr=0, out_idx=0),
                                      Instruction(_M, 1, 8, gbuf_idx=0, row=0, col=0, out_idx=0),
                                      Instruction(_R, 1, 1, gpr_addr=0, out_idx=0)], 86, False),
}


def _repeat(body, times, new_row):
    program = []
    for r in range(times):
        program += [replace(i, row=r) if new_row and i.op == _M else i for i in body]
    return expand(program, 0)


@pytest.mark.parametrize("name", MICRO)
def test_aimsim_static_reproduces_reference_micro_latencies(name):
    body, cycles, new_row = MICRO[name]
    totals = [schedule(_repeat(body, n, new_row), "static", AIMSIM_ENGINE).total_cycles for n in (20, 21)]
    assert totals[1] - totals[0] == cycles


@pytest.mark.parametrize("name", MICRO)
def test_aim_preset_static_steady_state_matches_micro_latencies(name):
    """pimlab's own preset adds refresh; between refreshes each repetition costs the same cycles."""
    body, cycles, new_row = MICRO[name]
    times = 3 * AIM_ENGINE.tREFI // cycles + 2  # long enough for refresh to fire a few times
    commands = _repeat(body, times, new_row)
    trace = schedule(commands, "static", AIM_ENGINE)
    per = len(commands) // times
    starts = np.array(_issues(trace))[::per]
    deltas = np.diff(starts)
    assert np.median(deltas) == cycles and trace.count(Kind.REF) >= 2
    assert deltas.max() > cycles  # the repetitions hit by a refresh take longer


def test_aimsim_accounting_starts_at_cycle_1_and_ends_with_the_eoc_rule():
    trace = schedule(expand([Instruction(_W, 1, 1, gpr_addr=0, gbuf_idx=0)], 0), "static", AIMSIM_ENGINE)
    # register mode needs a TMOD first (channels start in MAC mode): TMOD at 1, WR_GB at 33, EOC +4
    assert trace.issue_cycles.tolist() == [1, 33] and trace.total_cycles == 37
    assert trace.kind.tolist() == [Kind.MODE, Kind.WR_INP]


def test_dependency_ids_are_the_previous_user_of_each_entry():
    assert dependency_ids(np.array([0, 1, -1, 0, 1, 0])).tolist() == [-1, -1, -1, 0, 1, 3]


def test_row_change_after_mode_switch_costs_tmod_pre_act():
    program = [Instruction(_M, 1, 1, gbuf_idx=0, row=0, col=0, out_idx=0), Instruction(_R, 1, 1, gpr_addr=0, out_idx=0),
               Instruction(_M, 1, 1, gbuf_idx=0, row=1, col=0, out_idx=0)]
    trace = schedule(expand(program, 0), "static", AIMSIM_ENGINE)
    kinds = trace.kind.tolist()
    mode, pre, act = (trace.issue_cycles[kinds.index(k, 4)] for k in (Kind.MODE, Kind.PRE, Kind.ACT))
    assert pre - mode == 32 and act - pre == 32 and trace.issue_cycles[-1] - act == 56


_TIMINGS = [AIM_ENGINE, AIMSIM_ENGINE, fig7_engine(), fig7_engine(2, 2, 5, 5)]


@st.composite
def streams(draw):
    """Short random streams, rows 0-3, and (for the AiM presets) refresh every 150-900 cycles with tRFC up to a
    fifth of it: wide enough to draw issue 9's counter-example (tREFI 253, tRFC 34, rows up to 3)."""
    commands, gbuf_entries, obuf_entries = draw(short_streams(40))
    timing = draw(st.sampled_from(_TIMINGS))
    if timing.rows and draw(st.booleans()):
        interval = draw(st.integers(150, 900))
        timing = replace(timing, refresh=True, tREFI=interval, tRFC=draw(st.integers(20, interval // 5 + 20)))
    return commands, timing, gbuf_entries, obuf_entries


ISSUE9_CASE = (ISSUE9_STREAM, ISSUE9_TIMING, *ISSUE9_ENTRIES)


def _breakdown_by_cycle(trace, start_cycle=0, end_cycle=None):
    """The breakdown counted cycle by cycle (an independent reading of its definition), of the cycles in
    [start_cycle, end_cycle)."""
    label = np.full(trace.total_cycles, 5)  # pipeline penalty unless something below is under way
    end = np.where(trace.kind == Kind.MAC, trace.issue_cycles + trace.timing.tCCD, trace.done_cycles)
    rank = {Kind.MAC: 0, Kind.REF: 1, Kind.ACT: 2, Kind.PRE: 2, Kind.WR_INP: 3, Kind.RD_OUT: 4, Kind.WR_BIAS: 4}
    for k, start, stop in zip(trace.kind.tolist(), trace.issue_cycles.tolist(), end.tolist()):
        if k in rank:
            for c in range(max(start, 0), min(stop, trace.total_cycles)):
                label[c] = min(label[c], rank[k])
    counts = np.bincount(label[start_cycle:end_cycle], minlength=6)
    return dict(zip(("MAC", "REF", "ACT/PRE", "DT-GBuf", "DT-OutReg", "Pipeline penalty"), counts.tolist()))


def test_issue9_counter_example_no_longer_loses():
    static, dcs, pingpong = (schedule(*ISSUE9_CASE[:1], p, *ISSUE9_CASE[1:]) for p in ("static", "dcs", "pingpong"))
    assert static.total_cycles == 598  # static never opened a row just before a refresh here
    # before the fix DCS opened row 0 at 201 and 492, 52 and 14 cycles before a refresh closed it unused, and
    # paid tRC again after it: 639 cycles. Now those ACTs wait for the refresh, as static's did.
    assert dcs.total_cycles == 598 and pingpong.total_cycles == 598
    wasted = [(a, r) for a in dcs.issue_cycles[dcs.kind == Kind.ACT] for r in dcs.issue_cycles[dcs.kind == Kind.REF]
              if a < r < a + 56]
    assert wasted == []


@settings(max_examples=60, deadline=None)
@given(streams())
@example(ISSUE9_CASE)
def test_dcs_is_hazard_free_and_never_slower_than_static(case):
    commands, timing, gbuf_entries, obuf_entries = case
    static = schedule(commands, "static", timing, gbuf_entries, obuf_entries)
    dcs = schedule(commands, "dcs", timing, gbuf_entries, obuf_entries)
    assert check_hazards(commands, dcs) == [] and check_hazards(commands, static) == []
    assert dcs.total_cycles <= static.total_cycles
    for trace in (static, dcs):
        assert trace.breakdown() == _breakdown_by_cycle(trace)


@settings(max_examples=40, deadline=None)
@given(streams())
@example(ISSUE9_CASE)
def test_pingpong_is_hazard_free_and_its_breakdown_is_the_cycle_count(case):
    commands, timing, gbuf_entries, obuf_entries = case
    trace = schedule(commands, "pingpong", timing, gbuf_entries, obuf_entries)
    assert check_hazards(commands, trace) == []
    assert trace.breakdown() == _breakdown_by_cycle(trace)


def test_compiled_attention_is_hazard_free_under_every_policy():
    for policy, entries, regions in (("static", 1, 1), ("pingpong", 2, 2), ("dcs", 4, 1)):
        commands = expand(compile_attention("sv", 1024, 128, group=2, row_reuse=True, obuf_entries=entries,
                                            buffer_regions=regions), 0)
        trace = schedule(commands, policy, AIM_ENGINE, 64, entries)
        assert check_hazards(commands, trace) == []


def test_dcs_overlaps_io_with_mac_on_a_gemv():
    static = schedule(expand(compile_gemv(256, 256), 0), "static")
    dcs = schedule(expand(compile_gemv(256, 256, obuf_entries=2), 0), "dcs", obuf_entries=2)
    assert dcs.mac_utilization > 1.5 * static.mac_utilization
    assert static.count(Kind.MODE) > 0 and dcs.count(Kind.MODE) == 0


@pytest.mark.parametrize("kwargs, word", [
    (dict(policy="greedy"), "policy must be one of static, pingpong, dcs"),
    (dict(gbuf_entries=0), "gbuf_entries"),
    (dict(obuf_entries=0), "obuf_entries"),
    (dict(gbuf_entries=2), "gbuf entry"),
    (dict(timing=3), "timing"),
    (dict(timing="nosuch"), "preset"),
])
def test_bad_schedule_arguments_raise(kwargs, word):
    commands = expand(compile_gemv(64, 32), 0)  # uses GBuf entries 0..3
    with pytest.raises(ValueError, match=word):
        schedule(commands, **kwargs)


def test_empty_stream_raises():
    with pytest.raises(ValueError, match="empty"):
        schedule(Commands.make([]), "dcs")


# --- the exact fast path ------------------------------------------------------------------------------------
_COLUMNS = ("id", "kind", "queue", "gbuf", "obuf", "row", "issue_cycles", "done_cycles", "depends_on", "bound_by")


def _assert_same(fast, full):
    assert fast.total_cycles == full.total_cycles
    for name in _COLUMNS:
        assert np.array_equal(getattr(fast, name), getattr(full, name)), name


@pytest.mark.parametrize("op, group, reuse, policy, entries, regions", [
    ("qk", 1, False, "static", 1, 1), ("qk", 2, True, "dcs", 2, 1), ("sv", 2, True, "dcs", 4, 1),
    ("sv", 2, True, "pingpong", 2, 2), ("sv", 1, False, "static", 1, 1), ("qk", 4, False, "dcs", 2, 1),
])
@pytest.mark.parametrize("timing", [AIM_ENGINE, AIMSIM_ENGINE], ids=["aim", "aimsim"])
def test_fast_path_equals_the_full_simulation(op, group, reuse, policy, entries, regions, timing):
    tokens = 4096 if op == "sv" and group > 1 else 8192
    commands = expand(compile_attention(op, tokens, 128, group, reuse, obuf_entries=entries, buffer_regions=regions), 0)
    assert len(commands) >= FAST_MIN_COMMANDS and find_period(commands) is not None
    if group > 1 and not reuse:  # each query head walks all rows: one periodic stretch per head
        assert len(find_periods(commands)) >= group
    fast = schedule(commands, policy, timing, 64, entries, fast=True)
    _assert_same(fast, schedule(commands, policy, timing, 64, entries, fast=False))
    assert check_hazards(commands, fast) == []


def test_find_period_of_a_qk_stream():
    commands = expand(compile_attention("qk", 8192, 128, obuf_entries=1), 0)
    start, end, period, depth = find_period(commands)
    # after the 8 query writes: (8 MACs + 1 RD) per token tile, 8 tiles per row
    assert (start, end, period) == (8, len(commands), 72) and depth == 9
    assert find_period(Commands.make([0, 1, 2] * 3)) is None


@settings(max_examples=25, deadline=None)
@given(periodic_streams())
def test_fast_path_equals_full_simulation_on_random_periodic_streams(monkeypatch_module, case):
    commands, policy, timing, gbuf_entries, obuf_entries = case
    full = schedule(commands, policy, timing, gbuf_entries, obuf_entries, fast=False)
    _assert_same(schedule(commands, policy, timing, gbuf_entries, obuf_entries, fast=True), full)


@pytest.fixture(scope="module")
def monkeypatch_module():
    """Let the fast path take streams of a few hundred commands."""
    import pimlab.engine.periodic as module

    saved, module.FAST_MIN_COMMANDS = module.FAST_MIN_COMMANDS, 256
    yield
    module.FAST_MIN_COMMANDS = saved


def _fast_engine(monkeypatch):
    """Run the next schedule(..., fast=True) and keep its engine, to see which repeats the fast path used."""
    from pimlab.engine.core import Engine

    engines, trace = [], Engine.trace
    monkeypatch.setattr(Engine, "trace", lambda self: engines.append(self) or trace(self))
    return engines


@pytest.mark.parametrize("policy, entries, regions", [("static", 1, 1), ("dcs", 2, 1), ("pingpong", 2, 2)])
def test_fast_path_replays_across_refreshes_exactly(monkeypatch, policy, entries, regions):
    """With refresh on, the whole state (refresh phase included) repeats after a few refresh windows."""
    commands = expand(compile_attention("qk", 32768, 128, obuf_entries=entries, buffer_regions=regions), 0)
    engines = _fast_engine(monkeypatch)
    fast = schedule(commands, policy, AIM_ENGINE, 64, entries, fast=True)
    _assert_same(fast, schedule(commands, policy, AIM_ENGINE, 64, entries, fast=False))
    engine = engines[0]
    assert engine.replay.replayed["whole state"] > len(commands) // 3  # whole super-periods of several refreshes
    assert fast.count(Kind.REF) > 10 and engine.refreshes == fast.count(Kind.REF)


@pytest.mark.parametrize("policy, entries", [("static", 1), ("dcs", 2)])
def test_fast_path_replays_between_refreshes_exactly(monkeypatch, policy, entries):
    """A short stream whose state repeats only between refreshes: periods replay up to each refresh."""
    from pimlab.figures.fig08 import gemv_stream

    commands = gemv_stream(1024, 2, entries)
    engines = _fast_engine(monkeypatch)
    fast = schedule(commands, policy, AIM_ENGINE, 64, entries, fast=True)
    _assert_same(fast, schedule(commands, policy, AIM_ENGINE, 64, entries, fast=False))
    assert engines[0].replay.replayed["before refresh"] > 0 and fast.count(Kind.REF) > 0
    assert check_hazards(commands, fast) == []


@settings(max_examples=25, deadline=None)
@given(periodic_streams(), st.integers(150, 900))
def test_fast_path_equals_full_simulation_with_frequent_refresh(monkeypatch_module, case, refresh_interval):
    commands, policy, timing, gbuf_entries, obuf_entries = case
    timing = replace(timing, refresh=True, tREFI=refresh_interval, tRFC=refresh_interval // 6)
    full = schedule(commands, policy, timing, gbuf_entries, obuf_entries, fast=False)
    _assert_same(schedule(commands, policy, timing, gbuf_entries, obuf_entries, fast=True), full)


def test_dcs_and_pingpong_never_switch_modes():
    """The mode switch is the static controller's: DCS and ping-pong traces do not depend on tMODCH (the Fig. 8
    app reuses DCS bars across tMODCH changes)."""
    from pimlab.engine.timing import AIM_TIMING, aim_engine

    commands = expand(compile_gemv(256, 256, obuf_entries=2), 0)
    for policy in ("dcs", "pingpong"):
        traces = [schedule(commands, policy, aim_engine(replace(AIM_TIMING, tMODCH=m)), 64, 2) for m in (0, 32, 97)]
        for trace in traces[1:]:
            _assert_same(trace, traces[0])
        assert traces[0].count(Kind.MODE) == 0
    static = [schedule(commands, "static", aim_engine(replace(AIM_TIMING, tMODCH=m)), 64, 2) for m in (32, 97)]
    assert static[1].total_cycles > static[0].total_cycles


def test_engine_presets_and_timing_validation():
    from pimlab.engine.timing import EngineTiming, KindTable, engine_preset

    module, timing = engine_preset("aimsim")
    assert module.channels == 32 and not timing.refresh and timing.start_cycle == 1
    assert engine_preset("aim")[1].refresh and engine_preset("fig7")[1].tCCD == 1
    with pytest.raises(ValueError, match="preset"):
        engine_preset("hbm")
    with pytest.raises(ValueError, match=r"gap_cycles\[MAC->RD_OUT\] must be an integer in \[0, 1048576\], got 2.5"):
        KindTable.of({(Kind.MAC, Kind.RD_OUT): 2.5}, "static_gap_cycles")
    with pytest.raises(ValueError, match="keys must be pimlab.isa.Kind"):
        KindTable.of({1: 2}, "latency_cycles")
    with pytest.raises(ValueError, match="latency_cycles must be a KindTable"):
        EngineTiming("x", 1, (1,) * 8, KindTable(()), KindTable(()))
    with pytest.raises(ValueError, match="tRFC"):
        replace(AIM_ENGINE, tRFC=AIM_ENGINE.tREFI)
    with pytest.raises(ValueError, match="tREFI must exceed"):
        replace(AIM_ENGINE, tREFI=120, tRFC=40)  # no MAC could ever issue between two refreshes
    with pytest.raises(ValueError, match="t_rd_out"):
        fig7_engine(t_rd_out=0)
    assert repr(AIM_ENGINE.row_cycles).startswith("{MAC->PRE: 12")
