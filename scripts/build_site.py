"""Build the static site: every notebook executed once, as an HTML page and a reveal.js deck, offline.

Run: bash scripts/site [--out _site] [--jobs 2] [--only NAME ...]. Each notebooks/*.ipynb is executed once
(nbclient, a fresh kernel, the live apps displayed as their static figures), and its executed copy is kept in
OUT/notebooks/. The page and the deck are built from that copy: figures are plotly divs drawn by the site's own
plotly.js; require.js, MathJax, jQuery and reveal.js are copied from npm packages at build time into
OUT/assets/, so nothing is loaded from the network when the site is read. The index page lists the notebooks
and the scorecard and links `reproduce --out`'s figures (in OUT/reproduce/). OUT/manifest.json records each
page's expected figure count for the browser checks. A notebook that raises fails the build with its cell and
traceback; a cell that writes to stderr is reported (and fails the build with --strict).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import html
import json
import re
import shutil
import subprocess
import tarfile
import time
import urllib.request
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
TEMPLATES = Path(__file__).resolve().parent / "site_templates"
CACHE = ROOT / ".site-cache"
BINDER = "https://mybinder.org/v2/gh/pimlab/pimlab/HEAD"
PLOTLY_MIME = "application/vnd.plotly.v1+json"
SETUP = "from pimlab_widgets.static import show_apps_static\nshow_apps_static()"
# npm packages (name, version) and the files of each that the pages use
NPM = {
    ("requirejs", "2.3.7"): ["require.js"],
    ("jquery", "3.7.1"): ["dist/jquery.min.js"],
    ("reveal.js", "4.0.2"): ["dist/", "plugin/notes/"],
    ("mathjax", "2.7.9"): ["MathJax.js", "config/", "extensions/", "jax/input/TeX/", "jax/output/CommonHTML/",
                           "jax/element/", "fonts/HTML-CSS/TeX/woff/", "localization/en/"],
}
MATHJAX = "assets/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"


# --- assets ----------------------------------------------------------------------------------------------------
def _npm_tarball(name: str, version: str) -> Path:
    """The package's tarball from the npm registry (npm pack when npm is installed), cached, integrity-checked."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"{name}-{version}.tgz"
    if path.exists():
        return path
    if shutil.which("npm"):
        subprocess.run(["npm", "pack", f"{name}@{version}", "--silent", "--pack-destination", str(CACHE)],
                       check=True, stdout=subprocess.DEVNULL)
        return path
    meta = json.load(urllib.request.urlopen(f"https://registry.npmjs.org/{name}/{version}", timeout=60))
    data = urllib.request.urlopen(meta["dist"]["tarball"], timeout=300).read()
    algorithm, _, digest = meta["dist"]["integrity"].partition("-")
    if base64.b64encode(hashlib.new(algorithm, data).digest()).decode() != digest:
        raise SystemExit(f"{name}@{version}: the tarball does not match the registry's integrity hash")
    path.write_bytes(data)
    return path


def copy_assets(assets: Path) -> None:
    """require.js, jQuery, reveal.js and MathJax from npm, plotly.js from the installed plotly package."""
    import plotly

    assets.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", assets / "plotly.min.js")
    for (name, version), wanted in NPM.items():
        folder = assets / ("reveal.js" if name == "reveal.js" else name)
        with tarfile.open(_npm_tarball(name, version)) as tar:
            for member in tar.getmembers():
                inner = member.name.split("/", 1)[1]
                if member.isfile() and any(inner == w or (w.endswith("/") and inner.startswith(w)) for w in wanted):
                    target = folder / inner
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(tar.extractfile(member).read())


