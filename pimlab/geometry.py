"""The KV-cache layout: which channel, rows, columns and MAC commands hold which tokens of a K or V stream.

A stream is the K (for QK^T, op "qk") or the V (for SV, op "sv") of one (request, layer, KV head) on one
module. Every other module (`isa`, `mapping`, `dpa`, `dispatch`) asks this one; none recomputes it.

Inside one channel (AiM, paper Sec. II and V), a `Piece` of `tokens` x `dims`:
- K: a token tile of `banks` tokens puts one token in each bank; a key takes n_d = ceil(dims / mac_lanes)
  columns, so a bank row holds `columns_per_row // n_d` token tiles, filled in order. MAC (row, col) reads
  lanes [mac_lanes (col % n_d), ...) of one token tile's keys: one score per bank.
- V: an output tile of `banks` dims puts one dim in each bank; a column holds `mac_lanes` tokens of that
  dim, so a bank row holds `columns_per_row` token tiles of one output tile. Virtual row r n_o + j holds
  token tiles [64 r, 64 (r + 1)) of output tile j (n_o output tiles): row-chunk major, so that a growing
  stream only ever appends rows and old rows keep their address (what DPA's lazy chunks need).

Over the channels of a module (paper Sec. IV, Fig. 6):
- HFP pins the whole stream (all tokens, all dims) to one channel (channel 0 here; the mapper picks it).
- TCP deals K in contiguous segments of whole token tiles to all channels (QK^T outputs are concatenated).
  V goes on a grid of (output-tile groups x token segments) = channels, as many groups as there are
  output tiles (up to the channels): that is the layout that gives Fig. 6's thresholds (256 tokens for
  QK^T, 32 for SV with 16 x 16 banks and d_h = 128). Each channel's SV partial sums are reduced once per
  module in the HUB. The paper's 4-channel example ("SV assigns 2K tokens per channel", d_h = 32, 16K
  tokens) does not follow from the same rule (it gives 8K); pimlab keeps the rule and shows that gap.
  The segments are a snapshot at one length: per-channel tile counts, which fix rows and MACs, are the
  same as when tiles are dealt round-robin as a request grows (tested), so a growing stream needs no moves.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from pimlab.hardware import Module
from pimlab.validate import ceil_div, check_choice, check_int

__all__ = ["OPS", "SCHEMES", "Piece", "rows_needed", "sv_grid", "split", "channel_ranges", "stream_rows",
           "tcp_stream_rows", "tcp_kv_rows", "stream_capacity_tokens"]

OPS = ("qk", "sv")
SCHEMES = ("hfp", "tcp")


def _counts(name: str, values) -> np.ndarray:
    """Non-negative integer counts as an int64 array; a ValueError naming `name` otherwise."""
    array = np.asarray(values)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer) or np.any(array < 0):
        raise ValueError(f"{name} must be non-negative integers, got {values!r}")
    return array.astype(np.int64)


def rows_needed(module: Module, op: str, tokens, dims):
    """All-bank rows one channel needs for `tokens` tokens x `dims` dims of K ("qk") or V ("sv").

    Broadcasts over array `tokens` and `dims`; 0 tokens or 0 dims need 0 rows.
    """
    check_choice("op", op, OPS)
    tokens, dims = _counts("tokens", tokens), _counts("head_dim", dims)
    cols, banks, lanes = module.columns_per_row, module.banks, module.mac_lanes
    if op == "qk":
        n_d = ceil_div(dims, lanes)
        if np.any(n_d > cols):
            raise ValueError(f"head_dim must need at most {cols} columns ({cols * lanes} elements), "
                             f"got {int(np.max(dims))}")
        per_row = cols // np.maximum(n_d, 1)
        rows = ceil_div(ceil_div(tokens, banks), per_row)
    else:
        rows = ceil_div(dims, banks) * ceil_div(ceil_div(tokens, lanes), cols)
    rows = np.where((tokens > 0) & (dims > 0), rows, 0)
    return int(rows) if rows.ndim == 0 else rows


@dataclass(frozen=True)
class Piece:
    """One channel's share of a stream: `tokens` tokens x `dims` dims of K (op "qk") or V (op "sv")."""

    module: Module
    op: str
    tokens: int
    dims: int

    def __post_init__(self):
        if not isinstance(self.module, Module):
            raise ValueError(f"module must be a Module, got {type(self.module).__name__}")
        check_choice("op", self.op, OPS)
        check_int("tokens", self.tokens, 0, 1 << 30)
        check_int("head_dim", self.dims, 1, 4096)
        rows_needed(self.module, self.op, 0, self.dims)  # rejects a key wider than a row

    def __repr__(self) -> str:
        m = self.module
        return (f"Piece({self.op}: {self.tokens} tokens x {self.dims} dims, {self.rows} rows of a {m.banks}-bank "
                f"channel, {self.tiles_per_row} tiles per row)")

    @property
    def token_tile(self) -> int:
        """Tokens one tile holds: one per bank (K) or one per MAC lane (V)."""
        return self.module.banks if self.op == "qk" else self.module.mac_lanes

    @property
    def token_tiles(self) -> int:
        return ceil_div(self.tokens, self.token_tile)

    @property
    def dim_tiles(self) -> int:
        """Columns per key, n_d (K); output tiles of `banks` dims, n_o (V)."""
        return ceil_div(self.dims, self.module.mac_lanes if self.op == "qk" else self.module.banks)

    @property
    def tiles_per_row(self) -> int:
        """Token tiles one bank row holds (of one output tile, for V)."""
        cols = self.module.columns_per_row
        return cols // self.dim_tiles if self.op == "qk" else cols

    @property
    def rows(self) -> int:
        return rows_needed(self.module, self.op, self.tokens, self.dims)

    def address(self, tile, dim_tile=0):
        """(virtual row, column) of the first MAC column of token tile `tile` (and output tile `dim_tile`, V)."""
        one = isinstance(tile, (int, np.integer)) and isinstance(dim_tile, (int, np.integer))  # the compiler's loop
        if not one:
            tile, dim_tile = np.asarray(tile, np.int64), np.asarray(dim_tile, np.int64)
        per_row = self.tiles_per_row
        if self.op == "qk":
            row, col = tile // per_row, (tile % per_row) * self.dim_tiles
        else:
            row, col = (tile // per_row) * self.dim_tiles + dim_tile, tile % per_row
        return (int(row), int(col)) if one or row.ndim == 0 else (row, col)

    def macs(self) -> dict[str, np.ndarray]:
        """Every MAC column of one query's pass over the piece: row, col and the token / dim range it reads."""
        lanes, banks = self.module.mac_lanes, self.module.banks
        tile, d = (a.ravel() for a in np.meshgrid(np.arange(self.token_tiles), np.arange(self.dim_tiles),
                                                  indexing="ij"))
        if self.op == "qk":
            row, col = self.address(tile)
            col = col + d
            dim_size = lanes
        else:
            row, col = self.address(tile, d)
            dim_size = banks
        t0 = tile * self.token_tile
        return {"row": row, "col": col, "token_start": t0, "token_stop": np.minimum(t0 + self.token_tile, self.tokens),
                "dim_start": d * dim_size, "dim_stop": np.minimum((d + 1) * dim_size, self.dims)}

    def locate(self, token: int, dim: int) -> tuple[int, int, int]:
        """(bank, virtual row, column) holding element `dim` of token `token` of the piece."""
        check_int("token", token, 0, self.tokens - 1)
        check_int("dim", dim, 0, self.dims - 1)
        if self.op == "qk":
            row, col = self.address(token // self.module.banks)
            return token % self.module.banks, row, col + dim // self.module.mac_lanes
        row, col = self.address(token // self.module.mac_lanes, dim // self.module.banks)
        return dim % self.module.banks, row, col


def sv_grid(module: Module, head_dim: int) -> tuple[int, int]:
    """TCP's SV layout: (output-tile groups, token segments), groups x segments = channels.

    As many groups as there are output tiles (`banks` dims each), up to the channels; the remaining
    factor of the channels splits the tokens.
    """
    return _sv_grid(module, check_int("head_dim", head_dim, 1))


def _sv_grid(module: Module, head_dim: int) -> tuple[int, int]:
    return _sv_grid_over(module.channels, module.banks, head_dim)


@lru_cache(maxsize=256)
def _sv_grid_over(channels: int, banks: int, head_dim: int) -> tuple[int, int]:
    tiles = ceil_div(head_dim, banks)
    groups = max(d for d in range(1, channels + 1) if channels % d == 0 and d <= tiles)
    return groups, channels // groups


def split(total, tile: int, parts: int) -> tuple[np.ndarray, np.ndarray]:
    """Split each of `total` items into `parts` contiguous ranges of whole tiles: (start, stop), shape
    (len(total), parts). Later parts get the extra tiles, so the part ending in a partial tile also holds
    a full one whenever there are more tiles than parts."""
    total = np.atleast_1d(np.asarray(total, np.int64))
    tiles = ceil_div(total, tile)
    base, extra = tiles // parts, tiles % parts
    j = np.arange(parts)
    count = base[:, None] + (j[None, :] >= parts - extra[:, None])
    stop_tiles = np.cumsum(count, axis=1)
    start = np.minimum((stop_tiles - count) * tile, total[:, None])
    stop = np.minimum(stop_tiles * tile, total[:, None])
    return start, stop


def channel_ranges(module: Module, op: str, tokens, head_dim: int, scheme: str = "tcp"):
    """Per channel, the token range and dim range of a stream of `tokens` tokens: (t0, t1, d0, d1), each
    of shape (len(tokens), channels); an empty range where a channel holds nothing."""
    check_choice("op", op, OPS)
    check_choice("scheme", scheme, SCHEMES)
    head_dim = check_int("head_dim", head_dim, 1, 4096)
    tokens = np.atleast_1d(_counts("tokens", tokens))
    C, n = module.channels, tokens.size
    if scheme == "hfp":
        t1 = np.zeros((n, C), np.int64)
        t1[:, 0] = tokens
        d1 = np.zeros((n, C), np.int64)
        d1[:, 0] = head_dim
        return np.zeros((n, C), np.int64), t1, np.zeros((n, C), np.int64), d1
    if op == "qk":
        t0, t1 = split(tokens, module.banks, C)
        return t0, t1, np.zeros((n, C), np.int64), np.full((n, C), head_dim, np.int64)
    groups, segments = sv_grid(module, head_dim)
    s0, s1 = split(tokens, module.mac_lanes, segments)
    o0, o1 = split([head_dim], module.banks, groups)
    c = np.arange(C)
    g, j = c // segments, c % segments
    return s0[:, j], s1[:, j], np.broadcast_to(o0[0, g], (n, C)), np.broadcast_to(o1[0, g], (n, C))


def stream_rows(module: Module, op: str, tokens, head_dim: int, scheme: str = "tcp"):
    """Rows of the busiest channel for a stream of `tokens` tokens: what an allocator maps on every channel."""
    if np.ndim(tokens) == 0:
        return _stream_rows_one(module, op, tokens, head_dim, scheme)
    t0, t1, d0, d1 = channel_ranges(module, op, tokens, head_dim, scheme)
    return rows_needed(module, op, t1 - t0, d1 - d0).max(axis=1).reshape(np.shape(tokens))


def _stream_rows_one(module: Module, op: str, tokens: int, head_dim: int, scheme: str) -> int:
    """`stream_rows` of one length, the fast path allocators ask at every admission check and growth step.

    The busiest channel holds the most whole tiles of `split` (ceil(tiles / parts)) and, for V, the widest
    output-tile group; rows grow with both, so its rows are the maximum (tested against `channel_ranges`).
    """
    check_choice("op", op, OPS)
    check_choice("scheme", scheme, SCHEMES)
    if check_int("tokens", tokens, 0) == 0:
        return 0
    if scheme == "hfp":
        return rows_needed(module, op, tokens, head_dim)
    return int(_tcp_rows(module, op, tokens, head_dim, module.channels))


def tcp_stream_rows(module: Module, op: str, tokens, head_dim: int, channels: int):
    """`stream_rows` under TCP over `channels` channels of `module`'s banks (any count: a unit of the system
    model may own 10 channels of a device, or several modules); vectorised over `tokens`."""
    check_choice("op", op, OPS)
    channels = check_int("channels", channels, 1)
    rows = _tcp_rows(module, op, _counts("tokens", tokens), check_int("head_dim", head_dim, 1, 4096), channels)
    return int(rows) if np.ndim(rows) == 0 else rows


def tcp_kv_rows(module: Module, tokens, head_dim: int, channels: int) -> tuple[np.ndarray, np.ndarray]:
    """(K rows, V rows): `tcp_stream_rows` of both ops at once, in closed form (vectorised over `tokens`)."""
    k_tokens, v_tokens, v_tiles = _tcp_row_tokens(module, check_int("channels", channels, 1),
                                                  check_int("head_dim", head_dim, 1, 4096))
    tokens = _counts("tokens", tokens)
    return ceil_div(tokens, k_tokens), v_tiles * ceil_div(tokens, v_tokens)


@lru_cache(maxsize=1024)
def _tcp_row_tokens(module: Module, channels: int, head_dim: int) -> tuple[int, int, int]:
    """K rows are ceil(tokens / k_tokens), V rows v_tiles x ceil(tokens / v_tokens): `_tcp_rows`' nested
    ceilings of whole tiles, segments and rows fold into one (ceil(ceil(a / b) / c) = ceil(a / (b c)))."""
    rows_needed(module, "qk", 0, head_dim)  # rejects a key wider than a row
    per_row = module.columns_per_row // ceil_div(head_dim, module.mac_lanes)
    groups, segments = _sv_grid_over(channels, module.banks, head_dim)
    dims = min(head_dim, ceil_div(ceil_div(head_dim, module.banks), groups) * module.banks)
    return (module.banks * channels * per_row, module.mac_lanes * segments * module.columns_per_row,
            ceil_div(dims, module.banks))


def _tcp_rows(module: Module, op: str, tokens, head_dim: int, channels: int):
    if op == "qk":
        per_channel = ceil_div(ceil_div(tokens, module.banks), channels) * module.banks
        return rows_needed(module, op, per_channel, head_dim)
    groups, segments = _sv_grid_over(channels, module.banks, head_dim)
    most = ceil_div(ceil_div(tokens, module.mac_lanes), segments) * module.mac_lanes
    dims = min(head_dim, ceil_div(ceil_div(head_dim, module.banks), groups) * module.banks)
    return rows_needed(module, op, most, dims)


@lru_cache(maxsize=4096)
def stream_capacity_tokens(module: Module, op: str, rows: int, head_dim: int, scheme: str = "tcp") -> int:
    """Most tokens a stream holds in `rows` rows per channel (0 if none): the inverse of `stream_rows`,
    found by bisection because `stream_rows` never decreases with the tokens."""
    rows = check_int("rows", rows, 0)
    low, high = 0, (rows + 1) * module.channels * module.banks * module.columns_per_row * module.mac_lanes
    while low < high:  # largest t with stream_rows(t) <= rows
        mid = (low + high + 1) // 2
        low, high = (mid, high) if stream_rows(module, op, mid, head_dim, scheme) <= rows else (low, mid - 1)
    return low
