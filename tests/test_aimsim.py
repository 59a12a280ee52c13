"""pimlab.aimsim: whole AiM programs replayed as the public AiM simulator runs them."""

import gzip
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab import aimsim, aimtrace
from pimlab.aimsim import parse_program, read_program, replay
from pimlab.cli import main
from pimlab.isa import compile_attention

DATA = Path(__file__).parent / "data" / "cent-7b-4096"
CPP_CYCLES = dict(line.split() for line in (DATA / "cycles.txt").read_text().splitlines())  # the C++ counts


@pytest.mark.parametrize("name", sorted(CPP_CYCLES))
def test_reference_traces_replay_to_the_cpp_cycle_count(name):
    assert replay(DATA / f"{name}.trace.gz").cycles == int(CPP_CYCLES[name])


def test_bank_group_rows_would_make_norm_slower(monkeypatch):
    """The one rule found by replay rather than read: with the bank-group rows the RMSNorm trace is 77 cycles slow."""
    monkeypatch.setattr(aimsim, "BANKGROUP_CONSTRAINTS", True)
    assert replay(DATA / "7B_s4096_norm.trace.gz").cycles - int(CPP_CYCLES["7B_s4096_norm"]) == 77


def test_hand_worked_programs():
    # WR_GB 64 on all channels: TMOD at cycle 1 (channels start in MAC mode), first WRGB 32 cycles later (nMODCH),
    # 64 WRGB 2 apart (nBL) -> last at 159; EOC completes 4 cycles after a final WRGB (latency 3, then one
    # completion per cycle): 163.
    assert replay(parse_program("AiM WR_GB 64 0 0xffffffff\nAiM EOC\n")).cycles == 163
    # A host write is still in the active buffer (ACT issued, WR waiting tRCD_WR) when EOC reaches the channel,
    # and EOC waits only for issued writes: the run ends at cycle 3, as in the C++.
    assert replay(parse_program("W MEM 0 0 0\nAiM EOC\n")).cycles == 3


@pytest.mark.parametrize("op, tokens", [("qk", 256), ("sv", 512)])
def test_gemv_programs_agree_with_the_engines_aimsim_preset(op, tokens):
    """Two independent models of the same controller: the program-level replay and the static engine."""
    text = aimtrace.format_trace(compile_attention(op, tokens, 128, obuf_entries=1, ch_mask=0xFFFFFFFF))
    engine = aimtrace.replay_trace(aimtrace.parse_trace(text), "static", "aimsim").total_cycles
    assert replay(parse_program(text)).cycles == engine


_OPS = st.sampled_from(["AiM WR_GB 4 0 {m}", "AiM WR_BIAS 0 {m}", "AiM MAC_ABK 4 {m} {r}", "AiM RD_MAC 0 {m}",
                        "AiM EWMUL 2 {m} {r}", "AiM COPY_BKGB 2 {m} 3 {r}", "AiM AF {m}", "AiM RD_AF 0 {m}",
                        "AiM SYNC", "W MEM {c} 5 {r}", "R MEM {c} 5 {r}"])


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(_OPS, st.integers(0, 3)), min_size=1, max_size=12), st.integers(0, 31), st.integers(0, 31))
def test_channels_are_interchangeable(lines, a, b):
    """The same program on channel a or channel b takes the same time (no channel is special)."""
    def program(channel):
        mask = f"{1 << (31 - channel):#x}"
        body = [op.format(m=mask, r=row, c=channel) for op, row in lines]
        return parse_program("\n".join(body + ["AiM EOC"]))
    assert replay(program(a)).cycles == replay(program(b)).cycles


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(_OPS, st.integers(0, 3), st.integers(0, 31)), min_size=1, max_size=10))
def test_comments_and_gzip_change_nothing(lines):
    body = [op.format(m="0xffffffff", r=row, c=c) for op, row, c in lines] + ["AiM EOC"]
    plain = replay(parse_program("\n".join(body))).cycles
    assert plain >= len(body)  # one host request per cycle at most
    noisy = "\n".join(f"# note\n\n{line}  # trailing" for line in body)
    assert replay(parse_program(noisy)).cycles == plain


def test_plain_and_gzip_files_read_the_same(tmp_path):
    text = gzip.decompress((DATA / "7B_s4096_attn_kvwrite.trace.gz").read_bytes()).decode()
    (tmp_path / "a.trace").write_text(text)
    plain, packed = read_program(tmp_path / "a.trace"), read_program(DATA / "7B_s4096_attn_kvwrite.trace.gz")
    assert plain.requests == packed.requests and plain.counts() == packed.counts()