# --- execution -------------------------------------------------------------------------------------------------
def _nbval_markers(nb) -> None:
    """nbval's cell markers, for nbclient: NBVAL_SKIP cells are not run, NBVAL_RAISES_EXCEPTION may raise."""
    keep = []
    for cell in nb.cells:
        if cell.cell_type == "code" and "NBVAL_SKIP" in cell.source:
            continue
        if cell.cell_type == "code" and "NBVAL_RAISES_EXCEPTION" in cell.source:
            cell.metadata.setdefault("tags", []).append("raises-exception")
        keep.append(cell)
    nb.cells = keep


def execute(path: Path, out: Path, strict: bool = False) -> tuple[str, float, list[str]]:
    """Execute `path` once in a fresh kernel into `out`; raise with the cell's traceback on failure. Returns the
    name, the seconds it took and what cells wrote to stderr (an error when `strict`)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    _nbval_markers(nb)
    nb.cells.insert(0, nbformat.v4.new_code_cell(SETUP, metadata={"tags": ["pimlab-site-setup"]}))
    start = time.perf_counter()
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                   store_widget_state=False).execute()
    nb.cells.pop(0)
    for cell in nb.cells:  # number the cells as if the setup cell had not run
        for item in [cell, *cell.get("outputs", [])]:
            if item.get("execution_count"):
                item["execution_count"] -= 1
    stderr = [f"{path.name}: a cell wrote to stderr:\n{cell.source}\n---\n{output.text}"
              for cell in nb.cells for output in cell.get("outputs", []) if output.get("name") == "stderr"]
    if strict and stderr:
        raise RuntimeError("\n".join(stderr))
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, out)
    return path.name, time.perf_counter() - start, stderr


# --- conversion ------------------------------------------------------------------------------------------------
def figure_count(nb) -> int:
    """Plotly figures among the outputs of an executed notebook."""
    return sum(PLOTLY_MIME in output.get("data", {}) for cell in nb.cells for output in cell.get("outputs", []))


def plotly_to_html(nb, stem: str):
    """A copy of `nb` whose plotly outputs are HTML divs drawn by the page's plotly.js (ids are stable)."""
    import plotly.io as pio

    nb = copy.deepcopy(nb)
    k = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            figure = output.get("data", {}).pop(PLOTLY_MIME, None)
            if figure is None:
                continue
            k += 1
            div = pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=f"{stem}-figure-{k}",
                              auto_play=False, validate=False)
            if output.get("metadata", {}).get("pimlab", {}).get("live_app"):
                from pimlab_widgets.static import NOTE

                div = f'<p class="pimlab-live-app">{html.escape(NOTE)}.</p>' + div
            output["data"] = {"text/html": div}
    return nb


def slide_cells(nb):
    """Slide metadata by rule: the title, each section, each figure, the paper-vs-pimlab table, one exercise
    per slide; other code and its text output are skipped (the deck shows no code)."""
    import nbformat

    nb = copy.deepcopy(nb)
    cells, section = [], ""
    for i, cell in enumerate(nb.cells):
        text = cell.source.lstrip()
        if cell.cell_type == "markdown":
            heading = re.match(r"#+ (.*)", text)
            section = heading.group(1).lower() if heading and text.startswith("## ") else section
            if section.startswith("exercises") and text.startswith("## "):
                head, *items = re.split(r"(?m)^(?=\d+\. )", text)
                cells.append(nbformat.v4.new_markdown_cell(head, metadata={"slideshow": {"slide_type": "slide"}}))
                for item in items:
                    cells.append(nbformat.v4.new_markdown_cell(
                        "### Exercise\n\n" + item, metadata={"slideshow": {"slide_type": "slide"}}))
                continue
            kind = "slide" if i == 0 or text.startswith("## ") else "subslide"
        else:
            shows_figure = any(PLOTLY_MIME in o.get("data", {}) or "text/html" in o.get("data", {})
                               for o in cell.get("outputs", []))
            is_table = section.startswith("paper vs pimlab") and "format_table" in cell.source
            kind = "subslide" if shows_figure or is_table else "skip"
        cell.metadata["slideshow"] = {"slide_type": kind}
        cells.append(cell)
    nb.cells = cells
    return nb


