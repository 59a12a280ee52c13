"""pimlab.chrome_trace: a schedule in the Trace Event Format, checked against the format's documented fields."""

import json
from collections import defaultdict

import pytest

from pimlab.chrome_trace import INSERTED_TRACK, _columns, chrome_trace
from pimlab.cli import main
from pimlab.engine.timing import AIM_ENGINE, fig7_engine
from pimlab.isa import compile_gemv, expand, fig7_stream
from pimlab.schedule import schedule

# The Trace Event Format (Google's "Trace Event Format" document): every event has name, ph, pid, tid; every
# event but metadata has ts (microseconds); a complete event (ph "X") also has dur. Metadata events ("M")
# named process_name / thread_name carry args.name.
PHASES = set("BEXIiCbnesftPOND") | {"M"}


def check_format(text: str) -> dict:
    """Validate `text` as a Trace Event Format JSON object; return it parsed."""
    doc = json.loads(text)
    assert isinstance(doc, dict) and isinstance(doc["traceEvents"], list)
    assert doc.get("displayTimeUnit", "ms") in ("ms", "ns")
    for event in doc["traceEvents"]:
        assert isinstance(event["name"], str) and event["name"], event
        assert event["ph"] in PHASES, event
        assert isinstance(event["pid"], int) and isinstance(event["tid"], int), event
        if event["ph"] == "M":
            assert event["name"] in ("process_name", "thread_name", "thread_sort_index", "process_sort_index")
            assert isinstance(event["args"], dict)
            continue
        assert isinstance(event["ts"], (int, float)) and event["ts"] >= 0, event
        if event["ph"] == "X":
            assert isinstance(event["dur"], (int, float)) and event["dur"] >= 0, event
    return doc


def slices(doc):
    return [e for e in doc["traceEvents"] if e["ph"] == "X"]


def track_names(doc):
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "thread_name"}


def test_fig7_static_by_hand():
    # Fig. 7's static schedule, worked by hand (see test_trace): MACs 6-8 and 20-22, R6 11..20, R10 25..34
    trace = schedule(expand(fig7_stream(1), 0), "static", fig7_engine(), 3, 1)
    doc = check_format(chrome_trace(trace, tck_ns=1000.0))  # 1 cycle = 1 microsecond: ts reads in cycles
    reads = sorted((e["ts"], e["ts"] + e["dur"]) for e in slices(doc) if e["name"] == "RD_OUT")
    assert reads == [(11, 20), (25, 34)]
    macs = sorted(e["ts"] for e in slices(doc) if e["name"] == "MAC")
    assert macs[0] == 6 and 20 in macs
    assert len(slices(doc)) == len(trace)


def test_every_command_one_slice_with_kind_buffers_and_bound():
    trace = schedule(expand(compile_gemv(256, 256), 0), "dcs", AIM_ENGINE)
    doc = check_format(trace.to_chrome_trace())
    events = slices(doc)
    columns = _columns(trace)  # the module's one reader of Trace columns
    assert sorted(e["args"]["id"] for e in events) == sorted(columns["id"].tolist())
    for e in events[:50]:
        assert {"gbuf", "obuf", "row", "bound by", "depends on"} <= set(e["args"])
    # ts and dur are microseconds: cycles x 0.5 ns / 1000
    last = max(e["ts"] + e["dur"] for e in events)
    assert last == pytest.approx(columns["done_cycles"].max() * 0.5 / 1000)


def test_inserted_commands_on_their_own_track_and_slices_nest():
    trace = schedule(expand(compile_gemv(1024, 1024), 0), "static", AIM_ENGINE)  # refresh, ACT / PRE inserted
    doc = check_format(chrome_trace({3: trace}))
    names = track_names(doc)
    by_track = defaultdict(list)
    for e in slices(doc):
        by_track[e["pid"], e["tid"]].append((e["ts"], e["ts"] + e["dur"]))
        assert e["pid"] == 3
        inserted = names[e["pid"], e["tid"]].startswith(INSERTED_TRACK)
        assert inserted == (e["name"] in ("ACT", "PRE", "REF", "MODE")), e
    assert {"REF", "ACT", "PRE"} <= {e["name"] for e in slices(doc)}
    # slices of one track must not partly overlap (a viewer cannot nest them)
    for spans in by_track.values():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end - 1e-9


def test_bad_input_is_refused():
    trace = schedule(expand(fig7_stream(1), 0), "static", fig7_engine(), 3, 1)
    with pytest.raises(ValueError, match="tck_ns"):
        chrome_trace(trace, tck_ns=0)
    with pytest.raises(ValueError, match="traces"):
        chrome_trace({})


def test_cli_writes_one_process_per_distinct_channel_schedule(tmp_path):
    # two channels run one tile; the third (mask 0x4) also a second MAC_ABK: two distinct schedules
    path = tmp_path / "tile.trace"
    path.write_text("AiM WR_GB 8 0 0x7\nAiM WR_BIAS 0 0x7\nAiM MAC_ABK 8 0x7 0\nAiM MAC_ABK 8 0x4 0\n"
                    "AiM RD_MAC 0 0x7\nAiM EOC\n")
    out = tmp_path / "schedule.json"
    assert main(["simulate", str(path), "--policy", "dcs", "--chrome-trace", str(out)]) == 0
    doc = check_format(out.read_text())
    processes = {e["pid"]: e["args"]["name"] for e in doc["traceEvents"] if e["name"] == "process_name"}
    (pair, both), (single, one) = sorted(processes.items(), key=lambda item: item[1].startswith("channel "))
    assert both.startswith(f"channels {pair}-{pair + 1} ") and one.startswith(f"channel {single} ")
    macs = {pid: sum(e["name"] == "MAC" for e in slices(doc) if e["pid"] == pid) for pid in processes}
    assert macs[single] == macs[pair] + 8  # the extra MAC_ABK of 8 tiles
    assert {e["name"] for e in slices(doc)} >= {"WR_INP", "MAC", "RD_OUT"}
