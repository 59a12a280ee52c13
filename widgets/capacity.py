"""Static figures of DPA's two savings: instruction bytes against context length (Fig. 10/11(c)) and KV capacity
utilization, static vs DPA (Fig. 19), with the paper's numbers drawn beside pimlab's for comparison."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from pimlab import paper


def instruction_bytes_figure(data) -> go.Figure:
    """Static instruction streams grow with the context; DPA's programs and the dispatcher's buffers do not."""
    k = data.context_tokens / 1024
    figure = go.Figure()
    figure.add_scatter(x=k, y=data.static_bytes_per_request / 1024, name="static stream, one request (all modules)")
    figure.add_scatter(x=k, y=data.static_bytes_per_module / 1024, name="static stream, one request on one module")
    figure.add_scatter(x=k, y=np.full(k.size, data.dpa_program_bytes / 1024), name="DPA programs (QK + SV)")
    figure.add_scatter(x=k, y=np.full(k.size, data.dispatcher.total_bytes / 1024),
                       name="dispatcher buffers per module (VA2PA + programs + config)")
    for number, label in ((paper.DPA_DISPATCHER_BUDGET_KB, "paper: dispatcher < 200 KB"),
                          (paper.DPA_GPR_KB, "paper: 512 KB GPR of a PIM HUB")):
        figure.add_scatter(x=k[[0, -1]], y=[number.value] * 2, name=label, mode="lines",
                           line=dict(dash="dash", color="gray"))
    figure.update_xaxes(type="log", title_text="context length (K tokens)")
    figure.update_yaxes(type="log", title_text="KiB", exponentformat="power")
    figure.update_layout(title="Instruction size against context length (Fig. 10/11(c))", height=520,
                         legend=dict(orientation="h", yref="container", y=0, yanchor="bottom"), margin=dict(b=150))
    return figure


def utilization_bars_figure(naive, calibrated) -> go.Figure:
    """Static (slot = window, and the calibrated reservation) and DPA utilization per Table II dataset."""
    figure = go.Figure()
    figure.add_bar(x=list(naive.datasets), y=100 * naive.static_utilization, name="static, slot = context window")
    figure.add_bar(x=list(naive.datasets), y=100 * calibrated.static_utilization,
                   name=f"static, reserve_factor {calibrated.reserve_factor:g} (calibrated)")
    figure.add_bar(x=list(naive.datasets), y=100 * naive.dpa_utilization, name="DPA")
    figure.add_hrect(y0=paper.FIG19_STATIC_UTIL_MIN.value, y1=paper.FIG19_STATIC_UTIL_MAX.value, fillcolor="gray",
                     opacity=0.15, line_width=0, annotation_text="paper: static 31.0-40.5%")
    figure.add_hline(y=paper.FIG19_DPA_UTIL_AVG.value, line_dash="dash", annotation_text="paper: DPA average 75.6%")
    figure.update_layout(barmode="group", title="Capacity utilization with and without DPA (Fig. 19)",
                         yaxis_title="live KV / KV capacity (%)", yaxis_range=[0, 100], height=450,
                         legend=dict(orientation="h", y=-0.15))
    return figure
