"""KV-cache partitioning over PIM modules and channels: HFP and TCP under TP and PP (paper Sec. IV, Fig. 6).

A decode step's attention is a set of tasks, one per (request, layer, KV head). TP splits KV heads over
the modules of a stage, PP splits layers into stages. Inside a module:

- HFP (head-first, as CENT / AttAcc / NeuPIMs) pins each (request, head) pair to one channel, which holds
  the pair's K and V of every layer of the stage; a pair whose home channel is full spills to the next
  channel with room, so a channel holds as many pairs as its capacity allows.
- TCP (token-centric) spreads every task over all channels: K by contiguous token segments of whole
  16-token tiles (QK^T outputs are concatenated), V by (output-tile group, token segment) so that SV's
  per-channel partial sums are reduced once per module through the HUB.

The placement is columnar (one row per piece: a token range and head-dim range of one tensor of one task
on one channel). Costs of the pieces come from a `TileCost` (`PeakRateCost`, or `EngineCost` from the
command engine). The timeline lays the pieces out in time: layers in order with a barrier per layer (the
TP modules of a stage meet there); under TCP a QK^T phase then an SV phase on every channel, the HUB
reducing each head's partial sums while the channels run the next head's SV; under PP micro-batches
pipelined through the stages. It measures channel utilization, pipeline bubbles and the reduction's cost.

Modules of one (layers, heads) shape hold and run the same pieces, so the placement and the timeline keep
each shape once and expand their per-module columns only when asked: the work grows with the distinct
shapes (one or two), not with the number of modules.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Protocol

import numpy as np

from pimlab import geometry
from pimlab.geometry import sv_grid
from pimlab.hardware import AIM, Module, System
from pimlab.models import LLM
from pimlab.validate import check_choice, check_int

SCHEMES = ("hfp", "tcp")
POLICIES = ("static", "dcs")
OPS = ("qk", "sv")  # work kinds of a channel; the HUB's reduction is kept apart
K, V = 0, 1  # tensor codes of a placement row; a K piece is QK^T work, a V piece SV work
QK, SV = 0, 1


# --- per-tile costs ---------------------------------------------------------------------------------
class TileCost(Protocol):
    """Cycles one channel needs for one attention tile: `op` over `tokens` tokens and `head_dim` dims."""

    name: str

    def cycles(self, op: str, tokens: int, head_dim: int, group: int = 1, policy: str = "static") -> int: ...


def _check_tile(op, tokens, head_dim, group, policy) -> tuple[str, int, int, int, str]:
    return (check_choice("op", op, OPS), check_int("tokens", tokens, 0), check_int("head_dim", head_dim, 1),
            check_int("group", group, 1), check_choice("policy", policy, POLICIES))


@dataclass(frozen=True)
class PeakRateCost:
    """Cycles at the channel's peak rate: one MAC command per tCCD, every bank busy, no I/O or row cost.

    QK^T: one MAC gives one score per bank (a tile of `banks` tokens) over `mac_lanes` dims.
    SV: each bank owns one output dim and one MAC consumes `mac_lanes` scores from the GBuf.
    A GQA group of g query heads repeats the MACs g times. The policy does not change a peak rate.
    """

    module: Module = AIM
    name: str = "peak rate"

    def cycles(self, op: str, tokens: int, head_dim: int, group: int = 1, policy: str = "static") -> int:
        op, tokens, head_dim, group, policy = _check_tile(op, tokens, head_dim, group, policy)
        piece = geometry.Piece(self.module, op, tokens, head_dim)  # one MAC per (token tile, dim tile)
        return piece.token_tiles * piece.dim_tiles * group * self.module.timing.tCCD


@dataclass(frozen=True)
class EngineCost:
    """Cycles from pimlab's command engine: compile the tile (`isa`), schedule it (`schedule`), read the total.

    Results are cached per distinct tile, so a mapping with many equal pieces costs a few compilations.
    """

    module: Module = AIM
    row_reuse: bool = False  # GQA row-reuse mapping (Sec. V-C), passed to the compiler
    name: str = "command engine"

    def cycles(self, op: str, tokens: int, head_dim: int, group: int = 1, policy: str = "static") -> int:
        op, tokens, head_dim, group, policy = _check_tile(op, tokens, head_dim, group, policy)
        if tokens == 0:
            return 0
        return _engine_cycles(self.module, self.row_reuse, op, tokens, head_dim, group, policy)


@lru_cache(maxsize=4096)
def _engine_cycles(module, row_reuse, op, tokens, head_dim, group, policy) -> int:
    from pimlab import isa, schedule  # the engine is optional for the mapper: import on first use

    obuf = 1 if policy == "static" else 2  # the static AiMX controller has one OutReg; DCS adds an OBuf entry
    program = isa.compile_attention(op, tokens, head_dim, group=group, row_reuse=row_reuse, module=module,
                                    obuf_entries=obuf)
    trace = schedule.schedule(isa.expand(program), policy=policy, gbuf_entries=module.gbuf_entries,
                              obuf_entries=obuf)
    return int(trace.total_cycles)


def engine_available() -> bool:
    """True when the command engine imports and costs a small tile."""
    try:
        EngineCost().cycles("qk", 16, 128)
    except Exception:  # noqa: BLE001 - any failure means: fall back to peak rates
        return False
    return True


def default_cost(module: Module = AIM) -> TileCost:
    """The engine-backed cost when the engine works, else the peak-rate cost (same interface)."""
    return EngineCost(module) if engine_available() else PeakRateCost(module)


def tile_cycles(cost: TileCost, op: np.ndarray, tokens: np.ndarray, dims: np.ndarray, group: int = 1,
                policy: str = "static") -> np.ndarray:
    """Cycles of many pieces at once (op codes QK/SV): the cost is asked once per distinct tile."""
    key = ((np.asarray(op, np.int64) << 50) | (np.asarray(tokens, np.int64) << 16) | np.asarray(dims, np.int64)).ravel()
    if not key.size:
        return np.zeros(np.shape(tokens), np.int64)
    run = np.r_[0, np.flatnonzero(key[1:] != key[:-1]) + 1]  # neighbours often repeat: unique over runs only
    unique, inverse = np.unique(key[run], return_inverse=True)
    values = np.array([cost.cycles(OPS[int(k >> 50)], int((k >> 16) & (2**34 - 1)), int(k & 0xFFFF), group,
                                   policy) for k in unique], dtype=np.int64)
    return np.repeat(values[inverse], np.diff(np.r_[run, key.size])).reshape(np.shape(tokens))


# --- layout: asked of pimlab.geometry ------------------------------------------------------------------------
def kv_rows(module: Module, tensor: np.ndarray, tokens: np.ndarray, dims: np.ndarray) -> np.ndarray:
    """All-bank rows each piece uses (`geometry.rows_needed` of K or V by its tensor code)."""
    tensor = np.asarray(tensor)
    return np.where(tensor == K, geometry.rows_needed(module, "qk", tokens, dims),
                    geometry.rows_needed(module, "sv", tokens, dims))


class CapacityError(ValueError):
    """The batch's KV cache does not fit: says how much is needed and how much is available."""

    def __init__(self, message: str, needed_bytes: int, available_bytes: int):
        super().__init__(message)
        self.needed_bytes, self.available_bytes = int(needed_bytes), int(available_bytes)


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.3g} GiB"


