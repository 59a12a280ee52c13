"""PIM instructions (Table III), their expansion into per-channel commands, and the GEMV / attention compiler.

An `Instruction` is what the host sends to the PIM HUB: an op with a channel mask and an op-size. The
Instruction Sequencer unrolls op-size repetitions and the Multicast Interconnect sends each channel in
the mask its commands on consecutive addresses (GPR-addr, GBuf-Idx, column). `expand` does both and
returns one channel's `Commands` (columnar numpy arrays). Row commands (ACT, PRE), refresh (REF) and
the register/MAC mode switch (MODE) are not in the instruction stream: the channel's controller
inserts them as it schedules (`pimlab.schedule`), but they share the `Kind` codes.

Data layout (AiM): 16 banks per channel, each with a 2 KB row = 64 columns of 32 B = 16 BF16 lanes, and a
64-entry Global Buffer (GBuf) of 32 B input tiles. One MAC command multiplies one GBuf entry with one
column of the open row in every bank and accumulates into an output entry (OutReg / OBuf).
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from enum import IntEnum
from itertools import chain
from operator import attrgetter, eq

import numpy as np

from pimlab.geometry import Piece
from pimlab.hardware import AIM, FIG7, Module
from pimlab.progress import tick
from pimlab.validate import ceil_div, check_choice, check_int

__all__ = [
    "Kind", "KIND_NAMES", "QUEUE_OF_KIND", "QUEUE_NAMES", "DATA_KINDS", "Instruction", "Commands", "expand",
    "instruction_table", "expand_table", "compile_gemv", "compile_attention", "compile_attention_table",
    "attention_rows_needed",
    "fig7_module", "fig7_stream", "FIG7_GBUF_ENTRIES",
]


class Kind(IntEnum):
    """Command kind codes shared by instructions, commands and traces."""

    WR_INP = 0  # GPR -> GBuf entry (AiM WR_GB), one 32 B tile
    MAC = 1  # GBuf entry x open-row column in all banks -> accumulate into an output entry (AiM MAC_ABK)
    RD_OUT = 2  # output entry of all banks -> GPR, 2 B x 16 banks (AiM RD_MAC)
    ACT = 3  # open a row in all banks (AiM ACT16), inserted by the controller
    PRE = 4  # close the open row (AiM PREA), inserted by the controller
    REF = 5  # refresh, inserted by the controller every tREFI
    MODE = 6  # register-I/O <-> MAC mode switch (AiM TMOD), inserted by the static controller
    WR_BIAS = 7  # GPR -> output entry of all banks: initialise the accumulators (AiM WR_BIAS)


KIND_NAMES = tuple(kind.name for kind in Kind)
DATA_KINDS = (Kind.WR_INP, Kind.MAC, Kind.RD_OUT, Kind.WR_BIAS)  # kinds an instruction stream may carry
QUEUE_NAMES = ("I/O", "compute", "row/refresh")
# queue of each kind, indexed by the kind code: 0 I/O, 1 compute, 2 row/refresh
QUEUE_OF_KIND = np.array([0, 1, 0, 2, 2, 2, 2, 0], dtype=np.int8)
_MAX_MASK = 2**64
_ADDRESS_FIELDS = ("gpr_addr", "gbuf_idx", "row", "col", "out_idx")
_ARGUMENTS = {  # the address fields each op takes (Table III); the others must be -1
    Kind.WR_INP: frozenset({"gpr_addr", "gbuf_idx"}),
    Kind.MAC: frozenset({"gbuf_idx", "row", "col", "out_idx"}),
    Kind.RD_OUT: frozenset({"gpr_addr", "out_idx"}),
    Kind.WR_BIAS: frozenset({"gpr_addr", "out_idx"}),
}


@dataclass(frozen=True)
class Instruction:
    """One PIM instruction of Table III (-1 marks an argument the op does not use).

    WR-INP: ch_mask, op_size, gpr_addr, gbuf_idx.  MAC: ch_mask, op_size, gbuf_idx, row, col, out_idx.
    RD-OUT: ch_mask, op_size, gpr_addr, out_idx.   WR-BIAS (AiM): ch_mask, op_size, gpr_addr, out_idx.
    Bit i of ch_mask selects channel i. Repetition k uses gpr_addr + k, gbuf_idx + k, col + k (MAC, all
    into the same out_idx) and out_idx + k (RD-OUT, WR-BIAS).
    """

    op: Kind
    ch_mask: int = 1
    op_size: int = 1
    gpr_addr: int = -1
    gbuf_idx: int = -1
    row: int = -1
    col: int = -1
    out_idx: int = -1

    def __post_init__(self):
        check_choice("op", self.op, DATA_KINDS)
        object.__setattr__(self, "op", Kind(self.op))
        check_int("ch_mask", self.ch_mask, 1, _MAX_MASK - 1)
        check_int("op_size", self.op_size, 1, 1 << 20)
        needs = _ARGUMENTS[self.op]
        for name in _ADDRESS_FIELDS:
            value = getattr(self, name)
            if name in needs:
                check_int(name, value, 0)
            elif value != -1:
                raise ValueError(f"{name} is not an argument of {self.op.name}; must be -1, got {value}")

    @classmethod
    def _checked(cls, op: Kind, ch_mask: int, op_size: int, gpr_addr: int = -1, gbuf_idx: int = -1, row: int = -1,
                 col: int = -1, out_idx: int = -1) -> Instruction:
        """An instruction the compiler built from values it has checked: the same object, without the per-field
        checks (a long attention stream makes millions)."""
        instruction = object.__new__(cls)
        instruction.__dict__.update(op=op, ch_mask=ch_mask, op_size=op_size, gpr_addr=gpr_addr, gbuf_idx=gbuf_idx,
                                    row=row, col=col, out_idx=out_idx)
        return instruction

    @property
    def channels(self) -> list[int]:
        """Channels selected by ch_mask."""
        return [i for i in range(self.ch_mask.bit_length()) if self.ch_mask >> i & 1]

    def __str__(self) -> str:
        args = [f"{name}={getattr(self, name)}" for name in ("op_size", *_ADDRESS_FIELDS) if getattr(self, name) != -1]
        return f"{self.op.name}(ch_mask={self.ch_mask:#x}, {', '.join(args)})"


_TABLE_FIELDS = ("op", "ch_mask", "op_size", *_ADDRESS_FIELDS)


def instruction_table(instructions) -> dict[str, np.ndarray]:
    """Instructions in columnar form: one int64 array per Table III field (ch_mask as uint64), field by field."""
    instructions = list(instructions)
    n, fields = len(instructions), [name for name in _TABLE_FIELDS if name != "ch_mask"]
    values = np.fromiter(chain.from_iterable(map(attrgetter(*fields), instructions)), dtype=np.int64,
                         count=n * len(fields)).reshape(n, len(fields))
    table = {name: values[:, j].copy() for j, name in enumerate(fields)}
    table["ch_mask"] = np.fromiter(map(attrgetter("ch_mask"), instructions), dtype=np.uint64, count=n)
    return {name: table[name] for name in _TABLE_FIELDS}


@dataclass(frozen=True)
class Commands:
    """One channel's command stream in program order, columnar (-1 = field not used).

    kind: `Kind` code; gbuf / obuf: the GBuf / output entry it touches; row, col: the DRAM address of a
    MAC; instr: index of the instruction it came from (-1 if built by hand).
    """

    kind: np.ndarray
    gbuf: np.ndarray
    obuf: np.ndarray
    row: np.ndarray
    col: np.ndarray
    instr: np.ndarray

    def __post_init__(self):
        n = len(np.asarray(self.kind))
        for name in ("kind", "gbuf", "obuf", "row", "col", "instr"):
            array = np.ascontiguousarray(np.asarray(getattr(self, name)), dtype=np.int64)
            if array.ndim != 1 or len(array) != n:
                raise ValueError(f"Commands.{name} must be a 1-D array of length {n}, got shape {array.shape}")
            array.setflags(write=False)
            object.__setattr__(self, name, array)
        bad = ~np.isin(self.kind, [int(k) for k in DATA_KINDS])
        if bad.any():
            raise ValueError(f"Commands.kind must hold only WR_INP, MAC, RD_OUT, WR_BIAS codes "
                             f"{[int(k) for k in DATA_KINDS]}; got {int(self.kind[bad][0])}")

    @classmethod
    def make(cls, kind, gbuf=None, obuf=None, row=None, col=None) -> Commands:
        """Build a stream by hand; missing fields are -1."""
        kind = np.asarray(kind, dtype=np.int64)
        fill = [np.full(len(kind), -1, dtype=np.int64) if a is None else a for a in (gbuf, obuf, row, col)]
        return cls(kind, *fill, np.full(len(kind), -1, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.kind)

    def counts(self) -> dict[str, int]:
        """How many commands of each kind (kinds that occur, in code order)."""
        return {Kind(k).name: int(count) for k, count in enumerate(np.bincount(self.kind)) if count}


def expand(instructions, channels=0):
    """Unroll op-size and multicast: the `Commands` one channel receives.

    `channels` is one channel number (returns its `Commands`) or a sequence of them (returns a list of
    `Commands`, one per channel, in that order).
    """
    single = isinstance(channels, (int, np.integer))
    wanted = [check_int("channel", c, 0, 63) for c in ([channels] if single else channels)]
    table = instruction_table(instructions)
    if not len(table["op"]):
        raise ValueError("instructions must hold at least one instruction, got none")
    out = [expand_table(table, channel) for channel in wanted]
    return out[0] if single else out


def expand_table(table: dict[str, np.ndarray], channel: int) -> Commands:
    """The commands of one channel, from the instructions' columnar table (`instruction_table`)."""
    mine = np.flatnonzero((table["ch_mask"] >> np.uint64(channel)) & np.uint64(1))
    size = table["op_size"][mine]
    start = np.cumsum(size) - size
    k = np.arange(int(size.sum()), dtype=np.int64) - np.repeat(start, size)  # repetition within instruction
    kind, gbuf_idx, row, col, out_idx = (np.repeat(table[name][mine], size)
                                         for name in ("op", "gbuf_idx", "row", "col", "out_idx"))
    is_mac = kind == Kind.MAC
    gbuf = np.where(gbuf_idx >= 0, gbuf_idx + k, -1)
    obuf = np.where(out_idx >= 0, out_idx + np.where(is_mac, 0, k), -1)
    return Commands(kind, gbuf, obuf, np.where(is_mac, row, -1), np.where(is_mac, col + k, -1), np.repeat(mine, size))


