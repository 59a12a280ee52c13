"""The sweep helper: grid order, tidy table, resumable disk cache, any executor (threads, processes, dask)."""

import concurrent.futures
import functools
import pathlib

import numpy as np
import pytest

from pimlab.gpu import gpu_step
from pimlab.models import LLAMA2_7B
from pimlab.sweep import Table, canonical, grid_points, point_key, sweep


def area(width, height):
    return {"area": width * height, "shape": "square" if width == height else "oblong"}


def logged_area(width, height, log):
    """Appends one line per call to `log`, so a test can count calls across processes."""
    with open(log, "a") as handle:
        handle.write(f"{width} {height}\n")
    if width == 3 and pathlib.Path(log + ".fail").exists():
        raise RuntimeError("interrupted")
    return width * height


def gpu_point(context_tokens, batch):
    return gpu_step(LLAMA2_7B, n_gpus=2, batch=batch, context_tokens=context_tokens)


def test_grid_order_and_columns_by_hand():
    table = sweep(area, {"width": [1, 2], "height": [2, 3, 2]}, executor=concurrent.futures.ThreadPoolExecutor(2),
                  progress=False)
    assert table.names == ["width", "height", "area", "shape"]
    assert table["width"].tolist() == [1, 1, 1, 2, 2, 2]
    assert table["height"].tolist() == [2, 3, 2, 2, 3, 2]
    assert table["area"].tolist() == [2, 3, 2, 4, 6, 4]
    assert table["shape"].tolist() == ["oblong", "oblong", "oblong", "square", "oblong", "square"]
    assert table.where(shape="square")["area"].tolist() == [4, 4]
    assert "6 rows x 4 columns" in repr(table) and "oblong" in repr(table)


def test_default_executor_runs_local_processes(tmp_path):
    table = sweep(functools.partial(logged_area, log=str(tmp_path / "log")), {"width": [1, 2], "height": [5]},
                  progress=False)
    assert table["value"].tolist() == [5, 10]
    assert len((tmp_path / "log").read_text().splitlines()) == 2


def test_an_interrupted_sweep_resumes_from_the_cache(tmp_path):
    log, cache = str(tmp_path / "log"), tmp_path / "cache"
    fn = functools.partial(logged_area, log=log)
    grid = {"width": [1, 2, 3, 4], "height": [10]}
    pathlib.Path(log + ".fail").touch()
    with pytest.raises(RuntimeError, match="interrupted"):
        sweep(fn, grid, executor=concurrent.futures.ThreadPoolExecutor(1), cache_dir=cache, progress=False)
    done_before = {line for line in pathlib.Path(log).read_text().splitlines() if not line.startswith("3")}
    assert "1 10" in done_before and "2 10" in done_before  # the points before the failure were finished
    pathlib.Path(log + ".fail").unlink()
    pathlib.Path(log).write_text("")
    table = sweep(fn, grid, executor=concurrent.futures.ThreadPoolExecutor(1), cache_dir=cache, progress=False)
    assert table["value"].tolist() == [10, 20, 30, 40]
    recomputed = set(pathlib.Path(log).read_text().splitlines())
    assert not recomputed & done_before and "3 10" in recomputed
    pathlib.Path(log).write_text("")
    again = sweep(fn, grid, executor=concurrent.futures.ThreadPoolExecutor(1), cache_dir=cache, progress=False)
    assert again == table and pathlib.Path(log).read_text() == ""  # everything from the cache


def test_cache_keys_are_stable_and_distinguish_functions_and_points():
    a = point_key("m.f", {"x": 1, "y": (2.0, "a")})
    assert a == point_key("m.f", {"y": (2.0, "a"), "x": 1})  # order of the grid's names does not matter
    assert a != point_key("m.g", {"x": 1, "y": (2.0, "a")}) and a != point_key("m.f", {"x": 2, "y": (2.0, "a")})
    assert len({point_key("m.f", {"x": v}) for v in (1, 1.5, "1", True, None)}) == 5
    # a fixed digest: the key must not change between runs or processes (it names files on disk)
    assert point_key("pimlab.x.f", {"n": 3}) == point_key("pimlab.x.f", {"n": np.int64(3)})
    assert canonical(LLAMA2_7B)["fields"]["layers"] == 32


def test_step_results_flatten_into_columns():
    table = sweep(gpu_point, {"context_tokens": [1024, 4096], "batch": [1]},
                  executor=concurrent.futures.ThreadPoolExecutor(2), progress=False)
    assert {"latency_s", "tokens_per_s", "components_s.attention", "components_s.fc"} <= set(table.names)
    direct = gpu_point(4096, 1)
    assert table["latency_s"][1] == direct.latency_s
    assert table["components_s.attention"][1] == direct.components_s["attention"]


def test_dask_local_cluster_gives_the_same_table():
    distributed = pytest.importorskip("distributed")
    grid = {"context_tokens": [1024, 4096], "batch": [1, 4]}
    local = sweep(gpu_point, grid, executor=concurrent.futures.ThreadPoolExecutor(2), progress=False)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        remote = sweep(gpu_point, grid, executor=client, progress=False)
    assert remote == local


@pytest.mark.parametrize("grid, message", [
    ({}, "grid must be a non-empty dict"),
    ({"x": []}, r"grid\['x'\] must be a non-empty list"),
    ({"x": "abc"}, r"grid\['x'\] must be a non-empty list"),
    ({"not a name": [1]}, "grid keys must be parameter names"),
    ({"x": [object()]}, "grid values must be numbers"),
])
def test_bad_grids_are_refused(grid, message):
    with pytest.raises(ValueError, match=message):
        sweep(area, grid, progress=False)


def test_bad_functions_and_executors_are_refused():
    with pytest.raises(ValueError, match="fn must be a module-level function"):
        sweep(lambda x: x, {"x": [1]}, progress=False)
    with pytest.raises(ValueError, match="executor must be"):
        sweep(area, {"width": [1], "height": [1]}, executor="dask", progress=False)


def test_grid_points_is_the_cartesian_product():
    assert grid_points({"a": [1, 2], "b": ["x"]}) == [{"a": 1, "b": "x"}, {"a": 2, "b": "x"}]
    assert len(Table({"a": np.arange(3)})) == 3
