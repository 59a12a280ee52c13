"""Time of the DCS apps' live updates against the 100 ms budget: the Fig. 7 step-through and the Figs. 8, 9, 18 apps.

Run: python bench/bench_widgets_pipeline.py
"""

import statistics
import time

from pimlab_widgets.breakdown import APP_TOKENS, fig8_app, fig9_app, fig18_app
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
    gbufs = (2, 1, 3, 64)
    _report("Fig. 7 GBuf entries change (re-compile + re-schedule + redraw)",
            _times_ms(lambda i: app.set(gbuf_entries=gbufs[i % len(gbufs)]), repeats))

    fig8 = fig8_app()  # simulates and caches the default points
    views = ("% of run", "cycles")
    _report("Fig. 8 view change (cached points + redraw)",
            _times_ms(lambda i: fig8.set(view=views[i % 2]), repeats))
    dims = ("128, 256, 512, 1024", "64, 128, 256, 512, 1024")
    _report("Fig. 8 dimension change (cached points + redraw)",
            _times_ms(lambda i: fig8.set(dims=dims[i % 2]), repeats))
    # each update below uses a value not simulated before (nothing cached); bars the knob does not affect are kept
    fresh = iter(range(1, 1000))
    _report("Fig. 8 tMODCH change (re-simulates the 5 static bars)",
            _times_ms(lambda i: fig8.set(tMODCH=32 + next(fresh)), min(repeats, 5)))
    _report("Fig. 8 OBuf entries change (re-simulates the 5 ping-pong and 5 DCS bars)",
            _times_ms(lambda i: fig8.set(obuf_entries=2 + next(fresh) % 60), min(repeats, 5)))
    _report("Fig. 8 refresh toggle (re-simulates all 20 bars: new tMODCH and OBuf entries each time)",
            _times_ms(lambda i: fig8.set(refresh=i % 2 == 0, tMODCH=100 + next(fresh),
                                         obuf_entries=2 + next(fresh) % 60), min(repeats, 5)))
    _report("Fig. 8 MACs per point change (re-simulates the bars whose GEMV count changes)",
            _times_ms(lambda i: fig8.set(min_macs=4096 + 64 * next(fresh)), min(repeats, 5)))
    fig8.set(min_macs=4096, tMODCH=32, obuf_entries=2, refresh=True)

    fig9, fig18 = fig9_app(), fig18_app()  # attention apps at APP_TOKENS tokens, default points cached
    _report(f"Fig. 9 view change ({APP_TOKENS} tokens, cached bars + redraw)",
            _times_ms(lambda i: fig9.set(view=views[i % 2]), repeats))
    _report("Fig. 9 tMODCH change (re-simulates the 8 static bars)",
            _times_ms(lambda i: fig9.set(tMODCH=32 + next(fresh)), min(repeats, 5)))
    _report("Fig. 9 OBuf entries change (re-simulates the 8 DCS bars)",
            _times_ms(lambda i: fig9.set(obuf_entries=2 + next(fresh) % 60), min(repeats, 5)))
    _report("Fig. 9 refresh toggle (re-simulates all 16 bars)",
            _times_ms(lambda i: fig9.set(refresh=i % 2 == 0, tMODCH=100 + next(fresh)), min(repeats, 5)))
    _report(f"Fig. 9 tokens change ({APP_TOKENS} <-> {2 * APP_TOKENS}, all 16 bars, then cached)",
            _times_ms(lambda i: fig9.set(tokens=APP_TOKENS * (1 + i % 2), tMODCH=32, refresh=True, obuf_entries=2),
                      min(repeats, 4)))
    _report("Fig. 18 GBuf entries change (re-simulates all 32 bars: 4 schedulers, 2 command orders)",
            _times_ms(lambda i: fig18.set(gbuf_entries=2 + next(fresh) % 62), min(repeats, 5)))


if __name__ == "__main__":
    main()