# --- compiler ---------------------------------------------------------------------------------------------


class Emitter:
    """Collects instructions; keeps track of which input tile sits in which GBuf entry (round-robin reuse).

    Instructions are kept as rows of the columnar table (`instruction_table` order, ch_mask left out: one per
    emitter), so a stream of millions costs 56 bytes each; `instructions()` or `table()` gives the result.
    """

    def __init__(self, gbuf_entries: int, obuf_entries: int, ch_mask: int, regions: int = 1, prefetch: bool = False):
        self.ch_mask = check_int("ch_mask", ch_mask, 1, _MAX_MASK - 1)  # the instructions are built unchecked
        self.regions = check_choice("buffer_regions", regions, (1, 2))
        self.prefetch, self.pending = bool(prefetch), []
        if regions == 2 and (gbuf_entries < 2 or obuf_entries < 2):
            raise ValueError(f"buffer_regions = 2 needs at least 2 GBuf and 2 output entries, got {gbuf_entries} "
                             f"and {obuf_entries}")
        # regions = 2 (ping-pong): region r of a buffer of n entries is [r ceil(n/2), ...); loads alternate
        half_g, half_o = ceil_div(gbuf_entries, regions), ceil_div(obuf_entries, regions)
        self.g_span = [(r * half_g, min(gbuf_entries, (r + 1) * half_g)) for r in range(regions)]
        self.o_span = [(r * half_o, min(obuf_entries, (r + 1) * half_o)) for r in range(regions)]
        self.rows = array("q")  # op, op_size, gpr_addr, gbuf_idx, row, col, out_idx of each instruction
        self.resident: dict[object, int] = {}  # tile key -> GBuf entry
        self.holder: list = [None] * gbuf_entries  # GBuf entry -> the tile key placed there last
        self.g_next = [lo for lo, _ in self.g_span]
        self.g_region = regions - 1
        self.o_next, self.o_count = [lo for lo, _ in self.o_span], 0
        self.gpr = 0

    @property
    def load_entries(self) -> int:
        """Most tiles one load may hold (one region)."""
        return min(hi - lo for lo, hi in self.g_span)

    def place(self, keys) -> tuple[int, bool]:
        """(first GBuf entry of the tiles `keys`, whether they must be loaded): the GBuf bookkeeping of `load`,
        the gpr included, without the instruction."""
        keys = list(keys)
        first = self.resident.get(keys[0])
        if first is not None and all(map(eq, map(self.resident.get, keys), range(first, first + len(keys)))):
            return first, False  # every tile resident, in consecutive entries
        self.g_region = (self.g_region + 1) % self.regions
        lo, hi = self.g_span[self.g_region]
        if self.g_next[self.g_region] + len(keys) > hi:
            self.g_next[self.g_region] = lo
        first = self.g_next[self.g_region]
        for e in range(first, first + len(keys)):  # the tiles these entries held leave the GBuf
            if self.resident.get(self.holder[e], -1) == e:
                del self.resident[self.holder[e]]
            self.holder[e] = keys[e - first]
        self.resident.update(zip(keys, range(first, first + len(keys))))
        self.gpr += len(keys)
        self.g_next[self.g_region] = first + len(keys)
        return first, True

    def load(self, keys) -> int:
        """Make the tiles `keys` resident in consecutive GBuf entries; returns the first entry."""
        gpr = self.gpr
        first, loaded = self.place(keys)
        if loaded:
            self.rows.extend((Kind.WR_INP, self.gpr - gpr, gpr, first, -1, -1, -1))
            self._emit_pending()  # prefetch: the next input goes out before the previous output is read
        return first

    def _emit_pending(self) -> None:
        """Emit the RD-OUTs waiting for a load: tuples (`read_out`) or (k, 7) arrays (QK^T's numpy path)."""
        for pending in self.pending:
            if isinstance(pending, np.ndarray):
                self.rows.frombytes(np.ascontiguousarray(pending, dtype=np.int64).tobytes())
            else:
                self.rows.extend(pending)
        self.pending = []

    def mac_run(self, gbuf_first: int, count: int, row: int, col: int, out: int) -> None:
        self.rows.extend((Kind.MAC, count, -1, gbuf_first, row, col, out))

    def take_out(self) -> int:
        """The next output entry: round-robin, alternating regions when there are two."""
        r = self.o_count % self.regions
        self.o_count += 1
        lo, hi = self.o_span[r]
        out = self.o_next[r]
        self.o_next[r] = lo if out + 1 >= hi else out + 1
        return out

    def take_outs(self, count: int) -> np.ndarray:
        """The next `count` output entries (`take_out` `count` times)."""
        outs = np.empty(count, dtype=np.int64)
        for r, (lo, hi) in enumerate(self.o_span):
            mine = np.arange((r - self.o_count) % self.regions, count, self.regions)
            outs[mine] = lo + (self.o_next[r] - lo + np.arange(len(mine))) % (hi - lo)
            self.o_next[r] = lo + (self.o_next[r] - lo + len(mine)) % (hi - lo)
        self.o_count += count
        return outs

    def read_out(self, out: int) -> None:
        instruction = (Kind.RD_OUT, 1, self.gpr, -1, -1, -1, out)
        self.gpr += 1
        if self.prefetch:
            self.pending.append(instruction)  # emitted after the next load (or at the end)
        else:
            self.rows.extend(instruction)

    def _finish(self) -> np.ndarray:
        self._emit_pending()
        return np.frombuffer(self.rows, dtype=np.int64).reshape(-1, 7)

    def table(self) -> dict[str, np.ndarray]:
        """The instructions as `instruction_table` gives them."""
        rows = self._finish()
        table = {name: rows[:, j] for j, name in enumerate(_ROW_FIELDS)}  # views: the rows are not copied
        table["ch_mask"] = np.full(len(rows), self.ch_mask, dtype=np.uint64)
        return {name: table[name] for name in _TABLE_FIELDS}

    def instructions(self) -> list[Instruction]:
        """The instructions as objects (each checked)."""
        make, kinds, mask = Instruction._checked, tuple(Kind), self.ch_mask
        return [make(kinds[op], mask, *rest) for op, *rest in self._finish().tolist()]


