"""A slow update goes on in the background: "working..." with progress and Cancel, a newer change supersedes it,
Cancel restores the controls, errors reach the banner. A fake compute that blocks on events stands in for a slow
model, so nothing here depends on timing."""

import threading
import time

import ipywidgets as widgets
import plotly.graph_objects as go
import pytest

from pimlab.progress import Cancelled, report, reporting
from pimlab_widgets import LiveApp

SLOW = 10  # values >= SLOW block until the test opens the gate


class FakeModel:
    def __init__(self):
        self.gate, self.reported, self.resume = threading.Event(), threading.Event(), threading.Event()
        self.resume.set()
        self.stopped, self.finished, self.drawn = [], [], []

    def compute(self, n):
        if n >= SLOW:
            self.gate.wait()
            try:
                report(1, 4)  # a chunk boundary: a cancelled or superseded update stops here
            except Cancelled:
                self.stopped.append(n)
                raise
            self.reported.set()
            self.resume.wait()
        if n == 12:
            raise ValueError(f"n must not be 12, got {n}")
        if n == 13:
            raise RuntimeError("the model broke")
        self.finished.append(n)
        return [n, n + 1]

    def draw(self, ys):
        self.drawn.append(ys[0])
        return go.Figure(go.Bar(y=ys))


@pytest.fixture
def app_and_model():
    model = FakeModel()
    app = LiveApp({"n": widgets.IntSlider(value=1, min=0, max=20)}, model.compute, model.draw)
    app.patience_s = 0  # as in a kernel, with no patience: every UI change goes to the background
    yield app, model
    model.gate.set()
    model.resume.set()
    app.wait()


def test_a_slow_change_shows_working_and_keeps_the_figure_until_it_is_ready(app_and_model):
    app, model = app_and_model
    app.controls["n"].value = SLOW
    assert app.working.shown and list(app.figure.data[0].y) == [1, 2]
    model.gate.set()
    assert app.wait()
    assert list(app.figure.data[0].y) == [SLOW, SLOW + 1] and not app.working.shown and app.error == ""


def test_progress_is_shown_while_working(app_and_model):
    app, model = app_and_model
    model.resume.clear()
    app.controls["n"].value = SLOW
    model.gate.set()
    model.reported.wait()
    assert (app.working.bar.value, app.working.bar.max) == (1, 4) and "1 of 4 parts" in app.working.text.value
    model.resume.set()
    assert app.wait() and not app.working.shown


def test_cancel_restores_the_controls_and_stops_the_computation(app_and_model):
    app, model = app_and_model
    app.controls["n"].value = SLOW
    app.working.button.click()
    assert app.controls["n"].value == 1 and not app.working.shown
    assert app.error.startswith("update cancelled")
    assert model.finished == [1]  # restoring the controls did not recompute
    model.gate.set()
    app.wait()
    while not model.stopped:  # the worker reaches its next report and stops there
        threading.Event().wait(0.01)
    assert model.stopped == [SLOW] and model.finished == [1] and list(app.figure.data[0].y) == [1, 2]


def test_a_newer_change_supersedes_the_running_one(app_and_model):
    app, model = app_and_model
    app.controls["n"].value = SLOW
    app.controls["n"].value = SLOW + 1
    model.gate.set()
    assert app.wait()
    assert list(app.figure.data[0].y) == [SLOW + 1, SLOW + 2]
    assert SLOW not in model.drawn and app.controls["n"].value == SLOW + 1


@pytest.mark.parametrize("n, message", [(12, "n must not be 12, got 12"), (13, "RuntimeError: the model broke")])
def test_a_background_error_goes_to_the_banner(app_and_model, n, message):
    app, model = app_and_model
    app.controls["n"].value = n
    model.gate.set()
    assert not app.wait()
    assert app.error == message and list(app.figure.data[0].y) == [1, 2] and not app.working.shown
    app.controls["n"].value = 2
    assert app.wait() and list(app.figure.data[0].y) == [2, 3]


def test_set_is_synchronous_and_supersedes_a_background_update(app_and_model):
    app, model = app_and_model
    app.controls["n"].value = SLOW
    assert app.working.shown
    assert app.set(n=3) and list(app.figure.data[0].y) == [3, 4] and not app.working.shown
    model.gate.set()
    app.wait()
    assert list(app.figure.data[0].y) == [3, 4] and SLOW not in model.drawn


def test_without_a_kernel_updates_are_synchronous():
    model = FakeModel()
    model.gate.set()
    app = LiveApp({"n": widgets.IntSlider(value=1, min=0, max=20)}, model.compute, model.draw)
    assert app.patience_s is None
    app.controls["n"].value = SLOW
    assert list(app.figure.data[0].y) == [SLOW, SLOW + 1]  # no wait needed


def test_reporting_is_scoped_to_its_block_and_thread():
    seen = []
    with reporting(lambda done, total: seen.append((done, total))):
        report(1, 2)
        worker = threading.Thread(target=report, args=(5, 6))
        worker.start()
        worker.join()
    report(2, 2)
    assert seen == [(1, 2)]


def test_in_a_kernel_the_first_build_runs_in_the_background_and_shows_working(monkeypatch):
    """A first figure slower than the patience: the app is returned at once with "working..." shown; `figure` and
    `data` wait for the first figure; a change made meanwhile supersedes the first build."""
    import pimlab_widgets.app as app_module

    monkeypatch.setattr(app_module, "_in_kernel", lambda: True)
    release = threading.Event()

    def compute(n):
        release.wait(5)
        return n

    start = time.perf_counter()
    app = LiveApp({"n": widgets.IntSlider(value=2, min=1, max=9)}, compute,
                  lambda n: go.Figure(go.Bar(y=list(range(n)))))
    assert time.perf_counter() - start < 2 and app.working.shown and "first figure" in app.working.text.value
    assert len(app._figure.data) == 0  # the "building" placeholder
    release.set()
    assert len(app.figure.data) == 1 and list(app.figure.data[0].y) == [0, 1] and app.data == 2
    assert not app.working.shown and not app.error

    release.clear()
    other = LiveApp({"n": widgets.IntSlider(value=2, min=1, max=9)}, compute,
                    lambda n: go.Figure(go.Bar(y=list(range(n)))))
    release.set()
    assert other.set(n=4) and list(other.figure.data[0].y) == [0, 1, 2, 3] and other.data == 4
    other.wait()
    assert other.data == 4  # the superseded first build did not draw over it
