"""Latency-breakdown bars with MAC utilization (Figs. 8 and 9) and ping-pong vs DCS utilization (Fig. 18).

`breakdown_figure` stacks the Fig. 8 categories (MAC, ACT/PRE, REF, DT-GBuf, DT-OutReg, pipeline penalty) for
every (group, variant) bar and draws each variant's MAC utilization as a line on a second axis. The apps
recompute through pimlab.figures, which memoize each bar on its frozen inputs: the apps pass a
`dataclasses.replace` of the timing and keep no cache of their own.
"""

from __future__ import annotations

import dataclasses

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from pimlab.engine.timing import aim_engine
from pimlab.figures.fig08 import Fig8Data, fig8
from pimlab.figures.fig09 import Fig9Data, fig9
from pimlab.figures.fig18 import Fig18Data, fig18
from pimlab.hardware import AIM, AIM_TIMING
from pimlab.validate import check_choice
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import STYLE, IntsBox, fit_ticks_json, fitted_ticks, int_box, parse_ints

__all__ = ["PART_COLORS", "VIEWS", "breakdown_figure", "breakdown_json", "fig8_figure", "fig9_figure", "fig18_figure",
           "fig8_json", "fig9_json", "fig18_json",
           "fig8_compute", "fig9_compute", "fig18_compute", "fig8_app", "fig9_app", "fig18_app",
           "group_label", "APP_TOKENS"]

PART_COLORS = {"MAC": "#ff7f0e", "ACT/PRE": "#7f7f7f", "REF": "#d62728", "DT-GBuf": "#1f77b4",
               "DT-OutReg": "#2ca02c", "Pipeline penalty": "#c5b0d5"}
VARIANT_COLORS = ("#8c564b", "#e377c2", "#17becf", "#bcbd22")
VIEWS = ("cycles", "cycles per query head", "% of run")
# a bar's tick when the variants' names do not fit (`breakdown_json`)
FIG8_CODES = {"static": "S", "static, no mode switch": "N", "ping-pong": "P", "DCS": "D"}
POLICY_COLORS = {"static": "#8c564b", "static, no mode switch": "#c49c94", "ping-pong": "#9467bd", "DCS": "#ff7f0e"}
# the attention apps' default context: a whole number of row periods, small enough that a knob that
# re-simulates every bar stays within the update budget (bench/bench_widgets_pipeline.py); any length works
APP_TOKENS = 512


SLOW_HELP = ("Long runs (many MACs or tokens) take a while: the app shows <i>working...</i> with its progress and a "
             "<b>Cancel</b> button, and the figure keeps the last values until the new one is ready.")

# the ranges pimlab.figures accepts (fig08, fig09, fig18, isa); tMODCH's upper end is the apps' own
DIM_RANGE, GROUP_RANGE, TOKENS_RANGE = (16, 8192), (1, 16), (16, 1 << 20)
TMODCH_MAX = 1024
LANES = AIM.mac_lanes  # elements one GBuf entry holds: a head must fit the GBuf (fig18: half of it)


def _view(value: str, views=VIEWS) -> widgets.ToggleButtons:
    return widgets.ToggleButtons(options=views, value=value, description="show",
                                 style=dict(STYLE, button_width="auto"))  # each button as wide as its text




def breakdown_figure(groups, variants, keys, cycles: np.ndarray, utilization: np.ndarray, view: str = "cycles",
                     per_group: np.ndarray | None = None, title: str = "", group_title: str = "",
                     codes: dict | None = None) -> go.Figure:
    """Stacked breakdown bars on a two-level axis (group, variant) and a MAC-utilization line per variant.

    cycles[group, variant, key]; utilization[group, variant] in 0..1. view: "cycles", "% of run", or
    "cycles per query head" (cycles divided by `per_group[group]`, e.g. the GQA group size). codes: a short tick
    label per variant, used when the names would not fit their bars at 800 px (they would stand upright): the x
    title then gives the key, and hover the full names.
    """
    return go.Figure(breakdown_json(groups, variants, keys, cycles, utilization, view, per_group, title, group_title,
                                    codes))


