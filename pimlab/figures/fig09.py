"""Fig. 9, GQA row-reuse mapping (command-engine issue): not built yet."""

from __future__ import annotations

FIGURE = "9"
__all__: list[str] = []


def scorecard() -> list:
    """No records until this figure is built."""
    return []
