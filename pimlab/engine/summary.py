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
from pimlab.isa import Commands, Kind
from pimlab.trace import BREAKDOWN_KEYS, Summary, breakdown

__all__ = ["summarize_periodic", "MIN_COMMANDS", "KEEP_COMMANDS", "MAX_KEEP_COMMANDS"]

MIN_COMMANDS = 1 << 15  # shorter streams are scheduled in full
KEEP_COMMANDS = 1 << 14  # each stretch keeps at least this many commands (and 12 periods) at first
MAX_KEEP_COMMANDS = 1 << 17  # a stretch whose whole state does not repeat within this many is kept whole
_TRIES = 6


def summarize_periodic(commands: Commands, policy_cls, timing, gbuf_entries: int, obuf_entries: int):
    """The `Summary` of the full schedule from a shortened stream; None when nothing worth removing repeats."""
    if len(commands) < MIN_COMMANDS:
        return None
    sig = signature(commands)
    stretches = find_stretches(sig)
    keep = [max(12, -(-KEEP_COMMANDS // p)) for _, _, p in stretches]  # periods kept of each stretch
    for _ in range(_TRIES):
        removed = [max(0, (b - a) // p - k) if k * p <= MAX_KEEP_COMMANDS else 0
                   for (a, b, p), k in zip(stretches, keep)]
        if sum(x * p for (_, _, p), x in zip(stretches, removed)) < len(commands) // 2:
            return None  # most of the stream would be scheduled anyway
        engine = _run_short(commands, sig, stretches, removed, policy_cls, timing, gbuf_entries, obuf_entries)
        first = {}
        for block in engine.replay.whole:
            first.setdefault(block[0], block)
        retry = False
        for k, ((_, _, p), x) in enumerate(zip(stretches, removed)):
            if x and k not in first:  # no whole-state repeat in what was kept: keep more
                keep[k], retry = keep[k] * 4, True
            elif x and x % (first[k][3] // p):  # remove a whole number of steps
                keep[k], retry = keep[k] + x % (first[k][3] // p), True
        if not retry:
            return _extend(engine, first, removed, stretches, commands, timing)
    return None


def _cuts(stretches, removed) -> list[tuple[int, int]]:
    """(first index, length) of each removed run of commands: whole periods from the middle of a stretch."""
    return [(a + ((b - a) // p - x) // 2 * p, x * p) for (a, b, p), x in zip(stretches, removed) if x]


def _shortened(commands: Commands, sig: np.ndarray, cuts) -> Commands:
    """The stream without the `cuts`, MAC rows renumbered run by run (a new number where the row changes)."""
    bounds = [0] + [i for m, length in cuts for i in (m, m + length)] + [len(commands)]
    pieces = list(zip(bounds[::2], bounds[1::2]))

    def take(column):
        return np.concatenate([column[lo:hi] for lo, hi in pieces])

    kind = take(commands.kind)
    is_mac = kind == Kind.MAC
    row = np.where(is_mac, np.cumsum(take(sig) & 1) - 1, -1)  # signature bit 0: a MAC on another row
    return Commands(kind, take(commands.gbuf), take(commands.obuf), row, np.full(len(kind), -1),
                    np.full(len(kind), -1))


def _run_short(commands, sig, stretches, removed, policy_cls, timing, gbuf_entries, obuf_entries) -> Engine:
    """The fast path's run of the shortened stream, its stretches given (the full stream's, shortened)."""
    short = _shortened(commands, sig, _cuts(stretches, removed))
    deps = (dependency_ids(short.gbuf), dependency_ids(short.obuf))
    policy = policy_cls(short, timing, gbuf_entries, obuf_entries, deps)
    shifted, gone = [], 0
    for (a, b, p), x in zip(stretches, removed):
        a, b = a - gone, b - gone - x * p
        gone += x * p
        shifted.append((a, b, p, max(look_back(deps, a, b), look_back(policy.look_back(), a, b), 1)))
    engine = Engine(short, policy, timing, gbuf_entries, obuf_entries)
    engine.replay = Replay(engine, shifted)
    return engine.run()


def _extend(engine: Engine, first: dict, removed, stretches, commands: Commands, timing):
    """The full schedule's Summary: the short run's, with the removed copies added at each first replay."""
    trace = engine.trace()
    issue, done = trace.issue_cycles.copy(), trace.done_cycles.copy()
    parts = np.array([breakdown(trace)[key] for key in BREAKDOWN_KEYS], dtype=np.int64)
    count = len(trace)
    for k, ((_, _, p), x) in enumerate(zip(stretches, removed)):
        if not x:
            continue
        _, _, t0, step, span, inserted, _ = first[k]
        copies = x * p // step
        later = trace.issue_cycles > t0
        issue[later] += copies * span
        done[later] += copies * span
        window = breakdown(trace, t0, t0 + span)
        parts += copies * np.array([window[key] for key in BREAKDOWN_KEYS], dtype=np.int64)
        count += copies * (step + inserted)
    total = total_cycles(trace.kind, issue, done, timing)
    if int(parts.sum()) != total:  # the end did not move with the copies: not a case this covers
        return None
    mac = int(np.count_nonzero(commands.kind == Kind.MAC)) * timing.tCCD
    return Summary(total, mac, count, tuple(int(v) for v in parts))
