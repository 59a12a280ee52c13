"""Totals of a long periodic stream without its timeline, in bounded time and memory (`schedule.summarize`).

Inside a periodic stretch the fast path (`periodic`) finds two cuts whose whole controller state (refresh phase
included) is the same, `step` commands and `span` cycles apart, and replays what lies between them. One more copy
of those `step` commands at such a cut changes nothing before it and shifts everything after it by `span` cycles.
So each long stretch is shortened by whole periods, the short stream is scheduled through the fast path, and the
removed copies are added back at the stretch's first whole-state replay: `span` cycles, `step` commands plus the
ones the controller inserted, and one copy's breakdown each. The number of periods removed is a multiple of the
step, which a first short run finds. MAC rows are renumbered run by run: the engine only ever compares a MAC's row
with the previous MAC's, so "another row than the previous MAC" is all it needs, and that is periodic.
Exact: tests compare with the full schedule.
"""

from __future__ import annotations

import numpy as np

from pimlab.engine.core import Engine, total_cycles
from pimlab.engine.periodic import Replay, find_stretches, look_back, signature
from pimlab.engine.policies import dependency_ids
from pimlab.engine.ring import Ring, RingError, ring_plan
from pimlab.isa import Commands, Kind, expand_table
from pimlab.trace import BREAKDOWN_KEYS, Summary, breakdown

__all__ = ["summarize_periodic", "summarize_source", "CommandSource", "TableSource", "MIN_COMMANDS", "KEEP_COMMANDS",
           "MAX_KEEP_COMMANDS", "table_length"]

MIN_COMMANDS = 1 << 15  # shorter streams are scheduled in full
KEEP_COMMANDS = 1 << 14  # each stretch keeps at least this many commands (and 12 periods) at first; without
# refresh a quarter of it (the whole state repeats within a few periods: no refresh phase has to line up too)
MAX_KEEP_COMMANDS = 1 << 18  # a short stream longer than this (+ at most half, `_summarize_repeats`) goes on a ring
_TRIES = 6


def summarize_periodic(commands: Commands, policy_cls, timing, gbuf_entries: int, obuf_entries: int):
    """The `Summary` of the full schedule from a shortened stream; None when nothing worth removing repeats."""
    if len(commands) < MIN_COMMANDS:
        return None
    return summarize_source(CommandSource(commands), policy_cls, timing, gbuf_entries, obuf_entries)


def summarize_source(source, policy_cls, timing, gbuf_entries: int, obuf_entries: int, check=None):
    """`summarize_periodic` of a `CommandSource` or `TableSource`; check(short commands) validates the short
    stream first (what is removed repeats what is kept). Where the whole state does not repeat soon enough, the
    stream is scheduled on a ring (`pimlab.engine.ring`): bounded memory, time as the full schedule's."""
    found = _summarize_repeats(source, policy_cls, timing, gbuf_entries, obuf_entries, check)
    if found is None:
        found = summarize_ring(source, policy_cls, timing, gbuf_entries, obuf_entries, check)
    return found


def _shorten_and_run(source, plan, run, tries: int, check=None):
    """Up to `tries` rounds: plan() gives the periods to remove of each stretch (None: give up), check validates
    the stream shortened by them, and run(short, removed) gives the answer, or _AGAIN to plan once more (plan
    reads what run learnt). None when the rounds run out."""
    for _ in range(tries):
        removed = plan()
        if removed is None:
            return None
        short = source.shortened(removed)
        if check is not None:
            check(short)
        found, short = run(short, removed), None  # a round's engine and stream go before the next round's
        if found is not _AGAIN:
            return found
    return None


_AGAIN = object()  # run's answer when the plan must change


