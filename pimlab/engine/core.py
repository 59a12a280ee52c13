"""The core loop every policy shares: one channel, one command per cycle on the command bus.

Each pass asks the policy's queue heads for their earliest legal cycle (`head_ready`: the controller's own
rules, then the policy's), issues the earliest (oldest first on a tie), or refreshes when that would cross
tREFI. Before a MAC on another row the controller inserts PRE / ACT (an ACT waits for the refresh when the
refresh would close the row before its MAC could issue), and for a policy that switches modes the register /
MAC mode switch. The rules every policy obeys: DRAM row timing, the data bus (burst and
turnaround), refresh; the static controller's fixed gaps bind as far as the policy `obeys` them.
"""

from __future__ import annotations

from array import array
from functools import lru_cache

import numpy as np

from pimlab.engine.policies import DCS, PingPong, Policy, Static, int_array
from pimlab.isa import QUEUE_OF_KIND, Commands, Kind
from pimlab.trace import Bound, Trace

__all__ = ["Engine", "pair_rules", "total_cycles"]

NEVER = 1 << 62
_STALE = object()  # a cached readiness that must be recomputed
_ACT, _PRE, _MAC, _MODE, _REF = int(Kind.ACT), int(Kind.PRE), int(Kind.MAC), int(Kind.MODE), int(Kind.REF)
_READY, _REFRESH, _QUEUE, _BUS = Bound.READY, Bound.REFRESH, Bound.QUEUE, Bound.BUS
_BUILT_IN = (Static, PingPong, DCS)


def pair_rules(timing, policy) -> list[list[tuple[int, int, int]]]:
    """Per later kind: the (earlier kind, distance, Bound code) rules that bind under `policy`.

    Where two rules name one pair the longer distance wins (the first one listed on a tie: row, static, data
    bus, mode switch).
    """
    rules = [dict() for _ in Kind]
    for a, b, distance, code in _pair_candidates(timing, policy):
        if distance and distance > rules[b].get(a, (0, 0))[0]:
            rules[b][int(a)] = (distance, code)
    return [[(a, d, code) for a, (d, code) in sorted(rule.items())] for rule in rules]


def _pair_candidates(timing, policy) -> list[tuple]:
    """Row timing and the data bus bind every policy; a static fixed gap binds when policy.obeys(a, b); tMODCH
    after a mode switch binds the policies that switch modes."""
    out = [(a, b, d, Bound.ROW) for (a, b), d in timing.row_cycles.items()]
    out += [(a, b, d, Bound.STATIC) for (a, b), d in timing.static_gap_cycles.items() if policy.obeys(a, b)]
    out += [(a, b, timing.bus_distance(a, b), Bound.DATA_BUS) for a in Kind for b in Kind]
    if policy.mode_switch:
        out += [(Kind.MODE, b, timing.tMODCH, Bound.MODE) for b in Kind if b not in (Kind.REF, Kind.MODE)]
    return out


def _rules(timing, policy) -> tuple[tuple, tuple]:
    """(pair_rules, affects[k]: the kinds a rule from kind k binds); computed once per timing for a built-in
    policy (their `obeys` reads nothing of the instance)."""
    if type(policy) in _BUILT_IN:
        return _built_in_rules(timing, type(policy))
    return _rules_of(pair_rules(timing, policy))


@lru_cache(maxsize=256)
def _built_in_rules(timing, cls: type) -> tuple[tuple, tuple]:
    return _rules_of(pair_rules(timing, cls.__new__(cls)))


def _rules_of(pairs: list) -> tuple[tuple, tuple]:
    """Read-only (an engine of a built-in policy shares them)."""
    return (tuple(tuple(rule) for rule in pairs),
            tuple(frozenset(b for b in range(len(Kind)) if any(a == k for a, _, _ in pairs[b])) for k in Kind))


def total_cycles(kind: np.ndarray, issue_cycles: np.ndarray, done_cycles: np.ndarray, timing) -> int:
    """Length of the run: the last completion, or aim_simulator's EOC rule when the timing has one."""
    if timing.end_extra_cycles is None:
        return int(done_cycles.max())
    return int((issue_cycles + np.asarray(timing.end_extra_cycles.per_kind())[kind]).max())


