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

`schedule` first tries the exact fast path for long periodic streams (`_schedule_periodic`).
"""

from __future__ import annotations

import numpy as np

from pimlab.hardware import AIM_ENGINE, ROW_PAIRS, EngineTiming, engine_preset
from pimlab.isa import QUEUE_OF_KIND, Commands, Kind
from pimlab.trace import Bound, Trace
from pimlab.validate import check_choice, check_int

__all__ = ["POLICIES", "FAST_MIN_COMMANDS", "schedule", "schedule_static", "schedule_pingpong", "schedule_dcs",
           "dependency_ids", "find_period"]

POLICIES = ("static", "pingpong", "dcs")
_NEVER = 1 << 62
_STALE = object()  # a cached readiness that must be recomputed
_NO_SOURCE = -(1 << 40)  # an inserted command with no source MAC (its row index may be negative otherwise)
_ACT, _PRE, _MAC, _MODE, _REF = int(Kind.ACT), int(Kind.PRE), int(Kind.MAC), int(Kind.MODE), int(Kind.REF)


def dependency_ids(entries: np.ndarray) -> np.ndarray:
    """D-Table assignment: for each command, the previous command touching the same entry (-1 none)."""
    entries = np.asarray(entries, dtype=np.int64)
    out = np.full(len(entries), -1, dtype=np.int64)
    order = np.argsort(entries, kind="stable")  # by entry, program order within an entry
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
    if fast:
        trace = _schedule_periodic(commands, policy, timing, gbuf_entries, obuf_entries)
        if trace is not None:
            return trace
    return _Engine(commands, policy, timing, gbuf_entries, obuf_entries).run().trace()


def schedule_static(commands: Commands, timing=AIM_ENGINE, gbuf_entries: int = 64, obuf_entries: int = 1) -> Trace:
    """Static in-order schedule (AiMX-style fixed gaps)."""
    return schedule(commands, "static", timing, gbuf_entries, obuf_entries)


def schedule_pingpong(commands: Commands, timing=AIM_ENGINE, gbuf_entries: int = 64, obuf_entries: int = 2) -> Trace:
    """Ping-pong buffering: two regions per buffer, hand-off when both idle."""
    return schedule(commands, "pingpong", timing, gbuf_entries, obuf_entries)


def schedule_dcs(commands: Commands, timing=AIM_ENGINE, gbuf_entries: int = 64, obuf_entries: int = 2) -> Trace:
    """Dynamic command scheduling (D-Table, S-Table, two queues, is-MAC bypass)."""
    return schedule(commands, "dcs", timing, gbuf_entries, obuf_entries)


class _Engine:
    """The scheduler core. State is plain Python (ints and lists) for speed; the trace is built at the end."""

    def __init__(self, commands: Commands, policy: str, timing: EngineTiming, gbuf_entries: int, obuf_entries: int):
        self.c, self.policy, self.t = commands, policy, timing
        self.gbuf_entries, self.obuf_entries = gbuf_entries, obuf_entries
        n = len(commands)
        self.n = n
        self.kind = commands.kind.tolist()
        self.row = commands.row.tolist()
        if policy == "static":
            self.queues = [np.arange(n, dtype=np.int64).tolist()]  # one in-order queue
        else:
            q = QUEUE_OF_KIND[commands.kind]
            self.queues = [np.flatnonzero(q == 0).tolist(), np.flatnonzero(q == 1).tolist()]  # I/O, compute
        self.head = [0] * len(self.queues)
        if policy == "dcs":  # the D-Table
            self.dep_g = dependency_ids(commands.gbuf).tolist()
            self.dep_o = dependency_ids(commands.obuf).tolist()
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
        self.n_extra = 0  # inserted commands so far (ids n, n + 1, ...), some of them in `blocks`
        self.blocks: list[tuple] = []  # the fast path's replayed periods: (data arrays, inserted arrays)
        self.last_time = [-_NEVER] * 8  # latest issue cycle per kind
        self.last_id = [-1] * 8
        self.queue_time = [-_NEVER] * len(self.queues)
        self.queue_id = [-1] * len(self.queues)
        self.bus = timing.start_cycle - 1
        self.open_row, self.open_mac = -1, -1  # the open row and the MAC it was opened for
        self.mac_mode = True  # aim_simulator's channels start in MAC mode
        self.next_ref = timing.tREFI if timing.refresh else _NEVER
        self.ref_end, self.ref_id = 0, -1
        self.refreshes = 0
        self.log: list[int] = []  # data commands in issue order
        self.max_issued = -1
        static = policy == "static"
        gap = timing.gap
        # per later kind: the (earlier kind, distance, bound code) pairs this policy obeys
        why = [[Bound.ROW if (a, b) in ROW_PAIRS else (Bound.MODE if a == _MODE else Bound.STATIC) for b in range(8)]
               for a in range(8)]
        data = {int(k) for k in (Kind.WR_INP, Kind.MAC, Kind.RD_OUT, Kind.WR_BIAS)}

        def obeys(a, b):  # static: every pair; ping-pong: also the fixed gaps inside one side; DCS: rows only
            side = policy == "pingpong" and a in data and b in data and QUEUE_OF_KIND[a] == QUEUE_OF_KIND[b]
            return static or side or (a, b) in ROW_PAIRS

        self.pairs = [[(a, gap[a][b], why[a][b]) for a in range(8) if gap[a][b] and obeys(a, b)] for b in range(8)]
        self.use_mode = static and timing.tMODCH > 0
        # a time this far before the bus cycle can no longer bind anything (fast path's state key)
        self.horizon = 1 + max(max(max(row) for row in gap), max(timing.latency), timing.tCCD)
        is_mac = commands.kind == Kind.MAC
        nxt = np.where(is_mac, np.arange(n), n)
        self.next_mac = np.minimum.accumulate(nxt[::-1])[::-1]
        self.next_mac = np.where(self.next_mac < n, self.next_mac, -1).tolist()

    # --- readiness ---------------------------------------------------------------------------------------
    def _action(self, q: int):
        """(kind of the next action, earliest cycle, bound code, id it waits on) for queue q, or None if blocked."""
        i = self.queues[q][self.head[q]]
        k = self.kind[i]
        action = k
        if k == _MAC and self.t.rows and self.open_row != self.row[i]:
            action = _PRE if self.open_row >= 0 else _ACT
        best, code, dep = self.t.start_cycle, Bound.READY, -1
        if self.ref_end > best:
            best, code, dep = self.ref_end, Bound.REFRESH, self.ref_id
        for a, distance, why in self.pairs[action]:
            when = self.last_time[a] + distance
            if when > best:
                best, code, dep = when, why, self.last_id[a]
        if action == k and self.policy != "static":
            when = self.queue_time[q] + self.t.tCCD
            if when > best:
                best, code, dep = when, Bound.QUEUE, self.queue_id[q]
            if self.policy == "dcs":
                for d in (self.dep_g[i], self.dep_o[i]):
                    if d < 0:
                        continue
                    if self.issue[d] < 0:
                        return None
                    # is-MAC flag, generalised to every kind: two commands of one kind on one entry (MACs
                    # reading one input or accumulating into one output, two reads, two writes) flow through
                    # one pipeline in order, so the second follows at tCCD; any other pair waits for completion
                    when = self.issue[d] + self.t.tCCD if self.kind[d] == k else self.done[d]
                    if when > best:
                        best, code, dep = when, Bound.DATA, d
            else:  # ping-pong: the side must own the regions it touches, used in program order
                for b in (0, 1):
                    if self.uses[b][i]:
                        d = self.region_dep[b][i]
                        if d >= 0 and self.issue[d] < 0:
                            return None
                        owned = self.compute_region[b] if q == 1 else 1 - self.compute_region[b]
                        if self.region[b][i] != owned:
                            return None
                        if self.handoff[b] > best:
                            best, code, dep = self.handoff[b], Bound.HANDOFF, self.handoff_id[b]
        if self.use_mode and (k == _MAC) != self.mac_mode:
            action = _MODE  # issued when the command itself would pass its checks, then it waits tMODCH
        return action, best, code, dep

    def _handoff(self) -> None:
        """Ping-pong: every head waits for a region; swap the regions the oldest head needs once idle."""
        heads = [self.queues[q][self.head[q]] for q in range(len(self.queues)) if self.head[q] < len(self.queues[q])]
        i, q = min((i, 0 if QUEUE_OF_KIND[self.kind[i]] == 0 else 1) for i in heads)
        for b in (0, 1):
            if self.uses[b][i]:
                owned = self.compute_region[b] if q == 1 else 1 - self.compute_region[b]
                if self.region[b][i] != owned:
                    self.compute_region[b] = 1 - self.compute_region[b]
                    self.handoff[b] = max(self.buffer_done[b], self.bus + 1)
                    self.handoff_id[b] = self.buffer_last[b]

    # --- the loop ----------------------------------------------------------------------------------------
    def run(self, period: tuple[int, int, int, int] | None = None) -> _Engine:
        """Schedule every command; with `period` = (start, end, P, D) jump over repeating steady states."""
        queues, head = self.queues, self.head
        live = [q for q in range(len(queues)) if queues[q]]
        if period is not None:
            start, end, p, depth = period
            boundary = start + -(-depth // p) * p  # first cut whose look-back window lies in the periodic part
            self.seen, self.templates, self.depth, self.cutting = {}, {}, depth, True
            self.rows_array = np.asarray(self.c.row)
        stale = _STALE
        cache = [stale] * len(queues)  # each head's last readiness (before the bus check); None = blocked
        while live:
            best = None
            for q in live:
                got = cache[q]
                if got is stale:
                    got = cache[q] = self._action(q)
                if got is None:
                    continue
                action, when, code, dep = got
                if when <= self.bus:
                    when, code, dep = self.bus + 1, Bound.BUS, -1
                key = (when, queues[q][head[q]])
                if best is None or key < best[0]:
                    best = (key, q, action, code, dep)
            if best is None:
                if self.policy != "pingpong":
                    raise RuntimeError("scheduler deadlock: no queue head can ever issue")
                self._handoff()
                cache = [stale] * len(queues)
                continue
            (when, i), q, action, code, dep = best
            if when >= self.next_ref:
                self._refresh()
                cache = [stale] * len(queues)
                continue
            self._issue(q, i, action, when, code, dep)
            # only the issuing queue's head changes; a blocked head may have been waiting for this command.
            # (DCS / ping-pong heads of the other queue depend on no other state the issue touches.)
            cache[q] = stale
            for r in live:
                if cache[r] is None:
                    cache[r] = stale
            if head[q] == len(queues[q]):
                live = [r for r in live if r != q]
            if period is not None and live and self.cutting:
                frontier = min(queues[q][head[q]] for q in live)
                if frontier >= boundary:
                    cut = start + (frontier - start) // p * p
                    if cut + p < end:
                        self._cut(cut, end, depth)
                        cache = [stale] * len(queues)
                    boundary = cut + p
                    live = [q for q in range(len(queues)) if head[q] < len(queues[q])]
        return self

    # --- steady-state fast path --------------------------------------------------------------------------
    def _state_key(self, b: int, depth: int) -> tuple:
        """Everything the future depends on, relative to cut index b, the bus cycle and the inserted count."""
        now, n, e0 = self.bus, self.n, self.n_extra
        floor = -self.horizon

        def rel(t):
            return max(t - now, floor)

        def ref(x, t):  # an id only matters while its time can still bind
            if x < 0 or t - now <= floor:
                return None
            return x - b if x < n else (x - n - e0, "x")

        lo = b - depth
        window = tuple((rel(self.issue[i]), rel(self.done[i])) if self.issue[i] >= 0 else None
                       for i in range(lo, max(self.max_issued, lo) + 1))
        heads = tuple(self.queues[q][self.head[q]] - b if self.head[q] < len(self.queues[q]) else None
                      for q in range(len(self.queues)))
        if self.open_row < 0:
            row_state = -1
        else:
            nxt = self.next_mac[heads_min] if (heads_min := min(h for h in heads if h is not None) + b) < n else -1
            row_state = int(nxt >= 0 and self.row[nxt] == self.open_row)
        return (heads, window, row_state, self.mac_mode, rel(self.ref_end),
                tuple(rel(t) for t in self.last_time), tuple(map(ref, self.last_id, self.last_time)),
                tuple(rel(t) for t in self.queue_time), tuple(map(ref, self.queue_id, self.queue_time)),
                tuple(self.compute_region), tuple(rel(t) for t in self.buffer_done),
                tuple(map(ref, self.buffer_last, self.buffer_done)), tuple(rel(t) for t in self.handoff),
                tuple(map(ref, self.handoff_id, self.handoff)))

    def _cut(self, b: int, end: int, depth: int) -> None:
        """At a period boundary: remember the state; when it repeats, replay the period as often as is exact."""
        key = self._state_key(b, depth)
        here = (b, self.bus, len(self.log), len(self.extra), self.refreshes, list(self.head), self.max_issued,
                self.n_extra)
        template = self.templates.get(key)
        if template is None:
            before = self.seen.get(key)
            self.seen[key] = here
            if before is None or before[4] != self.refreshes:
                return  # new state, or a refresh fell in between: nothing repeats yet
            template = self._template(before, here)
            self.templates[key] = template
            if self.t.refresh and 4 * template[1] > self.t.tREFI:
                self.cutting = False  # refresh every few periods: re-converging would cost more than it saves
                return
        self._replay(template, b, end)

    def _template(self, a, c) -> tuple:
        """The actions between two cuts with equal states, relative to the first (tuples and numpy columns)."""
        b0, t0, log0, e0, _, heads0, _, x0 = a
        b1, t1, log1, e1, _, heads1, hi1, x1 = c
        n = self.n

        def enc(x):
            return None if x < 0 else ((x - b0, 0) if x < n else (x - n - x0, 1))

        data = [(i - b0, self.issue[i] - t0, self.done[i] - t0, enc(self.depends_on[i]), self.bound_by[i])
                for i in self.log[log0:log1]]
        extra = [(x[1], x[7] - b0 if x[7] >= 0 else None, x[3] - t0, x[4] - t0, enc(x[5]), x[6])
                 for x in self.extra[e0:e1]]
        reach = max([d[0] for d in data] + [hi1 - b0] +
                    [self.queues[q][h] - b0 for q, h in enumerate(heads1) if h < len(self.queues[q])])

        def columns(rows, dep_at):  # numpy columns; dependency as (kind 0 none / 1 data / 2 inserted, offset)
            table = np.array([[v for k, v in enumerate(r) if k != dep_at] for r in rows], dtype=object).reshape(
                len(rows), -1)
            deps = [r[dep_at] for r in rows]
            dep_kind = np.array([0 if d is None else 1 + d[1] for d in deps], dtype=np.int64)
            dep_off = np.array([0 if d is None else d[0] for d in deps], dtype=np.int64)
            cols = [np.array([_NO_SOURCE if v is None else v for v in col], dtype=np.int64) for col in table.T]
            return cols, dep_kind, dep_off

        return (b1 - b0, t1 - t0, x1 - x0, [h1 - h0 for h0, h1 in zip(heads0, heads1)], data, extra, reach,
                columns(data, 3), columns(extra, 4) if extra else None)

    def _replay(self, template, b: int, end: int) -> None:
        step, span, xstep, advance, data, extra, reach, data_cols, extra_cols = template
        reps = (end - 1 - reach - b) // step + 1  # every replayed period only looks at periodic commands
        if self.next_ref < _NEVER:
            reps = min(reps, (self.next_ref - 1 - self.bus) // span)  # stop before the next refresh
        if reps < 1 or span < 1:
            return
        n, t0, x0 = self.n, self.bus, self.n_extra
        # the last periods go into the lists the loop reads; the ones before only into numpy blocks
        tail = min(reps, 2 + (self.depth + reach) // step)
        bulk = reps - tail
        if bulk:
            j = np.arange(bulk)[:, None]

            def dep(kind, off):
                return np.where(kind == 1, b + j * step + off, np.where(kind == 2, n + x0 + j * xstep + off, -1))

            (r, ti, td, code), dk, do = data_cols
            block_data = ((b + j * step + r).ravel(), (t0 + j * span + ti).ravel(), (t0 + j * span + td).ravel(),
                          dep(dk, do).ravel(), np.broadcast_to(code, (bulk, len(code))).ravel())
            block_extra = None
            if extra_cols is not None:
                (kind, src, ti, td, code), dk, do = extra_cols
                where = np.where(src != _NO_SOURCE, b + j * step + src, -1)
                rows = np.where(where >= 0, self.rows_array[np.maximum(where, 0)], -1)
                ids = n + x0 + j * xstep + np.arange(len(kind))
                block_extra = tuple(np.broadcast_to(a, (bulk, len(kind))).ravel() for a in (
                    ids, kind, rows, t0 + j * span + ti, t0 + j * span + td, dep(dk, do), code))
            self.blocks.append((block_data, block_extra))
        issue, done, depends_on, bound_by, out = self.issue, self.done, self.depends_on, self.bound_by, self.extra
        for j in range(bulk, reps):
            base_b, base_t, base_x = b + j * step, t0 + j * span, x0 + j * xstep

            def dec(d, base_b=base_b, base_x=base_x):
                return -1 if d is None else (base_b + d[0] if d[1] == 0 else n + base_x + d[0])

            for r, t_issue, t_done, d, code in data:
                i = base_b + r
                issue[i], done[i], depends_on[i], bound_by[i] = base_t + t_issue, base_t + t_done, dec(d), code
            for k, (kind, src, t_issue, t_done, d, code) in enumerate(extra):
                src = -1 if src is None else base_b + src
                out.append((n + base_x + k, kind, self.row[src] if src >= 0 else -1, base_t + t_issue,
                            base_t + t_done, dec(d), code, src))
        self.n_extra = x0 + reps * xstep
        self._shift(reps * step, reps * span, reps * xstep, [reps * a for a in advance])
        self.seen.clear()  # states seen before the jump are no longer followed by the log

    def _shift(self, steps: int, cycles: int, inserted: int, advance: list[int]) -> None:
        """Move the controller's state forward by whole periods (indices, cycles, inserted ids)."""
        n = self.n

        def sid(x):
            return x if x < 0 else (x + steps if x < n else x + inserted)

        self.head[:] = [h + a for h, a in zip(self.head, advance)]
        self.bus += cycles
        self.ref_end += cycles
        self.ref_id = sid(self.ref_id)
        self.max_issued += steps
        self.last_time = [t + cycles for t in self.last_time]
        self.last_id = [sid(x) for x in self.last_id]
        self.queue_time = [t + cycles for t in self.queue_time]
        self.queue_id = [sid(x) for x in self.queue_id]
        self.buffer_done = [t + cycles for t in self.buffer_done]
        self.buffer_last = [sid(x) for x in self.buffer_last]
        self.handoff = [t + cycles for t in self.handoff]
        self.handoff_id = [sid(x) for x in self.handoff_id]
        if self.open_row >= 0:
            self.open_mac += steps
            self.open_row = self.row[self.open_mac]

    def _refresh(self) -> None:
        t = self.t
        at = self.next_ref
        rid = self.n + self.n_extra
        self.n_extra += 1
        self.extra.append((rid, _REF, -1, at, at + t.tRFC, -1, Bound.READY, -1))
        self.refreshes += 1
        self.bus, self.ref_end, self.ref_id = at, at + t.tRFC, rid
        self.last_time[_REF], self.last_id[_REF] = at, rid
        self.open_row = -1  # refresh precharges every bank (its precharge is folded into tRFC)
        self.next_ref += t.tREFI

    def _issue(self, q: int, i: int, action: int, when: int, code: int, dep: int) -> None:
        t = self.t
        self.bus = when
        if action != self.kind[i]:  # a controller-inserted command before i
            xid = self.n + self.n_extra
            self.n_extra += 1
            src = i if action == _ACT else (self.open_mac if action == _PRE else -1)
            row = self.row[src] if src >= 0 else -1
            self.extra.append((xid, action, row, when, when + t.latency[action], dep, code, src))
            self.last_time[action], self.last_id[action] = when, xid
            if action == _ACT:
                self.open_row, self.open_mac = self.row[i], i
            elif action == _PRE:
                self.open_row = -1
            else:
                self.mac_mode = not self.mac_mode
            return
        k = action
        self.issue[i], self.done[i] = when, when + t.latency[k]
        self.log.append(i)
        if i > self.max_issued:
            self.max_issued = i
        self.depends_on[i], self.bound_by[i] = dep, code
        self.last_time[k], self.last_id[k] = when, i
        self.queue_time[q], self.queue_id[q] = when, i
        if self.pingpong:
            for b in (0, 1):
                if self.uses[b][i]:
                    self.buffer_done[b] = max(self.buffer_done[b], self.done[i])
                    self.buffer_last[b] = i
        self.head[q] += 1

    # --- result ------------------------------------------------------------------------------------------
    def trace(self) -> Trace:
        c, n = self.c, self.n
        issue, done = np.array(self.issue, dtype=np.int64), np.array(self.done, dtype=np.int64)
        depends_on, bound_by = np.array(self.depends_on, dtype=np.int64), np.array(self.bound_by, dtype=np.int64)
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
        columns = {name: array[order] for name, array in columns.items()}
        total = total_cycles(columns["kind"], columns["issue"], columns["done"], self.t)
        return Trace(**columns, policy=self.policy, total_cycles=total, timing=self.t,
                     gbuf_entries=self.gbuf_entries, obuf_entries=self.obuf_entries, commands=n)


