"""Fig. 19: KV capacity utilization with static reservation vs DPA's lazy chunks, per Table II dataset."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab import paper
from pimlab.dpa import (
    NAIVE_ADMISSION_HEADROOM,
    NAIVE_RESERVE_FACTOR,
    PARTITIONINGS,
    CapacityRun,
    KVLayout,
    LazyChunkAllocator,
    StaticAllocator,
    simulate,
)
from pimlab.hardware import CENT, System
from pimlab.reproduce import Record, compare
from pimlab.validate import check_choice, check_int, check_number
from pimlab.workloads import DATASETS, QMSUM, LengthDistribution, decode_trace

FIGURE = "19"
__all__ = ["Fig19Data", "fig19", "ChunkMapData", "chunk_maps", "STATIC_RESERVE_FACTOR_CALIBRATED",
           "calibrate_reserve_factor"]

# Calibrated knob: the static reservation's headroom over the context window. `calibrate_reserve_factor()`
# re-derives it on the default deployment (8 CENT modules): the factor, in steps of 0.05 from 1.0, whose lowest,
# highest and average static utilization of Fig. 19 lie closest to the paper's 31.0%, 40.5% and 36.2% (largest
# deviation 1.2 points; 1000 requests, seed 0). The bare context window (1.0) gives 7 slots per module and a
# 45% average; 15% headroom leaves 5 slots for the 32K model and 6 for the 128K one. The paper does not say
# why its reservation exceeds the context window (output headroom is one plausible reason).
STATIC_RESERVE_FACTOR_CALIBRATED = 1.15
MESSAGE_KINDS = ("assign", "grow", "release")


@dataclass(frozen=True)
class Fig19Data:
    """One row per dataset; utilizations and fragmentation are fractions, batches are mean running requests."""

    datasets: tuple
    models: tuple
    system: str
    requests: int
    reserve_factor: float
    admission_headroom: float
    static_utilization: np.ndarray
    dpa_utilization: np.ndarray
    static_allocated: np.ndarray  # time-averaged reserved share of the KV capacity
    dpa_allocated: np.ndarray  # time-averaged mapped share
    static_batch: np.ndarray
    dpa_batch: np.ndarray
    static_slots: np.ndarray  # requests one module holds under static reservation
    static_messages: np.ndarray  # (dataset, kind) host <-> PIM messages, kinds MESSAGE_KINDS
    dpa_messages: np.ndarray
    dpa_preemptions: np.ndarray

    @property
    def static_fragmentation(self) -> np.ndarray:
        """Reserved but unused share of what is reserved."""
        return 1 - self.static_utilization / self.static_allocated

    @property
    def dpa_fragmentation(self) -> np.ndarray:
        """Mapped but unused share of what is mapped: only each stream's last chunk."""
        return 1 - self.dpa_utilization / self.dpa_allocated

    @property
    def batch_gain(self) -> np.ndarray:
        return self.dpa_batch / self.static_batch

    def average(self, name: str) -> float:
        return float(np.mean(getattr(self, name)))


def _runs(dataset, system, requests, seed, arrivals_per_step, reserve_factor, admission_headroom,
          partitioning) -> tuple[CapacityRun, CapacityRun, int]:
    layout = KVLayout(dataset.model, system, partitioning=partitioning)
    trace = decode_trace(dataset, requests, seed, arrivals_per_step=arrivals_per_step)
    static = StaticAllocator(layout, reserve_factor)
    return simulate(trace, static), simulate(trace, LazyChunkAllocator(layout, admission_headroom)), static.slots


