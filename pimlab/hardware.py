"""AiM-style PIM hardware: timing, one module (channels x banks), PIM systems and the GPU baseline.

Sources, as tagged in docs/sources.md §1: [A] arkhadem/aim_simulator GDDR6 AiM presets as
resolved at run time, [C] CENT's simulation scripts, [Q] the PIMphony paper, [P] public
specifications, [D] derived by arithmetic from the others. Cycles are integers of tCK.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pimlab.validate import check_choice, check_int, check_number

GiB = 2**30


@dataclass(frozen=True)
class Timing:
    """DRAM and PIM command timing of one AiM channel, in cycles of tCK."""

    tck_ns: float = 0.5  # [C] CENT converts cycles with FREQ = 2 GHz
    tCCD: int = 2  # [A] nCCDS = nCCDL: MAC->MAC and WR-INP->WR-INP spacing (1 ns, the 1 GHz bank PU)
    tBL: int = 2  # [A] one 32 B burst on the channel bus
    tRCD_MAC: int = 56  # [A] all-bank ACT -> MAC (28 ns)
    tRCD_RD: int = 36  # [A] ACT -> RD
    tRCD_WR: int = 28  # [A] ACT -> WR
    tRP: int = 32  # [A] PRE -> ACT (16 ns)
    tRAS: int = 54  # [A] ACT -> PRE
    tRC: int = 89  # [A] ACT -> ACT, same bank (44.5 ns)
    tRTP: int = 12  # [A] MAC/RD -> PRE
    # The next seven bind nothing yet: PIM commands reach the GBuf and the output registers, not the DRAM
    # array. The real-programs issue will read them for host memory reads and writes (RD / WR of a bank).
    tCL: int = 50  # [A] read latency (host RD; unused until host reads are modelled)
    tCWL: int = 6  # [A] write latency (host WR; unused until host writes are modelled)
    tWR: int = 33  # [A] write recovery (host WR -> PRE; unused until host writes are modelled)
    tRRD_S: int = 5  # [A] ACT -> ACT, other bank group (per-bank ACT; AiM's ACT16 opens all banks at once)
    tRRD_L: int = 6  # [A] ACT -> ACT, same bank group (per-bank ACT; unused, as tRRD_S)
    t_wr_inp: int = 3  # [A] WR_GB latency = tCWLGB + tBL
    t_rd_out: int = 2  # [A] RD_MAC latency = tCLREG + tBL
    tWTR_GB: int = 12  # [A] WR_GB -> RD_MAC distance: data-bus write-to-read turnaround after a GBuf write
    tWTR_BIAS: int = 14  # [A] WR_BIAS -> RD_MAC distance: write-to-read turnaround after an output-register write
    tRTW: int = 5  # [A] RD_MAC -> WR_GB / WR_BIAS distance: data-bus read-to-write turnaround
    tRD_MAC_block: int = 3  # [A] RD_MAC blocks the command stream: nothing else issues before RD_MAC + 3
    eoc_io_cycles: int = 4  # [A] EOC completes 4 cycles after the last WR_GB / RD_MAC / WR_BIAS issues
    eoc_mac_cycles: int = 2  # [A] EOC completes 2 cycles after the last MAC issues
    tMODCH: int = 32  # [A] register-I/O <-> MAC mode switch the AiM controller inserts (16 ns)
    tREFI: int = 3333  # [A] preset nREFI; aim_simulator never fires refresh: pimlab's own choice to model it
    tRFC: int = 210  # [A] preset nRFC (105 ns); pimlab charges it every tREFI (refresh=True)
    refresh: bool = True  # pimlab's choice; the `aimsim` preset turns it off to match aim_simulator

    def __post_init__(self):
        check_number("tck_ns", self.tck_ns)
        for name in (
            "tCCD", "tBL", "tRCD_MAC", "tRCD_RD", "tRCD_WR", "tRP", "tRAS", "tRC", "tRTP", "tCL", "tCWL",
            "tWR", "tRRD_S", "tRRD_L", "t_wr_inp", "t_rd_out", "tREFI", "tRFC", "tWTR_GB", "tWTR_BIAS", "tRTW",
            "tRD_MAC_block", "eoc_io_cycles", "eoc_mac_cycles",
        ):
            check_int(name, getattr(self, name), 1)
        check_int("tMODCH", self.tMODCH, 0)
        if self.tRFC >= self.tREFI:
            raise ValueError(f"tRFC must be smaller than tREFI ({self.tREFI}), got {self.tRFC}")

    @property
    def refresh_overhead(self) -> float:
        """Fraction of time a channel is refreshing (0 when refresh is off)."""
        return self.tRFC / self.tREFI if self.refresh else 0.0

    def ns(self, cycles: float) -> float:
        """Convert cycles of tCK to nanoseconds."""
        return cycles * self.tck_ns


@dataclass(frozen=True)
class Module:
    """One AiM-style PIM module: channels of banks, each bank with a MAC unit, a GBuf per channel.

    The paper's module has 16 channels of 16 banks; a CENT device has 32 channels (Table IV).
    """

    channels: int = 16  # [Q] "16 channels and 16 banks per channel"; [A] hard-codes 32
    banks: int = 16  # [A], [Q]: 4 bank groups x 4 banks
    bank_groups: int = 4  # [A]
    rows: int = 16384  # [A] 1 << 14 rows per bank
    row_bytes: int = 2048  # [A] 1024 columns x 16 bit: a 2 KB page per bank
    column_bytes: int = 32  # [A], [Q] one access / MAC operand / WR-INP tile = 32 B = 16 BF16
    gbuf_entries: int = 64  # [Q] "2KB input per channel" = 64 entries of 32 B
    obuf_entries: int = 1  # [Q], [A] one output register (accumulator) per bank; DCS's OBuf adds entries
    dtype_bytes: int = 2  # [A] BF16 operands
    timing: Timing = field(default_factory=Timing)

    def __post_init__(self):
        check_int("channels", self.channels, 1, 64, power_of_two=True)
        check_int("banks", self.banks, 1, 64, power_of_two=True)
        check_int("bank_groups", self.bank_groups, 1, self.banks, power_of_two=True)
        check_int("rows", self.rows, 1, 2**20)
        check_int("column_bytes", self.column_bytes, 2, 1024, power_of_two=True)
        check_int("row_bytes", self.row_bytes, self.column_bytes, 2**16)
        if self.row_bytes % self.column_bytes:
            raise ValueError(
                f"row_bytes must be a multiple of column_bytes ({self.column_bytes}), got {self.row_bytes}"
            )
        check_int("gbuf_entries", self.gbuf_entries, 1, 4096)
        check_int("obuf_entries", self.obuf_entries, 1, 4096)
        check_int("dtype_bytes", self.dtype_bytes, 1, 8)
        if not isinstance(self.timing, Timing):
            raise ValueError(f"timing must be a Timing, got {type(self.timing).__name__}")

    # --- organisation -------------------------------------------------------------------------
    @property
    def mac_lanes(self) -> int:
        """Multiply-accumulates one MAC command does in each bank (16 BF16 per 32 B column)."""
        return self.column_bytes // self.dtype_bytes

    @property
    def columns_per_row(self) -> int:
        return self.row_bytes // self.column_bytes

    @property
    def gbuf_bytes(self) -> int:
        return self.gbuf_entries * self.column_bytes

    @property
    def channel_capacity_bytes(self) -> int:
        return self.banks * self.rows * self.row_bytes

    @property
    def capacity_bytes(self) -> int:
        return self.channels * self.channel_capacity_bytes

    # --- peak rates -----------------------------------------------------------------------------
    @property
    def channel_macs_per_ns(self) -> float:
        """Peak MACs per ns of one channel: every bank does mac_lanes MACs each tCCD."""
        return self.banks * self.mac_lanes / self.timing.ns(self.timing.tCCD)

    @property
    def channel_peak_GFLOPs(self) -> float:
        return 2 * self.channel_macs_per_ns

    @property
    def peak_TFLOPs(self) -> float:
        return self.channels * self.channel_peak_GFLOPs / 1e3

    @property
    def channel_internal_bandwidth_GBps(self) -> float:
        """Bytes all banks of a channel read per ns while MACs stream (one column per bank per tCCD)."""
        return self.banks * self.column_bytes / self.timing.ns(self.timing.tCCD)

    @property
    def channel_external_bandwidth_GBps(self) -> float:
        """Bytes per ns one channel moves over its bus: one 32 B burst per tBL."""
        return self.column_bytes / self.timing.ns(self.timing.tBL)

    @property
    def internal_bandwidth_GBps(self) -> float:
        return self.channels * self.channel_internal_bandwidth_GBps

    @property
    def external_bandwidth_GBps(self) -> float:
        return self.channels * self.channel_external_bandwidth_GBps

    @property
    def internal_to_external(self) -> float:
        """The bandwidth gap DCS attacks: internal over external bandwidth (16x for AiM)."""
        return self.channel_internal_bandwidth_GBps / self.channel_external_bandwidth_GBps


@dataclass(frozen=True)
class System:
    """PIM modules plus the compute beside them: PIM-only (CENT) or xPU+PIM (NeuPIMs)."""

    name: str
    kind: str  # "pim-only" or "xpu+pim"
    module: Module
    modules: int = 8  # [Q] 128 GB for 7B: 8 CENT or 4 NeuPIMs modules
    xpu_TFLOPs: float = 3.0  # per module: CENT's PNM 3 TFLOPS, NeuPIMs' 8 matrix units 256 TFLOPS [Q Table IV]

    KINDS = ("pim-only", "xpu+pim")

    def __post_init__(self):
        check_choice("kind", self.kind, self.KINDS)
        if not isinstance(self.module, Module):
            raise ValueError(f"module must be a Module, got {type(self.module).__name__}")
        check_int("modules", self.modules, 1, 4096)
        check_number("xpu_TFLOPs", self.xpu_TFLOPs)

    def with_modules(self, modules: int) -> System:
        return replace(self, modules=modules)

    def with_capacity(self, capacity_GB: float) -> System:
        """The same system scaled to a total PIM capacity (the paper's 128 / 512 GB systems)."""
        per_module = self.module.capacity_bytes / GiB
        count = round(check_number("capacity_GB", capacity_GB) / per_module)
        if count < 1 or abs(count * per_module - capacity_GB) > 1e-9 * capacity_GB:
            raise ValueError(
                f"capacity_GB must be a whole number of {per_module:g} GB modules, got {capacity_GB}"
            )
        return self.with_modules(count)

    @property
    def channels(self) -> int:
        return self.modules * self.module.channels

    @property
    def capacity_bytes(self) -> int:
        return self.modules * self.module.capacity_bytes

    @property
    def macs_per_ns(self) -> float:
        """Peak MACs per ns of every PIM channel of the system."""
        return self.channels * self.module.channel_macs_per_ns

    @property
    def pim_peak_TFLOPs(self) -> float:
        return self.modules * self.module.peak_TFLOPs

    @property
    def internal_bandwidth_GBps(self) -> float:
        return self.modules * self.module.internal_bandwidth_GBps

    @property
    def external_bandwidth_GBps(self) -> float:
        return self.modules * self.module.external_bandwidth_GBps

    @property
    def xpu_peak_TFLOPs(self) -> float:
        return self.modules * self.xpu_TFLOPs


@dataclass(frozen=True)
class GPU:
    """A GPU for the roofline baseline (Fig. 2's capacity line, Fig. 20's memory-matched A100s)."""

    name: str = "A100-80GB"
    memory_bytes: int = 80 * GiB  # [P] NVIDIA A100 80GB (81920 MiB)
    hbm_bandwidth_GBps: float = 2039.0  # [P] NVIDIA A100 80GB SXM: 2,039 GB/s
    peak_TFLOPs: float = 312.0  # [P] BF16 dense tensor-core peak
    count: int = 1
    nvlink_GBps: float = 300.0  # [P] NVLink 3: 12 links x 25 GB/s per direction (600 GB/s both ways) per GPU
    tdp_w: float = 400.0  # [P] NVIDIA A100 80GB SXM datasheet: max thermal design power 400 W
    pcie_GBps: float = 31.5  # [P] PCIe 4.0 x16 to the host, per direction (16 GT/s x 16 lanes x 128/130 / 8)

    def __post_init__(self):
        check_int("memory_bytes", self.memory_bytes, 1)
        check_number("hbm_bandwidth_GBps", self.hbm_bandwidth_GBps)
        check_number("peak_TFLOPs", self.peak_TFLOPs)
        check_int("count", self.count, 1, 4096)
        check_number("nvlink_GBps", self.nvlink_GBps)
        check_number("tdp_w", self.tdp_w)
        check_number("pcie_GBps", self.pcie_GBps)

    @property
    def total_memory_bytes(self) -> int:
        return self.count * self.memory_bytes


# --- presets ---------------------------------------------------------------------------------
AIM_TIMING = Timing()
AIMSIM_TIMING = replace(Timing(), refresh=False, tREFI=7800)  # [A] as aim_simulator runs: no refresh fires
AIM = Module()  # the paper's module: 16 channels x 16 banks of 512 MB channels
# [Q Table IV] CENT: 32 PIM channels, 16 GB, 16 TB/s internal, PNM 3 TFLOPS. 32 AiM channels give it [D].
# [Q Sec. VIII-A] the paper evaluates "primarily" on CENT, "16GB per module ... 128GB for 7B": 8 modules.
CENT = System(name="CENT", kind="pim-only", module=Module(channels=32), modules=8, xpu_TFLOPs=3.0)
# [Q Table IV] NeuPIMs: 32 PIM channels, 32 GB, 32 TB/s internal, 8 matrix units of 256 TFLOPS.
# [D] 1 GB and 1 TB/s per channel follow from 32 banks of AiM rows per channel (pimlab's reading).
NEUPIMS = System(name="NeuPIMs", kind="xpu+pim", module=Module(channels=32, banks=32, bank_groups=8), modules=4,
                 xpu_TFLOPs=256.0)
# A named alternative deployment: 128 GB of the 16-channel AiM modules of Sec. IV-C / Fig. 5 (8 GiB each).
AIM_128GB = System(name="128 GB of 16-channel AiM modules", kind="pim-only", module=AIM, modules=16)
A100 = GPU()
SYSTEMS = (CENT, NEUPIMS)


# --- command-engine timing: its home is pimlab.engine.timing ------------------------------------------
AIMSIM = Module(channels=32, timing=AIMSIM_TIMING)  # [A] aim_simulator hard-codes 32 channels
FIG7 = Module(gbuf_entries=3, obuf_entries=2)  # Fig. 7(a)'s toy channel: GBuf entries GB 0/1/2, two output entries
_ENGINE_NAMES = ("EngineTiming", "aim_engine", "fig7_engine", "engine_preset", "ENGINE_PRESETS", "AIM_ENGINE",
                 "AIMSIM_ENGINE", "FIG7_ENGINE")


def __getattr__(name: str):
    """The engine timing names, for code that imported them from here (pimlab.engine.timing imports this module)."""
    if name in _ENGINE_NAMES:
        from pimlab.engine import timing

        return getattr(timing, name)
    raise AttributeError(f"module 'pimlab.hardware' has no attribute {name!r}")
