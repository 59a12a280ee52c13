"""Command line: `python -m pimlab reproduce [--figures 2,7] [--json FILE] [--out DIR]`,
`python -m pimlab simulate FILE --policy static|pingpong|dcs [--preset NAME] [--json] [--csv OUT]
[--chrome-trace OUT.json]`,
`python -m pimlab step --system cent|neupims|a100 --model M --modules N --tp T --pp P (--context L | --dataset D)
[--batch B] [--techniques baseline|tcp|tcp+dcs|tcp+dcs+dpa] [--ignore-capacity] [--beyond-window] [--json]`."""

from __future__ import annotations

import argparse
import json
import sys
from importlib import import_module

# numpy, the command engine, the figures and the system model are imported where they are used: `simulate`
# starts without what it does not need (a fifth of a whole program's replay time, issue 11).
_SNIFF_LINES = 1000  # `simulate` reads this many lines of a file without numpy to rule out the command engine


class _Choices:
    """An option's allowed values, looked up when argparse needs them (the option is given, or --help; a
    metavar keeps argparse from listing them when the option is declared). The default is allowed without a
    look-up: `--policy static` on a whole program imports neither numpy nor the engine."""

    def __init__(self, module: str, name: str, default: str):
        self.module, self.name, self.default = module, name, default

    def _values(self) -> tuple:
        return tuple(getattr(import_module(self.module), self.name))

    def __contains__(self, value) -> bool:
        return value == self.default or value in self._values()

    def __iter__(self):
        return iter(self._values())


def _figure_list(text: str) -> list[str]:
    from pimlab import figures

    wanted = [part.strip() for part in text.split(",") if part.strip()]
    known = figures.figure_ids()
    for figure_id in wanted:
        if figure_id not in known:
            raise argparse.ArgumentTypeError(f"figure {figure_id!r} is not registered; known: {', '.join(known)}")
    return wanted


def _reproduce(args) -> int:
    from pimlab import figures
    from pimlab.reproduce import format_table, to_json

    records = figures.scorecard(args.figures)
    print(format_table(records))
    if args.json:
        with open(args.json, "w") as out:
            out.write(to_json(records) + "\n")
    if args.out:
        from pimlab.export import write_reproduction

        print(write_reproduction(args.out, records, args.figures))
    return 0


def _simulate_program(args) -> int:
    """A whole program (host requests, every opcode): aim_simulator's memory system, per op group."""
    from pimlab import aimsim

    if args.chrome_trace:
        raise ValueError("--chrome-trace draws the command engine's per-channel schedules; whole programs with op "
                         "groups (--groups) have none")
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
    """An engine trace (one mask, the six opcodes the engine schedules) channel by channel; timelines only when a
    trace is written (--csv, --chrome-trace): otherwise totals in bounded time and memory. Anything else goes to
    the whole-program simulator; a file whose first lines already rule the engine out (a CENT program) goes there
    without importing numpy or the engine."""
    from pimlab.aimsim import is_engine_trace

    if args.groups or not (args.chrome_trace or is_engine_trace(args.file, max_lines=_SNIFF_LINES)):
        return _simulate_program(args)  # --chrome-trace draws the engine's per-channel schedules
    from pimlab import aimtrace
    from pimlab.engine.timing import engine_preset

    table = aimtrace.engine_table(args.file, engine_preset(args.preset)[0].gbuf_entries)  # numpy, whole file
    # False: a line rules the engine out; None: the numpy reader cannot tell, the line-by-line check decides
    if not args.chrome_trace and (table is False or table is None and not is_engine_trace(args.file)):
        return _simulate_program(args)
    result = aimtrace.replay_trace(table if table else args.file, args.policy, args.preset,
                                   obuf_entries=args.obuf_entries, timelines=bool(args.csv or args.chrome_trace))
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


