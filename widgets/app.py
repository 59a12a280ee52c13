"""LiveApp: controls + error banner + FigureWidget, redrawn from pimlab figure data on every change.

An update that takes longer than `LiveApp.patience_s` runs on in a worker thread: the app shows "working..." with
a progress bar and a Cancel button and stays responsive; the figure keeps its last good state until the new one
is ready; a newer control change supersedes the running update; Cancel puts the controls back to the values the
figure shows and says so in the banner. Cancellation is cooperative: the computation stops at its next
`pimlab.progress.report` (the figures report between bars). `set(...)` and code always run synchronously.
"""

from __future__ import annotations

import math
import numbers
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from traitlets import TraitError

from pimlab.progress import Cancelled, reporting
from pimlab_widgets.controls import TextInput, control_grid, help_box, label, resize_nudge
from pimlab_widgets.errors import ErrorBanner

# The first FigureWidget imports plotly.io, which imports nbformat and so jsonschema, whose optional IRI format
# check (rfc3987_syntax) compiles a grammar at import: 1-3 s before a student's first figure shows. Nothing in a
# kernel checks IRIs, so the kit marks that optional module absent, as jsonschema sees it when not installed.
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)


def live_figure(figure: go.Figure | dict) -> go.FigureWidget:
    """A FigureWidget of `figure` (no frames: a FigureWidget does not play them; the static figure does) that
    fits the width of its column: a widget drawn before it is laid out is 700 px wide (plotly's default) until
    a window resize, which it follows only when autosized and responsive (see controls.resize_nudge)."""
    figure = as_figure(figure)
    figure.frames = ()
    widget = go.FigureWidget(figure)
    widget.layout.autosize = True
    widget._config = dict(widget._config, responsive=True)
    return widget


def as_figure(figure: go.Figure | dict) -> go.Figure:
    """A go.Figure of a figure or of its plotly JSON ({"data": [trace dicts], "layout": {...}}, nested keys)."""
    return figure if isinstance(figure, go.Figure) else go.Figure(figure)


def apply_figure(target: go.FigureWidget, source: go.Figure | dict) -> None:
    """Make `target` show `source` (traces and layout, not frames) in one batched update; it keeps fitting its
    column (layout.autosize). Only the top-level properties that differ are sent (plotly validates and copies
    whatever it is given, the layout's template included: most of an update's time otherwise). `source` may be
    plotly JSON (nested keys, no "a_b" shorthands): the apps' draw functions give that, so an update validates
    only what changed, in the widget, and never builds a go.Figure (~30 ms for a figure of 20 traces). A top-level
    layout key the last figure had and `source` has not is removed (KEPT_LAYOUT_KEYS stay)."""
    if isinstance(source, go.Figure):
        source = {"data": [t.to_plotly_json() for t in source.data], "layout": source.layout.to_plotly_json()}
    traces = source.get("data", [])
    with target.batch_update():
        if len(target.data) == len(traces) and all(a.type == b.get("type", "scatter")
                                                    for a, b in zip(target.data, traces)):
            for old, new in zip(target.data, traces):
                old.update(_changed(old.to_plotly_json(), new), overwrite=True)
        else:
            target.data = ()
            target.add_traces(list(traces))
        layout = dict(source.get("layout", {}), autosize=True)
        shown = target.layout.to_plotly_json()
        target.layout.update(_changed(shown, layout), overwrite=True)
    stale = {key: None for key in shown if key not in layout and key not in KEPT_LAYOUT_KEYS}
    if stale:  # what the last figure had and this one has not (another view's second axis, its notes): removed
        target.plotly_relayout(stale)


KEPT_LAYOUT_KEYS = ("template", "dragmode", "hovermode")  # the widget's own, or the student's choice in the modebar


def _changed(old: dict, new: dict) -> dict:
    """The entries of `new` that `old` does not hold with an equal value."""
    return {key: value for key, value in new.items() if key not in old or not _equal(old[key], value)}


def _equal(a, b) -> bool:
    """`a` and `b` hold the same plotly JSON value: dicts and lists item by item, numpy arrays by shape and values
    (NaN equal to NaN), anything else by == (a bool never equals a number). Cheap: no encoding, stops at the first
    difference."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            a, b = np.asarray(a), np.asarray(b)
        except ValueError:  # a ragged list against an array
            return False
        if a.shape != b.shape or any((a.dtype.kind in kinds) != (b.dtype.kind in kinds) for kinds in ("b", "biuf")):
            return False
        return bool(np.array_equal(a, b, equal_nan=a.dtype.kind == b.dtype.kind == "f"))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_equal(value, b[key]) for key, value in a.items())
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (dict, list, tuple)) or isinstance(b, (dict, list, tuple)) or (
            isinstance(a, (bool, np.bool_)) != isinstance(b, (bool, np.bool_))):  # True == 1, but plotly sends true
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


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

    def update(self) -> None:
        """Redraw after a control changed in the UI (default: `refresh()`, synchronously)."""
        self.refresh()

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait for an update running in the background, if any; True if the last update was good."""
        return not self.banner.message

    def _on_change(self, _change) -> None:
        if not self._holding:
            self.follow()
            self.update()

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


