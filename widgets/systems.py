"""Systems compared app: capacity, throughput, the step's parts and who wins, for GPU-only, L3 and CXL-PNM."""

from __future__ import annotations

import html
from typing import NamedTuple

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from pimlab.compare import Prices
from pimlab.figures.systems_compare import METRICS, Comparison, comparison, family
from pimlab.models import CENT_MODELS, LLM_7B_128K_GQA, MODELS, OTHER_MODELS
from pimlab.workloads import MULTIFIELDQA
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import (
    STYLE,
    banded_colorscale,
    dataset_picker,
    float_box,
    int_box,
    legend_below_json,
    subplots_layout,
    wrap,
)
from pimlab_widgets.follow import follow_choices, listed
from pimlab_widgets.system import PART_COLORS

METRIC_LABELS = {"tokens_per_s": "tokens/s", "tokens_per_s_per_kusd": "tokens/s per k$ (equal cost)",
                 "tokens_per_s_per_TB": "tokens/s per TB of memory (equal capacity)"}
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


# Colour by scheme (a system and its variants share a hue), dash = sparse top-K; the legend groups the families.
SCHEME_COLORS = {"PIMphony on CENT": "#2ca02c", "CENT": "#98df8a", "PIMphony on NeuPIMs": "#1f77b4",
                 "NeuPIMs": "#9ecae1", "GPU-only": "#7f7f7f", "L3": "#ff7f0e", "L3 no overlap": "#fdae6b",
                 "CXL recall": "#9467bd", "CXL pnm-kv": "#d62728", "CXL png-kv": "#8c564b"}
GROUPS = ("PIM (pimlab.system)", "GPU and L3", "CXL-PNM (dashed: top-K)")
WINNER_LABELS = {"PIMphony on CENT": "PIMph.<br>CENT", "PIMphony on NeuPIMs": "PIMph.<br>NeuPIMs",  # fit 800 px
                 "CXL recall": "CXL<br>recall", "CXL pnm-kv": "CXL<br>PNM-KV", "CXL png-kv": "CXL<br>PnG-KV"}
LEGEND_ROW_PX = 19  # a legend entry at font size 11, as plotly draws it
VIEWS = {"capacity": "batch and throughput against context", "parts": "one step's parts",
         "winners": "who wins, by model and context"}


def group(name: str) -> str:
    """The legend group of a system: PIM (the system model), GPU and L3, or CXL-PNM."""
    return GROUPS[2] if name.startswith("CXL") else GROUPS[1] if name.startswith(("GPU", "L3")) else GROUPS[0]


def _scheme(name: str) -> str:
    return family(name) + (" no overlap" if "no overlap" in name else "")


def _legend_name(name: str, sparse: bool) -> str:
    """A legend entry inside its group: "CXL pnm-kv (top 4096 tokens)" -> "pnm-kv top-K"."""
    label = _scheme(name).removeprefix("CXL ")
    return label + (" top-K" if sparse else " dense" if name.startswith("CXL") else "")


def systems_figure(data: Comparison, view: str = "capacity") -> go.Figure:
    """One view of the comparison, readable at 800 px: "capacity" (largest batch and throughput against context),
    "parts" (one step of a batch drawn from the dataset) or "winners" (the best family by model and context)."""
    return go.Figure(systems_json(data, view))


def systems_json(data: Comparison, view: str = "capacity") -> dict:
    """`systems_figure` as plotly JSON (the app's redraw: no go.Figure is built)."""
    figure = {"capacity": _capacity, "parts": _parts, "winners": _winners}[view](data)
    layout = figure["layout"]
    title = VIEWS[view].capitalize() + (f" ({METRIC_LABELS[data.metric]})" if view == "winners" else f": {data.model}")
    warning = wrap(html.escape(sparse_warning(data)), 80) if view != "winners" else ""
    lines = warning.count("<br>") + 1 if warning else 0
    above = 25 if view != "parts" else 0  # subplot titles, or the winners' context axis, between warning and plot
    if warning:
        layout.setdefault("annotations", []).append(dict(
            x=0, y=1, xref="paper", yref="paper", xanchor="left", yanchor="bottom", yshift=above + 4, align="left",
            showarrow=False, font=dict(size=12, color="#d62728"), text=f"&#9888; {warning}"))
    top = 50 + 17 * lines + above + 10
    layout["title"] = dict(text=title, font=dict(size=15), yref="container", y=1, yanchor="top", pad=dict(t=12))
    layout["margin"] = dict(layout.get("margin", {}), t=top)
    layout["height"] += top
    return figure


