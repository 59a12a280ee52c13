"""System model speed: one end-to-end point at 1M tokens, a (TP, PP) search, the Fig. 17 sweep (locally and on a dask
LocalCluster, checked equal), a serving run.

Run: python bench/bench_system.py [--no-table] (prints times and their ratio to the budget; not a test). "Cold" runs
start with empty tile caches (the engine compiles and schedules each tile shape once, unless the engine table,
pimlab/engine_table.py, holds it); "warm" reuse them. --no-table: every cold tile runs the engine.
"""

import logging
import sys
import time
from dataclasses import replace

import numpy as np

from pimlab import system
from pimlab.figures import fig17 as fig17_module
from pimlab.models import LLM_7B_32K, LLM_72B_128K_GQA, model_named
from pimlab.sweep import figure_sweep
from pimlab.workloads import QMSUM


def timed(fn, *args, **kwargs) -> float:
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def clear_caches():
    system.clear_caches()
    fig17_module.scalability_point.cache_clear()
    fig17_module.fig17.cache_clear()


def one_million_point():
    lengths = fig17_module.variation_lengths(1 << 20, 64)
    model = replace(LLM_72B_128K_GQA, context_window=int(lengths.max()))
    return system.search("cent", model, 64, lengths, "tcp+dcs+dpa")


def one_million_step():
    lengths = fig17_module.variation_lengths(1 << 20, 2)
    model = replace(LLM_72B_128K_GQA, context_window=int(lengths.max()))
    return system.run_step("cent", model, 64, 8, 8, lengths, "tcp+dcs+dpa")


def fig17_sweep(executor=None) -> list:
    """Both panels' grids of Fig. 17 for both systems as `pimlab.sweep` Tables."""
    grids = [{"kind": list(system.SYSTEM_KINDS), "capacity_GB": list(fig17_module.CAPACITIES_GB), "context": [65536],
              "techniques": ["baseline", "tcp+dcs+dpa"]},
             {"kind": list(system.SYSTEM_KINDS), "capacity_GB": [512], "context": list(fig17_module.CONTEXTS),
              "techniques": ["baseline", "tcp+dcs+dpa"]}]
    return [figure_sweep(fig17_module.scalability_point, grid, executor) for grid in grids]


def dask_fig17_sweep():
    """The Fig. 17 sweep on a dask local cluster of two worker processes, checked against the local run."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask.distributed not installed: the dask run of the Fig. 17 sweep not measured")
        return
    clear_caches()
    local_s = timed(fig17_sweep)
    local = fig17_sweep()
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                      silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        start = time.perf_counter()
        remote = fig17_sweep(client)
        dask_s = time.perf_counter() - start
    same = all(a == b for a, b in zip(local, remote))
    print(f"Fig. 17 sweep on a dask LocalCluster (2 worker processes): {dask_s:.1f} s against {local_s:.1f} s on "
          f"one local thread ({dask_s / local_s:.2f}x); same table: {same}")
    if not same:
        raise SystemExit("the dask run of the Fig. 17 sweep differs from the local run")


def main():
    budget = 1.0
    clear_caches()
    seconds = timed(one_million_step)
    print(f"LLM-72B-128K-GQA, 1M tokens, 1024 GB, one step (tp 8, pp 8), cold: {seconds:.3f} s "
          f"({seconds / budget:.2f} of the 1 s budget)")
    for label in ("cold", "warm"):
        if label == "cold":
            clear_caches()
        seconds = timed(one_million_point)
        print(f"LLM-72B-128K-GQA, 1M tokens, 1024 GB, (tp, pp) search, {label}: {seconds:.3f} s "
              f"({seconds / budget:.2f} of the 1 s budget)")
    lengths = np.full(32, 4096)
    for label in ("cold", "warm"):
        seconds = timed(system.run_step, "cent", model_named("Llama2-7B"), 8, 1, 32, lengths,
                        ignore_capacity=True)
        print(f"CENT Llama2-7B deployment step, {label}: {1e3 * seconds:.1f} ms")
    clear_caches()
    seconds = timed(lambda: (fig17_module.fig17("cent"), fig17_module.fig17("neupims")))
    print(f"Fig. 17 sweep, both systems, cold: {seconds:.1f} s ({seconds / 30:.2f} of the 30 s budget)")
    dask_fig17_sweep()
    try:
        from pimlab.workloads import MUSIQUE
        from pimlab_widgets.system import throughput_app

        app = throughput_app()
        for label, values in (("dataset", dict(dataset=MUSIQUE)), ("layout", dict(layout=(4, 2))),
                              ("host bursts", dict(host_serial=False))):
            seconds = timed(app.set, **values)
            print(f"throughput app update ({label}): {1e3 * seconds:.0f} ms ({seconds / 0.1:.1f} of the 100 ms budget)")
    except ImportError:
        print("pimlab_widgets not installed: app updates not measured")
    run = system.serve("cent", LLM_7B_32K, 8, 8, 1, QMSUM, "tcp+dcs+dpa", requests=96)
    seconds = timed(system.serve, "cent", LLM_7B_32K, 8, 8, 1, QMSUM, "tcp+dcs+dpa", requests=96)
    print(f"serving run, 96 QMSum requests ({run.steps} steps, {run.tokens} tokens): {seconds:.2f} s")


if __name__ == "__main__":
    from pimlab import engine_table

    table = "--no-table" not in sys.argv[1:]
    print(f"engine table {'on' if table else 'off'} (pimlab/engine_table.py)")
    with engine_table.use_table(table):
        main()
