"""The widget foundations: LiveApp updates, the error banner, and the Fig. 2 app."""

import json

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from plotly.utils import PlotlyJSONEncoder

from pimlab.figures import fig2
from pimlab.models import LLM_7B_32K
from pimlab_widgets import ErrorBanner, LiveApp, apply_figure
from pimlab_widgets.controls import banded_colorscale
from pimlab_widgets.fig02 import fig2_app, fig2_figure


def _square_app():
    def compute(n):
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        return [i**n for i in range(4)]

    return LiveApp({"n": widgets.IntSlider(value=1, min=-3, max=3)}, compute,
                   lambda ys: go.Figure(go.Bar(y=ys), layout=dict(title=f"max {ys[-1]}")))


def test_live_app_updates_figure_in_place():
    app = _square_app()
    assert list(app.figure.data[0].y) == [0, 1, 2, 3]
    app.controls["n"].value = 2
    assert list(app.figure.data[0].y) == [0, 1, 4, 9] and app.figure.layout.title.text == "max 9"
    assert app.error == ""


def test_bad_input_shows_message_and_keeps_last_good_state():
    app = _square_app()
    assert app.set(n=2)
    assert not app.set(n=-1)
    assert app.error == "n must be >= 0, got -1"
    assert "n must be &gt;= 0" in app.banner.widget.value and app.banner.widget.layout.display is None
    assert list(app.figure.data[0].y) == [0, 1, 4, 9]
    assert app.set(n=3) and app.error == "" and app.banner.widget.layout.display == "none"


def test_set_rejects_unknown_control():
    with pytest.raises(ValueError, match="control must be one of n"):
        _square_app().set(m=1)


def test_apply_figure_changes_trace_count():
    target = go.FigureWidget(go.Figure(go.Bar(y=[1])))
    apply_figure(target, go.Figure([go.Scatter(y=[1, 2]), go.Scatter(y=[3])]))
    assert [t.type for t in target.data] == ["scatter", "scatter"]


def test_banded_colorscale_gives_each_colour_an_equal_flat_band():
    assert banded_colorscale(["grey", "red", "blue", "green"]) == [
        [0, "grey"], [0.25, "grey"], [0.25, "red"], [0.5, "red"], [0.5, "blue"], [0.75, "blue"], [0.75, "green"],
        [1, "green"]]


def test_banner_guard_passes_other_errors():
    banner = ErrorBanner()
    with pytest.raises(KeyError), banner.guard():
        raise KeyError("x")


def test_fig2_app_and_static_figure_agree():
    app = fig2_app()
    static = fig2_figure(fig2())
    assert len(static.data) == len(app.figure.data) == 9  # 4 batches x 2 panels + the capacity line
    assert app.set(model=LLM_7B_32K, max_context_k=32)
    assert "LLM-7B-32K" in app.figure.layout.title.text
    before = list(app.figure.data[0].y)
    assert not app.set(max_context_k=64)  # beyond the 32K window, where the slider now ends
    assert app.error == "max context (K) must be an integer in [4, 32]; got 64"
    assert list(app.figure.data[0].y) == before


def test_refused_choice_is_shown_and_restores_the_controls():
    app = fig2_app()
    before = (app.controls["gpus"].value, app.controls["model"].value, list(app.figure.data[0].y))
    assert not app.set(gpus=3, model="llm-7b")  # a label, not an option: the dropdown refuses it
    assert app.error.startswith("model must be one of LLM-7B-32K, LLM-7B-128K-GQA")
    assert app.error.endswith("got 'llm-7b'")
    assert (app.controls["gpus"].value, app.controls["model"].value, list(app.figure.data[0].y)) == before
    assert app.set(gpus=3) and app.error == ""


def test_wrong_type_names_the_type_and_range():
    app = fig2_app()
    assert not app.set(gpus="two")
    assert app.error == "A100 GPUs must be an integer in [1, 8]; got 'two'"


