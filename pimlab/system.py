"""End-to-end decode: one step of a batch on a PIM-only (CENT) or xPU+PIM (NeuPIMs) system, TP x PP.

A step is every request in flight emitting one token. The model is laid out in `pp` pipeline stages of
`tp` units each; a unit is a group of PIM channels (whole modules, or an equal share of one module's
channels, as CENT puts several decoder blocks on one device). Per layer and request a unit runs:

- FC (Q, K, V, O, FFN): GEMV on PIM through the command engine (CENT), or on the NPU as a roofline of
  its FLOPs and the bandwidth it reads weights with (NeuPIMs);
- attention (QK^T, SV) on PIM: per-channel tiles costed by the command engine, placed head-first (HFP:
  CENT pins (request, head) pairs to channels, NeuPIMs one request per channel, balanced greedily) or
  token-centric (TCP: every head's tokens over all channels of the unit);
- softmax, RMSNorm and rotary on the near-memory units (CENT's accelerator formulas) or the NPU;
- the hand-off to the next stage and TP's all-reduce over CXL (CENT's link formulas).

Micro-batches flow through the stages; a step lasts the longer of the busiest stage's work and the
longest round trip of one micro-batch, so pipeline bubbles appear when there are fewer micro-batches
than stages or their contexts differ. The techniques switch TCP (placement), DCS (the engine's
scheduling policy for attention and GEMV, with GQA row reuse) and DPA (lazy-chunk batch admission).

Sources: [C] Yufeng98/CENT `cent_simulation/` (run_sim.py, cent_power_calculator.py, cxl_latency.py,
aim_sim.py) at commit 863bd7d; [N] casys-kaist/NeuPIMs; [Q] the PIMphony paper.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from pimlab import engine_table, isa, schedule
from pimlab.dpa import reserved_bytes as dpa_reserved_bytes
from pimlab.engine.timing import aim_engine
from pimlab.hardware import AIM_TIMING, AIMSIM_TIMING, CENT, NEUPIMS, Module, System
from pimlab.models import LLM
from pimlab.step import StepResult
from pimlab.validate import check_choice, check_int

# Why the system figures' scorecard rows miss the paper where they do (printed under the scorecard as notes).
GAP_HOST_SERIAL = ("CENT's softmax score staging runs as serial host bursts (as CENT's artifact and simulator run it: "
                   "host_serial=True) in all four configurations; it grows with the context and caps what TCP, DCS "
                   "and DPA can win on CENT (the apps switch it off)")
GAP_NEUPIMS_BASELINE = ("the NeuPIMs baseline maps one request per PIM channel, as NeuPIMs does; with the few "
                        "requests static slots admit, most channels idle, so PIMphony gains more over it than the "
                        "paper reports")

TECHNIQUES = ("baseline", "tcp", "tcp+dcs", "tcp+dcs+dpa")
SYSTEM_KINDS = ("cent", "neupims")
ENGINES = ("aim", "aimsim")  # pimlab's AiM (refresh on) or aim_simulator's accounting (no refresh), as CENT runs

# --- CENT's near-memory accelerator, in cycles of its 2 GHz clock [C cent_power_calculator.py, run_sim.py] ---
SB_RD_CYCLE = 1.0  # shared-buffer read
SB_WR_CYCLE = 1.0  # shared-buffer write
EXP_LANE_CYCLE = 11.0  # one exponent lane
RV_RMSNORM_CYCLE = 26.0  # RISC-V part of RMSNorm
RV_COUNT = 8  # RISC-V cores
RV_SFT_CYCLE_PIPELINE = 16.0 * SB_WR_CYCLE + 2.0 / RV_COUNT + 1.0 * SB_RD_CYCLE  # per head of softmax
ROPE_PASS_CYCLES = 43 + 49 + 2 + 49 + 46  # COPY_BK_GB + MAC_BK_GB + permute + MAC_BK_GB + COPY_GB_BK [C run_sim.py]
# --- CENT's CXL link [C cxl_latency.py]: multicast halves the lane bandwidth and doubles the PCIe latency ---
CXL_LANES = 144  # [C run_sim.py] its --PCIE_lanes default, shared by the devices
CXL_GBps_PER_LANE = 8 * 0.5
CXL_ONE_HOP_NS = 25 * 4 + (5 + 20 + 5) * 2 + 20  # 4 CXL ports, 2 PCIe hops, 1 switch: 180 ns
CXL_FLIT_BYTES, CXL_MSG_BYTES, CXL_MSGS_PER_FLIT = 256, 64, 3
CENT_INOUT_S = 0.15e-3  # [C] utils.InOut_latency: token latency - 32 x block - embedding in simulation_results.csv
# --- host bursts of CENT's traces [C, counted in the Llama2-7B 4096-token block trace of CENT's artifact] ---
# Softmax stages every 32 B of scores as 4 host writes and 2 host reads (131,072 W + 65,536 R for 4 blocks x 32
# heads x 4096 tokens); norm, activation, rotary and the KV write move 30 hidden vectors per block (30,720 bursts).
# aim_simulator's trace front end takes one host request per cycle for the whole device (196,608 requests in
# 198,416 cycles), so a device's bursts are serial: `host_serial=True` charges them so, False on each channel's bus.
SCORE_BURSTS_PER_32B = 6
VECTOR_BURSTS_PER_BLOCK = 30
# --- NeuPIMs [N]: the NPU reads weights at the module's external bandwidth; two sub-batches overlap NPU and PIM ---
NEUPIMS_SUB_BATCHES = 2


@dataclass(frozen=True)
class Techniques:
    """Which of PIMphony's techniques are on; parsed from "baseline", "tcp", "tcp+dcs", "tcp+dcs+dpa"."""

    tcp: bool = False
    dcs: bool = False
    dpa: bool = False

    @classmethod
    def parse(cls, text: str) -> Techniques:
        check_choice("techniques", text, TECHNIQUES)
        parts = set(text.split("+"))
        return cls("tcp" in parts, "dcs" in parts, "dpa" in parts)

    @property
    def name(self) -> str:
        on = [n for n in ("tcp", "dcs", "dpa") if getattr(self, n)]
        return "+".join(on) or "baseline"

    @property
    def policy(self) -> str:
        return "dcs" if self.dcs else "static"


