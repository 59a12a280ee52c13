"""The GPU baseline: one decode step on tensor-parallel A100s with FlashDecoding and PagedAttention, as a roofline.

A step is a sequence of kernels on every GPU at once (tensor parallelism over NVLink, Megatron-style: heads and FFN
columns split, two all-reduces per layer):

- fc: the QKV/O projections, FFN and LM head, each GPU reading its 1/n of the weights once for the whole batch,
  bounded by HBM bandwidth or by tensor-core throughput, whichever is slower (the roofline);
- attention: FlashDecoding splits every request's KV cache along the sequence, so even one request streams its KV at
  full HBM bandwidth (Dao et al., "Flash-Decoding for long-context inference", 2023); PagedAttention stores the KV
  cache in blocks of 16 tokens and allocates them on demand (Kwon et al., SOSP 2023, arXiv 2309.06180), so capacity
  follows the actual lengths with at most one partly filled block per request;
- link: the two all-reduces of each layer over NVLink (ring: 2 (n-1)/n of the activations per GPU);
- other: a fixed time per decoder layer (kernel launches, norms, rotary, sampling) that no roofline sees.

The efficiency factors are named in `GPUEfficiency`, each with its source; docs/gpu.md shows the arithmetic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from pimlab.hardware import A100, GPU
from pimlab.models import LLM, as_model, request_lengths
from pimlab.step import StepResult
from pimlab.validate import ceil_div, check_int, check_number


@dataclass(frozen=True)
class GPUEfficiency:
    """What fraction of the datasheet a real decode step gets, and the fixed costs no roofline sees.

    hbm [measured]: a streaming read kernel reaches 1.80 TB/s of the 2.04 TB/s of an A100-80GB SXM, 88% (NVIDIA
    developer forum, "Trouble to reach peak bandwidth of A100", Nsight Compute; an NVIDIA GTC talk it cites puts the
    best kernels near 90%). FlashDecoding's point is that decode attention reaches this rate at any batch.
    tensor [assumption]: BF16 GEMM on A100 at 70% of the 312 TFLOPS peak; large cuBLAS GEMMs reach 75-90%, the skinny
    (batch x hidden) decode GEMMs less. It binds only at large batch.
    nvlink [assumption]: ring all-reduce bus bandwidth at 80% of the 300 GB/s per direction (nccl-tests on DGX A100
    report about 230-240 GB/s bus bandwidth for large messages).
    layer_overhead_s and allreduce_latency_s [calibrated]: fitted to NVIDIA's published NeMo Framework inference
    table for Llama-2-7B on A100 80GB SXM4 at batch 1 (128 input, 20 output tokens; TP 1, 2, 4, 8: 234.0, 171.7,
    143.7, 136.5 ms per request; docs.nvidia.com/nemo-framework, "Llama-2 Results"): per decode step, 133 us per
    layer plus 9 us x log2(n) per all-reduce (docs/calibrate_gpu.py refits them). They matter at short contexts; at
    long contexts the KV stream dominates.
    memory_utilization [P]: vLLM's default gpu_memory_utilization = 0.9 (the rest: activations, CUDA context).
    block_tokens [P]: vLLM's default PagedAttention block size, 16 tokens.
    """

    hbm: float = 0.88
    tensor: float = 0.70
    nvlink: float = 0.80
    layer_overhead_s: float = 133e-6
    allreduce_latency_s: float = 9e-6  # per log2(n) step of one all-reduce
    memory_utilization: float = 0.90
    block_tokens: int = 16

    def __post_init__(self):
        for name in ("hbm", "tensor", "nvlink", "memory_utilization"):
            check_number(name, getattr(self, name), 0.0, 1.0)
        check_number("layer_overhead_s", self.layer_overhead_s, 0.0, 1.0, low_open=False)
        check_number("allreduce_latency_s", self.allreduce_latency_s, 0.0, 1.0, low_open=False)
        check_int("block_tokens", self.block_tokens, 1, 1 << 16)


A100_DECODE = GPUEfficiency()
CALIBRATED = ("layer_overhead_s", "allreduce_latency_s")  # the knobs fitted to a measurement (the rest are sourced)


def paper_gpus(model: LLM) -> int:
    """A100s memory-matched to the paper's PIM systems (Fig. 20): 2 for the 7B models (128 GB), 8 for 70B+ (512 GB)."""
    return 2 if model.params < 20e9 else 8


