"""Whole AiM programs as the public AiM simulator runs them: every ISR opcode, host memory requests, 32 channels.

`read_program` parses an ISR trace (plain or gzip) of arkhadem/aim_simulator's format, host `R MEM` /
`W MEM` / `W CFR` lines included; `replay` runs it through a model of that simulator's memory system and
returns its `memory_system_cycles`. The model follows the simulator's source (commit 0f28a07; file names
below are under its `src/`), rule by rule:

- `frontend/impl/memory_trace/aim_trace.cpp`: one host request per line, handed to the memory system one
  per cycle; `EOC` ends the run when every channel has called it back (the count is that cycle + 1).
- `memory_system/impl/aim_DRAM_system.cpp` (the AiM DMA): the head host request is decoded in one cycle
  into opsize x channels per-channel requests (channel mask bit i = channel 31 - i; columns from 0);
  what a channel's controller refuses waits in that channel's remaining queue, and the DMA decodes
  nothing else until every one is accepted (head-of-line blocking). RD_MAC, RD_AF, SYNC and EOC block
  the DMA until each channel calls back (cross-channel blocking). SYNC and EOC go to all 32 channels.
  `R/W MEM c b r` is one request to channel c, bank b, row r; `W CFR a d` sets a config register (AF
  reads its mode from it: AF works on row 2^29 + mode); EWADD and GPR requests take one decode cycle.
- `dram_controller/impl/AiM_dram_controller.cpp`: per channel, buffers of 33 requests (`ReqBuffer`
  accepts while size <= 32); an AiM request is refused while host reads/writes are queued and vice
  versa; a read finds any queued write "to the same address" (host MEM requests carry none, so any) and
  completes the next cycle; the active buffer first, then the AiM head in order (EOC/SYNC at the head
  are taken at once), else FR-FCFS over the read or write buffer with the 0.2/0.8 watermarks; a closing
  command may not close a row that a request in the active buffer opened; a TMOD mode switch is issued
  instead when the head needs the other mode (register I/O: WR_GB, WR_BIAS, RD_MAC, RD_AF); one
  completion per cycle from the in-order pending-read queue, EOC/SYNC only once no write is in flight.
- `dram/impl/GDDR6.cpp` (presets GDDR6_AiM_org / GDDR6_AiM_timing): commands, their scopes, row
  prerequisites (all-bank commands need every bank open on their row: PREA, then ACT16), state actions,
  latencies and the timing-constraint table, transcribed in `_constraints` below; `dram/node.h`: a
  constraint at a level binds the command's own channel / bank group / bank. One departure found by
  replaying, not by reading: the bank-group rows never bind in the C++ run (`BANKGROUP_CONSTRAINTS`).
- No refresh fires: the all-bank refresh manager loops over ranks and GDDR6 has none.

The simulation is event driven (a controller is visited only in cycles where it can act) and exact;
channels in the same state share one controller (split when a request names some of them, merged again
when they are in the same state, idle or busy), and where the program repeats itself (compiled traces are
loops: 64 writes to a row, a row after the other, tile after tile of a GEMV) whole periods are skipped once
the memory system's state recurs (`_Repeats`; `replay(..., skip_repeats=False)` runs every event and gives
the same counts, which the tests check). Channels are compared without the arrival cycles of their AiM
requests (served in order, those never decide anything). A snapshot is taken where the work left in the
stretch (controller ticks per request so far) pays for it; the stretch ahead is scanned only as far as a
snapshot or jump needs; the decode cycles of skipped requests are kept as references (`DecodeCycles`), so
memory does not grow with what is skipped. Traces are read in blocks, each distinct line parsed once.
"""

from __future__ import annotations

import gc
import gzip
import zlib
from array import array
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache, wraps
from heapq import heappop, heappush
from itertools import count, islice
from operator import eq, itemgetter
from pathlib import Path
from typing import NamedTuple

__all__ = ["CHANNELS", "DecodeCycles", "OPCODES", "HostRequest", "Program", "parse_program", "read_program", "replay",
           "ReplayResult", "TIMING_CYCLES"]

CHANNELS = 32  # aim_DRAM_system.cpp MAX_CHANNEL_COUNT, GDDR6_AiM_org
BANKS = 16
BUFFER_LIMIT = 32  # request.h ReqBuffer: max_size 32, enqueue while size <= max_size (33 requests)

# GDDR6_AiM_timing as resolved at run time (nRRDS / nRRDL come from GDDR6.cpp's JEDEC table for x16, 2000 MT/s;
# nCLREG, nCLGB, nCWLREG, nCWLGB, nWPRE are set after the preset). Host reads and writes need tRCD_RD, tCL,
# tCWL, tWR, which pimlab's `Timing` also holds; they live here so this module matches the simulator by itself.
TIMING_CYCLES = dict(nBL=2, nCL=50, nRCDRD=36, nRCDRDMAC=56, nRCDEWMUL=25, nRCDRDAF=86, nRCDRDCP=66, nRCDWR=28,
                     nRCDWRCP=48, nRP=32, nRAS=54, nRC=89, nWR=33, nRTP=12, nCWL=6, nCCDS=2, nCCDL=2, nRRDS=5,
                     nRRDL=6, nWTRS=9, nWTRL=11, nFAW=28, nRFC=210, nRFCpb=105, nRREFD=21, nCLREG=0, nCLGB=1,
                     nCWLREG=1, nCWLGB=1, nWPRE=1, nMODCH=32)

_COMMANDS = ("ACT", "PREA", "PRE", "RD", "WR", "RDA", "WRA", "REFab", "REFpb", "ACT4", "ACT16", "PRE4", "MAC",
             "MAC16", "AF16", "EWMUL16", "RDCP", "WRCP", "WRGB", "RDMAC16", "RDAF16", "WRMAC16", "WRA16", "TMOD",
             "SYNC", "EOC")
C = {name: i for i, name in enumerate(_COMMANDS)}
_CH, _BG, _BANK, _ROW, _COL = range(5)  # GDDR6 levels
_SCOPE = dict(REFab=_CH, REFpb=_BANK, ACT16=_CH, ACT4=_BG, ACT=_ROW, PREA=_CH, PRE4=_BG, PRE=_BANK, RD=_COL,
              WR=_COL, RDA=_COL, WRA=_COL, MAC=_COL, MAC16=_CH, AF16=_CH, EWMUL16=_CH, RDCP=_COL, WRCP=_COL,
              WRGB=_CH, RDMAC16=_CH, RDAF16=_CH, WRMAC16=_CH, WRA16=_CH, TMOD=_CH, SYNC=_CH, EOC=_CH)
_OPENING = {C["ACT"], C["ACT4"], C["ACT16"]}
_CLOSING = {C[n] for n in ("PREA", "PRE", "RDA", "WRA", "PRE4", "WRA16")}


def _latencies(t: dict) -> dict:
    """GDDR6.cpp set_timing_vals: cycles from a final command's issue to its request's completion."""
    return {C["WR"]: t["nCWL"] + t["nBL"], C["WRGB"]: t["nCWLGB"] + t["nBL"], C["WRMAC16"]: t["nCWLREG"] + t["nBL"],
            C["RDMAC16"]: t["nCLREG"] + t["nBL"], C["RDAF16"]: t["nCLREG"] + t["nBL"], C["RD"]: t["nCL"] + t["nBL"],
            C["RDCP"]: 1, C["WRCP"]: 1, C["MAC"]: 1, C["MAC16"]: 1, C["AF16"]: 1, C["EWMUL16"]: 1,
            C["WRA16"]: t["nCWL"] + t["nBL"] + t["nRP"], C["SYNC"]: 1, C["EOC"]: 1}


