"""What the apps share: pickers for model (Table I), system (Table IV) and workload (Table II), validated
number boxes, the responsive control grid and collapsible help, a comma-separated integer field's parser,
the colour bands of categorical heatmaps, and legends and category ticks that fit JupyterLab's column."""

from __future__ import annotations

import copy
import math
import numbers
import textwrap
from functools import lru_cache

import ipywidgets as widgets
from traitlets import Float, Unicode

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


def show(control: widgets.Widget, visible: bool) -> None:
    """Show or hide a control (a hidden one keeps its value)."""
    control.layout.display = None if visible else "none"


def label(control: widgets.Widget, name: str) -> str:
    """The control's name as the student sees it: its description, else its Python name."""
    return getattr(control, "description", "") or name


class TextInput(widgets.Text):
    """A text box whose `parse()` turns what was typed into a value or raises ValueError naming the box as
    shown, the text and what is allowed: nothing is clamped or truncated. Updates on Enter."""

    def __init__(self, value, description: str, **kwargs):
        super().__init__(value=self.text_of(value), description=description, style=STYLE, continuous_update=False,
                         **kwargs)

    def text_of(self, value) -> str:
        return value if isinstance(value, str) else _text(value)

    def parse(self, text=None):
        raise NotImplementedError


class NumberBox(TextInput):
    """One number in [min, max]; `kind` "integer" refuses fractions."""

    kind = Unicode("integer")
    min = Float(-math.inf)
    max = Float(math.inf)

    def __init__(self, value, description: str, min=-math.inf, max=math.inf, kind: str = "integer", **kwargs):
        super().__init__(value, description, min=min, max=max, kind=kind, **kwargs)

    def allowed(self) -> str:
        low, high = (_text(b) for b in (self.min, self.max))
        what = "an integer" if self.kind == "integer" else "a number"
        return f"{what} >= {low}" if math.isinf(self.max) else f"{what} in [{low}, {high}]"

    def parse(self, text=None):
        """The number `text` (default: what the box holds) stands for, checked against kind and range."""
        text = self.value if text is None else text
        value = _number(text)
        ok = value is not None and math.isfinite(value) and self.min <= value <= self.max and (
            self.kind != "integer" or value == int(value))
        if not ok:
            raise ValueError(f"{self.description} must be {self.allowed()}; got {_shown(text)}")
        return int(value) if self.kind == "integer" else float(value)


class IntsBox(TextInput):
    """Comma-separated integers, each in [min, max], at most `most` of them."""

    min = Float(-math.inf)
    max = Float(math.inf)

    def __init__(self, value, description: str, min=-math.inf, max=math.inf, most: int = 64, **kwargs):
        self.most = most
        super().__init__(value, description, min=min, max=max, **kwargs)

    def text_of(self, value) -> str:
        return value if isinstance(value, str) else ", ".join(_text(v) for v in value)

    def parse(self, text=None) -> tuple[int, ...]:
        text = self.value if text is None else text
        values = parse_ints(self.description, text, _bound(self.min), _bound(self.max))
        if len(values) > self.most:
            raise ValueError(f"{self.description} must hold at most {self.most} integers; got {len(values)}")
        return values


def _bound(value: float) -> int | None:
    return None if math.isinf(value) else int(value)


def int_box(value: int, description: str, min=-math.inf, max=math.inf) -> NumberBox:
    return NumberBox(value, description, min, max, "integer")


def float_box(value: float, description: str, min=-math.inf, max=math.inf) -> NumberBox:
    return NumberBox(value, description, min, max, "number")


