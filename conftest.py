"""For the notebook run (pytest --nbval-lax notebooks): a cell that writes to stderr (a warning, a logged
error such as a widget message that is not valid JSON) fails like a cell that raises."""

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    outputs = getattr(item, "test_outputs", None) or []  # what nbval collected from the cell
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    if call.when == "call" and report.passed and stderr:
        report.outcome = "failed"
        report.longrepr = f"cell wrote to stderr:\n{stderr[:3000]}"
