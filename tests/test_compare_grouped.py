"""The comparison's grouped points (a system's contexts timed together, each memoized on its own) against one
point at a time, as `run_at_capacity` computed them before it grouped them."""

import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab import compare, system
from pimlab.compare import CxlMachine, GpuOnly, PimMachine, fresh_runs, runs_at_capacity
from pimlab.cxlpnm import CXL_PNM_DEFAULT
from pimlab.models import MODELS

CONTEXTS = tuple(4096 * 2**k for k in range(9))  # the comparison's, 4K ... 1M tokens


def one_at_a_time(machine, model, context_tokens, batch):
    """The plain per-point run: the largest batch (or `batch`), its step, or why it cannot run."""
    try:
        size = machine.max_batch(model, context_tokens) if batch is None else batch
        if size < 1:
            raise ValueError(f"not one request of {context_tokens} tokens fits {{system}}")
        return machine.step(model, size, context_tokens)
    except ValueError as error:
        return str(error)


def same(a, b) -> bool:
    """Bit for bit: the pickles of two StepResults (or messages) are equal (a float that differs, differs)."""
    return pickle.dumps(a) == pickle.dumps(b)


@settings(max_examples=30, deadline=None)
@given(kind=st.sampled_from(["cent", "neupims"]), techniques=st.sampled_from(["tcp+dcs+dpa", "baseline"]),
       modules=st.sampled_from([4, 8, 32]), model=st.sampled_from(MODELS),
       contexts=st.lists(st.sampled_from(CONTEXTS + (5000, 70000)), min_size=1, max_size=6),
       batch=st.sampled_from([None, None, 1, 3, 64]))
def test_pim_points_timed_together_are_the_points_one_at_a_time(kind, techniques, modules, model, contexts, batch):
    machine = PimMachine(kind, techniques, modules)
    together = fresh_runs(machine, model, contexts, batch)
    assert len(together) == len(contexts)
    for c, run in zip(contexts, together):
        assert same(run, one_at_a_time(machine, model, c, batch)), (c, run)


@pytest.mark.parametrize("machine", [GpuOnly(2), CxlMachine(CXL_PNM_DEFAULT)], ids=["gpu", "cxl"])
@pytest.mark.parametrize("batch", [None, 1, 64])
def test_machines_without_steps_run_point_by_point_with_the_same_results(machine, batch):
    model = MODELS[1]
    for c, run in zip(CONTEXTS, fresh_runs(machine, model, CONTEXTS, batch)):
        assert same(run, one_at_a_time(machine, model, c, batch))


def test_a_memoized_point_is_not_timed_again_and_new_points_are_timed_together(monkeypatch):
    machine, model = PimMachine("cent", "tcp+dcs+dpa", 8), MODELS[0]
    compare.clear_runs()
    timed = []
    grouped = system.steps

    def counting(cfgs):
        cfgs = list(cfgs)
        timed.append(len(cfgs))
        return grouped(cfgs)

    monkeypatch.setattr(system, "steps", counting)
    first = runs_at_capacity(machine, model, [4096, 8192])
    assert timed == [2]  # both new: one grouped pass of two
    again = runs_at_capacity(machine, model, [8192, 16384, 4096, 32768])
    assert timed == [2, 2]  # only 16K and 32K are new
    assert again[0] is first[1] and again[2] is first[0]  # the memoized results themselves
    assert same(again[1], one_at_a_time(machine, model, 16384, None))


def test_a_point_that_cannot_run_keeps_its_own_error_among_points_that_can():
    """A fixed batch that fits at 4K but not at 1M: the 1M point's message is the one its own step gives."""
    machine, model = PimMachine("cent", "baseline", 8), MODELS[0]
    runs = fresh_runs(machine, model, [4096, 1 << 20, 8192], 4)
    assert not isinstance(runs[0], str) and not isinstance(runs[2], str)
    assert isinstance(runs[1], str) and runs[1].startswith("batch must fit the system")
    assert runs[1] == one_at_a_time(machine, model, 1 << 20, 4)


def test_compare_lists_every_system_at_every_context_systems_fastest_as_one_at_a_time():
    model = MODELS[2]
    systems, contexts = compare.default_systems(model), [1 << 20, 4096, 65536]
    points = compare.compare(systems, model, contexts)
    assert [(p.system, p.context_tokens) for p in points] == [(s.name, c) for c in contexts for s in systems]
    for p, (c, s) in zip(points, [(c, s) for c in contexts for s in systems]):
        alone = one_at_a_time(s.machine, model, c, None)
        assert same(p.step, alone) if p.step is not None else p.error == alone.replace("{system}", s.name)
