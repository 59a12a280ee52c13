"""Fig. 18: attention compute utilization, ping-pong buffering vs DCS, with the same total buffer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab import paper
from pimlab.engine.timing import AIM_ENGINE, EngineTiming
from pimlab.figures.fig09 import attention_cycles
from pimlab.hardware import AIM, Module
from pimlab.reproduce import Record, compare
from pimlab.validate import check_int, check_ints

FIGURE = "18"
__all__ = ["Fig18Data", "fig18"]


@dataclass(frozen=True)
class Fig18Data:
    """Utilization (MAC cycles / total, 0..1) of QK^T + SV of one KV head per group size, row reuse on."""

    groups: np.ndarray
    pingpong_utilization: np.ndarray
    dcs_utilization: np.ndarray
    pingpong_cycles: np.ndarray
    dcs_cycles: np.ndarray
    tokens: int
    head_dim: int
    gbuf_entries: int  # the same total buffer for both; ping-pong splits it in two regions
    obuf_entries: int
    prefetch: bool  # both streams software-pipelined (next load before the previous RD-OUT)

    @property
    def dcs_over_pingpong(self) -> np.ndarray:
        return self.dcs_utilization / self.pingpong_utilization


def fig18(groups=(1, 2, 4, 8), tokens: int = 1024, head_dim: int = 128, obuf_entries: int = 2,
          timing: EngineTiming = AIM_ENGINE, module: Module = AIM, prefetch: bool = False,
          bar=attention_cycles) -> Fig18Data:
    """Ping-pong (buffers in two halves, hand-off when both idle) vs DCS, both with row-reuse mapping in GQA.

    Both policies get the same program order. prefetch=True software-pipelines it (each load before the
    previous RD-OUT), which lets ping-pong's in-order I/O queue overlap loads with MACs and narrows the gap
    (pimlab's reading; the paper does not say how its ping-pong baseline orders commands). `bar` computes
    one bar (`attention_cycles` or a cached stand-in with its signature).
    """
    groups = check_ints("groups", groups, "group", 1, 16)
    check_int("obuf_entries", obuf_entries, 2, 64)
    check_int("tokens", tokens, 16, 1 << 20)
    util = {"pingpong": [], "dcs": []}
    cycles = {"pingpong": [], "dcs": []}
    for g in groups:
        for policy, regions in (("pingpong", 2), ("dcs", 1)):
            parts, mac = bar(policy, tokens, head_dim, int(g), int(g) > 1, obuf_entries, timing, module,
                             buffer_regions=regions, prefetch=prefetch)
            total = sum(parts.values())
            util[policy].append(mac / total)
            cycles[policy].append(total)
    return Fig18Data(groups, np.array(util["pingpong"]), np.array(util["dcs"]), np.array(cycles["pingpong"]),
                     np.array(cycles["dcs"]), tokens, head_dim, module.gbuf_entries, obuf_entries, bool(prefetch))


def scorecard() -> list[Record]:
    """The largest DCS-over-ping-pong utilization ratio over MHA and GQA g = 2, 4, 8."""
    data = fig18()
    return [compare(paper.FIG18_DCS_OVER_PINGPONG, float(data.dcs_over_pingpong.max()),
                    "max DCS / ping-pong utilization")]
