"""pimlab.trace: the Fig. 8 breakdown, the step-through state, exports, and the independent hazard checker."""

import json
from dataclasses import replace

import numpy as np

from pimlab.engine.timing import AIM_ENGINE, fig7_engine
from pimlab.isa import Commands, Kind, compile_gemv, expand, fig7_stream
from pimlab.schedule import schedule
from pimlab.trace import BOUND_NAMES, BREAKDOWN_KEYS, Bound, breakdown, check_hazards
from tests.test_schedule import _breakdown_by_cycle


def _fig7(policy):
    entries = 1 if policy == "static" else 2
    commands = expand(fig7_stream(entries), 0)
    return commands, schedule(commands, policy, fig7_engine(), 3, entries)


def test_breakdown_of_fig7_by_hand():
    # static: W 0..6 in flight, MACs 6-8 and 20-22, R6 11..20 and R10 25..34; 9, 10, 23, 24 wait on MAC latency
    assert _fig7("static")[1].breakdown() == {"MAC": 6, "ACT/PRE": 0, "REF": 0, "DT-GBuf": 6, "DT-OutReg": 18,
                                              "Pipeline penalty": 4}
    dcs = _fig7("dcs")[1]
    assert dcs.breakdown() == {"MAC": 6, "ACT/PRE": 0, "REF": 0, "DT-GBuf": 4, "DT-OutReg": 12,
                               "Pipeline penalty": 0}
    assert dcs.mac_utilization == 6 / 22


def test_breakdown_counts_refresh_and_rows_cycle_by_cycle():
    trace = schedule(expand(compile_gemv(1024, 1024), 0), "static", AIM_ENGINE)
    parts = trace.breakdown()
    assert tuple(parts) == BREAKDOWN_KEYS and parts == _breakdown_by_cycle(trace)  # an independent count
    assert parts["REF"] == trace.count(Kind.REF) * AIM_ENGINE.tRFC  # refresh never overlaps a MAC
    assert parts["MAC"] == trace.mac_cycles and parts["ACT/PRE"] > 0


def test_breakdown_of_a_window_counts_its_cycles_only():
    """A window's breakdown (what the long-stream summary adds per removed period) against a cycle-by-cycle count,
    windows that cut through long commands (REF, RD-OUT) included."""
    trace = schedule(expand(compile_gemv(1024, 1024), 0), "static", AIM_ENGINE)
    ref = int(trace.issue_cycles[trace.kind == Kind.REF][0])
    for start, end in ((0, 1), (ref + 1, ref + 5), (ref - 3, ref + 200), (1000, 5000), (trace.total_cycles - 7,
                                                                                           trace.total_cycles + 9)):
        assert breakdown(trace, start, end) == _breakdown_by_cycle(trace, start, end), (start, end)


def test_state_at_shows_queues_tables_and_why_a_command_issues():
    _, dcs = _fig7("dcs")
    state = dcs.state_at(4)
    assert state["issued"] == [{"id": 3, "kind": "MAC", "bound_by": BOUND_NAMES[Bound.DATA], "depends_on": 0}]
    assert state["s_table"][("GBuf", 0)] == (3, 7)  # M3 is now the newest user of GB0, done at 7
    assert state["s_table"][("GBuf", 2)] == (2, 6)
    assert state["queues"]["I/O"] == [6, 10] and state["queues"]["compute"] == [4, 5, 7, 8, 9]
    assert state["d_table"][("OBuf", 1)] == 10
    assert dcs.state_at(3)["issued"] == []


def test_csv_and_json_exports():
    _, static = _fig7("static")
    lines = static.to_csv().splitlines()
    assert lines[0].startswith("id,kind,queue") and len(lines) == len(static) + 1
    assert lines[4].split(",")[1] == "MAC"
    data = json.loads(static.to_json())
    assert data["total_cycles"] == 34 and data["breakdown"]["DT-OutReg"] == 18
    assert data["columns"]["issue_cycles"][:3] == [0, 1, 2]


def _moved(trace, command_id, new_issue):
    issue = trace.issue_cycles.copy()
    issue[trace.id == command_id] = new_issue
    return replace(trace, issue_cycles=issue)


def test_checker_finds_planted_violations():
    commands, dcs = _fig7("dcs")
    assert check_hazards(commands, dcs) == []
    early_mac = _moved(dcs, 3, 2)  # M3 before W0 completes (4), and on the bus with W2
    found = check_hazards(commands, early_mac)
    assert any("RAW" in p and "GBuf 0" in p for p in found) and any("bus" in p for p in found)
    early_read = _moved(dcs, 6, 3)  # R6 before M5 completes
    assert any("RAW" in p and "OBuf 0" in p for p in check_hazards(commands, early_read))
    early_write = Commands.make([Kind.WR_INP, Kind.MAC, Kind.WR_INP], [0, 0, 0], [-1, 0, -1], [-1, 0, -1])
    ok = schedule(early_write, "dcs", fig7_engine(), 1, 1)
    assert check_hazards(early_write, ok) == []
    assert any("WAR" in p for p in check_hazards(early_write, _moved(ok, 2, ok.issue_cycles[ok.id == 1][0] + 1)))


def test_checker_finds_row_and_missing_command_violations():
    commands = expand(compile_gemv(64, 64), 0)
    trace = schedule(commands, "dcs", AIM_ENGINE, 64, 1)
    assert check_hazards(commands, trace) == []
    act = int(trace.id[trace.kind == Kind.ACT][0])
    first_mac = int(trace.id[trace.kind == Kind.MAC][0])
    found = check_hazards(commands, _moved(trace, first_mac, int(trace.issue_cycles[trace.id == act][0]) + 1))
    assert any("MAC at" in p and "of ACT at" in p for p in found)  # within tRCD
    keep = trace.id != 0
    columns = ("id", "kind", "queue", "gbuf", "obuf", "row", "issue_cycles", "done_cycles", "depends_on", "bound_by")
    dropped = replace(trace, **{name: getattr(trace, name)[keep] for name in columns})
    assert "exactly once" in check_hazards(commands, dropped)[0]
    assert np.all(trace.issue_cycles[1:] > trace.issue_cycles[:-1])  # issue order, one per cycle
