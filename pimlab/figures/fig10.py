"""Fig. 10/11, DPA instruction size and dispatcher (DPA issue): not built yet."""

from __future__ import annotations

FIGURE = "10"
__all__: list[str] = []


def scorecard() -> list:
    """No records until this figure is built."""
    return []
