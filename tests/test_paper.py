"""The paper registry: complete entries, unique keys, and never read by the model."""

import pathlib
import re

import pytest

from pimlab import paper


def test_entries_are_complete_and_unique():
    numbers = paper.all_numbers()
    assert len(numbers) >= 40
    assert len({n.key for n in numbers}) == len(numbers)
    for n in numbers:
        assert n.quote and n.figure and n.unit and n.tolerance_why, n.key
        assert n.tolerance >= 0 and n.source in ("Q", "O") and n.bound in ("value", "upper")


def test_within_uses_the_stated_tolerance():
    n = paper.FIG8_STATIC_MAC_UTIL_D128
    assert n.within(n.value + n.tolerance) and not n.within(n.value + n.tolerance + 0.01)


def test_upper_bounds_accept_anything_below():
    n = paper.DPA_DISPATCHER_BUDGET_KB
    assert n.bound == "upper" and n.within(0) and n.within(17.4) and n.within(200)
    assert not n.within(200.5) and not n.within(-1)
    assert paper.TCP_SV_REDUCTION_SHARE.within(0.05) and not paper.TCP_SV_REDUCTION_SHARE.within(0.3)


def test_lookup():
    assert paper.number("fig7_static_cycles") is paper.FIG7_STATIC_CYCLES
    with pytest.raises(ValueError, match="key must name a registered paper number"):
        paper.number("nope")


def test_model_code_never_reads_the_paper():
    root = pathlib.Path(paper.__file__).parent
    readers = [p.relative_to(root).as_posix() for p in root.rglob("*.py")
               if re.search(r"\bpaper(_others)?\b", p.read_text()) and "import" in p.read_text()]
    allowed = {"paper.py", "reproduce.py", "paper_others.py"}  # the registries and the scorecard
    offenders = [p for p in readers if p not in allowed and not p.startswith("figures/")
                 and re.search(r"^from pimlab(\.| )import paper|^from pimlab\.paper(_others)? import"
                               r"|^import pimlab\.paper", (root / p).read_text(), re.M)]
    assert offenders == [], f"only figures/ scorecards may read pimlab.paper: {offenders}"
