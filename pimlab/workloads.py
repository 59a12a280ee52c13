"""Context-length distributions of Table II, seeded request samplers and decode traces.

Lengths are drawn from a Beta distribution scaled to the dataset's [min, max], with its two shape
parameters set in closed form so that the mean and standard deviation are exactly Table II's. It is
the simplest family that is bounded by the table's min and max and matches both moments; the real
datasets' shapes are not published, so anything finer would be invented.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab.models import LLM, LLM_7B_32K, LLM_7B_128K_GQA
from pimlab.validate import check_int, check_named, check_number


@dataclass(frozen=True)
class LengthDistribution:
    """Input context lengths of one benchmark (Table II) and the model the paper runs it on."""

    name: str
    benchmark: str
    mean: float
    std: float
    min: int
    max: int
    model: LLM  # [Q] Fig. 19 caption: QMSum, Musique on 7B-32K; MultiField, Loogle on 7B-128K

    def __post_init__(self):
        check_int("min", self.min, 1)
        check_int("max", self.max, self.min + 1)
        check_number("mean", self.mean, self.min, self.max)
        check_number("std", self.std)
        _, _ = self.beta_shape  # raises when no Beta on [min, max] has this mean and std

    @property
    def beta_shape(self) -> tuple[float, float]:
        """(alpha, beta) of the scaled Beta whose mean and std are the table's."""
        span = self.max - self.min
        m = (self.mean - self.min) / span
        v = (self.std / span) ** 2
        common = m * (1 - m) / v - 1
        if common <= 0:
            raise ValueError(f"std must be below {span * np.sqrt(m * (1 - m)):.0f} for this range, got {self.std}")
        return m * common, (1 - m) * common

    def sample(self, n: int, seed: int | np.random.Generator = 0) -> np.ndarray:
        """`n` integer context lengths in [min, max]."""
        n = check_int("n", n, 1, 10**8)
        rng = np.random.default_rng(seed)
        alpha, beta = self.beta_shape
        return np.rint(self.min + (self.max - self.min) * rng.beta(alpha, beta, n)).astype(np.int64)


# Table II [Q]: mean, std, max, min of the input context length
QMSUM = LengthDistribution("QMSum", "LongBench", 13966, 6182, 2651, 30456, LLM_7B_32K)
MUSIQUE = LengthDistribution("Musique", "LongBench", 16362, 1651, 6820, 17917, LLM_7B_32K)
MULTIFIELDQA = LengthDistribution("multifieldqa", "LV-Eval", 60780, 31025, 20333, 119480, LLM_7B_128K_GQA)
LOOGLE_SD = LengthDistribution("Loogle-SD", "LV-Eval", 50693, 26506, 13347, 109221, LLM_7B_128K_GQA)
DATASETS = (QMSUM, MUSIQUE, MULTIFIELDQA, LOOGLE_SD)


def dataset_named(name: str) -> LengthDistribution:
    """The Table II distribution called `name`."""
    return check_named("dataset", name, DATASETS)


@dataclass(frozen=True)
class DecodeTrace:
    """Requests as columns: arrival step, input context tokens, output tokens to generate.

    `finish_step` is when each request would finish if it were admitted on arrival and decoded one
    token per step; an allocator that delays admission shifts it.
    """

    arrival_step: np.ndarray
    context_tokens: np.ndarray
    output_tokens: np.ndarray

    def __post_init__(self):
        sizes = {self.arrival_step.size, self.context_tokens.size, self.output_tokens.size}
        if len(sizes) != 1:
            raise ValueError(f"trace columns must have one length, got sizes {sorted(sizes)}")

    def __len__(self) -> int:
        return int(self.context_tokens.size)

    @property
    def final_tokens(self) -> np.ndarray:
        """Context length when each request completes."""
        return self.context_tokens + self.output_tokens

    @property
    def finish_step(self) -> np.ndarray:
        return self.arrival_step + self.output_tokens

    def live_tokens(self, step: int) -> np.ndarray:
        """Tokens of KV cache each request holds at `step` (0 before arrival and after completion)."""
        age = step - self.arrival_step
        live = (age >= 0) & (age < self.output_tokens)
        return np.where(live, self.context_tokens + np.clip(age, 0, None) + 1, 0)


def decode_trace(
    dataset: LengthDistribution,
    requests: int,
    seed: int | np.random.Generator = 0,
    mean_output_tokens: int = 256,
    arrivals_per_step: float | None = None,
) -> DecodeTrace:
    """A seeded trace: Table II input lengths, geometric output lengths, Poisson arrivals.

    `arrivals_per_step=None` puts every request at step 0 (a closed batch). Output lengths are capped so
    that no request outgrows the model's context window.
    """
    requests = check_int("requests", requests, 1, 10**7)
    mean_output_tokens = check_int("mean_output_tokens", mean_output_tokens, 1, dataset.model.context_window)
    rng = np.random.default_rng(seed)
    context = dataset.sample(requests, rng)
    room = dataset.model.context_window - context
    output = np.minimum(rng.geometric(1.0 / mean_output_tokens, requests), np.maximum(room, 1))
    if arrivals_per_step is None:
        arrival = np.zeros(requests, dtype=np.int64)
    else:
        rate = check_number("arrivals_per_step", arrivals_per_step)
        arrival = np.floor(np.cumsum(rng.exponential(1.0 / rate, requests))).astype(np.int64)
    return DecodeTrace(arrival, context, output.astype(np.int64))
