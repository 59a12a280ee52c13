"""The on-module DPA dispatcher: compact Dyn-Loop / Dyn-Modi programs decoded per request through VA2PA.

A static PIM stream lists every MAC of every token tile at a compiled physical row, so it grows with the
context. A DPA program is the same attention kernel as loops: a Dyn-Loop whose bound comes from the
request's current token count (the configuration buffer) and Dyn-Modi steps that advance the MAC's
column and virtual row. The dispatcher unrolls it for one request and translates each virtual row through
the request's VA2PA table, producing exactly the instructions `isa.compile_attention` would emit for the
same physical placement.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab import geometry
from pimlab.dpa import KVLayout, LazyChunkAllocator
from pimlab.hardware import AIM, Module
from pimlab.isa import Emitter, Instruction, compile_attention
from pimlab.validate import ceil_div, check_choice, check_int

INSTRUCTION_BYTES = 8  # [R] docs/sources.md §6.4: an assumed 64-bit encoding of one Table III or DPA instruction
CONFIG_ENTRY_BYTES = 12  # [R] per request: id (2 B), current token count (4 B), VA2PA base and length (2 x 3 B)
MAX_REQUESTS = 256  # [R] configuration-buffer entries per module (requests a module can hold at once)
OPS = ("qk", "sv")


@dataclass(frozen=True)
class DPALine:
    """One instruction of a DPA program: a loop, a Dyn-Modi, or a Table III op template."""

    op: str  # LOOP (constant bound), DYN-LOOP (bound from the token count), DYN-MODI, WR-INP, MAC, RD-OUT
    args: str
    depth: int = 0

    def __str__(self) -> str:
        return "  " * self.depth + f"{self.op:<9} {self.args}"


@dataclass(frozen=True)
class DPAProgram:
    """QK^T or SV of one KV head as a DPA program; the same program serves every request, layer and head."""

    op: str
    head_dim: int
    group: int
    row_reuse: bool
    module: Module
    lines: tuple

    def __str__(self) -> str:
        return "\n".join(map(str, self.lines))

    def size_bytes(self, instruction_bytes: int = INSTRUCTION_BYTES) -> int:
        return len(self.lines) * check_int("instruction_bytes", instruction_bytes, 1, 64)


def dpa_program(op: str, head_dim: int = 128, group: int = 1, row_reuse: bool = False,
                module: Module | None = None) -> DPAProgram:
    """The DPA program of `compile_attention(op, ...)`: its loops with the token count as their bound."""
    module = AIM if module is None else module
    check_choice("op", op, OPS)
    head_dim = check_int("head_dim", head_dim, 1, module.columns_per_row * module.mac_lanes)
    group = check_int("group", group, 1, 64)
    heads = ("LOOP", f"h in 0..{group - 1}   (query heads of the group)")
    t0, t1, d0, d1 = geometry.channel_ranges(module, op, [1 << 20], head_dim)  # a channel's share under TCP
    piece = geometry.Piece(module, op, int((t1 - t0).max()), int((d1 - d0).max()))
    if op == "qk":
        n_d, per_row = piece.dim_tiles, piece.tiles_per_row
        rows = ("DYN-LOOP", f"u in 0..ceil(tiles(T_cur) / {per_row}) - 1   (virtual rows)")
        loops = [rows, heads] if row_reuse else [heads, rows]
        body = [
            ("WR-INP", f"op_size={n_d} gpr=q[h] gbuf=auto   (skipped while resident)", 0),
            ("DYN-LOOP", f"k in 0..min({per_row}, tiles(T_cur) - {per_row} u) - 1   (token tiles)", 0),
            ("MAC", f"op_size={n_d} gbuf=q[h] row=VA2PA(u) col=0 out=auto", 1),
            ("DYN-MODI", f"MAC.col += {n_d}", 1),
            ("RD-OUT", "op_size=1 gpr=auto out=MAC.out", 1),
        ]
    else:
        n_o = piece.dim_tiles
        chunk = min(piece.tiles_per_row, module.gbuf_entries)
        scores = ("DYN-LOOP", f"c in 0..ceil(tiles(T_cur) / {chunk}) - 1   (score chunks)")
        outputs = ("LOOP", f"j in 0..{n_o - 1}   (16-wide output tiles)")
        loops = [scores, outputs, heads] if row_reuse else [heads, scores, outputs]
        size = f"min({chunk}, tiles(T_cur) - {chunk} c)"
        body = [
            ("WR-INP", f"op_size={size} gpr=s[h, c] gbuf=auto   (skipped while resident)", 0),
            ("MAC", f"op_size={size} row=VA2PA({n_o} c + j) col=0 out=auto", 0),
            ("RD-OUT", "op_size=1 gpr=auto out=MAC.out", 0),
        ]
    lines = [DPALine(kind, args, depth) for depth, (kind, args) in enumerate(loops)]
    lines += [DPALine(kind, args, len(loops) + depth) for kind, args, depth in body]
    lines.append(DPALine("DYN-MODI", "VA += streams   (next K/V stream: next head, next layer)"))
    return DPAProgram(op, head_dim, group, row_reuse, module, tuple(lines))


def decode(program: DPAProgram, allocator: LazyChunkAllocator, request: int, stream: int, tokens: int,
           channel: int = 0, obuf_entries: int | None = None) -> list[Instruction]:
    """Unroll `program` for one request at `tokens` tokens on one channel, translating rows through VA2PA.

    `stream` is the request's K (qk) or V (sv) stream on this module: K streams first, then V.
    """
    if not isinstance(allocator, LazyChunkAllocator):
        raise ValueError(f"allocator must be a LazyChunkAllocator, got {type(allocator).__name__}")
    layout: KVLayout = allocator.layout
    module = layout.module
    shape = ("channels", "banks", "columns_per_row", "mac_lanes", "gbuf_entries")
    if any(getattr(program.module, name) != getattr(module, name) for name in shape):
        raise ValueError(f"program.module must have the allocator's module organisation ({', '.join(shape)})")
    half = layout.streams // 2
    low, high = (0, half - 1) if program.op == "qk" else (half, layout.streams - 1)
    stream = check_int(f"stream (a {'K' if program.op == 'qk' else 'V'} stream)", stream, low, high)
    channel = check_int("channel", channel, 0, module.channels - 1)
    tokens = check_int("tokens", tokens, 1, allocator.mapped_tokens(request))
    piece = layout.piece(program.op, tokens, channel)  # this channel's tokens x dims (geometry)
    obuf = module.obuf_entries if obuf_entries is None else check_int("obuf_entries", obuf_entries, 1, 4096)
    emit = Emitter(module.gbuf_entries, obuf, 1 << channel)
    if piece.tokens == 0:
        return emit.instructions()
    tiles, per_row = piece.token_tiles, piece.tiles_per_row
    rows = allocator.physical_rows(request, stream, piece.rows).tolist()  # virtual row -> DRAM row (VA2PA)
    if program.op == "qk":
        n_d = piece.dim_tiles
        units = range(piece.rows)

        def work(u, h):
            first = emit.load(("q", h, d) for d in range(n_d))
            for k in range(u * per_row, min(tiles, (u + 1) * per_row)):  # Dyn-Loop, Dyn-Modi col += n_d
                out = emit.take_out()
                row, col = piece.address(k)
                emit.mac_run(first, n_d, rows[row], col, out)
                emit.read_out(out)
    else:
        chunk = min(per_row, module.gbuf_entries)
        units = [(c, j) for c in range(ceil_div(tiles, chunk)) for j in range(piece.dim_tiles)]

        def work(unit, h):
            c, j = unit
            lo, hi = c * chunk, min(tiles, (c + 1) * chunk)
            first = emit.load(("s", h, t) for t in range(lo, hi))
            out = emit.take_out()
            t = lo
            while t < hi:  # Dyn-Modi: the next row once a row's columns are used
                row, col = piece.address(t, j)
                count = min(hi - t, per_row - col)
                emit.mac_run(first + t - lo, count, rows[row], col, out)
                t += count
            emit.read_out(out)

    pairs = ([(u, h) for u in units for h in range(program.group)] if program.row_reuse
             else [(u, h) for h in range(program.group) for u in units])
    for unit, h in pairs:
        work(unit, h)
    return emit.instructions()


def static_rows(allocator: LazyChunkAllocator, request: int, stream: int, op: str, tokens: int,
                channel: int = 0) -> np.ndarray:
    """The physical rows the request's placement gives `compile_attention`, one per virtual row of the piece."""
    piece = allocator.layout.piece(op, tokens, channel)
    return allocator.physical_rows(request, stream, max(piece.rows, 1))