# --- placement ----------------------------------------------------------------------------------------
PIECE_COLUMNS = ("request", "layer", "head", "tensor", "channel", "token_start", "token_stop", "dim_start", "dim_stop",
                 "row_start", "row_stop")


class _Expanded:
    """A per-row column built by its owner's `_column(name)` on first use, then cached."""

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = obj._column(self.name)
        return value


def _by_module(shape_of_item: np.ndarray, module_shape: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Items (sorted by shape) repeated for every module of their shape, module by module: (source index, module)."""
    bounds = _shape_bounds(shape_of_item, module_shape)
    counts = np.diff(bounds)[module_shape]
    module = np.repeat(np.arange(module_shape.size), counts)
    first_out = np.cumsum(counts) - counts
    source = np.arange(module.size) + (bounds[module_shape] - first_out)[module]
    return source, module


def _shape_bounds(shape_of_item: np.ndarray, module_shape: np.ndarray) -> np.ndarray:
    """Where each shape's items start and stop in `shape_of_item` (sorted)."""
    return np.searchsorted(shape_of_item, np.arange(module_shape.max(initial=-1) + 2))


def _per_channel(shape: np.ndarray, channel: np.ndarray, values: np.ndarray, module_shape: np.ndarray,
                 channels: int) -> np.ndarray:
    """(modules, channels) sums of `values` given once per shape (items with `shape` and `channel`)."""
    shapes = module_shape.max(initial=-1) + 1
    per_shape = np.bincount(shape * channels + channel, values, minlength=shapes * channels)
    return per_shape.astype(np.int64).reshape(shapes, channels)[module_shape]


def _from_module_first(owner, name: str, values: np.ndarray, module: np.ndarray) -> np.ndarray:
    """Shapes count layers and heads from each module's first: add module's first layer (or head) to them."""
    if name in ("layer", "head"):
        return values + getattr(owner, f"module_first_{name}")[module]
    return values


@dataclass(frozen=True)
class Placement:
    """Which module / channel / rows hold which tokens and dims of which (request, layer, KV head).

    One row per piece, module by module; `tensor` is K or V; rows [row_start, row_stop) are all-bank rows of
    the channel (every piece uses all banks: tokens go round-robin over banks for K, dims for V).

    Stored compactly: modules with the same (layers, heads) shape hold the same pieces, so `pieces` holds each
    shape's pieces once (column "shape"; layers and heads counted from the module's first) and module m uses
    shape `module_shape[m]`. The per-piece columns (`request`, `channel`, ...) are expanded on first use.
    """

    scheme: str
    tp: int
    pp: int
    module: Module
    modules: int
    head_dim: int
    layers: int
    kv_heads: int
    context_tokens: np.ndarray  # per request
    reserved_rows: int  # per channel, for the weights
    pieces: dict  # column name (PIECE_COLUMNS and "shape") -> array over the pieces of each distinct shape
    module_shape: np.ndarray  # per module: index of its shape
    module_first_layer: np.ndarray  # per module
    module_first_head: np.ndarray  # per module

    request = _Expanded()
    layer = _Expanded()
    head = _Expanded()
    tensor = _Expanded()
    module_index = _Expanded()
    channel = _Expanded()
    token_start = _Expanded()
    token_stop = _Expanded()
    dim_start = _Expanded()
    dim_stop = _Expanded()
    row_start = _Expanded()
    row_stop = _Expanded()

    @cached_property
    def _expansion(self) -> tuple[np.ndarray, np.ndarray]:
        return _by_module(self.pieces["shape"], self.module_shape)

    def _column(self, name: str) -> np.ndarray:
        source, module = self._expansion
        return module if name == "module_index" else _from_module_first(self, name, self.pieces[name][source], module)

    def expand(self, values: np.ndarray) -> np.ndarray:
        """Per-piece values given over `pieces` (each shape once) -> over every placed piece, module by module."""
        return np.asarray(values)[self._expansion[0]]

    def __len__(self) -> int:
        return int(np.diff(_shape_bounds(self.pieces["shape"], self.module_shape))[self.module_shape].sum())

    @property
    def tokens(self) -> np.ndarray:
        return self.token_stop - self.token_start

    @property
    def available_rows(self) -> int:
        """Rows per channel the KV cache may use."""
        return self.module.rows - self.reserved_rows

    def per_channel(self, values: np.ndarray) -> np.ndarray:
        """(modules, channels) sums of per-piece `values` given over `pieces` (each shape once)."""
        return _per_channel(self.pieces["shape"], self.pieces["channel"], values, self.module_shape,
                            self.module.channels)

    def rows_used(self) -> np.ndarray:
        """(modules, channels) rows of KV cache held, reserved rows excluded."""
        return self.per_channel(self.pieces["row_stop"] - self.pieces["row_start"])

    def locate(self, request: int, layer: int, head: int, token: int, tensor: str = "K", dim: int = 0) -> dict:
        """Module, channel, bank and row holding element `dim` of `token`'s K or V vector."""
        check_choice("tensor", tensor, ("K", "V"))
        code = K if tensor == "K" else V
        hit = np.flatnonzero((self.request == request) & (self.layer == layer) & (self.head == head)
                             & (self.tensor == code) & (self.token_start <= token) & (token < self.token_stop)
                             & (self.dim_start <= dim) & (dim < self.dim_stop))
        if hit.size != 1:
            raise ValueError(f"token must be a placed token of request {request}, layer {layer}, head {head} "
                             f"(and dim in [0, {self.head_dim})), got token {token}, dim {dim}")
        i = int(hit[0])
        piece = geometry.Piece(self.module, "qk" if code == K else "sv", int(self.tokens[i]),
                               int(self.dim_stop[i] - self.dim_start[i]))
        bank, row, _ = piece.locate(token - int(self.token_start[i]), dim - int(self.dim_start[i]))
        return {"module": int(self.module_index[i]), "channel": int(self.channel[i]), "bank": int(bank),
                "row": int(self.reserved_rows + self.row_start[i] + row)}


def _check_system(system: System, model: LLM, scheme: str, tp: int, pp: int) -> None:
    if not isinstance(system, System):
        raise ValueError(f"system must be a pimlab System, got {type(system).__name__}")
    if not isinstance(model, LLM):
        raise ValueError(f"model must be a pimlab LLM, got {type(model).__name__}")
    check_choice("scheme", scheme, SCHEMES)
    check_int("tp", tp, 1, model.kv_heads)
    check_int("pp", pp, 1, model.layers)
    if tp * pp != system.modules:
        raise ValueError(f"tp x pp must equal the system's {system.modules} modules, got tp={tp}, pp={pp}")
    m = system.module
    if model.head_dim % m.banks or model.head_dim % m.mac_lanes or model.head_dim > m.row_bytes // m.dtype_bytes:
        raise ValueError(f"head_dim must be a multiple of {m.banks} banks and {m.mac_lanes} MAC lanes and at most "
                         f"{m.row_bytes // m.dtype_bytes}, got {model.head_dim}")


def _stage_layers(model: LLM, pp: int) -> list[np.ndarray]:
    return np.array_split(np.arange(model.layers), pp)


def _rank_heads(model: LLM, tp: int) -> list[np.ndarray]:
    return np.array_split(np.arange(model.kv_heads), tp)


def reserved_rows(system: System, model: LLM, weights_in_pim: bool) -> int:
    """Rows per channel taken by the model's weights, spread evenly over every channel (PIM-only systems)."""
    if not weights_in_pim:
        return 0
    m = system.module
    per_channel = model.weight_bytes / system.channels
    return int(-(-per_channel // (m.banks * m.row_bytes)))


def place(system: System, model: LLM, context_tokens, scheme: str = "tcp", tp: int = 1, pp: int = 1,
          weights_in_pim: bool = False) -> Placement:
    """Place every token of every (request, layer, KV head) of a batch; CapacityError if it does not fit."""
    _check_system(system, model, scheme, tp, pp)
    context = model.check_context(context_tokens)
    m = system.module
    reserve = reserved_rows(system, model, weights_in_pim)
    if reserve >= m.rows:
        raise CapacityError(f"the weights alone need {reserve} rows per channel; a channel has {m.rows}",
                            reserve * m.banks * m.row_bytes, m.rows * m.banks * m.row_bytes)
    templates, module_shape, first_layer, first_head = {}, [], [], []
    requests = np.arange(context.size)
    for layers in _stage_layers(model, pp):
        for heads in _rank_heads(model, tp):
            index = len(module_shape)
            shape = (layers.size, heads.size)
            if shape not in templates:  # modules of one shape hold the same geometry: build it once
                lay, hd = np.arange(shape[0]), np.arange(shape[1])
                if scheme == "hfp":  # head-first: (request, head) pairs, each pair's layers consecutive
                    r, h, l = (a.ravel() for a in np.meshgrid(requests, hd, lay, indexing="ij"))
                    templates[shape] = _place_hfp(m, model.head_dim, context, r, h, l, shape[1], m.rows - reserve,
                                                  index)
                else:  # layer-major, so that each channel's pieces come out in execution order
                    l, r, h = (a.ravel() for a in np.meshgrid(lay, requests, hd, indexing="ij"))
                    templates[shape] = _place_tcp(m, model.head_dim, context, r, h, l, shape[0], m.rows - reserve,
                                                  index)
            module_shape.append(list(templates).index(shape))
            first_layer.append(layers[0])
            first_head.append(heads[0])
    pieces = {name: np.concatenate(parts) for name, parts in zip(PIECE_COLUMNS, zip(*templates.values()))}
    pieces["shape"] = np.repeat(np.arange(len(templates)), [t[0].size for t in templates.values()])
    return Placement(scheme, tp, pp, m, system.modules, model.head_dim, model.layers, model.kv_heads, context,
                     reserve, pieces, np.array(module_shape), np.array(first_layer, np.int64),
                     np.array(first_head, np.int64))


def _pieces(r, h, l, tensor, module_index, channel, t0, t1, d0, d1, rows, available, m: Module, what: str):
    """Stack pieces channel by channel (program order) and check each channel's rows (PIECE_COLUMNS order)."""
    flat = module_index * m.channels + channel
    order = np.argsort(flat, kind="stable")
    cum = np.cumsum(rows[order])
    group_start = np.r_[0, np.flatnonzero(np.diff(flat[order])) + 1]
    first = np.repeat(cum[group_start] - rows[order][group_start], np.diff(np.r_[group_start, order.size]))
    stop = np.empty_like(rows)
    stop[order] = cum - first
    used = np.bincount(flat, rows, minlength=flat.max(initial=0) + 1)
    if used.max(initial=0) > available:
        bytes_per_row = m.banks * m.row_bytes
        need, have = int(rows.sum()) * bytes_per_row, available * m.channels * bytes_per_row
        worst = int(used.argmax())
        raise CapacityError(
            f"the batch does not fit under {what}: module {worst // m.channels} needs {_gib(need)} of KV cache "
            f"(channel {worst % m.channels} alone {int(used.max())} rows) but has {_gib(have)} available "
            f"({m.channels} channels x {available} rows)", need, have)
    keep = rows > 0
    return tuple(a[keep] for a in (r, l, h, tensor, channel, t0, t1, d0, d1, stop - rows, stop))


def _place_hfp(m: Module, head_dim, context, r, h, l, n_heads, available, index):
    tokens = context[r]
    rows_k = kv_rows(m, np.full_like(tokens, K), tokens, np.full_like(tokens, head_dim))
    rows_v = kv_rows(m, np.full_like(tokens, V), tokens, np.full_like(tokens, head_dim))
    need = rows_k + rows_v
    pair = r * n_heads + (h - h[0])  # tasks come (request, head, layer)-ordered: h[0] is the first head
    channel = pair % m.channels  # the pair's home channel
    if np.bincount(channel, need, minlength=m.channels).max(initial=0) > available:
        channel = _spill(channel, need, available, m, index)
    n = r.size
    zero, full = np.zeros(n, np.int64), np.full(n, head_dim, np.int64)
    both = np.arange(2 * n).reshape(2, n).T.ravel()  # K then V of each task, on the same channel
    cat = [np.concatenate([a, a])[both] for a in (r, h, l)]
    return _pieces(cat[0], cat[1], cat[2], np.r_[np.zeros(n, np.int64), np.ones(n, np.int64)][both],
                   np.full(2 * n, index), np.concatenate([channel, channel])[both],
                   np.concatenate([zero, zero])[both], np.concatenate([tokens, tokens])[both],
                   np.concatenate([zero, zero])[both], np.concatenate([full, full])[both],
                   np.concatenate([rows_k, rows_v])[both], available, m, "HFP")


def _spill(home, need, available, m: Module, index) -> np.ndarray:
    """Sequential first fit from each task's home channel onwards (wrapping): only when a home overflows."""
    used = np.zeros(m.channels, np.int64)
    channel = np.empty_like(home)
    bytes_per_row = m.banks * m.row_bytes
    for i, (start, rows) in enumerate(zip(home.tolist(), need.tolist())):
        for step in range(m.channels):
            c = (start + step) % m.channels
            if used[c] + rows <= available:
                used[c] += rows
                channel[i] = c
                break
        else:
            total = int(need.sum()) * bytes_per_row
            raise CapacityError(
                f"the batch does not fit under HFP: module {index} needs {_gib(total)} of KV cache and a "
                f"(request, head, layer) task of {rows} rows finds no channel with room; available "
                f"{_gib(available * m.channels * bytes_per_row)} ({m.channels} channels x {available} rows)",
                total, available * m.channels * bytes_per_row)
    return channel


def _place_tcp(m: Module, head_dim, context, r, h, l, n_layers, available, index):
    """Tasks come layer-major; pieces are emitted channel-major, then layer, tensor (K before V), task."""
    n, C = r.size, m.channels
    tokens = context[r]
    k0, k1, _, _ = geometry.channel_ranges(m, "qk", tokens, head_dim)  # (n, C)
    s0, s1, o0, o1 = geometry.channel_ranges(m, "sv", tokens, head_dim)
    c = np.arange(C)
    zeros, full = np.zeros((n, C), np.int64), np.full((n, C), head_dim)
    shape = (n_layers, n // n_layers, 2, C)

    def arrange(k_part, v_part):  # (n, C) K and V parts -> channel, layer, tensor, task order
        both = np.stack([np.broadcast_to(k_part, (n, C)), np.broadcast_to(v_part, (n, C))], 1)
        return both.reshape(shape).transpose(3, 0, 2, 1).ravel()

    t0, t1 = arrange(k0, s0), arrange(k1, s1)
    dim0, dim1 = arrange(zeros, o0), arrange(full, o1)
    tensor = arrange(np.full((n, C), K), np.full((n, C), V))
    channel = arrange(c[None, :], c[None, :])
    r_, h_, l_ = (arrange(a[:, None], a[:, None]) for a in (r, h, l))
    rows = kv_rows(m, tensor, t1 - t0, dim1 - dim0)
    return _pieces(r_, h_, l_, tensor, np.full(t0.size, index), channel, t0, t1, dim0, dim1, rows, available, m,
                   "TCP")


# --- one decode step in time ----------------------------------------------------------------------------
SEGMENT_COLUMNS = ("module", "channel", "start", "stop", "request", "layer", "head", "op", "micro_batch")


@dataclass(frozen=True)
class Timeline:
    """Channel occupancy of one decode step's attention: segments (module, channel, cycles, task, op).

    Channel segments are sorted by (module, channel, start). HUB segments are TCP's SV reductions.

    Stored compactly: modules of one shape run the same segments, each module from its own start of every
    (micro-batch, layer) step. `segments` holds each shape's segments once (start relative to the step; layers
    and heads counted from the module's first), `step_start` when each module starts each step. The per-segment
    columns (`module`, `start`, `request`, ...) are expanded on first use; `occupancy`, `values_at` and the
    fractions work from the compact form.
    """

    modules: int
    channels: int
    makespan_cycles: int
    segments: dict  # shape, channel, step, rel_start, work, request, layer, head, op, micro: sorted by the first 4
    module_shape: np.ndarray  # per module: index of its shape
    module_first_layer: np.ndarray
    module_first_head: np.ndarray
    step_start: np.ndarray  # (modules, micro-batches x layers per stage): cycle each module starts each step
    hub_module: np.ndarray
    hub_start: np.ndarray
    hub_stop: np.ndarray
    hub_request: np.ndarray
    hub_layer: np.ndarray
    hub_head: np.ndarray
    module_busy_cycles: np.ndarray  # per module: time its stage is processing a micro-batch
    module_attention_cycles: np.ndarray  # per module: its own layer times (channels, then exposed reduction)
    exposed_reduction_cycles: int  # layer time the HUB reductions add beyond the channels' work

    module = _Expanded()
    channel = _Expanded()
    start = _Expanded()
    stop = _Expanded()
    request = _Expanded()
    layer = _Expanded()
    head = _Expanded()
    op = _Expanded()
    micro_batch = _Expanded()

    @cached_property
    def _bounds(self) -> np.ndarray:
        return _shape_bounds(self.segments["shape"], self.module_shape)

    @cached_property
    def _module_first_segment(self) -> np.ndarray:
        """Index of each module's first segment in the expanded columns, then the total."""
        return np.r_[0, np.cumsum(np.diff(self._bounds)[self.module_shape])]

    @cached_property
    def _expansion(self) -> tuple[np.ndarray, np.ndarray]:
        return _by_module(self.segments["shape"], self.module_shape)

    def _column(self, name: str) -> np.ndarray:
        return self._values(name, *self._expansion)

    def _values(self, name: str, source: np.ndarray, module: np.ndarray) -> np.ndarray:
        """Column `name` of the segments `source` (indices into `segments`) run by `module`."""
        seg = self.segments
        if name == "module":
            return module
        if name in ("start", "stop"):
            start = self.step_start[module, seg["step"][source]] + seg["rel_start"][source]
            return start if name == "start" else start + seg["work"][source]
        return _from_module_first(self, name, seg["micro" if name == "micro_batch" else name][source], module)

    def values_at(self, name: str, index) -> np.ndarray:
        """Column `name` at segment indices (from `occupancy`), without expanding the whole column."""
        check_choice("name", name, SEGMENT_COLUMNS)
        index = np.asarray(index, np.int64)
        first = self._module_first_segment
        if index.size and (index.min() < 0 or index.max() >= first[-1]):
            raise ValueError(f"index must be in [0, {first[-1]}), got values from {index.min()} to {index.max()}")
        module = np.searchsorted(first, index, side="right") - 1
        return self._values(name, index - first[module] + self._bounds[self.module_shape[module]], module)

    @cached_property
    def _keys(self) -> np.ndarray:
        """Sort keys of `segments`: (shape, channel, step, rel_start)."""
        seg, steps = self.segments, self.step_start.shape[1]
        return ((seg["shape"] * self.channels + seg["channel"]) * steps + seg["step"]) * np.int64(
            self.makespan_cycles + 1) + seg["rel_start"]

    @property
    def channel_busy_cycles(self) -> np.ndarray:
        seg = self.segments
        return _per_channel(seg["shape"], seg["channel"], seg["work"], self.module_shape, self.channels)

    @property
    def utilization(self) -> float:
        """Busy channel-cycles over all channels x the step's length, in [0, 1]."""
        total = self.modules * self.channels * self.makespan_cycles
        return float(self.channel_busy_cycles.sum() / total) if total else 0.0

    @property
    def active_fraction(self) -> float:
        """Busy channel-cycles over channel-cycles of modules while their stage works (bubbles excluded)."""
        total = self.channels * self.module_busy_cycles.sum()
        return float(self.channel_busy_cycles.sum() / total) if total else 0.0

    @property
    def bubble_fraction(self) -> float:
        """Share of module-time with no micro-batch in the module's stage (pipeline fill and drain)."""
        total = self.modules * self.makespan_cycles
        return float(1 - self.module_busy_cycles.sum() / total) if total else 0.0

    @property
    def reduction_cycles(self) -> int:
        """HUB cycles spent reducing SV partial sums (TCP), overlapped or not."""
        return int((self.hub_stop - self.hub_start).sum())

    @property
    def reduction_share(self) -> float:
        """Attention latency the SV reductions add (exposed cycles) over the modules' attention cycles."""
        total = self.module_attention_cycles.sum()
        return float(self.exposed_reduction_cycles / total) if total else 0.0

    @property
    def hub_work_share(self) -> float:
        """HUB reduction cycles over the modules' attention cycles, as if nothing overlapped them."""
        total = self.module_attention_cycles.sum()
        return float(self.reduction_cycles / total) if total else 0.0

    def occupancy(self, times) -> np.ndarray:
        """(len(times), modules, channels): index of the segment each channel runs at each cycle, -1 idle.

        Per module, the step it is in (the last one it started by then); per channel, the shape's last segment
        of that step starting by then, if it has not ended.
        """
        times = np.atleast_1d(np.asarray(times, np.int64))
        M, C, seg = self.modules, self.channels, self.segments
        if not seg["work"].size:
            return np.full((times.size, M, C), -1)
        steps, span = self.step_start.shape[1], np.int64(self.makespan_cycles + 1)
        modules = np.arange(M)
        flat_start = (modules[:, None] * span + self.step_start).ravel()
        j = np.searchsorted(flat_start, modules[None, :] * span + times[:, None], side="right") - 1  # (times, M)
        ok = (j >= modules * steps) & (times[:, None] >= 0) & (times[:, None] <= self.makespan_cycles)
        j = np.maximum(j, 0)
        rel = (times[:, None] - self.step_start.reshape(-1)[j])[:, :, None]
        group = ((self.module_shape[None, :, None] * C + np.arange(C)) * steps + (j % steps)[:, :, None]) * span
        keys = self._keys
        i = np.searchsorted(keys, group + rel, side="right") - 1
        hit = ok[:, :, None] & (i >= 0)
        i = np.maximum(i, 0)
        hit &= (keys[i] >= group) & (rel < seg["rel_start"][i] + seg["work"][i])
        index = i + (self._module_first_segment[:-1] - self._bounds[self.module_shape])[None, :, None]
        return np.where(hit, index, -1)

    def active_channels(self, times) -> np.ndarray:
        """Number of busy channels at each time."""
        return (self.occupancy(times) >= 0).sum(axis=(1, 2))


@dataclass(frozen=True)
class Mapping:
    """A batch mapped onto a system: placement, per-channel work of one decode step, and its timeline."""

    scheme: str
    tp: int
    pp: int
    micro_batches: int
    cost_name: str
    policy: str
    placement: Placement
    piece_work_cycles: np.ndarray  # per row of placement.pieces (each module shape once): QK^T (K) or SV (V) cycles
    timeline: Timeline

    @property
    def work_cycles(self) -> np.ndarray:
        """Per placement row: cycles of that piece's QK^T (K) or SV (V) work."""
        return self.placement.expand(self.piece_work_cycles)

    def channel_work_cycles(self) -> np.ndarray:
        """(modules, channels) cycles of QK^T and SV work in one decode step."""
        return self.placement.per_channel(self.piece_work_cycles)

    @property
    def utilization(self) -> float:
        return self.timeline.utilization


def map_batch(system: System, model: LLM, context_tokens, scheme: str = "tcp", tp: int = 1, pp: int = 1,
              micro_batches: int | None = None, cost: TileCost | None = None, policy: str = "static",
              hub_cycles_per_tile: int = 1, weights_in_pim: bool = False) -> Mapping:
    """Place a batch and lay one decode step's attention out in time.

    `micro_batches` (default min(batch, pp)) splits the requests for PP; `cost` defaults to peak rates
    (fast; pass `EngineCost` or `default_cost()` for the command engine's cycles). `hub_cycles_per_tile` is
    the HUB's cost to add one partial-sum tile (`banks` outputs) under TCP: pimlab's assumption, one 16-lane
    add per tCK, not from the paper; a knob. `weights_in_pim` reserves every channel's share of the weights.
    """
    placement = place(system, model, context_tokens, scheme, tp, pp, weights_in_pim)
    check_choice("policy", policy, POLICIES)
    hub = check_int("hub_cycles_per_tile", hub_cycles_per_tile, 0, 10**6)
    batch = placement.context_tokens.size
    micro = check_int("micro_batches", min(batch, pp) if micro_batches is None else micro_batches, 1, batch)
    cost = PeakRateCost(system.module) if cost is None else cost
    if not hasattr(cost, "cycles"):
        raise ValueError(f"cost must be a TileCost (with .cycles), got {type(cost).__name__}")
    q = placement.pieces  # each module shape once: modules of one shape do the same work
    op = np.where(q["tensor"] == K, QK, SV)
    work = tile_cycles(cost, op, q["token_stop"] - q["token_start"], q["dim_stop"] - q["dim_start"],
                       model.group_size, policy)
    micro_of_request = np.repeat(np.arange(micro), [a.size for a in np.array_split(np.arange(batch), micro)])
    timeline = _timeline(placement, model, work, op, micro_of_request, micro, hub)
    return Mapping(scheme, tp, pp, micro, getattr(cost, "name", type(cost).__name__), policy, placement, work,
                   timeline)


def _exclusive_cumsum_by_group(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Running sum of `values` within runs of equal sorted `groups`, excluding the current element."""
    cum = np.cumsum(values)
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    base = np.repeat(cum[starts] - values[starts], np.diff(np.r_[starts, values.size]))
    return cum - values - base


def _timeline(p: Placement, model: LLM, work, op, micro_of_request, n_micro: int, hub: int) -> Timeline:
    """Modules of one shape run the same pieces in the same order: lay each shape's pieces out relative to the
    start of each (micro-batch, layer), time the pipeline over the modules, then shift every module's copy."""
    M, C, tp, pp = p.modules, p.module.channels, p.tp, p.pp
    S = int(p.module_shape.max()) + 1
    L = max(s.size for s in _stage_layers(model, pp))
    B, H = p.context_tokens.size, p.kv_heads
    q = p.pieces  # layers and heads counted from the module's first
    k = micro_of_request[q["request"]]
    phase = op if p.scheme == "tcp" else np.zeros_like(op)  # HFP has no barrier inside a layer
    # serial order on a channel: micro-batch, layer, phase, then each task's QK^T before its SV
    key = ((((((q["shape"] * C + q["channel"]) * n_micro + k) * L + q["layer"]) * 2 + phase) * B + q["request"]) * H
           + q["head"]) * 2 + op
    in_order = bool(np.all(key[1:] >= key[:-1]))  # TCP with one micro-batch comes out in this order
    order = slice(None) if in_order else np.argsort(key, kind="stable")
    s = {name: a[order] for name, a in (("shape", q["shape"]), ("channel", q["channel"]), ("request", q["request"]),
                                        ("layer", q["layer"]), ("head", q["head"]), ("dim_start", q["dim_start"]),
                                        ("op", op), ("micro", k), ("phase", phase), ("work", work))}
    step = s["micro"] * L + s["layer"]  # (micro-batch, layer) of a piece, inside its module
    shape_step = s["shape"] * (n_micro * L) + step  # and of its shape
    group = (shape_step * 2 + s["phase"]) * C + s["channel"]
    offset = _exclusive_cumsum_by_group(s["work"], group) if work.size else s["work"]
    load = np.bincount(group, s["work"], minlength=S * n_micro * L * 2 * C).reshape(S, n_micro, L, 2, C)
    phase_len = load.max(axis=4).astype(np.int64)  # (S, micro, L, 2)
    phase_rel = np.cumsum(phase_len, axis=3) - phase_len  # phase starts relative to the module's layer start
    seg_rel = phase_rel.reshape(-1)[shape_step * 2 + s["phase"]] + offset
    channels_len = phase_len.sum(axis=3)  # (S, micro, L)
    # TCP: one HUB reduction per (request, head) and layer, adding the partial sums of its active token
    # segments; it starts when the head's last SV piece ends and runs beside the channels' next SV pieces
    hub_rel_start, hub_cycles, hs = _hub_reductions(p, s, shape_step, seg_rel, hub)
    hub_end = np.zeros(S * n_micro * L, np.int64)
    np.maximum.at(hub_end, shape_step[hs], hub_rel_start + hub_cycles)
    shape_layer = np.maximum(channels_len, hub_end.reshape(S, n_micro, L))  # (S, micro, L)
    module_layer = shape_layer[p.module_shape]  # (M, micro, L)
    exposed = int((module_layer - channels_len[p.module_shape]).sum())  # layer time the reductions add
    layer_time = module_layer.reshape(pp, tp, n_micro, L).max(axis=1)  # TP modules meet at each layer's end
    stage_time = layer_time.sum(axis=2)  # (pp, micro)
    start = np.zeros((pp, n_micro), np.int64)
    for st in range(pp):  # pipeline: a stage takes micro-batch j when it is free and the stage before is done
        for j in range(n_micro):
            start[st, j] = max(start[st - 1, j] + stage_time[st - 1, j] if st else 0,
                               start[st, j - 1] + stage_time[st, j - 1] if j else 0)
    makespan = int(start[-1, -1] + stage_time[-1, -1])
    layer_start = start[:, :, None] + np.cumsum(layer_time, axis=2) - layer_time  # (pp, micro, L)
    module_layer_start = np.repeat(layer_start, tp, axis=0).reshape(-1)  # (M * micro * L)
    # every module runs its shape's pieces (empty pieces are not segments), shifted to its own layer starts
    busy = np.flatnonzero(s["work"] > 0)
    segments = {name: s[name][busy] for name in ("shape", "channel", "request", "layer", "head", "op", "micro", "work")}
    segments.update(step=step[busy], rel_start=seg_rel[busy])
    task, hub_module = _by_module(s["shape"][hs], p.module_shape)
    h = hs[task]
    hub_begin = module_layer_start[hub_module * (n_micro * L) + step[h]] + hub_rel_start[task]
    return Timeline(M, C, makespan, segments, p.module_shape, p.module_first_layer, p.module_first_head,
                    module_layer_start.reshape(M, n_micro * L), hub_module, hub_begin, hub_begin + hub_cycles[task],
                    s["request"][h], s["layer"][h] + p.module_first_layer[hub_module],
                    s["head"][h] + p.module_first_head[hub_module],
                    np.repeat(stage_time.sum(axis=1), tp).astype(np.int64),
                    module_layer.sum(axis=(1, 2)).astype(np.int64), exposed)


def _hub_reductions(p: Placement, s: dict, shape_step, seg_rel, hub):
    """TCP's HUB reductions: (start relative to the layer, cycles, index of one SV piece) per task of the sorted
    pieces `s`, tasks sorted by (shape, micro-batch, layer, request, head).

    A task's partials are ready when its last SV piece ends; the HUB takes tasks in order, one at a time:
    end_i = max(ready_i, end_(i-1)) + cycles_i, i.e. end_i = S_i + max_(j<=i)(ready_j - S_(j-1)).
    """
    empty = np.zeros(0, np.int64)
    if p.scheme != "tcp":
        return empty, empty, empty
    B, H = p.context_tokens.size, p.kv_heads
    sv = np.flatnonzero(s["op"] == SV)
    task = (shape_step[sv] * B + s["request"][sv]) * H + s["head"][sv]
    tasks, first, inverse = np.unique(task, return_index=True, return_inverse=True)
    ready = np.zeros(tasks.size, np.int64)
    np.maximum.at(ready, inverse, seg_rel[sv] + s["work"][sv])
    segments = np.bincount(inverse, (s["dim_start"][sv] == 0).astype(np.int64), minlength=tasks.size)
    cycles = (segments.astype(np.int64) - 1) * -(-p.head_dim // p.module.banks) * hub
    group = tasks // (B * H)  # (shape, micro, layer): tasks come sorted by group, then request, head
    done = _exclusive_cumsum_by_group(cycles, group)  # S_(j-1): HUB cycles of the group's earlier tasks
    x = ready - done
    rank = np.r_[0, np.cumsum(group[1:] != group[:-1])]
    big = 4 * (int(np.abs(x).max(initial=0)) + 1)
    best = np.maximum.accumulate(x + rank * big) - rank * big  # running max that restarts in each group
    end = done + cycles + best
    return end - cycles, cycles, sv[first]


# --- activation thresholds and admission ----------------------------------------------------------------
def tcp_active_channels(module: Module, head_dim: int, tokens, op: str) -> tuple[np.ndarray, np.ndarray]:
    """For one head of `tokens` tokens under TCP: (channels with work, channels whose every tile is full).

    Uses the same token/dim splits as `place`. A channel is fully active when it holds at least one whole
    tile (every bank, or every MAC lane, has a token).
    """
    check_choice("op", op, OPS)
    head_dim = check_int("head_dim", head_dim, 1)
    t0, t1, _, _ = geometry.channel_ranges(module, op, tokens, head_dim)
    held = t1 - t0
    tile = module.banks if op == "qk" else module.mac_lanes  # a whole tile fills every bank / MAC lane
    return (held > 0).sum(axis=1), (held >= tile).sum(axis=1)


def full_activation_tokens(module: Module, head_dim: int, op: str, limit: int = 1 << 16) -> int:
    """Smallest token count at which TCP keeps every channel of the module fully active for `op`."""
    tokens = np.arange(1, check_int("limit", limit, 1) + 1)
    _, full = tcp_active_channels(module, head_dim, tokens, op)
    hit = np.flatnonzero(full == module.channels)
    if not hit.size:
        raise ValueError(f"limit must reach full activation for {op}; no token count up to {limit} does")
    return int(tokens[hit[0]])


def max_batch(system: System, model: LLM, context_tokens, scheme: str = "tcp", tp: int = 1, pp: int = 1,
              weights_in_pim: bool = False) -> int:
    """Largest prefix of the requests (in order) that fits; 0 if not even the first does.

    Placement is monotone in the prefix (earlier pieces never move), so bisection finds it.
    """
    _check_system(system, model, scheme, tp, pp)
    context = model.check_context(context_tokens)

    def fits(n: int) -> bool:
        try:
            place(system, model, context[:n], scheme, tp, pp, weights_in_pim)
        except CapacityError:
            return False
        return True

    low, high = 0, context.size
    while low < high:
        mid = (low + high + 1) // 2
        low, high = (mid, high) if fits(mid) else (low, mid - 1)
    return low


def admit(system: System, model: LLM, context_tokens, tp: int = 1, pp: int = 1,
          weights_in_pim: bool = False) -> dict[str, int]:
    """The largest batch (prefix of the requests) that fits under each scheme."""
    return {scheme: max_batch(system, model, context_tokens, scheme, tp, pp, weights_in_pim) for scheme in SCHEMES}


__all__ = [
    "SCHEMES", "POLICIES", "OPS", "TileCost", "PeakRateCost", "EngineCost", "engine_available", "default_cost",
    "tile_cycles", "sv_grid", "kv_rows", "CapacityError", "Placement", "place", "reserved_rows", "Timeline",
    "Mapping", "map_batch", "tcp_active_channels", "full_activation_tokens", "max_batch", "admit",
]
