"""Specialised loops for the built-in policies: the plain loop's schedule (`Engine.run_plain`), column for column,
in less time.

Most passes of the plain loop are the common case: a data command issues, with no ACT / PRE / mode switch before
it and no refresh due. These loops do that case inline, with the hot state in local variables, and hand every
other pass (an inserted ACT / PRE, a refresh, a blocked head, a ping-pong hand-off) to the plain loop's own code
(`Engine.one_pass`, `_refresh`, `unblock`), the state written back first and read again after. So the rare cases
run the reference code itself and only the common case is specialised: `Static` is one in-order queue (no choice
among heads, no readiness cache; a run of one kind needs no rule scan; the mode switch inserted inline); `DCS` and
`PingPong` are two queues, each head's readiness kept until something it depends on issues, the policy's own rule
inline. Each loop is used only when the policy is exactly that class (a subclass may change any rule). The
periodic fast path drives them as it drives the plain loop (`replay.after_issue` after an issue), but only once the
issuing queue's next command reaches `replay.watch_from()` (before, the call would return at once): between cuts
the watch costs one comparison per issue. Tests compare every Trace column with the plain loop's
(tests/test_engine_fast.py).
"""

from __future__ import annotations

from array import array

from pimlab.engine.core import _STALE, NEVER, Engine
from pimlab.engine.policies import BUFFERS_USED, DCS, PingPong, Static
from pimlab.isa import Kind
from pimlab.trace import Bound

__all__ = ["fast_loop"]

_ACT, _PRE, _MAC, _MODE = int(Kind.ACT), int(Kind.PRE), int(Kind.MAC), int(Kind.MODE)
_READY, _REFRESH, _QUEUE, _BUS, _DATA, _HANDOFF = (Bound.READY, Bound.REFRESH, Bound.QUEUE, Bound.BUS, Bound.DATA,
                                                   Bound.HANDOFF)


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
    """Static: one queue in program order (command h is the head); a pass is common when the command's row is open
    and it issues before the next refresh (a mode switch it needs is inserted here). A command of the kind just
    issued (the run of MACs on one row) needs no rule scan: every other rule held for the command before it, so only
    the rule of its own kind can bind (`_same_kind`)."""
    kind, row, pairs, latency, log, replay = e.kind, e.row, e.pairs, e.latency, e.log, e.replay
    issue, done, depends, bound = e.issue_cycles, e.done_cycles, e.depends_on, e.bound_by
    last_time, last_id, queue_time, queue_id = e.last_time, e.last_id, e.queue_time, e.queue_id
    row_mac, n, first, (step, step_code, step_dep) = _row_macs(e), e.n, e.first_cycle, _same_kind(e.pairs)
    mode_of = [k == _MAC or not e.use_mode for k in range(len(Kind))]  # without mode switches mac_mode stays True
    h, before = e.head[0], -1  # before: the kind of the command issued last, if the loop issued it
    watch = _watch_from(replay)
    bus, ref_end, ref_id, next_ref, open_row, mac_mode, max_issued = _hot(e)
    while h < n:
        k = kind[h]
        if row_mac[h] and row[h] != open_row:
            h, before = _static_pass(e, h, bus, max_issued), -1
            bus, ref_end, ref_id, next_ref, open_row, mac_mode, max_issued = _hot(e)
            continue
        if k == before:  # issued at bus: its own kind's rule, or the command bus
            at, code, dep = bus + step[k], step_code[k], step_dep[k] * h - 1  # dep: h - 1, or -1 (the bus)
        else:
            best, code, dep = (ref_end, _REFRESH, ref_id) if ref_end > first else (first, _READY, -1)
            for a, distance, why in pairs[k]:
                if last_time[a] + distance > best:
                    best, code, dep = last_time[a] + distance, why, last_id[a]
            at, code, dep = (best, code, dep) if best > bus else (bus + 1, _BUS, -1)
        if at >= next_ref:
            h, before = _static_pass(e, h, bus, max_issued), -1
            bus, ref_end, ref_id, next_ref, open_row, mac_mode, max_issued = _hot(e)
            continue
        if mode_of[k] != mac_mode:  # the mode switch issues when the command would, then the command waits tMODCH
            e._insert(_MODE, h, at, dep, code)
            bus, mac_mode, before = at, e.mac_mode, -1
            continue
        bus = issue[h] = queue_time[0] = last_time[k] = at
        done[h], depends[h], bound[h] = at + latency[k], dep, code
        max_issued = queue_id[0] = last_id[k] = h
        log.append(h)
        h, before = h + 1, k
        if h >= watch:
            h, before = _static_replay(e, h, bus, max_issued), -1
            bus, ref_end, ref_id, next_ref, open_row, mac_mode, max_issued = _hot(e)
            watch = _watch_from(replay)
    e.bus, e.max_issued, e.head[0] = bus, max_issued, h


