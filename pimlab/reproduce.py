"""The scorecard: pimlab's computed numbers beside the paper's, one record per quantity, each with its kind."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from pimlab.paper import KINDS, PaperNumber

FIELDS = ("figure", "quantity", "unit", "kind", "bound", "paper_value", "pimlab_value", "pimlab_low", "ratio",
          "tolerance", "status", "note")


@dataclass(frozen=True)
class Record:
    """One row of the scorecard; `status` is "within" the paper's tolerance or a "gap".

    kind: what pimlab's number is (`pimlab.paper.KINDS`); bound: "upper" when the paper's number is a bound.
    pimlab_low < pimlab_value when pimlab gives a range (a choice the paper does not state); note: why a
    gap is there, or what the range spans.
    """

    figure: str
    quantity: str
    unit: str
    kind: str
    bound: str
    paper_value: float
    pimlab_value: float
    pimlab_low: float
    ratio: float
    tolerance: float
    status: str
    note: str = ""

    @property
    def paper_text(self) -> str:
        """The paper's number as the paper states it: "< 0.2" for a bound."""
        return f"< {self.paper_value:g}" if self.bound == "upper" else f"{self.paper_value:g}"

    @property
    def pimlab_text(self) -> str:
        if self.pimlab_low < self.pimlab_value:
            return f"{self.pimlab_low:.4g}..{self.pimlab_value:.4g}"
        return f"{self.pimlab_value:.4g}"


def compare(paper: PaperNumber, pimlab_value: float, quantity: str | None = None, kind: str | None = None,
            low: float | None = None, note: str = "") -> Record:
    """Set a computed value (or a range [low, pimlab_value]) beside the paper's number.

    `kind` overrides the registry's kind when the figure module scores the number another way (e.g. with a
    calibrated knob); the figure module then says why.
    """
    kind = paper.kind if kind is None else kind
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    got = float(pimlab_value)
    low = got if low is None else float(low)
    if low > got:
        raise ValueError(f"low must not exceed pimlab_value ({got}), got {low}")
    ratio = got / paper.value if paper.value else float("nan")
    return Record(paper.figure, quantity or paper.key, paper.unit, kind, paper.bound, float(paper.value), got, low,
                  ratio, float(paper.tolerance), "within" if paper.within(got, low) else "gap", note)


def summary(records: list[Record]) -> str:
    """One line counting each kind, modelled first: only modelled numbers are evidence of reproduction."""

    def count(kinds) -> str:
        chosen = [r for r in records if r.kind in kinds]
        return f"{sum(r.status == 'within' for r in chosen)} of {len(chosen)} within"

    return (f"modelled: {count({'modelled'})}; calibrated: {count({'calibrated'})}; "
            f"reconstructed: {count({'reconstructed'})}; inputs and derived: {count({'input', 'derived'})}")


def check_gaps(records: list[Record], gaps: dict) -> None:
    """Assert each record is within the paper's tolerance or inside its documented gap band:
    `gaps` maps a record's quantity to (low, high, why). A notebook's "Paper vs pimlab" check."""
    for r in records:
        if r.status == "within":
            continue
        if r.quantity not in gaps:
            raise AssertionError(f"{r.figure}, {r.quantity}: a gap ({r.pimlab_value:.4g} against "
                                 f"{r.paper_value:g}) with no documented band")
        low, high, why = gaps[r.quantity]
        assert low <= r.pimlab_value <= high, (r, why)


def format_table(records: list[Record]) -> str:
    """A fixed-width text table of the records, the notes of gaps and ranges, and the summary line first."""
    head = ("figure", "quantity", "unit", "kind", "paper", "pimlab", "ratio", "tol", "status")
    rows = [head] + [
        (r.figure, r.quantity, r.unit, r.kind, r.paper_text, r.pimlab_text, f"{r.ratio:.3f}", f"{r.tolerance:g}",
         r.status) for r in records
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes: dict[str, list[str]] = {}  # one note, every record it explains
    for r in records:
        if r.note:
            notes.setdefault(r.note, []).append(f"{r.figure}, {r.quantity} ({r.status})")
    if notes:
        lines += ["", "notes:"] + [f"  {'; '.join(who)}: {note}" for note, who in notes.items()]
    return "\n".join([summary(records), ""] + lines)


def to_json(records: list[Record]) -> str:
    """The records as a JSON list of objects with exactly the keys of FIELDS."""
    return json.dumps([{k: asdict(r)[k] for k in FIELDS} for r in records], indent=2)
