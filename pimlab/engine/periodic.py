"""The exact fast path for long periodic streams: replay periods whose controller state repeats.

Invariant: the scheduler is deterministic, and inside the periodic stretch the commands ahead of a cut (a period
boundary) look the same from every cut. So at each cut the controller's whole state is keyed relative to the cut,
the bus cycle and the inserted commands so far (`Replay.state_key`: the issue / done times that can still bind,
the queue heads, the open row, the mode, the ids those times point to, the policy's own state (`Policy.state`),
and the refresh phase, cycles to the next REF). When a key comes back, everything between the two cuts,
refreshes included, repeats exactly, shifted: it is replayed as many times as stay inside the stretch (numpy
blocks), then the loop resumes. With refresh on, the key repeats once stream and refresh phase line up again (a
"super-period" of several periods and refreshes). Until then, a repeat of the state without the refresh phase
and with no refresh in between also holds up to the next refresh: those periods are copied into the loop's lists,
as if simulated, and the loop crosses the refresh itself. Any policy works that keys and shifts its own state.
Under a policy that ignores buffer entries (static: program order), a run of back-to-back MAC tiles (a GEMV's
output tiles, which differ only in their OBuf entry) is itself the period (`tile_runs`): with refresh on, a whole
input chunk spans several refreshes and never repeats, while the tiles between two refreshes do. Under DCS the
tiles repeat too, but each queue moves by its own step per tile: `pimlab.engine.tiles` replays those.
The loops look after an issue only at a cut (`Replay.watch_from`); a stretch whose state repeated at none of
DRY_CUTS cuts in a row is watched no more (a look at the state costs about a period's worth of the loop when the
look-back is long and the period short). Tests check the trace equals the plain loop's, column for column.
"""

from __future__ import annotations

import numpy as np

from pimlab.engine.core import NEVER, Engine
from pimlab.engine.policies import Policy, dependency_ids
from pimlab.isa import Commands, Kind
from pimlab.progress import tick
from pimlab.validate import ceil_div

__all__ = ["FAST_MIN_COMMANDS", "find_period", "find_periods", "find_stretches", "signature", "look_back",
           "schedule_periodic", "tile_runs", "mac_tiles", "move_engine", "next_macs", "Replay"]

FAST_MIN_COMMANDS = 4096  # shorter streams always take the plain loop
DRY_CUTS = 64  # `schedule`: a stretch whose state repeated at none of this many cuts in a row is watched no more
_NO_SOURCE = -(1 << 40)  # an inserted command with no source MAC (its row index may be negative otherwise)


def find_period(commands: Commands, min_repeats: int = 8, deps: tuple[np.ndarray, np.ndarray] | None = None):
    """(start, end, P, D) of the longest stretch around the stream's first third that repeats every P commands.

    Commands repeat when kind, GBuf / OBuf entry and "MAC on another row than the previous MAC" match;
    D is the longest look-back of a dependency inside the stretch. None when nothing repeats min_repeats times.
    `deps` are the GBuf and OBuf `dependency_ids` if already known.
    """
    found = _stretch(signature(commands), 0, len(commands), min_repeats)
    if found is None:
        return None
    deps = deps or (dependency_ids(commands.gbuf), dependency_ids(commands.obuf))
    return (*found, max(look_back(deps, found[0], found[1]), 1))


def find_periods(commands: Commands, min_repeats: int = 8, min_commands: int = 1024,
                 deps: tuple[np.ndarray, np.ndarray] | None = None) -> list[tuple[int, int, int, int]]:
    """Every periodic stretch `find_period` finds in the stream and, recursively, in what lies before and after
    it (or in the two halves of a part with none), in stream order; parts under `min_commands` are skipped."""
    found = find_stretches(signature(commands), min_repeats, min_commands)
    deps = deps or (dependency_ids(commands.gbuf), dependency_ids(commands.obuf))
    return [(a, b, p, max(look_back(deps, a, b), 1)) for a, b, p in found]


