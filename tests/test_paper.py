"""The paper registry: complete entries, unique keys, stated kinds and bounds, and never read by the model."""

import ast
import pathlib

import pytest

from pimlab import paper
from pimlab.paper import PaperNumber


def test_entries_are_complete_and_unique():
    numbers = paper.all_numbers()
    assert len(numbers) >= 40
    assert len({n.key for n in numbers}) == len(numbers)
    for n in numbers:
        assert n.quote and n.figure and n.unit and n.tolerance_why and n.kind_why, n.key
        assert n.kind in paper.KINDS and n.bound in paper.BOUNDS, n.key


def test_an_entry_must_state_its_kind():
    with pytest.raises(ValueError, match="kind of x must be one of input, derived, modelled, calibrated, "
                                         "reconstructed, got ''"):
        PaperNumber("x", 1, "B", "Fig. 1", "q", 0.0, "exact")
    with pytest.raises(ValueError, match="bound of x must be one of value, upper, got 'lower'"):
        PaperNumber("x", 1, "B", "Fig. 1", "q", 0.0, "exact", bound="lower", kind="input", kind_why="w")


def test_within_two_sided_upper_and_range():
    n = PaperNumber("x", 10.0, "%", "Fig. 1", "q", 0.5, "to the unit", kind="modelled", kind_why="w")
    assert n.within(10.5) and n.within(9.5) and not n.within(10.51) and not n.within(9.49)
    assert n.within(12.0, low=8.0) and n.within(11.0, low=10.4) and not n.within(12.0, low=10.6)
    upper = PaperNumber("y", 0.2, "%", "Fig. 1", "q", 0.0, "a bound", bound="upper", kind="modelled", kind_why="w")
    assert upper.within(0) and upper.within(0.2) and not upper.within(0.21) and not upper.within(-0.01)


def test_lookup():
    assert paper.number("fig7_static_cycles") is paper.FIG7_STATIC_CYCLES
    with pytest.raises(ValueError, match="key must name a registered paper number"):
        paper.number("nope")


def _paper_uses(tree: ast.Module) -> list[tuple[str, int]]:
    """(enclosing top-level function or '<module>', line) of every use of pimlab.paper or a name from it."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("pimlab.paper", "pimlab.paper_others"):
            names |= {a.asname or a.name for a in node.names}
        if isinstance(node, ast.ImportFrom) and node.module == "pimlab":
            names |= {a.asname or a.name for a in node.names if a.name in ("paper", "paper_others")}
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name in ("pimlab.paper", "pimlab.paper_others")}
    uses = []
    for top in tree.body:
        where = top.name if isinstance(top, (ast.FunctionDef, ast.ClassDef)) else "<module>"
        uses += [(where, node.lineno) for node in ast.walk(top) if isinstance(node, ast.Name) and node.id in names]
    return uses


def test_only_scorecards_and_calibrations_read_the_paper():
    """The model never reads pimlab.paper; in figures/ only `scorecard` and `calibrate_*` functions may."""
    root = pathlib.Path(paper.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        name = path.relative_to(root).as_posix()
        if name in ("paper.py", "paper_others.py", "reproduce.py"):
            continue
        for where, line in _paper_uses(ast.parse(path.read_text())):
            allowed = name.startswith("figures/") and (where == "scorecard" or where.startswith("calibrate_"))
            if not allowed:
                offenders.append(f"{name}:{line} in {where}")
    assert offenders == [], f"only figures' scorecard / calibrate_* functions may read pimlab.paper: {offenders}"


def test_the_guard_sees_a_figure_function_reading_the_paper():
    tree = ast.parse("from pimlab import paper\ndef fig99():\n    return paper.FIG8_STATIC_MAC_UTIL_D128.value\n"
                     "def scorecard():\n    return paper.FIG8_STATIC_MAC_UTIL_D128\n")
    assert _paper_uses(tree) == [("fig99", 3), ("scorecard", 5)]
