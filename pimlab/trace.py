"""The timeline a scheduler produces: one row per issued command, the Fig. 8 breakdown, an independent hazard check."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass

import numpy as np

from pimlab.isa import KIND_NAMES, QUEUE_NAMES, Commands, Kind

__all__ = ["Trace", "Summary", "BOUND_NAMES", "Bound", "BREAKDOWN_KEYS", "breakdown", "check_hazards"]


class Bound:
    """Codes of what set a command's issue cycle (Trace.bound_by); names in BOUND_NAMES."""

    READY = 0  # nothing held it back: issued as soon as the stream started
    DATA = 1  # waited for the command it depends on (its D-Table DID) to complete
    QUEUE = 2  # spacing tCCD after the previous command of its own queue
    BUS = 3  # the command bus was taken (one command per cycle)
    STATIC = 4  # the static controller's fixed gap after a command of another type
    ROW = 5  # DRAM row timing (ACT -> MAC, MAC -> PRE, PRE -> ACT, ...)
    REFRESH = 6  # a refresh window
    MODE = 7  # the register / MAC mode switch
    HANDOFF = 8  # ping-pong: waited for both buffer regions to go idle and swap
    DATA_BUS = 9  # the data bus: the previous transfer's burst, or the write-to-read / read-to-write turnaround


BOUND_NAMES = ("ready", "data dependency", "queue spacing tCCD", "command bus", "static fixed gap", "row ACT/PRE",
               "refresh", "mode switch", "buffer hand-off", "data bus")
BREAKDOWN_KEYS = ("MAC", "ACT/PRE", "REF", "DT-GBuf", "DT-OutReg", "Pipeline penalty")
_FIELDS = ("id", "kind", "queue", "gbuf", "obuf", "row", "issue_cycles", "done_cycles", "depends_on", "bound_by")


@dataclass(frozen=True)
class Summary:
    """A schedule's totals without its timeline (`pimlab.schedule.summarize`, `Trace.summary`).

    commands: commands the controller issued, the inserted ACT / PRE / REF / mode switches included;
    breakdown_cycles: the `breakdown` values in BREAKDOWN_KEYS order.
    """

    total_cycles: int
    mac_cycles: int
    commands: int
    breakdown_cycles: tuple[int, ...]

    @property
    def mac_utilization(self) -> float:
        return self.mac_cycles / self.total_cycles if self.total_cycles else 0.0

    def breakdown(self) -> dict[str, int]:
        """Cycles of the run by what they are spent on, as `Trace.breakdown` gives them."""
        return dict(zip(BREAKDOWN_KEYS, self.breakdown_cycles))


