"""A layout search's steps timed together (`system.steps`, `search`) against each layout's step timed alone."""

import numpy as np
import pytest
import step_reference
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab import system
from pimlab.models import LLM_7B_128K_GQA

MODEL = LLM_7B_128K_GQA


def _cfg(kind, modules, tp, pp, lengths, tech, host_serial=True):
    layout = system.Layout(system.system_for(kind, modules), MODEL, tp, pp)
    return system.StepConfig(kind, layout, tuple(lengths), system.Techniques.parse(tech), host_serial=host_serial,
                             ignore_capacity=True)


def _alone(cfg):
    """The step of one layout as pimlab timed it before it grouped layouts (`step_reference`)."""
    return step_reference.timed(cfg, np.asarray(cfg.lengths, dtype=np.int64))


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(system.SYSTEM_KINDS), tech=st.sampled_from(system.TECHNIQUES), host_serial=st.booleans(),
       pool=st.lists(st.integers(1, 6000), min_size=1, max_size=40), data=st.data())
def test_layouts_timed_together_equal_each_alone(kind, tech, host_serial, pool, data):
    layout = st.sampled_from([1, 2, 4, 8]).flatmap(
        lambda modules: st.tuples(st.just(modules), st.sampled_from(system.layouts(kind, MODEL, modules))))
    chosen = data.draw(st.lists(layout, min_size=1, max_size=6), label="layouts")
    sizes = data.draw(st.lists(st.integers(1, len(pool)), min_size=len(chosen), max_size=len(chosen)), label="sizes")
    cfgs = [_cfg(kind, modules, tp, pp, pool[:n], tech, host_serial) for (modules, (tp, pp)), n in zip(chosen, sizes)]
    together = system.steps(cfgs)
    for cfg, got in zip(cfgs, together):
        want = _alone(cfg)
        assert got == want  # every field, float by float
        assert repr(got.energy_j) == repr(want.energy_j) and repr(got.components_s) == repr(want.components_s)


@pytest.mark.parametrize("kind, tech", [("cent", "baseline"), ("cent", "tcp+dcs+dpa"), ("neupims", "tcp")])
def test_search_equals_each_layouts_admitted_batch_alone(kind, tech):
    pool = np.random.default_rng(3).integers(100, 40000, 300)
    found = system.search(kind, MODEL, 8, pool, tech)
    timed = 0
    for (tp, pp), result in found.results.items():
        if isinstance(result, str):
            continue
        layout = system.Layout(system.system_for(kind, 8), MODEL, tp, pp)
        n = system.admitted(layout, pool, system.Techniques.parse(tech).dpa)
        cfg = system.StepConfig(kind, layout, tuple(pool[:n].tolist()), system.Techniques.parse(tech))
        assert result == _alone(cfg)
        timed += 1
    assert timed >= 2 and list(found.results) == system.layouts(kind, MODEL, 8)


def test_steps_refuse_cfgs_that_differ_beyond_their_layouts():
    a = _cfg("cent", 4, 1, 4, [100, 200], "baseline")
    b = _cfg("cent", 4, 2, 2, [100, 200], "tcp")
    with pytest.raises(ValueError, match="differ only in their layouts"):
        system.steps([a, b])


@settings(max_examples=300, deadline=None)
@given(runs=st.lists(st.lists(st.sampled_from([0.0, 1.0, 2.5, 7.25, 1 / 3, 1e-9]), min_size=8, max_size=8),
                     min_size=1, max_size=3),
       n_runs=st.integers(1, 8), group=st.sampled_from([1, 2, 4, 8]), blocks=st.integers(1, 5),
       odd=st.booleans())
def test_busiest_of_runs_is_the_greedy_item_by_item(runs, n_runs, group, blocks, odd):
    # a request's heads: runs of `group` equal items; the heap placing them one by one decides
    load = np.repeat(np.array(runs)[:, :n_runs], group, axis=1)
    channels = group * blocks + (1 if odd else 0)  # odd: `group` does not divide the channels (the plain path)
    want = np.stack([system.busiest_channel(row, channels) for row in load])
    assert np.array_equal(system.busiest_channels(load, channels, group), want)


