"""The system apps: a step per technique, the layout field, refused values go to the banner."""

import pytest

from pimlab.workloads import MUSIQUE
from pimlab_widgets.system import parse_layout, steps_figure, throughput_app


def test_parse_layout():
    assert parse_layout(" best ") == "best" and parse_layout("8, 1") == (8, 1) and parse_layout("4x2") == (4, 2)
    with pytest.raises(ValueError, match="layout must be"):
        parse_layout("eight")


def test_throughput_app_updates_and_refuses():
    app = throughput_app()
    assert len(app.data) == 4 and app.error == ""
    assert app.set(dataset=MUSIQUE)
    before = [list(t.y) for t in app.figure.data]
    assert not app.set(layout="3, 3")
    assert "tp must divide" in app.error and [list(t.y) for t in app.figure.data] == before
    assert app.set(layout="best") and app.error == ""


def test_steps_figure_stacks_components_per_token():
    app = throughput_app()
    figure = steps_figure(app.data)
    first = app.data["baseline"]
    total = sum(trace.y[0] for trace in figure.data)
    assert total == pytest.approx(1e3 * first.latency_s / first.batch, rel=1e-9)
