"""The attention compiler as it was before it wrote its instruction table directly (pimlab 2026-12-02): one
`Instruction` object per instruction, one Python call per MAC run. The tests check `isa.compile_attention_table`
and `isa.compile_attention` against it, row for row."""

from __future__ import annotations

import numpy as np

from pimlab.geometry import Piece
from pimlab.hardware import AIM, Module
from pimlab.isa import Instruction, Kind, attention_rows_needed
from pimlab.validate import ceil_div, check_choice, check_int

_MAX_MASK = 2**64


def _obuf(module: Module, obuf_entries) -> int:
    if obuf_entries is None:
        return module.obuf_entries
    return check_int("obuf_entries", obuf_entries, 1, 4096)


class Emitter:
    """Collects instructions; keeps track of which input tile sits in which GBuf entry (round-robin reuse)."""

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
        self.out: list[Instruction] = []
        self.resident: dict[object, int] = {}  # tile key -> GBuf entry
        self.g_next = [lo for lo, _ in self.g_span]
        self.g_region = regions - 1
        self.o_next, self.o_count = [lo for lo, _ in self.o_span], 0
        self.gpr = 0

    @property
    def load_entries(self) -> int:
        """Most tiles one load may hold (one region)."""
        return min(hi - lo for lo, hi in self.g_span)

    def load(self, keys) -> int:
        """Make the tiles `keys` resident in consecutive GBuf entries; returns the first entry."""
        keys = list(keys)
        first = self.resident.get(keys[0])
        if first is not None and all(self.resident.get(key) == first + i for i, key in enumerate(keys)):
            return first
        self.g_region = (self.g_region + 1) % self.regions
        lo, hi = self.g_span[self.g_region]
        if self.g_next[self.g_region] + len(keys) > hi:
            self.g_next[self.g_region] = lo
        first = self.g_next[self.g_region]
        self.resident = {key: e for key, e in self.resident.items() if not first <= e < first + len(keys)}
        self.resident.update({key: first + i for i, key in enumerate(keys)})
        self.out.append(Instruction._checked(Kind.WR_INP, self.ch_mask, len(keys), gpr_addr=self.gpr, gbuf_idx=first))
        self.out += self.pending  # prefetch: the next input goes out before the previous output is read
        self.pending = []
        self.gpr += len(keys)
        self.g_next[self.g_region] = first + len(keys)
        return first

    def mac_run(self, gbuf_first: int, count: int, row: int, col: int, out: int) -> None:
        self.out.append(Instruction._checked(Kind.MAC, self.ch_mask, count, gbuf_idx=gbuf_first, row=row, col=col,
                                    out_idx=out))

    def take_out(self) -> int:
        """The next output entry: round-robin, alternating regions when there are two."""
        r = self.o_count % self.regions
        self.o_count += 1
        lo, hi = self.o_span[r]
        out = self.o_next[r]
        self.o_next[r] = lo if out + 1 >= hi else out + 1
        return out

    def read_out(self, out: int) -> None:
        instruction = Instruction._checked(Kind.RD_OUT, self.ch_mask, 1, gpr_addr=self.gpr, out_idx=out)
        self.gpr += 1
        if self.prefetch:
            self.pending.append(instruction)  # emitted after the next load (or at the end)
        else:
            self.out.append(instruction)

    def finish(self) -> list[Instruction]:
        self.out += self.pending
        self.pending = []
        return self.out


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

        def work(v, h):  # every token tile of virtual row v for query h
            first = emit.load(("q", h, d) for d in range(n_d))
            for k in range(v * per_row, min(n_tiles, (v + 1) * per_row)):
                out = emit.take_out()
                row, col = piece.address(k)
                emit.mac_run(first, n_d, int(rows[row]), col, out)
                emit.read_out(out)

        units = range(needed)
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
    if row_reuse:
        for v in units:
            for h in range(group):
                work(v, h)
    else:
        for h in range(group):
            for v in units:
                work(v, h)
    return emit.finish()
