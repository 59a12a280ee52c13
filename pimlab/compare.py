"""Long-context systems side by side: one step function per system, compared at capacity, per TB and per dollar.

A `System` is a name, a machine, its memory, price and power, and whether its attention is sparse. A machine is a
frozen dataclass of what the performance rests on (no prices), with `step(model, batch, context_tokens) ->
StepResult` and `max_batch(model, context_tokens) -> int`: GPU-only, L3 and CXL-PNM are built here; PIMphony, CENT
and NeuPIMs come from the system model (pimlab.system) the same way (`pim_system`), and also time several points at
once with `steps(model, [(batch, context_tokens), ...])`, the same numbers as `step`. Steps are memoized on the frozen
inputs (`run_at_capacity`, `run_on_dataset`), a system's new contexts timed together (`runs_at_capacity`); prices
and power are applied after, so they never recompute a step.
Prices are labelled assumptions: public prices for these devices mostly do not exist."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field, replace
from functools import lru_cache

import numpy as np

from pimlab.cxlpnm import CXL_PNM_DEFAULT, CxlPnmConfig, cxl_max_batch, cxl_step
from pimlab.gpu import gpu_max_batch, gpu_step, paper_gpus
from pimlab.hardware import A100
from pimlab.l3 import L3_DEFAULT, L3Config, l3_max_batch, l3_step
from pimlab.models import LLM, as_model
from pimlab.step import StepResult
from pimlab.validate import check_int, check_number
from pimlab.workloads import LengthDistribution


@dataclass(frozen=True)
class Prices:
    """Purchase prices in US dollars. Every default is an assumption (no list prices are published for these parts)."""

    gpu_usd: float = 15_000.0  # assumption: an A100-80GB SXM module, a typical 2023-24 street price
    dimm_pim_usd: float = 1_000.0  # assumption: a 64 GB DDR4 DIMM-PIM (a ~$250 RDIMM plus bank/rank PUs)
    cxl_pnm_device_usd: float = 6_000.0  # assumption: a 512 GB LPDDR5X CXL device with a PNM engine
    cxl_memory_device_usd: float = 4_000.0  # assumption: the same device without the PNM engine (recall baseline)
    pim_module_usd: float = 2_000.0  # assumption: a 16 GB GDDR6-AiM module with its CXL controller (no list price)
    npu_usd: float = 10_000.0  # assumption: NeuPIMs' NPU die and board (xPU+PIM only)

    def __post_init__(self):
        for name in ("gpu_usd", "dimm_pim_usd", "cxl_pnm_device_usd", "cxl_memory_device_usd", "pim_module_usd",
                     "npu_usd"):
            check_number(name, getattr(self, name))  # a price must be > 0: a free part divides by zero


@dataclass(frozen=True)
class Power:
    """Board power in watts while decoding: the GPU's is its datasheet TDP, the rest are assumptions."""

    dimm_pim_w: float = 15.0  # assumption: a loaded 64 GB DDR4 RDIMM is ~10 W; its PUs add some
    cxl_device_w: float = 60.0  # assumption: a 512 GB LPDDR5X CXL device with its controller and PNM engine
    pim_module_w: float = 25.0  # assumption: a loaded 16 GB GDDR6 module with its PIM units and controller
    npu_w: float = 150.0  # assumption: NeuPIMs' NPU board

    def __post_init__(self):
        for name in ("dimm_pim_w", "cxl_device_w", "pim_module_w", "npu_w"):
            check_number(name, getattr(self, name))


PRICES = Prices()
POWER = Power()


# --- the machines: what a system's performance rests on (no prices, no power): frozen, so results memoize on them ---
@dataclass(frozen=True)
class GpuOnly:
    """`n_gpus` tensor-parallel A100s with FlashDecoding and PagedAttention (pimlab.gpu)."""

    n_gpus: int

    def step(self, model: LLM, batch: int, context_tokens) -> StepResult:
        return gpu_step(model, A100, self.n_gpus, batch, context_tokens, beyond_window=True)

    def max_batch(self, model: LLM, context_tokens: int) -> int:
        return gpu_max_batch(model, context_tokens, A100, self.n_gpus, beyond_window=True)


@dataclass(frozen=True)
class L3Machine:
    """L3 (pimlab.l3): GPUs for FC, DIMM-PIM for the KV cache and decode attention."""

    config: L3Config

    def step(self, model: LLM, batch: int, context_tokens) -> StepResult:
        return l3_step(model, batch, context_tokens, self.config, beyond_window=True)

    def max_batch(self, model: LLM, context_tokens: int) -> int:
        return l3_max_batch(model, context_tokens, self.config)


