"""Every notebook run top to bottom in JupyterLab (one server, one browser) at an 800 px wide window.

Per notebook: no error, warning or stderr output, no JavaScript console error, every plot drawn, every
widget view up, nothing overlapping or cut (DOM bounding boxes of plot titles, subplot titles, legends,
animation sliders and buttons, axis tick labels of every subplot as drawn (turned or not), and of widget labels
(checkbox descriptions included), slider tracks and readouts; x tick labels plotly turned vertical are crowded; no
text under 8 px), and every app's first control changes its figure. A screenshot per notebook goes to SHOTS,
printed at the end of the run.
Notebooks are found by globbing notebooks/*.ipynb, so new ones are checked without editing this file.
"""

from __future__ import annotations

import json
import time

import pytest

from conftest import LAB_TOKEN, NOTEBOOKS, SHOTS

NOTEBOOK_NAMES = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
WIDTH_PX = 800

# --- in-page helpers ----------------------------------------------------------------------------------------
_CURRENT = "window.jupyterapp.shell.currentWidget"

_OUTPUT_PROBLEMS = """() => [...document.querySelectorAll('.jp-OutputArea-output')].filter(o =>
    ['application/vnd.jupyter.stderr', 'application/vnd.jupyter.error'].includes(o.dataset.mimeType)
    || o.querySelector('[data-mime-type="application/vnd.jupyter.stderr"]')
    || /Error displaying widget|Loading widget\\.\\.\\.|Model not found/.test(o.innerText)
).map(o => o.innerText.slice(0, 1500))"""

_UNDRAWN_PLOTS = """() => [...document.querySelectorAll('.jp-OutputArea .js-plotly-plot')]
    .filter(p => !p.querySelector('.main-svg') || !(p._fullData || []).length).length"""

