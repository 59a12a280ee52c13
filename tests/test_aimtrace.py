"""pimlab.aimtrace: AiM ISR trace files in and out, and the `simulate` command."""

import json

import pytest

from pimlab.aimtrace import file_mask, format_trace, parse_trace, pimlab_mask, read_trace, replay_trace, write_trace
from pimlab.cli import main
from pimlab.engine.timing import AIMSIM_ENGINE
from pimlab.isa import Instruction, Kind, compile_attention, expand
from pimlab.schedule import schedule

EXAMPLE = """# one score tile (docs/sources.md §3.3)
AiM WR_GB 8 0 0xffffffff
AiM WR_BIAS 0 0xffffffff
AiM MAC_ABK 8 0xffffffff 0
AiM RD_MAC 0 0xffffffff
AiM EOC
"""


def test_masks_are_bit_reversed_between_the_file_and_pimlab():
    assert pimlab_mask(0x80000000) == 0b1 and pimlab_mask(0x1) == 1 << 31
    assert pimlab_mask(0xFFFFFFFF) == 2**32 - 1
    assert file_mask(pimlab_mask(0x00F0000F)) == 0x00F0000F
    with pytest.raises(ValueError, match="ch_mask"):
        file_mask(1 << 40)


def test_parse_example_and_round_trip():
    program = parse_trace(EXAMPLE)
    assert [i.op for i in program] == [Kind.WR_INP, Kind.WR_BIAS, Kind.MAC, Kind.RD_OUT]
    assert program[0].op_size == 8 and program[2].row == 0 and len(program[0].channels) == 32
    assert parse_trace(format_trace(program)) == program
    assert parse_trace(EXAMPLE.replace(" ", ",").replace("#,", "# ")) == program  # comma-separated too


def test_compiled_stream_round_trips_through_a_file(tmp_path):
    program = compile_attention("qk", 256, 128, obuf_entries=1, ch_mask=0xF)
    path = tmp_path / "qk.trace"
    write_trace(program, path)
    back = read_trace(path)
    same = [(i.op, i.ch_mask, i.op_size, i.row if i.op == Kind.MAC else -1) for i in program]
    assert [(i.op, i.ch_mask, i.op_size, i.row if i.op == Kind.MAC else -1) for i in back] == same


def test_simulate_matches_the_scheduler_and_aimsim_accounting():
    program = parse_trace(EXAMPLE)
    result = replay_trace(program, "static", "aimsim")
    alone = schedule(expand(program, 0), "static", AIMSIM_ENGINE)
    assert result.total_cycles == alone.total_cycles and len(result.channels) == 32
    assert sum(result.breakdown().values()) == result.total_cycles
    assert replay_trace(program, "dcs", "aimsim").total_cycles < result.total_cycles
    with pytest.raises(ValueError, match="below 16"):
        replay_trace(program, "static", "aim")  # pimlab's module has 16 channels
    with pytest.raises(ValueError, match="at least one instruction"):
        replay_trace([])


def test_cli_simulate_prints_json_and_text(tmp_path, capsys):
    path = tmp_path / "tile.trace"
    path.write_text(EXAMPLE)
    assert main(["simulate", str(path), "--policy", "static", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["total_cycles"] == replay_trace(str(path)).total_cycles and summary["preset"] == "aimsim"
    assert main(["simulate", str(path), "--policy", "dcs", "--csv", str(tmp_path / "t.csv")]) == 0
    assert "total cycles" in capsys.readouterr().out and (tmp_path / "t.csv").read_text().startswith("id,")
    assert main(["simulate", str(tmp_path / "missing.trace")]) == 2


@pytest.mark.parametrize("text, word", [
    ("AiM WR_GB 8 0 0xffffffff\n", "EOC"),
    ("AiM EOC\n", "at least one"),
    ("AiM AF 0 0x1\nAiM EOC\n", "not modelled"),
    ("AiM FOO 1\nAiM EOC\n", "opcode"),
    ("AiM WR_GB 8 0\nAiM EOC\n", "3 fields"),
    ("AiM WR_GB x 0 0x1\nAiM EOC\n", "opsize"),
    ("AiM WR_GB 8 0 0\nAiM EOC\n", "channel_mask"),
    ("W MEM 0 0 0\nAiM EOC\n", "AiM ISR"),
])
def test_bad_trace_text_raises(text, word):
    with pytest.raises(ValueError, match=word):
        parse_trace(text)


def test_long_instructions_split_at_the_gbuf_size():
    program = parse_trace("AiM WR_GB 130 5 0x80000000\nAiM EOC\n")
    assert [(i.op_size, i.gpr_addr, i.gbuf_idx) for i in program] == [(64, 5, 0), (64, 69, 0), (2, 133, 0)]
    assert program[0].ch_mask == 1 and isinstance(program[0], Instruction)


def test_example_trace_cycles_by_hand_from_the_controller_rules():
    # TMOD@1 (channels start in MAC mode) -> WR_GB x8 @33..47 -> WR_BIAS @49 -> TMOD @50 -> ACT @82 ->
    # MAC x8 @138..152 -> TMOD @154 (MAC -> RD_MAC 2) -> RD_MAC @186 -> EOC completes 4 cycles later
    result = replay_trace(parse_trace(EXAMPLE), "static", "aimsim")
    assert result.total_cycles == 190
    assert result.trace.issue_cycles.tolist() == [1, *range(33, 48, 2), 49, 50, 82, *range(138, 153, 2), 154, 186]


@pytest.mark.parametrize("line, word", [("AiM WR_GB 8 -1 0x80000000", "GPR"), ("AiM MAC_ABK 8 0x80000000 -2", "row"),
                                        ("AiM RD_MAC x 0x80000000", "gpr"), ("AiM MAC_ABK 0 0x80000000 1", "opsize"),
                                        ("AiM WR_BIAS 1 0x80000000 7", "WR_BIAS takes 2 fields")])
def test_cli_names_the_file_and_line_of_a_bad_value(tmp_path, capsys, line, word):
    """Lines the numpy reader declines go to the line reader, whose error names the file and the line."""
    path = tmp_path / "bad.trace"
    path.write_text(f"# a comment\nAiM WR_GB 8 0 0x80000000\n{line}\nAiM EOC\n")
    assert main(["simulate", str(path)]) == 2
    error = capsys.readouterr().err
    assert f"{path}: line 3: {word}" in error, error


def test_channels_with_different_instructions_are_scheduled_apart():
    """Masks 0b1001, 0b0110 and 0b1011: channels 0 and 3 receive the same instructions (scheduled once), 1 and 2
    others; each channel's cycles equal its own stream's schedule."""
    program = [Instruction(Kind.WR_INP, 0b1001, 8, gpr_addr=0, gbuf_idx=0),
               Instruction(Kind.MAC, 0b0110, 8, gbuf_idx=0, row=0, col=0, out_idx=0),
               Instruction(Kind.MAC, 0b1011, 16, gbuf_idx=0, row=1, col=0, out_idx=0),
               Instruction(Kind.RD_OUT, 0b1111, 1, gpr_addr=0, out_idx=0)]
    for timelines in (True, False):
        result = replay_trace(program, "static", "aimsim", timelines=timelines)
        alone = [schedule(expand(program, c), "static", AIMSIM_ENGINE).total_cycles for c in range(4)]
        assert result.channels.tolist() == [0, 1, 2, 3] and result.channel_cycles.tolist() == alone
        shared = result.channel_traces if timelines else result.channel_summaries
        assert len(set(alone)) == 3 and shared[0] is shared[3] and shared[1] is not shared[2]
