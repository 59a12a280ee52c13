"""Fig. 20: throughput of CENT / NeuPIMs with and without PIMphony, normalized to memory-matched A100s.

The paper quotes no number for this figure, only its ordering: the largest gains on non-GQA models with a
large KV cache, narrower gains on 72B (the GPU is strong on FC), and gains on GQA models too. The GPU
side is `pimlab.system.gpu_step` (pimlab.gpu's A100 roofline with FlashDecoding and PagedAttention) for
the batch that fits the GPUs' memory in 16-token pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab import system
from pimlab.figures.fig13 import SYSTEM_MODULES
from pimlab.gpu import gpu_admitted
from pimlab.hardware import A100
from pimlab.models import LLM_7B_32K, LLM_7B_128K_GQA, LLM_72B_32K, LLM_72B_128K_GQA
from pimlab.reproduce import Record
from pimlab.validate import check_choice, check_int
from pimlab.workloads import MULTIFIELDQA, QMSUM

FIGURE = "20"
__all__ = ["GpuComparison", "fig20", "GPU_CASES", "GPUS"]

GPU_CASES = ((LLM_7B_32K, QMSUM), (LLM_72B_32K, QMSUM), (LLM_7B_128K_GQA, MULTIFIELDQA),
             (LLM_72B_128K_GQA, MULTIFIELDQA))  # [Q Fig. 20 caption] x-axis, (a) QMSum, (b) multifieldqa
GPUS = {7: 2, 72: 8}  # [Q Sec. VIII-C] memory-matched A100-80GB: 2 for 7B, 8 for 72B


def gpu_batch(model, n_gpus: int, pool: np.ndarray) -> np.ndarray:
    """The requests of `pool` (in order) whose paged KV cache fits next to the weights (pimlab.gpu's rule)."""
    n = gpu_admitted(model, pool, A100, n_gpus)
    if n == 0:
        raise ValueError(f"model must fit {n_gpus} A100s with one request, {model.name} does not")
    return pool[:n]


@dataclass(frozen=True)
class GpuComparison:
    """tokens/s of the GPU, the baseline PIM system and it with PIMphony, per case; gains over the GPU."""

    system: str
    cases: tuple
    gpu_tokens_per_s: np.ndarray
    baseline_tokens_per_s: np.ndarray
    pimphony_tokens_per_s: np.ndarray

    @property
    def gain(self) -> np.ndarray:
        """(cases, 3): GPU = 1, baseline, PIMphony."""
        g = self.gpu_tokens_per_s[:, None]
        return np.column_stack([np.ones_like(self.gpu_tokens_per_s), self.baseline_tokens_per_s / g[:, 0],
                                self.pimphony_tokens_per_s / g[:, 0]])


@lru_cache(maxsize=4)
def fig20(kind: str = "cent", requests: int = 256, seed: int = 0) -> GpuComparison:
    """Fig. 20(top) for CENT or (bottom) for NeuPIMs."""
    check_choice("system", kind, system.SYSTEM_KINDS)
    check_int("requests", requests, 1, 1 << 16)
    names, gpu, base, best = [], [], [], []
    for model, dataset in GPU_CASES:
        size = 72 if model.layers == 80 else 7
        pool = dataset.sample(requests, seed)
        names.append(f"{model.name} / {dataset.name}")
        gpu.append(system.gpu_step(model, GPUS[size], gpu_batch(model, GPUS[size], pool)).tokens_per_s)
        modules = SYSTEM_MODULES[(kind, size)]
        base.append(system.search(kind, model, modules, pool, "baseline").step.tokens_per_s)
        best.append(system.search(kind, model, modules, pool, "tcp+dcs+dpa").step.tokens_per_s)
    return GpuComparison(kind, tuple(names), np.array(gpu), np.array(base), np.array(best))


def scorecard() -> list[Record]:
    """The paper quotes no number for Fig. 20; its ordering is checked in the notebook and the tests."""
    return []
