"""Fig. 18, ping-pong vs DCS (command-engine issue): not built yet."""

from __future__ import annotations

FIGURE = "18"
__all__: list[str] = []


def scorecard() -> list:
    """No records until this figure is built."""
    return []
