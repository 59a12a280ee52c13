"""The KV-cache layout: hand-worked pieces, exact coverage, and every consumer (isa, mapping, dpa, dispatch)
asking the same geometry on random shapes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab import geometry
from pimlab.dispatch import decode, dpa_program
from pimlab.dpa import KVLayout, LazyChunkAllocator
from pimlab.geometry import Piece, channel_ranges, stream_capacity_tokens, stream_rows
from pimlab.hardware import AIM, CENT, Module, System
from pimlab.isa import Kind, compile_attention, expand
from pimlab.mapping import place
from pimlab.models import LLM
from pimlab.validate import ceil_div

MODULES = st.sampled_from([AIM, CENT.module, Module(channels=4), Module(channels=8, banks=8, bank_groups=2),
                           Module(channels=2, row_bytes=1024)])
OPS = st.sampled_from(["qk", "sv"])


def one_head(head_dim: int, layers: int = 1) -> LLM:
    return LLM("one head", layers=layers, heads=1, kv_heads=1, head_dim=head_dim, hidden=16, ffn=16,
               context_window=1 << 30, vocab=1)


# --- one channel, by hand ----------------------------------------------------------------------------------------
def test_pieces_by_hand():
    # K, d_h 128: 8 columns per key, 8 token tiles of 16 per 64-column row: 4096 tokens = 256 tiles = 32 rows
    k = Piece(AIM, "qk", 4096, 128)
    assert (k.token_tile, k.dim_tiles, k.tiles_per_row, k.rows) == (16, 8, 8, 32)
    assert k.address(9) == (1, 8) and k.locate(16 * 9 + 3, 20) == (3, 1, 9)  # tile 9: row 1, second key slot
    # V, d_h 128: 8 output tiles of 16 dims; a row holds 64 tiles of 16 tokens of one output tile: 4 x 8 rows
    v = Piece(AIM, "sv", 4096, 128)
    assert (v.token_tile, v.dim_tiles, v.tiles_per_row, v.rows) == (16, 8, 64, 32)
    assert v.address(65, 3) == (1 * 8 + 3, 1) and v.locate(16 * 65, 50) == (2, 11, 1)
    assert Piece(AIM, "sv", 1, 16).rows == Piece(AIM, "qk", 1, 16).rows == 1 and Piece(AIM, "qk", 0, 16).rows == 0
    assert repr(k) == "Piece(qk: 4096 tokens x 128 dims, 32 rows of a 16-bank channel, 8 tiles per row)"


def test_tcp_grid_by_hand():
    # 16 channels, d_h 128: V on 8 output-tile groups x 2 token segments; 20 tiles -> segments of 10 tiles
    t0, t1, d0, d1 = channel_ranges(AIM, "sv", [320], 128)
    assert t0[0].tolist() == [0, 160] * 8 and t1[0].tolist() == [160, 320] * 8
    assert d0[0].tolist() == [16 * (c // 2) for c in range(16)] and (d1 - d0).tolist() == [[16] * 16]
    # K: 19 tiles over 16 channels in contiguous segments, the last three channels two tiles each
    t0, t1, _, _ = channel_ranges(AIM, "qk", [300], 128)
    assert (t1 - t0)[0].tolist() == [16] * 13 + [32, 32, 300 - 16 * 17]
    assert geometry.sv_grid(Module(channels=4), 32) == (2, 2) and geometry.sv_grid(CENT.module, 128) == (8, 4)
    cent = CENT.module
    assert stream_capacity_tokens(cent, "qk", 1, 128) == stream_capacity_tokens(cent, "sv", 1, 128) == 4096


def test_bad_pieces():
    with pytest.raises(ValueError, match="op must be one of qk, sv; got 'pv'"):
        Piece(AIM, "pv", 1, 128)
    with pytest.raises(ValueError, match="head_dim must need at most 64 columns"):
        Piece(AIM, "qk", 1, 2048)
    with pytest.raises(ValueError, match=r"token must be an integer in \[0, 9\], got 10"):
        Piece(AIM, "qk", 10, 128).locate(10, 0)
    with pytest.raises(ValueError, match="tokens must be an integer >= 0, got -5"):
        stream_rows(AIM, "qk", -5, 128)
    with pytest.raises(ValueError, match="tokens must be non-negative integers, got"):
        channel_ranges(AIM, "sv", [100, -1], 128)
    with pytest.raises(ValueError, match="scheme must be one of hfp, tcp; got 'xyz'"):
        stream_rows(AIM, "qk", 5, 128, "xyz")


# --- properties ----------------------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(MODULES, OPS, st.integers(0, 3000), st.integers(1, 256))
def test_macs_cover_every_element_once_inside_the_rows(module, op, tokens, dims):
    piece = Piece(module, op, tokens, dims)
    macs = piece.macs()
    covered = np.zeros((tokens, dims), np.int64)
    for t0, t1, d0, d1 in zip(macs["token_start"], macs["token_stop"], macs["dim_start"], macs["dim_stop"]):
        covered[t0:t1, d0:d1] += 1
    assert np.all(covered == 1)
    address = macs["row"] * module.columns_per_row + macs["col"]
    assert np.unique(address).size == address.size  # no two MACs read the same column
    assert np.all(macs["col"] < module.columns_per_row)
    assert piece.rows == (int(macs["row"].max()) + 1 if tokens else 0)
    # the rows hold at least the bytes of the piece (the layout may pad, never squeeze)
    assert piece.rows * module.banks * module.row_bytes >= tokens * dims * module.dtype_bytes


@settings(max_examples=60, deadline=None)
@given(MODULES, OPS, st.integers(0, 100_000), st.sampled_from([16, 32, 64, 128, 256]),
       st.sampled_from(["tcp", "hfp"]))
def test_channels_partition_the_stream_and_count_like_round_robin(module, op, tokens, head_dim, scheme):
    t0, t1, d0, d1 = channel_ranges(module, op, [tokens], head_dim, scheme)
    held = np.zeros((tokens, head_dim), np.int8) if tokens <= 5000 else None
    if held is not None:
        for c in range(module.channels):
            held[t0[0, c]:t1[0, c], d0[0, c]:d1[0, c]] += 1
        assert np.all(held == 1)  # every element on exactly one channel
    if scheme == "tcp":
        tile = module.banks if op == "qk" else module.mac_lanes
        parts = module.channels if op == "qk" else geometry.sv_grid(module, head_dim)[1]
        tiles = -(-tokens // tile)
        dealt = sorted((tiles - np.arange(parts) + parts - 1) // parts)  # tile i -> part i % parts
        per_part = sorted(-(-(t1 - t0)[0] // tile))
        assert per_part == sorted(np.repeat(dealt, module.channels // parts))
    rows = stream_rows(module, op, tokens, head_dim, scheme)
    assert rows == max((Piece(module, op, int(a), int(b)).rows for a, b in zip((t1 - t0)[0], (d1 - d0)[0]) if b),
                       default=0)


@settings(max_examples=40, deadline=None)
@given(MODULES, OPS, st.integers(0, 40), st.sampled_from([16, 64, 128]))
def test_capacity_is_the_inverse_of_rows(module, op, rows, head_dim):
    most = stream_capacity_tokens(module, op, rows, head_dim)
    assert stream_rows(module, op, most, head_dim) <= rows < stream_rows(module, op, most + 1, head_dim)


# --- consumers ask the geometry --------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.sampled_from([AIM, Module(channels=4, gbuf_entries=48)]), OPS, st.integers(1, 3000),
       st.sampled_from([16, 32, 64, 128]))
def test_compiler_macs_are_the_geometrys(module, op, tokens, dims):
    commands = expand(compile_attention(op, tokens, dims, module=module), 0)
    mac = commands.kind == Kind.MAC
    compiled = sorted(zip(commands.row[mac].tolist(), commands.col[mac].tolist()))
    macs = Piece(module, op, tokens, dims).macs()
    assert compiled == sorted(zip(macs["row"].tolist(), macs["col"].tolist()))


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([AIM, CENT.module, Module(channels=4)]), st.integers(1, 60_000),
       st.sampled_from([32, 64, 128]))
def test_mapper_places_the_geometrys_pieces(module, tokens, head_dim):
    p = place(System("one", "pim-only", module, modules=1), one_head(head_dim), [tokens], "tcp")
    for code, op in ((0, "qk"), (1, "sv")):
        t0, t1, d0, d1 = channel_ranges(module, op, [tokens], head_dim)
        mine = p.tensor == code
        got = {int(c): (int(a), int(b), int(x), int(y)) for c, a, b, x, y in
               zip(p.channel[mine], p.token_start[mine], p.token_stop[mine], p.dim_start[mine], p.dim_stop[mine])}
        want = {c: (int(t0[0, c]), int(t1[0, c]), int(d0[0, c]), int(d1[0, c])) for c in range(module.channels)
                if t1[0, c] > t0[0, c]}
        assert got == want
        rows = (p.row_stop - p.row_start)[mine]
        assert rows.tolist() == [Piece(module, op, b - a, y - x).rows for a, b, x, y in got.values()]


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 20_000), OPS, st.integers(0, 15))
def test_allocator_and_dispatcher_use_the_geometrys_rows(tokens, op, channel):
    layout = KVLayout(one_head(128, layers=2), System("one", "pim-only", Module(rows=256), modules=1))
    dpa = LazyChunkAllocator(layout)
    dpa.assign(0, tokens)
    stream = 0 if op == "qk" else 2
    piece = layout.piece(op, tokens, channel)
    assert layout.stream_rows(op, tokens) >= piece.rows  # every channel's rows are mapped
    decoded = expand(decode(dpa_program(op), dpa, 0, stream, tokens, channel), channel) if piece.tokens else None
    if decoded is None:
        return
    mac = decoded.kind == Kind.MAC
    physical = dpa.physical_rows(0, stream, piece.rows)
    macs = piece.macs()
    assert sorted(zip(decoded.row[mac].tolist(), decoded.col[mac].tolist())) == sorted(
        zip(physical[macs["row"]].tolist(), macs["col"].tolist()))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 200_000), st.sampled_from([CENT, System("16 ch", "pim-only", AIM, modules=1)]))
def test_allocator_maps_the_mappers_busiest_rows(tokens, system):
    model = one_head(128)
    layout = KVLayout(model, System(system.name, "pim-only", system.module, modules=1))
    p = place(System("one", "pim-only", system.module, modules=1), model, [tokens], "tcp")
    for code, op in ((0, "qk"), (1, "sv")):
        mine = p.tensor == code
        assert layout.stream_rows(op, tokens) == int((p.row_stop - p.row_start)[mine].max())


@settings(max_examples=20, deadline=None)
@given(st.lists(st.integers(1, 30_000), min_size=1, max_size=6), st.sampled_from([32, 128]))
def test_hfp_places_whole_streams_with_the_geometrys_rows(lengths, head_dim):
    p = place(System("one", "pim-only", AIM, modules=1), one_head(head_dim), lengths, "hfp")
    for code, op in ((0, "qk"), (1, "sv")):
        mine = p.tensor == code
        assert (p.token_stop - p.token_start)[mine].tolist() == lengths  # one channel holds the whole stream
        assert (p.row_stop - p.row_start)[mine].tolist() == [stream_rows(AIM, op, n, head_dim, "hfp") for n in lengths]


@settings(max_examples=200, deadline=None)
@given(MODULES, st.lists(st.integers(0, 1 << 20), min_size=1, max_size=6), st.integers(1, 256),
       st.integers(1, 80))
def test_tcp_kv_rows_closed_form_is_the_layout(module, tokens, head_dim, channels):
    """The closed form the allocators' fast path uses equals the layout's own rows, op by op."""
    if ceil_div(head_dim, module.mac_lanes) > module.columns_per_row:
        return
    k, v = geometry.tcp_kv_rows(module, tokens, head_dim, channels)
    assert k.tolist() == geometry.tcp_stream_rows(module, "qk", tokens, head_dim, channels).tolist()
    assert v.tolist() == geometry.tcp_stream_rows(module, "sv", tokens, head_dim, channels).tolist()
