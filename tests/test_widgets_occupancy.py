"""Tests of the ChannelOccupancy app and its static animated figure (pimlab_widgets.occupancy)."""

from __future__ import annotations

import numpy as np
import pytest

from pimlab.figures import fig06
from pimlab.figures.fig06 import IDLE, TOY, map_workload, occupancy_frames
from pimlab_widgets.occupancy import ChannelOccupancy, occupancy_figure


def test_frames_sample_the_timeline():
    mapping = fig06.fig6_toy().mapping("HFP-TP")
    data = occupancy_frames(mapping, frames=20, colour_by="request")
    busy = (data.grid >= 0).sum(axis=(1, 2))
    assert busy.tolist() == mapping.timeline.active_channels(data.times).tolist()
    assert set(np.unique(data.grid).tolist()) == {IDLE, 0, 1}
    assert (data.task[data.grid == IDLE] == -1).all()
    with pytest.raises(ValueError, match="colour_by must be one of"):
        occupancy_frames(mapping, colour_by="module")


def test_static_figure_animates_with_frames_slider_and_play():
    data = occupancy_frames(fig06.fig6_toy().mapping("TCP-PP"), frames=12)
    figure = occupancy_figure(data)
    assert len(figure.frames) == 12 and len(figure.layout.sliders[0].steps) == 12
    assert [b.label for b in figure.layout.updatemenus[0].buttons] == ["play", "pause"]
    assert np.array_equal(figure.frames[3].data[0].z, data.grid[3])
    assert figure.frames[3].data[1].x[0] == data.times[3]  # the cursor moves with the frame


def test_app_steps_in_time_without_mapping_again():
    app = ChannelOccupancy(frames=10)
    first = app.data
    title = app.figure.layout.title.text
    assert app.set(frame=4) and app.data is first
    assert app.figure.layout.title.text != title
    assert app.figure.data[2].x[0] == first.times[4]
    app.step()
    assert app.app.controls["frame"].value == 5 and app.figure.data[2].x[0] == first.times[5]


def test_app_switches_scheme_and_shows_bad_input_in_the_banner():
    app = ChannelOccupancy(frames=10, scheme="hfp", tp=2)
    hfp_z = np.asarray(app.figure.data[1].z, float)
    assert app.set(scheme="tcp") and not app.error
    assert not np.allclose(np.asarray(app.figure.data[1].z, float), hfp_z)
    before = np.asarray(app.figure.data[1].z, float)
    assert not app.set(tp=3)  # the toy has 2 modules: TP offers 1 and 2
    assert app.error == "TP must be one of 1, 2; got 3"
    assert np.allclose(np.asarray(app.figure.data[1].z, float), before)  # last good state kept
    assert not app.set(tp=2, lengths="15360, 10240, 15360, 15360, 15360")
    assert app.error.startswith("toy lengths must fit the toy's 2 modules x 4 channels together under TCP with TP 2; "
                                "got '15360, 10240, 15360, 15360, 15360': the batch does not fit"), app.error
    assert app.set(lengths="15360, 10240") and not app.error


def test_app_runs_a_table2_batch_on_a_bigger_system():
    app = ChannelOccupancy(workload="multifieldqa", modules=4, channels=16, batch=3, seed=1, tp=4, frames=8)
    assert app.data.grid.shape == (8, 4, 16) and not app.error
    assert app.set(tp=1) and "PP=4" in app.figure.layout.title.text
    assert len(app.static().frames) == 8


def test_workload_mapping_validates():
    with pytest.raises(ValueError, match="workload must be one of"):
        map_workload("nope", (1,), 1, 0, 1, 16, "tcp", 1)
    with pytest.raises(ValueError, match="tp must divide the 4 modules, got 3"):
        map_workload("QMSum", (), 1, 0, 4, 16, "tcp", 3)
    with pytest.raises(ValueError, match=r"context_tokens must be in \[1, "):
        map_workload(TOY, (0,), 1, 0, 1, 16, "tcp", 2)


def test_app_reports_unparsable_lengths_and_keeps_its_state():
    app = ChannelOccupancy(frames=6)
    before = app.data
    assert not app.set(lengths="12, x")
    assert app.error == "toy lengths must be comma-separated integers in [1, 32768]; got 'x' in '12, x'"
    assert app.data is before


def test_the_lists_and_the_batch_box_follow_what_the_modules_hold():
    """Against the mapper's own bisection (`mapping.max_batch`) on the same seeded requests: the batch box ends at
    the largest batch that fits, and a workload is offered only if the current batch fits under it."""
    from pimlab.hardware import Module, System
    from pimlab.mapping import max_batch
    from pimlab.workloads import DATASETS

    app = ChannelOccupancy(frames=6)  # the toy, TCP, TP 2; the dataset fields say 8 requests on 8 x 16 channels
    system = System("8 x 16", "pim-only", Module(channels=16), modules=8)
    holds = {d.name: max_batch(system, d.model, d.sample(64, 0), "tcp", 2, 4) for d in DATASETS}
    offered = set(app.controls["workload"]._options_values)
    assert offered == {TOY} | {name for name, n in holds.items() if n >= 8}
    assert holds["Musique"] < 8 and "Musique" not in offered  # 8 Musique requests do not fit under TCP
    assert app.set(workload="QMSum") and app.controls["batch"].max == holds["QMSum"]
    assert not app.set(batch=holds["QMSum"] + 1)
    assert app.error == f"batch must be an integer in [1, {holds['QMSum']}]; got {holds['QMSum'] + 1}"
    assert app.set(batch=holds["Musique"]) and "Musique" in app.controls["workload"]._options_values
    # a toy length the toy's 2 x 4 channels cannot hold is refused by the box, naming it and its range
    assert app.set(workload=TOY) and not app.set(lengths="40000")
    assert app.error == "toy lengths must be comma-separated integers in [1, 32768]; got '40000'"


def test_gantt_is_sent_as_typed_columns_of_every_channel_over_time():
    app = ChannelOccupancy(scheme="hfp", frames=6)  # the toy: 2 modules x 4 channels, some idle
    gantt, data = app.figure.data[1], app.data
    assert gantt.z.ndim == gantt.x.ndim == gantt.y.ndim == 1  # 1-D typed arrays reach the browser as buffers
    assert gantt.z.dtype == np.int16 and gantt.y.dtype == np.int32
    assert len(gantt.z) == 2 * 4 * 6 and {-1, 0, 1} <= set(gantt.z.tolist())
    for row, time, colour in zip(gantt.y.tolist(), gantt.x.tolist(), gantt.z.tolist()):
        frame = data.times.tolist().index(time)
        assert colour == data.grid[frame, row // 4, row % 4]
