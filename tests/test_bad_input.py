"""Bad input on every control of every app, through the app's Python API: zero, negative, huge, float, NaN,
empty and text. A refused value names the control as the student sees it and the value, and changes nothing
else (controls and figure as before); an accepted one redraws without an error. Times: bench/bench_bad_input.py."""

import math

import pytest

from pimlab_widgets.catalog import APPS, BAD_INPUTS
from pimlab_widgets.controls import label


def _state(app):
    return {name: control.value for name, control in app.controls.items()}, app.figure.to_json()


def _shown(value) -> str:
    return "nan" if isinstance(value, float) and math.isnan(value) else repr(value) if isinstance(value, str) \
        else str(value)


@pytest.mark.parametrize("name", APPS)
def test_every_control_refuses_bad_input_with_a_message_and_changes_nothing(name):
    app = APPS[name]()
    for control_name, control in app.controls.items():
        for kind, value in BAD_INPUTS.items():
            before = _state(app)
            accepted = app.set(**{control_name: value})
            if accepted:  # a valid value for this control (e.g. 0 for tMODCH): drawn without an error
                assert app.error == "", (name, control_name, kind)
                app.set(**{control_name: before[0][control_name]})
                continue
            where = f"{name}, {control_name} = {value!r} ({kind})"
            assert app.error.startswith(f"{label(control, control_name)} must "), (where, app.error)
            assert _shown(value) in app.error, (where, app.error)
            assert _state(app) == before, f"{where}: something else changed"


def test_the_catalogue_holds_every_app_module():
    """A new app module in widgets/ must be added to the catalogue (so its controls are checked too)."""
    from pathlib import Path

    widgets = Path(__file__).resolve().parent.parent / "widgets"
    apps = {p.stem for p in widgets.glob("*.py") if "LiveApp(" in p.read_text() or "ControlledApp)" in p.read_text()}
    catalogue = (widgets / "catalog.py").read_text()
    assert all(f"pimlab_widgets.{stem} import" in catalogue for stem in apps - {"app"}), apps