def _constraints(t: dict) -> list:
    """GDDR6.cpp populate_timingcons: (level, earlier commands, later commands, cycles), in the source's order."""
    ch, bg, bank = _CH, _BG, _BANK
    rd_wr_reg = t["nBL"] + 3 - t["nCWL"] + t["nWPRE"]  # tRTW shape: CL + BL + 3 - CWL + WPRE
    return [
        (ch, "RD RDA RDMAC16 RDAF16", "RD RDA RDMAC16 RDAF16", t["nBL"]),
        (ch, "WR WRA WRA16 WRGB WRMAC16", "WR WRA WRA16 WRGB WRMAC16", t["nBL"]),
        (ch, "RD RDA MAC MAC16 RDCP RDMAC16 RDAF16", "RD RDA MAC MAC16 RDCP RDMAC16 RDAF16", t["nCCDS"]),
        (ch, "WR WRA WRA16 WRGB WRCP WRMAC16", "WR WRA WRA16 WRGB WRCP WRMAC16", t["nCCDS"]),
        (ch, "RD RDA MAC RDCP RDMAC16 RDAF16 MAC16 EWMUL16", "RDMAC16 RDAF16 MAC16 EWMUL16", t["nCCDL"]),
        (ch, "RDMAC16 RDAF16 MAC16 EWMUL16", "RD RDA MAC RDCP RDMAC16 RDAF16 MAC16 EWMUL16", t["nCCDL"]),
        (ch, "WR WRA WRCP WRA16 WRMAC16 EWMUL16", "WRA16 WRMAC16 EWMUL16", t["nCCDL"]),
        (ch, "WRA16 WRMAC16 EWMUL16", "WR WRA WRCP WRA16 WRMAC16 EWMUL16", t["nCCDL"]),
        (ch, "RD RDA", "WR WRA", t["nCL"] + rd_wr_reg),
        (ch, "RD RDA", "WRA16", t["nCL"] + rd_wr_reg),
        (ch, "RDMAC16 RDAF16", "WR WRA", t["nCLREG"] + rd_wr_reg),
        (ch, "RDMAC16 RDAF16", "WRA16", t["nCLREG"] + rd_wr_reg),
        (ch, "RD RDA", "WRGB", t["nCL"] + t["nBL"] + 3 - t["nCWLGB"] + t["nWPRE"]),
        (ch, "RD RDA", "WRMAC16", t["nCL"] + t["nBL"] + 3 - t["nCWLREG"] + t["nWPRE"]),
        (ch, "RDMAC16 RDAF16", "WRGB", t["nCLREG"] + t["nBL"] + 3 - t["nCWLGB"] + t["nWPRE"]),
        (ch, "RDMAC16 RDAF16", "WRMAC16", t["nCLREG"] + t["nBL"] + 3 - t["nCWLREG"] + t["nWPRE"]),
        (ch, "WR WRA", "RD RDA RDMAC16 RDAF16", t["nCWL"] + t["nBL"] + t["nWTRS"]),
        (ch, "WRA16", "RD RDA RDMAC16 RDAF16", t["nCWL"] + t["nBL"] + t["nWTRS"]),
        (ch, "WRGB", "RD RDA RDMAC16 RDAF16", t["nCWLGB"] + t["nBL"] + t["nWTRS"]),
        (ch, "WRMAC16", "RD RDA RDMAC16 RDAF16", t["nCWLREG"] + t["nBL"] + t["nWTRS"]),
        (ch, "WR WRA", "RDMAC16 RDAF16", t["nCWL"] + t["nBL"] + t["nWTRL"]),
        (ch, "WRA16", "RD RDA RDMAC16 RDAF16", t["nCWL"] + t["nBL"] + t["nWTRL"]),
        (ch, "WRMAC16", "RD RDA RDMAC16 RDAF16", t["nCWLREG"] + t["nBL"] + t["nWTRL"]),
        (ch, "RD RDCP MAC MAC16 AF16 EWMUL16", "PREA", t["nRTP"]),
        (ch, "MAC16 AF16 EWMUL16", "PRE PRE4", t["nRTP"]),
        (ch, "WR WRCP", "PREA", t["nCWL"] + t["nBL"] + t["nWR"]),
        (ch, "EWMUL16", "PRE PRE4 PREA", t["nCWL"] + t["nWR"]),
        (ch, "ACT16", "ACT ACT4 ACT16", t["nRRDS"]),
        (ch, "ACT ACT4 ACT16", "ACT", t["nRRDS"]),
        (ch, "ACT ACT4 ACT16", "ACT16", t["nRRDL"]),
        (ch, "ACT16", "ACT ACT4 ACT16", t["nRRDL"]),
        (ch, "ACT ACT4 ACT16", "PREA", t["nRAS"]),
        (ch, "ACT16", "PRE PRE4", t["nRAS"]),
        (ch, "PRE PRE4 PREA", "ACT16", t["nRP"]),
        (ch, "PREA", "ACT ACT4 ACT16", t["nRP"]),
        (ch, "ACT ACT4 ACT16", "MAC16", t["nRCDRDMAC"]),
        (ch, "ACT ACT4 ACT16", "AF16", t["nRCDRDAF"]),
        (ch, "ACT ACT4 ACT16", "EWMUL16", t["nRCDEWMUL"]),
        (ch, "ACT16", "MAC", t["nRCDRDMAC"]),
        (ch, "ACT16", "RDCP", t["nRCDRDCP"]),
        (ch, "ACT16", "RD RDA", t["nRCDRD"]),
        (ch, "ACT ACT4 ACT16", "WRA16", t["nRCDWR"]),
        (ch, "ACT16", "WRCP", t["nRCDWRCP"]),
        (ch, "ACT16", "WR WRA", t["nRCDWR"]),
        (ch, "RDA", "ACT16", t["nRTP"] + t["nRP"]),
        (ch, "WRA", "ACT16", t["nCWL"] + t["nBL"] + t["nWR"] + t["nRP"]),
        (ch, "WRA16", "ACT ACT4 ACT16", t["nCWL"] + t["nBL"] + t["nWR"] + t["nRP"]),
        (ch, "ACT ACT4 ACT16", "REFab", t["nRC"]),
        (ch, "PRE PRE4 PREA", "REFab", t["nRP"]),
        (ch, "RDA", "REFab", t["nRTP"] + t["nRP"]),
        (ch, "WRA", "REFab", t["nCWL"] + t["nBL"] + t["nWR"] + t["nRP"]),
        (ch, "WRA16", "REFpb REFab", t["nCWL"] + t["nBL"] + t["nWR"] + t["nRP"]),
        (ch, "REFab", "ACT ACT4 ACT16", t["nRFC"]),
        (ch, "ACT ACT4 ACT16", "REFpb", t["nRRDL"]),
        (ch, "ACT16", "REFpb", t["nRC"]),
        (ch, "PREA", "REFpb", t["nRP"]),
        (ch, "REFpb", "ACT16", t["nRFCpb"]),
        (ch, "REFpb", "ACT ACT4 ACT16", t["nRREFD"]),
        (ch, "PREA", "PRE PRE4 PREA", t["nRP"]),
        (ch, "PRE PRE4", "PREA", t["nRP"]),
        (ch, "TMOD", "ACT PREA PRE RD WR RDA WRA REFab REFpb ACT4 ACT16 PRE4 MAC MAC16 AF16 EWMUL16 RDCP WRCP "
                     "WRGB RDMAC16 RDAF16 WRMAC16 WRA16 SYNC EOC", t["nMODCH"]),
        (bg, "RD RDA MAC RDCP", "RD RDA MAC RDCP", t["nCCDL"]),
        (bg, "WR WRA WRCP", "WR WRA WRCP", t["nCCDL"]),
        (bg, "WR WRA", "RD RDA", t["nCWL"] + t["nBL"] + t["nWTRL"]),
        (bg, "RD RDCP MAC", "PRE PRE4", t["nRTP"]),
        (bg, "WR WRCP", "PRE PRE4", t["nCWL"] + t["nBL"] + t["nWR"]),
        (bg, "ACT ACT4", "ACT ACT4", t["nRRDL"]),
        (bg, "ACT ACT4", "PRE4", t["nRAS"]),
        (bg, "ACT4", "PRE", t["nRAS"]),
        (bg, "PRE PRE4", "ACT4", t["nRP"]),
        (bg, "PRE4", "ACT", t["nRP"]),
        (bg, "RDA", "ACT4", t["nRTP"] + t["nRP"]),
        (bg, "WRA", "ACT4", t["nCWL"] + t["nBL"] + t["nWR"] + t["nRP"]),
        (bg, "ACT4", "REFpb", t["nRC"]),
        (bg, "PRE4", "REFpb", t["nRP"]),
        (bg, "REFpb", "ACT4", t["nRFCpb"]),
        (bg, "ACT4", "MAC", t["nRCDRDMAC"]),
        (bg, "ACT4", "RDCP", t["nRCDRDCP"]),
        (bg, "ACT4", "RD RDA", t["nRCDRD"]),
        (bg, "ACT4", "WRCP", t["nRCDWRCP"]),
        (bg, "ACT4", "WR WRA", t["nRCDWR"]),
        (ch, "PRE4", "PRE PRE4", t["nRP"]),
        (ch, "PRE", "PRE4", t["nRP"]),
        (bank, "ACT", "MAC", t["nRCDRDMAC"]),
        (bank, "ACT", "RDCP", t["nRCDRDCP"]),
        (bank, "ACT", "RD RDA", t["nRCDRD"]),
        (bank, "ACT", "WRCP", t["nRCDWRCP"]),
        (bank, "ACT", "WR WRA", t["nRCDWR"]),
        (bank, "ACT", "PRE", t["nRAS"]),
        (bank, "PRE", "ACT", t["nRP"]),
        (bank, "RDA", "ACT", t["nRTP"] + t["nRP"]),
        (bank, "WRA", "ACT", t["nCWL"] + t["nBL"] + t["nWR"] + t["nRP"]),
        (bank, "ACT", "REFpb", t["nRC"]),
        (bank, "PRE", "REFpb", t["nRP"]),
        (bank, "RDA", "REFpb", t["nRTP"] + t["nRP"]),
        (bank, "WRA", "REFpb", t["nCWL"] + t["nBL"] + t["nWR"] + t["nRP"]),
        (bank, "REFpb", "ACT", t["nRFCpb"]),
        (ch, "PRE", "PRE", t["nRP"]),
    ]


# The bank-group rows of the table above never bind in the C++ run: with them this model is 77 cycles slower than
# the simulator on the RMSNorm trace (a COPY_BKGB's RDCP delaying the next COPY_GBBK's PRE in the same bank group
# by nRTP), without them all ten reference traces match exactly, and every other level does bind (removing the
# bank-level ACT -> WRCP row, for one, moves the RMSNorm count by 299 cycles). Found by replaying, not read in
# the source: the mechanism in the simulator's node tree is not located. Set True to apply them as written.
BANKGROUP_CONSTRAINTS = False


def _constraint_table(t: dict, later_commands=None) -> tuple:
    """For each level and earlier command: ((later command, cycles), ...), the largest distance per pair; only the
    later commands in `later_commands` if given (a program's others never issue: their clocks never bind)."""
    table = [[{} for _ in _COMMANDS] for _ in range(3)]
    for level, earlier, later, cycles in _constraints(t):
        if level == _BG and not BANKGROUP_CONSTRAINTS:
            continue
        for a in earlier.split():
            for b in later.split():
                if later_commands is not None and C[b] not in later_commands:
                    continue
                row = table[level][C[a]]
                row[C[b]] = max(row.get(C[b], -1), cycles)
    return tuple(tuple(tuple(row.items()) for row in level) for level in table)


# ---------------------------------------------------------------------------------------------------------
# The trace: host requests
# ---------------------------------------------------------------------------------------------------------