def find_stretches(sig: np.ndarray, min_repeats: int = 8, min_commands: int = 1024) -> list[tuple[int, int, int]]:
    """(start, end, P) of each periodic stretch of the signature `sig` (see `find_periods`), in stream order."""
    found, todo = [], [(0, len(sig))]
    while todo:
        lo, hi = todo.pop()
        if hi - lo < min_commands:
            continue
        got = _stretch(sig, lo, hi, min_repeats)
        if got is None:
            todo += [(lo, (lo + hi) // 2), ((lo + hi) // 2, hi)] if hi - lo >= 4 * min_commands else []
        else:
            found.append(got)
            todo += [(lo, got[0]), (got[1], hi)]
    return sorted(found)


def _stretch(sig: np.ndarray, lo: int, hi: int, min_repeats: int):
    """(start, end, P) of the longest stretch of sig[lo:hi] around its first third that repeats every P; None."""
    part = sig[lo:hi]
    n = len(part)
    probe, width = n // 3, min(512, n // 16)  # wide enough not to repeat inside a short inner loop
    if width < 1:
        return None
    raw = part[probe:probe + n // min_repeats + width].tobytes()  # where the probe block can recur
    block, best, at = raw[:8 * width], None, 8
    for _ in range(16):  # candidate periods: where the probe block recurs; keep the longest stretch
        at = raw.find(block, at)
        if at < 0 or at // 8 > n // min_repeats:
            break
        if at % 8 == 0:
            p = at // 8
            start, end = _extent(part, probe, p, best if best is not None and p % best[2] == 0 else None)
            if end - start >= min_repeats * p and (best is None or end - start > best[1] - best[0]):
                best = (start, end, p)
        at += 8 - at % 8 if at % 8 else 8
    return None if best is None else (lo + best[0], lo + best[1], best[2])


def _extent(part: np.ndarray, probe: int, p: int, known=None) -> tuple[int, int]:
    """(start, end) of the stretch around `probe` where part repeats every p: from the last mismatch before the
    probe to the first after. known: (start, end, q) of a stretch repeating every q, a divisor of p; it also
    repeats every p up to p before its end, so only what lies outside it is compared."""
    n = len(part)
    lo, hi = 0, n - p  # the i where part[i] is compared with part[i + p]
    if known is not None and known[0] <= probe < known[1] - p:
        lo, hi = known[0], known[1] - p  # no mismatch in [lo, hi)
        before = (part[:lo] != part[p:lo + p])[::-1]
        after = part[hi:n - p] != part[hi + p:]
    else:
        bad = part[:-p] != part[p:]
        before, after, lo, hi = bad[probe - 1::-1], bad[probe:], probe, probe
    start = lo - int(np.argmax(before)) if before.any() else 0
    end = (hi + int(np.argmax(after)) if after.any() else n - p) + p
    return start, end


def signature(commands: Commands) -> np.ndarray:
    """One int64 per command: kind, entries, and whether a MAC changes row."""
    kind = commands.kind
    mac = np.flatnonzero(kind == Kind.MAC)
    change = np.zeros(len(commands), dtype=np.int64)
    if len(mac):
        rows = commands.row[mac]
        change[mac] = np.concatenate(([1], rows[1:] != rows[:-1]))
    return ((kind * 8192 + commands.gbuf + 1) * 8192 + commands.obuf + 1) * 2 + change


def look_back(deps, start: int, end: int) -> int:
    """Longest distance from a command in [start, end) back to the command it depends on in `deps` (0: none)."""
    idx, depth = np.arange(start, end), 0
    for d in deps:
        d = np.asarray(d[start:end])
        if (d >= 0).any():
            depth = max(depth, int((idx - d)[d >= 0].max()))
    return depth


def schedule_periodic(commands, policy_cls, timing, gbuf_entries, obuf_entries):
    """The Trace through the fast path; None when the stream is short or has no periodic stretch."""
    if len(commands) < FAST_MIN_COMMANDS:
        return None
    deps = (dependency_ids(commands.gbuf), dependency_ids(commands.obuf))
    policy = policy_cls(commands, timing, gbuf_entries, obuf_entries, deps)
    engine = Engine(commands, policy, timing, gbuf_entries, obuf_entries)
    engine.replay = _watcher(engine, deps)
    return None if engine.replay is None else engine.run().trace()


def _watcher(engine: Engine, deps):
    """The fast path's watcher of the engine's stream: tile runs with refresh on (`tile_runs`, or under DCS
    `tiles.dcs_tile_runs`), else the periodic stretches (`find_periods`); None if there is none."""
    from pimlab.engine.tiles import TileReplay, dcs_tile_runs  # (tiles builds on this module)

    commands, policy = engine.commands, engine.policy
    stretches = tile_runs(commands, policy) if engine.timing.refresh else []
    if not stretches and engine.timing.refresh:
        runs = dcs_tile_runs(commands, policy)
        if runs:
            return TileReplay(engine, runs)
    if not stretches:
        stretches = [(a, b, p, max(d, look_back(policy.look_back(), a, b)))
                     for a, b, p, d in find_periods(commands, deps=deps)]
    return Replay(engine, stretches, DRY_CUTS) if stretches else None


def ignores_entries(policy) -> bool:
    """Whether `policy` schedules from kinds and rows alone (one queue in program order, no buffer entries followed,
    no state of its own: Static)."""
    cls = type(policy)
    inherited = all(getattr(cls, name) is getattr(Policy, name) for name in ("queues", "earliest", "issued", "state",
                                                                            "unblock"))
    return inherited and not policy.look_back()


def tile_runs(commands: Commands, policy, min_tiles: int = 8) -> list[tuple[int, int, int, int]]:
    """(start, end, P, 1) of each run of at least `min_tiles` back-to-back MAC tiles of P commands (`mac_tiles`),
    when `policy` ignores buffer entries and such runs hold most of the stream; else []. A GEMV's output tiles
    differ only in their OBuf entry, so under such a policy every tile looks the same, and with refresh on the
    tiles between two refreshes replay (`Replay`), where a period of the whole stream (an input chunk) spans
    several refreshes and never repeats whole."""
    if not ignores_entries(policy):
        return []
    runs = [(a, b, p, 1) for a, b, p in mac_tiles(commands, min_tiles)]
    return runs if 2 * sum(b - a for a, b, _, _ in runs) >= len(commands) else []


def mac_tiles(commands: Commands, min_tiles: int = 8) -> list[tuple[int, int, int]]:
    """(start, end, P) of each run of at least `min_tiles` back-to-back MAC tiles of P commands (a tile: MACs on
    one row, the next tile on another), in stream order."""
    n, mac = len(commands), commands.kind == Kind.MAC
    starts = np.flatnonzero(mac & (signature(commands) & 1 == 1))  # first MAC of each tile
    if len(starts) < min_tiles:
        return []
    after = np.minimum.accumulate(np.where(mac, n, np.arange(n))[::-1])[::-1]  # first non-MAC at or after i
    ends = np.minimum(np.r_[starts[1:], n], after[starts])
    size = ends - starts
    joined = (ends[:-1] == starts[1:]) & (size[:-1] == size[1:])  # tile j + 1 follows tile j, as long
    edges = np.flatnonzero(np.diff(np.r_[0, joined.astype(np.int8), 0]))  # runs of joined pairs [first, last)
    return [(int(starts[a]), int(ends[b]), int(size[a])) for a, b in zip(edges[::2], edges[1::2])
            if b - a + 1 >= min_tiles]


def next_macs(kind: np.ndarray) -> np.ndarray:
    """Index of the next MAC at or after each command (-1: none)."""
    n = len(kind)
    nxt = np.minimum.accumulate(np.where(kind == Kind.MAC, np.arange(n), n)[::-1])[::-1]
    return np.where(nxt < n, nxt, -1)


class Replay:
    """Cuts the engine's run at period boundaries and replays repeating stretches (see the module docstring)."""

    def __init__(self, engine: Engine, stretches: list[tuple[int, int, int, int]], dry_cuts: int | None = None):
        """stretches: (start, end, period, look-back depth) of each periodic stretch, in stream order; dry_cuts:
        after this many cuts in a row with no repeat, the rest of the stretch is not watched (None: all of it)."""
        self.e, self.stretches, self.dry_cuts = engine, stretches, dry_cuts or NEVER
        self.replayed = {"whole state": 0, "before refresh": 0}  # commands replayed, by kind of repeat
        self.whole: list[tuple] = []  # each whole-state replay: (stretch, cut, bus cycle, step, span, inserted, reps)
        self.next_mac = next_macs(engine.commands.kind)
        self.horizon = engine.timing.horizon_cycles
        self._enter(0)

    def _enter(self, k: int) -> None:
        """Start watching stretch k: states and templates of another stretch do not carry over."""
        self.k = k
        self.start, self.end, self.p, self.depth = self.stretches[k]
        self.boundary = self.start + ceil_div(self.depth, self.p) * self.p  # first cut with its look-back inside
        self.seen, self.templates, self.window_seen, self.window_templates = {}, {}, {}, {}
        self.dry = 0  # cuts in a row with no repeat

    def watch_from(self) -> int:
        """`after_issue` can act only once the oldest command not yet issued reaches this index (NEVER: not any
        more): the loops skip it while the issuing queue has a next command below it."""
        if self.boundary >= self.end and self.k + 1 == len(self.stretches):
            return NEVER  # past the last stretch's last cut
        return self.boundary

    def after_issue(self, q: int) -> bool:
        """Called after queue q issued: cut once the oldest command not yet issued reaches the boundary.
        True when the engine's state moved (its cached readiness is stale)."""
        e = self.e
        if e.head[q] < len(e.queues[q]) and e.queues[q][e.head[q]] < self.boundary:
            return False  # only q's head moved, so the frontier can have reached the boundary only if it did
        frontier = min(e.queues[r][h] for r, h in enumerate(e.head) if h < len(e.queues[r]))
        while frontier >= self.end - self.p and self.k + 1 < len(self.stretches):
            self._enter(self.k + 1)
        if frontier < self.boundary:
            return False
        cut = self.start + (frontier - self.start) // self.p * self.p
        self.boundary = cut + self.p
        if cut + self.p >= self.end:
            return False
        return self.cut(cut)

    def state_key(self, b: int) -> tuple:
        """Everything the future depends on, relative to cut index b, the bus cycle and the inserted count,
        except the refresh phase (cycles to the next REF), which `cut` adds."""
        e = self.e
        now, n, x0, floor = e.bus, e.n, e.n_inserted, -self.horizon

        def rel(t):
            return max(t - now, floor)

        def ref(x, t):  # an id only matters while its time can still bind
            if x < 0 or t - now <= floor:
                return None
            return x - b if x < n else (x - n - x0, "x")

        lo = b - self.depth
        window = self._window(lo, max(e.max_issued, lo) + 1, now, floor)
        heads = tuple(e.queues[q][h] - b if h < len(e.queues[q]) else None for q, h in enumerate(e.head))
        return (heads, window, self._row_state(b, heads), e.mac_mode, rel(e.ref_end), ref(e.ref_id, e.ref_end),
                tuple(map(rel, e.last_time)), tuple(map(ref, e.last_id, e.last_time)),
                tuple(map(rel, e.queue_time)), tuple(map(ref, e.queue_id, e.queue_time)),
                e.policy.state(rel, ref))

    def _window(self, lo: int, hi: int, now: int, floor: int) -> bytes:
        """Issue and done cycles of commands lo..hi-1 relative to now (clipped at floor; floor - 1: not issued)."""
        e = self.e
        times = np.array([np.asarray(column[lo:hi], dtype=np.int64) for column in (e.issue_cycles, e.done_cycles)])
        out = np.maximum(times - now, floor)
        out[:, times[0] < 0] = floor - 1
        return out.tobytes()

    def _row_state(self, b: int, heads: tuple) -> int:
        """-1 no open row; 1 if the next MAC ahead uses the open row, else 0."""
        e = self.e
        if e.open_row < 0:
            return -1
        first = min(h for h in heads if h is not None) + b
        nxt = self.next_mac[first] if first < e.n else -1
        return int(nxt >= 0 and e.row[nxt] == e.open_row)

    def cut(self, b: int) -> bool:
        """At a period boundary: remember the state; when it repeats, replay what happened in between. True when
        it repeated (the engine's state may have moved); after `dry_cuts` cuts in a row with none, the rest of the
        stretch is not watched (each cut costs a look at the state; the loop between cuts costs nothing).

        A repeat of the whole state (refresh phase included) replays as far as the stretch goes. With refresh
        on, a repeat of the stream's state with no refresh in between also replays, up to the next refresh.
        """
        e = self.e
        tick()  # a period boundary: an app may cancel a long run here (pimlab.progress)
        stream = self.state_key(b)
        phase = None if e.next_ref >= NEVER else e.next_ref - e.bus
        here = (b, e.bus, len(e.log), len(e.inserted), e.refreshes, list(e.head), e.max_issued, e.n_inserted)
        template = self._repeat(self.templates, self.seen, (stream, phase), here)
        if template is not None:
            self._replay(template, b)
        elif phase is not None:
            template = self._repeat(self.window_templates, self.window_seen, stream, here, no_refresh=True)
            if template is not None:
                self._replay(template, b, before_refresh=True)
        self.dry = 0 if template is not None else self.dry + 1
        if self.dry >= self.dry_cuts:
            self.boundary = max(self.boundary, self.end)  # no cut until the next stretch
        return template is not None

    def _repeat(self, templates: dict, seen: dict, key, here: tuple, no_refresh: bool = False):
        """The template of the state `key` if known, else one from its last sighting; None if none fits."""
        template = templates.get(key)
        if template is None:
            before = seen.get(key)
            seen[key] = here
            b = here[0]
            if before is None or b + (b - before[0]) > self.end or (no_refresh and before[4] != here[4]):
                return None  # a new state, one whose repetition would not fit in the stretch, or a refresh between
            template = templates[key] = self._template(before, here)
        return template

    def _template(self, a, c) -> tuple:
        """The actions between two cuts with equal states, relative to the first, as numpy columns."""
        e = self.e
        b0, t0, log0, e0, _, heads0, _, x0 = a
        b1, t1, log1, e1, refs1, heads1, hi1, x1 = c
        n = e.n

        def columns(ids, *values):  # rows of (*values, dependency kind 0 none / 1 data / 2 inserted, offset)
            ids = np.asarray(ids, dtype=np.int64)
            dep_kind = np.where(ids < 0, 0, np.where(ids < n, 1, 2))
            dep_off = np.where(dep_kind == 1, ids - b0, np.where(dep_kind == 2, ids - n - x0, 0))
            return np.array([*values, dep_kind, dep_off], dtype=np.int64).reshape(len(values) + 2, -1)

        logged = e.log[log0:log1]
        issue, done, bound_by = e.issue_cycles, e.done_cycles, e.bound_by
        data = columns([e.depends_on[i] for i in logged], np.array(logged, dtype=np.int64) - b0,
                       np.array([issue[i] for i in logged]) - t0, np.array([done[i] for i in logged]) - t0,
                       [bound_by[i] for i in logged])
        x = np.array(e.inserted[e0:e1], dtype=np.int64).reshape(-1, 8).T  # id, kind, row, issue, done, dep, code, src
        extra = columns(x[5], x[1], np.where(x[7] >= 0, x[7] - b0, _NO_SOURCE), x[3] - t0, x[4] - t0, x[6])
        reach = max([int(data[0].max()) if len(logged) else 0, hi1 - b0] +
                    [e.queues[q][h] - b0 for q, h in enumerate(heads1) if h < len(e.queues[q])])
        refs = refs1 - a[4]
        return (b1 - b0, t1 - t0, x1 - x0, refs, [h1 - h0 for h0, h1 in zip(heads0, heads1)], reach, data, extra)

    def _replay(self, template, b: int, before_refresh: bool = False) -> None:
        """Repeat the template `reps` times from cut b, shifted; then move the state past the repeats.

        By default (a repeat of the whole state) as far as the stretch goes, into numpy blocks the trace picks
        up at the end. before_refresh: only the repeats that end before the next refresh, written into the
        lists and logs as if simulated, so that states seen before stay valid.
        """
        e = self.e
        step, span, xstep, refs, advance, reach, data, extra = template
        reps = (self.end - 1 - reach - b) // step + 1  # every replayed period only looks at periodic commands
        if before_refresh:  # every replayed issue (an ACT: its tRCD too) before the refresh, as in the template
            reps = min(reps, (e.next_ref - 1 - e.bus - (e.tRCD if e.rows_on else 0)) // max(span, 1))
        if reps < 1 or span < 1:
            return
        j = np.arange(reps)[:, None]
        block_data = self._block_data(data, b, step, span, xstep, j)
        block_extra, sources = self._block_inserted(extra, b, step, span, xstep, j)
        if before_refresh:
            self._write_lists(block_data, block_extra, sources)
            self.replayed["before refresh"] += reps * step
        else:
            self._keep_blocks(block_data, block_extra, b + reps * step)
            self.whole.append((self.k, b, e.bus, step, span, xstep, reps))
            self.replayed["whole state"] += reps * step
            if e.next_ref < NEVER:  # the whole state repeated, the refresh phase too
                e.next_ref += reps * span
        e.n_inserted += reps * xstep
        e.refreshes += reps * refs
        self._shift(reps * step, reps * span, reps * xstep, [reps * a for a in advance])

    def _dep(self, kind, off, b, step, xstep, j):
        x0 = self.e.n_inserted
        return np.where(kind == 1, b + j * step + off, np.where(kind == 2, self.e.n + x0 + j * xstep + off, -1)).ravel()

    def _block_data(self, data, b, step, span, xstep, j):
        t0 = self.e.bus
        r, ti, td, code, dk, do = data
        idx = (b + j * step + r).ravel()
        return (idx, (t0 + j * span + ti).ravel(), (t0 + j * span + td).ravel(), self._dep(dk, do, b, step, xstep, j),
                np.broadcast_to(code, (len(j), len(code))).ravel())

    def _block_inserted(self, extra, b, step, span, xstep, j):
        if not extra.shape[1]:
            return None, None
        e, t0, reps = self.e, self.e.bus, len(j)
        kind, src, ti, td, code, dk, do = extra
        sources = np.where(src != _NO_SOURCE, b + j * step + src, -1)
        rows = np.where(sources >= 0, e.commands.row[np.maximum(sources, 0)], -1)
        ids = e.n + e.n_inserted + j * xstep + np.arange(len(kind))
        block = tuple(np.broadcast_to(a, (reps, len(kind))).ravel() for a in (
            ids, kind, rows, t0 + j * span + ti, t0 + j * span + td)) + (
            self._dep(dk, do, b, step, xstep, j), np.broadcast_to(code, (reps, len(kind))).ravel())
        return block, sources

    def _write_lists(self, block_data, block_extra, sources) -> None:
        """Replayed periods into the loop's lists, as if simulated."""
        e = self.e
        for column, values in zip((e.issue_cycles, e.done_cycles, e.depends_on, e.bound_by), block_data[1:]):
            np.frombuffer(column, dtype=np.int64)[block_data[0]] = values  # the engine's array("q"), in place
        e.log.extend(block_data[0].tolist())
        if block_extra is not None:
            e.inserted.extend(zip(*(a.tolist() for a in block_extra), sources.ravel().tolist()))

    def _keep_blocks(self, block_data, block_extra, frontier: int) -> None:
        """Replayed periods as numpy blocks; the lists get only what the loop may still look back to."""
        e = self.e
        e.blocks.append((block_data, block_extra))
        idx, t_issue, t_done = block_data[:3]
        near = idx >= frontier - self.depth
        for i, t_i, t_d in zip(idx[near].tolist(), t_issue[near].tolist(), t_done[near].tolist()):
            e.issue_cycles[i], e.done_cycles[i] = t_i, t_d
        self.seen.clear()  # states seen before the jump are no longer followed by the log
        self.window_seen.clear()

    def _shift(self, steps: int, cycles: int, inserted: int, advance: list[int]) -> None:
        """Move the controller's state forward by whole periods (indices, cycles, inserted ids), in place."""
        e, n = self.e, self.e.n

        def sid(x):
            return x if x < 0 else (x + steps if x < n else x + inserted)

        e.ref_end += cycles
        e.ref_id = sid(e.ref_id)
        e.max_issued += steps
        move_engine(e, advance, cycles, sid)


def move_engine(e: Engine, advance, cycles: int, sid) -> None:
    """Move the engine's state on after a replay, in place: each queue's head by `advance`, every time by `cycles`,
    every id the state holds by sid(id) (the refresh state and max_issued are the caller's)."""
    e.head[:] = [h + a for h, a in zip(e.head, advance)]
    e.bus += cycles
    for times, ids in ((e.last_time, e.last_id), (e.queue_time, e.queue_id)):
        times[:] = [t + cycles for t in times]
        ids[:] = [sid(x) for x in ids]
    e.policy.shift(cycles, sid)
    if e.open_row >= 0:
        e.open_mac = sid(e.open_mac)  # a data MAC
        e.open_row = e.row[e.open_mac]
