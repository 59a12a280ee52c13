"""Schedule one channel's PIM commands under a policy: the entry point of the command engine (`pimlab.engine`).

`schedule(commands, policy, timing, gbuf_entries, obuf_entries)` returns the cycle-exact `Trace`. Policies are
classes (`pimlab.engine.policies`: `Static`, `PingPong`, `DCS`, or your own `Policy` subclass); the timing is an
`EngineTiming` or a preset name. Long periodic streams take the exact fast path (`pimlab.engine.periodic`).
`summarize(...)` gives the same schedule's totals (`Summary`: total and MAC cycles, commands issued, breakdown)
without materialising its timeline, in bounded time and memory on long periodic streams (`pimlab.engine.summary`);
`summarize_table` does it from an instruction table without expanding the stream.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

import numpy as np

from pimlab.engine import periodic
from pimlab.engine.core import Engine
from pimlab.engine.periodic import find_period
from pimlab.engine.policies import DCS, POLICIES, PingPong, Policy, Static, dependency_ids, policy_class
from pimlab.engine.summary import MIN_COMMANDS, TableSource, summarize_periodic, summarize_source, table_length
from pimlab.engine.timing import AIM_ENGINE, EngineTiming, engine_preset
from pimlab.isa import Commands, Kind, expand_table
from pimlab.trace import Summary, Trace
from pimlab.validate import check_int

__all__ = ["POLICIES", "Policy", "Static", "PingPong", "DCS", "schedule", "summarize", "summarize_table",
           "dependency_ids", "find_period"]


def _validate_timing(timing) -> EngineTiming:
    if isinstance(timing, str):
        timing = engine_preset(timing)[1]
    if not isinstance(timing, EngineTiming):
        raise ValueError(f"timing must be an EngineTiming or a preset name, got {type(timing).__name__}")
    return timing


# by kind code: the kinds that read or write a GBuf / an output entry
_USES_GBUF = np.isin(np.arange(len(Kind)), [int(Kind.WR_INP), int(Kind.MAC)])
_USES_OBUF = np.isin(np.arange(len(Kind)), [int(Kind.MAC), int(Kind.RD_OUT), int(Kind.WR_BIAS)])


def _validate_entries(commands: Commands, gbuf_entries: int, obuf_entries: int) -> None:
    check_int("gbuf_entries", gbuf_entries, 1, 4096)
    check_int("obuf_entries", obuf_entries, 1, 4096)
    kind = commands.kind
    for name, column, limit, users in (("gbuf", commands.gbuf, gbuf_entries, _USES_GBUF),
                                       ("obuf", commands.obuf, obuf_entries, _USES_OBUF)):
        bad = users[kind] & ((column < 0) | (column >= limit))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name} entry of command {i} ({Kind(kind[i]).name}) must be in [0, {limit - 1}] "
                             f"({name}_entries = {limit}), got {int(column[i])}")


def _validate(commands, policy, timing, gbuf_entries, obuf_entries) -> tuple[type, EngineTiming]:
    cls = policy_class(policy)
    timing = _validate_timing(timing)
    _validate_stream(commands, timing, gbuf_entries, obuf_entries)
    return cls, timing


def _validate_stream(commands, timing, gbuf_entries, obuf_entries) -> None:
    if not isinstance(commands, Commands):
        raise ValueError(f"commands must be pimlab.isa.Commands, got {type(commands).__name__}")
    if len(commands) == 0:
        raise ValueError("commands must hold at least one command, got an empty stream")
    _validate_entries(commands, gbuf_entries, obuf_entries)
    bad = (commands.kind == Kind.MAC) & (commands.row < 0)
    if timing.rows and bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"row of MAC command {i} must be >= 0, got {int(commands.row[i])}")


def schedule(commands: Commands, policy: str | type = "static", timing: EngineTiming | str = AIM_ENGINE,
             gbuf_entries: int = 64, obuf_entries: int = 1, fast: bool = True) -> Trace:
    """Schedule one channel's commands under `policy` (a name in POLICIES or a Policy subclass); the `Trace`.

    With fast=True a long periodic stream is simulated exactly through its steady state (`pimlab.engine.periodic`)
    and the built-in policies take their specialised loops (`pimlab.engine.fast`); fast=False always runs the
    plain reference loop (`Engine.run_plain`).
    """
    cls, timing = _validate(commands, policy, timing, gbuf_entries, obuf_entries)
    return _schedule(commands, cls, timing, gbuf_entries, obuf_entries, fast)


def _schedule(commands: Commands, cls: type, timing: EngineTiming, gbuf_entries: int, obuf_entries: int,
              fast: bool) -> Trace:
    """`schedule` of validated arguments."""
    with _cycle_collector_paused():
        trace = periodic.schedule_periodic(commands, cls, timing, gbuf_entries, obuf_entries) if fast else None
        if trace is None:
            engine = Engine(commands, cls(commands, timing, gbuf_entries, obuf_entries), timing, gbuf_entries,
                            obuf_entries)
            trace = (engine.run() if fast else engine.run_plain()).trace()
    return trace


def summarize(commands: Commands, policy: str | type = "static", timing: EngineTiming | str = AIM_ENGINE,
              gbuf_entries: int = 64, obuf_entries: int = 1, fast: bool = True) -> Summary:
    """The totals of `schedule(...)` (total and MAC cycles, commands issued, breakdown) without its timeline.

    With fast=True a long periodic stream is scheduled shortened by whole repeats, which are added back exactly
    (`pimlab.engine.summary`): time and memory stay bounded whatever its length.
    """
    cls, timing = _validate(commands, policy, timing, gbuf_entries, obuf_entries)
    if fast:
        with _cycle_collector_paused():
            found = summarize_periodic(commands, cls, timing, gbuf_entries, obuf_entries)
        if found is not None:
            return found
    return _schedule(commands, cls, timing, gbuf_entries, obuf_entries, fast).summary()


def summarize_table(table: dict, channel: int, policy: str | type = "static", timing: EngineTiming | str = AIM_ENGINE,
                    gbuf_entries: int = 64, obuf_entries: int = 1, fast: bool = True) -> Summary:
    """`summarize` of `isa.expand_table(table, channel)`; a long periodic stream is never expanded whole (its
    repeats are found on the instructions), so memory stays near the table's."""
    source = TableSource(table, channel) if fast and table_length(table, channel) >= MIN_COMMANDS else None
    if source is not None:
        cls, timing = policy_class(policy), _validate_timing(timing)

        def check(short):
            _validate_stream(short, timing, gbuf_entries, obuf_entries)

        with _cycle_collector_paused():
            found = summarize_source(source, cls, timing, gbuf_entries, obuf_entries, check)
        if found is not None:
            return found
    return summarize(expand_table(table, channel), policy, timing, gbuf_entries, obuf_entries, fast)


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