# request.h AiMISRInfo::init: each opcode's fields, DMA blocking, register-I/O mode, one-channel rule, command.
_FIELDS = {
    "WR_SBK": ("gpr", "mask", "bank", "row"), "WR_ABK": ("gpr", "mask", "row"), "WR_GB": ("opsize", "gpr", "mask"),
    "WR_BIAS": ("gpr", "mask"), "WR_AFLUT": ("opsize",), "RD_MAC": ("gpr", "mask"), "RD_AF": ("gpr", "mask"),
    "RD_SBK": ("gpr", "mask", "bank", "row"), "COPY_BKGB": ("opsize", "mask", "bank", "row"),
    "COPY_GBBK": ("opsize", "mask", "bank", "row"), "MAC_SBK": ("opsize", "mask", "bank", "row"),
    "MAC_ABK": ("opsize", "mask", "row"), "AF": ("mask",), "EWMUL": ("opsize", "mask", "row"),
    "EWADD": ("opsize", "gpr", "gpr1"), "SYNC": (), "EOC": (),
}
OPCODES = tuple(_FIELDS)
_BLOCKING = {"RD_MAC", "RD_AF", "SYNC", "EOC"}
_REG_MODE = {"WR_GB", "WR_BIAS", "RD_MAC", "RD_AF"}
_FINAL = {"WR_SBK": "WR", "WR_GB": "WRGB", "WR_BIAS": "WRMAC16", "RD_MAC": "RDMAC16", "RD_AF": "RDAF16",
          "RD_SBK": "RD", "COPY_BKGB": "RDCP", "COPY_GBBK": "WRCP", "MAC_SBK": "MAC", "MAC_ABK": "MAC16",
          "AF": "AF16", "EWMUL": "EWMUL16", "WR_ABK": "WRA16", "SYNC": "SYNC", "EOC": "EOC"}
_CFR_ADDRESSES = {0: "broadcast", 1: "ewmul_bg", 2: "afm"}  # aim_DRAM_system.cpp init
AF_ROW_BASE = 1 << 29  # aim_DRAM_system.cpp: AF works on row 2^29 + the AFM config register
MAX_ROW = (1 << 31) - 1
MAX_OPSIZE = 1 << 14  # pimlab's bound (the simulator has none): 16384 x 32 B, far past a 2 KB row or GBuf


class HostRequest(NamedTuple):
    """One trace line: `kind` is AiM, R or W; `op` the opcode (AiM) or region (MEM, CFR, GPR). A named tuple: a
    long trace holds tens of thousands of distinct lines, each built and hashed once."""

    kind: str
    op: str
    opsize: int = 1
    mask: int = 0  # pimlab's order: bit c = channel c
    bank: int = -1
    row: int = -1
    channel: int = -1  # MEM requests
    addr: int = -1  # CFR / GPR
    data: int = 0


class Requests(Sequence):
    """A program's host requests in trace order, stored as indices into its distinct requests (traces repeat
    lines: the 236,101 lines of CENT's 4096-token block hold 6,094 distinct ones)."""

    __slots__ = ("unique", "ids")

    def __init__(self, unique: tuple, ids: array):
        self.unique, self.ids = unique, ids

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return tuple(map(self.unique.__getitem__, self.ids[index]))
        return self.unique[self.ids[index]]

    def __iter__(self):
        return map(self.unique.__getitem__, self.ids)

    def __eq__(self, other) -> bool:
        if not isinstance(other, Sequence) or len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other))


@dataclass(frozen=True)
class Program:
    """A parsed trace: its host requests up to EOC, and the op groups it marks (`# group: NAME` lines)."""

    source: str
    unique: tuple  # the distinct requests
    ids: array  # per request: its index in `unique`
    groups: tuple  # (name, index of the group's first request)
    skipped: tuple = (array("q"), array("q"))  # (request index, non-request lines before it) where that changes

    @property
    def requests(self) -> Requests:
        return Requests(self.unique, self.ids)

    def __len__(self):
        return len(self.ids)

    def line_of(self, index: int) -> int:
        """The file line of request `index`."""
        at, before = self.skipped
        k = bisect_right(at, index) - 1
        return index + 1 + (before[k] if k >= 0 else 0)

    def counts(self) -> dict:
        """How many lines of each opcode / host region."""
        out: dict = {}
        for i, n in Counter(self.ids).items():
            r = self.unique[i]
            key = r.op if r.kind == "AiM" else f"{r.kind} {r.op}"
            out[key] = out.get(key, 0) + n
        return out


def _int(token: str, name: str) -> int:
    try:
        return int(token, 16) if token[:2].lower() == "0x" else int(token)
    except ValueError:
        raise ValueError(f"{name} must be an integer (decimal or 0x hex), got {token!r}") from None


def _channels_mask(file_mask: int) -> int:
    if not 1 <= file_mask < 1 << CHANNELS:
        raise ValueError(f"channel mask must name at least one of channels 0..{CHANNELS - 1} "
                         f"(1..0xffffffff), got {file_mask:#x}")
    return int(f"{file_mask:032b}"[::-1], 2)  # bit 31 - c of the file = channel c: reverse the 32 bits


def _check(value: int, name: str, low: int, high: int) -> int:
    if not low <= value <= high:
        raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    return value


GROUP_MARK = "# group:"
MAX_LINE_CHARS = 1 << 16  # a longer line is not a trace line (and reading stops there, whatever the file holds)
_SKIP = -1  # `_Parser.known` value of a blank or comment line


def _aim_request(tokens: list) -> HostRequest:
    if len(tokens) < 2:
        raise ValueError("truncated line, `AiM` needs an opcode")
    op = tokens[1].removeprefix("ISR_")
    if op not in _FIELDS:
        raise ValueError(f"unknown AiM opcode {tokens[1]!r}; known: {', '.join(OPCODES)}")
    if op == "WR_AFLUT":
        raise ValueError("WR_AFLUT is not supported (the public simulator rejects it too)")
    names = _FIELDS[op]
    if len(tokens) - 2 != len(names):
        raise ValueError(f"{op} takes {len(names)} field(s) ({' '.join(names) or 'none'}), "
                         f"got {len(tokens) - 2}")
    f = {n: _int(tok, n) for n, tok in zip(names, tokens[2:])}
    opsize = _check(f["opsize"], "opsize", 1, MAX_OPSIZE) if "opsize" in f else 1
    mask = _channels_mask(f["mask"]) if "mask" in f else 0
    if op == "WR_ABK" and mask & (mask - 1):
        raise ValueError(f"WR_ABK must name exactly one channel, got mask {f['mask']:#x}")
    bank = _check(f["bank"], "bank", 0, BANKS - 1) if "bank" in f else -1
    row = _check(f["row"], "row", 0, MAX_ROW) if "row" in f else -1
    return HostRequest("AiM", op, opsize, mask, bank, row)


def _host_request(kind: str, tokens: list) -> HostRequest:
    if len(tokens) < 2:
        raise ValueError(f"truncated line, `{kind}` needs a region (MEM, CFR or GPR)")
    region = tokens[1]
    want = {"MEM": 3, "CFR": 2, "GPR": 1}.get(region)
    if want is None:
        raise ValueError(f"unknown host region {region!r}; known: MEM, CFR, GPR")
    if len(tokens) - 2 != want:
        raise ValueError(f"`{kind} {region}` takes {want} field(s), got {len(tokens) - 2}")
    v = [_int(tok, "field") for tok in tokens[2:]]
    if region == "MEM":
        channel = _check(v[0], "channel", 0, CHANNELS - 1)
        bank = _check(v[1], "bank", 0, BANKS - 1)
        row = _check(v[2], "row", 0, MAX_ROW)
        return HostRequest(kind, region, bank=bank, row=row, channel=channel)
    if region == "CFR":
        if kind == "W" and v[0] not in _CFR_ADDRESSES:
            raise ValueError(f"unknown CFR address {v[0]}; known: 0, 1, 2")
        return HostRequest(kind, region, addr=v[0], data=v[1])
    return HostRequest(kind, region, addr=v[0])


def _mem_request(raw: str) -> HostRequest | None:
    """The common `R/W MEM channel bank row` line in decimal, without comment, read quickly (None: any other line,
    left to the general reader, which also names what is wrong)."""
    tokens = raw.split()
    if len(tokens) != 5 or tokens[1] != "MEM" or tokens[0] not in ("R", "W") or "#" in raw or "," in raw:
        return None
    channel, bank, row = tokens[2:]
    if not (channel.isdecimal() and bank.isdecimal() and row.isdecimal()):
        return None
    channel, bank, row = int(channel), int(bank), int(row)
    if channel >= CHANNELS or bank >= BANKS or row > MAX_ROW:
        return None
    return HostRequest(tokens[0], "MEM", bank=bank, row=row, channel=channel)


