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


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(system.SYSTEM_KINDS), tech=st.sampled_from(system.TECHNIQUES),
       modules=st.sampled_from([1, 2, 4, 8]), host_serial=st.booleans(),
       pool=st.lists(st.integers(1, 6000), min_size=1, max_size=40), data=st.data())
def test_layouts_timed_together_equal_each_alone(kind, tech, modules, host_serial, pool, data):
    layouts = system.layouts(kind, MODEL, modules)
    chosen = data.draw(st.lists(st.sampled_from(layouts), min_size=1, max_size=6), label="layouts")
    sizes = data.draw(st.lists(st.integers(1, len(pool)), min_size=len(chosen), max_size=len(chosen)), label="sizes")
    cfgs = [_cfg(kind, modules, tp, pp, pool[:n], tech, host_serial) for (tp, pp), n in zip(chosen, sizes)]
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
