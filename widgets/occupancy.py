"""ChannelOccupancy: which task each PIM channel runs over one decode step, HFP vs TCP under TP / PP (Fig. 6).

Left: the modules x channels grid at one instant, coloured by request, head or layer (grey: idle).
Right: every channel over time (the Gantt chart of Fig. 6 as an image) with a cursor at that instant.
`occupancy_figure` is the static animated version (frames, play button, slider); `ChannelOccupancy` the
live app (controls, play / step / time slider). Tasks are labelled R(request, head, layer), 1-based as
in the paper.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from pimlab.figures.fig06 import (
    COLOUR_BY,
    COSTS,
    IDLE,
    TOY,
    TOY_CONTEXT,
    TOY_MODEL,
    TOY_SYSTEM,
    WORKLOADS,
    Fig6Data,
    Fig6Thresholds,
    OccupancyFrames,
    check_workload,
    map_workload,
    occupancy_frames,
    toy_max_tokens,
    workload_max_batch,
)
from pimlab.validate import check_int
from pimlab_widgets.app import LiveApp, apply_figure, control_value
from pimlab_widgets.controls import (
    STYLE,
    IntsBox,
    banded_colorscale,
    int_box,
    legend_below,
    legend_below_json,
    show,
    si,
    subplots_layout,
)
from pimlab_widgets.follow import choice, follow_choices, listed

PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#7f7f7f")
OP_NAMES = ("QK^T", "SV")
IDLE_COLOUR = "#e5e5e5"


def _colourscale(n: int) -> list:
    """Grey for IDLE, then one palette colour per id 0 .. n-1 (use with zmin=-1.5, zmax=n-0.5)."""
    return banded_colorscale([IDLE_COLOUR] + [PALETTE[i % len(PALETTE)] for i in range(n)])


def _frame_title(data: OccupancyFrames, i: int) -> str:
    """The instant on the first line, the run's summary on the second (clear of the slider below the plot)."""
    busy = int((data.grid[i] >= 0).sum())
    return (f"{data.label}, t = {si(data.times[i])} of {si(data.makespan_cycles)} cycles: {busy} of "
            f"{data.grid[i].size} channels busy<br><sup>{_summary(data)}</sup>")


def _summary(data: OccupancyFrames) -> str:
    return (f"utilization {data.utilization:.1%}, active while working {data.active_fraction:.1%}, "
            f"bubbles {data.bubble_fraction:.1%}, HUB reduction {si(data.reduction_cycles)} cycles")


def _key(data: OccupancyFrames) -> list[dict]:
    """The colour key as legend entries: idle, then one per palette colour (ids repeat every len(PALETTE))."""
    n = max(data.colours, 1)
    name = {"request": "R{}", "head": "head {}", "layer": "layer {}"}.get(data.colour_by, data.colour_by + " {}")
    entries = [("idle", IDLE_COLOUR, True)] + [
        (name.format(k + 1) + ("+" if n > len(PALETTE) else ""), PALETTE[k], k < n) for k in range(len(PALETTE))]
    return [dict(type="scatter", x=[None], y=[None], mode="markers", name=label, visible=visible, showlegend=True,
                 marker=dict(symbol="square", size=11, color=colour), hoverinfo="skip", legendgroup="key")
            for label, colour, visible in entries]


def _gantt(data: OccupancyFrames) -> dict:
    """The Gantt heatmap as 1-D columns (x: cycles, y: row = module x channels + channel, z: colour id): typed
    arrays reach the browser as binary buffers, where a 2-D z would be sent as nested lists."""
    times, rows = data.times.size, data.grid.shape[1] * data.grid.shape[2]
    return dict(x=np.tile(data.times.astype(np.float64), rows), y=np.repeat(np.arange(rows, dtype=np.int32), times),
                z=data.grid.reshape(times, rows).T.ravel())


