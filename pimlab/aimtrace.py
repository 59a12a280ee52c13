"""The public AiM simulator's ISR trace files (arkhadem/aim_simulator): read, write, and replay them (`replay_trace`).

A line is `AiM <OPCODE> <fields...>` (fields separated by spaces or commas, `#` starts a comment):
`WR_GB opsize GPR mask`, `WR_BIAS GPR mask`, `MAC_ABK opsize mask row`, `RD_MAC GPR mask`, `SYNC`, `EOC`.
Bit i of a file's channel mask is channel 31 - i (`0x80000000` is channel 0); pimlab's `Instruction.ch_mask`
uses bit i for channel i, so masks are bit-reversed on the way in and out. The format names no GBuf
index, column or output index: AiM writes the GBuf and reads rows from entry / column 0 and has one
output register, so import sets them to 0 and export drops them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pimlab.engine.timing import EngineTiming, engine_preset
from pimlab.hardware import Module
from pimlab.isa import _TABLE_FIELDS, Instruction, Kind, expand_table, instruction_table
from pimlab.schedule import schedule, summarize_table
from pimlab.trace import BREAKDOWN_KEYS, Trace
from pimlab.validate import check_choice, check_int

__all__ = ["FILE_CHANNELS", "parse_trace", "read_trace", "read_table", "fast_table", "engine_table", "format_trace",
           "write_trace", "SimulationResult", "replay_trace", "file_mask", "pimlab_mask"]

FILE_CHANNELS = 32  # aim_simulator's masks name 32 channels
_FIELDS = {"WR_GB": ("opsize", "gpr", "mask"), "WR_BIAS": ("gpr", "mask"), "MAC_ABK": ("opsize", "mask", "row"),
           "RD_MAC": ("gpr", "mask"), "SYNC": (), "EOC": ()}
_UNSUPPORTED = ("WR_SBK", "WR_ABK", "WR_AFLUT", "RD_AF", "RD_SBK", "COPY_BKGB", "COPY_GBBK", "MAC_SBK", "AF",
                "EWMUL", "EWADD")


def pimlab_mask(mask: int) -> int:
    """A file's channel mask (bit 31 - c = channel c) as pimlab's (bit c = channel c)."""
    mask = check_int("channel_mask", mask, 1, 2**FILE_CHANNELS - 1)
    return sum(1 << c for c in range(FILE_CHANNELS) if mask >> (FILE_CHANNELS - 1 - c) & 1)


def file_mask(ch_mask: int) -> int:
    """pimlab's channel mask as a file's; channels above 31 cannot be written."""
    if ch_mask >> FILE_CHANNELS:
        raise ValueError(f"ch_mask must name channels 0..{FILE_CHANNELS - 1} only, got {ch_mask:#x}")
    return sum(1 << (FILE_CHANNELS - 1 - c) for c in range(FILE_CHANNELS) if ch_mask >> c & 1)


def _number(token: str, what: str, lineno: int) -> int:
    try:
        return int(token, 16) if token.lower().startswith("0x") else int(token)
    except ValueError:
        raise ValueError(f"line {lineno}: {what} must be an integer (decimal or 0x hex), got {token!r}") from None


def parse_trace(text: str, gbuf_entries: int = 64) -> list[Instruction]:
    """The instructions of a trace's text, up to its EOC (a long WR_GB / MAC_ABK splits at the GBuf size)."""
    gbuf_entries = check_int("gbuf_entries", gbuf_entries, 1, 4096)
    table = fast_table(text.encode(), gbuf_entries) if text.isascii() else None
    if table is None:
        return _parse_lines(text, gbuf_entries)
    return [Instruction(Kind(op), mask, size, gpr, gbuf, row, col, out) for op, mask, size, gpr, gbuf, row, col, out
            in zip(*(table[name].tolist() for name in _TABLE_FIELDS))]


def _parse_lines(text: str, gbuf_entries: int) -> list[Instruction]:
    """`parse_trace` line by line: the reference reader, and the one that names a bad line."""
    out: list[Instruction] = []
    ended = False
    for lineno, line in enumerate(text.splitlines(), 1):
        tokens = [t for t in re.split(r"[\s,]+", line.split("#", 1)[0].strip()) if t]
        if not tokens:
            continue
        if tokens[0] != "AiM":
            raise ValueError(f"line {lineno}: only AiM ISR lines are supported (`AiM <OPCODE> ...`), got {line!r}")
        opcode = tokens[1].removeprefix("ISR_") if len(tokens) > 1 else ""
        if opcode in _UNSUPPORTED:
            raise ValueError(f"line {lineno}: opcode {opcode} is not modelled by pimlab; supported: "
                             f"{', '.join(_FIELDS)}")
        check_choice(f"line {lineno}: opcode", opcode, tuple(_FIELDS))
        names = _FIELDS[opcode]
        if len(tokens) - 2 != len(names):
            raise ValueError(f"line {lineno}: {opcode} takes {len(names)} fields ({' '.join(names)}), "
                             f"got {len(tokens) - 2}")
        f = {name: _number(tok, name, lineno) for name, tok in zip(names, tokens[2:])}
        if opcode == "EOC":
            ended = True
            break
        if opcode != "SYNC":  # SYNC is a barrier: channels are scheduled one by one, so it changes nothing here
            out += _instructions(opcode, f, lineno, gbuf_entries)
    if not ended:
        raise ValueError("the trace must end with an `AiM EOC` line; none found")
    if not out:
        raise ValueError("the trace must hold at least one instruction before EOC, got none")
    return out


