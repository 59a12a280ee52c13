"""Breakdown bars and utilization lines (Figs. 8, 9, 18): drawn from the figure data; apps accept and reject input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from pimlab.figures.fig08 import fig8
from pimlab.figures.fig09 import fig9
from pimlab.figures.fig18 import fig18
from pimlab.hardware import AIM
from pimlab_widgets.breakdown import (
    breakdown_figure,
    fig8_app,
    fig8_figure,
    fig9_app,
    fig9_figure,
    fig18_app,
    fig18_figure,
)
from pimlab_widgets.controls import parse_ints

SMALL8 = dict(dims=(64, 128), min_macs=512)
SMALL9 = dict(groups=(1, 4), tokens=128)


def _bars(figure):
    return [t for t in figure.data if t.type == "bar"]


def _stack_heights(figure) -> np.ndarray:
    return np.sum([np.asarray(b.y, dtype=float) for b in _bars(figure)], axis=0)


def test_parse_ints():
    assert parse_ints("dims", " 64, 128;256 ") == (64, 128, 256)
    for bad in ("", "64, x", "1.5"):
        with pytest.raises(ValueError, match="dims must"):
            parse_ints("dims", bad)


def test_breakdown_views_stack_to_the_totals():
    keys = ("MAC", "Pipeline penalty")
    cycles = np.array([[[10, 30], [10, 10]], [[20, 60], [20, 20]]])  # [group, variant, key]
    util = cycles[..., 0] / cycles.sum(-1)
    plain = breakdown_figure(["a", "b"], ("static", "DCS"), keys, cycles, util)
    assert _stack_heights(plain).tolist() == [40, 20, 80, 40]
    assert [list(b.x[1]) for b in _bars(plain)][0] == ["static", "DCS", "static", "DCS"]
    share = breakdown_figure(["a", "b"], ("static", "DCS"), keys, cycles, util, view="% of run")
    assert np.allclose(_stack_heights(share), 100)
    per_head = breakdown_figure(["a", "b"], ("static", "DCS"), keys, cycles, util, view="cycles per query head",
                                per_group=np.array([1, 2]))
    assert _stack_heights(per_head).tolist() == [40, 20, 40, 20]
    lines = [t for t in plain.data if t.type == "scatter"]
    assert [list(t.y) for t in lines] == [[25.0, 25.0], [50.0, 50.0]] and lines[0].yaxis == "y2"
    with pytest.raises(ValueError, match="view"):
        breakdown_figure(["a"], ("s",), keys, cycles[:1, :1], util[:1, :1], view="bogus")


def test_fig8_bars_are_the_breakdown_of_each_schedule():
    data = fig8(**SMALL8)
    figure = fig8_figure(data)
    heights = _stack_heights(figure).reshape(len(data.dims), 4)
    assert heights[:, 0].tolist() == data.static_breakdown.sum(axis=1).tolist()
    assert heights[:, 3].tolist() == data.dcs_breakdown.sum(axis=1).tolist()
    # 8 bars at 800 px: "static, no mode switch" (22 characters, 136 px at 10 px) cannot fit a 54 px slot, so the
    # ticks are one-letter codes, horizontal, keyed in the x title; hover keeps the full names
    assert list(_bars(figure)[0].x[1])[:4] == ["S", "N", "P", "D"] and figure.layout.xaxis.tickangle == 0
    assert "S = static; N = static, no mode switch; P = ping-pong; D = DCS" in figure.layout.xaxis.title.text
    assert list(_bars(figure)[0].customdata)[:5] == ["64, static", "64, static, no mode switch", "64, ping-pong",
                                                      "64, DCS", "128, static"]
    dt_gbuf = next(b for b in _bars(figure) if b.name == "DT-GBuf")
    assert list(dt_gbuf.y)[3::4] == data.dcs_breakdown[:, data.keys.index("DT-GBuf")].tolist()
    static_line = next(t for t in figure.data if t.name == "MAC util. static")
    assert np.allclose(static_line.y, 100 * data.static_utilization, atol=0.01)


def test_fig9_variants_map_to_reuse_and_policy():
    data = fig9(**SMALL9)
    figure = fig9_figure(data)
    dt_gbuf = np.asarray(next(b for b in _bars(figure) if b.name == "DT-GBuf").y).reshape(len(data.groups), 4)
    part = data.part("DT-GBuf")  # [g, reuse, policy]
    assert dt_gbuf[:, 0].tolist() == part[:, 0, 0].tolist()  # static
    assert dt_gbuf[:, 1].tolist() == part[:, 1, 0].tolist()  # static + row reuse
    assert dt_gbuf[:, 2].tolist() == part[:, 0, 1].tolist()  # DCS
    assert dt_gbuf[:, 3].tolist() == part[:, 1, 1].tolist()  # DCS + row reuse
    assert list(_bars(figure)[0].x[0])[::4] == ["MHA", "GQA g=4"]
    assert list(_bars(figure)[0].x[1])[:4] == ["S", "SR", "D", "DR"] and figure.layout.xaxis.tickangle == 0


def test_variant_names_that_fit_stay_and_codes_replace_them_only_when_they_would_stand_upright():
    keys, codes = ("MAC",), {"static": "S", "DCS": "D"}
    cycles, util = np.ones((2, 2, 1)), np.full((2, 2), 0.5)
    # 4 slots of 0.9 * (600 - 60 - 60) / 4 = 108 px: "static" (37 px at 10 px) fits
    few = breakdown_figure(["a", "b"], ("static", "DCS"), keys, cycles, util, codes=codes)
    assert list(few.data[0].x[1]) == ["static", "DCS", "static", "DCS"] and "S =" not in few.layout.xaxis.title.text
    # 24 slots of 18 px: "static" does not fit at 10 px, "S" does
    many = breakdown_figure(list("abcdefghijkl"), ("static", "DCS"), keys, np.ones((12, 2, 1)), np.ones((12, 2)),
                            codes=codes)
    assert list(many.data[0].x[1])[:2] == ["S", "D"] and many.layout.xaxis.tickangle == 0
    assert many.layout.xaxis.title.text.endswith("bars: S = static; D = DCS</span>")
    assert list(many.data[-1].x[1]) == ["D"] * 12 and many.data[-1].name == "MAC util. DCS"  # lines on their bars


def test_fig18_bars_and_gain_labels():
    data = fig18(groups=(1, 4), tokens=128)
    figure = fig18_figure(data)
    bars = {b.name: b for b in _bars(figure)}
    assert list(bars) == ["static", "static, no mode switch", "ping-pong", "DCS"]
    both = [data.of("ping-pong", order)[0] for order in data.orders]
    assert np.allclose(bars["ping-pong"].y, 100 * np.concatenate(both), atol=0.01)
    assert list(bars["DCS"].x[0]) == ["plain order"] * 2 + ["software-pipelined order"] * 2  # a half per order
    assert list(bars["DCS"].x[1]) == ["MHA", "g=4"] * 2 and figure.layout.xaxis.tickangle == 0
    ratios = np.concatenate([data.dcs_over_pingpong(order) for order in data.orders])
    assert list(bars["DCS"].text) == [f"{r:.2f}x" for r in ratios]


def _rejects(app, word: str, **bad) -> None:
    """A bad value is named in the banner, the figure and data stay; putting the good value back clears it."""
    before, data = app.figure.to_dict(), app.data
    good = {name: app.controls[name].value for name in bad}
    assert not app.set(**bad)
    assert word in app.error
    assert app.data is data and app.figure.to_dict() == before
    assert app.set(**good) and app.error == ""


def test_fig8_app_accepts_good_and_rejects_bad_input():
    app = fig8_app(dims="64, 128", min_macs=512)
    assert app.error == ""
    assert app.set(dims="128, 256") and app.data[0].dims.tolist() == [128, 256]
    expected = fig8(dims=(128, 256), min_macs=512)
    assert app.data[0].static_breakdown.tolist() == expected.static_breakdown.tolist()
    assert app.set(view="% of run") and np.allclose(_stack_heights(app.figure), 100)
    _rejects(app, "d_in = d_out must be comma-separated integers in [16, 8192]; got '8' in '8, 128'", dims="8, 128")
    _rejects(app, "d_in = d_out must be comma-separated integers in [16, 8192]; got 'many'", dims="many")
    _rejects(app, "tMODCH (cycles) must be an integer in [0, 1024]; got -1", tMODCH=-1)
    _rejects(app, "DCS OBuf entries must be an integer in [2, 64]; got 1", obuf_entries=1)  # the model's range
    assert app.set(tMODCH=0, dims="128") and app.error == ""
    # without mode switches the static controller loses less to pipeline penalty
    assert app.data[0].static_utilization[0] > expected.static_utilization[0]


def test_fig9_app_accepts_good_and_rejects_bad_input():
    app = fig9_app(groups="1, 4", tokens=128)
    assert app.set(view="cycles per query head")
    total = app.data[0].total_cycles  # [g, reuse, policy]
    heights = _stack_heights(app.figure).reshape(2, 4)
    assert np.allclose(heights[1, 0], total[1, 0, 0] / 4)
    _rejects(app, "tokens must be an integer in [16, 1048576]; got 5", tokens=5)
    _rejects(app, "group sizes g must be comma-separated integers in [1, 16]; got '0'", groups="0")
    assert app.set(groups="2") and app.data[0].groups.tolist() == [2]


def test_fig18_app_accepts_good_and_rejects_bad_input():
    app = fig18_app(groups="1, 4", tokens=128)
    assert app.set(gbuf_entries=16)
    assert app.data.gbuf_entries == 16
    expected = fig18(groups=(1, 4), tokens=128, module=dataclasses.replace(AIM, gbuf_entries=16))
    assert app.data.utilization.tolist() == expected.utilization.tolist()
    _rejects(app, "OBuf entries must be an integer in [2, 64]; got 1", obuf_entries=1)
    _rejects(app, "GBuf entries must be an integer in [", gbuf_entries=0)