@pytest.mark.parametrize("text, words", [
    ("AiM FOO 1\nAiM EOC\n", ["a.trace:1", "unknown AiM opcode"]),
    ("AiM WR_GB 8 0 0x0\nAiM EOC\n", ["a.trace:1", "channel mask"]),
    ("AiM WR_GB 8 0 0x1ffffffff\nAiM EOC\n", ["a.trace:1", "channel mask"]),
    ("W MEM 0 0 0\nAiM MAC_ABK 8 0xffffffff\n", ["a.trace:2", "3 field"]),
    ("W MEM 0 0\n", ["a.trace:1", "3 field"]),
    ("W MEM 40 0 0\nAiM EOC\n", ["a.trace:1", "channel"]),
    ("R MEM 3 16 0\nAiM EOC\n", ["a.trace:1", "bank", "16"]),
    ("W MEM 3 1 2147483648\nAiM EOC\n", ["a.trace:1", "row", "2147483648"]),
    ("AiM WR_ABK 0 0x3 5\nAiM EOC\n", ["a.trace:1", "exactly one channel"]),
    ("AiM WR_GB x 0 0x1\nAiM EOC\n", ["a.trace:1", "opsize"]),
    ("X MEM 0 0 0\n", ["a.trace:1", "AiM, R or W"]),
    ("AiM WR_GB 8 0 0x1\n", ["a.trace:1", "without an `AiM EOC`"]),
    ("", ["a.trace", "empty"]),
    ("# only a comment\n\n", ["a.trace", "empty"]),
])
def test_malformed_traces_get_one_line_errors(tmp_path, text, words):
    path = tmp_path / "a.trace"
    path.write_text(text)
    with pytest.raises(ValueError) as error:
        read_program(path)
    message = str(error.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_host_lines_read_alike_however_written():
    """Decimal `R/W MEM` lines (read by a quick path) and every other spelling of the same request (hex, commas,
    a comment, tabs) give one and the same request."""
    spellings = ["W MEM 31 15 2147483647", "W MEM 0x1f 0xF 0x7fffffff", "W MEM 31, 15, 2147483647",
                 "  W MEM 31 15 2147483647  # a comment", "W\tMEM\t31\t15\t2147483647", "R MEM 0 0 0"]
    program = parse_program("\n".join(spellings + ["AiM EOC"]))
    assert list(program.ids) == [0, 0, 0, 0, 0, 1, 2]
    assert program.unique[:2] == (aimsim.HostRequest("W", "MEM", bank=15, row=(1 << 31) - 1, channel=31),
                                  aimsim.HostRequest("R", "MEM", bank=0, row=0, channel=0))


def test_files_that_are_not_traces(tmp_path):
    (tmp_path / "bin.trace").write_bytes(bytes(range(256)))
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"AiM EOC\n")[:12])
    for path, word in ((tmp_path / "bin.trace", "binary"), (tmp_path, "directory"),
                       (tmp_path / "none.trace", "no such"), (tmp_path / "bad.gz", "gzip")):
        with pytest.raises(ValueError, match=word) as error:
            read_program(path)
        assert str(path) in str(error.value)


def test_group_marks_split_the_run(tmp_path):
    kv = gzip.decompress((DATA / "7B_s4096_attn_kvwrite.trace.gz").read_bytes()).decode().replace("AiM EOC\n", "")
    text = f"# group: kv\n{kv}AiM SYNC\n# group: again\n{kv}AiM EOC\n"
    result = replay(parse_program(text, "two.trace"))
    names = [name for name, _ in result.group_cycles]
    assert names == ["kv", "again"] and sum(c for _, c in result.group_cycles) == result.cycles
    path = tmp_path / "two.trace"
    path.write_text(text)
    assert main(["simulate", str(path), "--groups"]) == 0


def test_cli_simulate_replays_programs(capsys):
    path = DATA / "7B_s4096_attn_kvwrite.trace.gz"
    assert main(["simulate", str(path)]) == 0
    out = capsys.readouterr().out
    assert CPP_CYCLES["7B_s4096_attn_kvwrite"] in out
    assert main(["simulate", str(DATA)]) == 2
    assert "directory" in capsys.readouterr().err


def test_opcode_table_covers_the_isa():
    assert set(aimsim.OPCODES) >= {"WR_SBK", "WR_ABK", "WR_GB", "WR_BIAS", "RD_MAC", "RD_AF", "RD_SBK", "COPY_BKGB",
                                   "COPY_GBBK", "MAC_SBK", "MAC_ABK", "AF", "EWMUL", "EWADD", "SYNC", "EOC"}


