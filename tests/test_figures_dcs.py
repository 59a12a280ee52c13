"""Figures of the command engine: Fig. 7, 8, 9 and 18 against the paper and their qualitative claims."""

import numpy as np
import pytest

from pimlab import paper
from pimlab.figures import fig07, fig08, fig09, fig18
from pimlab.trace import check_hazards


def test_fig7_reconstruction_gives_the_papers_cycles():
    data = fig07.fig7()
    assert paper.FIG7_STATIC_CYCLES.within(data.static_cycles)  # tolerance 0: exact
    assert paper.FIG7_DCS_CYCLES.within(data.dcs_cycles)
    assert check_hazards(data.dcs_commands, data.dcs) == []
    assert [r.status for r in fig07.scorecard()] == ["within", "within"]


def test_fig7_knobs_change_the_result_and_reject_bad_values():
    slower = fig07.fig7(t_rd_out=12)
    assert slower.static_cycles > fig07.fig7().static_cycles
    with pytest.raises(ValueError, match="t_mac"):
        fig07.fig7(t_mac=0)


def test_fig7_gbuf_entries_knob():
    assert (fig07.fig7(gbuf_entries=3).static_cycles, fig07.fig7(gbuf_entries=3).dcs_cycles) == (34, 22)
    assert fig07.fig7(gbuf_entries=64).static_cycles == 34  # more entries than tiles change nothing
    small = [fig07.fig7(gbuf_entries=g) for g in (2, 1)]
    assert 34 < small[0].static_cycles < small[1].static_cycles  # the input streams in more passes
    for data in small:
        assert data.gbuf_entries == int(data.static_commands.gbuf.max()) + 1
        assert check_hazards(data.dcs_commands, data.dcs) == [] and data.dcs_cycles <= data.static_cycles
    for bad in (0, 65):
        with pytest.raises(ValueError, match=f"gbuf_entries .*{bad}"):
            fig07.fig7(gbuf_entries=bad)


@pytest.mark.parametrize("dim, repeats, entries, rows", [(64, 40, 2, 16384), (100, 7, 3, 16384), (512, 9, 2, 40)])
def test_gemv_stream_is_the_gemvs_compiled_one_after_another(dim, repeats, entries, rows):
    from pimlab.hardware import Module
    from pimlab.isa import compile_gemv, expand

    module = Module(rows=rows)
    instructions, first_row = [], 0
    for _ in range(repeats):  # each GEMV on its own rows, wrapping around the channel
        part = compile_gemv(dim, dim, module=module, obuf_entries=entries, first_row=first_row)
        used = max(i.row for i in part if i.row >= 0) - first_row + 1
        first_row = (first_row + used) % max(1, module.rows - used)
        instructions += part
    expected, stream = expand(instructions, 0), fig08.gemv_stream(dim, repeats, entries, module)
    for name in ("kind", "gbuf", "obuf", "row", "col", "instr"):
        assert np.array_equal(getattr(stream, name), getattr(expected, name)), name


@pytest.fixture(scope="module")
def fig8_data():
    return fig08.fig8(dims=(64, 128, 256, 512))


def test_fig8_static_utilization_at_head_dim_and_trend(fig8_data):
    at_128 = 100 * fig8_data.static_utilization[list(fig8_data.dims).index(128)]
    assert paper.FIG8_STATIC_MAC_UTIL_D128.within(at_128)  # issue 3: within 3 points
    assert np.all(np.diff(fig8_data.static_utilization) > 0)  # falls as dimensions shrink
    assert np.all(fig8_data.dcs_utilization > 1.4 * fig8_data.static_utilization)  # DCS clearly higher
    totals = fig8_data.static_breakdown.sum(axis=1)
    assert np.all(totals > 0) and fig8_data.breakdown.shape == (4, 4, 6)


def test_fig8_splits_dcs_gain_into_mode_switch_and_out_of_order(fig8_data):
    util = {v: fig8_data.of(v)[1] for v in fig8_data.variants}
    # dropping the mode switch alone recovers most of the gap; DCS and ping-pong add the rest
    assert np.all(util["static"] < util["static, no mode switch"])
    assert np.all(util["static, no mode switch"] <= util["DCS"]) and np.all(util["ping-pong"] <= util["DCS"])
    # the mode switch is the only difference between the first two: same MAC work, fewer cycles
    mac = fig8_data.breakdown[:, :2, fig8_data.keys.index("MAC")]
    assert (mac[:, 0] == mac[:, 1]).all()


def test_fig8_small_dims_are_dominated_by_stalls_and_io(fig8_data):
    keys = list(fig8_data.keys)
    share = fig8_data.static_breakdown / fig8_data.static_breakdown.sum(axis=1, keepdims=True)
    stalls = sum(share[:, keys.index(k)] for k in ("Pipeline penalty", "DT-GBuf", "DT-OutReg"))
    assert stalls[0] > stalls[-1] and stalls[list(fig8_data.dims).index(128)] > 0.5


def test_fig9_row_reuse_raises_dt_gbuf_under_static_and_dcs_hides_it():
    data = fig09.fig9(groups=(1, 4), tokens=512)
    gbuf, act = data.part("DT-GBuf"), data.part("ACT/PRE")
    static, dcs, plain, reuse = 0, 1, 0, 1
    g4 = 1
    assert gbuf[g4, reuse, static] > 2 * gbuf[g4, plain, static]
    assert act[g4, reuse, static] < act[g4, plain, static]
    assert gbuf[g4, reuse, dcs] < 0.2 * gbuf[g4, reuse, static]
    assert data.total_cycles[g4, reuse, dcs] < data.total_cycles[g4, plain, dcs]  # DCS turns reuse into a gain
    assert (data.total_cycles[0, reuse] == data.total_cycles[0, plain]).all()  # MHA: nothing to reuse


def test_fig18_dcs_beats_pingpong_by_up_to_about_the_papers_ratio():
    data = fig18.fig18(variants=("ping-pong", "DCS"))
    ratio = data.dcs_over_pingpong("plain")
    assert np.all(ratio > 1.0)
    piped = data.dcs_over_pingpong("software-pipelined")
    assert np.all(piped > 1.0)
    assert paper.FIG18_DCS_OVER_PINGPONG.within(ratio.max(), low=min(ratio.max(), piped.max()))
    with pytest.raises(ValueError, match="obuf_entries"):
        fig18.fig18(obuf_entries=1)


@pytest.mark.parametrize("call, word", [
    (lambda: fig08.fig8(dims=()), "dims"), (lambda: fig08.fig8(dims=(8,)), "dim"),
    (lambda: fig09.fig9(groups=(0,)), "group"), (lambda: fig18.fig18(tokens=4), "tokens"),
    (lambda: fig09.fig9(groups=()), r"groups must name at least one group in \[1, 16\], got none"),
    (lambda: fig18.fig18(groups=(2, 17)), r"group must be an integer in \[1, 16\], got 17"),
])
def test_figure_functions_reject_bad_input(call, word):
    with pytest.raises(ValueError, match=word):
        call()


def test_fig18_software_pipelined_pingpong_narrows_the_gap():
    data = fig18.fig18(groups=(8,), variants=("ping-pong", "DCS"))
    plain, early = data.of("ping-pong", "plain")[0], data.of("ping-pong", "software-pipelined")[0]
    assert early[0] > plain[0]
    assert 1.0 < data.dcs_over_pingpong("software-pipelined")[0] < data.dcs_over_pingpong("plain")[0]
