"""Fig. 2 app: compute intensity and memory footprint against context length."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pimlab.figures.fig02 import Fig2Data, fig2
from pimlab.hardware import A100, GPU
from pimlab.models import LLM_7B_128K_GQA
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import STYLE, int_box, model_picker

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")


def fig2_figure(data: Fig2Data) -> go.Figure:
    """(a) FLOPs/byte and (b) GiB against context length, one line per batch size, with the GPU line."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("(a) compute intensity", "(b) memory footprint"))
    k = data.context_tokens / 1024
    for i, batch in enumerate(data.batch_sizes):
        color = COLORS[i % len(COLORS)]
        common = dict(x=k, mode="lines", line=dict(color=color), legendgroup=str(batch))
        figure.add_trace(go.Scatter(y=data.intensity_flops_per_byte[i], name=f"bs={batch}",
                                    hovertemplate="%{x:.0f}K tokens: %{y:.1f} FLOPs/B", **common), 1, 1)
        figure.add_trace(go.Scatter(y=data.footprint_GiB[i], name=f"bs={batch}", showlegend=False,
                                    hovertemplate="%{x:.0f}K tokens: %{y:.0f} GiB", **common), 1, 2)
    figure.add_trace(go.Scatter(x=[k[0], k[-1]], y=[data.capacity_GiB] * 2, mode="lines",
                                name=f"{data.gpu} capacity", line=dict(color="black", dash="dash")), 1, 2)
    top = max(float(data.footprint_GiB.max()), data.capacity_GiB) * 1.05
    figure.add_shape(type="rect", x0=k[0], x1=k[-1], y0=data.capacity_GiB, y1=top, xref="x2", yref="y2",
                     fillcolor="rgba(214,39,40,0.08)", line_width=0, layer="below")
    figure.add_annotation(x=np.log10(k[0]), y=top, xref="x2", yref="y2", text="out of memory", showarrow=False,
                          xanchor="left", yanchor="top", font=dict(color="#d62728"))
    figure.update_xaxes(type="log", title_text="context length (K tokens)")
    figure.update_yaxes(title_text="FLOPs / byte", type="log", row=1, col=1)
    figure.update_yaxes(title_text="GiB (weights + KV cache)", range=[0, top], row=1, col=2)
    figure.update_layout(title=f"Long-context decoding on {data.model}", height=420, margin=dict(t=70, b=40),
                         legend=dict(orientation="h", y=-0.2))
    return figure


BATCH_MAX = 4096  # the batch sizes pimlab.figures.fig2 accepts
GPUS_MAX = 8

HELP = ("<b>extra batch</b> adds one batch size to the four of the paper (0: none). <b>max context</b> is the "
        "right end of the context axis, up to the model's context window. <b>A100 GPUs</b> multiplies the "
        "capacity line (80 GiB each). Type a number and press Enter.")


def _compute(model, batch, max_context_k, gpus):
    batches = sorted({8, 16, 32, 64, batch}) if batch else (8, 16, 32, 64)
    context_max = int(max_context_k) * 1024
    grid = np.unique(np.geomspace(min(4096, context_max), context_max, 41).round().astype(np.int64))
    gpu = GPU(name=f"{gpus}x {A100.name}", count=gpus)
    return fig2(model, batches, grid, gpu)


def _follow(controls) -> None:
    """The context slider ends at the chosen model's window."""
    controls["max_context_k"].max = controls["model"].value.context_window // 1024


def fig2_app(model=LLM_7B_128K_GQA, batch: int = 8, max_context_k: int | None = None, gpus: int = 1) -> LiveApp:
    """Model, an extra batch size, the largest context (default: the window) and the GPU count drive the figure."""
    window_k = model.context_window // 1024
    controls = {
        "model": model_picker(model),
        "batch": int_box(batch, "extra batch", 0, BATCH_MAX),
        "max_context_k": widgets.IntSlider(value=window_k if max_context_k is None else max_context_k, min=4,
                                           max=window_k, step=4, description="max context (K)",
                                           style=STYLE),
        "gpus": widgets.IntSlider(value=gpus, min=1, max=GPUS_MAX, description="A100 GPUs", style=STYLE),
    }
    return LiveApp(controls, _compute, fig2_figure, follow=_follow, help=HELP)
