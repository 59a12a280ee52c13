"""Table IV and the hardware sentences of the paper, computed from the hardware model."""

from __future__ import annotations

from pimlab import paper
from pimlab.hardware import AIM, CENT, NEUPIMS, GiB
from pimlab.reproduce import Record, compare

FIGURE = "IV"
__all__: list[str] = []


def scorecard() -> list[Record]:
    """Module capacity and bandwidth of each system, deployments, the module's organisation and I/O sizes.

    All inputs or derived (kinds in `pimlab.paper`): they check the presets, not the model. Bandwidth is in
    TB of 1024 GB, as the table counts GB in GiB.
    """
    return [
        compare(paper.CENT_CAPACITY_GB, CENT.module.capacity_bytes / GiB, "CENT module capacity"),
        compare(paper.CENT_INTERNAL_BW, CENT.module.internal_bandwidth_GBps / 1024, "CENT internal bandwidth"),
        compare(paper.NEUPIMS_CAPACITY_GB, NEUPIMS.module.capacity_bytes / GiB, "NeuPIMs module capacity"),
        compare(paper.NEUPIMS_INTERNAL_BW, NEUPIMS.module.internal_bandwidth_GBps / 1024,
                "NeuPIMs internal bandwidth"),
        compare(paper.CENT_MODULES_7B, CENT.with_capacity(128).modules, "CENT modules in 128 GB (7B)"),
        compare(paper.CENT_MODULES_72B, CENT.with_capacity(512).modules, "CENT modules in 512 GB (72B)"),
        compare(paper.NEUPIMS_MODULES_7B, NEUPIMS.with_capacity(128).modules, "NeuPIMs modules in 128 GB (7B)"),
        compare(paper.NEUPIMS_MODULES_72B, NEUPIMS.with_capacity(512).modules, "NeuPIMs modules in 512 GB (72B)"),
        compare(paper.MODULE_CHANNELS, AIM.channels, "channels per module"),
        compare(paper.MODULE_BANKS, AIM.banks, "banks per channel"),
        compare(paper.IO_INPUT_BUFFER_BYTES, AIM.gbuf_bytes, "GBuf bytes per channel"),
        compare(paper.WR_INP_TILE_BYTES, AIM.column_bytes, "WR-INP tile bytes"),
        compare(paper.RD_OUT_BYTES, AIM.banks * AIM.dtype_bytes, "RD-OUT bytes (2 B from every bank)"),
    ]
