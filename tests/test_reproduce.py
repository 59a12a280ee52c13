"""The scorecard: records with kinds and bounds, the table, the JSON, and the CLI."""

import json
import re
import subprocess
import sys

import pytest

from pimlab import figures, paper
from pimlab.cli import main
from pimlab.paper import PaperNumber
from pimlab.reproduce import FIELDS, check_gaps, compare, format_table

TEN = PaperNumber("ten", 10.0, "%", "Fig. 1", "q", 0.5, "to the unit", kind="modelled", kind_why="w")


def test_compare_status_ratio_kind_and_range():
    inside = compare(TEN, 10.4, "util")
    assert (inside.status, inside.ratio, inside.kind, inside.bound) == ("within", pytest.approx(1.04), "modelled",
                                                                          "value")
    assert compare(TEN, 10.6).status == "gap"
    assert compare(TEN, 10.6, kind="calibrated").kind == "calibrated"
    ranged = compare(TEN, 12.0, low=9.0)
    assert ranged.status == "within" and ranged.pimlab_text == "9..12"
    assert compare(TEN, 12.0, low=10.6).status == "gap"
    with pytest.raises(ValueError, match="kind must be one of"):
        compare(TEN, 1.0, kind="guessed")
    with pytest.raises(ValueError, match="low must not exceed pimlab_value"):
        compare(TEN, 1.0, low=2.0)


def test_upper_bounds_print_as_bounds():
    record = compare(paper.TCP_SV_REDUCTION_SHARE, 0.01)
    assert record.bound == "upper" and record.paper_text == "< 0.2" and record.status == "within"
    assert compare(paper.TCP_SV_REDUCTION_SHARE, 0.3).status == "gap"


def test_scorecard_values_checked_independently():
    """Values of the scorecard against hand computations (closed forms of the layout), not against itself."""
    records = {r.quantity: r for r in figures.scorecard(["6", "IV"])}
    qk = records["TCP full activation, QK^T (16x16, d_h 128)"]
    assert qk.pimlab_value == 16 * 16 and qk.kind == "modelled"  # one token per bank of every channel
    sv = records["TCP full activation, SV (16x16, d_h 128)"]
    assert sv.pimlab_value == 16 * 16 * 16 // 128  # 16 channels / 8 output tiles = 2 segments of 16 tokens
    example = records["4-ch example: SV tokens/channel"]
    assert example.pimlab_value == 16384 // 2 and example.status == "gap" and example.note
    assert records["CENT module capacity"].kind == "derived" and records["channels per module"].kind == "input"


def test_every_gap_says_why_and_the_summary_counts_kinds():
    records = figures.scorecard()
    assert records and {r.kind for r in records} <= set(paper.KINDS)
    unexplained = [r.quantity for r in records if r.status == "gap" and not r.note]
    assert unexplained == [], "a gap must carry its reason"
    first = format_table(records).splitlines()[0]
    assert first.startswith("modelled: ")
    counted = dict(re.findall(r"(modelled|calibrated|reconstructed|inputs and derived): (\d+ of \d+)", first))

    def count(kinds):
        chosen = [r for r in records if r.kind in kinds]
        return f"{sum(r.status == 'within' for r in chosen)} of {len(chosen)}"

    assert counted == {"modelled": count({"modelled"}), "calibrated": count({"calibrated"}),
                       "reconstructed": count({"reconstructed"}), "inputs and derived": count({"input", "derived"})}


def test_cli_table_and_json(tmp_path, capsys):
    out = tmp_path / "card.json"
    assert main(["reproduce", "--figures", "2,IV", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("modelled: 0 of 0 within; calibrated: 0 of 0 within; reconstructed: 0 of 0 within; "
                              "inputs and derived: 15 of 15 within")
    rows = json.loads(out.read_text())
    assert rows and all(list(row) == list(FIELDS) for row in rows)
    assert {row["kind"] for row in rows} == {"input", "derived"} and {row["bound"] for row in rows} == {"value"}
    sections = {"Table IV", "Sec. II-D", "Sec. IV-C", "Sec. V-A", "Sec. VIII-A"}
    assert {row["figure"] for row in rows} == {"Fig. 2"} | sections


def test_cli_rejects_unknown_figure():
    result = subprocess.run([sys.executable, "-m", "pimlab", "reproduce", "--figures", "99"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "figure '99' is not registered" in result.stderr


def test_scorecard_rejects_unknown_ids():
    with pytest.raises(ValueError, match="figures must be among"):
        figures.scorecard(["nope"])


def test_check_gaps_passes_within_and_banded_gaps_and_refuses_the_rest():
    within = compare(paper.FIG8_STATIC_MAC_UTIL_D128, 14.7)
    gap = compare(paper.FIG8_STATIC_MAC_UTIL_D128, 40.0, "d=128")
    check_gaps([within, gap], {"d=128": (30.0, 50.0, "a documented reason")})
    with pytest.raises(AssertionError):
        check_gaps([gap], {"d=128": (10.0, 20.0, "a band that does not hold it")})
    with pytest.raises(AssertionError, match="no documented band"):
        check_gaps([gap], {})
