"""What every system model answers for one decode step: its time, split into named parts, and its batch."""

from __future__ import annotations

from dataclasses import dataclass, field

from pimlab.validate import check_int, check_number

# The parts a step's time may be split into (seconds each). A system uses the ones it has; "exposed" is time a
# system could overlap but does not (for example GPU and PIM waiting on each other).
COMPONENTS = ("fc", "qk", "softmax", "sv", "attention", "selection", "link", "nmu", "bubble", "exposed", "other")


@dataclass(frozen=True)
class StepResult:
    """One decode step of a batch: every request in flight emits one token.

    `components_s` maps names from COMPONENTS to seconds; they add up to `latency_s` (what the system overlaps is
    not counted twice). `whatifs` lists the what-if switches the result rests on (capacity not checked, a context
    past the model's window), so that no printed number hides them.
    """

    system: str  # "cent", "neupims", "a100", "l3", "cxl-pnm", ...
    model: str  # an LLM's name (pimlab.models)
    batch: int  # requests in flight
    context_tokens: float  # mean context length of the batch
    latency_s: float  # time one request takes for one output token
    tokens_per_s: float  # the system's output rate
    components_s: dict = field(default_factory=dict)  # name -> seconds
    mac_utilization: float | None = None  # PIM MAC utilization in [0, 1] where the system has PIM
    energy_j: dict | None = None  # name -> joules for the whole step, where modelled
    whatifs: tuple = ()

    def __post_init__(self):
        check_int("batch", self.batch, 1)
        check_number("latency_s", self.latency_s)
        check_number("tokens_per_s", self.tokens_per_s)
        unknown = set(self.components_s) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"components_s names must be among {COMPONENTS}, got {sorted(unknown)}")

    @property
    def latency_ms(self) -> float:
        return 1e3 * self.latency_s

    def __repr__(self) -> str:
        parts = ", ".join(f"{k} {1e3 * v:.3g} ms" for k, v in self.components_s.items() if v)
        flags = f" [what-if: {', '.join(self.whatifs)}]" if self.whatifs else ""
        return (f"StepResult({self.system}, {self.model}, batch {self.batch}, context {self.context_tokens:.0f}: "
                f"{self.latency_ms:.3g} ms/step, {self.tokens_per_s:.4g} tok/s; {parts}){flags}")