_MASKS = st.sampled_from(["0xffffffff", "0xff000000", "0x00ff0000", "0x80000001", "0x0000ffff", "0x1"])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(_OPS, st.integers(0, 3), st.integers(0, 31), _MASKS), min_size=1, max_size=14))
def test_channel_groups_change_nothing(lines):
    """Channels in the same state are simulated once (a group); one controller per channel gives the same count."""
    body = [op.format(m=mask, r=row, c=c) for op, row, c, mask in lines] + ["AiM EOC"]
    program = parse_program("\n".join(body))
    grouped = replay(program).cycles
    original = aimsim._Dma.__init__

    def one_per_channel(self, program, timing):
        original(self, program, timing)
        self.controllers = [aimsim._Controller([c], timing) for c in range(aimsim.CHANNELS)]
        for controller in self.controllers:
            controller.issued = self.issued
        self.owner = list(self.controllers)
        self._merge = lambda clk: None

    aimsim._Dma.__init__ = one_per_channel
    try:
        assert replay(program).cycles == grouped
    finally:
        aimsim._Dma.__init__ = original


def test_traces_with_differing_masks_go_to_the_whole_program_replay(tmp_path):
    same = tmp_path / "same.trace"
    same.write_text("AiM WR_GB 8 0 0xffffffff\nAiM MAC_ABK 8 0xffffffff 0\nAiM EOC\n")
    mixed = tmp_path / "mixed.trace"
    mixed.write_text("AiM WR_GB 8 0 0xff000000\nAiM MAC_ABK 8 0xffffffff 0\nAiM RD_MAC 0 0x1\nAiM EOC\n")
    assert aimsim.is_engine_trace(same) and not aimsim.is_engine_trace(mixed)
    assert not aimsim.is_engine_trace(DATA / "7B_s4096_norm.trace.gz")


# --- skipping repeated stretches (aimsim._Repeats) against the plain event-by-event simulation ---

def _same_replay(program):
    fast, plain = replay(program), replay(program, skip_repeats=False)
    assert (fast.cycles, fast.commands, fast.group_cycles) == (plain.cycles, plain.commands, plain.group_cycles)
    assert fast.decoded_at == plain.decoded_at
    return fast


_LOOP_OPS = st.sampled_from(["AiM WR_GB 4 0 {m}", "AiM WR_BIAS 0 {m}", "AiM MAC_ABK 4 {m} {r}", "AiM RD_MAC 0 {m}",
                             "AiM EWMUL 2 {m} {r}", "AiM COPY_BKGB 2 {m} 3 {r}", "AiM COPY_GBBK 1 {m} 2 {r}",
                             "AiM AF {m}", "AiM RD_AF 0 {m}", "W MEM {c} 5 {r}", "R MEM {c} 6 {r}",
                             "W MEM {c} {b} {r}", "AiM WR_ABK 0 {one} {r}", "W CFR 2 1"])
_LOOP = st.tuples(st.lists(st.tuples(_LOOP_OPS, st.integers(0, 3), st.integers(0, 31), _MASKS, st.integers(0, 15)),
                           min_size=1, max_size=6),
                  st.integers(2, 40), st.sampled_from([0, 0, 1, 4]))


@settings(max_examples=60, deadline=None)
@given(st.lists(_LOOP, min_size=1, max_size=3))
def test_skipping_repeats_changes_nothing(loops):
    """Loops (a body repeated, rows moving by a fixed step or not) replay the same with and without the skip:
    cycles, DRAM commands, every request's decode cycle."""
    body = []
    for ops, times, step in loops:
        for k in range(times):
            body += [op.format(m=mask, r=20 + row + k * step, c=c, b=bank, one=f"{1 << (31 - c):#x}")
                     for op, row, c, mask, bank in ops]
    _same_replay(parse_program("\n".join(body + ["AiM EOC"])))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(_LOOP_OPS, st.integers(0, 3), st.integers(0, 31), _MASKS, st.integers(0, 15)),
                min_size=1, max_size=4),
       st.integers(2, 24), st.integers(2, 6), st.sampled_from([1, 2, 5]), st.sampled_from(["W MEM 9 3 40", "AiM SYNC"]))
