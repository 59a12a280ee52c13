"""Tests of pimlab.mapping (HFP / TCP under TP and PP) and of Fig. 6's figure data."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pimlab import paper
from pimlab.figures import fig06
from pimlab.hardware import AIM, Module, System
from pimlab.mapping import (
    SCHEMES,
    CapacityError,
    EngineCost,
    PeakRateCost,
    admit,
    engine_available,
    full_activation_tokens,
    kv_rows,
    map_batch,
    max_batch,
    place,
    sv_grid,
    tcp_active_channels,
    tile_cycles,
)
from pimlab.models import LLM, LLM_7B_32K
from pimlab.reproduce import compare
from pimlab.workloads import MULTIFIELDQA

TOY, TOY_MODEL, TOY_CONTEXT = fig06.TOY_SYSTEM, fig06.TOY_MODEL, fig06.TOY_CONTEXT


def small_model(layers=2, kv_heads=2, head_dim=32, group=1) -> LLM:
    return LLM("test", layers=layers, heads=kv_heads * group, kv_heads=kv_heads, head_dim=head_dim, hidden=64,
               ffn=64, context_window=1 << 20, vocab=16)


# --- costs and layout, by hand -----------------------------------------------------------------------------
def test_peak_rate_cost_counts_mac_commands():
    cost = PeakRateCost(AIM)
    # QK^T, 16 tokens (one per bank), d_h 128 = 8 columns of 16 lanes: 8 MACs x tCCD 2
    assert cost.cycles("qk", 16, 128) == 16
    assert cost.cycles("qk", 17, 128) == 32  # a second token tile
    # SV, 32 scores = 2 tiles of 16 lanes, 16 output dims = one bank each: 2 MACs x 2
    assert cost.cycles("sv", 32, 16) == 4
    assert cost.cycles("sv", 32, 16, group=4) == 16  # each query head of a GQA group repeats the MACs
    assert cost.cycles("qk", 0, 128) == 0


def test_tile_cycles_asks_once_per_distinct_tile():
    calls = []

    class Counting(PeakRateCost):
        def cycles(self, *args):
            calls.append(args)
            return super().cycles(*args)

    got = tile_cycles(Counting(), np.array([0, 0, 1, 0]), np.array([16, 16, 32, 16]), np.array([128, 128, 16, 128]))
    assert got.tolist() == [16, 16, 4, 16]
    assert len(calls) == 2


def test_kv_rows_follow_the_aim_layout():
    # K: a row of one bank holds 1024 / 128 = 8 keys, 16 banks -> 128 tokens per all-bank row
    assert kv_rows(AIM, np.array([0, 0]), np.array([128, 129]), np.array([128, 128])).tolist() == [1, 2]
    # V: bank b holds dim b; a bank row holds 1024 tokens; 128 dims = 8 groups of 16 banks
    assert kv_rows(AIM, np.array([1, 1]), np.array([1024, 1025]), np.array([128, 16])).tolist() == [8, 2]


def test_sv_grid_splits_output_tiles_then_tokens():
    assert sv_grid(AIM, 128) == (8, 2)  # 8 output tiles of 16 dims, 2 token segments
    assert sv_grid(Module(channels=4), 32) == (2, 2)
    assert sv_grid(Module(channels=4), 128) == (4, 1)


# --- Fig. 6's toy, checked by hand -------------------------------------------------------------------------
def test_toy_hfp_tp_pins_requests_to_channels_as_in_fig6b():
    p = place(TOY, TOY_MODEL, TOY_CONTEXT, "hfp", tp=2, pp=1)
    for module in range(2):
        mine = p.module_index == module
        assert set(p.channel[mine & (p.request == 0)].tolist()) == {0, 1}  # request 1 of the paper
        assert set(p.channel[mine & (p.request == 1)].tolist()) == {2, 3}  # request 2: channels 2 and 3
        assert set(p.head[mine].tolist()) == {module}  # TP: one head per module


def test_toy_hfp_tp_cycles_by_hand():
    m = map_batch(TOY, TOY_MODEL, TOY_CONTEXT, "hfp", tp=2, pp=1)
    # request 0, one layer: QK^T 15360/16 tiles x 2 columns x 2 cycles + SV 15360/16 tiles x 2 output tiles x 2
    per_layer = 2 * (15360 // 16) * 2 * 2
    assert m.timeline.makespan_cycles == 2 * per_layer
    short = 2 * (10240 // 16) * 2 * 2
    busy = m.timeline.channel_busy_cycles
    assert busy.tolist() == [[per_layer, per_layer, short, short]] * 2
    assert m.utilization == pytest.approx((2 * per_layer + 2 * short) / (4 * 2 * per_layer))


def test_hfp_tp_idles_the_channels_of_the_shorter_request():
    t = map_batch(TOY, TOY_MODEL, TOY_CONTEXT, "hfp", tp=2, pp=1).timeline
    layer_end = t.makespan_cycles // 2
    just_before = t.occupancy([layer_end - 1])[0]
    short = (t.request == 1)
    assert not short[just_before[just_before >= 0]].any()  # at the end of layer 1 only request 1's channels run
    assert t.channel_busy_cycles[:, 2:].sum() < t.channel_busy_cycles[:, :2].sum()


def test_hfp_pp_leaves_most_channels_idle_per_stage_and_tcp_keeps_all_active():
    data = fig06.fig6_toy()
    by = dict(zip(data.labels, data.active_fraction))
    assert by["HFP-PP"] <= 0.5  # each stage works on one request: its 2 of 4 channels
    assert by["HFP-TP"] < 0.5
    assert by["TCP-TP"] > 0.99 and by["TCP-PP"] > 0.99
    bubbles = dict(zip(data.labels, data.bubble_fraction))
    assert bubbles["HFP-PP"] > 0 and bubbles["TCP-PP"] > 0 and bubbles["HFP-TP"] == 0


def test_paper_scale_shows_the_same_pattern():
    data = fig06.fig6_paper_scale(modules=4, requests=6)
    by = dict(zip(data.labels, data.active_fraction))
    assert by["HFP-PP"] <= 0.5 and by["HFP-TP"] < 0.5  # 8 KV heads of LLM-7B-128K-GQA on 16 channels
    assert by["TCP-TP"] > 0.99 and by["TCP-PP"] > 0.99
    util = dict(zip(data.labels, data.utilization))
    assert util["TCP-TP"] > util["HFP-TP"] and util["TCP-PP"] > util["HFP-PP"]


def test_hfp_pp_idles_most_channels_of_a_cent_sized_module():
    system = System("4 x 32 channels", "pim-only", Module(channels=32), modules=4)
    model = MULTIFIELDQA.model  # 8 KV heads: one request's stage work covers 8 of 32 channels
    lengths = MULTIFIELDQA.sample(3, 0)
    data = fig06.fig6(system, model, lengths, configs=(("hfp", "pp"), ("tcp", "pp")))
    hfp, tcp = data.active_fraction
    assert hfp <= 0.25 and tcp > 0.99


def test_tcp_splits_the_worked_example():
    example = fig06.tcp_example()
    assert example["qk_tokens_per_channel"] == 16384 // 4
    assert example["sv_tokens_per_channel"] == 16384 // 2  # 2 output tiles x 2 token segments on 4 channels
    assert example["sv_output_dims_per_channel"] == 16


def test_locate_follows_the_layout():
    one = small_model(layers=1, kv_heads=1, head_dim=32)
    p = place(System("one", "pim-only", Module(channels=4), modules=1), one, [16384], "tcp")
    # token 5000 is in channel 1's K segment [4096, 8192); bank 904 % 16; 32 keys per bank row
    assert p.locate(0, 0, 0, 5000) == {"module": 0, "channel": 1, "bank": 8, "row": (904 // 16) // 32}
    # V: dim 20 is in output group 1 (channels 2, 3), token 9000 in segment 1 -> channel 3, bank 4
    where = p.locate(0, 0, 0, 9000, "V", dim=20)
    assert (where["channel"], where["bank"]) == (3, 4)
    with pytest.raises(ValueError, match="token must be"):
        p.locate(0, 0, 0, 16384)


# --- activation thresholds, the scorecard --------------------------------------------------------------------
def test_activation_curves_are_monotone_and_reach_all_channels():
    th = fig06.fig6_thresholds()
    for curve in (th.qk_active, th.qk_full, th.sv_active, th.sv_full):
        assert np.all(np.diff(curve) >= 0) and curve[-1] == AIM.channels
    assert np.all(th.hfp_active == 1)
    active, _ = tcp_active_channels(AIM, 128, [1, 16, 17, 255], "qk")
    assert active.tolist() == [1, 1, 2, 16]


def test_full_activation_thresholds_against_the_paper():
    # tolerance 0 in pimlab.paper: a closed-form consequence of 16 channels x 16 banks and d_h = 128
    for number, op in ((paper.TCP_QK_FULL_ACTIVATION, "qk"), (paper.TCP_SV_FULL_ACTIVATION, "sv")):
        record = compare(number, full_activation_tokens(AIM, 128, op))
        assert record.status == "within", record


def test_hub_reduces_each_heads_partial_sums_once_per_layer():
    # d_h 128 on 16 channels: 8 output-tile groups x 2 token segments, so each (request, layer, head) leaves 2
    # partial sums per output tile: (2 - 1) x 8 tiles x 1 cycle per tile of HUB work, once per layer
    model = LLM("one head", layers=2, heads=1, kv_heads=1, head_dim=128, hidden=16, ffn=16, context_window=1 << 20,
                vocab=1)
    t = map_batch(System("one", "pim-only", AIM, modules=1), model, [4096, 20], "tcp").timeline
    assert t.hub_request.tolist().count(0) == 2 and t.reduction_cycles == 2 * 8 * 2
    assert np.all(t.hub_stop - t.hub_start == 8)  # 20 tokens = 2 tiles: one per segment, both active


def test_sv_reduction_share_against_the_paper():
    # the paper's 0.2% is an upper bound: pimlab.paper accepts [0, 0.2] %
    for cost in (PeakRateCost(AIM), None):
        share = fig06.sv_reduction_share(cost=cost)
        assert 0 < share and compare(paper.TCP_SV_REDUCTION_SHARE, share).status == "within"


def test_scorecard_reports_the_example_gap():
    rows = {r.quantity: r for r in fig06.scorecard()}
    assert len(rows) == 5
    sv = [r for q, r in rows.items() if "SV tokens" in q][0]
    assert sv.status == "gap" and sv.pimlab_value == 4 * sv.paper_value  # explained in the notebook


@pytest.mark.skipif(not engine_available(), reason="command engine not importable")
def test_engine_cost_is_slower_than_peak_and_cached():
    engine, peak = EngineCost(AIM), PeakRateCost(AIM)
    assert engine.cycles("qk", 256, 128) > peak.cycles("qk", 256, 128)
    assert engine.cycles("sv", 512, 16, policy="dcs") <= engine.cycles("sv", 512, 16, policy="static")


# --- capacity and admission ------------------------------------------------------------------------------------
def test_a_batch_that_does_not_fit_says_needed_and_available():
    for scheme in SCHEMES:
        with pytest.raises(CapacityError, match="needs .* GiB .* available") as error:
            place(TOY, TOY_MODEL, [15360, 10240, 15360, 15360, 15360], scheme, tp=2, pp=1)
        assert error.value.needed_bytes > error.value.available_bytes or scheme == "hfp"


def test_admission_returns_the_largest_prefix_that_fits():
    lengths = [15360, 10240, 12000, 15360, 4000]
    got = admit(TOY, TOY_MODEL, lengths, tp=2, pp=1)
    for scheme, n in got.items():
        place(TOY, TOY_MODEL, lengths[:n], scheme, 2, 1)
        if n < len(lengths):
            with pytest.raises(CapacityError):
                place(TOY, TOY_MODEL, lengths[:n + 1], scheme, 2, 1)
    assert got["hfp"] == 2 and got["tcp"] >= got["hfp"]
    assert max_batch(TOY, TOY_MODEL, [10**6], "tcp", 2, 1) == 0


def test_weights_take_rows_when_asked():
    system = System("s", "pim-only", AIM, modules=8)
    lengths = [8192] * 64
    assert max_batch(system, LLM_7B_32K, lengths, "tcp", 8, 1, weights_in_pim=True) < max_batch(
        system, LLM_7B_32K, lengths, "tcp", 8, 1)


@pytest.mark.parametrize("kwargs, match", [
    (dict(scheme="xyz"), "scheme must be one of"),
    (dict(tp=2, pp=2), "tp x pp must equal"),
    (dict(tp=4, pp=1), "tp must be an integer"),
    (dict(context_tokens=[0]), "context_tokens must be in"),
    (dict(micro_batches=3), "micro_batches must be"),
    (dict(policy="fast"), "policy must be one of"),
    (dict(cost=object()), "cost must be a TileCost"),
])
def test_bad_input_names_the_parameter(kwargs, match):
    args = dict(system=TOY, model=TOY_MODEL, context_tokens=list(TOY_CONTEXT), scheme="tcp", tp=2, pp=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        map_batch(**args)


# --- properties ---------------------------------------------------------------------------------------------------
@st.composite
def workloads(draw, long=False):
    channels = draw(st.sampled_from([2, 4, 8, 16]))
    modules = draw(st.sampled_from([1, 2, 4]))
    layers = draw(st.integers(1, 4))
    kv_heads = draw(st.integers(1, 4))
    head_dim = draw(st.sampled_from([64, 128] if long else [16, 32, 64, 128]))
    tp = draw(st.sampled_from([d for d in (1, 2, 4) if modules % d == 0 and d <= kv_heads]))
    pp = modules // tp
    assume(pp <= layers)
    if long:  # the long-context regime, tile-aligned: even splits of heads and layers
        assume(kv_heads % tp == 0 and layers % pp == 0 and channels <= 16)
        lengths = draw(st.lists(st.integers(4, 32).map(lambda k: 256 * k), min_size=1, max_size=4))
    else:
        lengths = draw(st.lists(st.integers(1, 5000), min_size=1, max_size=4))
    rows = draw(st.sampled_from([64, 256, 1024]))
    system = System("h", "pim-only", Module(channels=channels, rows=rows), modules=modules)
    return system, small_model(layers, kv_heads, head_dim), lengths, tp, pp


def _check_placement(p, lengths):
    tasks = {}
    for i in range(len(p)):
        key = (int(p.request[i]), int(p.layer[i]), int(p.head[i]), int(p.tensor[i]), int(p.dim_start[i]))
        tasks.setdefault(key, []).append((int(p.token_start[i]), int(p.token_stop[i]), int(p.dim_stop[i])))
    n_requests = len(lengths)
    for r in range(n_requests):
        for layer in range(p.layers):
            for head in range(p.kv_heads):
                for tensor in (0, 1):
                    groups = sorted(d for (r_, l_, h_, t_, d) in tasks if (r_, l_, h_, t_) == (r, layer, head, tensor))
                    dims_covered = 0
                    for d in groups:  # the dim groups tile [0, head_dim) and each group's ranges tile [0, T)
                        ranges = sorted(tasks[(r, layer, head, tensor, d)])
                        assert d == dims_covered
                        dims_covered = ranges[0][2]
                        assert ranges[0][0] == 0 and ranges[-1][1] == lengths[r]
                        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))  # exactly once
                    assert dims_covered == p.head_dim
    used = p.rows_used()
    assert used.max(initial=0) <= p.available_rows
    lane = p.module_index * p.module.channels + p.channel
    order = np.lexsort((p.row_start, lane))
    same = lane[order][1:] == lane[order][:-1]
    assert np.all(p.row_start[order][1:][same] >= p.row_stop[order][:-1][same])  # rows never overlap


@settings(max_examples=40, deadline=None)
@given(workloads(), st.sampled_from(SCHEMES))
def test_every_token_placed_once_and_capacity_respected(workload, scheme):
    system, model, lengths, tp, pp = workload
    try:
        m = map_batch(system, model, lengths, scheme, tp, pp)
    except CapacityError as error:
        assert "available" in str(error)
        return
    _check_placement(m.placement, lengths)
    t = m.timeline
    for value in (t.utilization, t.active_fraction, t.bubble_fraction, t.reduction_share):
        assert 0.0 <= value <= 1.0
    lane = t.module * t.channels + t.channel
    same = lane[1:] == lane[:-1]
    assert np.all(t.start[1:][same] >= t.stop[:-1][same])  # a channel runs one piece at a time
    assert t.stop.max(initial=0) <= t.makespan_cycles and t.hub_stop.max(initial=0) <= t.makespan_cycles
    assert m.channel_work_cycles().sum() == (t.stop - t.start).sum()


@settings(max_examples=40, deadline=None)
@given(workloads(long=True))
def test_tcp_utilization_at_least_hfp_when_hfp_idles_a_channel(workload):
    system, model, lengths, tp, pp = workload
    try:
        hfp = map_batch(system, model, lengths, "hfp", tp, pp)
        tcp = map_batch(system, model, lengths, "tcp", tp, pp)
    except CapacityError:
        assume(False)
    pairs_per_module = len(lengths) * model.kv_heads // tp
    hfp_idles = hfp.timeline.active_fraction < 1  # some channel waits while its module works
    assume(hfp_idles and (pairs_per_module < system.module.channels or len(set(lengths)) > 1))
    assert tcp.utilization >= hfp.utilization


# --- compact storage: each module shape once, expanded per module on demand -----------------------------------
def test_modules_of_one_shape_share_their_pieces():
    p = place(TOY, TOY_MODEL, TOY_CONTEXT, "tcp", tp=2, pp=1)
    assert p.module_shape.tolist() == [0, 0]  # one head per module: both modules have the same shape
    one = p.module_index == 0
    assert len(p) == p.request.size == 2 * one.sum()
    for name in ("request", "layer", "tensor", "channel", "token_start", "token_stop", "row_start", "row_stop"):
        assert np.array_equal(getattr(p, name)[one], getattr(p, name)[~one])
    assert np.array_equal(p.head[one] + 1, p.head[~one])  # module 1 holds the second head
    uneven = place(System("s", "pim-only", Module(channels=4), modules=2), small_model(layers=3), [100], "tcp", 1, 2)
    assert uneven.module_shape.tolist() == [0, 1]  # PP: stages of 2 and 1 layers
    assert sorted(set(uneven.layer[uneven.module_index == 1].tolist())) == [2]


@settings(max_examples=30, deadline=None)
@given(workloads(), st.sampled_from(SCHEMES), st.integers(0, 2**16))
def test_compact_results_match_the_expanded_columns(workload, scheme, seed):
    system, model, lengths, tp, pp = workload
    try:
        m = map_batch(system, model, lengths, scheme, tp, pp)
    except CapacityError:
        return
    p, t, M, C = m.placement, m.timeline, system.modules, system.module.channels

    def by_channel(module, channel, values):
        return np.bincount(module * C + channel, values, minlength=M * C).reshape(M, C)

    assert np.array_equal(p.rows_used(), by_channel(p.module_index, p.channel, p.row_stop - p.row_start))
    assert np.array_equal(m.channel_work_cycles(), by_channel(p.module_index, p.channel, m.work_cycles))
    assert np.array_equal(t.channel_busy_cycles, by_channel(t.module, t.channel, t.stop - t.start))
    rng = np.random.default_rng(seed)
    index = rng.integers(0, t.start.size, 20)
    for name in ("module", "channel", "start", "stop", "request", "layer", "head", "op", "micro_batch"):
        assert np.array_equal(t.values_at(name, index), getattr(t, name)[index])
    times = np.r_[rng.integers(-2, t.makespan_cycles + 3, 12), t.start[index], t.stop[index]]
    running = t.occupancy(times)
    for a, time in enumerate(times.tolist()):  # brute force: the segment whose [start, stop) holds the time
        on = (t.start <= time) & (time < t.stop)
        expected = np.full((M, C), -1)
        expected[t.module[on], t.channel[on]] = np.flatnonzero(on)
        assert np.array_equal(running[a], expected)
