"""Totals of a long periodic stream in bounded memory when its whole state never repeats in a short run.

With refresh on, the controller's whole state (refresh phase included) may repeat only after hundreds of refresh
intervals, too far for `summary` to shorten the stream. Then the stream is scheduled in full, but on a ring: each
long stretch is kept for a few laps of `lap` periods, and whenever the oldest command not yet issued passes the
ring's cut, the engine's state moves back one lap (`Replay._shift` with a negative step: indices move, cycles do not),
so the same kept commands are scheduled again, as the removed copies would have been. That is exact: inside the
stretch the commands ahead of a period boundary look the same from every boundary, and the dependency ids the
engine follows reach back less than the lap; a row a MAC before the stretch opened stays open across a move when
every MAC of the stretch is on it, and a queue with no command in the stretch may have run out (a stretch of
register I/O only, as the software-pipelined order's trailing RD-OUTs). Before each move the breakdown of the
cycles up to the bus cycle is harvested (`trace.breakdown` on what was issued since the last harvest, plus the
commands still under way), so memory holds one short stream and one lap. Tests compare with the full schedule.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

import numpy as np

from pimlab.engine.core import Engine
from pimlab.engine.periodic import Replay
from pimlab.isa import QUEUE_OF_KIND, Kind
from pimlab.progress import tick
from pimlab.trace import BREAKDOWN_KEYS, Trace, breakdown

__all__ = ["Ring", "ring_plan", "LAP_COMMANDS"]

LAP_COMMANDS = 1 << 15  # each move goes back about this many commands (whole periods)
_NO_END = 1 << 62


def ring_plan(stretches, depths):
    """(periods removed, lap periods) of each stretch: keep 2 laps and 6 periods (the ring's cut lies at most 2 laps
    and 2 periods in, when the look-back is shorter than a lap), remove whole laps."""
    plan, budget = [], LAP_COMMANDS // max(1, len(stretches))  # the short stream stays about 3 LAP_COMMANDS long
    for (a, b, p), depth in zip(stretches, depths):
        lap = max(1, budget // p, -(-depth // p) + 1)
        keep = 2 * lap + 6
        laps = max(0, ((b - a) // p - keep) // lap)
        plan.append((laps * lap, lap))
    return plan


class Ring(Replay):
    """The fast path's Replay, plus the ring: rings[k] = (cut index, lap periods, laps left) of stretch k (short
    stream indices), or None. Whole-state replays are off (they would jump past the ring's cut)."""

    def __init__(self, engine: Engine, stretches, rings, timing):
        self.rings, self.timing = rings, timing
        self.parts = np.zeros(len(BREAKDOWN_KEYS), dtype=np.int64)
        self.harvested, self.carry = 0, np.zeros((3, 0), dtype=np.int64)  # cycles done; (kind, issue, done) open
        self.mac_rows: dict[tuple[int, int], np.ndarray] = {}  # (start, end) of a stretch -> the rows its MACs use
        super().__init__(engine, stretches)

    def after_issue(self, q: int) -> bool:
        ring, e = self.rings[self.k], self.e
        if ring is not None and ring[2] and self._passed(q, ring[0]):
            self.harvest(e.bus + 1)  # every later command issues after the bus cycle
            self.rewind(ring[1] * self.p)
            self.rings[self.k] = (ring[0], ring[1], ring[2] - 1)
            return True
        return super().after_issue(q)

    def watch_from(self) -> int:
        ring = self.rings[self.k]
        return min(ring[0], super().watch_from()) if ring is not None and ring[2] else super().watch_from()

    def _passed(self, q: int, cut: int) -> bool:
        """Whether every command before `cut` has issued (only q's head moved since the last call)."""
        e = self.e
        if e.head[q] < len(e.queues[q]) and e.queues[q][e.head[q]] < cut:
            return False
        return e.oldest_head()[0] >= cut

    def laps_left(self) -> int:
        return sum(ring[2] for ring in self.rings if ring is not None)

    def _replay(self, template, b: int, before_refresh: bool = False) -> None:
        """Only repeats before a refresh, and while laps are left only up to the ring's cut."""
        ring, end = self.rings[self.k], self.end
        if before_refresh:
            if ring is not None and ring[2]:
                self.end = min(end, ring[0] + self.p)
            super()._replay(template, b, before_refresh)
            self.end = end

    def issued(self) -> np.ndarray:
        """(kind, issue, done) of every command issued since the last harvest, and of those still under way."""
        e = self.e
        log = np.fromiter(e.log, dtype=np.int64, count=len(e.log))
        data = np.array([e.commands.kind[log], [e.issue_cycles[i] for i in log], [e.done_cycles[i] for i in log]],
                        dtype=np.int64).reshape(3, -1)
        extra = np.array([x[1:2] + x[3:5] for x in e.inserted], dtype=np.int64).reshape(-1, 3).T
        return np.concatenate((self.carry, data, extra), axis=1)

    def harvest(self, until: int) -> None:
        """Add the breakdown of cycles [harvested, until) and keep what is still under way after `until`."""
        kind, issue, done = rows = self.issued()
        n = len(kind)
        zeros = np.zeros(n, dtype=np.int64)
        trace = Trace(zeros, kind, QUEUE_OF_KIND[kind].astype(np.int64), zeros, zeros, zeros, issue, done, zeros,
                      zeros, "ring", _NO_END, self.timing, 1, 1, 0)
        window = breakdown(trace, self.harvested, until)
        self.parts += [window[key] for key in BREAKDOWN_KEYS]
        extra = self.timing.end_extra_cycles
        reach = np.maximum(done, issue + (np.asarray(extra.per_kind())[kind] if extra is not None else 0))
        self.carry, self.harvested = rows[:, reach > until], until
        e = self.e
        e.log.clear()
        e.inserted.clear()
        tick()  # a lap takes a fraction of a second: an app may cancel here (pimlab.progress)

    def rewind(self, steps: int) -> None:
        """Move the engine's state back `steps` commands (whole periods): what follows is scheduled again."""
        e = self.e
        lo, hi = e.oldest_head()[0] - self.depth, e.max_issued + 1
        opened = self._kept_row(steps, hi)
        for column, unset in ((e.issue_cycles, -1), (e.done_cycles, -1), (e.depends_on, -1), (e.bound_by, 0)):
            column[lo - steps:hi - steps] = column[lo:hi]
            column[hi - steps:hi] = array("q", [unset]) * steps
        advance = [bisect_left(queue, queue[h] - steps) - h if h < len(queue) else 0
                   for queue, h in zip(e.queues, e.head)]
        self._shift(-steps, 0, 0, advance)
        if opened is not None:  # a command before the stretch does not move
            e.open_row, e.open_mac = opened
        self.boundary = self.start + (e.oldest_head()[0] - self.start) // self.p * self.p + self.p
        self.seen.clear()
        self.templates.clear()
        self.window_seen.clear()
        self.window_templates.clear()

    def _kept_row(self, steps: int, hi: int):
        """The open (row, MAC) when a MAC before the stretch opened it (it stays as it is), None when the move
        shifts it; RingError where the state cannot move back `steps` commands."""
        e = self.e
        if hi + self.depth + self.p >= self.end or any(h == len(queue) and h and queue[-1] >= self.start
                                                       for queue, h in zip(e.queues, e.head)):
            raise RingError("the run reached the end of the ring's stretch")  # (a queue with none in it may end)
        if e.open_row < 0 or e.open_mac - steps >= self.start:
            return None
        if e.open_mac >= self.start or not self._one_row(e.open_row):
            raise RingError("the open row was opened before the ring, and the ring's MACs use other rows")
        return e.open_row, e.open_mac

    def _one_row(self, row: int) -> bool:
        """Whether every MAC of the current stretch is on `row` (or it has none): then a row opened before the
        stretch stays open across a move back, and every MAC compares with it as before the move."""
        key = (self.start, self.end)  # read once per stretch, not at every move back
        if key not in self.mac_rows:
            kind, rows = self.e.commands.kind[self.start:self.end], self.e.commands.row[self.start:self.end]
            self.mac_rows[key] = np.unique(rows[kind == Kind.MAC])
        return bool(np.all(self.mac_rows[key] == row))


class RingError(Exception):
    """The ring cannot move back here (the caller schedules another way)."""
