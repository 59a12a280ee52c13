"""L3 (arXiv 2504.17584): GPUs run the FC layers, host DDR4 DIMM-PIM holds every KV cache and runs decode attention.

A first-order model. Tags: [Q] L3's abstract; [S] third-party summaries of the paper (its body was not reachable);
[P] public specifications (JEDEC DDR4-3200, NVIDIA A100, PCIe 4.0); [R] pimlab's reconstruction or assumption.
docs/others.md lists every default with its tag.

Per decode step of a batch (every request emits one token):
- fc: the GPUs' FC roofline, all-reduces and fixed per-layer costs (pimlab.gpu.gpu_fc_s);
- attention: every request's K and V streamed by the DIMMs' bank PUs: sum(kv bytes) / (PIM bandwidth x eta_pim);
- link: q, the new k and v, and the attention output of every layer over the GPUs' PCIe links;
- exposed: with overlap, the pipeline fill of L3's two sub-batches (one layer of the faster side).
With `overlap=True` (L3's adaptive scheduler) the GPU computes sub-batch 1's FC while the PIM computes sub-batch 0's
attention; the step takes 2 x max(GPU, PIM) of a half batch, and only the slower side's parts appear in the
breakdown (the faster side is hidden under it). The scheduler splits only when that beats running the whole batch
in turn (a weight-bound GPU reads its weights twice for two half batches). Ranksets: one rankset per channel talks
to the host while the others compute, so a transfer costs the PIM 1/ranksets of its compute for that time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from pimlab.gpu import A100_DECODE, GPUEfficiency, gpu_fc_s, gpu_step
from pimlab.hardware import A100, GPU
from pimlab.models import LLM, as_model, request_lengths
from pimlab.step import StepResult
from pimlab.validate import check_int, check_number

GiB = 2**30


@dataclass(frozen=True)
class L3Config:
    """An L3 server: GPUs for FC, DDR4 DIMM-PIM channels for the KV cache and decode attention."""

    gpu: GPU = A100  # [S] DGX-A100 is the GPU server L3 evaluates on
    n_gpus: int = 8  # [S] DGX-A100: 8 GPUs
    channels: int = 16  # [S] 16 DDR4-3200 channels
    dimms_per_channel: int = 2  # [S] 2 DIMMs per channel
    ranks_per_dimm: int = 2  # [R] a common DDR4 RDIMM organisation
    chips_per_rank: int = 8  # [R] x8 chips make a 64-bit rank
    banks_per_chip: int = 16  # [P] DDR4 x8: 4 bank groups x 4 banks
    dimm_bytes: int = 64 * GiB  # [S]/[R] "about 2 TB" over 32 DIMMs
    channel_GBps: float = 25.6  # [P] DDR4-3200: 3200 MT/s x 8 B
    tccd_l_ns: float = 5.0  # [P] DDR4-3200 tCCD_L = 8 nCK at 1600 MHz; [R] a bank PU reads one access per tCCD_L
    bank_access_bytes: int = 8  # [R] one BL8 burst of a x8 chip
    ranksets_per_channel: int = 4  # [R] from "~75% of PIM compute kept during offload" [S]
    eta_pim: float = 0.8  # [R] assumption: share of the bank PUs' streaming rate attention sustains
    overlap: bool = True  # L3's scheduler: GPU FC of one sub-batch beside PIM attention of the other [S]
    gpu_efficiency: GPUEfficiency = field(default=A100_DECODE)

    def __post_init__(self):
        if not isinstance(self.gpu, GPU):
            raise ValueError(f"gpu must be a pimlab.hardware.GPU, got {type(self.gpu).__name__}")
        check_int("n_gpus", self.n_gpus, 1, 1024)
        for name in ("channels", "dimms_per_channel", "ranks_per_dimm", "chips_per_rank", "banks_per_chip",
                     "bank_access_bytes"):
            check_int(name, getattr(self, name), 1, 1 << 16)
        check_int("dimm_bytes", self.dimm_bytes, 1)
        check_number("channel_GBps", self.channel_GBps)
        check_number("tccd_l_ns", self.tccd_l_ns)
        check_int("ranksets_per_channel", self.ranksets_per_channel, 1,
                  self.dimms_per_channel * self.ranks_per_dimm)
        check_number("eta_pim", self.eta_pim, 0.0, 1.0)

    @property
    def ranks(self) -> int:
        return self.channels * self.dimms_per_channel * self.ranks_per_dimm

    @property
    def capacity_bytes(self) -> int:
        return self.channels * self.dimms_per_channel * self.dimm_bytes

    @property
    def rank_GBps(self) -> float:
        """What one rank's bank PUs stream together (204.8 GB/s with the defaults: 8x its channel)."""
        return self.chips_per_rank * self.banks_per_chip * self.bank_access_bytes / self.tccd_l_ns

    @property
    def pim_GBps(self) -> float:
        """Internal streaming bandwidth of every bank PU of the system (13.1 TB/s with the defaults)."""
        return self.ranks * self.rank_GBps

    @property
    def host_GBps(self) -> float:
        """What the channels carry to the host (409.6 GB/s): the rate a CPU-offload system would attend at."""
        return self.channels * self.channel_GBps


