"""The numbers the other long-context systems' papers report (L3, arXiv 2504.17584; CXL-PNM, arXiv 2511.00321).

Only ever compared against (pimlab.compare.others_scorecard computes pimlab's side); nothing in the model reads it.
The record is pimlab.paper's, plus the paper it comes from. Source tags: "Q" quoted from the paper's abstract,
"S" from a third-party summary of the paper (its body was not reachable; likely, not certain). "Up to X" is not a
bound: it names the largest value of a set, and is scored two-sided on pimlab's maximum over its sweep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from pimlab.paper import PaperNumber

L3_PAPER = "L3 (arXiv 2504.17584)"
CXL_PNM_PAPER = "CXL-PNM (arXiv 2511.00321)"


@dataclass(frozen=True)
class OtherPaperNumber(PaperNumber):
    """One number another system's paper reports: pimlab.paper's record plus the paper it comes from, and source
    tag S (a third-party summary) besides Q."""

    SOURCES: ClassVar[tuple] = ("Q", "S")
    paper: str = ""

    def __post_init__(self):
        if not self.paper:
            raise ValueError(f"{self.key} must name the paper it comes from")
        super().__post_init__()


_L3_ABSTRACT = ("Evaluations using real-world traces show L3 achieves up to 6.1x speedup over state-of-the-art "
                "HBM-PIM solutions while significantly improving batch sizes.")
_CXL_ABSTRACT = ("Our PNM-only offloading scheme (PNM-KV) and GPU-PNM hybrid with steady-token execution (PnG-KV) "
                 "achieve up to 21.9x throughput improvement, up to 60x lower energy per token, and up to 7.3x "
                 "better total cost efficiency than the baseline")
_FIRST_ORDER = ("pimlab's first-order model, with assumed efficiency factors, prices and powers, against a paper "
                "whose body, traces and configurations were not available: a factor of about 2")

L3_A100_BATCH_2K = OtherPaperNumber(
    key="l3_a100_7b_batch_2k", value=62, unit="requests", figure="L3 Sec. 2",
    quote="one A100-80GB holds about 62 requests of a 7B Llama at 2K average length (L3's motivation)",
    tolerance=1.0, tolerance_why="a whole number of requests; 80 GB read as 80e9 B (80 GiB would give 67)",
    source="S", kind="derived", kind_why="(80e9 B - Llama2-7B weights) / (2048 tokens x 512 KiB), whole requests",
    paper=L3_PAPER)
L3_SPEEDUP_HBM_PIM = OtherPaperNumber(
    key="l3_speedup_vs_hbm_pim_max", value=6.1, unit="x", figure="L3 abstract", quote=_L3_ABSTRACT,
    tolerance=3.0, tolerance_why=_FIRST_ORDER + "; the HBM-PIM foil is itself an assumed 4x-bandwidth GPU",
    kind="calibrated", kind_why="largest L3 / HBM-PIM throughput ratio at each one's largest batch over Table I "
    "models, GPT-3 and 2K-32K tokens; rests on eta_pim and attention_gain (assumptions)", paper=L3_PAPER)
L3_BATCH_VS_GPU = OtherPaperNumber(
    key="l3_batch_vs_gpu_only_175b", value=14.3, unit="x", figure="L3 evaluation",
    quote="up to 14.3x larger batch than GPU-only (GPT-175B on a DGX-A100)", tolerance=3.0,
    tolerance_why="a ratio of whole batches; the paper's reserve for activations and its trace mix are unknown",
    source="S", kind="derived", kind_why="L3's 2 TiB of DIMMs over the 8 A100s' HBM left after weights, per request",
    paper=L3_PAPER)
CXL_THROUGHPUT = OtherPaperNumber(
    key="cxl_pnm_throughput_gain_max", value=21.9, unit="x", figure="CXL-PNM abstract", quote=_CXL_ABSTRACT,
    tolerance=11.0, tolerance_why=_FIRST_ORDER, kind="calibrated",
    kind_why="largest (PNM-KV or PnG-KV) / recall throughput ratio at each scheme's largest batch, Llama3.1-70B and "
    "-405B, 128K-1M tokens, top-4096 selection; rests on eta_pnm and eta_link (assumptions)", paper=CXL_PNM_PAPER)
CXL_ENERGY = OtherPaperNumber(
    key="cxl_pnm_energy_gain_max", value=60, unit="x", figure="CXL-PNM abstract", quote=_CXL_ABSTRACT,
    tolerance=30.0, tolerance_why=_FIRST_ORDER + "; energy = board power x time, powers assumed",
    kind="calibrated", kind_why="largest recall / (PNM-KV or PnG-KV) joules-per-token ratio over the same sweep",
    paper=CXL_PNM_PAPER)
CXL_COST = OtherPaperNumber(
    key="cxl_pnm_cost_efficiency_gain_max", value=7.3, unit="x", figure="CXL-PNM abstract", quote=_CXL_ABSTRACT,
    tolerance=3.7, tolerance_why=_FIRST_ORDER + "; the ratio depends entirely on the assumed prices",
    kind="calibrated", kind_why="largest ratio of tokens/s per dollar over the same sweep, prices assumed",
    paper=CXL_PNM_PAPER)


def all_numbers() -> tuple[OtherPaperNumber, ...]:
    """Every registered number, in the order of this module."""
    return tuple(v for v in globals().values() if isinstance(v, OtherPaperNumber))