def _instructions(opcode: str, f: dict, lineno: int, gbuf_entries: int) -> list[Instruction]:
    at = f"line {lineno}: "
    mask = pimlab_mask(check_int(at + "channel_mask", f["mask"], 1, 2**FILE_CHANNELS - 1))
    if opcode not in ("WR_GB", "MAC_ABK"):
        op = Kind.WR_BIAS if opcode == "WR_BIAS" else Kind.RD_OUT
        return [Instruction(op, mask, 1, gpr_addr=check_int(at + "GPR", f["gpr"], 0), out_idx=0)]
    size = check_int(at + "opsize", f["opsize"], 1, 1 << 20)
    address = check_int(at + ("GPR" if opcode == "WR_GB" else "row"), f["gpr" if opcode == "WR_GB" else "row"], 0)
    out = []
    for start in range(0, size, gbuf_entries):
        part = min(gbuf_entries, size - start)
        if opcode == "WR_GB":
            out.append(Instruction(Kind.WR_INP, mask, part, gpr_addr=address + start, gbuf_idx=0))
        else:
            out.append(Instruction(Kind.MAC, mask, part, gbuf_idx=0, row=address, col=start % 64, out_idx=0))
    return out


def read_trace(path, gbuf_entries: int = 64) -> list[Instruction]:
    """Instructions of an AiM ISR trace file."""
    return _read(path, lambda data: parse_trace(data.decode(), gbuf_entries))


def read_table(path, gbuf_entries: int = 64) -> dict[str, np.ndarray]:
    """The instructions of an AiM ISR trace file as `isa.instruction_table` columns (no Instruction objects)."""
    gbuf_entries = check_int("gbuf_entries", gbuf_entries, 1, 4096)

    def table(data: bytes) -> dict[str, np.ndarray]:
        fast = fast_table(data, gbuf_entries)
        return fast if fast is not None else instruction_table(parse_trace(data.decode(), gbuf_entries))

    return _read(path, table)