class Engine:
    """One stream under one policy. State is plain Python (ints and lists) for speed; the Trace is built last."""

    def __init__(self, commands: Commands, policy, timing, gbuf_entries: int, obuf_entries: int):
        self.commands, self.policy, self.timing = commands, policy, timing
        self.gbuf_entries, self.obuf_entries = gbuf_entries, obuf_entries
        self.n = n = len(commands)
        self.kind, self.row = commands.kind.tolist(), int_array(commands.row)  # kinds are small: cached ints
        self.queues = policy.queues()
        nq = len(self.queues)
        self.head, self.queue_time, self.queue_id, self.waiting = [0] * nq, [-NEVER] * nq, [-1] * nq, [-1] * nq
        # per-command state as machine ints (8 bytes each; a list of ints takes 40)
        self.issue_cycles, self.done_cycles, self.depends_on, self.bound_by = (array("q", [v]) * n
                                                                              for v in (-1, -1, -1, 0))
        self.inserted: list[tuple] = []  # (id, kind, row, issue, done, depends_on, bound_by, source MAC)
        self.blocks: list[tuple] = []  # the fast path's replayed periods: (data arrays, inserted arrays)
        self.log: list[int] = []  # data commands in issue order
        self.last_time, self.last_id = [-NEVER] * len(Kind), [-1] * len(Kind)  # latest issue of each kind
        self.pairs, self.affects = _rules(timing, policy)
        self.latency = timing.latency_cycles.per_kind()
        self.latency[_REF], self.latency[_MODE] = timing.tRFC, timing.tMODCH
        self.use_mode = policy.mode_switch and timing.tMODCH > 0
        self.tRCD = timing.row_cycles[(Kind.ACT, Kind.MAC)]
        self.rows_on, self.first_cycle, self.tCCD = timing.rows, timing.start_cycle, timing.tCCD
        self.spacing = policy.queue_spacing  # each command at least tCCD after the previous one of its queue
        self.own_rules = type(policy).earliest is not Policy.earliest
        self.tracks_issue = type(policy).issued is not Policy.issued
        self.bus = timing.start_cycle - 1
        self.open_row, self.open_mac = -1, -1  # the open row and the MAC it was opened for
        self.mac_mode = True  # aim_simulator's channels start in MAC mode
        self.ref_end, self.ref_id = 0, -1
        self.next_ref = timing.tREFI if timing.refresh else NEVER
        self.n_inserted = 0  # inserted commands so far (ids n, n + 1, ...), some of them in `blocks`
        self.max_issued, self.refreshes = -1, 0
        self.replay = None  # the periodic fast path, when it drives this run

    # --- readiness -------------------------------------------------------------------------------------
    def head_ready(self, q: int):
        """(action, earliest cycle, Bound code, id it waits on, command) for queue q's head; None if blocked.

        The action is the command itself, or the ACT / PRE / mode switch the controller inserts before it.
        """
        i = self.queues[q][self.head[q]]
        k = action = self.kind[i]
        if k == _MAC and self.rows_on and self.open_row != self.row[i]:
            action = _PRE if self.open_row >= 0 else _ACT
        best, code, dep = self._shared_rules(action)
        if action == k:
            if self.spacing and self.queue_time[q] + self.tCCD > best:
                best, code, dep = self.queue_time[q] + self.tCCD, _QUEUE, self.queue_id[q]
            if self.own_rules:
                got = self.policy.earliest(self, q, i, best, code, dep)
                if got is None:
                    return None
                best, code, dep = got
        if self.use_mode and (k == _MAC) != self.mac_mode:
            action = _MODE  # issued when the command itself would pass its checks; then it waits tMODCH
        return action, best, code, dep, i

    def _shared_rules(self, action: int) -> tuple[int, int, int]:
        """(earliest cycle, Bound code, id) of `action` under the rules every policy shares: start, refresh, the
        pair rules (row timing, data bus, the fixed gaps the policy obeys)."""
        best, code, dep = self.first_cycle, _READY, -1
        if self.ref_end > best:
            best, code, dep = self.ref_end, _REFRESH, self.ref_id
        last_time = self.last_time
        for a, distance, why in self.pairs[action]:
            when = last_time[a] + distance
            if when > best:
                best, code, dep = when, why, self.last_id[a]
        if action == _ACT and best + self.tRCD >= self.next_ref:
            best, code, dep = self.next_ref, _REFRESH, -1  # refresh would close the row before its MAC
        return best, code, dep

    def oldest_head(self) -> tuple[int, int]:
        """(command, queue) of the oldest command not yet issued."""
        return min((self.queues[q][h], q) for q, h in enumerate(self.head) if h < len(self.queues[q]))

    # --- the loop --------------------------------------------------------------------------------------
    def run(self) -> Engine:
        """Issue every command. The built-in policies take their specialised loop (`pimlab.engine.fast`: the same
        schedule, faster); any other policy the plain loop, `run_plain`."""
        from pimlab.engine.fast import fast_loop

        loop = fast_loop(self)
        if loop is None:
            return self.run_plain()
        loop(self)
        return self

    def run_plain(self) -> Engine:
        """Issue every command, one per pass (see the module docstring): the reference loop."""
        nq = len(self.queues)
        cache = [_STALE] * nq  # each head's last readiness; None = blocked
        live = [q for q in range(nq) if len(self.queues[q])]
        while live:
            if self.one_pass(live, cache):
                continue
            cache = [_STALE] * nq
            live = [r for r in range(nq) if self.head[r] < len(self.queues[r])]
        return self

    def one_pass(self, live: list[int], cache: list) -> bool:
        """One pass: the chosen head issues (or its inserted ACT / PRE / mode switch), or a refresh, or the policy
        unblocks; False when every cached readiness is now stale."""
        q, at, got = self._choose(live, cache)
        if got is None:
            self.unblock()
            return False
        if at >= self.next_ref:
            self._refresh()
            return False
        return self._step(q, at, got, live, cache)

    def unblock(self) -> None:
        """Every head is blocked: the policy changes its state so that one can go, or it is a deadlock."""
        if not self.policy.unblock(self):
            raise RuntimeError(f"scheduler deadlock under {self.policy.name}: no queue head can ever issue")

    def _step(self, q: int, at: int, got: tuple, live: list[int], cache: list) -> bool:
        """Issue queue q's head action at cycle `at`; False when every cached readiness is now stale."""
        action, i = got[0], got[4]
        code, dep = (_BUS, -1) if got[1] <= self.bus else (got[2], got[3])
        self.bus = at
        if action != self.kind[i]:
            self._insert(action, i, at, dep, code)
            self._invalidate(cache, live, q, action, i)
            return True
        self._issue(q, i, at, dep, code)
        if self.head[q] == len(self.queues[q]):
            live.remove(q)
        self._invalidate(cache, live, q, action, i)
        return not (self.replay is not None and live and self.replay.after_issue(q))

    def _choose(self, live: list[int], cache: list):
        """(queue, cycle, readiness) of the head that issues next: earliest, oldest first on a tie."""
        chosen, at, bq, bus = None, 0, -1, self.bus
        for q in live:
            got = cache[q]
            if got is _STALE:
                got = cache[q] = self.head_ready(q)
            if got is None:
                continue
            when = got[1] if got[1] > bus else bus + 1
            if chosen is None or when < at or (when == at and got[4] < chosen[4]):
                chosen, at, bq = got, when, q
        return bq, at, chosen

    def _invalidate(self, cache: list, live: list[int], q: int, action: int, i: int) -> None:
        """After `action` issued from queue q: recompute q's head, heads waiting on i, heads it can bind."""
        cache[q] = _STALE
        affects, waiting = self.affects[action], self.waiting
        for r in live:
            got = cache[r]
            if got is _STALE:
                continue
            if (got is None and waiting[r] == i) or (got is not None and got[0] in affects):
                cache[r] = _STALE

    def _refresh(self) -> None:
        """REF at next_ref: every tREFI, whatever the stream; it closes the open row."""
        rid, at = self.n + self.n_inserted, self.next_ref
        self.n_inserted += 1
        self.inserted.append((rid, _REF, -1, at, at + self.timing.tRFC, -1, Bound.READY, -1))
        self.refreshes += 1
        self.bus, self.ref_end, self.ref_id = at, at + self.timing.tRFC, rid
        self.last_time[_REF], self.last_id[_REF] = at, rid
        self.open_row = -1  # refresh precharges every bank (its precharge is folded into tRFC)
        self.next_ref += self.timing.tREFI

    def _insert(self, action: int, i: int, at: int, dep: int, code: int) -> None:
        """A controller-inserted ACT, PRE or mode switch before command i."""
        xid = self.n + self.n_inserted
        self.n_inserted += 1
        src = i if action == _ACT else (self.open_mac if action == _PRE else -1)
        self.inserted.append((xid, action, self.row[src] if src >= 0 else -1, at, at + self.latency[action], dep,
                              code, src))
        self.last_time[action], self.last_id[action] = at, xid
        if action == _ACT:
            self.open_row, self.open_mac = self.row[i], i
        elif action == _PRE:
            self.open_row = -1
        else:
            self.mac_mode = not self.mac_mode

    def _issue(self, q: int, i: int, at: int, dep: int, code: int) -> None:
        k = self.kind[i]
        self.issue_cycles[i], self.done_cycles[i] = at, at + self.latency[k]
        self.depends_on[i], self.bound_by[i] = dep, code
        self.log.append(i)
        if i > self.max_issued:
            self.max_issued = i
        self.last_time[k], self.last_id[k] = at, i
        self.queue_time[q], self.queue_id[q] = at, i
        self.head[q] += 1
        if self.tracks_issue:
            self.policy.issued(self, q, i)

    # --- result ----------------------------------------------------------------------------------------
    def trace(self) -> Trace:
        """The run's Trace, built a column at a time (a long run's columns are most of its memory)."""
        n, c = self.n, self.commands
        data = [np.frombuffer(column, dtype=np.int64) for column in (  # the replayed periods are written into
            self.issue_cycles, self.done_cycles, self.depends_on, self.bound_by)]  # the loop's own arrays
        parts = [np.array(self.inserted, dtype=np.int64).reshape(-1, 8)[:, :7]]
        for replayed, inserted in self.blocks:
            for column, values in zip(data, replayed[1:]):
                column[replayed[0]] = values
            if inserted is not None:
                parts.append(np.stack(inserted, axis=1))
        extra = np.concatenate(parts)
        del parts
        order = np.argsort(np.concatenate((data[0], extra[:, 3])), kind="stable")

        def column(mine, inserted):  # the data commands' values, then the inserted ones', in issue order
            return np.concatenate((mine, inserted))[order]

        kind = column(c.kind, extra[:, 1])
        none = np.full(len(extra), -1)
        columns = {"id": column(np.arange(n), extra[:, 0]), "kind": kind,
                   "queue": QUEUE_OF_KIND[kind].astype(np.int64), "gbuf": column(c.gbuf, none),
                   "obuf": column(c.obuf, none), "row": column(np.where(c.kind == Kind.MAC, c.row, -1), extra[:, 2])}
        for name, index in (("issue_cycles", 3), ("done_cycles", 4), ("depends_on", 5), ("bound_by", 6)):
            columns[name] = column(data.pop(0), extra[:, index])
        total = total_cycles(columns["kind"], columns["issue_cycles"], columns["done_cycles"], self.timing)
        if self.replay is not None:  # the run is over: its fast path lets go of this engine (a reference cycle
            self.replay.e = None  # that would keep every list alive while the cycle collector is paused)
        return Trace(**columns, policy=self.policy.name, total_cycles=total, timing=self.timing,
                     gbuf_entries=self.gbuf_entries, obuf_entries=self.obuf_entries, commands=n)
