"""Fig. 9: attention of one KV head under MHA and GQA, with and without row-reuse mapping, static vs DCS."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab.engine.timing import AIM_ENGINE, EngineTiming
from pimlab.figures.fig08 import variant_setup
from pimlab.hardware import AIM, Module
from pimlab.isa import compile_attention_table
from pimlab.progress import report
from pimlab.reproduce import Record
from pimlab.schedule import summarize_table
from pimlab.trace import BREAKDOWN_KEYS, Summary
from pimlab.validate import check_int, check_ints

FIGURE = "9"
__all__ = ["Fig9Data", "fig9", "attention_cycles", "attention_bar"]


@dataclass(frozen=True)
class Fig9Data:
    """breakdown[g, reuse, policy, key]: cycles of QK^T plus SV of one KV head on one channel."""

    groups: np.ndarray
    keys: tuple[str, ...]
    breakdown: np.ndarray
    utilization: np.ndarray  # [g, reuse, policy], MAC cycles / total
    tokens: int
    head_dim: int
    obuf_entries: int

    @property
    def total_cycles(self) -> np.ndarray:
        return self.breakdown.sum(axis=-1)

    def part(self, key: str) -> np.ndarray:
        """[g, reuse, policy] cycles of one breakdown category."""
        return self.breakdown[..., self.keys.index(key)]


@lru_cache(maxsize=4096)
def attention_cycles(policy: str, tokens: int, head_dim: int, group: int, row_reuse: bool, obuf_entries: int,
                     timing: EngineTiming = AIM_ENGINE, module: Module = AIM, buffer_regions: int = 1,
                     prefetch: bool = False) -> tuple[tuple[int, ...], int]:
    """(breakdown cycles in BREAKDOWN_KEYS order, MAC cycles) of QK^T then SV of one KV head, each scheduled on
    its own. Memoized on its frozen inputs (timing and module included)."""
    total, mac = np.zeros(len(BREAKDOWN_KEYS), dtype=np.int64), 0
    for op in ("qk", "sv"):
        table = _attention_table(op, tokens, head_dim, group, row_reuse, module, obuf_entries, buffer_regions,
                                 prefetch)
        summary = _summary(table, policy, timing, module.gbuf_entries, obuf_entries)
        total += summary.breakdown_cycles  # in BREAKDOWN_KEYS order
        mac += summary.mac_cycles
    return tuple(total.tolist()), mac


@lru_cache(maxsize=4)  # the two ops of the bar before: a long stream's table is large
def _attention_table(op: str, tokens: int, head_dim: int, group: int, row_reuse: bool, module: Module,
                     obuf_entries: int, buffer_regions: int, prefetch: bool) -> dict:
    """The compiled instruction table, read-only: bars that differ only in timing or policy (static with and
    without the mode switch) share it."""
    table = compile_attention_table(op, tokens, head_dim, group, row_reuse, module, obuf_entries=obuf_entries,
                                    buffer_regions=buffer_regions, prefetch=prefetch)
    for column in table.values():
        column.setflags(write=False)
    return table


_SUMMARIES: dict[tuple, Summary] = {}  # oldest first; at most _SUMMARIES_KEPT
_SUMMARIES_KEPT = 4096
_SUMMARIES_LOCK = threading.Lock()


def _summary(table: dict, policy: str, timing: EngineTiming, gbuf_entries: int, obuf_entries: int) -> Summary:
    """`summarize_table` of channel 0 (never expanded whole), memoized on the table's content: settings that compile
    to the same program (tokens and head dims count in tiles of the bank count) share one schedule."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(table):
        column = np.ascontiguousarray(table[name])
        digest.update(f"{name}:{column.dtype.str}:{column.shape};".encode())
        digest.update(column.tobytes())
    key = (digest.digest(), policy, timing, gbuf_entries, obuf_entries)
    with _SUMMARIES_LOCK:
        found = _SUMMARIES.get(key)
    if found is None:
        found = summarize_table(table, 0, policy, timing, gbuf_entries, obuf_entries)
        with _SUMMARIES_LOCK:
            _SUMMARIES[key] = found
            while len(_SUMMARIES) > _SUMMARIES_KEPT:
                del _SUMMARIES[next(iter(_SUMMARIES))]
    return found


def attention_bar(variant: str, tokens: int, head_dim: int, group: int, row_reuse: bool, obuf_entries: int,
                  timing: EngineTiming = AIM_ENGINE, module: Module = AIM, prefetch: bool = False):
    """One bar of a scheduler variant of `pimlab.figures.fig08.VARIANTS`: (breakdown, MAC cycles)."""
    policy, entries, regions, timing = variant_setup(variant, obuf_entries, timing)
    return attention_cycles(policy, int(tokens), int(head_dim), int(group), bool(row_reuse), entries, timing, module,
                            regions, bool(prefetch))


def fig9(groups=(1, 2, 4, 8), tokens: int = 1024, head_dim: int = 128, obuf_entries: int = 2,
         timing: EngineTiming = AIM_ENGINE, module: Module = AIM) -> Fig9Data:
    """Breakdown bars {MHA, GQA g} x {no reuse, row reuse} x {static (one OutReg), DCS}."""
    groups = check_ints("groups", groups, "group", 1, 16)
    check_int("tokens", tokens, 16, 1 << 20)
    check_int("obuf_entries", obuf_entries, 1, 64)
    breakdown = np.zeros((len(groups), 2, 2, len(BREAKDOWN_KEYS)), dtype=np.int64)
    utilization = np.zeros((len(groups), 2, 2))
    for gi, g in enumerate(groups):
        for ri, reuse in enumerate((False, True)):
            for pi, variant in enumerate(("static", "DCS")):
                report(4 * gi + 2 * ri + pi, 4 * len(groups))  # a chunk boundary (pimlab.progress)
                parts, mac = attention_bar(variant, tokens, head_dim, int(g), reuse, obuf_entries, timing, module)
                breakdown[gi, ri, pi] = parts
                utilization[gi, ri, pi] = mac / sum(parts)
    return Fig9Data(groups, BREAKDOWN_KEYS, breakdown, utilization, tokens, head_dim, obuf_entries)


def scorecard() -> list[Record]:
    """The paper quotes no number for Fig. 9 (its claims are qualitative and tested in tests/)."""
    return []
