"""Fig. 7: the GEMV command stack under static in-order scheduling and under DCS (docs/sources.md §6.1 [R])."""

from __future__ import annotations

from dataclasses import dataclass

from pimlab import paper
from pimlab.engine.timing import EngineTiming, fig7_engine
from pimlab.isa import FIG7_GBUF_ENTRIES, Commands, Instruction, expand, fig7_module, fig7_stream
from pimlab.reproduce import Record, compare
from pimlab.schedule import schedule
from pimlab.trace import Trace

FIGURE = "7"
__all__ = ["Fig7Data", "fig7"]


@dataclass(frozen=True)
class Fig7Data:
    """The stack of Fig. 7(a) and its two timelines, (b) static with one OutReg and (d) DCS."""

    static_instructions: tuple[Instruction, ...]
    dcs_instructions: tuple[Instruction, ...]
    static_commands: Commands
    dcs_commands: Commands
    static: Trace
    dcs: Trace
    timing: EngineTiming
    gbuf_entries: int
    obuf_entries: int  # DCS's output entries; static has one OutReg

    @property
    def static_cycles(self) -> int:
        return self.static.total_cycles

    @property
    def dcs_cycles(self) -> int:
        return self.dcs.total_cycles

    @property
    def speedup(self) -> float:
        return self.static_cycles / self.dcs_cycles


def fig7(tCCDS: int = 1, t_wr_inp: int = 4, t_mac: int = 3, t_rd_out: int = 9, obuf_entries: int = 2,
         gbuf_entries: int = FIG7_GBUF_ENTRIES) -> Fig7Data:
    """Schedule Fig. 7's stack (3 input tiles, 2 output tiles) statically and with DCS.

    The defaults are the reconstructed example timing of docs/sources.md §6.1 [R] (34 vs 22 cycles) and
    Fig. 7(a)'s 3-entry GBuf; `gbuf_entries` (1 to 64) is shared by both schedules.
    """
    timing = fig7_engine(tCCDS, t_wr_inp, t_mac, t_rd_out)
    module = fig7_module(obuf_entries, gbuf_entries)
    static_instr, dcs_instr = fig7_stream(1, gbuf_entries), fig7_stream(obuf_entries, gbuf_entries)
    static_cmd, dcs_cmd = expand(static_instr, 0), expand(dcs_instr, 0)
    return Fig7Data(tuple(static_instr), tuple(dcs_instr), static_cmd, dcs_cmd,
                    schedule(static_cmd, "static", timing, module.gbuf_entries, 1),
                    schedule(dcs_cmd, "dcs", timing, module.gbuf_entries, obuf_entries),
                    timing, module.gbuf_entries, obuf_entries)


def scorecard() -> list[Record]:
    """Static and DCS cycles of the reconstructed example."""
    data = fig7()
    return [compare(paper.FIG7_STATIC_CYCLES, data.static_cycles, "static schedule, cycles"),
            compare(paper.FIG7_DCS_CYCLES, data.dcs_cycles, "DCS schedule, cycles")]
