"""Fig. 6, HFP vs TCP channel activation (partitioning issue): not built yet."""

from __future__ import annotations

FIGURE = "6"
__all__: list[str] = []


def scorecard() -> list:
    """No records until this figure is built."""
    return []
