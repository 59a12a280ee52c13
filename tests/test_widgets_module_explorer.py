"""The tour's module explorer: peaks follow the controls; bad values go to the banner."""

from pimlab_widgets.module_explorer import module_explorer


def test_gap_follows_banks_and_burst_time():
    app = module_explorer()
    assert app.figure.layout.title.text.startswith("internal / external = 16x")
    assert list(app.figure.data[0].x) == [512, 32]
    assert app.set(banks=32)
    assert app.figure.layout.title.text.startswith("internal / external = 32x")
    assert app.set(banks=16, tBL=4)  # a slower bus: 32 B per 2 ns
    assert list(app.figure.data[0].x) == [512, 16]


def test_zero_gbuf_is_refused_and_figure_kept():
    app = module_explorer()
    assert not app.set(gbuf_entries=0)
    assert app.error == "GBuf entries must be an integer in [1, 4096]; got 0"
    assert "GBuf / channel</b>: 2,048 B" in app.figure.layout.annotations[-1].text
