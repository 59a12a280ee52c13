"""The timing table: every field that binds changes some schedule; the data bus binds every policy, and the
independent checker catches a schedule that breaks it."""

from dataclasses import fields, replace

import numpy as np
import pytest

from pimlab.engine.timing import AIM_ENGINE, FIG7_ENGINE, aim_engine
from pimlab.hardware import AIM_TIMING, Timing
from pimlab.isa import Commands, Kind, compile_gemv, expand
from pimlab.schedule import schedule
from pimlab.trace import Bound, check_hazards

W, M, R, B = Kind.WR_INP, Kind.MAC, Kind.RD_OUT, Kind.WR_BIAS
INERT = ("tRCD_RD", "tRCD_WR", "tCL", "tCWL", "tWR", "tRRD_S", "tRRD_L")  # read by host reads / writes, later
NOT_CYCLES = ("tck_ns", "refresh")


def _probes():
    """Small streams that exercise every pair of kinds, rows that change, and refresh."""
    rng = np.random.default_rng(9)
    out = [expand(compile_gemv(256, 256, obuf_entries=2), 0)]
    for _ in range(12):
        kind = rng.choice([0, 1, 1, 2, 7], 40)
        out.append(Commands.make(kind, np.where(np.isin(kind, [0, 1]), rng.integers(0, 4, 40), -1),
                                 np.where(kind != 0, rng.integers(0, 2, 40), -1),
                                 np.where(kind == 1, rng.integers(0, 3, 40), -1)))
    return out


PROBES = _probes()


def _schedules(timing: Timing, aimsim_accounting: bool) -> list[tuple]:
    engine = aim_engine(timing, aimsim_accounting=aimsim_accounting)
    return [(t.total_cycles, t.issue_cycles.tolist()) for c in PROBES for p in ("static", "dcs")
            for t in [schedule(c, p, engine, 64, 2)]]


@pytest.mark.parametrize("name", [f.name for f in fields(Timing) if f.name not in INERT + NOT_CYCLES])
def test_every_binding_timing_field_changes_some_schedule(name):
    base = replace(AIM_TIMING, tREFI=700, tRFC=60)  # refresh often enough for the probes to meet it
    accounting = name.startswith("eoc_")
    changed = replace(base, **{name: 2 * getattr(base, name) + 7})  # doubled: tRAS and tRC bind only when long
    assert _schedules(changed, accounting) != _schedules(base, accounting), name


@pytest.mark.parametrize("name", INERT)
def test_dram_fields_for_host_accesses_bind_nothing_yet(name):
    assert aim_engine(replace(AIM_TIMING, **{name: getattr(AIM_TIMING, name) + 7})) == AIM_ENGINE


def _pair(first, second):
    return Commands.make([first, second], [0 if k == W else -1 for k in (first, second)],
                         [-1 if k == W else 0 for k in (first, second)], [-1, -1])


@pytest.mark.parametrize("first, second, field", [(W, R, "tWTR_GB"), (B, R, "tWTR_BIAS"), (R, W, "tRTW"),
                                                  (R, B, "tRTW")])
def test_dcs_obeys_the_data_bus_turnaround(first, second, field):
    # B and R share OBuf entry 0 (a true dependency) only in the B -> R case; else the bus alone binds
    commands = _pair(first, second)
    for policy in ("static", "dcs", "pingpong"):
        trace = schedule(commands, policy, AIM_ENGINE, 1, 2)
        gap = int(np.diff(trace.issue_cycles[trace.of_commands()])[0])
        assert gap >= getattr(AIM_TIMING, field), policy
        if policy == "dcs":
            assert gap == getattr(AIM_TIMING, field)
            assert trace.bound_by[trace.of_commands()[1]] in (Bound.DATA_BUS, Bound.DATA)


def test_dcs_obeys_the_burst():
    engine = aim_engine(replace(AIM_TIMING, tBL=5))
    commands = Commands.make([R, R, R], [-1] * 3, [0, 1, 0], [-1] * 3)
    trace = schedule(commands, "dcs", engine, 1, 2)
    assert np.diff(trace.issue_cycles[trace.of_commands()]).tolist() == [5, 5]


def test_checker_catches_a_turnaround_violation():
    commands = _pair(W, R)
    trace = schedule(commands, "dcs", AIM_ENGINE, 1, 1)
    assert check_hazards(commands, trace) == []
    issue = trace.issue_cycles.copy()
    issue[trace.id == 1] = int(trace.issue_cycles[trace.id == 0][0]) + 5  # 5 < tWTR_GB = 12
    found = check_hazards(commands, replace(trace, issue_cycles=issue))
    assert found == ["data bus: RD_OUT 1 at 5 within the turnaround (12 cycles) of WR_INP at 0"]


def test_fig7_preset_is_bus_free():
    assert FIG7_ENGINE.bus_burst_cycles == 0 and FIG7_ENGINE.bus_turnaround_cycles.items() == ()
