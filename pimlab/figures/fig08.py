"""Fig. 8: latency breakdown and MAC utilization of a GEMV against matrix dimension, static vs DCS."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab import paper
from pimlab.engine.timing import AIM_ENGINE, EngineTiming
from pimlab.hardware import AIM, Module
from pimlab.isa import Commands, compile_gemv, expand
from pimlab.reproduce import Record, compare
from pimlab.schedule import schedule
from pimlab.trace import BREAKDOWN_KEYS
from pimlab.validate import check_int, check_ints

FIGURE = "8"
__all__ = ["Fig8Data", "fig8", "gemv_stream", "gemv_repeats", "gemv_point"]


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


@lru_cache(maxsize=256)
def gemv_stream(dim: int, repeats: int, obuf_entries: int, module: Module = AIM) -> Commands:
    """`repeats` back-to-back dim x dim GEMVs, each on its own rows, as one channel's commands.

    GEMV k is the first one's commands with its rows moved to start at row f_k (f_0 = 0, f_k+1 = (f_k + rows)
    mod (channel rows - rows)) and its instruction indices after those of the GEMVs before it: what compiling
    each GEMV with `first_row = f_k` gives (tests check). Cached: the stream does not depend on timing (an app
    changing a timing knob reuses it; Commands are read-only).
    """
    check_int("repeats", repeats, 1, 1 << 20)
    instructions = compile_gemv(dim, dim, module=module, obuf_entries=obuf_entries)
    one = expand(instructions, 0)
    rows = int(one.row.max()) + 1
    first = np.zeros(repeats, dtype=np.int64)
    for k in range(1, repeats):
        first[k] = (first[k - 1] + rows) % max(1, module.rows - rows)
    is_mac = np.tile(one.row >= 0, repeats)
    row = np.where(is_mac, np.tile(one.row, repeats) + np.repeat(first, len(one)), -1)
    instr = np.tile(one.instr, repeats) + np.repeat(np.arange(repeats) * len(instructions), len(one))
    return Commands(*(np.tile(column, repeats) for column in (one.kind, one.gbuf, one.obuf)), row,
                    np.tile(one.col, repeats), instr)


def gemv_repeats(dim: int, min_macs: int) -> int:
    """Back-to-back GEMVs a point of dimension `dim` runs so that it has at least `min_macs` MAC commands."""
    return max(1, -(-min_macs // (-(-int(dim) // 16)) ** 2))


def gemv_point(dim: int, policy: str, entries: int, repeats: int, timing: EngineTiming = AIM_ENGINE,
               module: Module = AIM) -> tuple[list[int], float]:
    """One bar of Fig. 8: (breakdown cycles in BREAKDOWN_KEYS order, MAC utilization) of `repeats` GEMVs."""
    stream = gemv_stream(int(dim), int(repeats), entries, module)
    trace = schedule(stream, policy, timing, module.gbuf_entries, entries)
    parts = trace.breakdown()
    return [parts[k] for k in BREAKDOWN_KEYS], trace.mac_utilization


def fig8(dims=(64, 128, 256, 512, 1024), obuf_entries: int = 2, min_macs: int = 16384,
         timing: EngineTiming = AIM_ENGINE, module: Module = AIM, point=gemv_point) -> Fig8Data:
    """Static and DCS schedules of square GEMVs; each point repeats the GEMV until it has `min_macs` MACs.

    Static runs with one OutReg, DCS with `obuf_entries`. `point` computes one bar (an app passes a cached
    `gemv_point`).
    """
    dims = check_ints("dims", dims, "dim", 16, 8192)
    check_int("obuf_entries", obuf_entries, 1, 64)
    check_int("min_macs", min_macs, 1, 1 << 22)
    repeats = np.array([gemv_repeats(d, min_macs) for d in dims], dtype=np.int64)
    rows = {"static": [], "dcs": []}
    utils = {"static": [], "dcs": []}
    for d, r in zip(dims, repeats):
        for policy, entries in (("static", 1), ("dcs", obuf_entries)):
            parts, utilization = point(int(d), policy, entries, int(r), timing, module)
            rows[policy].append(parts)
            utils[policy].append(utilization)
    return Fig8Data(dims, repeats, BREAKDOWN_KEYS, np.array(rows["static"]), np.array(rows["dcs"]),
                    np.array(utils["static"]), np.array(utils["dcs"]), obuf_entries, timing.name)


def scorecard() -> list[Record]:
    """Static MAC utilization at dimension 128 (a head dimension)."""
    data = fig8(dims=(128,))
    return [compare(paper.FIG8_STATIC_MAC_UTIL_D128, 100 * float(data.static_utilization[0]),
                    "static MAC utilization at d=128, %")]
