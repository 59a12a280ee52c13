"""System apps: decode-step breakdowns (Figs. 13/14), (TP, PP) grids (Fig. 15), energy (Fig. 16), scalability
(Fig. 17), utilization (Fig. 4) and the GPU comparison (Fig. 20), each a static figure builder and a LiveApp."""

from __future__ import annotations

from dataclasses import replace

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from pimlab import system
from pimlab.figures.fig04 import UtilizationData, fig04
from pimlab.figures.fig13 import SYSTEM_MODULES, ThroughputBars
from pimlab.figures.fig15 import TpPpData
from pimlab.figures.fig16 import ATTENTION_PARTS, BARS, EnergyData
from pimlab.figures.fig17 import (
    CAPACITIES_GB,
    CONTEXTS,
    MODULE_GB,
    ScalabilityData,
    scalability_point,
    variation_lengths,
)
from pimlab.figures.fig20 import GpuComparison
from pimlab.models import LLM_7B_32K, LLM_7B_128K_GQA
from pimlab.step import COMPONENTS
from pimlab.validate import check_int
from pimlab.workloads import MULTIFIELDQA, QMSUM
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import (
    STYLE,
    dataset_picker,
    fit_ticks,
    fit_ticks_json,
    int_box,
    model_picker,
    panel_axes,
    subplots_layout,
    wrap,
)
from pimlab_widgets.follow import choice, follow_choices, listed

TECH_COLORS = ("#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c")
PART_COLORS = {"fc": "#1f77b4", "qk": "#ff7f0e", "softmax": "#d62728", "sv": "#2ca02c", "nmu": "#9467bd",
               "link": "#8c564b", "bubble": "#e377c2", "exposed": "#bcbd22", "other": "#7f7f7f",
               "attention": "#17becf", "selection": "#aec7e8"}


def _kind_picker(value: str = "cent") -> widgets.Dropdown:
    return choice([("CENT (PIM-only)", "cent"), ("NeuPIMs (xPU+PIM)", "neupims")], value, "system")


# --- Figs. 13/14: one step, technique by technique ------------------------------------------------------
def bars_figure(data: ThroughputBars) -> go.Figure:
    """Speedup over the baseline per case, one bar per technique step (the paper's incremental bars)."""
    figure = go.Figure()
    for k, tech in enumerate(data.techniques):
        figure.add_trace(go.Bar(x=list(data.cases), y=data.speedup[:, k], name=tech, marker_color=TECH_COLORS[k],
                                customdata=np.stack([data.tokens_per_s[:, k], data.batch[:, k]], -1),
                                hovertemplate="%{x}: %{y:.2f}x (%{customdata[0]:.0f} tok/s, "
                                              "batch %{customdata[1]:.1f})"))
    name = "PIM-only (CENT)" if data.system == "cent" else "xPU+PIM (NeuPIMs)"
    figure.update_layout(barmode="group", title=f"Throughput of {name}, panel ({data.panel})", height=420,
                         yaxis_title="speedup over the baseline")
    fit_ticks(figure)
    return figure


def steps_figure(steps: dict) -> go.Figure:
    """Per-token time by component for each technique (stacked), tokens/s on top."""
    figure = go.Figure()
    names = list(steps)
    for part in COMPONENTS:
        y = [1e3 * steps[n].components_s.get(part, 0.0) / steps[n].batch for n in names]
        if any(y):
            figure.add_trace(go.Bar(x=names, y=y, name=part, marker_color=PART_COLORS[part],
                                    hovertemplate=part + ": %{y:.3g} ms per token"))
    for n in names:
        r = steps[n]
        figure.add_annotation(x=n, y=1e3 * r.latency_s / r.batch, text=f"{r.tokens_per_s:.0f} tok/s<br>batch {r.batch}",
                              showarrow=False, yanchor="bottom")
    first = steps[names[0]]
    flags = f"<br><sup>{wrap('what-if: ' + ', '.join(first.whatifs))}</sup>" if first.whatifs else ""
    figure.update_layout(barmode="stack", height=440, yaxis_title="ms of step time per output token",
                         title=f"{first.model} on {first.system}: one decode step{flags}",
                         legend=dict(orientation="h", y=-0.2))
    return figure


