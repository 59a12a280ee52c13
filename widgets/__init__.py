"""pimlab_widgets: ipywidgets + plotly apps over pimlab's figure data.

The only package of the kit that imports plotly or ipywidgets. Each app module pairs a static figure
builder (a `go.Figure`, with frames where it animates) with a live app (`LiveApp`) over the same data.
"""

import os

from pimlab_widgets.app import ControlledApp, LiveApp, apply_figure, assign_controls
from pimlab_widgets.controls import dataset_picker, model_picker, system_picker
from pimlab_widgets.errors import ErrorBanner

__all__ = ["ControlledApp", "LiveApp", "apply_figure", "assign_controls", "ErrorBanner", "dataset_picker",
           "model_picker", "system_picker"]

if os.environ.get("PIMLAB_STATIC_APPS"):  # the static site's notebook run: apps display as their static figures
    from pimlab_widgets.static import show_apps_static

    show_apps_static()
