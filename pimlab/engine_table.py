"""Engine results of the system model's tile programs, precomputed for the configurations the apps offer.

The system model (`pimlab.system`) times each tile program (one GEMV, one KV head's attention at a grid point)
on one channel with the command engine and keeps five totals. A cold switch of model, system kind or technique
needs dozens of such runs (up to about 1.5 s). `scripts/build_engine_table` runs, ahead of time, every program
the kit's apps and figures need at their defaults and at every choice their controls offer (one control at a
time), and stores the totals in `pimlab/data/engine_table.json`, keyed by the program's arguments. `answer`
returns a stored result, or runs the program when it is not stored: a number from the table is the same
number the engine computes (the table's check, `scripts/build_engine_table --check`, runs every entry again).

The table also stores a fingerprint of the source files its results depend on (the engine, the scheduler, the
ISA, the hardware presets, the system model that builds the programs, this module). When any of them changes,
the table is not used until it is rebuilt (`tests/test_engine_table.py` fails until then), so it can never
answer for an engine it did not come from. `PIMLAB_ENGINE_TABLE=0` in the environment switches the table off
(every program runs), as does `use_table(False)` in a block.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

__all__ = ["COUNTS", "PATH", "SOURCES", "answer", "fingerprint", "key", "recording", "stats", "use_table", "write"]

_PIMLAB = Path(__file__).parent
PATH = _PIMLAB / "data" / "engine_table.json"
SOURCES = ("engine/*.py", "schedule.py", "isa.py", "trace.py", "hardware.py", "validate.py", "system.py",
           "engine_table.py")  # relative to pimlab/: what a stored result depends on

COUNTS = ("cycles", "mac", "act", "wr_inp", "rd_out")  # the five totals of a run, in order (pimlab.system._run)
_state = {"enabled": os.environ.get("PIMLAB_ENGINE_TABLE", "1") != "0", "table": None, "recorded": None}
stats = {"hits": 0, "runs": 0}  # programs answered from the table / run, since import


def fingerprint() -> str:
    """SHA-256 of the source files in SOURCES, in a fixed order."""
    digest = hashlib.sha256()
    for pattern in SOURCES:
        for path in sorted(_PIMLAB.glob(pattern)):
            digest.update(path.relative_to(_PIMLAB).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def key(args: tuple) -> str:
    """The table's key of one program's arguments (its name first; a frozen Module enters by its repr)."""
    return hashlib.sha256(repr(args).encode()).hexdigest()[:20]


def _table() -> dict:
    """The stored results of the current fingerprint ({} when the file is missing or from other sources)."""
    if _state["table"] is None:
        try:
            stored = json.loads(PATH.read_text())
        except (OSError, ValueError):
            stored = {}
        _state["table"] = stored.get("runs", {}) if stored.get("fingerprint") == fingerprint() else {}
    return _state["table"]


def answer(args: tuple, run: Callable[[], np.ndarray]) -> np.ndarray:
    """The five totals of the program `args` names: from the table when stored, else `run()` (read-only)."""
    name = key(args)
    stored = _table().get(name) if _state["enabled"] else None
    if stored is not None:
        stats["hits"] += 1
        result = np.array(stored, dtype=np.float64)
    else:
        stats["runs"] += 1
        result = run()
        if _state["recorded"] is not None:
            _state["recorded"][name] = [int(v) if float(v).is_integer() else float(v) for v in result]
    result.flags.writeable = False
    return result


@contextmanager
def use_table(enabled: bool) -> Iterator[None]:
    """Within the block the table is (not) consulted; callers clear the system model's memos themselves."""
    before, _state["enabled"] = _state["enabled"], enabled
    try:
        yield
    finally:
        _state["enabled"] = before


@contextmanager
def recording() -> Iterator[dict]:
    """Within the block every program run (not answered from the table) is recorded: {key: totals}."""
    before, _state["recorded"] = _state["recorded"], {}
    try:
        yield _state["recorded"]
    finally:
        _state["recorded"] = before


def write(runs: dict, path: Path = PATH) -> None:
    """Store `runs` ({key: totals}) under the current fingerprint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    about = f"engine totals ({', '.join(COUNTS)}) of the system model's tile programs (scripts/build_engine_table)"
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(runs.items())]  # one program a line
    path.write_text(f'{{"about": {json.dumps(about)},\n"fingerprint": "{fingerprint()}",\n"runs": {{\n'
                    + ",\n".join(lines) + "\n}}\n")
    _state["table"] = None
