"""pimlab_widgets.static: in a kernel building the static site, a displayed live app shows its static figure."""

import json

import ipywidgets as widgets
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from IPython.core.interactiveshell import InteractiveShell

from pimlab_widgets.fig02 import fig2_app
from pimlab_widgets.static import show_apps_static

MIME = "application/vnd.plotly.v1+json"


@pytest.fixture
def shell():
    renderer = pio.renderers.default
    shell = InteractiveShell.instance()
    show_apps_static(shell)
    yield shell
    shell.display_formatter.mimebundle_formatter.pop(widgets.Widget)
    pio.renderers.default = renderer


def test_an_apps_widget_displays_as_the_apps_static_figure(shell):
    app = fig2_app()
    assert app.set(batch=128)
    shell.user_ns["app"] = app
    data, metadata = shell.display_formatter.format(app.widget)
    spec = lambda figure: json.loads(pio.to_json(figure, validate=False))  # noqa: E731
    assert data[MIME] == spec(app.static()) != spec(fig2_app().static())  # the app's current state
    assert metadata["pimlab"]["live_app"]


def test_other_widgets_show_their_first_figure_or_a_note(shell):
    figure = go.FigureWidget(go.Figure(go.Bar(x=[1, 2], y=[3, 4])))
    data, _ = shell.display_formatter.format(widgets.VBox([widgets.IntSlider(), figure]))
    assert data[MIME]["data"][0]["y"] == [3, 4]
    data, _ = shell.display_formatter.format(widgets.IntSlider())
    assert MIME not in data and "without a figure" in data["text/plain"]
