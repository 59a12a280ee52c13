"""The long-context systems side by side (the systems_compare notebook), and the other papers' scorecard.

`comparison(model, dataset)` runs every system (pimlab.compare.default_systems) at its largest batch from 4K to 1M
tokens: batch, throughput (raw, per k$, per TB), time per output token, the parts of one step of a batch drawn
from the dataset (Table II lengths), and which system wins over (model, context). `scorecard()` sets pimlab
beside the numbers of L3's and CXL-PNM's abstracts (pimlab.paper_others).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from pimlab import paper_others as ref
from pimlab.compare import (
    CXL_PNM_DEFAULT,
    POWER,
    PRICES,
    Power,
    Prices,
    at_capacities,
    at_capacity,
    cxl_system,
    default_systems,
    l3_system,
    mixes_sparse_and_dense,
    on_dataset,
)
from pimlab.gpu import GPUEfficiency, gpu_max_batch
from pimlab.hardware import A100
from pimlab.l3 import hbm_pim_step, l3_max_batch
from pimlab.models import (
    GPT3_175B,
    LLAMA2_7B,
    LLAMA31_70B,
    LLAMA31_405B,
    LLM_7B_32K,
    LLM_72B_32K,
    MODELS,
    as_model,
)
from pimlab.progress import report
from pimlab.reproduce import Record, compare
from pimlab.step import COMPONENTS
from pimlab.validate import check_choice, check_int
from pimlab.workloads import LengthDistribution, dataset_named

FIGURE = "others"
__all__ = ["Comparison", "comparison", "CONTEXTS", "METRICS", "family"]
CONTEXTS = tuple(4096 * 2**k for k in range(9))  # 4K ... 1M tokens
METRICS = ("tokens_per_s", "tokens_per_s_per_kusd", "tokens_per_s_per_TB")


@dataclass(frozen=True)
class Comparison:
    """Systems (rows) against contexts (columns); NaN / 0 where a system cannot hold one request."""

    model: str
    dataset: str
    systems: tuple  # names
    sparse: np.ndarray  # per system: attends over a selected subset of the tokens
    contexts: np.ndarray
    batch: np.ndarray  # systems x contexts
    tokens_per_s: np.ndarray
    tokens_per_s_per_kusd: np.ndarray
    tokens_per_s_per_TB: np.ndarray
    tpot_ms: np.ndarray  # time per output token: one step's latency
    errors: tuple  # per system, per context: "" or why it cannot run
    breakdown_context: int  # the dataset's mean length
    breakdown_ms: dict  # component -> per-system milliseconds of one step of a batch drawn from the dataset
    breakdown_batch: np.ndarray  # per system: the requests drawn (as many as fit at the mean length)
    mixes_sparse_and_dense: bool
    winner_models: tuple
    winners: np.ndarray  # winner_models x contexts: the family of the best system by `metric`, "" if none runs
    metric: str
    window: int  # the model's context window: longer contexts are a labelled what-if
    notes: tuple  # why a system is missing where it is


def family(name: str) -> str:
    """A system's family for the winners map: "GPU-only (2 A100)" -> "GPU-only"."""
    return name.split(" (")[0]


def comparison(model="LLM-7B-128K-GQA", dataset="multifieldqa", dense_only: bool = False,
               metric: str = "tokens_per_s", prices: Prices = PRICES, power: Power = POWER,
               budget_tokens: int = 4096, steady_fraction: float = 0.5, contexts=CONTEXTS,
               winner_models=MODELS, seed: int = 0, batch: int = 0) -> Comparison:
    """Every system for `model` at every context, one step of a batch drawn from `dataset`, the winners map.

    `batch=0` runs each system at the largest batch it holds; a positive `batch` runs every system at that batch,
    and a system that cannot hold it there is missing, with the reason in `notes`.
    """
    model = as_model(model)
    dataset = dataset_named(dataset) if isinstance(dataset, str) else dataset
    if not isinstance(dataset, LengthDistribution):
        raise ValueError(f"dataset must be a Table II distribution, got {dataset!r}")
    check_choice("metric", metric, METRICS)
    check_int("budget_tokens", budget_tokens, 1)
    fixed = check_int("batch", batch, 0, 1 << 20) or None
    contexts = np.array([check_int("contexts", c, 1) for c in contexts], dtype=np.int64)
    mean = int(round(dataset.mean))
    if budget_tokens > mean:
        raise ValueError(f"budget_tokens must be at most {dataset.name}'s mean context ({mean} tokens), where the "
                         f"step is broken down, got {budget_tokens}")
    check_int("seed", seed, 0)
    winner_models = tuple(as_model(m) for m in winner_models)
    return _comparison(model, dataset, bool(dense_only), metric, prices, power, budget_tokens, steady_fraction,
                       tuple(contexts.tolist()), winner_models, seed, fixed)


