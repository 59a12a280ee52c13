"""Fig. 8, latency breakdown vs matrix dimension (command-engine issue): not built yet."""

from __future__ import annotations

FIGURE = "8"
__all__: list[str] = []


def scorecard() -> list:
    """No records until this figure is built."""
    return []
