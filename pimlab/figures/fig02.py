"""Fig. 2: compute intensity and memory footprint of long-context decoding against context length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab import paper
from pimlab.hardware import A100, GPU, GiB
from pimlab.models import LLM, LLM_7B_128K_GQA
from pimlab.reproduce import Record, compare
from pimlab.validate import check_int, check_ints

FIGURE = "2"
__all__ = ["Fig2Data", "fig2", "oom_context_tokens"]


@dataclass(frozen=True)
class Fig2Data:
    """Rows are batch sizes, columns context lengths."""

    model: str
    batch_sizes: np.ndarray
    context_tokens: np.ndarray
    intensity_flops_per_byte: np.ndarray
    footprint_GiB: np.ndarray
    weights_GiB: float
    capacity_GiB: float  # of the GPUs the footprint is compared with
    gpu: str

    @property
    def fits(self) -> np.ndarray:
        """True where weights plus KV cache fit the GPUs' memory."""
        return self.footprint_GiB <= self.capacity_GiB

    def max_context_that_fits(self) -> np.ndarray:
        """Per batch size, the longest context on the grid that fits (0 if none does)."""
        return np.where(self.fits, self.context_tokens, 0).max(axis=1)


def fig2(
    model: LLM = LLM_7B_128K_GQA,
    batch_sizes=(8, 16, 32, 64),
    context_tokens=None,
    gpu: GPU = A100,
) -> Fig2Data:
    """Fig. 2(a) intensity and (b) footprint for each batch size over a context grid (4K to the window)."""
    batches = check_ints("batch_sizes", batch_sizes, "batch size", 1, 4096)
    if context_tokens is None:
        low = min(4096, model.context_window)
        context_tokens = np.unique(np.geomspace(low, model.context_window, 41).round().astype(np.int64))
    context = model.check_context(context_tokens)
    intensity = np.stack([model.compute_intensity(int(b), context) for b in batches])
    footprint = np.stack([model.footprint_bytes(int(b), context) for b in batches]) / GiB
    return Fig2Data(model.name, batches, context, intensity, footprint, model.weight_bytes / GiB,
                    gpu.total_memory_bytes / GiB, gpu.name)


def oom_context_tokens(model: LLM = LLM_7B_128K_GQA, batch: int = 8, gpu: GPU = A100) -> float:
    """Context at which `batch` requests' weights plus KV cache reach the GPUs' memory (Fig. 2b's crossing)."""
    batch = check_int("batch", batch, 1, 4096)
    return (gpu.total_memory_bytes - model.weight_bytes) / (batch * model.kv_bytes_per_token)


def scorecard() -> list[Record]:
    """The A100 capacity line (an input) and where the bs = 8 curve meets it (derived from the presets)."""
    return [
        compare(paper.A100_CAPACITY_GiB, A100.total_memory_bytes / GiB, "A100 capacity line"),
        compare(paper.FIG2_OOM_CONTEXT_BS8, float(np.log2(oom_context_tokens())),
                "bs=8 meets the A100 line: log2(context)"),
    ]
