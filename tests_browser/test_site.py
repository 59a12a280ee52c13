"""The static site (bash scripts/site) in headless Chromium with the network blocked: every page and deck draws
all its figures and loads nothing from outside the site; the check itself fails on deliberately broken pages."""

import functools
import http.server
import json
import os
import threading
from pathlib import Path

import pytest

SITE = Path(os.environ.get("PIMLAB_SITE", Path(__file__).resolve().parent.parent / "_site"))
MANIFEST = json.loads((SITE / "manifest.json").read_text()) if (SITE / "manifest.json").exists() else {}
DRAWN = "[...document.querySelectorAll('.js-plotly-plot')].filter(div => div.querySelector('.main-svg')).length"

if not MANIFEST:
    pytest.skip("no site built: run bash scripts/site first", allow_module_level=True)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def serve():
    """serve(folder) -> the base URL of a local HTTP server over `folder`."""
    servers = []

    def start(folder: Path) -> str:
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()


def check_page(page, url: str, figures: int, wait_ms: int = 30_000) -> list[str]:
    """What is wrong with the page at `url`: requests leaving the site (blocked), local files missing, script
    errors, and fewer or more drawn plotly figures than `figures`. [] when the page is whole."""
    origin = url.split("/", 3)[:3]
    origin = "/".join(origin)
    outside, missing, errors = [], [], []

    def route(request_route):
        if request_route.request.url.startswith(origin):
            request_route.continue_()
        else:
            outside.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    page.on("response", lambda response: missing.append(response.url) if response.status >= 400 else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="load", timeout=60_000)
    try:
        page.wait_for_function(f"{DRAWN} >= {figures}", timeout=wait_ms if figures else 1)
    except Exception:
        pass
    page.wait_for_timeout(300)
    divs = page.locator(".js-plotly-plot").count()
    drawn = page.evaluate(DRAWN)
    problems = [f"loads {u} from the network" for u in outside] + [f"missing {u}" for u in missing]
    problems += [f"script error: {e}" for e in errors]
    if divs != figures or drawn != figures:
        problems.append(f"{figures} figures expected, {divs} plotly divs, {drawn} drawn")
    return problems


@pytest.mark.parametrize("stem", sorted(MANIFEST))
def test_page_draws_every_figure_offline(page, serve, stem):
    entry = MANIFEST[stem]
    assert entry["figures"] >= 1, f"{stem} shows no figure"
    assert check_page(page, f"{serve(SITE)}/{entry['page']}", entry["figures"]) == []
    assert page.locator("a[rel=next], a[rel=prev]").count() >= 1  # prev / next links


@pytest.mark.parametrize("stem", sorted(MANIFEST))
def test_deck_draws_every_figure_offline(page, serve, stem):
    entry = MANIFEST[stem]
    assert check_page(page, f"{serve(SITE)}/{entry['slides']}", entry["slide_figures"]) == []
    assert page.locator(".reveal .slides section").count() >= 3
    assert page.evaluate("typeof Reveal !== 'undefined' || !!document.querySelector('.reveal.ready')")


def test_index_links_every_page_and_deck(page, serve):
    assert check_page(page, f"{serve(SITE)}/index.html", 0) == []
    links = set(page.locator("a").evaluate_all("links => links.map(a => a.getAttribute('href'))"))
    for entry in MANIFEST.values():
        assert {entry["page"], entry["slides"]} <= links
    assert any(link.startswith("reproduce/figures/") for link in links)


def test_the_check_fails_on_broken_pages(browser, serve, tmp_path):
    stem = next(s for s in sorted(MANIFEST) if MANIFEST[s]["figures"])
    good = (SITE / MANIFEST[stem]["page"]).read_text()
    (tmp_path / "assets").symlink_to(SITE / "assets")
    (tmp_path / MANIFEST[stem]["page"]).write_text(good)
    # 1. plotly.js missing: the divs are there, nothing is drawn
    (tmp_path / "no-plotly.html").write_text(good.replace("assets/plotly.min.js", "assets/missing-plotly.js"))
    # 2. a figure whose data does not parse: one plot fewer
    (tmp_path / "bad-figure.html").write_text(good.replace("Plotly.newPlot(", "Plotly.newPlot(undefined_name, ", 1))
    # 3. one script from a CDN
    (tmp_path / "cdn.html").write_text(good.replace("<head>", '<head><script src="https://cdn.plot.ly/x.js"></script>'))
    base, figures = serve(tmp_path), MANIFEST[stem]["figures"]

    def check(name: str, wait_ms: int = 30_000) -> list[str]:
        page = browser.new_page()
        try:
            return check_page(page, f"{base}/{name}", figures, wait_ms)
        finally:
            page.close()

    assert check(MANIFEST[stem]["page"]) == []  # the copy itself is whole
    no_plotly = check("no-plotly.html", wait_ms=5_000)
    assert any("missing" in p for p in no_plotly) and any("0 drawn" in p for p in no_plotly), no_plotly
    bad = check("bad-figure.html", wait_ms=5_000)
    assert any(f"{figures - 1} drawn" in p for p in bad) and any("script error" in p for p in bad), bad
    cdn = check("cdn.html")
    assert any("https://cdn.plot.ly/x.js" in p for p in cdn), cdn
