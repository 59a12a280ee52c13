"""ChunkMap: the animated static figure, the live app and its VA2PA inspector."""

import numpy as np
import plotly.graph_objects as go

from pimlab.figures.fig19 import chunk_maps
from pimlab.workloads import LOOGLE_SD
from pimlab_widgets.chunkmap import _grid, chunkmap_app, chunkmap_figure, chunkmap_view


def test_grid_bands():
    owner = np.array([-1, 0, 0, 11, 3])
    used = np.array([False, True, False, True, True])
    grid = _grid(owner, used, columns=4)
    # free 0; request 0 in use 1, reserved 2; request 11 -> colour 1 in use 3; request 3 in use 7; -1 past the end
    assert grid.shape == (2, 4) and grid[0].tolist() == [0, 1, 2, 3] and grid[1, 0] == 7 and (grid[1, 1:] == -1).all()


def test_static_figure_animates_both_maps():
    data = chunk_maps(requests=60, frames=6)
    figure = chunkmap_figure(data)
    assert isinstance(figure, go.Figure) and len(figure.frames) == data.step.size
    assert figure.layout.updatemenus[0].buttons[0].label == "play"
    static_z, dpa_z = figure.frames[-1].data
    assert np.array_equal(dpa_z.z, _grid(data.dpa_owner[-1], data.dpa_owner[-1] >= 0, data.columns))
    assert "% live" in figure.frames[2].layout.annotations[1].text
    assert not chunkmap_figure(data, animate=False).frames


def test_view_translates_through_va2pa():
    view = chunkmap_view(frame=5, va=0)
    request, va, pa = view.inspect
    assert request == view.data.requests(5)[0] and view.data.dpa_owner[5, pa] == request


def test_app_updates_and_keeps_last_good_state_on_bad_input():
    app = chunkmap_app()
    assert app.set(frame=3, va=1) and app.error == ""
    request, _, pa = app.data.inspect
    ring = app.figure.data[2]
    assert (ring.x[0], ring.y[0]) == (pa % 64, pa // 64) and f"VA 1 → PA {pa}" in app.figure.layout.title.text
    title = app.figure.layout.title.text
    assert not app.set(request=123456)
    assert app.error.startswith("request must be one of first running, R9, ") and app.error.endswith("got 123456")
    assert app.figure.layout.title.text == title
    assert not app.set(request=-1, va=10**6)
    assert app.error == "VA must be an integer in [0, 511]; got 1000000" and app.figure.layout.title.text == title
    assert app.set(va=0, dataset=LOOGLE_SD, admission_headroom=0.1) and app.error == ""
    assert "Loogle-SD" in app.figure.layout.title.text
