"""The hardware model: organisation, derived peaks, presets against Table IV, and input checks."""

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pimlab.hardware import A100, AIM, CENT, GPU, NEUPIMS, GiB, Module, System, Timing


def test_aim_channel_organisation():
    # 16 banks x 16384 rows x 2 KB = 512 MiB per channel; 64 columns of 32 B per row
    assert AIM.channel_capacity_bytes == 512 * 2**20
    assert AIM.columns_per_row == 64
    assert AIM.mac_lanes == 16
    assert AIM.gbuf_bytes == 2048


def test_peaks_follow_from_timing():
    # one MAC per bank every tCCD = 1 ns: 16 banks x 16 MAC = 256 MAC/ns, 512 GFLOP/s per channel
    assert AIM.channel_macs_per_ns == 256
    assert AIM.channel_peak_GFLOPs == 512
    assert AIM.channel_internal_bandwidth_GBps == 512
    assert AIM.channel_external_bandwidth_GBps == 32
    assert AIM.internal_to_external == 16
    slower = replace(AIM, timing=replace(AIM.timing, tCCD=4))
    assert slower.channel_internal_bandwidth_GBps == 256


def test_table_iv_capacity_counts_addresses():
    """Capacity from the address bits of aim_simulator's GDDR6 map (5 channel, 4 bank, 14 row and 10 column
    bits of 2 B words for CENT's 32 channels), not from the product the presets compute."""
    assert CENT.module.capacity_bytes == 2 ** (5 + 4 + 14 + 10) * 2
    assert NEUPIMS.module.capacity_bytes == 2 ** (5 + 5 + 14 + 10) * 2  # 32 banks per channel: one more bit
    for system, total_GiB in ((CENT, 128), (CENT, 512), (NEUPIMS, 128), (NEUPIMS, 1024)):
        assert system.with_capacity(total_GiB).capacity_bytes == total_GiB * GiB
    with pytest.raises(ValueError, match="capacity_GB must be a whole number of 16 GB modules, got 100"):
        CENT.with_capacity(100)
    assert NEUPIMS.xpu_peak_TFLOPs == NEUPIMS.modules * NEUPIMS.xpu_TFLOPs


def test_system_peaks_scale_with_modules():
    # 8 CENT modules = 256 channels, each 512 GB/s inside and 32 GB/s on its bus, 256 MAC/ns
    assert CENT.channels == 256
    assert CENT.internal_bandwidth_GBps == 256 * 512
    assert CENT.external_bandwidth_GBps == 256 * 32
    assert CENT.macs_per_ns == 256 * 256
    assert CENT.pim_peak_TFLOPs == 2 * CENT.macs_per_ns / 1e3
    assert CENT.with_modules(16).internal_bandwidth_GBps == 2 * CENT.internal_bandwidth_GBps


def test_refresh_overhead_is_a_choice():
    assert AIM.timing.refresh_overhead == pytest.approx(210 / 3333)
    assert replace(AIM.timing, refresh=False).refresh_overhead == 0
    assert AIM.timing.ns(89) == 44.5


def test_gpu_baseline():
    assert GPU(count=2).total_memory_bytes == 2 * A100.total_memory_bytes
    with pytest.raises(ValueError, match="count"):
        GPU(count=0)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["channels", "banks", "rows", "row_bytes", "gbuf_entries", "obuf_entries"]),
       st.integers(-5, 0))
def test_module_rejects_non_positive_sizes(name, value):
    with pytest.raises(ValueError, match=name):
        replace(AIM, **{name: value})


@settings(max_examples=40, deadline=None)
@given(st.integers(3, 63).filter(lambda n: n & (n - 1)))
def test_channels_must_be_power_of_two(channels):
    with pytest.raises(ValueError, match=f"channels must be a positive power of two, got {channels}"):
        Module(channels=channels)


@pytest.mark.parametrize("bad", [1.5, "16", True, None])
def test_non_integers_rejected(bad):
    with pytest.raises(ValueError, match="banks must be an integer"):
        Module(banks=bad)


def test_timing_and_system_checks():
    with pytest.raises(ValueError, match="tCCD"):
        Timing(tCCD=0)
    with pytest.raises(ValueError, match="tRFC must be smaller than tREFI"):
        Timing(tRFC=4000)
    with pytest.raises(ValueError, match="kind must be one of"):
        System("x", "gpu", AIM)
    with pytest.raises(ValueError, match="modules"):
        CENT.with_modules(0)
    with pytest.raises(ValueError, match="capacity_GB must be a whole number of 16 GB modules, got 100"):
        CENT.with_capacity(100)
