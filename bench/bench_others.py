"""Speed of one L3 / CXL-PNM point (budget 0.1 s) and of the whole systems comparison (budget 30 s).

Run: python bench/bench_others.py [--no-table] (prints numbers and ratios; not a test). The engine table
(pimlab/engine_table.py) answers the PIM systems' tile programs unless --no-table: then every one runs the engine.
"""

import itertools
import time

from pimlab.compare import Prices, clear_runs
from pimlab.cxlpnm import CxlPnmConfig, cxl_max_batch, cxl_step
from pimlab.figures.systems_compare import comparison, scorecard
from pimlab.l3 import l3_max_batch, l3_step
from pimlab.models import LLAMA31_405B, LLM_72B_128K_GQA, MODELS
from pimlab.workloads import MULTIFIELDQA


def per_call(fn, n=200) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def main():
    model, context = LLM_72B_128K_GQA, 131072
    batch = l3_max_batch(model, context)
    seconds = per_call(lambda: l3_step(model, batch, context))
    print(f"one L3 point ({model.name}, {context} tokens, batch {batch}): {1e3 * seconds:.3f} ms "
          f"({0.1 / seconds:.0f}x under 0.1 s)")
    lengths = MULTIFIELDQA.sample(batch, 0)
    seconds = per_call(lambda: l3_step(model, batch, lengths))
    print(f"one L3 point, {batch} sampled multifieldqa lengths: {1e3 * seconds:.3f} ms ({0.1 / seconds:.0f}x under)")
    for scheme in ("recall", "pnm-kv", "png-kv"):
        config = CxlPnmConfig(scheme=scheme, n_gpus=16)
        b = cxl_max_batch(LLAMA31_405B, 10**6, config)
        seconds = per_call(lambda config=config, b=b: cxl_step(LLAMA31_405B, b, 10**6, config, beyond_window=True))
        print(f"one CXL-PNM {scheme} point (405B, 1M tokens, batch {b}): {1e3 * seconds:.3f} ms "
              f"({0.1 / seconds:.0f}x under 0.1 s)")
    lengths = MULTIFIELDQA.sample(2000, 0)
    seconds = per_call(lambda: cxl_step(model, 2000, lengths, CxlPnmConfig(), ignore_capacity=True), n=20)
    print(f"one CXL-PNM point, 2000 mixed lengths (greedy placement): {1e3 * seconds:.2f} ms "
          f"({0.1 / seconds:.0f}x under 0.1 s)")
    start = time.perf_counter()
    for m in MODELS:
        comparison(m, MULTIFIELDQA)
    whole = time.perf_counter() - start
    print(f"the whole comparison (4 models x 13 systems x 9 contexts, PIMphony, CENT and NeuPIMs included, each "
          f"with its 4 x 9 winners map, the 4 sharing their memoized steps): {whole:.2f} s "
          f"({30 / whole:.1f}x under 30 s)")
    seconds = per_call(lambda: comparison(model, MULTIFIELDQA, prices=Prices(gpu_usd=next(PRICE_STEPS))), n=20)
    print(f"the same comparison after a price change (memoized steps, prices applied after): {1e3 * seconds:.1f} ms")
    clear_memos()
    seconds = per_call(scorecard, n=1)
    print(f"the other papers' scorecard: {seconds:.3f} s (memoized steps cleared first)")


PRICE_STEPS = itertools.count(10_000.0, 1.0)


def clear_memos() -> None:
    """Forget every memoized step and comparison: the next run computes afresh."""
    from pimlab.figures import systems_compare

    clear_runs()
    systems_compare._comparison.cache_clear()

if __name__ == "__main__":
    import sys

    from pimlab import engine_table

    table = "--no-table" not in sys.argv[1:]
    print(f"engine table {'on' if table else 'off'} (pimlab/engine_table.py)")
    with engine_table.use_table(table):
        main()