@dataclass(frozen=True)
class CxlMachine:
    """CXL-PNM (pimlab.cxlpnm) in one of its schemes, sparse or dense."""

    config: CxlPnmConfig

    def step(self, model: LLM, batch: int, context_tokens) -> StepResult:
        return cxl_step(model, batch, context_tokens, self.config, beyond_window=True)

    def max_batch(self, model: LLM, context_tokens: int) -> int:
        try:
            return cxl_max_batch(model, context_tokens, self.config)
        except ValueError as error:
            if str(error).startswith("context_tokens must fit"):
                return 0  # one request is larger than the whole system
            raise


@dataclass(frozen=True)
class PimMachine:
    """CENT or NeuPIMs (pimlab.system) with `techniques`, `modules` modules, one pipeline stage per module (tp = 1)."""

    kind: str
    techniques: str
    modules: int

    def __post_init__(self):
        from pimlab import system

        system.system_for(self.kind, self.modules)  # a ValueError names a bad kind or module count
        system.Techniques.parse(self.techniques)

    def _layout(self, model: LLM):
        from pimlab import system

        return system.Layout(system.system_for(self.kind, self.modules), model, 1, min(self.modules, model.layers))

    def step(self, model: LLM, batch: int, context_tokens) -> StepResult:
        from pimlab import system

        return system.run_step(self.kind, model, self.modules, 1, min(self.modules, model.layers),
                               np.full(batch, context_tokens), self.techniques, beyond_window=True)

    def steps(self, model: LLM, points) -> list[StepResult]:
        """`step` at each (batch, context_tokens) point, timed together (`pimlab.system.steps`: the same numbers)."""
        from pimlab import system

        layout, techniques = self._layout(model), system.Techniques.parse(self.techniques)
        return system.steps(system.StepConfig(self.kind, layout, (int(c),) * b, techniques, beyond_window=True)
                            for b, c in points)

    def max_batch(self, model: LLM, context_tokens: int) -> int:
        """`system.admitted` of 16384 requests of `context_tokens`: each reserves the same bytes, so one
        request's reservation, summed in order, gives the same count."""
        from pimlab import system

        layout, dpa = self._layout(model), system.Techniques.parse(self.techniques).dpa
        if system.admitted(layout, [context_tokens], dpa) == 0:  # raises when the weights do not fit
            return 0
        one = system.kv_reservation_bytes(layout, [context_tokens], dpa)
        need = np.cumsum(np.broadcast_to(one, (1 << 14,)))
        return int(np.searchsorted(need, system.kv_capacity_bytes(layout), side="right"))


@dataclass(frozen=True)
class System:
    """What the comparison needs of one system: its machine (a frozen model with `step(model, batch,
    context_tokens) -> StepResult` and `max_batch(model, context_tokens) -> int`, 0 when not even one request
    fits; any of pimlab's models fits), its memory, price and power, and whether its attention is sparse."""

    name: str
    machine: GpuOnly | L3Machine | CxlMachine | PimMachine
    memory_bytes: float  # every byte of the system's memory (HBM, DIMMs, CXL devices, PIM modules)
    price_usd: float
    power_w: float
    sparse: bool = False  # attention over a selected subset of the tokens (an approximation)
    note: str = ""

    def __post_init__(self):
        check_number("price_usd", self.price_usd)
        check_number("power_w", self.power_w)
        check_number("memory_bytes", self.memory_bytes)

    def step(self, model: LLM, batch: int, context_tokens) -> StepResult:
        return self.machine.step(model, batch, context_tokens)

    def max_batch(self, model: LLM, context_tokens: int) -> int:
        return self.machine.max_batch(model, context_tokens)


def gpu_system(model: LLM, n_gpus: int | None = None, prices: Prices = PRICES) -> System:
    """GPU-only: A100s with FlashDecoding and PagedAttention, memory-matched as in the paper by default."""
    n = paper_gpus(model) if n_gpus is None else check_int("n_gpus", n_gpus, 1, 1024)
    return System(f"GPU-only ({n} A100)", GpuOnly(n), memory_bytes=n * A100.memory_bytes,
                  price_usd=n * prices.gpu_usd, power_w=n * A100.tdp_w)