def fig19(
    datasets=DATASETS,
    system: System = CENT,
    requests: int = 1000,
    seed: int = 0,
    arrivals_per_step: float = 0.1,
    reserve_factor: float = NAIVE_RESERVE_FACTOR,
    admission_headroom: float = NAIVE_ADMISSION_HEADROOM,
    partitioning: str = "TCP",
) -> Fig19Data:
    """Run each dataset's decode trace (on the model Fig. 19 pairs it with) through both allocators.

    Arrivals are Poisson at `arrivals_per_step`, faster than either allocator completes requests, so the
    queue never empties and utilization is what each policy can hold (averaged until the last admission).
    """
    datasets = tuple(datasets)
    if not datasets or not all(isinstance(d, LengthDistribution) for d in datasets):
        raise ValueError(f"datasets must be Table II LengthDistributions, got {datasets!r}")
    requests = check_int("requests", requests, 8, 10**6)
    check_number("arrivals_per_step", arrivals_per_step, 0.0, 100.0)
    check_choice("partitioning", partitioning, PARTITIONINGS)
    runs = [_runs(d, system, requests, seed, arrivals_per_step, reserve_factor, admission_headroom, partitioning)
            for d in datasets]

    def column(index, attribute):
        return np.array([getattr(run[index], attribute) for run in runs], dtype=np.float64)

    def messages(index):
        return np.array([[run[index].messages[k] for k in MESSAGE_KINDS] for run in runs], dtype=np.int64)

    return Fig19Data(
        tuple(d.name for d in datasets), tuple(d.model.name for d in datasets), system.name, requests,
        float(reserve_factor), float(admission_headroom),
        column(0, "utilization"), column(1, "utilization"), column(0, "allocated_fraction"),
        column(1, "allocated_fraction"), column(0, "mean_batch"), column(1, "mean_batch"),
        np.array([run[2] for run in runs], dtype=np.int64), messages(0), messages(1),
        np.array([run[1].preemptions for run in runs], dtype=np.int64),
    )


@dataclass(frozen=True)
class ChunkMapData:
    """One module's KV chunks over decode steps, static reservation beside DPA (frames x chunks).

    `*_owner` is the request holding each chunk (-1 free); `static_used` marks reserved chunks that hold
    live tokens (a DPA chunk is mapped only when it does). `va2pa[frame]` maps each running DPA request
    to its VA2PA table.
    """

    dataset: str
    model: str
    system: str
    columns: int  # chunks per row of the drawn grid
    step: np.ndarray
    static_owner: np.ndarray
    static_used: np.ndarray
    dpa_owner: np.ndarray
    static_utilization: np.ndarray  # live KV bytes / KV capacity at each frame
    dpa_utilization: np.ndarray
    va2pa: tuple

    @property
    def chunks(self) -> int:
        return int(self.dpa_owner.shape[1])

    def requests(self, frame: int) -> list[int]:
        """DPA requests running at `frame`."""
        return sorted(self.va2pa[self._frame(frame)])

    def translate(self, frame: int, request: int, va: int) -> int:
        """The physical chunk of virtual chunk `va` of `request` at `frame` (ValueError if unmapped)."""
        tables = self.va2pa[self._frame(frame)]
        if request not in tables:
            raise ValueError(f"request must be running at step {int(self.step[frame])} "
                             f"(one of {sorted(tables)}), got {request}")
        table = tables[request]
        va = check_int("va", va, 0)
        if va >= table.size or table[va] < 0:
            raise ValueError(f"va must be a mapped virtual chunk of request {request} "
                             f"(mapped: {np.flatnonzero(table >= 0).tolist()[:6]}...), got {va}")
        return int(table[va])

    def _frame(self, frame: int) -> int:
        return check_int("frame", frame, 0, self.step.size - 1)


def chunk_maps(dataset: LengthDistribution = QMSUM, system: System = CENT, requests: int = 200,
               seed: int = 0, arrivals_per_step: float = 0.1, frames: int = 24,
               reserve_factor: float = NAIVE_RESERVE_FACTOR, admission_headroom: float = NAIVE_ADMISSION_HEADROOM,
               columns: int = 64) -> ChunkMapData:
    """Chunk maps of one module at `frames` decode steps spread over the DPA run's saturated window."""
    if not isinstance(dataset, LengthDistribution):
        raise ValueError(f"dataset must be a Table II LengthDistribution, got {dataset!r}")
    frames = check_int("frames", frames, 1, 200)
    columns = check_int("columns", columns, 4, 1024)
    layout = KVLayout(dataset.model, system)
    trace = decode_trace(dataset, check_int("requests", requests, 2, 100_000), seed,
                         arrivals_per_step=arrivals_per_step)
    horizon = simulate(trace, LazyChunkAllocator(layout, admission_headroom)).window_steps
    first = int(trace.arrival_step.min())
    steps = np.unique(np.linspace(first, max(horizon, first + 1), frames).round().astype(np.int64))
    static = simulate(trace, StaticAllocator(layout, reserve_factor), steps)
    dpa = simulate(trace, LazyChunkAllocator(layout, admission_headroom), steps)
    return ChunkMapData(dataset.name, dataset.model.name, system.name, columns, steps, static.owner, static.used,
                        dpa.owner, static.snapshot_live_bytes / static.capacity_bytes,
                        dpa.snapshot_live_bytes / dpa.capacity_bytes, dpa.va2pa)


