"""Fig. 9: attention of one KV head under MHA and GQA, with and without row-reuse mapping, static vs DCS."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab.engine.timing import AIM_ENGINE, EngineTiming
from pimlab.hardware import AIM, Module
from pimlab.isa import compile_attention, expand
from pimlab.reproduce import Record
from pimlab.schedule import schedule
from pimlab.trace import BREAKDOWN_KEYS
from pimlab.validate import check_int, check_ints

FIGURE = "9"
__all__ = ["Fig9Data", "fig9", "attention_cycles"]


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


def attention_cycles(policy: str, tokens: int, head_dim: int, group: int, row_reuse: bool, obuf_entries: int,
                     timing: EngineTiming = AIM_ENGINE, module: Module = AIM, buffer_regions: int = 1,
                     prefetch: bool = False):
    """(breakdown dict, MAC cycles) of QK^T then SV of one KV head, each scheduled on its own."""
    total, mac = dict.fromkeys(BREAKDOWN_KEYS, 0), 0
    for op in ("qk", "sv"):
        stream = expand(compile_attention(op, tokens, head_dim, group, row_reuse, module, obuf_entries=obuf_entries,
                                          buffer_regions=buffer_regions, prefetch=prefetch), 0)
        trace = schedule(stream, policy, timing, module.gbuf_entries, obuf_entries)
        for key, cycles in trace.breakdown().items():
            total[key] += cycles
        mac += trace.mac_cycles
    return total, mac


def fig9(groups=(1, 2, 4, 8), tokens: int = 1024, head_dim: int = 128, obuf_entries: int = 2,
         timing: EngineTiming = AIM_ENGINE, module: Module = AIM, bar=attention_cycles) -> Fig9Data:
    """Breakdown bars {MHA, GQA g} x {no reuse, row reuse} x {static (one OutReg), DCS}.

    `bar` computes one bar (`attention_cycles` or a cached stand-in with its signature, as the app uses).
    """
    groups = check_ints("groups", groups, "group", 1, 16)
    check_int("tokens", tokens, 16, 1 << 20)
    breakdown = np.zeros((len(groups), 2, 2, len(BREAKDOWN_KEYS)), dtype=np.int64)
    utilization = np.zeros((len(groups), 2, 2))
    for gi, g in enumerate(groups):
        for ri, reuse in enumerate((False, True)):
            for pi, (policy, entries) in enumerate((("static", 1), ("dcs", obuf_entries))):
                parts, mac = bar(policy, tokens, head_dim, int(g), reuse, entries, timing, module)
                breakdown[gi, ri, pi] = [parts[k] for k in BREAKDOWN_KEYS]
                utilization[gi, ri, pi] = mac / sum(parts.values())
    return Fig9Data(groups, BREAKDOWN_KEYS, breakdown, utilization, tokens, head_dim, obuf_entries)


def scorecard() -> list[Record]:
    """The paper quotes no number for Fig. 9 (its claims are qualitative and tested in tests/)."""
    return []
