"""The figures memoize each bar on its frozen inputs: changing any field of the timing or the module gives the
result computed afresh, never a stale one, and every field that binds moves some bar."""

from dataclasses import fields, replace

import pytest

from pimlab.engine.timing import aim_engine
from pimlab.figures import fig08, fig09
from pimlab.hardware import AIM, AIM_TIMING, Module, Timing

BASE_TIMING = replace(AIM_TIMING, tREFI=700, tRFC=60)  # refresh often enough to show in a short point
BINDS_NOTHING = ("tck_ns", "tRCD_RD", "tRCD_WR", "tCL", "tCWL", "tWR", "tRRD_S", "tRRD_L",  # host accesses
                 "eoc_io_cycles", "eoc_mac_cycles",  # aim_simulator's end rule: only the aimsim preset's
                 "tWTR_GB", "tWTR_BIAS")  # no read right after a write in a GEMV (test_engine_timing.py: they bind)


def _bars(timing: Timing, module: Module, fresh: bool = False):
    point = fig08._gemv_point.__wrapped__ if fresh else fig08._gemv_point
    out = []
    for variant in fig08.VARIANTS:
        policy, entries, regions, engine = fig08.variant_setup(variant, 2, aim_engine(timing))
        out += [point(dim, policy, entries, regions, 2, engine, module) for dim in (64, 256)]
    return out


def _changed(obj, name):
    value = getattr(obj, name)
    if isinstance(value, bool):
        return replace(obj, **{name: not value})
    if isinstance(value, float):
        return replace(obj, **{name: value * 2})
    return replace(obj, **{name: 2 * value + 7})


@pytest.mark.parametrize("name", [f.name for f in fields(Timing)])
def test_every_timing_field_reaches_the_cached_bars(name):
    base = _bars(BASE_TIMING, AIM)
    timing = _changed(BASE_TIMING, name)
    cached = _bars(timing, AIM)
    assert cached == _bars(timing, AIM, fresh=True)
    assert (cached == base) == (name in BINDS_NOTHING)


MODULE_CHANGES = {"channels": 32, "banks": 32, "bank_groups": 8, "rows": 8192, "row_bytes": 1024,
                  "column_bytes": 64, "gbuf_entries": 16, "obuf_entries": 4, "dtype_bytes": 1,
                  "timing": replace(AIM_TIMING, tRP=40)}
MODULE_BINDS_NOTHING = ("channels", "bank_groups", "rows", "obuf_entries", "timing")  # one channel, short rows


@pytest.mark.parametrize("name", [f.name for f in fields(Module)])
def test_every_module_field_reaches_the_cached_bars(name):
    base = _bars(BASE_TIMING, AIM)
    module = replace(AIM, **{name: MODULE_CHANGES[name]})
    cached = _bars(BASE_TIMING, module)
    assert cached == _bars(BASE_TIMING, module, fresh=True)
    assert (cached == base) == (name in MODULE_BINDS_NOTHING)


def test_attention_bars_are_memoized_on_the_timing():
    args = (128, 128, 2, True, 2)
    first = fig09.attention_bar("static", *args, aim_engine(BASE_TIMING))
    assert fig09.attention_bar("static", *args, aim_engine(BASE_TIMING)) is first  # same frozen inputs: cached
    slower = fig09.attention_bar("static", *args, aim_engine(replace(BASE_TIMING, tMODCH=64)))
    assert sum(slower[0]) > sum(first[0])
    # DCS does not switch modes: its bar is one cache entry whatever tMODCH
    dcs = [fig09.attention_bar("DCS", *args, aim_engine(replace(BASE_TIMING, tMODCH=m))) for m in (0, 32, 64)]
    assert dcs[0] is dcs[1] is dcs[2]


def test_attention_schedules_are_shared_by_settings_that_compile_to_one_program():
    """Tokens count in tiles of the bank count: 250 and 256 tokens compile to one program and share its schedule;
    a program that differs anywhere (a token more, another buffer) is scheduled afresh. Both against the plain,
    unmemoized schedule."""
    from pimlab.isa import compile_attention_table
    from pimlab.schedule import summarize_table

    engine = aim_engine(BASE_TIMING)

    def table(tokens, obuf=2):
        return compile_attention_table("qk", tokens, 64, 2, True, AIM, obuf_entries=obuf)

    same, other = table(250), table(256)
    assert all((same[k] == other[k]).all() for k in same)  # the premise: one program
    first = fig09._summary(same, "dcs", engine, AIM.gbuf_entries, 2)
    assert fig09._summary(other, "dcs", engine, AIM.gbuf_entries, 2) is first
    assert first == summarize_table(other, 0, "dcs", engine, AIM.gbuf_entries, 2)
    for changed, obuf in ((table(257), 2), (table(256, obuf=3), 3)):
        got = fig09._summary(changed, "dcs", engine, AIM.gbuf_entries, obuf)
        assert got is not first and got == summarize_table(changed, 0, "dcs", engine, AIM.gbuf_entries, obuf)
    assert fig09._summary(other, "static", engine, AIM.gbuf_entries, 2) != first  # the policy is in the key
    assert fig09.attention_bar("DCS", 250, 64, 2, True, 2, engine) == fig09.attention_bar("DCS", 256, 64, 2, True, 2,
                                                                                          engine)