# boxes that must not overlap one another inside one plot, and must stay inside the plot's own box; axis tick
# labels (every subplot's) are compared as drawn, turned boxes included: with each other, with those boxes and
# with the plot's edge; x labels plotly turned vertical to make room are crowded; no text under MIN_TEXT_PX
_LAYOUT_PROBLEMS = """() => {
  const MIN_TEXT_PX = 8;
  const problems = [];
  const box = e => e.getBoundingClientRect();
  const area = (a, b) => Math.max(0, Math.min(a.right, b.right) - Math.max(a.left, b.left)) *
                         Math.max(0, Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top));
  const text = e => {  // lines of a plotly text joined with spaces
    const lines = [...e.querySelectorAll(':scope > .line')];
    return (lines.length ? lines.map(l => l.textContent).join(' ') : e.textContent || '').trim().slice(0, 40);
  };
  // corners in page pixels, 1 px inside: of a box, or of an svg text's own box turned as it is drawn
  const rect = b => [[b.left + 1, b.top + 1], [b.right - 1, b.top + 1], [b.right - 1, b.bottom - 1],
                     [b.left + 1, b.bottom - 1]];
  const drawn = e => {
    const b = e.getBBox(), m = e.getScreenCTM();
    return [[b.x + 1, b.y + 1], [b.x + b.width - 1, b.y + 1], [b.x + b.width - 1, b.y + b.height - 1],
            [b.x + 1, b.y + b.height - 1]].map(([x, y]) => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f]);
  };
  const apart = (p, q) => [p, q].some(poly => poly.some((a, i) => {  // separating axis test, convex corners
    const b = poly[(i + 1) % poly.length], nx = a[1] - b[1], ny = b[0] - a[0];
    const P = p.map(([x, y]) => x * nx + y * ny), Q = q.map(([x, y]) => x * nx + y * ny);
    return Math.max(...P) <= Math.min(...Q) || Math.max(...Q) <= Math.min(...P);
  }));
  document.querySelectorAll('.jp-OutputArea .js-plotly-plot').forEach((plot, p) => {
    const svg = plot.querySelector('.main-svg');
    if (!svg) return;
    const title = plot.querySelector('.infolayer .gtitle');
    const name = `plot ${p}` + (title ? ` "${text(title.querySelector('.line') || title)}"` : '');
    const frame = box(svg), column = box(plot.closest('.jp-OutputArea-output'));
    if (frame.right > column.right + 2)
      problems.push(`${name}: ${Math.round(frame.width)} px wide, its column ${Math.round(column.width)} px`);
    const parts = [];
    const add = (sel, kind) => plot.querySelectorAll(sel).forEach(e => {
      const b = box(e);
      const t = kind === 'legend' ? [...e.parentNode.querySelectorAll('.legendtext')].map(text).join(', ') : text(e);
      if (b.width > 0 && b.height > 0) parts.push({kind, e, b, t: t.slice(0, 40)});
    });
    add('.infolayer .gtitle', 'title');
    add('.infolayer .annotation .annotation-text-g', 'annotation');
    add('.infolayer .legend .bg', 'legend');
    add('.infolayer .g-xtitle, .infolayer .g-x2title, .infolayer .g-x3title', 'x title');
    add('.slider-container .slider-group', 'slider');
    add('.updatemenu-container .updatemenu-button', 'button');
    for (const a of parts) {
      if (a.b.left < frame.left - 2 || a.b.right > frame.right + 2 || a.b.top < frame.top - 2)
        problems.push(`${name}: ${a.kind} "${a.t}" is cut by the plot's edge`);
    }
    for (let i = 0; i < parts.length; i++) for (let j = i + 1; j < parts.length; j++) {
      const a = parts[i], b = parts[j];
      if (a.kind === 'button' && b.kind === 'button') continue;
      if (a.e.contains(b.e) || b.e.contains(a.e)) continue;
      if (area(a.b, b.b) > 6) problems.push(`${name}: ${a.kind} "${a.t}" overlaps ${b.kind} "${b.t}"`);
    }
    const layout = plot._fullLayout || {};
    const ticks = [...plot.querySelectorAll('.xaxislayer-above text, .yaxislayer-above text')]
      .filter(e => text(e) && e.getBBox().width > 0).map(e => {
        const id = e.parentNode.getAttribute('class').split(' ')[0].replace(/tick$/, '');  // x, x2, y3, ...
        const m = e.getScreenCTM(), angle = Math.round(Math.atan2(m.b, m.a) * 180 / Math.PI);
        const axis = layout[id[0] + 'axis' + id.slice(1)] || {};
        return {e, id, angle, auto: axis.tickangle === 'auto', q: drawn(e), t: text(e)};
      });
    const clash = [];
    for (const a of ticks) {
      if (a.q.some(([x, y]) => x < frame.left - 1 || x > frame.right + 1 || y < frame.top - 1 || y > frame.bottom + 1))
        problems.push(`${name}: ${a.id} tick label "${a.t}" is cut by the plot's edge`);
      for (const b of parts) if (!apart(a.q, rect(b.b))) clash.push(`"${a.t}" and ${b.kind} "${b.t}"`);
    }
    for (let i = 0; i < ticks.length; i++) for (let j = i + 1; j < ticks.length; j++)
      if (!apart(ticks[i].q, ticks[j].q)) clash.push(`"${ticks[i].t}" and "${ticks[j].t}"`);
    if (clash.length) problems.push(`${name}: tick labels overlap: ${clash.slice(0, 4).join('; ')}` +
                                    (clash.length > 4 ? ` (and ${clash.length - 4} more)` : ''));
    const vertical = ticks.filter(a => a.id[0] === 'x' && a.auto && Math.abs(a.angle) >= 60);
    if (vertical.length) problems.push(`${name}: ${vertical[0].id} tick labels turned vertical by plotly to make ` +
                                       `room (crowded): ${vertical.slice(0, 4).map(a => `"${a.t}"`).join(', ')}`);
    plot.querySelectorAll('.main-svg text').forEach(e => {
      if (!text(e) || e.closest('.hoverlayer') || !e.getBBox().width) return;
      const m = e.getScreenCTM();
      const px = parseFloat(getComputedStyle(e).fontSize) * Math.sqrt(Math.abs(m.a * m.d - m.b * m.c));
      if (px < MIN_TEXT_PX) problems.push(`${name}: text "${text(e)}" is ${px.toFixed(1)} px, under ${MIN_TEXT_PX} px`);
    });
  });
  document.querySelectorAll('.jp-OutputArea button').forEach(button => {
    if (button.offsetParent && button.scrollWidth > button.clientWidth + 1)
      problems.push(`button "${text(button)}": its text is cut`);
  });
  document.querySelectorAll('.jp-OutputArea .widget-label-basic, .jp-OutputArea .widget-label-basic > span')
    .forEach(label => {  // a checkbox's description: cut with an ellipsis when too long for its cell
      if (label.offsetParent && label.scrollWidth > label.clientWidth + 1)
        problems.push(`control "${text(label)}": its label is cut`);
    });
  document.querySelectorAll('.jp-OutputArea .widget-inline-hbox').forEach(row => {
    const label = row.querySelector(':scope > .widget-label');
    if (!label || !label.textContent.trim() || getComputedStyle(row).display === 'none') return;
    if (label.scrollWidth > label.clientWidth + 1)
      problems.push(`control "${text(label)}": its label is cut`);
    for (const other of row.querySelectorAll(':scope > :not(.widget-label)')) {
      if (area(box(label), box(other)) > 2) problems.push(`control "${text(label)}": label overlaps its input`);
    }
    const track = row.querySelector('.noUi-target, .slider-container');
    if (track && box(track).width < 80)
      problems.push(`control "${text(label)}": slider track only ${box(track).width}px`);
    const readout = row.querySelector('.widget-readout');
    if (track && readout && area(box(track), box(readout)) > 2)
      problems.push(`control "${text(label)}": readout overlaps the track`);
  });
  return problems;
}"""

