"""What the apps share: pickers for model (Table I), system (Table IV) and workload (Table II), the control
style, a comma-separated integer field's parser and the colour bands of categorical heatmaps."""

from __future__ import annotations

import ipywidgets as widgets

from pimlab.hardware import SYSTEMS, System
from pimlab.models import LLM, LLM_7B_128K_GQA, MODELS
from pimlab.workloads import DATASETS, QMSUM, LengthDistribution

STYLE = {"description_width": "initial"}


def model_picker(value: LLM = LLM_7B_128K_GQA, description: str = "model") -> widgets.Dropdown:
    return widgets.Dropdown(options=[(m.name, m) for m in MODELS], value=value, description=description,
                            style=STYLE)


def system_picker(value: System = SYSTEMS[0], description: str = "system") -> widgets.Dropdown:
    return widgets.Dropdown(options=[(f"{s.name} ({s.kind})", s) for s in SYSTEMS], value=value,
                            description=description, style=STYLE)


def dataset_picker(value: LengthDistribution = QMSUM, description: str = "workload") -> widgets.Dropdown:
    return widgets.Dropdown(options=[(f"{d.name} ({d.benchmark})", d) for d in DATASETS], value=value,
                            description=description, style=STYLE)


def parse_ints(name: str, text) -> tuple[int, ...]:
    """'64, 128, 256' -> (64, 128, 256); a ValueError names the field and the text otherwise."""
    if isinstance(text, (list, tuple)):
        return tuple(text)
    parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    try:
        values = tuple(int(p) for p in parts)
    except ValueError:
        raise ValueError(f"{name} must be comma-separated integers, got {text!r}") from None
    if not values:
        raise ValueError(f"{name} must name at least one integer, got {text!r}")
    return values


def banded_colorscale(colors) -> list:
    """A plotly colorscale of equal flat bands, `colors[i]` on the i-th of len(colors) equal parts of the range."""
    n = len(colors)
    return [[edge / n, color] for i, color in enumerate(colors) for edge in (i, i + 1)]
