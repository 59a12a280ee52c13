"""Notebook conventions for the apps (issue 12): a cell that drives an app from code is tagged "check" (Voila's
template runs it and shows nothing) and builds its own app instance in that cell, so it never changes what the
student sees; every notebook links the kit's page of sources and assumptions."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))
DRIVES = re.compile(r"\b(\w+)\.(?:set|refresh|step|cancel)\(")


def _code_cells(path: Path):
    for i, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] == "code":
            yield i, "".join(cell["source"]), cell.get("metadata", {}).get("tags", [])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_that_drive_an_app_are_check_cells_with_their_own_instance(path):
    problems = []
    for i, source, tags in _code_cells(path):
        driven = set(DRIVES.findall(source))
        if not driven:
            continue
        created = set(re.findall(r"^(\w+)\s*=\s*[\w.]+\(", source, re.M))
        if "check" not in tags:
            problems.append(f"cell {i} drives {sorted(driven)} but is not tagged 'check'")
        if not driven <= created:
            problems.append(f"cell {i} drives {sorted(driven - created)}, an app it did not build")
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_the_pattern_sees_a_cell_driving_the_displayed_app():
    assert DRIVES.findall("app.set(seed=1)\ncheck = fig2_app()\ncheck.set(gpus=2)") == ["app", "check"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_links_the_sources_page(path):
    """The kit's own page of sources and assumptions (issue 12), linked from the notebook's text."""
    text = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown")
    assert "](../docs/sources.md)" in text, path.name
