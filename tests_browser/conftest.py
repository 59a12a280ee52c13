"""A Voila server over notebooks/ and a headless Chromium driven by Playwright (Debian's chromium)."""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LAB_TOKEN = "pimlab-browser-check"
# one screenshot per notebook, in JupyterLab at 800 px; printed at the end of the run
SHOTS = Path(os.environ.get("PIMLAB_SCREENSHOTS", Path(tempfile.gettempdir()) / "pimlab-screenshots"))
# no "news" toast over the page, and a notebook starts its kernel without asking (docs of JupyterLab's settings)
LAB_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false", "checkForUpdates": False},
                 "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True, "windowingMode": "none"},
                 "@jupyterlab/docmanager-extension:plugin": {"autosave": False}}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _serve(command, log_path, env, url):
    """Start a server, wait until `url` answers, yield it, then stop the server (by its own PID)."""
    log = open(log_path, "w")
    proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.time() + 90
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail(f"{command[2]} did not start: {Path(log_path).read_text()[-2000:]}")
            time.sleep(0.3)
    try:
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="session")
def lab_url(tmp_path_factory):
    """One JupyterLab server for every notebook (started once: ~3 s), over a copy of the kit's notebooks, docs
    and README laid out as in the repository: running them never writes outputs into the working tree."""
    home = tmp_path_factory.mktemp("lab")
    kit = home / "kit"
    for part in ("notebooks", "docs", "tests/data"):
        shutil.copytree(ROOT / part, kit / part, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(ROOT / "README.md", kit / "README.md")
    (home / "settings").mkdir()
    (home / "settings" / "overrides.json").write_text(json.dumps(LAB_OVERRIDES))
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    port = _free_port()
    command = [sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--ServerApp.token={LAB_TOKEN}", f"--ServerApp.root_dir={kit}",
               "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--LabApp.news_url=None",
               "--LabApp.extension_manager=readonly", "--LabApp.expose_app_in_browser=True",
               f"--LabApp.app_settings_dir={home / 'settings'}"]
    url = f"http://127.0.0.1:{port}"
    with _serve(command, home / "lab.log", env, f"{url}/api/status?token={LAB_TOKEN}"):
        yield url


@pytest.fixture(scope="session")
def voila_url(tmp_path_factory):
    home = tmp_path_factory.mktemp("jupyter")
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_CONFIG_DIR=str(home / "config"),
               JUPYTER_DATA_DIR=str(home / "data"))
    port = _free_port()
    command = [sys.executable, "-m", "voila", str(NOTEBOOKS), "--no-browser", f"--port={port}", "--Voila.ip=127.0.0.1",
               "--show_tracebacks=True"]
    url = f"http://127.0.0.1:{port}"
    with _serve(command, home / "voila.log", env, url):
        yield url


@pytest.fixture(scope="session")
def browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(tempfile.mkdtemp(prefix="pimlab-chromium-"),
                                                       executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
                                                       viewport={"width": 1280, "height": 900})
        yield context
        context.close()


@pytest.fixture
def page(browser, request):
    page = browser.new_page()
    yield page
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        page.screenshot(path=f"browser-failure-{request.node.name}.png", full_page=True)
    page.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.rep_call = report


def pytest_terminal_summary(terminalreporter):
    if SHOTS.is_dir():
        shots = sorted(SHOTS.glob("*.png"))
        terminalreporter.write_line(f"JupyterLab screenshots ({len(shots)}, 800 px wide): {SHOTS}")