def _same_kind(pairs) -> tuple[list, list, list]:
    """Per kind k, for a command right after one of its own kind that issued at `bus`: (cycles after bus, Bound
    code, 1 if it waits on that command else 0). With a rule k -> k of distance d >= 1 that rule binds (the others
    reach bus at most); without one the command bus does (bus + 1)."""
    own = [dict((a, (d, why)) for a, d, why in rules).get(k) for k, rules in enumerate(pairs)]
    return ([d if d else 1 for d, _ in (x or (0, 0) for x in own)], [x[1] if x else _BUS for x in own],
            [1 if x else 0 for x in own])


def _watch_from(replay) -> int:
    """The index a queue's next command must reach before the periodic fast path's look after an issue can act
    (`Replay.watch_from`); never without one."""
    return NEVER if replay is None else replay.watch_from()


def _static_pass(e: Engine, h: int, bus: int, max_issued: int) -> int:
    """A plain pass of the one queue from the loop's state; the new head."""
    e.bus, e.max_issued, e.head[0] = bus, max_issued, h
    _plain_pass(e)
    return e.head[0]


def _static_replay(e: Engine, h: int, bus: int, max_issued: int) -> int:
    """The periodic fast path's look after an issue while a command is left (it may move the state); the new head."""
    e.bus, e.max_issued, e.head[0] = bus, max_issued, h
    if h < e.n:
        e.replay.after_issue(0)
    return e.head[0]


def _readiness(e: Engine):
    """ready(q, i) -> (earliest cycle, Bound code, id, action, i) of head i of queue q; None when it cannot issue
    yet (e.waiting[q] names the command it waits for). The core's `head_ready` with the policy's rules inline; for a
    head that needs an inserted ACT / PRE the cycle is a lower bound (a plain pass decides)."""
    kind, row, pairs, last_time, last_id = e.kind, e.row, e.pairs, e.last_time, e.last_id
    row_mac, first, tCCD, queue_time, queue_id = _row_macs(e), e.first_cycle, e.tCCD, e.queue_time, e.queue_id
    own = _dcs_rules(e) if type(e.policy) is DCS else _pingpong_rules(e)

    def ready(q: int, i: int):
        k = action = kind[i]
        if row_mac[i] and row[i] != e.open_row:
            action = _PRE if e.open_row >= 0 else _ACT
        best, code, dep = (e.ref_end, _REFRESH, e.ref_id) if e.ref_end > first else (first, _READY, -1)
        for a, distance, why in pairs[action]:
            if last_time[a] + distance > best:
                best, code, dep = last_time[a] + distance, why, last_id[a]
        if action != k:
            return best, code, dep, action, i
        if queue_time[q] + tCCD > best:
            best, code, dep = queue_time[q] + tCCD, _QUEUE, queue_id[q]
        return own(q, i, k, best, code, dep)

    return ready


def _dcs_rules(e: Engine):
    """own(q, i, k, best, code, dep): `DCS.earliest` inline, the readiness tuple or None."""
    kind, issue, done, waiting, dep_g, dep_o, tCCD = (e.kind, e.issue_cycles, e.done_cycles, e.waiting,
                                                      e.policy.dep_g, e.policy.dep_o, e.tCCD)

    def own(q: int, i: int, k: int, best: int, code: int, dep: int):
        for d in (dep_g[i], dep_o[i]):
            if d < 0:
                continue
            if issue[d] < 0:
                waiting[q] = d
                return None
            when = issue[d] + tCCD if kind[d] == k else done[d]
            if when > best:
                best, code, dep = when, _DATA, d
        return best, code, dep, k, i

    return own


def _pingpong_rules(e: Engine):
    """own(q, i, k, best, code, dep): `PingPong.earliest` inline (its state read in the policy's own lists)."""
    p = e.policy
    issue, waiting, uses, region, region_dep = e.issue_cycles, e.waiting, p.uses, p.region, p.region_dep
    compute_region, handoff, handoff_id = p.compute_region, p.handoff, p.handoff_id

    def own(q: int, i: int, k: int, best: int, code: int, dep: int):
        for b in BUFFERS_USED[uses[i]]:
            d = region_dep[b][i]
            if d >= 0 and issue[d] < 0:
                waiting[q] = d
                return None
            if region[b][i] != compute_region[b] ^ q ^ 1:  # the region queue q owns
                waiting[q] = -1
                return None
            if handoff[b] > best:
                best, code, dep = handoff[b], _HANDOFF, handoff_id[b]
        return best, code, dep, k, i

    return own


