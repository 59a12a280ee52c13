"""pimlab.engine.tiles: DCS GEMVs replayed tile by tile, each queue moving by its own step; the schedule must equal
the plain loop's (`schedule(..., fast=False)`), column for column."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pimlab.engine.periodic as periodic
import pimlab.engine.tiles as tile_replay
from pimlab import system
from pimlab.engine.core import Engine
from pimlab.engine.policies import DCS, PingPong
from pimlab.engine.tiles import TileReplay, dcs_tile_runs
from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE
from pimlab.hardware import CENT
from pimlab.isa import Commands, Kind, compile_gemv, expand
from pimlab.schedule import schedule
from pimlab.trace import _FIELDS

_W, _M, _R, _B = Kind.WR_INP, Kind.MAC, Kind.RD_OUT, Kind.WR_BIAS


def _assert_same(got, want) -> None:
    for name in _FIELDS:
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert got.total_cycles == want.total_cycles


def _run(commands, policy, timing, obuf, fits=None):
    """(fast trace, its engine's watcher), FAST_MIN_COMMANDS lowered to 64; fits: TileReplay._fits in its place."""
    engines, trace = [], Engine.trace
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Engine, "trace", lambda self: engines.append(self) or trace(self))
        patch.setattr(periodic, "FAST_MIN_COMMANDS", 64)
        if fits is not None:
            patch.setattr(TileReplay, "_fits", fits)
        out = schedule(commands, policy, timing, CENT.module.gbuf_entries, obuf)
    return out, engines[0].replay if engines else None


def test_dcs_tile_runs_of_a_hand_made_gemv(monkeypatch):
    """One WR-INP, 9 WR-BIAS, 9 tiles of 3 MACs (GBuf entries 0-2) into their own entries, 9 RD-OUT: one run, the
    I/O frame at the first RD-OUT moving one a tile, the compute frame at the first MAC moving 3."""
    tiles = 9
    kinds = [_W] + [_B] * tiles + [_M] * 3 * tiles + [_R] * tiles
    obuf = [-1] + list(range(tiles)) + [j for j in range(tiles) for _ in range(3)] + list(range(tiles))
    rows = [-1] * (1 + tiles) + [j for j in range(tiles) for _ in range(3)] + [-1] * tiles
    gbuf = [0] + [-1] * tiles + [0, 1, 2] * tiles + [-1] * tiles
    commands = Commands.make(np.array(kinds), np.array(gbuf), np.array(obuf), np.array(rows))
    assert dcs_tile_runs(commands, DCS(commands, AIM_ENGINE, 3, tiles)) == []  # tiles under MIN_TILE_MACS
    monkeypatch.setattr(tile_replay, "MIN_TILE_MACS", 3)
    # the I/O queue: W, 9 B, 9 R (the first R at position 10); the compute queue: 27 MACs
    assert dcs_tile_runs(commands, DCS(commands, AIM_ENGINE, 3, tiles)) == [((10, 0), (1, 3), tiles)]
    assert dcs_tile_runs(commands, DCS(commands, AIM_ENGINE, 3, tiles), min_tiles=10) == []
    assert dcs_tile_runs(commands, PingPong(commands, AIM_ENGINE, 4, tiles + 1)) == []
    # tile 4 read out twice (an extra RD-OUT after it): the read-out step is no longer constant
    skewed = Commands.make(np.array(kinds + [_R]), np.array(gbuf + [-1]), np.array(obuf[:-5] + [4] + obuf[-5:]),
                           np.array(rows + [-1]))
    assert dcs_tile_runs(skewed, DCS(skewed, AIM_ENGINE, 3, tiles)) == []


def test_gpt3_gemv_replays_tiles():
    """GPT3-175B's 12288 x 24-tile GEMV as the systems comparison runs it (aim preset, refresh on): most of its
    commands are replayed tile by tile, and the schedule is the plain loop's."""
    commands = expand(system.cent_gemv_program(12288, 24, CENT.module))
    fast, replay = _run(commands, "dcs", AIM_ENGINE, system.CENT_LATCHES)
    _assert_same(fast, schedule(commands, "dcs", AIM_ENGINE, 64, system.CENT_LATCHES, fast=False))
    assert isinstance(replay, TileReplay) and replay.replayed["before refresh"] > len(commands) // 2
    assert fast.count(Kind.REF) > 10


def test_a_run_that_never_repeats_is_watched_no_more(monkeypatch):
    """With one dry tile boundary allowed, every run stops being watched at its first boundary (a new state):
    nothing is replayed, and the schedule is the plain loop's."""
    commands = expand(system.cent_gemv_program(12288, 24, CENT.module))
    monkeypatch.setattr(tile_replay, "DRY_CUTS", 1)
    fast, replay = _run(commands, "dcs", AIM_ENGINE, system.CENT_LATCHES)
    assert isinstance(replay, TileReplay) and replay.replayed["before refresh"] == 0
    _assert_same(fast, schedule(commands, "dcs", AIM_ENGINE, 64, system.CENT_LATCHES, fast=False))


