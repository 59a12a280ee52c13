"""The scorecard: records, the table, the JSON, and the CLI."""

import json
import subprocess
import sys

import pytest

from pimlab import figures, paper
from pimlab.cli import main
from pimlab.reproduce import FIELDS, compare


def test_compare_status_and_ratio():
    inside = compare(paper.FIG8_STATIC_MAC_UTIL_D128, 16.0, "util")
    assert inside.status == "within" and inside.ratio == pytest.approx(16 / 14.7)
    assert compare(paper.FIG8_STATIC_MAC_UTIL_D128, 30.0).status == "gap"


def test_every_record_has_the_registry_fields():
    records = figures.scorecard()
    assert records, "the scorecard must not be empty"
    assert {r.figure for r in figures.scorecard(["2"])} == {"Fig. 2"}
    assert {r.status for r in records} <= {"within", "gap"}


def test_cli_table_and_json(tmp_path, capsys):
    out = tmp_path / "card.json"
    assert main(["reproduce", "--figures", "2,IV", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "footprint, bs=8 at 64K" in printed and "quantities within" in printed
    rows = json.loads(out.read_text())
    assert rows and all(list(row) == list(FIELDS) for row in rows)
    sections = {"Table IV", "Sec. II-D", "Sec. IV-C", "Sec. V-A", "Sec. VIII-A"}
    assert {row["figure"] for row in rows} == {"Fig. 2"} | sections


def test_cli_rejects_unknown_figure():
    result = subprocess.run([sys.executable, "-m", "pimlab", "reproduce", "--figures", "99"],
                            capture_output=True, text=True)
    assert result.returncode == 2 and "figure '99' is not registered" in result.stderr


def test_scorecard_rejects_unknown_ids():
    with pytest.raises(ValueError, match="figures must be among"):
        figures.scorecard(["nope"])
