"""Category ticks that fit JupyterLab's 800 px column: worked examples of fit_ticks (the browser check in
tests_browser/test_lab.py measures the drawn labels themselves)."""

import plotly.graph_objects as go

from pimlab.figures.fig04 import fig04
from pimlab_widgets.controls import fit_ticks, fit_ticks_json, tick_lines
from pimlab_widgets.system import context_label, utilization_figure

CASES = ["LLM-7B-32K / QMSum", "LLM-72B-32K / QMSum", "LLM-7B-128K-GQA / multifieldqa",
         "LLM-72B-128K-GQA / multifieldqa"]


def _bars(labels, names=("a", "b")):
    return go.Figure([go.Bar(x=labels, y=[1] * len(labels), name=n) for n in names])


def test_long_labels_break_at_the_slash_in_a_smaller_font_and_stay_horizontal():
    # 600 px - 60 - 20 = 520 px for 4 slots of 130 px, 117 px usable; "LLM-72B-128K-GQA" is 16 characters:
    # 16 * 0.62 * 12 = 119 px at 12 px does not fit, 16 * 0.62 * 11 = 109 px at 11 px does
    figure = _bars(CASES)
    fit_ticks(figure)
    axis = figure.layout.xaxis
    assert axis.tickangle == 0 and axis.tickfont.size == 11
    assert list(axis.ticktext) == ["LLM-7B-32K<br>QMSum", "LLM-72B-32K<br>QMSum", "LLM-7B-128K-GQA<br>multifieldqa",
                                   "LLM-72B-128K-GQA<br>multifieldqa"]
    assert list(axis.tickvals) == CASES and list(figure.data[0].x) == CASES  # hover keeps the full name
    assert figure.layout.legend.yref == "container" and figure.layout.legend.orientation == "h"


def test_labels_that_fit_are_left_alone():
    figure = _bars(["16 GB", "32 GB", "64 GB", "128 GB"])
    fit_ticks(figure)
    assert figure.layout.xaxis.tickangle == 0 and figure.layout.xaxis.tickfont.size == 12
    assert figure.layout.xaxis.ticktext is None


def test_too_many_labels_turn_45_degrees_and_the_margin_grows_with_them():
    short, long = _bars([f"case {i}" for i in range(40)]), _bars([f"a much longer case {i}" for i in range(40)])
    for figure in (short, long):
        fit_ticks(figure)
        assert figure.layout.xaxis.tickangle == -45 and figure.layout.xaxis.tickfont.size == 10
    assert long.layout.margin.b > short.layout.margin.b


def test_the_bottom_margin_holds_more_legend_rows_for_more_names():
    # names of 30 characters: 30 * 0.62 * 11 + 40 = 245 px each, two to a 580 px row: 2 names 1 row, 5 names 3 rows
    two, five = (_bars(["x"], [f"{i:030d}" for i in range(n)]) for n in (2, 5))
    fit_ticks(two)
    fit_ticks(five)
    assert five.layout.margin.b - two.layout.margin.b == round(2 * 1.9 * 11)


def test_tick_lines_wrap_at_spaces_without_cutting_words():
    assert tick_lines("CENT (PIM-only)", 1000, 12) == "CENT (PIM-only)"
    assert tick_lines("capacity of one module", 60, 12) == "capacity<br>of one<br>module"
    assert tick_lines("LLM-72B-128K-GQA", 30, 12) == "LLM-72B-128K-GQA"  # one word: never cut


def test_fig4_bars_of_one_capacity_share_a_slot_and_hover_their_batch():
    data = fig04()
    figure = utilization_figure(data)
    panel_a = [t for t in figure.data if t.xaxis == "x"]
    assert len(panel_a) == len(data.series) and all(list(t.x) == list(panel_a[0].x) for t in panel_a)
    assert list(panel_a[0].x) == [f"{c} GB" for c in data.capacities_GB]  # 4 slots, not one per (capacity, batch)
    assert [list(t.customdata) for t in panel_a] == [list(data.batch[0, :, k]) for k in range(len(data.series))]


def test_context_labels():
    assert [context_label(t) for t in (256, 4096, 65536, 262144, 1 << 20)] == ["256", "4K", "64K", "256K", "1M"]


def test_a_multicategory_axis_fits_its_inner_labels_in_slots_and_outer_ones_across_groups():
    # 8 slots of 0.9 * 520 / 8 = 58.5 px: "+PIMphony" (9 characters) is 67 px at 12 px, 61 at 11, 56 at 10
    models = ["LLM-7B-32K", "LLM-72B-32K", "LLM-7B-128K-GQA", "LLM-72B-128K-GQA"]
    x = [[m for m in models for _ in range(2)], ["CENT", "+PIMphony"] * 4]
    figure = go.Figure([go.Bar(x=x, y=[1] * 8, name="FC"), go.Bar(x=x, y=[1] * 8, name="attention")])
    fit_ticks(figure)
    assert figure.layout.xaxis.tickfont.size == 10 and figure.layout.xaxis.tickangle == 0


def test_plotly_json_gets_the_same_fit_and_inner_labels_that_cannot_fit_stand_upright():
    # 20 slots of 0.9 * (600 - 60 - 60) / 20 = 21.6 px (a right-hand y axis keeps 60 px): "static" alone is 37 px
    # at 10 px, so the inner labels turn upright; the bottom margin then holds the longest one
    outer = [str(d) for d in (64, 128, 256, 512, 1024) for _ in range(4)]
    inner = ["static", "static, no mode switch", "ping-pong", "DCS"] * 5
    figure = fit_ticks_json(dict(data=[dict(type="bar", x=[outer, inner], y=[1] * 20, name="MAC")],
                                 layout=dict(yaxis2=dict(side="right", overlaying="y"), margin=dict(t=80))))
    axis, margin = figure["layout"]["xaxis"], figure["layout"]["margin"]
    assert axis["tickangle"] == -90 and axis["tickfont"] == dict(size=10)
    assert margin["t"] == 80 and margin["r"] == 60 and margin["b"] > 22 * 0.62 * 10  # "static, no mode switch"
    go.Figure(figure)  # valid plotly
