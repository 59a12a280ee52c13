"""Speed of one GPU-baseline point and of a sweep of them (serial, local processes, a Dask local cluster).

Run: python bench/bench_sweep_gpu.py (prints numbers and ratios; not a test).
"""

import concurrent.futures
import time

from pimlab.gpu import gpu_step
from pimlab.models import LLM_72B_128K_GQA
from pimlab.sweep import sweep

GRID = {"context_tokens": [4096 * 2**k for k in range(9)], "batch": [1, 4, 16]}


def point(context_tokens, batch):
    return gpu_step(LLM_72B_128K_GQA, n_gpus=8, batch=batch, context_tokens=context_tokens, ignore_capacity=True,
                    beyond_window=True)


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def main():
    n = 2000
    seconds, _ = timed(lambda: [point(1 << 20, 4) for _ in range(n)])
    print(f"one gpu_step point (72B-GQA, 8 A100s, 1M tokens): {1e6 * seconds / n:.1f} us (budget 100 ms: "
          f"{0.1 / (seconds / n):.0f}x under)")
    points = len(GRID["context_tokens"]) * len(GRID["batch"])
    serial, table = timed(sweep, point, GRID, executor=concurrent.futures.ThreadPoolExecutor(1), progress=False)
    local, again = timed(sweep, point, GRID, progress=False)
    print(f"sweep of {points} points: one thread {serial:.3f} s, local processes {local:.3f} s "
          f"(process start-up dominates so small a sweep); same table: {table == again}")
    try:
        from distributed import Client
    except ImportError:
        print("dask.distributed not installed: no cluster run")
        return
    with Client(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None) as client:
        dask_s, remote = timed(sweep, point, GRID, executor=client, progress=False)
    print(f"dask local cluster: {dask_s:.3f} s ({dask_s / serial:.1f}x one thread); same table: {remote == table}")


if __name__ == "__main__":
    main()