def l3_system(config: L3Config = L3_DEFAULT, prices: Prices = PRICES, power: Power = POWER) -> System:
    """L3: GPUs for FC, DIMM-PIM for the KV cache and decode attention."""
    dimms = config.channels * config.dimms_per_channel
    return System(f"L3 ({config.n_gpus} A100 + {dimms} DIMM-PIM{'' if config.overlap else ', no overlap'})",
                  L3Machine(config), memory_bytes=config.n_gpus * config.gpu.memory_bytes + config.capacity_bytes,
                  price_usd=config.n_gpus * prices.gpu_usd + dimms * prices.dimm_pim_usd,
                  power_w=config.n_gpus * config.gpu.tdp_w + dimms * power.dimm_pim_w)


def cxl_system(config: CxlPnmConfig = CXL_PNM_DEFAULT, prices: Prices = PRICES, power: Power = POWER) -> System:
    """CXL-PNM in one of its schemes (recall baseline, PNM-KV, PnG-KV), sparse or dense."""
    device_usd = prices.cxl_memory_device_usd if config.scheme == "recall" else prices.cxl_pnm_device_usd
    budget = "dense" if config.dense else f"top {config.budget_tokens} tokens"
    return System(f"CXL {config.scheme} ({budget})", CxlMachine(config),
                  memory_bytes=config.n_gpus * config.gpu.memory_bytes + config.capacity_bytes,
                  price_usd=config.n_gpus * prices.gpu_usd + config.n_devices * device_usd,
                  power_w=config.n_gpus * config.gpu.tdp_w + config.n_devices * power.cxl_device_w,
                  sparse=not config.dense)


def default_systems(model: LLM, dense_only: bool = False, prices: Prices = PRICES, power: Power = POWER,
                    budget_tokens: int = 4096, steady_fraction: float = 0.5, pim: bool = True) -> list[System]:
    """PIMphony on CENT and NeuPIMs and both without it (with `pim`), GPU-only, L3 (with and without overlap),
    CXL-PNM recall / PNM-KV / PnG-KV (top-`budget_tokens` and dense).

    The GPU-only system is memory-matched as in the paper; L3 and CXL-PNM get one 8-GPU server, 16 GPUs when the
    weights need them (405B).
    """
    n_gpus = 16 if model.weight_bytes >= 0.9 * 8 * A100.memory_bytes else 8
    systems = [gpu_system(model, prices=prices), l3_system(replace(L3_DEFAULT, n_gpus=n_gpus), prices, power),
               l3_system(replace(L3_DEFAULT, n_gpus=n_gpus, overlap=False), prices, power)]
    for scheme in ("recall", "pnm-kv", "png-kv"):
        for budget in ((None,) if dense_only else (budget_tokens, None)):
            config = replace(CXL_PNM_DEFAULT, scheme=scheme, n_gpus=n_gpus, budget_tokens=budget,
                             steady_fraction=steady_fraction)
            systems.append(cxl_system(config, prices, power))
    return (pim_systems(model, prices, power) if pim else []) + systems


# --- PIMphony, CENT and NeuPIMs: the system model (pimlab.system) behind the same interface ----------------------
def pim_modules(model: LLM, kind: str) -> int:
    """Modules memory-matched as in the paper: 128 GB for the 7B models, 512 GB for 70B and larger."""
    from pimlab.system import system_for

    target = 128 * 2**30 if model.params < 20e9 else 512 * 2**30
    return max(1, round(target / system_for(kind, 1).module.capacity_bytes))


def pim_system(model: LLM, kind: str = "cent", techniques: str = "tcp+dcs+dpa", modules: int | None = None,
               prices: Prices = PRICES, power: Power = POWER) -> System:
    """CENT or NeuPIMs, with or without PIMphony's techniques, one pipeline stage per module (tp = 1).

    One fixed layout keeps a comparison point fast; `pimlab.system.search` finds the best (TP, PP) of one point.
    """
    from pimlab import system

    n = pim_modules(model, kind) if modules is None else check_int("modules", modules, 1, 4096)
    pimphony = techniques != "baseline"
    name = {"cent": "CENT", "neupims": "NeuPIMs"}[kind]
    label = f"PIMphony on {name}" if pimphony else name
    npu = kind == "neupims"
    return System(f"{label} ({n} modules, pp {min(n, model.layers)})", PimMachine(kind, techniques, n),
                  memory_bytes=system.system_for(kind, n).capacity_bytes,
                  price_usd=n * prices.pim_module_usd + npu * prices.npu_usd,
                  power_w=n * power.pim_module_w + npu * power.npu_w,
                  note="dense attention; " + ("TCP + DCS + DPA" if pimphony else "no PIMphony technique"))