def _check_tp(model: LLM, n_gpus) -> int:
    n_gpus = check_int("n_gpus", n_gpus, 1, 1024)
    if model.heads % n_gpus:
        raise ValueError(f"n_gpus must divide the {model.heads} attention heads of {model.name} (tensor "
                         f"parallelism splits heads), got {n_gpus}")
    return n_gpus


def _kv_bytes_per_token_per_gpu(model: LLM, n_gpus: int) -> float:
    """KV bytes one GPU holds per token: its share of the KV heads (replicated when there are fewer than GPUs)."""
    kv_heads_per_gpu = math.ceil(model.kv_heads / n_gpus)
    return model.kv_bytes_per_token * kv_heads_per_gpu / model.kv_heads


def gpu_free_bytes(model, gpu: GPU = A100, n_gpus: int = 1, efficiency: GPUEfficiency = A100_DECODE) -> float:
    """HBM one GPU has left for the KV cache after its share of the weights; a ValueError if the weights do not fit."""
    model = as_model(model)
    n_gpus = _check_tp(model, n_gpus)
    free = gpu.memory_bytes * efficiency.memory_utilization - model.weight_bytes / n_gpus
    if free <= 0:
        raise ValueError(f"n_gpus must give {model.name}'s {model.weight_bytes / 2**30:.1f} GiB of weights room on "
                         f"{gpu.name}s ({efficiency.memory_utilization:.0%} of {gpu.memory_bytes / 2**30:.0f} GiB "
                         f"each), got {n_gpus}")
    return free