@dataclass(frozen=True)
class Trace:
    """Issued commands in issue order, columnar. Ids below `commands` are program-order indices of the
    input stream; higher ids are commands the controller inserted (ACT, PRE, REF, MODE).

    queue: 0 I/O, 1 compute, 2 row/refresh. row = -1 when none. issue_cycles / done_cycles: when it issues
    and completes.
    depends_on: the id whose timing set the issue cycle (-1 none); bound_by: a `Bound` code.
    """

    id: np.ndarray
    kind: np.ndarray
    queue: np.ndarray
    gbuf: np.ndarray
    obuf: np.ndarray
    row: np.ndarray
    issue_cycles: np.ndarray
    done_cycles: np.ndarray
    depends_on: np.ndarray
    bound_by: np.ndarray
    policy: str
    total_cycles: int
    timing: object  # the pimlab.engine.timing.EngineTiming it was scheduled with
    gbuf_entries: int
    obuf_entries: int
    commands: int  # how many commands the input stream had

    def __post_init__(self):
        n = len(self.id)
        for name in _FIELDS:
            array = np.ascontiguousarray(getattr(self, name), dtype=np.int64)
            if array.shape != (n,):
                raise ValueError(f"Trace.{name} must have shape ({n},), got {array.shape}")
            array.setflags(write=False)
            object.__setattr__(self, name, array)

    def __len__(self) -> int:
        return len(self.id)

    # --- summaries --------------------------------------------------------------------------------------
    @property
    def mac_cycles(self) -> int:
        """Cycles in which the MAC units work: tCCD per MAC command (MACs never overlap)."""
        return int((self.kind == Kind.MAC).sum()) * self.timing.tCCD

    @property
    def mac_utilization(self) -> float:
        return self.mac_cycles / self.total_cycles if self.total_cycles else 0.0

    def count(self, kind: Kind) -> int:
        return int((self.kind == kind).sum())

    def breakdown(self) -> dict[str, int]:
        """Cycles of the run by what they are spent on (`breakdown`)."""
        return breakdown(self)

    def summary(self) -> Summary:
        """The totals of this schedule (what `pimlab.schedule.summarize` returns for it)."""
        parts = self.breakdown()
        return Summary(int(self.total_cycles), self.mac_cycles, len(self),
                       tuple(parts[key] for key in BREAKDOWN_KEYS))

    def bound_names(self) -> list[str]:
        return [BOUND_NAMES[b] for b in self.bound_by]

    def kind_names(self) -> list[str]:
        return [KIND_NAMES[k] for k in self.kind]

    def of_commands(self) -> np.ndarray:
        """Row of each input command (program order) in this trace."""
        rows = np.full(self.commands, -1, dtype=np.int64)
        mine = self.id < self.commands
        rows[self.id[mine]] = np.flatnonzero(mine)
        return rows

    # --- step-through view ------------------------------------------------------------------------------
    def state_at(self, cycle: int, depth: int = 8) -> dict:
        """The controller at `cycle`: queued commands, D-Table, S-Table, what issues and why.

        queues: per queue name, the ids (program order) not yet issued, first `depth` of them.
        d_table: ("GBuf" | "OBuf", entry) -> id of the newest queued-or-issued command touching it.
        s_table: ("GBuf" | "OBuf", entry) -> (id, expiration cycle) of the newest issued command touching it.
        issued: dicts for the commands issued in this cycle (id, kind, bound_by name, depends_on).
        """
        cycle = int(cycle)
        data = self.id < self.commands
        order = np.argsort(self.id[data], kind="stable")
        rows = np.flatnonzero(data)[order]  # trace rows in program order
        is_issued = self.issue_cycles[rows] <= cycle
        pending, issued_rows = rows[~is_issued], rows[is_issued]
        shown = [pending[self.queue[pending] == q][:depth] for q in (0, 1)]  # the first `depth` of each queue
        queues = {name: self.id[shown[q]].tolist() for q, name in enumerate(QUEUE_NAMES[:2])}
        seen = rows[is_issued | np.isin(rows, np.concatenate(shown))]
        d_table, s_table = {}, {}
        for label, column in (("GBuf", self.gbuf), ("OBuf", self.obuf)):
            for r in seen:
                if column[r] >= 0:
                    d_table[(label, int(column[r]))] = int(self.id[r])
            for r in issued_rows:
                if column[r] >= 0:
                    s_table[(label, int(column[r]))] = (int(self.id[r]), int(self.done_cycles[r]))
        now = np.flatnonzero(self.issue_cycles == cycle)
        issued = [{"id": int(self.id[r]), "kind": KIND_NAMES[self.kind[r]], "bound_by": BOUND_NAMES[self.bound_by[r]],
                   "depends_on": int(self.depends_on[r])} for r in now]
        return {"cycle": cycle, "queues": queues, "d_table": d_table, "s_table": s_table, "issued": issued}

    # --- export -----------------------------------------------------------------------------------------
    def to_csv(self) -> str:
        """One line per command: the columns of the trace, kind and bound_by by name."""
        columns = [getattr(self, name).tolist() for name in _FIELDS]
        columns[1], columns[-1] = self.kind_names(), self.bound_names()
        out = io.StringIO()
        out.write(",".join(_FIELDS) + "\n")
        for values in zip(*columns):
            out.write(",".join(map(str, values)) + "\n")
        return out.getvalue()

    def to_chrome_trace(self, tck_ns: float | None = None) -> str:
        """This schedule in the Trace Event Format (ui.perfetto.dev, chrome://tracing); see pimlab.chrome_trace."""
        from pimlab.chrome_trace import chrome_trace

        return chrome_trace(self, tck_ns)

    def to_json(self) -> str:
        """Summary (policy, total, utilization, breakdown) and the columns as lists."""
        return json.dumps({
            "policy": self.policy, "preset": self.timing.name, "total_cycles": int(self.total_cycles),
            "mac_utilization": self.mac_utilization, "breakdown": self.breakdown(),
            "columns": {name: getattr(self, name).tolist() for name in _FIELDS},
            "kind_names": list(KIND_NAMES), "bound_names": list(BOUND_NAMES),
        })


_GROUPS = (("MAC", (Kind.MAC,)), ("REF", (Kind.REF,)), ("ACT/PRE", (Kind.ACT, Kind.PRE)),
           ("DT-GBuf", (Kind.WR_INP,)), ("DT-OutReg", (Kind.RD_OUT, Kind.WR_BIAS)))  # `breakdown`'s order of precedence
