"""The numpy trace reader (`aimtrace.fast_table`) against the line-by-line reference reader, and replays without
timelines against replays with them."""

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab.aimtrace import _parse_lines, fast_table, format_trace, parse_trace, read_table, replay_trace, write_trace
from pimlab.isa import compile_attention, instruction_table

_FIELDS = ("op", "ch_mask", "op_size", "gpr_addr", "gbuf_idx", "row", "col", "out_idx")


def _number(draw, value):
    style = draw(st.sampled_from(["dec", "hex", "HEX", "zeros"]))
    return {"dec": str(value), "hex": hex(value), "HEX": f"0X{value:X}", "zeros": f"00{value}"}[style]


@st.composite
def trace_lines(draw):
    """Lines of mostly well-formed traces, with comments, blank lines, commas, ISR_ prefixes and now and then a
    bad token, a missing field, a sign, a stray opcode or no EOC."""
    lines = []
    for _ in range(draw(st.integers(0, 12))):
        op = draw(st.sampled_from(["WR_GB", "WR_BIAS", "MAC_ABK", "RD_MAC", "SYNC", "ISR_MAC_ABK", "EOC", "AF"]))
        size = _number(draw, draw(st.integers(1, 200)))
        mask = _number(draw, draw(st.sampled_from([0x80000000, 0xFFFFFFFF, 0x1, 0x00F0000F])))
        gpr, row = _number(draw, draw(st.integers(0, 99))), _number(draw, draw(st.integers(0, 40)))
        fields = {"WR_GB": [size, gpr, mask], "WR_BIAS": [gpr, mask], "MAC_ABK": [size, mask, row],
                  "ISR_MAC_ABK": [size, mask, row], "RD_MAC": [gpr, mask]}.get(op, [])
        if draw(st.integers(0, 15)) == 0:
            fields = fields[:-1] if fields else ["1"]
        if draw(st.integers(0, 15)) == 0 and fields:
            bad = ["-1", "+3", "x", "0x", "1_0", "0", "0x1G", "0xg", "12a", "0x:", "0x0:", "1/"]
            fields[draw(st.integers(0, len(fields) - 1))] = draw(st.sampled_from(bad))
        sep = draw(st.sampled_from([" ", ",", " , ", "\t"]))
        line = draw(st.sampled_from(["", "", " ", "\t", ","])) + sep.join(["AiM", op, *fields])
        lines.append(line + draw(st.sampled_from(["", "", " # note", "  "])))
        if draw(st.integers(0, 6)) == 0:
            lines.append(draw(st.sampled_from(["", "# comment", "   "])))
    if draw(st.booleans()):
        lines.append("AiM EOC")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\r\n"]))


def _reference(text, gbuf_entries):
    try:
        return instruction_table(_parse_lines(text, gbuf_entries))
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(trace_lines(), st.sampled_from([64, 16, 7]))
def test_fast_reader_equals_the_line_reader_or_declines(text, gbuf_entries):
    fast = fast_table(text.encode(), gbuf_entries)
    if fast is None:
        return  # parse_trace then reads it line by line (and names a bad line)
    reference = _reference(text, gbuf_entries)
    assert reference is not None  # the fast reader never accepts what the reference rejects
    for name in _FIELDS:
        assert np.array_equal(fast[name], reference[name]), name


_BAD_NUMBERS = ["-1", "x", "0x", "0x1G", "0xg", "12a", "0x:", "0x0:", "1/"]
_ODD_NUMBERS = ["+3", "1_0", "0x1_0", "\uff11"]  # Python's int() takes these (a sign, underscores, a wide digit)


@pytest.mark.parametrize("bad", _BAD_NUMBERS + _ODD_NUMBERS)
@pytest.mark.parametrize("line", ["AiM WR_GB {} 0 0x1", "AiM WR_GB 8 {} 0x1", "AiM WR_GB 8 0 {}", "AiM RD_MAC {} 0x1",
                                  "AiM MAC_ABK 8 0x1 {}", "AiM MAC_ABK 8 {} 3", "AiM WR_BIAS 3 {}"])
def test_fast_reader_declines_a_bad_number_anywhere(bad, line):
    """A token that is not a plain decimal / 0x-hex number, in any field: the numpy reader declines, and the line
    reader names the line (or reads it as Python's int() does)."""
    text = f"AiM WR_GB 8 0 0x1\n{line.format(bad)}\nAiM EOC\n"
    assert fast_table(text.encode(), 64) is None
    if bad in _BAD_NUMBERS:
        with pytest.raises(ValueError, match="line 2"):
            parse_trace(text)


