"""`python -m pimlab simulate`: which simulator a file goes to, and what the process imports to get there."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab import aimsim, aimtrace, cli
from pimlab.cli import main

DATA = Path(__file__).resolve().parent / "data" / "cent-7b-4096"


@pytest.mark.parametrize("options", [[], ["--policy", "static", "--preset", "aimsim"]])
def test_a_cent_program_replays_without_numpy_or_the_engine(options):
    """A whole program is ruled out of the command engine by its first lines, read without numpy: the process
    never imports numpy (41 MB and a second of start-up), and prints the C++ simulator's cycle count."""
    code = ("import sys\nfrom pimlab.cli import main\n"
            f"assert main(['simulate', {str(DATA / '7B_s4096_norm.trace.gz')!r}, '--json', *{options!r}]) == 0\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'numpy' or m.startswith('pimlab.engine')),"
            " file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.strip() == "[]"
    assert json.loads(done.stdout)["memory_system_cycles"] == 11808  # the C++ simulator's (cycles.txt)


@pytest.mark.parametrize("late", ["AiM RD_MAC 0 0x1", "AiM EWMUL 2 0xff000000 3", "W MEM 0 0 0"])
def test_a_file_ruled_out_only_after_the_first_lines_still_goes_to_the_whole_program_replay(tmp_path, capsys,
                                                                                             monkeypatch, late):
    """Past the lines read without numpy, a second mask, another opcode or a host request still send the file to
    the whole-program simulator (the numpy reader declines it, the full line-by-line check rules it out)."""
    monkeypatch.setattr(cli, "_SNIFF_LINES", 3)
    path = tmp_path / "late.trace"
    path.write_text("AiM WR_GB 8 0 0xff000000\n" + "AiM MAC_ABK 8 0xff000000 0\n" * 5 + late + "\nAiM EOC\n")
    assert not aimsim.is_engine_trace(path) and aimsim.is_engine_trace(path, max_lines=3)
    assert aimtrace.engine_table(path) is False  # the numpy reader rules it out: no line-by-line read
    assert main(["simulate", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == aimsim.replay(aimsim.read_program(path)).summary()


def test_a_file_the_numpy_reader_cannot_read_is_sorted_line_by_line(tmp_path, capsys, monkeypatch):
    """The numpy reader declines a non-ASCII comment without ruling the engine out; the line-by-line check then
    finds the host request further down and sends the file to the whole-program replay."""
    monkeypatch.setattr(cli, "_SNIFF_LINES", 3)
    path = tmp_path / "odd.trace"
    path.write_text("# caf\u00e9\nAiM WR_GB 8 0 0xff000000\n" + "AiM MAC_ABK 8 0xff000000 0\n" * 5 + "W MEM 0 0 0\n"
                    "AiM EOC\n", encoding="utf-8")
    assert aimtrace.engine_table(path) is None and not aimsim.is_engine_trace(path)
    assert main(["simulate", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == aimsim.replay(aimsim.read_program(path)).summary()


_LINES = ["AiM WR_GB 8 0 0xff000000", "AiM MAC_ABK 8 0xff000000 3", "AiM ISR_RD_MAC 0 0XFF000000", "AiM SYNC",
          "AiM EOC", "  # a comment", "", "AiM,MAC_ABK,8,0xff000000,4", "AiM MAC_ABK 8 0x1 0",
          "AiM MAC_ABK 8 0xff000000", "AiM EWMUL 2 0xff000000 3", "W MEM 0 0 0", "AiM", "AiM MAC_ABK -8 0xff000000 0",
          "AiM RD_MAC 0 4278190080", "AiM\tWR_BIAS 0 0xff000000 # bias", "AiM MAC_ABK 8 0xff000000 0\r", "AiMX EOC",
          "AiM MAC_ABKX 8 0x1 0"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_LINES), min_size=1, max_size=12))
def test_the_numpy_reader_rules_the_engine_out_only_where_the_line_check_does(tmp_path_factory, lines):
    """engine_table's False (a line rules the engine out) and its table agree with `aimsim.is_engine_trace`, read
    line by line; None (cannot tell) leaves the answer to it."""
    path = tmp_path_factory.mktemp("lines") / "t.trace"
    path.write_bytes(("\n".join(lines) + "\n").encode())
    table = aimtrace.engine_table(path)
    if table is False:
        assert not aimsim.is_engine_trace(path)
    elif table is not None:
        assert aimsim.is_engine_trace(path)
