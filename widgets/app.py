"""LiveApp: controls + error banner + FigureWidget, redrawn from pimlab figure data on every change."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import plotly.graph_objects as go
from traitlets import TraitError

from pimlab_widgets.controls import TextInput, control_grid, help_box, label, resize_nudge
from pimlab_widgets.errors import ErrorBanner


def live_figure(figure: go.Figure) -> go.FigureWidget:
    """A FigureWidget of `figure` (no frames: a FigureWidget does not play them; the static figure does) that
    fits the width of its column: a widget drawn before it is laid out is 700 px wide (plotly's default) until
    a window resize, which it follows only when autosized and responsive (see controls.resize_nudge)."""
    figure.frames = ()
    widget = go.FigureWidget(figure)
    widget.layout.autosize = True
    widget._config = dict(widget._config, responsive=True)
    return widget


def apply_figure(target: go.FigureWidget, source: go.Figure) -> None:
    """Make `target` show `source` (traces and layout, not frames) in one batched update; it keeps fitting its
    column (layout.autosize)."""
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
        target.layout.autosize = True


def control_value(control: widgets.ValueWidget) -> Any:
    """What a control stands for: a text box's parsed value (ValueError if it holds bad text), else its value."""
    return control.parse() if isinstance(control, TextInput) else control.value


def checked(name: str, control: widgets.ValueWidget, value) -> Any:
    """`value` as `control` would hold it, or ValueError naming the control as shown, the value and what is
    allowed. Nothing is clamped, truncated or converted silently."""
    shown = label(control, name)
    if isinstance(control, TextInput):
        control.parse(value)
        return control.text_of(value)
    options = getattr(control, "_options_values", None)
    if options is not None:
        if not any(value is o or (type(value) is type(o) and value == o) for o in options):
            labels = ", ".join(map(str, control._options_labels))
            raise ValueError(f"{shown} must be one of {labels}; got {value!r}")
        return value
    current = control.value
    if isinstance(current, bool):
        allowed, ok = "true or false", isinstance(value, bool)
    elif isinstance(current, numbers.Real):
        integer = isinstance(current, int)
        ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and (
            not integer or value == int(value))
        allowed = "an integer" if integer else "a number"
        if hasattr(control, "min") and hasattr(control, "max"):
            allowed += f" in [{control.min}, {control.max}]"
            ok = ok and control.min <= value <= control.max
        value = (int(value) if integer else float(value)) if ok else value
    else:
        allowed, ok = "text", isinstance(value, str)
    if not ok:
        raise ValueError(f"{shown} must be {allowed}; got {value!r}")
    return value


def assign_controls(controls: dict[str, widgets.ValueWidget], values: dict[str, Any],
                    follow: Callable[[], None] = lambda: None) -> None:
    """Set several controls, all or none: a value a control refuses raises ValueError and restores the others.

    Choices go first and `follow()` (which moves the other controls' ranges) runs after each one, so a value
    is checked against the range the new choices allow. Naming a control that does not exist raises
    ValueError before anything changes.
    """
    unknown = [name for name in values if name not in controls]
    if unknown:
        raise ValueError(f"control must be one of {', '.join(controls)}; got {unknown[0]!r}")
    order = sorted(values, key=lambda name: getattr(controls[name], "_options_values", None) is None)
    before = {name: control.value for name, control in controls.items()}
    try:
        for name in order:
            controls[name].value = checked(name, controls[name], values[name])
            follow()
    except ValueError:
        restore_controls(controls, before, follow)
        raise


def restore_controls(controls: dict[str, widgets.ValueWidget], values: dict[str, Any],
                     follow: Callable[[], None] = lambda: None) -> None:
    """Put controls back to `values`; a choice whose options depend on another control is retried after
    `follow()` has restored its options."""
    pending = dict(values)
    for _ in range(2):
        for name, value in list(pending.items()):
            try:
                if controls[name].value != value:
                    controls[name].value = value
                del pending[name]
            except TraitError:
                pass
        follow()


class ControlledApp:
    """What every app shares: `set(**values)` changes several controls and redraws once, a value a control
    refuses goes to the banner (all or none), a single change redraws at once. A subclass has `banner`,
    `controls` (name -> widget, each observed with `_on_change`), `widget` and `refresh() -> bool`; it may
    override `follow()` to move control ranges when other controls change.
    """

    controls: dict[str, widgets.ValueWidget]
    banner: ErrorBanner
    _holding = False

    @property
    def values(self) -> dict[str, Any]:
        """The controls' current values, by name (ValueError if a box holds text that is not allowed)."""
        return {name: control_value(control) for name, control in self.controls.items()}

    def set(self, **values) -> bool:
        """Set several controls at once and redraw once; True if the update was accepted."""
        if not set(values) <= set(self.controls):
            assign_controls(self.controls, values)  # raises: naming an unknown control is a programming error
        before = {name: control.value for name, control in self.controls.items()}
        self._holding = True
        try:
            with self.banner.guard():
                assign_controls(self.controls, values, self.follow)
            if self.banner.message or self.refresh():
                return not self.banner.message
            message = self.banner.message  # the model refused: put every control back, keep the message
            restore_controls(self.controls, before, self.follow)
            self.banner.show(message)
            return False
        finally:
            self._holding = False

    def follow(self) -> None:
        """Move control ranges to what the model allows for the other controls' values (default: fixed)."""

    def refresh(self) -> bool:
        raise NotImplementedError

    @property
    def error(self) -> str:
        """The message the banner shows ("" when the last update was good)."""
        return self.banner.message

    def _labels(self) -> dict[str, str]:
        return {name: label(control, name) for name, control in self.controls.items()}

    def _on_change(self, _change) -> None:
        if not self._holding:
            self.follow()
            self.refresh()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


class LiveApp(ControlledApp):
    """A live figure: `compute(**control values)` makes figure data, `draw(data)` makes a go.Figure.

    A ValueError from either is shown in the banner and the figure keeps its last good state.
    `static()` draws the current data as a standalone go.Figure (with frames, if `draw` makes them).
    `follow(controls)` moves ranges; `help` (HTML) goes in a folded box under the controls.
    """

    def __init__(self, controls: dict[str, widgets.ValueWidget], compute: Callable[..., Any],
                 draw: Callable[[Any], go.Figure], footer: widgets.Widget | None = None,
                 follow: Callable[[dict], None] | None = None, help: str = ""):
        self.controls = controls
        self.compute, self.draw = compute, draw
        self._follow = follow
        self.follow()
        self.banner = ErrorBanner(self._labels())
        self.data = compute(**self.values)  # the defaults must be valid
        self.figure = live_figure(draw(self.data))
        for control in controls.values():
            control.observe(self._on_change, names="value")
        rows = [control_grid(controls.values())] + ([help_box(help)] if help else []) + [self.banner.widget]
        self.widget = widgets.VBox(rows + [self.figure] + ([footer] if footer is not None else []) + [resize_nudge()])

    def follow(self) -> None:
        if self._follow is not None:
            self._follow(self.controls)

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