def test_fast_reader_takes_the_files_pimlab_writes(tmp_path):
    program = compile_attention("qk", 4096, 128, group=2, obuf_entries=1, ch_mask=0xF)
    text = format_trace(program)  # a comment line first, then one line per instruction
    assert fast_table(text.encode(), 64) is not None
    assert parse_trace(text) == _parse_lines(text, 64)
    write_trace(program, tmp_path / "qk.trace")
    table = read_table(tmp_path / "qk.trace")
    assert all(np.array_equal(table[name], instruction_table(_parse_lines(text, 64))[name]) for name in _FIELDS)


@pytest.mark.parametrize("policy", ["static", "dcs"])
@pytest.mark.parametrize("mask", [0x1, 0xF])
def test_replay_without_timelines_gives_the_same_numbers(tmp_path, policy, mask):
    path = tmp_path / "qk.trace"
    write_trace(compile_attention("qk", 65536, 128, group=2, obuf_entries=1, ch_mask=mask), path)
    full, totals = replay_trace(path, policy), replay_trace(path, policy, timelines=False)
    assert totals.trace is None and full.summary() == totals.summary()
    assert full.mac_cycles == totals.mac_cycles and (full.channel_cycles == totals.channel_cycles).all()


@pytest.mark.parametrize("chunk", [40, 97, 1 << 20])
def test_fast_reader_in_small_pieces(tmp_path, monkeypatch, chunk):
    """The file is read piece by piece, each ending at a line end: any piece size gives the same table."""
    import pimlab.aimtrace as aimtrace

    monkeypatch.setattr(aimtrace, "_CHUNK_BYTES", chunk)
    program = compile_attention("sv", 1024, 128, group=2, row_reuse=True, obuf_entries=1, ch_mask=0x3)
    text = format_trace(program).replace("AiM WR_GB", "# a comment\nAiM WR_GB", 3)
    path = tmp_path / "sv.trace"
    path.write_text(text)
    reference = instruction_table(_parse_lines(text, 64))
    for table in (read_table(path), aimtrace.engine_table(path), fast_table(text.encode(), 64),
                  fast_table(io.BytesIO(text.encode()), 64)):  # a file that cannot tell its size: the table grows
        assert all(np.array_equal(table[name], reference[name]) for name in _FIELDS if name != "gpr_addr")
    assert "gpr_addr" not in aimtrace.engine_table(path)  # the engine does not read GPR addresses


@pytest.mark.parametrize("policy", ["static", "dcs"])
def test_cli_simulate_prints_the_same_numbers_with_and_without_a_timeline(tmp_path, capsys, policy):
    """Without --csv the CLI replays totals only (`summarize_table`); with it, full timelines: same JSON."""
    import json

    from pimlab.cli import main

    path = tmp_path / "qk.trace"
    write_trace(compile_attention("qk", 65536, 128, group=2, obuf_entries=1, ch_mask=0b11), path)
    outputs = []
    for extra in ([], ["--csv", str(tmp_path / "slowest.csv")]):
        assert main(["simulate", str(path), "--policy", policy, "--preset", "aim", "--json", *extra]) == 0
        outputs.append(json.loads(capsys.readouterr().out))
    assert outputs[0] == outputs[1] and outputs[0]["channels"] == 2


def _spelled(draw, value):
    width = draw(st.integers(0, 18))  # leading zeros up to this many digits
    return draw(st.sampled_from([f"{value:0{width}d}", f"0x{value:0{width}x}", f"0X{value:0{width}X}"]))


def _digits(text):
    return len(text.removeprefix("0x").removeprefix("0X"))


@st.composite
def numbers_in_every_spelling(draw):
    """(text, plain): well-formed lines whose numbers have up to 18 digits, decimal or hex of either case, with or
    without leading zeros, near the 8- and 16-digit word edges and 2**31 / 2**32; plain is True when every number
    has at most 16 digits, a row is below 2**31 and every other number below 2**32 (what the numpy reader must
    take itself)."""
    mask = _spelled(draw, draw(st.sampled_from([0x80000000, 0x1, 0xFFFFFFFF, 0x00F0000F])))
    lines, plain = [], True
    for _ in range(draw(st.integers(1, 8))):
        op = draw(st.sampled_from(["WR_GB", "WR_BIAS", "MAC_ABK", "RD_MAC"]))
        size = _spelled(draw, draw(st.integers(1, 300)))
        value = draw(st.one_of(st.integers(0, 99), st.integers(10**7 - 2, 10**8 + 2), st.integers(0, 2**32 + 2),
                               st.integers(2**31 - 2, 2**31 + 1), st.integers(2**32 - 2, 2**32)))
        number = _spelled(draw, value)
        fields = {"WR_GB": (size, number, mask), "MAC_ABK": (size, mask, number)}.get(op, (number, mask))
        plain &= max(map(_digits, fields)) <= 16 and value < (2**31 if op == "MAC_ABK" else 2**32)
        lines.append(draw(st.sampled_from([" ", ",", "\t"])).join(["AiM", op, *fields]))
    return "\n".join(lines + ["AiM EOC"]) + "\n", plain


