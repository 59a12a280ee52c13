"""pimlab.aimpolicy: whole programs under ping-pong and DCS."""

from pathlib import Path

import pytest

from pimlab import aimsim
from pimlab.aimpolicy import BARRIER_REASON, BUFFER_USE, REORDERABLE, policy_cycles, runs
from pimlab.aimsim import parse_program, read_program, replay

DATA = Path(__file__).parent / "data" / "cent-7b-4096"
QK = read_program(DATA / "7B_s4096_attn_kvwrite_qk.trace.gz")


def test_every_opcode_declares_its_buffers_and_every_barrier_says_why():
    for op in aimsim.OPCODES:
        if op != "WR_AFLUT":  # rejected by the simulator itself
            assert op in BUFFER_USE
            assert op in REORDERABLE or op in BARRIER_REASON
    assert {"R MEM", "W MEM"} <= set(BUFFER_USE) and {"R MEM", "W MEM"} <= set(BARRIER_REASON)


def test_runs_cover_the_program_and_alternate():
    cut = runs(QK)
    assert cut[0].start == 0 and cut[-1].stop == len(QK)
    assert all(a.stop == b.start and a.reorderable != b.reorderable for a, b in zip(cut, cut[1:]))
    for run in cut:
        ops = {r.op for r in QK.requests[run.start:run.stop] if r.kind == "AiM"}
        assert (ops <= set(REORDERABLE)) == run.reorderable or not ops


def test_static_literal_is_the_replay_and_dcs_wins_on_qk():
    result = policy_cycles(QK)
    assert result.cycles[("static", "literal")] == result.static == replay(QK).cycles
    assert result.cycles[("dcs", "literal")] < result.cycles[("pingpong", "literal")] < result.static
    assert result.cycles[("dcs", "renamed")] < result.cycles[("dcs", "literal")]  # more OBuf entries help DCS
    assert 0.9 < result.reorderable_share <= 1 and result.barriers["W MEM"] == 1024


def test_a_barrier_only_program_gains_nothing():
    program = parse_program("W MEM 0 1 2\nR MEM 0 1 2\nAiM EWMUL 2 0xffffffff 3\nAiM EOC\n")
    result = policy_cycles(program)
    assert set(result.cycles.values()) == {result.static} and result.reorderable_share == 0


def test_obuf_entries_are_checked():
    with pytest.raises(ValueError, match="obuf_entries"):
        policy_cycles(QK, obuf_entries=0)
