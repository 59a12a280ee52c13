"""The site builder's rules, on a small notebook made here: slides by rule, plotly outputs as offline divs."""

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import build_site  # noqa: E402

FIGURE = {"data": [{"type": "bar", "x": [1, 2], "y": [3, 4]}], "layout": {"title": {"text": "t"}}}


def notebook():
    shown = new_output("display_data", data={build_site.PLOTLY_MIME: FIGURE, "text/plain": "Figure"})
    app = new_output("display_data", data={build_site.PLOTLY_MIME: FIGURE, "text/plain": "app"},
                     metadata={"pimlab": {"live_app": True}})
    printed = new_output("stream", name="stdout", text="figure  quantity\n")
    return new_notebook(cells=[
        new_markdown_cell("# Fig. 0: a title\n\nwhat you learn"),
        new_code_cell("import x", outputs=[]),
        new_markdown_cell("## The model\n\ntext"),
        new_markdown_cell("more text"),
        new_code_cell("figure", outputs=[shown]),
        new_markdown_cell("## Paper vs pimlab"),
        new_code_cell("print(format_table(records))", outputs=[printed]),
        new_code_cell("assert True", outputs=[]),
        new_markdown_cell("## Try it"),
        new_code_cell("app.widget", outputs=[app]),
        new_markdown_cell("## Exercises\n\n1. first?\n2. second,\n   on two lines?\n3. third?"),
    ])


def test_slides_by_rule():
    nb = build_site.slide_cells(notebook())
    kinds = [(c.cell_type, c.metadata["slideshow"]["slide_type"]) for c in nb.cells]
    assert kinds == [("markdown", "slide"), ("code", "skip"), ("markdown", "slide"), ("markdown", "subslide"),
                     ("code", "subslide"), ("markdown", "slide"), ("code", "subslide"), ("code", "skip"),
                     ("markdown", "slide"), ("code", "subslide"), ("markdown", "slide"),
                     ("markdown", "slide"), ("markdown", "slide"), ("markdown", "slide")]
    exercises = [c.source for c in nb.cells[-3:]]
    assert "first?" in exercises[0] and "on two lines?" in exercises[1] and "third?" in exercises[2]
    assert "first" not in nb.cells[-4].source  # the heading slide holds no exercise


def test_plotly_outputs_become_divs_drawn_by_the_pages_plotly():
    nb = notebook()
    assert build_site.figure_count(nb) == 2 and build_site.title_of(nb, "x") == "Fig. 0: a title"
    drawn = build_site.plotly_to_html(nb, "demo")
    outputs = [o.get("data", {}) for c in drawn.cells for o in c.get("outputs", [])]
    divs = [data["text/html"] for data in outputs if "text/html" in data]
    assert len(divs) == 2 and all("Plotly.newPlot" in d and "<script src" not in d for d in divs)
    assert 'id="demo-figure-1"' in divs[0] and 'id="demo-figure-2"' in divs[1]
    assert "live app" in divs[1] and "live app" not in divs[0]
    assert build_site.figure_count(nb) == 2  # the executed copy is left as it was
    nbformat.validate(drawn)
