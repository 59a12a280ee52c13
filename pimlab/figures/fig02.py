"""Fig. 2: compute intensity and memory footprint of long-context decoding against context length."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab import paper
from pimlab.hardware import A100, GPU, GiB
from pimlab.models import LLM, LLM_7B_128K_GQA
from pimlab.reproduce import Record, compare
from pimlab.validate import check_ints

FIGURE = "2"
__all__ = ["Fig2Data", "fig2"]


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


def scorecard() -> list[Record]:
    """The A100 capacity line and where bs = 8 meets it."""
    at_64k = fig2(batch_sizes=(8,), context_tokens=[64 * 1024])
    return [
        compare(paper.A100_CAPACITY_GiB, at_64k.capacity_GiB, "A100 capacity line"),
        compare(paper.FIG2_FOOTPRINT_BS8_64K, float(at_64k.footprint_GiB[0, 0]), "footprint, bs=8 at 64K"),
    ]
