"""Dynamic PIM Access memory: static reservation vs lazy 1 MB chunks with a per-request VA2PA table.

One module's KV memory is the unit: under tensor parallelism every module of a system holds the same
share of each request (its KV heads), so one module's allocator stands for all of them. A request's
KV cache on a module is `streams` parallel streams (K and V of each layer and KV head it holds); each
stream spreads its tokens over all channels x banks (TCP, laid out by `pimlab.geometry`), so a 1 MB chunk
= channels x banks x rows holds consecutive tokens of one stream. A request's virtual chunk address (VA)
grows with it, and the VA2PA table maps each VA to a physical chunk (PA) anywhere on the module.

The default deployment is the paper's: CENT modules (16 GB, 32 channels x 16 banks), 8 of them for 7B
(Sec. VIII-A), where a 1 MB chunk is one row of every bank and holds 4096 tokens of a K or V stream
(d_h = 128). The paper says DPA leaves "only the last-used chunk per request" partly used; under TCP every
stream's rows hold that stream's tokens only (the MACs stream one head's keys or values), so each stream
has its own last chunk: a request wastes at most one chunk per stream, on average half a chunk (2048
tokens) per stream.
"""

from __future__ import annotations

import heapq
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from pimlab import geometry
from pimlab.hardware import CENT, System
from pimlab.models import LLM
from pimlab.validate import ceil_div, check_choice, check_int, check_number
from pimlab.workloads import DecodeTrace

PARTITIONINGS = ("TCP", "HFP")
# Knobs at their naive values: a static slot is exactly the context window; DPA admits while chunks are free.
NAIVE_RESERVE_FACTOR = 1.0
NAIVE_ADMISSION_HEADROOM = 0.0