def title_of(nb, stem: str) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            match = re.match(r"# (.+)", cell.source.strip())
            if match:
                return match.group(1).strip()
    return stem


def convert(out: Path, stems: list[str]) -> dict:
    """Pages and decks from the executed copies in out/notebooks; returns the manifest."""
    import nbformat
    from nbconvert import HTMLExporter, SlidesExporter

    common = dict(extra_template_basedirs=[str(TEMPLATES)], require_js_url="assets/requirejs/require.js",
                  mathjax_url=MATHJAX, jquery_url="assets/jquery/dist/jquery.min.js")
    page = HTMLExporter(template_name="pimlab-lab", **common)
    deck = SlidesExporter(template_name="pimlab-reveal", exclude_input=True, exclude_input_prompt=True,
                          exclude_output_prompt=True, reveal_url_prefix="assets/reveal.js", reveal_theme="white",
                          reveal_scroll=True, **common)  # the white theme's fonts are local, simple's are not
    executed = {stem: nbformat.read(out / "notebooks" / f"{stem}.ipynb", as_version=4) for stem in stems}
    titles = {stem: title_of(nb, stem) for stem, nb in executed.items()}
    manifest = {}
    for i, stem in enumerate(stems):
        link = lambda j: {"href": f"{stems[j]}.html", "title": titles[stems[j]]}  # noqa: E731
        nav = {"assets": "assets", "prev": link(i - 1) if i > 0 else None,
               "next": link(i + 1) if i + 1 < len(stems) else None, "slides": f"{stem}.slides.html",
               "notebook": f"notebooks/{stem}.ipynb",
               "voila": f"{BINDER}?urlpath=voila%2Frender%2Fnotebooks%2F{stem}.ipynb"}
        drawn = plotly_to_html(executed[stem], stem)
        body, _ = page.from_notebook_node(drawn, resources={"pimlab": nav, "metadata": {"name": titles[stem]}})
        (out / f"{stem}.html").write_text(body)
        slides, _ = deck.from_notebook_node(slide_cells(drawn), resources={"pimlab": nav,
                                                                           "metadata": {"name": titles[stem]}})
        (out / f"{stem}.slides.html").write_text(slides)
        manifest[stem] = {"title": titles[stem], "page": f"{stem}.html", "slides": f"{stem}.slides.html",
                          "figures": figure_count(executed[stem]),
                          "slide_figures": figure_count(slide_cells(executed[stem]))}
    return manifest


