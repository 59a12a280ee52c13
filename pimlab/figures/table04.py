"""Table IV: the CENT and NeuPIMs module configurations, computed from the hardware model."""

from __future__ import annotations

from pimlab import paper
from pimlab.hardware import AIM, CENT, NEUPIMS, GiB
from pimlab.reproduce import Record, compare

FIGURE = "IV"
__all__: list[str] = []


def scorecard() -> list[Record]:
    """Capacity and internal bandwidth of one module of each system, and the GBuf size."""
    return [
        compare(paper.CENT_CAPACITY_GB, CENT.module.capacity_bytes / GiB, "CENT module capacity"),
        compare(paper.CENT_INTERNAL_BW, CENT.module.internal_bandwidth_GBps / 1e3, "CENT internal bandwidth"),
        compare(paper.NEUPIMS_CAPACITY_GB, NEUPIMS.module.capacity_bytes / GiB, "NeuPIMs module capacity"),
        compare(paper.NEUPIMS_INTERNAL_BW, NEUPIMS.module.internal_bandwidth_GBps / 1e3,
                "NeuPIMs internal bandwidth"),
        compare(paper.IO_INPUT_BUFFER_BYTES, AIM.gbuf_bytes, "GBuf bytes per channel"),
    ]