@dataclass(frozen=True)
class Layout:
    """A model laid out over a system in `pp` stages of `tp` units; a unit owns `unit_channels` channels.

    A unit spans whole modules, or an equal group of one module's channels (CENT: 4 blocks of Llama2-7B per
    32-channel device, 8 channels each; 3 blocks of Llama2-70B per device, 10 channels each, 2 left idle).
    """

    system: System
    model: LLM
    tp: int = 1
    pp: int = 1

    def __post_init__(self):
        if not isinstance(self.system, System):
            raise ValueError(f"system must be a pimlab System, got {type(self.system).__name__}")
        if not isinstance(self.model, LLM):
            raise ValueError(f"model must be a pimlab LLM, got {type(self.model).__name__}")
        check_int("tp", self.tp, 1, self.model.kv_heads)
        check_int("pp", self.pp, 1, self.model.layers)
        units, modules, ch = self.tp * self.pp, self.system.modules, self.system.module.channels
        if units <= modules:
            if modules % units:
                raise ValueError(f"tp x pp must divide the {modules} modules or share modules equally, got "
                                 f"tp={self.tp}, pp={self.pp} ({units} units)")
        elif ch // self.units_per_module < 1 or self.units_per_module * modules < units:
            raise ValueError(f"tp x pp must fit the {modules} modules of {ch} channels, got {units} units")
        if self.model.kv_heads % self.tp:
            raise ValueError(f"tp must divide {self.model.name}'s {self.model.kv_heads} KV heads, got {self.tp}")

    def __repr__(self) -> str:
        return (f"Layout({self.model.name} on {self.system.modules} {self.system.name} modules: tp {self.tp} x "
                f"pp {self.pp}, {self.unit_channels} channels per unit)")

    @cached_property
    def units(self) -> int:
        return self.tp * self.pp

    @cached_property
    def units_per_module(self) -> int:
        """Units sharing one module (1 when a unit spans one or more whole modules)."""
        return max(1, -(-self.units // self.system.modules))

    @cached_property
    def unit_channels(self) -> int:
        m = self.system.module.channels
        if self.units <= self.system.modules:
            return m * (self.system.modules // self.units)
        return m // self.units_per_module

    @cached_property
    def unit_modules(self) -> float:
        """Modules one unit spans (a fraction when several units share a module)."""
        return self.unit_channels / self.system.module.channels

    @property
    def stage_layers(self) -> np.ndarray:
        """Layers of each stage (the first stages take the extra layers)."""
        return _stage_layers(self.model.layers, self.pp)

    @cached_property
    def unit_capacity_bytes(self) -> int:
        return self.unit_channels * self.system.module.channel_capacity_bytes

    def stage_weight_bytes(self) -> np.ndarray:
        """Weights one unit of each stage holds: its layers' share, plus the LM head and embedding on the last."""
        m = self.model
        w = self.stage_layers * m.layer_params * m.dtype_bytes / self.tp
        w[-1] += 2 * m.vocab * m.hidden * m.dtype_bytes / self.tp
        return w


@lru_cache(maxsize=1024)
def _stage_layers(layers: int, pp: int) -> np.ndarray:
    per_stage = np.full(pp, layers // pp)
    per_stage[:layers % pp] += 1  # np.array_split's rule: the first stages take the extra layers
    per_stage.flags.writeable = False
    return per_stage


# --- per-tile costs from the command engine (cached per tile shape) ---------------------------------
_GRID_TOKENS = tuple(16 * 2**k for k in range(9))  # 16 .. 4096 tokens on one channel, exact engine runs
_COUNTS = engine_table.COUNTS
_GRID_X = np.r_[0.0, _GRID_TOKENS]  # the interpolation's x: 0 tokens cost nothing


def _engine_timing(engine: str):
    check_choice("engine", engine, ENGINES)
    return aim_engine(AIM_TIMING) if engine == "aim" else aim_engine(AIMSIM_TIMING, "aimsim", aimsim_accounting=True)


def _run(program, module: Module, policy: str, engine: str, obuf: int | None = None) -> np.ndarray:
    obuf = (1 if policy == "static" else 2) if obuf is None else obuf
    trace = schedule.schedule(isa.expand(program), policy=policy, timing=_engine_timing(engine),
                              gbuf_entries=module.gbuf_entries, obuf_entries=obuf)
    kinds = isa.Kind
    return np.array([trace.total_cycles, trace.mac_cycles, trace.count(kinds.ACT), trace.count(kinds.WR_INP),
                     trace.count(kinds.RD_OUT)], dtype=np.float64)


CENT_LATCHES = 32  # [C] run_sim.py --reuse_size 32: output latches CENT's GEMV fills before it reads them out


def cent_attention_program(program: list, op: str, module: Module) -> list:
    """pimlab's attention program as CENT's traces run it: every MAC run starts from an accumulator seeded by
    WR_BIAS, and QK^T writes the whole GBuf again (the query, padded to 64 entries) before each DRAM row."""
    out, row = [], None
    for instruction in program:
        if instruction.op == isa.Kind.MAC:
            if op == "qk" and instruction.row != row:
                out.append(isa.Instruction(isa.Kind.WR_INP, instruction.ch_mask, module.gbuf_entries, gpr_addr=0,
                                           gbuf_idx=0))
                row = instruction.row
            out.append(isa.Instruction(isa.Kind.WR_BIAS, instruction.ch_mask, 1, gpr_addr=0,
                                       out_idx=instruction.out_idx))
        out.append(instruction)
    return out


def cent_gemv_program(d_in: int, tiles: int, module: Module, latches: int = CENT_LATCHES) -> list:
    """GEMV as CENT's FC traces run it: x in chunks of one GBuf load (one WR_GB each); per chunk, groups of
    `latches` output tiles: a WR_BIAS, one MAC run (one DRAM row: output tile j, chunk c at row j x chunks + c)
    into its own latch, then one RD_MAC per latch."""
    chunk = min(module.gbuf_entries, module.columns_per_row)
    n_in = -(-d_in // module.mac_lanes)
    chunks = -(-n_in // chunk)
    program, gpr = [], 0
    for c in range(chunks):
        size = min(chunk, n_in - c * chunk)
        program.append(isa.Instruction(isa.Kind.WR_INP, 1, size, gpr_addr=gpr, gbuf_idx=0))
        gpr += size
        for first in range(0, tiles, latches):
            group = range(first, min(tiles, first + latches))
            program.append(isa.Instruction(isa.Kind.WR_BIAS, 1, len(group), gpr_addr=gpr, out_idx=0))
            program += [isa.Instruction(isa.Kind.MAC, 1, size, gbuf_idx=0, row=j * chunks + c, col=0, out_idx=k)
                        for k, j in enumerate(group)]
            program.append(isa.Instruction(isa.Kind.RD_OUT, 1, len(group), gpr_addr=gpr, out_idx=0))
            gpr += 2 * len(group)
    return program


@lru_cache(maxsize=2048)
def _attention_point(op: str, tokens: int, head_dim: int, group: int, row_reuse: bool, policy: str, module: Module,
                     engine: str, bias: bool) -> np.ndarray:
    """Engine results (counts) of one KV head's `op` over `tokens` tokens on one channel (read-only)."""
    def run():
        obuf = 1 if policy == "static" else 2
        program = isa.compile_attention(op, tokens, head_dim, group=group, row_reuse=row_reuse, module=module,
                                        obuf_entries=obuf)
        return _run(cent_attention_program(program, op, module) if bias else program, module, policy, engine)

    return engine_table.answer(("attention", op, tokens, head_dim, group, row_reuse, policy, module, engine, bias),
                               run)


def _grid_points(t: np.ndarray) -> np.ndarray:
    """Indices of the `_GRID_TOKENS` points the interpolation of `t` reads: the ends of each value's interval
    (one point for a value on the grid), the last two beyond the grid."""
    grid = _GRID_X[1:]
    t = t[t > 0]
    upper = np.searchsorted(grid, t, side="left")  # first point >= t; grid.size beyond the grid
    need = np.zeros(grid.size + 1, dtype=bool)
    need[upper] = True
    between = (upper >= 1) & (upper < grid.size)
    between[between] = grid[upper[between]] != t[between]
    need[upper[between] - 1] = True
    if need[-1]:
        need[-3:-1] = True
    return np.flatnonzero(need[:-1])


def _grid_span(t: np.ndarray) -> slice:
    """Rows of `_tile_table` from the lowest to the highest point an interpolation of `t` can read."""
    grid = _GRID_X[1:]
    low, high = np.searchsorted(grid, (t.min(), t.max()), side="left")
    low, high = max(0, low - 1), min(high, grid.size - 1)
    return slice(1 + min(low, grid.size - 2 if t.max() > grid[-1] else low), 2 + high)


@lru_cache(maxsize=256)
def _tile_table(op: str, head_dim: int, group: int, row_reuse: bool, policy: str, module: Module, engine: str,
                bias: bool) -> np.ndarray:
    """(1 + len(_GRID_TOKENS), counts): 0 tokens cost nothing, then the engine's results at each grid point,
    filled in (from `_attention_point`) when an interpolation first reads it; NaN until then."""
    table = np.full((1 + len(_GRID_TOKENS), len(_COUNTS)), np.nan)
    table[0] = 0.0
    return table


def attention_counts(op: str, tokens, head_dim: int, group: int, row_reuse: bool, policy: str,
                     module: Module, engine: str = "aim", bias: bool = False) -> np.ndarray:
    """Engine cycles and command counts of `op` over `tokens` tokens of one KV head on one channel.

    Exact at 16, 32, ..., 4096 tokens; between them linear, and beyond 4096 linear in the last interval
    (a head's work repeats row after row, so its cost grows linearly once refresh is averaged in).
    Returns an array (..., 5): cycles, MAC cycles, ACTs, WR-INPs, RD-OUTs.
    """
    t = np.asarray(tokens, dtype=np.float64)
    args = (op, head_dim, group, row_reuse, policy, module, engine, bias)
    return _interpolated(args, t.tobytes(), t.shape).copy()


@lru_cache(maxsize=16)
def _interpolated(args: tuple, tokens: bytes, shape: tuple) -> np.ndarray:
    """`attention_counts` of the tokens (float64 bytes) for one tile shape `args`, read-only: a search times
    the same batch's heads on every layout."""
    t = np.frombuffer(tokens).reshape(shape)
    table = _tile_table(*args)
    if t.size and np.isnan(table[_grid_span(t)]).any():  # run the points this interpolation reads for the first time
        for k in _grid_points(t.ravel()):
            if np.isnan(table[k + 1, 0]):
                table[k + 1] = _attention_point(args[0], _GRID_TOKENS[k], *args[1:])
    grid = _GRID_X
    slope = (table[-1] - table[-2]) / (grid[-1] - grid[-2])
    out = np.stack([np.interp(t, grid, table[:, k]) for k in range(len(_COUNTS))], -1)
    beyond = t > grid[-1]
    if np.any(beyond):
        out[beyond] = table[-1] + (t[beyond, None] - grid[-1]) * slope
    out.flags.writeable = False
    return out


@lru_cache(maxsize=1024)
def _gemv_exact(d_in: int, tiles: int, policy: str, module: Module, engine: str, cent: bool) -> np.ndarray:
    """Engine results (counts) of one GEMV of `tiles` output tiles on one channel (read-only)."""
    def run():
        if cent:
            return _run(cent_gemv_program(d_in, tiles, module), module, policy, engine, obuf=CENT_LATCHES)
        obuf = 1 if policy == "static" else 2
        return _run(isa.compile_gemv(d_in, tiles * module.banks, module=module, obuf_entries=obuf), module, policy,
                    engine)

    return engine_table.answer(("gemv", d_in, tiles, policy, module, engine, cent), run)


def gemv_counts(d_in: int, d_out: int, policy: str, module: Module, engine: str = "aim",
                cent: bool = False) -> np.ndarray:
    """Engine cycles and command counts of one GEMV (d_out x d_in) on one channel.

    Exact up to 16 output tiles; beyond, linear in output tiles from 8 to 16 (every output tile repeats the
    same commands, and 8 tiles already span several refresh intervals). `cent=True` runs CENT's own GEMV
    sequence (`cent_gemv_program`) instead of pimlab's compiler.
    """
    tiles = -(-d_out // module.banks)
    if cent:  # CENT's groups of 32 latches repeat every 32 output tiles: exact up to 64, then a line
        if tiles <= 64:
            return _gemv_exact(d_in, tiles, policy, module, engine, True)
        a, b = _gemv_exact(d_in, 32, policy, module, engine, True), _gemv_exact(d_in, 64, policy, module, engine, True)
        return b + (tiles - 64) * (b - a) / 32
    if tiles <= 16:
        return _gemv_exact(d_in, tiles, policy, module, engine, False)
    a, b = _gemv_exact(d_in, 8, policy, module, engine, False), _gemv_exact(d_in, 16, policy, module, engine, False)
    return b + (tiles - 16) * (b - a) / 8


# --- CENT's analytic parts ------------------------------------------------------------------------------
def cent_accelerator_cycles(model: LLM, tokens: float, heads: float, channels: int) -> dict[str, float]:
    """Cycles of CENT's near-memory accelerator for one block and request [C run_sim.calculate_acc_latency]."""
    vec = channels * 2.0 * SB_RD_CYCLE + 1.0 + SB_WR_CYCLE
    exp = channels * SB_RD_CYCLE + EXP_LANE_CYCLE + SB_WR_CYCLE
    rms = 2.0 * (model.hidden / 16.0 / 16.0 / channels * vec + SB_RD_CYCLE + SB_WR_CYCLE + 1.0 + RV_RMSNORM_CYCLE)
    softmax = tokens * heads / 16.0 / channels * (exp + vec) + heads * SB_RD_CYCLE + heads * RV_SFT_CYCLE_PIPELINE
    rope = (1.0 + 1.0 / model.group_size) * model.hidden / (channels * 16.0) * ROPE_PASS_CYCLES
    return {"rmsnorm": rms, "softmax": softmax, "rotary": rope}


@lru_cache(maxsize=1024)
def cxl_vector_s(elements: int, modules: int) -> float:
    """One vector of BF16 `elements` over one CXL hop [C cxl_latency.vector_latency], seconds."""
    lanes = max(1, CXL_LANES // modules)
    flits = math.ceil(elements * 2 / CXL_MSG_BYTES / CXL_MSGS_PER_FLIT)
    return (CXL_ONE_HOP_NS + flits * CXL_FLIT_BYTES / (lanes * CXL_GBps_PER_LANE) * 1e9 / 2**30) * 1e-9


@lru_cache(maxsize=1024)
def cxl_allreduce_s(model: LLM, tp: int, modules: int) -> float:
    """TP's broadcasts and gathers of one Llama block over CXL [C cxl_latency.llama_latency], seconds."""
    if tp == 1:
        return 0.0
    lanes = max(1, CXL_LANES // modules)
    bw = lanes * CXL_GBps_PER_LANE

    def msg(flits):
        return (CXL_ONE_HOP_NS + flits * CXL_FLIT_BYTES / bw * 1e9 / 2**30) * 1e-9

    def flits(n):
        return math.ceil(n * 2 / CXL_MSG_BYTES / CXL_MSGS_PER_FLIT)

    e, f = model.hidden, model.ffn
    return (5 * msg(flits(e)) + 5 * msg(flits(e / tp) * (tp - 1)) + msg(flits(f / tp) * (tp - 1)) + msg(flits(f)))


# --- the configuration of one step ----------------------------------------------------------------------
@dataclass(frozen=True)
class StepConfig:
    """What one step is asked for. `lengths` are the batch's context tokens (a tuple, one per request)."""

    kind: str  # "cent" or "neupims"
    layout: Layout
    lengths: tuple
    techniques: Techniques = field(default_factory=Techniques)
    engine: str = "aim"
    host_serial: bool = True  # CENT: a device's host bursts go one per cycle, as CENT's simulator runs them
    ignore_capacity: bool = False
    beyond_window: bool = False

    def __post_init__(self):
        check_choice("system", self.kind, SYSTEM_KINDS)
        check_choice("engine", self.engine, ENGINES)
        if not self.lengths:
            raise ValueError("batch must hold at least one request, got none")
        window = self.layout.model.context_window
        if set(map(type, self.lengths)) == {int} and min(self.lengths) >= 1 and (
                self.beyond_window or max(self.lengths) <= window):
            return  # the common case, checked at once; otherwise each length in turn says what is wrong
        for t in self.lengths:
            check_int("context_tokens", t, 1)
            if t > window and not self.beyond_window:
                raise ValueError(f"context must be at most {self.layout.model.name}'s window of {window} tokens, "
                                 f"got {t}; --beyond-window (beyond_window=True) allows it as a what-if")

    def __repr__(self) -> str:
        return (f"StepConfig({self.kind}, {self.layout!r}, {len(self.lengths)} requests, {self.techniques.name}, "
                f"engine {self.engine}{'' if self.host_serial else ', host bursts on the buses'}"
                f"{''.join(f'; what-if: {w}' for w in whatifs(self))})")


def whatifs(cfg: StepConfig) -> tuple:
    flags = []
    if cfg.ignore_capacity:
        flags.append("capacity not checked")
    if cfg.beyond_window:
        flags.append("context past the model's window allowed")
    return tuple(flags)


# --- capacity: the allocator adapter ---------------------------------------------------------------------
def kv_reservation_bytes(layout: Layout, lengths, dpa: bool, window: int | None = None) -> np.ndarray:
    """KV bytes each request reserves on one unit of the fullest stage, by `pimlab.dpa.reserved_bytes`: DPA's
    1 MB chunks per K or V stream (Fig. 19's rule), or a static slot of the window (of the request, if longer:
    the beyond-window what-if)."""
    return _kv_reservations([layout], lengths, dpa, window)[0]


def _kv_reservations(layouts: list, lengths, dpa: bool, window: int | None = None) -> list[np.ndarray]:
    """`kv_reservation_bytes` of each layout (of one model and module): the bytes of one K and one V stream are
    worked out once per unit channel count, then times the stream pairs of each layout's fullest stage."""
    if not layouts:
        return []
    m = layouts[0].model
    lengths = np.asarray(lengths, dtype=np.int64)
    tokens = lengths if dpa else np.maximum(m.context_window if window is None else window, lengths)
    pair, out = {}, []
    for layout in layouts:
        channels = layout.unit_channels
        if channels not in pair:
            pair[channels] = dpa_reserved_bytes(layout.system.module, tokens, channels, 2, m.head_dim, lazy=dpa)
        pairs = int(layout.stage_layers.max()) * (m.kv_heads // layout.tp)  # its K and V streams, by two
        out.append((pair[channels] * pairs).astype(np.float64))
    return out


def kv_capacity_bytes(layout: Layout) -> float:
    """KV room of the fullest unit: its channels' capacity minus the weights it holds."""
    return float(layout.unit_capacity_bytes - layout.stage_weight_bytes().max())


def admitted(layout: Layout, lengths, dpa: bool) -> int:
    """How many of the requests (in order) fit their KV reservations; raises when the weights do not fit."""
    n = _admitted_layouts([layout], lengths, dpa)[0]
    if isinstance(n, ValueError):
        raise n
    return n


def _admitted_layouts(layouts: list, lengths, dpa: bool) -> list:
    """`admitted` of each layout (of one model and module), or the ValueError it raises."""
    rooms = [kv_capacity_bytes(layout) for layout in layouts]
    try:
        needs = iter(_kv_reservations([lay for lay, room in zip(layouts, rooms) if room > 0], lengths, dpa))
    except ValueError as error:  # the requests are refused (on every layout the weights fit)
        needs = error
    out = []
    for layout, room in zip(layouts, rooms):
        if room <= 0:
            out.append(ValueError(f"model must fit the system: {layout.model.name}'s weights need "
                                  f"{layout.stage_weight_bytes().max() / 2**30:.1f} GiB on a unit of "
                                  f"{layout.unit_capacity_bytes / 2**30:.1f} GiB (tp={layout.tp}, pp={layout.pp})"))
        elif isinstance(needs, ValueError):
            out.append(needs)
        else:
            out.append(int(np.searchsorted(np.cumsum(next(needs)), room, side="right")))
    return out


# --- one step ---------------------------------------------------------------------------------------------
def _fc_matrices(m: LLM) -> list[tuple[int, int]]:
    qd, kvd = m.heads * m.head_dim, m.kv_heads * m.head_dim
    return [(m.hidden, qd), (m.hidden, kvd), (m.hidden, kvd), (qd, m.hidden), (m.hidden, m.ffn), (m.hidden, m.ffn),
            (m.ffn, m.hidden)]


def _pim_fc(cfg: StepConfig) -> np.ndarray:
    """Counts of one request's FC of one layer on one channel of a unit (d_out split over tp x channels)."""
    lay = cfg.layout
    return _fc_counts(lay.model, lay.tp * lay.unit_channels, cfg.techniques.policy, lay.system.module, cfg.engine)


@lru_cache(maxsize=1024)
def _fc_counts(model: LLM, share: int, policy: str, module: Module, engine: str) -> np.ndarray:
    counts = sum(gemv_counts(d_in, -(-d_out // share), policy, module, engine, cent=True)
                 for d_in, d_out in _fc_matrices(model))
    counts.flags.writeable = False
    return counts


def _micro_sizes_of(sizes: list, n_micros: list) -> np.ndarray:
    """Requests in each micro-batch of batches of `sizes` requests end to end, request i of a batch riding in its
    micro-batch i % n_micro."""
    each = np.repeat(n_micros, n_micros)
    j = np.arange(each.size) - np.repeat(np.cumsum(n_micros) - n_micros, n_micros)  # micro-batch within its batch
    return (np.repeat(sizes, n_micros) - j + each - 1) // each


def _micro_index(sizes: list, n_micros: list) -> np.ndarray:
    """The micro-batch of each request of batches of `sizes` end to end (request i of a batch rides in its
    micro-batch i % n_micro), the micro-batches numbered end to end too."""
    first = np.repeat(np.cumsum(n_micros) - n_micros, sizes)
    i = np.arange(sum(sizes)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return first + i % np.repeat(n_micros, sizes)


def _micro_sums_of(values: np.ndarray, index: np.ndarray, count: int) -> np.ndarray:
    """Per micro-batch sums of the batches' per-request (requests, columns) `values` end to end, `index` their
    `_micro_index`: each micro-batch's values added in request order (bincount adds in order, from 0)."""
    return np.stack([np.bincount(index, values[:, c], count) for c in range(values.shape[1])], -1)


def _pieces(values: np.ndarray, sizes: list) -> list:
    """`values` cut into consecutive pieces of `sizes` (along the first axis)."""
    ends = np.cumsum(sizes).tolist()
    return [values[end - size:end] for size, end in zip(sizes, ends)]


def busiest_channel(load: np.ndarray, channels: int) -> np.ndarray:
    """Greedy placement, the longest item first onto the least-loaded channel (the lowest-numbered on a tie):
    a mask of the items the busiest channel (the lowest-numbered of the busiest) holds."""
    if channels == 1:
        return np.ones(load.size, dtype=bool)
    order = np.argsort(-load, kind="stable")
    if load.size <= channels and load[order[0]] > 0:  # one item per channel: the longest (first of equals) is busiest
        return np.arange(load.size) == order[0]
    values = load[order].tolist()
    # the first `channels` positive items go to channels 0, 1, ... in turn (every other channel is still empty)
    first = min(channels, load.size, int(np.count_nonzero(load > 0)))
    heap = [(values[c], c) for c in range(first)] + [(0.0, c) for c in range(first, channels)]
    heapq.heapify(heap)  # (load, channel): a heap's first is numpy's argmin of the loads
    owner = list(range(first))
    replace_first = heapq.heapreplace
    for value in values[first:]:
        total, c = heap[0]
        owner.append(c)
        replace_first(heap, (total + value, c))
    bins = [0.0] * channels
    for total, c in heap:
        bins[c] = total
    mask = np.empty(load.size, dtype=bool)
    mask[order] = np.array(owner) == bins.index(max(bins))
    return mask


def busiest_channels(load: np.ndarray, channels: int, group: int = 1) -> np.ndarray:
    """`busiest_channel` of each row of `load` (micro-batch, items); rows of at most `channels` items, or one
    channel, at once. `group`: the items come in runs of `group` equal ones (a request's heads), which
    `_busiest_in_blocks` places a run at a time when `group` divides `channels`."""
    if channels == 1:
        return np.ones(load.shape, dtype=bool)
    if group > 1 and channels % group == 0:
        return _busiest_in_blocks(load, channels, group)
    rows, n = load.shape
    if n <= channels and np.all(load.max(1) > 0):  # the longest item (the first of equals) is busiest
        return np.arange(n) == load.argmax(1)[:, None]
    level = np.zeros(rows, dtype=bool)
    if n % channels == 0:  # level rows: blocks of `channels` equal items (GQA's heads of a request), longest first
        order = np.argsort(-load, axis=1, kind="stable")
        blocks = np.take_along_axis(load, order, 1).reshape(rows, n // channels, channels)
        sums = np.cumsum(blocks[:, :, 0], axis=1)  # every channel's load after each block, as the heap adds it
        level = (blocks == blocks[:, :, :1]).all((1, 2)) & (sums[:, 0] > 0) & (sums[:, 1:] > sums[:, :-1]).all(1)
    # a level row's items go to channels 0, 1, ... in turn (all loads equal, each item raises its channel's), so the
    # loads stay equal (the same adds) and channel 0, the first of the busiest, holds every `channels`-th item
    mask = np.zeros(load.shape, dtype=bool)
    if level.any():
        np.put_along_axis(mask, order, np.arange(n) % channels == 0, 1)
    for r in np.flatnonzero(~level):
        mask[r] = busiest_channel(load[r], channels)
    return mask


def _busiest_in_blocks(load: np.ndarray, channels: int, group: int) -> np.ndarray:
    """`busiest_channels` of rows whose items come in runs of `group` equal ones, `group` dividing `channels`.

    The greedy placement keeps every block of `group` channels (0 to group - 1, ...) level: a run goes to the
    least-loaded block (lowest-numbered on a tie), whose channels all hold the least load, one item per channel in
    channel order; a run of zeros adds nothing, so all of it lands on that block's first channel. So runs are placed
    as single items on blocks, and the busiest channel, the first of the busiest block, holds each positive run's
    first item and every item of its zero runs."""
    n = load.shape[1]
    runs = load[:, ::group]
    on_block = np.repeat(busiest_channels(runs, channels // group), group, axis=1)
    first_or_zero = (np.arange(n) % group == 0) | (np.repeat(runs, group, axis=1) == 0)
    return on_block & first_or_zero


def _attention(cfgs: list, batches: list, n_micros: list, n: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(qk, sv) counts of one layer of each micro-batch on its unit's busiest channel (the critical path), and
    the counts summed over the unit's channels (for energy): arrays (micro-batches, counts), the micro-batches
    of every (cfg, batch) pair end to end, as `_layer_parts` (`n`: their requests)."""
    cfg = cfgs[0]
    tech, mod, m = cfg.techniques, cfg.layout.system.module, cfg.layout.model
    kvh = [-(-m.kv_heads // c.layout.tp) for c in cfgs]
    ch = [c.layout.unit_channels for c in cfgs]
    # CENT's baseline runs CENT's own attention sequence; with TCP, PIMphony's compiler generates the attention code
    cent_code = cfg.kind == "cent" and not tech.tcp
    args = (m.head_dim, m.group_size, tech.dcs and m.group_size > 1, tech.policy, mod, cfg.engine, cent_code)
    sizes = [b.size for b in batches]
    lengths = np.concatenate(batches)
    if tech.tcp:  # every (request, head): its 16-token tiles dealt over all channels; the busiest holds the ceil
        per_channel = np.ceil(np.ceil(lengths / mod.banks) / np.repeat(ch, sizes)) * mod.banks
        both = np.concatenate([attention_counts("qk", per_channel, *args), attention_counts("sv", per_channel, *args)],
                              axis=-1)  # (requests, qk counts then sv counts)
        ch_m, kvh_m = np.repeat(ch, n_micros), np.repeat(kvh, n_micros)
        heads = _micro_sums_of(both, _micro_index(sizes, n_micros), n.size) * kvh_m[:, None]
        k = both.shape[-1] // 2
        qk, sv = heads[:, :k], heads[:, k:]
        sv[:, 0] += kvh_m * n * (m.head_dim // mod.banks) * ch_m  # HUB adds each channel's partial tile: 1 tCK
        return qk, sv, (qk + sv) * ch_m[:, None]
    both = np.concatenate([attention_counts("qk", lengths, *args), attention_counts("sv", lengths, *args)], axis=-1)
    parts = [_on_busiest(cfg.kind, b, k, h, c) for b, k, h, c in zip(_pieces(both, sizes), n_micros, kvh, ch)]
    return tuple(np.concatenate(x) for x in zip(*parts))


def _on_busiest(kind: str, both: np.ndarray, n_micro: int, kvh: int, ch: int):
    """`_attention` of head-first placement on one layout: `both` (requests, qk then sv counts) of one KV head."""
    k = both.shape[-1] // 2
    if kind != "cent":  # [N] NeuPIMs: one request (all its heads) per channel
        items = _micro_items(both[:, None] * kvh, n_micro)
        on = busiest_channels(items[..., 0] + items[..., k], ch)
        on_busiest = np.where(on[..., None], items, 0.0).sum(1)
        return on_busiest[:, :k], on_busiest[:, k:], (items[..., :k] + items[..., k:]).sum(1)
    # [C] CENT pins (request, head) pairs to channels in turn: a request's heads are `kvh` items of equal load
    requests = _micro_items(both[:, None], n_micro)
    sums = requests[..., :k] + requests[..., k:]
    on = busiest_channels(np.repeat(sums[..., 0], kvh, 1), ch, kvh)
    if ch % kvh == 0:  # the busiest channel holds at most a request's first head (`_busiest_in_blocks`)
        on_busiest = np.where(on[:, ::kvh, None], requests, 0.0).sum(1)
    else:
        on_busiest = np.where(on[..., None], np.repeat(requests, kvh, 1), 0.0).sum(1)
    return on_busiest[:, :k], on_busiest[:, k:], np.repeat(sums, kvh, 1).sum(1)


def _micro_items(items: np.ndarray, n_micro: int) -> np.ndarray:
    """(requests, per request, counts) items as (micro-batch, its items in request order, counts), the shorter
    micro-batches padded with empty items at the end (request i rides in micro-batch i % n_micro)."""
    per = -(-len(items) // n_micro)
    padded = np.zeros((per * n_micro,) + items.shape[1:])
    padded[:len(items)] = items
    grid = padded.reshape(per, n_micro, *items.shape[1:]).swapaxes(0, 1)
    return grid.reshape(n_micro, per * items.shape[1], items.shape[2])


def _layer_parts(cfgs: list, batches: list, n_micros: list) -> dict[str, np.ndarray]:
    """Seconds of one layer of each micro-batch on one unit, by component; plus the MACs done in PIM and command
    counts: arrays over the micro-batches of every (cfg, batch) pair laid end to end (request i of a batch rides
    in its micro-batch i % n_micro). The cfgs differ only in their layouts: each formula runs once for them all."""
    cfg = cfgs[0]
    mod, m = cfg.layout.system.module, cfg.layout.model
    tck = mod.timing.tck_ns * 1e-9

    def per(value):  # a layout's value on each of its micro-batches
        return np.repeat([value(c.layout) for c in cfgs], n_micros, axis=0)

    tp, ch, share = per(lambda lay: lay.tp), per(lambda lay: lay.unit_channels), per(lambda lay: lay.units_per_module)
    sizes = [b.size for b in batches]
    n = _micro_sizes_of(sizes, n_micros)
    # tokens of each micro-batch: whole numbers below 2**53, so bincount's float sums are exact
    tokens = np.bincount(_micro_index(sizes, n_micros), np.concatenate(batches), n.size).astype(np.int64)
    heads = m.heads / tp
    qk, sv, total = _attention(cfgs, batches, n_micros, n)
    macs_attention = 2.0 * heads * m.head_dim * tokens
    macs_fc = n * m.layer_params / tp
    on_pim = macs_attention + (macs_fc if cfg.kind == "cent" else 0.0)  # [N] NeuPIMs runs the FCs on its NPU
    part = {"qk": qk[:, 0] * tck, "sv": sv[:, 0] * tck, "macs": on_pim * tp,
            "attention_commands": total[:, 1:] * tp[:, None], "fc_commands": np.zeros((n.size, 4))}
    if cfg.kind == "cent":
        fc = np.repeat([_pim_fc(c) for c in cfgs], n_micros, axis=0) * n[:, None]
        part["fc"] = fc[:, 0] * tck
        part["fc_commands"] = fc[:, 1:] * ch[:, None] * tp[:, None]
        acc = cent_accelerator_cycles(m, tokens / n, heads, mod.channels)
        # [C] the device's accelerator serves its blocks (units) one after another
        part["nmu"] = n * (acc["rmsnorm"] + acc["rotary"]) * share * tck
        scores = SCORE_BURSTS_PER_32B * heads * tokens * m.dtype_bytes / 32
        vectors = n * VECTOR_BURSTS_PER_BLOCK * m.hidden * m.dtype_bytes / 32

        def host(bursts):  # serial through the device's front end, or spread over the unit's channel buses
            return bursts * share if cfg.host_serial else bursts / ch * mod.timing.tBL

        part["softmax"] = (host(scores) + n * acc["softmax"] * share) * tck
        part["nmu"] = part["nmu"] + host(vectors) * tck
        part["host_bursts"] = scores + vectors
    else:
        modules = per(lambda lay: lay.unit_modules)
        part.update(_npu_layer(cfg, modules, tp, n, tokens))
        part["host_bursts"] = np.zeros(n.size)
    return part


def _npu_fc_s(cfg: StepConfig, modules, tp, requests):
    """NeuPIMs: one layer's FC of `requests` requests on the NPU (units of `modules` modules, `tp` of them), the
    roofline of its FLOPs and weight reads."""
    m, sysm = cfg.layout.model, cfg.layout.system
    flops = 2.0 * requests * m.layer_params / tp
    bw = modules * sysm.module.external_bandwidth_GBps * 1e9
    return np.maximum(flops / (modules * sysm.xpu_TFLOPs * 1e12), m.layer_params * m.dtype_bytes / tp / bw)


def _npu_layer(cfg: StepConfig, modules, tp, n: np.ndarray, tokens: np.ndarray) -> dict[str, np.ndarray]:
    """NeuPIMs: FC on the NPU; softmax and norms move scores and activations PIM <-> NPU once each way."""
    m = cfg.layout.model
    bw = modules * cfg.layout.system.module.external_bandwidth_GBps * 1e9
    moved = 2.0 * (m.heads / tp * tokens + 4 * m.hidden * n) * m.dtype_bytes
    return {"fc": _npu_fc_s(cfg, modules, tp, n), "nmu": moved / bw, "softmax": np.zeros(n.size)}


def _stage_times(cfgs: list, batches: list, n_micros: list):
    """Per (cfg, batch) pair: (stage x micro-batch) seconds, per-component sums of each micro-batch's round trip
    (arrays over the micro-batches), and the step's MACs, counts and busy times (added micro-batch by micro-batch).
    The cfgs differ only in their layouts (`_layer_parts`)."""
    cfg, lays = cfgs[0], [c.layout for c in cfgs]
    m = cfg.layout.model
    p = _layer_parts(cfgs, batches, n_micros)
    links = [cxl_vector_s(m.hidden, lay.system.modules) if lay.pp > 1 else 0.0 for lay in lays]
    allreduces = [cxl_allreduce_s(m, lay.tp, lay.system.modules) for lay in lays]
    total_layers = [lay.stage_layers.sum() for lay in lays]
    if cfg.kind == "cent":
        layer = p["fc"] + p["qk"] + p["sv"] + p["softmax"] + p["nmu"]
    else:  # [N] sub-batches: the NPU's FC of one overlaps PIM attention of the other (flow shop)
        n = _micro_sizes_of([b.size for b in batches], n_micros)
        k = np.minimum(NEUPIMS_SUB_BATCHES, n)
        tp = np.repeat([lay.tp for lay in lays], n_micros)
        modules = np.repeat([lay.unit_modules for lay in lays], n_micros)
        fc_k, at_k = _npu_fc_s(cfg, modules, tp, n / k), (p["qk"] + p["sv"]) / k
        layer = fc_k + (k - 1) * np.maximum(fc_k, at_k) + at_k + p["nmu"]
        p["fc"] = layer - p["qk"] - p["sv"] - p["nmu"]  # the FC time attention does not hide
    per_layer = layer + np.repeat(allreduces, n_micros)
    weight = np.repeat(total_layers, n_micros)
    comps = {name: weight * p[name] for name in ("fc", "qk", "softmax", "sv", "nmu")}
    comps["link"] = np.repeat([t * a + lay.pp * w for t, a, lay, w in zip(total_layers, allreduces, lays, links)],
                              n_micros)
    comps["exposed"] = np.zeros(per_layer.size)
    columns = np.empty((per_layer.size, 12))
    columns[:, 0], columns[:, 1:5], columns[:, 5:9] = p["macs"], p["attention_commands"], p["fc_commands"]
    columns[:, 9], columns[:, 10], columns[:, 11] = p["host_bursts"], p["qk"] + p["sv"] + p["softmax"], p["fc"]
    columns *= weight[:, None]
    out, ends = [], np.cumsum(n_micros)
    for lay, link, start, end in zip(lays, links, ends - n_micros, ends):
        t = lay.stage_layers[:, None] * per_layer[None, start:end] + link
        # each total: 0 + the first micro-batch's + the second's ...: cumsum adds in that order (all columns at once)
        added = np.cumsum(columns[start:end], axis=0)[-1]
        totals = {"macs": added[0], "attention_commands": added[1:5], "fc_commands": added[5:9],
                  "host_bursts": added[9], "attention_s": added[10], "fc_s": added[11]}
        out.append((t, {name: v[start:end] for name, v in comps.items()}, totals))
    return out


def _lm_head_s(cfg: StepConfig, requests: int) -> float:
    lay = cfg.layout
    m = lay.model
    if cfg.kind == "neupims":
        bw = lay.unit_modules * lay.system.module.external_bandwidth_GBps * 1e9 * lay.tp
        return max(2.0 * requests * m.vocab * m.hidden / (lay.unit_modules * lay.tp * lay.system.xpu_TFLOPs * 1e12),
                   m.vocab * m.hidden * m.dtype_bytes / bw)
    return _lm_head_cent_s(m, lay.tp * lay.unit_channels, cfg.techniques.policy, lay.system.module, cfg.engine)


@lru_cache(maxsize=1024)
def _lm_head_cent_s(m: LLM, share: int, policy: str, module: Module, engine: str) -> float:
    c = gemv_counts(m.hidden, -(-m.vocab // share), policy, module, engine, cent=True)
    return c[0] * module.timing.tck_ns * 1e-9


def step(cfg: StepConfig) -> StepResult:
    """One decode step of `cfg`'s batch: latency per token, tokens/s, MAC utilization, components."""
    return _timed(cfg, _fitting(cfg))


def steps(cfgs) -> list[StepResult]:
    """`step` of each cfg, for cfgs that differ only in their layouts (tp, pp, number of modules: layout searches):
    timed together, at about the numpy cost of one step (the same numbers as `step`, bit for bit)."""
    cfgs = list(cfgs)
    return _timed_layouts(cfgs, [_fitting(cfg) for cfg in cfgs])


def _fitting(cfg: StepConfig) -> np.ndarray:
    """`cfg`'s batch (lengths), once it is known to fit (or not checked)."""
    lay = cfg.layout
    lengths = np.asarray(cfg.lengths, dtype=np.int64)
    if not cfg.ignore_capacity:
        fit = admitted(lay, lengths, cfg.techniques.dpa)
        if fit < lengths.size:
            how = "DPA's 1 MB chunks" if cfg.techniques.dpa else "static reservations of the context window"
            raise ValueError(f"batch must fit the system: {lengths.size} requests under {how} do not fit, "
                             f"at most {fit} do (tp={lay.tp}, pp={lay.pp}); use --ignore-capacity to time it anyway")
    return lengths


def _timed(cfg: StepConfig, lengths: np.ndarray) -> StepResult:
    """`step` of a batch known to fit (or not checked)."""
    return _timed_layouts([cfg], [lengths])[0]


def _shared(cfg: StepConfig) -> tuple:
    """What the cfgs `_timed_layouts` times together share: all but the layout's tp, pp and number of modules."""
    lay = cfg.layout
    return (cfg.kind, lay.model, lay.system.name, lay.system.kind, lay.system.module, lay.system.xpu_TFLOPs,
            cfg.techniques, cfg.engine, cfg.host_serial)


def _timed_layouts(cfgs: list, batches: list) -> list[StepResult]:
    """`_timed` of each (cfg, batch) pair, for cfgs that differ only in their layouts (`_shared`; a search's): the
    same arithmetic on each micro-batch, with the layouts' micro-batches in one array (`_layer_parts`)."""
    if not cfgs:
        return []
    shared = _shared(cfgs[0])
    if any(_shared(c) != shared for c in cfgs):
        raise ValueError("cfgs timed together must differ only in their layouts (tp, pp and the number of modules)")
    # [C] CENT keeps one request per stage in flight; requests are dealt to micro-batches in turn
    n_micros = [min(b.size, c.layout.pp) for c, b in zip(cfgs, batches)]
    stages = _stage_times(cfgs, batches, n_micros)
    return [_step_result(cfg, lengths, n_micro, *stage) for cfg, lengths, n_micro, stage
            in zip(cfgs, batches, n_micros, stages)]


def _step_result(cfg: StepConfig, lengths: np.ndarray, n_micro: int, t: np.ndarray, comps: dict,
                 totals: dict) -> StepResult:
    """The step of one (cfg, batch) from its (stage x micro-batch) seconds `t`, the components of each
    micro-batch's round trip and the step's totals: it lasts the busiest stage's work or the longest round trip."""
    from pimlab.energy import step_energy  # energy reads the step's counts and times

    lay, b = cfg.layout, lengths.size
    head = _lm_head_s(cfg, -(-b // n_micro))
    inout = CENT_INOUT_S if cfg.kind == "cent" else 0.0
    round_trip = t.sum(0) + head + inout
    period = float(max(t.sum(1).max(), round_trip.max()))
    j = int(np.argmax(round_trip))
    components = {k: float(v[j]) for k, v in comps.items() if v[j]}
    components["other"] = head + inout
    components["bubble"] = period - round_trip[j]
    macs = totals["macs"] + (b * lay.model.vocab * lay.model.hidden if cfg.kind == "cent" else 0)  # the PIM's
    peak_macs = lay.system.macs_per_ns * 1e9 * period
    return StepResult(cfg.kind, lay.model.name, int(b), float(lengths.mean()), period, b / period,
                      components_s=components, mac_utilization=float(macs / peak_macs),
                      energy_j=step_energy(cfg, totals, period), whatifs=whatifs(cfg))


# --- conveniences ----------------------------------------------------------------------------------------
def system_for(kind: str, modules: int) -> System:
    """The CENT or NeuPIMs system (Table IV) with `modules` modules."""
    check_choice("system", kind, SYSTEM_KINDS)
    return _system(kind, check_int("modules", modules, 1, 4096))


@lru_cache(maxsize=256)
def _system(kind: str, modules: int) -> System:
    return (CENT if kind == "cent" else NEUPIMS).with_modules(modules)


def run_step(kind: str, model: LLM, modules: int, tp: int, pp: int, lengths, techniques: str = "baseline",
             **options) -> StepResult:
    """One step from plain arguments (what the CLI and the figures call)."""
    lengths = tuple(map(int, np.atleast_1d(lengths).tolist()))
    cfg = StepConfig(kind, Layout(system_for(kind, modules), model, tp, pp), lengths,
                     Techniques.parse(techniques), **options)
    return step(cfg)


def batch_lengths(kind: str, model: LLM, modules: int, tp: int, pp: int, techniques: str = "baseline",
                  context: int | None = None, dataset=None, batch: int | None = None, seed: int = 0,
                  ignore_capacity: bool = False) -> np.ndarray:
    """The batch's context lengths: `batch` requests at `context`, or drawn from a Table II `dataset`.

    Without `batch`, as many requests as the allocator admits (static reservations, or DPA's chunks).
    """
    if (context is None) == (dataset is None):
        raise ValueError("give exactly one of context and dataset")
    if context is not None:
        check_int("context", context, 1)
    if batch is not None:
        batch = check_int("batch", batch, 1, 1 << 16)
        return np.full(batch, context) if context is not None else dataset.sample(batch, seed)
    if ignore_capacity:
        raise ValueError("batch must be given when capacity is not checked (--ignore-capacity)")
    pool = np.full(1 << 14, context) if context is not None else dataset.sample(1 << 14, seed)
    layout = Layout(system_for(kind, modules), model, tp, pp)
    n = admitted(layout, pool, Techniques.parse(techniques).dpa)
    if n == 0:
        raise ValueError(f"batch must admit at least one request: not one request of {int(pool[0])} tokens fits "
                         f"{model.name} on {modules} {kind} modules (tp={tp}, pp={pp})")
    return pool[:n]


def layouts(kind: str, model: LLM, modules: int) -> list[tuple[int, int]]:
    """The (tp, pp) layouts searched: tp x pp = modules (tp a power of two), 2 or 4 units per module, and
    CENT's own deployment (one decoder block per stage, tp = 1)."""
    return list(_layouts(kind, model, modules))


@lru_cache(maxsize=256)
def _layouts(kind: str, model: LLM, modules: int) -> tuple:
    system_ = system_for(kind, modules)
    out = []
    for per_module in (1, 2, 4):
        units = modules * per_module
        tp = 1
        while tp <= min(model.kv_heads, units):
            pp = units // tp
            if units % tp == 0 and pp <= model.layers and (tp <= modules or per_module == 1):
                out.append((tp, pp))
            tp *= 2
    out.append((1, model.layers))
    valid = []
    for tp, pp in dict.fromkeys(out):
        try:
            Layout(system_, model, tp, pp)
        except ValueError:
            continue
        valid.append((tp, pp))
    return tuple(valid)


@lru_cache(maxsize=8192)
def holds_one(kind: str, model: LLM, modules: int, tokens: int, dpa: bool, layout="best") -> bool:
    """True if `layout` (tp, pp) (any layout `search` tries, for "best") holds the weights and one request of
    `tokens` tokens: what `search` and a step need to run at all."""
    for tp, pp in _layouts(kind, model, modules) if layout == "best" else (layout,):
        try:
            if admitted(Layout(system_for(kind, modules), model, tp, pp), [tokens], dpa):
                return True
        except ValueError:
            continue
    return False


@dataclass(frozen=True)
class Search:
    """A (tp, pp) search: every layout's step (or why it failed) and the best by tokens/s."""

    results: dict  # (tp, pp) -> StepResult, or the error message
    best: tuple  # (tp, pp)

    @property
    def step(self) -> StepResult:
        return self.results[self.best]

    def __repr__(self) -> str:
        return f"Search(best tp={self.best[0]}, pp={self.best[1]}: {self.step!r}; {len(self.results)} layouts)"


def search(kind: str, model: LLM, modules: int, pool, techniques: str = "baseline", **options) -> Search:
    """Try every layout; each admits as many requests of `pool` (in order) as it can hold; the best wins.

    This is the paper's "optimal TP/PP settings": the batch each layout admits differs (stages hold
    different weights), so capacity, bubbles and balance all take part in the choice.
    """
    pool = np.asarray(pool, dtype=np.int64)
    tech = Techniques.parse(techniques)
    results, fits = {}, {}
    layouts = [Layout(system_for(kind, modules), model, tp, pp) for tp, pp in _layouts(kind, model, modules)]
    for layout, n in zip(layouts, _admitted_layouts(layouts, pool, tech.dpa)):
        try:
            if isinstance(n, ValueError):
                raise n
            if n == 0:
                raise ValueError("not one request fits")
            batch = pool[:n]  # admitted: it fits, so the step need not check again
            fits[(layout.tp, layout.pp)] = StepConfig(kind, layout, tuple(batch.tolist()), tech, **options), batch
        except ValueError as error:
            results[(layout.tp, layout.pp)] = str(error)
    try:  # the layouts that admit a batch, timed together
        timed = _timed_layouts(*zip(*fits.values())) if fits else []
    except ValueError:  # one of them cannot be timed: each on its own says which
        timed = [_timed_or_error(*pair) for pair in fits.values()]
    results.update(zip(fits, timed))
    results = {key: results[key] for key in _layouts(kind, model, modules)}  # in the order tried
    ok = {k: r for k, r in results.items() if isinstance(r, StepResult)}
    if not ok:
        raise ValueError(f"model must fit the system: no layout of {model.name} on {modules} {kind} modules "
                         f"admits a request")
    return Search(results, max(ok, key=lambda k: ok[k].tokens_per_s))


def _timed_or_error(cfg: StepConfig, batch: np.ndarray):
    try:
        return _timed(cfg, batch)
    except ValueError as error:
        return str(error)


def clear_caches() -> None:
    """Forget every memo of this module (engine tiles, tables, layouts): the next call is cold (for benchmarks; the
    engine table, `pimlab.engine_table`, still answers the tile programs it holds unless switched off)."""
    for memo in (_attention_point, _tile_table, _interpolated, _gemv_exact, _fc_counts, _stage_layers, _layouts,
                 holds_one, _system, cxl_vector_s, cxl_allreduce_s, _lm_head_cent_s):
        memo.cache_clear()


# --- the GPU baseline --------------------------------------------------------------------------------------
def gpu_step(model: LLM, n_gpus: int, lengths, ignore_capacity: bool = False,
             beyond_window: bool = False) -> StepResult:
    """A100s running the batch `lengths` (pimlab.gpu's FlashDecoding + PagedAttention roofline)."""
    from pimlab.gpu import gpu_step as roofline

    lengths = np.atleast_1d(np.asarray(lengths, dtype=np.int64))
    n_gpus = check_int("modules (GPUs)", n_gpus, 1, 4096)
    return roofline(model, n_gpus=n_gpus, batch=int(lengths.size), context_tokens=lengths,
                    ignore_capacity=ignore_capacity, beyond_window=beyond_window)


# --- serving: a run of requests ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ServeResult:
    """A run of requests through one layout: output tokens over time, and the batch it held."""

    tokens: int
    seconds: float
    steps: int
    mean_batch: float
    max_batch: int
    mac_utilization: float  # time-weighted over the run

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds

    def __repr__(self) -> str:
        return (f"ServeResult({self.tokens} tokens in {1e3 * self.seconds:.4g} ms = {self.tokens_per_s:.4g} tok/s; "
                f"{self.steps} steps, batch mean {self.mean_batch:.1f}, max {self.max_batch})")


def serve(kind: str, model: LLM, modules: int, tp: int, pp: int, dataset, techniques: str = "baseline",
          requests: int = 48, mean_output_tokens: int = 256, every: int = 32, seed: int = 0,
          **options) -> ServeResult:
    """Decode a closed run of `requests` requests drawn from a Table II `dataset` (all waiting at the start).

    Requests are admitted in order while their KV fits: a static slot of the context window, or under DPA
    the 1 MB chunks of the tokens the request will reach (so no admitted request runs out). Each step every
    live request emits a token and grows; a finished one frees its memory and the next is admitted. The
    step time is evaluated every `every` steps at the live batch and held in between. The run is measured
    while requests are still waiting (the saturated system), not while the last ones drain.
    """
    from pimlab.workloads import decode_trace

    check_int("every", every, 1, 1 << 20)
    trace = decode_trace(dataset, check_int("requests", requests, 1, 1 << 16), seed, mean_output_tokens)
    layout = Layout(system_for(kind, modules), model, tp, pp)
    dpa = Techniques.parse(techniques).dpa
    room = kv_capacity_bytes(layout)
    final = trace.context_tokens + trace.output_tokens
    cost = kv_reservation_bytes(layout, final, dpa)
    if cost[0] > room:
        raise ValueError(f"batch must admit at least one request: {model.name} on {modules} {kind} modules "
                         f"(tp={tp}, pp={pp}) has no room for the first")
    done = np.zeros(len(trace), dtype=np.int64)  # tokens emitted so far
    live, nxt, used = [], 0, 0.0
    tokens = steps = 0
    seconds = util_s = batch_sum = 0.0
    max_batch, held = 0, None
    while nxt < len(trace):
        while nxt < len(trace) and used + cost[nxt] <= room:
            live.append(nxt)
            used += cost[nxt]
            nxt += 1
        if not live:
            raise ValueError(f"batch must admit request {nxt}: its KV reservation exceeds the free room")
        if held is None or steps % every == 0:
            lengths = [int(trace.context_tokens[r] + done[r]) for r in live]
            held = run_step(kind, model, modules, tp, pp, lengths, techniques, ignore_capacity=True,
                            beyond_window=True, **options)
        seconds += held.latency_s
        util_s += held.mac_utilization * held.latency_s
        batch_sum += len(live)
        max_batch = max(max_batch, len(live))
        tokens += len(live)
        steps += 1
        for r in live:
            done[r] += 1
        finished = [r for r in live if done[r] >= trace.output_tokens[r]]
        for r in finished:
            live.remove(r)
            used -= cost[r]
        if finished:
            held = None
    if not steps:
        raise ValueError(f"requests must be more than one batch to measure a saturated run, got {requests}")
    return ServeResult(tokens, seconds, steps, batch_sum / steps, max_batch, util_s / seconds)


__all__ = [
    "TECHNIQUES", "SYSTEM_KINDS", "Techniques", "Layout", "StepConfig", "step", "steps", "run_step", "system_for",
    "layouts", "attention_counts", "gemv_counts", "cent_accelerator_cycles", "cxl_vector_s", "cxl_allreduce_s",
    "admitted", "kv_reservation_bytes", "kv_capacity_bytes", "holds_one",
    "batch_lengths", "Search", "search",
    "ServeResult", "serve", "gpu_step", "clear_caches",
]
