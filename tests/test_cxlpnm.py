"""CXL-PNM's first-order model: selection arithmetic, request-parallel placement, schemes and bad configurations."""

import dataclasses

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from pimlab.cxlpnm import CXL_PNM_DEFAULT, CxlPnmConfig, cxl_max_batch, cxl_step, devices_per_request
from pimlab.models import LLAMA31_70B, LLAMA31_405B

DENSE = dataclasses.replace(CXL_PNM_DEFAULT, budget_tokens=None)


def test_kv_sizes_at_one_million_tokens_by_hand():
    assert LLAMA31_405B.kv_bytes_per_token == 516_096  # 2 x 126 x 8 x 128 x 2 B: 516 GB at 10^6 tokens
    assert LLAMA31_70B.kv_bytes_per_token == 327_680  # 328 GB at 10^6 tokens
    assert devices_per_request(LLAMA31_70B, 10**6) == 1
    assert devices_per_request(LLAMA31_405B, 10**6) == 2  # 516 GB does not fit one 512 GB device


def test_dense_pnm_attention_by_hand():
    # 8 requests on 8 devices, one each: 131072 x 320 KiB = 40 GiB at 0.8 x 1.1 TB/s
    step = cxl_step(LLAMA31_70B, 8, 131072, DENSE)
    assert step.components_s["attention"] == pytest.approx(131072 * 327680 / 880e9)
    assert step.components_s["selection"] == 0
    # 16 requests: two on the busiest device
    assert cxl_step(LLAMA31_70B, 16, 131072, DENSE).components_s["attention"] == pytest.approx(
        2 * 131072 * 327680 / 880e9)


def test_sparse_selection_reads_one_sixteenth_plus_the_budget():
    step = cxl_step(LLAMA31_70B, 8, 131072)
    assert step.components_s["selection"] == pytest.approx(131072 * 327680 / 16 / 880e9)
    assert step.components_s["attention"] == pytest.approx(4096 * 327680 / 880e9)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), st.integers(8192, 262144))
def test_request_parallel_devices_idle_below_one_request_each(batch, context):
    one = cxl_step(LLAMA31_70B, 1, context, DENSE, beyond_window=True)
    many = cxl_step(LLAMA31_70B, batch, context, DENSE, beyond_window=True)
    assert many.components_s["attention"] == pytest.approx(one.components_s["attention"])  # the utilisation cliff


def test_recall_traffic_grows_with_the_batch_and_pnm_traffic_does_not_grow_with_context():
    recall = dataclasses.replace(CXL_PNM_DEFAULT, scheme="recall")
    assert (cxl_step(LLAMA31_70B, 16, 131072, recall).components_s["link"]
            == pytest.approx(2 * cxl_step(LLAMA31_70B, 8, 131072, recall).components_s["link"]))
    short = cxl_step(LLAMA31_70B, 8, 16384).components_s["link"]
    assert cxl_step(LLAMA31_70B, 8, 131072).components_s["link"] == pytest.approx(short)
    # recall moves the selected KV (4096 x 320 KiB per request) over the GPUs' PCIe: 8 x 31.5 GB/s x 0.8
    assert cxl_step(LLAMA31_70B, 8, 131072, recall).components_s["link"] == pytest.approx(
        8 * 4096 * 327680 / 201.6e9)


def test_png_kv_moves_steady_tokens_to_the_gpus():
    png = dataclasses.replace(CXL_PNM_DEFAULT, scheme="png-kv", steady_fraction=0.5)
    pnm = cxl_step(LLAMA31_70B, 8, 131072)
    assert cxl_step(LLAMA31_70B, 8, 131072, png).components_s["attention"] == pytest.approx(
        pnm.components_s["attention"] / 2)
    # steady tokens take HBM: dense PnG-KV keeps half of every request's KV on the GPUs, so fewer requests fit
    dense_png = dataclasses.replace(png, budget_tokens=None)
    assert cxl_max_batch(LLAMA31_70B, 131072, dense_png) < cxl_max_batch(LLAMA31_70B, 131072, DENSE)


