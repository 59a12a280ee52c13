"""Every live app's updates against the budgets: first display, the defaults' neighbours, the extremes of each control.

Run: python bench/bench_widgets_limits.py [--timeout 30] [--only "Fig. 8"] [--no-table]

For each app of `pimlab_widgets.catalog.APPS`, in a fresh Python process (cold caches, as a student opening the
notebook): the first display as in a kernel (when the app shows, whether "working..." shows, when its first figure
is ready), then for every control its neighbouring values (one step either side of the default, the other choices,
the other state of a checkbox) and
the most expensive values it accepts (the ends of its range; a list box full of its largest values). Each value
is typed as in the UI (the control's value changes, the app's change handler runs) with the app's patience as in
a kernel (`LiveApp.patience_s`, 0.3 s): an update not done by then goes on in the background and shows
"working..." with Cancel. Printed per value: how long the UI was blocked, when the figure was ready, whether
"working..." showed, and the extra peak memory (Linux: VmHWM reset through /proc/self/clear_refs).

--split: instead, for each app's neighbour updates, how the time splits between the model (`compute`, first time:
cold caches) and the widget side (`draw` the figure or its JSON, `apply_figure` to the live figure), each app in a
fresh process.

Targets beside each line: neighbours median < 50 ms and max < 100 ms; any accepted value ready within 1 s, or
"working..." shown with the UI back within about the patience. A value still running after --timeout is reported
as such and its process is replaced (a pure-numpy computation stops only at its next progress report).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time

NEIGHBOUR_MEDIAN_MS, NEIGHBOUR_MAX_MS, ANY_VALUE_S, EXTRA_MB = 50.0, 100.0, 1.0, 300.0


# --- the child: one app ------------------------------------------------------------------------------------------

def _rss_mb(field: str) -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return math.nan


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")  # resets VmHWM to the current RSS
    except OSError:
        pass


def _neighbours(control, default) -> list:
    """Values one step from the default as the control holds them (text for boxes)."""
    import ipywidgets as widgets

    from pimlab_widgets.controls import IntsBox, NumberBox

    if isinstance(control, NumberBox):
        value = control.parse()
        step = 1 if control.kind == "integer" else max(abs(value) * 0.05, 0.01)
        return [control.text_of(v) for v in (value - step, value + step) if control.min <= v <= control.max]
    if isinstance(control, IntsBox):
        values = list(control.parse())
        out = [values[:-1]] if len(values) > 1 else []
        if values[-1] + 1 <= control.max:
            out.append(values[:-1] + [values[-1] + 1])
        return [control.text_of(v) for v in out]
    options = getattr(control, "_options_values", None)
    if options is not None:
        return [o for o in options if o is not default]
    if isinstance(control, widgets.Checkbox):
        return [not default]
    if hasattr(control, "min") and hasattr(control, "step"):
        return [v for v in (default - control.step, default + control.step) if control.min <= v <= control.max]
    return []


def _extremes(control) -> list:
    """The ends of the control's range (for a list box: as many of its largest values as it holds)."""
    from pimlab_widgets.controls import IntsBox, NumberBox

    if isinstance(control, NumberBox):
        return [control.text_of(v) for v in (control.min, control.max) if math.isfinite(v)]
    if isinstance(control, IntsBox):
        high = int(control.max)
        values = [v for v in range(high, high - control.most, -1) if v >= control.min]
        return [control.text_of([high]), control.text_of(values)]
    if getattr(control, "_options_values", None) is None and hasattr(control, "min") and hasattr(control, "max"):
        return [control.min, control.max]
    return []


def _plan(app) -> list[tuple[str, str, object]]:
    cases = []
    for name, control in app.controls.items():
        default = control.value
        cases += [("neighbour", name, v) for v in _neighbours(control, default)]
        cases += [("extreme", name, v) for v in _extremes(control) if v != default]
    return cases


def _live(app):
    return getattr(app, "app", app)  # ChannelOccupancy wraps its LiveApp


def _type(app, name: str, value) -> tuple[float, bool]:
    """Change one control as the UI does; (seconds until the UI is back, "working..." shown)."""
    live = _live(app)
    start = time.perf_counter()
    app.controls[name].value = value
    blocked = time.perf_counter() - start
    working = getattr(live, "working", None)
    return blocked, bool(working is not None and working.shown)


