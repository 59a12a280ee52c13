"""Ranges that follow the model: a choice offers only the values the model accepts together with the other
controls' current values, so a student cannot pick a combination the model refuses.

An app gives `check(**values)`, which raises ValueError for a combination the model refuses (cheaply: it never
runs the model), and makes its dropdowns with `choice`, which remembers every option. `follow_choices` then
narrows each dropdown to the options `check` accepts (all of them when it accepts none: then another control holds a
value the model refuses, which the banner names) and disables a checkbox whose other state it refuses.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from pimlab_widgets.app import control_value
from pimlab_widgets.controls import STYLE


def choice(options, value, description: str) -> widgets.Dropdown:
    """A dropdown of (label, value) pairs that remembers them all (`follow_choices` offers a subset). `options`
    may instead be a function of the controls' values giving the pairs, for a list that depends on other controls
    (the layouts of a model on some modules)."""
    every = options if callable(options) else list(options)
    control = widgets.Dropdown(options=[] if callable(options) else every, description=description, style=STYLE)
    control.every_option = every
    if callable(options):
        control.options = [(str(value), value)]
    control.value = value
    return control


def listed(control: widgets.Dropdown) -> widgets.Dropdown:
    """Make a dropdown a `choice`: its current options are every option it may offer."""
    control.every_option = [(text, value) for text, value in control.options]
    return control


def same(a, b) -> bool:
    """`a` and `b` are the same option (identity, or equal plain values: never a dataclass holding arrays)."""
    return a is b or (type(a) is type(b) and isinstance(a, (str, int, float, tuple)) and a == b)


def offer(control: widgets.Dropdown, options: list[tuple[str, object]]) -> None:
    """Give a dropdown `options`, keeping its value and sending no value change. (ipywidgets selects the first
    option when options change, except while it initialises the widget: its `_initializing_traits_` flag.)"""
    if [(t, v) for t, v in control.options] == options:
        return
    value = control.value
    where = [i for i, (_, v) in enumerate(options) if same(v, value)]
    with control.hold_sync():
        control._initializing_traits_ = bool(where)
        try:
            control.options = options
        finally:
            control._initializing_traits_ = False
        control.index = where[0] if where else 0


def accepts(check: Callable[..., object], values: dict) -> bool:
    """True if `check(**values)` does not raise ValueError."""
    try:
        check(**values)
    except ValueError:
        return False
    return True


def follow_choices(controls: dict[str, widgets.ValueWidget], check: Callable[..., object]) -> None:
    """Each `choice` dropdown offers the options `check` accepts with the other controls as they are (its current
    value always stays); each checkbox is disabled when `check` refuses its other state."""
    try:
        values = {name: control_value(control) for name, control in controls.items()}
    except ValueError:
        return  # a box holds bad text: the banner says so, the ranges stay
    for name, control in controls.items():
        if isinstance(control, widgets.Checkbox):
            control.disabled = not accepts(check, {**values, name: not control.value})
        elif hasattr(control, "every_option"):
            every = control.every_option(values) if callable(control.every_option) else control.every_option
            fits = [(text, v) for text, v in every if same(v, values[name]) or accepts(check, {**values, name: v})]
            offer(control, fits or every)  # none fits (another control's value is refused): all, not an empty list