def total_cycles(kind: np.ndarray, issue: np.ndarray, done: np.ndarray, timing: EngineTiming) -> int:
    """Length of the run: the last completion, or aim_simulator's EOC rule when the preset has one."""
    if timing.end_extra is None:
        return int(done.max())
    return int((issue + np.asarray(timing.end_extra)[kind]).max())


FAST_MIN_COMMANDS = 4096  # shorter streams always take the plain loop


def find_period(commands: Commands, min_repeats: int = 8):
    """(start, end, P, D) of the longest stretch around the stream's middle that repeats every P commands.

    Commands repeat when kind, GBuf / OBuf entry and "MAC on another row than the previous MAC" match;
    D is the longest look-back of a dependency inside the stretch. None when nothing repeats min_repeats times.
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
    idx = np.arange(start, end)
    look = [(idx - d[start:end])[d[start:end] >= 0] for d in (dependency_ids(commands.gbuf),
                                                                dependency_ids(commands.obuf))]
    depth = max([int(x.max()) for x in look if len(x)] + [1])
    return start, end, p, depth


def _schedule_periodic(commands, policy, timing, gbuf_entries, obuf_entries):
    """Exact fast path: jump over repeating steady states of a long stream; None when it does not apply.

    At each period boundary the controller's whole state is keyed relative to the boundary, the bus cycle
    and the inserted commands so far. When a key comes back with no refresh in between, the actions
    between the two boundaries repeat exactly (the scheduler is deterministic and the commands ahead are
    the same), so they are replayed, shifted, as many periods as stay inside the repeating stretch and
    before the next refresh; then the plain loop resumes. Tests check the result equals the plain loop.
    """
    if len(commands) < FAST_MIN_COMMANDS:
        return None
    period = find_period(commands)
    if period is None:
        return None
    start, end, p, depth = period
    if policy == "pingpong":  # ping-pong also looks back along each buffer region
        engine = _Engine(commands, policy, timing, gbuf_entries, obuf_entries)
        idx = np.arange(start, end)
        for d in engine.region_dep:
            d = np.asarray(d)[start:end]
            if (d >= 0).any():
                depth = max(depth, int((idx - d)[d >= 0].max()))
        return engine.run((start, end, p, depth)).trace()
    return _Engine(commands, policy, timing, gbuf_entries, obuf_entries).run((start, end, p, depth)).trace()
