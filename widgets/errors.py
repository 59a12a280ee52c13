"""An error banner: shows a ValueError's message in the UI instead of a traceback."""

from __future__ import annotations

import html
from contextlib import contextmanager

import ipywidgets as widgets


class ErrorBanner:
    """A hidden HTML line that appears with the message of the last rejected input.

    `labels` maps a parameter's Python name to the control's name as the student sees it: a model message
    that starts with the parameter ("t_mac must be ...") is shown with the control's name ("t_MAC must be ...").
    """

    def __init__(self, labels: dict[str, str] | None = None):
        self.widget = widgets.HTML(value="", layout=widgets.Layout(display="none"))
        self.widget.add_class("pimlab-banner")  # for the browser checks
        self.message = ""
        self.labels = labels or {}

    def show(self, message: str) -> None:
        name, sep, rest = message.partition(" ")
        if sep and name in self.labels and not message.startswith(self.labels[name] + " "):
            message = f"{self.labels[name]} {rest}"
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
