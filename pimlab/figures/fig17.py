"""Fig. 17: scalability of LLM-7B-128K-GQA with system capacity and context length, CENT and NeuPIMs.

Contexts vary by 3 sigma around each length (pimlab's reading of "3-sigma context variation": a normal
with sigma = length / 6, so mean +- 3 sigma spans half to one and a half times the length). Past the
model's 128K window the study is a what-if: the window is stretched to the run's longest request, which
is also what a static reservation holds. Each point is the best (tp, pp) layout's step for the batch the
allocator admits (static for the baseline, DPA for PIMphony).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from pimlab import paper, system
from pimlab.models import LLM_7B_128K_GQA
from pimlab.reproduce import Record, compare
from pimlab.sweep import figure_sweep
from pimlab.validate import check_choice, check_int, check_ints

FIGURE = "17"
__all__ = ["ScalabilityData", "fig17", "variation_lengths", "scalability_point"]

CAPACITIES_GB = (128, 256, 512, 1024)  # [Q Fig. 17(a)]
CONTEXTS = (256, 4096, 16384, 65536, 262144, 1048576)  # [Q, O] 4K to 1M, plus the quoted 256 tokens
MODULE_GB = {"cent": 16, "neupims": 32}  # [Q Table IV]


def variation_lengths(context: int, n: int, seed: int = 0) -> np.ndarray:
    """`n` context lengths around `context`: normal, sigma = context / 6, clipped to mean +- 3 sigma (read-only)."""
    return _variation_lengths(check_int("context", context, 16), check_int("n", n, 1, 1 << 20),
                              check_int("seed", seed, 0))


@lru_cache(maxsize=256)  # the apps' checks draw the same pools on every update
def _variation_lengths(context: int, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    sigma = context / 6
    draws = np.clip(rng.normal(context, sigma, n), context - 3 * sigma, context + 3 * sigma)
    lengths = np.maximum(1, np.rint(draws)).astype(np.int64)
    lengths.flags.writeable = False
    return lengths


@lru_cache(maxsize=512)
def scalability_point(kind: str, capacity_GB: int, context: int, techniques: str, requests: int = 256,
                      seed: int = 0) -> system.StepResult:
    """The best layout's step of LLM-7B-128K-GQA at `context` (3-sigma variation) on `capacity_GB`."""
    check_choice("system", kind, system.SYSTEM_KINDS)
    modules = check_int("capacity_GB", capacity_GB, MODULE_GB[kind]) // MODULE_GB[kind]
    pool = variation_lengths(context, requests, seed)
    window = max(LLM_7B_128K_GQA.context_window, int(pool.max()))
    model = replace(LLM_7B_128K_GQA, context_window=window)
    return system.search(kind, model, modules, pool, techniques).step


@dataclass(frozen=True)
class ScalabilityData:
    """(a) tokens/s against capacity at one context; (b) speedup and (c) utilization against context."""

    system: str
    capacities_GB: np.ndarray
    capacity_context: int
    baseline_by_capacity: np.ndarray  # tokens/s
    pimphony_by_capacity: np.ndarray
    contexts: np.ndarray
    context_capacity_GB: int
    baseline_by_context: np.ndarray
    pimphony_by_context: np.ndarray
    baseline_utilization: np.ndarray  # MAC utilization, 0..1
    pimphony_utilization: np.ndarray

    @property
    def speedup_by_context(self) -> np.ndarray:
        return self.pimphony_by_context / self.baseline_by_context

    @property
    def speedup_by_capacity(self) -> np.ndarray:
        return self.pimphony_by_capacity / self.baseline_by_capacity


@lru_cache(maxsize=8)
def fig17(kind: str = "cent", capacities_GB=CAPACITIES_GB, capacity_context: int = 65536, contexts=CONTEXTS,
          context_capacity_GB: int = 512, executor=None) -> ScalabilityData:
    """Fig. 17 for one baseline system: baseline vs PIMphony (TCP + DCS + DPA).

    The points run through `pimlab.sweep.sweep` on `executor` (None: one thread in this process, which
    reuses the tile caches and is faster than local processes for a sweep this size; or a process pool, a
    dask `distributed.Client`).
    """
    caps = check_ints("capacities_GB", capacities_GB, "capacity_GB", MODULE_GB[kind])
    ctx = check_ints("contexts", contexts, "context", 16, 1 << 22)

    def points(caps_, ctx_):  # (baseline, PIMphony) columns of tokens/s and utilization, one row per point
        grid = {"kind": [kind], "capacity_GB": caps_, "context": ctx_, "techniques": ["baseline", "tcp+dcs+dpa"]}
        table = figure_sweep(scalability_point, grid, executor)
        return table["tokens_per_s"].reshape(-1, 2).T, table["mac_utilization"].reshape(-1, 2).T

    (base_a, best_a), _ = points([int(c) for c in caps], [int(capacity_context)])
    (base_b, best_b), (util_base, util_best) = points([int(context_capacity_GB)], [int(t) for t in ctx])
    return ScalabilityData(kind, caps, capacity_context, base_a, best_a, ctx, context_capacity_GB, base_b, best_b,
                           util_base, util_best)


def scorecard() -> list[Record]:
    """At 1M tokens: CENT's utilization and PIMphony's speedup over CENT and NeuPIMs; at 256 tokens the speedup."""
    cent, neupims = fig17("cent"), fig17("neupims")
    at = lambda data, t: int(np.flatnonzero(data.contexts == t)[0])  # noqa: E731
    million, short = 1048576, 256
    return [
        compare(paper.FIG17_CENT_UTIL_1M, 100 * float(cent.baseline_utilization[at(cent, million)]),
                "CENT MAC utilization at 1M tokens", note=system.GAP_HOST_SERIAL),
        compare(paper.FIG17_SPEEDUP_CENT_1M, float(cent.speedup_by_context[at(cent, million)]),
                "PIMphony over CENT at 1M tokens", note=system.GAP_HOST_SERIAL),
        compare(paper.FIG17_SPEEDUP_NEUPIMS_1M, float(neupims.speedup_by_context[at(neupims, million)]),
                "PIMphony over NeuPIMs at 1M tokens", note=system.GAP_NEUPIMS_BASELINE),
        compare(paper.FIG17_SPEEDUP_SHORT, float(cent.speedup_by_context[at(cent, short)]),
                "PIMphony over CENT at 256 tokens", note=system.GAP_HOST_SERIAL),
        compare(paper.FIG17_CENT_SPEEDUP_64K, float(cent.speedup_by_context[at(cent, 65536)]),
                "PIMphony over CENT at 64K tokens", note=system.GAP_HOST_SERIAL),
        compare(paper.FIG17_NEUPIMS_SPEEDUP_4K, float(neupims.speedup_by_context[at(neupims, 4096)]),
                "PIMphony over NeuPIMs at 4K tokens", note=system.GAP_NEUPIMS_BASELINE),
        compare(paper.FIG17_NEUPIMS_SPEEDUP_64K, float(neupims.speedup_by_context[at(neupims, 65536)]),
                "PIMphony over NeuPIMs at 64K tokens", note=system.GAP_NEUPIMS_BASELINE),
    ]
