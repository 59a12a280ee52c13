"""Tile replay for DCS GEMVs: the periodic fast path with one step per queue.

Under DCS a GEMV's output tiles (`periodic.mac_tiles`: one MAC run on one DRAM row into its own OBuf entry) look the
same, but the compute queue moves a tile's `size` MACs per tile while the I/O queue moves the few commands that read
a tile out (one RD-OUT per tile in CENT's sequence): one index shift cannot map a tile onto the next. So positions are
counted in each queue, and tile m's frame is (I/O position, compute position) = start + m x step of each queue. At
each tile boundary (the compute queue's head reaches its frame) the controller's state is keyed relative to the
frame: heads, the issue / done cycles of the commands the future can still depend on (each queue's look-back
from its frame), the ids the state points to (queue, position - frame), open row, the bus times, the policy's state.
When a key comes back with no refresh in between, the tiles between the two boundaries repeat exactly, moved on
(each queue by its own step), up to the next refresh: they are written into the engine's lists as if simulated.
That holds as long as the commands a copy looks at are like the template's: kinds, row changes, dependency targets
(each moved on as its queue is, of the same kinds, inside the key's windows) and the order of the two queues'
commands (a tie goes to the older) are checked for every copy (`_check`, once per template and run). A template
carries over to the next runs (chunks, latch groups) of the same steps, checked there likewise. Only DCS: its
rules read buffer entries through its dependency ids alone. Where the refresh interval holds ~15 tiles, about 3 of
them are simulated (the one the refresh falls in, the one before, which would cross it, the one after) and 2 at the
start of each run. Tests compare every Trace column with the plain loop's (tests/test_dcs_tiles.py).
"""

from __future__ import annotations

import numpy as np

from pimlab.engine.core import NEVER, Engine
from pimlab.engine.periodic import mac_tiles, move_engine, next_macs, signature
from pimlab.engine.policies import DCS
from pimlab.isa import QUEUE_OF_KIND, Commands, Kind
from pimlab.progress import tick

__all__ = ["dcs_tile_runs", "TileReplay"]

_COMPUTE = int(QUEUE_OF_KIND[Kind.MAC])
MIN_TILE_MACS = 32  # shorter tiles are not worth a look at the state each (a look costs some 40 commands' loop)
DRY_CUTS = 8  # a run whose state repeated at none of this many tile boundaries in a row is watched no more


