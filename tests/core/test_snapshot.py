"""Snapshots: the CSV format, compare and restore plans, hostile files, and
save -> change -> compare -> restore against the real demo IOC through the CLI."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pvprobe.core import snapshot as snapmod
from pvprobe.core.protocol_text import listed_name
from pvprobe.core.putvalue import coerce_put_value
from pvprobe.core.pvnames import pv_name_error
from pvprobe.core.pvs_format import write_pvs
from pvprobe.core.pvstate import PVState
from pvprobe.core.snapshot import (
    Snapshot,
    SnapshotError,
    SnapshotRow,
    compare,
    parse_snapshot,
    read_snapshot,
    restore_plan,
    snapshot_from_states,
    write_snapshot,
)

pytestmark = pytest.mark.timeout(120)

ENUM_STRS = ("Off", "Standby", "On", "Fault")


def _states() -> list[PVState]:
    common = dict(connected=True, ever_connected=True, read_access=True, write_access=True,
                  timestamp=1_700_000_000.123456)
    return [
        PVState(name="T:double", value=1.0 / 3, native_type="DOUBLE", max_count=1, count=1,
                units="V", precision=2, control_limits=(-10.0, 10.0), **common),
        PVState(name="T:nan", value=float("nan"), native_type="DOUBLE", max_count=1, count=1, **common),
        PVState(name="T:inf", value=float("-inf"), native_type="FLOAT", max_count=1, count=1, **common),
        PVState(name="T:long", value=-123456, native_type="LONG", max_count=1, count=1, **common),
        PVState(name="T:enum", value=2, native_type="ENUM", enum_strs=ENUM_STRS, max_count=1, count=1,
                severity=1, status=7, **common),
        PVState(name="T:enum:nostr", value=1, native_type="ENUM", enum_strs=("", ""), max_count=1,
                count=1, **common),
        PVState(name="T:string", value='a, "quoted"\r\nline\r', native_type="STRING", max_count=1, count=1,
                **common),
        PVState(name="T:chars", value=np.frombuffer(b"/data/f\xc3\xa9.h5\x00\x00", dtype=np.uint8),
                native_type="CHAR", max_count=128, count=12, **common),
        PVState(name="T:wave", value=np.array([1.5, -2.0, 1e-300]), native_type="DOUBLE", max_count=16,
                count=3, **common),
        PVState(name="T:ints", value=np.array([1, 2, 3], dtype=np.int16), native_type="SHORT",
                max_count=8, count=3, **common),
        PVState(name="T:strs", value=["a b", "c,d", ""], native_type="STRING", max_count=3, count=3,
                **common),
        PVState(name="T:gone", error="not found (no server answered within the timeout)"),
        PVState(name="T:timedout", connected=True, native_type="DOUBLE", max_count=1,
                error="get timed out after 0.50 s"),
        PVState(name="T:empty", value=np.array([]), native_type="DOUBLE", max_count=16, count=0, **common),
    ]


def test_round_trip_and_text_encoding(tmp_path):
    path = tmp_path / "s" / "snap.csv"
    snap = snapshot_from_states(_states())
    write_snapshot(path, snap)
    assert os.listdir(path.parent) == ["snap.csv"]
    text = path.read_text(encoding="utf-8")
    first, header = text.splitlines()[:2]
    assert first.startswith("# pvprobe snapshot ")
    assert header == "name,value,severity,status,timestamp,type,count,units,error"
    back = read_snapshot(path)
    assert back.rows == snap.rows and back.created == snap.created
    rows = back.by_name
    assert rows["T:double"].value_text == repr(1.0 / 3) and rows["T:double"].units == "V"
    assert rows["T:nan"].value_text == "NaN" and rows["T:inf"].value_text == "-inf"
    assert rows["T:enum"].value_text == "On" and rows["T:enum"].severity == "MINOR"
    assert rows["T:enum"].status == "STATE"
    assert rows["T:enum:nostr"].value_text == "1"  # no usable state string: the index
    assert rows["T:string"].value_text == 'a, "quoted"\r\nline\r'
    assert rows["T:chars"].value_text == "/data/f\u00e9.h5" and rows["T:chars"].count == 128
    assert rows["T:wave"].value_text == "1.5 -2.0 1e-300"
    assert rows["T:ints"].value_text == "1 2 3"
    assert rows["T:strs"].value_text == '["a b", "c,d", ""]'
    assert rows["T:gone"].severity == "DISCONNECTED" and not rows["T:gone"].has_value
    assert "not found" in rows["T:gone"].error
    assert not rows["T:timedout"].has_value and "timed out" in rows["T:timedout"].error
    ts = rows["T:double"].timestamp_posix()
    assert ts is not None and abs(ts - 1_700_000_000.123456) < 1e-5


def test_restore_plan_converts_back_and_lists_skipped():
    snap = snapshot_from_states(_states())
    plan = restore_plan(snap)
    values = dict(plan)
    assert values["T:double"] == 1.0 / 3 and isinstance(values["T:double"], float)
    assert math.isnan(values["T:nan"]) and values["T:inf"] == float("-inf")
    assert values["T:long"] == -123456 and isinstance(values["T:long"], int)
    assert values["T:enum"] == "On" and values["T:enum:nostr"] == 1
    assert values["T:string"] == 'a, "quoted"\r\nline\r'
    assert values["T:chars"] == "/data/f\u00e9.h5"
    assert values["T:wave"] == [1.5, -2.0, 1e-300]
    assert values["T:ints"] == [1, 2, 3] and all(isinstance(v, int) for v in values["T:ints"])
    assert values["T:strs"] == ["a b", "c,d", ""]
    skipped = dict(plan.skipped)
    assert set(skipped) == {"T:gone", "T:timedout", "T:empty"}
    assert "not found" in skipped["T:gone"]
    # Every planned value is accepted by the put checks of the PV it came from.
    states = {s.name: s for s in _states()}
    for name, value in plan:
        if name == "T:strs":
            continue  # STRING arrays: coerce_put_value takes them as a list
        coerce_put_value(states[name], value)
    only = restore_plan(snap, ["T:enum", "T:nope"])
    assert list(only) == [("T:enum", "On")] and only.skipped == [("T:nope", "not in the snapshot")]


def _live(**changes) -> dict[str, PVState]:
    out = {}
    for s in _states():
        if s.name in changes:
            s.value = changes[s.name]
        out[s.name] = s
    return out


def test_compare_kinds_tolerance_arrays_and_enums():
    snap = snapshot_from_states(_states())
    diffs = {d.name: d for d in compare(snap, _live())}
    assert {n for n, d in diffs.items() if d.kind == "equal"} == {
        "T:double", "T:nan", "T:inf", "T:long", "T:enum", "T:enum:nostr", "T:string", "T:chars",
        "T:wave", "T:ints", "T:strs", "T:empty"}
    assert diffs["T:gone"].kind == diffs["T:timedout"].kind == "disconnected"

    live = _live(**{"T:double": 1.0 / 3 + 1e-6, "T:enum": 3, "T:wave": np.array([1.5, -2.0, 7.0]),
                    "T:ints": np.array([1, 2], dtype=np.int16), "T:string": "other"})
    live["T:long"] = PVState(name="T:long", error="not found")
    del live["T:nan"]
    diffs = {d.name: d for d in compare(snap, live)}
    assert diffs["T:double"].kind == "different"
    assert diffs["T:enum"].kind == "different" and diffs["T:enum"].live_text == "Fault"
    assert diffs["T:wave"].kind == "different" and "index 2" in diffs["T:wave"].detail
    assert diffs["T:ints"].kind == "different" and "3 elements saved, 2 live" in diffs["T:ints"].detail
    assert diffs["T:string"].kind == "different"
    assert diffs["T:long"].kind == "missing-live" and diffs["T:nan"].kind == "missing-live"
    # Within the tolerance: equal.
    diffs = {d.name: d for d in compare(snap, live, tolerance=1e-5)}
    assert diffs["T:double"].kind == "equal"
    # An enum saved as index compares with the live index.
    snap2 = Snapshot(rows=[SnapshotRow("T:enum", "2", "NO_ALARM", "NO_ALARM", "", "ENUM", 1)])
    assert compare(snap2, _live())[0].kind == "equal"


# ----------------------------------------------------------------------------- hostile files

GOOD = "# pvprobe snapshot 2024-01-01T00:00:00+00:00\n" \
       "name,value,severity,status,timestamp,type,count,units,error\n" \
       "A:1,1.5,NO_ALARM,NO_ALARM,2024-01-01T00:00:00.000001+00:00,DOUBLE,1,V,\n" \
       "A:2,On,MINOR,STATE,,ENUM,1,,\n"


def test_minimal_and_foreign_csv_files(tmp_path):
    p = tmp_path / "s.csv"
    p.write_bytes(b"\xef\xbb\xbf" + GOOD.replace("\n", "\r\n").encode())  # Excel: BOM and CRLF
    snap = read_snapshot(p)
    assert snap.names == ["A:1", "A:2"] and snap.created == "2024-01-01T00:00:00+00:00"
    assert list(restore_plan(snap)) == [("A:1", 1.5), ("A:2", "On")]
    # Columns in another order, extra columns, no type: values put as text / numbers.
    p.write_text("Value,Name,comment\n3.5,B:1,x\nhello,B:2,y\n")
    snap = read_snapshot(p)
    assert list(restore_plan(snap)) == [("B:1", 3.5), ("B:2", "hello")]


@pytest.mark.parametrize("content, message", [
    (b"", "empty"),
    (b"\n\n  \n", "empty"),
    (b"# pvprobe snapshot 2024\n# only comments\n", "no header"),
    (b"\x00\x01\x02garbage\xff" * 50, "not a text file"),
    (("name,value\nA:1,Caf\u00e9\n").encode("latin-1"), "line 2: not UTF-8"),
    (b"hello world\nfoo\n", "not a snapshot header"),
    (b"name,value,name\nA,1,A\n", "appears twice"),
    ((GOOD + 'A:3,"unterminated,NO_ALARM\n').encode(), "line 5: bad CSV"),  # truncated
    ((GOOD + "A:3,abc,NO_ALARM,NO_ALARM,,DOUBLE,1,,\n").encode(), "line 5: bad DOUBLE value 'abc'"),
    ((GOOD + "A:3,1.5,NO_ALARM,NO_ALARM,,LONG,1,,\n").encode(), "line 5: bad LONG value"),
    ((GOOD + "A:3,1 x 3,NO_ALARM,NO_ALARM,,DOUBLE,4,,\n").encode(), "line 5: bad DOUBLE value"),
    ((GOOD + "A:3,1,NO_ALARM,NO_ALARM,,DOUBLE,many,,\n").encode(), "line 5: bad count"),
    ((GOOD + "A:3,1,NO_ALARM,NO_ALARM,,DOUBLE,-1,,\n").encode(), "line 5: bad count"),
    ((GOOD + "A:3,1,NO_ALARM,NO_ALARM,,QUAD,1,,\n").encode(), "line 5: unknown type"),
    ((GOOD + "A:3,1,SCARY,NO_ALARM,,DOUBLE,1,,\n").encode(), "line 5: unknown severity"),
    ((GOOD + "A:3,1,NO_ALARM,NO_ALARM,yesterday,DOUBLE,1,,\n").encode(), "line 5: bad timestamp"),
    ((GOOD + "A:3,1,NO_ALARM\n").encode(), "line 5: 3 fields"),
    ((GOOD + "bad name,1,NO_ALARM,NO_ALARM,,DOUBLE,1,,\n").encode(), "line 5: invalid PV name"),
    ((GOOD + "A:1,2,NO_ALARM,NO_ALARM,,DOUBLE,1,,\n").encode(), "line 5: A:1 appears twice"),
    ((GOOD + 'A:3,"[1, 2]",NO_ALARM,NO_ALARM,,STRING,3,,\n').encode(), "JSON list of strings"),
    ((GOOD + 'A:3,"__import__(\'os\')",NO_ALARM,NO_ALARM,,STRING,3,,\n').encode(), "JSON list"),
])
def test_corrupt_snapshots_give_clear_errors(tmp_path, content, message):
    p = tmp_path / "bad.csv"
    p.write_bytes(content)
    with pytest.raises(SnapshotError, match=message) as exc:
        read_snapshot(p)
    assert str(p) in str(exc.value)


def test_line_numbers_count_multiline_fields(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text(GOOD + 'A:3,"two\nlines",NO_ALARM,NO_ALARM,,STRING,1,,\nA:4,x,NO_ALARM,NO_ALARM,,DOUBLE,1,,\n')
    with pytest.raises(SnapshotError, match="line 7: bad DOUBLE"):
        read_snapshot(p)


def test_missing_directory_and_huge(tmp_path):
    with pytest.raises(SnapshotError, match="no such file"):
        read_snapshot(tmp_path / "nope.csv")
    with pytest.raises(SnapshotError, match="not a regular file"):
        read_snapshot(tmp_path)
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as fh:
        fh.truncate(snapmod.MAX_SNAPSHOT_BYTES + 1)
    # refused by its size before a byte is read: the message gives the size stat() saw
    with pytest.raises(SnapshotError, match=f"is {snapmod.MAX_SNAPSHOT_BYTES + 1} bytes, more than"):
        read_snapshot(huge)


def test_write_refuses_invalid_names(tmp_path):
    with pytest.raises(SnapshotError, match="not a valid PV name"):
        write_snapshot(tmp_path / "x.csv", Snapshot(rows=[SnapshotRow("bad name", "1")]))
    assert not (tmp_path / "x.csv").exists()


# ----------------------------------------------------------------------------- properties

@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=600))
def test_any_text_parses_or_raises_snapshoterror(text):
    try:
        parse_snapshot(text)
    except SnapshotError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["name,value,severity,status,timestamp,type,count,units,error\n",
                                 "A:1,", "1.5", ",", "NO_ALARM", "DOUBLE", "STRING", "ENUM", "CHAR",
                                 "16", "-1", '"', '""', "\n", "\r", "#", "nan", "[", '["x"]', "1 2",
                                 "2024-01-01T00:00:00", "\x00", "\u00e9"]), max_size=40))
def test_csv_like_text_parses_or_raises_snapshoterror(parts):
    try:
        snap = parse_snapshot("".join(parts))
    except SnapshotError:
        return
    restore_plan(snap)  # whatever was accepted converts without surprises


pv_names = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                                          blacklist_characters="\"'`{}"), min_size=1, max_size=30
                   ).filter(lambda n: pv_name_error(listed_name(n)) is None)   # engine keys ("pva://" alone is none)
any_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
                   max_size=30)


@st.composite
def pv_state(draw, name):
    kind = draw(st.sampled_from(["double", "long", "string", "enum", "wave", "chars", "strs", "off"]))
    common = dict(name=name, connected=True, ever_connected=True, max_count=1, count=1,
                  timestamp=draw(st.floats(0, 4e9)), units=draw(any_text.filter(lambda s: "\r" not in s)))
    if kind == "double":
        return PVState(value=draw(st.floats(allow_nan=True)), native_type="DOUBLE", **common)
    if kind == "long":
        return PVState(value=draw(st.integers(-2 ** 31, 2 ** 31 - 1)), native_type="LONG", **common)
    if kind == "string":
        return PVState(value=draw(any_text), native_type="STRING", **common)
    if kind == "enum":
        strs = tuple(draw(st.lists(any_text, min_size=1, max_size=5)))
        return PVState(value=draw(st.integers(0, len(strs) - 1)), native_type="ENUM", enum_strs=strs, **common)
    common.update(max_count=draw(st.integers(2, 64)))
    if kind == "wave":
        vals = draw(st.lists(st.floats(), max_size=10))
        return PVState(value=np.array(vals, dtype=float), native_type="DOUBLE", **common)
    if kind == "chars":
        text = draw(any_text)
        return PVState(value=np.frombuffer(text.encode() + b"\x00", dtype=np.uint8), native_type="CHAR", **common)
    if kind == "strs":
        return PVState(value=draw(st.lists(any_text, max_size=5)), native_type="STRING", **common)
    return PVState(name=name, error="not found")


@settings(max_examples=200, deadline=None)
@given(st.lists(pv_names, min_size=1, max_size=8, unique=True).flatmap(
    lambda names: st.tuples(*[pv_state(n) for n in names])))
def test_write_read_round_trip_property(states):
    snap = snapshot_from_states(states)
    back = parse_snapshot(snapmod.format_snapshot(snap))
    assert back.rows == snap.rows
    # Every saved PV compares equal with the state it was saved from.
    diffs = compare(back, {s.name: s for s in states})
    assert all(d.kind in ("equal", "disconnected") for d in diffs), diffs


# ----------------------------------------------------------------------------- demo IOC, CLI

def run(*args: str, timeout: float = 60, stdin=subprocess.DEVNULL) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvprobe", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=stdin)


def _values(engine, names):
    got = engine.read(names, timeout=5)
    for n in names:
        assert not got[n].error, (n, got[n].error)
    return got


def _set_known(engine, prefix):
    results = engine.put_many([(prefix + "ao:050", 12.25), (prefix + "ao:051", -3.5),
                               (prefix + "enum", "Standby"), (prefix + "message", 'hi, "you"'),
                               (prefix + "wave:set", [1.0, 2.5, -4.0]),
                               (prefix + "filename:set", "/data/run 7.h5")], timeout=5)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]


def test_cli_save_change_compare_restore(demo_ioc, prefix, engine, tmp_path):
    names = [prefix + n for n in ("ao:050", "ao:051", "enum", "message", "wave:set", "filename:set")]
    _set_known(engine, prefix)
    plist = tmp_path / "pvs.txt"
    plist.write_text("# my PVs\n" + "\n".join(names) + "\n")
    snap_path = tmp_path / "snap.csv"
    out = run("snapshot", "save", "--pvlist", str(plist), "-o", str(snap_path))
    assert out.returncode == 0, out.stderr
    assert "6 PVs saved, 0 not connected" in out.stderr
    rows = read_snapshot(snap_path).by_name
    assert rows[prefix + "ao:050"].value_text == "12.25"
    assert rows[prefix + "enum"].value_text == "Standby"
    assert rows[prefix + "message"].value_text == 'hi, "you"'
    assert rows[prefix + "wave:set"].value_text == "1.0 2.5 -4.0" and rows[prefix + "wave:set"].count == 16
    assert rows[prefix + "filename:set"].value_text == "/data/run 7.h5"

    out = run("snapshot", "compare", str(snap_path))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "6 equal, 0 different" in out.stderr

    # Change values: one with the CLI put, the rest in bulk.
    assert run("put", prefix + "ao:050", "99.5").returncode == 0
    results = engine.put_many([(prefix + "enum", "Fault"), (prefix + "message", "changed"),
                               (prefix + "wave:set", [7.0]), (prefix + "filename:set", "/tmp/x")], timeout=5)
    assert all(r.ok for r in results)
    out = run("snapshot", "compare", str(snap_path))
    assert out.returncode == 1
    lines = {line.split(" ", 1)[0]: line for line in out.stdout.splitlines()}
    assert set(lines) == set(names) - {prefix + "ao:051"}
    assert "saved 12.25, now 99.5" in lines[prefix + "ao:050"]
    assert "saved Standby, now Fault" in lines[prefix + "enum"]
    assert "3 elements saved, 1 live" in lines[prefix + "wave:set"]
    assert "1 equal, 5 different" in out.stderr

    # --dry-run shows the puts and changes nothing.
    out = run("snapshot", "restore", str(snap_path), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert f"{prefix}ao:050 99.5 -> 12.25" in out.stdout
    assert f"{prefix}enum Fault -> Standby" in out.stdout
    got = _values(engine, names)
    assert got[prefix + "ao:050"].value == 99.5 and got[prefix + "enum"].value == 3

    # Without --yes and without a terminal: refused, nothing changed.
    out = run("snapshot", "restore", str(snap_path))
    assert out.returncode == 2 and "--yes" in out.stderr and "Traceback" not in out.stderr
    assert _values(engine, [prefix + "ao:050"])[prefix + "ao:050"].value == 99.5

    out = run("snapshot", "restore", str(snap_path), "--yes")
    assert out.returncode == 0, out.stderr
    assert "6 PVs restored, 0 failed" in out.stderr
    got = _values(engine, names)
    assert got[prefix + "ao:050"].value == 12.25 and got[prefix + "ao:051"].value == -3.5
    assert got[prefix + "enum"].value == 1
    assert got[prefix + "message"].value == 'hi, "you"'
    assert list(got[prefix + "wave:set"].value) == [1.0, 2.5, -4.0]
    assert bytes(got[prefix + "filename:set"].value).split(b"\0")[0] == b"/data/run 7.h5"
    assert run("snapshot", "compare", str(snap_path)).returncode == 0


def test_cli_restore_selected_pvs_only(demo_ioc, prefix, engine, tmp_path):
    a, b = prefix + "ao:055", prefix + "ao:056"
    assert all(r.ok for r in engine.put_many([(a, 1.0), (b, 2.0)], timeout=5))
    snap_path = tmp_path / "s.csv"
    assert run("snapshot", "save", a, b, "-o", str(snap_path)).returncode == 0
    assert all(r.ok for r in engine.put_many([(a, 5.0), (b, 6.0)], timeout=5))
    out = run("snapshot", "restore", str(snap_path), "--yes", "--pv", a)
    assert out.returncode == 0, out.stderr
    got = _values(engine, [a, b])
    assert got[a].value == 1.0 and got[b].value == 6.0
    out = run("snapshot", "restore", str(snap_path), "--yes", "--pv", prefix + "ao:099")
    assert out.returncode == 2 and "not in the snapshot" in out.stderr


def test_cli_save_from_pvs_file_and_disconnected_rows(demo_ioc, prefix, engine, tmp_path):
    table = tmp_path / "table.pvs"
    write_pvs(table, [prefix + "ao:060", "PVPROBE:NO:SUCH:PV"], {prefix + "ao:060": "0"})
    assert engine.put_many([(prefix + "ao:060", 4.5)], timeout=5)[0].ok
    snap_path = tmp_path / "s.csv"
    out = run("snapshot", "save", "--pvlist", str(table), "-o", str(snap_path), "--timeout", "1.5")
    assert out.returncode == 1
    assert "1 PVs saved, 1 not connected" in out.stderr and "PVPROBE:NO:SUCH:PV" in out.stderr
    rows = read_snapshot(snap_path).by_name
    assert rows[prefix + "ao:060"].value_text == "4.5"
    assert rows["PVPROBE:NO:SUCH:PV"].severity == "DISCONNECTED" and "not found" in rows["PVPROBE:NO:SUCH:PV"].error
    out = run("snapshot", "compare", str(snap_path), "--timeout", "1.5")
    assert "PVPROBE:NO:SUCH:PV disconnected" in out.stdout


def test_cli_restore_reports_gone_and_readonly_pvs_and_restores_the_rest(demo_ioc, prefix, engine, tmp_path):
    snap_path = tmp_path / "s.csv"
    good = prefix + "ao:065"
    assert engine.put_many([(good, 8.0)], timeout=5)[0].ok
    write_snapshot(snap_path, Snapshot(rows=[
        SnapshotRow(good, "33.5", "NO_ALARM", "NO_ALARM", "", "DOUBLE", 1, "Torr"),
        SnapshotRow("PVPROBE:REMOVED:PV", "1.0", "NO_ALARM", "NO_ALARM", "", "DOUBLE", 1),
        SnapshotRow(prefix + "readonly", "41.0", "NO_ALARM", "NO_ALARM", "", "DOUBLE", 1),
    ]))
    out = run("snapshot", "restore", str(snap_path), "--yes", "--timeout", "2")
    assert out.returncode == 1
    err = out.stderr
    assert "PVPROBE:REMOVED:PV" in err and "not found" in err
    assert f"{prefix}readonly" in err and "read-only" in err
    assert "1 PVs restored, 2 failed" in err and "Traceback" not in err
    got = _values(engine, [good, prefix + "readonly"])
    assert got[good].value == 33.5 and got[prefix + "readonly"].value == 42.0


def test_cli_bad_files_are_clear_errors(demo_ioc, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"\x00\xff" * 100)
    for action in ("restore", "compare"):
        out = run("snapshot", action, str(bad), "--yes" if action == "restore" else "--all", timeout=30)
        assert out.returncode == 2 and "not a text file" in out.stderr and "Traceback" not in out.stderr
    bomb = tmp_path / "bomb.pvs"
    bomb.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><pvtable/>')
    out = run("snapshot", "save", "--pvlist", str(bomb), "-o", str(tmp_path / "o.csv"), timeout=30)
    assert out.returncode == 2 and "not allowed" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "o.csv").exists()
    out = run("snapshot", "save", "-o", str(tmp_path / "o.csv"), timeout=30)
    assert out.returncode == 2 and "no PVs" in out.stderr