@dataclass(frozen=True)
class KVLayout:
    """Where one request's KV cache lands on one module of `system` running `model` (TP over modules).

    A K or V stream takes, on every channel, the rows of its busiest channel under TCP
    (`geometry.stream_rows`): exactly the layout the compiler and the mapper use. The module's weights
    take its first rows; the KV region is the rest, in whole chunks.
    """

    model: LLM
    system: System = CENT
    chunk_bytes: int = 2**20  # [Q] "the host allocates 1MB chunks on demand"
    partitioning: str = "TCP"  # what a static reservation rounds to: a module row (TCP) or a channel row (HFP)

    def __post_init__(self):
        if not isinstance(self.model, LLM):
            raise ValueError(f"model must be an LLM, got {type(self.model).__name__}")
        if not isinstance(self.system, System):
            raise ValueError(f"system must be a System, got {type(self.system).__name__}")
        check_choice("partitioning", self.partitioning, PARTITIONINGS)
        row = self.module_row_bytes
        check_int("chunk_bytes", self.chunk_bytes, row, self.module.capacity_bytes)
        if self.chunk_bytes % row:
            raise ValueError(f"chunk_bytes must be a multiple of one module row ({row} B), got {self.chunk_bytes}")
        total = 2 * self.model.layers * self.model.kv_heads
        if total % (2 * self.system.modules):
            raise ValueError(f"modules must divide the model's {total // 2} (layer, KV head) pairs, "
                             f"got {self.system.modules}")
        geometry.Piece(self.module, "qk", 1, self.model.head_dim)  # a key must fit one row
        if self.chunks < 1:
            raise ValueError(f"system must leave at least one KV chunk free after the weights; {self.model.name}'s "
                             f"weights fill {self.system.modules} modules of {self.system.name}")

    @property
    def module(self):
        return self.system.module

    @property
    def module_row_bytes(self) -> int:
        """One row in every bank of every channel: the smallest TCP allocation."""
        return self.module.channels * self.module.banks * self.module.row_bytes

    @property
    def rows_per_chunk(self) -> int:
        return self.chunk_bytes // self.module_row_bytes

    @property
    def streams(self) -> int:
        """K and V streams of one request on one module (its share of layers x KV heads); K streams first."""
        return 2 * self.model.layers * self.model.kv_heads // self.system.modules

    @property
    def token_bytes(self) -> int:
        """Bytes one token adds to one stream (one head's key or value)."""
        return self.model.head_dim * self.model.dtype_bytes

    def stream_rows(self, op: str, tokens) -> np.ndarray:
        """Rows per channel a K ("qk") or V ("sv") stream of `tokens` tokens needs (TCP, busiest channel)."""
        return geometry.stream_rows(self.module, op, tokens, self.model.head_dim)

    def stream_chunks(self, op: str, tokens) -> np.ndarray:
        return ceil_div(self.stream_rows(op, tokens), self.rows_per_chunk)

    def stream_tokens(self, op: str, chunks) -> int:
        """Tokens a K or V stream can hold in `chunks` chunks."""
        rows = check_int("chunks", int(chunks), 0) * self.rows_per_chunk
        return geometry.stream_capacity_tokens(self.module, op, rows, self.model.head_dim)

    def piece(self, op: str, tokens: int, channel: int) -> geometry.Piece:
        """The tokens x dims of a stream of `tokens` tokens that `channel` holds (TCP)."""
        t0, t1, d0, d1 = geometry.channel_ranges(self.module, op, [tokens], self.model.head_dim)
        return geometry.Piece(self.module, op, int(t1[0, channel] - t0[0, channel]),
                              int(d1[0, channel] - d0[0, channel]))

    @property
    def weight_rows(self) -> int:
        """Rows (of every bank of every channel) the module's share of the weights takes, before the KV region."""
        per_module = ceil_div(self.model.weight_bytes, self.system.modules)
        return ceil_div(per_module, self.module_row_bytes)

    @property
    def chunks(self) -> int:
        """Whole chunks of KV capacity on one module."""
        return (self.module.rows - self.weight_rows) // self.rows_per_chunk

    @property
    def kv_capacity_bytes(self) -> int:
        return self.chunks * self.chunk_bytes

    def chunks_for(self, tokens) -> np.ndarray:
        """Chunks a request of `tokens` tokens maps on the module: each stream's partly used last chunks."""
        half = self.streams // 2
        return half * (self.stream_chunks("qk", tokens) + self.stream_chunks("sv", tokens))

    def reservation_bytes(self, tokens: int) -> int:
        """A static reservation for `tokens` tokens: every stream's rows, whole module rows under TCP or
        whole rows of its one channel under HFP (`geometry.stream_rows` of either scheme)."""
        scheme = self.partitioning.lower()
        row_bytes = self.module_row_bytes if scheme == "tcp" else self.module.banks * self.module.row_bytes
        rows = sum(geometry.stream_rows(self.module, op, int(tokens), self.model.head_dim, scheme)
                   for op in geometry.OPS)
        return self.streams // 2 * rows * row_bytes


