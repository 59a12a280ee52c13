"""Sweeps: call a function at every point of a grid on any concurrent.futures executor, with progress and a disk cache.

`sweep(fn, {"context_tokens": [4096, 32768], "batch": [1, 8]})` calls `fn(context_tokens=..., batch=...)` at the
four points on local processes and returns a `Table`: one row per point in grid order, the grid's columns first,
then what `fn` returned (a number, a mapping, or a dataclass such as `StepResult`, flattened to scalar columns).
With `cache_dir`, every finished point is written there at once, so a sweep that is interrupted, or fails at one
point, resumes where it stopped. tqdm (progress) and dask (a `distributed.Client` as executor) are optional.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import enum
import functools
import hashlib
import itertools
import json
import math
import numbers
import os
import pathlib
import tempfile

import numpy as np

CACHE_VERSION = 1  # bump when the cached row format changes


class Table:
    """A tidy table: named numpy columns of one length (numbers as float/int/bool, text as str, gaps as None)."""

    def __init__(self, columns: dict):
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"columns must have one length, got lengths {sorted(lengths)}")
        self.columns = {name: _column(values) for name, values in columns.items()}

    @classmethod
    def from_rows(cls, rows: list[dict]) -> Table:
        names = list(dict.fromkeys(name for row in rows for name in row))
        return cls({name: [row.get(name) for row in rows] for name in names})

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.columns:
            raise KeyError(f"no column {name!r}; the table has {', '.join(self.columns)}")
        return self.columns[name]

    def __contains__(self, name) -> bool:
        return name in self.columns

    def __eq__(self, other) -> bool:
        return (isinstance(other, Table) and list(self.columns) == list(other.columns)
                and all(np.array_equal(a, other.columns[k]) for k, a in self.columns.items()))

    @property
    def names(self) -> list[str]:
        return list(self.columns)

    def rows(self) -> list[dict]:
        return [{name: _plain(col[i]) for name, col in self.columns.items()} for i in range(len(self))]

    def where(self, **equal) -> Table:
        """The rows whose columns equal the given values."""
        keep = np.ones(len(self), dtype=bool)
        for name, value in equal.items():
            keep &= self[name] == value
        return Table({name: col[keep] for name, col in self.columns.items()})

    def __repr__(self, max_rows: int = 12) -> str:
        shown = self.rows()[:max_rows]
        cells = [[_format(row[name]) for name in self.columns] for row in shown]
        widths = [max([len(name)] + [len(r[i]) for r in cells]) for i, name in enumerate(self.columns)]
        lines = ["  ".join(name.rjust(w) for name, w in zip(self.columns, widths))]
        lines += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
        more = f"\n... {len(self) - max_rows} more rows" if len(self) > max_rows else ""
        return f"Table({len(self)} rows x {len(self.columns)} columns)\n" + "\n".join(lines) + more


def sweep(fn, grid: dict, executor=None, cache_dir=None, progress: bool = True) -> Table:
    """Call `fn(**point)` for every point of the grid's cartesian product; return a `Table` in grid order.

    `executor`: any concurrent.futures executor, or a dask `distributed.Client`; None starts local processes (so `fn`
    and the grid's values must pickle). `cache_dir`: a folder for finished points, keyed by a stable hash of `fn`'s
    qualified name and the point. `progress`: a tqdm bar (terminal or notebook) when tqdm is installed.
    """
    if not callable(fn):
        raise ValueError(f"fn must be callable, got {fn!r}")
    points = grid_points(grid)
    name = function_name(fn)
    keys = [point_key(name, point) for point in points]
    folder = None if cache_dir is None else pathlib.Path(cache_dir)
    results = [_cached(folder, key) for key in keys]
    todo = [i for i, r in enumerate(results) if r is None]
    bar = _progress_bar(progress, len(points), len(points) - len(todo), name)
    own = None
    try:
        if todo:
            if executor is None:
                own = executor = concurrent.futures.ProcessPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1))
            executor = _as_executor(executor)
            futures = {executor.submit(fn, **points[i]): i for i in todo}

            def finish(future):
                i = futures[future]
                results[i] = flatten(future.result())
                if folder is not None:
                    _store(folder, keys[i], points[i], results[i])
                if bar is not None:
                    bar.update(1)

            for future in concurrent.futures.as_completed(futures):
                try:
                    finish(future)
                except BaseException as error:  # a failed point, or Ctrl-C: keep what finished, then stop
                    if hasattr(error, "add_note") and not isinstance(error, KeyboardInterrupt):
                        error.add_note(f"in sweep of {name} at point {points[futures[future]]}")
                    _keep_finished(futures, results, finish)
                    raise
    finally:
        if bar is not None:
            bar.close()
        if own is not None:
            own.shutdown(wait=True, cancel_futures=True)
    return Table.from_rows([{**point, **row} for point, row in zip(points, results)])


def figure_sweep(fn, grid: dict, executor=None) -> Table:
    """`sweep` as the figures run it: no progress bar, no cache, and on one thread of this process (which
    reuses its tile caches: faster than local processes for the figures' sweeps) unless `executor` is given."""
    if executor is not None:
        return sweep(fn, grid, executor=executor, progress=False)
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as local:
        return sweep(fn, grid, executor=local, progress=False)


def _keep_finished(futures: dict, results: list, finish) -> None:
    """After a failure: cancel what has not started, wait for what runs, and keep (cache) every new success."""
    for future in futures:
        future.cancel()
    concurrent.futures.wait(futures)
    for future, i in futures.items():
        if results[i] is None and not future.cancelled() and future.exception() is None:
            finish(future)


def grid_points(grid: dict) -> list[dict]:
    """The grid's cartesian product as a list of {name: value}, the last name varying fastest."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError(f"grid must be a non-empty dict of parameter name -> list of values, got {grid!r}")
    for name, values in grid.items():
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"grid keys must be parameter names, got {name!r}")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or len(list(values)) == 0:
            raise ValueError(f"grid[{name!r}] must be a non-empty list of values, got {values!r}")
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(list(grid[n]) for n in names))]


def function_name(fn) -> str:
    """`module.qualname` of `fn` (a functools.partial adds its bound arguments), stable across processes and runs."""
    if isinstance(fn, functools.partial):
        bound = json.dumps([canonical(fn.args), canonical(fn.keywords)], sort_keys=True)
        return f"{function_name(fn.func)}{bound}"
    module, qualname = getattr(fn, "__module__", None), getattr(fn, "__qualname__", None)
    if not module or not qualname or "<lambda>" in qualname or "<locals>" in qualname:
        raise ValueError(f"fn must be a module-level function (its qualified name keys the cache), got {fn!r}")
    return f"{module}.{qualname}"


def point_key(name: str, point: dict) -> str:
    """A stable hex hash of a function name and a point (the same in every process and on every run)."""
    text = json.dumps({"fn": name, "point": canonical(point), "v": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def canonical(value):
    """`value` as JSON-ready data that does not depend on the process (for hashing a point)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.name}"
    if isinstance(value, dict):
        return {str(k): canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, np.ndarray):
        return {"array": canonical(value.tolist()), "dtype": str(value.dtype)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"type": f"{type(value).__module__}.{type(value).__qualname__}", "fields": fields}
    raise ValueError(f"grid values must be numbers, text, tuples, arrays or dataclasses (to key the cache), "
                     f"got {type(value).__name__}: {value!r}")


def flatten(result, prefix: str = "") -> dict:
    """What a sweep function returned, as one row of scalar columns ("value" for a bare number)."""
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        result = {f.name: getattr(result, f.name) for f in dataclasses.fields(result)}
    if not isinstance(result, dict):
        return {prefix or "value": _scalar(result)}
    row = {}
    for key, value in result.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
            row.update(flatten(value, name))
        else:
            row[name] = _scalar(value)
    return row


def _scalar(value):
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)):
        return ", ".join(map(str, value))
    return str(value)


