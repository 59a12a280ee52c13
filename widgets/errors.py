"""An error banner: shows a ValueError's message in the UI instead of a traceback."""

from __future__ import annotations

import html
from contextlib import contextmanager

import ipywidgets as widgets


class ErrorBanner:
    """A hidden HTML line that appears with the message of the last rejected input."""

    def __init__(self):
        self.widget = widgets.HTML(value="", layout=widgets.Layout(display="none"))
        self.message = ""

    def show(self, message: str) -> None:
        self.message = message
        self.widget.value = (
            '<div style="background:#fdecea;color:#8a1c1c;border-left:4px solid #d93025;padding:4px 8px">'
            f"&#9888; {html.escape(message)}</div>"
        )
        self.widget.layout.display = None

    def clear(self) -> None:
        self.message = ""
        self.widget.value = ""
        self.widget.layout.display = "none"

    @contextmanager
    def guard(self):
        """Run a block; a ValueError it raises is shown here, anything else propagates."""
        try:
            yield
        except ValueError as error:
            self.show(str(error))
        else:
            self.clear()
