"""Fig. 19, capacity utilization static vs DPA (DPA issue): not built yet."""

from __future__ import annotations

FIGURE = "19"
__all__: list[str] = []


def scorecard() -> list:
    """No records until this figure is built."""
    return []
