"""The engine table (pimlab/engine_table.py): it answers only for the sources it came from, with what the engine
computes."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from pimlab import engine_table, system
from pimlab.hardware import CENT

ROOT = Path(__file__).resolve().parents[1]


def test_the_table_is_current():
    stored = json.loads(engine_table.PATH.read_text())
    assert stored["fingerprint"] == engine_table.fingerprint(), (
        "the engine, the scheduler, the ISA, the hardware presets or the system model changed since "
        "pimlab/data/engine_table.json was built: rebuild it with `python scripts/build_engine_table`")


def test_a_stored_result_is_what_the_engine_computes():
    args = (12288, 64, "dcs", CENT.module, "aim", True)  # a GPT3-175B FC GEMV of the systems comparison
    system.clear_caches()
    hits = engine_table.stats["hits"]
    stored = system._gemv_exact(*args)
    assert engine_table.stats["hits"] == hits + 1, "the table should hold this program"
    system.clear_caches()
    with engine_table.use_table(False):
        runs = engine_table.stats["runs"]
        computed = system._gemv_exact(*args)
        assert engine_table.stats["runs"] == runs + 1
    system.clear_caches()
    np.testing.assert_array_equal(stored, computed)
    assert not stored.flags.writeable


def test_a_program_not_stored_is_run():
    module = dataclasses.replace(CENT.module, gbuf_entries=CENT.module.gbuf_entries // 2)  # no app offers it
    system.clear_caches()
    runs = engine_table.stats["runs"]
    system._gemv_exact(4096, 4, "dcs", module, "aim", True)
    assert engine_table.stats["runs"] == runs + 1
    system.clear_caches()


def test_a_stale_table_is_not_used(tmp_path, monkeypatch):
    stale = tmp_path / "engine_table.json"
    stored = json.loads(engine_table.PATH.read_text())
    stale.write_text(json.dumps(dict(stored, fingerprint="0" * 64)))
    monkeypatch.setattr(engine_table, "PATH", stale)
    monkeypatch.setitem(engine_table._state, "table", None)
    assert engine_table._table() == {}
    monkeypatch.setitem(engine_table._state, "table", None)


def test_every_stored_result_is_what_the_engine_computes():
    """scripts/build_engine_table --check runs every program of the table again, with the table off."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_engine_table"), "--check"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "0 differ, 0 missing, 0 extra, fingerprint current" in done.stdout
