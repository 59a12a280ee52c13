"""Progress reports and cooperative cancellation for long model computations.

A long computation calls `report(done, total)` at its chunk boundaries (a figure: between bars). Outside
`reporting(...)` that costs one context-variable look-up and does nothing; inside it, the callback sees the
progress and may raise `Cancelled` to stop the computation at that boundary (an app's Cancel button or a newer
control change does so). Cancellation is cooperative: a chunk that has started runs to its end, except where it
calls `tick()` (a long chunk does so well within a second): that repeats the last report, so a cancel stops it there.
The hook is a context variable, so a computation in a worker thread reports only to the callback set there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["Cancelled", "reporting", "report", "tick"]

_HOOK: ContextVar[Callable[[int, int], None] | None] = ContextVar("pimlab_progress", default=None)
_LAST: ContextVar[list[int] | None] = ContextVar("pimlab_progress_last", default=None)  # [done, total] reported


class Cancelled(Exception):
    """Raised at a chunk boundary of a computation whose caller no longer wants its result."""


@contextmanager
def reporting(callback: Callable[[int, int], None]) -> Iterator[None]:
    """Within the block, `report(done, total)` calls `callback(done, total)` (which may raise `Cancelled`)."""
    token, last = _HOOK.set(callback), _LAST.set([0, 1])
    try:
        yield
    finally:
        _HOOK.reset(token)
        _LAST.reset(last)


def report(done: int, total: int) -> None:
    """A chunk boundary: `done` of `total` chunks are finished (raises `Cancelled` if the caller asks)."""
    callback = _HOOK.get()
    if callback is not None:
        _LAST.get()[:] = done, total
        callback(done, total)


def tick() -> None:
    """Inside a long chunk: report the last progress again (so that the caller may cancel here)."""
    callback = _HOOK.get()
    if callback is not None:
        callback(*_LAST.get())