def child(app_name: str, skip: int) -> None:
    start = time.perf_counter()
    import pimlab_widgets.app as app_module
    from pimlab_widgets.app import PATIENCE_S
    from pimlab_widgets.catalog import APPS
    imported = time.perf_counter() - start
    app_module._in_kernel = lambda: True  # build and update as in a kernel: the first build may go on in the background
    _reset_peak()
    base = _rss_mb("VmRSS")
    start = time.perf_counter()
    app = APPS[app_name]()
    shown = time.perf_counter() - start
    working = getattr(_live(app), "working", None)
    working = bool(working is not None and working.shown)
    if hasattr(_live(app), "wait"):
        _live(app).wait()
    built = time.perf_counter() - start
    if skip == 0:
        print(json.dumps(dict(what="first", seconds=built, shown=shown, working=working, imports=imported,
                              extra_mb=_rss_mb("VmHWM") - base)), flush=True)
    if hasattr(_live(app), "patience_s"):
        _live(app).patience_s = PATIENCE_S  # as in a kernel
    defaults = {name: control.value for name, control in app.controls.items()}
    for i, (kind, name, value) in enumerate(_plan(app)):
        if i < skip:
            continue
        print(json.dumps(dict(what="start", index=i, kind=kind, control=name, value=repr(value))), flush=True)
        _reset_peak()
        base = _rss_mb("VmRSS")
        start = time.perf_counter()
        blocked, working = _type(app, name, value)
        print(json.dumps(dict(what="ui", blocked=blocked, working=working)), flush=True)
        ok = _live(app).wait() if hasattr(_live(app), "wait") else not app.error
        total = time.perf_counter() - start
        print(json.dumps(dict(what="case", index=i, kind=kind, control=name, value=repr(value), blocked=blocked,
                              total=total, working=working, ok=ok, error=_live(app).error,
                              extra_mb=_rss_mb("VmHWM") - base)), flush=True)
        _live(app).set(**{name: defaults[name]})
    print(json.dumps(dict(what="done")), flush=True)


# --- the parent: all apps, each in its own processes ----------------------------------------------------------------

def _verdict(case: dict) -> str:
    if case["total"] <= ANY_VALUE_S:
        time_ok = "ok"
    elif case["working"] and case["blocked"] <= ANY_VALUE_S:
        time_ok = "shows working"
    else:
        time_ok = "OVER"
    memory = "" if case["extra_mb"] <= EXTRA_MB else f", memory OVER {EXTRA_MB:.0f} MB"
    return time_ok + memory


def _line(case: dict) -> str:
    value = case["value"] if len(case["value"]) <= 40 else case["value"][:37] + "...'"
    state = "" if case["ok"] else f"  refused: {case['error'][:60]}"
    return (f"    {case['kind']:<9} {case['control']:<14} = {value:<42} ready {case['total'] * 1e3:9.1f} ms, "
            f"UI blocked {case['blocked'] * 1e3:7.1f} ms, working shown {'yes' if case['working'] else 'no ':3}, "
            f"+{case['extra_mb']:6.0f} MB  [{_verdict(case)}]{state}")


