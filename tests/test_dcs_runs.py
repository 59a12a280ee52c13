"""The periodic fast path's watcher costs nothing between cuts and gives up on a stretch that never repeats; the
schedule stays the plain loop's, column for column, and it replays what it replayed when it looked after every
issue and watched every stretch to its end (DCS tile replay off: tests/test_dcs_tiles.py)."""

from dataclasses import replace

import numpy as np
import pytest

import pimlab.engine.periodic as periodic
import pimlab.engine.tiles as tile_replay
from pimlab import system
from pimlab.engine.core import Engine
from pimlab.engine.timing import AIM_ENGINE, AIMSIM_ENGINE
from pimlab.hardware import CENT
from pimlab.isa import compile_attention, compile_attention_table, expand, expand_table
from pimlab.schedule import schedule
from pimlab.trace import _FIELDS


def _assert_same(got, want) -> None:
    for name in _FIELDS:
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert got.total_cycles == want.total_cycles


def _fast(commands, policy, timing, entries, monkeypatch):
    """(trace, replay) of the fast path with DCS tile replay off, and the cuts it took (stretch, cut index)."""
    engines, trace, cuts, cut = [], Engine.trace, [], periodic.Replay.cut
    monkeypatch.setattr(tile_replay, "dcs_tile_runs", lambda *args: [])
    monkeypatch.setattr(Engine, "trace", lambda self: engines.append(self) or trace(self))
    monkeypatch.setattr(periodic.Replay, "cut", lambda self, b: cuts.append((self.k, b)) or cut(self, b))
    out = schedule(commands, policy, timing, 64, entries)
    monkeypatch.undo()
    return out, engines[0].replay, cuts


def _as_before(monkeypatch):
    """The watcher as it was: a look after every issue (`after_issue` always called), every stretch to its end."""
    monkeypatch.setattr(periodic.Replay, "watch_from", lambda self: -1)
    monkeypatch.setattr(periodic, "DRY_CUTS", None)


def _streams():
    """(name, commands, policy, timing, OBuf entries): Fig. 9 / 18 attention streams and GPT3-175B's CENT GEMVs
    (as the systems comparison runs them), refresh on (aim) and off (aimsim)."""
    out = []
    for policy, entries, regions in (("static", 1, 1), ("dcs", 2, 1), ("pingpong", 2, 2)):
        qk = expand(compile_attention("qk", 32768, 128, obuf_entries=entries, buffer_regions=regions), 0)
        sv = expand_table(compile_attention_table("sv", 2048, 128, 8, True, obuf_entries=entries,
                                                  buffer_regions=regions), 0)
        out += [(f"qk {policy}", qk, policy, AIM_ENGINE, entries), (f"sv {policy}", sv, policy, AIM_ENGINE, entries),
                (f"sv {policy} no refresh", sv, policy, AIMSIM_ENGINE, entries)]
    for d_in, tiles in ((12288, 24), (12288, 64), (32768, 24)):
        gemv = expand(system.cent_gemv_program(d_in, tiles, CENT.module))
        out += [(f"gemv {d_in} x {tiles} {policy}", gemv, policy, AIM_ENGINE, system.CENT_LATCHES)
                for policy in ("dcs", "static")]
    return out


@pytest.mark.parametrize("name, commands, policy, timing, entries", _streams(), ids=lambda x: x if isinstance(
    x, str) else "")
def test_the_watcher_replays_as_it_did(monkeypatch, name, commands, policy, timing, entries):
    now, replay, cuts = _fast(commands, policy, timing, entries, monkeypatch)
    _as_before(monkeypatch)
    before, replay_before, cuts_before = _fast(commands, policy, timing, entries, monkeypatch)
    _assert_same(now, schedule(commands, policy, timing, 64, entries, fast=False))
    _assert_same(before, now)
    assert replay.replayed == replay_before.replayed and replay.whole == replay_before.whole
    assert cuts == cuts_before


def test_a_stretch_that_never_repeats_is_watched_no_more(monkeypatch):
    """GPT3-175B's first DCS GEMV: one period per input chunk, each spanning refreshes; its state never repeats.
    With 3 dry cuts allowed it is cut 3 times and no more, and the schedule stays the plain loop's."""
    commands = expand(system.cent_gemv_program(12288, 24, CENT.module))
    full, replay, cuts = _fast(commands, "dcs", AIM_ENGINE, system.CENT_LATCHES, monkeypatch)
    assert sum(replay.replayed.values()) == 0 and len(cuts) > 6
    monkeypatch.setattr(periodic, "DRY_CUTS", 3)
    short, replay, cuts = _fast(commands, "dcs", AIM_ENGINE, system.CENT_LATCHES, monkeypatch)
    assert len(cuts) == 3
    _assert_same(short, full)


def test_dry_cuts_bound_the_look_not_the_replays(monkeypatch):
    """QK^T under DCS, refresh every 700 cycles: the state first repeats at the second cut. One dry cut allowed
    gives up before it (nothing replayed); two replay as much as watching everything; the schedule is the same."""
    commands = expand(compile_attention("qk", 8192, 128, obuf_entries=2), 0)
    timing = replace(AIM_ENGINE, tREFI=700, tRFC=40)
    full, replay, _ = _fast(commands, "dcs", timing, 2, monkeypatch)
    assert replay.replayed["whole state"] > len(commands) // 2 and replay.replayed["before refresh"] > 0
    for dry, replayed in ((1, {"whole state": 0, "before refresh": 0}), (2, replay.replayed)):
        monkeypatch.setattr(periodic, "DRY_CUTS", dry)
        short, replay_short, _ = _fast(commands, "dcs", timing, 2, monkeypatch)
        assert replay_short.replayed == replayed
        _assert_same(short, full)
