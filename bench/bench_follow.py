"""What following the model costs: per app whose lists follow the other controls, the time of one `follow()` (every
list recomputed; the app's constructor ran it once already) against a whole update (follow + compute + redraw).

    .venv/bin/python bench/bench_follow.py
"""

import time

from pimlab_widgets.catalog import APPS

FOLLOWING = ("Fig. 2", "Fig. 6", "Figs. 10/19: chunk maps", "Figs. 13/14", "Fig. 15", "Fig. 16", "Fig. 17",
             "systems comparison")


def seconds(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    print(f"{'app':26s} {'follow':>10s} {'update':>9s} {'follow / update':>16s}")
    for name in FOLLOWING:
        app = APPS[name]()
        app = getattr(app, "app", app)  # ChannelOccupancy wraps its LiveApp
        follow = min(seconds(app.follow) for _ in range(5))
        first, control = next((n, c) for n, c in app.controls.items() if getattr(c, "_options_values", None))
        other = next(v for v in control._options_values if v is not control.value)
        update = seconds(lambda: app.set(**{first: other}))  # noqa: B023
        print(f"{name:26s} {1e3 * follow:7.1f} ms {1e3 * update:6.0f} ms {follow / update:16.3f}")


if __name__ == "__main__":
    main()