_ROW_FIELDS = tuple(name for name in _TABLE_FIELDS if name != "ch_mask")


def _obuf(module: Module, obuf_entries) -> int:
    if obuf_entries is None:
        return module.obuf_entries
    return check_int("obuf_entries", obuf_entries, 1, 4096)


def compile_gemv(d_in: int, d_out: int, module: Module = AIM, obuf_entries: int | None = None,
                 ch_mask: int = 1, first_row: int = 0, buffer_regions: int = 1) -> list[Instruction]:
    """GEMV y = W x on one channel, W (d_out x d_in) resident in the banks.

    Bank b holds output row 16 j + b of output tile j; its d_in weights fill n_in consecutive columns,
    tile after tile (flat column j n_in + i -> row first_row + flat // 64, column flat % 64). x streams
    through the GBuf in passes of up to `gbuf_entries` tiles; each output tile of each pass is one MAC
    run (split at row ends) into the next output entry, then one RD-OUT. buffer_regions = 2 compiles for
    ping-pong buffering (passes of half the GBuf, loads and output entries alternating between the halves).
    """
    d_in, d_out = check_int("d_in", d_in, 1, 1 << 20), check_int("d_out", d_out, 1, 1 << 20)
    lanes, banks, cols = module.mac_lanes, module.banks, module.columns_per_row
    n_in, n_out = ceil_div(d_in, lanes), ceil_div(d_out, banks)
    rows_needed = ceil_div(n_in * n_out, cols)
    check_int("first_row", first_row, 0, module.rows - 1)
    if first_row + rows_needed > module.rows:
        raise ValueError(f"d_in x d_out must fit the channel: it needs {rows_needed} rows per bank from row "
                         f"{first_row}, the channel has {module.rows}")
    emit = Emitter(module.gbuf_entries, _obuf(module, obuf_entries), ch_mask, buffer_regions)
    for lo in range(0, n_in, emit.load_entries):
        hi = min(n_in, lo + emit.load_entries)
        first = emit.load(("x", i) for i in range(lo, hi))
        for j in range(n_out):
            out = emit.take_out()
            i = lo
            while i < hi:  # one MAC run per DRAM row touched
                flat = j * n_in + i
                count = min(hi - i, cols - flat % cols)
                emit.mac_run(first + i - lo, count, first_row + flat // cols, flat % cols, out)
                i += count
            emit.read_out(out)
    return emit.instructions()


def attention_rows_needed(op: str, tokens: int, head_dim: int, module: Module = AIM) -> int:
    """Virtual DRAM rows one channel's K (op "qk") or V (op "sv") of `tokens` x `head_dim` occupies (`geometry`)."""
    check_int("tokens", tokens, 1, 1 << 30)
    return Piece(module, op, tokens, head_dim).rows


def compile_attention(op: str, tokens: int, head_dim: int, group: int = 1, row_reuse: bool = False,
                      module: Module = AIM, rows=None, obuf_entries: int | None = None,
                      ch_mask: int = 1, buffer_regions: int = 1, prefetch: bool = False) -> list[Instruction]:
    """QK^T (op "qk") or SV (op "sv") of one KV head and its `group` query heads over `tokens` tokens.

    QK^T: bank b holds the key of token 16 k + b of token tile k; a key takes n_d = head_dim / 16
    columns, so virtual row v holds token tiles [v t, (v + 1) t) with t = 64 // n_d. The queries sit in
    the GBuf; each (query, token tile) is one MAC run of n_d and one RD-OUT of 16 scores.
    SV: bank b holds V[:, 16 j + b] of output tile j, 16 tokens per column; virtual row r n_o + j holds
    token tiles [64 r, 64 (r + 1)) of output tile j (`pimlab.geometry`). Scores stream through
    the GBuf one chunk at a time; each (query, chunk, output tile) is one MAC run and one RD-OUT.
    Without row reuse each query head walks all rows; with row reuse every query that shares an open row
    is served before the next row, which re-loads scores into the GBuf more often (Fig. 9).
    rows[v] is the physical row of virtual row v (default v). buffer_regions = 2 compiles for ping-pong
    buffering: loads and output entries alternate between the two halves of each buffer, and one load
    holds at most half the GBuf. prefetch=True emits each GBuf load before the RD-OUT of the work before it
    (software pipelining), so that in-order I/O can load the next input while the MACs still run.
    """
    return _attention(op, tokens, head_dim, group, row_reuse, module, rows, obuf_entries, ch_mask, buffer_regions,
                      prefetch).instructions()


def compile_attention_table(op: str, tokens: int, head_dim: int, group: int = 1, row_reuse: bool = False,
                            module: Module = AIM, rows=None, obuf_entries: int | None = None, ch_mask: int = 1,
                            buffer_regions: int = 1, prefetch: bool = False) -> dict[str, np.ndarray]:
    """`instruction_table(compile_attention(...))` without the Instruction objects (a long stream has millions)."""
    return _attention(op, tokens, head_dim, group, row_reuse, module, rows, obuf_entries, ch_mask, buffer_regions,
                      prefetch).table()


def _attention(op, tokens, head_dim, group, row_reuse, module, rows, obuf_entries, ch_mask, buffer_regions,
               prefetch) -> Emitter:
    """The emitter after compiling `compile_attention`'s stream."""
    check_choice("op", op, ("qk", "sv"))
    group = check_int("group", group, 1, 64)
    needed = attention_rows_needed(op, tokens, head_dim, module)
    if rows is None:
        if needed > module.rows:
            raise ValueError(f"tokens must fit the channel: {tokens} tokens of head_dim {head_dim} need {needed} "
                             f"rows per bank, the channel has {module.rows}")
        rows = np.arange(needed)
    rows = np.asarray(rows, dtype=np.int64)
    if rows.ndim != 1 or len(rows) < needed:
        raise ValueError(f"rows must list at least {needed} physical rows (one per virtual row), got {rows.shape}")
    if rows.min() < 0 or rows.max() >= module.rows:
        raise ValueError(f"rows must lie in [0, {module.rows - 1}], got {int(rows.min())}..{int(rows.max())}")
    emit = Emitter(module.gbuf_entries, _obuf(module, obuf_entries), ch_mask, buffer_regions, prefetch)
    piece = Piece(module, op, tokens, head_dim)  # the layout: which row and column hold which tile
    n_tiles, per_row = piece.token_tiles, piece.tiles_per_row
    if op == "qk":
        n_d = piece.dim_tiles
        if n_d > emit.load_entries:
            raise ValueError(f"head_dim must fit one GBuf load ({emit.load_entries * module.mac_lanes} elements), "
                             f"got {head_dim}")

        units = range(needed)
        order = [(v, h) for v in units for h in range(group)] if row_reuse else \
            [(v, h) for h in range(group) for v in units]
        for lo in range(0, len(order), _QK_CHUNK):
            if lo:
                tick()  # a long stream takes seconds: an app may cancel here (pimlab.progress)
            _qk_works(emit, piece, rows, order[lo:lo + _QK_CHUNK])
        return emit
    else:
        chunk = min(per_row, emit.load_entries)  # token tiles per GBuf load

        def work(unit, h):  # output tile j, token chunk c, for query h
            j, c = unit
            lo, hi = c * chunk, min(n_tiles, (c + 1) * chunk)
            first = emit.load(("s", h, t) for t in range(lo, hi))
            out = emit.take_out()
            t = lo
            while t < hi:  # one MAC run per row the chunk touches
                row, col = piece.address(t, j)
                count = min(hi - t, per_row - col)
                emit.mac_run(first + t - lo, count, int(rows[row]), col, out)
                t += count
            emit.read_out(out)

        # chunk outer, output tile inner: without row reuse a head loads each chunk of its scores once
        units = [(j, c) for c in range(ceil_div(n_tiles, chunk)) for j in range(piece.dim_tiles)]
    order = ((v, h) for v in units for h in range(group)) if row_reuse else \
        ((v, h) for h in range(group) for v in units)
    for done, (v, h) in enumerate(order):
        if done and not done & 0x3FF:
            tick()  # a long stream takes seconds: an app may cancel here (pimlab.progress)
        work(v, h)
    return emit


_QK_CHUNK = 4096  # QK^T works (query, row) compiled at once


def _qk_works(emit: Emitter, piece: Piece, rows: np.ndarray, order: list) -> None:
    """QK^T's works in `order`, in numpy: for each (virtual row v, query h), the load of query h's n_d tiles if
    they are not resident, then each token tile of row v: a MAC run of n_d into the next output entry and its
    RD-OUT (with prefetch: the RD-OUTs wait in `emit.pending` until after the next load)."""
    n_d, per_row, n_tiles = piece.dim_tiles, piece.tiles_per_row, piece.token_tiles
    n = len(order)
    v = np.array([w[0] for w in order], dtype=np.int64)
    m = np.minimum(n_tiles, (v + 1) * per_row) - v * per_row  # token tiles of each work
    first, loaded, gpr = np.empty(n, np.int64), np.empty(n, bool), np.empty(n, np.int64)
    for w, (_, h) in enumerate(order):  # the GBuf bookkeeping, work by work
        gpr[w] = emit.gpr
        first[w], loaded[w] = emit.place(("q", h, d) for d in range(n_d))
        emit.gpr += int(m[w])  # one RD-OUT per tile
    work = np.repeat(np.arange(n), m)
    tile = np.arange(len(work)) - np.repeat(np.cumsum(m) - m, m)
    row, col = piece.address(v[work] * per_row + tile)
    out = emit.take_outs(len(work))
    ones, unused = np.ones(len(work), np.int64), np.full(len(work), -1)
    mac = np.stack((ones * Kind.MAC, ones * n_d, unused, first[work], rows[row], col, out), axis=1)
    read = np.stack((ones * Kind.RD_OUT, ones, gpr[work] + n_d * loaded[work] + tile, unused, unused, unused, out),
                    axis=1)
    loads = np.flatnonzero(loaded)
    wr = np.full((len(loads), 7), -1, np.int64)
    wr[:, 0], wr[:, 1], wr[:, 2], wr[:, 3] = Kind.WR_INP, n_d, gpr[loads], first[loads]
    keys = [(loads, 0, 0), (work, 2, 2 * tile)]  # (work, place in the work, order): load, pending, MACs, RD-OUTs
    kept = []  # RD-OUTs that go on waiting untouched: with no load in this chunk, every older one
    if emit.prefetch:  # the waiting RD-OUTs go after the next load (a later chunk's, or the end)
        if len(loads):
            pending = np.concatenate([np.asarray(p, dtype=np.int64).reshape(-1, 7) for p in emit.pending] +
                                     [np.empty((0, 7), np.int64)])
        else:  # (not rebuilt chunk after chunk: all RD-OUTs of QK^T wait when every query stays resident)
            kept, pending = emit.pending, np.empty((0, 7), np.int64)
        after = np.append(loads, n)  # the next load of each work (n: none in this chunk)
        keys += [(np.full(len(pending), after[0]), 1, np.arange(len(pending)) - len(pending)),
                 (after[np.searchsorted(loads, work, side="right")], 1, np.arange(len(work)))]
        read, pending = np.concatenate((pending, read)), None
    else:
        keys.append((work, 2, 2 * tile + 1))
    every = np.concatenate((wr, mac, read))
    key = [np.concatenate([np.broadcast_to(np.asarray(k[j], dtype=np.int64), len(k[0])) for k in keys]) for j in
           range(3)]
    every = every[np.lexsort((key[2], key[1], key[0]))]
    last = key[0][np.lexsort((key[2], key[1], key[0]))] == n  # still waiting for a load
    emit.rows.frombytes(np.ascontiguousarray(every[~last]).tobytes())
    emit.pending = kept + ([every[last]] if last.any() else [])


# --- Fig. 7 -----------------------------------------------------------------------------------------------


FIG7_GBUF_ENTRIES = FIG7.gbuf_entries  # Fig. 7(a)'s GBuf: GB 0/1/2, one entry per input tile


def fig7_module(obuf_entries: int = FIG7.obuf_entries, gbuf_entries: int = FIG7_GBUF_ENTRIES) -> Module:
    """The toy channel of Fig. 7: a `gbuf_entries` GBuf (3: GB 0/1/2) and `obuf_entries` output entries.

    The GBuf may hold 1 to 64 entries, the AiM channel's 2 KB of 32 B tiles (`AIM.gbuf_entries`).
    """
    return Module(gbuf_entries=check_int("gbuf_entries", gbuf_entries, 1, AIM.gbuf_entries),
                  obuf_entries=check_int("obuf_entries", obuf_entries, 1, 16))


def fig7_stream(obuf_entries: int = FIG7.obuf_entries, gbuf_entries: int = FIG7_GBUF_ENTRIES) -> list[Instruction]:
    """Fig. 7(a): a GEMV of d_in = 48 (3 input tiles) by d_out = 32 (2 output tiles).

    Expanded with the default 3-entry GBuf: W0 W1 W2 | M3 M4 M5 -> O0 | R6 | M7 M8 M9 -> O1 | R10 (O0 again
    with one OutReg). A smaller GBuf streams the input in passes of `gbuf_entries` tiles (more loads).
    """
    return compile_gemv(48, 32, module=fig7_module(obuf_entries, gbuf_entries))
