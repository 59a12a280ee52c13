"""Longer-context decoder blocks of the same kind as CENT's 4096-token Llama2-7B block, for speed measurements.

CENT's trace generator (Yufeng98/CENT `cent_simulation/`) needs the model's weights and a GPU-side run to
emit a block; pimlab has only its 4096-token output (`tests/data/cent-7b-4096`). `synthesise(context, out)`
builds a stand-in for a block at `context` tokens (a multiple of 4096) from that output's op groups, by the
rule that separates what grows with the context from what does not:

- fixed, once: RMSNorm (`norm`), the Q/K/V/O projections (`fc_qkvo`), the FFN (`fc_ffn`), the activation
  staging (`act`): their work depends on the model's width, not on the tokens;
- per 4096 tokens, `context / 4096` times: attention over the KV cache (`attn_all`: KV write, QK^T, SV) and
  the softmax score staging (`softmax`), whose lines are the cache and the scores, proportional to the tokens.

Each repetition of the attention and softmax groups works on rows of its own (rows moved by 0, 1000, 3000,
6000, ... : other cache rows, as a longer cache occupies; the steps differ, so that the whole block is not
one repetition of a 100,000-line loop, which a longer CENT trace is not either). Each group's own `AiM EOC`
becomes an `AiM SYNC`; every group is marked (`# group: NAME`). This is a stand-in, not CENT's output: the
op mix and the DRAM commands grow with the context as in CENT's mapping (the cache and score traffic scale
with the tokens), the exact line order of a real 16K block is not reproduced. At 4096 tokens the real block
file is used.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from pimlab.aimsim import _FIELDS

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "cent-7b-4096"
BASE_CONTEXT = 4096
FIXED_BEFORE, SCALED, FIXED_AFTER = ("norm", "fc_qkvo"), ("attn_all", "softmax"), ("fc_ffn", "act")
ROW_STEP = 1000  # repetition k's rows move by ROW_STEP * k * (k + 1) / 2


def group_lines(name: str) -> list[str]:
    """The op group's trace lines, its EOC turned into a SYNC."""
    text = gzip.decompress((DATA / f"7B_s4096_{name}.trace.gz").read_bytes()).decode()
    return ["AiM SYNC" if line.strip() == "AiM EOC" else line for line in text.splitlines()]


def move_rows(line: str, rows: int) -> str:
    """The same request on a row `rows` further (requests without a row unchanged)."""
    tokens = line.split()
    if not rows or len(tokens) < 2:
        return line
    if tokens[1] == "MEM":
        at = 4
    elif tokens[0] == "AiM" and "row" in _FIELDS.get(tokens[1], ()):
        at = 2 + _FIELDS[tokens[1]].index("row")
    else:
        return line
    tokens[at] = str(int(tokens[at], 0) + rows)
    return " ".join(tokens)


def synthesise(context: int, out: Path) -> Path:
    """A block-like trace at `context` tokens (see the module docstring); the real block at 4096."""
    if context % BASE_CONTEXT or context < BASE_CONTEXT:
        raise ValueError(f"context must be a positive multiple of {BASE_CONTEXT} tokens, got {context}")
    if context == BASE_CONTEXT:
        return DATA / "7B_s4096_block.trace.gz"
    with open(out, "w") as trace:
        for name in FIXED_BEFORE:
            trace.write(f"# group: {name}\n" + "\n".join(group_lines(name)) + "\n")
        for k in range(context // BASE_CONTEXT):
            rows = ROW_STEP * k * (k + 1) // 2
            for name in SCALED:
                moved = (move_rows(line, rows) for line in group_lines(name))
                trace.write(f"# group: {name}\n" + "\n".join(moved) + "\n")
        for name in FIXED_AFTER:
            trace.write(f"# group: {name}\n" + "\n".join(group_lines(name)) + "\n")
        trace.write("AiM EOC\n")
    return out


if __name__ == "__main__":
    import sys

    print(synthesise(int(sys.argv[1]), Path(sys.argv[2])))