def dcs_tile_runs(commands: Commands, policy, min_tiles: int = 8) -> list[tuple[tuple, tuple, int]]:
    """((I/O start, compute start), (I/O step, compute step), tiles) of each run of `mac_tiles` of at least
    MIN_TILE_MACS MACs a tile whose tiles are read out by I/O commands at a constant step (the first I/O command
    depending on tile m sits step x m after the first's), under DCS when such runs hold most of the stream;
    else []."""
    if type(policy) is not DCS:
        return []
    found = [run for run in mac_tiles(commands, min_tiles) if run[2] >= MIN_TILE_MACS]
    if not found:
        return []
    qof, pos = queue_positions(policy.queues(), len(commands))
    io, runs = 1 - _COMPUTE, []
    a, b, size = (np.array(column, dtype=np.int64) for column in zip(*found))
    first_tile = np.r_[0, np.cumsum((b - a) // size)]  # tiles of the runs, numbered in one row
    first = np.full(first_tile[-1], NEVER)  # the first I/O position that reads each tile
    for dep in policy.look_back():
        readers = np.flatnonzero((qof == io) & (np.asarray(dep) >= 0))
        d = np.asarray(dep)[readers]
        r = np.maximum(np.searchsorted(a, d, side="right") - 1, 0)
        inside = (d >= a[r]) & (d < b[r])
        np.minimum.at(first, (first_tile[r] + (d - a[r]) // size[r])[inside], pos[readers[inside]])
    for (a, _, size), lo, hi in zip(found, first_tile[:-1], first_tile[1:]):
        tiles, steps = hi - lo, np.diff(first[lo:hi])
        if first[lo:hi].max() < NEVER and steps.min() == steps.max() >= 1:
            start, step = [0, 0], [0, 0]
            start[io], start[_COMPUTE], step[io], step[_COMPUTE] = int(first[lo]), int(pos[a]), int(steps[0]), size
            runs.append((tuple(start), tuple(step), int(tiles)))
    return runs if 2 * sum(s[_COMPUTE] * t for _, s, t in runs) >= len(commands) else []


def queue_positions(queues, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(queue of each command, its position in that queue)."""
    qof, pos = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for q, queue in enumerate(queues):
        queue = np.asarray(queue, dtype=np.int64)
        qof[queue], pos[queue] = q, np.arange(len(queue))
    return qof, pos


class TileReplay:
    """Cuts the engine's run at tile boundaries and replays repeating tiles up to the next refresh (see the module
    docstring). runs: `dcs_tile_runs`."""

    def __init__(self, engine: Engine, runs: list[tuple[tuple, tuple, int]]):
        self.e, self.runs = engine, runs
        self.replayed = {"whole state": 0, "before refresh": 0}  # commands replayed, by kind of repeat
        self.whole: list[tuple] = []  # (no whole-state replays here)
        c, n = engine.commands, engine.n
        self.qarr = [np.asarray(queue, dtype=np.int64) for queue in engine.queues]
        self.qof, self.pos = queue_positions(engine.queues, n)
        self.flat, self.offset = np.concatenate(self.qarr), np.r_[0, len(self.qarr[0])]  # id at offset[q] + position
        self.deps = [np.asarray(d, dtype=np.int64) for d in engine.policy.look_back()]
        self.sig = signature(c) & 1 | c.kind.astype(np.int64) * 2  # kind and "MAC on another row"
        self.next_mac = next_macs(c.kind)
        self.horizon = engine.timing.horizon_cycles
        self.k, self.m, self.templates = -1, 0, {}
        self._enter(0)

    def _enter(self, k: int) -> None:
        """Watch run k from the first tile boundary the compute queue has not passed."""
        self.k = k
        if k >= len(self.runs):
            return
        self.start, self.step, self.tiles = self.runs[k]
        self.depth = self._depth()
        head = self.e.head[_COMPUTE]
        self.m = max(0, -(-(head - self.start[_COMPUTE]) // self.step[_COMPUTE]))
        self.seen, self.dry = {}, 0  # (templates carry over: each is checked against the run it replays in)

    def frame(self, m: int) -> tuple[int, int]:
        return tuple(a + m * s for a, s in zip(self.start, self.step))

    def _depth(self) -> list[int]:
        """Per queue: how far before its frame a command of the run (in its own tile's frame) depends on."""
        depth, io = [0, 0], 1 - _COMPUTE
        for q, (a, s) in enumerate(zip(self.start, self.step)):
            p = np.arange(a, a + s * self.tiles)
            ids, m = self.qarr[q][p], (p - a) // s
            for dep in self.deps:
                d = dep[ids]
                ok = d >= 0
                dq, dp, mm = self.qof[d[ok]], self.pos[d[ok]], m[ok]
                for r in (io, _COMPUTE):
                    sel = dq == r
                    if sel.any():
                        need = self.start[r] + mm[sel] * self.step[r] - dp[sel]
                        depth[r] = max(depth[r], int(need.max()))
        return depth

    def watch_from(self) -> int:
        """The command index the compute queue's head reaches at the next tile boundary (NEVER: no more)."""
        while self.k < len(self.runs) and self.m >= self.tiles:
            self._enter(self.k + 1)
        if self.k >= len(self.runs):
            return NEVER
        return int(self.qarr[_COMPUTE][self.frame(self.m)[_COMPUTE]])

    def after_issue(self, q: int) -> bool:
        """Cut when the compute queue's head has reached the next tile boundary; True if the state moved."""
        if self.k >= len(self.runs):
            return False
        head, at = self.e.head[_COMPUTE], self.frame(self.m)[_COMPUTE]
        if head < at:
            return False
        m = self.m
        self.m = m + 1 + (head - at) // self.step[_COMPUTE]
        if head != at:
            return False  # past the boundary (a replay moved it): wait for the next
        return self.cut(m)

    def lows(self, m: int) -> tuple[int, int]:
        """Per queue, the first position the future may depend on: its look-back before the frame of the older of
        tile m and the I/O head's tile."""
        io = 1 - _COMPUTE
        f = max(0, min(m, (self.e.head[io] - self.start[io]) // self.step[io]))
        return tuple(max(0, c - d) for c, d in zip(self.frame(f), self.depth))

    def state_key(self, m: int, lows: tuple) -> tuple:
        """Everything the next tiles depend on, relative to tile m's frame, the bus cycle and the inserted count."""
        e = self.e
        now, n, x0, floor, frame = e.bus, e.n, e.n_inserted, -self.horizon, self.frame(m)
        qof, pos = self.qof, self.pos

        def rel(t):
            return max(t - now, floor)

        def ref(x, t):  # an id only matters while its time can still bind
            if x < 0 or t - now <= floor:
                return None
            return (int(qof[x]), int(pos[x]) - frame[qof[x]]) if x < n else (x - n - x0, "x")

        issue, done = (np.frombuffer(column, dtype=np.int64) for column in (e.issue_cycles, e.done_cycles))
        windows = []
        for q, lo in enumerate(lows):
            ids = self.qarr[q][lo:e.head[q]]
            windows.append(np.maximum(np.array([issue[ids], done[ids]]) - now, floor).tobytes())
        del issue, done
        heads = tuple(h - c for h, c in zip(e.head, frame))
        opened = ref(e.open_mac, now) if e.open_row >= 0 else None
        return (heads, tuple(lo - c for lo, c in zip(lows, frame)), tuple(windows), self._row_state(), opened,
                e.mac_mode, rel(e.ref_end), ref(e.ref_id, e.ref_end), tuple(map(rel, e.last_time)),
                tuple(map(ref, e.last_id, e.last_time)), tuple(map(rel, e.queue_time)),
                tuple(map(ref, e.queue_id, e.queue_time)), e.policy.state(rel, ref))

    def _row_state(self) -> int:
        """-1 no open row; 1 if the next MAC ahead uses the open row, else 0."""
        e = self.e
        if e.open_row < 0:
            return -1
        head = e.head[_COMPUTE]
        nxt = self.next_mac[self.qarr[_COMPUTE][head]] if head < len(self.qarr[_COMPUTE]) else -1
        return int(nxt >= 0 and e.row[nxt] == e.open_row)

    def cut(self, m: int) -> bool:
        """At tile boundary m: remember the state; when it came back with no refresh in between, replay."""
        tick()  # a tile boundary: an app may cancel a long run here (pimlab.progress)
        e = self.e
        lows = self.lows(m)
        key = self.state_key(m, lows)
        template = self.templates.get(key)
        if template is None:
            here = (m, e.bus, len(e.log), len(e.inserted), e.refreshes, list(e.head), e.n_inserted, lows)
            before, self.seen[key] = self.seen.get(key), here
            if before is None or before[4] != here[4]:  # a new state, or a refresh in between
                self.dry += 1
                if self.dry >= DRY_CUTS:
                    self.m = self.tiles  # the rest of the run is not watched
                return False
            template = self.templates[key] = self._template(before, here)
        self.dry = 0
        return template is not False and self._replay(template, m)

    def _template(self, a: tuple, c: tuple):
        """The actions between boundaries a and c (equal states), relative to a's frame: (that frame, tiles,
        cycles, inserted commands, positions looked at, data, inserted, steps, `_check` of each run it was tried
        in); False if a command they look at depends on one before the key's windows."""
        e = self.e
        m0, t0, log0, x_0, _, heads0, x0, lows = a
        m1, t1, log1, x_1, _, heads1, _, _ = c
        frame = self.frame(m0)
        span = [(h0, min(h1, len(queue) - 1)) for h0, h1, queue in zip(heads0, heads1, self.qarr)]  # looked at
        for q, (lo, hi) in enumerate(span):
            ids = self.qarr[q][lo:hi + 1]
            for dep in self.deps:
                d = dep[ids]
                d = d[d >= 0]
                if (self.pos[d] < np.take(lows, self.qof[d])).any():
                    return False
        logged = np.array(e.log[log0:log1], dtype=np.int64)
        issue, done, bound, depends = (np.array([column[i] for i in logged.tolist()], dtype=np.int64)
                                       for column in (e.issue_cycles, e.done_cycles, e.bound_by, e.depends_on))
        data = (self._relative(logged, frame), issue - t0, done - t0, bound, self._relative_dep(depends, frame, x0))
        x = np.array(e.inserted[x_0:x_1], dtype=np.int64).reshape(-1, 8).T  # id, kind, row, issue, done, dep, code, src
        extra = (x[1], self._relative(x[7], frame), x[3] - t0, x[4] - t0, x[6], self._relative_dep(x[5], frame, x0))
        return frame, m1 - m0, t1 - t0, c[6] - x0, span, data, extra, self.step, {}

    def _relative(self, ids: np.ndarray, frame: tuple) -> tuple[np.ndarray, np.ndarray]:
        """(queue, position - frame) of data ids (-1, 0 for none)."""
        ok = ids >= 0
        q = np.where(ok, self.qof[np.where(ok, ids, 0)], -1)
        return q, np.where(ok, self.pos[np.where(ok, ids, 0)] - np.take(frame, np.maximum(q, 0)), 0)

    def _relative_dep(self, ids: np.ndarray, frame: tuple, x0: int) -> tuple:
        """(data (queue, position - frame), inserted offset or -1) of dependency ids."""
        n = self.e.n
        data = np.where(ids < n, ids, -1)
        return self._relative(data, frame), np.where(ids >= n, ids - n - x0, -1)

    def _replay(self, template, m: int) -> bool:
        """Copies of the template from boundary m, as many as fit before the next refresh, stay in the run and
        look at commands like the template's; written into the engine's lists as if simulated. True if any."""
        e = self.e
        _, k, cycles, xstep, _, data, extra, _, _ = template
        reps = min((self.tiles - m) // k, (e.next_ref - 1 - e.bus - (e.tRCD if e.rows_on else 0)) // max(cycles, 1))
        reps = self._fits(template, m, reps) if reps >= 1 and cycles >= 1 else 0
        if reps < 1:
            return False
        j = np.arange(reps)[:, None]
        tiles = m + j * k  # the tile each copy starts at
        x_base = e.n + e.n_inserted + j * xstep
        (q, p), issue, done, bound, dep = data
        ids = self._absolute(q, p, tiles)
        for column, values in zip((e.issue_cycles, e.done_cycles, e.depends_on, e.bound_by),
                                  (e.bus + j * cycles + issue, e.bus + j * cycles + done,
                                   self._absolute_dep(dep, tiles, x_base), bound + 0 * j)):
            np.frombuffer(column, dtype=np.int64)[ids.ravel()] = values.ravel()
        e.log.extend(ids.ravel().tolist())
        self._insert(extra, tiles, e.bus + j * cycles, x_base)
        e.n_inserted += reps * xstep
        self.replayed["before refresh"] += ids.size
        self._shift(reps * k, reps * cycles, reps * xstep)
        self.m = m + reps * k + 1
        return True

    def _insert(self, extra, tiles: np.ndarray, t0: np.ndarray, x_base: np.ndarray) -> None:
        """The template's inserted commands (ACT / PRE), per copy, into the engine's list."""
        kind, (q, p), issue, done, code, dep = extra
        if not len(kind):
            return
        e = self.e
        src = np.where(q >= 0, self._absolute(q, p, tiles), -1)
        rows = np.where(src >= 0, e.commands.row[np.maximum(src, 0)], -1)
        columns = (x_base + np.arange(len(kind)), kind + 0 * tiles, rows, t0 + issue, t0 + done,
                   self._absolute_dep(dep, tiles, x_base), code + 0 * tiles, src)
        e.inserted.extend(map(tuple, np.stack(np.broadcast_arrays(*columns), axis=-1).reshape(-1, 8).tolist()))

    def _absolute(self, q: np.ndarray, p: np.ndarray, tiles: np.ndarray) -> np.ndarray:
        """Data ids at (queue, position - frame) of the frames of `tiles` (queues -1: id -1)."""
        qq = np.maximum(q, 0)
        at = np.take(self.start, qq) + tiles * np.take(self.step, qq) + p  # inside the queue: checked (_check)
        return np.where(q >= 0, self.flat[np.where(q >= 0, at + self.offset[qq], 0)], -1)

    def _absolute_dep(self, dep, tiles: np.ndarray, x_base: np.ndarray) -> np.ndarray:
        (q, p), inserted = dep
        return np.where(inserted >= 0, x_base + inserted, self._absolute(q, p, tiles))

    def _fits(self, template, m: int, reps: int) -> int:
        """How many of the first `reps` copies from boundary m look at commands like the template's (`_check`)."""
        frame, k, span, steps, checked = template[0], template[1], template[4], template[7], template[8]
        if steps != self.step:
            return 0
        if self.k not in checked:
            checked[self.k] = self._check(span, frame, np.arange(self.tiles + 1))
        ok = checked[self.k][m + k * np.arange(reps)]  # (copies stay in the run)
        return reps if ok.all() else int(np.argmin(ok))

    def _check(self, span, frame: tuple, tiles: np.ndarray) -> np.ndarray:
        """For each of `tiles`: whether the commands at positions span[q] of each queue q, moved from `frame` to
        that tile's frame, have the same kinds, row changes and dependency targets (moved likewise, of the same
        kinds), and the two queues' commands the same order."""
        move = np.stack([a + tiles * s - f for a, s, f in zip(self.start, self.step, frame)], axis=1)  # per queue
        ok, ids, moved = np.ones(len(tiles), dtype=bool), [], []
        for q, (lo, hi) in enumerate(span):
            at = np.arange(lo, hi + 1)
            to = at + move[:, q:q + 1]
            inside = ((to >= 0) & (to < len(self.qarr[q]))).all(axis=1)
            x, y = self.qarr[q][at], self.qarr[q][np.where(inside[:, None], to, at)]
            ok &= inside & (self.sig[y] == self.sig[x]).all(axis=1)
            for dep in self.deps:
                ok &= self._same_deps(dep[x], dep[y], move)
            ids.append(x)
            moved.append(y)
        order = ids[0][:, None] < ids[1][None, :]  # which head goes first on a tie
        ok &= (np.less(moved[0][:, :, None], moved[1][:, None, :]) == order).all(axis=(1, 2))
        return ok

    def _same_deps(self, dx: np.ndarray, dy: np.ndarray, move: np.ndarray) -> np.ndarray:
        """Per copy: whether dependency targets dy (copies x commands) are dx's, each moved on as its queue is
        (move: copies x queues, positions)."""
        kind, none = self.e.commands.kind, dx < 0
        d, e = np.maximum(dx, 0), np.maximum(dy, 0)
        q = self.qof[d]
        same = (self.qof[e] == q) & (kind[e] == kind[d]) & (self.pos[e] == self.pos[d] + move[:, q])
        return ((dy < 0) == none).all(axis=1) & (same | none).all(axis=1)

    def _shift(self, tiles: int, cycles: int, inserted: int) -> None:
        """Move the controller's state `tiles` tiles on (each queue by its step), `cycles` later, in place."""
        e, n = self.e, self.e.n
        moves = [tiles * s for s in self.step]

        def sid(x):
            if x < 0 or x >= n:
                return x if x < 0 else x + inserted
            q = int(self.qof[x])
            at = int(self.pos[x]) + moves[q]
            return int(self.qarr[q][at]) if at < len(self.qarr[q]) else x

        move_engine(e, moves, cycles, sid)
        e.max_issued = max(int(queue[h - 1]) for queue, h in zip(self.qarr, e.head) if h)