def test_skipping_nested_loops_changes_nothing(ops, inner, outer, step, prologue):
    """A loop over rows around a loop on one row (CENT's host-write staging: 64 writes a row, a row after the
    other, some banks left alone), after something that leaves a row open elsewhere."""
    body = [prologue]
    for k in range(outer):
        for _ in range(inner):
            body += [op.format(m=mask, r=30 + row + k * step, c=c, b=bank, one=f"{1 << (31 - c):#x}")
                     for op, row, c, mask, bank in ops]
    _same_replay(parse_program("\n".join(body + ["AiM EOC"])))


def test_a_long_loop_is_skipped(monkeypatch):
    """A 4096-times repeated host-write pattern over 32 channels is decoded a few hundred times, not 4096 x 64."""
    pattern = [f"W MEM {c} {b} 7" for b in (0, 4) for c in range(32)]
    program = parse_program("\n".join(pattern * 4096 + ["AiM EOC"]))
    decoded = []
    original = aimsim._Dma._decode
    monkeypatch.setattr(aimsim._Dma, "_decode", lambda self, host, clk: decoded.append(1) or original(self, host, clk))
    fast = replay(program)
    assert len(decoded) < 2000 < len(program)
    monkeypatch.undo()
    assert fast.cycles == replay(program, skip_repeats=False).cycles


def _cent_blocks():
    """bench/cent_blocks.py (the longer-block generator), loaded from its file."""
    import importlib.util

    path = Path(__file__).parent.parent / "bench" / "cent_blocks.py"
    spec = importlib.util.spec_from_file_location("cent_blocks", path)
    blocks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(blocks)
    return blocks


def test_a_generated_longer_block_replays_the_same_without_the_skip():
    """Two repetitions of CENT's attention op group, the second on other rows (bench/cent_blocks.py's rule for
    longer contexts): the skip and the plain simulation agree, and the first repetition takes the C++ count."""
    blocks = _cent_blocks()
    attn = blocks.group_lines("attn_all")
    lines = ["# group: first", *attn, "# group: moved", *(blocks.move_rows(line, 1000) for line in attn), "AiM EOC"]
    result = _same_replay(parse_program("\n".join(lines)))
    assert result.group_cycles[0] == ("first", int(CPP_CYCLES["7B_s4096_attn_all"]))  # its EOC a SYNC here
    assert blocks.move_rows("AiM MAC_ABK 8 0xffffffff 389", 1000) == "AiM MAC_ABK 8 0xffffffff 1389"


def test_parsing_in_blocks_keeps_line_numbers(tmp_path):
    """Lines are read in blocks of about 1 MB: marks, comments and errors far into a file keep their line numbers."""
    lines = ["W MEM 3 4 5"] * 200_000 + ["# a comment", "# group: late", "W MEM 3 4 6"] + ["W MEM 3 4 5"] * 10
    path = tmp_path / "long.trace"
    path.write_text("\n".join(lines + ["AiM EOC", "whatever follows EOC is not read"]) + "\n")
    program = read_program(path)
    assert len(program) == 200_012 and program.groups == (("late", 200_000),)
    assert program.line_of(200_000) == 200_003 and program.line_of(200_011) == 200_014
    path.write_text("\n".join(lines + ["AiM MAC_ABK 8 0xffffffff", "AiM EOC"]) + "\n")
    with pytest.raises(ValueError, match=r"long.trace:200014: MAC_ABK takes 3 field"):
        read_program(path)
    path.write_text("W MEM 3 4 5\n" + "9" * 70_000 + "\nAiM EOC\n")
    with pytest.raises(ValueError, match=r"long.trace:2: line longer than"):
        read_program(path)


def test_a_loop_over_rows_is_skipped_row_by_row(monkeypatch):
    """64 writes to each of 12 rows in turn (2 banks x 8 channels), other banks holding rows of their own: once two
    rows have run alike, the rest are skipped whole (rows moving in the written banks only), and nothing changes."""
    lines = ["W MEM 3 9 77", "R MEM 5 2 12"]
    for row in range(100, 112):
        lines += [f"W MEM {c} {b} {row}" for b in (0, 4) for c in range(8)] * 64
    program = parse_program("\n".join(lines + ["AiM EOC"]))
    decoded = []
    original = aimsim._Dma._decode
    monkeypatch.setattr(aimsim._Dma, "_decode", lambda self, host, clk: decoded.append(1) or original(self, host, clk))
    fast = replay(program)
    assert len(decoded) < 2000 < 3 * 1024 < len(program)
    monkeypatch.undo()
    plain = replay(program, skip_repeats=False)
    assert (fast.cycles, fast.commands, fast.decoded_at) == (plain.cycles, plain.commands, plain.decoded_at)


