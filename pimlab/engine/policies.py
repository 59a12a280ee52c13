"""Scheduling policies: each says which queues a channel's commands wait in and when a queue's head may issue.

The core loop (`pimlab.engine.core`) does what every policy shares: DRAM row timing, the data bus, refresh, one
command per cycle on the command bus, the controller's inserted ACT / PRE / REF / mode switch. A policy adds its
own rules in one place, `earliest`. A new policy is one subclass of `Policy` (see tests/test_engine_policy.py);
`register` makes it known by name.
"""

from __future__ import annotations

from array import array

import numpy as np

from pimlab.isa import DATA_KINDS, QUEUE_OF_KIND, Commands, Kind
from pimlab.trace import Bound
from pimlab.validate import ceil_div

__all__ = ["Policy", "Static", "PingPong", "DCS", "POLICIES", "policy_class", "register", "dependency_ids", "int_array",
           "BUFFERS_USED"]


def int_array(values: np.ndarray) -> array:
    """A numpy int column as an array of machine ints: indexing gives Python ints, 8 bytes an entry (a list of
    ints takes 40), for the per-command state the loop indexes."""
    return array("q", np.ascontiguousarray(values, dtype=np.int64).tobytes())


def dependency_ids(entries: np.ndarray) -> np.ndarray:
    """D-Table assignment: for each command, the previous command touching the same entry (-1 none)."""
    entries = np.asarray(entries, dtype=np.int64)
    out = np.full(len(entries), -1, dtype=np.int64)
    small = len(entries) and -(1 << 15) <= entries.min() and entries.max() < (1 << 15)
    keys = entries.astype(np.int16) if small else entries  # 16-bit keys take numpy's linear-time radix sort
    order = np.argsort(keys, kind="stable")  # by entry, program order within an entry
    sorted_entries = entries[order]
    same = (sorted_entries[1:] == sorted_entries[:-1]) & (sorted_entries[1:] >= 0)
    out[order[1:][same]] = order[:-1][same]
    return out


class Policy:
    """Base class. One instance schedules one stream; the engine calls the methods below.

    mode_switch: the controller switches between register I/O and MAC mode (tMODCH) before a command of the
    other mode. queue_spacing: a command issues at least tCCD after the previous command of its queue.
    `queues` lists the command indices of each queue in issue order; `obeys(a, b)` says whether the static
    controller's fixed gap from kind a to kind b binds; `earliest` applies the policy's own readiness rules
    (it may read the engine's issue_cycles / done_cycles / kind and must depend only on its own queue and on
    the commands it waits for).
    """

    name = "policy"
    mode_switch = False
    queue_spacing = False  # each command at least tCCD after the previous command of its queue

    def __init__(self, commands: Commands, timing, gbuf_entries: int, obuf_entries: int, deps=None):
        """deps: the GBuf and OBuf `dependency_ids`, when the caller already has them."""
        self.commands, self.timing = commands, timing
        self.gbuf_entries, self.obuf_entries = gbuf_entries, obuf_entries

    def queues(self) -> list:
        return [range(len(self.commands))]

    def obeys(self, earlier: Kind, later: Kind) -> bool:
        return False

    def earliest(self, engine, q: int, i: int, best: int, code: int, dep: int):
        """(cycle, Bound code, id it waits on) for head i of queue q, given the core's (best, code, dep); or None
        when the head cannot issue yet, with engine.waiting[q] the command it waits to see issued (-1: other)."""
        return best, code, dep

    def issued(self, engine, q: int, i: int) -> None:
        """Command i of queue q issued (engine.issue_cycles[i] / done_cycles[i] are set)."""

    def unblock(self, engine) -> bool:
        """Every head is blocked: change the policy's state so one can go (True), or report a deadlock (False)."""
        return False

    # the periodic fast path (pimlab.engine.periodic) keys and shifts the policy's own state with these
    def look_back(self) -> list:
        """Dependency-id arrays the policy follows (the fast path keeps that far back in its window)."""
        return []

    def state(self, rel, ref) -> tuple:
        """The policy's state relative to now: rel(cycle) and ref(id, cycle) make times and ids relative."""
        return ()

    def shift(self, cycles: int, sid) -> None:
        """Move the policy's state forward by `cycles` and map its ids with sid(id)."""


class Static(Policy):
    """Static in-order (the AiMX / aim_simulator controller): one queue in program order; every fixed gap of
    the timing table binds; the controller switches between register I/O and MAC mode (tMODCH); buffer entries
    are not tracked (program order already keeps every access in order)."""

    name = "static"
    mode_switch = True

    def obeys(self, earlier, later):
        return True


class _TwoQueues(Policy):
    """An I/O queue (WR-INP, RD-OUT, WR-BIAS) and a compute queue (MAC), each spaced at least tCCD."""

    queue_spacing = True

    def queues(self):
        q = QUEUE_OF_KIND[self.commands.kind]
        return [int_array(np.flatnonzero(q == 0)), int_array(np.flatnonzero(q == 1))]


