"""Command timelines (Fig. 7(b)/(d)) and the Fig. 7 step-through app: queues, D-Table and S-Table per cycle.

`timeline_figure(traces)` draws one Gantt panel per schedule (one row per command, grouped by DCS queue and in
program order within it; a bar from issue to completion, coloured by kind, labelled with its GBuf / OBuf
entries) with a cycle cursor; with `frames=True` the cursor steps through the cycles without a kernel.
`PipelineStepper` is the live app: timing knobs, play / step / cycle slider, and the controller's state at
the cursor.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets
import numpy as np
import plotly.graph_objects as go

from pimlab.figures.fig07 import Fig7Data, fig7
from pimlab.isa import FIG7_GBUF_ENTRIES, QUEUE_NAMES, Kind
from pimlab.schedule import dependency_ids
from pimlab.trace import BOUND_NAMES, Bound, Trace
from pimlab_widgets.app import ControlledApp, apply_figure, live_figure
from pimlab_widgets.controls import (
    READ_ONLY_READOUT,
    STYLE,
    control_grid,
    help_box,
    int_box,
    legend_below,
    resize_nudge,
    subplots_layout,
)
from pimlab_widgets.errors import ErrorBanner

__all__ = ["KIND_COLORS", "command_label", "timeline_figure", "state_html", "fig7_figure", "PipelineStepper",
           "fig7_app"]

KIND_COLORS = {Kind.WR_INP: "#1f77b4", Kind.MAC: "#ff7f0e", Kind.RD_OUT: "#2ca02c", Kind.ACT: "#7f7f7f",
               Kind.PRE: "#bcbd22", Kind.REF: "#d62728", Kind.MODE: "#9467bd", Kind.WR_BIAS: "#17becf"}
KIND_LABELS = {Kind.WR_INP: "WR-INP", Kind.MAC: "MAC", Kind.RD_OUT: "RD-OUT", Kind.ACT: "ACT", Kind.PRE: "PRE",
               Kind.REF: "REF", Kind.MODE: "mode switch", Kind.WR_BIAS: "WR-BIAS"}
_LETTER = {Kind.WR_INP: "W", Kind.MAC: "M", Kind.RD_OUT: "R", Kind.WR_BIAS: "B"}
POLICY_NAMES = {"static": "static", "pingpong": "ping-pong", "dcs": "DCS"}
CONTROLLER_ROW = "controller (ACT/PRE/REF/mode)"
NOW_TRACE = "issues this cycle"
_CURSOR = dict(type="rect", y0=0, y1=1, yref="paper", fillcolor="rgba(0,0,0,0.12)", line_width=0, layer="below")


def command_label(kind: int, command_id: int) -> str:
    """W0, M3, R6 (Fig. 7's names: kind letter + program-order id); ACT12 etc. for inserted commands."""
    kind = Kind(int(kind))
    return f"{_LETTER.get(kind, kind.name)}{int(command_id)}"


def _entries(gbuf: int, obuf: int) -> str:
    """GBuf / OBuf entries a command touches: GB0, O1, GB2→O0."""
    parts = ([f"GB{gbuf}"] if gbuf >= 0 else []) + ([f"O{obuf}"] if obuf >= 0 else [])
    return "→".join(parts)


def _row_labels(trace: Trace) -> list[str]:
    """One y label per trace row: the command's name (W0, M3) for stream commands, one row for inserted ones.

    Names, not entries, so that the same command shares its row across schedules with different OBuf sizes.
    """
    return [CONTROLLER_ROW if i >= trace.commands else command_label(k, i) for k, i in zip(trace.kind, trace.id)]


def _category_order(trace: Trace) -> tuple[list[str], list[tuple[str, int]]]:
    """Rows grouped by DCS queue (I/O, then compute), program order inside a group, the controller row last;
    and (queue name, index of its first row) per group."""
    rows = trace.of_commands()
    labels = _row_labels(trace)
    order, groups = [], []
    for q, name in enumerate(QUEUE_NAMES[:2]):
        mine = [labels[r] for r in rows if trace.queue[r] == q]
        if mine:
            groups.append((f"{name} queue", len(order)))
            order += mine
    if (trace.id >= trace.commands).any():
        groups.append(("controller", len(order)))
        order.append(CONTROLLER_ROW)
    return order, groups


def _why(trace: Trace, row: int) -> str:
    """Why a command issued when it did, in words (from bound_by / depends_on)."""
    code, dep = int(trace.bound_by[row]), int(trace.depends_on[row])
    text = BOUND_NAMES[code]
    if dep < 0:
        return text
    where = np.flatnonzero(trace.id == dep)
    if not len(where):
        return text
    d = int(where[0])
    name = command_label(trace.kind[d], dep)
    if code == Bound.DATA:
        return f"{text}: waited for {name} (issued {int(trace.issue_cycles[d])}, done {int(trace.done_cycles[d])})"
    return f"{text} after {name} (issued {int(trace.issue_cycles[d])})"


def _now_points(trace: Trace, labels: list[str], cycle: int) -> tuple[list, list]:
    rows = np.flatnonzero(trace.issue_cycles == cycle)
    return [float(cycle) + 0.5] * len(rows), [labels[r] for r in rows]


def _shapes(traces: Sequence[Trace], cycle: int, groups: Sequence[tuple[str, int]] = ()) -> list[dict]:
    """Cursor rectangles first (one per panel, index = panel), then the end-of-run lines and queue separators."""
    shapes = [dict(_CURSOR, x0=cycle, x1=cycle + 1, xref=_axis("x", c)) for c in range(len(traces))]
    shapes += [dict(type="line", x0=t.total_cycles, x1=t.total_cycles, y0=0, y1=1, yref="paper",
                    xref=_axis("x", c), line=dict(color="black", dash="dot", width=1)) for c, t in enumerate(traces)]
    shapes += [dict(type="line", x0=0, x1=1, xref="paper", y0=first - 0.5, y1=first - 0.5, yref="y",
                    line=dict(color="#999", width=1)) for _, first in groups[1:]]
    return shapes


def _axis(letter: str, panel: int) -> str:
    return letter if panel == 0 else f"{letter}{panel + 1}"


def _title(trace: Trace) -> str:
    """A panel's title, short enough for half of an 800 px column: policy, queues, cycles."""
    queues = "1 queue" if trace.policy == "static" else "2 queues"
    return f"{POLICY_NAMES.get(trace.policy, trace.policy)}, {queues}: {trace.total_cycles} cycles"


def _bars(trace: Trace, panel: int, shown: set) -> list[dict]:
    """One horizontal bar trace per kind present in `trace` (issue to completion), for panel `panel`."""
    labels = np.array(_row_labels(trace), dtype=object)
    names = [command_label(k, i) for k, i in zip(trace.kind, trace.id)]
    hover = [f"{n} {KIND_LABELS[Kind(int(k))]} {_entries(g, o)}<br>issue {s}, done {d}<br>{_why(trace, r)}"
             for r, (n, k, g, o, s, d) in enumerate(zip(names, trace.kind, trace.gbuf, trace.obuf,
                                                        trace.issue_cycles, trace.done_cycles))]
    out = []
    for kind in Kind:
        rows = np.flatnonzero(trace.kind == kind)
        if not len(rows):
            continue
        out.append(dict(
            type="bar", orientation="h", y=labels[rows].tolist(), base=trace.issue_cycles[rows].tolist(),
            x=np.maximum(trace.done_cycles[rows] - trace.issue_cycles[rows], 1).tolist(),
            text=[_entries(trace.gbuf[r], trace.obuf[r]) for r in rows], textposition="outside",
            textfont=dict(size=10), cliponaxis=False,
            marker=dict(color=KIND_COLORS[kind], line=dict(color="white", width=1)),
            name=KIND_LABELS[kind], legendgroup=KIND_LABELS[kind], showlegend=kind not in shown,
            hovertext=[hover[r] for r in rows], hoverinfo="text", xaxis=_axis("x", panel), yaxis=_axis("y", panel)))
        shown.add(kind)
    return out


def timeline_figure(traces: Sequence[Trace], cycle: int = 0, frames: bool = False,
                    title: str | None = None) -> go.Figure:
    """Gantt of each trace side by side (shared command rows), a cursor at `cycle`, frames per cycle if asked.

    Traces are, per panel: one bar trace per kind present, then one "issues now" marker trace (last). The
    figure is built as one dict and validated once (a knob change redraws it).
    """
    if not traces:
        raise ValueError("traces must hold at least one Trace, got none")
    end = max(t.total_cycles for t in traces)
    right = end + 3 + -(-7 * end // 100)  # room for the text beside the last bars (about 7% of a panel)
    data, shown, now_index = [], set(), []
    for c, trace in enumerate(traces):
        data += _bars(trace, c, shown)
        x, y = _now_points(trace, _row_labels(trace), cycle)
        now_index.append(len(data))
        data.append(dict(type="scatter", x=x, y=y, mode="markers", name=NOW_TRACE, legendgroup="now",
                         showlegend=c == 0, hoverinfo="skip", marker=dict(symbol="star", size=13, color="black"),
                         xaxis=_axis("x", c), yaxis=_axis("y", c)))
    order, groups = _category_order(max(traces, key=len))
    layout = subplots_layout(len(traces), shared_yaxes=True, horizontal_spacing=0.03,
                             subplot_titles=(" ",) * len(traces))
    for c, trace in enumerate(traces):
        layout["annotations"][c].update(text=_title(trace), font=dict(size=13))  # the subplot titles
        layout[_axis("xaxis", c)].update(range=[0, right], title=dict(text="cycle"),
                                         dtick=5 if end <= 60 else None, tickangle=0)
        layout[_axis("yaxis", c)].update(categoryorder="array", categoryarray=order, autorange="reversed")
    layout["annotations"] += [  # queue names at the right end of the last panel
        dict(x=right, y=order[first], xref=_axis("x", len(traces) - 1), yref="y", text=name, showarrow=False,
             xanchor="right", yanchor="top", font=dict(size=10, color="#666")) for name, first in groups]
    layout.update(barmode="overlay", shapes=_shapes(traces, cycle, groups), height=140 + 26 * len(order),
                  margin=dict(t=80 if title else 50, b=50, l=10, r=10), title=title, bargap=0.25)
    figure = go.Figure(data=data, layout=layout)
    legend_below(figure, 40)
    if frames:
        _add_frames(figure, traces, now_index, end, cycle, groups)
    return figure


def _add_frames(figure: go.Figure, traces: Sequence[Trace], now_index: list[int], end: int, cycle: int,
                groups: Sequence[tuple[str, int]]) -> None:
    """One frame per cycle (cursor and "issues now" markers), a play button and a cycle slider."""
    labels = [_row_labels(t) for t in traces]
    frames = []
    for c in range(end + 1):
        points = [_now_points(t, lab, c) for t, lab in zip(traces, labels)]
        frames.append(go.Frame(name=str(c), traces=now_index,
                               data=[go.Scatter(x=x, y=y) for x, y in points],
                               layout=dict(shapes=_shapes(traces, c, groups))))
    figure.frames = frames
    step = dict(frame=dict(duration=400, redraw=True), transition=dict(duration=0), mode="immediate")
    figure.update_layout(
        updatemenus=[dict(type="buttons", direction="left", x=0.1, y=0, xanchor="right", yanchor="top",
                          pad=dict(t=75, r=10), showactive=False,
                          buttons=[dict(label="▶", method="animate", args=[None, dict(step, fromcurrent=True)]),
                                   dict(label="❚❚", method="animate", args=[[None], step])])],
        sliders=[dict(active=cycle, x=0.1, y=0, len=0.9, xanchor="left", yanchor="top", pad=dict(t=50, b=10),
                      currentvalue=dict(prefix="cycle "),
                      steps=[dict(label=str(c), method="animate", args=[[str(c)], step]) for c in range(end + 1)])],
        height=figure.layout.height + 110, margin=dict(b=figure.layout.margin.b + 110))


# --- the controller's state at one cycle --------------------------------------------------------------------

_TABLE = 'style="border-collapse:collapse;margin-right:14px;font-size:12px"'
_CELL = 'style="border:1px solid #ccc;padding:2px 6px;text-align:left"'
_CAPTION = 'style="text-align:left;font-weight:bold;white-space:nowrap"'


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    cells = "".join(f"<th {_CELL}>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td {_CELL}>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    if not rows:
        body = f'<tr><td {_CELL} colspan="{len(head)}"><i>empty</i></td></tr>'
    return (f"<table {_TABLE}><caption {_CAPTION}>{html.escape(caption)}</caption>"
            f"<tr>{cells}</tr>{body}</table>")


def state_html(trace: Trace, cycle: int, others: Sequence[Trace] = ()) -> str:
    """The controller of `trace` at `cycle` as HTML: both queues, D-Table, S-Table, what issues and why.

    `others` (e.g. the static trace) add one line each saying what they issue in the same cycle.
    """
    state = trace.state_at(cycle)
    kind_of = dict(zip(trace.id.tolist(), trace.kind.tolist()))
    row_of = {int(i): r for r, i in enumerate(trace.id)}

    def name(i: int) -> str:
        return command_label(kind_of[i], i)

    program = trace.of_commands()
    dids = {"GB": dependency_ids(trace.gbuf[program]), "O": dependency_ids(trace.obuf[program])}

    def queued(i: int) -> str:  # a queued command with its DIDs (D-Table assignment at arrival)
        waits = [f"{buf}:{name(int(d[i]))}" for buf, d in dids.items() if d[i] >= 0]
        return name(i) + (f" <small>(DID {', '.join(waits)})</small>" if waits else "")

    queues = state["queues"]
    depth = max([len(v) for v in queues.values()] + [1])
    queue_rows = [[queued(q[j]) if j < len(q) else "" for q in queues.values()] for j in range(depth)]
    queue_rows = [row for row in queue_rows if any(row)]
    entries = sorted(set(state["d_table"]) | set(state["s_table"]), key=lambda e: (e[0] != "GBuf", e[1]))
    d_table = state["d_table"]
    d_rows = [[f"{kind} {e}", name(d_table[(kind, e)])] for kind, e in entries if (kind, e) in d_table]
    s_rows = []
    for kind, e in entries:
        if (kind, e) not in state["s_table"]:
            continue
        i, expires = state["s_table"][(kind, e)]
        busy = expires > cycle
        status = f'<span style="color:#d93025">busy until {expires}</span>' if busy else f"free since {expires}"
        s_rows.append([f"{kind} {e}", name(i), str(expires), status])
    tables = (_table("Queues (head first)", [f"{q} queue" for q in queues], queue_rows)
              + _table("D-Table", ["entry", "last ID"], d_rows)
              + _table("S-Table", ["entry", "ID", "expires", "status"], s_rows))
    issued = [f"<b>{name(c['id'])}</b> ({KIND_LABELS[Kind(kind_of[c['id']])]}) — "
              f"{html.escape(_why(trace, row_of[c['id']]))}" for c in state["issued"]]
    lines = [f"<b>cycle {cycle}</b>, {POLICY_NAMES.get(trace.policy, trace.policy)} issues: "
             + ("; ".join(issued) if issued else "nothing")]
    for other in others:
        rows = np.flatnonzero(other.issue_cycles == cycle)
        said = [f"<b>{command_label(other.kind[r], other.id[r])}</b> — {html.escape(_why(other, r))}" for r in rows]
        lines.append(f"{POLICY_NAMES.get(other.policy, other.policy)} issues: " + ("; ".join(said) or "nothing"))
    return ("<div style='font-size:13px'>" + "<br>".join(lines) + "</div>"
            f"<div style='display:flex;flex-wrap:wrap;align-items:flex-start;margin-top:4px'>{tables}</div>")


# --- Fig. 7 ----------------------------------------------------------------------------------------------------

def fig7_figure(data: Fig7Data, cycle: int = 0, frames: bool = True) -> go.Figure:
    """Fig. 7(b) and (d): the static and DCS timelines of the example side by side, stepping through cycles."""
    return timeline_figure([data.static, data.dcs], cycle, frames,
                           title=f"Fig. 7: static {data.static_cycles} cycles → DCS {data.dcs_cycles} cycles "
                                 f"({data.speedup:.2f}x)")


class PipelineStepper(ControlledApp):
    """The Fig. 7 step-through app: timing knobs, play / step / cycle slider, timelines and controller state.

    A knob change re-schedules (pimlab.figures.fig7) and redraws; a bad value is shown in the banner and
    the last good schedule stays. A cycle change only moves the cursors and rewrites the state tables.
    """

    # (name, label, lowest, highest): the ranges pimlab.hardware.fig7_engine and pimlab.isa.fig7_module accept
    KNOBS = (("tCCDS", "tCCDS (cycles)", 1, 16), ("t_wr_inp", "t_WR-INP (cycles)", 1, 64),
             ("t_mac", "t_MAC (cycles)", 1, 64), ("t_rd_out", "t_RD-OUT (cycles)", 1, 64),
             ("obuf_entries", "DCS OBuf entries", 1, 16), ("gbuf_entries", "GBuf entries", 1, 64))
    HELP = ("The example's timing is reconstructed (docs/sources.md): the paper gives only the totals, 34 cycles "
            "static and 22 with DCS. <b>tCCDS</b>: the gap between two MACs; <b>t_WR-INP</b>, <b>t_MAC</b>, "
            "<b>t_RD-OUT</b>: how long each command takes. <b>DCS OBuf entries</b>: output entries DCS may fill "
            "(static uses one OutReg); <b>GBuf entries</b>: input tiles the GBuf holds (3 in Fig. 7(a)). "
            "Type a number and press Enter; play or step through the cycles below.")

    def __init__(self, tCCDS: int = 1, t_wr_inp: int = 4, t_mac: int = 3, t_rd_out: int = 9, obuf_entries: int = 2,
                 gbuf_entries: int = FIG7_GBUF_ENTRIES, cycle: int = 0, interval_ms: int = 700):
        given = dict(tCCDS=tCCDS, t_wr_inp=t_wr_inp, t_mac=t_mac, t_rd_out=t_rd_out, obuf_entries=obuf_entries,
                     gbuf_entries=gbuf_entries)
        self.controls = {name: int_box(given[name], label, low, high) for name, label, low, high in self.KNOBS}
        self.banner = ErrorBanner(self._labels())
        self.data = fig7(**self.values)  # the defaults must be valid
        end = self.end_cycle
        cycle = min(max(0, int(cycle)), end)
        self.slider = widgets.IntSlider(value=cycle, min=0, max=end, description="cycle", style=STYLE,
                                        continuous_update=True, layout=widgets.Layout(width="auto", flex="1 1 auto"))
        self.slider.add_class(READ_ONLY_READOUT)
        self.play = widgets.Play(value=cycle, min=0, max=end, interval=interval_ms, description="play")
        widgets.link((self.play, "value"), (self.slider, "value"))
        self.back = widgets.Button(description="◀ step", layout=widgets.Layout(width="80px"))
        self.forward = widgets.Button(description="step ▶", layout=widgets.Layout(width="80px"))
        self.back.on_click(lambda _: self.step(-1))
        self.forward.on_click(lambda _: self.step(1))
        self.figure = live_figure(fig7_figure(self.data, cycle, frames=False))
        self.panel = widgets.HTML(self._state_html(cycle))
        for knob in self.controls.values():
            knob.observe(self._on_change, names="value")
        self.slider.observe(self._on_cycle, names="value")
        player = widgets.HBox([self.play, self.back, self.slider, self.forward], layout=widgets.Layout(width="100%"))
        self.widget = widgets.VBox([control_grid(self.controls.values()), help_box(self.HELP), self.banner.widget,
                                    player, self.figure, self.panel, resize_nudge()])

    # --- state ---------------------------------------------------------------------------------------------
    @property
    def cycle(self) -> int:
        return int(self.slider.value)

    @property
    def end_cycle(self) -> int:
        """The last cycle the slider reaches: the end of the longer schedule."""
        return max(self.data.static_cycles, self.data.dcs_cycles)

    def state(self) -> dict:
        """The DCS controller's state at the current cycle (Trace.state_at)."""
        return self.data.dcs.state_at(self.cycle)

    # --- actions -------------------------------------------------------------------------------------------
    def go(self, cycle: int) -> None:
        """Move the cursor to `cycle` (clipped to the run)."""
        self.slider.value = min(max(0, int(cycle)), self.end_cycle)

    def step(self, cycles: int = 1) -> None:
        self.go(self.cycle + cycles)

    def refresh(self) -> bool:
        """Re-schedule from the knobs; on ValueError show it and keep the last good schedule."""
        with self.banner.guard():
            data = fig7(**self.values)
            cycle = min(self.cycle, max(data.static_cycles, data.dcs_cycles))
            figure = fig7_figure(data, cycle, frames=False)
            self.data = data
            apply_figure(self.figure, figure)  # cursors and markers at `cycle`
            self.panel.value = self._state_html(cycle)
            self.play.max = self.slider.max = self.end_cycle  # a shorter run clips the slider to `cycle`
            return True
        return False

    def static(self) -> go.Figure:
        """The current schedules as a standalone figure whose frames step through the cycles."""
        return fig7_figure(self.data, self.cycle, frames=True)

    # --- updates -------------------------------------------------------------------------------------------
    def _show_cycle(self, cycle: int) -> None:
        """Only the cursors, the "issues now" markers and the tables change."""
        traces = (self.data.static, self.data.dcs)
        now = [t for t in self.figure.data if t.name == NOW_TRACE]
        with self.figure.batch_update():
            for panel, (trace, marker) in enumerate(zip(traces, now)):
                self.figure.layout.shapes[panel].update(x0=cycle, x1=cycle + 1)
                x, y = _now_points(trace, _row_labels(trace), cycle)
                marker.update(x=x, y=y)
        self.panel.value = self._state_html(cycle)

    def _state_html(self, cycle: int) -> str:
        return state_html(self.data.dcs, cycle, others=[self.data.static])

    def _on_cycle(self, change) -> None:
        self._show_cycle(int(change["new"]))


def fig7_app(**knobs) -> PipelineStepper:
    """The Fig. 7 step-through app with the reconstructed example timing (docs/sources.md) by default."""
    return PipelineStepper(**knobs)