def _steps(kind, model, dataset, modules, layout, host_serial, ignore_capacity, requests=256):
    pool = dataset.sample(requests, 0)
    out = {}
    for tech in system.TECHNIQUES:
        if layout == "best":
            out[tech] = system.search(kind, model, modules, pool, tech, host_serial=host_serial).step
            continue
        tp, pp = layout
        batch = pool[:max(1, system.admitted(system.Layout(system.system_for(kind, modules), model, tp, pp), pool,
                                             "dpa" in tech))] if not ignore_capacity else pool[:32]
        out[tech] = system.run_step(kind, model, modules, tp, pp, batch, tech, host_serial=host_serial,
                                    ignore_capacity=ignore_capacity)
    return out


# --- what the model accepts: the apps' lists offer only these (pimlab_widgets.follow) --------------------
KIND_NAMES = {"cent": "CENT", "neupims": "NeuPIMs"}
MODULE_COUNTS = (1, 2, 4, 8, 16, 32, 64)
DPA_STATES = (False, True)  # the techniques' two admission rules: static reservations, DPA's chunks


def _modules_picker(value: int) -> widgets.Dropdown:
    return choice([(str(n), n) for n in MODULE_COUNTS], value, "modules")


def fits_window(model, dataset) -> None:
    """ValueError unless every request of the workload fits the model's context window."""
    if dataset.max > model.context_window:
        raise ValueError(f"workload must fit the model's window: {dataset.name} reaches {dataset.max:,} tokens, "
                         f"{model.name}'s window is {model.context_window:,}")


def _first_request(dataset) -> int:
    """The first request of the pool the apps draw (dataset.sample(256, 0)): a layout admits it or none."""
    return int(dataset.sample(256, 0)[0])


def layout_label(layout) -> str:
    return layout if layout == "best" else f"TP{layout[0]} x PP{layout[1]}"


def _layout_options(values: dict) -> list:
    return [("best", "best")] + [(layout_label(lay), lay) for lay in system.layouts(values["kind"], values["model"],
                                                                                  values["modules"])]


def check_steps(kind, model, dataset, modules, layout, host_serial=True, ignore_capacity=False) -> None:
    """ValueError, naming the controls as shown, unless the throughput app can run these values."""
    fits_window(model, dataset)
    first, where = _first_request(dataset), f"{modules} {KIND_NAMES[kind]} modules"
    if layout == "best":
        if not all(system.holds_one(kind, model, modules, first, dpa) for dpa in DPA_STATES):
            raise ValueError(f"modules must hold {model.name} and one {dataset.name} request in some layout; "
                             f"{where} do not")
        return
    layouts = system.layouts(kind, model, modules)
    if layout not in layouts:
        raise ValueError(f"layout must be best or one of {', '.join(map(layout_label, layouts))}"
                         f" for {model.name} on {where}; got {layout!r}")
    if not ignore_capacity and not all(system.holds_one(kind, model, modules, first, dpa, layout)
                                       for dpa in DPA_STATES):
        raise ValueError(f"layout {layout_label(layout)} on {where} must hold {model.name} and one {dataset.name} "
                         "request; it does not: pick layout best, more modules, or tick what-if: ignore capacity")


HELP_LISTS = ("The lists offer only what the model can run with the other choices: a workload longer than the "
              "model's window, or a model that does not fit the modules (and layout), is left out. Pick more "
              "modules, or layout <b>best</b>, to see it again.")


