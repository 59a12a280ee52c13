"""Fig. 8: latency breakdown and MAC utilization of a GEMV against matrix dimension, four schedulers side by side.

Static (pimlab's AiM controller), the same without the register / MAC mode switch, ping-pong buffering, and
DCS: the second bar shows how much of DCS's gain is the mode switch the static controller pays, the last two
how much is out-of-order, dependency-driven issue (what the paper credits).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from pimlab import paper
from pimlab.engine.timing import AIM_ENGINE, EngineTiming
from pimlab.hardware import AIM, Module
from pimlab.isa import Commands, Kind, compile_gemv, expand_table, instruction_table
from pimlab.progress import report
from pimlab.reproduce import Record, compare
from pimlab.schedule import summarize_table
from pimlab.trace import BREAKDOWN_KEYS
from pimlab.validate import ceil_div, check_choice, check_int, check_ints

FIGURE = "8"
__all__ = ["Fig8Data", "fig8", "gemv_table", "gemv_stream", "gemv_repeats", "gemv_point", "VARIANTS", "variant_setup"]

# (policy, output entries: one OutReg or the figure's, buffer regions, mode switch kept)
VARIANTS = {"static": ("static", 1, 1, True), "static, no mode switch": ("static", 1, 1, False),
            "ping-pong": ("pingpong", None, 2, True), "DCS": ("dcs", None, 1, True)}


def variant_setup(variant: str, obuf_entries: int, timing: EngineTiming) -> tuple[str, int, int, EngineTiming]:
    """(policy, output entries, buffer regions, timing) of one bar. Only the static policy switches modes, so the
    other policies run with tMODCH = 0 whatever the knob (the same bars, one cache entry)."""
    policy, entries, regions, mode = VARIANTS[check_choice("variant", variant, tuple(VARIANTS))]
    keep = mode and policy == "static"
    return policy, entries or obuf_entries, regions, timing if keep or timing.tMODCH == 0 else replace(timing,
                                                                                                      tMODCH=0)


@dataclass(frozen=True)
class Fig8Data:
    """Rows are dimensions (d_in = d_out); breakdown[dim, variant, key] in cycles of the whole run."""

    dims: np.ndarray
    repeats: np.ndarray  # back-to-back GEMVs per point (so that refresh shows at its average rate)
    variants: tuple[str, ...]
    keys: tuple[str, ...]
    breakdown: np.ndarray
    utilization: np.ndarray  # [dim, variant]: MAC cycles / total cycles, 0..1
    obuf_entries: int  # ping-pong's and DCS's output entries (static has one OutReg)
    preset: str

    def of(self, variant: str) -> tuple[np.ndarray, np.ndarray]:
        """(breakdown[dim, key], utilization[dim]) of one variant."""
        v = self.variants.index(variant)
        return self.breakdown[:, v], self.utilization[:, v]

    @property
    def static_breakdown(self) -> np.ndarray:
        return self.of("static")[0]

    @property
    def dcs_breakdown(self) -> np.ndarray:
        return self.of("DCS")[0]

    @property
    def static_utilization(self) -> np.ndarray:
        return self.of("static")[1]

    @property
    def dcs_utilization(self) -> np.ndarray:
        return self.of("DCS")[1]

    @property
    def speedup(self) -> np.ndarray:
        """Static over DCS cycles per dimension."""
        return self.static_breakdown.sum(axis=1) / self.dcs_breakdown.sum(axis=1)


def gemv_table(dim: int, repeats: int, obuf_entries: int, module: Module = AIM,
               buffer_regions: int = 1) -> dict[str, np.ndarray]:
    """`repeats` back-to-back dim x dim GEMVs, each on its own rows, as one instruction table (`isa.instruction_table`).

    GEMV k is the first one's instructions with its MAC rows moved to start at row f_k (f_0 = 0, f_k+1 = (f_k +
    rows) mod (channel rows - rows), so f_k = k rows mod (channel rows - rows)) and its instruction indices after
    those of the GEMVs before it: what compiling each GEMV with `first_row = f_k` gives (tests check). A few
    instructions per GEMV: `summarize_table` totals it without expanding every command.
    """
    check_int("repeats", repeats, 1, 1 << 20)
    one = instruction_table(compile_gemv(dim, dim, module=module, obuf_entries=obuf_entries,
                                         buffer_regions=buffer_regions))
    is_mac = one["op"] == Kind.MAC
    rows = int(one["row"][is_mac].max()) + 1
    first = np.arange(repeats, dtype=np.int64) * rows % max(1, module.rows - rows)
    table = {name: np.tile(column, repeats) for name, column in one.items()}
    table["row"].reshape(repeats, len(is_mac))[:, is_mac] += first[:, None]  # in place, through a view
    return table


def gemv_stream(dim: int, repeats: int, obuf_entries: int, module: Module = AIM, buffer_regions: int = 1) -> Commands:
    """The channel's commands of `gemv_table` (not cached: a long point's stream takes hundreds of MB, while the
    bars, `gemv_point`, are memoized and small)."""
    return expand_table(gemv_table(dim, repeats, obuf_entries, module, buffer_regions), 0)


def gemv_repeats(dim: int, min_macs: int) -> int:
    """Back-to-back GEMVs a point of dimension `dim` runs so that it has at least `min_macs` MAC commands."""
    return max(1, ceil_div(min_macs, ceil_div(int(dim), 16) ** 2))


def gemv_point(dim: int, variant: str, obuf_entries: int, repeats: int, timing: EngineTiming = AIM_ENGINE,
               module: Module = AIM) -> tuple[tuple[int, ...], float]:
    """One bar of Fig. 8: (breakdown cycles in BREAKDOWN_KEYS order, MAC utilization) of `repeats` GEMVs.

    Memoized on its frozen inputs (the timing and module included): an app that changes a knob passes a
    `dataclasses.replace` of them and gets a fresh result; a value seen before answers from the cache.
    """
    policy, entries, regions, timing = variant_setup(variant, obuf_entries, timing)
    return _gemv_point(int(dim), policy, entries, regions, int(repeats), timing, module)


@lru_cache(maxsize=4096)
def _gemv_point(dim, policy, entries, regions, repeats, timing, module):
    summary = summarize_table(gemv_table(dim, repeats, entries, module, regions), 0, policy, timing,
                              module.gbuf_entries, entries)
    parts = summary.breakdown()
    return tuple(parts[k] for k in BREAKDOWN_KEYS), summary.mac_utilization


def fig8(dims=(64, 128, 256, 512, 1024), obuf_entries: int = 2, min_macs: int = 16384,
         timing: EngineTiming = AIM_ENGINE, module: Module = AIM, variants=tuple(VARIANTS)) -> Fig8Data:
    """The four schedules (`VARIANTS`) of square GEMVs; each point repeats the GEMV until it has `min_macs` MACs.

    Static runs with one OutReg, ping-pong and DCS with `obuf_entries` (ping-pong splits them in two halves).
    """
    dims = check_ints("dims", dims, "dim", 16, 8192)
    check_int("obuf_entries", obuf_entries, 2, 64)
    check_int("min_macs", min_macs, 1, 1 << 22)
    variants = tuple(check_choice("variant", v, tuple(VARIANTS)) for v in variants)
    repeats = np.array([gemv_repeats(d, min_macs) for d in dims], dtype=np.int64)
    cells = [(int(d), int(r), v) for d, r in zip(dims, repeats) for v in variants]
    bars = []
    for i, (d, r, v) in enumerate(cells):
        report(i, len(cells))  # a chunk boundary: an app may cancel here (pimlab.progress)
        bars.append(gemv_point(d, v, obuf_entries, r, timing, module))
    shape = (len(dims), len(variants))
    breakdown = np.array([parts for parts, _ in bars], dtype=np.int64).reshape(*shape, len(BREAKDOWN_KEYS))
    utilization = np.array([u for _, u in bars]).reshape(shape)
    return Fig8Data(dims, repeats, variants, BREAKDOWN_KEYS, breakdown, utilization, obuf_entries, timing.name)


def scorecard() -> list[Record]:
    """Static MAC utilization at dimension 128 (a head dimension)."""
    data = fig8(dims=(128,), variants=("static",))
    return [compare(paper.FIG8_STATIC_MAC_UTIL_D128, 100 * float(data.static_utilization[0]),
                    "static MAC utilization at d=128, %")]
