"""Every fault of `fault_injection.FAULTS`, patched into pimlab, makes the tests named beside it fail."""

import os
import pathlib
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from fault_injection import FAULTS  # noqa: E402


def run_with(fault) -> subprocess.CompletedProcess:
    env = dict(os.environ, PIMLAB_FAULT=fault.name, PYTHONPATH=str(ROOT / "tests"), PYTHONDONTWRITEBYTECODE="1")
    command = [sys.executable, "-m", "pytest", "-p", "fault_injection", "-p", "no:nbval", "-p", "no:cacheprovider",
               "-x", "-q", *fault.tests]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def runs():
    with ThreadPoolExecutor(max_workers=2) as pool:  # two cores: two faulted suites at a time
        return dict(zip([f.name for f in FAULTS], pool.map(run_with, FAULTS)))


@pytest.mark.parametrize("name", [f.name for f in FAULTS])
def test_fault_is_caught(runs, name):
    result = runs[name]
    tail = (result.stdout + result.stderr)[-3000:]
    assert "fault applied 0 times" not in result.stdout, f"{name}: the patch never changed anything\n{tail}"
    assert result.returncode == 1 and " failed" in result.stdout, f"{name}: no test failed\n{tail}"