def test_capacity_by_hand():
    # 512 GB / 40 GiB = 11.9: 11 requests per device, 88 on 8 devices
    assert cxl_max_batch(LLAMA31_70B, 131072) == 88
    # 405B at 10^6 tokens (516 GB) spans 2 devices: 4 pairs, each holding 1024 GB // 516 GB = 1 request
    assert cxl_max_batch(LLAMA31_405B, 10**6, dataclasses.replace(CXL_PNM_DEFAULT, n_gpus=16)) == 4


@pytest.mark.parametrize("make, message", [
    (lambda: cxl_step(LLAMA31_70B, 8, 2048), "budget_tokens must be at most the context \\(2048 tokens\\)"),
    (lambda: CxlPnmConfig(steady_fraction=1.5), "steady_fraction must be a number in \\[0.0, 1.0\\]"),
    (lambda: CxlPnmConfig(steady_fraction=-0.1), "steady_fraction must be a number"),
    (lambda: CxlPnmConfig(scheme="quest"), "scheme must be one of recall, pnm-kv, png-kv"),
    (lambda: CxlPnmConfig(budget_tokens=0), "budget_tokens must be an integer"),
    (lambda: cxl_step(LLAMA31_70B, 89, 131072), "batch must fit the KV cache: 89 requests"),
    (lambda: cxl_step(LLAMA31_70B, 1, 40 * 2**20, beyond_window=True), "context_tokens must fit the 8 CXL devices"),
    (lambda: cxl_step(LLAMA31_405B, 1, 131072), "n_gpus must give Llama3.1-405B's"),
])
def test_bad_configurations_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_per_request_lengths_place_the_longest_first():
    lengths = np.array([100000, 10000, 10000, 10000, 10000, 10000, 10000, 10000, 10000])
    step = cxl_step(LLAMA31_70B, 9, lengths, DENSE)
    assert step.components_s["attention"] == pytest.approx(100000 * 327680 / 880e9)  # alone on its device


def test_a_request_shorter_than_the_budget_is_attended_whole_without_selection():
    step = cxl_step(LLAMA31_70B, 2, np.array([2000, 100000]), dataclasses.replace(CXL_PNM_DEFAULT, n_devices=1))
    # one device holds both: summaries of the long one only, 2000 + 4096 selected tokens
    assert step.components_s["selection"] == pytest.approx(100000 * 327680 / 16 / 880e9)
    assert step.components_s["attention"] == pytest.approx((2000 + 4096) * 327680 / 880e9)


def _greedy_busiest(cost, groups):
    """Longest-processing-time placement, written plainly: each request, costliest first (stable), to the least
    loaded group (the lowest on a tie); the requests of the most loaded group (the lowest on a tie)."""
    load, owner = [0.0] * groups, {}
    for i in sorted(range(len(cost)), key=lambda i: -cost[i]):
        g = load.index(min(load))
        owner[i] = g
        load[g] += cost[i]
    busiest = load.index(max(load))
    return [i for i in range(len(cost)) if owner[i] == busiest]


def test_busiest_group_by_hand():
    from pimlab.cxlpnm import _busiest_group

    # 5 -> g0, 4 -> g1, 3 -> g1 (7), 3 -> g0 (8), 2 -> g1 (9): g1 holds requests 1, 2, 4
    assert _busiest_group(np.array([5.0, 4, 3, 3, 2]), 2).tolist() == [1, 2, 4]
    # 2 -> g0, 1 -> g1, 1 -> g1: loads 2 and 2, the lower group is the busiest
    assert _busiest_group(np.array([2.0, 1, 1]), 2).tolist() == [0]
    assert _busiest_group(np.full(10, 3.0), 4).tolist() == [0, 1, 2]  # equal requests: ceil(10 / 4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=40), st.integers(1, 9))
def test_busiest_group_is_the_plain_greedy(costs, groups):
    from pimlab.cxlpnm import _busiest_group

    cost = np.array(costs, dtype=np.float64) / 4  # small multiples of 1/4: many ties, exact sums
    assume(not (cost == cost[0]).all())  # the round-robin shortcut: by hand above
    assert _busiest_group(cost, groups).tolist() == _greedy_busiest(cost.tolist(), groups)
