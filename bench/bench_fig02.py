"""Time of one Fig. 2 live update (compute + redraw of the FigureWidget), against the 100 ms budget.

Run: python bench/bench_fig02.py
"""

import statistics
import time

from pimlab.models import LLM_7B_32K, LLM_7B_128K_GQA
from pimlab_widgets.fig02 import fig2_app

BUDGET_MS = 100.0


def main(repeats: int = 30) -> None:
    app = fig2_app()
    changes = [dict(batch=b, model=m, max_context_k=k)
               for b, m, k in [(24, LLM_7B_128K_GQA, 128), (96, LLM_7B_32K, 32), (8, LLM_7B_128K_GQA, 64)]]
    app.set(**changes[0])  # warm up plotly's validators
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        assert app.set(**changes[i % len(changes)])
        times.append((time.perf_counter() - start) * 1e3)
    median = statistics.median(times)
    print(f"Fig. 2 live update: median {median:.1f} ms, max {max(times):.1f} ms over {repeats} updates")
    print(f"budget {BUDGET_MS:.0f} ms: median is {median / BUDGET_MS:.2f} of it ({BUDGET_MS / median:.1f}x headroom)")


if __name__ == "__main__":
    main()