def throughput_app(kind: str = "cent", model=LLM_7B_32K, dataset=QMSUM) -> LiveApp:
    """System, model, workload, modules, layout and CENT's host-burst accounting drive one step per technique."""
    modules = SYSTEM_MODULES[(kind, 7 if model.layers == 32 else 72)]
    controls = {
        "kind": _kind_picker(kind), "model": listed(model_picker(model)), "dataset": listed(dataset_picker(dataset)),
        "modules": _modules_picker(modules), "layout": choice(_layout_options, (modules, 1), "layout"),
        "host_serial": widgets.Checkbox(value=True, description="CENT host bursts serial", style=STYLE),
        "ignore_capacity": widgets.Checkbox(value=False, description="what-if: ignore capacity (32 requests)",
                                            style=STYLE),
    }

    def compute(**values):
        check_steps(**values)
        return _steps(**values)

    return LiveApp(controls, compute, steps_figure, follow=lambda c: follow_choices(c, check_steps),
                   help="<b>layout</b>: TP x PP units, or <b>best</b> (the search of Fig. 15). <b>CENT host bursts "
                        "serial</b>: each block's softmax and vector bursts pass the device's front end one after "
                        "another, as CENT's simulator has them (off: spread over the block's channel buses). "
                        + HELP_LISTS)


# --- Fig. 15: the (TP, PP) grid ------------------------------------------------------------------------
def tp_pp_figure(data: TpPpData) -> go.Figure:
    labels = [f"TP{tp} x PP{pp}" for tp, pp in data.layouts]
    figure = go.Figure()
    for k, tech in enumerate(data.techniques):
        figure.add_trace(go.Bar(x=labels, y=data.tokens_per_s[:, k], name=tech, marker_color=TECH_COLORS[k],
                                customdata=data.mean_batch[:, k],
                                hovertemplate="%{y:.0f} tok/s, mean batch %{customdata:.1f}"))
    figure.update_layout(barmode="group", title=f"(TP, PP) on 8 CENT modules: {data.case}", height=420,
                         yaxis_title="tokens/s (serving run)", legend=dict(orientation="h", y=-0.2))
    return figure


def search_figure(search: system.Search) -> go.Figure:
    """tokens/s of every layout of one search; refused layouts listed under the plot."""
    ok = {k: v for k, v in search.results.items() if isinstance(v, system.StepResult)}
    labels = [f"TP{tp} x PP{pp}" for tp, pp in ok]
    colors = ["#2ca02c" if k == search.best else "#1f77b4" for k in ok]
    figure = go.Figure(go.Bar(x=labels, y=[r.tokens_per_s for r in ok.values()], marker_color=colors,
                              customdata=[r.batch for r in ok.values()],
                              hovertemplate="%{y:.0f} tok/s, batch %{customdata}"))
    refused = [f"TP{tp} x PP{pp}" for (tp, pp), r in search.results.items() if not isinstance(r, system.StepResult)]
    note = f"refused (capacity): {', '.join(refused)}" if refused else "every layout admits a batch"
    figure.update_layout(title=f"Every layout, best in green; {note}", height=400, yaxis_title="tokens/s")
    return figure


def tp_pp_app(model=LLM_7B_128K_GQA, dataset=MULTIFIELDQA, techniques: str = "tcp+dcs+dpa") -> LiveApp:
    """Model, workload, system size and techniques drive a one-step search over every layout."""
    controls = {
        "kind": _kind_picker("cent"), "model": listed(model_picker(model)), "dataset": listed(dataset_picker(dataset)),
        "modules": _modules_picker(8), "techniques": choice([(t, t) for t in system.TECHNIQUES], techniques,
                                                           "techniques"),
    }

    def compute(kind, model, dataset, modules, techniques):
        check_search(kind, model, dataset, modules, techniques)
        return system.search(kind, model, modules, dataset.sample(256, 0), techniques)

    return LiveApp(controls, compute, search_figure, follow=lambda c: follow_choices(c, check_search),
                   help=HELP_LISTS)


def check_search(kind, model, dataset, modules, techniques) -> None:
    """ValueError, naming the controls as shown, unless some layout runs these values."""
    fits_window(model, dataset)
    if not system.holds_one(kind, model, modules, _first_request(dataset), system.Techniques.parse(techniques).dpa):
        raise ValueError(f"modules must hold {model.name} and one {dataset.name} request in some layout with "
                         f"{techniques}; {modules} {KIND_NAMES[kind]} modules do not")