PATIENCE_S = 0.3  # in a kernel, an update not done by then goes on in the background and shows "working..."


def _in_kernel() -> bool:
    """True inside a Jupyter / Voila kernel (where a UI event can arrive while an update runs)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    return getattr(get_ipython(), "kernel", None) is not None


class _Job:
    """One update: the control values it draws (parsed, and as the controls hold them) and its flags."""

    def __init__(self, values: dict[str, Any], held: dict[str, Any]):
        self.values, self.held = values, held
        self.cancelled, self.finished = threading.Event(), threading.Event()
        self.started = time.perf_counter()
        self.thread: threading.Thread | None = None


class Working:
    """The "working..." line of a background update: a progress bar, what it has done, and a Cancel button."""

    def __init__(self, cancel: Callable[[], None]):
        self.bar = widgets.IntProgress(value=0, min=0, max=1, bar_style="info",
                                       layout=widgets.Layout(width="200px"))
        self.text = widgets.HTML("")
        self.button = widgets.Button(description="Cancel", icon="stop", layout=widgets.Layout(width="100px"))
        self.button.on_click(lambda _: cancel())
        self.widget = widgets.HBox([self.bar, self.text, self.button], layout=widgets.Layout(display="none"))
        self.widget.add_class("pimlab-working")  # for the browser checks

    @property
    def shown(self) -> bool:
        return self.widget.layout.display != "none"

    def show(self, done: int = 0, total: int = 0, elapsed_s: float = 0.0, first: bool = False) -> None:
        """Show how far an update is; `first`: it is the app's first build (no figure yet)."""
        self.bar.max, self.bar.value = max(total, 1), min(done, max(total, 1))
        parts = f", {done} of {total} parts" if total else ""
        shows = "building the first figure" if first else "the figure shows the last values"
        self.text.value = f"&nbsp;working...{parts} ({elapsed_s:.0f} s); {shows}&nbsp;"
        self.widget.layout.display = None

    def hide(self) -> None:
        self.widget.layout.display = "none"


