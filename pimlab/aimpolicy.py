"""Whole AiM programs under ping-pong and DCS: which opcodes can be reordered, and what each policy wins back.

Every opcode declares the buffer entries it reads and writes (`BUFFER_USE`). pimlab's command engine
(`pimlab.schedule`) tracks GBuf and OBuf entries, so the four opcodes whose only state is GBuf entries, OBuf
entries and the open row can be reordered by ping-pong and DCS: WR_GB, WR_BIAS, MAC_ABK, RD_MAC. Every other
opcode is a barrier (`BARRIER_REASON` says why): it touches state the engine does not track (bank cells
written by COPY_GBBK, EWMUL, WR_ABK and host writes, the activation-function registers of AF / RD_AF, host
memory), or it is a barrier by definition (SYNC, EOC).

A program is cut into runs: maximal sequences of reorderable opcodes, separated by barrier runs. The
static time of the program is `aimsim.replay`'s count (aim_simulator's controller). Under a policy, each
reorderable run is scheduled by the engine for one channel (the slowest of the channels its masks name)
as written under the static policy and, in each reading, under the policy; the run's saving is the
difference, and the program's time
under the policy is the replayed count minus the savings (barrier runs keep their replayed time). Two
readings of the buffer names:

- literal: as the ISR format says it, GBuf entries from 0 (`WR_GB` n fills entries 0..n-1, `MAC_ABK`
  reads them in column order) and one output entry, 0 (the format names no output index);
- renamed: what a compiler targeting DCS would emit from the same program: tile k (a `WR_BIAS` ...
  `RD_MAC` group) accumulates into output entry k mod OBuf entries, and successive `WR_GB` fills
  that fit in half the GBuf alternate between its two halves (the `MAC_ABK`s after a fill read that half);
  with two or more output entries the next tile's `WR_BIAS` is emitted before this tile's `RD_MAC` (the
  engine's queues are in order, so a renamed entry helps only if the program lets it go early).
  Renaming changes no data flow: each tile still reads the inputs last written before it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pimlab import aimtrace
from pimlab.aimsim import CHANNELS, Program, ReplayResult, replay
from pimlab.engine.timing import AIMSIM_ENGINE
from pimlab.hardware import AIMSIM
from pimlab.isa import Kind, expand
from pimlab.schedule import POLICIES, schedule
from pimlab.validate import check_int

__all__ = ["BUFFER_USE", "REORDERABLE", "BARRIER_REASON", "READINGS", "Run", "runs", "PolicyResult",
           "policy_cycles"]

# opcode: (entries read, entries written); GBuf / OBuf are the engine's entries, "bank" the DRAM cells,
# "AF" the activation registers, "GPR" the host-side registers, "host" the host's memory.
BUFFER_USE = {
    "WR_GB": (("GPR",), ("GBuf",)),
    "WR_BIAS": (("GPR",), ("OBuf",)),
    "MAC_ABK": (("GBuf", "bank", "OBuf"), ("OBuf",)),
    "MAC_SBK": (("GBuf", "bank", "OBuf"), ("OBuf",)),
    "RD_MAC": (("OBuf",), ("GPR",)),
    "AF": (("OBuf",), ("AF",)),
    "RD_AF": (("AF",), ("GPR",)),
    "EWMUL": (("bank",), ("bank",)),
    "EWADD": (("GPR",), ("GPR",)),
    "COPY_BKGB": (("bank",), ("GBuf",)),
    "COPY_GBBK": (("GBuf",), ("bank",)),
    "WR_ABK": (("GPR",), ("bank",)),
    "WR_SBK": (("GPR",), ("bank",)),
    "RD_SBK": (("bank",), ("GPR",)),
    "R MEM": (("bank",), ("host",)),
    "W MEM": (("host",), ("bank",)),
    "SYNC": ((), ()),
    "EOC": ((), ()),
}
REORDERABLE = ("WR_GB", "WR_BIAS", "MAC_ABK", "RD_MAC")
BARRIER_REASON = {
    "MAC_SBK": "single-bank MAC: the engine models all-bank MACs only",
    "AF": "reads the accumulators into the activation unit, a register the engine does not track",
    "RD_AF": "reads the activation registers",
    "EWMUL": "reads and writes bank cells",
    "EWADD": "host-side GPR arithmetic",
    "COPY_BKGB": "writes GBuf entries from bank cells (a data path the engine does not model)",
    "COPY_GBBK": "writes bank cells",
    "WR_ABK": "writes bank cells",
    "WR_SBK": "writes bank cells",
    "RD_SBK": "reads bank cells to the host",
    "R MEM": "host read of bank cells",
    "W MEM": "host write of bank cells",
    "W CFR": "changes the configuration the next opcodes run under",
    "R CFR": "host register access",
    "W GPR": "host register access",
    "R GPR": "host register access",
    "SYNC": "a barrier by definition",
    "EOC": "ends the program",
}
READINGS = ("literal", "renamed")


def _key(request) -> str:
    return request.op if request.kind == "AiM" else f"{request.kind} {request.op}"


@dataclass(frozen=True)
class Run:
    """A stretch of the program: `start`..`stop` request indices; reorderable or a barrier."""

    start: int
    stop: int
    reorderable: bool


def runs(program: Program) -> list[Run]:
    """The program cut into maximal reorderable runs and barrier runs."""
    out: list[Run] = []
    for i, request in enumerate(program.requests):
        movable = request.kind == "AiM" and request.op in REORDERABLE
        if out and out[-1].reorderable == movable:
            out[-1] = Run(out[-1].start, i + 1, movable)
        else:
            out.append(Run(i, i + 1, movable))
    return out


def _instructions(requests, reading: str, gbuf_entries: int, obuf_entries: int) -> list:
    """A reorderable run as pimlab instructions (`aimtrace`'s reading of the same lines), optionally renamed."""
    lines = []
    for r in requests:
        mask = f"{int(f'{r.mask:032b}'[::-1], 2):#x}"  # back to the file's bit order
        lines.append({"WR_GB": f"AiM WR_GB {r.opsize} 0 {mask}", "WR_BIAS": f"AiM WR_BIAS 0 {mask}",
                      "MAC_ABK": f"AiM MAC_ABK {r.opsize} {mask} {r.row}", "RD_MAC": f"AiM RD_MAC 0 {mask}"}[r.op])
    program = aimtrace.parse_trace("\n".join(lines + ["AiM EOC"]), gbuf_entries)
    if reading == "literal":
        return program
    out, tile, base, half = [], 0, 0, gbuf_entries // 2
    for ins in program:
        if ins.op == Kind.WR_INP:
            base = (half - base) if ins.op_size <= half else 0
            out.append(replace(ins, gbuf_idx=base))
        elif ins.op == Kind.MAC:
            out.append(replace(ins, gbuf_idx=base if ins.op_size <= half else 0, out_idx=tile % obuf_entries))
        elif ins.op == Kind.WR_BIAS:
            out.append(replace(ins, out_idx=tile % obuf_entries))
        else:  # RD_OUT closes the tile
            out.append(replace(ins, out_idx=tile % obuf_entries))
            tile += 1
    if obuf_entries > 1:  # the next tile's WR_BIAS (now on another entry) goes before this tile's RD_MAC
        for i in range(len(out) - 1):
            if out[i].op == Kind.RD_OUT and out[i + 1].op == Kind.WR_BIAS:
                out[i], out[i + 1] = out[i + 1], out[i]
    return out


def _engine_cycles(commands, policy: str, gbuf_entries: int, obuf_entries: int) -> int:
    """The adapter to pimlab's command engine (one place to re-point when the engine's interface changes)."""
    return schedule(commands, policy, AIMSIM_ENGINE, gbuf_entries, obuf_entries).total_cycles


@dataclass(frozen=True)
class PolicyResult:
    """A program's cycles under each policy and reading; `static` is aim_simulator's replayed count."""

    source: str
    static: int
    cycles: dict  # (policy, reading) -> cycles
    reorderable_share: float  # fraction of the static cycles spent in reorderable runs
    barriers: dict  # opcode -> lines, for the opcodes that cut the program

    def gain(self, policy: str, reading: str = "renamed") -> float:
        """Static cycles over the policy's cycles (1.0 = no gain)."""
        return self.static / self.cycles[(policy, reading)]


def policy_cycles(program: Program, obuf_entries: int = 4, replayed: ReplayResult | None = None) -> PolicyResult:
    """The program under every policy and both readings (see the module docstring)."""
    obuf_entries = check_int("obuf_entries", obuf_entries, 1, 64)
    replayed = replayed or replay(program)
    gbuf = AIMSIM.gbuf_entries
    decoded = replayed.decoded_at  # indexed, not copied: a long block's skipped stretches stay references

    def start(i: int) -> int:
        return decoded[i] if i < len(decoded) else replayed.cycles
    saving = {(p, r): 0 for p in POLICIES for r in READINGS}
    reorderable_cycles = 0
    cache: dict = {}
    barriers: dict = {}
    for run in runs(program):
        requests = program.requests[run.start:run.stop]
        if not run.reorderable:
            for r in requests:
                barriers[_key(r)] = barriers.get(_key(r), 0) + 1
            continue
        reorderable_cycles += start(run.stop) - start(run.start)
        channels = sorted({c for r in requests for c in range(CHANNELS) if r.mask >> c & 1})
        baseline = None
        for reading in READINGS:  # literal first: its static time is the baseline (the replayed program)
            instructions = _instructions(requests, reading, gbuf, obuf_entries)
            times = {}
            for commands in expand(instructions, channels):
                key = (reading, commands.kind.tobytes(), commands.gbuf.tobytes(), commands.obuf.tobytes(),
                       commands.row.tobytes())
                if key not in cache:
                    entries = 1 if reading == "literal" else obuf_entries
                    cache[key] = {p: _engine_cycles(commands, p, gbuf, entries) for p in POLICIES}
                for p, c in cache[key].items():
                    times[p] = max(times.get(p, 0), c)
            baseline = times["static"] if baseline is None else baseline
            for p in POLICIES:
                saving[(p, reading)] += baseline - times[p]
    cycles = {k: replayed.cycles - v for k, v in saving.items()}
    return PolicyResult(program.source, replayed.cycles, cycles, reorderable_cycles / replayed.cycles, barriers)