def _pick(g0, g1, bus: int) -> int:
    """The queue whose head issues next: earliest, oldest first on a tie; -1 if both are blocked (None)."""
    if g0 is None or g1 is None:
        return -1 if g0 is None and g1 is None else (1 if g0 is None else 0)
    w0, w1 = (g0[0] if g0[0] > bus else bus + 1), (g1[0] if g1[0] > bus else bus + 1)
    return 0 if w0 < w1 or (w0 == w1 and g0[4] < g1[4]) else 1


def _two_queue_loop(e: Engine) -> None:
    """DCS / ping-pong: the earlier of two heads issues; a head's readiness is kept until its own queue issues, the
    command it waits for issues, or a command of a kind that binds its action issues (as the plain loop's cache)."""
    ready = _readiness(e)
    kind, latency, log, (q0, q1), head = e.kind, e.latency, e.log, e.queues, e.head
    waiting, affects = e.waiting, e.affects
    issue, done, depends, bound = e.issue_cycles, e.done_cycles, e.depends_on, e.bound_by
    last_time, last_id, queue_time, queue_id = e.last_time, e.last_id, e.queue_time, e.queue_id
    issued, replay, end0, end1 = e.policy.issued if e.tracks_issue else None, e.replay, len(q0), len(q1)
    got, bus, watch, ahead = [_STALE, _STALE], e.bus, _watch_from(replay), _ends_marked(e.queues)
    while head[0] < end0 or head[1] < end1:
        if got[0] is _STALE:
            got[0] = ready(0, q0[head[0]]) if head[0] < end0 else None
        if got[1] is _STALE:
            got[1] = ready(1, q1[head[1]]) if head[1] < end1 else None
        q = _pick(got[0], got[1], bus)
        if q < 0:
            got, bus = _rare_pass(e, bus, None, 0)
            continue
        at, code, dep, k, i = got[q]
        if at <= bus:
            at, code, dep = bus + 1, _BUS, -1
        if k != kind[i] or at >= e.next_ref:
            got, bus = _rare_pass(e, bus, k, at)
            continue
        bus = issue[i] = queue_time[q] = last_time[k] = at
        done[i], depends[i], bound[i] = at + latency[k], dep, code
        queue_id[q] = last_id[k] = i
        log.append(i)
        head[q] += 1
        got[q] = _STALE
        if i > e.max_issued:
            e.max_issued = i
        if issued is not None:
            issued(e, q, i)
        _invalidate_other(got, 1 - q, i, affects[k], waiting)
        if ahead[q][head[q]] >= watch:  # queue q's next command (NEVER - 1 after its last)
            got, bus = _replay(e, q, bus, got)
            watch = _watch_from(replay)
    e.bus = bus


def _ends_marked(queues) -> tuple:
    """The queues with NEVER - 1 after their last command."""
    return tuple(array("q", queue) + array("q", [NEVER - 1]) for queue in queues)


def _rare_pass(e: Engine, bus: int, action, at: int) -> tuple[list, int]:
    """Both heads blocked (action None): the policy unblocks. The earliest head at or after the next refresh (its
    cycle exact or, for an inserted command, a lower bound): the refresh. Else an inserted command: a plain pass
    decides. (readiness, bus) after it: all stale."""
    e.bus = bus
    if action is None:
        e.unblock()
    elif at >= e.next_ref:
        e._refresh()
    else:
        _plain_pass(e)
    return [_STALE, _STALE], e.bus


def _replay(e: Engine, q: int, bus: int, got: list) -> tuple[list, int]:
    """The periodic fast path's look after an issue while a command is left; (readiness, bus) after it (all stale
    if the state moved)."""
    e.bus = bus
    if any(h < len(queue) for h, queue in zip(e.head, e.queues)) and e.replay.after_issue(q):
        got = [_STALE, _STALE]
    return got, e.bus


def _invalidate_other(got: list, r: int, i: int, affects: set, waiting: list) -> None:
    """After command i issued from the other queue: queue r's readiness goes stale if it waited on i or a command
    of i's kind can bind its action."""
    g = got[r]
    if g is None:
        if waiting[r] == i:
            got[r] = _STALE
    elif g is not _STALE and g[3] in affects:
        got[r] = _STALE