class LiveApp(ControlledApp):
    """A live figure: `compute(**control values)` makes figure data, `draw(data)` makes a go.Figure.

    A ValueError from either is shown in the banner and the figure keeps its last good state.
    `static()` draws the current data as a standalone go.Figure (with frames, if `draw` makes them).
    `follow(controls)` moves ranges; `help` (HTML) goes in a folded box under the controls.
    A UI change not done within `patience_s` (None: wait for it; default 0.3 s in a kernel, None elsewhere, so
    scripts and tests stay synchronous) goes on in a worker thread with progress and Cancel (module docstring);
    `wait()` waits for it, `cancel()` stops it. `set(...)` and `refresh()` always compute synchronously. In a
    kernel the first build is such an update too: the app shows at once, with "working..." if its first figure
    takes longer than the patience; `data` and `figure` wait for that first figure.
    """

    def __init__(self, controls: dict[str, widgets.ValueWidget], compute: Callable[..., Any],
                 draw: Callable[[Any], go.Figure], footer: widgets.Widget | None = None,
                 follow: Callable[[dict], None] | None = None, help: str = ""):
        self.controls = controls
        self.compute, self.draw = compute, draw
        self._follow = follow
        self.follow()
        self.banner = ErrorBanner(self._labels())
        self.patience_s: float | None = PATIENCE_S if _in_kernel() else None
        self.working = Working(self.cancel)
        self._job: _Job | None = None  # the update running in the background
        self._lock = threading.Lock()  # one update at a time changes the figure and the banner
        self._drawn = self._held()  # the control values the figure shows
        if self.patience_s is None:
            self._data = compute(**self.values)  # the defaults must be valid
            self._figure = live_figure(draw(self._data))
        else:  # in a kernel the first build is an update too: not done within the patience, it shows "working..."
            self._data = None
            self._figure = live_figure(go.Figure(layout=dict(height=420, title=dict(text="building the figure..."),
                                                             xaxis=dict(visible=False), yaxis=dict(visible=False))))
            self.update()
        for control in controls.values():
            control.observe(self._on_change, names="value")
        rows = [control_grid(controls.values())] + ([help_box(help)] if help else []) + [self.banner.widget,
                                                                                          self.working.widget]
        with self._lock:  # the first build, finishing in the background, swaps in its figure
            self.widget = widgets.VBox(rows + [self._figure] + ([footer] if footer is not None else [])
                                       + [resize_nudge()])

    @property
    def data(self) -> Any:
        """What the figure shows (waits for the first build if it runs in the background; None if it failed)."""
        self._first_build()
        return self._data

    @data.setter
    def data(self, value) -> None:
        self._data = value

    @property
    def figure(self) -> go.FigureWidget:
        """The live figure (waits for the first build if it runs in the background)."""
        self._first_build()
        return self._figure

    def _first_build(self) -> None:
        while self._data is None and (job := self._job) is not None and job.thread is not threading.current_thread():
            job.finished.wait()

    def follow(self) -> None:
        if self._follow is not None:
            self._follow(self.controls)

    def refresh(self) -> bool:
        """Recompute and redraw from the controls now (superseding a background update); on ValueError show it
        and keep the last good state."""
        self._stop()
        with self.banner.guard():
            self._apply(self.compute(**self.values))
            return True
        return False

    def update(self) -> None:
        """After a UI change: compute in a worker thread; wait `patience_s` for it, then show "working..."."""
        if self.patience_s is None:
            self.refresh()
            return
        try:
            job = _Job(self.values, self._held())
        except ValueError as error:  # a box holds bad text
            self._stop()
            self.banner.show(str(error))
            return
        with self._lock:
            if self._job is not None:
                self._job.cancelled.set()  # superseded: it stops at its next progress report
            self._job = job
        job.thread = threading.Thread(target=self._run, args=(job,), daemon=True, name="pimlab-app-update")
        job.thread.start()
        if not job.finished.wait(self.patience_s):
            with self._lock:
                if self._job is job:
                    self.working.show(elapsed_s=time.perf_counter() - job.started, first=self._data is None)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Wait until no update runs in the background (or `timeout_s` passes); True if the last one was good."""
        end = None if timeout_s is None else time.perf_counter() + timeout_s
        while (job := self._job) is not None:
            left = None if end is None else end - time.perf_counter()
            if left is not None and left <= 0 or not job.finished.wait(left):
                break
        return not self.banner.message

    def cancel(self) -> None:
        """Stop the background update, put the controls back to the values the figure shows, say so."""
        with self._lock:
            job, self._job = self._job, None
            if job is None:
                return
            job.cancelled.set()
            self.working.hide()
        self._holding = True
        try:
            restore_controls(self.controls, self._drawn, self.follow)
        finally:
            self._holding = False
        self.banner.show("update cancelled: the controls are back at the values the figure shows")

    def static(self) -> go.Figure:
        return as_figure(self.draw(self.data))

    # --- updates -------------------------------------------------------------------------------------------
    def show_data(self, data) -> None:
        """Make the figure show `data` (`self.data` is still the data shown before); a subclass may redraw
        only what changed."""
        apply_figure(self.figure, self.draw(data))

    def _show(self, data, held: dict[str, Any]) -> None:
        """Show `data`, drawn for the controls' values `held`. The first data gets a new FigureWidget in place of
        the "building" one: drawn into a column already laid out, it fits it (a relayout that changes the height
        would instead fix the width the placeholder had)."""
        if self._data is None:
            old, self._figure = self._figure, live_figure(self.draw(data))
            if hasattr(self, "widget"):
                self.widget.children = tuple(self._figure if child is old else child for child in self.widget.children)
        else:
            self.show_data(data)
        self._data, self._drawn = data, held

    def _apply(self, data) -> None:
        self._show(data, self._held())

    def _held(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def _stop(self) -> None:
        """Forget the background update, if any (it stops at its next progress report)."""
        with self._lock:
            if self._job is not None:
                self._job.cancelled.set()
                self._job = None
            self.working.hide()

    def _run(self, job: _Job) -> None:
        """The worker thread: compute, then draw if `job` is still the update wanted."""
        try:
            with reporting(lambda done, total: self._progress(job, done, total)):
                data = self.compute(**job.values)
            with self._lock:
                if self._job is job:
                    with self.banner.guard():
                        self._show(data, job.held)
                    self._job = None
                    self.working.hide()
        except Cancelled:
            pass
        except Exception as error:  # noqa: BLE001 - a worker's error must reach the student, not vanish
            with self._lock:
                if self._job is job:
                    self.banner.show(str(error) if isinstance(error, ValueError) else
                                     f"{type(error).__name__}: {error}")
                    self._job = None
                    self.working.hide()
        finally:
            job.finished.set()

    def _progress(self, job: _Job, done: int, total: int) -> None:
        """The progress hook of a background update: stop it if it is no longer wanted, else show how far."""
        if job.cancelled.is_set():
            raise Cancelled
        if self.working.shown and self._job is job:
            self.working.show(done, total, time.perf_counter() - job.started, first=self._data is None)
