"""CENT's decoder block replayed: the static timeline per op group and each policy's gain (plotly figures)."""

from __future__ import annotations

import plotly.graph_objects as go

from pimlab.aimpolicy import READINGS, PolicyResult
from pimlab.schedule import POLICIES

COLORS = {"reorderable": "#1f77b4", "barrier": "#ff7f0e"}
POLICY_COLORS = {"static": "#7f7f7f", "pingpong": "#2ca02c", "dcs": "#d62728"}


def timeline_figure(groups: list[tuple[str, PolicyResult]]) -> go.Figure:
    """One bar per op group, in program order: its replayed cycles, split into reorderable and barrier runs."""
    figure = go.Figure()
    start = 0
    for name, result in groups:
        movable = round(result.static * result.reorderable_share)
        for part, cycles, offset in (("reorderable", movable, 0), ("barrier", result.static - movable, movable)):
            figure.add_trace(go.Bar(x=[cycles], y=[name], base=[start + offset], orientation="h", name=part,
                                    marker_color=COLORS[part], legendgroup=part, showlegend=name == groups[0][0],
                                    hovertemplate=f"{name} {part}: %{{x}} cycles<extra></extra>"))
        start += result.static
    figure.update_layout(barmode="overlay", xaxis_title="cycles (aim_simulator's controller, 0.5 ns each)",
                         yaxis=dict(autorange="reversed"), height=60 + 40 * len(groups),
                         title="Static timeline of the block, one op group after the other")
    return figure


def gain_figure(groups: list[tuple[str, PolicyResult]], reading: str = "renamed") -> go.Figure:
    """Static cycles over each policy's cycles, per op group and for the sum of the groups."""
    names = [name for name, _ in groups] + ["block (sum)"]
    figure = go.Figure()
    for policy in POLICIES:
        total_static = sum(r.static for _, r in groups)
        total = sum(r.cycles[(policy, reading)] for _, r in groups)
        gains = [r.gain(policy, reading) for _, r in groups] + [total_static / total]
        figure.add_trace(go.Bar(x=names, y=gains, name=policy, marker_color=POLICY_COLORS[policy],
                                hovertemplate=f"{policy}: x%{{y:.3f}}<extra></extra>"))
    figure.update_layout(barmode="group", yaxis_title="speed-up over the static replay",
                         title=f"Gain per policy ({reading} reading of the buffer entries)")
    return figure


__all__ = ["timeline_figure", "gain_figure", "READINGS"]
