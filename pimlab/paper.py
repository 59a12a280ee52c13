"""The paper's reported numbers, each with its figure, quoted sentence, comparison tolerance and kind.

This module is only ever compared against: nothing in pimlab's model reads it. Source tags: "Q" quoted
from the paper's text (arXiv 2412.20166 v3), "O" read off a figure (docs/sources.md §1).

To add a number, append one `PaperNumber(...)` at module level (the registry is this module's globals, in
order). Every entry states:
- `tolerance` (absolute, in the number's unit) and `tolerance_why`: the precision of the reading (a quoted
  number to its last digit: half a unit of that digit; a number read off a plot: the plot's resolution),
  plus, for a modelled number, the model's known fidelity in words (what pimlab leaves out that could move
  it). A tolerance wider than the reading says why.
- `kind` and `kind_why`: what kind of number pimlab sets beside it (KINDS): "input" (a preset echoed),
  "derived" (arithmetic on presets), "modelled" (a simulation, mapping or allocation result),
  "calibrated" (rests on a named calibrated knob), "reconstructed" (rests on a reconstructed example or an
  assumed encoding). A figure module that scores one number twice (e.g. with and without a calibrated
  knob) overrides the kind in `pimlab.reproduce.compare`. Only modelled numbers are evidence.
- `bound`: "value" (two-sided: |pimlab - value| <= tolerance) or "upper" for a number the paper gives as a
  bound ("below 0.2%", "less than 200KB"): anything from 0 up to value + tolerance agrees. "Up to X" is
  not a bound: it says the largest value of a set is X, and is scored two-sided on that maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

KINDS = ("input", "derived", "modelled", "calibrated", "reconstructed")
BOUNDS = ("value", "upper")


@dataclass(frozen=True)
class PaperNumber:
    """One number the paper reports, and what kind of pimlab number is compared with it."""

    SOURCES: ClassVar[tuple] = ("Q", "O")  # quoted, or read off a figure (see the module docstring)

    key: str
    value: float
    unit: str
    figure: str
    quote: str
    tolerance: float  # |pimlab - value| <= tolerance counts as reproduced
    tolerance_why: str
    source: str = "Q"
    bound: str = "value"  # "value": |pimlab - value| <= tolerance; "upper": 0 <= pimlab <= value + tolerance
    kind: str = ""  # one of KINDS: required
    kind_why: str = ""  # how pimlab computes the number it sets beside this one: required

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"kind of {self.key} must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.bound not in BOUNDS:
            raise ValueError(f"bound of {self.key} must be one of {', '.join(BOUNDS)}, got {self.bound!r}")
        if self.source not in self.SOURCES:
            raise ValueError(f"source of {self.key} must be one of {', '.join(self.SOURCES)}, got {self.source!r}")
        if not (self.kind_why and self.tolerance_why) or self.tolerance < 0:
            raise ValueError(f"{self.key} must state kind_why, tolerance_why and a tolerance >= 0")

    def within(self, pimlab_value: float, low: float | None = None) -> bool:
        """Does pimlab's value (or its range [low, pimlab_value]) agree with the paper's number?"""
        got = float(pimlab_value)
        low = got if low is None else float(low)
        if self.bound == "upper":
            return 0 <= low and got <= self.value + self.tolerance
        return low - self.tolerance <= self.value <= got + self.tolerance


_SYSTEM = ("half a unit of the last quoted digit, plus the end-to-end model's fidelity, about a third of the value: "
           "pimlab's system model is first-order (the authors' simulator, NMU and CXL timings and serving mix are not "
           "public; CENT's are ported from its artifact, pimlab.system), so a third is all the agreement it can claim")
_SYSTEM_KIND = "modelled by the end-to-end system model (pimlab.system; the figure module says which runs)"
_UNIT = "quoted to the unit: half a unit"
_EXACT = "an exact count or size quoted in full: no tolerance"
_SYNTHESIS = "a synthesis / CACTI result quoted to its last digit; pimlab has no area or power model"

# --- Fig. 2 and Table IV: hardware and workload pressure ---------------------------------------
A100_CAPACITY_GiB = PaperNumber(
    "a100_capacity", 80, "GiB", "Fig. 2",
    "Fig. 2(b) draws a dashed A100-80GB capacity line with an 'Out of memory' region.",
    0.0, "the line is labelled 80GB: the preset must be that part", "O",
    kind="input", kind_why="the A100 preset's memory, echoed")
FIG2_OOM_CONTEXT_BS8 = PaperNumber(
    "fig2_oom_context_bs8", 16, "log2 tokens", "Fig. 2",
    "Fig. 2(b): the bs = 8 footprint curve meets the dashed A100-80GB line near the 64K-token grid point.",
    0.5, "read off the plot: its context axis is in doublings, so a crossing 'near 64K' is read to half a "
    "grid step (a factor of sqrt 2 either way)", "O",
    kind="derived", kind_why="arithmetic on the model and GPU presets: (80 GiB - weights) / (8 x KV bytes per token)")
CENT_CAPACITY_GB = PaperNumber(
    "cent_capacity", 16, "GiB", "Table IV", "CENT (PIM-only): PNM (3 TFLOPS), 32 PIM channels, 16GB, 16TB/s.",
    0.5, _UNIT, kind="derived", kind_why="channels x banks x rows x row bytes of the CENT preset")
CENT_INTERNAL_BW = PaperNumber(
    "cent_internal_bw", 16, "TB/s", "Table IV", "CENT (PIM-only): PNM (3 TFLOPS), 32 PIM channels, 16GB, 16TB/s.",
    0.5, _UNIT + "; TB = 1024 GB, as the table's GB are GiB (16GB = 16 GiB of rows)",
    kind="derived", kind_why="channels x banks x 32 B per tCCD of the CENT preset")
NEUPIMS_CAPACITY_GB = PaperNumber(
    "neupims_capacity", 32, "GiB", "Table IV",
    "NeuPIMs (xPU+PIM): 8 Matrix Units (256 TFLOPS), 32 PIM channels, 32GB, 32TB/s.",
    0.5, _UNIT, kind="derived", kind_why="channels x banks x rows x row bytes of the NeuPIMs preset")
NEUPIMS_INTERNAL_BW = PaperNumber(
    "neupims_internal_bw", 32, "TB/s", "Table IV",
    "NeuPIMs (xPU+PIM): 8 Matrix Units (256 TFLOPS), 32 PIM channels, 32GB, 32TB/s.",
    0.5, _UNIT + "; TB = 1024 GB, as the table's GB are GiB",
    kind="derived", kind_why="channels x banks x 32 B per tCCD of the NeuPIMs preset")
IO_INPUT_BUFFER_BYTES = PaperNumber(
    "gbuf_bytes", 2048, "B", "Sec. II-D",
    "limited I/O buffers—2KB input per channel and 4-byte output per bank [AiM_ISSCC]", 0.0, _EXACT,
    kind="derived", kind_why="GBuf entries x 32 B of the AiM preset")
WR_INP_TILE_BYTES = PaperNumber(
    "wr_inp_tile_bytes", 32, "B", "Sec. V-A",
    "WR-INP writes a 32B tile to a Global Buffer (GBuf) entry", 0.0, _EXACT,
    kind="input", kind_why="the AiM preset's column bytes, echoed")
RD_OUT_BYTES = PaperNumber(
    "rd_out_bytes", 32, "B", "Sec. V-A",
    "RD-OUT drains a 2B result from all 16 banks concurrently (32B in total).", 0.0, _EXACT,
    kind="derived", kind_why="banks x dtype bytes of the AiM preset")
MODULE_CHANNELS = PaperNumber(
    "module_channels", 16, "channels", "Sec. IV-C",
    "Under a commercial PIM module [AiMX-White-Paper] configuration with 16 channels and 16 banks per channel",
    0.0, _EXACT, kind="input", kind_why="the AiM preset's channels, echoed")
MODULE_BANKS = PaperNumber(
    "module_banks", 16, "banks", "Sec. IV-C",
    "Under a commercial PIM module [AiMX-White-Paper] configuration with 16 channels and 16 banks per channel",
    0.0, _EXACT, kind="input", kind_why="the AiM preset's banks, echoed")
CENT_MODULES_7B = PaperNumber(
    "cent_modules_7b", 8, "modules", "Sec. VIII-A",
    "CENT [cent], a PIM-only system with 16GB per module ... configuring 128GB for 7B and 512GB for 72B models",
    0.0, _EXACT, kind="derived", kind_why="128 GB over the CENT preset's module capacity")
CENT_MODULES_72B = PaperNumber(
    "cent_modules_72b", 32, "modules", "Sec. VIII-A",
    "CENT [cent], a PIM-only system with 16GB per module ... configuring 128GB for 7B and 512GB for 72B models",
    0.0, _EXACT, kind="derived", kind_why="512 GB over the CENT preset's module capacity")
NEUPIMS_MODULES_7B = PaperNumber(
    "neupims_modules_7b", 4, "modules", "Sec. VIII-A",
    "NeuPIMs [heo2024neupims], a hybrid xPU+PIM system with 32GB per module ... configuring 128GB for 7B",
    0.0, _EXACT, kind="derived", kind_why="128 GB over the NeuPIMs preset's module capacity")
NEUPIMS_MODULES_72B = PaperNumber(
    "neupims_modules_72b", 16, "modules", "Sec. VIII-A",
    "NeuPIMs [heo2024neupims], a hybrid xPU+PIM system with 32GB per module ... and 512GB for 72B models",
    0.0, _EXACT, kind="derived", kind_why="512 GB over the NeuPIMs preset's module capacity")

# --- Fig. 4: PIM utilization --------------------------------------------------------------------
FIG4_UTIL_DROP_32K = PaperNumber(
    "fig4_util_drop_32k", 48, "%", "Fig. 4",
    "our analysis reveals that MAC unit utilization drops by 48% at a 32K context length (Fig. 4).",
    10.0, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
FIG4_EFFECTIVE_BATCH = PaperNumber(
    "fig4_effective_batch", 53, "requests", "Fig. 4", "Fig. 4 annotation: 'Effective batch=53'.",
    8.0, "placement of the annotation in the figure is uncertain", "O", kind="modelled", kind_why=_SYSTEM_KIND)

# --- Fig. 6: TCP ----------------------------------------------------------------------------------
_TCP = "the TCP placement of one head (pimlab.geometry's layout, through the mapper)"
TCP_QK_FULL_ACTIVATION = PaperNumber(
    "tcp_qk_full_tokens", 256, "tokens", "Fig. 6",
    "full channel activation is achieved once the token length exceeds 256 for QKT and 32 for SV.",
    0.0, "a threshold quoted in full; the layout fixes it exactly (no timing involved)",
    kind="modelled", kind_why=_TCP)
TCP_SV_FULL_ACTIVATION = PaperNumber(
    "tcp_sv_full_tokens", 32, "tokens", "Fig. 6",
    "full channel activation is achieved once the token length exceeds 256 for QKT and 32 for SV.",
    0.0, "a threshold quoted in full; the layout fixes it exactly (no timing involved)",
    kind="modelled", kind_why=_TCP)
TCP_EXAMPLE_QK_TOKENS = PaperNumber(
    "tcp_example_qk_tokens_per_channel", 4096, "tokens", "Fig. 6",
    "with a total token length of 16K and a head dimension of 32. Under this configuration, [QK^T] assigns "
    "4K tokens to each channel", 0.0, "'4K' of 16K tokens over 4 channels: an exact split",
    kind="modelled", kind_why=_TCP)
TCP_EXAMPLE_SV_TOKENS = PaperNumber(
    "tcp_example_sv_tokens_per_channel", 2048, "tokens", "Fig. 6",
    "while [SV] assigns 2K tokens per channel and performs a single global reduction across channels",
    0.0, "'2K' of 16K tokens: an exact split", kind="modelled", kind_why=_TCP)
TCP_SV_REDUCTION_SHARE = PaperNumber(
    "tcp_sv_reduction_share", 0.2, "%", "Fig. 6",
    "SV performs a single inter-channel reduction per module, whose cost is minimal—below 0.2% of total "
    "attention latency for an LLM-7B with 16K tokens.", 0.0, "an upper bound: anything in [0, 0.2] agrees",
    bound="upper", kind="modelled",
    kind_why="the mapper's timeline with command-engine tile costs; the HUB adds one 16-lane partial-sum tile "
             "per tCK (pimlab's assumption, a knob)")

# --- Figs. 7, 8, 9, 18: DCS -------------------------------------------------------------------------
FIG7_STATIC_CYCLES = PaperNumber(
    "fig7_static_cycles", 34, "cycles", "Fig. 7",
    "In the example shown in Fig. 7(d), DCS reduces the execution from 34 cycles to just 22 cycles.",
    0.0, "cycle counts quoted in full", kind="reconstructed",
    kind_why="the engine on Fig. 7's reconstructed timing (tCCDS 1, WR-INP 4, MAC 3, RD-OUT 9), chosen so "
             "that this example gives 34 and 22")
FIG7_DCS_CYCLES = PaperNumber(
    "fig7_dcs_cycles", 22, "cycles", "Fig. 7",
    "In the example shown in Fig. 7(d), DCS reduces the execution from 34 cycles to just 22 cycles.",
    0.0, "cycle counts quoted in full", kind="reconstructed",
    kind_why="the engine on Fig. 7's reconstructed timing, chosen so that this example gives 34 and 22")
FIG8_STATIC_MAC_UTIL_D128 = PaperNumber(
    "fig8_static_mac_util_128", 14.7, "%", "Fig. 8",
    "for small dimensions typical of Attention (128, corresponding to a head dimension), MAC utilization "
    "drops sharply to 14.7%.", 3.0,
    "quoted to 0.1 (reading 0.05), widened to 3 points for what the model leaves open: whether the paper's "
    "simulator refreshes (pimlab does; without refresh the value is about 1.3 points higher) and how it counts "
    "the first row activation of a short run. The register/MAC mode switch, which causes most of the loss "
    "(about 46% without it), is aim_simulator's, taken as is",
    kind="modelled", kind_why="the command engine's static schedule of a GEMV on aim_simulator's timing")
FIG18_DCS_OVER_PINGPONG = PaperNumber(
    "fig18_dcs_over_pingpong", 1.4, "x", "Fig. 18",
    "across Attention settings, DCS achieves up to 1.4x higher compute-unit utilization (Fig. 18).",
    0.05, "'up to 1.4x' is the largest ratio over MHA and GQA g = 2, 4, 8, quoted to one decimal (0.05). The "
    "paper does not say in which command order its ping-pong baseline ran, so pimlab's value is a range: the "
    "maximum with the program order as compiled and with software pipelining (each load before the previous "
    "RD-OUT); it agrees when 1.4 +- 0.05 meets that range. The engine issue's bus model moves both ends",
    kind="modelled", kind_why="the command engine: ping-pong and DCS schedules of QK^T + SV of one KV head")
DCS_TABLE_BYTES = PaperNumber(
    "dcs_table_bytes", 576, "B", "Sec. VII-C",
    "including a per-controller 576B metadata table (D-Table and S-Table)", 0.0, _EXACT,
    kind="derived", kind_why="table entries x entry bits of the DCS controller (not yet in the scorecard)")
DCS_AREA_OVERHEAD = PaperNumber(
    "dcs_area_overhead", 0.5, "%", "Sec. VII-C",
    "across all HUB control blocks [AiMX-White-Paper], the area increases by 0.5% and the power by 1.3%.",
    0.05, _SYNTHESIS, kind="input", kind_why="not modelled: shown as the paper's number only")
DCS_POWER_OVERHEAD = PaperNumber(
    "dcs_power_overhead", 1.3, "%", "Sec. VII-C",
    "across all HUB control blocks [AiMX-White-Paper], the area increases by 0.5% and the power by 1.3%.",
    0.05, _SYNTHESIS, kind="input", kind_why="not modelled: shown as the paper's number only")
OBUF_AREA_OVERHEAD = PaperNumber(
    "obuf_area_overhead", 0.47, "%", "Sec. VII-C",
    "the I/O-aware buffering incurs a minimal area overhead, occupying just 0.47% of the MAC unit area "
    "[AiM_ISSCC] per PIM bank", 0.005, _SYNTHESIS,
    kind="input", kind_why="not modelled: shown as the paper's number only")

# --- Figs. 10/11 and 19: DPA ---------------------------------------------------------------------
DPA_CHUNK_BYTES = PaperNumber(
    "dpa_chunk_bytes", 2**20, "B", "Fig. 10/11",
    "the host allocates 1MB chunks on demand as a request's KV cache grows, updating the VA2PA table",
    0.0, _EXACT, kind="input", kind_why="the KV layout's chunk size, echoed")
DPA_DISPATCHER_BUDGET_KB = PaperNumber(
    "dpa_dispatcher_kb", 200, "KB", "Fig. 10/11",
    "This dispatcher requires less than 200KB for all its internal buffers (VA2PA, command, configuration), "
    "which is much smaller than the 512KB", 0.0, "an upper bound: anything in [0, 200] agrees", bound="upper",
    kind="reconstructed",
    kind_why="VA2PA entries from the allocator's chunks, but program and configuration bytes rest on pimlab's "
             "assumed encodings (8-byte instructions, 12-byte configuration entries, 256 requests)")
DPA_GPR_KB = PaperNumber(
    "pim_hub_gpr_kb", 512, "KB", "Fig. 10/11",
    "which is much smaller than the 512KB [GPR of a typical PIM HUB]", 0.0, _EXACT,
    kind="input", kind_why="not modelled: the GPR size the notebook draws as a line")
DPA_AREA_OVERHEAD = PaperNumber(
    "dpa_area_overhead", 4, "%", "Sec. VII-C",
    "The on-module dispatcher supporting DPA incurs a 4% area overhead.", 0.5, _SYNTHESIS,
    kind="input", kind_why="not modelled: shown as the paper's number only")
_FIG19_TOL = ("quoted to 0.1% (reading 0.05), widened to 3 points for the model's fidelity: the datasets' length "
              "distributions are not published (pimlab draws a Beta with Table II's moments; a normal and a "
              "lognormal with the same moments differ by up to ~5 points in static utilization), and the "
              "paper does not describe its arrivals, output lengths or admission")
_FIG19_KIND = ("a decode trace of Table II lengths run through the static or lazy-chunk allocator on 8 CENT "
               "modules, chunks laid out by pimlab.geometry")
FIG19_STATIC_UTIL_AVG = PaperNumber(
    "fig19_static_util_avg", 36.2, "%", "Fig. 19",
    "this static approach leads to severe memory inefficiency, with an observed average capacity utilization "
    "of only 36.2% (See Sec. VIII-C).", 3.0, _FIG19_TOL, kind="modelled", kind_why=_FIG19_KIND)
FIG19_STATIC_UTIL_MIN = PaperNumber(
    "fig19_static_util_min", 31.0, "%", "Fig. 19",
    "capacity utilization ranges from 31.0% to 40.5% across workloads", 3.0, _FIG19_TOL,
    kind="modelled", kind_why=_FIG19_KIND)
FIG19_STATIC_UTIL_MAX = PaperNumber(
    "fig19_static_util_max", 40.5, "%", "Fig. 19",
    "capacity utilization ranges from 31.0% to 40.5% across workloads", 3.0, _FIG19_TOL,
    kind="modelled", kind_why=_FIG19_KIND)
FIG19_DPA_UTIL_AVG = PaperNumber(
    "fig19_dpa_util_avg", 75.6, "%", "Fig. 19",
    "Empirically, DPA raises average capacity utilization to 75.6%, more than doubling the static baseline.",
    3.0, _FIG19_TOL, kind="modelled", kind_why=_FIG19_KIND)

# --- Figs. 13-17, 20: system -------------------------------------------------------------------------
PIM_ONLY_HEADLINE = PaperNumber(
    "pim_only_speedup_max", 11.3, "x", "Fig. 13",
    "Our evaluations show performance boosts of up to 11.3x on PIM-only systems and 8.4x on xPU+PIM systems",
    2.0, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
XPU_PIM_HEADLINE = PaperNumber(
    "xpu_pim_speedup_max", 8.4, "x", "Fig. 14",
    "Our evaluations show performance boosts of up to 11.3x on PIM-only systems and 8.4x on xPU+PIM systems",
    2.0, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
NON_GQA_SPEEDUP_MIN = PaperNumber(
    "non_gqa_speedup_min", 2.1, "x", "Fig. 13/14",
    "we observe a 2.1-4.5x speedup for GQA-disabled models (LLM-7B-32K, LLM-72B-32K) evaluated on LongBench.",
    0.5, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
NON_GQA_SPEEDUP_MAX = PaperNumber(
    "non_gqa_speedup_max", 4.5, "x", "Fig. 13/14",
    "we observe a 2.1-4.5x speedup for GQA-disabled models (LLM-7B-32K, LLM-72B-32K) evaluated on LongBench.",
    1.0, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
FIG15_PP_GAIN = PaperNumber(
    "fig15_pp_gain", 20, "%", "Fig. 15",
    "KV cache reuse from GQA, combined with DPA, boosts batch size and further motivates PP, achieving 20% "
    "higher throughput improvement.", 10.0, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
FIG16_BACKGROUND_SHARE_BASE = PaperNumber(
    "fig16_background_share_cent", 71.5, "%", "Fig. 16",
    "the baseline's low MAC utilization causes background energy to constitute a staggering 71.5% of the total "
    "energy in Attention layers.", 7.0, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
FIG16_BACKGROUND_SHARE_PIMPHONY = PaperNumber(
    "fig16_background_share_pimphony", 13.0, "%", "Fig. 16",
    "PIMphony drastically cuts the runtime, which in turn slashes the background energy's share to just 13.0%",
    4.0, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
FIG16_ATTENTION_SPEEDUP = PaperNumber(
    "fig16_attention_speedup_max", 19, "x", "Fig. 16",
    "By accelerating Attention execution by up to 19x, PIMphony drastically cuts the runtime", 4.0, _SYSTEM,
    kind="modelled", kind_why=_SYSTEM_KIND)
FIG16_ATTENTION_ENERGY_REDUCTION = PaperNumber(
    "fig16_attention_energy_reduction_max", 3.46, "x", "Fig. 16",
    "achieves up to a 3.46x reduction in Attention.", 0.5, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
FIG17_CENT_UTIL_1M = PaperNumber(
    "fig17_cent_util_1m", 2, "%", "Fig. 17",
    "CENT collapses under pipeline bubbles, dropping to 2% utilization, while PIMphony achieves 46.6x speedup.",
    1.0, "quoted to the unit (0.5) plus 0.5 points of model fidelity: a third of 2% would not tell 2% from 1.3%",
    kind="modelled", kind_why=_SYSTEM_KIND)
FIG17_SPEEDUP_CENT_1M = PaperNumber(
    "fig17_speedup_cent_1m", 46.6, "x", "Fig. 17",
    "CENT collapses under pipeline bubbles, dropping to 2% utilization, while PIMphony achieves 46.6x speedup.",
    10.0, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
FIG17_SPEEDUP_NEUPIMS_1M = PaperNumber(
    "fig17_speedup_neupims_1m", 5.0, "x", "Fig. 17",
    "NeuPIMs scale more stably via tensor parallelism, yet PIMphony still delivers 5.0x speedup (Fig.17(b)).",
    1.5, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)
FIG17_SPEEDUP_SHORT = PaperNumber(
    "fig17_speedup_256_tokens", 2.1, "x", "Fig. 17",
    "even at short contexts (e.g., 256 tokens), PIMphony achieved a 2.1x speedup over the baselines.",
    0.7, _SYSTEM, kind="modelled", kind_why=_SYSTEM_KIND)

# --- the system figures' bar labels (Figs. 4, 17) -------------------------------------------
_OCR_PLACE = "a bar label read from the figure (OCR); its placement is pimlab's best reading"
_NEUPIMS_LABELS = "Fig. 17(b) NeuPIMs bar labels: 2.0, 2.3, 2.6, 3.4, 5.0 (4K -> 1M)."
FIG4_GAIN_4K = PaperNumber(
    "fig4_gain_4k", 1.4, "x", "Fig. 4", "Fig. 4 annotation: '1.4x' (read as PIMphony over CENT at 4K).",
    0.4, _OCR_PLACE + "; 0.4 covers the reading", "O", kind="modelled",
    kind_why=_SYSTEM_KIND)
FIG4_GAIN_32K = PaperNumber(
    "fig4_gain_32k", 1.9, "x", "Fig. 4", "Fig. 4 annotation: '1.9x' (read as PIMphony over CENT at 32K).",
    0.5, _OCR_PLACE + "; 0.5 covers the reading", "O", kind="modelled",
    kind_why=_SYSTEM_KIND)
FIG17_NEUPIMS_SPEEDUP_4K = PaperNumber(
    "fig17_neupims_speedup_4k", 2.0, "x", "Fig. 17", _NEUPIMS_LABELS,
    0.7, _OCR_PLACE, "O", kind="modelled",
    kind_why=_SYSTEM_KIND)
FIG17_NEUPIMS_SPEEDUP_64K = PaperNumber(
    "fig17_neupims_speedup_64k", 2.6, "x", "Fig. 17", _NEUPIMS_LABELS,
    0.8, _OCR_PLACE, "O", kind="modelled",
    kind_why=_SYSTEM_KIND)
FIG17_CENT_SPEEDUP_64K = PaperNumber(
    "fig17_cent_speedup_64k", 4.8, "x", "Fig. 17",
    "Fig. 17(b) CENT bar labels: 1.3, 4.8, 12.7, 46.6 (one label of the five contexts missing from the OCR).",
    1.5, _OCR_PLACE + "; the missing label makes 4.8's context uncertain", "O", kind="modelled",
    kind_why=_SYSTEM_KIND)


def all_numbers() -> tuple[PaperNumber, ...]:
    """Every registered number, in the order of this module."""
    return tuple(v for v in globals().values() if isinstance(v, PaperNumber))


def number(key: str) -> PaperNumber:
    """The registered number called `key`."""
    for entry in all_numbers():
        if entry.key == key:
            return entry
    raise ValueError(f"key must name a registered paper number (see pimlab.paper.all_numbers()), got {key!r}")