@st.composite
def gemvs(draw):
    """(commands, timing, OBuf entries): a CENT GEMV (`system.cent_gemv_program`) or pimlab's (`compile_gemv`), the
    aim or aimsim preset with refresh every 300-4000 cycles."""
    module = CENT.module
    d_in, tiles, latches = draw(st.integers(1, 6000)), draw(st.integers(1, 70)), draw(st.sampled_from([8, 16, 32]))
    cent = draw(st.booleans())
    program = system.cent_gemv_program(d_in, tiles, module, latches) if cent else \
        compile_gemv(d_in, tiles * module.banks, module=module, obuf_entries=2)
    interval = draw(st.integers(300, 4000))
    timing = replace(draw(st.sampled_from([AIM_ENGINE, AIMSIM_ENGINE])), refresh=True, tREFI=interval,
                     tRFC=max(1, interval // 16))
    return expand(program), timing, latches if cent else 2


@settings(max_examples=40, deadline=None)
@given(gemvs(), st.sampled_from(["dcs", "dcs", "static", "pingpong"]))
def test_gemv_schedules_equal_the_plain_loop(case, policy):
    commands, timing, obuf = case
    fast, _ = _run(commands, policy, timing, obuf)
    _assert_same(fast, schedule(commands, policy, timing, CENT.module.gbuf_entries, obuf, fast=False))


@settings(max_examples=40, deadline=None)
@given(st.integers(2000, 5000), st.integers(8, 40), st.integers(300, 4000), st.data())
def test_a_tile_unlike_the_others_is_simulated(d_in, tiles, interval, data):
    """A CENT GEMV with a few MACs reading another GBuf entry, a few read-outs skipped, or a tile on its
    predecessor's row: the tile runs hold, but the tiles that differ must not be replayed as the others."""
    commands = expand(system.cent_gemv_program(d_in, tiles, CENT.module))
    gbuf, obuf, row, kind = (np.array(a) for a in (commands.gbuf, commands.obuf, commands.row, commands.kind))
    mac = np.flatnonzero(kind == _M)
    for j in data.draw(st.lists(st.integers(1, len(mac) - 1), min_size=1, max_size=3)):
        i, what = mac[j], data.draw(st.sampled_from(["gbuf", "row", "obuf"]))
        if what == "gbuf":
            gbuf[i] = (gbuf[i] + 1) % 64
        elif what == "row":  # up to 8 MACs on the previous MAC's row
            row[mac[j:j + 8]] = row[mac[j - 1]]
        else:  # the MAC, or its tile's last MAC, writes another entry
            if data.draw(st.booleans()):
                i = mac[j + int(np.argmax(np.r_[row[mac[j + 1:]] != row[mac[j:-1]], True]))]
            obuf[i] = (obuf[i] + 1) % system.CENT_LATCHES
    changed = Commands.make(kind, np.where(gbuf >= 0, gbuf, -1), obuf, row)
    timing = replace(AIM_ENGINE, tREFI=interval, tRFC=max(1, interval // 16))
    fast, _ = _run(changed, "dcs", timing, system.CENT_LATCHES)
    _assert_same(fast, schedule(changed, "dcs", timing, 64, system.CENT_LATCHES, fast=False))


@pytest.mark.parametrize("d_in, tiles", [(12288, 24), (12288, 64)])
def test_the_check_of_each_copy_matters(d_in, tiles):
    """One tile's last MAC writes the next tile's entry, so its read-out waits for the MAC before (it goes earlier):
    the tile runs hold, and without the check of what each copy looks at the tile is replayed as the others and
    the schedule goes wrong; with it the schedule is the plain loop's."""
    commands = expand(system.cent_gemv_program(d_in, tiles, CENT.module))
    obuf, mac = np.array(commands.obuf), np.flatnonzero(commands.kind == _M)
    last = len(mac) // 2 + 700 - (len(mac) // 2 + 700) % 64 + 63  # a tile's last MAC (tiles of 64 MACs)
    obuf[mac[last]] += 1
    changed = Commands.make(commands.kind, commands.gbuf, obuf, commands.row)
    full = schedule(changed, "dcs", AIM_ENGINE, 64, system.CENT_LATCHES, fast=False)
    assert not np.array_equal(full.issue_cycles, schedule(commands, "dcs", AIM_ENGINE, 64, system.CENT_LATCHES,
                                                          fast=False).issue_cycles)
    fast, replay = _run(changed, "dcs", AIM_ENGINE, system.CENT_LATCHES)
    _assert_same(fast, full)
    assert isinstance(replay, TileReplay) and replay.replayed["before refresh"] > len(commands) // 2
    unchecked, _ = _run(changed, "dcs", AIM_ENGINE, system.CENT_LATCHES, fits=lambda self, template, m, reps: reps)
    assert not np.array_equal(unchecked.issue_cycles, full.issue_cycles)