def pim_systems(model: LLM, prices: Prices = PRICES, power: Power = POWER) -> list[System]:
    """PIMphony on CENT and on NeuPIMs, and CENT and NeuPIMs without it."""
    return [pim_system(model, kind, techniques, prices=prices, power=power)
            for kind in ("cent", "neupims") for techniques in ("tcp+dcs+dpa", "baseline")]


@dataclass(frozen=True)
class Point:
    """One system at one model and context, at its largest batch (or the reason it cannot run)."""

    system: str
    model: str
    context_tokens: int
    batch: int
    step: StepResult | None
    tokens_per_s: float
    tokens_per_s_per_kusd: float
    tokens_per_s_per_TB: float
    joules_per_token: float
    sparse: bool
    error: str = ""
    components_s: dict = field(default_factory=dict)


def at_capacity(system: System, model, context_tokens: int, batch: int | None = None) -> Point:
    """`system` decoding `model` at `context_tokens` with its largest batch (or `batch`); errors become a Point."""
    return at_capacities(system, model, [context_tokens], batch)[0]


def at_capacities(system: System, model, contexts, batch: int | None = None) -> list[Point]:
    """`at_capacity` at each of `contexts`: the steps not memoized yet are timed together where the machine can."""
    model = as_model(model)
    contexts = [check_int("context_tokens", c, 1) for c in contexts]
    return [_priced(system, model, c, run) for c, run in zip(contexts, runs_at_capacity(system.machine, model,
                                                                                        contexts, batch))]


_RUNS: OrderedDict = OrderedDict()  # (machine, model, batch) -> {context_tokens: StepResult | str}, least recent first
RUNS_KEPT = 1 << 10  # rows (machine, model, batch) kept, each with the contexts asked of it


def run_at_capacity(machine, model: LLM, context_tokens: int, batch: int | None = None) -> StepResult | str:
    """The step of `machine` at its largest batch (or `batch`), or why it cannot run ("{system}" stands for the
    system's name); memoized on the frozen inputs: prices and power are applied after, by `at_capacity`."""
    return runs_at_capacity(machine, model, [context_tokens], batch)[0]


def runs_at_capacity(machine, model: LLM, contexts, batch: int | None = None) -> list:
    """`run_at_capacity` at each of `contexts`, each point memoized on its own (in the row of (machine, model,
    batch), one lookup of the frozen inputs); the points not memoized yet are computed together (`fresh_runs`)."""
    key, contexts = (machine, model, batch), [int(c) for c in contexts]
    row = _RUNS.pop(key, {})
    _RUNS[key] = row  # the most recent
    new = [c for c in dict.fromkeys(contexts) if c not in row]
    row.update(zip(new, fresh_runs(machine, model, new, batch)))
    while len(_RUNS) > RUNS_KEPT:
        _RUNS.popitem(last=False)
    return [row[c] for c in contexts]


def clear_runs() -> None:
    """Forget every memoized step of `runs_at_capacity` and `run_on_dataset`: the next call is cold (benchmarks)."""
    _RUNS.clear()
    _max_batch.cache_clear()
    run_on_dataset.cache_clear()


def fresh_runs(machine, model: LLM, contexts, batch: int | None = None) -> list:
    """`run_at_capacity` of each context, not memoized: the points that fit are timed together where the machine
    has `steps` (the same numbers as `step` of each); one that may not runs alone, so its error is its own."""
    runs, together = {}, []
    for c in contexts:
        try:
            size = _max_batch(machine, model, c) if batch is None else batch
            if size < 1:
                raise ValueError(f"not one request of {c} tokens fits {{system}}")
        except ValueError as error:
            runs[c] = str(error)
            continue
        if batch is None or _holds(machine, model, c, batch):
            together.append((size, c))
        else:
            runs[c] = _step_or_error(machine, model, batch, c)
    runs.update(zip((c for _, c in together), _steps_or_errors(machine, model, together)))
    return [runs[c] for c in contexts]


@lru_cache(maxsize=1 << 13)
def _max_batch(machine, model: LLM, context_tokens: int) -> int:
    """`machine.max_batch`, memoized: a fixed batch's points ask it whether they fit (`_holds`)."""
    return machine.max_batch(model, context_tokens)


def _holds(machine, model: LLM, context_tokens: int, batch: int) -> bool:
    """Does `batch` fit, as far as `max_batch` knows? (Only a guess at which points to time together.)"""
    try:
        return _max_batch(machine, model, context_tokens) >= batch
    except ValueError:
        return False