def _summarize_repeats(source, policy_cls, timing, gbuf_entries: int, obuf_entries: int, check=None):
    """The Summary from whole-state repeats of a shortened stream; None if they do not come within MAX_KEEP."""
    stretches = source.stretches
    first = KEEP_COMMANDS if timing.refresh else KEEP_COMMANDS // 4
    keep = [max(12, -(-first // p)) for _, _, p in stretches]  # periods kept of each stretch
    outside, slack = source.length - sum((b - a) // p * p for a, b, p in stretches), [0]  # not in whole periods

    def plan():
        removed = [max(0, (b - a) // p - k) if k * p <= MAX_KEEP_COMMANDS + slack[0] else 0
                   for (a, b, p), k in zip(stretches, keep)]
        gone = sum(x * p for (_, _, p), x in zip(stretches, removed))
        if gone < source.length // 2 or source.length - gone > MAX_KEEP_COMMANDS + slack[0]:
            return None  # most of the stream would be scheduled anyway, or the short stream is too long
        return removed

    def run(short, removed):
        engine = _run_short(short, stretches, removed, policy_cls, timing, gbuf_entries, obuf_entries)
        first = {}
        for block in engine.replay.whole:
            first.setdefault(block[0], block)
        # rounding to whole steps, and the commands outside the stretches, may pass MAX_KEEP by up to half of it
        slack[0] = min(MAX_KEEP_COMMANDS // 2, outside + max([block[3] for block in first.values()], default=0))
        if _keep_more(keep, stretches, removed, first):
            return _AGAIN
        trace, engine = engine.trace(), None  # the engine's lists go before the totals are added up
        return _extend(trace, first, removed, stretches, source.macs, timing)

    return _shorten_and_run(source, plan, run, _TRIES, check)


def _keep_more(keep: list[int], stretches, removed, first: dict) -> bool:
    """Grow keep[k] where stretch k had no whole-state replay, or where what was removed is not a whole number of
    its steps; True if any changed (run again)."""
    again = False
    for k, ((_, _, p), x) in enumerate(zip(stretches, removed)):
        if x and k not in first:  # no whole-state repeat in what was kept: keep more, up to the most allowed
            grown = keep[k] * 4 if keep[k] * p * 4 <= MAX_KEEP_COMMANDS else max(keep[k] + 1, MAX_KEEP_COMMANDS // p)
            keep[k], again = grown, True
        elif x and x % (first[k][3] // p):  # remove a whole number of steps
            keep[k], again = keep[k] + x % (first[k][3] // p), True
    return again


def _middle(a: int, b: int, p: int, x: int) -> int:
    """Where x periods are removed from the stretch [a, b) of period p: from its middle, on a period boundary."""
    return a + ((b - a) // p - x) // 2 * p


def _pieces(n: int, cuts) -> list[tuple[int, int]]:
    """The (start, end) ranges of [0, n) left after removing the (first index, length) `cuts`."""
    bounds = [0] + [i for m, length in cuts for i in (m, m + length)] + [n]
    return list(zip(bounds[::2], bounds[1::2]))


class CommandSource:
    """A stream given as `Commands`: its periodic stretches, and the stream with whole periods removed."""

    def __init__(self, commands: Commands):
        self.commands, self.sig = commands, signature(commands)
        self.length, self.stretches = len(commands), find_stretches(self.sig)
        self.macs = int(np.count_nonzero(commands.kind == Kind.MAC))

    def shortened(self, removed) -> Commands:
        """The stream without `removed[k]` periods of stretch k, MAC rows renumbered run by run."""
        cuts = [(_middle(a, b, p, x), x * p) for (a, b, p), x in zip(self.stretches, removed) if x]
        pieces = _pieces(self.length, cuts)

        def take(column):
            return np.concatenate([column[lo:hi] for lo, hi in pieces])

        kind = take(self.commands.kind)
        row = np.where(kind == Kind.MAC, np.cumsum(take(self.sig) & 1) - 1, -1)  # bit 0: a MAC on another row
        return Commands(kind, take(self.commands.gbuf), take(self.commands.obuf), row, np.full(len(kind), -1),
                        np.full(len(kind), -1))


class TableSource:
    """One channel's stream given by its instructions (`isa.instruction_table`), never expanded whole: stretches
    are found on the instructions (op, size, entries, a MAC on another row) and mapped to command indices."""

    def __init__(self, table: dict, channel: int):
        self.channel = channel
        self.table = _channel_columns(table, channel, ("op", "ch_mask", "op_size", "gbuf_idx", "row", "out_idx"))
        op, size = self.table["op"], self.table["op_size"]
        is_mac = op == Kind.MAC
        self.change = _row_changes(is_mac, self.table["row"])
        self.found = find_stretches(_instruction_signature(self.table, self.change))  # in instructions
        before = np.zeros(len(op) + 1, dtype=np.int64)  # first command of each instruction
        np.cumsum(size, out=before[1:])
        self.length, self.macs = int(before[-1]), int((size * is_mac).sum(dtype=np.int64))  # sizes < 2**21
        self.stretches = [(int(before[a]), int(before[b]), int(before[a + p] - before[a])) for a, b, p in self.found]

    def shortened(self, removed) -> Commands:
        cuts = [(_middle(a, b, p, x), x * p) for (a, b, p), x in zip(self.found, removed) if x]
        pieces = _pieces(len(self.table["op"]), cuts)
        short = {name: np.concatenate([column[lo:hi] for lo, hi in pieces]) for name, column in self.table.items()}
        short["row"] = np.where(short["op"] == Kind.MAC, np.cumsum(np.concatenate(
            [self.change[lo:hi] for lo, hi in pieces])) - 1, -1)
        short["gpr_addr"] = short["col"] = np.full(len(short["op"]), -1)
        return expand_table(short, self.channel)


def _channel_columns(table: dict, channel: int, names) -> dict:
    """The columns `names` of the rows whose mask names `channel` (the columns themselves when every row's does)."""
    masks = table["ch_mask"]
    if len(masks) and (masks == masks[0]).all():  # one mask (most traces): one pass
        mine = None if masks[0] >> channel & 1 else np.zeros(len(masks), dtype=bool)
    else:
        mine = ((masks >> channel) & 1).astype(bool)  # in the mask's own width
        mine = None if mine.all() else mine
    return {name: table[name] if mine is None else table[name][mine] for name in names}


def table_length(table: dict, channel: int) -> int:
    """Commands of `channel` in an instruction table (what `expand_table` would give), without expanding it."""
    return int(_channel_columns(table, channel, ("op_size",))["op_size"].sum(dtype=np.int64))


def _row_changes(is_mac: np.ndarray, row: np.ndarray) -> np.ndarray:
    """1 (int8) at each MAC on another row than the previous MAC (the first MAC included), else 0."""
    mac = np.flatnonzero(is_mac)
    change = np.zeros(len(is_mac), dtype=np.int8)
    if len(mac):
        rows = row[mac]
        change[mac[0]] = 1
        change[mac[1:]] = rows[1:] != rows[:-1]
    return change


def _instruction_signature(table: dict, change: np.ndarray) -> np.ndarray:
    """One int64 per instruction: kind, entries, size, a MAC on another row (built in place)."""
    sig = table["op"].astype(np.int64)
    for column, scale in ((table["gbuf_idx"], 8192), (table["out_idx"], 8192), (table["op_size"], 1 << 21)):
        sig *= scale
        sig += column
        sig += 1
    sig *= 2
    sig += change
    return sig


def _short_engine(short, stretches, removed, policy_cls, timing, gbuf_entries, obuf_entries):
    """(Engine, its stretches) of the shortened stream: the full stream's stretches, shortened, with look-backs."""
    deps = (dependency_ids(short.gbuf), dependency_ids(short.obuf))
    policy = policy_cls(short, timing, gbuf_entries, obuf_entries, deps)
    shifted, gone = [], 0
    for (a, b, p), x in zip(stretches, removed):
        a, b = a - gone, b - gone - x * p
        gone += x * p
        shifted.append((a, b, p, max(look_back(deps, a, b), look_back(policy.look_back(), a, b), 1)))
    return Engine(short, policy, timing, gbuf_entries, obuf_entries), shifted


def _run_short(short, stretches, removed, policy_cls, timing, gbuf_entries, obuf_entries) -> Engine:
    """The fast path's run of the shortened stream, its stretches given (the full stream's, shortened)."""
    engine, shifted = _short_engine(short, stretches, removed, policy_cls, timing, gbuf_entries, obuf_entries)
    engine.replay = Replay(engine, shifted)
    return engine.run()


def summarize_ring(source, policy_cls, timing, gbuf_entries: int, obuf_entries: int, check=None):
    """The Summary of the full schedule, scheduled on a ring (`pimlab.engine.ring`); None if no stretch is long
    enough, or a ring cannot be used."""
    depths, laps = [0] * len(source.stretches), []

    def plan():
        laps[:] = ring_plan(source.stretches, depths)
        removed = [x for x, _ in laps]
        return removed if any(removed) else None

    def run(short, removed):
        engine, shifted = _short_engine(short, source.stretches, removed, policy_cls, timing, gbuf_entries,
                                        obuf_entries)
        depths[:] = [max(d, depth) for d, (_, _, _, depth) in zip(depths, shifted)]
        if any(x and lap * p <= depth for (_, _, p, depth), (x, lap) in zip(shifted, laps)):
            return _AGAIN  # a dependency reaches back more than a lap: plan longer laps
        return _run_ring(engine, shifted, laps, source, timing)

    return _shorten_and_run(source, plan, run, 2, check)


def _run_ring(engine: Engine, shifted, plan, source, timing):
    """Schedule the short stream on its rings; the full schedule's Summary, or None."""
    rings = [(a + (-(-depth // p) + lap + 2) * p, lap, x // lap) if x else None
             for (a, _, p, depth), (x, lap) in zip(shifted, plan)]
    engine.replay = ring = Ring(engine, shifted, rings, timing)
    try:
        engine.run()
    except RingError:
        return None
    if ring.laps_left():
        return None
    total = total_cycles(*ring.issued(), timing)
    ring.harvest(total)
    if int(ring.parts.sum()) != total:
        return None
    return Summary(total, source.macs * timing.tCCD, source.length + engine.n_inserted,
                   tuple(int(v) for v in ring.parts))


def _extend(trace, first: dict, removed, stretches, macs: int, timing):
    """The full schedule's Summary: the short run's trace (in issue order), with the removed copies added at each
    first replay."""
    shift = np.zeros(len(trace) + 1, dtype=np.int64)  # where the commands issued after a replay start moving
    parts = _cycles(breakdown(trace))
    count = len(trace)
    for k, ((_, _, p), x) in enumerate(zip(stretches, removed)):
        if not x:
            continue
        _, _, t0, step, span, inserted, _ = first[k]
        copies = x * p // step
        shift[np.searchsorted(trace.issue_cycles, t0, side="right")] += copies * span
        parts += copies * _cycles(breakdown(trace, t0, t0 + span))
        count += copies * (step + inserted)
    shift = np.cumsum(shift[:-1])  # cycles each command moves
    total = total_cycles(trace.kind, trace.issue_cycles + shift, trace.done_cycles + shift, timing)
    if int(parts.sum()) != total:  # the end did not move with the copies: not a case this covers
        return None
    return Summary(total, macs * timing.tCCD, count, tuple(int(v) for v in parts))


def _cycles(parts: dict[str, int]) -> np.ndarray:
    """A `breakdown` as an array in BREAKDOWN_KEYS order."""
    return np.array([parts[key] for key in BREAKDOWN_KEYS], dtype=np.int64)