def _capacity(data: Comparison) -> dict:
    layout = subplots_layout(2, horizontal_spacing=0.12,
                             titles=("(a) largest batch that fits", f"(b) {METRIC_LABELS[data.metric]}"))
    k = data.contexts / 1024
    values = getattr(data, data.metric)
    traces = []
    for i, name in enumerate(data.systems):
        line = dict(color=SCHEME_COLORS.get(_scheme(name), "#17becf"), dash="dash" if data.sparse[i] else "solid")
        batch = np.where(data.batch[i] > 0, data.batch[i], np.nan)
        common = dict(type="scatter", x=k, mode="lines+markers", line=line, legendgroup=group(name),
                      marker=dict(size=5), legendgrouptitle=dict(text=group(name)),
                      name=_legend_name(name, data.sparse[i]))
        traces.append(dict(common, y=batch, xaxis="x", yaxis="y",
                           hovertemplate=f"{name}<br>%{{x:.0f}}K: batch %{{y}}<extra></extra>"))
        traces.append(dict(common, y=values[i], showlegend=False, customdata=data.tpot_ms[i], xaxis="x2", yaxis="y2",
                           hovertemplate=f"{name}<br>%{{x:.0f}}K: %{{y:.4g}}, %{{customdata:.3g}} ms/token"
                                         "<extra></extra>"))
    annotations = layout["annotations"]
    for note in annotations:
        note["font"] = dict(size=13)
    if data.window < data.contexts[-1]:
        layout["shapes"] = [dict(type="rect", x0=data.window / 1024, x1=k[-1], fillcolor="gray", opacity=0.12,
                                 line=dict(width=0), xref=x, y0=0, y1=1, yref=f"{y} domain")
                            for x, y in (("x", "y"), ("x2", "y2"))]
        annotations.append(dict(x=np.log10(k[-1]), y=1, xref="x", yref="y domain", xanchor="right", yanchor="top",
                                showarrow=False, text="past the window:<br>what-if", font=dict(size=13, color="gray")))
    ticks = [c for c in k if np.log2(c) % 2 == 0]  # 4K, 16K, 64K, ...
    for axis in ("xaxis", "xaxis2"):
        layout[axis].update(type="log", title=dict(text="context (tokens)"), tickvals=ticks,
                            ticktext=[f"{c / 1024:g}M" if c >= 1024 else f"{c:g}K" for c in ticks])
    for axis in ("yaxis", "yaxis2"):
        layout[axis].update(type="log", dtick=1)
    layout["yaxis"]["title"] = dict(text="requests")
    # under the x titles, the grouped legend in one column per group (a right-hand legend squeezes the panels
    # at 800 px), then why a system is missing
    rows = 1 + max(sum(group(n) == g for n in data.systems) for g in GROUPS)  # a title and its entries
    plot_px, under_px, legend_px = 400, 62, LEGEND_ROW_PX * rows + 16
    notes = []
    if data.notes:
        shown = data.notes[:3] + ((f"... and {len(data.notes) - 3} more",) if len(data.notes) > 3 else ())
        notes = [html.escape(n if len(n) <= 100 else n[:97] + "...") for n in shown]
        annotations.append(dict(x=0, y=0, xref="paper", yref="paper", yshift=-under_px - legend_px, xanchor="left",
                                yanchor="top", align="left", showarrow=False, font=dict(size=10, color="#8a1c1c"),
                                text="<br>".join(["why a system is missing:"] + notes)))
    bottom = under_px + legend_px + (15 * (len(notes) + 1) + 8 if notes else 0)
    layout.update(height=plot_px + bottom, margin=dict(b=bottom, r=20, l=60),
                  legend=dict(orientation="h", x=0, xanchor="left", y=-under_px / plot_px, yanchor="top",
                              font=dict(size=11), groupclick="toggleitem", tracegroupgap=0,
                              grouptitlefont=dict(size=11)))
    return dict(data=traces, layout=layout)


