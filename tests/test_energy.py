"""Energy of a step: conservation of background time and what a faster schedule saves."""

import pytest

from pimlab import energy, system
from pimlab.models import LLM_7B_128K_GQA


def _step(techniques, kind="cent", modules=8):
    return system.run_step(kind, LLM_7B_128K_GQA, modules, modules, 1, [60000] * 4, techniques)


def test_standby_energy_covers_every_channel_for_the_whole_step():
    r = _step("baseline")
    e = r.energy_j
    standby = e["attention.background"] + e["fc.background"] + e["idle"]
    channels = system.system_for("cent", 8).channels
    assert standby == pytest.approx(channels * r.latency_s * energy.BACKGROUND_W_PER_CHANNEL, rel=1e-9)


def test_dcs_cuts_attention_background_not_its_macs():
    static, dcs = _step("tcp"), _step("tcp+dcs")
    assert dcs.energy_j["attention.background"] < static.energy_j["attention.background"]
    # the same useful MACs (row reuse under DCS re-orders, it does not remove work)
    assert dcs.energy_j["attention.mac"] == pytest.approx(static.energy_j["attention.mac"], rel=0.02)


def test_neupims_fc_runs_off_pim():
    r = _step("baseline", kind="neupims", modules=4)
    assert r.energy_j["fc.mac"] == 0 and r.energy_j["fc.background"] == 0
    assert r.energy_j["attention.mac"] > 0