L3_DEFAULT = L3Config()


def l3_max_batch(model, context_tokens, config: L3Config = L3_DEFAULT) -> int:
    """Most requests of `context_tokens` (a mean length) whose KV fits the DIMM-PIM; the GPUs hold only weights."""
    model = as_model(model)
    _check_weights(model, config)
    length = check_number("context_tokens", context_tokens)
    return int(config.capacity_bytes // (length * model.kv_bytes_per_token))


def _check_weights(model: LLM, config: L3Config) -> None:
    room = config.n_gpus * config.gpu.memory_bytes * config.gpu_efficiency.memory_utilization
    if model.weight_bytes > room:
        raise ValueError(f"n_gpus must hold {model.name}'s {model.weight_bytes / GiB:.0f} GiB of weights in HBM "
                         f"({room / GiB:.0f} GiB usable on {config.n_gpus} {config.gpu.name}s), got {config.n_gpus}")


def _parts(model: LLM, lengths: np.ndarray, config: L3Config) -> tuple[float, float, float]:
    """(gpu, pim attention, link) seconds for the requests of `lengths`."""
    batch = lengths.size
    fc, allreduce, other = gpu_fc_s(model, batch, config.gpu, config.n_gpus, config.gpu_efficiency)
    attention = float(lengths.sum()) * model.kv_bytes_per_token / (config.pim_GBps * 1e9 * config.eta_pim)
    vectors = batch * model.layers * (2 * model.heads + 2 * model.kv_heads) * model.head_dim * model.dtype_bytes
    link = vectors / (config.n_gpus * config.gpu.pcie_GBps * 1e9)
    return fc + allreduce + other, attention, link


def l3_step(model, batch: int, context_tokens, config: L3Config = L3_DEFAULT, *, ignore_capacity: bool = False,
            beyond_window: bool = False) -> StepResult:
    """One decode step of `batch` requests on L3 (components fc, attention, link, exposed)."""
    model = as_model(model)
    batch = check_int("batch", batch, 1, 1 << 20)
    lengths = request_lengths(model, context_tokens, batch, beyond_window)
    _check_weights(model, config)
    whatifs = []
    kv = float(lengths.sum()) * model.kv_bytes_per_token
    if kv > config.capacity_bytes:
        if not ignore_capacity:
            raise ValueError(f"batch must fit the KV cache in L3's DIMM-PIM: {batch} requests of {model.name} need "
                             f"{kv / GiB:.0f} GiB, the DIMMs hold {config.capacity_bytes / GiB:.0f} GiB; "
                             f"ignore_capacity=True times it anyway")
        whatifs.append("capacity not checked")
    if (lengths > model.context_window).any():
        whatifs.append("context past the model's window")
    gpu, attention, link = _parts(model, lengths, config)
    components = {"fc": gpu, "attention": attention, "link": link, "exposed": 0.0}
    if config.overlap and batch > 1:
        half = _parts(model, lengths[: math.ceil(batch / 2)], config)
        gpu, attention, link = half[0], half[1], half[2] / config.ranksets_per_channel  # one rankset talks
        pim = attention + link
        fill = min(gpu, pim) / model.layers  # the first layer of the faster side runs alone
        pipelined = ({"fc": 2 * gpu, "attention": 0.0, "link": 0.0} if gpu >= pim
                     else {"fc": 0.0, "attention": 2 * attention, "link": 2 * link})
        pipelined["exposed"] = fill
        if sum(pipelined.values()) < sum(components.values()):  # the adaptive scheduler splits only when it pays
            components = pipelined
    latency = sum(components.values())
    return StepResult(system="l3", model=model.name, batch=batch, context_tokens=float(lengths.mean()),
                      latency_s=latency, tokens_per_s=batch / latency, components_s=components,
                      whatifs=tuple(whatifs))


def hbm_pim_step(model, batch: int, context_tokens, gpu: GPU = A100, n_gpus: int = 8, attention_gain: float = 4.0,
                 efficiency: GPUEfficiency = A100_DECODE, *, ignore_capacity: bool = False,
                 beyond_window: bool = False) -> StepResult:
    """L3's foil, an HBM-PIM GPU (AttAcc / NeuPIMs-like): attention at `attention_gain` x the HBM bandwidth.

    Capacity stays the GPUs' HBM after weights. attention_gain [R]: an assumed bank-level PIM bandwidth multiple
    (AttAcc and NeuPIMs report several-fold internal over external HBM bandwidth).
    """
    check_number("attention_gain", attention_gain, 0.0)
    step = gpu_step(model, gpu, n_gpus, batch, context_tokens, efficiency=efficiency, ignore_capacity=ignore_capacity,
                    beyond_window=beyond_window)
    parts = dict(step.components_s, attention=step.components_s["attention"] / attention_gain)
    latency = sum(parts.values())
    return StepResult(system="hbm-pim", model=step.model, batch=step.batch, context_tokens=step.context_tokens,
                      latency_s=latency, tokens_per_s=step.batch / latency, components_s=parts, whatifs=step.whatifs)