def reserved_bytes(module, tokens, channels: int, streams: int, head_dim: int, lazy: bool,
                   chunk_bytes: int = 2**20) -> np.ndarray:
    """Bytes each request of `tokens` tokens reserves on `channels` channels of `module` holding `streams`
    of its K and V streams (half K, half V), each laid out by TCP over those channels (vectorised).

    DPA (`lazy`): `LazyChunkAllocator`'s rule, each stream's rows in whole chunks (its last one partly used).
    A chunk is the whole rows of the channels in one module that fit `chunk_bytes`, at least one row.
    Static: `StaticAllocator`'s slot for `tokens` tokens, each stream's rows in whole rows.
    """
    channels = check_int("channels", channels, 1)
    streams = check_int("streams", streams, 2)
    if streams % 2:
        raise ValueError(f"streams must be even (a K and a V stream per layer and KV head), got {streams}")
    row_bytes = module.banks * module.row_bytes  # one row of every bank of one channel
    rows_per_chunk = max(1, check_int("chunk_bytes", chunk_bytes, 1) // (min(channels, module.channels) * row_bytes))
    step = rows_per_chunk if lazy else 1
    k_rows, v_rows = geometry.tcp_kv_rows(module, tokens, head_dim, channels)
    rows = (ceil_div(k_rows, step) + ceil_div(v_rows, step)) * step
    return rows * (streams // 2 * channels * row_bytes)


def _check_layout(layout) -> KVLayout:
    if not isinstance(layout, KVLayout):
        raise ValueError(f"layout must be a KVLayout, got {type(layout).__name__}")
    return layout


class LazyChunkAllocator:
    """DPA: chunks mapped on demand as a request grows, anywhere on the module, released at completion.

    Virtual chunk `va = w * streams + stream` is the w-th chunk of a stream (K streams first, then V);
    `owner[pa]` is the request holding physical chunk `pa` (-1 free). `admission_headroom` is the
    fraction of chunks an admission must leave free for the running requests to grow into.
    """

    name = "DPA"

    def __init__(self, layout: KVLayout, admission_headroom: float = NAIVE_ADMISSION_HEADROOM):
        self.layout = _check_layout(layout)
        self.admission_headroom = check_number("admission_headroom", admission_headroom, 0.0, 0.9, low_open=False)
        self.capacity_chunks = layout.chunks
        self.chunk_bytes = layout.chunk_bytes
        self.streams = layout.streams
        self.owner = np.full(self.capacity_chunks, -1, dtype=np.int64)
        self._free = np.arange(self.capacity_chunks - 1, -1, -1, dtype=np.int64)  # a stack: lowest PA on top
        self._top = self.capacity_chunks
        self._va2pa: dict[int, np.ndarray] = {}  # request -> table indexed by VA, -1 where unmapped
        self._levels: dict[int, tuple[int, int]] = {}  # request -> chunks per K stream, per V stream
        self._chunks_of: dict[int, tuple[int, int]] = {}  # tokens -> chunks per K stream, per V stream (a cache)

    # --- state -----------------------------------------------------------------------------------
    @property
    def free_chunks(self) -> int:
        return self._top

    @property
    def capacity_bytes(self) -> int:
        return self.capacity_chunks * self.chunk_bytes

    @property
    def allocated_bytes(self) -> int:
        return (self.capacity_chunks - self._top) * self.chunk_bytes

    @property
    def requests(self) -> list[int]:
        return list(self._va2pa)

    def chunks_for(self, tokens: int) -> int:
        k, v = self._stream_chunks(tokens)
        return self.streams // 2 * (k + v)

    def _stream_chunks(self, tokens: int) -> tuple[int, int]:
        """Chunks per K stream and per V stream at `tokens` tokens (`KVLayout.stream_chunks`, remembered)."""
        hit = self._chunks_of.get(tokens)
        if hit is None:
            hit = self._chunks_of[tokens] = (int(self.layout.stream_chunks("qk", tokens)),
                                             int(self.layout.stream_chunks("sv", tokens)))
        return hit

    def mapped_tokens(self, request: int) -> int:
        """Tokens the request's mapped chunks can hold."""
        self._table(request)
        k, v = self._levels[request]
        return int(min(self.layout.stream_tokens("qk", k), self.layout.stream_tokens("sv", v)))

    def can_admit(self, tokens: int) -> bool:
        reserve = int(np.ceil(self.admission_headroom * self.capacity_chunks))
        return self._top - self.chunks_for(tokens) >= reserve

    # --- host -> dispatcher messages: assign, grow, release ----------------------------------------
    def assign(self, request: int, tokens: int, pa=None) -> np.ndarray:
        """Map chunks for a new request of `tokens` tokens (at physical chunks `pa` if given)."""
        request = check_int("request", request, 0)
        if request in self._va2pa:
            raise ValueError(f"request must not be assigned yet, got {request} (already holds chunks)")
        self._va2pa[request] = np.empty(0, dtype=np.int64)
        self._levels[request] = (0, 0)
        try:
            return self.grow(request, tokens, pa)
        except ValueError:
            del self._va2pa[request], self._levels[request]
            raise

    def grow(self, request: int, tokens: int, pa=None) -> np.ndarray:
        """Map the chunks a request needs to hold `tokens` tokens; returns the newly mapped physical chunks."""
        table = self._table(request)
        tokens = check_int("tokens", tokens, 1)
        old_k, old_v = self._levels[request]
        k, v = self._stream_chunks(tokens)
        new_k, new_v = max(old_k, k), max(old_v, v)
        half, streams = self.streams // 2, self.streams
        vas = np.concatenate([
            (np.arange(old_k, new_k)[:, None] * streams + np.arange(half)).ravel(),
            (np.arange(old_v, new_v)[:, None] * streams + half + np.arange(half)).ravel(),
        ]).astype(np.int64)
        if vas.size == 0:
            return vas
        if vas.size > self._top:
            raise ValueError(f"tokens must fit the free memory ({self._top} chunks free), got {tokens} "
                             f"needing {vas.size} more chunks")
        new = self._take(vas.size, pa)
        grown = np.full(max(new_k, new_v) * streams, -1, dtype=np.int64)
        grown[:table.size] = table
        grown[vas] = new
        self._va2pa[request] = grown
        self._levels[request] = (new_k, new_v)
        self.owner[new] = request
        return new

    def _take(self, count: int, pa) -> np.ndarray:
        if pa is None:
            new = self._free[self._top - count:self._top][::-1].copy()
            self._top -= count
            return new
        pa = np.atleast_1d(np.asarray(pa, dtype=np.int64))
        if pa.size != count or np.unique(pa).size != count:
            raise ValueError(f"pa must name {count} distinct physical chunks, got {pa.tolist()}")
        free = self._free[:self._top]
        if not np.isin(pa, free).all():
            raise ValueError(f"pa must name free chunks in [0, {self.capacity_chunks - 1}], got {pa.tolist()}")
        rest = free[~np.isin(free, pa)]
        self._top -= count
        self._free[:self._top] = rest
        return pa

    def release(self, request: int) -> np.ndarray:
        """Unmap every chunk of a completed request; returns them."""
        table = self._table(request)
        chunks = table[table >= 0]
        del self._va2pa[request], self._levels[request]
        self.owner[chunks] = -1
        self._free[self._top:self._top + chunks.size] = chunks[::-1]
        self._top += chunks.size
        return chunks

    # --- VA2PA ---------------------------------------------------------------------------------------
    def _table(self, request: int) -> np.ndarray:
        if request not in self._va2pa:
            raise ValueError(f"request must be one of the assigned requests {sorted(self._va2pa)}, got {request}")
        return self._va2pa[request]

    def va2pa(self, request: int) -> np.ndarray:
        """The request's VA2PA table: entry `va` is the physical chunk of virtual chunk `va` (-1 unmapped)."""
        return self._table(request).copy()

    def translate(self, request: int, va) -> np.ndarray | int:
        """Physical chunk(s) of virtual chunk(s) `va` of `request`; unmapped addresses raise ValueError."""
        table = self._table(request)
        vas = np.asarray(va)
        if not np.issubdtype(vas.dtype, np.integer) or vas.size == 0:
            raise ValueError(f"va must be integer virtual chunk addresses, got {va!r}")
        inside = (vas >= 0) & (vas < table.size)
        bad = ~inside | (table[np.where(inside, vas, 0)] < 0)
        if bad.any():
            raise ValueError(f"va must be a mapped virtual chunk of request {request} "
                             f"({int((table >= 0).sum())} mapped), got {int(vas[bad].flat[0])}")
        return int(table[vas]) if vas.ndim == 0 else table[vas]

    def physical_rows(self, request: int, stream: int, rows: int) -> np.ndarray:
        """DRAM rows (the same on every channel) holding virtual rows 0..rows-1 of one stream of `request`."""
        stream = check_int("stream", stream, 0, self.streams - 1)
        u = np.arange(check_int("rows", rows, 1), dtype=np.int64)
        per = self.layout.rows_per_chunk
        pa = np.atleast_1d(self.translate(request, u // per * self.streams + stream))
        return self.layout.weight_rows + pa * per + u % per


class StaticAllocator:
    """Static management: each request reserves a fixed slot sized for the maximum context at assign.

    The slot is the context window times `reserve_factor`, rounded up to whole module rows (TCP) or
    channel rows (HFP). The compiled instruction stream embeds the slot's physical addresses, so
    nothing moves or grows; a module holds `slots` requests however short they are.
    """

    name = "static"

    def __init__(self, layout: KVLayout, reserve_factor: float = NAIVE_RESERVE_FACTOR):
        self.layout = _check_layout(layout)
        self.reserve_factor = check_number("reserve_factor", reserve_factor, 1.0, 4.0, low_open=False)
        self.slot_tokens = int(np.ceil(layout.model.context_window * self.reserve_factor))
        self.slot_bytes = layout.reservation_bytes(self.slot_tokens)
        self.capacity_bytes = layout.kv_capacity_bytes
        self.chunk_bytes = layout.chunk_bytes
        self.slots = self.capacity_bytes // self.slot_bytes
        if self.slots < 1:
            raise ValueError(f"reserve_factor must leave room for one request on a module, got {reserve_factor}")
        self.occupant = np.full(self.slots, -1, dtype=np.int64)
        self._slot_of: dict[int, int] = {}

    @property
    def allocated_bytes(self) -> int:
        return len(self._slot_of) * self.slot_bytes

    @property
    def requests(self) -> list[int]:
        return list(self._slot_of)

    def can_admit(self, tokens: int) -> bool:
        return len(self._slot_of) < self.slots and tokens <= self.slot_tokens

    def mapped_tokens(self, request: int) -> int:
        self.slot(request)
        return self.slot_tokens

    def assign(self, request: int, tokens: int) -> int:
        """Reserve the lowest free slot for a new request; returns the slot."""
        request = check_int("request", request, 0)
        check_int("tokens", tokens, 1, self.slot_tokens)
        if request in self._slot_of:
            raise ValueError(f"request must not be assigned yet, got {request} (already holds a slot)")
        free = np.flatnonzero(self.occupant < 0)
        if free.size == 0:
            raise ValueError(f"request must find a free slot (all {self.slots} are reserved), got {request}")
        slot = int(free[0])
        self.occupant[slot] = request
        self._slot_of[request] = slot
        return slot

    def grow(self, request: int, tokens: int) -> np.ndarray:
        self.slot(request)
        check_int("tokens", tokens, 1, self.slot_tokens)
        return np.empty(0, dtype=np.int64)

    def release(self, request: int) -> int:
        slot = self.slot(request)
        self.occupant[slot] = -1
        del self._slot_of[request]
        return slot

    def slot(self, request: int) -> int:
        if request not in self._slot_of:
            raise ValueError(f"request must be one of the assigned requests {sorted(self._slot_of)}, got {request}")
        return self._slot_of[request]


@dataclass(frozen=True)
class CapacityRun:
    """A decode trace run through one allocator on one module.

    Time series are per interval between events: `step[i]` to `step[i+1]`, with `batch[i]` running
    requests, `allocated_bytes[i]` held, and live KV bytes growing linearly from `live_bytes[i]`.
    Averages are taken over the saturated window, from step 0 to the last admission (after it the
    system only drains, which depends on the trace's length, not on the allocator).
    """

    policy: str
    capacity_bytes: int
    step: np.ndarray
    batch: np.ndarray
    live_bytes: np.ndarray
    allocated_bytes: np.ndarray
    admit_step: np.ndarray  # per request (last admission if it was preempted)
    finish_step: np.ndarray
    window_steps: int
    utilization: float  # time-averaged live KV bytes / KV capacity
    allocated_fraction: float  # time-averaged allocated (mapped or reserved) bytes / KV capacity
    mean_batch: float
    messages: dict = field(default_factory=dict)  # host <-> PIM: assign, grow, release
    preemptions: int = 0
    snapshot_step: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    owner: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=np.int64))  # request per chunk, -1 free
    used: np.ndarray = field(default_factory=lambda: np.empty((0, 0), dtype=bool))  # chunk holds live tokens
    snapshot_live_bytes: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    va2pa: tuple = ()  # per snapshot: request -> VA2PA table (DPA only)

    @property
    def max_batch(self) -> int:
        return int(self.batch.max()) if self.batch.size else 0


def simulate(trace: DecodeTrace, allocator, snapshot_steps=()) -> CapacityRun:
    """Admit the trace's requests first come first served while the allocator has room; decode one token per
    step; grow DPA requests chunk by chunk; release at completion. When a DPA request cannot grow, the
    most recently admitted other request is preempted (released and queued again with its tokens so far).
    """
    if not isinstance(trace, DecodeTrace):
        raise ValueError(f"trace must be a DecodeTrace, got {type(trace).__name__}")
    largest = int(trace.final_tokens.max())
    if not isinstance(allocator, (StaticAllocator, LazyChunkAllocator)):
        raise ValueError(f"allocator must be a StaticAllocator or LazyChunkAllocator, got {type(allocator).__name__}")
    if isinstance(allocator, StaticAllocator):
        if largest > allocator.slot_tokens:
            raise ValueError(f"trace must fit the static slot of {allocator.slot_tokens} tokens, got {largest}")
    elif allocator.chunks_for(largest) > allocator.capacity_chunks:
        raise ValueError(f"trace must fit one request in {allocator.capacity_chunks} chunks, got {largest} tokens")
    snapshot_steps = sorted({check_int("snapshot step", int(s), 0) for s in snapshot_steps})
    context = trace.context_tokens.astype(np.int64).copy()
    remaining = trace.output_tokens.astype(np.int64).copy()
    n = context.size
    admit = np.full(n, -1, dtype=np.int64)
    finish = np.full(n, -1, dtype=np.int64)
    version = np.zeros(n, dtype=np.int64)
    arrivals = np.argsort(trace.arrival_step, kind="stable")
    next_arrival = 0
    queue: deque[int] = deque()
    running: list[int] = []  # in admission order
    events: list[tuple[int, int, int, int]] = []  # (step, kind 0 finish / 1 grow, request, version)
    messages = {"assign": 0, "grow": 0, "release": 0}
    preemptions = 0
    layout = allocator.layout
    bytes_per_token = layout.streams * layout.token_bytes
    steps, batches, lives, allocs = [], [], [], []
    owners, useds, snap_live, tables = [], [], [], []

    def snap(t: int):
        tokens = {r: tokens_at(r, t) for r in running}
        owner, used = chunk_map(allocator, tokens, bytes_per_token)
        owners.append(owner)
        useds.append(used)
        snap_live.append(sum(tokens.values()) * bytes_per_token)
        tables.append({r: allocator.va2pa(r) for r in running} if isinstance(allocator, LazyChunkAllocator) else {})

    live_base = 0  # live tokens at step s = live_base + len(running) * s
    last_admission = 0

    def schedule_grow(r: int, now: int):
        bound = admit[r] + allocator.mapped_tokens(r) - context[r]  # first step whose tokens exceed the mapping
        if bound < admit[r] + remaining[r]:
            heapq.heappush(events, (max(int(bound), now), 1, r, int(version[r])))

    def tokens_at(r: int, s: int) -> int:
        return int(context[r] + s - admit[r] + 1)

    def stop(r: int):
        nonlocal live_base
        allocator.release(r)
        messages["release"] += 1
        running.remove(r)
        live_base -= int(context[r] - admit[r] + 1)
        version[r] += 1

    while True:
        candidates = [events[0][0]] if events else []
        if next_arrival < n:
            candidates.append(int(trace.arrival_step[arrivals[next_arrival]]))
        if not candidates:
            break
        s = min(candidates)
        while len(owners) < len(snapshot_steps) and snapshot_steps[len(owners)] < s:
            snap(snapshot_steps[len(owners)])
        while events and events[0][0] == s:
            _, kind, r, v = heapq.heappop(events)
            if v != version[r]:
                continue
            if kind == 0:
                finish[r] = s
                stop(r)
                continue
            while True:  # grow, preempting the newest other request while memory is short
                try:
                    allocator.grow(r, tokens_at(r, s))
                    break
                except ValueError:
                    victims = [q for q in running if q != r]
                    if not victims:
                        raise
                    victim = victims[-1]
                    done = s - admit[victim]
                    stop(victim)
                    context[victim] += done
                    remaining[victim] -= done
                    queue.appendleft(victim)
                    preemptions += 1
            messages["grow"] += 1
            schedule_grow(r, s)
        while next_arrival < n and trace.arrival_step[arrivals[next_arrival]] <= s:
            queue.append(int(arrivals[next_arrival]))
            next_arrival += 1
        while queue and allocator.can_admit(int(context[queue[0]] + 1)):
            r = queue.popleft()
            admit[r] = s
            allocator.assign(r, int(context[r] + 1))
            messages["assign"] += 1
            running.append(r)
            live_base += int(context[r] - s + 1)
            heapq.heappush(events, (int(s + remaining[r]), 0, r, int(version[r])))
            schedule_grow(r, s)
            last_admission = s
        if queue and not running:
            raise ValueError("allocator must hold at least one request of the trace, but admits none")
        steps.append(s)
        batches.append(len(running))
        lives.append(live_base + len(running) * s)
        allocs.append(allocator.allocated_bytes)
    while len(owners) < len(snapshot_steps):
        snap(snapshot_steps[len(owners)])
    chunks = layout.chunks
    step = np.array(steps, dtype=np.int64)
    batch = np.array(batches, dtype=np.int64)
    live_tokens = np.array(lives, dtype=np.int64)
    allocated = np.array(allocs, dtype=np.int64)
    end = last_admission if last_admission > 0 else int(step[-1])
    span = np.diff(np.append(step, step[-1]))
    inside = np.minimum(step + span, end) - step
    inside = np.clip(inside, 0, None)
    # live tokens over an interval: start value plus one token per running request per step
    live_sum = live_tokens * inside + batch * inside * (inside - 1) // 2
    window = max(end, 1)
    capacity = allocator.capacity_bytes
    utilization = float(live_sum.sum() * bytes_per_token) / (capacity * window)
    allocated_fraction = float((allocated * inside).sum()) / (capacity * window)
    return CapacityRun(allocator.name, capacity, step, batch, live_tokens * bytes_per_token, allocated, admit, finish,
                       end, utilization, allocated_fraction, float((batch * inside).sum()) / window, messages,
                       preemptions, np.array(snapshot_steps, dtype=np.int64),
                       np.array(owners, dtype=np.int64).reshape(-1, chunks),
                       np.array(useds, dtype=bool).reshape(-1, chunks), np.array(snap_live, dtype=np.int64),
                       tuple(tables))


def chunk_map(allocator, tokens: dict[int, int], bytes_per_token: int) -> tuple[np.ndarray, np.ndarray]:
    """Per chunk of the module: the request holding it (-1 free) and whether it holds live tokens.

    A DPA chunk is mapped only once a token needs it. A static slot is reserved whole; the first
    `tokens * bytes_per_token` bytes of it are in use (drawn at chunk granularity).
    """
    if isinstance(allocator, LazyChunkAllocator):
        return allocator.owner.copy(), allocator.owner >= 0
    start = np.arange(allocator.layout.chunks, dtype=np.int64) * allocator.chunk_bytes
    slot = start // allocator.slot_bytes
    inside = slot < allocator.slots
    owner = np.full(start.size, -1, dtype=np.int64)
    owner[inside] = allocator.occupant[slot[inside]]
    slot_live = np.array([tokens.get(int(r), 0) * bytes_per_token for r in allocator.occupant], dtype=np.int64)
    used = inside & (owner >= 0)
    used[inside] &= start[inside] - slot[inside] * allocator.slot_bytes < slot_live[slot[inside]]
    return owner, used