def breakdown_json(groups, variants, keys, cycles: np.ndarray, utilization: np.ndarray, view: str = "cycles",
                   per_group: np.ndarray | None = None, title: str = "", group_title: str = "",
                   codes: dict | None = None) -> dict:
    """`breakdown_figure` as plotly JSON (what the apps redraw from: no go.Figure to validate on every change)."""
    check_choice("view", view, VIEWS)
    cycles = np.asarray(cycles, dtype=float)
    if view == "% of run":
        shown = 100 * cycles / np.maximum(cycles.sum(axis=-1, keepdims=True), 1)
        y_title = "% of the run"
    elif view == "cycles per query head":
        scale = np.ones(len(groups)) if per_group is None else np.asarray(per_group, dtype=float)
        shown = cycles / scale[:, None, None]
        y_title = "cycles per query head"
    else:
        shown, y_title = cycles, "cycles"
    layout = dict(
        barmode="stack", title=dict(text=title, font=dict(size=14)), height=560, margin=dict(t=80, b=60),
        xaxis=dict(title=dict(text=group_title)), yaxis=dict(title=dict(text=y_title)),
        legend=dict(traceorder="normal"),
        yaxis2=dict(title=dict(text="MAC utilization (%)"), overlaying="y", side="right", range=[0, 100],
                    tickmode="linear", tick0=0, dtick=20, showgrid=False))
    outer = [str(g) for g in groups for _ in variants]
    ticks = [str(v) for v in variants]
    if codes and fitted_ticks([dict(type="bar", x=[outer, ticks * len(groups)])], layout)["xaxis"]["tickangle"]:
        ticks = [codes[v] for v in variants]
        legend = "; ".join(f"{codes[v]} = {v}" for v in variants)
        layout["xaxis"]["title"]["text"] += f"<br><span style='font-size:12px'>bars: {legend}</span>"
    inner, full = ticks * len(groups), [f"{g}, {v}" for g in groups for v in variants]  # full: hover's name
    data = [dict(type="bar", x=[outer, inner], y=shown[:, :, k].ravel().tolist(), name=key,
                 marker=dict(color=PART_COLORS.get(key, "#7f7f7f")), customdata=full,
                 hovertemplate=f"{key}: %{{y:,.4~g}}<extra>%{{customdata}}</extra>")
            for k, key in enumerate(keys)]
    data += [dict(type="scatter", x=[[str(g) for g in groups], [ticks[v]] * len(groups)],
                  y=(100 * np.asarray(utilization)[:, v]).round(2).tolist(), yaxis="y2", mode="lines+markers",
                  name=f"MAC util. {variant}", line=dict(color=VARIANT_COLORS[v % len(VARIANT_COLORS)], width=2),
                  marker=dict(size=8, symbol="diamond"), customdata=full[v::len(variants)],
                  hovertemplate="MAC utilization %{y:.1f}%<extra>%{customdata}</extra>")
             for v, variant in enumerate(variants)]
    return fit_ticks_json(dict(data=data, layout=layout))


# --- Fig. 8 -------------------------------------------------------------------------------------------------------

def fig8_figure(data: Fig8Data, view: str = "cycles") -> go.Figure:
    """Fig. 8: breakdown and MAC utilization per dimension, the scheduler variants side by side."""
    return go.Figure(fig8_json(data, view))


def fig8_json(data: Fig8Data, view: str = "cycles") -> dict:
    """`fig8_figure` as plotly JSON (the app's redraw)."""
    mac = data.breakdown[:, 0, list(data.keys).index("MAC")]
    work = f"{mac.min():,}" if mac.min() == mac.max() else f"{mac.min():,}-{mac.max():,}"
    return breakdown_json(data.dims.tolist(), data.variants, data.keys, data.breakdown, data.utilization, view,
                            title=f"Fig. 8: GEMV latency breakdown<br><sup>{data.preset} timing, {work} MAC cycles "
                                  f"per point; ping-pong and DCS with {data.obuf_entries} OBuf entries</sup>",
                            group_title="matrix dimension d_in = d_out", codes=FIG8_CODES)


def _engine(tMODCH: int, refresh: bool):
    """pimlab's AiM controller timing with the two knobs the apps expose."""
    return aim_engine(dataclasses.replace(AIM_TIMING, tMODCH=tMODCH, refresh=bool(refresh)))


def fig8_compute(dims="64, 128, 256, 512, 1024", obuf_entries: int = 2, min_macs: int = 4096, tMODCH: int = 32,
                 refresh: bool = True, view: str = "cycles"):
    """(Fig. 8 data, view) for the app; the figure memoizes each bar, so a knob re-simulates only its bars."""
    check_choice("view", view, VIEWS)
    return fig8(parse_ints("dims", dims), obuf_entries, min_macs, _engine(tMODCH, refresh)), view


FIG8_HELP = ("<b>d_in = d_out</b>: the GEMV sizes, comma-separated. <b>DCS OBuf entries</b>: output entries DCS "
             "may fill (static uses one OutReg). <b>MACs per point</b>: each point repeats its GEMV until it has done "
             "this many MAC commands. <b>tMODCH</b>: the mode switch the static controller pays between register "
             "I/O and MACs (AiM: 32 cycles). <b>refresh</b>: charge tRFC every tREFI. Type and press Enter. "
             + SLOW_HELP)


