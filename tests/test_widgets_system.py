"""The system apps: a step per technique, the layout field, refused values go to the banner."""

import pytest

from pimlab.workloads import MUSIQUE
from pimlab_widgets.system import steps_figure, throughput_app


def test_throughput_app_updates_and_refuses():
    app = throughput_app()
    assert len(app.data) == 4 and app.error == ""
    assert app.set(dataset=MUSIQUE)
    before = [list(t.y) for t in app.figure.data]
    assert not app.set(layout=(3, 3))  # not a layout of 8 modules: the list does not offer it
    assert app.error.startswith("layout must be one of best, TP") and [list(t.y) for t in app.figure.data] == before
    assert app.set(layout="best") and app.error == ""


def test_steps_figure_stacks_components_per_token():
    app = throughput_app()
    figure = steps_figure(app.data)
    first = app.data["baseline"]
    total = sum(trace.y[0] for trace in figure.data)
    assert total == pytest.approx(1e3 * first.latency_s / first.batch, rel=1e-9)
