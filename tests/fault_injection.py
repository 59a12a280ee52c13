"""Fault injection: known faults patched into pimlab through public entry points; the suite must catch each.

A pytest plugin. `PIMLAB_FAULT=<name> python -m pytest -p fault_injection <files>` (tests/ on the path)
wraps one public function or method before the tests are collected; `tests/test_fault_injection.py` runs
every fault of FAULTS on the test files listed beside it and expects them to fail. To add a fault, append
a `Fault`: a name, a function that installs the patch, and the test files that must catch it.

Patches replace the function in its module and in every pimlab module that imported it by name, so they
reach every caller; they wrap results (never a private loop variable), so they survive engine redesigns.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass

import numpy as np

CALLS = {"count": 0}  # how often the fault changed something; reported at the end of the run


@dataclass(frozen=True)
class Fault:
    name: str
    install: object  # () -> None: applies the patch
    tests: tuple  # test files of which at least one test must fail


def _rebind(module, name: str, wrapper) -> None:
    """Replace `module.name` by `wrapper` there and wherever pimlab imported the same object."""
    original = getattr(module, name)
    for other in list(sys.modules.values()):
        if getattr(other, "__name__", "").startswith("pimlab") and getattr(other, name, None) is original:
            setattr(other, name, wrapper)


def _hit(value):
    CALLS["count"] += 1
    return value


# --- the faults ---------------------------------------------------------------------------------------------
def swap_breakdown_categories() -> None:
    """Two categories of the latency breakdown swapped (the first two whose cycles differ)."""
    from pimlab import trace

    def swapped(parts: dict) -> dict:
        parts, keys = dict(parts), list(parts)
        for a in keys:
            for b in keys:
                if parts[a] != parts[b]:
                    parts[a], parts[b] = parts[b], parts[a]
                    return _hit(parts)
        return parts

    if callable(getattr(trace, "breakdown", None)):  # a module-level function (engine redesign)
        original = trace.breakdown
        _rebind(trace, "breakdown", lambda *a, **k: swapped(original(*a, **k)))
    if hasattr(getattr(trace, "Trace", None), "breakdown"):  # a Trace method
        method = trace.Trace.breakdown
        trace.Trace.breakdown = lambda self, *a, **k: swapped(method(self, *a, **k))


def _done_field(trace) -> str:
    names = [f.name for f in dataclasses.fields(trace)]
    return next(n for n in ("done_cycles", "done", "complete", "end", "done_cycle") if n in names)


def mac_one_cycle_late() -> None:
    """One MAC of every scheduled trace completes one cycle later than the engine said."""
    from pimlab import isa, schedule

    original = schedule.schedule

    def late(*args, **kwargs):
        trace = original(*args, **kwargs)
        field = _done_field(trace)
        done = np.array(getattr(trace, field))
        macs = np.flatnonzero(np.asarray(trace.kind) == int(isa.Kind.MAC))
        if not macs.size:
            return trace
        # prefer a MAC some later command waits for, so the late completion matters to someone
        waited = np.isin(np.asarray(trace.id)[macs], np.asarray(getattr(trace, "depends_on", [])))
        mac = macs[waited][0] if waited.any() else macs[-1]
        done[mac] += 1
        return _hit(dataclasses.replace(trace, **{field: done}))

    _rebind(schedule, "schedule", late)


def drop_one_dependency() -> None:
    """The D-Table forgets one dependency: the first command that depends on an earlier one."""
    from pimlab import schedule

    original = schedule.dependency_ids

    def dropped(*args, **kwargs):
        ids = np.array(original(*args, **kwargs))
        has = np.flatnonzero(ids >= 0)
        if has.size:
            ids[has[0]] = -1
            _hit(None)
        return ids

    _rebind(schedule, "dependency_ids", dropped)


def map_one_chunk_twice() -> None:
    """When a request grows by two or more chunks, its last new virtual chunk reuses its first new one's PA."""
    from pimlab.dpa import LazyChunkAllocator

    original = LazyChunkAllocator.grow

    def grow(self, request, tokens, pa=None):
        new = original(self, request, tokens, pa)
        if new.size >= 2:
            table = self._va2pa[request]
            table[np.flatnonzero(table == new[-1])] = new[0]
            new = new.copy()
            new[-1] = new[0]
            _hit(None)
        return new

    LazyChunkAllocator.grow = grow


def skip_hub_reduction() -> None:
    """TCP's SV partial sums are never reduced: the mapping's timeline has no HUB work."""
    from pimlab import mapping

    original = mapping.map_batch

    def skipped(*args, **kwargs):
        result = original(*args, **kwargs)
        t = result.timeline
        if not len(t.hub_start):
            return result
        empty = np.zeros(0, np.int64)
        hub = {name: empty for name in ("hub_module", "hub_start", "hub_stop", "hub_request", "hub_layer",
                                        "hub_head")}
        timeline = dataclasses.replace(t, **hub, exposed_reduction_cycles=0)
        return _hit(dataclasses.replace(result, timeline=timeline))

    _rebind(mapping, "map_batch", skipped)


def leave_out_one_row() -> None:
    """The geometry forgets one row of every K or V piece that needs any."""
    from pimlab import geometry

    original = geometry.rows_needed

    def fewer(*args, **kwargs):
        rows = original(*args, **kwargs)
        if np.any(np.asarray(rows) > 0):
            _hit(None)
        out = np.maximum(np.asarray(rows) - 1, 0)
        return int(out) if out.ndim == 0 else out

    _rebind(geometry, "rows_needed", fewer)


ENGINE_TESTS = ("tests/test_trace.py", "tests/test_schedule.py")
FAULTS = (
    Fault("breakdown categories swapped", swap_breakdown_categories, ENGINE_TESTS),
    Fault("a MAC ending one cycle late", mac_one_cycle_late, ENGINE_TESTS),
    Fault("one D-Table dependency dropped", drop_one_dependency, ENGINE_TESTS[::-1]),
    Fault("one chunk mapped twice", map_one_chunk_twice, ("tests/test_dpa.py",)),
    Fault("the HUB reduction skipped", skip_hub_reduction, ("tests/test_mapping.py",)),
    Fault("one row of a KV stream left out of the geometry", leave_out_one_row, ("tests/test_geometry.py",)),
)


# --- pytest hooks -------------------------------------------------------------------------------------------
def pytest_configure(config):
    name = os.environ.get("PIMLAB_FAULT")
    if not name:
        return
    from hypothesis import Phase, settings

    # report the first failing example without shrinking it: the check only needs to see a failure, fast
    settings.register_profile("faults", phases=(Phase.explicit, Phase.generate), derandomize=True, database=None)
    settings.load_profile("faults")
    import pimlab.figures  # noqa: F401 - load every pimlab module, so that every imported name is rebound

    chosen = [f for f in FAULTS if f.name == name]
    if not chosen:
        raise ValueError(f"PIMLAB_FAULT must name one of the faults {[f.name for f in FAULTS]}, got {name!r}")
    chosen[0].install()


def pytest_unconfigure(config):
    if os.environ.get("PIMLAB_FAULT"):
        print(f"\nfault applied {CALLS['count']} times")
