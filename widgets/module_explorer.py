"""The tour's module explorer: change an AiM module's organisation and timing, see its peaks and the I/O gap."""

from __future__ import annotations

from dataclasses import replace

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pimlab.hardware import AIM, GiB, Module
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import STYLE

POWERS_OF_TWO = [2**i for i in range(1, 7)]  # channels and banks per channel on offer


def module_figure(module: Module) -> go.Figure:
    """Per-channel internal vs external bandwidth, and the module's capacity and peak compute."""
    t = module.timing
    figure = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45],
                           subplot_titles=("bandwidth of one channel (GB/s)", "one module"))
    figure.add_trace(go.Bar(
        x=[module.channel_internal_bandwidth_GBps, module.channel_external_bandwidth_GBps],
        y=["banks -> MAC units (internal)", "channel bus (external)"], orientation="h",
        marker_color=["#2ca02c", "#d62728"], text=[f"{module.channel_internal_bandwidth_GBps:.0f}",
                                                   f"{module.channel_external_bandwidth_GBps:.0f}"],
        textposition="auto", showlegend=False), 1, 1)
    facts = [("capacity", f"{module.capacity_bytes / GiB:g} GiB"),
             ("peak compute", f"{module.peak_TFLOPs:.2f} TFLOP/s"),
             ("GBuf per channel", f"{module.gbuf_bytes} B"),
             ("MAC command", f"{module.banks} banks x {module.mac_lanes} lanes, every {t.ns(t.tCCD):g} ns")]
    figure.add_annotation(x=0.6, y=0.5, xref="paper", yref="paper", showarrow=False, align="left", xanchor="left",
                          text="<br>".join(f"<b>{f}</b>: {v}" for f, v in facts), font_size=14)
    figure.update_xaxes(visible=False, row=1, col=2)
    figure.update_yaxes(visible=False, row=1, col=2)
    figure.update_layout(title=f"internal / external = {module.internal_to_external:g}x: the I/O gap DCS attacks",
                         height=300, margin=dict(l=200, t=80, b=40))
    return figure


def _compute(channels, banks, tCCD, tBL, gbuf_entries):
    return replace(AIM, channels=channels, banks=banks, bank_groups=min(AIM.bank_groups, banks),
                   gbuf_entries=gbuf_entries, timing=replace(AIM.timing, tCCD=tCCD, tBL=tBL))


def module_explorer() -> LiveApp:
    """Channels, banks, tCCD, tBL and GBuf entries of the paper's AiM module."""
    controls = {
        "channels": widgets.Dropdown(options=POWERS_OF_TWO, value=AIM.channels, description="channels",
                                     style=STYLE),
        "banks": widgets.Dropdown(options=POWERS_OF_TWO, value=AIM.banks, description="banks / channel",
                                  style=STYLE),
        "tCCD": widgets.IntSlider(value=AIM.timing.tCCD, min=1, max=8, description="tCCD (cycles)", style=STYLE),
        "tBL": widgets.IntSlider(value=AIM.timing.tBL, min=1, max=8, description="tBL (cycles)", style=STYLE),
        "gbuf_entries": widgets.BoundedIntText(value=AIM.gbuf_entries, min=0, max=4096, description="GBuf entries",
                                               style=STYLE, layout=widgets.Layout(width="170px")),
    }
    return LiveApp(controls, _compute, module_figure)