def _parts(data: Comparison) -> dict:
    labels = ["<br>".join(short_name(n, sp).replace("PIMphony on", "PIMph.").replace("no overlap", "no\u00a0overlap")
                          .split(" ")) for n, sp in zip(data.systems, data.sparse)]
    total = sum(data.breakdown_ms.values(), np.zeros(len(data.systems)))
    share = 100 / np.where(total > 0, total, np.nan)
    traces = [dict(type="bar", x=labels, y=ms * share, name=part, marker=dict(color=PART_COLORS.get(part, "#bab0ac")),
                   customdata=np.stack([ms, data.breakdown_batch], axis=-1),
                   hovertemplate="%{x}: %{customdata[0]:.3g} ms (batch %{customdata[1]})")
              for part, ms in data.breakdown_ms.items()]
    traces.append(dict(type="scatter", x=labels, y=np.full(len(labels), 104), mode="text", showlegend=False,
                       text=[_duration(t) if t > 0 else "none<br>fits" for t in total], textfont=dict(size=10),
                       hoverinfo="skip"))
    layout = legend_below_json(dict(barmode="stack", height=470, margin=dict(l=60, r=10)), 10)
    layout["yaxis"] = dict(title=dict(text="% of the step (total on top)"), range=[0, 112])
    layout["xaxis"] = dict(title=dict(text=f"one step at {data.breakdown_context // 1024}K ({data.dataset}, a batch "
                                           "drawn from it); PIMph. = PIMphony, * sparse"),
                           tickfont=dict(size=9), tickangle=0)
    return dict(data=traces, layout=layout)


def _duration(ms: float) -> str:
    return f"{ms / 1e3:.3g}<br>s" if ms >= 1e3 else f"{ms:.3g}<br>ms"


def _winners(data: Comparison) -> dict:
    """A table-like map: rows models, columns contexts, each cell the winning family's short label on its colour,
    and a colour key (legend) with the full names."""
    families = sorted({w for w in data.winners.ravel() if w})
    codes = np.array([[families.index(w) if w else -1 for w in row] for row in data.winners], dtype=float)
    colors = [PASTELS[i % len(PASTELS)] for i in range(len(families))]
    text = [[WINNER_LABELS.get(w, w) if w else "none" for w in row] for row in data.winners]
    contexts = [f"{c // 1024}K" for c in data.contexts]
    traces = [dict(type="heatmap", z=codes, x=contexts, y=list(data.winner_models), text=text, texttemplate="%{text}",
                   textfont=dict(size=11), showscale=False, xgap=2, ygap=2, zmin=-1.5,
                   zmax=max(len(families), 1) - 0.5,
                   colorscale=banded_colorscale(["#ffffff"] + colors[:max(len(families), 1)]),
                   hovertemplate="%{y} at %{x}: %{customdata}<extra></extra>",
                   customdata=[[w or "no system holds one request" for w in row] for row in data.winners])]
    traces += [dict(type="scatter", x=[None], y=[None], mode="markers", name=family_name, hoverinfo="skip",
                    marker=dict(symbol="square", size=14, color=color, line=dict(color="#999", width=1)))
               for family_name, color in zip(families, colors)]
    layout = dict(height=110 + 70 * len(data.winner_models), plot_bgcolor="white",
                  legend=dict(orientation="h", x=0, y=-0.15, yanchor="top", font=dict(size=12),
                              title=dict(text=f"best by {METRIC_LABELS[data.metric]}:"), itemclick=False,
                              itemdoubleclick=False),
                  margin=dict(b=90, l=130),
                  xaxis=dict(title=dict(text="context"), side="top", showgrid=False, tickfont=dict(size=12)),
                  yaxis=dict(autorange="reversed", showgrid=False, tickfont=dict(size=12)))
    return dict(data=traces, layout=layout)


def _compute(model, dataset, metric, dense_only, batch, budget_tokens, steady_fraction, gpu_usd, dimm_pim_usd,
             cxl_pnm_device_usd, pim_module_usd):
    prices = Prices(gpu_usd=gpu_usd, dimm_pim_usd=dimm_pim_usd, cxl_pnm_device_usd=cxl_pnm_device_usd,
                    pim_module_usd=pim_module_usd)
    return comparison(model, dataset, dense_only=dense_only, metric=metric, prices=prices, batch=batch,
                      budget_tokens=budget_tokens, steady_fraction=steady_fraction)


def check_systems(dataset, budget_tokens, **_) -> None:
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
                dense_only: bool = False, view: str = "capacity") -> LiveApp:
    """Model, dataset, metric, dense-only, the batch, CXL-PNM's selection budget and steady share, and the prices."""
    defaults = Prices()
    controls = {
        "view": widgets.Dropdown(options=[(text, v) for v, text in VIEWS.items()], value=view, description="show",
                                 style=STYLE),
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

    def compute(view, **values):
        check_systems(**values)
        return Shown(_compute(**values), view)

    return LiveApp(controls, compute, lambda shown: systems_json(shown.data, shown.view), follow=_follow,
                   help=HELP)


class Shown(NamedTuple):
    """What the app draws: the comparison and the view of it."""

    data: Comparison
    view: str
