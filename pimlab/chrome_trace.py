"""A schedule as a Chrome / Perfetto trace (the Trace Event Format), to open in ui.perfetto.dev or chrome://tracing.

One process per channel (channels with identical streams share one), one track per queue; commands the
controller inserted (ACT, PRE, REF, mode switches) get their own track. A command is one complete event
("ph": "X") from issue to completion, named by its kind, with its buffer entries and the rule that bound its
issue cycle in `args`. Commands of one queue overlap in time (a queue issues every tCCD, a command takes longer),
and a track's slices must nest, so a queue spreads over as many lanes (threads) as it has commands in flight at
once. Timestamps are microseconds, as the format requires: cycles x tCK.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import numpy as np

from pimlab.hardware import AIM
from pimlab.isa import KIND_NAMES, QUEUE_NAMES
from pimlab.trace import BOUND_NAMES, Trace

__all__ = ["chrome_trace", "write_chrome_trace"]

INSERTED_TRACK = "inserted by the controller (ACT / PRE / REF / mode switch)"
_LANES_PER_TRACK = 1000  # tid = track * 1000 + lane


def _columns(trace: Trace) -> dict[str, np.ndarray]:
    """The only place that reads a Trace: its public columns, by the names this module uses."""
    return {"id": trace.id, "kind": trace.kind, "queue": trace.queue, "gbuf": trace.gbuf, "obuf": trace.obuf,
            "row": trace.row, "issue_cycles": trace.issue_cycles, "done_cycles": trace.done_cycles,
            "depends_on": trace.depends_on, "bound_by": trace.bound_by,
            "inserted": trace.id >= trace.commands}


def _lanes(issue: np.ndarray, done: np.ndarray) -> np.ndarray:
    """Lane of each command so that commands in one lane never overlap (first lane free at its issue)."""
    ends: list[int] = []
    lane = np.empty(len(issue), dtype=np.int64)
    for i, (start, end) in enumerate(zip(issue.tolist(), done.tolist())):
        for j, busy_until in enumerate(ends):
            if busy_until <= start:
                ends[j] = end
                lane[i] = j
                break
        else:
            lane[i] = len(ends)
            ends.append(end)
    return lane


def _events(trace: Trace, pid: int, label: str, tck_ns: float) -> list[str]:
    c = _columns(trace)
    track = np.where(c["inserted"], len(QUEUE_NAMES), c["queue"])
    tid = np.empty(len(track), dtype=np.int64)
    names = [*QUEUE_NAMES, INSERTED_TRACK]
    out = [json.dumps({"name": "process_name", "ph": "M", "pid": pid, "tid": 0, "args": {"name": label}})]
    for t in np.unique(track).tolist():
        rows = np.flatnonzero(track == t)
        order = rows[np.argsort(c["issue_cycles"][rows], kind="stable")]
        lane = _lanes(c["issue_cycles"][order], c["done_cycles"][order])
        if lane.max() >= _LANES_PER_TRACK:
            raise ValueError(f"a queue has more than {_LANES_PER_TRACK} commands in flight at once")
        tid[order] = t * _LANES_PER_TRACK + lane
        for k in range(int(lane.max()) + 1):
            name = names[t] if k == 0 else f"{names[t]} · lane {k + 1}"
            out.append(json.dumps({"name": "thread_name", "ph": "M", "pid": pid, "tid": t * _LANES_PER_TRACK + k,
                                   "args": {"name": name}}))
            out.append(json.dumps({"name": "thread_sort_index", "ph": "M", "pid": pid,
                                   "tid": t * _LANES_PER_TRACK + k, "args": {"sort_index": t * _LANES_PER_TRACK + k}}))
    us = tck_ns / 1000.0
    template = ('{"name":"%s","cat":"%s","ph":"X","ts":%.4f,"dur":%.4f,"pid":%d,"tid":%d,'
                '"args":{"id":%d,"gbuf":%d,"obuf":%d,"row":%d,"bound by":"%s","depends on":%d,'
                '"issue cycle":%d,"done cycle":%d}}')
    kinds, bounds = list(KIND_NAMES), list(BOUND_NAMES)
    cats = ["command", "inserted"]
    for values in zip(c["kind"].tolist(), c["inserted"].tolist(), c["issue_cycles"].tolist(),
                      c["done_cycles"].tolist(), tid.tolist(), c["id"].tolist(), c["gbuf"].tolist(),
                      c["obuf"].tolist(), c["row"].tolist(), c["bound_by"].tolist(), c["depends_on"].tolist()):
        kind, inserted, issue, done, t, ident, gbuf, obuf, row, bound, dep = values
        out.append(template % (kinds[kind], cats[inserted], issue * us, (done - issue) * us, pid, t, ident, gbuf,
                               obuf, row, bounds[bound], dep, issue, done))
    return out


def _span(channels: list[int]) -> str:
    """Channel numbers in words: "channel 3", "channels 0-31", "channels 0, 2, 5"."""
    if len(channels) == 1:
        return f"channel {channels[0]}"
    if channels == list(range(channels[0], channels[-1] + 1)):
        return f"channels {channels[0]}-{channels[-1]}"
    return "channels " + ", ".join(map(str, channels))


def chrome_trace(traces: Trace | Mapping[int, Trace], tck_ns: float | None = None) -> str:
    """The Trace Event Format JSON of one trace, or of {channel: trace}: one process per channel, and one for
    all channels that share one Trace object (identical streams), named by its channels.

    tck_ns converts cycles to time (default: the AiM module's tCK).
    """
    tck_ns = AIM.timing.tck_ns if tck_ns is None else tck_ns
    if isinstance(traces, Trace):
        traces = {0: traces}
    if not traces:
        raise ValueError("traces must hold at least one channel's trace, got none")
    if isinstance(tck_ns, bool) or not isinstance(tck_ns, (int, float)) or not tck_ns > 0:
        raise ValueError(f"tck_ns must be a positive number of nanoseconds, got {tck_ns!r}")
    shared: dict[int, tuple[Trace, list[int]]] = {}
    for channel, trace in traces.items():
        if not isinstance(trace, Trace):
            raise ValueError(f"traces must map channels to Trace objects, got {type(trace).__name__} for {channel!r}")
        shared.setdefault(id(trace), (trace, []))[1].append(int(channel))
    events: list[str] = []
    for trace, channels in shared.values():
        label = f"{_span(channels)} ({trace.policy}, {trace.total_cycles} cycles)"
        events.extend(_events(trace, channels[0], label, tck_ns))
    meta = json.dumps({"tck_ns": tck_ns, "source": "pimlab"})
    return '{"displayTimeUnit":"ns","otherData":' + meta + ',"traceEvents":[\n' + ",\n".join(events) + "\n]}\n"


def write_chrome_trace(traces: Trace | Mapping[int, Trace], path, tck_ns: float | None = None) -> None:
    """Write `chrome_trace(traces)` to `path`."""
    with open(path, "w") as out:
        out.write(chrome_trace(traces, tck_ns))