def gpu_max_batch(model, context_tokens, gpu: GPU = A100, n_gpus: int | None = None,
                  efficiency: GPUEfficiency = A100_DECODE, beyond_window: bool = False) -> int:
    """Most requests of `context_tokens` each whose paged KV cache fits the GPUs' HBM after the weights (may be 0)."""
    model = as_model(model)
    n_gpus = paper_gpus(model) if n_gpus is None else n_gpus
    free = gpu_free_bytes(model, gpu, n_gpus, efficiency)
    length = int(request_lengths(model, context_tokens, None, beyond_window).max())
    blocks = ceil_div(length, efficiency.block_tokens)
    per_request = blocks * efficiency.block_tokens * _kv_bytes_per_token_per_gpu(model, n_gpus)
    return int(free // per_request)


def gpu_admitted(model, pool, gpu: GPU = A100, n_gpus: int | None = None,
                 efficiency: GPUEfficiency = A100_DECODE) -> int:
    """How many requests of `pool` (context lengths, in order) fit the GPUs' HBM after the weights, in pages."""
    model = as_model(model)
    n_gpus = paper_gpus(model) if n_gpus is None else n_gpus
    pages = ceil_div(np.asarray(pool, dtype=np.int64), efficiency.block_tokens) * efficiency.block_tokens
    need = np.cumsum(pages * _kv_bytes_per_token_per_gpu(model, n_gpus), dtype=np.float64)
    return int(np.searchsorted(need, gpu_free_bytes(model, gpu, n_gpus, efficiency), side="right"))


def _bandwidth(gpu: GPU, efficiency: GPUEfficiency) -> float:
    return gpu.hbm_bandwidth_GBps * 1e9 * efficiency.hbm  # bytes/s one GPU streams


def gpu_stream_s(bytes_per_gpu: float, gpu: GPU = A100, efficiency: GPUEfficiency = A100_DECODE) -> float:
    """Seconds one GPU takes to stream `bytes_per_gpu` from HBM (KV pages, metadata) at its achievable bandwidth."""
    return bytes_per_gpu / _bandwidth(gpu, efficiency)


def gpu_fc_s(model, batch: int, gpu: GPU = A100, n_gpus: int = 1,
             efficiency: GPUEfficiency = A100_DECODE) -> tuple[float, float, float]:
    """(fc, link, other) seconds of one decode step's non-attention work on `n_gpus` tensor-parallel GPUs.

    fc: the weight-streaming / tensor-core roofline of every projection, FFN and the LM head; link: the two
    all-reduces per layer over NVLink; other: the fixed per-layer cost. Shared by every GPU-hosted system model.
    """
    model = as_model(model)
    n_gpus = _check_tp(model, n_gpus)
    batch = check_int("batch", batch, 1, 1 << 20)
    fc = max(model.step_params * model.dtype_bytes / n_gpus / _bandwidth(gpu, efficiency),
             2.0 * batch * model.step_params / n_gpus / (gpu.peak_TFLOPs * 1e12 * efficiency.tensor))
    link = 0.0
    if n_gpus > 1:
        message = batch * model.hidden * model.dtype_bytes
        one = (efficiency.allreduce_latency_s * math.log2(n_gpus)
               + 2 * (n_gpus - 1) / n_gpus * message / (gpu.nvlink_GBps * 1e9 * efficiency.nvlink))
        link = 2 * model.layers * one
    return fc, link, model.layers * efficiency.layer_overhead_s


def gpu_step(model, gpu: GPU = A100, n_gpus: int | None = None, batch: int | None = None, context_tokens=None, *,
             efficiency: GPUEfficiency = A100_DECODE, ignore_capacity: bool = False,
             beyond_window: bool = False) -> StepResult:
    """One decode step of `batch` requests on `n_gpus` tensor-parallel GPUs (FlashDecoding + PagedAttention).

    `n_gpus=None` takes the paper's memory-matched count (`paper_gpus`); `batch=None` the most that fits;
    `context_tokens` is one length for every request or one per request. A batch whose KV cache does not fit is
    refused unless `ignore_capacity` (a what-if the result records), as is a context past the model's window unless
    `beyond_window`.
    """
    model = as_model(model)
    if context_tokens is None:
        raise ValueError("context_tokens must be given: one length for every request or one per request")
    n_gpus = paper_gpus(model) if n_gpus is None else _check_tp(model, n_gpus)
    if batch is not None:
        batch = check_int("batch", batch, 1, 1 << 20)
    lengths = request_lengths(model, context_tokens, batch, beyond_window)
    if batch is None:
        batch = lengths.size if lengths.size > 1 else gpu_max_batch(model, lengths, gpu, n_gpus, efficiency,
                                                                     beyond_window)
        if batch < 1:
            raise ValueError(f"context_tokens must leave room for one request of {model.name} on {n_gpus} "
                             f"{gpu.name}s, got {int(lengths.max())}")
        lengths = np.full(batch, lengths[0]) if lengths.size == 1 else lengths
    whatifs = []
    kv_per_token = _kv_bytes_per_token_per_gpu(model, n_gpus)
    blocks = ceil_div(lengths, efficiency.block_tokens)
    needed = float(blocks.sum()) * efficiency.block_tokens * kv_per_token
    free = gpu_free_bytes(model, gpu, n_gpus, efficiency)
    if needed > free:
        if not ignore_capacity:
            raise ValueError(
                f"batch must fit the KV cache in HBM: {batch} requests of {model.name} need {needed / 2**30:.1f} GiB "
                f"per GPU, {n_gpus} {gpu.name}s leave {free / 2**30:.1f} GiB each after weights (at most "
                f"{gpu_max_batch(model, int(lengths.max()), gpu, n_gpus, efficiency, True)} requests of the "
                f"longest context); ignore_capacity=True times it anyway")
        whatifs.append("capacity not checked")
    if (lengths > model.context_window).any():
        whatifs.append("context past the model's window")

    fc, link, other = gpu_fc_s(model, batch, gpu, n_gpus, efficiency)
    tokens = float(lengths.sum())
    attention_flops = 4.0 * model.layers * model.heads * model.head_dim * tokens / n_gpus  # QK^T and SV
    attention = max(tokens * kv_per_token / _bandwidth(gpu, efficiency),
                    attention_flops / (gpu.peak_TFLOPs * 1e12 * efficiency.tensor))
    latency = fc + attention + link + other
    return StepResult(system="a100", model=model.name, batch=batch, context_tokens=float(lengths.mean()),
                      latency_s=latency, tokens_per_s=batch / latency,
                      components_s={"fc": fc, "attention": attention, "link": link, "other": other},
                      whatifs=tuple(whatifs))