def _step(args) -> int:
    from pimlab import system
    from pimlab.models import model_named
    from pimlab.workloads import dataset_named

    model = model_named(args.model)
    dataset = dataset_named(args.dataset) if args.dataset else None
    if args.system == "a100":  # --modules counts GPUs; without --batch, as many requests as their memory holds
        import numpy as np

        from pimlab.figures.fig20 import gpu_batch

        pool = np.full(args.batch or 4096, args.context) if dataset is None else dataset.sample(args.batch or 4096, 0)
        if args.context is not None and args.context > model.context_window and not args.beyond_window:
            raise ValueError(f"context must be at most {model.name}'s window of {model.context_window} tokens, "
                             f"got {args.context}; --beyond-window allows it as a what-if")
        lengths = pool if args.batch or args.ignore_capacity else gpu_batch(model, args.modules, pool)
        result = system.gpu_step(model, args.modules, lengths, ignore_capacity=args.ignore_capacity,
                                 beyond_window=args.beyond_window)
    else:
        lengths = system.batch_lengths(args.system, model, args.modules, args.tp, args.pp, args.techniques,
                                       args.context, dataset, args.batch, ignore_capacity=args.ignore_capacity)
        result = system.run_step(args.system, model, args.modules, args.tp, args.pp, lengths, args.techniques,
                                 ignore_capacity=args.ignore_capacity, beyond_window=args.beyond_window)
    if args.json:
        print(json.dumps({"system": result.system, "model": result.model, "batch": result.batch,
                          "context_tokens": result.context_tokens, "techniques": args.techniques,
                          "tp": args.tp, "pp": args.pp, "modules": args.modules,
                          "step_latency_ms": result.latency_ms, "tokens_per_s": result.tokens_per_s,
                          "mac_utilization": result.mac_utilization,
                          "components_ms": {k: 1e3 * float(v) for k, v in result.components_s.items()},
                          "whatifs": list(result.whatifs)}, indent=2))
        return 0
    print(result)
    if result.whatifs:
        print("what-if: " + "; ".join(result.whatifs))
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
    policies, presets = _Choices("pimlab.schedule", "POLICIES", "static"), _Choices("pimlab.engine.timing",
                                                                                   "ENGINE_PRESETS", "aimsim")
    simulate.add_argument("--policy", choices=policies, default=policies.default, metavar="POLICY",
                          help="%(choices)s (default %(default)s)")
    simulate.add_argument("--preset", choices=presets, default=presets.default, metavar="PRESET",
                          help="%(choices)s. aimsim: aim_simulator as it runs (32 channels, no refresh); aim: "
                          "pimlab's AiM (refresh every tREFI, cycles counted from 0 to the last completion)")
    simulate.add_argument("--obuf-entries", type=int, default=None, help="output entries (default: the preset's)")
    simulate.add_argument("--json", action="store_true", help="print a JSON summary instead of text")
    simulate.add_argument("--csv", metavar="OUT", help="also write the slowest channel's trace as CSV")
    simulate.add_argument("--chrome-trace", metavar="OUT.json",
                          help="also write the schedule as a Chrome / Perfetto trace (ui.perfetto.dev)")
    simulate.add_argument("--groups", action="store_true",
                          help="replay the whole program and print the cycles of each op group it marks "
                               "(`# group: NAME` lines); programs with host requests or other opcodes are "
                               "always replayed this way")
    simulate.set_defaults(run=_simulate)
    step = commands.add_parser("step", help="one decode step of a batch on CENT, NeuPIMs or A100s")
    step.add_argument("--system", choices=("cent", "neupims", "a100"), required=True)
    step.add_argument("--model", required=True, help="a Table I model (LLM-7B-32K, ...) or Llama2-7B / Llama2-70B")
    step.add_argument("--modules", type=int, required=True, help="PIM modules (for a100: GPUs)")
    step.add_argument("--tp", type=int, default=1)
    step.add_argument("--pp", type=int, default=1)
    where = step.add_mutually_exclusive_group(required=True)
    where.add_argument("--context", type=int, help="every request's context tokens")
    where.add_argument("--dataset", help="a Table II dataset: QMSum, Musique, multifieldqa, Loogle-SD")
    step.add_argument("--batch", type=int, default=None, help="requests (default: as many as the allocator admits)")
    step.add_argument("--techniques", default="baseline", choices=("baseline", "tcp", "tcp+dcs", "tcp+dcs+dpa"))
    step.add_argument("--ignore-capacity", action="store_true", help="what-if: time the batch whether or not it fits")
    step.add_argument("--beyond-window", action="store_true", help="what-if: allow a context past the model's window")
    step.add_argument("--json", action="store_true", help="print step_latency_ms, tokens_per_s, ... as JSON")
    step.set_defaults(run=_step)
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
