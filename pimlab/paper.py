"""The paper's reported numbers, each with its figure, quoted sentence and comparison tolerance.

This module is only ever compared against: nothing in pimlab's model reads it. Source tags: "Q" quoted
from the paper's text (arXiv 2412.20166 v3), "O" read from text inside a figure (docs/sources.md §1).
A tolerance is absolute, in the number's unit, with the reason next to it. A number the paper gives as a
bound ("below 0.2%", "less than 200KB") has `bound="upper"`: anything from 0 up to it (plus tolerance) agrees.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperNumber:
    """One number the paper reports."""

    key: str
    value: float
    unit: str
    figure: str
    quote: str
    tolerance: float  # |pimlab - value| <= tolerance counts as reproduced
    tolerance_why: str
    source: str = "Q"
    bound: str = "value"  # "value": |pimlab - value| <= tolerance; "upper": 0 <= pimlab <= value + tolerance

    def within(self, pimlab_value: float) -> bool:
        got = float(pimlab_value)
        if self.bound == "upper":
            return 0 <= got <= self.value + self.tolerance
        return abs(got - self.value) <= self.tolerance


_MODEL = "pimlab is an analytic/cycle model, not the authors' simulator"

# --- Fig. 2 and Table IV: hardware and workload pressure ---------------------------------------
A100_CAPACITY_GiB = PaperNumber(
    "a100_capacity", 80, "GiB", "Fig. 2",
    "Fig. 2(b) draws a dashed A100-80GB capacity line with an 'Out of memory' region.",
    0.0, "the preset must be exactly the 80 GB part", "O")
FIG2_FOOTPRINT_BS8_64K = PaperNumber(
    "fig2_footprint_bs8_64k", 80, "GiB", "Fig. 2",
    "Fig. 2(b): the bs = 8 curve meets the A100-80GB line near 64K tokens (docs/sources.md §6.5).",
    8.0, "a reading of the plot, 10%: where the curve crosses the line is not printed", "O")
CENT_CAPACITY_GB = PaperNumber(
    "cent_capacity", 16, "GiB", "Table IV", "CENT (PIM-only): PNM (3 TFLOPS), 32 PIM channels, 16GB, 16TB/s.",
    0.0, "capacity follows exactly from channels x banks x rows x row bytes")
CENT_INTERNAL_BW = PaperNumber(
    "cent_internal_bw", 16, "TB/s", "Table IV", "CENT (PIM-only): PNM (3 TFLOPS), 32 PIM channels, 16GB, 16TB/s.",
    0.5, "the table rounds 16.4 TB/s (32 ch x 512 GB/s) to 16")
NEUPIMS_CAPACITY_GB = PaperNumber(
    "neupims_capacity", 32, "GiB", "Table IV",
    "NeuPIMs (xPU+PIM): 8 Matrix Units (256 TFLOPS), 32 PIM channels, 32GB, 32TB/s.",
    0.0, "capacity follows exactly from the organisation")
NEUPIMS_INTERNAL_BW = PaperNumber(
    "neupims_internal_bw", 32, "TB/s", "Table IV",
    "NeuPIMs (xPU+PIM): 8 Matrix Units (256 TFLOPS), 32 PIM channels, 32GB, 32TB/s.",
    1.0, "the table rounds 32.8 TB/s to 32")
IO_INPUT_BUFFER_BYTES = PaperNumber(
    "gbuf_bytes", 2048, "B", "Sec. II-D",
    "limited I/O buffers—2KB input per channel and 4-byte output per bank [AiM_ISSCC]", 0.0, "exact")

WR_INP_TILE_BYTES = PaperNumber(
    "wr_inp_tile_bytes", 32, "B", "Sec. V-A",
    "WR-INP writes a 32B tile to a Global Buffer (GBuf) entry", 0.0, "exact")
RD_OUT_BYTES = PaperNumber(
    "rd_out_bytes", 32, "B", "Sec. V-A",
    "RD-OUT drains a 2B result from all 16 banks concurrently (32B in total).", 0.0, "exact")
MODULE_CHANNELS = PaperNumber(
    "module_channels", 16, "channels", "Sec. IV-C",
    "Under a commercial PIM module [AiMX-White-Paper] configuration with 16 channels and 16 banks per channel",
    0.0, "exact")
MODULE_BANKS = PaperNumber(
    "module_banks", 16, "banks", "Sec. IV-C",
    "Under a commercial PIM module [AiMX-White-Paper] configuration with 16 channels and 16 banks per channel",
    0.0, "exact")
CENT_MODULES_7B = PaperNumber(
    "cent_modules_7b", 8, "modules", "Sec. VIII-A",
    "CENT [cent], a PIM-only system with 16GB per module ... configuring 128GB for 7B and 512GB for 72B models",
    0.0, "exact: 128 GB of 16 GB modules")
CENT_MODULES_72B = PaperNumber(
    "cent_modules_72b", 32, "modules", "Sec. VIII-A",
    "CENT [cent], a PIM-only system with 16GB per module ... configuring 128GB for 7B and 512GB for 72B models",
    0.0, "exact: 512 GB of 16 GB modules")
NEUPIMS_MODULES_7B = PaperNumber(
    "neupims_modules_7b", 4, "modules", "Sec. VIII-A",
    "NeuPIMs [heo2024neupims], a hybrid xPU+PIM system with 32GB per module ... configuring 128GB for 7B",
    0.0, "exact: 128 GB of 32 GB modules")
NEUPIMS_MODULES_72B = PaperNumber(
    "neupims_modules_72b", 16, "modules", "Sec. VIII-A",
    "NeuPIMs [heo2024neupims], a hybrid xPU+PIM system with 32GB per module ... and 512GB for 72B models",
    0.0, "exact: 512 GB of 32 GB modules")

# --- Fig. 4: PIM utilization --------------------------------------------------------------------
FIG4_UTIL_DROP_32K = PaperNumber(
    "fig4_util_drop_32k", 48, "%", "Fig. 4",
    "our analysis reveals that MAC unit utilization drops by 48% at a 32K context length (Fig. 4).",
    10.0, _MODEL)
FIG4_EFFECTIVE_BATCH = PaperNumber(
    "fig4_effective_batch", 53, "requests", "Fig. 4", "Fig. 4 annotation: 'Effective batch=53'.",
    8.0, "placement in the figure is uncertain (OCR)", "O")

# --- Fig. 6: TCP ----------------------------------------------------------------------------------
TCP_QK_FULL_ACTIVATION = PaperNumber(
    "tcp_qk_full_tokens", 256, "tokens", "Fig. 6",
    "full channel activation is achieved once the token length exceeds 256 for QKT and 32 for SV.",
    0.0, "a closed-form consequence of 16 channels x 16 banks")
TCP_SV_FULL_ACTIVATION = PaperNumber(
    "tcp_sv_full_tokens", 32, "tokens", "Fig. 6",
    "full channel activation is achieved once the token length exceeds 256 for QKT and 32 for SV.",
    0.0, "a closed-form consequence of 16 channels x 16 banks and d_h = 128")
TCP_EXAMPLE_QK_TOKENS = PaperNumber(
    "tcp_example_qk_tokens_per_channel", 4096, "tokens", "Fig. 6",
    "with a total token length of 16K and a head dimension of 32. Under this configuration, [QK^T] assigns "
    "4K tokens to each channel", 0.0, "exact split of 16K tokens over 4 channels")
TCP_EXAMPLE_SV_TOKENS = PaperNumber(
    "tcp_example_sv_tokens_per_channel", 2048, "tokens", "Fig. 6",
    "while [SV] assigns 2K tokens per channel and performs a single global reduction across channels",
    0.0, "exact if reproduced; docs/sources.md §6.2: the layout gives 8K")
TCP_SV_REDUCTION_SHARE = PaperNumber(
    "tcp_sv_reduction_share", 0.2, "%", "Fig. 6",
    "SV performs a single inter-channel reduction per module, whose cost is minimal—below 0.2% of total "
    "attention latency for an LLM-7B with 16K tokens.", 0.0, "an upper bound: anything in [0, 0.2] agrees",
    bound="upper")

# --- Figs. 7, 8, 9, 18: DCS -------------------------------------------------------------------------
FIG7_STATIC_CYCLES = PaperNumber(
    "fig7_static_cycles", 34, "cycles", "Fig. 7",
    "In the example shown in Fig. 7(d), DCS reduces the execution from 34 cycles to just 22 cycles.",
    0.0, "a hand-checkable example: exact")
FIG7_DCS_CYCLES = PaperNumber(
    "fig7_dcs_cycles", 22, "cycles", "Fig. 7",
    "In the example shown in Fig. 7(d), DCS reduces the execution from 34 cycles to just 22 cycles.",
    0.0, "a hand-checkable example: exact")
FIG8_STATIC_MAC_UTIL_D128 = PaperNumber(
    "fig8_static_mac_util_128", 14.7, "%", "Fig. 8",
    "for small dimensions typical of Attention (128, corresponding to a head dimension), MAC utilization "
    "drops sharply to 14.7%.", 3.0, "issue 3: within 3 points")
FIG18_DCS_OVER_PINGPONG = PaperNumber(
    "fig18_dcs_over_pingpong", 1.4, "x", "Fig. 18",
    "across Attention settings, DCS achieves up to 1.4x higher compute-unit utilization (Fig. 18).",
    0.15, "a maximum over settings read as 1.4 to one decimal; 0.15 allows a different buffer split")
DCS_TABLE_BYTES = PaperNumber(
    "dcs_table_bytes", 576, "B", "Sec. VII-C",
    "including a per-controller 576B metadata table (D-Table and S-Table)", 0.0, "exact sizing")
DCS_AREA_OVERHEAD = PaperNumber(
    "dcs_area_overhead", 0.5, "%", "Sec. VII-C",
    "across all HUB control blocks [AiMX-White-Paper], the area increases by 0.5% and the power by 1.3%.",
    0.0, "synthesis result, not modelled")
DCS_POWER_OVERHEAD = PaperNumber(
    "dcs_power_overhead", 1.3, "%", "Sec. VII-C",
    "across all HUB control blocks [AiMX-White-Paper], the area increases by 0.5% and the power by 1.3%.",
    0.0, "synthesis result, not modelled")
OBUF_AREA_OVERHEAD = PaperNumber(
    "obuf_area_overhead", 0.47, "%", "Sec. VII-C",
    "the I/O-aware buffering incurs a minimal area overhead, occupying just 0.47% of the MAC unit area "
    "[AiM_ISSCC] per PIM bank", 0.0, "CACTI result, not modelled")

# --- Figs. 10/11 and 19: DPA ---------------------------------------------------------------------
DPA_CHUNK_BYTES = PaperNumber(
    "dpa_chunk_bytes", 2**20, "B", "Fig. 10/11",
    "the host allocates 1MB chunks on demand as a request's KV cache grows, updating the VA2PA table",
    0.0, "exact")
DPA_DISPATCHER_BUDGET_KB = PaperNumber(
    "dpa_dispatcher_kb", 200, "KB", "Fig. 10/11",
    "This dispatcher requires less than 200KB for all its internal buffers (VA2PA, command, configuration), "
    "which is much smaller than the 512KB", 0.0, "an upper bound: anything in [0, 200] agrees", bound="upper")
DPA_GPR_KB = PaperNumber(
    "pim_hub_gpr_kb", 512, "KB", "Fig. 10/11",
    "which is much smaller than the 512KB [GPR of a typical PIM HUB]", 0.0, "exact")
DPA_AREA_OVERHEAD = PaperNumber(
    "dpa_area_overhead", 4, "%", "Sec. VII-C",
    "The on-module dispatcher supporting DPA incurs a 4% area overhead.", 0.0, "synthesis result, not modelled")
FIG19_STATIC_UTIL_AVG = PaperNumber(
    "fig19_static_util_avg", 36.2, "%", "Fig. 19",
    "this static approach leads to severe memory inefficiency, with an observed average capacity utilization "
    "of only 36.2% (See Sec. VIII-C).", 3.0, "a trace-driven reconstruction; docs/sources.md §6.3")
FIG19_STATIC_UTIL_MIN = PaperNumber(
    "fig19_static_util_min", 31.0, "%", "Fig. 19",
    "capacity utilization ranges from 31.0% to 40.5% across workloads", 3.0, "docs/sources.md §6.3")
FIG19_STATIC_UTIL_MAX = PaperNumber(
    "fig19_static_util_max", 40.5, "%", "Fig. 19",
    "capacity utilization ranges from 31.0% to 40.5% across workloads", 3.0, "docs/sources.md §6.3")
FIG19_DPA_UTIL_AVG = PaperNumber(
    "fig19_dpa_util_avg", 75.6, "%", "Fig. 19",
    "Empirically, DPA raises average capacity utilization to 75.6%, more than doubling the static baseline.",
    5.0, "a trace-driven reconstruction; docs/sources.md §6.3")

# --- Figs. 13-17, 20: system -------------------------------------------------------------------------
PIM_ONLY_HEADLINE = PaperNumber(
    "pim_only_speedup_max", 11.3, "x", "Fig. 13",
    "Our evaluations show performance boosts of up to 11.3x on PIM-only systems and 8.4x on xPU+PIM systems",
    2.0, _MODEL)
XPU_PIM_HEADLINE = PaperNumber(
    "xpu_pim_speedup_max", 8.4, "x", "Fig. 14",
    "Our evaluations show performance boosts of up to 11.3x on PIM-only systems and 8.4x on xPU+PIM systems",
    2.0, _MODEL)
NON_GQA_SPEEDUP_MIN = PaperNumber(
    "non_gqa_speedup_min", 2.1, "x", "Fig. 13/14",
    "we observe a 2.1-4.5x speedup for GQA-disabled models (LLM-7B-32K, LLM-72B-32K) evaluated on LongBench.",
    0.5, _MODEL)
NON_GQA_SPEEDUP_MAX = PaperNumber(
    "non_gqa_speedup_max", 4.5, "x", "Fig. 13/14",
    "we observe a 2.1-4.5x speedup for GQA-disabled models (LLM-7B-32K, LLM-72B-32K) evaluated on LongBench.",
    1.0, _MODEL)
FIG15_PP_GAIN = PaperNumber(
    "fig15_pp_gain", 20, "%", "Fig. 15",
    "KV cache reuse from GQA, combined with DPA, boosts batch size and further motivates PP, achieving 20% "
    "higher throughput improvement.", 10.0, _MODEL)
FIG16_BACKGROUND_SHARE_BASE = PaperNumber(
    "fig16_background_share_cent", 71.5, "%", "Fig. 16",
    "the baseline's low MAC utilization causes background energy to constitute a staggering 71.5% of the total "
    "energy in Attention layers.", 7.0, _MODEL)
FIG16_BACKGROUND_SHARE_PIMPHONY = PaperNumber(
    "fig16_background_share_pimphony", 13.0, "%", "Fig. 16",
    "PIMphony drastically cuts the runtime, which in turn slashes the background energy's share to just 13.0%",
    4.0, _MODEL)
FIG16_ATTENTION_SPEEDUP = PaperNumber(
    "fig16_attention_speedup_max", 19, "x", "Fig. 16",
    "By accelerating Attention execution by up to 19x, PIMphony drastically cuts the runtime", 4.0, _MODEL)
FIG16_ATTENTION_ENERGY_REDUCTION = PaperNumber(
    "fig16_attention_energy_reduction_max", 3.46, "x", "Fig. 16",
    "achieves up to a 3.46x reduction in Attention.", 0.5, _MODEL)
FIG17_CENT_UTIL_1M = PaperNumber(
    "fig17_cent_util_1m", 2, "%", "Fig. 17",
    "CENT collapses under pipeline bubbles, dropping to 2% utilization, while PIMphony achieves 46.6x speedup.",
    2.0, _MODEL)
FIG17_SPEEDUP_CENT_1M = PaperNumber(
    "fig17_speedup_cent_1m", 46.6, "x", "Fig. 17",
    "CENT collapses under pipeline bubbles, dropping to 2% utilization, while PIMphony achieves 46.6x speedup.",
    10.0, _MODEL)
FIG17_SPEEDUP_NEUPIMS_1M = PaperNumber(
    "fig17_speedup_neupims_1m", 5.0, "x", "Fig. 17",
    "NeuPIMs scale more stably via tensor parallelism, yet PIMphony still delivers 5.0x speedup (Fig.17(b)).",
    1.5, _MODEL)
FIG17_SPEEDUP_SHORT = PaperNumber(
    "fig17_speedup_256_tokens", 2.1, "x", "Fig. 17",
    "even at short contexts (e.g., 256 tokens), PIMphony achieved a 2.1x speedup over the baselines.",
    0.7, _MODEL)


def all_numbers() -> tuple[PaperNumber, ...]:
    """Every registered number, in the order of this module."""
    return tuple(v for v in globals().values() if isinstance(v, PaperNumber))


def number(key: str) -> PaperNumber:
    """The registered number called `key`."""
    for entry in all_numbers():
        if entry.key == key:
            return entry
    raise ValueError(f"key must name a registered paper number (see pimlab.paper.all_numbers()), got {key!r}")