def fig8_app(dims: str = "64, 128, 256, 512, 1024", obuf_entries: int = 2, min_macs: int = 4096, tMODCH: int = 32,
             refresh: bool = True, view: str = "cycles") -> LiveApp:
    """Dimensions, DCS's OBuf entries, MACs per point, the mode switch tMODCH and refresh drive Fig. 8."""
    controls = {
        "view": _view(view, ("cycles", "% of run")),
        "dims": IntsBox(dims, "d_in = d_out", *DIM_RANGE, most=12),
        "obuf_entries": int_box(obuf_entries, "DCS OBuf entries", 2, 64),  # ping-pong needs two halves
        "min_macs": int_box(min_macs, "MACs per point", 1, 1 << 22),
        "tMODCH": int_box(tMODCH, "tMODCH (cycles)", 0, TMODCH_MAX),
        "refresh": widgets.Checkbox(value=refresh, description="refresh", style=STYLE, indent=False),
    }
    return LiveApp(controls, fig8_compute, lambda data_view: fig8_json(*data_view), help=FIG8_HELP)


# --- Fig. 9 -------------------------------------------------------------------------------------------------------

FIG9_VARIANTS = ("static", "static RR", "DCS", "DCS RR")  # RR: row-reuse mapping
FIG9_CODES = dict(zip(FIG9_VARIANTS, ("S", "SR", "D", "DR")))


def group_label(group: int) -> str:
    return "MHA" if int(group) == 1 else f"GQA g={int(group)}"


def fig9_figure(data: Fig9Data, view: str = "cycles") -> go.Figure:
    """Fig. 9: {MHA, GQA g} x {static, DCS} x {no reuse, row reuse} breakdown bars of one KV head."""
    return go.Figure(fig9_json(data, view))


def fig9_json(data: Fig9Data, view: str = "cycles") -> dict:
    """`fig9_figure` as plotly JSON (the app's redraw)."""
    # breakdown[g, reuse, policy, key] -> variants in the order static, static + reuse, DCS, DCS + reuse
    cycles = data.breakdown.transpose(0, 2, 1, 3).reshape(len(data.groups), 4, len(data.keys))
    util = data.utilization.transpose(0, 2, 1).reshape(len(data.groups), 4)
    return breakdown_json([group_label(g) for g in data.groups], FIG9_VARIANTS, data.keys, cycles, util, view,
                            per_group=data.groups,
                            title=f"Fig. 9: QK^T + SV of one KV head over {data.tokens:,} tokens<br><sup>head dim "
                                  f"{data.head_dim}; DCS with {data.obuf_entries} OBuf entries</sup>",
                            group_title="query heads per KV head; RR = row-reuse mapping", codes=FIG9_CODES)


def _attention_controls(groups: str, tokens: int, head_dim: int, head_dim_max: int) -> dict:
    """The workload controls the attention apps (Figs. 9 and 18) share."""
    return {"groups": IntsBox(groups, "group sizes g", *GROUP_RANGE, most=8),
            "tokens": int_box(tokens, "tokens", *TOKENS_RANGE),
            "head_dim": int_box(head_dim, "head dim", 1, head_dim_max)}


ATTENTION_HELP = ("<b>group sizes g</b>: query heads per KV head (1 = MHA), comma-separated. <b>tokens</b>: the "
                  "context of the one KV head simulated. <b>head dim</b> must fit the GBuf ({fit}). ")


def fig9_compute(groups="1, 2, 4, 8", tokens: int = APP_TOKENS, head_dim: int = 128, obuf_entries: int = 2,
                 tMODCH: int = 32, refresh: bool = True, view: str = "cycles"):
    """(Fig. 9 data, view) for the app; the figure memoizes each bar."""
    check_choice("view", view, VIEWS)
    return fig9(parse_ints("groups", groups), tokens, head_dim, obuf_entries, _engine(tMODCH, refresh)), view


def fig9_app(groups: str = "1, 2, 4, 8", tokens: int = APP_TOKENS, head_dim: int = 128, obuf_entries: int = 2,
             tMODCH: int = 32, refresh: bool = True, view: str = "cycles") -> LiveApp:
    """Group sizes, tokens, head dim, DCS's OBuf entries, tMODCH and refresh drive Fig. 9."""
    controls = {
        "view": _view(view),
        **_attention_controls(groups, tokens, head_dim, AIM.gbuf_entries * LANES),
        "obuf_entries": int_box(obuf_entries, "DCS OBuf entries", 1, 64),
        "tMODCH": int_box(tMODCH, "tMODCH (cycles)", 0, TMODCH_MAX),
        "refresh": widgets.Checkbox(value=refresh, description="refresh", style=STYLE, indent=False),
    }
    help = ATTENTION_HELP.format(fit=f"{AIM.gbuf_entries} entries of {LANES} elements") + (
        "<b>show</b> cycles per query head divides a bar by g. Type and press Enter. " + SLOW_HELP)
    return LiveApp(controls, fig9_compute, lambda data_view: fig9_json(*data_view), help=help)


