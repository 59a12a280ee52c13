"""A new policy is one class: two policies defined only here run through the engine, the breakdown and the
independent hazard checker unchanged."""

import numpy as np
import pytest
from hypothesis import given, settings

from pimlab.engine.policies import DCS, POLICIES, Policy, policy_class
from pimlab.engine.timing import AIM_ENGINE, fig7_engine
from pimlab.isa import QUEUE_OF_KIND, Kind, compile_attention, compile_gemv, expand, fig7_stream
from pimlab.schedule import schedule
from pimlab.trace import Bound, breakdown, check_hazards
from tests.test_schedule import _breakdown_by_cycle, streams


class DCSWithoutBypass(DCS):
    """DCS without the is-MAC flag: every command waits for the previous user of its entry to complete."""

    name = "dcs-no-bypass"

    def after(self, engine, d, kind):
        return engine.done_cycles[d]


class InOrderTwoQueues(Policy):
    """Two in-order queues (I/O, compute) that track no buffer entry: a command waits until every earlier
    command of the stream has completed (so it is always safe), no fixed gaps, no mode switch."""

    name = "two-queues"

    def queues(self):
        q = QUEUE_OF_KIND[self.commands.kind]
        return [np.flatnonzero(q == 0).tolist(), np.flatnonzero(q == 1).tolist()]

    def earliest(self, engine, q, i, best, code, dep):
        for d in range(i):  # small streams only: this reference policy is quadratic
            if engine.issue_cycles[d] < 0:
                engine.waiting[q] = d
                return None
            if engine.done_cycles[d] > best:
                best, code, dep = engine.done_cycles[d], Bound.DATA, d
        return best, code, dep


def test_unknown_policy_names_the_known_ones():
    with pytest.raises(ValueError, match="policy must be one of static, pingpong, dcs .*got 'greedy'"):
        policy_class("greedy")
    with pytest.raises(ValueError, match="policy must be one of"):
        schedule(expand(fig7_stream(1), 0), "dcs-no-bypass", fig7_engine(), 3, 1)  # not registered
    assert "dcs-no-bypass" not in POLICIES


def test_fig7_without_the_bypass_serialises_the_accumulating_macs():
    commands = expand(fig7_stream(2), 0)
    dcs = schedule(commands, DCS, fig7_engine(), 3, 2)
    plain = schedule(commands, DCSWithoutBypass, fig7_engine(), 3, 2)
    assert plain.policy == "dcs-no-bypass" and check_hazards(commands, plain) == []
    # M3 M4 M5 accumulate into OBuf 0: with the flag tCCDS apart, without it t_MAC = 3 apart (M4 at 4+3, M5 at 7+3)
    at = plain.issue_cycles[plain.of_commands()]
    assert at[3:6].tolist() == [4, 7, 10] and dcs.issue_cycles[dcs.of_commands()][3:6].tolist() == [4, 5, 6]
    assert plain.total_cycles > dcs.total_cycles == 22
    assert breakdown(plain) == _breakdown_by_cycle(plain)


@pytest.mark.parametrize("policy", [DCSWithoutBypass, InOrderTwoQueues])
def test_new_policies_run_on_compiled_streams(policy):
    for commands, entries in ((expand(compile_gemv(128, 64, obuf_entries=2), 0), 2),
                              (expand(compile_attention("qk", 256, 128, obuf_entries=2), 0), 2)):
        trace = schedule(commands, policy, AIM_ENGINE, 64, entries, fast=False)
        assert check_hazards(commands, trace) == [] and trace.count(Kind.MODE) == 0
        assert breakdown(trace) == _breakdown_by_cycle(trace)


@settings(max_examples=30, deadline=None)
@given(streams())
def test_new_policies_are_hazard_free_on_random_streams(case):
    commands, timing, gbuf_entries, obuf_entries = case
    for policy in (DCSWithoutBypass, InOrderTwoQueues):
        trace = schedule(commands, policy, timing, gbuf_entries, obuf_entries)
        assert check_hazards(commands, trace) == []
        assert breakdown(trace) == _breakdown_by_cycle(trace)


def test_the_fast_path_works_for_a_new_policy():
    commands = expand(compile_attention("qk", 8192, 128, obuf_entries=2), 0)
    fast = schedule(commands, DCSWithoutBypass, AIM_ENGINE, 64, 2, fast=True)
    full = schedule(commands, DCSWithoutBypass, AIM_ENGINE, 64, 2, fast=False)
    assert fast.total_cycles == full.total_cycles
    assert np.array_equal(fast.issue_cycles, full.issue_cycles)