class DCS(_TwoQueues):
    """Dynamic command scheduling (PIMphony): an I/O queue and a compute queue. The D-Table gives each command
    the id (DID) of the last command touching its GBuf / OBuf entry; it issues once that command has completed
    (S-Table expiration), at least tCCD after the previous command of its queue. The is-MAC flag lets two
    commands of one kind on one entry follow at tCCD (pimlab extends it from MACs to any kind: they pass one
    pipeline in order). No mode switch, no fixed gaps between command types; like every policy it obeys the
    row timing and the data bus (burst, write-to-read and read-to-write turnaround) that the core loop applies."""

    name = "dcs"

    def __init__(self, commands, timing, gbuf_entries, obuf_entries, deps=None):
        super().__init__(commands, timing, gbuf_entries, obuf_entries, deps)
        deps = deps or (dependency_ids(commands.gbuf), dependency_ids(commands.obuf))
        self.deps = deps
        self.dep_g, self.dep_o = int_array(deps[0]), int_array(deps[1])

    def after(self, engine, d: int, kind: int) -> int:
        """Earliest cycle a command of `kind` may follow command d on a shared entry (the is-MAC bypass)."""
        return engine.issue_cycles[d] + self.timing.tCCD if engine.kind[d] == kind else engine.done_cycles[d]

    def earliest(self, engine, q, i, best, code, dep):
        k = engine.kind[i]
        for d in (self.dep_g[i], self.dep_o[i]):
            if d < 0:
                continue
            if engine.issue_cycles[d] < 0:
                engine.waiting[q] = d
                return None
            when = self.after(engine, d, k)
            if when > best:
                best, code, dep = when, Bound.DATA, d
        return best, code, dep

    def look_back(self):
        return list(self.deps)


BUFFERS_USED = ((), (0,), (1,), (0, 1))  # by PingPong.uses: bit 0 GBuf, bit 1 OBuf


class PingPong(_TwoQueues):
    """Ping-pong buffering: an I/O queue and a compute queue, each a static in-order pipeline (the fixed gaps
    between its own command types bind). Each buffer is split into two regions, each owned by one side; a side
    touches only its regions, each region in program order; the owners swap only when no head can issue
    without a swap and both regions are idle (every access to them completed). No mode switch."""

    name = "pingpong"

    def __init__(self, commands, timing, gbuf_entries, obuf_entries, deps=None):
        super().__init__(commands, timing, gbuf_entries, obuf_entries, deps)
        half_g, half_o = ceil_div(gbuf_entries, 2), ceil_div(obuf_entries, 2)
        region = (np.where(commands.gbuf >= half_g, 1, 0), np.where(commands.obuf >= half_o, 1, 0))
        self.region = tuple(r.astype(np.uint8).tobytes() for r in region)  # indexing bytes gives ints
        self.uses = ((commands.gbuf >= 0) + 2 * (commands.obuf >= 0)).astype(np.uint8).tobytes()  # bit b: buffer b
        self.region_deps = tuple(dependency_ids(np.where(column >= 0, r, -1))
                                 for column, r in zip((commands.gbuf, commands.obuf), region))
        self.region_dep = tuple(int_array(d) for d in self.region_deps)  # previous user of the same region
        self.compute_region = [1, 0]  # region of (GBuf, OBuf) the compute side owns; I/O owns the other
        self.buffer_done, self.buffer_last = [0, 0], [-1, -1]  # latest completion of an access to each buffer
        self.handoff, self.handoff_id = [0, 0], [-1, -1]  # cycle of each buffer's last hand-off

    def obeys(self, earlier, later):
        data = earlier in DATA_KINDS and later in DATA_KINDS
        return data and QUEUE_OF_KIND[earlier] == QUEUE_OF_KIND[later]

    def _owned(self, b: int, q: int) -> int:
        """The region of buffer b that queue q (0 I/O, 1 compute) owns."""
        return self.compute_region[b] ^ q ^ 1

    def earliest(self, engine, q, i, best, code, dep):
        for b in BUFFERS_USED[self.uses[i]]:
            d = self.region_dep[b][i]
            if d >= 0 and engine.issue_cycles[d] < 0:
                engine.waiting[q] = d
                return None
            if self.region[b][i] != self._owned(b, q):
                engine.waiting[q] = -1
                return None
            if self.handoff[b] > best:
                best, code, dep = self.handoff[b], Bound.HANDOFF, self.handoff_id[b]
        return best, code, dep

    def issued(self, engine, q, i):
        for b in BUFFERS_USED[self.uses[i]]:
            if engine.done_cycles[i] > self.buffer_done[b]:
                self.buffer_done[b] = engine.done_cycles[i]
            self.buffer_last[b] = i

    def unblock(self, engine):
        """Swap the regions the oldest head needs; the swap takes effect once both regions are idle."""
        i, q = engine.oldest_head()
        for b in BUFFERS_USED[self.uses[i]]:
            if self.region[b][i] != self._owned(b, q):
                self.compute_region[b] = 1 - self.compute_region[b]
                self.handoff[b] = max(self.buffer_done[b], engine.bus + 1)
                self.handoff_id[b] = self.buffer_last[b]
        return True

    def look_back(self):
        return list(self.region_deps)

    def state(self, rel, ref):
        return (tuple(self.compute_region), tuple(map(rel, self.buffer_done)),
                tuple(map(ref, self.buffer_last, self.buffer_done)), tuple(map(rel, self.handoff)),
                tuple(map(ref, self.handoff_id, self.handoff)))

    def shift(self, cycles, sid):
        for times, ids in ((self.buffer_done, self.buffer_last), (self.handoff, self.handoff_id)):
            times[:] = [t + cycles for t in times]
            ids[:] = [sid(x) for x in ids]


POLICIES: dict[str, type] = {}


def register(cls: type) -> type:
    """Make a Policy subclass known by its `name` (schedule(..., policy=name))."""
    if not (isinstance(cls, type) and issubclass(cls, Policy)):
        raise ValueError(f"policy must be a subclass of pimlab.engine.Policy, got {cls!r}")
    POLICIES[cls.name] = cls
    return cls


for _cls in (Static, PingPong, DCS):
    register(_cls)


def policy_class(policy) -> type:
    """The Policy subclass named `policy` (or `policy` itself when it is one)."""
    if isinstance(policy, type) and issubclass(policy, Policy):
        return policy
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)} (or a pimlab.engine.Policy subclass); "
                         f"got {policy!r}")
    return POLICIES[policy]