# --- Fig. 16: energy -----------------------------------------------------------------------------------
ENERGY_BAR_LABELS = {"baseline": "CENT", "tcp+dcs+dpa": "+PIMphony"}  # the short names under the bars


def energy_figure(data: EnergyData) -> go.Figure:
    """(a) over (b), each across the width: a bar per case (model, the outer tick label; its workload on hover)
    and technique (the inner one)."""
    return go.Figure(energy_json(data))


def energy_json(data: EnergyData) -> dict:
    """`energy_figure` as plotly JSON (what the app draws)."""
    layout = subplots_layout(1, rows=2, vertical_spacing=0.18,
                             titles=("(a) FC + attention (mJ/token)", "(b) attention by part (mJ/token)"))
    x = [[c.split(" / ")[0] for c in data.cases for _ in data.bars],
         [ENERGY_BAR_LABELS.get(b, b) for _ in data.cases for b in data.bars]]
    hover = [f"{c}, {b}" for c in data.cases for b in data.bars]
    traces = []

    def bar(y, name, color, row):
        traces.append(dict(type="bar", x=x, y=1e3 * y.ravel(), name=name, marker=dict(color=color), customdata=hover,
                           hovertemplate=f"{name}: %{{y:.3g}} mJ/token<br>%{{customdata}}<extra></extra>",
                           **panel_axes(row - 1)))

    bar(data.fc_j, "FC", "#1f77b4", 1)
    bar(data.attention_j, "attention", "#ff7f0e", 1)
    for k, part in enumerate(ATTENTION_PARTS):
        bar(data.attention_parts_j[..., k], part, ("#2ca02c", "#9467bd", "#d62728", "#7f7f7f")[k], 2)
    layout.update(barmode="stack", height=640, title=dict(text="CENT vs CENT + PIMphony (CENT's power model)"))
    return fit_ticks_json(dict(data=traces, layout=layout))


def energy_app(model=LLM_7B_128K_GQA, dataset=MULTIFIELDQA) -> LiveApp:
    """Model, workload and CENT's host-burst accounting drive the energy bars of one case."""
    controls = {"dataset": listed(dataset_picker(dataset)), "model": listed(model_picker(model)),
                "host_serial": widgets.Checkbox(value=True, description="CENT host bursts serial", style=STYLE)}

    def compute(dataset, model, host_serial):
        from pimlab.figures.fig16 import _per_token

        check_energy(dataset, model, host_serial)
        pool = dataset.sample(256, 0)
        modules = _energy_modules(model)
        rows = [_per_token(system.search("cent", model, modules, pool, bar, host_serial=host_serial).step)
                for bar in BARS]
        return EnergyData((f"{model.name} / {dataset.name}",), BARS, np.array([[r[0] for r in rows]]),
                          np.array([[r[1] for r in rows]]), np.array([[r[2] for r in rows]]),
                          np.array([[r[3] for r in rows]]))

    return LiveApp(controls, compute, energy_json, follow=lambda c: follow_choices(c, check_energy),
                   help=HELP_LISTS)


def _energy_modules(model) -> int:
    return SYSTEM_MODULES[("cent", 72 if model.layers == 80 else 7)]


def check_energy(dataset, model, host_serial=True) -> None:
    """ValueError, naming the controls as shown, unless every bar of the energy app runs."""
    fits_window(model, dataset)
    modules = _energy_modules(model)
    if not all(system.holds_one("cent", model, modules, _first_request(dataset), system.Techniques.parse(bar).dpa)
               for bar in BARS):
        raise ValueError(f"model must fit {modules} CENT modules with one {dataset.name} request; "
                         f"{model.name} does not")


# --- Fig. 17: scalability -----------------------------------------------------------------------------
def context_label(tokens: int) -> str:
    """A context length as a short tick label: 256, 4K, 64K, 1M (binary K and M, as the paper's axes)."""
    return f"{tokens >> 20}M" if tokens >= 1 << 20 else f"{tokens >> 10}K" if tokens >= 1024 else str(tokens)


