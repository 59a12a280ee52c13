"""One module per figure of the paper: a function returning plain data, and the figure's scorecard.

Notebooks, the CLI and the tests all read figures through here. Each module names its `FIGURE` id,
exports its public names in `__all__`, and has `scorecard()`, which returns `pimlab.reproduce.Record`s
comparing pimlab with `pimlab.paper`. The package re-exports every public name (`pimlab.figures.fig2`)
except one that equals its module's name: `pimlab.figures.fig19` stays the module, so its function is
`from pimlab.figures.fig19 import fig19`.
"""

from __future__ import annotations

import importlib

from pimlab.reproduce import Record

_MODULE_NAMES = ("table04", "fig02", "fig04", "fig06", "fig07", "fig08", "fig09", "fig10", "fig18", "fig19",
                 "fig13", "fig14", "fig15", "fig16", "fig17", "fig20",
                 "systems_compare")
MODULES = tuple(importlib.import_module(f"{__name__}.{name}") for name in _MODULE_NAMES)
for _module in MODULES:
    globals().update({name: getattr(_module, name) for name in _module.__all__ if name not in _MODULE_NAMES})


def figure_ids() -> list[str]:
    """The ids `reproduce --figures` accepts, in scorecard order."""
    return [module.FIGURE for module in MODULES]


def scorecard(ids: list[str] | None = None) -> list[Record]:
    """Records of the figures named by `ids` (all figures when None)."""
    if ids is not None:
        unknown = sorted(set(ids) - set(figure_ids()))
        if unknown:
            raise ValueError(f"figures must be among {', '.join(figure_ids())}; got {', '.join(unknown)}")
    return [record for module in MODULES if ids is None or module.FIGURE in ids for record in module.scorecard()]