# --- Fig. 18 ------------------------------------------------------------------------------------------------------

def fig18_figure(data: Fig18Data) -> go.Figure:
    """Fig. 18: compute utilization of each scheduler per attention setting and command order; DCS's gain over
    ping-pong on its bars."""
    return go.Figure(fig18_json(data))


def fig18_json(data: Fig18Data) -> dict:
    """`fig18_figure` as plotly JSON (the app's redraw)."""
    # one half per command order, a cluster per setting: short setting labels stay horizontal up to 8 groups
    x = [[f"{order} order" for order in data.orders for _ in data.groups],
         [group_label(g).removeprefix("GQA ") for _ in data.orders for g in data.groups]]
    traces = []
    for variant in data.variants:
        util = np.concatenate([data.of(variant, order)[0] for order in data.orders])
        cycles = np.concatenate([data.of(variant, order)[1] for order in data.orders])
        gain = variant == "DCS" and "ping-pong" in data.variants
        text = [f"{r:.2f}x" for order in data.orders for r in data.dcs_over_pingpong(order)] if gain else None
        traces.append(dict(type="bar", x=x, y=(100 * util).round(2).tolist(), name=variant,
                           marker=dict(color=POLICY_COLORS.get(variant, "#7f7f7f")), customdata=cycles.tolist(),
                           hovertemplate="%{x}: %{y:.1f}% (%{customdata:,} cycles)<extra>" + variant + "</extra>",
                           textposition="outside", textfont=dict(size=10), constraintext="none",
                           cliponaxis=False, **(dict(text=text) if text else {})))
    best = max(data.dcs_over_pingpong(order).max() for order in data.orders)
    layout = dict(
        barmode="group", height=470, margin=dict(t=80, b=60),
        title=dict(font=dict(size=14),
                   text=f"Fig. 18: attention MAC utilization, DCS up to {best:.2f}x ping-pong<br><sup>same buffer "
                        f"({data.gbuf_entries} GBuf, {data.obuf_entries} OBuf entries; ping-pong splits it in two)"
                        "</sup>"),
        yaxis=dict(title=dict(text="compute (MAC) utilization (%)"), range=[0, 105]),
        xaxis=dict(title=dict(text=f"QK^T + SV of one KV head, {data.tokens:,} tokens;<br>"
                                   "MHA, or GQA with g query heads per KV head (row reuse)")))
    return fit_ticks_json(dict(data=traces, layout=layout))


def fig18_compute(groups="1, 2, 4, 8", tokens: int = APP_TOKENS, head_dim: int = 128, gbuf_entries: int = 64,
                  obuf_entries: int = 2) -> Fig18Data:
    """Fig. 18 data for the app; the figure memoizes each bar."""
    module = dataclasses.replace(AIM, gbuf_entries=gbuf_entries)
    return fig18(parse_ints("groups", groups), tokens, head_dim, obuf_entries, _engine(AIM_TIMING.tMODCH, True), module)


def fig18_app(groups: str = "1, 2, 4, 8", tokens: int = APP_TOKENS, head_dim: int = 128, gbuf_entries: int = 64,
              obuf_entries: int = 2) -> LiveApp:
    """Group sizes, tokens, head dim and the total buffer (GBuf and OBuf entries) drive Fig. 18."""
    controls = {
        **_attention_controls(groups, tokens, head_dim, gbuf_entries // 2 * LANES),
        "gbuf_entries": int_box(gbuf_entries, "GBuf entries", 2, 4096),
        "obuf_entries": int_box(obuf_entries, "OBuf entries", 2, 64),
    }
    help = ATTENTION_HELP.format(fit=f"ping-pong's half: GBuf entries / 2 x {LANES} elements") + (
        "<b>GBuf / OBuf entries</b>: the buffer both policies get; ping-pong splits each in two halves. "
        "Type and press Enter. " + SLOW_HELP)
    return LiveApp(controls, fig18_compute, fig18_json, follow=_fig18_follow, help=help)


def _fig18_follow(controls) -> None:
    """A head must fit half the GBuf: head dim and GBuf entries bound each other."""
    for name, bound, other in (("head_dim", "max", "gbuf_entries"), ("gbuf_entries", "min", "head_dim")):
        try:
            value = controls[other].parse()
        except ValueError:
            continue  # the banner names the bad box
        limit = value // 2 * LANES if bound == "max" else max(2, 2 * -(-value // LANES))
        setattr(controls[name], bound, limit)
