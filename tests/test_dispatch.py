"""The DPA dispatcher: decoded streams equal the static compiler's for the same placement; instruction sizes."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab import paper
from pimlab.dispatch import (
    INSTRUCTION_BYTES,
    decode,
    dispatcher_buffers,
    dpa_program,
    static_instructions,
    static_rows,
)
from pimlab.dpa import KVLayout, LazyChunkAllocator
from pimlab.figures.fig10 import fig10
from pimlab.hardware import CENT, Module, System
from pimlab.isa import Instruction, Kind, compile_attention
from pimlab.models import LLM, LLM_7B_32K, LLM_7B_128K_GQA

TOY = LLM("toy", layers=2, heads=8, kv_heads=2, head_dim=128, hidden=128, ffn=128, context_window=65536, vocab=16)
LAYOUT = KVLayout(TOY, System("toy", "pim-only", Module(rows=512), modules=1))  # 8 streams: K 0-3, V 4-7


def placed(tokens, seed) -> LazyChunkAllocator:
    """Request 9 holding `tokens` tokens in chunks scattered by other requests coming and going."""
    rng = np.random.default_rng(seed)
    dpa = LazyChunkAllocator(LAYOUT)
    for r in range(4):
        dpa.assign(r, int(rng.integers(1, 3000)))
    dpa.release(int(rng.integers(0, 4)))
    dpa.assign(9, max(1, tokens // 3))
    dpa.release(int(rng.choice([r for r in dpa.requests if r != 9])))
    dpa.grow(9, tokens)
    return dpa


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 40_000), st.sampled_from(["qk", "sv"]), st.integers(1, 6), st.booleans(),
       st.integers(0, 15), st.integers(0, 3), st.integers(0, 99))
def test_decoded_stream_equals_the_static_compilers(tokens, op, group, row_reuse, channel, head, seed):
    dpa = placed(tokens, seed)
    stream = head if op == "qk" else 4 + head
    got = decode(dpa_program(op, 128, group, row_reuse), dpa, 9, stream, tokens, channel)
    piece = LAYOUT.piece(op, tokens, channel)
    if piece.tokens == 0:
        assert got == []
        return
    rows = static_rows(dpa, 9, stream, op, tokens, channel)
    assert got == compile_attention(op, piece.tokens, piece.dims, group, row_reuse, LAYOUT.module, rows=rows,
                                    ch_mask=1 << channel)


def test_virtual_row_zero_resolves_per_request():
    """Fig. 10/11(a): one program, VA 0 -> PA 22 for request 1 and PA 33 for request 2."""
    dpa = LazyChunkAllocator(LAYOUT)
    dpa.assign(1, 300, pa=[22] + list(range(40, 47)))  # one chunk per stream: 4 K streams, then 4 V streams
    dpa.assign(2, 300, pa=[33] + list(range(70, 77)))
    program = dpa_program("qk")
    first_mac = [next(i for i in decode(program, dpa, r, 0, 300) if i.op == Kind.MAC) for r in (1, 2)]
    weight_rows = LAYOUT.weight_rows
    assert [i.row for i in first_mac] == [weight_rows + 2 * 22, weight_rows + 2 * 33]
    # 300 tokens = 19 tiles in contiguous segments: channels 0-12 hold one tile, 13-15 two (channel 15: tiles
    # 17 and 18) -> two MAC + RD-OUT pairs after one WR-INP of the query's 8 tiles
    mask = 1 << 15
    assert decode(program, dpa, 1, 0, 300, channel=15) == [
        Instruction(Kind.WR_INP, mask, 8, gpr_addr=0, gbuf_idx=0),
        Instruction(Kind.MAC, mask, 8, gbuf_idx=0, row=weight_rows + 44, col=0, out_idx=0),
        Instruction(Kind.RD_OUT, mask, 1, gpr_addr=8, out_idx=0),
        Instruction(Kind.MAC, mask, 8, gbuf_idx=0, row=weight_rows + 44, col=8, out_idx=0),
        Instruction(Kind.RD_OUT, mask, 1, gpr_addr=9, out_idx=0),
    ]
    assert len(decode(program, dpa, 1, 0, 300, channel=0)) == 3


def test_decode_bad_inputs():
    dpa = placed(500, 0)
    with pytest.raises(ValueError, match=r"tokens must be an integer in \[1, 4096\], got 5000"):
        decode(dpa_program("qk"), dpa, 9, 0, 5000)  # past what request 9's chunks hold
    with pytest.raises(ValueError, match=r"stream \(a V stream\) must be an integer in \[4, 7\], got 0"):
        decode(dpa_program("sv"), dpa, 9, 0, 100)
    with pytest.raises(ValueError, match="request must be one of the assigned requests"):
        decode(dpa_program("qk"), dpa, 42, 0, 100)
    with pytest.raises(ValueError, match="op must be one of qk, sv; got 'pv'"):
        dpa_program("pv")


def test_program_is_constant_and_the_static_stream_linear():
    layout = KVLayout(LLM_7B_32K)
    sizes = [static_instructions("qk", t, layout) for t in (4096, 8192, 16384, 32768)]
    # one MAC + RD-OUT per 16-token tile of the busiest channel (tokens / 16 / 32 CENT channels) plus one WR-INP
    assert sizes == [1 + 2 * t // 512 for t in (4096, 8192, 16384, 32768)]
    assert len(dpa_program("qk").lines) == len(dpa_program("qk", group=4).lines) == 8
    assert dpa_program("sv").size_bytes() == dpa_program("sv", row_reuse=True).size_bytes() == 7 * INSTRUCTION_BYTES


def test_fig10_instruction_size_and_dispatcher_budget():
    data = fig10(context_tokens=[4096, 16384, 65536, 262144])
    per_head = data.static_instructions_per_head
    assert np.all(np.diff(per_head) > 0)
    slope = np.diff(data.static_bytes_per_request[1:]) / np.diff(data.context_tokens[1:])
    assert slope[1] == pytest.approx(slope[0], rel=0.01)  # linear in the context (past SV's 16K-token step)
    assert data.dpa_program_bytes == 15 * INSTRUCTION_BYTES  # constant, whatever the context
    buffers = data.dispatcher
    assert buffers.va2pa_bytes == KVLayout(LLM_7B_128K_GQA).chunks * 2  # 13-bit PA + valid bit
    assert buffers.total_bytes / 1024 < paper.DPA_DISPATCHER_BUDGET_KB.value
    assert dispatcher_buffers(KVLayout(LLM_7B_32K, CENT)).total_bytes / 1024 < paper.DPA_DISPATCHER_BUDGET_KB.value
    # past ~32K tokens one request's static stream on one module outgrows the paper's 512 KB HUB GPR
    assert data.static_bytes_per_module[-1] / 1024 > paper.DPA_GPR_KB.value > data.static_bytes_per_module[0] / 1024


def test_fig10_bad_inputs():
    with pytest.raises(ValueError, match="context_tokens must be an integer"):
        fig10(context_tokens=[0])
    with pytest.raises(ValueError, match="instruction_bytes must be an integer in \\[1, 64\\]"):
        fig10(instruction_bytes=0)
