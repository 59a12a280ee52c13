"""Command line: `python -m pimlab reproduce [--figures 2,7] [--json FILE] [--out DIR]`,
`python -m pimlab simulate FILE --policy static|pingpong|dcs [--preset NAME] [--json] [--csv OUT]
[--chrome-trace OUT.json]`."""

from __future__ import annotations

import argparse
import json
import sys

from pimlab import figures
from pimlab.aimtrace import replay_trace
from pimlab.engine.timing import ENGINE_PRESETS
from pimlab.reproduce import format_table, to_json
from pimlab.schedule import POLICIES


def _figure_list(text: str) -> list[str]:
    wanted = [part.strip() for part in text.split(",") if part.strip()]
    known = figures.figure_ids()
    for figure_id in wanted:
        if figure_id not in known:
            raise argparse.ArgumentTypeError(f"figure {figure_id!r} is not registered; known: {', '.join(known)}")
    return wanted


def _reproduce(args) -> int:
    records = figures.scorecard(args.figures)
    print(format_table(records))
    if args.json:
        with open(args.json, "w") as out:
            out.write(to_json(records) + "\n")
    if args.out:
        from pimlab.export import write_reproduction

        print(write_reproduction(args.out, records, args.figures))
    return 0


def _simulate(args) -> int:
    result = replay_trace(args.file, args.policy, args.preset, obuf_entries=args.obuf_entries)
    if args.csv:
        with open(args.csv, "w") as out:
            out.write(result.trace.to_csv())
    if args.chrome_trace:
        from pimlab.chrome_trace import write_chrome_trace

        write_chrome_trace(dict(zip(result.channels.tolist(), result.channel_traces)), args.chrome_trace)
    if args.json:
        print(json.dumps(result.summary(), indent=2))
        return 0
    print(f"policy {result.policy}, preset {result.preset}, {len(result.channels)} channel(s)")
    print(f"total cycles     {result.total_cycles}")
    print(f"MAC utilization  {100 * result.mac_utilization:.2f} %")
    for key, cycles in result.breakdown().items():
        print(f"  {key:<17}{cycles}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pimlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    reproduce = commands.add_parser("reproduce", help="print the paper-vs-pimlab table")
    reproduce.add_argument("--figures", type=_figure_list, default=None,
                           help="comma-separated figure ids, e.g. 2,7,IV (default: all)")
    reproduce.add_argument("--json", metavar="FILE", help="also write the records as JSON")
    reproduce.add_argument("--out", metavar="DIR", help="also write reproduction.json / .md and every figure "
                           "(HTML; PNG and SVG with kaleido and a Chromium) into DIR")
    reproduce.set_defaults(run=_reproduce)
    simulate = commands.add_parser("simulate", help="schedule an AiM ISR trace file and print its cycles")
    simulate.add_argument("file", help="an aim_simulator ISR trace (AiM WR_GB / MAC_ABK / RD_MAC ... EOC)")
    simulate.add_argument("--policy", choices=tuple(POLICIES), default="static")
    simulate.add_argument("--preset", choices=ENGINE_PRESETS, default="aimsim",
                          help="aimsim: aim_simulator as it runs (32 channels, no refresh); aim: pimlab's AiM "
                               "(refresh every tREFI, cycles counted from 0 to the last completion)")
    simulate.add_argument("--obuf-entries", type=int, default=None, help="output entries (default: the preset's)")
    simulate.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    simulate.add_argument("--csv", metavar="OUT", help="also write the slowest channel's trace as CSV")
    simulate.add_argument("--chrome-trace", metavar="OUT.json",
                          help="also write the schedule as a Chrome / Perfetto trace (ui.perfetto.dev)")
    simulate.set_defaults(run=_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as error:
        print(f"pimlab: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
