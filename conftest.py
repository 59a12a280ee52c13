"""For the notebook run (pytest --nbval-lax notebooks).

- A cell that writes to stderr (a warning, a logged error such as a widget message that is not valid JSON) fails
  like a cell that raises.
- With PIMLAB_EXECUTED=DIR, every notebook is also written to DIR with the outputs nbval collected, so the static
  site is built from this one run (`scripts/site --executed DIR`) instead of executing every notebook again.
"""

import os
from pathlib import Path

import pytest

_RUN = {}  # notebook file item -> the next execution count


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    outputs = getattr(item, "test_outputs", None) or []  # what nbval collected from the cell
    if call.when == "call" and hasattr(item, "cell") and os.environ.get("PIMLAB_EXECUTED"):
        count = _RUN.setdefault(item.parent, 1)
        item.cell.outputs, item.cell.execution_count = list(outputs), count
        for output in item.cell.outputs:
            if output.get("output_type") == "execute_result":
                output["execution_count"] = count
        _RUN[item.parent] = count + 1
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    if call.when == "call" and report.passed and stderr:
        report.outcome = "failed"
        report.longrepr = f"cell wrote to stderr:\n{stderr[:3000]}"


def pytest_sessionfinish(session):
    folder = os.environ.get("PIMLAB_EXECUTED")
    if not folder or not _RUN:
        return
    import nbformat

    Path(folder).mkdir(parents=True, exist_ok=True)
    for notebook in _RUN:
        notebook.nb.metadata.pop("widgets", None)
        nbformat.write(notebook.nb, Path(folder) / Path(str(notebook.fspath)).name)