def scalability_figure(data: ScalabilityData) -> go.Figure:
    """(a) and (b) side by side, (c) under them across the width: three panels in a row crowd their ticks."""
    return go.Figure(scalability_json(data))


def scalability_json(data: ScalabilityData) -> dict:
    """`scalability_figure` as plotly JSON (what the app draws)."""
    layout = subplots_layout(2, rows=2, wide_last_row=True, vertical_spacing=0.2, titles=(
        f"(a) tokens/s at {context_label(data.capacity_context)}", f"(b) speedup at {data.context_capacity_GB} GB",
        "(c) MAC utilization (%)"))
    caps = [f"{c} GB" for c in data.capacities_GB]
    ctx = [context_label(t) for t in data.contexts]
    traces = [
        dict(type="bar", x=caps, y=data.baseline_by_capacity, name="baseline", marker=dict(color="#7f7f7f"),
             **panel_axes(0)),
        dict(type="bar", x=caps, y=data.pimphony_by_capacity, name="PIMphony", marker=dict(color="#2ca02c"),
             **panel_axes(0)),
        dict(type="bar", x=ctx, y=data.speedup_by_context, name="speedup", marker=dict(color="#1f77b4"),
             text=[f"{s:.1f}x" for s in data.speedup_by_context], textposition="outside", textangle=0,
             textfont=dict(size=11), constraintext="none", cliponaxis=False, customdata=data.contexts,
             hovertemplate="%{customdata} tokens: %{y:.2f}x<extra></extra>", showlegend=False, **panel_axes(1)),
        dict(type="scatter", x=ctx, y=100 * data.baseline_utilization, name="baseline util",
             line=dict(color="#7f7f7f"), **panel_axes(2)),
        dict(type="scatter", x=ctx, y=100 * data.pimphony_utilization, name="PIMphony util",
             line=dict(color="#2ca02c"), **panel_axes(2)),
    ]
    layout["yaxis2"]["range"] = [0, 1.2 * max(data.speedup_by_context)]  # room for the labels on top
    layout.update(barmode="group", height=600, title=dict(text=f"LLM-7B-128K-GQA on {data.system}, 3-sigma contexts"))
    return fit_ticks_json(dict(data=traces, layout=layout))


def scalability_app(kind: str = "cent", capacity_GB: int = 512) -> LiveApp:
    """System and capacity drive the context sweep (cached per point; a new capacity takes a few seconds)."""
    controls = {"kind": _kind_picker(kind),
                "capacity_GB": choice([(str(c), c) for c in CAPACITIES_GB], capacity_GB, "capacity (GB)")}

    def compute(kind, capacity_GB):
        check_scalability(kind, capacity_GB)

        def rates(tech, pairs):
            return [scalability_point(kind, c, t, tech) for c, t in pairs]

        a = [(c, 65536) for c in CAPACITIES_GB]
        b = [(capacity_GB, t) for t in CONTEXTS]
        base_a, best_a = rates("baseline", a), rates("tcp+dcs+dpa", a)
        base_b, best_b = rates("baseline", b), rates("tcp+dcs+dpa", b)

        def tps(rs):
            return np.array([r.tokens_per_s for r in rs])

        def util(rs):
            return np.array([r.mac_utilization for r in rs])

        return ScalabilityData(kind, np.array(CAPACITIES_GB), 65536, tps(base_a), tps(best_a), np.array(CONTEXTS),
                               capacity_GB, tps(base_b), tps(best_b), util(base_b), util(best_b))

    return LiveApp(controls, compute, scalability_json, follow=lambda c: follow_choices(c, check_scalability),
                   help="The capacity list offers the sizes that hold one request at every context of (b) "
                        "(128 GB holds no 1M-token request).")