# an app: a widget box holding a grid of controls and a plot
_APP_COUNT = """() => [...document.querySelectorAll('.jp-OutputArea .widget-vbox')].filter(v =>
    v.querySelector(':scope > .widget-gridbox') && v.querySelector('.js-plotly-plot')).length"""

_SNAPSHOT = """(i) => {
  const app = [...document.querySelectorAll('.jp-OutputArea .widget-vbox')].filter(v =>
      v.querySelector(':scope > .widget-gridbox') && v.querySelector('.js-plotly-plot'))[i];
  const gd = app.querySelector('.js-plotly-plot');
  const banner = [...app.querySelectorAll(':scope > .pimlab-banner')].map(h => h.innerText).join(' ');
  const full = gd._fullData || [], layout = gd._fullLayout || {};  // what is drawn
  const traces = full.map(t => [t.x, t.y, t.z, t.text, t.base, t.cells && t.cells.values].map(v =>
      v && v.length !== undefined ? Array.from(v) : v));
  return {figure: JSON.stringify([traces, layout.title && layout.title.text,
                                  (layout.annotations || []).map(a => a.text),
                                  (layout.shapes || []).map(s => [s.x0, s.x1, s.y0, s.y1])]),
          banner: banner.trim()};
}"""


def _app(page, i):
    return page.locator(".jp-OutputArea .widget-vbox").filter(
        has=page.locator(":scope > .widget-gridbox")).filter(has=page.locator(".js-plotly-plot")).nth(i)


def _change_first_control(page, i) -> str:
    """Move the first control of app `i` as a student would; return what was done."""
    first = _app(page, i).locator(":scope > .widget-gridbox > *").first
    classes = first.get_attribute("class") or ""
    if "widget-dropdown" in classes:
        select = first.locator("select")
        options = select.locator("option")
        current = select.input_value()
        values = [options.nth(k).get_attribute("value") for k in range(options.count())]
        other = next(v for v in values if v != current)
        select.select_option(other)
        return f"dropdown -> option {other}"
    if "widget-slider" in classes:
        handle = first.locator(".noUi-handle")
        before = first.locator(".widget-readout").inner_text()
        handle.focus()
        handle.press("ArrowRight")
        if first.locator(".widget-readout").inner_text() == before:
            handle.press("ArrowLeft")
        return "slider one step"
    if "widget-toggle-buttons" in classes:
        first.locator("button:not(.mod-active)").first.click()
        return "toggle"
    if "widget-checkbox" in classes:
        first.locator("input").click()
        return "checkbox"
    box = first.locator("input")
    text = box.input_value()
    parts = [p.strip() for p in text.split(",")]
    new = ", ".join(parts[:-1]) if len(parts) > 1 else str(int(float(parts[0])) + 1)
    box.fill(new)
    box.press("Enter")
    return f"typed {new!r}"


