"""Command line: `python -m pimlab reproduce [--figures 2,7] [--json FILE]`."""

from __future__ import annotations

import argparse
import sys

from pimlab import figures
from pimlab.reproduce import format_table, to_json


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pimlab", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    reproduce = commands.add_parser("reproduce", help="print the paper-vs-pimlab table")
    reproduce.add_argument("--figures", type=_figure_list, default=None,
                           help="comma-separated figure ids, e.g. 2,7,IV (default: all)")
    reproduce.add_argument("--json", metavar="FILE", help="also write the records as JSON")
    reproduce.set_defaults(run=_reproduce)
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
