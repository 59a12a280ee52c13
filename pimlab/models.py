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

    @property
    def step_params(self) -> int:
        """Weights one decode step multiplies by: every decoder layer and the LM head (the embedding is a lookup)."""
        return self.layers * self.layer_params + self.vocab * self.hidden

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
        fc = 2 * self.step_params  # per token (no embedding MACs)
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

# The models CENT's public artifact (Yufeng98/CENT) runs [P]: Touvron et al., "Llama 2" (arXiv 2307.09288) and the
# released configs (meta-llama/Llama-2-7b-hf, Llama-2-70b-hf config.json: hidden_size, intermediate_size,
# num_hidden_layers, num_attention_heads, num_key_value_heads, vocab_size, max_position_embeddings 4096).
LLAMA2_7B = LLM("Llama2-7B", layers=32, heads=32, kv_heads=32, head_dim=128, hidden=4096, ffn=11008,
                context_window=4096, vocab=32000)
LLAMA2_70B = LLM("Llama2-70B", layers=80, heads=64, kv_heads=8, head_dim=128, hidden=8192, ffn=28672,
                 context_window=4096, vocab=32000)
CENT_MODELS = (LLAMA2_7B, LLAMA2_70B)

# The models the other long-context systems report on [P, public configs], for their scorecard rows (pimlab.l3,
# pimlab.cxlpnm). GPT-3 (Brown et al., arXiv 2005.14165, Table 2.1): 96 layers, 96 heads of 128, d_model 12288, a
# 2-matrix FFN of 49152; pimlab's gated-FFN count (3 x hidden x ffn) gives the same weights with ffn = 2/3 x 49152.
GPT3_175B = LLM("GPT3-175B", layers=96, heads=96, kv_heads=96, head_dim=128, hidden=12288, ffn=32768,
                context_window=2048, vocab=50257)
# Llama 3.1 (meta-llama/Llama-3.1-70B and -405B config.json): GQA with 8 KV heads, 128K window.
LLAMA31_70B = LLM("Llama3.1-70B", layers=80, heads=64, kv_heads=8, head_dim=128, hidden=8192, ffn=28672,
                  context_window=131072, vocab=128256)
LLAMA31_405B = LLM("Llama3.1-405B", layers=126, heads=128, kv_heads=8, head_dim=128, hidden=16384, ffn=53248,
                   context_window=131072, vocab=128256)
OTHER_MODELS = (GPT3_175B, LLAMA31_70B, LLAMA31_405B)


def as_model(model) -> LLM:
    """`model` itself, or the model it names (see model_named)."""
    return model_named(model) if isinstance(model, str) else model


def request_lengths(model: LLM, context_tokens, batch: int | None = None, beyond_window: bool = False) -> np.ndarray:
    """A batch's context lengths as int64: one length for every request (repeated `batch` times) or one per request.

    A length past the model's window is refused unless `beyond_window` (a what-if the caller records).
    """
    lengths = np.atleast_1d(np.asarray(context_tokens))
    if lengths.size == 0 or lengths.ndim != 1 or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"context_tokens must be a positive integer or a 1-D array of them, got {context_tokens!r}")
    if (lengths < 1).any():
        raise ValueError(f"context_tokens must be >= 1, got {int(lengths.min())}")
    if not beyond_window and (lengths > model.context_window).any():
        raise ValueError(f"context_tokens must be at most {model.name}'s window of {model.context_window} tokens "
                         f"(beyond_window=True is a what-if), got {int(lengths.max())}")
    if batch is not None and lengths.size == 1:
        return np.full(batch, int(lengths[0]), dtype=np.int64)
    if batch is not None and lengths.size != batch:
        raise ValueError(f"batch must equal the number of context lengths given ({lengths.size}), got {batch}")
    return lengths.astype(np.int64)


def model_named(name: str) -> LLM:
    """The model called `name`: Table I's, the Llama 2 models CENT runs, or the other systems' (OTHER_MODELS)."""
    return check_named("model", name, MODELS + CENT_MODELS + OTHER_MODELS)