def _grid_trace(data: OccupancyFrames, i: int) -> dict:
    n = max(data.colours, 1)
    return dict(type="heatmap", z=data.grid[i], customdata=data.task[i], zmin=IDLE - 0.5, zmax=n - 0.5,
                colorscale=_colourscale(n), showscale=False, xgap=1, ygap=1,
                hovertemplate="module %{y} channel %{x}<br>R(%{customdata[0]},%{customdata[1]},"
                              "%{customdata[2]}) op %{customdata[3]} (0 QK^T, 1 SV)<extra></extra>")


def _cursor(data: OccupancyFrames, i: int) -> dict:
    rows = data.grid.shape[1] * data.grid.shape[2]
    return dict(type="scatter", x=[data.times[i]] * 2, y=[-0.5, rows - 0.5], mode="lines",
                line=dict(color="black", width=2), hoverinfo="skip", showlegend=False)


def _base_json(data: OccupancyFrames, i: int) -> dict:
    """The grid now (left panel, with the colour key) and the Gantt over the step (right), as plotly JSON (what the
    live app redraws from when the grid's shape changes: no go.Figure to validate)."""
    modules, channels = data.grid.shape[1:]
    n = max(data.colours, 1)
    gantt = dict(type="heatmap", **_gantt(data), zmin=IDLE - 0.5, zmax=n - 0.5, colorscale=_colourscale(n),
                 showscale=False, hovertemplate="row %{y}, t %{x}: " + data.colour_by + " %{z}<extra></extra>",
                 xaxis="x2", yaxis="y2")
    left = [dict(trace, xaxis="x", yaxis="y") for trace in (_grid_trace(data, i), *_key(data))]
    traces = [left[0], gantt, dict(_cursor(data, i), xaxis="x2", yaxis="y2"), *left[1:]]
    layout = subplots_layout(2, column_widths=[0.35, 0.65], horizontal_spacing=0.08,
                             subplot_titles=("modules x channels now", "every channel over the step"))
    layout["xaxis"].update(title=dict(text="channel"), dtick=max(1, channels // 8))
    layout["yaxis"].update(title=dict(text="module"), autorange="reversed", dtick=max(1, modules // 8))
    layout["xaxis2"].update(title=dict(text="cycles"), exponentformat="SI")
    layout["yaxis2"].update(title=dict(text="module x channels + channel"), autorange="reversed")
    layout.update(
        title=dict(text=_frame_title(data, i), font=dict(size=14)), height=460, margin=dict(t=90, b=60, l=60, r=10),
        plot_bgcolor="#eeeeee", legend=dict(title=dict(text=f"{data.colour_by}:"), itemclick=False,
                                            itemdoubleclick=False))
    return dict(data=traces, layout=legend_below_json(layout, 30))


def _base_figure(data: OccupancyFrames, i: int) -> go.Figure:
    return go.Figure(_base_json(data, i))


def occupancy_figure(data: OccupancyFrames) -> go.Figure:
    """Static animated figure: one frame per sampled instant, a play button and a time slider."""
    figure = _base_figure(data, 0)
    figure.frames = [go.Frame(name=str(i), data=[_grid_trace(data, i), _cursor(data, i)], traces=[0, 2],
                              layout=dict(title=_frame_title(data, i))) for i in range(data.times.size)]
    step = dict(frame=dict(duration=150, redraw=True), mode="immediate", transition=dict(duration=0))
    # below the axis titles: the buttons left of the slider, the slider's "cycle" readout above its rail
    figure.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.1, y=0, xanchor="right", yanchor="top",
                          pad=dict(t=85, r=10), showactive=False,
                          buttons=[dict(label="play", method="animate", args=[None, dict(fromcurrent=True, **step)]),
                                   dict(label="pause", method="animate",
                                        args=[[None], dict(mode="immediate", frame=dict(duration=0))])])],
        sliders=[dict(active=0, x=0.1, y=0, len=0.9, xanchor="left", yanchor="top", pad=dict(t=60, b=10),
                      currentvalue=dict(prefix="cycle ", font_size=12), font_size=10,
                      steps=[dict(label=si(t), method="animate", args=[[str(i)], step])
                             for i, t in enumerate(data.times)])],
        height=figure.layout.height + 110, margin=dict(b=figure.layout.margin.b + 110))
    return figure


def frame_figure(data: OccupancyFrames, frame: int) -> go.Figure:
    """The figure at one sampled instant (no animation frames): what the live app shows."""
    return go.Figure(frame_json(data, frame))


def frame_json(data: OccupancyFrames, frame: int) -> dict:
    """`frame_figure` as plotly JSON (the live app's redraw)."""
    return _base_json(data, check_int("frame", frame, 0, data.times.size - 1))


def utilization_figure(data: Fig6Data) -> go.Figure:
    """Bars per (scheme, parallelism): utilization, channels active while working, pipeline bubbles."""
    figure = go.Figure()
    for values, name, colour in ((data.utilization, "channel utilization", "#1f77b4"),
                                 (data.active_fraction, "active while the stage works", "#2ca02c"),
                                 (data.bubble_fraction, "pipeline bubbles", "#d62728")):
        figure.add_bar(x=list(data.labels), y=values, name=name, marker_color=colour,
                       text=[f"{v:.0%}" for v in values], textposition="outside",
                       textfont_size=10)  # "100%" over neighbouring bars stays apart
    figure.update_layout(title=f"{data.model} on {data.system}, batch {data.context_tokens.size}", barmode="group",
                         yaxis=dict(range=[0, 1.15], tickformat=".0%"), height=420, margin=dict(b=60))
    legend_below(figure, 30)
    return figure


def thresholds_figure(data: Fig6Thresholds) -> go.Figure:
    """Channels one head keeps busy against its tokens: TCP's QK^T and SV, and HFP's single channel."""
    figure = go.Figure()
    for y, name, colour, dash in ((data.qk_active, "TCP QK^T: channels with tokens", "#1f77b4", "dot"),
                                  (data.qk_full, "TCP QK^T: fully active", "#1f77b4", None),
                                  (data.sv_active, "TCP SV: channels with scores", "#ff7f0e", "dot"),
                                  (data.sv_full, "TCP SV: fully active", "#ff7f0e", None),
                                  (data.hfp_active, "HFP (one channel per head)", "#7f7f7f", None)):
        figure.add_scatter(x=data.tokens, y=y, name=name, mode="lines", line=dict(color=colour, dash=dash, shape="hv"))
    top = data.channels * 1.12  # the labels sit above the all-channels line, not on it
    for k, (tokens, label) in enumerate(((data.qk_full_tokens, "QK^T"), (data.sv_full_tokens, "SV"))):
        figure.add_scatter(x=[tokens, tokens], y=[0, top], mode="lines", showlegend=False, hoverinfo="skip",
                           line=dict(color="black", width=1, dash="dash"))
        figure.add_annotation(x=np.log10(tokens), y=top, text=f"{label}: all {data.channels} from {si(tokens)}",
                              showarrow=False, yanchor="bottom", xanchor="right" if k else "left", font_size=11)
    figure.update_layout(title=f"Channel activation of one head ({data.channels} channels, d_h = {data.head_dim})",
                         xaxis=dict(title="tokens of the head", type="log",  # "1" clear of the y axis's "0"
                                    range=[np.log10(data.tokens.min()) - 0.1, np.log10(data.tokens.max()) + 0.02]),
                         yaxis=dict(title="active channels", range=[0, data.channels * 1.3]),
                         height=460, margin=dict(b=60))
    legend_below(figure, 50)
    return figure


# --- live app ------------------------------------------------------------------------------------------------
def show_frame(target: go.FigureWidget, data: OccupancyFrames, frame: int) -> None:
    """Move a drawn figure to another instant of the same data: only the grid, the cursor and the title."""
    with target.batch_update():
        target.data[0].z, target.data[0].customdata = data.grid[frame], data.task[frame]
        target.data[2].x = [data.times[frame]] * 2
        target.layout.title.text = _frame_title(data, frame)


def show_data(target: go.FigureWidget, data: OccupancyFrames, frame: int) -> None:
    """Show new data of the same grid shape in a drawn figure: update arrays, colours and texts in place."""
    n = max(data.colours, 1)
    with target.batch_update():
        for trace in target.data[:2]:
            trace.colorscale, trace.zmax = _colourscale(n), n - 0.5
        target.data[1].update(_gantt(data))
        target.data[1].hovertemplate = "row %{y}, t %{x}: " + data.colour_by + " %{z}<extra></extra>"
        for old, new in zip(target.data[3:], _key(data)):
            old.update(name=new["name"], visible=new["visible"])
        target.layout.legend.title.text = f"{data.colour_by}:"
        show_frame(target, data, frame)


class _FrameApp(LiveApp):
    """A LiveApp that redraws only what moves when the time step changes (same sampled data)."""

    def show_data(self, data) -> None:
        if data[0] is self.data[0]:
            show_frame(self.figure, *data)
        elif data[0].grid.shape == self.data[0].grid.shape:
            show_data(self.figure, *data)
        else:
            apply_figure(self.figure, self.draw(data))


TOY_REQUESTS_MAX = 16  # lengths the toy's two 4-channel modules are offered
HELP = ("<b>workload</b>: the toy of Fig. 6(a) (two modules of 4 channels, your <b>toy lengths</b> in tokens) or "
        "a Table II dataset (<b>batch</b> requests drawn with <b>seed</b> onto <b>modules</b> AiM modules of "
        "<b>channels</b> channels). <b>TP</b> splits the modules into TP-way tensor-parallel groups; the other "
        "factor, modules / TP, is the pipeline depth PP, so TP offers the divisors of the modules. <b>tile cost</b> "
        "times a tile at the peak MAC rate or with the command engine (static or DCS controller). Type a number "
        "and press Enter.")


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def check_occupancy(workload, lengths, batch, seed, modules, channels, scheme, tp, **_) -> None:
    """ValueError naming the controls if the model refuses the workload on these modules (the placement only:
    cheap, cached; the fields a workload ignores are left out of the cache key)."""
    toy = workload == TOY
    try:
        if toy:
            check_workload(TOY, tuple(lengths), 1, 0, TOY_SYSTEM.modules, TOY_SYSTEM.module.channels, scheme, tp)
        else:
            check_workload(workload, (), batch, seed, modules, channels, scheme, tp)
    except ValueError as error:
        if toy:
            raise ValueError(f"toy lengths must fit the toy's {TOY_SYSTEM.modules} modules x "
                             f"{TOY_SYSTEM.module.channels} channels together under {scheme.upper()} with TP {tp}; "
                             f"got '{', '.join(map(str, lengths))}': {error}") from None
        raise ValueError(f"{modules} modules x {channels} channels under {scheme.upper()} with TP {tp} must hold the "
                         f"batch of {batch} {workload} requests: {error}") from None


class ChannelOccupancy:
    """Live app: workload, system, scheme, TP (PP = modules / TP), colour, and a played / stepped time slider."""

    def __init__(self, workload: str = TOY, lengths: str = ", ".join(map(str, TOY_CONTEXT)), batch: int = 8,
                 seed: int = 0, modules: int = 8, channels: int = 16, scheme: str = "tcp", tp: int = 2,
                 colour_by: str = "request", cost: str = "peak rate", frames: int = 60):
        self.frames = check_int("frames", frames, 2, 1000)
        self._sampled: dict = {}
        controls = {
            "workload": choice([(w, w) for w in WORKLOADS], workload, "workload"),
            "lengths": IntsBox(lengths, "toy lengths", 1, TOY_MODEL.context_window, most=TOY_REQUESTS_MAX),
            "batch": int_box(batch, "batch", 1, 4096),
            "seed": int_box(seed, "seed", 0, 2**31 - 1),
            "modules": int_box(modules, "modules", 1, 256),
            "channels": choice([(str(c), c) for c in (4, 8, 16, 32)], channels, "channels"),
            "scheme": listed(widgets.ToggleButtons(options=[("HFP", "hfp"), ("TCP", "tcp")], value=scheme,
                                                   description="scheme", style=dict(STYLE, button_width="60px"))),
            "tp": choice(lambda values: [(str(d), d) for d in _divisors(self._modules(values["workload"],
                                                                                       values["modules"]))],
                         tp, "TP"),
            "colour_by": widgets.Dropdown(options=COLOUR_BY, value=colour_by, description="colour by", style=STYLE),
            "cost": widgets.Dropdown(options=COSTS, value=cost, description="tile cost", style=STYLE),
            "frame": widgets.IntSlider(value=0, min=0, max=self.frames - 1, description="time step", style=STYLE),
        }
        self.play = widgets.Play(value=0, min=0, max=self.frames - 1, interval=250, description="play")
        widgets.jslink((self.play, "value"), (controls["frame"], "value"))
        self.step_button = widgets.Button(description="step", layout=widgets.Layout(width="70px"))
        self.step_button.on_click(lambda _: self.step())
        self.app = _FrameApp(controls, self._compute, self._draw, footer=widgets.HBox([self.play, self.step_button]),
                             follow=self._follow, help=HELP)
        self.widget = self.app.widget

    @staticmethod
    def _modules(workload: str, modules) -> int:
        """The modules the mapping splits into TP x PP: the toy's own 2, else the modules box."""
        return TOY_SYSTEM.modules if workload == TOY else modules

    def _follow(self, controls) -> None:
        """Show the fields the workload uses; bound the batch (or each toy length) by what the modules hold; offer
        the workloads, channels, schemes and TP degrees (divisors of the modules: PP = modules / TP) that fit."""
        toy = controls["workload"].value == TOY
        show(controls["lengths"], toy)
        for name in ("batch", "seed", "modules", "channels"):
            show(controls[name], not toy)
        try:
            values = {name: control_value(control) for name, control in controls.items()}
            most = (toy_max_tokens(values["scheme"], values["tp"]) if toy else
                    workload_max_batch(values["workload"], *(values[k] for k in ("seed", "modules", "channels",
                                                                                  "scheme", "tp"))))
        except ValueError:
            most = 0  # a box holds bad text, or TP does not divide the modules: the banner says so
        if most:  # 0: the current values do not fit (the banner says so); the range stays
            controls["lengths" if toy else "batch"].max = most
        follow_choices(controls, check_occupancy)

    def _compute(self, workload, lengths, batch, seed, modules, channels, scheme, tp, colour_by, cost, frame):
        key = (workload, lengths, batch, seed, modules, channels, scheme, tp, cost, colour_by)
        if key not in self._sampled:  # moving the time slider only redraws
            check_occupancy(workload, lengths, batch, seed, modules, channels, scheme, tp)
            mapping = map_workload(*key[:-1])
            label = f"{scheme.upper()} TP={mapping.tp} PP={mapping.pp}"
            self._sampled = {key: occupancy_frames(mapping, self.frames, colour_by, label)}
        return self._sampled[key], frame

    @staticmethod
    def _draw(data) -> dict:
        frames, frame = data
        return frame_json(frames, frame)

    @property
    def data(self) -> OccupancyFrames:
        return self.app.data[0]

    @property
    def error(self) -> str:
        return self.app.error

    @property
    def controls(self) -> dict:
        return self.app.controls

    @property
    def figure(self) -> go.FigureWidget:
        return self.app.figure

    def set(self, **values) -> bool:
        return self.app.set(**values)

    def step(self) -> None:
        """Advance the time slider one sampled instant (wrapping)."""
        slider = self.app.controls["frame"]
        slider.value = (slider.value + 1) % self.frames

    def static(self) -> go.Figure:
        """The current mapping as a static animated figure."""
        return occupancy_figure(self.data)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


__all__ = ["ChannelOccupancy", "occupancy_figure", "frame_figure", "utilization_figure", "thresholds_figure"]