# --- longer blocks (bench/cent_blocks.py) and rules a naive repeat detector would get wrong ---

def test_cent_layout_at_4096_tokens_is_the_real_block():
    """The longer-context generator, run at 4096 tokens, writes CENT's own block line for line; at 8192 its
    loops over the K cache, the score rows and the V cache run twice as long."""
    blocks = _cent_blocks()
    assert blocks.cent_block(4096) == blocks._block_lines()
    ops = [Counter(line.split()[1] for line in blocks.cent_block(n) if line.startswith("AiM")) for n in (4096, 8192)]
    assert ops[1]["WR_GB"] - ops[0]["WR_GB"] == 4 * 4096 // 128 + 4 * 4096 // 1024  # QK^T tiles, SV tiles
    assert ops[1]["EWMUL"] - ops[0]["EWMUL"] == 2 * 4096 // 1024  # softmax: two passes, one EWMUL a score row
    assert ops[1]["WR_ABK"] == ops[0]["WR_ABK"]  # one new token's V either way


def test_a_longer_attention_replays_the_same_without_the_skip():
    """KV write, QK^T and SV of an 8192-token block (CENT's layout): the skip and the plain simulation agree."""
    blocks = _cent_blocks()
    lines = ["# group: qk", *blocks.attention_qk(8192), "AiM SYNC", "# group: sv", *blocks.attention_sv(8192),
             "AiM EOC"]
    result = _same_replay(parse_program("\n".join(lines)))
    assert [name for name, _ in result.group_cycles] == ["qk", "sv"]


def test_decode_cycles_index_slice_and_iterate_alike():
    text = "\n".join(["W MEM 3 1 5"] * 300 + [f"AiM MAC_ABK 4 0xffffffff {r}" for r in range(200)] + ["AiM EOC"])
    fast, plain = replay(parse_program(text)), replay(parse_program(text), skip_repeats=False)
    cycles = fast.decoded_at
    assert len(cycles.pieces) > 1  # something was skipped
    assert list(cycles) == [cycles[i] for i in range(len(cycles))] == list(plain.decoded_at)
    assert cycles[-1] == plain.decoded_at[-1] and cycles[100:110] == list(plain.decoded_at[100:110])


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 40), st.sampled_from([1, 2, 3]), st.integers(0, 15), st.integers(0, 39),
       st.sampled_from(["W MEM {c} {b} {r}", "R MEM {c} {b} {r}", "AiM COPY_BKGB 2 {m} {b} {r}",
                        "AiM MAC_ABK 4 {m} {r}", "AiM EWMUL 2 {m} {r}"]),
       st.sampled_from(["0xffffffff", "0x80000000", "0xff000000"]))
def test_moving_rows_that_meet_an_open_row(times, step, bank, meet, op, mask):
    """A loop walking rows in a bank where a row was left open earlier: at one iteration the walk meets it (a row
    hit where the other iterations miss). A repeat rule that moved rows without looking at the open ones would
    skip over the hit; the skip must give what the plain simulation gives."""
    c = 0
    open_row = 100 + meet * step
    body = [f"W MEM {c} {bank} {open_row}", "R MEM 0 15 7"]
    for k in range(times):
        body += [op.format(c=c, b=bank, r=100 + k * step, m=mask)] * 3 + ["AiM WR_GB 4 0 0xffffffff"]
    _same_replay(parse_program("\n".join(body + ["AiM EOC"])))


@settings(max_examples=30, deadline=None)
@given(st.integers(3, 16), st.lists(st.sampled_from(["0xffffffff", "0x0000ffff", "0x80000001", "0x1"]),
                                    min_size=1, max_size=3), st.integers(0, 3), st.sampled_from([0, 1, 4]))
def test_rotating_masks_and_af_modes(times, masks, mode_every, step):
    """Loops whose channel masks rotate, with the AF mode register rewritten now and then (AF works on row
    2^29 + mode: moving ordinary rows must not move it), replay the same with and without the skip."""
    body = []
    for k in range(times):
        for j, mask in enumerate(masks):
            body += [f"AiM MAC_ABK 2 {mask} {40 + k * step}", f"AiM AF {mask}", f"AiM RD_AF 0 {mask}"]
            if mode_every and (k + j) % (mode_every + 1) == 0:
                body.append(f"W CFR 2 {k % 3}")
    _same_replay(parse_program("\n".join(body + ["AiM EOC"])))