def write_index(out: Path, manifest: dict, summary: str) -> None:
    """index.html: the notebooks, the scorecard, the reproduce --out figures; no script at all."""
    from pimlab.export import record_cell

    records = json.loads((out / "reproduce" / "reproduction.json").read_text())
    keys = list(records[0]) if records else []
    rows = "\n".join(
        f'<tr><td><a href="{m["page"]}">{html.escape(m["title"])}</a></td><td>{m["figures"]}</td>'
        f'<td><a href="{m["slides"]}">slides</a></td><td><a href="notebooks/{stem}.ipynb">.ipynb</a></td>'
        f'<td><a href="{BINDER}?urlpath=voila%2Frender%2Fnotebooks%2F{stem}.ipynb">Voila on Binder</a></td></tr>'
        for stem, m in manifest.items())
    score = "\n".join("<tr>" + "".join(f"<td>{html.escape(record_cell(r[k]))}</td>" for k in keys) + "</tr>"
                      for r in records)
    figures = "\n".join(f'<li><a href="reproduce/figures/{p.name}">{p.stem}</a>'
                        + "".join(f' (<a href="reproduce/figures/{p.stem}.{ext}">{ext.upper()}</a>)'
                                  for ext in ("png", "svg") if p.with_suffix(f".{ext}").exists()) + "</li>"
                        for p in sorted((out / "reproduce" / "figures").glob("*.html")))
    (out / "index.html").write_text(f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pimlab: PIMphony, interactively</title>
<style>body {{ font-family: sans-serif; max-width: 72em; margin: 2em auto; line-height: 1.4 }}
table {{ border-collapse: collapse }} td, th {{ border: 1px solid #ccc; padding: 0.2em 0.6em; text-align: left }}
</style></head><body>
<h1>pimlab</h1>
<p>An interactive kit that teaches and explores PIMphony (arXiv 2412.20166 v3), a DRAM processing-in-memory
orchestrator for long-context LLM decoding. Every page below was executed once when this site was built; its
figures are live plotly figures that need no kernel and no network. The live apps run on Binder (Voila).</p>
<h2>The notebooks</h2>
<table><tr><th>notebook</th><th>figures</th><th>deck</th><th>download</th><th>live app</th></tr>
{rows}
</table>
<h2>The scorecard</h2>
<p>{html.escape(summary)} (<a href="reproduce/reproduction.md">Markdown</a>,
<a href="reproduce/reproduction.json">JSON</a>, the output of <code>python -m pimlab reproduce --out</code>).</p>
<table><tr>{"".join(f"<th>{html.escape(k)}</th>" for k in keys)}</tr>
{score}
</table>
<h2>Every figure, standalone</h2>
<ul>
{figures}
</ul>
</body></html>
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "_site"), help="the site's folder (default: _site)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default: 2)")
    parser.add_argument("--strict", action="store_true", help="fail when a notebook cell writes to stderr")
    parser.add_argument("--only", nargs="*", help="notebook names (stems) to build (default: all)")
    parser.add_argument("--executed", help="a folder of notebooks already executed with PIMLAB_STATIC_APPS=1 (the "
                        "nbval run of scripts/test writes one): build from them instead of executing again")
    args = parser.parse_args()
    out = Path(args.out)
    stems = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    if args.only:
        unknown = sorted(set(args.only) - set(stems))
        if unknown:
            raise SystemExit(f"--only must name notebooks among {', '.join(stems)}; got {', '.join(unknown)}")
        stems = [s for s in stems if s in args.only]
    if args.jobs < 1:
        raise SystemExit(f"--jobs must be a positive integer, got {args.jobs}")
    start = time.perf_counter()
    if out.exists():
        shutil.rmtree(out)
    (out / "notebooks").mkdir(parents=True)
    copy_assets(out / "assets")
    from pimlab import figures
    from pimlab.export import write_reproduction

    summary = write_reproduction(out / "reproduce", figures.scorecard())
    print(summary, flush=True)
    if args.executed:
        missing = [s for s in stems if not (Path(args.executed) / f"{s}.ipynb").exists()]
        if missing:
            raise SystemExit(f"--executed {args.executed} must hold every notebook; missing {', '.join(missing)}")
        for s in stems:
            shutil.copy(Path(args.executed) / f"{s}.ipynb", out / "notebooks" / f"{s}.ipynb")
        print(f"built from the executed notebooks in {args.executed}", flush=True)
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            jobs = [pool.submit(execute, NOTEBOOKS / f"{s}.ipynb", out / "notebooks" / f"{s}.ipynb", args.strict)
                    for s in stems]
            for job in jobs:
                name, seconds, stderr = job.result()
                print(f"executed {name} in {seconds:.1f} s", flush=True)
                for message in stderr:
                    print(f"WARNING: {message}", flush=True)
    manifest = convert(out, stems)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    write_index(out, manifest, summary.split(": ", 1)[-1])
    size_mb = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 1e6
    print(f"site: {len(stems)} pages and decks, {sum(m['figures'] for m in manifest.values())} figures, "
          f"{size_mb:.0f} MB in {out} ({time.perf_counter() - start:.0f} s); open {out / 'index.html'}")


if __name__ == "__main__":
    main()
