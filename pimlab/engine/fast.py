"""Specialised loops for the built-in policies: the plain loop's schedule (`Engine.run_plain`), column for column,
in less time.

Most passes of the plain loop are the common case: a data command issues, with no ACT / PRE / mode switch before
it and no refresh due. These loops do that case inline, with the hot state in local variables, and hand every
other pass (an inserted command, a refresh, a blocked head, a ping-pong hand-off) to the plain loop's own
`Engine.one_pass`, the state written back first and read again after. So the rare cases run the reference code
itself and only the common case is specialised: `Static` is one in-order queue (no choice among heads, no
readiness cache); `DCS` and `PingPong` are two queues, each head's readiness kept until something it depends on
issues, DCS's dependency rule inline, ping-pong's called. Each loop is used only when the policy is exactly that
class (a subclass may change any rule). The periodic fast path drives them as it drives the plain loop
(`replay.after_issue` after each issue). Tests compare every Trace column with the plain loop's
(tests/test_engine_fast.py).
"""

from __future__ import annotations

from pimlab.engine.core import _STALE, Engine
from pimlab.engine.policies import DCS, PingPong, Static
from pimlab.isa import Kind
from pimlab.trace import Bound

__all__ = ["fast_loop"]

_ACT, _PRE, _MAC = int(Kind.ACT), int(Kind.PRE), int(Kind.MAC)
_READY, _REFRESH, _QUEUE, _BUS, _DATA = Bound.READY, Bound.REFRESH, Bound.QUEUE, Bound.BUS, Bound.DATA


def fast_loop(engine: Engine):
    """The specialised loop for the engine's policy, or None (the plain loop runs)."""
    cls = type(engine.policy)
    if cls is Static:
        return _static_loop
    if cls in (DCS, PingPong) and not engine.use_mode and engine.spacing:
        return _two_queue_loop
    return None


def _plain_pass(e: Engine) -> None:
    """One pass of the plain loop from the engine's current state."""
    nq = len(e.queues)
    e.one_pass([q for q in range(nq) if e.head[q] < len(e.queues[q])], [_STALE] * nq)


def _row_macs(e: Engine) -> bytes:
    """1 for each MAC that needs its row open (rows modelled), else 0."""
    return ((e.commands.kind == _MAC) & bool(e.rows_on)).astype("u1").tobytes()


def _hot(e: Engine) -> tuple:
    return e.bus, e.ref_end, e.ref_id, e.next_ref, e.open_row, e.mac_mode, e.max_issued


def _static_loop(e: Engine) -> None:
    """Static: one queue in program order (command h is the head); a pass is common when the command's row is open,
    the mode is its own and it issues before the next refresh."""
    kind, row, pairs, latency, log, replay = e.kind, e.row, e.pairs, e.latency, e.log, e.replay
    issue, done, depends, bound = e.issue_cycles, e.done_cycles, e.depends_on, e.bound_by
    last_time, last_id, queue_time, queue_id = e.last_time, e.last_id, e.queue_time, e.queue_id
    row_mac, n, first = _row_macs(e), e.n, e.first_cycle
    mode_of = [k == _MAC or not e.use_mode for k in range(len(Kind))]  # without mode switches mac_mode stays True
    h = e.head[0]
    bus, ref_end, ref_id, next_ref, open_row, mac_mode, max_issued = _hot(e)
    while h < n:
        k = kind[h]
        if (row_mac[h] and row[h] != open_row) or mode_of[k] != mac_mode:
            h = _static_pass(e, h, bus, max_issued)
            bus, ref_end, ref_id, next_ref, open_row, mac_mode, max_issued = _hot(e)
            continue
        best, code, dep = (ref_end, _REFRESH, ref_id) if ref_end > first else (first, _READY, -1)
        for a, distance, why in pairs[k]:
            if last_time[a] + distance > best:
                best, code, dep = last_time[a] + distance, why, last_id[a]
        at = best if best > bus else bus + 1
        if at >= next_ref:
            h = _static_pass(e, h, bus, max_issued)
            bus, ref_end, ref_id, next_ref, open_row, mac_mode, max_issued = _hot(e)
            continue
        if best <= bus:
            code, dep = _BUS, -1
        bus = issue[h] = queue_time[0] = last_time[k] = at
        done[h], depends[h], bound[h] = at + latency[k], dep, code
        max_issued = queue_id[0] = last_id[k] = h
        log.append(h)
        h += 1
        if replay is not None and h < n:
            h = _static_replay(e, h, bus, max_issued)
            bus, ref_end, ref_id, next_ref, open_row, mac_mode, max_issued = _hot(e)
    e.bus, e.max_issued, e.head[0] = bus, max_issued, h


def _static_pass(e: Engine, h: int, bus: int, max_issued: int) -> int:
    """A plain pass of the one queue from the loop's state; the new head."""
    e.bus, e.max_issued, e.head[0] = bus, max_issued, h
    _plain_pass(e)
    return e.head[0]


def _static_replay(e: Engine, h: int, bus: int, max_issued: int) -> int:
    """The periodic fast path's look after an issue (it may move the state); the new head."""
    e.bus, e.max_issued, e.head[0] = bus, max_issued, h
    e.replay.after_issue(0)
    return e.head[0]


