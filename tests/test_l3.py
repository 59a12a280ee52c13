"""L3's first-order model: hand-worked bandwidths, capacity, overlap and bad configurations."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab.l3 import L3_DEFAULT, L3Config, hbm_pim_step, l3_max_batch, l3_step
from pimlab.models import LLAMA2_7B, LLM_7B_128K_GQA, LLM_72B_32K

NO_OVERLAP = L3Config(overlap=False)


def test_dimm_pim_organisation_by_hand():
    # 16 channels x 2 DIMMs x 2 ranks = 64 ranks; a rank: 8 chips x 16 banks x 8 B per 5 ns = 204.8 GB/s
    assert L3_DEFAULT.ranks == 64
    assert L3_DEFAULT.rank_GBps == pytest.approx(204.8)
    assert L3_DEFAULT.pim_GBps == pytest.approx(13107.2)
    assert L3_DEFAULT.host_GBps == pytest.approx(409.6)  # 16 x DDR4-3200 x 8 B
    assert L3_DEFAULT.capacity_bytes == 2 * 2**40


def test_capacity_by_hand():
    assert l3_max_batch(LLAMA2_7B, 4096) == 1024  # 2 TiB / (4096 x 512 KiB)
    assert l3_max_batch(LLM_7B_128K_GQA, 131072) == 128  # 2 TiB / (128K x 128 KiB)


def test_sequential_step_by_hand():
    step = l3_step(LLAMA2_7B, 10, 4096, NO_OVERLAP)
    # 10 x 2 GiB of KV at 0.8 x 13,107.2 GB/s
    assert step.components_s["attention"] == pytest.approx(10 * 2**31 / 10_485.76e9)
    # per layer and request: q and out (32 heads) and new k, v (32 KV heads) x 128 x 2 B = 32 KiB; 8 x 31.5 GB/s
    assert step.components_s["link"] == pytest.approx(10 * 32 * 32768 / 252e9)
    assert step.latency_s == pytest.approx(sum(step.components_s.values()))
    assert step.system == "l3" and step.components_s["exposed"] == 0


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 400), st.integers(256, 32768))
def test_overlap_never_slower_and_bounded_by_the_slower_side(batch, context):
    overlap = l3_step(LLM_72B_32K, batch, context, ignore_capacity=True)
    serial = l3_step(LLM_72B_32K, batch, context, NO_OVERLAP, ignore_capacity=True)
    assert overlap.latency_s <= serial.latency_s * (1 + 1e-9)
    slower = max(serial.components_s["fc"], serial.components_s["attention"])
    assert overlap.latency_s >= 0.5 * slower  # two half batches cannot beat the slower device on a full one / 2


def test_long_contexts_are_pim_bound():
    step = l3_step(LLM_72B_32K, 16, 32768)
    assert step.components_s["fc"] == 0 and step.components_s["attention"] > 0  # fc hidden under attention


def test_hbm_pim_foil_speeds_up_only_attention():
    from pimlab.gpu import gpu_step
    gpu = gpu_step(LLAMA2_7B, n_gpus=8, batch=4, context_tokens=4096)
    pim = hbm_pim_step(LLAMA2_7B, 4, 4096, attention_gain=4.0)
    assert pim.components_s["attention"] == pytest.approx(gpu.components_s["attention"] / 4)
    assert pim.components_s["fc"] == gpu.components_s["fc"]


@pytest.mark.parametrize("make, message", [
    (lambda: L3Config(eta_pim=1.5), "eta_pim must be a number"),
    (lambda: L3Config(ranksets_per_channel=5), "ranksets_per_channel must be an integer in \\[1, 4\\]"),
    (lambda: L3Config(channels=0), "channels must be an integer"),
    (lambda: l3_step(LLAMA2_7B, 1025, 4096), "batch must fit the KV cache in L3's DIMM-PIM"),
    (lambda: l3_step(LLAMA2_7B, 1, 8192), "context_tokens must be at most Llama2-7B's window"),
    (lambda: l3_step(LLAMA2_7B, 2, [10, 20, 30]), "batch must equal the number of context lengths"),
    (lambda: l3_step("GPT3-175B", 1, 128, L3Config(n_gpus=2)), "n_gpus must hold GPT3-175B's"),
])
def test_bad_configurations_raise_clear_errors(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_whatifs_are_recorded():
    step = l3_step(LLAMA2_7B, 2000, 8192, ignore_capacity=True, beyond_window=True)
    assert step.whatifs == ("capacity not checked", "context past the model's window")
