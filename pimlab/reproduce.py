"""The scorecard: pimlab's computed numbers beside the paper's, one record per quantity."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from pimlab.paper import PaperNumber

FIELDS = ("figure", "quantity", "unit", "paper_value", "pimlab_value", "ratio", "tolerance", "status")


@dataclass(frozen=True)
class Record:
    """One row of the scorecard; `status` is "within" the paper's tolerance or a "gap"."""

    figure: str
    quantity: str
    unit: str
    paper_value: float
    pimlab_value: float
    ratio: float
    tolerance: float
    status: str


def compare(paper: PaperNumber, pimlab_value: float, quantity: str | None = None) -> Record:
    """Set a computed value beside the paper's number."""
    got = float(pimlab_value)
    ratio = got / paper.value if paper.value else float("nan")
    return Record(paper.figure, quantity or paper.key, paper.unit, float(paper.value), got, ratio,
                  float(paper.tolerance), "within" if paper.within(got) else "gap")


def format_table(records: list[Record]) -> str:
    """A fixed-width text table of the records."""
    head = ("figure", "quantity", "unit", "paper", "pimlab", "ratio", "tol", "status")
    rows = [head] + [
        (r.figure, r.quantity, r.unit, f"{r.paper_value:g}", f"{r.pimlab_value:.4g}", f"{r.ratio:.3f}",
         f"{r.tolerance:g}", r.status)
        for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    within = sum(r.status == "within" for r in records)
    lines.append(f"{within} of {len(records)} quantities within the paper's tolerance")
    return "\n".join(lines)


def to_json(records: list[Record]) -> str:
    """The records as a JSON list of objects with exactly the keys of FIELDS."""
    return json.dumps([{k: asdict(r)[k] for k in FIELDS} for r in records], indent=2)
