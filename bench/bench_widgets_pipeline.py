"""Time of the DCS apps' live updates against the 100 ms budget: the Fig. 7 step-through and the Fig. 8 app.

Run: python bench/bench_widgets_pipeline.py
"""

import statistics
import time

from pimlab_widgets.breakdown import fig8_app
from pimlab_widgets.pipeline import fig7_app

BUDGET_MS = 100.0


def _times_ms(update, repeats: int) -> list[float]:
    update(0)  # warm up plotly's validators
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        update(i)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def _report(label: str, times: list[float]) -> None:
    median = statistics.median(times)
    print(f"{label}: median {median:.1f} ms, max {max(times):.1f} ms over {len(times)} updates "
          f"({median / BUDGET_MS:.2f} of the {BUDGET_MS:.0f} ms budget, {BUDGET_MS / median:.1f}x headroom)")


def main(repeats: int = 30) -> None:
    app = fig7_app()
    end = app.end_cycle
    _report("Fig. 7 step (cursor, markers, tables)", _times_ms(lambda i: app.go((i * 7) % (end + 1)), repeats))
    knobs = [dict(t_rd_out=5), dict(t_rd_out=9), dict(t_mac=2, tCCDS=2), dict(t_mac=3, tCCDS=1)]
    _report("Fig. 7 knob change (re-schedule + redraw)",
            _times_ms(lambda i: app.set(**knobs[i % len(knobs)]), repeats))

    fig8 = fig8_app()  # simulates and caches the default points
    views = ("% of run", "cycles")
    _report("Fig. 8 view change (cached points + redraw)",
            _times_ms(lambda i: fig8.set(view=views[i % 2]), repeats))
    dims = ("128, 256, 512, 1024", "64, 128, 256, 512, 1024")
    _report("Fig. 8 dimension change (cached points + redraw)",
            _times_ms(lambda i: fig8.set(dims=dims[i % 2]), repeats))
    tmodch = iter(range(33, 33 + repeats + 1))
    _report("Fig. 8 timing change (re-simulates 5 dims x 2 policies, uncached)",
            _times_ms(lambda i: fig8.set(tMODCH=next(tmodch)), min(repeats, 5)))


if __name__ == "__main__":
    main()
