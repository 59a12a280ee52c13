"""The public AiM simulator's ISR trace files (arkhadem/aim_simulator): read, write, and replay them (`replay_trace`).

A line is `AiM <OPCODE> <fields...>` (fields separated by spaces or commas, `#` starts a comment):
`WR_GB opsize GPR mask`, `WR_BIAS GPR mask`, `MAC_ABK opsize mask row`, `RD_MAC GPR mask`, `SYNC`, `EOC`.
Bit i of a file's channel mask is channel 31 - i (`0x80000000` is channel 0); pimlab's `Instruction.ch_mask`
uses bit i for channel i, so masks are bit-reversed on the way in and out. The format names no GBuf
index, column or output index: AiM writes the GBuf and reads rows from entry / column 0 and has one
output register, so import sets them to 0 and export drops them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pimlab.engine.timing import EngineTiming, engine_preset
from pimlab.hardware import Module
from pimlab.isa import Instruction, Kind, expand
from pimlab.schedule import schedule
from pimlab.trace import BREAKDOWN_KEYS, Trace
from pimlab.validate import check_choice, check_int

__all__ = ["FILE_CHANNELS", "parse_trace", "read_trace", "format_trace", "write_trace", "SimulationResult",
           "replay_trace", "file_mask", "pimlab_mask"]

FILE_CHANNELS = 32  # aim_simulator's masks name 32 channels
_FIELDS = {"WR_GB": ("opsize", "gpr", "mask"), "WR_BIAS": ("gpr", "mask"), "MAC_ABK": ("opsize", "mask", "row"),
           "RD_MAC": ("gpr", "mask"), "SYNC": (), "EOC": ()}
_UNSUPPORTED = ("WR_SBK", "WR_ABK", "WR_AFLUT", "RD_AF", "RD_SBK", "COPY_BKGB", "COPY_GBBK", "MAC_SBK", "AF",
                "EWMUL", "EWADD")


def pimlab_mask(mask: int) -> int:
    """A file's channel mask (bit 31 - c = channel c) as pimlab's (bit c = channel c)."""
    mask = check_int("channel_mask", mask, 1, 2**FILE_CHANNELS - 1)
    return sum(1 << c for c in range(FILE_CHANNELS) if mask >> (FILE_CHANNELS - 1 - c) & 1)


def file_mask(ch_mask: int) -> int:
    """pimlab's channel mask as a file's; channels above 31 cannot be written."""
    if ch_mask >> FILE_CHANNELS:
        raise ValueError(f"ch_mask must name channels 0..{FILE_CHANNELS - 1} only, got {ch_mask:#x}")
    return sum(1 << (FILE_CHANNELS - 1 - c) for c in range(FILE_CHANNELS) if ch_mask >> c & 1)


def _number(token: str, what: str, lineno: int) -> int:
    try:
        return int(token, 16) if token.lower().startswith("0x") else int(token)
    except ValueError:
        raise ValueError(f"line {lineno}: {what} must be an integer (decimal or 0x hex), got {token!r}") from None


def parse_trace(text: str, gbuf_entries: int = 64) -> list[Instruction]:
    """The instructions of a trace's text, up to its EOC (a long WR_GB / MAC_ABK splits at the GBuf size)."""
    gbuf_entries = check_int("gbuf_entries", gbuf_entries, 1, 4096)
    out: list[Instruction] = []
    ended = False
    for lineno, line in enumerate(text.splitlines(), 1):
        tokens = [t for t in re.split(r"[\s,]+", line.split("#", 1)[0].strip()) if t]
        if not tokens:
            continue
        if tokens[0] != "AiM":
            raise ValueError(f"line {lineno}: only AiM ISR lines are supported (`AiM <OPCODE> ...`), got {line!r}")
        opcode = tokens[1].removeprefix("ISR_") if len(tokens) > 1 else ""
        if opcode in _UNSUPPORTED:
            raise ValueError(f"line {lineno}: opcode {opcode} is not modelled by pimlab; supported: "
                             f"{', '.join(_FIELDS)}")
        check_choice(f"line {lineno}: opcode", opcode, tuple(_FIELDS))
        names = _FIELDS[opcode]
        if len(tokens) - 2 != len(names):
            raise ValueError(f"line {lineno}: {opcode} takes {len(names)} fields ({' '.join(names)}), "
                             f"got {len(tokens) - 2}")
        f = {name: _number(tok, name, lineno) for name, tok in zip(names, tokens[2:])}
        if opcode == "EOC":
            ended = True
            break
        if opcode == "SYNC":
            continue  # a barrier: channels are scheduled one by one, so it changes nothing here
        mask = pimlab_mask(f["mask"])
        if opcode in ("WR_GB", "MAC_ABK"):
            size = check_int(f"line {lineno}: opsize", f["opsize"], 1, 1 << 20)
            for start in range(0, size, gbuf_entries):
                part = min(gbuf_entries, size - start)
                if opcode == "WR_GB":
                    out.append(Instruction(Kind.WR_INP, mask, part, gpr_addr=f["gpr"] + start, gbuf_idx=0))
                else:
                    out.append(Instruction(Kind.MAC, mask, part, gbuf_idx=0, row=f["row"], col=start % 64, out_idx=0))
        else:
            op = Kind.WR_BIAS if opcode == "WR_BIAS" else Kind.RD_OUT
            out.append(Instruction(op, mask, 1, gpr_addr=check_int(f"line {lineno}: GPR", f["gpr"], 0), out_idx=0))
    if not ended:
        raise ValueError("the trace must end with an `AiM EOC` line; none found")
    if not out:
        raise ValueError("the trace must hold at least one instruction before EOC, got none")
    return out