def static_instructions(op: str, tokens: int, layout: KVLayout, group: int = 1, row_reuse: bool = False) -> int:
    """Instructions of one KV head's static stream at `tokens` tokens: the busiest channel's, multicast."""
    pieces = [layout.piece(op, tokens, c) for c in range(layout.module.channels)]
    piece = max(pieces, key=lambda p: (p.rows, p.tokens))
    return len(compile_attention(op, piece.tokens, piece.dims, group, row_reuse, layout.module))


@dataclass(frozen=True)
class DispatcherBuffers:
    """Bytes of the on-module dispatcher's buffers (Fig. 10/11(a))."""

    va2pa_bytes: int  # one entry per chunk of the module's KV region
    program_bytes: int  # the QK^T and SV DPA programs
    config_bytes: int  # per-request id, token count and VA2PA base

    @property
    def total_bytes(self) -> int:
        return self.va2pa_bytes + self.program_bytes + self.config_bytes


def dispatcher_buffers(layout: KVLayout, group: int = 1, row_reuse: bool = False,
                       instruction_bytes: int = INSTRUCTION_BYTES, max_requests: int = MAX_REQUESTS
                       ) -> DispatcherBuffers:
    """The dispatcher's buffer sizes for one module: VA2PA (one PA per chunk), programs, configuration."""
    max_requests = check_int("max_requests", max_requests, 1, 1 << 16)
    entry_bytes = ceil_div(int(layout.chunks).bit_length() + 1, 8)  # a PA plus a valid bit
    programs = sum(dpa_program(op, layout.model.head_dim, group, row_reuse, layout.module).size_bytes(
        instruction_bytes) for op in OPS)
    return DispatcherBuffers(layout.chunks * entry_bytes, programs, max_requests * CONFIG_ENTRY_BYTES)
