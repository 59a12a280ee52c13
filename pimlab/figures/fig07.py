"""Fig. 7, static vs DCS command pipeline (command-engine issue): not built yet."""

from __future__ import annotations

FIGURE = "7"
__all__: list[str] = []


def scorecard() -> list:
    """No records until this figure is built."""
    return []