class _Parser:
    """Trace lines to a `Program`. Each distinct line is parsed once, the first time it appears; a block of
    lines that holds no comment, mark or EOC is then mapped to request ids in one dictionary pass."""

    def __init__(self, source: str):
        self.source = source
        self.known: dict = {}  # line text -> request id, or _SKIP (group marks and EOC are never cached)
        self.by_value: dict = {}  # HostRequest -> request id
        self.unique: list = []
        self.ids = array("H")
        self.groups: list = []
        self.skip_at, self.skip_before = array("q"), array("q")
        self.lineno = self.skips = 0
        self.eoc, self.eoc_id = None, -1  # the text of the first `AiM EOC` line, its request id
        self.ended = False

    def feed(self, lines: list) -> bool:
        """Parse `lines` (the next lines of the trace); False once `AiM EOC` has been read."""
        ids = list(map(self.known.get, lines))
        try:
            self.ids.fromlist(ids)  # all known requests (fromlist refuses None and _SKIP, and then adds nothing)
        except (TypeError, OverflowError):
            if None in ids:
                self._learn(lines)
                ids = list(map(self.known.get, lines))
            if None in ids or _SKIP in ids:
                return self._feed_marked(lines, ids)
            self.ids.fromlist(ids)
        self.lineno += len(lines)
        return True

    def _learn(self, lines: list) -> None:
        """Parse the lines not seen before, in order of first appearance, up to the first EOC."""
        for raw in dict.fromkeys(lines):
            if raw in self.known:
                continue
            try:
                if self._parse(raw):
                    return
            except ValueError as error:
                raise ValueError(f"{self.source}:{self.lineno + 1 + lines.index(raw)}: {error}") from None

    def _parse(self, raw: str) -> bool:
        """Register one new line; True if it is EOC."""
        if len(raw) > MAX_LINE_CHARS:
            raise ValueError(f"line longer than {MAX_LINE_CHARS} characters, not a trace line")
        request = _mem_request(raw)
        if request is not None:
            return self._register(raw, request)
        stripped = raw.strip()
        if "\0" in stripped:
            raise ValueError("binary data (a NUL byte), not a text trace")
        if stripped.lower().startswith(GROUP_MARK):
            if not stripped[len(GROUP_MARK):].strip():
                raise ValueError(f"a group mark needs a name, `{GROUP_MARK} NAME`")
            return False
        tokens = stripped.split("#", 1)[0].replace(",", " ").split()
        if not tokens:
            self.known[raw] = _SKIP
            return False
        if tokens[0] == "AiM":
            request = _aim_request(tokens)
        elif tokens[0] in ("R", "W"):
            request = _host_request(tokens[0], tokens)
        else:
            raise ValueError(f"a line starts with AiM, R or W (or # for a comment), got {tokens[0]!r}")
        return self._register(raw, request)

    def _register(self, raw: str, request: HostRequest) -> bool:
        i = self.by_value.get(request)
        if i is None:
            i = self.by_value[request] = len(self.unique)
            self.unique.append(request)
            if i == 1 << 16:
                self.ids = array("I", self.ids)
        if request.op == "EOC":
            self.eoc = raw
            self.eoc_id = i
            return True
        self.known[raw] = i
        return False

    def _feed_marked(self, lines: list, ids: list) -> bool:
        """A block with comments, group marks or the EOC: copy the runs of requests between them."""
        start = 0
        for k in [k for k, i in enumerate(ids) if i is None or i == _SKIP]:
            self.ids.extend(ids[start:k])
            start = k + 1
            if lines[k] == self.eoc:
                self.ids.append(self.eoc_id)
                self.lineno += k + 1
                self.ended = True
                return False
            if ids[k] is None:  # a group mark
                self.groups.append((lines[k].strip()[len(GROUP_MARK):].strip(), len(self.ids)))
            self.skips += 1
            if self.skip_at and self.skip_at[-1] == len(self.ids):
                self.skip_before[-1] = self.skips
            else:
                self.skip_at.append(len(self.ids))
                self.skip_before.append(self.skips)
        self.ids.extend(ids[start:])
        self.lineno += len(lines)
        return True

    def program(self) -> Program:
        if not self.ended:
            if not self.ids:
                raise ValueError(f"{self.source}: empty trace (no request lines)")
            raise ValueError(f"{self.source}:{self.lineno}: the trace ends without an `AiM EOC` line")
        return Program(self.source, tuple(self.unique), self.ids, tuple(self.groups), (self.skip_at, self.skip_before))


_CHUNK_LINES = 1 << 15
_CHUNK_BYTES = 1 << 20


def _lines(text: str) -> list:
    """Split like a text file does (\\n, \\r\\n or \\r), without a last empty line."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def _collector_paused(function):
    """`function` with Python's cyclic garbage collector paused: parsing and replaying make millions of
    short-lived objects but no cycles worth collecting, and each collection would walk the program's tables
    again (a sixth of the time on a 64K-token block)."""
    @wraps(function)
    def paused(*args, **kwargs):
        if not gc.isenabled():
            return function(*args, **kwargs)
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            gc.enable()
    return paused


@_collector_paused
def parse_program(text, source: str = "<text>") -> Program:
    """Parse a trace's text (a string, or an iterable of lines); errors are one line, `SOURCE:LINE: what`."""
    parser = _Parser(source)
    lines = _lines(text) if isinstance(text, str) else [line.rstrip("\r\n") for line in text]
    for start in range(0, len(lines), _CHUNK_LINES):
        if not parser.feed(lines[start:start + _CHUNK_LINES]):
            break
    return parser.program()


def _parse_stream(stream, parser: _Parser) -> Program:
    """Parse a binary stream block by block (bounded memory, whatever the file's size)."""
    tail = b""
    while True:
        block = stream.read(_CHUNK_BYTES)
        if not block:
            break
        block = tail + block
        cut = block.rfind(b"\n") + 1
        tail = block[cut:]
        if cut and not parser.feed(_lines(block[:cut].decode("utf-8"))):
            return parser.program()
        if len(tail) > MAX_LINE_CHARS:
            raise ValueError(f"{parser.source}:{parser.lineno + 1}: line longer than {MAX_LINE_CHARS} characters, "
                             "not a trace line")
    if tail:
        parser.feed(_lines(tail.decode("utf-8")))
    return parser.program()


@_collector_paused
def read_program(path) -> Program:
    """Parse a trace file, plain text or gzip-compressed, block by block."""
    path = Path(path)
    name = str(path)
    if path.is_dir():
        raise ValueError(f"{name}: is a directory, not a trace file")
    if not path.is_file():
        raise ValueError(f"{name}: no such trace file")
    try:
        with path.open("rb") as raw:
            packed = raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            return _parse_stream(gzip.GzipFile(fileobj=raw) if packed else raw, _Parser(name))
    except UnicodeDecodeError:
        raise ValueError(f"{name}: binary data, neither UTF-8 text nor gzip") from None
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"{name}: broken gzip data ({error})") from None


# ---------------------------------------------------------------------------------------------------------
# The memory system: the AiM DMA and one controller per group of identical channels
# ---------------------------------------------------------------------------------------------------------

_NEVER = 1 << 62
_SPECIAL_ROWS = 1 << 41  # state keys move closed (-1) and AF rows out of reach of translated ordinary rows
_ALL_BANKS = (1 << BANKS) - 1
_READ, _WRITE, _AIM = 0, 1, 2
_ALL_ROWS_PREQ = {C[n] for n in ("WRA16", "MAC16", "AF16", "EWMUL16")}  # GDDR6.cpp set_preqs, channel level
_ROW_PREQ = {C[n] for n in ("RD", "WR", "RDA", "WRA", "RDCP", "WRCP", "MAC")}  # bank level
_SCOPES = tuple(_SCOPE[n] for n in _COMMANDS)
_SPECIAL = (C["SYNC"], C["EOC"])
_ACT, _ACT16, _PRE, _PREA, _TMOD, _RD, _WR = C["ACT"], C["ACT16"], C["PRE"], C["PREA"], C["TMOD"], C["RD"], C["WR"]
_CLOSES_ALL, _CLOSES_BANK = (C["PREA"], C["WRA16"]), (C["PRE"], C["RDA"], C["WRA"])


@lru_cache(maxsize=4096)
def _mask_channels(mask: int) -> frozenset:
    """The channels a mask (pimlab's order) names."""
    return frozenset(c for c in range(CHANNELS) if mask >> c & 1)


