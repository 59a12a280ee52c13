"""ChunkMap: one module's KV chunks coloured by request over decode steps, static reservation beside DPA.

`chunkmap_figure(data)` is the static animation (frames + play button); `chunkmap_app()` the live app, with a
VA2PA inspector: pick a running request and a virtual chunk address, see its physical chunk ringed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from pimlab.dpa import NAIVE_ADMISSION_HEADROOM, NAIVE_RESERVE_FACTOR
from pimlab.figures.fig19 import STATIC_RESERVE_FACTOR_CALIBRATED, ChunkMapData, chunk_maps
from pimlab.validate import check_int
from pimlab.workloads import QMSUM
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import (
    STYLE,
    banded_colorscale,
    dataset_picker,
    int_box,
    legend_below_json,
    si,
    subplots_layout,
)

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
           "#7f7f7f")
FREE = "#f2f2f2"
NO_CHUNK = "#ffffff"  # cells past the module's last chunk (a band, not NaN: widget messages must be valid JSON)
HEADROOM_MAX = 0.8  # the largest headroom at which every Table II workload still admits a request
RESERVE_MAX = 4.0  # StaticAllocator's range


def _light(color: str) -> str:
    """The colour mixed 70% with white: reserved but holding no live token."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + 0.7 * (255 - c)):02x}" for c in rgb)


def _colorscale() -> list:
    """Band -1 no chunk; 0 free; 1 + 2k request colour k in use; 2 + 2k its light shade (reserved, unused)."""
    return banded_colorscale([NO_CHUNK, FREE] + [c for base in PALETTE for c in (base, _light(base))])


