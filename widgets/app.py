"""LiveApp: controls + error banner + FigureWidget, redrawn from pimlab figure data on every change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from traitlets import TraitError

from pimlab_widgets.errors import ErrorBanner


def apply_figure(target: go.FigureWidget, source: go.Figure) -> None:
    """Make `target` show `source` (traces and layout, not frames) in one batched update."""
    with target.batch_update():
        same_shape = len(target.data) == len(source.data) and all(
            a.type == b.type for a, b in zip(target.data, source.data)
        )
        if same_shape:
            for old, new in zip(target.data, source.data):
                old.update(new.to_plotly_json(), overwrite=True)
        else:
            target.data = ()
            target.add_traces(list(source.data))
        target.layout.update(source.layout.to_plotly_json(), overwrite=True)


def assign_controls(controls: dict[str, widgets.ValueWidget], values: dict[str, Any]) -> None:
    """Set several controls, all or none: a value a control refuses raises ValueError and restores the others.

    Bounded sliders clamp by themselves; a choice that is not among a dropdown's options is refused. Naming
    a control that does not exist is a programming error and raises ValueError before anything changes.
    """
    unknown = [name for name in values if name not in controls]
    if unknown:
        raise ValueError(f"control must be one of {', '.join(controls)}; got {unknown[0]!r}")
    before = {name: controls[name].value for name in values}
    try:
        for name, value in values.items():
            try:
                controls[name].value = value
            except TraitError:
                raise ValueError(f"{name} must be {_allowed(controls[name])}; got {value!r}") from None
    except ValueError:
        for name, value in before.items():
            controls[name].value = value
        raise


def _allowed(control: widgets.ValueWidget) -> str:
    """What a control accepts, in words, for the banner."""
    labels = getattr(control, "_options_labels", ())
    if labels:
        return f"one of {', '.join(map(str, labels))}"
    current = control.value
    kind = "true or false" if isinstance(current, bool) else "an integer" if isinstance(current, int) else (
        "a number" if isinstance(current, float) else "text" if isinstance(current, str) else "a valid value")
    bounds = f" in [{control.min}, {control.max}]" if hasattr(control, "min") and hasattr(control, "max") else ""
    return kind + bounds


class ControlledApp:
    """What every app shares: `set(**values)` changes several controls and redraws once, a value a control
    refuses goes to the banner (all or none), a single change redraws at once. A subclass has `banner`,
    `controls` (name -> widget, each observed with `_on_change`), `widget` and `refresh() -> bool`.
    """

    controls: dict[str, widgets.ValueWidget]
    banner: ErrorBanner
    _holding = False

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values) -> bool:
        """Set several controls at once and redraw once; True if the update was accepted."""
        if not set(values) <= set(self.controls):
            assign_controls(self.controls, values)  # raises: naming an unknown control is a programming error
        self._holding = True
        try:
            with self.banner.guard():
                assign_controls(self.controls, values)
        finally:
            self._holding = False
        return not self.banner.message and self.refresh()

    def refresh(self) -> bool:
        raise NotImplementedError

    @property
    def error(self) -> str:
        """The message the banner shows ("" when the last update was good)."""
        return self.banner.message

    def _on_change(self, _change) -> None:
        if not self._holding:
            self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class LiveApp(ControlledApp):
    """A live figure: `compute(**control values)` makes figure data, `draw(data)` makes a go.Figure.

    A ValueError from either is shown in the banner and the figure keeps its last good state.
    `static()` draws the current data as a standalone go.Figure (with frames, if `draw` makes them).
    """

    def __init__(self, controls: dict[str, widgets.ValueWidget], compute: Callable[..., Any],
                 draw: Callable[[Any], go.Figure], footer: widgets.Widget | None = None):
        self.controls = controls
        self.compute, self.draw = compute, draw
        self.banner = ErrorBanner()
        self.data = compute(**self.values)  # the defaults must be valid
        figure = draw(self.data)
        figure.frames = ()  # a FigureWidget does not play frames; the static figure does
        self.figure = go.FigureWidget(figure)
        for control in controls.values():
            control.observe(self._on_change, names="value")
        rows = [widgets.HBox(list(controls.values()), layout=widgets.Layout(flex_flow="row wrap")),
                self.banner.widget, self.figure]
        self.widget = widgets.VBox(rows + ([footer] if footer is not None else []))

    def refresh(self) -> bool:
        """Recompute and redraw from the controls; on ValueError show it and keep the last good state."""
        with self.banner.guard():
            data = self.compute(**self.values)
            figure = self.draw(data)
            self.data = data
            apply_figure(self.figure, figure)
            return True
        return False

    def static(self) -> go.Figure:
        return self.draw(self.data)

