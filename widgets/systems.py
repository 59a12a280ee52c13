"""Systems compared app: capacity, throughput, the step's parts and who wins, for GPU-only, L3 and CXL-PNM."""

from __future__ import annotations

import html

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pimlab.compare import Prices
from pimlab.figures.systems_compare import METRICS, Comparison, comparison, family
from pimlab.models import CENT_MODELS, LLM_7B_128K_GQA, MODELS, OTHER_MODELS
from pimlab.workloads import MULTIFIELDQA
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import STYLE, banded_colorscale, dataset_picker, float_box, int_box, wrap
from pimlab_widgets.follow import follow_choices, listed

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
          "#17becf", "#aec7e8", "#ffbb78")
METRIC_LABELS = {"tokens_per_s": "tokens/s", "tokens_per_s_per_kusd": "tokens/s per k$ (equal cost)",
                 "tokens_per_s_per_TB": "tokens/s per TB of memory (equal capacity)"}
PARTS = ("#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#bab0ac")  # fc, selection, attention, ...
PASTELS = ("#fbb4ae", "#b3cde3", "#ccebc5", "#decbe4", "#fed9a6", "#ffffcc", "#e5d8bd", "#fddaec")
BATCH_MAX = 8192  # above the largest batch any system holds for any model at 4K (7624): a larger one runs nowhere
HELP = ("<b>batch</b> 0 runs each system at the largest batch it holds; a positive batch runs every system at that "
        "batch (a system that cannot hold it is listed under the figure). <b>CXL top-K tokens</b> is CXL-PNM's "
        "selection budget, at most the workload's mean context. Prices are assumptions (docs/others.md); type a "
        "number and press Enter.")
SPARSE_WARNING = ("SPARSE vs DENSE: dashed lines attend over a selected top-K subset of the tokens (approximate "
                  "attention); every other system reads every token. Tick 'dense only' for a like-for-like view.")


def short_name(name: str, sparse: bool) -> str:
    """A bar label: "L3 (8 A100 + 32 DIMM-PIM, no overlap)" -> "L3 no overlap", a sparse CXL scheme -> "... top-K*"."""
    label = family(name) + (" no overlap" if "no overlap" in name else "")
    return label + (" top-K*" if sparse else " dense" if name.startswith("CXL") else "")


def sparse_warning(data: Comparison) -> str:
    """The loud line the figure and the notebook print when sparse and dense attention are compared ("" if not)."""
    return SPARSE_WARNING if data.mixes_sparse_and_dense else ""


def systems_figure(data: Comparison) -> go.Figure:
    """(a) max batch, (b) throughput by the chosen metric, (c) the step's parts, (d) the winners map."""
    figure = make_subplots(rows=2, cols=2, vertical_spacing=0.16, horizontal_spacing=0.1, subplot_titles=(
        "(a) largest batch that fits", f"(b) {METRIC_LABELS[data.metric]}",
        f"(c) one step at {data.breakdown_context // 1024}K ({data.dataset})",
        f"(d) best by {METRIC_LABELS[data.metric]}"))
    figure.update_annotations(font_size=12)  # the subplot titles, at half the width of a notebook column
    k = data.contexts / 1024
    values = getattr(data, data.metric)
    for i, name in enumerate(data.systems):
        line = dict(color=COLORS[i % len(COLORS)], dash="dash" if data.sparse[i] else "solid")
        batch = np.where(data.batch[i] > 0, data.batch[i], np.nan)
        common = dict(x=k, mode="lines+markers", line=line, legendgroup=name, marker=dict(size=5))
        figure.add_trace(go.Scatter(y=batch, name=name, hovertemplate="%{x:.0f}K: batch %{y}", **common), 1, 1)
        figure.add_trace(go.Scatter(y=values[i], name=name, showlegend=False, customdata=data.tpot_ms[i],
                                    hovertemplate="%{x:.0f}K: %{y:.4g}, %{customdata:.3g} ms/token", **common),
                         1, 2)
    labels = [short_name(n, sp) for n, sp in zip(data.systems, data.sparse)]
    total = sum(data.breakdown_ms.values(), np.zeros(len(data.systems)))
    share = 100 / np.where(total > 0, total, np.nan)
    for j, (part, ms) in enumerate(data.breakdown_ms.items()):
        figure.add_trace(go.Bar(x=labels, y=ms * share, name=part, legendgroup="parts", marker_color=PARTS[j % 6],
                                customdata=np.stack([ms, data.breakdown_batch], axis=-1),
                                hovertemplate="%{x}: %{customdata[0]:.3g} ms (batch %{customdata[1]})"), 2, 1)
    figure.add_trace(go.Scatter(x=labels, y=np.where(total > 0, 104, np.nan), mode="text", showlegend=False,
                                text=[f"{t:.3g} ms" if t > 0 else "" for t in total], textfont=dict(size=9),
                                hoverinfo="skip"), 2, 1)
    families = sorted({w for w in data.winners.ravel() if w})
    codes = np.array([[families.index(w) if w else np.nan for w in row] for row in data.winners], dtype=float)
    figure.add_trace(go.Heatmap(z=codes, x=[f"{c:.0f}K" for c in k], y=list(data.winner_models),
                                text=data.winners, texttemplate="%{text}", textfont=dict(size=9), showscale=False,
                                colorscale=banded_colorscale(PASTELS[:max(len(families), 1)]), zmin=-0.5,
                                zmax=max(len(families), 1) - 0.5,
                                hovertemplate="%{y} at %{x}: %{text}<extra></extra>"), 2, 2)
    if data.window < data.contexts[-1]:
        for col in (1, 2):
            figure.add_vrect(x0=data.window / 1024, x1=k[-1], fillcolor="gray", opacity=0.12,
                             line_width=0, row=1, col=col)
        figure.add_annotation(x=np.log10(k[-1]), y=1, xref="x", yref="y domain", xanchor="right", yanchor="top",
                              showarrow=False, text="past the window: what-if", font=dict(size=10, color="gray"))
    if data.notes:
        shown = data.notes[:3] + ((f"... and {len(data.notes) - 3} more",) if len(data.notes) > 3 else ())
        figure.add_annotation(x=0, y=-0.1, xref="paper", yref="paper", xanchor="left", yanchor="top", align="left",
                              showarrow=False, font=dict(size=10, color="#8a1c1c"),
                              text="<br>".join(wrap(html.escape(n if len(n) < 200 else n[:197] + "..."), 110)
                                               for n in shown))
    figure.update_xaxes(type="log", title_text="context (K tokens)", row=1, col=1)
    figure.update_xaxes(type="log", title_text="context (K tokens)", row=1, col=2)
    figure.update_yaxes(type="log", title_text="requests", row=1, col=1)
    figure.update_yaxes(type="log", row=1, col=2)
    figure.update_yaxes(title_text="% of the step (total above)", range=[0, 112], row=2, col=1)
    figure.update_xaxes(tickangle=30, tickfont=dict(size=9), row=2, col=1)
    warning = sparse_warning(data)
    title = f"Long-context systems on {data.model}"
    if warning:
        title += f"<br><span style='color:#d62728;font-size:12px'>&#9888; {wrap(html.escape(warning), 75)}</span>"
    figure.update_layout(title=title, barmode="stack", height=1000, margin=dict(t=180, b=190),
                         legend=dict(font=dict(size=10)))
    return figure


