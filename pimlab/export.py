"""`python -m pimlab reproduce --out DIR`: the scorecard as reproduction.json / .md, every figure as files.

Figures are drawn by the widget package (`pimlab_widgets.gallery`), imported only here and only when this
runs, so the model stays numpy-only. Each figure is a standalone interactive HTML file (plotly's JavaScript
written once beside them, so they open offline), plus PNG and SVG when kaleido finds a Chromium.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pimlab.reproduce import Record, summary, to_json

__all__ = ["write_reproduction", "records_markdown", "record_cell"]

INSTALL_WIDGETS = "pip install 'pimlab[widgets]' (plotly, ipywidgets, anywidget)"
INSTALL_IMAGES = "pip install kaleido and a Chromium (Debian: apt-get install chromium)"


def record_cell(value) -> str:
    """A record's value as the tables show it: numbers to 4 significant digits."""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def records_markdown(records: list[Record]) -> str:
    """The records as a Markdown table, one column per field of the JSON records, and the table's summary."""
    rows = json.loads(to_json(records))
    if not rows:
        return "No records.\n"
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(record_cell(row[k]).replace("|", "\\|") for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n\n" + summary(records) + "\n"


def _progress(items: list, label: str):
    """tqdm's bar when tqdm is installed, else one line per item on stderr."""
    try:
        from tqdm import tqdm
    except ImportError:
        for i, item in enumerate(items, 1):
            print(f"\r{label} {i}/{len(items)}", end="\n" if i == len(items) else "", file=sys.stderr, flush=True)
            yield item
        return
    yield from tqdm(items, desc=label, unit="figure")


def _figures(ids: list[str] | None) -> list:
    """(stem, go.Figure) of every figure in the gallery for `ids`; raises ImportError naming what to install."""
    try:
        from pimlab_widgets.gallery import builders
    except ImportError as error:
        raise ImportError(f"drawing figures needs the widget package: {INSTALL_WIDGETS} ({error})") from None
    return [figure for build in _progress(builders(ids), "computing figures") for figure in build()]


def _write_images(figures: list, folder: Path) -> str:
    """PNG and SVG of each figure in one browser session; "" on success, else why they were skipped."""
    try:
        import kaleido  # noqa: F401
        import plotly.io as pio
    except ImportError:
        return f"PNG / SVG skipped: kaleido is not installed ({INSTALL_IMAGES})"
    paths = [folder / f"{stem}.{ext}" for stem, _ in figures for ext in ("png", "svg")]
    twice = [figure for _, figure in figures for _ in range(2)]
    try:  # a batch export ignores each layout's size unless it is passed (plotly 6-7 use 700 x 500 instead)
        pio.write_images(twice, paths, width=[f.layout.width for f in twice], height=[f.layout.height for f in twice])
    except Exception as error:  # kaleido raises its own types when no browser starts
        for path in paths:
            path.unlink(missing_ok=True)
        why = (str(error).strip() or type(error).__name__).splitlines()[0]
        return ("PNG / SVG skipped: kaleido found no working Chromium (install one, e.g. apt-get install chromium, "
                f"or point BROWSER_PATH at it): {why}")
    return ""


def write_reproduction(out: str | Path, records: list[Record], ids: list[str] | None = None,
                       images: bool = True) -> str:
    """Write reproduction.json / .md and the figures of `ids` into `out`; return the one-line summary."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out must be a directory, got the file {str(out)!r}")
    folder = out / "figures"
    folder.mkdir(parents=True, exist_ok=True)
    (out / "reproduction.json").write_text(to_json(records) + "\n")
    notes, stems = [], []
    try:
        figures = _figures(ids)
    except ImportError as error:
        figures, notes = [], [f"figures skipped: {error}"]
    for stem, figure in _progress(figures, "writing HTML"):
        figure.write_html(folder / f"{stem}.html", include_plotlyjs="directory", auto_play=False)
        stems.append(stem)
    skipped = _write_images(figures, folder) if figures and images else ""
    if skipped:
        notes.append(skipped)
    images_written = bool(figures and images and not skipped)
    listing = [f"- [{stem}](figures/{stem}.html)" + (f" ([PNG](figures/{stem}.png), [SVG](figures/{stem}.svg))"
                                                      if images_written else "") for stem in stems]
    markdown = ["# pimlab reproduction of PIMphony (arXiv 2412.20166 v3)", "", records_markdown(records),
                "## Figures", "", *listing, "", *[f"Note: {note}" for note in notes]]
    (out / "reproduction.md").write_text("\n".join(markdown).rstrip() + "\n")
    for note in notes:
        print(f"pimlab: {note}", file=sys.stderr)
    kinds = "HTML, PNG and SVG" if images_written else "HTML"
    return (f"wrote {len(records)} records and {len(stems)} figures ({kinds}) to {out}: "
            f"{summary(records)}")
