"""One module per figure of the paper: a function returning plain data, and the figure's scorecard.

Notebooks, the CLI and the tests all read figures through here. Each module names its `FIGURE` id and
has `scorecard()`, which returns `pimlab.reproduce.Record`s comparing pimlab with `pimlab.paper`.
"""

from __future__ import annotations

from pimlab.figures import fig02, fig06, fig07, fig08, fig09, fig10, fig18, fig19, table04
from pimlab.figures.fig02 import *  # noqa: F403
from pimlab.figures.fig06 import *  # noqa: F403
from pimlab.figures.fig07 import *  # noqa: F403
from pimlab.figures.fig08 import *  # noqa: F403
from pimlab.figures.fig09 import *  # noqa: F403
from pimlab.figures.fig10 import *  # noqa: F403
from pimlab.figures.fig18 import *  # noqa: F403
from pimlab.figures.fig19 import *  # noqa: F403
from pimlab.figures.table04 import *  # noqa: F403
from pimlab.reproduce import Record

MODULES = (table04, fig02, fig06, fig07, fig08, fig09, fig10, fig18, fig19)


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