def _grid(owner: np.ndarray, used: np.ndarray, columns: int) -> np.ndarray:
    """Chunk bands laid out row by row, `columns` chunks per row (-1 past the last chunk)."""
    band = np.where(owner < 0, 0, 1 + 2 * (owner % len(PALETTE)) + (~used))
    rows = -(-owner.size // columns)
    grid = np.full(rows * columns, -1, dtype=np.int16)
    grid[:owner.size] = band
    return grid.reshape(rows, columns)


def _key() -> list[dict]:
    """The colour key as legend entries: free, a request's live chunks, reserved but empty."""
    entries = (("free chunk", FREE), ("request's live KV", PALETTE[0]), ("reserved, empty", _light(PALETTE[0])))
    return [dict(type="scatter", x=[None], y=[None], mode="markers", name=name, showlegend=True, hoverinfo="skip",
                 marker=dict(symbol="square", size=12, color=colour, line=dict(color="#999", width=1)),
                 xaxis="x", yaxis="y")
            for name, colour in entries]


def _titles(data: ChunkMapData, frame: int) -> tuple[str, str]:
    return (f"static reservation: {100 * data.static_utilization[frame]:.0f}% live",
            f"DPA lazy chunks: {100 * data.dpa_utilization[frame]:.0f}% live")


def _annotations(layout: dict, data: ChunkMapData, frame: int) -> list:
    """The two panel titles of `layout` (plotly JSON) at `frame`."""
    texts = _titles(data, frame)
    return [dict(a, text=texts[i]) for i, a in enumerate(layout["annotations"][:2])]


def chunkmap_json(data: ChunkMapData, frame: int | None = None, inspect: tuple[int, int, int] | None = None) -> dict:
    """Both chunk maps at `frame` (default: the last) as plotly JSON (what the live app redraws from: no go.Figure
    to validate and no subplots to lay out on every change). `inspect` = (request, va, pa) rings physical chunk
    `pa` on the DPA map."""
    last = data.step.size - 1
    frame = last if frame is None else check_int("frame", frame, 0, last)
    layout = subplots_layout(2, subplot_titles=("static", "DPA"), horizontal_spacing=0.06)
    layout["annotations"] = _annotations(layout, data, frame)
    common = dict(type="heatmap", coloraxis="coloraxis", hovertemplate="PA %{customdata}<extra></extra>")
    static = _grid(data.static_owner[frame], data.static_used[frame], data.columns)
    dpa = _grid(data.dpa_owner[frame], data.dpa_owner[frame] >= 0, data.columns)
    pa = np.arange(dpa.size).reshape(dpa.shape)
    x, y = ([], []) if inspect is None else ([inspect[2] % data.columns], [inspect[2] // data.columns])
    traces = [dict(z=static, customdata=pa, name="static", xaxis="x", yaxis="y", **common),
              dict(z=dpa, customdata=pa, name="DPA", xaxis="x2", yaxis="y2", **common),
              dict(type="scatter", x=x, y=y, mode="markers", name="VA2PA", showlegend=False, xaxis="x2", yaxis="y2",
                   marker=dict(symbol="square-open", size=14, color="black", line=dict(width=3))), *_key()]
    bands = 1 + 2 * len(PALETTE)
    hidden = dict(showticklabels=False, showgrid=False, zeroline=False)
    for axis in ("xaxis", "xaxis2"):
        layout[axis].update(hidden)
    for axis in ("yaxis", "yaxis2"):
        layout[axis].update(hidden, autorange="reversed")
    layout["yaxis"]["title"] = dict(text=f"PA = line x {data.columns} + column")
    layout.update(coloraxis=dict(colorscale=_colorscale(), cmin=-1.5, cmax=bands - 0.5, showscale=False),
                  height=540, margin=dict(t=100, b=70, l=40, r=20), plot_bgcolor="white",
                  title=dict(text=_title(data, frame, inspect), font=dict(size=14)),
                  legend=dict(itemclick=False, itemdoubleclick=False))
    return dict(data=traces, layout=legend_below_json(layout, 0))


def chunkmap_figure(data: ChunkMapData, frame: int | None = None, inspect: tuple[int, int, int] | None = None,
                    animate: bool = True) -> go.Figure:
    """Both chunk maps at `frame` (default: the last); with `animate`, frames over all steps and a play button.

    `inspect` = (request, va, pa) rings physical chunk `pa` on the DPA map.
    """
    spec = chunkmap_json(data, frame, inspect)
    figure = go.Figure(spec)
    frame = data.step.size - 1 if frame is None else frame
    if animate and data.step.size > 1:
        figure.frames = [go.Frame(
            name=str(int(step)), traces=[0, 1],
            data=[go.Heatmap(z=_grid(data.static_owner[i], data.static_used[i], data.columns)),
                  go.Heatmap(z=_grid(data.dpa_owner[i], data.dpa_owner[i] >= 0, data.columns))],
            layout=dict(annotations=_annotations(spec["layout"], data, i), title=_title(data, i, None)))
            for i, step in enumerate(data.step)]
        play = dict(label="play", method="animate",
                    args=[None, dict(frame=dict(duration=400, redraw=True), fromcurrent=True)])
        pause = dict(label="pause", method="animate", args=[[None], dict(mode="immediate")])
        # below the colour key: the buttons left of the slider, the slider's readout above its rail
        figure.update_layout(
            updatemenus=[dict(type="buttons", buttons=[play, pause], x=0.1, y=0, xanchor="right", yanchor="top",
                              direction="left", pad=dict(t=95, r=10), showactive=False)],
            sliders=[dict(active=frame, x=0.1, len=0.9, y=0, xanchor="left", yanchor="top", pad=dict(t=70, b=10),
                          currentvalue=dict(prefix="decode step ", font_size=12), font_size=10,
                          steps=[dict(label=si(s), method="animate",
                                      args=[[str(int(s))], dict(mode="immediate", frame=dict(redraw=True))])
                                 for s in data.step])],
            height=figure.layout.height + 110, margin=dict(b=figure.layout.margin.b + 110))
    return figure


def _title(data: ChunkMapData, frame: int, inspect) -> str:
    head = (f"{data.dataset} on {data.model}, step {int(data.step[frame]):,}<br><sup>one module's {data.chunks:,} "
            "KV chunks, coloured by request</sup>")
    if inspect is None:
        return head
    request, va, pa = inspect
    return f"{head}<sup>; VA2PA: request {request}, VA {va} → PA {pa} (ringed)</sup>"


@dataclass(frozen=True)
class ChunkMapView:
    """What the live app shows: the maps, a frame, and the inspected translation."""

    data: ChunkMapData
    frame: int
    inspect: tuple[int, int, int] | None


@lru_cache(maxsize=16)
def _maps(dataset, reserve_factor, admission_headroom, requests) -> ChunkMapData:
    return chunk_maps(dataset, requests=requests, reserve_factor=reserve_factor,
                      admission_headroom=admission_headroom)


def chunkmap_view(dataset=QMSUM, reserve_factor=NAIVE_RESERVE_FACTOR, admission_headroom=NAIVE_ADMISSION_HEADROOM,
                  frame=-1, request=-1, va=0, requests=200) -> ChunkMapView:
    """The maps (cached per knob setting), the frame (-1: last) and request (-1: the first running) to inspect."""
    data = _maps(dataset, float(reserve_factor), float(admission_headroom), int(requests))
    frame = data.step.size - 1 if frame == -1 else check_int("frame", frame, 0, data.step.size - 1)
    running = data.requests(frame)
    if not running:
        return ChunkMapView(data, frame, None)
    request = running[0] if request == -1 else request
    return ChunkMapView(data, frame, (request, va, data.translate(frame, request, va)))


HELP = ("Each cell is one KV chunk of one module (1 MB; PA = line x 64 + column). <b>static reserve</b> is the "
        "static allocator's slot: the context window times this factor (the paper's numbers need the calibrated "
        f"{STATIC_RESERVE_FACTOR_CALIBRATED}, see docs/sources.md); light shades are reserved but hold no token. "
        "<b>DPA headroom</b> is the share of chunks DPA keeps free before it admits a request. Pick a "
        "<b>request</b> and a virtual chunk <b>VA</b>: the DPA map rings the physical chunk VA2PA gives.")


def _follow(controls, requests: int) -> None:
    """The step slider spans the run's frames; the request list holds the requests running at that step; the VA
    box allows the virtual chunks that request has mapped."""
    try:
        data = _maps(controls["dataset"].value, float(controls["reserve_factor"].value),
                     float(controls["admission_headroom"].value), requests)
    except ValueError:
        return  # the banner shows why; the ranges stay
    controls["frame"].max = data.step.size - 1
    running = data.requests(min(controls["frame"].value, data.step.size - 1))
    options = [("first running", -1)] + [(f"R{r}", r) for r in running]
    if list(controls["request"].options) != options:
        request = controls["request"].value
        controls["request"].options = options
        controls["request"].value = request if request in running else -1
    request = controls["request"].value if controls["request"].value != -1 else (running or [None])[0]
    table = data.va2pa[min(controls["frame"].value, data.step.size - 1)].get(request)
    mapped = 0 if table is None else int(np.flatnonzero(table >= 0).max(initial=-1)) + 1
    _move_range(controls["va"], max(mapped - 1, 0))


def _move_range(box, high: int) -> None:
    """Give the VA box the range [0, high]; a value that was in the old range but is past the new one (another
    request, step or workload maps fewer chunks) moves to the new last chunk, as a slider's value does. A typed
    value past the range the box had stays, to be refused with a message."""
    old, box.max = box.max, high
    try:
        value = float(box.value)
    except ValueError:
        return  # text: refused with a message
    if high < value <= old:
        box.value = box.text_of(high)


def chunkmap_app(dataset=QMSUM, requests: int = 200) -> LiveApp:
    """Dataset, the two knobs, the decode step and a (request, VA) to translate drive both maps."""
    frames = _maps(dataset, NAIVE_RESERVE_FACTOR, NAIVE_ADMISSION_HEADROOM, requests).step.size
    controls = {
        "dataset": dataset_picker(dataset),
        "reserve_factor": widgets.FloatSlider(value=NAIVE_RESERVE_FACTOR, min=1.0, max=RESERVE_MAX, step=0.05,
                                              description="static reserve", style=STYLE),
        "admission_headroom": widgets.FloatSlider(value=NAIVE_ADMISSION_HEADROOM, min=0.0, max=HEADROOM_MAX,
                                                  step=0.02, description="DPA headroom", style=STYLE),
        "frame": widgets.IntSlider(value=frames - 1, min=0, max=frames - 1, description="step", style=STYLE),
        "request": widgets.Dropdown(options=[("first running", -1)], value=-1, description="request",
                                    style=STYLE),
        "va": int_box(0, "VA", 0, 0),
    }

    def compute(**values):
        return chunkmap_view(requests=requests, **values)

    def draw(view: ChunkMapView) -> dict:
        return chunkmap_json(view.data, view.frame, view.inspect)

    return LiveApp(controls, compute, draw, follow=lambda c: _follow(c, requests), help=HELP)
