"""The A100 decode-step roofline: hand-worked terms, capacity, scaling laws and bad inputs."""

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab.gpu import A100_DECODE, CALIBRATED, GPUEfficiency, gpu_max_batch, gpu_step, paper_gpus
from pimlab.hardware import A100
from pimlab.models import LLAMA2_7B, LLAMA2_70B, LLM_7B_32K, LLM_72B_128K_GQA, MODELS


def test_one_gpu_batch_one_by_hand():
    step = gpu_step(LLAMA2_7B, n_gpus=1, batch=1, context_tokens=4096)
    # weights read once: (6,738,149,376 - 131,072,000 embedding) x 2 B = 13,214,154,752 B at 0.88 x 2039 GB/s
    assert step.components_s["fc"] == pytest.approx(13_214_154_752 / 1_794.32e9, rel=1e-9)
    # KV: 4096 tokens x 512 KiB = 2 GiB
    assert step.components_s["attention"] == pytest.approx(2**31 / 1_794.32e9, rel=1e-9)
    assert step.components_s["link"] == 0.0
    assert step.components_s["other"] == pytest.approx(32 * 133e-6)
    assert step.latency_ms == pytest.approx(7.364 + 1.197 + 4.256, abs=2e-3)
    assert step.system == "a100" and step.batch == 1 and step.tokens_per_s == pytest.approx(1 / step.latency_s)


def test_capacity_by_hand():
    # 0.9 x 80 GiB - 13,476,298,752 B of weights = 63,833,244,467 B free; a 4096-token request holds 2 GiB
    assert gpu_max_batch(LLAMA2_7B, 4096, n_gpus=1) == 29
    # two GPUs: each holds half the weights and half the KV heads: (77,309,411,328 - 6,738,149,376) / 1 GiB = 65.7
    assert gpu_max_batch(LLAMA2_7B, 4096, n_gpus=2) == 65
    # a partly filled PagedAttention block costs a whole block: 4081 tokens still take 256 blocks of 16
    assert gpu_max_batch(LLAMA2_7B, 4081, n_gpus=1) == gpu_max_batch(LLAMA2_7B, 4096, n_gpus=1)
    # the L3 paper's motivation (one A100-80GB, 7B Llama, 2K tokens): "about 62" requests when 80 GB = 80e9 B:
    # (80e9 - 13,476,298,752) / 2^30 = 61.95, and a whole request needs the 62nd GiB
    eighty_gb = dataclasses.replace(A100, memory_bytes=80 * 10**9)
    full = GPUEfficiency(memory_utilization=1.0)
    assert gpu_max_batch(LLAMA2_7B, 2048, gpu=eighty_gb, n_gpus=1, efficiency=full) == 61


def test_memory_matched_counts_as_in_the_paper():
    assert [paper_gpus(m) for m in MODELS] == [2, 2, 8, 8]
    assert paper_gpus(LLAMA2_70B) == 8


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 16), st.integers(1024, 8192))
def test_attention_time_is_linear_in_kv_tokens(batch, context):
    one = gpu_step(LLM_7B_32K, n_gpus=2, batch=batch, context_tokens=context)
    double = gpu_step(LLM_7B_32K, n_gpus=2, batch=batch, context_tokens=2 * context)
    assert double.components_s["attention"] == pytest.approx(2 * one.components_s["attention"], rel=1e-12)
    assert double.components_s["fc"] == one.components_s["fc"]  # weights do not depend on the context


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 64), st.integers(1, 32768))
def test_step_respects_the_bandwidth_floor(batch, context):
    """No step is faster than streaming every weight and KV byte at the datasheet's full bandwidth."""
    model, n = LLM_72B_128K_GQA, 8
    step = gpu_step(model, n_gpus=n, batch=batch, context_tokens=context, ignore_capacity=True)
    floor = (model.step_params * 2 + batch * context * model.kv_bytes_per_token) / (n * A100.hbm_bandwidth_GBps * 1e9)
    assert step.latency_s > floor
    assert sum(step.components_s.values()) == pytest.approx(step.latency_s)


def test_large_batches_become_compute_bound():
    fc = [gpu_step(LLAMA2_70B, n_gpus=8, batch=b, context_tokens=128).components_s["fc"] for b in (1, 64, 512)]
    assert fc[0] == fc[1] < fc[2]  # weight-bound until 2 x batch / 2 B > 312 x 0.7 / (2039 x 0.88) FLOP/B
    assert fc[2] == pytest.approx(2 * 512 * LLAMA2_70B.step_params / 8 / (312e12 * 0.7))


def test_per_request_lengths_equal_their_mean_for_the_kv_stream():
    lengths = np.array([1000, 3000, 2000])
    mixed = gpu_step(LLAMA2_7B, n_gpus=2, batch=3, context_tokens=lengths)
    even = gpu_step(LLAMA2_7B, n_gpus=2, batch=3, context_tokens=2000)
    assert mixed.latency_s == pytest.approx(even.latency_s) and mixed.context_tokens == 2000


def test_calibration_reproduces_the_published_batch_one_latencies():
    """Calibrated, not evidence: the two fixed-cost knobs were fitted to NVIDIA's NeMo table (docs/calibrate_gpu.py)."""
    assert set(CALIBRATED) == {"layer_overhead_s", "allreduce_latency_s"}
    for n, published_ms in ((1, 234.0), (2, 171.7), (4, 143.7), (8, 136.5)):
        steps = sum(gpu_step(LLAMA2_7B, n_gpus=n, batch=1, context_tokens=128 + i).latency_s for i in range(1, 20))
        assert 1e3 * steps < published_ms  # 19 decode steps leave room for the prefill
        assert 1e3 * steps > 0.8 * published_ms


def test_whatifs_are_recorded():
    step = gpu_step(LLAMA2_7B, n_gpus=1, batch=64, context_tokens=8192, ignore_capacity=True, beyond_window=True)
    assert step.whatifs == ("capacity not checked", "context past the model's window")
    assert "what-if" in repr(step)


@pytest.mark.parametrize("kwargs, message", [
    ({"n_gpus": 3}, "n_gpus must divide the 32 attention heads"),
    ({"n_gpus": 0}, "n_gpus must be an integer"),
    ({"batch": 0}, "batch must be an integer"),
    ({"batch": 100}, "batch must fit the KV cache in HBM"),
    ({"context_tokens": 5000}, "context_tokens must be at most Llama2-7B's window of 4096"),
    ({"context_tokens": 0}, "context_tokens must be >= 1"),
    ({"context_tokens": 1.5}, "context_tokens must be a positive integer"),
    ({"context_tokens": None}, "context_tokens must be given"),
    ({"context_tokens": np.array([10, 20]), "batch": 3}, "batch must equal the number of context lengths"),
])
def test_bad_inputs_raise_clear_errors(kwargs, message):
    args = {"n_gpus": 1, "batch": 4, "context_tokens": 4096, **kwargs}
    with pytest.raises(ValueError, match=message):
        gpu_step(LLAMA2_7B, **args)


def test_weights_that_do_not_fit_are_refused():
    with pytest.raises(ValueError, match="n_gpus must give Llama2-70B's 128.5 GiB of weights room"):
        gpu_step(LLAMA2_70B, n_gpus=1, batch=1, context_tokens=128)
    with pytest.raises(ValueError, match="hbm must be a number"):
        GPUEfficiency(hbm=1.2)


def test_default_batch_is_the_capacity():
    assert gpu_step(LLAMA2_7B, context_tokens=4096).batch == gpu_max_batch(LLAMA2_7B, 4096) == 65
    assert A100_DECODE.block_tokens == 16
