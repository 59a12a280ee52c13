"""The site's `reproduce --out` records equal what the executed notebooks print (run after bash scripts/site).

The notebooks print the scorecard as `format_table` draws it; this reads those tables back by their columns
(whatever columns they have) and checks every record of reproduction.json against the printed value, to the
digits printed, and its status.
"""

import json
import math
import os
import re
from pathlib import Path

import nbformat
import pytest

SITE = Path(os.environ.get("PIMLAB_SITE", Path(__file__).resolve().parent.parent / "_site"))
if not (SITE / "reproduce" / "reproduction.json").exists():
    pytest.skip("no site built: run bash scripts/site first", allow_module_level=True)


def _cut(line: str, starts: list[int]) -> list[str]:
    return [line[a:b].strip() for a, b in zip(starts, starts[1:] + [None])]


def printed_tables(text: str) -> list[dict]:
    """Rows of every fixed-width table in `text`: a header line, a line of dash groups, rows until a blank or
    non-row line. Columns are cut at the dash groups' starts."""
    lines, rows = text.splitlines(), []
    for i in range(1, len(lines)):
        if not re.fullmatch(r"-+(  +-+)+", lines[i].strip()) or "quantity" not in lines[i - 1]:
            continue
        starts = [m.start() for m in re.finditer(r"-+", lines[i])]
        names = _cut(lines[i - 1], starts)
        for line in lines[i + 1:]:
            values = _cut(line, starts)
            if not line.strip() or len(line) < starts[-1] or not values[-1]:
                break
            rows.append(dict(zip(names, values)))
    return rows


def close_to_printed(value: float, printed: str) -> bool:
    """`value` rounds to `printed` (a number printed with some significant digits)."""
    number = float(printed)
    mantissa = re.sub(r"[eE].*$", "", printed).lstrip("+-").replace(".", "").lstrip("0") or "0"
    exponent = math.floor(math.log10(abs(number))) if number else 0
    return abs(value - number) <= 0.5 * 10 ** (exponent - len(mantissa) + 1) * (1 + 1e-9)


def test_reproduction_json_equals_what_the_notebooks_print():
    records = json.loads((SITE / "reproduce" / "reproduction.json").read_text())
    printed = {}
    for path in sorted((SITE / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        text = "\n".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []) if o.get("name") == "stdout")
        for row in printed_tables(text):
            printed.setdefault((row["figure"], row["quantity"]), []).append((path.name, row))
    assert printed, "no notebook prints the scorecard"
    for record in records:
        seen = printed.get((record["figure"], record["quantity"]))
        assert seen, f"no notebook prints {record['figure']} {record['quantity']}"
        for name, row in seen:
            column = next(k for k in row if k.startswith("pimlab"))
            low, _, high = row[column].rpartition("..")  # a range prints as low..high
            assert close_to_printed(record["pimlab_value"], high), (name, record, row)
            assert not low or close_to_printed(record["pimlab_low"], low), (name, record, row)
            assert row.get("status", record["status"]) == record["status"], (name, record, row)


def test_the_table_reader_and_rounding_by_hand():
    text = "figure  quantity  pimlab  status\n------  --------  ------  ------\nFig. 8  util a b  14.65   within\n"
    assert printed_tables(text) == [{"figure": "Fig. 8", "quantity": "util a b", "pimlab": "14.65",
                                     "status": "within"}]
    assert close_to_printed(14.6549, "14.65") and not close_to_printed(14.66, "14.65")
    assert close_to_printed(77.4649, "77.46") and close_to_printed(0.03, "0.03") and not close_to_printed(3, "2")
    assert "1.234..1.416".rpartition("..") == ("1.234", "..", "1.416")