@lru_cache(maxsize=32)
def _comparison(model, dataset, dense_only, metric, prices, power, budget_tokens, steady_fraction, contexts,
                winner_models, seed, fixed) -> Comparison:
    """`comparison` of checked, frozen inputs, memoized (a redraw of the same data computes nothing); its arrays
    are read-only, as they are shared. Each point's step is memoized on its own (pimlab.compare.runs_at_capacity;
    a system's new points are timed together): a price or the metric changes only what is derived from the steps."""
    contexts = np.array(contexts, dtype=np.int64)
    mean = int(round(dataset.mean))
    systems = default_systems(model, dense_only, prices, power, budget_tokens, steady_fraction)
    chunks = len(systems) + 1 + len(winner_models)  # progress: a system's row, the drawn batch, a winners row
    points = []
    for s in systems:
        points.append(at_capacities(s, model, contexts.tolist(), fixed))
        report(len(points), chunks)  # a chunk boundary: an app may cancel here (pimlab.progress)
    drawn = [on_dataset(s, model, dataset, seed, fixed) for s in systems]
    report(len(systems) + 1, chunks)
    breakdown = {k: np.array([1e3 * p.components_s.get(k, 0.0) for p in drawn]) for k in COMPONENTS}
    breakdown = {k: v for k, v in breakdown.items() if v.any()}

    def grid(attr, missing=np.nan):
        return np.array([[getattr(p, attr) if p.step is not None else missing for p in row] for row in points])

    win = np.empty((len(winner_models), contexts.size), dtype=object)
    for i, other in enumerate(winner_models):
        rows = [at_capacities(s, other, contexts.tolist(), fixed)
                for s in default_systems(other, dense_only, prices, power, budget_tokens, steady_fraction)]
        for j, column in enumerate(zip(*rows)):
            running = [p for p in column if p.step is not None]
            win[i, j] = family(max(running, key=lambda p: getattr(p, metric)).system) if running else ""
        report(len(systems) + 2 + i, chunks)
    return _read_only(Comparison(
        model=model.name, dataset=dataset.name, systems=tuple(s.name for s in systems),
        sparse=np.array([s.sparse for s in systems]), contexts=contexts, batch=grid("batch", 0).astype(np.int64),
        tokens_per_s=grid("tokens_per_s"), tokens_per_s_per_kusd=grid("tokens_per_s_per_kusd"),
        tokens_per_s_per_TB=grid("tokens_per_s_per_TB"),
        tpot_ms=np.array([[1e3 * p.step.latency_s if p.step else np.nan for p in row] for row in points]),
        errors=tuple(tuple(p.error for p in row) for row in points), breakdown_context=mean,
        breakdown_ms=breakdown, breakdown_batch=np.array([p.batch for p in drawn]),
        mixes_sparse_and_dense=mixes_sparse_and_dense([p for row in points for p in row]),
        winner_models=tuple(m.name for m in winner_models), winners=win, metric=metric,
        window=model.context_window, notes=_notes(systems, contexts, points, drawn, dataset)))


def _read_only(data: Comparison) -> Comparison:
    """`data` with its arrays read-only (a memoized comparison is shared by its callers)."""
    for value in list(vars(data).values()) + list(data.breakdown_ms.values()):
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return data


