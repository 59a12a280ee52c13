"""QK^T's compiler as it was before it wrote its instruction table directly (pimlab 2026-12-02): one emitter call
per MAC run and RD-OUT, work by work (the emitter's GBuf bookkeeping is `isa`'s; SV still compiles so). The tests check
`isa.compile_attention_table` and `isa.compile_attention` against it, row for row."""

from __future__ import annotations

import numpy as np

from pimlab import isa
from pimlab.geometry import Piece
from pimlab.hardware import AIM, Module
from pimlab.isa import Instruction, attention_rows_needed


def compile_attention(op: str, tokens: int, head_dim: int, group: int = 1, row_reuse: bool = False,
                      module: Module = AIM, rows=None, obuf_entries: int | None = None,
                      ch_mask: int = 1, buffer_regions: int = 1, prefetch: bool = False) -> list[Instruction]:
    """`isa.compile_attention` as it was (its docstring states the layout); only valid inputs reach it: the tests
    draw them so, and `isa` refuses the rest. SV compiles as it did, work by work, so SV is `isa`'s own list."""
    if op == "sv":
        return isa.compile_attention(op, tokens, head_dim, group, row_reuse, module, rows, obuf_entries, ch_mask,
                                     buffer_regions, prefetch)
    needed = attention_rows_needed(op, tokens, head_dim, module)
    rows = np.arange(needed) if rows is None else np.asarray(rows, dtype=np.int64)
    emit = isa.Emitter(module.gbuf_entries, isa._obuf(module, obuf_entries), ch_mask, buffer_regions, prefetch)
    piece = Piece(module, op, tokens, head_dim)  # the layout: which row and column hold which tile
    n_tiles, per_row = piece.token_tiles, piece.tiles_per_row
    n_d = piece.dim_tiles

    def work(v, h):  # every token tile of virtual row v for query h
        first = emit.load(("q", h, d) for d in range(n_d))
        for k in range(v * per_row, min(n_tiles, (v + 1) * per_row)):
            out = emit.take_out()
            row, col = piece.address(k)
            emit.mac_run(first, n_d, int(rows[row]), col, out)
            emit.read_out(out)

    order = [(v, h) for v in range(needed) for h in range(group)] if row_reuse else \
        [(v, h) for h in range(group) for v in range(needed)]
    for v, h in order:
        work(v, h)
    return emit.instructions()
