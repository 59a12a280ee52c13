"""Longer-context decoder blocks of the same kind as CENT's 4096-token Llama2-7B block, for speed measurements.

CENT's trace generator (Yufeng98/CENT `cent_simulation/`) needs the model's weights and a GPU-side run to
emit a block; pimlab has only its 4096-token output (`tests/data/cent-7b-4096`). Two stand-ins for a block
at `context` tokens (a multiple of 4096); at 4096 both are the real block, byte for byte (`tests/test_aimsim.py`).

`cent_block` (the benchmark's block): the real block with the context-dependent parts written for `context`
tokens the way CENT's generator lays them out (`TransformerBlock.py`: the K cache one token per bank, 4 rows a
token, 128 banks of 8 channels; the scores `rows_per_score = seqlen / 1024` rows; the V cache
`rows_per_dim = max_seq_len / 1024` rows per head dimension, taking max_seq_len = seqlen as in the 4096 block):

- KV write: the new token's K row block (4 rows, 64 host writes each, on its bank's channels) and its V column
  (WR_ABK on 32 rows x 8 channels), at the rows of token `context - 1`;
- QK^T: for each of the token's 4 K rows, for each group of 128 tokens (32 at 4096, context/128 in general):
  WR_GB, then 8 x (WR_BIAS, MAC_ABK 8, RD_MAC);
- softmax staging: its per-row passes (host writes, EWMUL, host reads) over `context / 1024` score rows;
- SV: for each of 4 heads a bank, for each of the `context / 1024` rows a dimension: WR_GB, then
  8 x (WR_BIAS, MAC_ABK 64, RD_MAC);
- everything else (norms, projections, FFN, activation) as in the real block, its rows above the attention
  region moved up by the region's growth.

`chunked_block` (a harsher case, not CENT's layout): the attention and softmax op groups repeated once per
4096 tokens, each repetition on rows of its own (moved by 0, 1000, 3000, 6000, ...), so that no loop runs
longer than at 4096 and the replay meets every loop's start context/4096 times.
"""

from __future__ import annotations

import gzip
from pathlib import Path

from pimlab.aimsim import _FIELDS

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "cent-7b-4096"
BASE_CONTEXT = 4096
K_BASE_ROW = 389  # the K cache's first row in the 4096 block (below it: the projection weights)
TOKENS_PER_GROUP = 128  # one token a bank: 8 channels x 16 banks
K_ROWS_PER_TOKEN = 4  # head_dim 128 x 32 heads / 1024 elements a row
HEADS_PER_BANK, DIM_ITERATIONS = 4, 8  # V cache: 32 heads over 8 channels; 128 dims over 16 banks
MACS_PER_TILE = 8
K_CHANNELS = (7, 15, 23, 31)  # the K write of the last token (bank 15 of channel 7, and the other 3 blocks)
V_CHANNELS = range(8)
SOFTMAX_BASE_ROWS = range(517, 521)  # the score rows at 4096 tokens
# The real block's lines (1-based, inclusive) of what depends on the context, one after the other: KV write and
# QK^T from line 14493, softmax staging 18973..215590, SV up to 215990.
ATTENTION_FIRST_LINE, SOFTMAX_LINES, ATTENTION_LAST_LINE = 14493, (18973, 215590), 215990
FIXED_BEFORE, SCALED, FIXED_AFTER = ("norm", "fc_qkvo"), ("attn_all", "softmax"), ("fc_ffn", "act")
ROW_STEP = 1000  # chunked_block: repetition k's rows move by ROW_STEP * k * (k + 1) / 2


def _check(context: int) -> None:
    if context % BASE_CONTEXT or context < BASE_CONTEXT:
        raise ValueError(f"context must be a positive multiple of {BASE_CONTEXT} tokens, got {context}")


def _row_at(tokens: list[str]) -> int | None:
    """Index of a line's row field (None: no row)."""
    if len(tokens) > 4 and tokens[1] == "MEM":
        return 4
    if len(tokens) > 1 and tokens[0] == "AiM" and "row" in _FIELDS.get(tokens[1], ()):
        return 2 + _FIELDS[tokens[1]].index("row")
    return None


def move_rows(line: str, rows: int, above: int = 0) -> str:
    """The same request on a row `rows` further if its row is at least `above` (requests without a row unchanged)."""
    tokens = line.split()
    at = _row_at(tokens) if rows else None
    if at is None or int(tokens[at], 0) < above:
        return line
    tokens[at] = str(int(tokens[at], 0) + rows)
    return " ".join(tokens)


