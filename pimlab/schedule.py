"""Three command-scheduling policies for one PIM channel, one core loop: static in-order, ping-pong, DCS.

All policies share the loop: each cycle the controller looks at the head of each queue, works out the
earliest cycle it may issue, and issues the earliest (oldest first on a tie), one command per cycle on
the command bus. The controller inserts PRE / ACT before a MAC on another row, REF every tREFI, and (static
only) the mode switch. The policies differ only in their queues and readiness rules:

- static: one in-order queue; the fixed pair gaps of `EngineTiming.gap` (the AiMX / aim_simulator
  controller), the mode switch, no tracking of buffer entries.
- pingpong: an I/O queue and a compute queue, each a static in-order pipeline (the fixed gaps between
  its own command types); each buffer is split into two regions, each owned by one side; a side touches
  only its regions, each region is used in program order, and the owners swap only when no queue head
  can issue without a swap and both regions are idle (all their accesses completed).
- dcs: an I/O queue and a compute queue; the D-Table gives each command the id (DID) of the last command
  that touched its GBuf / OBuf entry; it issues when that command has completed (S-Table expiration),
  at least tCCD after the previous command of its queue; the is-MAC flag lets consecutive MACs on one
  entry follow each other at tCCD (pimlab extends the flag to any two commands of one kind on one entry:
  they pass through one pipeline in order, so neither RAR nor same-kind WAW needs a wait).

`schedule` first tries the exact fast path for long periodic streams (`_schedule_periodic`: it replays
periods whose controller state repeats, across refreshes too). The loop takes one shortcut, a closed form:
under the static policy a run of commands of one kind issues at the fixed same-kind gap once that gap
binds (`_Engine.run`). Tests compare both against the plain rules, column for column.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

import numpy as np

from pimlab.hardware import AIM_ENGINE, ROW_PAIRS, EngineTiming, engine_preset
from pimlab.isa import DATA_KINDS, QUEUE_OF_KIND, Commands, Kind
from pimlab.trace import Bound, Trace
from pimlab.validate import check_choice, check_int

__all__ = ["POLICIES", "FAST_MIN_COMMANDS", "schedule", "dependency_ids", "find_period"]

POLICIES = ("static", "pingpong", "dcs")
_NEVER = 1 << 62
_STALE = object()  # a cached readiness that must be recomputed
_NO_SOURCE = -(1 << 40)  # an inserted command with no source MAC (its row index may be negative otherwise)
_ACT, _PRE, _MAC, _MODE, _REF = int(Kind.ACT), int(Kind.PRE), int(Kind.MAC), int(Kind.MODE), int(Kind.REF)


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


def _validate(commands: Commands, policy: str, timing, gbuf_entries: int, obuf_entries: int) -> EngineTiming:
    check_choice("policy", policy, POLICIES)
    if isinstance(timing, str):
        timing = engine_preset(timing)[1]
    if not isinstance(timing, EngineTiming):
        raise ValueError(f"timing must be an EngineTiming or a preset name, got {type(timing).__name__}")
    if not isinstance(commands, Commands):
        raise ValueError(f"commands must be pimlab.isa.Commands, got {type(commands).__name__}")
    if len(commands) == 0:
        raise ValueError("commands must hold at least one command, got an empty stream")
    check_int("gbuf_entries", gbuf_entries, 1, 4096)
    check_int("obuf_entries", obuf_entries, 1, 4096)
    kind = commands.kind
    for name, column, limit, users in (("gbuf", commands.gbuf, gbuf_entries, (Kind.WR_INP, Kind.MAC)),
                                       ("obuf", commands.obuf, obuf_entries, (Kind.MAC, Kind.RD_OUT, Kind.WR_BIAS))):
        need = np.isin(kind, users)
        bad = need & ((column < 0) | (column >= limit))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} entry of command {i} ({Kind(kind[i]).name}) must be in [0, {limit - 1}] "
                             f"({name}_entries = {limit}), got {int(column[i])}")
    if timing.rows and ((kind == Kind.MAC) & (commands.row < 0)).any():
        i = int(np.flatnonzero((kind == Kind.MAC) & (commands.row < 0))[0])
        raise ValueError(f"row of MAC command {i} must be >= 0, got {int(commands.row[i])}")
    return timing


def schedule(commands: Commands, policy: str = "static", timing: EngineTiming | str = AIM_ENGINE,
             gbuf_entries: int = 64, obuf_entries: int = 1, fast: bool = True) -> Trace:
    """Schedule one channel's commands under `policy`; returns the `Trace`.

    With fast=True a long periodic stream is simulated exactly through its steady state (see `_schedule_periodic`);
    fast=False always runs the full cycle-level loop.
    """
    timing = _validate(commands, policy, timing, gbuf_entries, obuf_entries)
    with _cycle_collector_paused():
        if fast:
            trace = _schedule_periodic(commands, policy, timing, gbuf_entries, obuf_entries)
            if trace is not None:
                return trace
        return _Engine(commands, policy, timing, gbuf_entries, obuf_entries).run().trace()


@contextmanager
def _cycle_collector_paused():
    """The loop makes millions of small tuples that never form reference cycles; without this pause Python's
    cycle collector would rescan the growing lists again and again (twice the run time on long streams)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Engine:
    """The scheduler core. State is plain Python (ints and lists) for speed; the trace is built at the end."""

    def __init__(self, commands: Commands, policy: str, timing: EngineTiming, gbuf_entries: int, obuf_entries: int,
                 deps: tuple[np.ndarray, np.ndarray] | None = None):
        self.c, self.policy, self.t = commands, policy, timing
        self.gbuf_entries, self.obuf_entries = gbuf_entries, obuf_entries
        n = len(commands)
        self.n = n
        self.kind = commands.kind.tolist()
        self.row = commands.row.tolist()
        if policy == "static":
            self.queues = [range(n)]  # one in-order queue
        else:
            q = QUEUE_OF_KIND[commands.kind]
            self.queues = [np.flatnonzero(q == 0).tolist(), np.flatnonzero(q == 1).tolist()]  # I/O, compute
        self.head = [0] * len(self.queues)
        if policy == "dcs":  # the D-Table
            deps = deps or (dependency_ids(commands.gbuf), dependency_ids(commands.obuf))
            self.dep_g, self.dep_o = deps[0].tolist(), deps[1].tolist()
        self.pingpong = policy == "pingpong"
        if self.pingpong:
            half_g, half_o = -(-gbuf_entries // 2), -(-obuf_entries // 2)
            region = (np.where(commands.gbuf >= half_g, 1, 0), np.where(commands.obuf >= half_o, 1, 0))
            self.region = tuple(r.tolist() for r in region)
            self.uses = ((commands.gbuf >= 0).tolist(), (commands.obuf >= 0).tolist())
            # each region's accesses stay in program order: the previous user of the same region
            self.region_dep = tuple(dependency_ids(np.where(column >= 0, r, -1)).tolist()
                                    for column, r in zip((commands.gbuf, commands.obuf), region))
        # ping-pong: region the compute side owns in (GBuf, OBuf); the I/O side owns the other one
        self.compute_region = [1, 0]
        self.buffer_done = [0, 0]  # latest completion of an access to each buffer
        self.buffer_last = [-1, -1]
        self.handoff = [0, 0]  # cycle of the last hand-off of each buffer
        self.handoff_id = [-1, -1]
        self.issue = [-1] * n
        self.done = [-1] * n
        self.depends_on = [-1] * n
        self.bound_by = [0] * n
        self.extra: list[tuple] = []  # inserted: (id, kind, row, issue, done, depends_on, bound_by, src)
        self.blocks: list[tuple] = []  # the fast path's replayed periods: (data arrays, inserted arrays)
        self.replayed = {"whole state": 0, "before refresh": 0}  # commands the fast path replayed, by kind of repeat
        self.last_time = [-_NEVER] * 8  # latest issue cycle per kind
        self.last_id = [-1] * 8
        self.queue_time = [-_NEVER] * len(self.queues)
        self.queue_id = [-1] * len(self.queues)
        self.log: list[int] = []  # data commands in issue order
        # the controller's scalars (see _SCALARS); `run` keeps them in locals
        self.bus = timing.start_cycle - 1
        self.open_row, self.open_mac = -1, -1  # the open row and the MAC it was opened for
        self.mac_mode = True  # aim_simulator's channels start in MAC mode
        self.ref_end, self.ref_id = 0, -1
        self.next_ref = timing.tREFI if timing.refresh else _NEVER
        self.n_extra = 0  # inserted commands so far (ids n, n + 1, ...), some of them in `blocks`
        self.max_issued = -1
        self.refreshes = 0
        static = policy == "static"
        gap = timing.gap
        # per later kind: the (earlier kind, distance, bound code) pairs this policy obeys
        why = [[Bound.ROW if (a, b) in ROW_PAIRS else (Bound.MODE if a == _MODE else Bound.STATIC) for b in range(8)]
               for a in range(8)]
        data = {int(k) for k in DATA_KINDS}

        def obeys(a, b):  # static: every pair; ping-pong: also the fixed gaps inside one side; DCS: rows only
            side = policy == "pingpong" and a in data and b in data and QUEUE_OF_KIND[a] == QUEUE_OF_KIND[b]
            return static or side or (a, b) in ROW_PAIRS

        self.pairs = [[(a, gap[a][b], why[a][b]) for a in range(8) if gap[a][b] and obeys(a, b)] for b in range(8)]
        self.use_mode = static and timing.tMODCH > 0
        # a time this far before the bus cycle can no longer bind anything (fast path's state key)
        self.horizon = 1 + max(max(max(row) for row in gap), max(timing.latency), timing.tCCD)
        self.next_mac = None  # the fast path's look-ahead: index of the next MAC at or after each command

    static_runs = True  # the static run shortcut (tests turn it off to compare with the plain rules)
    _SCALARS = ("bus", "open_row", "open_mac", "mac_mode", "ref_end", "ref_id", "next_ref", "n_extra", "max_issued",
                "refreshes")

    # --- the loop ----------------------------------------------------------------------------------------
    def run(self, period: tuple[int, int, int, int] | None = None) -> _Engine:
        """Schedule every command; with `period` = (start, end, P, D) jump over repeating steady states.

        Each pass looks at the head of each queue (`ready`: the action it needs next, ACT / PRE / mode switch
        or the command itself, and the earliest cycle the policy's rules allow), issues the earliest (oldest
        first on a tie, one command per cycle on the bus), or refreshes when that would cross tREFI. The
        scalars live in locals here; `_cut` and `_handoff` see them through the engine's attributes.
        """
        t = self.t
        n, queues, head, kind, row = self.n, self.queues, self.head, self.kind, self.row
        issue, done, depends_on, bound_by, extra, log = (self.issue, self.done, self.depends_on, self.bound_by,
                                                         self.extra, self.log)
        last_time, last_id, queue_time, queue_id = self.last_time, self.last_id, self.queue_time, self.queue_id
        pairs, latency, tCCD, first_cycle, rows_on, use_mode = (self.pairs, t.latency, t.tCCD, t.start_cycle, t.rows,
                                                                 self.use_mode)
        static, dcs, pingpong = self.policy == "static", self.policy == "dcs", self.pingpong
        if dcs:
            dep_g, dep_o = self.dep_g, self.dep_o
        if pingpong:
            uses, region, region_dep = self.uses, self.region, self.region_dep
            compute_region, handoff, handoff_id = self.compute_region, self.handoff, self.handoff_id
            buffer_done, buffer_last = self.buffer_done, self.buffer_last
        ready_, data_, queue_, refresh_, bus_, handoff_ = (Bound.READY, Bound.DATA, Bound.QUEUE, Bound.REFRESH,
                                                           Bound.BUS, Bound.HANDOFF)
        bus, open_row, open_mac, mac_mode, ref_end, ref_id, next_ref, n_extra, max_issued, refreshes = (
            getattr(self, name) for name in self._SCALARS)

        def ready(q: int):
            """(action, earliest cycle, bound code, id it waits on, command) for queue q's head; None if the head
            is blocked, with waiting[q] the command it waits to see issued (-1: a ping-pong hand-off)."""
            i = queues[q][head[q]]
            k = action = kind[i]
            if k == _MAC and rows_on and open_row != row[i]:
                action = _PRE if open_row >= 0 else _ACT
            best, code, dep = first_cycle, ready_, -1
            if ref_end > best:
                best, code, dep = ref_end, refresh_, ref_id
            for a, distance, why in pairs[action]:
                when = last_time[a] + distance
                if when > best:
                    best, code, dep = when, why, last_id[a]
            if action == k and not static:
                when = queue_time[q] + tCCD
                if when > best:
                    best, code, dep = when, queue_, queue_id[q]
                if dcs:
                    for d in (dep_g[i], dep_o[i]):
                        if d < 0:
                            continue
                        if issue[d] < 0:
                            waiting[q] = d
                            return None
                        # is-MAC flag, generalised to every kind: two commands of one kind on one entry (MACs
                        # reading one input or accumulating into one output, two reads, two writes) flow through
                        # one pipeline in order, so the second follows at tCCD; any other pair waits for completion
                        when = issue[d] + tCCD if kind[d] == k else done[d]
                        if when > best:
                            best, code, dep = when, data_, d
                else:  # ping-pong: the side must own the regions it touches, used in program order
                    for b in (0, 1):
                        if uses[b][i]:
                            d = region_dep[b][i]
                            if d >= 0 and issue[d] < 0:
                                waiting[q] = d
                                return None
                            if region[b][i] != (compute_region[b] if q == 1 else 1 - compute_region[b]):
                                waiting[q] = -1
                                return None
                            if handoff[b] > best:
                                best, code, dep = handoff[b], handoff_, handoff_id[b]
            if use_mode and (k == _MAC) != mac_mode:
                action = _MODE  # issued when the command itself would pass its checks, then it waits tMODCH
            return action, best, code, dep, i

        def save() -> None:
            for name, value in zip(self._SCALARS, (bus, open_row, open_mac, mac_mode, ref_end, ref_id, next_ref,
                                                   n_extra, max_issued, refreshes)):
                setattr(self, name, value)

        cutting = period is not None
        if cutting:
            start, end, p, depth = period
            boundary = start + -(-depth // p) * p  # first cut whose look-back window lies in the periodic part
            self.seen, self.templates, self.window_seen, self.window_templates, self.depth = {}, {}, {}, {}, depth
            is_mac = self.c.kind == Kind.MAC
            nxt = np.minimum.accumulate(np.where(is_mac, np.arange(n), n)[::-1])[::-1]
            self.next_mac = np.where(nxt < n, nxt, -1)
        stale = _STALE
        nq = len(queues)
        cache = [stale] * nq  # each head's last readiness (before the bus check); None = blocked
        waiting = [-1] * nq  # what a blocked head waits for (ids issue once, so an old value never matches again)
        live = [q for q in range(nq) if queues[q]]
        length = [len(queue) for queue in queues]
        # static: the gap between two commands of one kind, and its bound code (for runs of one kind)
        run_gap = [t.gap[k][k] if static and self.static_runs else 0 for k in range(8)]
        run_code = [next((why for a, _, why in pairs[k] if a == k), Bound.STATIC) for k in range(8)]
        log_append = log.append
        while live:
            chosen, at, bq = None, 0, 0
            for q in live:
                got = cache[q]
                if got is stale:
                    got = cache[q] = ready(q)
                if got is None:
                    continue
                when = got[1] if got[1] > bus else bus + 1
                if chosen is None or when < at or (when == at and got[4] < chosen[4]):
                    chosen, at, bq = got, when, q
            if chosen is None:
                if not pingpong:
                    raise RuntimeError("scheduler deadlock: no queue head can ever issue")
                self._handoff(bus)
                cache = [stale] * nq
                continue
            if at >= next_ref:  # refresh: every tREFI, whatever the stream; it closes the open row
                rid = n + n_extra
                n_extra += 1
                extra.append((rid, _REF, -1, next_ref, next_ref + t.tRFC, -1, ready_, -1))
                refreshes += 1
                bus, ref_end, ref_id = next_ref, next_ref + t.tRFC, rid
                last_time[_REF], last_id[_REF] = bus, rid
                open_row = -1  # refresh precharges every bank (its precharge is folded into tRFC)
                next_ref += t.tREFI
                cache = [stale] * nq
                continue
            action, when, code, dep, i = chosen
            if when <= bus:
                code, dep = bus_, -1
            bus = at
            if action != kind[i]:  # a controller-inserted command before i
                xid = n + n_extra
                n_extra += 1
                src = i if action == _ACT else (open_mac if action == _PRE else -1)
                extra.append((xid, action, row[src] if src >= 0 else -1, at, at + latency[action], dep, code, src))
                last_time[action], last_id[action] = at, xid
                if action == _ACT:
                    open_row, open_mac = row[i], i
                elif action == _PRE:
                    open_row = -1
                else:
                    mac_mode = not mac_mode
                cache[bq] = stale
                continue
            issue[i], done[i] = at, at + latency[action]
            log_append(i)
            if i > max_issued:
                max_issued = i
            depends_on[i], bound_by[i] = dep, code
            last_time[action], last_id[action] = at, i
            queue_time[bq], queue_id[bq] = at, i
            if pingpong:
                for b in (0, 1):
                    if uses[b][i]:
                        buffer_done[b] = max(buffer_done[b], done[i])
                        buffer_last[b] = i
            head[bq] += 1
            j = i + 1
            if static and j < n and kind[j] == action and run_gap[action]:
                # a run of one kind (static): command i met every constraint of its kind at `at`; the next one
                # faces the same ones, except that the same-kind gap now ends at at + gap > at. So it issues
                # then, bound by that gap, as long as it needs no row change and no refresh or period cut
                # falls in between; and so on along the run. (What the full pass would do, in closed form.)
                gap_k, lat, code = run_gap[action], latency[action], run_code[action]
                when = at + gap_k
                stop = boundary if cutting and boundary < n else n
                open_mac_row = open_row if action == _MAC and rows_on else None
                while (j < stop and kind[j] == action and when < next_ref
                       and (open_mac_row is None or row[j] == open_mac_row)):
                    issue[j], done[j], depends_on[j], bound_by[j] = when, when + lat, j - 1, code
                    log_append(j)
                    when += gap_k
                    j += 1
                if j > i + 1:
                    bus = when - gap_k
                    last_time[action], last_id[action] = bus, j - 1
                    queue_time[0], queue_id[0] = bus, j - 1
                    max_issued = max(max_issued, j - 1)
                    head[0] = j
            if head[bq] == length[bq]:
                live = [r for r in live if r != bq]
            # only the issuing queue's head changes, and a head blocked on this command unblocks. (DCS / ping-pong
            # heads of the other queue depend on no other state the issue touches.)
            cache[bq] = stale
            for r in live:
                if waiting[r] == i:
                    cache[r] = stale
            # a period cut once the oldest command not yet issued (the frontier) reaches the boundary; only the
            # issuing queue's head moved, so the frontier can have reached it only if that head did
            if cutting and live and (head[bq] == length[bq] or queues[bq][head[bq]] >= boundary):
                frontier = queues[live[0]][head[live[0]]] if len(live) == 1 else min(queues[0][head[0]],
                                                                                     queues[1][head[1]])
                if frontier >= boundary:
                    cut = start + (frontier - start) // p * p
                    if cut + p < end:
                        save()
                        self._cut(cut, end, depth)
                        bus, open_row, open_mac, mac_mode, ref_end, ref_id, next_ref, n_extra, max_issued, \
                            refreshes = (getattr(self, name) for name in self._SCALARS)
                        cache = [stale] * nq
                        live = [r for r in range(nq) if head[r] < length[r]]
                    boundary = cut + p
        save()
        return self

    def _handoff(self, bus: int) -> None:
        """Ping-pong: every head waits for a region; swap the regions the oldest head needs once idle."""
        heads = [self.queues[q][self.head[q]] for q in range(len(self.queues)) if self.head[q] < len(self.queues[q])]
        i, q = min((i, 0 if QUEUE_OF_KIND[self.kind[i]] == 0 else 1) for i in heads)
        for b in (0, 1):
            if self.uses[b][i]:
                owned = self.compute_region[b] if q == 1 else 1 - self.compute_region[b]
                if self.region[b][i] != owned:
                    self.compute_region[b] = 1 - self.compute_region[b]
                    self.handoff[b] = max(self.buffer_done[b], bus + 1)
                    self.handoff_id[b] = self.buffer_last[b]

    # --- steady-state fast path --------------------------------------------------------------------------
    def _state_key(self, b: int, depth: int) -> tuple:
        """Everything the future depends on, relative to cut index b, the bus cycle and the inserted count,
        except the refresh phase (cycles to the next REF), which `_cut` adds."""
        now, n, e0 = self.bus, self.n, self.n_extra
        floor = -self.horizon

        def rel(t):
            return max(t - now, floor)

        def ref(x, t):  # an id only matters while its time can still bind
            if x < 0 or t - now <= floor:
                return None
            return x - b if x < n else (x - n - e0, "x")

        lo = b - depth
        issue, done = self.issue, self.done
        window = tuple((rel(issue[i]), rel(done[i])) if issue[i] >= 0 else None
                       for i in range(lo, max(self.max_issued, lo) + 1))
        heads = tuple(self.queues[q][self.head[q]] - b if self.head[q] < len(self.queues[q]) else None
                      for q in range(len(self.queues)))
        if self.open_row < 0:
            row_state = -1
        else:
            nxt = self.next_mac[heads_min] if (heads_min := min(h for h in heads if h is not None) + b) < n else -1
            row_state = int(nxt >= 0 and self.row[nxt] == self.open_row)
        return (heads, window, row_state, self.mac_mode, rel(self.ref_end),
                ref(self.ref_id, self.ref_end),
                tuple(rel(t) for t in self.last_time), tuple(map(ref, self.last_id, self.last_time)),
                tuple(rel(t) for t in self.queue_time), tuple(map(ref, self.queue_id, self.queue_time)),
                tuple(self.compute_region), tuple(rel(t) for t in self.buffer_done),
                tuple(map(ref, self.buffer_last, self.buffer_done)), tuple(rel(t) for t in self.handoff),
                tuple(map(ref, self.handoff_id, self.handoff)))

    def _cut(self, b: int, end: int, depth: int) -> None:
        """At a period boundary: remember the state; when it repeats, replay what happened in between.

        A repeat of the whole state (refresh phase included) replays as far as the stretch goes. With refresh
        on, a repeat of the stream's state with no refresh in between also replays, up to the next refresh.
        """
        stream = self._state_key(b, depth)
        phase = None if self.next_ref >= _NEVER else self.next_ref - self.bus
        here = (b, self.bus, len(self.log), len(self.extra), self.refreshes, list(self.head), self.max_issued,
                self.n_extra)
        template = self._repeat(self.templates, self.seen, (stream, phase), here, end)
        if template is not None:
            self._replay(template, b, end)
        elif phase is not None:
            template = self._repeat(self.window_templates, self.window_seen, stream, here, end, no_refresh=True)
            if template is not None:
                self._replay(template, b, end, before_refresh=True)

    def _repeat(self, templates: dict, seen: dict, key, here: tuple, end: int, no_refresh: bool = False):
        """The template of the state `key` if known, else one from its last sighting; None if none fits."""
        template = templates.get(key)
        if template is None:
            before = seen.get(key)
            seen[key] = here
            b = here[0]
            if before is None or b + (b - before[0]) > end or (no_refresh and before[4] != here[4]):
                return None  # a new state, one whose repetition would not fit in the stretch, or a refresh between
            template = templates[key] = self._template(before, here)
        return template

    def _template(self, a, c) -> tuple:
        """The actions between two cuts with equal states, relative to the first, as numpy columns."""
        b0, t0, log0, e0, refs0, heads0, _, x0 = a
        b1, t1, log1, e1, refs1, heads1, hi1, x1 = c
        n = self.n

        def columns(ids, *values):  # rows of (*values, dependency kind 0 none / 1 data / 2 inserted, offset)
            ids = np.asarray(ids, dtype=np.int64)
            dep_kind = np.where(ids < 0, 0, np.where(ids < n, 1, 2))
            dep_off = np.where(dep_kind == 1, ids - b0, np.where(dep_kind == 2, ids - n - x0, 0))
            return np.array([*values, dep_kind, dep_off], dtype=np.int64).reshape(len(values) + 2, -1)

        logged = self.log[log0:log1]
        issue, done, bound_by = self.issue, self.done, self.bound_by
        data = columns([self.depends_on[i] for i in logged], np.array(logged, dtype=np.int64) - b0,
                       np.array([issue[i] for i in logged]) - t0, np.array([done[i] for i in logged]) - t0,
                       [bound_by[i] for i in logged])
        x = np.array(self.extra[e0:e1], dtype=np.int64).reshape(-1, 8).T  # id, kind, row, issue, done, dep, code, src
        extra = columns(x[5], x[1], np.where(x[7] >= 0, x[7] - b0, _NO_SOURCE), x[3] - t0, x[4] - t0, x[6])
        reach = max([int(data[0].max()) if len(logged) else 0, hi1 - b0] +
                    [self.queues[q][h] - b0 for q, h in enumerate(heads1) if h < len(self.queues[q])])
        return (b1 - b0, t1 - t0, x1 - x0, refs1 - refs0, [h1 - h0 for h0, h1 in zip(heads0, heads1)], reach,
                data, extra)

    def _replay(self, template, b: int, end: int, before_refresh: bool = False) -> None:
        """Repeat the template `reps` times from cut b, shifted; then move the state past the repeats.

        By default (a repeat of the whole state) as far as the stretch goes, into numpy blocks the trace picks
        up at the end. before_refresh: only the repeats that end before the next refresh, written into the
        lists and logs as if simulated, so that states seen before stay valid.
        """
        step, span, xstep, refs, advance, reach, data, extra = template
        reps = (end - 1 - reach - b) // step + 1  # every replayed period only looks at periodic commands
        if before_refresh:
            reps = min(reps, (self.next_ref - 1 - self.bus) // max(span, 1))
        if reps < 1 or span < 1:
            return
        n, t0, x0 = self.n, self.bus, self.n_extra
        j = np.arange(reps)[:, None]

        def dep(kind, off):
            return np.where(kind == 1, b + j * step + off, np.where(kind == 2, n + x0 + j * xstep + off, -1)).ravel()

        r, ti, td, code, dk, do = data
        idx, t_issue, t_done = (b + j * step + r).ravel(), (t0 + j * span + ti).ravel(), (t0 + j * span + td).ravel()
        block_data = (idx, t_issue, t_done, dep(dk, do), np.broadcast_to(code, (reps, len(code))).ravel())
        block_extra, sources = None, None
        if extra.shape[1]:
            kind, src, ti, td, code, dk, do = extra
            sources = np.where(src != _NO_SOURCE, b + j * step + src, -1)
            rows = np.where(sources >= 0, self.c.row[np.maximum(sources, 0)], -1)
            ids = n + x0 + j * xstep + np.arange(len(kind))
            block_extra = tuple(np.broadcast_to(a, (reps, len(kind))).ravel() for a in (
                ids, kind, rows, t0 + j * span + ti, t0 + j * span + td)) + (
                dep(dk, do), np.broadcast_to(code, (reps, len(kind))).ravel())
        issue, done = self.issue, self.done
        if before_refresh:
            depends_on, bound_by = self.depends_on, self.bound_by
            for i, t_i, t_d, d, c in zip(*(a.tolist() for a in block_data)):
                issue[i], done[i], depends_on[i], bound_by[i] = t_i, t_d, d, c
            self.log.extend(idx.tolist())
            self.replayed["before refresh"] += reps * step
            if block_extra is not None:
                self.extra.extend(zip(*(a.tolist() for a in block_extra), sources.ravel().tolist()))
        else:
            self.blocks.append((block_data, block_extra))
            self.replayed["whole state"] += reps * step
            # the loop reads issue / done of the commands it may still look back to (up to depth before the frontier)
            near = idx >= b + reps * step - self.depth
            for i, t_i, t_d in zip(idx[near].tolist(), t_issue[near].tolist(), t_done[near].tolist()):
                issue[i], done[i] = t_i, t_d
            self.seen.clear()  # states seen before the jump are no longer followed by the log
            self.window_seen.clear()
            if self.next_ref < _NEVER:  # the whole state repeated, the refresh phase too
                self.next_ref += reps * span
        self.n_extra = x0 + reps * xstep
        self.refreshes += reps * refs
        self._shift(reps * step, reps * span, reps * xstep, [reps * a for a in advance])

    def _shift(self, steps: int, cycles: int, inserted: int, advance: list[int]) -> None:
        """Move the controller's state forward by whole periods (indices, cycles, inserted ids), in place."""
        n = self.n

        def sid(x):
            return x if x < 0 else (x + steps if x < n else x + inserted)

        self.head[:] = [h + a for h, a in zip(self.head, advance)]
        self.bus += cycles
        self.ref_end += cycles
        self.ref_id = sid(self.ref_id)
        self.max_issued += steps
        for times, ids in ((self.last_time, self.last_id), (self.queue_time, self.queue_id),
                           (self.buffer_done, self.buffer_last), (self.handoff, self.handoff_id)):
            times[:] = [t + cycles for t in times]
            ids[:] = [sid(x) for x in ids]
        if self.open_row >= 0:
            self.open_mac += steps
            self.open_row = self.row[self.open_mac]

    # --- result ------------------------------------------------------------------------------------------
    def trace(self) -> Trace:
        c, n = self.c, self.n

        def array(values):
            return np.fromiter(values, dtype=np.int64, count=len(values))

        issue, done, depends_on, bound_by = map(array, (self.issue, self.done, self.depends_on, self.bound_by))
        extras = [np.array(self.extra, dtype=np.int64).reshape(-1, 8)[:, :7]]
        for data, extra in self.blocks:
            idx = data[0]
            issue[idx], done[idx], depends_on[idx], bound_by[idx] = data[1:]
            if extra is not None:
                extras.append(np.stack(extra, axis=1))
        extra = np.concatenate(extras)
        ids = np.concatenate((np.arange(n), extra[:, 0]))
        kind = np.concatenate((c.kind, extra[:, 1]))
        issue = np.concatenate((issue, extra[:, 3]))
        order = np.argsort(issue, kind="stable")
        columns = {
            "id": ids, "kind": kind, "queue": QUEUE_OF_KIND[kind].astype(np.int64),
            "gbuf": np.concatenate((c.gbuf, np.full(len(extra), -1))),
            "obuf": np.concatenate((c.obuf, np.full(len(extra), -1))),
            "row": np.concatenate((np.where(c.kind == Kind.MAC, c.row, -1), extra[:, 2])),
            "issue": issue, "done": np.concatenate((done, extra[:, 4])),
            "depends_on": np.concatenate((depends_on, extra[:, 5])),
            "bound_by": np.concatenate((bound_by, extra[:, 6])),
        }
        columns = {name: np.take(array, order) for name, array in columns.items()}
        total = total_cycles(columns["kind"], columns["issue"], columns["done"], self.t)
        return Trace(**columns, policy=self.policy, total_cycles=total, timing=self.t,
                     gbuf_entries=self.gbuf_entries, obuf_entries=self.obuf_entries, commands=n)


def total_cycles(kind: np.ndarray, issue: np.ndarray, done: np.ndarray, timing: EngineTiming) -> int:
    """Length of the run: the last completion, or aim_simulator's EOC rule when the preset has one."""
    if timing.end_extra is None:
        return int(done.max())
    return int((issue + np.asarray(timing.end_extra)[kind]).max())


FAST_MIN_COMMANDS = 4096  # shorter streams always take the plain loop


def find_period(commands: Commands, min_repeats: int = 8, deps: tuple[np.ndarray, np.ndarray] | None = None):
    """(start, end, P, D) of the longest stretch around the stream's middle that repeats every P commands.

    Commands repeat when kind, GBuf / OBuf entry and "MAC on another row than the previous MAC" match;
    D is the longest look-back of a dependency inside the stretch. None when nothing repeats min_repeats times.
    `deps` are the GBuf and OBuf `dependency_ids` if already known.
    """
    n = len(commands)
    kind = commands.kind
    mac = np.flatnonzero(kind == Kind.MAC)
    change = np.zeros(n, dtype=np.int64)
    if len(mac):
        rows = commands.row[mac]
        change[mac] = np.concatenate(([1], rows[1:] != rows[:-1]))
    sig = ((kind * 8192 + commands.gbuf + 1) * 8192 + commands.obuf + 1) * 2 + change
    probe, width = n // 3, min(64, n // 16)
    if width < 1:
        return None
    raw, block = sig.tobytes(), sig[probe:probe + width].tobytes()
    best, at = None, probe * 8 + 8
    for _ in range(16):  # candidate periods: where the probe block recurs; keep the longest stretch
        at = raw.find(block, at)
        if at < 0 or at // 8 - probe > n // min_repeats:
            break
        if at % 8 == 0:
            p = at // 8 - probe
            bad = np.flatnonzero(sig[:-p] != sig[p:])
            before, after = bad[bad < probe], bad[bad >= probe]
            start = int(before[-1]) + 1 if len(before) else 0
            end = (int(after[0]) if len(after) else n - p) + p
            if end - start >= min_repeats * p and (best is None or end - start > best[1] - best[0]):
                best = (start, end, p)
        at += 8 - at % 8 if at % 8 else 8
    if best is None:
        return None
    start, end, p = best
    deps = deps or (dependency_ids(commands.gbuf), dependency_ids(commands.obuf))
    return start, end, p, max(_look_back(deps, start, end), 1)


def _look_back(deps, start: int, end: int) -> int:
    """Longest distance from a command in [start, end) back to the command it depends on in `deps` (0: none)."""
    idx, depth = np.arange(start, end), 0
    for d in deps:
        d = np.asarray(d[start:end])
        if (d >= 0).any():
            depth = max(depth, int((idx - d)[d >= 0].max()))
    return depth


def _schedule_periodic(commands, policy, timing, gbuf_entries, obuf_entries):
    """Exact fast path: jump over repeating steady states of a long stream; None when it does not apply.

    Invariant: the scheduler is deterministic, and inside the periodic stretch the commands ahead of a cut
    (a period boundary) look the same from every cut. So at each cut the controller's whole state is keyed
    relative to the cut, the bus cycle and the inserted commands so far (`_state_key`: the issue / done times
    that can still bind, the queue heads, the open row, the mode, the ids that times point to, and the refresh
    phase, cycles to the next REF). When a key comes back, everything between the two cuts, refreshes
    included, repeats exactly, shifted; it is replayed as many times as stay inside the stretch (numpy
    blocks), then the plain loop resumes. With refresh on, the key repeats once stream and refresh phase line
    up again (a "super-period" of several periods and refreshes). Until then, a repeat of the state without
    the refresh phase and with no refresh in between also holds up to the next refresh: those periods are
    copied into the loop's lists, as if simulated, and the loop crosses the refresh itself. Tests check the
    trace equals the plain loop's, column for column, with refresh on and off.
    """
    if len(commands) < FAST_MIN_COMMANDS:
        return None
    deps = (dependency_ids(commands.gbuf), dependency_ids(commands.obuf))
    period = find_period(commands, deps=deps)
    if period is None:
        return None
    start, end, p, depth = period
    engine = _Engine(commands, policy, timing, gbuf_entries, obuf_entries, deps)
    if policy == "pingpong":  # ping-pong also looks back along each buffer region
        depth = max(depth, _look_back(engine.region_dep, start, end))
    return engine.run((start, end, p, depth)).trace()
