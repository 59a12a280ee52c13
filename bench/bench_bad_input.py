"""Time of every bad-input case of every app (zero, negative, huge, float, NaN, empty, text on each control)
against the 1 s budget for an answer; a value a control accepts is timed too (it redraws).

Run: python bench/bench_bad_input.py
"""

import time

from pimlab_widgets.catalog import APPS, BAD_INPUTS

BUDGET_S = 1.0


def main() -> None:
    worst = (0.0, "")
    for name, make in APPS.items():
        app = make()
        print(f"{name}")
        for control_name, control in app.controls.items():
            cells = []
            for kind, value in BAD_INPUTS.items():
                before = control.value
                start = time.perf_counter()
                accepted = app.set(**{control_name: value})
                seconds = time.perf_counter() - start
                if accepted:
                    app.set(**{control_name: before})
                cells.append(f"{kind} {1e3 * seconds:.1f} ms{' (accepted)' if accepted else ''}")
                worst = max(worst, (seconds, f"{name}, {control_name} = {value!r}"))
            print(f"  {control_name:>18}: " + ", ".join(cells))
    print(f"slowest case: {worst[1]}, {1e3 * worst[0]:.1f} ms = {worst[0] / BUDGET_S:.3f} of the "
          f"{BUDGET_S:.0f} s budget")


if __name__ == "__main__":
    main()
