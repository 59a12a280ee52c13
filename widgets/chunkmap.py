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
from plotly.subplots import make_subplots

from pimlab.dpa import NAIVE_ADMISSION_HEADROOM, NAIVE_RESERVE_FACTOR
from pimlab.figures.fig19 import STATIC_RESERVE_FACTOR_CALIBRATED, ChunkMapData, chunk_maps
from pimlab.validate import check_int
from pimlab.workloads import QMSUM
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import STYLE, banded_colorscale, dataset_picker

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf",
           "#7f7f7f")
FREE = "#f2f2f2"
NO_CHUNK = -1  # band of the grid cells past the module's last chunk, drawn in the background colour


def _light(color: str) -> str:
    """The colour mixed 70% with white: reserved but holding no live token."""
    rgb = [int(color[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + 0.7 * (255 - c)):02x}" for c in rgb)


def _colorscale() -> list:
    """Band -1 no chunk (white); 0 free; 1 + 2k request colour k in use; 2 + 2k its light shade (reserved, unused)."""
    return banded_colorscale(["#ffffff", FREE] + [c for base in PALETTE for c in (base, _light(base))])


def _grid(owner: np.ndarray, used: np.ndarray, columns: int) -> np.ndarray:
    """Chunk bands laid out row by row, `columns` chunks per row; NO_CHUNK past the last chunk (not NaN,
    which is not valid JSON in the widget's messages)."""
    band = np.where(owner < 0, 0, 1 + 2 * (owner % len(PALETTE)) + (~used))
    rows = -(-owner.size // columns)
    grid = np.full(rows * columns, NO_CHUNK)
    grid[:owner.size] = band
    return grid.reshape(rows, columns)


def _titles(data: ChunkMapData, frame: int) -> tuple[str, str]:
    return (f"static reservation: {100 * data.static_utilization[frame]:.0f}% live",
            f"DPA lazy chunks: {100 * data.dpa_utilization[frame]:.0f}% live")


def _annotations(figure: go.Figure, data: ChunkMapData, frame: int) -> list:
    texts = _titles(data, frame)
    return [dict(a.to_plotly_json(), text=texts[i]) for i, a in enumerate(figure.layout.annotations[:2])]


def chunkmap_figure(data: ChunkMapData, frame: int | None = None, inspect: tuple[int, int, int] | None = None,
                    animate: bool = True) -> go.Figure:
    """Both chunk maps at `frame` (default: the last); with `animate`, frames over all steps and a play button.

    `inspect` = (request, va, pa) rings physical chunk `pa` on the DPA map.
    """
    last = data.step.size - 1
    frame = last if frame is None else check_int("frame", frame, 0, last)
    figure = make_subplots(rows=1, cols=2, subplot_titles=_titles(data, frame), horizontal_spacing=0.06)
    common = dict(coloraxis="coloraxis", hovertemplate="PA %{customdata}<extra></extra>")
    static = _grid(data.static_owner[frame], data.static_used[frame], data.columns)
    dpa = _grid(data.dpa_owner[frame], data.dpa_owner[frame] >= 0, data.columns)
    pa = np.arange(dpa.size).reshape(dpa.shape)
    figure.add_trace(go.Heatmap(z=static, customdata=pa, name="static", **common), 1, 1)
    figure.add_trace(go.Heatmap(z=dpa, customdata=pa, name="DPA", **common), 1, 2)
    x, y = ([], []) if inspect is None else ([inspect[2] % data.columns], [inspect[2] // data.columns])
    figure.add_trace(go.Scatter(x=x, y=y, mode="markers", name="VA2PA", showlegend=False,
                                marker=dict(symbol="square-open", size=14, color="black", line=dict(width=3))), 1, 2)
    bands = 1 + 2 * len(PALETTE)
    figure.update_layout(coloraxis=dict(colorscale=_colorscale(), cmin=NO_CHUNK - 0.5, cmax=bands - 0.5,
                                        showscale=False),
                         height=520, margin=dict(t=90, b=80, l=40, r=20), plot_bgcolor="white",
                         title=_title(data, frame, inspect))
    figure.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(autorange="reversed", showticklabels=False, showgrid=False, zeroline=False)
    figure.update_yaxes(title_text=f"chunks, {data.columns} per line (PA = line x {data.columns} + column)",
                        row=1, col=1)
    if animate and data.step.size > 1:
        figure.frames = [go.Frame(
            name=str(int(step)), traces=[0, 1],
            data=[go.Heatmap(z=_grid(data.static_owner[i], data.static_used[i], data.columns)),
                  go.Heatmap(z=_grid(data.dpa_owner[i], data.dpa_owner[i] >= 0, data.columns))],
            layout=dict(annotations=_annotations(figure, data, i), title=_title(data, i, None)))
            for i, step in enumerate(data.step)]
        play = dict(label="play", method="animate",
                    args=[None, dict(frame=dict(duration=400, redraw=True), fromcurrent=True)])
        pause = dict(label="pause", method="animate", args=[[None], dict(mode="immediate")])
        figure.update_layout(
            updatemenus=[dict(type="buttons", buttons=[play, pause], x=0, y=-0.08, xanchor="left", direction="left")],
            sliders=[dict(active=frame, x=0.12, len=0.88, y=-0.05, currentvalue=dict(prefix="decode step "),
                          steps=[dict(label=str(int(s)), method="animate",
                                      args=[[str(int(s))], dict(mode="immediate", frame=dict(redraw=True))])
                                 for s in data.step])])
    return figure


def _title(data: ChunkMapData, frame: int, inspect) -> str:
    head = f"{data.dataset} on {data.model}: one module's {data.chunks} chunks at decode step {int(data.step[frame])}"
    if inspect is None:
        return head
    request, va, pa = inspect
    return f"{head}<br><sup>VA2PA: request {request}, VA {va} -> PA {pa} (ringed)</sup>"


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


def chunkmap_app(dataset=QMSUM, requests: int = 200) -> LiveApp:
    """Dataset, the two knobs, the decode step and a (request, VA) to translate drive both maps."""
    frames = _maps(dataset, NAIVE_RESERVE_FACTOR, NAIVE_ADMISSION_HEADROOM, requests).step.size
    controls = {
        "dataset": dataset_picker(dataset),
        "reserve_factor": widgets.FloatSlider(value=NAIVE_RESERVE_FACTOR, min=1.0, max=1.5, step=0.05,
                                              description=f"static reserve_factor (calibrated "
                                                          f"{STATIC_RESERVE_FACTOR_CALIBRATED})", style=STYLE),
        "admission_headroom": widgets.FloatSlider(value=NAIVE_ADMISSION_HEADROOM, min=0.0, max=0.3, step=0.02,
                                                  description="DPA admission headroom", style=STYLE),
        "frame": widgets.IntSlider(value=frames - 1, min=0, max=frames - 1, description="frame", style=STYLE),
        "request": widgets.IntText(value=-1, description="request (-1: first)", style=STYLE,
                                   layout=widgets.Layout(width="190px")),
        "va": widgets.IntText(value=0, description="VA", style=STYLE, layout=widgets.Layout(width="120px")),
    }

    def compute(**values):
        return chunkmap_view(requests=requests, **values)

    def draw(view: ChunkMapView) -> go.Figure:
        return chunkmap_figure(view.data, view.frame, view.inspect, animate=False)

    return LiveApp(controls, compute, draw)