@settings(max_examples=300, deadline=None)
@given(numbers_in_every_spelling())
def test_fast_reader_reads_numbers_of_every_spelling(case):
    """Numbers are read 8 digits at a time from 8-byte words: every length and case reads as Python's int(), and
    the numpy reader takes every plain one itself."""
    text, plain = case
    fast, reference = fast_table(text.encode(), 64), _reference(text, 64)
    assert (fast is not None) == plain
    if plain:
        for name in _FIELDS:
            assert np.array_equal(fast[name], reference[name]), name


@st.composite
def plain_pieces(draw):
    """Pieces whose lines are tokens joined by single spaces (what `_walk` reads field by field); in half of them,
    now and then an ISR_ prefix, a stray opcode, a missing or extra field, a bad number, a long one (up to 18
    digits) or a mask spelled another way."""
    mask = _spelled(draw, draw(st.sampled_from([0x80000000, 0x1, 0xFFFFFFFF])))
    odd = draw(st.booleans())

    def now_and_then():
        return odd and draw(st.integers(0, 7)) == 0

    lines = []
    for _ in range(draw(st.integers(1, 10))):
        op = draw(st.sampled_from(["WR_GB", "WR_BIAS", "MAC_ABK", "RD_MAC", "SYNC", "EOC"]))
        op = draw(st.sampled_from(["ISR_RD_MAC", "AF", "ISR_EOC"])) if now_and_then() else op
        number = _spelled(draw, draw(st.integers(0, 2**33))) if now_and_then() else str(draw(st.integers(0, 999)))
        number = draw(st.sampled_from(["x", "0x", "12a", "0x1G", "-1", "1/"])) if now_and_then() else number
        size = _spelled(draw, draw(st.integers(1, 300))) if now_and_then() else str(draw(st.integers(1, 300)))
        line_mask = _spelled(draw, 0x80000000) if now_and_then() else mask
        fields = {"WR_GB": [size, number, line_mask], "MAC_ABK": [size, line_mask, number],
                  "WR_BIAS": [number, line_mask], "RD_MAC": [number, line_mask]}.get(op.removeprefix("ISR_"), [])
        if now_and_then():
            fields = draw(st.sampled_from([fields[:-1], fields + ["7"]]))
        lines.append(" ".join(["AiM", op, *fields]))
    return ("\n".join(lines) + "\n").encode()


@settings(max_examples=400, deadline=None)
@given(plain_pieces())
def test_field_by_field_reader_equals_the_token_reader(piece):
    """`_walk` (fields read from each line's start, masks compared byte for byte) gives what the token reader
    gives, or declines."""
    import pimlab.aimtrace as aimtrace

    assert aimtrace._plain(piece, np.frombuffer(aimtrace._PAD + piece + aimtrace._PAD, np.uint8))
    walked = aimtrace._chunk_lines(piece)
    original = aimtrace._walk
    aimtrace._walk = lambda *args: None
    try:
        tokens = aimtrace._chunk_lines(piece)
    finally:
        aimtrace._walk = original
    if walked is None or walked is False:
        assert walked is tokens
        return
    assert tokens is not None and tokens is not False
    for got, expected in zip(walked, tokens):
        assert np.array_equal(got, expected)


def test_first_blank_of_words_against_a_byte_loop():
    """`_first_blank` (a few integer steps on 8-byte words) against looking at the bytes one by one."""
    from pimlab.aimtrace import _first_blank

    rng = np.random.default_rng(0)
    data = rng.choice(np.array([0x20, 0x0A, 0x09, 0x30, 0x39, 0x41, 0x7E, 0x21, 0x5F], dtype=np.uint8), (20000, 8))
    expected = [next((i for i, byte in enumerate(row) if byte < 0x21), -1) for row in data.tolist()]
    assert _first_blank(data.view("<u8").ravel()).tolist() == expected
