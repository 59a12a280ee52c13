"""The systems app: it draws every system, warns when sparse meets dense, and shows bad inputs in its banner."""

import json

from plotly.utils import PlotlyJSONEncoder

from pimlab.workloads import QMSUM
from pimlab_widgets.systems import GROUPS, SPARSE_WARNING, systems_app


def _texts(figure) -> str:
    return " ".join([figure.layout.title.text] + [a.text for a in figure.layout.annotations])


def test_app_draws_every_system_grouped_by_family_and_warns_loudly():
    app = systems_app()
    shown = {(t.legendgroup, t.name) for t in app.figure.data if t.type == "scatter" and t.showlegend is not False}
    assert len(shown) == len(app.data.data.systems) == 13
    assert {("GPU and L3", "GPU-only"), ("CXL-PNM (dashed: top-K)", "pnm-kv top-K")} <= shown
    assert {t.legendgroup for t in app.figure.data if t.type == "scatter"} == set(GROUPS)
    assert "SPARSE vs DENSE" in _texts(app.figure) and SPARSE_WARNING.startswith("SPARSE vs DENSE")
    assert app.set(dense_only=True)
    assert "SPARSE" not in _texts(app.figure)
    assert all("top" not in t.name for t in app.figure.data if t.type == "scatter" and t.name)


def test_each_view_is_one_figure_with_a_key():
    app = systems_app()
    assert app.set(view="parts") and {t.name for t in app.figure.data if t.type == "bar"} >= {"fc", "attention"}
    assert app.set(view="winners")
    heatmap = next(t for t in app.figure.data if t.type == "heatmap")
    assert heatmap.textfont.size >= 11 and len(heatmap.y) == 4
    key = {t.name for t in app.figure.data if t.type == "scatter"}  # the colour key: one entry per winning family
    assert key == {w for row in app.data.data.winners for w in row if w}


def test_bad_inputs_go_to_the_banner_and_keep_the_figure():
    app = systems_app()
    title = app.figure.layout.title.text
    for values, message in (({"gpu_usd": 0.0}, "A100 $ must be a number >= 1; got 0.0"),
                            ({"steady_fraction": 1.5}, "PnG steady share must be a number in [0, 1]; got 1.5"),
                            ({"budget_tokens": 100000, "dataset": QMSUM},
                             "CXL top-K tokens must be an integer in [1, 13966]; got 100000")):
        assert not app.set(**values)
        assert message in app.error and app.figure.layout.title.text == title
        assert app.set(gpu_usd=15000.0, steady_fraction=0.5, budget_tokens=4096)


def test_metric_switch_relabels_the_throughput_panel():
    app = systems_app()
    assert app.set(metric="tokens_per_s_per_kusd")
    assert any("equal cost" in a.text for a in app.figure.layout.annotations)


def test_a_batch_that_does_not_fit_is_named_under_the_figure():
    app = systems_app()
    assert app.set(batch=64)
    notes = [a.text for a in app.figure.layout.annotations if "none from" in (a.text or "")]
    # LLM-7B-128K-GQA: 64 x 16K tokens x 128 KiB = 128 GiB of KV cannot fit 8 CENT modules (128 GiB) beside the weights
    missing = "why a system is missing:<br>PIMphony on CENT (8 modules, pp 8): none from 16K tokens: batch must fit"
    assert notes and notes[0].startswith(missing)
    assert not app.set(batch=-1) and "batch (0 = most that fit) must be an integer in [0, 8192]; got -1" in app.error


def test_the_budget_box_follows_the_workloads_mean_and_the_workload_list_follows_the_budget():
    app = systems_app()
    assert app.controls["budget_tokens"].max == 60780  # multifieldqa's mean context
    assert app.set(budget_tokens=20000) and QMSUM not in app.controls["dataset"]._options_values  # mean 13966
    assert app.set(budget_tokens=4096) and app.set(dataset=QMSUM) and app.controls["budget_tokens"].max == 13966


def test_the_batch_box_ends_above_every_batch_a_system_holds():
    """BATCH_MAX hides no runnable batch: no system holds more requests of any offered model at 4K, the shortest
    context of the comparison."""
    from pimlab.compare import default_systems
    from pimlab_widgets.systems import BATCH_MAX

    app = systems_app()
    for model in app.controls["model"]._options_values:
        for system in default_systems(model):
            try:
                assert system.max_batch(model, 4096) <= BATCH_MAX, (model.name, system.name)
            except ValueError:
                pass  # the weights alone do not fit


def _sent(figure) -> str:
    """A figure as plotly sends it to the browser (no template, no trace ids)."""
    spec = figure.to_plotly_json()
    spec["layout"].pop("template", None)
    for trace in spec["data"]:
        trace.pop("uid", None)
    return json.dumps(spec, cls=PlotlyJSONEncoder, sort_keys=True)


def test_a_view_change_is_a_redraw_of_the_same_data():
    """The comparison is memoized in the model: switching the view computes nothing new; the app draws plotly
    JSON (no go.Figure per update) and its live figure ends as `systems_figure` draws the view: nothing of the
    last view stays (its second axis, subplot titles, notes, shaded what-if band, white background)."""
    from pimlab_widgets.systems import systems_figure

    app = systems_app()
    data = app.data.data
    for view in ("winners", "parts", "capacity", "parts", "winners", "capacity"):
        assert app.set(view=view) and app.data.data is data and isinstance(app.draw(app.data), dict)
        assert _sent(app.figure) == _sent(systems_figure(data, view).update_layout(autosize=True)), view


def test_every_view_keeps_its_key_under_the_plot_at_800_px():
    """A legend on the right squeezes the panels at 800 px: each view's key is horizontal and under its axes (the
    browser check in tests_browser/test_lab.py measures that nothing overlaps); the missing systems' notes come
    after the capacity view's key, and a system that holds no request is named on the parts view."""
    app = systems_app()
    for view in ("capacity", "parts", "winners"):
        assert app.set(view=view)
        legend = app.figure.layout.legend
        assert legend.orientation == "h" and (legend.y < 0 or legend.yref == "container" and legend.y == 0), view
        assert (app.figure.layout.margin.r or 0) <= 20 or view == "winners"
    assert app.set(view="capacity", batch=64)
    notes = next(a for a in app.figure.layout.annotations if (a.text or "").startswith("why a system is missing"))
    rows = 1 + 6  # the CXL-PNM group's title and its six systems
    assert -notes.yshift >= 62 + 19 * rows
    assert app.set(view="parts")
    totals = next(t for t in app.figure.data if t.type == "scatter" and t.mode == "text")
    missing = [i for i, text in enumerate(totals.text) if text == "none<br>fits"]
    assert missing and all(totals.y[i] == 104 for i in missing)  # drawn above the empty bar, not at NaN