def run_app(app_name: str, timeout_s: float) -> None:
    print(f"\n{app_name}", flush=True)
    skip, neighbours = 0, []
    while True:
        proc = subprocess.Popen([sys.executable, __file__, "--child", app_name, "--skip", str(skip)],
                                stdout=subprocess.PIPE, text=True)
        current, started = None, time.perf_counter()
        import selectors
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        finished = False
        while True:
            if not selector.select(timeout=max(0.0, timeout_s - (time.perf_counter() - started))):
                break  # the current case is over its time
            line = proc.stdout.readline()
            if not line:
                finished = True
                break
            event = json.loads(line)
            if event["what"] == "first":
                verdict = ("ok" if event["seconds"] <= ANY_VALUE_S else
                           "shows working" if event["working"] and event["shown"] <= ANY_VALUE_S else "OVER")
                print(f"  first display: shown after {event['shown'] * 1e3:.0f} ms (working shown "
                      f"{'yes' if event['working'] else 'no'}), figure ready after {event['seconds'] * 1e3:.0f} ms; "
                      f"{event['imports'] * 1e3:.0f} ms of imports before, +{event['extra_mb']:.0f} MB [{verdict}]",
                      flush=True)
            elif event["what"] == "start":
                current, started = event, time.perf_counter()
            elif event["what"] == "ui":
                current.update(event)
            elif event["what"] == "case":
                if event["kind"] == "neighbour":
                    neighbours.append(event["total"] * 1e3)
                print(_line(event), flush=True)
                current = None
            elif event["what"] == "done":
                finished = True
                break
        selector.close()
        proc.kill()
        proc.wait()
        if finished or current is None:
            break
        ui = (f"UI blocked {current['blocked'] * 1e3:7.1f} ms, working shown {'yes' if current['working'] else 'no'}"
              if "blocked" in current else "UI still blocked")
        verdict = "shows working" if current.get("working") else "OVER"
        print(f"    {current['kind']:<9} {current['control']:<14} = {current['value']:<42} "
              f"not ready after {timeout_s:.0f} s (stopped), {ui}  [{verdict}]", flush=True)
        skip = current["index"] + 1
    if neighbours:
        median, most = statistics.median(neighbours), max(neighbours)
        verdict = "ok" if median < NEIGHBOUR_MEDIAN_MS and most < NEIGHBOUR_MAX_MS else "OVER"
        print(f"  neighbours of the defaults: median {median:.1f} ms, max {most:.1f} ms over {len(neighbours)} "
              f"updates [{verdict}: median < {NEIGHBOUR_MEDIAN_MS:.0f}, max < {NEIGHBOUR_MAX_MS:.0f} ms]", flush=True)


def split(app_name: str) -> None:
    """Per neighbour update of one LiveApp: compute (first time), draw and apply_figure, in ms; medians and maxima."""
    from pimlab_widgets.app import apply_figure
    from pimlab_widgets.catalog import APPS

    app = _live(APPS[app_name]())
    if not hasattr(app, "compute"):
        print(f"{app_name}: not a LiveApp (no compute / draw to split)")
        return
    defaults, rows = {name: control.value for name, control in app.controls.items()}, []
    for kind, name, value in _plan(app):
        if kind != "neighbour":
            continue
        app._holding = True  # set the control without the app's own update
        try:
            app.controls[name].value = value
            app.follow()
        finally:
            app._holding = False
        try:
            values = app.values
        except ValueError:
            continue
        start = time.perf_counter()
        data = app.compute(**values)
        computed = time.perf_counter()
        figure = app.draw(data)
        drawn = time.perf_counter()
        apply_figure(app.figure, figure)
        applied = time.perf_counter()
        app.data = data
        rows.append(((computed - start) * 1e3, (drawn - computed) * 1e3, (applied - drawn) * 1e3))
        app.set(**{name: defaults[name]})
    if rows:
        parts = zip(*rows)
        text = ", ".join(f"{what} median {statistics.median(v):.1f} / max {max(v):.1f}"
                         for what, v in zip(("compute", "draw", "apply"), parts))
        print(f"{app_name}: {len(rows)} neighbour updates (ms): {text}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds one value may take")
    parser.add_argument("--only", default="", help="only the apps whose name contains this text")
    parser.add_argument("--split", action="store_true", help="time compute / draw / apply of neighbour updates")
    parser.add_argument("--no-table", action="store_true",
                        help="switch pimlab's engine table off (PIMLAB_ENGINE_TABLE=0): every engine run is live")
    parser.add_argument("--split-child", help=argparse.SUPPRESS)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--skip", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.skip)
        return
    if args.split_child:
        split(args.split_child)
        return
    from pimlab_widgets.catalog import APPS

    if args.no_table:
        os.environ["PIMLAB_ENGINE_TABLE"] = "0"  # the children inherit it
    if args.split:  # each app in a fresh process (cold caches)
        for name in APPS:
            if args.only in name:
                subprocess.run([sys.executable, __file__, "--split-child", name], check=False)
        return
    print("targets: neighbours median < 50 ms, max < 100 ms; any accepted value ready <= 1 s or 'working...' shown "
          f"(UI back within ~0.3 s); extra memory <= {EXTRA_MB:.0f} MB. Timings on this machine, as loaded as it is. "
          f"Engine table {'off' if args.no_table else 'on'} (pimlab/engine_table.py).")
    for name in APPS:
        if args.only in name:
            run_app(name, args.timeout)


if __name__ == "__main__":
    main()