def read_trace(path, gbuf_entries: int = 64) -> list[Instruction]:
    """Instructions of an AiM ISR trace file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"trace file must exist, got {str(path)!r}")
    return parse_trace(path.read_text(), gbuf_entries)


def format_trace(instructions) -> str:
    """Instructions in the AiM ISR trace format, ending with EOC (GBuf index, column and output index dropped)."""
    lines = ["# written by pimlab (GBuf index, column and output index are not part of the format)"]
    for i in instructions:
        mask = f"{file_mask(i.ch_mask):#x}"
        if i.op == Kind.WR_INP:
            lines.append(f"AiM WR_GB {i.op_size} {i.gpr_addr} {mask}")
        elif i.op == Kind.MAC:
            lines.append(f"AiM MAC_ABK {i.op_size} {mask} {i.row}")
        else:
            name = "WR_BIAS" if i.op == Kind.WR_BIAS else "RD_MAC"
            lines += [f"AiM {name} {i.gpr_addr + k} {mask}" for k in range(i.op_size)]
    lines.append("AiM EOC")
    return "\n".join(lines) + "\n"


def write_trace(instructions, path) -> None:
    """Write instructions as an AiM ISR trace file."""
    Path(path).write_text(format_trace(instructions))


@dataclass(frozen=True)
class SimulationResult:
    """A trace file scheduled channel by channel; the run lasts as long as its slowest channel."""

    policy: str
    preset: str
    channels: np.ndarray  # channels that receive commands
    channel_cycles: np.ndarray  # total cycles of each of them
    trace: Trace  # the slowest channel's trace
    mac_cycles: int  # over all channels
    channel_traces: tuple = ()  # the trace of each channel (one object shared by channels with identical streams)

    @property
    def total_cycles(self) -> int:
        return int(self.channel_cycles.max())

    @property
    def mac_utilization(self) -> float:
        """MAC cycles over channels x total cycles."""
        return self.mac_cycles / (len(self.channels) * self.total_cycles)

    def breakdown(self) -> dict[str, int]:
        return self.trace.breakdown()

    def summary(self) -> dict:
        return {"policy": self.policy, "preset": self.preset, "total_cycles": self.total_cycles,
                "mac_utilization": self.mac_utilization, "channels": len(self.channels),
                "breakdown": self.breakdown(), "breakdown_keys": list(BREAKDOWN_KEYS)}


def replay_trace(source, policy: str = "static", preset: str = "aimsim", obuf_entries: int | None = None,
             module: Module | None = None, timing: EngineTiming | None = None) -> SimulationResult:
    """Schedule a trace (a path, or a list of instructions) on every channel it names.

    Channels with identical streams are scheduled once. Like-for-like with aim_simulator when all masks are
    equal; with differing masks this per-channel view leaves out RD_MAC blocking other channels and
    head-of-line blocking in the request buffers, so it can be optimistic there: `pimlab.aimsim.replay` runs
    whole programs (every opcode, host requests, any masks) with those rules.
    """
    preset_module, preset_timing = engine_preset(preset)
    module = module or preset_module
    timing = timing or preset_timing
    instructions = source if isinstance(source, list) else read_trace(source, module.gbuf_entries)
    entries = obuf_entries if obuf_entries is not None else module.obuf_entries
    channels = sorted({c for i in instructions for c in i.channels})
    if not channels:
        raise ValueError("source must hold at least one instruction, got none")
    if channels[-1] >= module.channels:
        raise ValueError(f"channel masks must name channels below {module.channels}, got channel {channels[-1]}")
    masks = np.array([i.ch_mask for i in instructions], dtype=np.uint64)
    traces, per_channel = {}, []
    for c in channels:  # channels that receive the same instructions get the same stream: schedule it once
        key = ((masks >> np.uint64(c)) & np.uint64(1)).astype(bool).tobytes()
        if key not in traces:
            traces[key] = schedule(expand(instructions, c), policy, timing, module.gbuf_entries, entries)
        per_channel.append(traces[key])
    cycles = [trace.total_cycles for trace in per_channel]
    mac = sum(trace.mac_cycles for trace in per_channel)
    slowest = per_channel[int(np.argmax(cycles))]
    return SimulationResult(policy, timing.name, np.array(channels), np.array(cycles), slowest, mac,
                            tuple(per_channel))
