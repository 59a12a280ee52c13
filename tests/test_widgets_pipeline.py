"""The Fig. 7 timeline builder and step-through app: drawn from the traces, state per cycle, bad knobs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab.figures.fig07 import fig7
from pimlab.isa import Kind
from pimlab.trace import check_hazards
from pimlab_widgets.pipeline import NOW_TRACE, PipelineStepper, command_label, fig7_figure, state_html, timeline_figure


@pytest.fixture(scope="module")
def app() -> PipelineStepper:
    return PipelineStepper()


def _bars(figure, panel: int):
    axis = "x" if panel == 0 else f"x{panel + 1}"
    return [t for t in figure.data if t.type == "bar" and t.xaxis == axis]


def _now(app: PipelineStepper):
    return [t for t in app.figure.data if t.name == NOW_TRACE]


def _static_closed_form(tCCDS, t_wr_inp, t_mac, t_rd_out):
    """docs/sources.md §6.1: W W W (c apart), t_WR, M M M, t_MAC, R, t_RD, M M M, t_MAC, R, t_RD."""
    return 6 * tCCDS + t_wr_inp + 2 * t_mac + 2 * t_rd_out


def test_command_labels_follow_fig7_names():
    assert [command_label(k, i) for k, i in ((Kind.WR_INP, 0), (Kind.MAC, 3), (Kind.RD_OUT, 6), (Kind.ACT, 12))] == [
        "W0", "M3", "R6", "ACT12"]


def test_every_command_is_a_bar_from_issue_to_done():
    data = fig7()
    figure = timeline_figure([data.static, data.dcs])
    for panel, trace in enumerate((data.static, data.dcs)):
        bars = _bars(figure, panel)
        base = np.concatenate([b.base for b in bars])
        width = np.concatenate([b.x for b in bars])
        names = sum((list(b.y) for b in bars), [])
        order = np.argsort([int(n[1:]) for n in names])
        rows = trace.of_commands()
        assert base[order].tolist() == trace.issue_cycles[rows].tolist()
        assert (base + width)[order].tolist() == trace.done_cycles[rows].tolist()
    assert figure.layout.annotations[0].text.endswith(f"{data.static_cycles} cycles")
    assert figure.layout.annotations[1].text.endswith(f"{data.dcs_cycles} cycles")


def test_static_figure_has_one_frame_per_cycle_with_the_cursor_there():
    data = fig7()
    figure = fig7_figure(data)
    end = max(data.static_cycles, data.dcs_cycles)
    assert len(figure.frames) == end + 1
    for cycle in (0, 4, end):
        frame = figure.frames[cycle]
        assert frame.layout.shapes[0].x0 == cycle and frame.layout.shapes[1].x0 == cycle
        issued = np.flatnonzero(data.dcs.issue_cycles == cycle)
        assert len(frame.data[1].y) == len(issued)


# Fig. 7(d) by hand (the reconstruction of docs/sources.md §6.1): DCS issue cycle of W0 W1 W2 M3 M4 M5 R6 M7 M8 M9 R10
FIG7_DCS_ISSUE = [0, 1, 2, 4, 5, 6, 9, 7, 8, 10, 13]
FIG7_QUEUES = {"I/O": [0, 1, 2, 6, 10], "compute": [3, 4, 5, 7, 8, 9]}


def _hand_state(cycle: int) -> tuple[list[int], dict]:
    """(commands issued at `cycle`, queued commands per queue) from the hand-worked schedule."""
    issued = [i for i, c in enumerate(FIG7_DCS_ISSUE) if c == cycle]
    return issued, {q: [i for i in ids if FIG7_DCS_ISSUE[i] > cycle] for q, ids in FIG7_QUEUES.items()}


def test_state_at_every_cycle_is_the_hand_worked_schedule(app):
    data = app.data
    bars = [t.to_plotly_json() for t in app.figure.data if t.type == "bar"]
    for cycle in range(app.end_cycle + 1):
        app.go(cycle)
        assert app.cycle == cycle
        issued, queues = _hand_state(cycle)
        assert [c["id"] for c in app.state()["issued"]] == issued and app.state()["queues"] == queues
        assert app.figure.layout.shapes[0].x0 == cycle and app.figure.layout.shapes[1].x1 == cycle + 1
        for marker, trace in zip(_now(app), (data.static, data.dcs)):
            now = trace.issue_cycles == cycle
            assert list(marker.y) == [
                command_label(k, i) for k, i in zip(trace.kind[now], trace.id[now])]
        for issued in data.dcs.state_at(cycle)["issued"]:
            assert f"<b>{command_label(Kind[issued['kind']], issued['id'])}</b>" in app.panel.value
    assert [t.to_plotly_json() for t in app.figure.data if t.type == "bar"] == bars  # a step redraws no bar
    app.go(0)


def test_panel_says_why_m3_issues_early():
    data = fig7()
    m3 = int(np.flatnonzero(data.dcs.id == 3)[0])
    w0_done = int(data.dcs.done_cycles[data.dcs.id == 0][0])
    assert data.dcs.issue_cycles[m3] == w0_done  # M3 issues the cycle W0 completes (before W2 does)
    text = state_html(data.dcs, w0_done, others=[data.static])
    assert "<b>M3</b>" in text and "data dependency: waited for W0" in text
    assert "GBuf 0" in text and "D-Table" in text and "S-Table" in text


def test_play_and_step_buttons_move_the_cursor(app):
    app.play.value = 5
    assert app.cycle == 5 and app.figure.layout.shapes[0].x0 == 5
    app.forward.click()
    assert app.cycle == 6
    app.back.click()
    app.back.click()
    assert app.cycle == 4
    app.go(10_000)
    assert app.cycle == app.end_cycle
    app.go(0)


def test_good_knobs_reschedule_and_redraw():
    app = PipelineStepper()
    knobs = dict(tCCDS=2, t_wr_inp=5, t_mac=2, t_rd_out=6)
    assert app.set(**knobs) and app.error == ""
    expected = fig7(**knobs)
    assert app.data.static_cycles == expected.static_cycles == _static_closed_form(**knobs)
    assert app.data.dcs_cycles == expected.dcs_cycles
    assert app.slider.max == app.play.max == max(expected.static_cycles, expected.dcs_cycles)
    assert app.figure.layout.annotations[1].text.endswith(f"{expected.dcs_cycles} cycles")


def test_gbuf_knob_reschedules_with_fewer_entries_and_back():
    app = PipelineStepper()
    assert app.values["gbuf_entries"] == 3 and app.data.gbuf_entries == 3
    assert app.set(gbuf_entries=2) and app.error == ""
    expected = fig7(gbuf_entries=2)
    assert app.data.gbuf_entries == 2 and app.data.static_cycles == expected.static_cycles
    assert app.data.dcs_cycles == expected.dcs_cycles and app.slider.max == app.end_cycle
    # two passes over the input (tiles 0-1, then tile 2): each output tile is read out once per pass
    assert (app.data.static.kind == Kind.RD_OUT).sum() == 4 and (app.data.static.kind == Kind.WR_INP).sum() == 3
    assert app.set(gbuf_entries=3) and (app.data.static_cycles, app.data.dcs_cycles) == (34, 22)


def test_knob_change_redraws_markers_and_tables_at_the_cursor():
    app = PipelineStepper()
    app.go(7)
    assert app.set(t_rd_out=5, t_wr_inp=6)
    assert app.cycle == 7 and app.panel.value == state_html(app.data.dcs, 7, others=[app.data.static])
    for marker, trace in zip(_now(app), (app.data.static, app.data.dcs)):
        now = trace.issue_cycles == 7
        assert list(marker.y) == [command_label(k, i) for k, i in zip(trace.kind[now], trace.id[now])]


def test_cursor_is_clipped_when_the_run_gets_shorter():
    app = PipelineStepper()
    app.go(app.end_cycle)
    assert app.set(t_rd_out=2)
    assert app.cycle == app.end_cycle == max(app.data.static_cycles, app.data.dcs_cycles)
    assert app.figure.layout.shapes[0].x0 == app.cycle
    assert app.panel.value == state_html(app.data.dcs, app.cycle, others=[app.data.static])


@pytest.mark.parametrize("knob, value, word", [("t_mac", 0, "t_MAC (cycles) must be an integer in [1, 64]"),
                                               ("tCCDS", 0, "tCCDS (cycles) must be an integer in [1, 16]"),
                                               ("t_rd_out", 1000, "t_RD-OUT (cycles) must be"),
                                               ("obuf_entries", 0, "DCS OBuf entries must be"),
                                               ("gbuf_entries", 0, "GBuf entries must be an integer in [1, 64]"),
                                               ("gbuf_entries", 65, "GBuf entries must be")])
def test_bad_knob_shows_in_banner_and_keeps_the_schedule(knob, value, word):
    app = PipelineStepper()
    app.go(7)
    before, data, good = app.figure.to_dict(), app.data, app.values[knob]
    assert not app.set(**{knob: value})
    assert word in app.error and str(value) in app.error
    assert app.banner.widget.layout.display is None
    assert app.data is data and app.figure.to_dict() == before
    app.go(8)  # the cursor still works on the last good schedule
    assert [c["id"] for c in app.state()["issued"]] == _hand_state(8)[0] == [8]
    assert app.set(**{knob: good}) and app.error == ""


@settings(max_examples=25, deadline=None)
@given(tCCDS=st.integers(1, 3), wr=st.integers(0, 6), mac=st.integers(0, 4), rd=st.integers(0, 10),
       obuf_entries=st.integers(1, 3), at=st.floats(0, 1))
def test_any_good_knobs_give_the_traces_state(tCCDS, wr, mac, rd, obuf_entries, at):
    # execution times of at least tCCDS: the regime where the closed form of docs/sources.md §6.1 holds
    t_wr_inp, t_mac, t_rd_out = tCCDS + wr, tCCDS + mac, tCCDS + rd
    app = _shared()
    knobs = dict(tCCDS=tCCDS, t_wr_inp=t_wr_inp, t_mac=t_mac, t_rd_out=t_rd_out, obuf_entries=obuf_entries)
    assert app.set(**knobs), app.error
    assert app.data.static_cycles == _static_closed_form(tCCDS, t_wr_inp, t_mac, t_rd_out)
    assert app.data.dcs_cycles <= app.data.static_cycles
    assert check_hazards(app.data.dcs_commands, app.data.dcs) == []  # the independent checker
    cycle = int(at * app.end_cycle)
    app.go(cycle)
    state = app.state()
    # each DCS queue issues in program order: what is still queued is a contiguous tail of the queue
    kinds = app.data.dcs_commands.kind
    for name, ids in state["queues"].items():
        queue = [i for i in range(len(kinds)) if (kinds[i] == Kind.MAC) == (name == "compute")]
        tail = queue[len(queue) - len([i for i in queue if i >= (ids[0] if ids else len(kinds))]):]
        assert ids == tail[:len(ids)] and all(c["id"] not in ids for c in state["issued"])


_APP: list[PipelineStepper] = []


def _shared() -> PipelineStepper:
    if not _APP:
        _APP.append(PipelineStepper())
    return _APP[0]


def test_a_typed_word_goes_to_the_banner():
    app = PipelineStepper()
    before = app.data.static_cycles, app.data.dcs_cycles
    assert not app.set(t_mac="fast", tCCDS=2)
    assert app.error == "t_MAC (cycles) must be an integer in [1, 64]; got 'fast'"
    assert (app.data.static_cycles, app.data.dcs_cycles) == before and app.values["tCCDS"] == 1