def test_busiest_of_runs_hand_worked():
    # requests 5, 4, 3 with 2 heads each on 4 channels (2 blocks): 5 -> ch 0, 1; 4 -> ch 2, 3; 3 -> ch 2, 3 (7):
    # channels 2 and 3 are the busiest; channel 2, the first, holds the first head of requests 4 and 3
    load = np.array([[5.0, 5.0, 4.0, 4.0, 3.0, 3.0]])
    assert system.busiest_channels(load, 4, 2).tolist() == [[False, False, True, False, True, False]]


@given(pairs=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40)), min_size=1, max_size=6))
def test_micro_sizes_of_many_batches_are_each_batchs(pairs):
    sizes, n_micros = [s for s, _ in pairs], [min(s, k) for s, k in pairs]
    want = np.concatenate([step_reference.micro_sizes(s, k) for s, k in zip(sizes, n_micros)])
    assert system._micro_sizes_of(sizes, n_micros).tolist() == want.tolist()


def test_variation_lengths_are_read_only_and_drawn_once():
    from pimlab.figures.fig17 import variation_lengths

    first = variation_lengths(4096, 64, 3)
    draws = np.random.default_rng(3).normal(4096, 4096 / 6, 64)
    assert np.array_equal(first, np.maximum(1, np.rint(np.clip(draws, 2048, 6144))).astype(np.int64))
    assert variation_lengths(4096, 64, 3) is first and not first.flags.writeable
    with pytest.raises(ValueError, match="seed"):
        variation_lengths(4096, 64, -1)


@settings(max_examples=40, deadline=None)
@given(kind=st.sampled_from(system.SYSTEM_KINDS), dpa=st.booleans(),
       lengths=st.lists(st.integers(1, 300000), min_size=1, max_size=30), data=st.data())
def test_reservations_of_layouts_together_are_each_layouts_own(kind, dpa, lengths, data):
    from pimlab.dpa import reserved_bytes

    modules = data.draw(st.sampled_from([1, 2, 4, 8, 16]), label="modules")
    layouts = [system.Layout(system.system_for(kind, modules), MODEL, tp, pp)
               for tp, pp in system.layouts(kind, MODEL, modules)]
    got = system._kv_reservations(layouts, lengths, dpa)
    admitted = system._admitted_layouts(layouts, lengths, dpa)
    tokens = np.asarray(lengths) if dpa else np.maximum(MODEL.context_window, lengths)
    for layout, bytes_, n in zip(layouts, got, admitted):  # as kv_reservation_bytes and admitted were, layout by layout
        streams = 2 * int(layout.stage_layers.max()) * (MODEL.kv_heads // layout.tp)
        want = reserved_bytes(layout.system.module, tokens, layout.unit_channels, streams, MODEL.head_dim, dpa)
        assert np.array_equal(bytes_, want.astype(np.float64))
        room = layout.unit_capacity_bytes - layout.stage_weight_bytes().max()
        if room <= 0:
            assert isinstance(n, ValueError) and "weights need" in str(n)
        else:
            assert n == int(np.searchsorted(np.cumsum(want.astype(np.float64)), room, side="right"))


@settings(max_examples=200, deadline=None)
@given(pairs=st.lists(st.tuples(st.integers(1, 120), st.integers(1, 40)), min_size=1, max_size=5),
       scale=st.sampled_from([1.0, 1e3, 1e9]), seed=st.integers(0, 2**32 - 1))
def test_micro_sums_of_many_batches_add_as_each_batchs(pairs, scale, seed):
    # floats added in a different order round differently: the sums must come out bit for bit
    sizes, n_micros = [s for s, _ in pairs], [min(s, k) for s, k in pairs]
    values = np.random.default_rng(seed).random((sum(sizes), 3)) * scale
    want = np.concatenate([step_reference.micro_sums(v, k)
                           for v, k in zip(system._pieces(values, sizes), n_micros)])
    got = system._micro_sums_of(values, system._micro_index(sizes, n_micros), sum(n_micros))
    assert np.array_equal(got, want)


def test_steps_of_no_cfgs_are_none():
    assert system.steps([]) == []