# each kind's group; a kind in no group (the mode switch) past the last one
_GROUP_OF_KIND = np.array([next((g for g, (_, kinds) in enumerate(_GROUPS) if k in kinds), len(_GROUPS)) for k in Kind],
                          dtype=np.int8)


def breakdown(trace: Trace, start_cycle: int = 0, end_cycle: int | None = None) -> dict[str, int]:
    """Cycles of the run by what they are spent on; the values sum exactly to total_cycles (with start_cycle /
    end_cycle: to the cycles counted, those in [start_cycle, end_cycle), default the whole run).

    A cycle counts as MAC when a MAC occupies it; otherwise as the first of REF, ACT/PRE, DT-GBuf
    (WR-INP in flight), DT-OutReg (RD-OUT or WR-BIAS in flight) that is under way; otherwise as
    pipeline penalty (fixed gaps, mode switches, hand-offs, MAC latency, waiting on a bus).
    """
    end_cycle = trace.total_cycles if end_cycle is None else min(end_cycle, trace.total_cycles)
    kind, issue = trace.kind, trace.issue_cycles
    end = np.where(kind == Kind.MAC, issue + trace.timing.tCCD, trace.done_cycles)
    if start_cycle > 0 or end_cycle < trace.total_cycles:  # a window: only the commands that reach into it count
        near = (issue < end_cycle) & (end > start_cycle)
        kind, issue, end = kind[near], issue[near], end[near]
    group = _GROUP_OF_KIND[kind]
    covered, parts = 0, {}
    for g, (key, _) in enumerate(_GROUPS):
        mask = group <= g  # the kinds of this group and of the ones before it
        now = _union_length(issue[mask], end[mask], start_cycle, end_cycle)
        parts[key] = now - covered
        covered = now
    parts["Pipeline penalty"] = max(0, end_cycle - start_cycle) - covered
    return {key: int(parts[key]) for key in BREAKDOWN_KEYS}


def _union_length(starts: np.ndarray, ends: np.ndarray, lo: int, hi: int) -> int:
    """Length of the union of intervals [start, end) clipped to [lo, hi)."""
    s, e = np.clip(starts, lo, max(lo, hi)), np.clip(ends, lo, max(lo, hi))
    keep = e > s
    if not keep.all():
        s, e = s[keep], e[keep]
    if not len(s):
        return 0
    if (s[1:] < s[:-1]).any():  # a Trace is in issue order already; sort only when it is not
        order = np.argsort(s, kind="stable")
        s, e = s[order], e[order]
    reach = np.maximum.accumulate(e)  # each interval counts from where the ones before it stopped reaching
    np.maximum(s[1:], reach[:-1], out=s[1:])
    np.subtract(e, s, out=e)
    return int(np.maximum(e, 0, out=e).sum())


def check_hazards(commands: Commands, trace: Trace) -> list[str]:
    """Every violation in `trace` of `commands`, re-derived from program order and the timing's named fields;
    [] when hazard-free. Independent of the engine: it reads no policy and no rule list of the scheduler.

    Checks each input command issued once and in no refresh window; RAW, WAR and WAW on every GBuf / OBuf
    entry (a command may use an entry only after the earlier conflicting access completed, except MACs
    accumulating into one output entry and back-to-back writes of one kind, which only keep their order);
    MACs only on an open row, after tRCD; PRE / ACT spacing (tRAS, tRTP, tRP, tRC); one command per cycle on
    the command bus; on the data bus, the burst between transfers and the write-to-read / read-to-write turnaround.
    """
    n = len(commands)
    where = trace.of_commands() if trace.commands == n else np.full(n, -1)
    if trace.commands != n or (where < 0).any() or (np.bincount(trace.id[trace.id < n], minlength=n) != 1).any():
        return [f"the trace does not issue each of the {n} commands exactly once"]
    issue, done = trace.issue_cycles[where], trace.done_cycles[where]
    problems: list[str] = []
    for label, column, reads, writes in (
        ("GBuf", commands.gbuf, (Kind.MAC,), (Kind.WR_INP,)),
        ("OBuf", commands.obuf, (Kind.RD_OUT, Kind.MAC), (Kind.WR_BIAS, Kind.MAC)),
    ):
        users = np.flatnonzero(column >= 0)
        order = users[np.lexsort((users, column[users]))]
        for entry in np.unique(column[users]):
            mine = order[column[order] == entry]
            problems += _entry_problems(label, int(entry), mine, commands.kind, issue, done, reads, writes)
    cycles, counts = np.unique(trace.issue_cycles, return_counts=True)
    for cycle, count in zip(cycles[counts > 1].tolist(), counts[counts > 1].tolist()):
        problems.append(f"command bus: {count} commands issue in cycle {cycle}")
    return problems + _row_problems(trace) + _data_bus_problems(trace)


