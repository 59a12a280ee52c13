"""Command line: `python -m pimlab reproduce [--figures 2,7] [--json FILE]`,
`python -m pimlab simulate FILE --policy static|pingpong|dcs [--preset NAME] [--json] [--csv OUT]`."""

from __future__ import annotations

import argparse
import json
import sys

from pimlab import aimsim, figures
from pimlab.aimtrace import simulate
from pimlab.hardware import ENGINE_PRESETS
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
    return 0


def _simulate_program(args) -> int:
    """A whole program (host requests, every opcode): aim_simulator's memory system, per op group."""
    if args.preset != "aimsim" or args.csv:
        raise ValueError(f"whole programs replay aim_simulator's controller only (--preset aimsim, no --csv); "
                         f"got --preset {args.preset}" + (f" --csv {args.csv}" if args.csv else ""))
    program = aimsim.read_program(args.file)
    result = aimsim.replay(program)
    if args.json:
        print(json.dumps(result.summary(), indent=2))
        return 0
    print(f"{result.requests} host requests, {result.commands} DRAM commands over {aimsim.CHANNELS} channels")
    print(f"memory_system_cycles  {result.cycles}  (aim_simulator's controller, static)")
    if args.policy != "static":
        from pimlab.aimpolicy import READINGS, policy_cycles
        estimate = policy_cycles(program, args.obuf_entries or 4, result)
        for reading in READINGS:
            print(f"{args.policy} ({reading})  {estimate.cycles[(args.policy, reading)]}  "
                  f"x{estimate.gain(args.policy, reading):.3f}")
    if args.groups:
        if not result.group_cycles:
            print(f"no op groups marked (lines `{aimsim.GROUP_MARK} NAME`)")
        for name, cycles in result.group_cycles:
            print(f"  {name:<24}{cycles:>10}  {100 * cycles / result.cycles:6.2f} %")
    return 0


def _simulate(args) -> int:
    if args.groups or not aimsim.is_engine_trace(args.file):
        return _simulate_program(args)
    result = simulate(args.file, args.policy, args.preset, obuf_entries=args.obuf_entries)
    if args.csv:
        with open(args.csv, "w") as out:
            out.write(result.trace.to_csv())
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
    reproduce.set_defaults(run=_reproduce)
    simulate = commands.add_parser("simulate", help="schedule an AiM ISR trace file and print its cycles")
    simulate.add_argument("file", help="an aim_simulator ISR trace (AiM WR_GB / MAC_ABK / RD_MAC ... EOC)")
    simulate.add_argument("--policy", choices=POLICIES, default="static")
    simulate.add_argument("--preset", choices=ENGINE_PRESETS, default="aimsim",
                          help="aimsim: aim_simulator as it runs (32 channels, no refresh); aim: pimlab's AiM "
                               "(refresh every tREFI, cycles counted from 0 to the last completion)")
    simulate.add_argument("--obuf-entries", type=int, default=None, help="output entries (default: the preset's)")
    simulate.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    simulate.add_argument("--csv", metavar="OUT", help="also write the slowest channel's trace as CSV")
    simulate.add_argument("--groups", action="store_true",
                          help="replay the whole program and print the cycles of each op group it marks "
                               "(`# group: NAME` lines); programs with host requests or other opcodes are "
                               "always replayed this way")
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