def calibrate_reserve_factor(system: System = CENT, factors=None, requests: int = 1000, seed: int = 0) -> float:
    """The reserve factor (of `factors`, default 1.0 to 2.0 in steps of 0.05) whose static utilization lies
    closest to the paper's lowest, highest and average (smallest largest deviation, in points)."""
    factors = np.round(np.arange(1.0, 2.001, 0.05), 2) if factors is None else np.asarray(factors, np.float64)
    traces = [(KVLayout(d.model, system), decode_trace(d, requests, seed, arrivals_per_step=0.1)) for d in DATASETS]
    targets = (paper.FIG19_STATIC_UTIL_MIN.value, paper.FIG19_STATIC_UTIL_MAX.value, paper.FIG19_STATIC_UTIL_AVG.value)

    def deviation(factor):
        util = 100 * np.array([simulate(t, StaticAllocator(layout, factor)).utilization for layout, t in traces])
        return max(abs(got - want) for got, want in zip((util.min(), util.max(), util.mean()), targets))

    return float(min(factors, key=deviation))


def scorecard() -> list[Record]:
    """Static utilization with the bare context window (modelled) and with the calibrated headroom
    (calibrated), DPA's average (modelled), all on the paper's deployment: 8 CENT modules."""
    naive = fig19()
    calibrated = fig19(reserve_factor=STATIC_RESERVE_FACTOR_CALIBRATED)
    pct, knob = 100.0, f"reserve_factor {STATIC_RESERVE_FACTOR_CALIBRATED}, calibrated"
    slots = sorted(set(naive.static_slots.tolist()))
    static_gap = (f"a slot of exactly the context window leaves {'/'.join(map(str, slots))} slots per module; the "
                  f"paper's band needs slots {STATIC_RESERVE_FACTOR_CALIBRATED:g}x larger "
                  f"({'/'.join(map(str, sorted(set(calibrated.static_slots.tolist()))))} per module), for a reason "
                  "it does not give (see the calibrated rows)")
    waste = naive.average("dpa_fragmentation")
    needed = 1 - paper.FIG19_DPA_UTIL_AVG.value / (pct * naive.average("dpa_allocated"))
    dpa_gap = (f"DPA leaves only each stream's last 1 MB chunk partly used (4096 tokens per chunk; on average "
               f"{pct * waste:.1f}% of what it maps): the paper's 'last-used chunk'. The paper's 75.6% would need "
               f"{pct * needed:.0f}% of the mapped memory unused ({needed / waste:.1f}x that), so it must include "
               "effects the paper does not describe (admission headroom, weights, packing)")
    return [
        compare(paper.FIG19_STATIC_UTIL_AVG, pct * naive.average("static_utilization"),
                "static utilization, average (slot = context window)", note=static_gap),
        compare(paper.FIG19_STATIC_UTIL_MIN, pct * naive.static_utilization.min(),
                "static utilization, lowest dataset (slot = context window)", note=static_gap),
        compare(paper.FIG19_STATIC_UTIL_MAX, pct * naive.static_utilization.max(),
                "static utilization, highest dataset (slot = context window)", note=static_gap),
        compare(paper.FIG19_STATIC_UTIL_AVG, pct * calibrated.average("static_utilization"),
                f"static utilization, average ({knob})", kind="calibrated"),
        compare(paper.FIG19_STATIC_UTIL_MIN, pct * calibrated.static_utilization.min(),
                f"static utilization, lowest dataset ({knob})", kind="calibrated"),
        compare(paper.FIG19_STATIC_UTIL_MAX, pct * calibrated.static_utilization.max(),
                f"static utilization, highest dataset ({knob})", kind="calibrated"),
        compare(paper.FIG19_DPA_UTIL_AVG, pct * naive.average("dpa_utilization"),
                "DPA utilization, average (no admission headroom)", note=dpa_gap),
    ]
