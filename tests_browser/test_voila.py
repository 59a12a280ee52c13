"""Every notebook renders as a Voila app in a real browser, and a live app answers its controls."""

from pathlib import Path

import pytest
from playwright.sync_api import expect

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOK_NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
PLOTS = ".js-plotly-plot .main-svg"  # a plotly div itself has a 0-px box; its svg is what shows


def open_app(page, voila_url, name):
    page.goto(f"{voila_url}/voila/render/{name}", wait_until="domcontentloaded", timeout=120_000)
    failed = page.locator(".jp-OutputArea-output", has_text="Traceback")
    page.locator(PLOTS).first.or_(failed.first).wait_for(state="visible", timeout=120_000)
    if failed.count():
        pytest.fail(f"{name} failed in Voila:\n{failed.first.inner_text()[-3000:]}")
    # every widget view must come up: a view that fails stays "Loading widget..."
    expect(page.get_by_text("Loading widget...")).to_have_count(0, timeout=60_000)


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_renders_without_errors(page, voila_url, name):
    elsewhere = []  # the kit works offline: every request goes to the local server
    page.on("request", lambda r: elsewhere.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:",
                                                                                   "blob:", "ws://127.0.0.1"))
            else None)
    open_app(page, voila_url, name)
    assert not elsewhere, f"{name} fetched from outside the kit: {elsewhere}"
    assert page.get_by_text("There was an error when executing cell").count() == 0
    assert page.locator(".jp-OutputArea-output", has_text="Traceback").count() == 0
    assert page.locator(PLOTS).count() >= 1


def test_fig2_app_answers_its_slider(page, voila_url):
    open_app(page, voila_url, "fig02_long_context_pressure.ipynb")
    gpus = page.locator(".widget-slider", has=page.locator(".widget-label", has_text="A100 GPUs")).first
    handle = gpus.locator(".noUi-handle")
    handle.focus()
    handle.press("ArrowRight")
    expect(gpus.locator(".widget-readout")).to_have_text("2", timeout=15_000)
    expect(page.locator(".legendtext", has_text="2x A100-80GB capacity")).to_have_count(1, timeout=15_000)


def test_check_cells_run_hidden_in_app_mode(page, voila_url):
    """A cell tagged "check" drives its own app instance from code; in Voila it shows nothing."""
    open_app(page, voila_url, "fig02_long_context_pressure.ipynb")
    expect(page.get_by_text("longest context that fits").first).to_be_visible()
    assert page.get_by_text("message shown").count() == 0