def _step_or_error(machine, model: LLM, batch: int, context_tokens: int) -> StepResult | str:
    """`machine.step`, or why it cannot run."""
    try:
        return machine.step(model, batch, context_tokens)
    except ValueError as error:
        return str(error)


def _steps_or_errors(machine, model: LLM, points: list) -> list:
    """`_step_or_error` at each (batch, context_tokens) point: together where the machine has `steps`."""
    if len(points) > 1 and hasattr(machine, "steps"):
        try:
            return machine.steps(model, points)
        except ValueError:
            pass  # one point cannot run after all: each alone says which, and why
    return [_step_or_error(machine, model, b, c) for b, c in points]


def on_dataset(system: System, model, dataset: LengthDistribution, seed: int = 0, batch: int | None = None) -> Point:
    """`system` decoding a batch drawn from a Table II distribution (seeded). With `batch=None`, as many requests as
    fit at the mean length, trimmed by 1% at a time until the drawn lengths fit; else exactly `batch` requests."""
    model = as_model(model)
    check_int("seed", seed, 0)  # a generator would be consumed: a memoized result would not follow it
    return _priced(system, model, int(round(dataset.mean)), run_on_dataset(system.machine, model, dataset, seed, batch))


@lru_cache(maxsize=1 << 10)
def run_on_dataset(machine, model: LLM, dataset: LengthDistribution, seed: int = 0,
                   batch: int | None = None) -> StepResult | str:
    """`on_dataset`'s step of `machine`, or why it cannot run; memoized on the frozen inputs."""
    mean = int(round(dataset.mean))
    trim = batch is None
    try:
        batch = machine.max_batch(model, mean) if trim else check_int("batch", batch, 1, 1 << 20)
        if batch < 1:
            raise ValueError(f"not one request of {mean} tokens fits {{system}}")
        lengths = dataset.sample(batch, seed)
        while True:
            try:
                return machine.step(model, batch, lengths[:batch])
            except ValueError as error:
                if not trim or not str(error).startswith("batch must fit") or batch == 1:
                    raise
                batch -= max(1, batch // 100)
    except ValueError as error:
        return str(error)


def _priced(system: System, model: LLM, context_tokens: int, run: StepResult | str) -> Point:
    """The Point of a memoized run: its rates per dollar, per TB and its energy from `system`'s price, memory and
    power, or the failure (its message naming the system)."""
    if isinstance(run, str):
        return _failed(system, model, context_tokens, run.replace("{system}", system.name))
    return _point(system, run)


def _point(system: System, step: StepResult) -> Point:
    rate = step.tokens_per_s
    return Point(system.name, step.model, int(round(step.context_tokens)), step.batch, step, rate,
                 1e3 * rate / system.price_usd, 1e12 * rate / system.memory_bytes, system.power_w / rate,
                 system.sparse, components_s=dict(step.components_s))


def _failed(system: System, model: LLM, context_tokens: int, error: str) -> Point:
    return Point(system.name, model.name, context_tokens, 0, None, 0.0, 0.0, 0.0, float("nan"), system.sparse, error)


def compare(systems: list[System], model, contexts) -> list[Point]:
    """Every system at every context (a list of Points, systems varying fastest)."""
    contexts = [int(c) for c in np.atleast_1d(contexts)]
    return [p for column in zip(*(at_capacities(s, model, contexts) for s in systems)) for p in column]


def mixes_sparse_and_dense(points) -> bool:
    """True when the points compare sparse attention with dense attention: the notebook must say so loudly."""
    kinds = {p.sparse for p in points if p.step is not None}
    return len(kinds) == 2


def winners(systems: list[System], models, contexts, metric: str = "tokens_per_s") -> np.ndarray:
    """The name of the best system (by `metric` of Point) for each (model, context); "" where none runs."""
    if metric not in ("tokens_per_s", "tokens_per_s_per_kusd", "tokens_per_s_per_TB"):
        raise ValueError(f"metric must be tokens_per_s, tokens_per_s_per_kusd or tokens_per_s_per_TB, got {metric!r}")
    table = np.empty((len(models), len(contexts)), dtype=object)
    for i, model in enumerate(models):
        points = compare(systems, model, contexts)
        for j in range(len(contexts)):
            running = [p for p in points[j * len(systems):(j + 1) * len(systems)] if p.step is not None]
            table[i, j] = max(running, key=lambda p: getattr(p, metric)).system if running else ""
    return table