def _column(values) -> np.ndarray:
    values = list(values)
    if any(v is None for v in values):
        return np.array(values, dtype=object)
    if values and all(isinstance(v, str) for v in values):
        return np.array(values, dtype=str)
    try:
        array = np.array(values)
    except ValueError:
        array = np.empty(len(values), dtype=object)
        array[:] = values
    return array


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _as_executor(executor):
    """A concurrent.futures executor: a dask Client gives its own (ClientExecutor), anything else is used as is."""
    if type(executor).__module__.split(".")[0] == "distributed" and hasattr(executor, "get_executor"):
        return executor.get_executor()
    if not hasattr(executor, "submit"):
        raise ValueError(f"executor must be a concurrent.futures executor or a dask distributed Client, got "
                         f"{executor!r}")
    return executor


def _progress_bar(progress: bool, total: int, done: int, name: str):
    if not progress:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=done, desc=name.rsplit(".", 1)[-1], unit="point")


def _cached(folder, key):
    if folder is None:
        return None
    path = folder / f"{key}.json"
    try:
        return json.loads(path.read_text())["row"]
    except (OSError, ValueError, KeyError):
        return None  # not there yet, or a write that was cut off: compute it again


def _store(folder: pathlib.Path, key: str, point: dict, row: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"point": canonical(point), "row": row})
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, folder / f"{key}.json")  # atomic: a reader sees the whole row or none