def _shared_rules(e: Engine):
    """shared(i) -> (action, earliest cycle, Bound code, id) of command i under the rules every policy shares: the
    core's `head_ready` up to the policy's own rules (row decision, start, refresh, pair rules)."""
    kind, row, pairs, last_time, last_id = e.kind, e.row, e.pairs, e.last_time, e.last_id
    row_mac, first, tRCD = _row_macs(e), e.first_cycle, e.tRCD

    def shared(i: int) -> tuple:
        k = action = kind[i]
        if row_mac[i] and row[i] != e.open_row:
            action = _PRE if e.open_row >= 0 else _ACT
        best, code, dep = (e.ref_end, _REFRESH, e.ref_id) if e.ref_end > first else (first, _READY, -1)
        for a, distance, why in pairs[action]:
            if last_time[a] + distance > best:
                best, code, dep = last_time[a] + distance, why, last_id[a]
        if action == _ACT and best + tRCD >= e.next_ref:
            best, code, dep = e.next_ref, _REFRESH, -1
        return action, best, code, dep

    return shared


def _dcs_ready(e: Engine):
    """ready(q, i) -> (earliest, code, id, action, i) of head i of queue q under DCS; None when it waits for its
    dependency to issue (e.waiting[q] names it). `DCS.earliest` inline."""
    shared, kind, issue, done, waiting = _shared_rules(e), e.kind, e.issue_cycles, e.done_cycles, e.waiting
    dep_g, dep_o, queue_time, queue_id, tCCD = e.policy.dep_g, e.policy.dep_o, e.queue_time, e.queue_id, e.tCCD

    def ready(q: int, i: int):
        action, best, code, dep = shared(i)
        if action != kind[i]:
            return best, code, dep, action, i
        if queue_time[q] + tCCD > best:
            best, code, dep = queue_time[q] + tCCD, _QUEUE, queue_id[q]
        for d in (dep_g[i], dep_o[i]):
            if d < 0:
                continue
            if issue[d] < 0:
                waiting[q] = d
                return None
            when = issue[d] + tCCD if kind[d] == action else done[d]
            if when > best:
                best, code, dep = when, _DATA, d
        return best, code, dep, action, i

    return ready


def _policy_ready(e: Engine):
    """ready(q, i) as `_dcs_ready`, the policy's own rules called (`Policy.earliest`)."""
    shared, kind, earliest, queue_time, queue_id, tCCD = (_shared_rules(e), e.kind, e.policy.earliest, e.queue_time,
                                                          e.queue_id, e.tCCD)

    def ready(q: int, i: int):
        action, best, code, dep = shared(i)
        if action != kind[i]:
            return best, code, dep, action, i
        if queue_time[q] + tCCD > best:
            best, code, dep = queue_time[q] + tCCD, _QUEUE, queue_id[q]
        got = earliest(e, q, i, best, code, dep)
        return None if got is None else (*got, action, i)

    return ready


def _pick(got: list, bus: int) -> tuple[int, int]:
    """(queue, cycle) of the head that issues next: earliest, oldest first on a tie; queue -1 if all are blocked."""
    q, at, oldest = -1, 0, 0
    for r, g in enumerate(got):
        if g is None:
            continue
        when = g[0] if g[0] > bus else bus + 1
        if q < 0 or when < at or (when == at and g[4] < oldest):
            q, at, oldest = r, when, g[4]
    return q, at


def _two_queue_loop(e: Engine) -> None:
    """DCS / ping-pong: the earlier of two heads issues; a head's readiness is kept until its own queue issues, the
    command it waits for issues, or a command of a kind that binds its action issues (as the plain loop's cache)."""
    ready = _dcs_ready(e) if type(e.policy) is DCS else _policy_ready(e)
    kind, latency, log, queues, head, waiting, affects = e.kind, e.latency, e.log, e.queues, e.head, e.waiting, e.affects
    issue, done, depends, bound = e.issue_cycles, e.done_cycles, e.depends_on, e.bound_by
    last_time, last_id, queue_time, queue_id = e.last_time, e.last_id, e.queue_time, e.queue_id
    issued = e.policy.issued if e.tracks_issue else None
    ends, got = [len(queue) for queue in queues], [_STALE, _STALE]
    while head[0] < ends[0] or head[1] < ends[1]:
        for q in (0, 1):
            if got[q] is _STALE:
                got[q] = ready(q, queues[q][head[q]]) if head[q] < ends[q] else None
        q, at = _pick(got, e.bus)
        g = got[q] if q >= 0 else None
        if g is None or at >= e.next_ref or g[3] != kind[g[4]]:
            _plain_pass(e)
            got = [_STALE, _STALE]
            continue
        i, k = g[4], g[3]
        if g[0] <= e.bus:
            g = (at, _BUS, -1)
        e.bus = issue[i] = queue_time[q] = last_time[k] = at
        done[i], depends[i], bound[i] = at + latency[k], g[2], g[1]
        queue_id[q] = last_id[k] = i
        e.max_issued = max(e.max_issued, i)
        log.append(i)
        head[q] += 1
        if issued is not None:
            issued(e, q, i)
        got[q] = _STALE
        _invalidate_other(got, 1 - q, i, affects[k], waiting)
        if e.replay is not None and (head[0] < ends[0] or head[1] < ends[1]) and e.replay.after_issue(q):
            got = [_STALE, _STALE]


def _invalidate_other(got: list, r: int, i: int, affects: set, waiting: list) -> None:
    """After command i issued from the other queue: queue r's readiness goes stale if it waited on i or a command
    of i's kind can bind its action."""
    g = got[r]
    if g is None:
        if waiting[r] == i:
            got[r] = _STALE
    elif g is not _STALE and g[3] in affects:
        got[r] = _STALE
