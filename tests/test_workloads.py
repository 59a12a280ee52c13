"""Table II samplers and decode traces."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab.workloads import DATASETS, MUSIQUE, QMSUM, LengthDistribution, dataset_named, decode_trace


@pytest.mark.parametrize("dataset", DATASETS, ids=lambda d: d.name)
def test_sample_statistics_match_table_ii(dataset):
    lengths = dataset.sample(200_000, seed=1)
    assert lengths.min() >= dataset.min and lengths.max() <= dataset.max
    # 200k draws: the mean's standard error is std/447, under 0.5% of any mean; allow 1%
    assert abs(lengths.mean() - dataset.mean) <= 0.01 * dataset.mean
    assert abs(lengths.std() - dataset.std) <= 0.02 * dataset.std


def test_sampler_is_seeded():
    assert np.array_equal(QMSUM.sample(100, seed=3), QMSUM.sample(100, seed=3))
    assert not np.array_equal(QMSUM.sample(100, seed=3), QMSUM.sample(100, seed=4))


def test_impossible_distribution_rejected():
    # a std larger than any distribution on [min, max] can have
    with pytest.raises(ValueError, match="std must be below"):
        LengthDistribution("x", "y", 50, 60, 0 + 1, 100, MUSIQUE.model)


def test_decode_trace_closed_batch():
    trace = decode_trace(MUSIQUE, 500, seed=0)
    assert len(trace) == 500 and np.all(trace.arrival_step == 0)
    assert np.all(trace.final_tokens <= MUSIQUE.model.context_window)
    live0 = trace.live_tokens(0)
    assert np.array_equal(live0, trace.context_tokens + 1)
    assert np.all(trace.live_tokens(int(trace.finish_step.max())) == 0)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 300), st.floats(0.01, 5.0), st.integers(0, 2**32 - 1))
def test_live_tokens_only_between_arrival_and_finish(n, rate, seed):
    trace = decode_trace(QMSUM, n, seed=seed, mean_output_tokens=64, arrivals_per_step=rate)
    assert np.all(np.diff(trace.arrival_step) >= 0)
    step = int(trace.arrival_step[n // 2])
    live = trace.live_tokens(step)
    active = (trace.arrival_step <= step) & (step < trace.finish_step)
    assert np.array_equal(live > 0, active)
    assert np.all(live[active] > trace.context_tokens[active])


def test_bad_trace_inputs():
    with pytest.raises(ValueError, match="requests must be an integer"):
        decode_trace(QMSUM, 0)
    with pytest.raises(ValueError, match="arrivals_per_step must be a number"):
        decode_trace(QMSUM, 5, arrivals_per_step=-1.0)
    with pytest.raises(ValueError, match="dataset must be one of"):
        dataset_named("SQuAD")