def check_scalability(kind, capacity_GB) -> None:
    """ValueError, naming the controls as shown, unless every point of the scalability app runs: (a) every
    capacity at 64K, (b) `capacity_GB` at every context (scalability_point's pools and stretched window)."""
    points = [(c, 65536) for c in CAPACITIES_GB] + [(capacity_GB, t) for t in CONTEXTS]
    for capacity, context in points:
        first = variation_lengths(context, 256, 0)
        model = replace(LLM_7B_128K_GQA, context_window=max(LLM_7B_128K_GQA.context_window, int(first.max())))
        modules = capacity // MODULE_GB[kind]
        if not all(system.holds_one(kind, model, modules, int(first[0]), dpa) for dpa in DPA_STATES):
            raise ValueError(f"capacity (GB) must hold one request of {context // 1024}K tokens on "
                             f"{KIND_NAMES[kind]}; {capacity} GB does not")


# --- Fig. 4: utilization ---------------------------------------------------------------------------------
def utilization_figure(data: UtilizationData) -> go.Figure:
    """Utilization per capacity, a bar per series; each bar's batch is in its hover text (and the notebook's table)."""
    return go.Figure(utilization_json(data))


def utilization_json(data: UtilizationData) -> dict:
    """`utilization_figure` as plotly JSON (what the app draws)."""
    layout = subplots_layout(len(data.contexts),
                             titles=[f"({'ab'[i]}) {c // 1024}K context" for i, c in enumerate(data.contexts)])
    capacities = [f"{c} GB" for c in data.capacities_GB]
    traces = [dict(type="bar", x=capacities, y=100 * data.utilization[i, :, k], name=series,
                   marker=dict(color=TECH_COLORS[k + 1 if k else 0]), showlegend=i == 0, legendgroup=series,
                   customdata=data.batch[i, :, k], hovertemplate="%{x}: %{y:.1f}%, batch %{customdata}",
                   **panel_axes(i))
              for i in range(len(data.contexts)) for k, series in enumerate(data.series)]
    layout["yaxis"]["title"] = dict(text="PIM MAC utilization (%)")
    note = wrap(f"reading: {data.whatif}; hover a bar for its batch", 90)  # 90 small characters: 600 px
    lines = 2 + note.count("<br>")
    layout.update(barmode="group", height=500, margin=dict(t=30 + 18 * lines + 40),  # + panel titles
                  title=dict(text=f"Fig. 4: PIM MAC utilization<br><sup>{note}</sup>", y=1, yref="container",
                             yanchor="top", pad=dict(t=30)))
    return fit_ticks_json(dict(data=traces, layout=layout))


def utilization_app() -> LiveApp:
    """The random seed of the 3-sigma contexts drives Fig. 4 (the batches are the figure's labels)."""
    controls = {"seed": int_box(0, "seed", 0, 99)}

    def compute(seed):
        return fig04(check_int("seed", seed, 0, 99))

    return LiveApp(controls, compute, utilization_json)


# --- Fig. 20: GPUs --------------------------------------------------------------------------------------
def gpu_figure(data: GpuComparison) -> go.Figure:
    figure = go.Figure()
    names = ("GPU (A100s)", data.system, f"{data.system} + PIMphony")
    for k, name in enumerate(names):
        figure.add_trace(go.Bar(x=list(data.cases), y=data.gain[:, k], name=name,
                                marker_color=TECH_COLORS[(0, 1, 3)[k]],
                                hovertemplate=f"{name}, %{{x}}: %{{y:.2f}}x the GPU<extra></extra>"))
    figure.update_layout(barmode="group", height=420, yaxis_title="throughput gain over the GPU",
                         title="Memory-matched A100s vs PIM")
    fit_ticks(figure)
    return figure


def gpu_app(kind: str = "cent") -> LiveApp:
    """System drives the comparison with memory-matched A100s."""
    from pimlab.figures.fig20 import fig20

    return LiveApp({"kind": _kind_picker(kind)}, lambda kind: fig20(kind), gpu_figure)


__all__ = ["bars_figure", "steps_figure", "throughput_app", "check_steps", "check_search", "check_energy",
           "check_scalability", "context_label", "energy_json", "scalability_json", "utilization_json", "tp_pp_figure",
           "search_figure",
           "tp_pp_app", "energy_figure", "energy_app", "scalability_figure", "scalability_app", "utilization_figure",
           "utilization_app", "gpu_figure", "gpu_app"]