class _Request:
    __slots__ = ("type", "final", "cmd", "bg", "bank", "row", "arrive", "depart", "blocking", "reg", "special")

    def __init__(self, type_, final, bank, row, blocking, reg):
        self.type, self.final, self.cmd = type_, final, final
        self.bank, self.bg, self.row = bank, (bank // 4 if bank >= 0 else -1), row
        self.arrive = self.depart = -1
        self.blocking, self.reg, self.special = blocking, reg, final in _SPECIAL

    def copy(self) -> _Request:
        other = _Request.__new__(_Request)
        other.type, other.final, other.cmd, other.bg, other.bank, other.row = (
            self.type, self.final, self.cmd, self.bg, self.bank, self.row)
        other.arrive, other.depart, other.blocking, other.reg, other.special = (
            self.arrive, self.depart, self.blocking, self.reg, self.special)
        return other


class _Controller:
    """AiM_dram_controller.cpp for a group of channels that hold the same state (`members`)."""

    def __init__(self, members, timing):
        self.members = members
        self.table, self.latency, self.issuable = timing
        self.bank_groups = any(timing[0][_BG])  # whether bank-group clocks can bind (BANKGROUP_CONSTRAINTS)
        n = len(_COMMANDS)
        self.ready = [-1] * n  # the channel node's m_cmd_ready_clk
        self.bg_ready = [[-1] * n for _ in range(4)]
        self.bank_ready = [[-1] * n for _ in range(BANKS)]
        self.open_row = [-1] * BANKS  # -1: closed
        self.aim, self.reads, self.writes, self.active = deque(), [], [], []
        self.pending = deque()  # pending_reads
        self.write_done = -1  # latest depart of pending_writes (a write is in flight at clk while depart >= clk)
        self.reg_mode = self.write_mode = False
        self.remaining = deque()  # the DMA's remaining_AiM_requests for these channels
        self.wake = _NEVER
        self.head_ready = None  # (AiM head, cycle its command can issue) as `_next` found it; None once that changes
        self.alive, self.ticked = True, -1
        self.issued = None  # a one-element list shared by all controllers: commands issued over all channels

    def clone(self, members) -> _Controller:
        other = _Controller.__new__(_Controller)
        other.members, other.table, other.latency, other.issuable = members, self.table, self.latency, self.issuable
        other.bank_groups = self.bank_groups
        other.ready = self.ready[:]
        other.bg_ready = [r[:] for r in self.bg_ready]
        other.bank_ready = [r[:] for r in self.bank_ready]
        other.open_row = self.open_row[:]
        other.aim = deque(r.copy() for r in self.aim)
        other.reads, other.writes = [r.copy() for r in self.reads], [r.copy() for r in self.writes]
        other.active = [r.copy() for r in self.active]
        other.pending = deque(r.copy() for r in self.pending)
        other.remaining = deque(r.copy() for r in self.remaining)
        other.write_done, other.reg_mode, other.write_mode = self.write_done, self.reg_mode, self.write_mode
        other.wake, other.issued, other.head_ready = self.wake, self.issued, None
        other.alive, other.ticked = True, self.ticked
        return other

    def quiet(self) -> bool:
        """Nothing queued, in flight or waiting at the DMA."""
        return not (self.aim or self.reads or self.writes or self.active or self.pending or self.remaining)

    def cheap_key(self) -> tuple:
        """A part of `state_key` that is quick to build: controllers that differ in it differ."""
        return (tuple(self.open_row), self.reg_mode, self.write_mode, len(self.aim), len(self.reads),
                len(self.writes), len(self.active), len(self.pending), len(self.remaining))

    def state_key(self, clk: int, rows_back: int, banks: int = _ALL_BANKS) -> tuple:
        """Everything that decides this controller's future: the clocks of the commands the program can issue,
        relative to clk (those at or before clk clamped to it: they can no longer bind), and the rows, the
        ordinary rows of the banks in `banks` (a bit mask) translated back by `rows_back`. A request to all
        banks on a row that would have to move with only some of them makes the key match nothing."""
        def row(r, bank):
            if not 0 <= r < AF_ROW_BASE:
                return r + _SPECIAL_ROWS
            if not rows_back or (bank >= 0 and not banks >> bank & 1):
                return r
            return r - rows_back if bank >= 0 or banks == _ALL_BANKS else object()

        def req(q):
            arrive = q.arrive - clk if q.arrive >= 0 and q.type != _AIM else None  # AiM requests go in order
            return (q.type, q.final, q.cmd, q.bank, row(q.row, q.bank), arrive,
                    q.depart - clk if q.depart >= 0 else None, q.blocking, q.reg)

        issuable = self.issuable  # the other clocks of a row stay in the past: max(r) > clk if one of these is
        clocks = tuple([tuple([v - clk if v > clk else 0 for v in issuable(r)]) if max(r) > clk else None
                        for r in (self.ready, *(self.bg_ready if self.bank_groups else ()), *self.bank_ready)])
        queues = tuple([tuple(map(req, q)) for q in (self.aim, self.reads, self.writes, self.active, self.pending,
                                                      self.remaining)])
        open_rows = (tuple(map(row, self.open_row, range(BANKS))) if rows_back else
                     tuple([r if 0 <= r < AF_ROW_BASE else r + _SPECIAL_ROWS for r in self.open_row]))
        return (tuple(self.members), self.reg_mode, self.write_mode, max(self.write_done - clk, 0), open_rows,
                clocks, queues)

    def _queued(self):
        for q in (self.aim, self.reads, self.writes, self.active, self.pending, self.remaining):
            yield from q

    def moving_rows(self, banks: int) -> list:
        """The ordinary rows (not closed, not AF's) of the banks in `banks` held open or queued."""
        def moves(r, bank):
            return 0 <= r < AF_ROW_BASE and (banks >> bank & 1 if bank >= 0 else banks == _ALL_BANKS)
        return [r for b, r in enumerate(self.open_row) if moves(r, b)] + [
            q.row for q in self._queued() if moves(q.row, q.bank)]

    def shift(self, clk: int, cycles: int, rows: int, banks: int = _ALL_BANKS) -> None:
        """Move every clock `cycles` later, and the ordinary rows of the banks in `banks` by `rows` (a skip from
        cycle clk; clocks at or before clk no longer bind, and a row of only those stays as it is)."""
        def moved(r, bank):
            if 0 <= r < AF_ROW_BASE and (banks >> bank & 1 if bank >= 0 else banks == _ALL_BANKS):
                return r + rows
            return r

        self.ready = [v + cycles for v in self.ready]
        self.bg_ready = [[v + cycles for v in r] if max(r) > clk else r for r in self.bg_ready]
        self.bank_ready = [[v + cycles for v in r] if max(r) > clk else r for r in self.bank_ready]
        if rows:
            self.open_row = list(map(moved, self.open_row, range(BANKS)))
        self.write_done += cycles
        self.head_ready = None
        for q in self._queued():
            q.arrive += cycles if q.arrive >= 0 else 0
            q.depart += cycles if q.depart >= 0 else 0
            if rows:
                q.row = moved(q.row, q.bank)
        self.ticked = -1

    # --- DRAM (GDDR6.cpp, node.h) ---
    def preq(self, req: _Request) -> int:
        final = req.final
        if final in _ALL_ROWS_PREQ:  # Preq::Channel::RequireAllRowsOpen
            open_row = self.open_row
            if open_row.count(req.row) == BANKS:
                return final
            any_closed = False
            for row in open_row:
                if row < 0:
                    any_closed = True
                elif row != req.row:
                    return _PREA
            return _ACT16 if any_closed else final
        if final in _ROW_PREQ and req.bank >= 0:  # Preq::Bank::RequireRowOpen
            row = self.open_row[req.bank]
            if row < 0:
                return _ACT
            return final if row == req.row else _PRE
        return final

    def ready_at(self, cmd: int, req: _Request) -> int:
        t = self.ready[cmd]
        scope = _SCOPES[cmd]
        if req.bg < 0 or scope == _CH:
            return t
        if self.bank_groups or scope == _BG:
            u = self.bg_ready[req.bg][cmd]
            if u > t:
                t = u
            if scope == _BG:
                return t
        u = self.bank_ready[req.bank][cmd]
        return u if u > t else t

    def issue(self, cmd: int, req: _Request, clk: int) -> None:
        self.head_ready = None
        ch_rows, bg_rows, bank_rows = self.table
        ready = self.ready
        for later, cycles in ch_rows[cmd]:
            cycles += clk
            if ready[later] < cycles:
                ready[later] = cycles
        if req.bg >= 0:
            for node, rows in ((self.bg_ready[req.bg], bg_rows[cmd]), (self.bank_ready[req.bank], bank_rows[cmd])):
                for later, cycles in rows:
                    cycles += clk
                    if node[later] < cycles:
                        node[later] = cycles
        if cmd == _ACT16:
            self.open_row = [req.row] * BANKS
        elif cmd in _CLOSES_ALL:
            self.open_row = [-1] * BANKS
        elif req.bank >= 0 and _SCOPES[cmd] != _CH:
            if cmd == _ACT:
                self.open_row[req.bank] = req.row
            elif cmd in _CLOSES_BANK:
                self.open_row[req.bank] = -1
        self.issued[0] += len(self.members)

    # --- controller ---
    def send(self, req: _Request, clk: int) -> bool:
        if req.type == _AIM:
            if self.writes or self.reads:
                return False
        elif self.aim:
            return False
        if req.type == _READ and self.writes:  # forwarded from a queued write (host requests carry no address)
            req.depart = clk + 1
            self.pending.append(req)
            return True
        buffer = self.aim if req.type == _AIM else self.reads if req.type == _READ else self.writes
        if len(buffer) > BUFFER_LIMIT:
            return False
        req.arrive = clk
        buffer.append(req)
        return True

    def best(self, buffer, clk: int, in_arrival_order: bool = False) -> _Request:
        """FRFCFS get_best_request: ready first, then the earliest arrival (the first of equals).

        Host requests to the same bank and row need the same command at the same time: worked out once. In a
        buffer `in_arrival_order` the first ready request is the best (the later ones keep their old `cmd`)."""
        known: dict = {}
        best, best_ready = None, False
        for req in buffer:
            key = (req.final, req.bank, req.row)
            cmd_ready = known.get(key)
            if cmd_ready is None:
                cmd = self.preq(req)
                cmd_ready = known[key] = (cmd, self.ready_at(cmd, req) <= clk)
            req.cmd, ready = cmd_ready
            if ready and in_arrival_order:
                return req
            if best is None or (ready and not best_ready) or (ready == best_ready and req.arrive < best.arrive):
                best, best_ready = req, ready
        return best

    def tick(self, clk: int, dma) -> bool:
        """One controller cycle; True if anything changed."""
        event = False
        pending = self.pending
        if pending:  # serve_completed_reqs: the head of pending_reads only
            head = pending[0]
            if head.depart <= clk and (not head.special or self.write_done < clk):
                pending.popleft()
                event = True
                if head.blocking:
                    dma.receive(self)
        found = buffer = None
        active = self.active
        if active:
            req = self.best(active, clk)
            if self.ready_at(req.cmd, req) <= clk:
                found, buffer = req, active
        if found is None:
            if self.aim:
                req = self.aim[0]
                if req.special:  # EOC / SYNC at the head: taken at once
                    req.depart = clk
                    pending.append(req)
                    self.aim.popleft()
                    return True
                known = self.head_ready
                if known is not None and known[0] is req:  # nothing changed since `_next` looked at it
                    ready = known[1]
                else:
                    req.cmd = self.preq(req)
                    ready = self.ready_at(req.cmd, req)
                if ready <= clk:
                    found, buffer = req, self.aim
            else:
                writes = len(self.writes)
                if not self.write_mode:
                    if writes > 0.8 * BUFFER_LIMIT or not self.reads:
                        self.write_mode = True
                elif writes < 0.2 * BUFFER_LIMIT and self.reads:
                    self.write_mode = False
                buf = self.writes if self.write_mode else self.reads
                if buf:
                    req = self.best(buf, clk, in_arrival_order=True)  # a host buffer: appended as they arrive
                    if self.ready_at(req.cmd, req) <= clk:
                        found, buffer = req, buf
        held = False
        if found is not None and found.cmd in _CLOSING:
            for req in active:
                if req.bank == found.bank and req.bg == found.bg:
                    found, held = None, True  # it would close a row an active request opened
                    break
        if found is None:
            if not event:  # (held: the requests after `found` in its buffer have not had their command worked out)
                self.wake = self._next(clk, changed=held)
            return event
        cmd = found.cmd
        if found.reg != self.reg_mode:
            cmd = _TMOD
            self.reg_mode = found.reg
        self.issue(cmd, found, clk)
        if cmd == found.final:
            found.depart = clk + self.latency[cmd]
            if found.type == _READ or found.blocking:
                pending.append(found)
            elif found.depart > self.write_done:
                self.write_done = found.depart
            if buffer is self.aim:
                self.aim.popleft()
            else:
                buffer.remove(found)
        elif found.type != _AIM and cmd in _OPENING:
            buffer.remove(found)
            if len(active) <= BUFFER_LIMIT:
                active.append(found)
        return True

    def _next(self, clk: int, changed: bool = False) -> int:
        """The earliest cycle after clk at which this controller can act (a lower bound).

        After a cycle that changed the state (`changed`), the row prerequisites are worked out again and both
        host buffers count (the write-mode choice is made only in the cycle that reaches it)."""
        if self.aim and not self.pending and not self.active:  # the common case: only the AiM head can act
            head = self.aim[0]
            if head.special:
                return clk + 1
            if changed:
                head.cmd = self.preq(head)
            ready = self.ready_at(head.cmd, head)
            self.head_ready = (head, ready)
            return ready if ready > clk else clk + 1
        when = _NEVER
        if self.pending:
            head = self.pending[0]
            when = max(head.depart, self.write_done + 1) if head.special else head.depart
        queued = list(self.active)
        if self.aim:
            head = self.aim[0]
            if head.special:
                return clk + 1
            queued.append(head)
        elif changed:
            queued += self.writes + self.reads
        else:
            queued += self.writes if self.write_mode else self.reads
        known: dict = {}  # requests to the same bank and row share their command and its time
        for req in queued:
            if changed:
                key = (req.final, req.bank, req.row)
                hit = known.get(key)
                if hit is None:
                    cmd = self.preq(req)
                    hit = known[key] = (cmd, self.ready_at(cmd, req))
                req.cmd, ready = hit
            else:
                key = (req.cmd, req.bank)
                ready = known.get(key)
                if ready is None:
                    ready = known[key] = self.ready_at(req.cmd, req)
            if ready < when:
                when = ready
        return when if when > clk else clk + 1


class DecodeCycles(Sequence):
    """The cycle each request was decoded in, stored compactly: the requests simulated one by one as arrays,
    each skipped stretch as the stretch it repeats (`repeat`), so a long program's skips cost no memory."""

    def __init__(self):
        self.starts = array("q")  # request index where each piece starts
        self.pieces: list = []  # array("q") of cycles, or (first, span, cycles): see `repeat`
        self.length = 0

    def append(self, clk: int) -> None:
        if not self.pieces or not isinstance(self.pieces[-1], array):
            self.starts.append(self.length)
            self.pieces.append(array("q"))
        self.pieces[-1].append(clk)
        self.length += 1

    def repeat(self, first: int, span: int, times: int, cycles: int) -> None:
        """Append `times` copies of requests first..first+span-1 (the last `span` so far), copy k `k * cycles`
        later (k = 1..times)."""
        self.starts.append(self.length)
        self.pieces.append((first, span, cycles))
        self.length += times * span

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self.length))]
        if index < 0:
            index += self.length
        if not 0 <= index < self.length:
            raise IndexError("request index out of range")
        shift = 0
        while True:
            k = bisect_right(self.starts, index) - 1
            piece, offset = self.pieces[k], index - self.starts[k]
            if isinstance(piece, array):
                return piece[offset] + shift
            first, span, cycles = piece
            periods, phase = divmod(offset, span)
            index, shift = first + phase, shift + (periods + 1) * cycles

    def __iter__(self):
        ends = [*self.starts[1:], self.length]
        for start, end, piece in zip(self.starts, ends, self.pieces):
            if isinstance(piece, array):
                yield from piece
                continue
            first, span, cycles = piece
            reference = self[first:first + span]
            for k in range(1, (end - start) // span + 1):
                shift = k * cycles
                yield from (c + shift for c in reference)

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and len(self) == len(other) and all(map(eq, self, other))


@dataclass(frozen=True)
class ReplayResult:
    """What a replay measured: `cycles` is aim_simulator's memory_system_cycles."""

    source: str
    cycles: int
    requests: int  # host requests decoded (trace lines up to EOC)
    commands: int  # DRAM commands issued over all channels (TMOD included)
    group_cycles: tuple  # (name, cycles) per marked op group: from its first request's decode to the next's
    decoded_at: DecodeCycles = field(default_factory=DecodeCycles)  # the cycle each request was decoded in

    def summary(self) -> dict:
        return {"source": self.source, "memory_system_cycles": self.cycles, "requests": self.requests,
                "commands": self.commands, "groups": dict(self.group_cycles)}


class _Dma:
    """aim_DRAM_system.cpp: decode host requests in order, fan them out, wait for blocking ones."""

    def __init__(self, program: Program, timing):
        self.unique, self.ids = program.unique, program.ids
        self.timing = timing
        self.controllers = [_Controller(list(range(CHANNELS)), timing)]
        self.issued = self.controllers[0].issued = [0]
        self.owner = [self.controllers[0]] * CHANNELS
        self.head = 0  # index of the request at the front of request_queue
        self.stalled = 0
        self.cfr = {"broadcast": 0, "ewmul_bg": 1, "afm": 0}
        self.finished = False
        self.decoded_at = DecodeCycles()
        self.blocked = set()  # controllers with requests in their remaining queue
        self.changed = set()  # blocked controllers whose state changed since the DMA's last cycle
        self.busy_merge_at, self.busy_merge_gap = 0, 16
        self.heap, self.seq = [], count()  # (wake cycle, n, controller): when each controller must next tick
        self.ticks = 0  # controller ticks run so far (the work a skip saves)
        self.received = False  # a blocking request called back since the last DMA cycle

    def wake(self, controller: _Controller, clk: int) -> None:
        """Make sure `controller` ticks at `clk` (or earlier)."""
        if clk < controller.wake:  # a controller always has a heap entry at its current wake
            controller.wake = clk
            heappush(self.heap, (clk, next(self.seq), controller))

    def receive(self, controller: _Controller) -> None:
        self.received = True
        self.stalled -= len(controller.members)
        if self.stalled == 0:
            if self.unique[self.ids[self.head]].op == "EOC":
                self.finished = True
            self.head += 1

    def _split(self, controller: _Controller, channels: set) -> _Controller:
        """The part of `controller` that `channels` covers, as its own controller."""
        if len(controller.members) == 1:
            return controller
        inside = [c for c in controller.members if c in channels]
        if len(inside) == len(controller.members):
            return controller
        other = controller.clone(inside)
        controller.members = [c for c in controller.members if c not in channels]
        self.controllers.append(other)
        if other.remaining:
            self.blocked.add(other)
        heappush(self.heap, (other.wake, next(self.seq), other))
        for c in inside:
            self.owner[c] = other
        return other

    def _merge(self, clk: int) -> None:
        """Join controllers whose channels have come to the same state (`_Controller.state_key`).

        Idle controllers are compared at every AiM decode; busy ones (requests queued or in flight) too,
        but after a try that joins none, not again for a while (16 cycles, doubling up to 4096)."""
        busy = clk >= self.busy_merge_at
        cheap: dict = {}
        for controller in self.controllers:
            if busy or controller.quiet():
                cheap.setdefault(controller.cheap_key(), []).append(controller)
        keys: dict = {}
        joined = False
        for same in cheap.values():
            if len(same) > 1:
                for controller in same:
                    joined |= self._join(keys, controller.state_key(clk, 0)[1:], controller)
        if busy:
            self.busy_merge_gap = 16 if joined else min(2 * self.busy_merge_gap, 4096)
            self.busy_merge_at = clk + self.busy_merge_gap

    def _join(self, keys: dict, key: tuple, controller: _Controller) -> bool:
        """Merge `controller` into the one already seen with the same `key`, if any."""
        twin = keys.get(key)
        if twin is None:
            keys[key] = controller
            return False
        twin.members = sorted(twin.members + controller.members)
        for c in controller.members:
            self.owner[c] = twin
        self.wake(twin, controller.wake)
        controller.alive = False
        self.controllers.remove(controller)
        self.blocked.discard(controller)
        return True

    def _send(self, controller: _Controller, req: _Request, clk: int) -> bool:
        if req.type != _AIM or not controller.aim:  # behind a queued AiM head a request changes nothing yet (its
            self.wake(controller, clk + 1)  # controller ticks when the head can go, `_Controller._next`)
        if controller.remaining or not controller.send(req, clk):
            controller.remaining.append(req)
            self.blocked.add(controller)
            return False
        return True

    def step(self, clk: int) -> None:
        """One cycle of the DMA (the first half of AiMDRAMSystem::tick)."""
        was_remaining = bool(self.blocked)
        for controller in self.changed & self.blocked if was_remaining else ():  # the others refuse again
            remaining = controller.remaining
            while remaining:
                behind_head = remaining[0].type == _AIM and bool(controller.aim)
                if not controller.send(remaining[0], clk):
                    break
                remaining.popleft()
                if not behind_head:
                    self.wake(controller, clk + 1)
            if not remaining:
                self.blocked.discard(controller)
        self.changed.clear()
        if self.stalled:
            return
        if was_remaining:
            if not self.blocked:
                self.head += 1
            return
        if self.head >= len(self.ids):
            return
        self.decoded_at.append(clk)
        if self._decode(self.unique[self.ids[self.head]], clk) and not self.stalled:
            self.head += 1

    def state_key(self, clk: int, rows_back: int, footprint=None) -> tuple:
        """The whole memory system's state at a decode (nothing stalled, nothing waiting at the DMA); rows move
        in the banks of `footprint` (a bank mask per channel; None: all banks)."""
        keys = []
        for c in self.controllers:
            banks = {footprint[m] for m in c.members} if footprint else {_ALL_BANKS}
            keys.append(c.state_key(clk, rows_back, banks.pop()) if len(banks) == 1 else (tuple(c.members), object()))
        return tuple(self.cfr.values()), tuple(sorted(keys, key=lambda k: k[0]))

    def shift(self, requests: int, cycles: int, rows: int, commands: int, clk: int, footprint=None) -> None:
        """Skip ahead: `requests` more decoded, every clock `cycles` later, ordinary rows of the footprint's
        banks moved by `rows`."""
        self.head += requests
        self.issued[0] += commands
        for controller in self.controllers:
            controller.shift(clk, cycles, rows, footprint[controller.members[0]] if footprint else _ALL_BANKS)
            controller.wake = clk + cycles + 1  # visit everything once; the lower bounds are recomputed then
        self.heap[:] = [(c.wake, next(self.seq), c) for c in self.controllers]

    def _decode(self, host: HostRequest, clk: int) -> bool:
        """Send one host request to the channels; True if every part was accepted."""
        sent = True
        if host.kind != "AiM":
            if host.op == "MEM":
                controller = self._split(self.owner[host.channel], {host.channel})
                type_ = _READ if host.kind == "R" else _WRITE
                final = _RD if type_ == _READ else _WR
                sent = self._send(controller, _Request(type_, final, host.bank, host.row, False, False), clk)
            elif host.op == "CFR" and host.kind == "W":
                self.cfr[_CFR_ADDRESSES[host.addr]] = host.data
            return sent
        op = host.op
        if op == "EWADD":
            return True
        if op in ("SYNC", "EOC"):
            targets = list(self.controllers)
            for controller in targets:
                self.stalled += len(controller.members)
                sent &= self._send(controller, _Request(_AIM, C[op], -1, -1, True, False), clk)
            return sent
        channels = _mask_channels(host.mask)
        if len(self.controllers) > 1:
            self._merge(clk)
        targets = []
        for controller in list(self.controllers):
            if not channels.isdisjoint(controller.members):
                targets.append(self._split(controller, channels))
        type_ = _READ if op == "RD_SBK" else _WRITE if op == "WR_SBK" else _AIM
        row = AF_ROW_BASE + self.cfr["afm"] if op == "AF" else host.row
        blocking = op in _BLOCKING
        template = _Request(type_, C[_FINAL[op]], host.bank, row, blocking, op in _REG_MODE and type_ == _AIM)
        for _ in range(host.opsize):
            for controller in targets:
                if blocking:
                    self.stalled += len(controller.members)
                sent &= self._send(controller, template.copy(), clk)
        return sent

class _MovedIds(dict):
    """`_Repeats._moved`: filled as ids are looked up."""

    def __init__(self, repeats, rows: int):
        super().__init__()
        self.repeats, self.rows = repeats, rows

    def __missing__(self, i: int) -> int:
        repeats, rows = self.repeats, self.rows
        row = repeats.row[i]
        if row < 0:
            moved = i
        elif row < AF_ROW_BASE and 0 <= row + rows < AF_ROW_BASE:
            moved = repeats.index.get((repeats.shape[i], row + rows), -1)
        else:
            moved = -1
        self[i] = moved
        return moved


class _Candidate:
    """A period the request stream repeats with: `period` requests, rows moving by `rows` a period, from
    request `base` (the first snapshot) up to `end` (scanned lazily: the repetition holds up to `end`, and
    `end` is the first request that differs once `complete`)."""

    __slots__ = ("period", "rows", "start", "base", "end", "next", "snapshots", "footprint", "work_at", "complete")

    def __init__(self, period: int, base: int):
        self.period, self.base = period, base
        self.start = base - period  # the stretch repeats from here
        self.rows = None  # fixed by the first pair of requests with rows
        self.footprint = None  # with rows moving: per channel, a mask of the banks the stretch's requests use
        self.end = base
        self.next = 0  # the next snapshot: this many periods after base (spaced out while none recurs)
        self.snapshots: dict = {}  # state key -> (request index, cycle, commands issued, periods since base)
        self.work_at = None  # (request index, controller ticks so far) at the last snapshot
        self.complete = False  # end is where the repetition breaks (else: it holds at least up to end)


class _Repeats:
    """Skip whole periods of a stretch of the program that repeats, exactly.

    At each decode, the distance back to the last request of the same shape (the request but its row) is a
    candidate period p; the stream is scanned ahead for how long each request equals the one p before with
    its row moved by the same d (0 for most stretches; CENT's GEMV tiles move by 4 rows a tile). Along such
    a stretch the memory system's whole state (`_Dma.state_key`: every controller's clocks relative to now,
    rows moved back by d a period, buffers, modes, the channel grouping, the config registers) is recorded
    every p requests, more sparsely while none recurs. When a state recurs, m periods and T cycles later,
    the simulation would run through the same states again, T cycles and m * d rows apart, for as long as
    the stream repeats: it jumps as many whole spans ahead as fit before the stretch ends (`_Dma.shift`),
    with the skipped requests' decode cycles and DRAM commands filled in. Where nothing recurs the plain
    simulation runs on. Rows move only when no AF row (2^29 + mode) or closed bank can be confused with a
    moved one.
    """

    MAX_CANDIDATES = 4

    def __init__(self, program: Program):
        self.ids, self.unique = program.ids, program.unique
        shapes: dict = {}  # a request but its row -> shape id
        self.shape = [shapes.setdefault((r.kind, r.op, r.opsize, r.mask, r.bank, r.channel, r.addr, r.data),
                                        len(shapes)) for r in program.unique]
        self.row = [r.row for r in program.unique]
        self.index = {(shape, row): i for i, (shape, row) in enumerate(zip(self.shape, self.row))}  # -> request id
        self.last: dict = {}  # shape -> the last request of that shape decoded
        self.candidates: dict = {}  # period -> _Candidate
        self.tried: dict = {}  # period -> where its last scan ended (no new candidate of that period before)
        self.moved: dict = {}  # rows -> `_moved(rows)`
        self.due = 0  # no candidate ends or takes a snapshot before this request

    def _same(self, i: int, j: int, candidate: _Candidate) -> bool:
        """Request id i equals request id j with its row moved by the candidate's rows (fixed by the first pair)."""
        if self.shape[i] != self.shape[j]:
            return False
        row = self.row[i]
        if row < 0:
            return True
        moved = row - self.row[j]
        if candidate.rows is None:
            candidate.rows = moved
        return moved == candidate.rows and (moved == 0 or (row < AF_ROW_BASE and self.row[j] < AF_ROW_BASE))

    def _moved(self, rows: int) -> dict:
        """Request id -> the id of the same request `rows` rows further (-1 if not in the program or not an
        ordinary row; requests without a row map to themselves), worked out for the ids asked for."""
        moved = self.moved.get(rows)
        if moved is None:
            if len(self.moved) > 64:
                self.moved.clear()
            moved = self.moved[rows] = _MovedIds(self, rows)
        return moved

    def _extend(self, candidate: _Candidate, need: int) -> None:
        """Scan the stream ahead until the candidate's end is known or past `need` (scans are lazy: most
        candidates never jump, and a jump needs the end only then)."""
        if not candidate.complete and candidate.end < need:
            limit = max(need, 2 * candidate.end - candidate.start)  # at least doubling what is known
            candidate.end = self._agree_until(candidate, candidate.end, limit)
            candidate.complete = candidate.end < limit or candidate.end >= len(self.ids)
            self.tried[candidate.period] = max(self.tried.get(candidate.period, 0), candidate.end)

    def _agree_until(self, candidate: _Candidate, start: int, limit: int) -> int:
        """The first request from `start` on that breaks the candidate's repetition (the program's end if none),
        or `limit` if none does before it. Once the rows' step is known, whole slices are compared (doubling),
        one request at a time only in the slice that differs."""
        ids, p, at, stop, size = self.ids, candidate.period, start, min(len(self.ids), limit), 64
        while at < stop:
            if candidate.rows is None:
                if not self._same(ids[at], ids[at - p], candidate):
                    return at
                at += 1
                continue
            end = min(at + size, stop)
            if candidate.rows == 0:
                same = ids[at:end] == ids[at - p:end - p]
            else:
                same = all(map(eq, map(self._moved(candidate.rows).__getitem__, ids[at - p:end - p]), ids[at:end]))
            if not same:
                if size > 64:  # narrow down with small slices again
                    size = 64
                    continue
                while self._same(ids[at], ids[at - p], candidate):
                    at += 1
                return at
            at, size = end, size * 2
        return stop

    def _add(self, h: int, period: int) -> None:
        candidate = _Candidate(period, h)
        if len(self.tried) > 4096:
            self.tried.clear()
        self._extend(candidate, h + 2 * period)
        if candidate.end - h < 2 * period:
            return
        if len(self.candidates) >= self.MAX_CANDIDATES:
            del self.candidates[min(self.candidates, key=lambda p: self.candidates[p].end)]
        candidate.rows = candidate.rows or 0
        if candidate.rows:
            candidate.footprint = self._footprint(h, h + period)
        self.candidates[period] = candidate

    def _footprint(self, start: int, stop: int) -> tuple:
        """Per channel, the banks that requests start..stop-1 use (all of them for an all-bank request)."""
        masks = [0] * CHANNELS
        for i in set(self.ids[start:stop]):
            r = self.unique[i]
            if r.kind != "AiM":
                if r.op == "MEM":
                    masks[r.channel] |= 1 << r.bank
                continue
            bank = (1 << r.bank) if r.bank >= 0 else _ALL_BANKS if r.row >= 0 else 0
            for c in range(CHANNELS):
                if r.mask >> c & 1:
                    masks[c] |= bank
        return tuple(masks)

    def at_decode(self, dma: _Dma, clk: int) -> int:
        """Called when request `dma.head` is about to be decoded at clk; the cycles jumped (0: none)."""
        h = dma.head
        shape = self.shape[self.ids[h]]
        previous = self.last.get(shape)
        self.last[shape] = h
        if h < self.due and (previous is None or self.tried.get(h - previous, 0) > h):
            return 0  # no candidate ends or takes a snapshot here, and none starts
        jump = self._visit(dma, clk, h, previous)
        self.due = min([min(c.end, c.base + c.next * p) for p, c in self.candidates.items()], default=_NEVER)
        return jump

    def _visit(self, dma: _Dma, clk: int, h: int, previous: int | None) -> int:
        """`at_decode` where a candidate may end, start or take a snapshot."""
        candidates = self.candidates
        for p, candidate in list(candidates.items()):
            if h >= candidate.end:
                self._extend(candidate, h + 1)
            if h >= candidate.end:
                del candidates[p]
                if h == candidate.end and self.tried.get(h - candidate.start, 0) <= h:
                    self._add(h, h - candidate.start)  # a loop around the stretch that just ended, maybe
        if previous is not None and self.tried.get(h - previous, 0) <= h:
            self._add(h, h - previous)
        keys: dict = {}
        for p, candidate in sorted(candidates.items(), reverse=True):
            periods, phase = divmod(h - candidate.base, p)
            if phase or periods < candidate.next:
                continue
            candidate.next = periods + 1 + periods // 4
            if not self._worth(dma, candidate, h):
                continue
            jump = self._snapshot(dma, clk, candidate, periods, keys)
            if jump:
                return jump
        return 0

    def _worth(self, dma: _Dma, candidate: _Candidate, h: int) -> bool:
        """Whether a snapshot at request h can pay: at least one more period to jump over (two before the first
        snapshot), and the work left in the stretch (requests and controller ticks, at the rate seen since the
        last snapshot) above a snapshot's cost (a few ticks' worth per controller)."""
        at, ticks = candidate.work_at or (h, dma.ticks - 1)
        candidate.work_at = (h, dma.ticks)
        per_request = 1 + (dma.ticks - ticks) / max(h - at, 1)
        need = max(candidate.period * (1 if candidate.snapshots else 2), 8 * len(dma.controllers) / per_request)
        self._extend(candidate, h + int(need) + 1)
        return candidate.end - h >= need

    def _snapshot(self, dma: _Dma, clk: int, candidate: _Candidate, periods: int, keys: dict) -> int:
        back = periods * candidate.rows
        key = keys.get((back, candidate.footprint))
        if key is None:
            key = keys[back, candidate.footprint] = dma.state_key(clk, back, candidate.footprint)
        seen = candidate.snapshots.get(key)
        if seen is None:
            candidate.snapshots[key] = (dma.head, clk, dma.issued[0], periods)
            return 0
        return self._jump(dma, clk, candidate, periods, *seen)

    def _jump(self, dma: _Dma, clk: int, candidate: _Candidate, periods: int, h1: int, clk1: int, issued1: int,
              periods1: int) -> int:
        """The state at this decode is the one at request h1, moved: jump as many such spans as the stream allows."""
        h = dma.head
        span, cycles, rows = h - h1, clk - clk1, (periods - periods1) * candidate.rows
        self._extend(candidate, len(self.ids))
        n = (candidate.end - h) // span
        if rows and n:
            footprint = candidate.footprint
            held = [r for c in dma.controllers for r in c.moving_rows(footprint[c.members[0]])]
            if held and (min(held) + n * rows < 0 or max(held) + n * rows >= AF_ROW_BASE):
                n = 0
        candidate.snapshots.clear()
        if n < 1:
            return 0
        dma.decoded_at.repeat(h1, span, n, cycles)
        dma.shift(n * span, n * cycles, n * rows, n * (dma.issued[0] - issued1), clk, candidate.footprint)
        target = h + n * span
        for e in range(target - candidate.period, target):
            self.last[self.shape[self.ids[e]]] = e
        candidate.base, candidate.next = target, 0
        return n * cycles


def _run(program: Program, timing, skip: bool) -> tuple:
    dma = _Dma(program, timing)
    repeats = _Repeats(program) if skip else None
    heap, seq, total = dma.heap, dma.seq, len(dma.ids)
    clk = ticks = 0
    dma_wake = 0
    while True:
        if dma_wake <= clk:
            dma.ticks = ticks
            while repeats is not None and not dma.stalled and not dma.blocked and dma.head < total:
                jump = repeats.at_decode(dma, clk)  # a decode point: maybe skip whole periods
                if not jump:
                    break
                clk += jump
            dma.received = False
            dma.step(clk)
            dma_wake = _NEVER if dma.stalled or dma.blocked or dma.head >= total else clk + 1
        event = False
        now = clk + 1
        while heap and heap[0][0] <= now:
            wake, _, controller = heappop(heap)
            if not controller.alive or controller.wake != wake or controller.ticked == now:
                continue
            controller.ticked = now
            ticks += 1
            if controller.tick(now, dma):
                controller.wake = controller._next(now, changed=True)
                # the DMA can act again only if a controller it waits on changed, or a blocking request called back
                if controller.remaining:
                    dma.changed.add(controller)
                event = event or bool(controller.remaining) or dma.received
            heappush(heap, (controller.wake, next(seq), controller))
        if dma.finished:
            return now, dma
        if event:
            dma_wake = now
        while heap and (not heap[0][2].alive or heap[0][2].wake != heap[0][0]):
            heappop(heap)
        nxt = min(dma_wake, heap[0][0] - 1 if heap else _NEVER)
        if nxt >= _NEVER - 1:
            raise ValueError(f"{program.source}: the replay cannot progress at cycle {clk} (request line "
                             f"{program.line_of(min(dma.head, len(program) - 1))})")
        clk = max(nxt, clk + 1)


def _issuable(program: Program) -> set:
    """The commands this program can issue (no refresh ever fires; EOC and SYNC are taken, not issued): only
    those clocks can bind."""
    cmds = {C[_FINAL[r.op]] for r in program.unique if r.kind == "AiM" and r.op in _FINAL}
    cmds |= {C["RD" if r.kind == "R" else "WR"] for r in program.unique if r.op == "MEM"}
    cmds -= set(_SPECIAL)
    if cmds & _ROW_PREQ:
        cmds |= {C["ACT"], C["PRE"]}
    if cmds & _ALL_ROWS_PREQ:
        cmds |= {C["ACT16"], C["PREA"]}
    return cmds | {C["TMOD"], C["ACT16"]}  # at least two, for `replay`'s itemgetter to return a tuple


@_collector_paused
def replay(source, skip_repeats: bool = True) -> ReplayResult:
    """Replay a trace (a path or a parsed `Program`) as aim_simulator runs it; its memory_system_cycles.

    `skip_repeats`: jump over whole periods of a repeating stretch once the memory system's state repeats
    (`_Repeats`; exact: False simulates every event and gives the same result, slower)."""
    program = source if isinstance(source, Program) else read_program(source)
    t = TIMING_CYCLES
    issuable = _issuable(program)
    timing = (_constraint_table(t, issuable), _latencies(t), itemgetter(*sorted(issuable)))
    cycles, dma = _run(program, timing, skip_repeats)
    starts = [(name, dma.decoded_at[i] if i < len(dma.decoded_at) else cycles) for name, i in program.groups]
    bounds = [s for _, s in starts[1:]] + [cycles]
    groups = tuple((name, end - start) for (name, start), end in zip(starts, bounds))
    return ReplayResult(program.source, cycles, len(program), dma.issued[0], groups, dma.decoded_at)


_ENGINE_OPS = {"WR_GB", "WR_BIAS", "MAC_ABK", "RD_MAC", "SYNC", "EOC"}


def is_engine_trace(path, max_lines: int | None = None) -> bool:
    """True if a trace file is plain text of the six opcodes pimlab's command engine schedules (`aimtrace`),
    all on one channel mask (where the engine's per-channel view is exact). With max_lines, only the file's first
    max_lines lines are read: True then means that none of them rules it out.

    Anything else (gzip, host requests, other opcodes, masks that differ) is replayed as a whole program by
    `replay`; a file that cannot be read at all is left to `read_program`, which names the problem.
    """
    masks, seen = set(), False
    try:
        with open(path, encoding="utf-8") as lines:  # line by line: most traces are ruled out by their first line
            for line in islice(lines, max_lines):
                tokens = line.split("#", 1)[0].replace(",", " ").split()
                if not tokens:
                    continue
                if tokens[0] != "AiM" or len(tokens) < 2 or tokens[1].removeprefix("ISR_") not in _ENGINE_OPS:
                    return False
                seen = True
                at = {"WR_GB": 4, "WR_BIAS": 3, "RD_MAC": 3, "MAC_ABK": 3}.get(tokens[1].removeprefix("ISR_"))
                if at is not None and len(tokens) > at:
                    masks.add(tokens[at].lower())
                    if len(masks) > 1:
                        return False
    except (OSError, UnicodeDecodeError):
        return False
    return seen
