"""Energy of a decode step: MAC, I/O, ACT/PRE and background (power x time), plus "else", per component.

Constants are CENT's power model [C] Yufeng98/CENT `cent_simulation/cent_power_calculator.py` (commit
863bd7d): GDDR6-AiM currents per channel at 2 GHz, 5.5 pJ/bit on the DQ pins, SRAM and controller power.
Counts come from the command engine (MAC, ACT, WR-INP, RD-OUT per tile) and the host bursts of CENT's
traces; times from the step. An all-bank ACT opens 16 banks (CENT counts ACT16 as 16 ACTs).
"""

from __future__ import annotations

# [C] DRAM_POWER, in mW per channel (CENT halves its table: two channels per die)
ACT_STBY_mW = 527.5 / 2.0
ACT_mW = 132.6 / 2.0
RD_mW = 876.3 / 2.0
WR_mW = 1106.3 / 2.0
tRC_ns, tBL_ns, tCCDL_ns = 44.5, 1.25, 1.0  # [C]
DQ_pJ_PER_BIT, WORD_BITS = 5.5, 256  # [C] DQ_ENERGY, WORD_SIZE
# [C] per-device static power of "else": instruction, shared and global buffers, and the CXL/PIM controller
# (its switching activity taken as 0.5, as CENT does)
ELSE_mW_PER_MODULE = 18.81731768 + 0.6917736525 + 32 * 0.06702101898 + 0.5 * (
    3.18e-3 + 3.36e-3 + 2.89e-3 + 2.37e-1 + 1.30e-4 + 2.49e-2 + 2.37e-1 + 4.51e-2 + 5.42 + 8.77e-3)

ACT_J = 16 * ACT_mW * 1e-3 * tRC_ns * 1e-9  # one all-bank ACT/PRE pair
MAC_J = 3 * RD_mW * 1e-3 * tCCDL_ns * 1e-9  # one all-bank MAC (CENT: 3 x a read's power for tCCDL)
IO_J = DQ_pJ_PER_BIT * WORD_BITS * 1e-12 + RD_mW * 1e-3 * tBL_ns * 1e-9  # one 32 B burst over the pins
BACKGROUND_W_PER_CHANNEL = ACT_STBY_mW * 1e-3


def step_energy(cfg, totals: dict, period_s: float) -> dict[str, float]:
    """Joules of one step by part: "attention.*", "fc.*" (mac, io, actpre, background), "idle", "else"."""
    lay = cfg.layout
    tccd = lay.system.module.timing.tCCD
    channels = lay.unit_channels * lay.tp
    out = {}
    for part in ("attention", "fc"):
        mac_cycles, act, wr_inp, rd_out = totals[f"{part}_commands"]
        out[f"{part}.mac"] = mac_cycles / tccd * MAC_J
        out[f"{part}.io"] = (wr_inp + rd_out) * IO_J
        out[f"{part}.actpre"] = act * ACT_J
    out["attention.io"] += totals["host_bursts"] * IO_J * lay.tp
    busy_attention = totals["attention_s"] * channels
    out["attention.background"] = busy_attention * BACKGROUND_W_PER_CHANNEL
    all_channel_s = lay.system.channels * period_s
    busy_fc = totals.get("fc_s", 0.0) * channels if cfg.kind == "cent" else 0.0
    out["fc.background"] = busy_fc * BACKGROUND_W_PER_CHANNEL
    out["idle"] = max(0.0, all_channel_s - busy_attention - busy_fc) * BACKGROUND_W_PER_CHANNEL
    out["else"] = lay.system.modules * ELSE_mW_PER_MODULE * 1e-3 * period_s
    return out


def attention_breakdown(energy_j: dict) -> dict[str, float]:
    """Attention's joules by MAC, I/O, ACT/PRE and background."""
    return {k.split(".")[1]: v for k, v in energy_j.items() if k.startswith("attention.")}


__all__ = ["step_energy", "attention_breakdown", "MAC_J", "ACT_J", "IO_J", "BACKGROUND_W_PER_CHANNEL"]