def _read(path, parse):
    """parse(the bytes of the trace file at `path`); a problem with its text is raised naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"trace file must exist, got {str(path)!r}")
    try:
        return parse(path.read_bytes())
    except ValueError as error:  # a bad line (named by _parse_lines), or not UTF-8 text
        raise ValueError(f"{path}: {error}") from None


# --- the numpy reader: well-formed files without a Python loop per line ------------------------------------------
# A piece of the file (about _CHUNK_BYTES, whole lines) is one uint8 array: tokens are runs of bytes other than space,
# tab, comma and line end; the opcode and "AiM" are compared as 8-byte words, and numbers are read 8 digits at a
# time from the 8 bytes that end at their last digit (SWAR: a few integer operations on a uint64 per 8 digits).
# A plain piece (tokens joined by single spaces, as `format_trace` writes them) skips the token pass: each
# line is read field by field from its start (`_walk`), and a mask spelled as on the first line is read once.
_OPS = ("WR_GB", "WR_BIAS", "MAC_ABK", "RD_MAC", "SYNC", "EOC")  # codes 0..5
_OP_KIND = np.array([Kind.WR_INP, Kind.WR_BIAS, Kind.MAC, Kind.RD_OUT, -1, -1], dtype=np.int64)
_OP_FIELDS = np.array([3, 2, 3, 2, 0, 0])
_WR_GB, _WR_BIAS, _MAC_ABK, _RD_MAC, _SYNC, _EOC = range(6)
_CHUNK_BYTES = 1 << 19  # the file is read and parsed this much at a time: bounded memory, and a piece's token
# columns stay in a core's L2 cache (1 MiB pieces parse about a fifth slower)
_PAD = b"\n" * 16  # blank bytes around a piece: the 16 bytes before any token's end, and 8 after its start, exist


def fast_table(data, gbuf_entries: int, addresses: bool = True, one_mask: bool = False):
    """The `isa.instruction_table` of a well-formed trace (its bytes, or an open binary file read piece by piece),
    without the GPR addresses unless `addresses` (the engine does not read them), read with numpy; None for
    anything else (a bad line, a control byte or a non-ASCII one, a number written with a sign, ...):
    `_parse_lines` reads those and names the problem. With one_mask, False as soon as a line rules the command
    engine out (see `engine_table`). Memory: the table's narrow columns plus one piece."""
    columns, count, spellings, ended, done_bytes = {}, 0, set(), False, 0
    for piece in _pieces(data):
        lines = _chunk_lines(piece)
        if not lines:
            return lines if one_mask else None
        op, fields, spelled = lines
        spellings.update(spelled.tolist())  # masks on every line, after EOC too (as `aimsim.is_engine_trace`)
        if one_mask and len(spellings) > 1:
            return False
        done_bytes += len(piece)
        if not ended:
            eoc = np.flatnonzero(op == _EOC)
            ended, op, fields = len(eoc) > 0, op[:eoc[0]] if len(eoc) else op, fields[:eoc[0]] if len(eoc) else fields
            if (op == _SYNC).any():
                keep = op != _SYNC
                op, fields = op[keep], fields[keep]
            part = _table(op, fields, gbuf_entries, addresses)
            if part is None:
                return None
            columns = _append(columns, count, part, -(-(count + len(part["op"])) * _size(data) // done_bytes))
            count += len(part["op"])
    return {name: column[:count] for name, column in columns.items()} if ended and count else None


def _size(data) -> int:
    """Bytes in `data` (bytes, or a binary file; 0 if a file cannot tell: the table then grows by doubling)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        return len(data)
    try:
        return os.fstat(data.fileno()).st_size
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return 0


def _append(columns: dict, count: int, part: dict, expected: int) -> dict:
    """`part`'s rows written after the first `count` rows of `columns`, which grow (to `expected` rows, the
    reader's estimate for the whole file, at least) when full: one copy of the table, never a list of pieces."""
    n = len(part["op"])
    if not columns or count + n > len(columns["op"]):
        rows = max(count + n, expected + expected // 16, 2 * count)
        grown = {name: np.empty(rows, dtype=column.dtype) for name, column in part.items()}
        for name, column in columns.items():
            grown[name][:count] = column[:count]
        columns = grown
    for name, column in part.items():
        columns[name][count:count + n] = column
    return columns


def engine_table(path, gbuf_entries: int = 64) -> dict[str, np.ndarray] | bool | None:
    """The instruction table (no GPR addresses) of a trace file the command engine replays exactly, well-formed,
    with one channel mask spelled one way on every line (what `pimlab.aimsim.is_engine_trace` asks), read with
    numpy. False when a line rules the engine out (not `AiM <OPCODE> ...`, an opcode other than the six, a second
    mask: `is_engine_trace` is False too); None when the numpy reader cannot tell (an unusual or bad line)."""
    try:
        with open(path, "rb") as file:
            return fast_table(file, gbuf_entries, addresses=False, one_mask=True)
    except OSError:
        return None


def _pieces(data):
    """Pieces of about _CHUNK_BYTES of `data` (bytes or a binary file), each ending at a line end."""
    if not hasattr(data, "read"):
        yield from _byte_pieces(bytes(data))
        return
    rest = b""
    while block := data.read(_CHUNK_BYTES):
        rest += block
        pieces = list(_byte_pieces(rest))
        rest = pieces.pop() if pieces and not pieces[-1].endswith(b"\n") else b""  # read on after a part line
        yield from pieces
    if rest:
        yield rest


def _byte_pieces(data: bytes):
    """`_pieces` of bytes, each sliced once (no copy of what is left); the last is what remains, shorter than a
    piece or a line longer than one, whether or not it ends at a line end."""
    at, n = 0, len(data)
    while n - at >= _CHUNK_BYTES:
        cut = data.rfind(b"\n", at, at + _CHUNK_BYTES) + 1 or data.find(b"\n", at + _CHUNK_BYTES) + 1
        if not cut:
            break  # a line longer than a piece: read on
        yield data[at:cut]
        at = cut
    if at < n:
        yield data[at:]


def _chunk_lines(piece: bytes):
    """(opcode code, fields [line, 3] as uint32, mask spelling keys) of each non-blank line of a piece (the keys
    once when all are the same: np.unique would import numpy.ma, a tenth of start-up); False if a line is not
    `AiM <OPCODE> ...` with one of the six opcodes; None if a line's fields are not plain decimal / 0x hex numbers
    of that opcode's count, or the piece has a stray CR, a control byte or a non-ASCII one."""
    if b"\r" in piece:
        piece = piece.replace(b"\r\n", b"\n")
        if b"\r" in piece:
            return None
    buf = _PAD + piece + _PAD
    b = np.frombuffer(buf, np.uint8)
    newline = b == 10
    controls = np.count_nonzero(b < 32) - np.count_nonzero(newline)
    if b.max() > 126 or (controls and controls != np.count_nonzero(b == 9)):  # tabs, line ends and no other
        return None
    word = np.ndarray((len(b) - 7,), "<u8", buf, strides=(1,))  # word[i]: bytes i..i+7 as one little-endian integer
    plain = not controls and _plain(piece, b)
    if plain:
        got = _walk(b, word, len(piece))
        if got is not None:
            return got
    starts, ends, first = _plain_tokens(b, len(piece)) if plain else _tokens(b, newline, b"#" in piece)
    if not len(starts):  # blank lines and comments only
        return np.zeros(0, dtype=np.int8), np.zeros((0, 3), dtype=np.uint32), np.zeros(0, dtype=np.int64)
    count = np.diff(first, append=len(starts))  # tokens of each non-blank line
    if count.min() < 2 or (_key(word, starts[first], ends[first]) != _AIM).any():
        return False  # a line that is not `AiM <OPCODE> ...`
    at, end = starts[first + 1], ends[first + 1]
    key = _key(word, at, end)
    isr = np.flatnonzero((end - at > 4) & (key & _LOW[4] == _ISR))  # ISR_<OPCODE>
    key[isr] = _key(word, at[isr] + 4, end[isr])
    op = _opcode(key)
    if op is None:
        return False  # an opcode the engine does not schedule
    if (count != 2 + _OP_FIELDS[op]).any():
        return None
    got = _fields(word, starts, ends, first + 2, op)
    return None if got is None else (op.astype(np.int8), *got)


def _plain(piece: bytes, b: np.ndarray) -> bool:
    """Whether a piece (b: its bytes after the pad) is lines of tokens joined by single spaces: no blank line,
    comma or comment, no blank at a line's start or end, and a line end last."""
    pad = len(_PAD)
    blank = b[pad - 1:pad + len(piece)] <= 32  # from the pad's last line end
    return piece.endswith(b"\n") and b"," not in piece and b"#" not in piece and not (blank[1:] & blank[:-1]).any()


def _walk(b: np.ndarray, word: np.ndarray, n: int):
    """`_chunk_lines` of a `_plain` piece of n bytes (after the pad) without finding its tokens: each line is read
    field by field from its start, each field's length from the first blank in the 8 (or 16) bytes it starts
    with, every mask compared with the first line's bytes. None where that does not settle it (a token of more
    than 16 bytes, masks spelled differently, an ISR_ prefix, a bad line...): the token reader then decides."""
    pad = len(_PAD)
    line_end = np.flatnonzero(b[pad:pad + n] == 10)
    line_end += pad
    start = np.empty_like(line_end)
    start[0], start[1:] = pad, line_end[:-1] + 1
    key = word[start + 4]
    size = _first_blank(key)
    if (size < 1).any() or (word[start] & _LOW[4] != _AIM_SPACE).any():
        return None
    key &= _LOW[size]
    op = _opcode(key)
    if op is None:
        return None
    fields, at = np.zeros((3, len(op)), dtype=np.uint32).T, start + size + 5  # each line's next field
    mask = None
    for k, (has, is_mask) in enumerate(zip(_NUMBER_FIELD, _MASK_AT)):
        lines = _lines(has[op])
        got = _walk_numbers(word, at[lines])
        if got is None:
            return None
        fields[lines, k], at[lines] = got
        lines = _lines(is_mask[op])
        there = at[lines]
        if len(there):
            mask = mask or _mask_bytes(word, int(there[0]))
            if mask is None or not _same_mask(word, b, there, mask):
                return None
            fields[lines, k] = mask[3]
            at[lines] = there + mask[0] + 1
    if (at - 1 != line_end).any():
        return None  # a line with more or fewer fields than its opcode has
    return op.astype(np.int8), fields, np.array([mask[4]] if mask else [], dtype=np.int64)



def _lines(where: np.ndarray):
    """Indices of the True entries (a slice when all are: no copies)."""
    return slice(None) if where.all() else np.flatnonzero(where)


def _first_blank(w: np.ndarray) -> np.ndarray:
    """Index of the first byte below 0x21 (a blank or line end) in each word; -1 where none."""
    t = (w - _ONES * 0x21) & ~w & _ONES * 0x80  # the lowest flagged byte is exact (bytes are below 0x80)
    t &= ~t + 1  # its bit alone: 2**(8i + 7)
    t >>= 7  # 2**(8i): times _BYTE_INDEX puts byte 7 - i of it, i, in the top byte
    t *= _BYTE_INDEX
    return np.where(t == 0, -1, (t >> 56).astype(np.int64))


_BYTE_INDEX = 0x0001020304050607


def _walk_numbers(word: np.ndarray, at: np.ndarray):
    """(values, where the next field starts) of the numbers starting at `at`; None if one is longer than 16 bytes
    or not a plain number."""
    w = word[at]
    size = _first_blank(w)
    if len(size) and size.min() > 0 and not ((w & 0xFFFF | 0x2000) == _HEX).any():  # decimal, up to 7 digits
        w <<= (64 - 8 * size).astype(np.uint64)  # the last digit in the top byte
        value, ok = _value(w, size, np.zeros(len(w), dtype=bool))
        return (value, at + size + 1) if ok.all() else None
    size = _token_sizes(word, at, size)
    got = None if size is None else _numbers(word, at, at + size)
    return None if got is None else (got[0], at + size + 1)


def _token_sizes(word: np.ndarray, at: np.ndarray, size: np.ndarray) -> np.ndarray | None:
    """Lengths of the tokens starting at `at`, given `size`, the `_first_blank` of their first words (-1: longer
    than 8 bytes); None if one is longer than 16 bytes."""
    long = np.flatnonzero(size < 0)
    if len(long):
        size[long] = _first_blank(word[at[long] + 8]) + 8
        if (size[long] < 8).any():
            return None
    return size


def _mask_bytes(word: np.ndarray, at: int):
    """(length, first word, second word, value, spelling key) of the mask token starting at `at`; None if it is
    longer than 16 bytes or not a plain number."""
    size = _token_sizes(word, np.array([at]), _first_blank(word[at:at + 1]))
    got = None if size is None else _numbers(word, np.array([at]), np.array([at + size[0]]))
    if got is None:
        return None
    size = int(size[0])
    value, hexa, digits = (int(x[0]) for x in got)
    return (size, int(word[at] & _LOW[min(size, 8)]), int(word[at + 8] & _LOW[max(size - 8, 0)]), value,
            (value * 2 + hexa) * 64 + digits)


def _same_mask(word: np.ndarray, b: np.ndarray, at: np.ndarray, mask) -> bool:
    """Whether the tokens starting at `at` are all the mask `mask` (`_mask_bytes`), byte for byte."""
    size, low, high = mask[:3]
    if ((word[at] & _LOW[min(size, 8)]) != low).any() or (b[at + size] > 32).any():
        return False
    return size <= 8 or not ((word[at + 8] & _LOW[size - 8]) != high).any()


def _plain_tokens(b: np.ndarray, n: int):
    """`_tokens` of a `_plain` piece of n bytes (after the pad): every space or line end ends a token."""
    pad = len(_PAD)
    ends = np.flatnonzero(b[pad:pad + n] <= 32)
    ends += pad
    starts = np.empty_like(ends)
    starts[0], starts[1:] = pad, ends[:-1] + 1
    return starts, ends, np.flatnonzero(b[starts - 1] == 10)


_MASK_FIELD = np.array([2, 1, 1, 1, -1, -1])  # the field that holds the mask, by opcode code (-1 none)
_NUMBER_FIELD = [(_OP_FIELDS > k) & (_MASK_FIELD != k) for k in range(3)]  # by field: the opcodes with another number
_MASK_AT = [_MASK_FIELD == k for k in range(3)]  # by field: the opcodes whose mask it is


def _fields(word: np.ndarray, starts: np.ndarray, ends: np.ndarray, field0: np.ndarray, op: np.ndarray):
    """(fields [line, 3] as uint32, mask spelling keys) of lines whose first field is token field0 and whose
    opcodes are op; None if a field is not a plain number. The masks are read once when every line spells its
    mask with the same bytes."""
    fields = np.zeros((len(op), 3), dtype=np.uint32)
    for k, has in enumerate(_NUMBER_FIELD):
        at = np.flatnonzero(has[op])
        got = _numbers(word, starts[field0[at] + k], ends[field0[at] + k])
        if got is None:
            return None
        fields[at, k] = got[0]
    field = _MASK_FIELD[op]
    at = np.flatnonzero(field >= 0)
    field = field[at]
    lo, hi = starts[field0[at] + field], ends[field0[at] + field]
    same = _same_bytes(word, lo, hi)
    got = _numbers(word, lo[:1] if same else lo, hi[:1] if same else hi)
    if got is None:
        return None
    values, hexa, digits = got
    fields[at, field] = values
    masks = (values.astype(np.int64) * 2 + hexa) * 64 + digits  # same key: same spelling up to case
    return fields, masks[:1] if (masks == masks[:1]).all() else masks


def _same_bytes(word: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> bool:
    """Whether the tokens [lo, hi) are all the same bytes (of at most 16)."""
    if not len(lo) or (hi - lo != hi[0] - lo[0]).any() or hi[0] - lo[0] > 16:
        return False
    length = int(hi[0] - lo[0])
    for back, keep in ((8, _HIGH[min(length, 8)]), (16, _HIGH[max(length - 8, 0)])):
        if keep:
            w = word[hi - back]
            w &= keep
            if (w != w[0]).any():
                return False
    return True


def _tokens(b: np.ndarray, newline: np.ndarray, comments: bool):
    """(start, end) of each token (a run of bytes other than space, tab, comma and line end, outside comments),
    and the index of each non-blank line's first token."""
    token = (b > 32) & (b != 44)
    if comments:
        token &= ~_in_comment(b, newline)
    edge = np.flatnonzero(token[1:] != token[:-1]) + 1
    starts, ends = edge[::2], edge[1::2]
    if (newline[:-1] & ~token[1:] & ~newline[1:]).any():  # a line starts with a blank or a comment
        first = np.searchsorted(starts, np.flatnonzero(newline))  # the first token after each line end
        return starts, ends, first[np.diff(first, append=len(starts)) > 0]
    return starts, ends, np.flatnonzero(b[starts - 1] == 10)  # else each line's first token starts right after


def _in_comment(b: np.ndarray, newline: np.ndarray) -> np.ndarray:
    """True for each byte that a `#` before it on its line comments out."""
    at = np.arange(len(b), dtype=np.int32)
    return np.maximum.accumulate(np.where(b == 35, at, -1)) > np.maximum.accumulate(np.where(newline, at, -1))


def _word_key(word: str) -> int:
    return int.from_bytes(word.encode(), "little")


_LOW = np.array([(1 << 8 * k) - 1 for k in range(9)], dtype=np.uint64)  # the low k bytes of a word
_HIGH = ~_LOW[::-1]  # the high k bytes
_AIM, _ISR, _AIM_SPACE, _HEX = _word_key("AiM"), _word_key("ISR_"), _word_key("AiM "), _word_key("0x")
_OP_KEYS = np.array([_word_key(name) for name in _OPS], dtype=np.uint64)  # each under 8 bytes: no 8-byte token
_OP_ORDER = np.argsort(_OP_KEYS)
_ONES = 0x0101010101010101  # times a byte: that byte in every byte of a word
_FILL = (_ONES * 0x30 & ~_HIGH) | _ONES * 0x20  # below a number's top k bytes: "0" (and bit 5 of each digit byte)


def _key(word: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The first 8 bytes of each token as one integer, bytes past its end zeroed (all 8 bytes set when longer)."""
    return word[starts] & _LOW[np.minimum(ends - starts, 8)]


def _opcode(keys: np.ndarray):
    """Code of each opcode (an index into _OPS); None if one is not an opcode the engine schedules."""
    code = _OP_ORDER[np.minimum(np.searchsorted(_OP_KEYS[_OP_ORDER], keys), len(_OPS) - 1)]
    return code if (_OP_KEYS[code] == keys).all() else None


def _numbers(word: np.ndarray, lo: np.ndarray, hi: np.ndarray):
    """(value, hex or not, digits) of the numbers in bytes [lo, hi); None if one is not a plain decimal or 0x-hex
    integer of at most 16 digits below 2**32."""
    hexa = (hi - lo > 2) & ((word[lo] & 0xFFFF | 0x2000) == _HEX)
    digits = hi - lo - 2 * hexa
    if len(lo) and digits.max() > 16:
        return None
    value, ok = _value(word[hi - 8], np.minimum(digits, 8), hexa)
    long = np.flatnonzero(digits > 8)
    if len(long):  # the digits before the last 8, from the word that ends 8 bytes earlier
        high, high_ok = _value(word[hi[long] - 16], digits[long] - 8, hexa[long])
        value[long] += high * np.where(hexa[long], np.uint64(16**8), np.uint64(10**8))
        ok[long] &= high_ok
    if not ok.all() or (value >> 32).any():
        return None  # fields are kept as uint32; no real trace comes near (masks are 32-bit)
    return value, hexa, digits


def _value(w: np.ndarray, digits: np.ndarray, hexa: np.ndarray):
    """(value, valid) of words whose top `digits` bytes are the last digits of a decimal number, or of a hex number
    (either case) where `hexa`; the last digit is in the top byte."""
    w &= _HIGH[digits]
    w |= _FILL[digits]  # leading zeros, and hex letters in lower case
    if not hexa.any():  # decimal numbers only (most fields): fewer steps
        ok = _in(w, 0x30, 0x39) == _ONES * 0x80
        d = w & _ONES * 0x0F
        d = (d * 10 + (d >> 8)) & 0x00FF00FF00FF00FF
        d = (d * 100 + (d >> 16)) & 0x0000FFFF0000FFFF
        return (d * 10000 + (d >> 32)) & 0xFFFFFFFF, ok
    letters = np.where(hexa, np.uint64(_ONES * 0x80), np.uint64(0))  # a-f only in hex numbers
    ok = (_in(w, 0x30, 0x39) | (_in(w, 0x61, 0x66) & letters)) == _ONES * 0x80
    d = (w & _ONES * 0x0F) + 9 * ((w >> 6) & _ONES)  # each byte's digit value
    base = np.where(hexa, np.uint64(16), np.uint64(10))
    d = (d * base + (d >> 8)) & 0x00FF00FF00FF00FF  # pairs of digits in 16-bit lanes
    d = (d * base**2 + (d >> 16)) & 0x0000FFFF0000FFFF  # fours in 32-bit lanes
    return (d * base**4 + (d >> 32)) & 0xFFFFFFFF, ok


def _in(w: np.ndarray, low: int, high: int) -> np.ndarray:
    """Bit 7 of each byte of w set where that byte is in [low, high] (bytes are below 0x80: no carry between them)."""
    return ((w | _ONES * 0x80) - _ONES * low) & ~(w + _ONES * (0x7F - high)) & _ONES * 0x80


def _table(op, fields, gbuf_entries: int, addresses: bool) -> dict[str, np.ndarray] | None:
    """Per-line opcodes and fields as instruction-table columns, each WR_GB / MAC_ABK split at the GBuf size;
    None when a value is out of range (`_parse_lines` raises)."""
    big = (op == _WR_GB) | (op == _MAC_ABK)
    size = np.where(big, fields[:, 0], 1).astype(np.int64)  # fields are uint32
    mask = np.where(op == _WR_GB, fields[:, 2], fields[:, 1])
    if (size < 1).any() or (size > 1 << 20).any() or (mask < 1).any():
        return None
    if (fields[op == _MAC_ABK, 2] >= 1 << 31).any():
        return None  # a row past int32
    parts = np.where(big, -(-size // gbuf_entries), 1)
    start = 0
    if (parts > 1).any():  # split long WR_GB / MAC_ABK lines
        line = np.repeat(np.arange(len(op)), parts)
        start = (np.arange(int(parts.sum())) - np.repeat(np.cumsum(parts) - parts, parts)) * gbuf_entries
        op, size, mask, fields = op[line], size[line], mask[line], fields[line]
    is_mac, is_wr = op == _MAC_ABK, op == _WR_GB
    gpr = np.where(is_wr, fields[:, 1].astype(np.int64) + start,
                   np.where(is_mac, -1, fields[:, 0].astype(np.int64))) if addresses else None
    # narrow columns (values checked above; expand_table widens): a long trace's table stays small
    same = len(mask) and (mask == mask[0]).all()  # one mask: reversed once
    table = {"op": _OP_KIND[op].astype(np.int8),
             "ch_mask": np.full(len(mask), _reverse_bits(mask[:1])[0]) if same else _reverse_bits(mask),
             "op_size": np.minimum(size - start, gbuf_entries).astype(np.int32), "gpr_addr": gpr,
             "gbuf_idx": np.where(is_wr | is_mac, 0, -1).astype(np.int8),
             "row": np.where(is_mac, fields[:, 2], -1).astype(np.int32),
             "col": np.where(is_mac, start % 64, -1).astype(np.int8), "out_idx": np.where(is_wr, -1, 0).astype(np.int8)}
    return table if addresses else {name: column for name, column in table.items() if name != "gpr_addr"}


def _reverse_bits(mask: np.ndarray) -> np.ndarray:
    """File masks (bit 31 - c = channel c) as pimlab's (bit c), as uint32."""
    x = mask.astype(np.uint32)
    for shift, bits in ((1, 0x55555555), (2, 0x33333333), (4, 0x0F0F0F0F), (8, 0x00FF00FF), (16, 0x0000FFFF)):
        s, m = np.uint32(shift), np.uint32(bits)
        x = ((x >> s) & m) | ((x & m) << s)
    return x


def format_trace(instructions) -> str:
    """Instructions in the AiM ISR trace format, ending with EOC (GBuf index, column and output index dropped)."""
    lines = ["# written by pimlab (GBuf index, column and output index are not part of the format)"]
    for i in instructions:
        mask = f"{file_mask(i.ch_mask):#x}"
        if i.op == Kind.WR_INP:
            lines.append(f"AiM WR_GB {i.op_size} {i.gpr_addr} {mask}")
        elif i.op == Kind.MAC:
            lines.append(f"AiM MAC_ABK {i.op_size} {mask} {i.row}")
        else:
            name = "WR_BIAS" if i.op == Kind.WR_BIAS else "RD_MAC"
            lines += [f"AiM {name} {i.gpr_addr + k} {mask}" for k in range(i.op_size)]
    lines.append("AiM EOC")
    return "\n".join(lines) + "\n"


def write_trace(instructions, path) -> None:
    """Write instructions as an AiM ISR trace file."""
    Path(path).write_text(format_trace(instructions))


@dataclass(frozen=True)
class SimulationResult:
    """A trace file scheduled channel by channel; the run lasts as long as its slowest channel."""

    policy: str
    preset: str
    channels: np.ndarray  # channels that receive commands
    channel_cycles: np.ndarray  # total cycles of each of them
    trace: Trace | None  # the slowest channel's trace (None when replayed without timelines)
    mac_cycles: int  # over all channels
    channel_traces: tuple = ()  # the trace of each channel (one object shared by channels with identical streams)
    channel_summaries: tuple = ()  # the `Summary` of each channel

    @property
    def total_cycles(self) -> int:
        return int(self.channel_cycles.max())

    @property
    def mac_utilization(self) -> float:
        """MAC cycles over channels x total cycles."""
        return self.mac_cycles / (len(self.channels) * self.total_cycles)

    def breakdown(self) -> dict[str, int]:
        """The slowest channel's breakdown."""
        return self.channel_summaries[int(np.argmax(self.channel_cycles))].breakdown()

    def summary(self) -> dict:
        return {"policy": self.policy, "preset": self.preset, "total_cycles": self.total_cycles,
                "mac_utilization": self.mac_utilization, "channels": len(self.channels),
                "breakdown": self.breakdown(), "breakdown_keys": list(BREAKDOWN_KEYS)}


def _source_table(source, gbuf_entries: int) -> dict[str, np.ndarray]:
    if isinstance(source, dict):
        return source  # an instruction table (`read_table`, `engine_table`) split at this module's GBuf size
    return instruction_table(source) if isinstance(source, list) else read_table(source, gbuf_entries)


def replay_trace(source, policy: str = "static", preset: str = "aimsim", obuf_entries: int | None = None,
                 module: Module | None = None, timing: EngineTiming | None = None,
                 timelines: bool = True) -> SimulationResult:
    """Schedule a trace (a path, a list of instructions or their table) on every channel it names.

    Channels with identical streams are scheduled once. timelines=False keeps only each channel's totals
    (`pimlab.schedule.summarize`: bounded time and memory on long periodic traces); the result has no `trace`.
    Like-for-like with aim_simulator when all masks are equal; with differing masks this per-channel view leaves
    out RD_MAC blocking other channels and head-of-line blocking in the request buffers, so it can be optimistic
    there: `pimlab.aimsim.replay` runs whole programs (every opcode, host requests, any masks) with those rules.
    """
    preset_module, preset_timing = engine_preset(preset)
    module = module or preset_module
    timing = timing or preset_timing
    table = _source_table(source, module.gbuf_entries)
    entries = obuf_entries if obuf_entries is not None else module.obuf_entries
    masks = table["ch_mask"]
    union = int(np.bitwise_or.reduce(masks)) if len(masks) else 0
    channels = [c for c in range(union.bit_length()) if union >> c & 1]
    if not channels:
        raise ValueError("source must hold at least one instruction, got none")
    if channels[-1] >= module.channels:
        raise ValueError(f"channel masks must name channels below {module.channels}, got channel {channels[-1]}")
    done, per_channel = {}, []
    distinct = masks[:1] if (masks == masks[:1]).all() else np.sort(masks)  # each mask value the table uses
    distinct = distinct[np.concatenate(([True], distinct[1:] != distinct[:-1]))]
    for c in channels:  # channels in the same masks receive the same instructions: schedule their stream once
        key = ((distinct >> np.uint64(c)) & np.uint64(1)).astype(bool).tobytes()
        if key not in done:
            done[key] = (schedule(expand_table(table, c), policy, timing, module.gbuf_entries, entries) if timelines
                         else summarize_table(table, c, policy, timing, module.gbuf_entries, entries))
        per_channel.append(done[key])
    summaries = [x.summary() for x in per_channel] if timelines else per_channel
    cycles = np.array([x.total_cycles for x in summaries])
    slowest = per_channel[int(np.argmax(cycles))] if timelines else None
    return SimulationResult(policy, timing.name, np.array(channels), cycles, slowest,
                            sum(x.mac_cycles for x in summaries), tuple(per_channel) if timelines else (),
                            tuple(summaries))
