"""CXL-PNM for 1M-token inference (arXiv 2511.00321): the KV cache in CXL memory devices with a near-memory engine.

A first-order model. Tags: [Q] the paper's abstract; [S] third-party summaries; [P] public specifications (the
HPCA 2024 LPDDR5X CXL-PNM platform by the same Samsung co-authors: 512 GB and 1.1 TB/s per device; PCIe 5.0;
Quest, arXiv 2406.10774); [R] pimlab's reconstruction or assumption. docs/others.md lists every default.

The GPUs run the FC layers (pimlab.gpu.gpu_fc_s). Each request's KV cache lives on one CXL device (request-parallel,
"DP-oriented" [S]) in pages of `page_tokens` tokens, each page with a min/max key summary (Quest): 1/page_tokens of
the page's KV bytes. A step selects the top pages of every request (reading the summaries of all L tokens) and
attends over `budget_tokens` of them. Schemes:
- "recall" (the baseline the abstract names): a passive CXL memory; the GPU keeps the summaries in HBM, selects,
  recalls the chosen pages that are not resident over CXL/PCIe, and attends on the GPU.
- "pnm-kv": selection and attention on the device's PNM engine; only q and the output cross the link.
- "png-kv": as pnm-kv, but a `steady_fraction` of the budget (steady tokens) stays resident in GPU HBM and the
  GPU attends over it while the PNM does the rest; the slower side sets the time.
`budget_tokens=None` is dense attention (every token, no selection): the fair comparison with a dense PIM system.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pimlab.gpu import A100_DECODE, GPUEfficiency, gpu_fc_s, gpu_free_bytes, gpu_stream_s
from pimlab.hardware import A100, GPU
from pimlab.models import LLM, as_model, request_lengths
from pimlab.step import StepResult
from pimlab.validate import ceil_div, check_choice, check_int, check_number

GB = 10**9
SCHEMES = ("recall", "pnm-kv", "png-kv")


@dataclass(frozen=True)
class CxlPnmConfig:
    """A GPU server with CXL-PNM memory devices holding the KV cache."""

    scheme: str = "pnm-kv"  # one of SCHEMES
    gpu: GPU = A100  # [R] the paper's GPU was not recovered; A100 matches pimlab's other baselines
    n_gpus: int = 8  # [R] one 8-GPU server
    n_devices: int = 8  # [R] CXL-PNM devices in the server
    device_bytes: int = 512 * GB  # [P] HPCA 2024 CXL-PNM platform: 512 GB of LPDDR5X per device
    device_GBps: float = 1100.0  # [P] same platform: 1.1 TB/s per device
    cxl_GBps: float = 64.0  # [P] a CXL link on a PCIe 5.0 x16 PHY, per direction; [R] that the paper uses it
    page_tokens: int = 16  # [P] Quest's default page; [R] that the paper keeps it
    budget_tokens: int | None = 4096  # [R] selected tokens per request and layer; None = dense (no selection)
    steady_fraction: float = 0.5  # [R] png-kv: share of the budget served from GPU HBM
    resident_fraction: float = 0.0  # [R] recall: share of the selected pages already in GPU HBM
    eta_pnm: float = 0.8  # [R] assumption: share of the device bandwidth the PNM engine sustains
    eta_link: float = 0.8  # [R] assumption: share of the CXL / PCIe link a recall sustains
    gpu_efficiency: GPUEfficiency = field(default=A100_DECODE)

    def __post_init__(self):
        check_choice("scheme", self.scheme, SCHEMES)
        if not isinstance(self.gpu, GPU):
            raise ValueError(f"gpu must be a pimlab.hardware.GPU, got {type(self.gpu).__name__}")
        check_int("n_gpus", self.n_gpus, 1, 1024)
        check_int("n_devices", self.n_devices, 1, 4096)
        check_int("device_bytes", self.device_bytes, 1)
        check_number("device_GBps", self.device_GBps)
        check_number("cxl_GBps", self.cxl_GBps)
        check_int("page_tokens", self.page_tokens, 1, 1 << 16)
        if self.budget_tokens is not None:
            check_int("budget_tokens", self.budget_tokens, 1)
        for name in ("steady_fraction", "resident_fraction"):
            check_number(name, getattr(self, name), 0.0, 1.0, low_open=False)
        check_number("eta_pnm", self.eta_pnm, 0.0, 1.0)
        check_number("eta_link", self.eta_link, 0.0, 1.0)

    @property
    def dense(self) -> bool:
        return self.budget_tokens is None

    @property
    def capacity_bytes(self) -> int:
        return self.n_devices * self.device_bytes

    @property
    def link_GBps(self) -> float:
        """What the GPUs can pull from the CXL devices: the narrower of the devices' and the GPUs' links."""
        return min(self.n_devices * self.cxl_GBps, self.n_gpus * self.gpu.pcie_GBps) * self.eta_link


CXL_PNM_DEFAULT = CxlPnmConfig()


def _selected(lengths: np.ndarray, config: CxlPnmConfig) -> np.ndarray:
    """Tokens each request attends over: the budget, every token when dense, and every token of a request shorter
    than the budget in a mixed batch (nothing to select); a budget above every context is refused."""
    if config.dense:
        return lengths
    if config.budget_tokens > lengths.max():
        raise ValueError(f"budget_tokens must be at most the context ({int(lengths.max())} tokens), got "
                         f"{config.budget_tokens}; budget_tokens=None is dense attention")
    return np.minimum(lengths, config.budget_tokens)


def _hbm_bytes_per_request(model: LLM, length: float, config: CxlPnmConfig) -> float:
    """GPU HBM one request needs besides the weights: recall keeps the page summaries and its resident pages,
    png-kv the steady tokens."""
    kv = model.kv_bytes_per_token
    budget = length if config.dense else config.budget_tokens
    if config.scheme == "recall":
        return (0.0 if config.dense else kv * length / config.page_tokens) + kv * budget * config.resident_fraction
    if config.scheme == "png-kv":
        return kv * budget * config.steady_fraction
    return 0.0


def devices_per_request(model, context_tokens, config: CxlPnmConfig = CXL_PNM_DEFAULT) -> int:
    """CXL devices one request's KV cache spans: 1 when it fits one device (request-parallel), else its layers are
    split over the fewest devices that hold it [R]."""
    model = as_model(model)
    request = check_number("context_tokens", context_tokens) * model.kv_bytes_per_token
    span = ceil_div(int(request), config.device_bytes)
    if span > config.n_devices:
        raise ValueError(f"context_tokens must fit the {config.n_devices} CXL devices: {context_tokens} tokens of "
                         f"{model.name} need {request / GB:.0f} GB, the devices hold {config.capacity_bytes / GB:.0f}")
    return span


def cxl_max_batch(model, context_tokens, config: CxlPnmConfig = CXL_PNM_DEFAULT) -> int:
    """Most requests of `context_tokens` (a mean length) that fit the CXL devices, and GPU HBM where a scheme uses it.

    A request sits whole on one device, or on a group of `devices_per_request` devices when it is larger.
    """
    model = as_model(model)
    length = check_number("context_tokens", context_tokens)
    free = config.n_gpus * gpu_free_bytes(model, config.gpu, config.n_gpus, config.gpu_efficiency)  # weights fit
    span = devices_per_request(model, length, config)
    per_group = int(span * config.device_bytes // (length * model.kv_bytes_per_token))
    limit = per_group * (config.n_devices // span)
    hbm = _hbm_bytes_per_request(model, length, config)
    return min(limit, int(free // hbm)) if hbm else limit


def _fits(model: LLM, lengths: np.ndarray, config: CxlPnmConfig) -> bool:
    """Do the requests fit? Equal lengths: whole requests per device (group); mixed lengths: the devices' total
    (whole-request packing loses at most one request per device, which pimlab does not model) and GPU HBM."""
    if (lengths == lengths[0]).all():
        return lengths.size <= cxl_max_batch(model, int(lengths[0]), config)
    span = devices_per_request(model, int(lengths.max()), config)
    pool = (config.n_devices // span) * span * config.device_bytes
    each = np.broadcast_to(_hbm_bytes_per_request(model, lengths.astype(np.float64), config), lengths.shape)
    hbm = float(np.cumsum(each)[-1])  # summed in order, as a running total
    free = config.n_gpus * gpu_free_bytes(model, config.gpu, config.n_gpus, config.gpu_efficiency)
    return float(lengths.sum()) * model.kv_bytes_per_token <= pool and hbm <= free


def _busiest_group(cost: np.ndarray, groups: int) -> np.ndarray:
    """Indices of the requests on the busiest device group, placing each request whole, costliest first (greedy)."""
    if (cost == cost[0]).all():  # equal requests: round robin, the busiest group holds ceil(B / groups) of them
        return np.arange(ceil_div(cost.size, groups))
    from pimlab.system import busiest_channel  # the same greedy placement (imported late: the engine is heavy)

    return np.flatnonzero(busiest_channel(cost, groups))


def cxl_step(model, batch: int, context_tokens, config: CxlPnmConfig = CXL_PNM_DEFAULT, *,
             ignore_capacity: bool = False, beyond_window: bool = False) -> StepResult:
    """One decode step of `batch` requests (components fc, selection, attention, link, exposed)."""
    model = as_model(model)
    batch = check_int("batch", batch, 1, 1 << 20)
    lengths = request_lengths(model, context_tokens, batch, beyond_window)
    selected = _selected(lengths, config)
    whatifs = []
    kv = model.kv_bytes_per_token
    if not _fits(model, lengths, config):
        if not ignore_capacity:
            raise ValueError(f"batch must fit the KV cache: {batch} requests of {model.name} ({int(lengths.sum())} "
                             f"tokens) do not fit {config.scheme} on {config.n_devices} x "
                             f"{config.device_bytes / GB:.0f} GB devices and {config.n_gpus} {config.gpu.name}s (at "
                             f"most {cxl_max_batch(model, int(lengths.max()), config)} requests of the longest); "
                             f"ignore_capacity=True times it anyway")
        whatifs.append("capacity not checked")
    if (lengths > model.context_window).any():
        whatifs.append("context past the model's window")

    fc, allreduce, other = gpu_fc_s(model, batch, config.gpu, config.n_gpus, config.gpu_efficiency)
    # page summaries read to select (none when dense, or for a request the budget already covers), bytes per request
    summaries = np.where(selected < lengths, lengths * kv / config.page_tokens, 0.0)
    pages = selected * float(kv)  # KV bytes of the selected tokens, per request
    n_gpus = config.n_gpus
    if config.scheme == "recall":
        selection = gpu_stream_s(summaries.sum() / n_gpus, config.gpu, config.gpu_efficiency)
        attention = gpu_stream_s(pages.sum() / n_gpus, config.gpu, config.gpu_efficiency)
        link = pages.sum() * (1 - config.resident_fraction) / (config.link_GBps * GB)
        exposed = 0.0
    else:
        steady = config.steady_fraction if config.scheme == "png-kv" else 0.0
        span = devices_per_request(model, int(lengths.max()), config)
        group_rate = span * config.device_GBps * GB * config.eta_pnm  # a request's layers stream in parallel
        busiest = _busiest_group(summaries + pages * (1 - steady), config.n_devices // span)
        selection = summaries[busiest].sum() / group_rate
        pnm_attention = pages[busiest].sum() * (1 - steady) / group_rate
        gpu_attention = gpu_stream_s(pages.sum() * steady / n_gpus, config.gpu, config.gpu_efficiency)
        attention = pnm_attention
        exposed = max(0.0, gpu_attention - selection - pnm_attention)  # steady tokens the PNM side cannot hide
        vectors = batch * model.layers * (2 * model.heads + 2 * model.kv_heads) * model.head_dim * model.dtype_bytes
        link = vectors / (config.link_GBps * GB)  # q and the output out and back, the new k and v in
    components = {"fc": fc + allreduce + other, "selection": selection, "attention": attention, "link": link,
                  "exposed": exposed}
    latency = sum(components.values())
    name = f"cxl-pnm {config.scheme}{' dense' if config.dense else ''}"
    return StepResult(system=name, model=model.name, batch=batch, context_tokens=float(lengths.mean()),
                      latency_s=latency, tokens_per_s=batch / latency, components_s=components,
                      whatifs=tuple(whatifs))