@pytest.fixture
def lab_page(browser):
    page = browser.new_page()
    page.set_viewport_size({"width": WIDTH_PX, "height": 900})
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    yield page
    try:  # stop this notebook's kernel: the next notebook gets a fresh one and memory stays flat
        page.evaluate(f"async () => {{ await {_CURRENT}.sessionContext.shutdown(); }}")
    except Exception:  # noqa: BLE001 - the page may already be gone after a failure
        pass
    page.close()


@pytest.mark.parametrize("name", NOTEBOOK_NAMES)
def test_notebook_in_jupyterlab(lab_page, lab_url, name):
    page, started = lab_page, time.time()
    page.goto(f"{lab_url}/lab/tree/notebooks/{name}?reset&token={LAB_TOKEN}", wait_until="domcontentloaded")
    page.wait_for_function(f"() => window.jupyterapp && {_CURRENT} && {_CURRENT}.sessionContext", timeout=90_000)
    page.evaluate(f"""async () => {{ const app = window.jupyterapp; app.shell.collapseLeft(); app.shell.collapseRight();
        const w = {_CURRENT}; await w.context.ready; await w.sessionContext.ready;
        await w.sessionContext.session.kernel.info; }}""")
    page.wait_for_function(f"() => {_CURRENT}.sessionContext.session.kernel.status === 'idle'", timeout=60_000)
    # Run All as the Run menu does; the command resolves when the last cell has run (or one failed)
    page.evaluate("async () => { await window.jupyterapp.commands.execute('notebook:run-all-cells'); }")
    page.wait_for_function(f"() => {_CURRENT}.sessionContext.session.kernel.status === 'idle'", timeout=300_000)
    unrun = page.evaluate(f"""() => {_CURRENT}.content.widgets.filter(c => c.model.type === 'code'
        && c.model.sharedModel.source.trim() && !c.model.executionCount).length""")
    deadline = time.time() + 120
    while (page.evaluate(_UNDRAWN_PLOTS) or page.get_by_text("Loading widget...").count()) and time.time() < deadline:
        time.sleep(0.5)
    problems = page.evaluate(_OUTPUT_PROBLEMS)
    assert not problems, f"{name}: error, warning or stderr output:\n" + "\n---\n".join(problems)
    assert unrun == 0, f"{name}: {unrun} code cells did not run"
    assert page.evaluate(_UNDRAWN_PLOTS) == 0, f"{name}: a plot did not render"

    # show the whole notebook (no inner scrolling) so every box is laid out and the screenshot holds it all
    scroller = "document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer')"
    height = page.evaluate(f"() => {scroller}.scrollHeight")
    page.set_viewport_size({"width": WIDTH_PX, "height": min(int(height) + 200, 30_000)})
    page.wait_for_timeout(1500)
    page.evaluate(f"() => {{ {scroller}.scrollTop = 0; }}")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name.removesuffix('.ipynb')}.png"), full_page=True)
    layout = page.evaluate(_LAYOUT_PROBLEMS)
    stem = name.removesuffix(".ipynb")

    apps = page.evaluate(_APP_COUNT)
    unmoved = []
    for i in range(apps):
        _app(page, i).screenshot(path=str(SHOTS / f"{stem}-app{i}.png"))
        before = page.evaluate(_SNAPSHOT, i)
        did = _change_first_control(page, i)
        deadline = time.time() + 30
        after = page.evaluate(_SNAPSHOT, i)
        while after["figure"] == before["figure"] and not after["banner"] and time.time() < deadline:
            time.sleep(0.3)
            after = page.evaluate(_SNAPSHOT, i)
        if after["figure"] == before["figure"] or after["banner"]:
            unmoved.append(f"app {i} ({did}): figure unchanged; banner {after['banner']!r}")
    errors = [e for e in page.console_errors if "favicon" not in e]
    print(f"{name}: {apps} app(s), {time.time() - started:.1f} s")
    assert not layout, f"{name}: overlapping or cut:\n" + "\n".join(layout)
    assert not unmoved, f"{name}: " + "\n".join(unmoved)
    assert not errors, f"{name}: JavaScript console errors:\n" + json.dumps(errors, indent=1)[:3000]
