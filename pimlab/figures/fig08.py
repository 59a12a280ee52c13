"""Fig. 8: latency breakdown and MAC utilization of a GEMV against matrix dimension, static vs DCS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab import paper
from pimlab.hardware import AIM, AIM_ENGINE, EngineTiming, Module
from pimlab.isa import compile_gemv, expand
from pimlab.reproduce import Record, compare
from pimlab.schedule import schedule
from pimlab.trace import BREAKDOWN_KEYS
from pimlab.validate import check_int

FIGURE = "8"
__all__ = ["Fig8Data", "fig8", "gemv_stream"]


@dataclass(frozen=True)
class Fig8Data:
    """Rows are dimensions (d_in = d_out); breakdown columns follow `keys` (cycles of the whole run)."""

    dims: np.ndarray
    repeats: np.ndarray  # back-to-back GEMVs per point (so that refresh shows at its average rate)
    keys: tuple[str, ...]
    static_breakdown: np.ndarray
    dcs_breakdown: np.ndarray
    static_utilization: np.ndarray  # MAC cycles / total cycles, 0..1
    dcs_utilization: np.ndarray
    obuf_entries: int  # DCS's output entries (static has one OutReg)
    preset: str

    @property
    def speedup(self) -> np.ndarray:
        return self.static_breakdown.sum(axis=1) / self.dcs_breakdown.sum(axis=1)


def gemv_stream(dim: int, repeats: int, obuf_entries: int, module: Module = AIM):
    """`repeats` back-to-back dim x dim GEMVs, each on its own rows, as one channel's commands."""
    instructions, first_row = [], 0
    for _ in range(repeats):
        part = compile_gemv(dim, dim, module=module, obuf_entries=obuf_entries, first_row=first_row)
        rows = max(i.row for i in part if i.row >= 0) - first_row + 1
        first_row = (first_row + rows) % max(1, module.rows - rows)
        instructions += part
    return expand(instructions, 0)


def fig8(dims=(64, 128, 256, 512, 1024), obuf_entries: int = 2, min_macs: int = 16384,
         timing: EngineTiming = AIM_ENGINE, module: Module = AIM) -> Fig8Data:
    """Static and DCS schedules of square GEMVs; each point repeats the GEMV until it has `min_macs` MACs."""
    dims = np.array([check_int("dim", d, 16, 8192) for d in np.atleast_1d(dims)], dtype=np.int64)
    if dims.size == 0:
        raise ValueError("dims must name at least one dimension in [16, 8192], got none")
    check_int("obuf_entries", obuf_entries, 1, 64)
    check_int("min_macs", min_macs, 1, 1 << 22)
    repeats = np.array([max(1, -(-min_macs // (-(-int(d) // 16)) ** 2)) for d in dims], dtype=np.int64)
    rows = {"static": [], "dcs": []}
    utils = {"static": [], "dcs": []}
    for d, r in zip(dims, repeats):
        for policy, entries in (("static", 1), ("dcs", obuf_entries)):
            trace = schedule(gemv_stream(int(d), int(r), entries, module), policy, timing, module.gbuf_entries, entries)
            rows[policy].append([trace.breakdown()[k] for k in BREAKDOWN_KEYS])
            utils[policy].append(trace.mac_utilization)
    return Fig8Data(dims, repeats, BREAKDOWN_KEYS, np.array(rows["static"]), np.array(rows["dcs"]),
                    np.array(utils["static"]), np.array(utils["dcs"]), obuf_entries, timing.name)


def scorecard() -> list[Record]:
    """Static MAC utilization at dimension 128 (a head dimension)."""
    data = fig8(dims=(128,))
    return [compare(paper.FIG8_STATIC_MAC_UTIL_D128, 100 * float(data.static_utilization[0]),
                    "static MAC utilization at d=128, %")]