def _text(value) -> str:
    """How a number is written in a box: 8, 1.15, 0.0 -> '0'."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def _shown(text) -> str:
    return repr(text) if isinstance(text, str) else str(text)


def _number(text):
    """A number from typed text or a Python value; None if it is not one (bools are not numbers)."""
    if isinstance(text, bool):
        return None
    if isinstance(text, numbers.Real):
        return text
    try:
        return float(str(text).strip().replace("_", ""))
    except ValueError:
        return None


def control_grid(controls, min_width_px: int = 250) -> widgets.GridBox:
    """Controls in cells at least `min_width_px` wide, as many per row as the width allows (JupyterLab's
    ~700 px output column or Voila's full width); each control fills its cell."""
    controls = list(controls)
    for control in controls:
        control.layout.width = "auto"
        if isinstance(control, (widgets.IntSlider, widgets.FloatSlider)):
            control.add_class(READ_ONLY_READOUT)
    return widgets.GridBox(controls, layout=widgets.Layout(
        grid_template_columns=f"repeat(auto-fill, minmax({min_width_px}px, 1fr))", grid_gap="4px 12px",
        width="100%"))


READ_ONLY_READOUT = "pimlab-slider"  # a slider whose number readout cannot be typed into (resize_nudge's style)


def resize_nudge() -> widgets.HTML:
    """An invisible element that has the page re-measure itself just after an app is shown: a FigureWidget takes
    its width from its container when it draws, and a container not laid out yet gives plotly's 700 px default,
    wider than JupyterLab's column (the widget re-fits on a window resize). It also carries the apps' style: a
    slider's readout is not editable (typed there, a value past the slider's ends would be clamped silently; the
    slider itself cannot leave its range)."""
    return widgets.HTML(f"<style>.{READ_ONLY_READOUT} .widget-readout {{pointer-events: none; user-select: none; "
                        "-webkit-user-modify: read-only;}</style>"
                        '<img src="data:," alt="" style="display:none" '
                        """onerror="setTimeout(() => window.dispatchEvent(new Event('resize')), 300)">""",
                        layout=widgets.Layout(height="0px", margin="0px"))


def help_box(html: str, title: str = "help") -> widgets.Accordion:
    """Longer explanations, folded away until the student opens them."""
    box = widgets.Accordion(children=[widgets.HTML(html)], selected_index=None)
    box.set_title(0, title)
    return box


def subplots_layout(cols: int, rows: int = 1, wide_last_row: bool = False, titles=(), **options) -> dict:
    """The layout (axes, domains, title annotations) `make_subplots(rows=rows, cols=cols, **options)` makes, as a
    fresh dict without the template: make_subplots takes ~20-100 ms, too slow to run on every redraw.
    wide_last_row: the last row is one panel across the columns. titles: the panels' titles, set in the copy (the
    cached skeleton does not depend on them). Traces go in panel c (0-based, row by row) with `panel_axes(c)`."""
    if titles:
        options["subplot_titles"] = (" ",) * len(titles)
    layout = copy.deepcopy(_subplots_layout(cols, rows, wide_last_row,
                                            tuple(sorted((k, _frozen(v)) for k, v in options.items()))))
    for annotation, title in zip(layout["annotations"] if titles else (), titles):
        annotation["text"] = title
    return layout


def panel_axes(panel: int) -> dict:
    """The xaxis and yaxis of a trace in panel `panel` (0-based, row by row) of a `subplots_layout`."""
    suffix = str(panel + 1) if panel else ""
    return dict(xaxis=f"x{suffix}", yaxis=f"y{suffix}")


def _frozen(value):
    return tuple(value) if isinstance(value, list) else value


@lru_cache(maxsize=16)
def _subplots_layout(cols: int, rows: int, wide_last_row: bool, options: tuple) -> dict:
    from plotly.subplots import make_subplots

    specs = [[{}] * cols for _ in range(rows)]
    if wide_last_row:
        specs[-1] = [{"colspan": cols}] + [None] * (cols - 1)
    layout = make_subplots(rows=rows, cols=cols, specs=specs, **dict(options)).layout.to_plotly_json()
    layout.pop("template", None)
    return layout


LEGEND_BELOW = dict(orientation="h", x=0, xanchor="left", y=0, yref="container", yanchor="bottom", font=dict(size=11))


def legend_below(figure, extra_px: int = 0) -> None:
    """A horizontal legend at the very bottom of the figure, under the axis titles and any slider, and
    `extra_px` more bottom margin for it: a legend on the right or at the top collides with titles at 800 px."""
    margin = figure.layout.margin.b
    figure.update_layout(legend=LEGEND_BELOW, margin=dict(b=(80 if margin is None else margin) + extra_px))


def legend_below_json(layout: dict, extra_px: int = 0) -> dict:
    """`legend_below` for a layout given as plotly JSON (nested keys): the same legend and margin, merged in."""
    margin = layout.get("margin", {})
    return dict(layout, legend={**layout.get("legend", {}), **LEGEND_BELOW},
                margin={**margin, "b": margin.get("b", 80) + extra_px})


# --- category ticks that fit JupyterLab's column ---------------------------------------------------------
PLOT_WIDTH_PX = 600  # a figure in JupyterLab's notebook column at an 800 px window: the narrowest view checked
CHAR_EM = 0.62  # a character's width in font sizes: a little over the average of plotly's default font
MIN_TICK_PX = 10  # tick labels get no smaller than this
LEGEND_FONT_PX = LEGEND_BELOW["font"]["size"]


def text_px(text: str, font_px: float) -> float:
    """The estimated width in px of the widest line of a plotly label (lines split at <br>)."""
    return max(len(line) for line in text.split("<br>")) * CHAR_EM * font_px


def tick_lines(label: str, slot_px: float, font_px: float) -> str:
    """`label` as is if it fits `slot_px`, else broken into lines at " / " and then at spaces."""
    if text_px(label, font_px) <= slot_px:
        return label
    chars = max(1, int(slot_px / (CHAR_EM * font_px)))
    return "<br>".join(piece for part in label.split(" / ") for piece in
                       textwrap.wrap(part, chars, break_long_words=False, break_on_hyphens=False) or [part])


def _categories(data: list[dict]) -> dict[str, tuple[list, list]]:
    """x axis id ("x", "x2", ...) -> (its category labels, and for a multicategory axis its outer labels) in order
    of first use, from plotly JSON traces: a label is a string, or an (outer, inner) pair on a multicategory axis."""
    axes: dict[str, tuple[list, list]] = {}
    for trace in data:
        x = trace.get("x")
        if x is None or not len(x) or not isinstance(x[0], str) and not hasattr(x[0], "__len__"):
            continue
        labels, outer = axes.setdefault(trace.get("xaxis") or "x", ([], []))
        pairs = list(x) if isinstance(x[0], str) else list(zip(*x))
        labels[:] = dict.fromkeys(labels + pairs)
        outer[:] = dict.fromkeys(outer + ([] if isinstance(x[0], str) else list(x[0])))
    return axes


def _tick_px(font_px: int, labels: list[tuple[str, float, bool]]) -> int | None:
    """The largest tick font size from `font_px` down to MIN_TICK_PX at which every (label, room in px, may break
    into lines) fits its room, else None."""
    return next((size for size in range(font_px, MIN_TICK_PX - 1, -1) if all(
        text_px(tick_lines(label, room_px, size) if breaks else label, size) <= room_px
        for label, room_px, breaks in labels)), None)


def _legend_rows(data: list[dict], layout: dict, width_px: float) -> int:
    """Rows a horizontal legend of the named traces takes in `width_px` (a symbol and gap of 40 px each)."""
    widths = [text_px(t["name"], LEGEND_FONT_PX) + 40 for t in data
              if t.get("name") and t.get("showlegend") is not False]
    if len(widths) < 2 and layout.get("showlegend") is not True:
        return 0  # plotly shows no legend for a single trace
    rows, used = 1, 0.0
    for w in widths:
        rows, used = (rows + 1, w) if used and used + w > width_px else (rows, used + w)
    return rows


def _title(axis: dict) -> tuple[str, float]:
    """An axis's title text and font size (14 unset) from plotly JSON, where the title may be a bare string."""
    title = axis.get("title") or {}
    title = title if isinstance(title, dict) else {"text": title}
    return title.get("text") or "", (title.get("font") or {}).get("size") or 14


def _axis_ticks(labels: list, outer: list, slot_px: float, font_px: int) -> tuple[dict, float]:
    """The update of one category axis and the height its tick labels take (see `fitted_ticks`)."""
    if outer:  # multicategory: inner labels in their slots, outer ones across their groups, one line each
        size = _tick_px(font_px, [(str(v[1]), slot_px, False) for v in labels] +
                        [(str(v), slot_px * len(labels) / len(outer), False) for v in outer])
        if size:
            return dict(tickangle=0, tickfont=dict(size=size)), 16 + 2.6 * size
        longest = max(text_px(str(v[1]), MIN_TICK_PX) for v in labels)  # turned upright, under them the outer row
        return dict(tickangle=-90, tickfont=dict(size=MIN_TICK_PX)), 16 + longest + 1.6 * MIN_TICK_PX
    size = _tick_px(font_px, [(v, slot_px, True) for v in labels])
    shown = [tick_lines(v, slot_px, size or MIN_TICK_PX) for v in labels]
    update = dict(tickangle=0 if size else -45, tickfont=dict(size=size or MIN_TICK_PX))
    if shown != labels:
        update.update(tickmode="array", tickvals=labels, ticktext=shown)
    if size:
        return update, 8 + 1.3 * size * max(v.count("<br>") + 1 for v in shown)
    return update, 8 + 0.71 * max(text_px(v, MIN_TICK_PX) for v in shown) + MIN_TICK_PX  # along the diagonal


def fitted_ticks(data: list[dict], layout: dict, width_px: int = PLOT_WIDTH_PX, font_px: int = 12) -> dict:
    """The layout update that fits a figure's category ticks at `width_px` (plotly JSON in and out): horizontal
    labels on every category x axis, each within its slot, broken into lines at " / " or spaces (the category,
    shown on hover, keeps its full text), in a smaller font down to MIN_TICK_PX if still too wide, turned only as a
    last resort (45 degrees; upright for a multicategory axis's inner labels); a legend below (LEGEND_BELOW) and a
    bottom margin made of the tallest tick labels, the x title and the legend's rows."""
    margin = layout.get("margin") or {}
    right_axis = any(k.startswith("yaxis") and (v or {}).get("side") == "right" for k, v in layout.items())
    left, right = margin.get("l", 60), margin.get("r", 60 if right_axis else 20)
    update, bottom_px = {}, 0.0
    for axis_id, (labels, outer) in _categories(data).items():
        key = "xaxis" + axis_id[1:]
        axis = layout.get(key) or {}
        low, high = axis.get("domain") or (0, 1)
        slot_px = 0.9 * (width_px - left - right) * (high - low) / len(labels)
        update[key], ticks_px = _axis_ticks(labels, outer, slot_px, font_px)
        text, title_px = _title(axis)
        bottom_px = max(bottom_px, ticks_px + (10 + 1.5 * title_px * (text.count("<br>") + 1) if text else 0))
    legend_px = 1.9 * LEGEND_FONT_PX * _legend_rows(data, layout, width_px - 20)
    update["margin"] = dict(l=left, r=right, b=round(bottom_px + legend_px + 12))
    update["legend"] = LEGEND_BELOW
    return update


def fit_ticks(figure, width_px: int = PLOT_WIDTH_PX, font_px: int = 12) -> None:
    """`fitted_ticks` applied to a go.Figure."""
    figure.update_layout(fitted_ticks([t.to_plotly_json() for t in figure.data], figure.layout.to_plotly_json(),
                                      width_px, font_px))


def fit_ticks_json(figure: dict, width_px: int = PLOT_WIDTH_PX, font_px: int = 12) -> dict:
    """`fitted_ticks` merged into a figure given as plotly JSON ({"data": [...], "layout": {...}})."""
    layout = dict(figure["layout"])
    for key, value in fitted_ticks(figure["data"], layout, width_px, font_px).items():
        layout[key] = {**(layout.get(key) or {}), **value}
    return dict(figure, layout=layout)


def wrap(text: str, width: int = 75) -> str:
    """`text` broken into lines of at most `width` characters with <br>, so a plotly title or note fits its figure."""
    return "<br>".join(textwrap.wrap(text, width)) or text


def si(value: float) -> str:
    """A large number with an SI suffix: 3098673 -> '3.1M', 170427033 -> '170M', 512 -> '512'."""
    for size, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.3g}{suffix}"
    return f"{value:.3g}"


