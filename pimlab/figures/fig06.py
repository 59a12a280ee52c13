"""Fig. 6: KV-cache partitioning over PIM channels, HFP vs TCP under TP and PP (Sec. IV)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab import paper
from pimlab.hardware import AIM, Module, System
from pimlab.mapping import (
    SCHEMES,
    CapacityError,
    EngineCost,
    Mapping,
    PeakRateCost,
    TileCost,
    default_cost,
    full_activation_tokens,
    map_batch,
    max_batch,
    place,
    tcp_active_channels,
)
from pimlab.models import LLM, LLM_7B_32K
from pimlab.reproduce import Record, compare
from pimlab.validate import check_choice, check_int
from pimlab.workloads import DATASETS, MULTIFIELDQA, LengthDistribution, dataset_named

FIGURE = "6"
__all__ = [
    "TOY_MODEL", "TOY_SYSTEM", "TOY_CONTEXT", "CONFIGS", "Fig6Data", "fig6", "fig6_toy", "fig6_paper_scale",
    "Fig6Thresholds", "fig6_thresholds", "tcp_example", "sv_reduction_share", "COLOUR_BY", "IDLE", "TOY", "WORKLOADS",
    "COSTS", "OccupancyFrames", "occupancy_frames", "tile_cost", "map_workload",
    "check_workload", "workload_max_batch", "toy_max_tokens",
]

# Fig. 6(a)'s example: 2 heads, 2 layers, batch 2, 2 modules x 4 channels. The paper's worked example uses
# 16 banks and head dim 32. pimlab's choice [R]: 64 rows per bank, so that one (request, layer, head) of the
# longer request (15K tokens: 60 rows) nearly fills a channel, as the paper describes ("a request typically
# consumes nearly the entire memory capacity of a single PIM channel"), and the shorter one (10K) needs
# more than half a channel.
TOY_MODEL = LLM("toy (Fig. 6a)", layers=2, heads=2, kv_heads=2, head_dim=32, hidden=64, ffn=128,
                context_window=1 << 20, vocab=256)
TOY_SYSTEM = System("toy: 2 modules x 4 channels", "pim-only", Module(channels=4, rows=64), modules=2)
TOY_CONTEXT = (15360, 10240)
CONFIGS = (("hfp", "tp"), ("hfp", "pp"), ("tcp", "tp"), ("tcp", "pp"))  # Fig. 6 (b), (c), (d), (e)


@dataclass(frozen=True)
class Fig6Data:
    """One batch under HFP-TP, HFP-PP, TCP-TP and TCP-PP (all modules in TP, or all in PP)."""

    system: str
    model: str
    context_tokens: np.ndarray
    labels: tuple[str, ...]
    mappings: tuple[Mapping, ...]
    utilization: np.ndarray  # busy channel-time over all channel-time of the step
    active_fraction: np.ndarray  # busy channel-time while the module's stage works (bubbles excluded)
    bubble_fraction: np.ndarray  # module-time with no micro-batch in its stage
    makespan_cycles: np.ndarray

    def mapping(self, label: str) -> Mapping:
        if label not in self.labels:
            raise ValueError(f"label must be one of {', '.join(self.labels)}; got {label!r}")
        return self.mappings[self.labels.index(label)]


def fig6(system: System = TOY_SYSTEM, model: LLM = TOY_MODEL, context_tokens=TOY_CONTEXT,
         cost: TileCost | None = None, policy: str = "static", configs=CONFIGS) -> Fig6Data:
    """Map one batch under each (scheme, parallelism): "tp" puts every module in TP, "pp" every module in PP."""
    mappings = []
    for scheme, parallel in configs:
        if parallel not in ("tp", "pp"):
            raise ValueError(f"parallelism must be tp or pp, got {parallel!r}")
        tp, pp = (system.modules, 1) if parallel == "tp" else (1, system.modules)
        mappings.append(map_batch(system, model, context_tokens, scheme, tp, pp, cost=cost, policy=policy))
    timelines = [m.timeline for m in mappings]
    return Fig6Data(system.name, model.name, np.asarray(mappings[0].placement.context_tokens),
                    tuple(f"{s.upper()}-{p.upper()}" for s, p in configs), tuple(mappings),
                    np.array([t.utilization for t in timelines]), np.array([t.active_fraction for t in timelines]),
                    np.array([t.bubble_fraction for t in timelines]),
                    np.array([t.makespan_cycles for t in timelines], dtype=np.int64))


def fig6_toy(cost: TileCost | None = None) -> Fig6Data:
    """Fig. 6(b)-(e): the toy workload of Fig. 6(a)."""
    return fig6(TOY_SYSTEM, TOY_MODEL, TOY_CONTEXT, cost)


def fig6_paper_scale(modules: int = 8, dataset: LengthDistribution = MULTIFIELDQA, requests: int = 16, seed: int = 0,
                     cost: TileCost | None = None) -> Fig6Data:
    """AiM modules of 16 channels x 16 banks, a Table II batch: the largest prefix of `requests` seeded
    requests that fits under both schemes in both parallelisms."""
    system = System(f"{modules} AiM modules (16 ch x 16 banks)", "pim-only", AIM, modules=modules)
    model = dataset.model
    lengths = dataset.sample(check_int("requests", requests, 1, 4096), seed)
    fits = min(max_batch(system, model, lengths, scheme, *shape)
               for scheme in SCHEMES for shape in ((modules, 1), (1, modules)) if shape[0] <= model.kv_heads)
    if fits == 0:
        raise ValueError(f"modules must hold at least one {dataset.name} request; {modules} modules do not")
    configs = CONFIGS if modules <= model.kv_heads else tuple(c for c in CONFIGS if c[1] == "pp")
    return fig6(system, model, lengths[:fits], cost, configs=configs)


@dataclass(frozen=True)
class Fig6Thresholds:
    """Channels one head keeps busy against its token count, under TCP and HFP."""

    channels: int
    head_dim: int
    tokens: np.ndarray
    qk_active: np.ndarray  # channels holding any token of the head's K
    qk_full: np.ndarray  # channels whose first tile is full (every bank has a token)
    sv_active: np.ndarray
    sv_full: np.ndarray
    hfp_active: np.ndarray  # HFP: the channel the (request, head) pair is pinned to
    qk_full_tokens: int
    sv_full_tokens: int


def _one_head(head_dim: int) -> LLM:
    """A one-layer, one-head model: one (request, layer, head) task to place."""
    return LLM("one head", layers=1, heads=1, kv_heads=1, head_dim=head_dim, hidden=head_dim, ffn=head_dim,
               context_window=1 << 30, vocab=1)


def _one_module(module: Module) -> System:
    return System("one module", "pim-only", module, modules=1)


def fig6_thresholds(module: Module = AIM, head_dim: int = 128, max_tokens: int = 512) -> Fig6Thresholds:
    """Active channels vs tokens for QK^T and SV under TCP (the mapper's splits) and HFP (one channel)."""
    tokens = np.arange(1, check_int("max_tokens", max_tokens, 1, 1 << 16) + 1)
    qk_active, qk_full = tcp_active_channels(module, head_dim, tokens, "qk")
    sv_active, sv_full = tcp_active_channels(module, head_dim, tokens, "sv")
    # HFP pins the (request, head) pair to one channel whatever its length: count it from a placement
    hfp = np.unique(place(_one_module(module), _one_head(head_dim), [int(tokens[-1])], "hfp").channel).size
    return Fig6Thresholds(module.channels, head_dim, tokens, qk_active, qk_full, sv_active, sv_full,
                          np.full(tokens.size, hfp), full_activation_tokens(module, head_dim, "qk"),
                          full_activation_tokens(module, head_dim, "sv"))


def tcp_example(channels: int = 4, head_dim: int = 32, tokens: int = 16384) -> dict[str, int]:
    """The paper's worked example (16 banks): tokens per channel for QK^T and for SV, from a TCP placement."""
    module = Module(channels=check_int("channels", channels, 1, 64, power_of_two=True))
    p = place(_one_module(module), _one_head(head_dim), [tokens], "tcp")
    k, v = p.tensor == 0, p.tensor == 1
    return {"qk_tokens_per_channel": int(p.tokens[k].max()), "sv_tokens_per_channel": int(p.tokens[v].max()),
            "sv_output_dims_per_channel": int((p.dim_stop - p.dim_start)[v].max()),
            "channels": channels, "tokens": tokens, "head_dim": head_dim}


def sv_reduction_share(model: LLM = LLM_7B_32K, tokens: int = 16384, module: Module = AIM,
                       cost: TileCost | None = None, policy: str = "static") -> float:
    """Share (%) of TCP's HUB reduction in one module's attention latency, one request at `tokens`."""
    system = _one_module(module)
    cost = default_cost(module) if cost is None else cost
    return 100 * map_batch(system, model, [tokens], "tcp", cost=cost, policy=policy).timeline.reduction_share


def scorecard() -> list[Record]:
    """Activation thresholds, the 4-channel example and the SV reduction share, all from the mapper's TCP
    placement (laid out by `pimlab.geometry`): modelled."""
    example = tcp_example()
    sv_gap = ("with the layout that gives the 32-token SV threshold, d_h = 32 on 4 channels is 2 output tiles x 2 "
              "token segments: 8K tokens per channel; 2K would need 8 token segments on 4 channels, which the "
              "same paragraph's thresholds rule out (pimlab.geometry keeps the thresholds' layout)")
    return [
        compare(paper.TCP_QK_FULL_ACTIVATION, full_activation_tokens(AIM, 128, "qk"),
                "TCP full activation, QK^T (16x16, d_h 128)"),
        compare(paper.TCP_SV_FULL_ACTIVATION, full_activation_tokens(AIM, 128, "sv"),
                "TCP full activation, SV (16x16, d_h 128)"),
        compare(paper.TCP_EXAMPLE_QK_TOKENS, example["qk_tokens_per_channel"], "4-ch example: QK^T tokens/channel"),
        compare(paper.TCP_EXAMPLE_SV_TOKENS, example["sv_tokens_per_channel"], "4-ch example: SV tokens/channel",
                note=sv_gap),
        compare(paper.TCP_SV_REDUCTION_SHARE, sv_reduction_share(), "SV HUB reduction share, 7B at 16K"),
    ]


# --- channel occupancy over one step (the ChannelOccupancy app's data) ---------------------------------------
COLOUR_BY = ("request", "head", "layer")
IDLE = -1  # colour id of an idle channel (no NaN: widget messages must be valid JSON)
TOY = "toy (Fig. 6a)"
WORKLOADS = (TOY,) + tuple(d.name for d in DATASETS)
COSTS = ("peak rate", "engine static", "engine dcs")


@dataclass(frozen=True)
class OccupancyFrames:
    """Sampled occupancy of a mapping: colour ids per (time, module, channel), IDLE (-1) where idle."""

    label: str
    times: np.ndarray  # cycles
    grid: np.ndarray  # (times, modules, channels) colour id or IDLE (int16)
    task: np.ndarray  # (times, modules, channels, 4): request, head, layer, op (1-based task ids; -1 idle; int32)
    colours: int
    colour_by: str
    makespan_cycles: int
    utilization: float
    active_fraction: float
    bubble_fraction: float
    reduction_cycles: int


def occupancy_frames(mapping: Mapping, frames: int = 60, colour_by: str = "request",
                     label: str = "") -> OccupancyFrames:
    """Sample the mapping's timeline at `frames` instants (bin centres over the step)."""
    frames = check_int("frames", frames, 2, 1000)
    check_choice("colour_by", colour_by, COLOUR_BY)
    t = mapping.timeline
    times = ((np.arange(frames) + 0.5) * t.makespan_cycles / frames).astype(np.int64)
    index = t.occupancy(times)
    busy = index >= 0
    running = {name: t.values_at(name, index[busy]) for name in ("request", "head", "layer", "op")}
    grid = np.full(index.shape, IDLE, np.int16)  # small typed arrays: cheap to send to the browser
    grid[busy] = running[colour_by]
    task = np.full(index.shape + (4,), -1, np.int32)
    for j, (name, first) in enumerate((("request", 1), ("head", 1), ("layer", 1), ("op", 0))):
        task[..., j][busy] = running[name] + first
    p = mapping.placement
    colours = {"request": p.context_tokens.size, "head": p.kv_heads, "layer": p.layers}[colour_by]
    return OccupancyFrames(label, times, grid, task, colours, colour_by, t.makespan_cycles, t.utilization,
                           t.active_fraction, t.bubble_fraction, t.reduction_cycles)


def tile_cost(name: str, module: Module) -> tuple[TileCost, str]:
    """The tile cost and policy a cost name (one of COSTS) stands for."""
    check_choice("cost", name, COSTS)
    if name == "peak rate":
        return PeakRateCost(module), "static"
    return EngineCost(module), name.split()[1]


def _workload(workload: str, lengths: tuple[int, ...], batch: int, seed: int, modules: int, channels: int,
              scheme: str, tp: int) -> tuple[System, LLM, list[int], int]:
    """The system, model, context lengths and TP degree a workload of the occupancy app names (checked)."""
    check_choice("workload", workload, WORKLOADS)
    check_choice("scheme", scheme, SCHEMES)
    if workload == TOY:
        system, model, context = TOY_SYSTEM, TOY_MODEL, list(lengths)
    else:
        dataset = dataset_named(workload)
        channels = check_int("channels", channels, 1, 64, power_of_two=True)
        system = System(f"{modules} x {channels}-channel AiM", "pim-only", Module(channels=channels),
                        modules=check_int("modules", modules, 1, 256))
        model, context = dataset.model, dataset.sample(check_int("batch", batch, 1, 4096), seed)
    tp = check_int("tp", tp, 1, system.modules)
    if system.modules % tp:
        raise ValueError(f"tp must divide the {system.modules} modules, got {tp}")
    if tp > model.kv_heads or system.modules // tp > model.layers:
        raise ValueError(f"tp must be at most the model's {model.kv_heads} KV heads and modules / tp (the pipeline "
                         f"depth) at most its {model.layers} layers; got tp {tp} on {system.modules} modules")
    return system, model, context, tp


@lru_cache(maxsize=32)
def map_workload(workload: str, lengths: tuple[int, ...], batch: int, seed: int, modules: int, channels: int,
                 scheme: str, tp: int, cost: str = "peak rate") -> Mapping:
    """The mapping of a workload the occupancy app names (cached: moving its time slider does not map again).

    The toy uses Fig. 6(a)'s system and model with `lengths`; a Table II workload samples `batch` requests
    with `seed` onto `modules` AiM modules of `channels` channels x 16 banks.
    """
    system, model, context, tp = _workload(workload, lengths, batch, seed, modules, channels, scheme, tp)
    cost_model, policy = tile_cost(cost, system.module)
    return map_batch(system, model, context, scheme, tp, system.modules // tp, cost=cost_model, policy=policy)


def check_workload(workload: str, lengths: tuple[int, ...], batch: int, seed: int, modules: int, channels: int,
                   scheme: str, tp: int) -> None:
    """ValueError (CapacityError if the KV cache does not fit) for a workload `map_workload` would refuse, without
    laying out the step: the placement alone (what the app's lists are narrowed with; the answer, a refusal
    included, is cached). A batch whose KV bytes exceed every channel's rows together is refused before placing it
    (it cannot fit; placing 4096 requests to find that out takes seconds)."""
    error = _refusal(workload, lengths, batch, seed, modules, channels, scheme, tp)
    if error is not None:
        raise error.with_traceback(None)


@lru_cache(maxsize=1024)
def _refusal(*key) -> ValueError | None:
    try:
        _check_workload(*key)
    except ValueError as error:
        return error
    return None


def _check_workload(workload, lengths, batch, seed, modules, channels, scheme, tp) -> None:
    system, model, context, tp = _workload(workload, lengths, batch, seed, modules, channels, scheme, tp)
    context = model.check_context(context)
    m = system.module
    need, have = int(context.sum()) * model.kv_bytes_per_token, system.modules * m.capacity_bytes
    if need > have:
        raise CapacityError(f"the batch does not fit under {scheme.upper()}: its KV cache needs "
                            f"{need / 2**30:.3g} GiB, more than the {system.modules} modules hold "
                            f"({have / 2**30:.3g} GiB)", need, have)
    place(system, model, context, scheme, tp, system.modules // tp)


@lru_cache(maxsize=256)
def workload_max_batch(workload: str, seed: int, modules: int, channels: int, scheme: str, tp: int) -> int:
    """The largest batch (1-4096 seeded requests of a Table II workload) that `check_workload` accepts; 0 if not
    even one request fits. Requests are sampled as a prefix, so bisection finds it; it starts from the batch the
    KV bytes allow, which the placement reaches or nearly reaches."""
    system, model, context, tp = _workload(workload, (), 4096, seed, modules, channels, scheme, tp)
    bound = int(np.searchsorted(np.cumsum(context) * model.kv_bytes_per_token,
                                system.modules * system.module.capacity_bytes, side="right"))

    def fits(n: int) -> bool:
        try:
            check_workload(workload, (), n, seed, modules, channels, scheme, tp)
        except CapacityError:
            return False
        return True

    return _largest(fits, bound)


@lru_cache(maxsize=64)
def toy_max_tokens(scheme: str, tp: int) -> int:
    """The longest single request (tokens) the toy's modules hold under `scheme` with `tp` (0 if none)."""

    def fits(tokens: int) -> bool:
        try:
            check_workload(TOY, (tokens,), 1, 0, TOY_SYSTEM.modules, TOY_SYSTEM.module.channels, scheme, tp)
        except CapacityError:
            return False
        return True

    system = TOY_SYSTEM
    return _largest(fits, min(system.modules * system.module.capacity_bytes // TOY_MODEL.kv_bytes_per_token,
                              TOY_MODEL.context_window))


def _largest(fits, bound: int) -> int:
    """The largest n in [1, bound] with fits(n), for fits monotone (true up to some n) and false at bound + 1; 0 if
    none. Gallops down from the bound (where a placement usually lands), then bisects."""
    ok, fail, step = 0, bound + 1, 1
    while fail - ok > 1:
        probe = max(fail - step, ok + 1)
        if fits(probe):
            ok = probe
            break
        fail, step = probe, 2 * step
    while fail - ok > 1:
        mid = (ok + fail) // 2
        ok, fail = (mid, fail) if fits(mid) else (ok, mid)
    return ok