def _compute(model, dataset, metric, dense_only, batch, budget_tokens, steady_fraction, gpu_usd, dimm_pim_usd,
             cxl_pnm_device_usd, pim_module_usd):
    prices = Prices(gpu_usd=gpu_usd, dimm_pim_usd=dimm_pim_usd, cxl_pnm_device_usd=cxl_pnm_device_usd,
                    pim_module_usd=pim_module_usd)
    return comparison(model, dataset, dense_only=dense_only, metric=metric, prices=prices, batch=batch,
                      budget_tokens=budget_tokens, steady_fraction=steady_fraction)


def check_systems(model, dataset, metric, dense_only, batch, budget_tokens, steady_fraction, gpu_usd, dimm_pim_usd,
                  cxl_pnm_device_usd, pim_module_usd) -> None:
    """ValueError, naming the box as shown, unless the comparison runs: CXL-PNM's top-K budget is at most the
    workload's mean context, where the step is broken down (the boxes' ranges hold the rest)."""
    mean = budget_max(dataset)
    if budget_tokens > mean:
        raise ValueError(f"CXL top-K tokens must be at most {dataset.name}'s mean context ({mean} tokens); "
                         f"got {budget_tokens}")


def budget_max(dataset) -> int:
    """The largest CXL-PNM top-K budget `comparison` accepts for `dataset`: its mean context."""
    return int(round(dataset.mean))


def _follow(controls) -> None:
    controls["budget_tokens"].max = budget_max(controls["dataset"].value)
    follow_choices(controls, check_systems)


def systems_app(model=LLM_7B_128K_GQA, dataset=MULTIFIELDQA, metric: str = "tokens_per_s",
                dense_only: bool = False) -> LiveApp:
    """Model, dataset, metric, dense-only, the batch, CXL-PNM's selection budget and steady share, and the prices."""
    defaults = Prices()
    controls = {
        "model": listed(widgets.Dropdown(options=[(m.name, m) for m in MODELS + CENT_MODELS + OTHER_MODELS],
                                         value=model, description="model", style=STYLE)),
        "dataset": listed(dataset_picker(dataset)),
        "metric": widgets.Dropdown(options=[(METRIC_LABELS[m], m) for m in METRICS], value=metric,
                                   description="compare by", style=STYLE),
        "dense_only": widgets.Checkbox(value=dense_only, description="dense only", style=STYLE),
        "batch": int_box(0, "batch (0 = most that fit)", 0, BATCH_MAX),
        "budget_tokens": int_box(4096, "CXL top-K tokens", 1, budget_max(dataset)),
        "steady_fraction": float_box(0.5, "PnG steady share", 0, 1),
        "gpu_usd": float_box(defaults.gpu_usd, "A100 $", 1),
        "dimm_pim_usd": float_box(defaults.dimm_pim_usd, "DIMM-PIM $", 1),
        "cxl_pnm_device_usd": float_box(defaults.cxl_pnm_device_usd, "CXL-PNM device $", 1),
        "pim_module_usd": float_box(defaults.pim_module_usd, "AiM module $", 1),
    }

    def compute(**values):
        check_systems(**values)
        return _compute(**values)

    return LiveApp(controls, compute, systems_figure, follow=_follow, help=HELP)
