"""No app offers a value its model refuses: for every app of the catalogue, every option of each dropdown, both ends
of each slider and number box, and the other state of each enabled checkbox, as offered with the other controls at
their current values, is set through the app and must be accepted (the figure redrawn, no banner). A value a box
refuses names the box as shown, never a model parameter the student never saw."""

import math
import random
import re

import pytest

from pimlab.models import LLM_7B_32K, LLM_72B_128K_GQA
from pimlab.workloads import LOOGLE_SD, MULTIFIELDQA, QMSUM
from pimlab_widgets.catalog import APPS
from pimlab_widgets.controls import IntsBox, NumberBox, TextInput, label


def offered(control) -> list:
    """The values the control offers the student now (what the browser lets them pick or advertises)."""
    if getattr(control, "disabled", False):
        return []
    options = getattr(control, "_options_values", None)
    if options is not None:
        return list(options)
    if isinstance(control, (NumberBox, IntsBox)):
        ends = [v for v in (control.min, control.max) if math.isfinite(v)]
        if isinstance(control, IntsBox):
            return [str(int(v)) for v in ends]
        return [int(v) if control.kind == "integer" else v for v in ends]
    if isinstance(control, TextInput):
        return []  # free text without a range: the bad-input test drives it
    if isinstance(control.value, bool):
        return [not control.value]
    if hasattr(control, "min") and hasattr(control, "max"):
        return [control.min, control.max]
    return []


@pytest.mark.parametrize("name", APPS)
def test_every_offered_value_is_accepted(name):
    app = APPS[name]()
    for control_name, control in app.controls.items():
        before = control.value
        for value in offered(control):
            shown = getattr(value, "name", value)
            assert app.set(**{control_name: value}), f"{name}: {label(control, control_name)} = {shown}: {app.error}"
        assert app.set(**{control_name: before}), f"{name}: {control_name} back to {before!r}: {app.error}"


@pytest.mark.parametrize("name", ["Fig. 2", "Fig. 6", "Figs. 10/19: chunk maps", "Figs. 13/14", "Fig. 15", "Fig. 16",
                                  "Fig. 17", "systems comparison"])
def test_a_random_walk_over_offered_values_is_never_refused(name):
    """Ranges follow in every state, not only from the defaults: 15 seeded moves, each a random control set to a
    random value it offers in the state the previous moves left."""
    app, rng = APPS[name](), random.Random(12)
    for move in range(15):
        control_name, control = rng.choice([(n, c) for n, c in app.controls.items() if offered(c)])
        value = rng.choice(offered(control))
        shown = getattr(value, "name", value)
        assert app.set(**{control_name: value}), f"{name}, move {move}: {control_name} = {shown}: {app.error}"


# --- lists that follow each other (the system apps) ----------------------------------------------------------
def _values(app, name):
    return list(app.controls[name]._options_values)


def test_the_energy_app_offers_only_workloads_within_the_models_window():
    from pimlab_widgets.system import energy_app

    app = energy_app()
    assert MULTIFIELDQA in _values(app, "dataset") and LLM_7B_32K not in _values(app, "model")
    assert app.set(dataset=QMSUM) and LLM_7B_32K in _values(app, "model")
    assert app.set(model=LLM_7B_32K) and _values(app, "dataset") == [d for d in _values(app, "dataset")
                                                                       if d.max <= 32768]
    assert MULTIFIELDQA not in _values(app, "dataset") and LOOGLE_SD not in _values(app, "dataset")
    # typed from code, the refused pair names the controls as shown and what is allowed, and changes nothing
    assert not app.set(dataset=MULTIFIELDQA)
    assert app.error.startswith("workload must be one of QMSum (LongBench), Musique (LongBench); got")
    assert app.values["dataset"] is QMSUM and app.values["model"] is LLM_7B_32K


def test_the_throughput_app_offers_layouts_that_hold_the_model():
    from pimlab_widgets.system import throughput_app

    app = throughput_app()
    assert _values(app, "layout")[0] == "best" and (3, 3) not in _values(app, "layout")
    assert LLM_72B_128K_GQA not in _values(app, "model")  # its weights do not fit 8 modules at TP8 x PP1
    assert app.set(layout="best", modules=32) and LLM_72B_128K_GQA in _values(app, "model")
    assert not app.set(layout=(3, 3)) and app.error.startswith("layout must be one of best, TP")


def test_the_capacity_list_of_fig17_leaves_out_sizes_that_hold_no_1m_request():
    from pimlab_widgets.system import scalability_app

    app = scalability_app()
    assert _values(app, "capacity_GB") == [256, 512, 1024]
    assert not app.set(capacity_GB=128) and app.error == "capacity (GB) must be one of 256, 512, 1024; got 128"


# --- messages name what the student sees ----------------------------------------------------------------------
PARAMETER_NAMES = re.compile(r"\b(context_tokens|tp|pp|budget_tokens|steady_fraction|gpu_usd|dimm_pim_usd|"
                             r"cxl_pnm_device_usd|pim_module_usd|capacity_GB|max_context_k|gbuf_entries|"
                             r"reserve_factor|admission_headroom|ignore_capacity|host_serial)\b")


@pytest.mark.parametrize("name", APPS)
def test_a_refused_typed_value_names_the_box_as_shown(name):
    """Past each number box's advertised ends: the message starts with the box's label and holds the value."""
    app = APPS[name]()
    for control_name, control in app.controls.items():
        if not isinstance(control, NumberBox):
            continue
        for value in (control.min - 1, control.max + 1):
            if not math.isfinite(value):
                continue
            value = int(value) if control.kind == "integer" else value
            assert not app.set(**{control_name: value})
            assert app.error.startswith(f"{label(control, control_name)} must be "), app.error
            assert str(value) in app.error and control.allowed() in app.error, app.error
            assert not PARAMETER_NAMES.search(app.error.replace(label(control, control_name), "")), app.error
