"""Run a notebook for a page without a kernel (the static site): a displayed live app shows its static figure.

`show_apps_static()` registers an IPython display rule for ipywidgets: a widget that is the `.widget` of an app
among the notebook's variables displays as that app's `static()` figure (with animation frames where the app
draws them); any other widget displays as the first FigureWidget inside it, or as a note. The app still runs
and answers code in later cells; only what the page shows changes. Output metadata marks these figures
(`pimlab.live_app`) so the page can say that a live app stands there.
"""

from __future__ import annotations

import json

import ipywidgets as widgets
import plotly.graph_objects as go
import plotly.io as pio
from IPython import get_ipython

NOTE = "live app: run this notebook in JupyterLab or Voila to move its controls; here, its figure at the defaults"


def _figure_widgets(widget):
    if isinstance(widget, go.FigureWidget):
        yield widget
    for child in getattr(widget, "children", ()):
        yield from _figure_widgets(child)


def _static_figure(widget, namespace: dict) -> go.Figure | None:
    for value in list(namespace.values()):
        if getattr(value, "widget", None) is widget and callable(getattr(value, "static", None)):
            return value.static()
    first = next(_figure_widgets(widget), None)
    return None if first is None else go.Figure(first.to_dict())


def show_apps_static(shell=None) -> None:
    """From now on, display widgets in `shell` (default: the running IPython) as static figures."""
    shell = shell or get_ipython()
    if shell is None:
        raise ValueError("show_apps_static needs a running IPython kernel, got none")
    pio.renderers.default = "plotly_mimetype"

    def bundle(widget, include=None, exclude=None):
        figure = _static_figure(widget, shell.user_ns)
        if figure is None:
            return {"text/plain": f"({NOTE.split(':')[0]} without a figure)"}, {}
        spec = json.loads(pio.to_json(figure, validate=False), parse_constant=lambda _: None)  # NaN -> null
        data = {"application/vnd.plotly.v1+json": spec,
                "text/plain": f"<{type(widget).__name__}: {NOTE}>"}
        return data, {"pimlab": {"live_app": True}}

    shell.display_formatter.mimebundle_formatter.for_type(widgets.Widget, bundle)