def _notes(systems, contexts, points, drawn, dataset) -> tuple:
    """One line per system that cannot run somewhere: from which context, and why (its first error)."""
    notes = []
    for system, row, one in zip(systems, points, drawn):
        failed = [(c, p.error) for c, p in zip(contexts, row) if p.step is None]
        if failed:
            notes.append(f"{system.name}: none from {failed[0][0] // 1024}K tokens: {failed[0][1]}")
        if one.step is None:
            notes.append(f"{system.name} on {dataset.name}: {one.error}")
    return tuple(notes)


def _best_ratio(pairs) -> float:
    """Largest ratio over (numerator, denominator) pairs whose both sides run."""
    ratios = [a / b for a, b in pairs if a > 0 and b > 0 and np.isfinite(a / b)]
    return max(ratios) if ratios else float("nan")


def scorecard() -> list[Record]:
    """pimlab's values beside the L3 and CXL-PNM papers' numbers (pimlab.paper_others), as scorecard records."""
    rows = []
    eighty_gb = replace(A100, memory_bytes=80 * 10**9)
    one_gpu = gpu_max_batch(LLAMA2_7B, 2048, eighty_gb, 1, GPUEfficiency(memory_utilization=1.0))
    rows.append(compare(ref.L3_A100_BATCH_2K, one_gpu, "Llama2-7B requests on one A100-80GB at 2K"))
    l3_vs_hbm = []
    for model in (LLM_7B_32K, LLM_72B_32K, GPT3_175B):
        for context in (2048, 8192, 32768):
            if context > model.context_window:
                continue
            l3 = at_capacity(l3_system(), model, context)
            hbm = gpu_max_batch(model, context, A100, 8)
            if hbm >= 1 and l3.step is not None:
                l3_vs_hbm.append((l3.tokens_per_s, hbm_pim_step(model, hbm, context).tokens_per_s))
    rows.append(compare(ref.L3_SPEEDUP_HBM_PIM, _best_ratio(l3_vs_hbm), "L3 over HBM-PIM throughput, max",
                        note="a full L3 streams its whole 2 TiB of DIMMs every step at about 10.5 TB/s, and the "
                        "HBM-PIM foil is an assumed 4x-attention-bandwidth GPU: L3's traces and foil are not public"))
    rows.append(compare(ref.L3_BATCH_VS_GPU, l3_max_batch(GPT3_175B, 2048) / gpu_max_batch(GPT3_175B, 2048, A100, 8),
                        "L3 batch over GPU-only, GPT-3 175B at 2K",
                        note="the plain ratio of KV capacities; L3's activation reserve and trace mix are unknown"))
    gains = {"tokens_per_s": [], "energy": [], "cost": []}
    for model, n_gpus in ((LLAMA31_70B, 8), (LLAMA31_405B, 16)):
        for context in (131072, 262144, 524288, 1048576):
            base = at_capacity(cxl_system(replace(CXL_PNM_DEFAULT, scheme="recall", n_gpus=n_gpus)), model, context)
            for scheme in ("pnm-kv", "png-kv"):
                new = at_capacity(cxl_system(replace(CXL_PNM_DEFAULT, scheme=scheme, n_gpus=n_gpus)), model, context)
                gains["tokens_per_s"].append((new.tokens_per_s, base.tokens_per_s))
                gains["energy"].append((base.joules_per_token, new.joules_per_token))
                gains["cost"].append((new.tokens_per_s_per_kusd, base.tokens_per_s_per_kusd))
    rows.append(compare(ref.CXL_THROUGHPUT, _best_ratio(gains["tokens_per_s"]), "CXL-PNM throughput over recall, max",
                        note="the paper's recall baseline, GPU count and pipelining were not recoverable; pimlab runs "
                        "GPU FC and PNM attention one after the other"))
    rows.append(compare(ref.CXL_ENERGY, _best_ratio(gains["energy"]), "CXL-PNM energy per token vs recall, max",
                        note="pimlab charges assumed board power x time to both systems, so the energy ratio "
                        "equals the throughput ratio; the paper's per-component energy is not public"))
    rows.append(compare(ref.CXL_COST, _best_ratio(gains["cost"]), "CXL-PNM tokens/s per dollar vs recall, max",
                        note="rests entirely on assumed prices (docs/others.md)"))
    return rows