def _layout(context: int) -> dict:
    """First rows of the K cache, the scores and the V cache, and the first row past the attention region."""
    k_rows = context // TOKENS_PER_GROUP * K_ROWS_PER_TOKEN
    scores = K_BASE_ROW + k_rows
    v = scores + context // 1024
    return dict(k=K_BASE_ROW, scores=scores, v=v, end=v + HEADS_PER_BANK * DIM_ITERATIONS * (context // 1024))


def _gemv_tile(opsize: int, rows) -> list[str]:
    lines = ["AiM WR_GB 64 0 0xffffffff"]
    for row in rows:
        lines += ["AiM WR_BIAS 0 0xffffffff", f"AiM MAC_ABK {opsize} 0xffffffff {row}", "AiM RD_MAC 0 0xffffffff"]
    return lines


def attention_qk(context: int) -> list[str]:
    """KV write of token context - 1, then QK^T over the K cache."""
    rows, per_dim, last = _layout(context), context // 1024, context - 1
    k_row = rows["k"] + last // TOKENS_PER_GROUP * K_ROWS_PER_TOKEN
    lines = [f"W MEM {c} 15 {k_row + r}" for r in range(K_ROWS_PER_TOKEN) for c in K_CHANNELS for _ in range(64)]
    for head in range(HEADS_PER_BANK):
        for dim in range(DIM_ITERATIONS):
            row = rows["v"] + per_dim * (DIM_ITERATIONS * head + dim) + last // 1024
            lines += [f"AiM WR_ABK 0 {1 << (31 - c):#x} {row}" for c in V_CHANNELS]
    for r in range(K_ROWS_PER_TOKEN):
        for group in range(context // TOKENS_PER_GROUP):
            lines += _gemv_tile(8, [rows["k"] + K_ROWS_PER_TOKEN * group + r] * MACS_PER_TILE)
    return lines


def attention_sv(context: int) -> list[str]:
    """SV over the V cache."""
    rows, per_dim = _layout(context), context // 1024
    lines = []
    for head in range(HEADS_PER_BANK):
        for offset in range(per_dim):
            lines += _gemv_tile(64, [rows["v"] + per_dim * (DIM_ITERATIONS * head + d) + offset
                                     for d in range(DIM_ITERATIONS)])
    return lines


def _row(line: str) -> int | None:
    tokens = line.split()
    at = _row_at(tokens)
    return None if at is None else int(tokens[at])


def softmax(context: int, base: list[str]) -> list[str]:
    """The 4096 block's softmax staging (`base`) with each pass over the score rows run over context / 1024 rows."""
    first, count = SOFTMAX_BASE_ROWS[0], context // 1024
    shift = _layout(context)["scores"] - first
    out, at = [], 0
    while at < len(base):
        if _row(base[at]) != first:
            out.append(base[at])
            at += 1
            continue
        end = at  # a pass: these lines on the first score row, then the same on each next row
        while end < len(base) and _row(base[end]) == first:
            end += 1
        out += [move_rows(line, shift + r) for r in range(count) for line in base[at:end]]
        at = end + (end - at) * (len(SOFTMAX_BASE_ROWS) - 1)
    return out


def _block_lines() -> list[str]:
    return gzip.decompress((DATA / "7B_s4096_block.trace.gz").read_bytes()).decode().splitlines()


def cent_block(context: int, out: Path | None = None) -> list[str] | Path:
    """The block at `context` tokens in CENT's layout (module docstring); its lines, or written to `out`."""
    _check(context)
    block = _block_lines()
    grow = _layout(context)["end"] - _layout(BASE_CONTEXT)["end"]
    fixed_end = _layout(BASE_CONTEXT)["end"]

    def fixed(lo: int, hi: int) -> list[str]:
        return [move_rows(line, grow, fixed_end) for line in block[lo - 1:hi]]

    first, last = SOFTMAX_LINES
    lines = (fixed(1, ATTENTION_FIRST_LINE - 1) + attention_qk(context) + softmax(context, block[first - 1:last])
             + attention_sv(context) + fixed(ATTENTION_LAST_LINE + 1, len(block)))
    if out is None:
        return lines
    Path(out).write_text("\n".join(lines) + "\n")
    return Path(out)


def group_lines(name: str) -> list[str]:
    """The op group's trace lines, its EOC turned into a SYNC."""
    text = gzip.decompress((DATA / f"7B_s4096_{name}.trace.gz").read_bytes()).decode()
    return ["AiM SYNC" if line.strip() == "AiM EOC" else line for line in text.splitlines()]


def chunked_block(context: int, out: Path) -> Path:
    """The harsher stand-in (module docstring), written to `out`; the real block at 4096."""
    _check(context)
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


def synthesise(context: int, out: Path, layout: str = "cent") -> Path:
    """A block at `context` tokens written to `out` (the real block's file at 4096): `layout` cent or chunked."""
    if layout == "chunked":
        return chunked_block(context, out)
    _check(context)
    return DATA / "7B_s4096_block.trace.gz" if context == BASE_CONTEXT else cent_block(context, out)


if __name__ == "__main__":
    import sys

    print(synthesise(int(sys.argv[1]), Path(sys.argv[2]), *sys.argv[3:]))