def parse_ints(name: str, text, low: int | None = None, high: int | None = None) -> tuple[int, ...]:
    """'64, 128, 256' -> (64, 128, 256); a ValueError names the field, the text and what is allowed."""
    bounds = "" if low is None else f" in [{low}, {high}]" if high is not None else f" >= {low}"
    allowed = f"comma-separated integers{bounds}"
    if isinstance(text, (list, tuple)):
        parts = list(text)
    else:
        parts = [p.strip() for p in str(text).replace(";", ",").split(",") if p.strip()]
    values = [_number(p) for p in parts]
    if not values:
        raise ValueError(f"{name} must be {allowed}; got {_shown(text)} (empty)")
    for part, value in zip(parts, values):
        if value is None or not math.isfinite(value) or value != int(value) or (
                low is not None and value < low) or (high is not None and value > high):
            where = "" if len(parts) == 1 else f" in {_shown(text)}"
            raise ValueError(f"{name} must be {allowed}; got {_shown(part)}{where}")
    return tuple(int(v) for v in values)


def banded_colorscale(colors) -> list:
    """A plotly colorscale of equal flat bands, `colors[i]` on the i-th of len(colors) equal parts of the range."""
    n = len(colors)
    return [[edge / n, color] for i, color in enumerate(colors) for edge in (i, i + 1)]
