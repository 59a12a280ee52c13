"""pimlab.isa: instructions, expansion, and the GEMV / attention compiler."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab.hardware import AIM, Module
from pimlab.isa import (
    Commands,
    Instruction,
    Kind,
    attention_rows_needed,
    compile_attention,
    compile_attention_table,
    compile_gemv,
    expand,
    fig7_stream,
    instruction_table,
)


def test_fig7_stack_expands_to_the_papers_commands():
    commands = expand(fig7_stream(2), 0)
    w, m, r = Kind.WR_INP, Kind.MAC, Kind.RD_OUT
    assert commands.kind.tolist() == [w, w, w, m, m, m, r, m, m, m, r]
    assert commands.gbuf.tolist() == [0, 1, 2, 0, 1, 2, -1, 0, 1, 2, -1]
    assert commands.obuf.tolist() == [-1, -1, -1, 0, 0, 0, 0, 1, 1, 1, 1]
    assert expand(fig7_stream(1), 0).obuf.tolist() == [-1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0]


def test_op_size_unrolls_consecutive_addresses_and_multicasts_by_mask():
    program = [Instruction(Kind.WR_INP, 0b101, 3, gpr_addr=10, gbuf_idx=4),
               Instruction(Kind.MAC, 0b001, 2, gbuf_idx=4, row=7, col=30, out_idx=1),
               Instruction(Kind.RD_OUT, 0b100, 2, gpr_addr=0, out_idx=0)]
    ch0, ch1, ch2 = expand(program, [0, 1, 2])
    assert ch0.gbuf.tolist() == [4, 5, 6, 4, 5] and ch0.col.tolist() == [-1, -1, -1, 30, 31]
    assert ch0.obuf.tolist() == [-1, -1, -1, 1, 1] and ch0.row.tolist() == [-1, -1, -1, 7, 7]
    assert len(ch1) == 0
    assert ch2.kind.tolist() == [0, 0, 0, 2, 2] and ch2.obuf.tolist() == [-1, -1, -1, 0, 1]
    assert ch2.instr.tolist() == [0, 0, 0, 2, 2]
    again = expand((i for i in program), [0, 2])  # a generator is read once for all channels
    assert [c.kind.tolist() for c in again] == [ch0.kind.tolist(), ch2.kind.tolist()]
    table = instruction_table(program)
    assert table["op_size"].tolist() == [3, 2, 2] and table["ch_mask"].tolist() == [5, 1, 4]


@pytest.mark.parametrize("kwargs, word", [
    (dict(op=Kind.ACT), "op"), (dict(op=Kind.WR_INP, ch_mask=0, gpr_addr=0, gbuf_idx=0), "ch_mask"),
    (dict(op=Kind.WR_INP, op_size=0, gpr_addr=0, gbuf_idx=0), "op_size"),
    (dict(op=Kind.MAC, gbuf_idx=0, col=0, out_idx=0), "row"),
    (dict(op=Kind.RD_OUT, gpr_addr=0, out_idx=0, row=3), "row"),
])
def test_bad_instructions_raise(kwargs, word):
    with pytest.raises(ValueError, match=word):
        Instruction(**kwargs)


def test_commands_reject_row_commands_and_ragged_columns():
    with pytest.raises(ValueError, match="kind"):
        Commands.make([Kind.ACT])
    with pytest.raises(ValueError, match="length"):
        Commands.make([0, 1], gbuf=[0])
    with pytest.raises(ValueError, match="instructions"):
        expand([], 0)


def test_gemv_counts_passes_and_rows():
    commands = expand(compile_gemv(128, 128), 0)
    assert commands.counts() == {"WR_INP": 8, "MAC": 64, "RD_OUT": 8}
    big = expand(compile_gemv(2048, 64), 0)  # 128 input tiles: two GBuf passes, 4 output tiles each
    assert big.counts() == {"WR_INP": 128, "MAC": 512, "RD_OUT": 8}
    assert (big.col[big.kind == Kind.MAC] < AIM.columns_per_row).all()
    with pytest.raises(ValueError, match="fit the channel"):
        compile_gemv(4096, 4096, module=Module(rows=64))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 700), st.integers(1, 300), st.integers(1, 4))
def test_gemv_visits_every_weight_column_once(d_in, d_out, obuf):
    commands = expand(compile_gemv(d_in, d_out, obuf_entries=obuf), 0)
    mac = commands.kind == Kind.MAC
    n_in, n_out = -(-d_in // 16), -(-d_out // 16)
    assert mac.sum() == n_in * n_out
    flat = commands.row[mac] * AIM.columns_per_row + commands.col[mac]
    assert len(np.unique(flat)) == n_in * n_out
    assert commands.obuf.max() < obuf and commands.gbuf.max() < AIM.gbuf_entries


def test_attention_qk_counts_and_physical_rows():
    qk = expand(compile_attention("qk", 1024, 128, group=2), 0)
    assert qk.counts() == {"WR_INP": 16, "MAC": 2 * 64 * 8, "RD_OUT": 2 * 64}
    needed = attention_rows_needed("qk", 1024, 128)
    assert needed == 8  # 8 columns per key, 8 token tiles of 16 per 64-column row: 128 tokens per row
    rows = np.arange(needed)[::-1] * 3 + 100
    placed = expand(compile_attention("qk", 1024, 128, rows=rows), 0)
    base = expand(compile_attention("qk", 1024, 128), 0)
    mac = base.kind == Kind.MAC
    assert (placed.row[mac] == rows[base.row[mac]]).all() and (placed.col == base.col).all()


def _row_switches(commands):
    rows = commands.row[commands.kind == Kind.MAC]
    return int((rows[1:] != rows[:-1]).sum()) + 1


def test_row_reuse_opens_each_row_once_and_sv_reloads_scores():
    for op in ("qk", "sv"):
        plain = expand(compile_attention(op, 2048, 128, group=4), 0)
        reuse = expand(compile_attention(op, 2048, 128, group=4, row_reuse=True), 0)
        assert _row_switches(reuse) == attention_rows_needed(op, 2048, 128)
        assert _row_switches(plain) == 4 * attention_rows_needed(op, 2048, 128)
        assert (plain.kind == Kind.MAC).sum() == (reuse.kind == Kind.MAC).sum()
    sv_plain = expand(compile_attention("sv", 2048, 128, group=4), 0)
    sv_reuse = expand(compile_attention("sv", 2048, 128, group=4, row_reuse=True), 0)
    assert (sv_reuse.kind == Kind.WR_INP).sum() == 8 * (sv_plain.kind == Kind.WR_INP).sum()


def test_pingpong_compile_alternates_buffer_halves():
    commands = expand(compile_attention("sv", 2048, 128, obuf_entries=2, buffer_regions=2), 0)
    writes = commands.gbuf[commands.kind == Kind.WR_INP].reshape(-1, 32)
    assert (writes[0::2] < 32).all() and (writes[1::2] >= 32).all()
    outs = commands.obuf[commands.kind == Kind.RD_OUT]
    assert outs.tolist()[:4] == [0, 1, 0, 1]


@pytest.mark.parametrize("kwargs, word", [
    (dict(op="kv", tokens=16, head_dim=128), "op"),
    (dict(op="qk", tokens=0, head_dim=128), "tokens"),
    (dict(op="qk", tokens=16384 * 128 + 1, head_dim=128), "tokens"),
    (dict(op="sv", tokens=4096, head_dim=128, rows=[0, 1]), "rows"),
    (dict(op="qk", tokens=256, head_dim=128, rows=[0, 20000]), "rows"),
    (dict(op="qk", tokens=256, head_dim=128, group=0), "group"),
    (dict(op="qk", tokens=256, head_dim=128, buffer_regions=3), "buffer_regions"),
])
def test_bad_attention_requests_raise(kwargs, word):
    with pytest.raises(ValueError, match=word):
        compile_attention(**kwargs)


def test_prefetch_hoists_each_load_above_the_previous_read():
    plain = expand(compile_attention("sv", 2048, 128, group=2, row_reuse=True), 0)
    early = expand(compile_attention("sv", 2048, 128, group=2, row_reuse=True, prefetch=True), 0)
    assert sorted(plain.kind.tolist()) == sorted(early.kind.tolist())
    first_rd, second_wr = (np.flatnonzero(early.kind == k)[i] for k, i in ((Kind.RD_OUT, 0), (Kind.WR_INP, 64)))
    assert second_wr < first_rd  # the second load (tile 64 onwards) goes out before the first RD-OUT
    assert early.kind[-1] == Kind.RD_OUT


@st.composite
def attention_cases(draw):
    """Every knob of the attention compiler, over small and odd sizes (a GBuf of 2 to 64 entries)."""
    op, regions = draw(st.sampled_from(["qk", "sv"])), draw(st.sampled_from([1, 2]))
    gbuf = draw(st.integers(2 * regions, 64))
    module = Module(gbuf_entries=gbuf)
    head_dim = draw(st.integers(1, 16 * (gbuf // regions if op == "qk" else 64)))
    tokens = draw(st.integers(1, 3000))
    rows = None
    if draw(st.booleans()):
        needed = attention_rows_needed(op, tokens, head_dim, module)
        rows = draw(st.permutations(range(needed + draw(st.integers(0, 3)))))
    return dict(op=op, tokens=tokens, head_dim=head_dim, group=draw(st.integers(1, 5)), row_reuse=draw(st.booleans()),
                module=module, rows=rows, obuf_entries=draw(st.integers(regions, 9)), buffer_regions=regions,
                prefetch=draw(st.booleans()), ch_mask=draw(st.sampled_from([1, 0b101, 2**64 - 1])))


@settings(max_examples=150, deadline=None)
@given(attention_cases(), st.sampled_from([1, 2, 5, 4096]))
def test_attention_table_is_the_reference_compilers_row_for_row(case, chunk):
    from unittest.mock import patch

    from attention_reference import compile_attention as reference

    want = reference(**case)
    with patch("pimlab.isa._QK_CHUNK", chunk):  # QK^T compiles this many works at once
        table = compile_attention_table(**case)
        assert compile_attention(**case) == want
    got_from_list = instruction_table(want)
    assert list(table) == list(got_from_list)
    for name, column in got_from_list.items():
        assert table[name].dtype == column.dtype and np.array_equal(table[name], column), name


def test_attention_compile_reports_progress_and_can_be_cancelled():
    from pimlab.progress import Cancelled, reporting

    calls = []

    def cancel_third(done, total):
        calls.append((done, total))
        if len(calls) == 3:
            raise Cancelled

    with reporting(cancel_third), pytest.raises(Cancelled):
        compile_attention_table("sv", 1 << 20, 128, 8, True)  # 65,536 work units: a tick every 1,024
    assert calls == [(0, 1)] * 3  # no bar reported yet: the last progress (none) repeated
