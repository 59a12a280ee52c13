"""The command engine's timing table: every cycle constant that can bind, keyed by `isa.Kind`, and its presets.

`EngineTiming` holds one channel's timing as the schedulers see it, in cycles of tCK: completion latency per
kind, DRAM row timing (every policy), the static controller's fixed gaps (the policy decides which it obeys),
the data bus (burst and turnaround, every policy), the mode switch, refresh, and aim_simulator's accounting.
`aim_engine` builds it from the named fields of `hardware.Timing`; `fig7_engine` from Fig. 7's four knobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pimlab.hardware import AIM, AIM_TIMING, AIMSIM, AIMSIM_TIMING, FIG7, Module, Timing
from pimlab.isa import Kind
from pimlab.validate import check_choice, check_int

__all__ = ["KindTable", "EngineTiming", "BUS_WRITES", "BUS_READS", "aim_engine", "fig7_engine", "engine_preset",
           "ENGINE_PRESETS", "AIM_ENGINE", "AIMSIM_ENGINE", "FIG7_ENGINE"]

BUS_WRITES = (Kind.WR_INP, Kind.WR_BIAS)  # commands that carry data from the host over the channel's data bus
BUS_READS = (Kind.RD_OUT,)  # commands that carry data to the host
_LIMIT = 1 << 20


def _kind(value, what: str) -> Kind:
    if not isinstance(value, Kind):
        raise ValueError(f"{what} keys must be pimlab.isa.Kind values (or pairs of them), got {value!r}")
    return value


@dataclass(frozen=True)
class KindTable:
    """Cycles per command kind, or per ordered pair (earlier kind, later kind); what is not listed is 0.

    Build with `KindTable.of({Kind.MAC: 2, ...})` or `KindTable.of({(Kind.ACT, Kind.MAC): 56, ...})`.
    """

    entries: tuple  # ((key, cycles), ...) in key order, no zeros

    @classmethod
    def of(cls, cycles: dict, what: str = "table") -> KindTable:
        items = []
        for key, value in cycles.items():
            pair = isinstance(key, tuple)
            key = tuple(_kind(k, what) for k in key) if pair and len(key) == 2 else _kind(key, what)
            name = "->".join(k.name for k in key) if pair else key.name
            value = check_int(f"{what}[{name}]", value, 0, _LIMIT)
            if value:
                items.append((key, value))
        return cls(tuple(sorted(items, key=lambda item: item[0] if isinstance(item[0], tuple) else (item[0],))))

    def __getitem__(self, key) -> int:
        for k, value in self.entries:
            if k == key:
                return value
        return 0

    def items(self) -> tuple:
        return self.entries

    def per_kind(self) -> list[int]:
        """A list indexed by kind code (a table keyed by kinds)."""
        out = [0] * len(Kind)
        for k, value in self.entries:
            out[k] = value
        return out

    def max(self) -> int:
        return max((value for _, value in self.entries), default=0)

    def __repr__(self) -> str:
        def name(key):
            return "->".join(k.name for k in key) if isinstance(key, tuple) else key.name

        return "{" + ", ".join(f"{name(k)}: {v}" for k, v in self.entries) + "}"


@dataclass(frozen=True)
class EngineTiming:
    """What the command schedulers need of one channel's timing, in cycles of tCK.

    latency_cycles[k]: from issue until a command of kind k completes (its S-Table expiration); REF takes tRFC
    and the mode switch tMODCH, after which every command waits (policies that switch modes only).
    row_cycles[a, b]: DRAM row timing from the latest command of kind a to one of kind b; every policy obeys it.
    static_gap_cycles[a, b]: the static (AiMX / aim_simulator) controller's fixed distances; a policy says which
    of them it obeys. bus_burst_cycles: WR-INP, WR-BIAS and RD-OUT hold the data bus this long (0: no data-bus
    model); bus_turnaround_cycles[write, read] / [read, write]: the data bus changing direction; every policy
    obeys both. tMODCH: the register / MAC mode switch of the policies that switch (0: none). rows=False treats
    every row as open (the Fig. 7 example). start_cycle / end_extra_cycles reproduce aim_simulator's accounting
    (first command at cycle 1; the run ends end_extra_cycles[k] after the last command of kind k issues); with
    end_extra_cycles None the run ends when the last command completes.
    """

    name: str
    tCCD: int  # spacing of commands in one DCS / ping-pong queue (the bank PU's command rate)
    latency_cycles: KindTable
    row_cycles: KindTable
    static_gap_cycles: KindTable
    bus_burst_cycles: int = 0
    bus_turnaround_cycles: KindTable = KindTable(())
    tMODCH: int = 0
    rows: bool = True
    refresh: bool = False
    tREFI: int = 3333
    tRFC: int = 210
    start_cycle: int = 0
    end_extra_cycles: KindTable | None = None
    note: str = ""

    def __post_init__(self):
        check_int("tCCD", self.tCCD, 1, 1024)
        for name in ("latency_cycles", "row_cycles", "static_gap_cycles", "bus_turnaround_cycles"):
            if not isinstance(getattr(self, name), KindTable):
                raise ValueError(f"{name} must be a KindTable, got {type(getattr(self, name)).__name__}")
        if self.end_extra_cycles is not None and not isinstance(self.end_extra_cycles, KindTable):
            raise ValueError(f"end_extra_cycles must be a KindTable or None, got {self.end_extra_cycles!r}")
        check_int("bus_burst_cycles", self.bus_burst_cycles, 0, _LIMIT)
        check_int("tMODCH", self.tMODCH, 0, _LIMIT)
        check_int("tREFI", self.tREFI, 2, 1 << 30)
        check_int("tRFC", self.tRFC, 1, self.tREFI - 1)
        check_int("start_cycle", self.start_cycle, 0, _LIMIT)
        need = self.tRFC + self.tMODCH + self.row_cycles[(Kind.ACT, Kind.MAC)] + 2
        if self.refresh and self.rows and self.tREFI <= need:
            raise ValueError(f"tREFI must exceed tRFC + tMODCH + tRCD (ACT -> MAC) + 2 = {need} cycles, so that a "
                             f"MAC can issue between two refreshes; got {self.tREFI}")

    def bus_distance(self, earlier: Kind, later: Kind) -> int:
        """Data-bus distance between two transfers: the turnaround when the direction changes, else the burst."""
        if earlier not in BUS_WRITES + BUS_READS or later not in BUS_WRITES + BUS_READS:
            return 0
        if (earlier in BUS_WRITES) != (later in BUS_WRITES):
            return max(self.bus_burst_cycles, self.bus_turnaround_cycles[(earlier, later)])
        return self.bus_burst_cycles

    @property
    def horizon_cycles(self) -> int:
        """A time this far before now can no longer bind anything."""
        return 1 + max(self.latency_cycles.max(), self.row_cycles.max(), self.static_gap_cycles.max(),
                       self.bus_burst_cycles, self.bus_turnaround_cycles.max(), self.tCCD, self.tMODCH)


def fig7_engine(tCCDS: int = 1, t_wr_inp: int = 4, t_mac: int = 3, t_rd_out: int = 9) -> EngineTiming:
    """Fig. 7's reconstructed example [R]: no rows, refresh, mode switch or data-bus turnaround.

    The static gap to the previous command is tCCDS for the same type and the earlier command's execution
    time otherwise; the defaults are the recommended set that gives 34 (static) and 22 (DCS) cycles.
    """
    check_int("tCCDS", tCCDS, 1, 16)
    data = (Kind.WR_INP, Kind.MAC, Kind.RD_OUT, Kind.WR_BIAS)
    latency = {Kind.WR_INP: check_int("t_wr_inp", t_wr_inp, 1, 64), Kind.MAC: check_int("t_mac", t_mac, 1, 64),
               Kind.RD_OUT: check_int("t_rd_out", t_rd_out, 1, 64)}
    latency[Kind.WR_BIAS] = latency[Kind.WR_INP]
    gaps = {(a, b): tCCDS if a == b else latency[a] for a in data for b in data}
    return EngineTiming("fig7", tCCDS, KindTable.of(latency, "latency_cycles"), KindTable(()),
                        KindTable.of(gaps, "static_gap_cycles"), rows=False,
                        note="Fig. 7 reconstruction [R]: tCCDS=1, t_WR-INP=4, t_MAC=3, t_RD-OUT=9")


def _aim_static_gaps(t: Timing) -> dict:
    """The static controller's fixed distances [A] (aim_simulator's pair-distance table), from named fields."""
    W, M, R, B, A, P, T = Kind.WR_INP, Kind.MAC, Kind.RD_OUT, Kind.WR_BIAS, Kind.ACT, Kind.PRE, Kind.MODE
    gaps = {(M, M): t.tCCD, (M, R): t.tCCD, (W, R): t.tWTR_GB, (B, R): t.tWTR_BIAS, (R, W): t.tRTW,
            (R, B): t.tRTW}
    gaps.update({(a, b): t.tCCD for a in (W, B) for b in (W, B)})
    gaps.update({(R, b): t.tRD_MAC_block for b in (A, P, M, R, T)})  # RD_MAC blocks the stream
    return gaps  # every command waits tMODCH after TMOD: the core's rule for the policies that switch modes


def aim_engine(timing: Timing = AIM_TIMING, name: str = "aim", aimsim_accounting: bool = False) -> EngineTiming:
    """The AiM channel controller as aim_simulator implements it [A], from the named fields of `timing`.

    Static policy: the fixed distances of `_aim_static_gaps`, the TMOD mode switch (tMODCH) between register
    I/O and MAC, open-page rows. Every policy: the row timing and the data bus (tBL burst, tWTR_GB / tWTR_BIAS
    write-to-read and tRTW read-to-write, the values the static controller's table uses). MAC latency = tCCD
    [A: MAC16 -> RDMAC16 is 2 cycles]; WR_BIAS completes like WR_GB (tCWLGB + tBL).
    """
    t = timing
    A, P, M, R, W, B = Kind.ACT, Kind.PRE, Kind.MAC, Kind.RD_OUT, Kind.WR_INP, Kind.WR_BIAS
    latency = {W: t.t_wr_inp, M: t.tCCD, R: t.t_rd_out, A: t.tRCD_MAC, P: t.tRP, B: t.t_wr_inp}
    rows = {(A, A): t.tRC, (A, P): t.tRAS, (A, M): t.tRCD_MAC, (P, A): t.tRP, (P, P): t.tRP, (M, P): t.tRTP}
    turnaround = {(W, R): t.tWTR_GB, (B, R): t.tWTR_BIAS, (R, W): t.tRTW, (R, B): t.tRTW}
    end = {W: t.eoc_io_cycles, R: t.eoc_io_cycles, B: t.eoc_io_cycles, M: t.eoc_mac_cycles}
    return EngineTiming(
        name, t.tCCD, KindTable.of(latency, "latency_cycles"), KindTable.of(rows, "row_cycles"),
        KindTable.of(_aim_static_gaps(t), "static_gap_cycles"), t.tBL, KindTable.of(turnaround, "bus_turnaround"),
        tMODCH=t.tMODCH, rows=True, refresh=t.refresh, tREFI=t.tREFI, tRFC=t.tRFC,
        start_cycle=1 if aimsim_accounting else 0,
        end_extra_cycles=KindTable.of(end, "end_extra_cycles") if aimsim_accounting else None,
        note="aim_simulator's accounting: no refresh, first command at cycle 1, EOC end rule" if aimsim_accounting
        else "pimlab's AiM: aim_simulator's controller rules plus refresh (tRFC every tREFI), counted from "
             "cycle 0 to the last completion")


AIM_ENGINE = aim_engine()
AIMSIM_ENGINE = aim_engine(AIMSIM_TIMING, "aimsim", aimsim_accounting=True)
FIG7_ENGINE = fig7_engine()
ENGINE_PRESETS = ("aim", "aimsim", "fig7")


def engine_preset(name: str) -> tuple[Module, EngineTiming]:
    """The module and engine timing of a named preset: "aim" (pimlab), "aimsim" (aim_simulator), "fig7"."""
    check_choice("preset", name, ENGINE_PRESETS)
    return {"aim": (AIM, AIM_ENGINE), "aimsim": (AIMSIM, AIMSIM_ENGINE), "fig7": (FIG7, FIG7_ENGINE)}[name]
