"""The paper's four LLMs (Table I) and what one decode step of a batch costs them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab.validate import check_int, check_named


@dataclass(frozen=True)
class LLM:
    """A decoder-only LLM as Table I describes it (generic models: n_l, n_h, d_h fixed, GQA varies)."""

    name: str
    layers: int  # n_l [Q Table I]
    heads: int  # n_h [Q Table I]
    kv_heads: int  # n_h / g [Q Table I: GQA g = 4 (7B) and 8 (72B)]
    head_dim: int  # d_h [Q Table I]
    hidden: int  # "4K-12K": d_model = 4096 / 8192 [R, docs/sources.md §4]
    ffn: int  # "4K-12K": d_ff = 12288 / 24576 [R, docs/sources.md §4]
    context_window: int  # CW [Q Table I]
    vocab: int  # [P] the reference model's vocabulary (Qwen1.5: 151936, Llama 3.1: 128256)
    dtype_bytes: int = 2  # FP16 / BF16 weights and KV cache

    def __post_init__(self):
        for name in ("layers", "heads", "kv_heads", "head_dim", "hidden", "ffn", "context_window", "vocab"):
            check_int(name, getattr(self, name), 1)
        check_int("dtype_bytes", self.dtype_bytes, 1, 8)
        if self.heads % self.kv_heads:
            raise ValueError(f"kv_heads must divide heads ({self.heads}), got {self.kv_heads}")

    @property
    def group_size(self) -> int:
        """GQA group size g: query heads sharing one KV head (1 = MHA)."""
        return self.heads // self.kv_heads

    # --- sizes ----------------------------------------------------------------------------------
    @property
    def kv_bytes_per_token(self) -> int:
        """K and V of every layer and KV head for one token."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes

    @property
    def layer_params(self) -> int:
        """Weights of one decoder layer: Q, K, V, O projections and the gated FFN (FFN1, Gate, FFN2)."""
        q_o = 2 * self.hidden * self.heads * self.head_dim
        k_v = 2 * self.hidden * self.kv_heads * self.head_dim
        return q_o + k_v + 3 * self.hidden * self.ffn

    @property
    def params(self) -> int:
        """All weights: decoder layers plus untied input embedding and LM head."""
        return self.layers * self.layer_params + 2 * self.vocab * self.hidden

    @property
    def weight_bytes(self) -> int:
        return self.params * self.dtype_bytes

    def check_context(self, context_tokens) -> np.ndarray:
        """Context lengths as an int64 array, each in [1, context_window]."""
        lengths = np.atleast_1d(np.asarray(context_tokens))
        if lengths.size == 0 or not np.issubdtype(lengths.dtype, np.integer):
            raise ValueError(f"context_tokens must be integers in [1, {self.context_window}], got {context_tokens!r}")
        bad = (lengths < 1) | (lengths > self.context_window)
        if bad.any():
            raise ValueError(
                f"context_tokens must be in [1, {self.context_window}] for {self.name}, got {int(lengths[bad][0])}"
            )
        return lengths.astype(np.int64)

    def check_fits(self, context_tokens, capacity_bytes: int, where: str = "the system") -> np.ndarray:
        """The batch's context lengths, if weights plus its KV cache fit `capacity_bytes`; else a ValueError."""
        lengths = self.check_context(context_tokens)
        capacity_bytes = check_int("capacity_bytes", capacity_bytes, 1)
        needed = self.weight_bytes + int(lengths.sum()) * self.kv_bytes_per_token
        if needed > capacity_bytes:
            raise ValueError(
                f"batch must fit {where}: {lengths.size} requests, {int(lengths.sum())} tokens of {self.name} need "
                f"{needed / 2**30:.1f} GiB (weights {self.weight_bytes / 2**30:.1f} + KV cache "
                f"{(needed - self.weight_bytes) / 2**30:.1f}), {where} has {capacity_bytes / 2**30:.1f} GiB"
            )
        return lengths

    # --- one decode step ------------------------------------------------------------------------
    def decode_flops(self, batch: int, context_tokens) -> np.ndarray:
        """FLOPs of one decode step for `batch` requests at context `context_tokens` (broadcasts)."""
        batch = check_int("batch", batch, 1, 1 << 20)
        context = self.check_context(context_tokens)
        fc = 2 * (self.layers * self.layer_params + self.vocab * self.hidden)  # per token (no embedding MACs)
        attention = 4 * self.layers * self.heads * self.head_dim * context  # QK^T and SV per token
        return batch * (fc + attention).astype(np.float64)

    def kv_bytes(self, batch: int, context_tokens) -> np.ndarray:
        """Bytes of KV cache for `batch` requests of `context_tokens` each."""
        batch = check_int("batch", batch, 1, 1 << 20)
        return batch * self.check_context(context_tokens).astype(np.float64) * self.kv_bytes_per_token

    def decode_bytes(self, batch: int, context_tokens) -> np.ndarray:
        """Bytes one decode step reads: every weight once (shared by the batch) and every KV entry."""
        return self.weight_bytes + self.kv_bytes(batch, context_tokens)

    def compute_intensity(self, batch: int, context_tokens) -> np.ndarray:
        """FLOPs per byte of one decode step (Fig. 2a); tends to g = heads / kv_heads at long context."""
        return self.decode_flops(batch, context_tokens) / self.decode_bytes(batch, context_tokens)

    def footprint_bytes(self, batch: int, context_tokens) -> np.ndarray:
        """Weights plus KV cache held during decoding (Fig. 2b)."""
        return self.decode_bytes(batch, context_tokens)


# Table I [Q]; hidden/FFN per docs/sources.md §4 [R]; vocab from the reference model [P]
LLM_7B_32K = LLM("LLM-7B-32K", layers=32, heads=32, kv_heads=32, head_dim=128, hidden=4096, ffn=12288,
                 context_window=32 * 1024, vocab=151936)  # reference: Qwen1.5-7B
LLM_7B_128K_GQA = LLM("LLM-7B-128K-GQA", layers=32, heads=32, kv_heads=8, head_dim=128, hidden=4096, ffn=12288,
                      context_window=128 * 1024, vocab=128256)  # reference: Llama3.1-8B, g = 4
LLM_72B_32K = LLM("LLM-72B-32K", layers=80, heads=64, kv_heads=64, head_dim=128, hidden=8192, ffn=24576,
                  context_window=32 * 1024, vocab=151936)  # reference: Qwen1.5-72B
LLM_72B_128K_GQA = LLM("LLM-72B-128K-GQA", layers=80, heads=64, kv_heads=8, head_dim=128, hidden=8192, ffn=24576,
                       context_window=128 * 1024, vocab=128256)  # reference: Llama3.1-70B, g = 8
MODELS = (LLM_7B_32K, LLM_7B_128K_GQA, LLM_72B_32K, LLM_72B_128K_GQA)


def model_named(name: str) -> LLM:
    """The Table I model called `name`."""
    return check_named("model", name, MODELS)
