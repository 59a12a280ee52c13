"""pimlab.engine.periodic.tile_runs: runs of identical MAC tiles under a policy that ignores buffer entries, replayed
between refreshes; the schedule must equal the plain loop's, column for column."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab import system
from pimlab.engine.core import Engine
from pimlab.engine.periodic import tile_runs
from pimlab.engine.policies import DCS, Static
from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE
from pimlab.hardware import CENT
from pimlab.isa import Commands, Kind, compile_gemv, expand
from pimlab.schedule import schedule

_COLUMNS = ("id", "kind", "queue", "gbuf", "obuf", "row", "issue_cycles", "done_cycles", "depends_on", "bound_by")
_W, _M, _R = Kind.WR_INP, Kind.MAC, Kind.RD_OUT


def _stream(kinds, rows):
    kinds = np.array(kinds)
    zeros = np.zeros(len(kinds), dtype=np.int64)
    return Commands.make(kinds, np.where(np.isin(kinds, [_W, _M]), zeros, -1), np.where(kinds != _W, zeros, -1),
                         np.where(kinds == _M, rows, -1))


def test_tile_runs_of_a_hand_made_stream():
    # W, then 9 tiles of 3 MACs (rows 0..8), R, then 2 tiles of 2 MACs (too few), R, W
    kinds = [_W] + [_M] * 27 + [_R] + [_M] * 4 + [_R, _W]
    rows = [-1] + [r for r in range(9) for _ in range(3)] + [-1] + [20, 20, 21, 21] + [-1, -1]
    commands = _stream(kinds, rows)
    static = Static(commands, AIM_ENGINE, 64, 1)
    assert tile_runs(commands, static) == [(1, 28, 3, 1)]  # 27 of the 35 commands: most of the stream
    assert tile_runs(commands, static, min_tiles=10) == []
    assert tile_runs(commands, DCS(commands, AIM_ENGINE, 64, 2)) == []  # DCS follows the entries: no tile runs

    class Reversed(Static):  # a policy of its own queue order: not program order, so no tile runs
        def queues(self):
            return [range(len(self.commands) - 1, -1, -1)]

    assert tile_runs(commands, Reversed(commands, AIM_ENGINE, 64, 1)) == []
    # a tile of another length breaks the run in two; each part is a run if long enough
    kinds2 = [_W] + [_M] * 24 + [_M] * 4 + [_M] * 24
    rows2 = [-1] + [r for r in range(8) for _ in range(3)] + [8] * 4 + [r for r in range(9, 17) for _ in range(3)]
    assert tile_runs(_stream(kinds2, rows2), static) == [(1, 25, 3, 1), (29, 53, 3, 1)]


def _assert_same(fast, full):
    assert fast.total_cycles == full.total_cycles
    for name in _COLUMNS:
        assert np.array_equal(getattr(fast, name), getattr(full, name)), name


def test_cent_gemv_replays_tiles_between_refreshes(monkeypatch):
    """A CENT GEMV of 8192 inputs, 48 output tiles: most tiles are replayed, and the schedule is the plain loop's."""
    commands = expand(system.cent_gemv_program(8192, 48, CENT.module))
    engines, trace = [], Engine.trace
    monkeypatch.setattr(Engine, "trace", lambda self: engines.append(self) or trace(self))
    fast = schedule(commands, "static", AIM_ENGINE, 64, system.CENT_LATCHES)
    full = schedule(commands, "static", AIM_ENGINE, 64, system.CENT_LATCHES, fast=False)
    _assert_same(fast, full)
    assert fast.count(Kind.REF) > 10 and engines[0].replay.replayed["before refresh"] > len(commands) // 2


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6000), st.integers(1, 70), st.sampled_from([8, 16, 32]), st.booleans(),
       st.integers(300, 4000), st.sampled_from(["aim", "aimsim"]), st.sampled_from(["static", "static", "dcs"]))
def test_gemv_schedules_equal_the_plain_loop(d_in, tiles, latches, cent, refresh_interval, preset, policy):
    """Random GEMVs (CENT's sequence or pimlab's compiler), refresh every 300-4000 cycles: the fast path (tile
    runs where they hold most of a static stream) gives the plain loop's trace."""
    import pimlab.engine.periodic as periodic

    module = CENT.module
    program = system.cent_gemv_program(d_in, tiles, module, latches) if cent else \
        compile_gemv(d_in, tiles * module.banks, module=module, obuf_entries=1 + (policy == "dcs"))
    commands = expand(program)
    timing = AIM_ENGINE if preset == "aim" else AIMSIM_ENGINE
    timing = replace(timing, refresh=True, tREFI=refresh_interval, tRFC=max(1, refresh_interval // 16))
    obuf = latches if cent else 1 + (policy == "dcs")
    saved, periodic.FAST_MIN_COMMANDS = periodic.FAST_MIN_COMMANDS, 64
    try:
        fast = schedule(commands, policy, timing, module.gbuf_entries, obuf)
    finally:
        periodic.FAST_MIN_COMMANDS = saved
    _assert_same(fast, schedule(commands, policy, timing, module.gbuf_entries, obuf, fast=False))


@pytest.mark.parametrize("d_in, tiles", [(8192, 64), (29568, 20)])
def test_cent_gemv_uses_tile_runs(d_in, tiles):
    commands = expand(system.cent_gemv_program(d_in, tiles, CENT.module))
    runs = tile_runs(commands, Static(commands, AIM_ENGINE, 64, system.CENT_LATCHES))
    chunks = -(-d_in // CENT.module.mac_lanes // 64)
    assert len(runs) == chunks * -(-tiles // system.CENT_LATCHES)  # one run per group of latches of each chunk
