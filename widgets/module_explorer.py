"""The tour's module explorer: change an AiM module's organisation and timing, see its peaks and the I/O gap."""

from __future__ import annotations

from dataclasses import replace

import ipywidgets as widgets
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pimlab.hardware import AIM, GiB, Module
from pimlab_widgets.app import LiveApp
from pimlab_widgets.controls import STYLE, int_box

POWERS_OF_TWO = [2**i for i in range(1, 7)]  # channels and banks per channel on offer


def module_figure(module: Module) -> go.Figure:
    """Per-channel internal vs external bandwidth, and the module's capacity and peak compute."""
    t = module.timing
    figure = make_subplots(rows=1, cols=2, column_widths=[0.58, 0.42], horizontal_spacing=0.04,
                           subplot_titles=("one channel's bandwidth (GB/s)", "one module"))
    figure.add_trace(go.Bar(
        x=[module.channel_internal_bandwidth_GBps, module.channel_external_bandwidth_GBps],
        y=["banks → MACs<br>(internal)", "channel bus<br>(external)"], orientation="h",
        marker_color=["#2ca02c", "#d62728"], text=[f"{module.channel_internal_bandwidth_GBps:.0f}",
                                                   f"{module.channel_external_bandwidth_GBps:.0f}"],
        textposition="auto", showlegend=False, hovertemplate="%{y}: %{x:.0f} GB/s<extra></extra>"), 1, 1)
    facts = [("capacity", f"{module.capacity_bytes / GiB:g} GiB"),
             ("peak compute", f"{module.peak_TFLOPs:.2f} TFLOP/s"),
             ("GBuf / channel", f"{module.gbuf_bytes:,} B"),
             ("a MAC", f"{module.banks} banks x {module.mac_lanes} lanes"),
             ("MAC every", f"{t.ns(t.tCCD):g} ns (tCCD)")]
    figure.add_annotation(x=0.64, y=0.5, xref="paper", yref="paper", showarrow=False, align="left",
                          xanchor="left", font_size=13, text="<br>".join(f"<b>{f}</b>: {v}" for f, v in facts))
    figure.update_layout(title=dict(text=f"internal / external = {module.internal_to_external:g}x<br>"
                                         "<sup>the I/O gap DCS attacks</sup>"),
                         height=300, margin=dict(l=10, r=10, t=80, b=40))
    figure.update_yaxes(automargin=True)
    figure.update_xaxes(visible=False, row=1, col=2)
    figure.update_yaxes(visible=False, row=1, col=2)
    return figure


def _compute(channels, banks, tCCD, tBL, gbuf_entries):
    return replace(AIM, channels=channels, banks=banks, bank_groups=min(AIM.bank_groups, banks),
                   gbuf_entries=gbuf_entries, timing=replace(AIM.timing, tCCD=tCCD, tBL=tBL))


HELP = ("Change the paper's AiM module (16 channels of 16 banks, tCCD = 2 and tBL = 2 cycles of 0.5 ns, a 64-entry "
        "Global Buffer per channel; sources in docs/sources.md). <b>tCCD</b> sets how often a MAC command can "
        "issue, <b>tBL</b> how long one 32 B burst holds the channel bus.")


def module_explorer() -> LiveApp:
    """Channels, banks, tCCD, tBL and GBuf entries of the paper's AiM module."""
    controls = {
        "channels": widgets.Dropdown(options=POWERS_OF_TWO, value=AIM.channels, description="channels",
                                     style=STYLE),
        "banks": widgets.Dropdown(options=POWERS_OF_TWO, value=AIM.banks, description="banks / channel",
                                  style=STYLE),
        "tCCD": widgets.IntSlider(value=AIM.timing.tCCD, min=1, max=8, description="tCCD (cycles)", style=STYLE),
        "tBL": widgets.IntSlider(value=AIM.timing.tBL, min=1, max=8, description="tBL (cycles)", style=STYLE),
        "gbuf_entries": int_box(AIM.gbuf_entries, "GBuf entries", 1, 4096),
    }
    return LiveApp(controls, _compute, module_figure, help=HELP)