def test_apply_figure_sends_only_what_changed_and_ends_equal_to_the_source():
    first = go.Figure([go.Bar(y=np.arange(3), name="a"), go.Scatter(y=[1, 2], name="b")],
                      layout=dict(title="one", yaxis=dict(range=[0, 5])))
    second = go.Figure([go.Bar(y=np.arange(3), name="a"), go.Scatter(y=[3, 4], name="c")],
                       layout=dict(title="two", yaxis=dict(range=[0, 5])))
    target = go.FigureWidget(first)
    sent = []
    target.data[0].on_change(lambda *args: sent.append("bar"), "y")
    target.data[1].on_change(lambda *args: sent.append("scatter"), "y")
    apply_figure(target, second)
    assert sent == ["scatter"]  # the bar's equal array was not sent again
    def shown(traces):
        return json.dumps([t.to_plotly_json() | {"uid": None} for t in traces], cls=PlotlyJSONEncoder)

    assert shown(target.data) == shown(second.data)
    assert target.layout.title.text == "two" and target.layout.autosize


def test_apply_figure_removes_what_the_last_figure_had_and_the_new_one_has_not():
    """Two panels with titles, a shaded band and a white background, then one plain panel: nothing of the first
    stays in the widget, nor is sent to the browser (the removal goes out as nulls)."""
    from plotly.subplots import make_subplots

    first = make_subplots(rows=1, cols=2, subplot_titles=("a", "b"))
    first.add_trace(go.Scatter(y=[1, 2]), 1, 1).add_trace(go.Scatter(y=[2, 1]), 1, 2)
    first.add_vrect(x0=0, x1=1, row=1, col=2)
    target = go.FigureWidget(first.update_layout(plot_bgcolor="white", dragmode="pan"))
    sent = []
    target._send_relayout_msg = lambda data, **_: sent.append(data)
    apply_figure(target, {"data": [{"type": "bar", "y": [1, 2]}], "layout": {"title": {"text": "one"}}})
    kept = set(target.layout.to_plotly_json())
    assert kept == {"title", "autosize", "template", "dragmode"}  # the student's drag mode stays
    assert sent == [dict.fromkeys(("xaxis", "yaxis", "xaxis2", "yaxis2", "annotations", "shapes", "plot_bgcolor"))]


def test_equal_compares_plotly_values_without_encoding_them():
    from pimlab_widgets.app import _equal

    nan = float("nan")
    assert _equal({"x": np.arange(3, dtype=np.int16), "t": ["a", None]}, {"x": [0, 1, 2], "t": ["a", None]})
    assert _equal(np.array([1.0, nan]), np.array([1.0, nan]))  # NaN padding is not a change
    assert not _equal(np.arange(3), np.arange(4)) and not _equal(np.arange(3), np.arange(3).reshape(1, 3))
    assert not _equal(np.array([0, 1]), ["0", "1"]) and not _equal(np.array([[1, 2], [3]], dtype=object), [[1], [3]])
    assert not _equal([[1, 2], [3]], np.array([1, 2]))  # ragged against an array
    assert not _equal({"a": 1}, {"a": 1, "b": 2}) and not _equal([1, [2, 3]], [1, [2, 4]])
    assert not _equal("abc", ["a", "b", "c"]) and not _equal(None, [])


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text("ab", max_size=2)
    | st.lists(st.integers(-3, 3), max_size=3).map(np.array),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text("xy", max_size=1), inner, max_size=3),
    max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(json_values, json_values)
def test_equal_agrees_with_comparing_the_json_plotly_sends(a, b):
    """The independent check: what plotly would send for each side, encoded (the old, slow comparison)."""
    from pimlab_widgets.app import _equal

    def sent(v):
        return json.dumps(v, cls=PlotlyJSONEncoder, sort_keys=True)

    assert _equal(a, b) == (sent(a) == sent(b)), (a, b)


def test_apply_figure_from_plotly_json_ends_equal_to_the_figure_of_that_json():
    """The breakdown apps redraw from plotly JSON: applied to a widget showing other data (other views, other bar
    counts), the widget ends equal to go.Figure of that JSON (compared as the JSON plotly sends)."""
    from pimlab.figures.fig09 import fig9
    from pimlab_widgets.app import live_figure
    from pimlab_widgets.breakdown import fig9_json

    def shown(figure):
        spec = figure.to_plotly_json()
        spec["layout"].pop("template", None)
        for trace in spec["data"]:
            trace.pop("uid", None)
        return json.dumps(spec, cls=PlotlyJSONEncoder, sort_keys=True)

    small, large = fig9([1, 4], 64), fig9([1, 2, 8], 128)
    target = live_figure(fig9_json(small))
    for data, view in ((large, "cycles"), (large, "% of run"), (small, "cycles per query head"), (small, "cycles")):
        spec = fig9_json(data, view)
        apply_figure(target, spec)
        assert shown(target) == shown(go.Figure(spec).update_layout(autosize=True))
