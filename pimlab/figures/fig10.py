"""DPA figure (Fig. 10 in the PDF, Fig. 11 in the HTML): instruction size vs context, dispatcher buffers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pimlab import paper
from pimlab.dispatch import (
    INSTRUCTION_BYTES,
    OPS,
    DispatcherBuffers,
    dispatcher_buffers,
    static_instructions,
)
from pimlab.dpa import KVLayout
from pimlab.hardware import CENT, System
from pimlab.models import LLM, LLM_7B_128K_GQA
from pimlab.reproduce import Record, compare
from pimlab.validate import check_int

FIGURE = "10"
__all__ = ["Fig10Data", "fig10"]


@dataclass(frozen=True)
class Fig10Data:
    """Instruction bytes against context length: the static stream grows, the DPA program does not."""

    model: str
    system: str
    instruction_bytes: int
    context_tokens: np.ndarray
    static_instructions_per_head: np.ndarray  # QK^T + SV of one (layer, KV head), busiest channel, multicast
    static_bytes_per_module: np.ndarray  # one request's streams on one module (its layers x KV heads there)
    static_bytes_per_request: np.ndarray  # one request over every module
    dpa_program_bytes: int  # the QK^T and SV programs, shared by every request, layer and head of a module
    dispatcher: DispatcherBuffers  # per module

    @property
    def growth_bytes_per_token(self) -> float:
        """Slope of the static stream per request (bytes per token of context)."""
        return float(np.polyfit(self.context_tokens, self.static_bytes_per_request, 1)[0])


def fig10(model: LLM = LLM_7B_128K_GQA, system: System = CENT, context_tokens=None, group: int | None = None,
          row_reuse: bool = False, instruction_bytes: int = INSTRUCTION_BYTES) -> Fig10Data:
    """Static stream bytes and the DPA program's bytes for `model` over a context grid (1K to 1M by default)."""
    layout = KVLayout(model, system)
    group = model.group_size if group is None else check_int("group", group, 1, 64)
    instruction_bytes = check_int("instruction_bytes", instruction_bytes, 1, 64)
    if context_tokens is None:
        context_tokens = 2 ** np.arange(10, 21)
    context = np.array([check_int("context_tokens", int(t), 1, 2**22) for t in np.atleast_1d(context_tokens)],
                       dtype=np.int64)
    if context.size == 0:
        raise ValueError("context_tokens must name at least one length in [1, 4194304], got none")
    per_head = np.array([sum(static_instructions(op, int(t), layout, group, row_reuse) for op in OPS)
                         for t in context], dtype=np.int64)
    pairs_per_module = layout.streams // 2
    per_module = per_head * pairs_per_module * instruction_bytes
    buffers = dispatcher_buffers(layout, group, row_reuse, instruction_bytes)
    return Fig10Data(model.name, system.name, instruction_bytes, context, per_head, per_module,
                     per_module * system.modules, buffers.program_bytes, buffers)


def scorecard() -> list[Record]:
    """The dispatcher's buffers per module against the paper's < 200 KB (reconstructed: assumed encodings)."""
    data = fig10(context_tokens=[4096])
    return [compare(paper.DPA_DISPATCHER_BUDGET_KB, data.dispatcher.total_bytes / 1024,
                    "dispatcher buffers per module (VA2PA + programs + config)")]