def _entry_problems(label, entry, users, kind, issue, done, reads, writes) -> list[str]:
    """RAW / WAR / WAW on one buffer entry; `users` in program order."""
    problems, previous, write_done, readers = [], -1, -1, []
    for i in users:
        k = kind[i]
        repeat = previous >= 0 and kind[previous] == k
        if repeat and k in writes and (k != Kind.MAC or label == "OBuf"):
            # MACs accumulating into one output, or writes of one pipeline (same latency): order suffices
            if issue[i] <= issue[previous]:
                problems.append(f"order on {label} {entry}: {Kind(k).name} {i} issues before the earlier {previous}")
        else:
            if issue[i] < write_done:
                problems.append(f"RAW/WAW on {label} {entry}: command {i} ({Kind(k).name}) issues at "
                                f"{issue[i]}, before an earlier write completes at {write_done}")
            if k in writes:
                problems += [f"WAR on {label} {entry}: command {i} ({Kind(k).name}) issues at {issue[i]}, before "
                             f"command {r} finishes reading at {done[r]}" for r in readers if issue[i] < done[r]]
        if k in writes:
            write_done, readers = max(write_done, done[i]), []
        if k in reads:
            readers.append(i)
        previous = i
    return problems


def _row_problems(trace: Trace) -> list[str]:
    """Refresh windows, and (with rows) ACT / PRE / MAC spacing from the timing's row table."""
    problems, ref_end, open_row, last = [], -1, -1, {}
    for r in np.argsort(trace.issue_cycles, kind="stable"):
        k, c = Kind(int(trace.kind[r])), int(trace.issue_cycles[r])
        if k == Kind.REF:
            open_row, ref_end = -1, int(trace.done_cycles[r])
        elif c < ref_end:
            problems.append(f"command {int(trace.id[r])} issues at {c}, inside a refresh window ending at {ref_end}")
        if trace.timing.rows and k in (Kind.ACT, Kind.PRE, Kind.MAC):
            problems += _row_command_problems(trace, r, k, c, open_row, last)
            open_row = int(trace.row[r]) if k == Kind.ACT else (-1 if k == Kind.PRE else open_row)
            last[k] = c
    return problems


def _row_command_problems(trace: Trace, r: int, k: Kind, c: int, open_row: int, last: dict) -> list[str]:
    """One ACT / PRE / MAC at cycle c: its distance to the latest ACT, PRE, MAC, and the open row."""
    problems = [f"{k.name} at {c} within {trace.timing.row_cycles[(a, k)]} cycles of {a.name} at {last[a]}"
                for a in (Kind.PRE, Kind.ACT, Kind.MAC) if a in last and c < last[a] + trace.timing.row_cycles[(a, k)]]
    if k == Kind.ACT and open_row >= 0:
        problems.append(f"ACT at {c} while row {open_row} is open")
    if k == Kind.MAC and open_row != trace.row[r]:
        problems.append(f"MAC {int(trace.id[r])} at {c} on row {int(trace.row[r])}, open row {open_row}")
    return problems


def _data_bus_problems(trace: Trace) -> list[str]:
    """WR-INP / WR-BIAS (writes) and RD-OUT (reads) on the data bus: each transfer at least bus_burst_cycles
    after the previous one; a change of direction at least the turnaround of that pair of kinds."""
    t = trace.timing
    writes, reads = (Kind.WR_INP, Kind.WR_BIAS), (Kind.RD_OUT,)
    on_bus = np.flatnonzero(np.isin(trace.kind, writes + reads))
    on_bus = on_bus[np.argsort(trace.issue_cycles[on_bus], kind="stable")]
    problems, last = [], {}  # kind -> latest issue cycle
    for r in on_bus:
        k, c = Kind(int(trace.kind[r])), int(trace.issue_cycles[r])
        for earlier, when in last.items():
            turn = (earlier in writes) != (k in writes)
            need = max(t.bus_burst_cycles, t.bus_turnaround_cycles[(earlier, k)] if turn else 0)
            if c < when + need:
                what = "turnaround" if turn and need > t.bus_burst_cycles else "burst"
                problems.append(f"data bus: {k.name} {int(trace.id[r])} at {c} within the {what} ({need} cycles) "
                                f"of {earlier.name} at {when}")
        last[k] = c
    return problems
