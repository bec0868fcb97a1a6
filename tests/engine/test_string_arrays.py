"""STRING arrays, every element everywhere, on both kinds of server: an EPICS base
soft IOC (waveform FTVL=STRING, fixture ``softioc_strings``) and a caproto server
(``pvproperty(dtype=STRING, max_length=5)``, fixture ``caproto_ioc``). Both serve
``strs`` = ``['string1', 'string2']`` with room for 5 and writable ``wstrs:0..9``.

Each test that writes uses its own ``wstrs:N`` and puts a known value first."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pvprobe.core.format import format_value
from pvprobe.core.putvalue import PutValueError, coerce_put_value
from pvprobe.core.pvstate import PVState

pytestmark = pytest.mark.timeout(120)

START = ["string1", "string2"]
#: spaces, a comma, quotes of both kinds, an empty element, a backslash, non-ASCII
AWKWARD = ["a b", 'c,"d"', "", "it's \\ ü", "x" * 39]


@pytest.fixture(params=["softioc", "caproto"])
def server(request: pytest.FixtureRequest) -> Any:
    """Each test runs against both servers."""
    return request.getfixturevalue("softioc_strings" if request.param == "softioc" else "caproto_ioc")


@pytest.fixture
def eng(server: Any) -> Iterator[Any]:
    from pvprobe.ca.engine import Engine

    e = Engine(tick_hz=20)
    yield e
    e.close()


def run(*args: str, timeout: float = 30, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvprobe", *args], capture_output=True, text=True,
                          timeout=timeout, input=stdin)


def put(eng: Any, name: str, value: list[str]) -> None:
    res = eng.put_wait(name, value, timeout=10, connect_timeout=10)
    assert res.ok, res.error


def value_of(eng: Any, name: str) -> Any:
    st = eng.read([name], timeout=10)[name]
    assert not st.error, st.error
    return st.value


def eventually(eng: Any, name: str, value: Any, timeout: float = 10.0) -> Any:
    """The IOC's value once it equals ``value`` (or the last one read, at the deadline).
    A caproto server applies a plain put (no callback) in a task of its own: a get that
    follows it may still see the old value."""
    import time

    deadline = time.monotonic() + timeout
    got = value_of(eng, name)
    while got != value and time.monotonic() < deadline:
        time.sleep(0.05)  # ok-sleep: bounded poll of the IOC's value
        got = value_of(eng, name)
    return got


# -- engine: read and monitor ---------------------------------------------------------------

def test_read_gives_every_element_with_and_without_metadata(server, eng):
    name = server.prefix + "strs"
    st = eng.read([name], timeout=10)[name]
    assert (st.value, st.count, st.max_count, st.native_type) == (START, 2, 5, "STRING")
    again = eng.read([name], timeout=10)[name]           # already open: a second get
    assert again.value == START
    from pvprobe.ca.engine import Engine

    light = Engine()
    try:
        assert light.read([name], timeout=10, metadata=False)[name].value == START
    finally:
        light.close()


def test_monitor_follows_every_element_as_the_length_changes(server, eng):
    name = server.prefix + "wstrs:0"
    put(eng, name, START)
    seen: list = []
    mon = type(eng)(tick_hz=50)
    try:
        mon.add([name], keep_all=True)

        def on_batch(batch) -> None:
            for st in batch.states:
                seen.extend(v for _, v, _ in st.samples)
            mon.batch_done()

        mon.start(on_batch)
        import time

        deadline = time.monotonic() + 15
        while START not in seen and time.monotonic() < deadline:
            time.sleep(0.02)  # ok-sleep: bounded poll of what the worker delivered
        assert START in seen and all(v == START for v in seen), seen
        for value in (AWKWARD, ["only"], AWKWARD[:3]):
            put(eng, name, value)
            deadline = time.monotonic() + 15
            while value not in seen and time.monotonic() < deadline:
                time.sleep(0.02)  # ok-sleep: bounded poll of what the worker delivered
            assert value in seen, (value, seen[-3:])
        assert all(isinstance(v, list) and len(v) > 1 or v == ["only"] for v in seen), seen
    finally:
        mon.close()


# -- the command line -----------------------------------------------------------------------

def test_cli_get_json_info_monitor_show_every_element(server):
    name = server.prefix + "strs"
    out = run("get", name)
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{name} 2 string1 string2\n"
    out = run("get", "--json", name)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)[0]
    assert (d["value"], d["count"], d["text"]) == (START, 2, "2 string1 string2")
    out = run("info", name)
    assert out.returncode == 0, out.stderr
    assert "Element count:    5 (valid now: 2)" in out.stdout
    assert "Value:            [2] string1 string2\n" in out.stdout
    out = run("monitor", "-n", "1", "--duration", "20", name)
    assert out.returncode == 0, out.stderr
    assert out.stdout.rstrip("\n").endswith(" 2 string1 string2"), out.stdout


def test_cli_put_writes_each_argument_as_one_element(server, eng):
    name = server.prefix + "wstrs:1"
    put(eng, name, START)
    out = run("put", "--wait", name, "a b", "c")
    assert out.returncode == 0, out.stderr
    assert out.stdout == f"{name} 2 string1 string2 -> 2 a b c\n"
    assert value_of(eng, name) == ["a b", "c"]
    out = run("put", name, "one text")          # one argument: one element (as caput)
    assert out.returncode == 0, out.stderr
    assert eventually(eng, name, ["one text"]) == ["one text"]
    out = run("put", name, *AWKWARD)
    assert out.returncode == 0, out.stderr
    assert eventually(eng, name, AWKWARD) == AWKWARD
    d = json.loads(run("get", "--json", name).stdout)[0]
    assert d["value"] == AWKWARD and d["count"] == len(AWKWARD)


def test_cli_put_refuses_too_many_elements_and_long_strings_before_sending(server, eng):
    name = server.prefix + "wstrs:2"
    put(eng, name, START)
    before = eng.read([name], timeout=10)[name]
    out = run("put", name, *"abcdef")
    assert out.returncode == 1
    assert f"{name}: 6 elements do not fit NELM 5" in out.stderr
    out = run("put", name, "ok", "y" * 40)
    assert out.returncode == 1
    assert "string of 40 bytes is longer than 39" in out.stderr
    after = eng.read([name], timeout=10)[name]
    assert after.value == START and after.timestamp == before.timestamp   # nothing was written


# -- snapshots --------------------------------------------------------------------------------

def test_snapshot_save_compare_restore_round_trip(server, eng, tmp_path: Path):
    name, other = server.prefix + "wstrs:3", server.prefix + "strs"
    put(eng, name, AWKWARD)
    snap = tmp_path / "s.csv"
    out = run("snapshot", "save", "-o", str(snap), name, other)
    assert out.returncode == 0, out.stderr
    out = run("snapshot", "compare", str(snap))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 equal, 0 different" in out.stderr

    put(eng, name, ["changed"])
    out = run("snapshot", "compare", str(snap))
    assert out.returncode == 1
    assert f"{name} different:" in out.stdout and "5 elements saved, 1 live" in out.stdout

    out = run("snapshot", "restore", "--yes", str(snap))
    assert out.returncode == 0, out.stdout + out.stderr
    assert value_of(eng, name) == AWKWARD and value_of(eng, other) == START
    out = run("snapshot", "compare", str(snap))
    assert out.returncode == 0 and "2 equal, 0 different" in out.stderr


# -- the GUI: table and probe panel -----------------------------------------------------------

@pytest.fixture
def bridge_on(qtbot, eng) -> Iterator[Any]:
    from pvprobe.qt.bridge import EngineBridge

    br = EngineBridge(eng)
    br.start()
    yield br
    br.stop()


def test_table_shows_and_edits_every_element(qtbot, server, eng, bridge_on):
    from PyQt5.QtCore import Qt
    from PyQt5.QtWidgets import QLineEdit

    from pvprobe.ca.engine import Engine
    from pvprobe.qt.table.pvtable_model import Col
    from pvprobe.qt.table.table_widget import PVTableWidget

    name, fixed = server.prefix + "wstrs:4", server.prefix + "strs"
    reader = Engine()
    try:
        put(reader, name, START)
        w = PVTableWidget(bridge_on)
        w.confirm_puts = False
        qtbot.addWidget(w)
        w.show()
        w.add_pvs([fixed, name])

        def text(n: str) -> str:
            return w.model.data(w.model.index(w.model.row_of(n), int(Col.VALUE)), Qt.DisplayRole) or ""

        qtbot.waitUntil(lambda: text(fixed) == text(name) == "[2] string1 string2", timeout=15000)
        src = w.model.index(w.model.row_of(name), int(Col.VALUE))
        idx = w.proxy.mapFromSource(src)
        qtbot.waitUntil(lambda: bool(w.proxy.flags(idx) & Qt.ItemIsEditable), timeout=5000)
        assert w.view.edit(idx, w.view.EditKeyPressed, None)
        editor = w.view.indexWidget(idx)
        assert isinstance(editor, QLineEdit) and editor.text() == "string1 string2"
        editor.selectAll()
        qtbot.keyClicks(editor, '"a b" "" c')
        qtbot.keyClick(editor, Qt.Key_Return)
        qtbot.waitUntil(lambda: text(name) == '[3] "a b" "" c', timeout=15000)
        assert value_of(reader, name) == ["a b", "", "c"]
        w.close_pvs()
    finally:
        reader.close()


def test_probe_panel_shows_and_puts_every_element(qtbot, server, eng, bridge_on):
    from pvprobe.ca.engine import Engine
    from pvprobe.qt.probe.probe_panel import ProbePanel

    name = server.prefix + "wstrs:5"
    reader = Engine()
    try:
        put(reader, name, START)
        p = ProbePanel(bridge_on, name)
        p.confirm_puts = False
        qtbot.addWidget(p)
        p.show()
        qtbot.waitUntil(lambda: p.value_label.text() == "[2] string1 string2", timeout=15000)
        ed = p.editor
        qtbot.waitUntil(lambda: ed.kind == "array", timeout=5000)
        assert "texts of at most 39 bytes" in ed.hint.text()
        ed.set_value_text("a b c d e f")
        assert ed.submit() is False and "6 elements do not fit NELM 5" in ed.message_text
        ed.set_value_text('"unterminated')
        assert ed.submit() is False and "unterminated" in ed.message_text
        ed.set_value_text('"x y" ""')
        assert ed.submit()
        qtbot.waitUntil(lambda: p.value_label.text() == '[2] "x y" ""', timeout=15000)
        assert value_of(reader, name) == ["x y", ""]
        p.close_pv()
    finally:
        reader.close()


def test_window_snapshot_compare_and_restore(qtbot, server, eng, bridge_on, tmp_path: Path, monkeypatch):
    from conftest import show_main_window
    from PyQt5.QtWidgets import QDialog

    from pvprobe.ca.engine import Engine
    from pvprobe.qt.table.pvtable_model import DIFF_ROLE, Col
    from pvprobe.qt.table.snapshot_ui import RestoreConfirmDialog

    name, fixed = server.prefix + "wstrs:6", server.prefix + "strs"
    reader = Engine()
    try:
        put(reader, name, AWKWARD)
        win = show_main_window(qtbot, bridge_on, tmp_path / "s.ini")
        win.add_pvs([name, fixed])
        model = win.model

        def value(n: str) -> Any:
            st = model.state(model.row_of(n))
            return st.value if st is not None else None

        def diff(n: str) -> Any:
            return model.data(model.index(model.row_of(n), int(Col.SAVED)), DIFF_ROLE)

        qtbot.waitUntil(lambda: value(name) == AWKWARD and value(fixed) == START, timeout=15000)
        snap_path = str(tmp_path / "snap.csv")
        assert win.snapshots.save_snapshot(snap_path) is not None
        diffs = win.snapshots.compare_snapshot(snap_path)
        assert [d.kind for d in diffs] == ["equal", "equal"]
        qtbot.waitUntil(lambda: diff(name) is False and diff(fixed) is False, timeout=5000)

        put(reader, name, ["changed", ""])
        qtbot.waitUntil(lambda: value(name) == ["changed", ""], timeout=15000)
        diffs = win.snapshots.compare_snapshot(snap_path)
        assert {d.name: d.kind for d in diffs} == {name: "different", fixed: "equal"}
        qtbot.waitUntil(lambda: diff(name) is True and diff(fixed) is False, timeout=5000)

        shown: list = []

        def accept(dlg: Any) -> int:
            shown.append(dlg.rows())
            return QDialog.Accepted
        monkeypatch.setattr(RestoreConfirmDialog, "exec_", accept)
        assert win.snapshots.restore_snapshot(snap_path)
        row = {r[0]: r for r in shown[0]}[name]
        assert row[1] == '[2] changed ""' and row[2] == '[5] "a b" c,"d" "" "it\'s \\\\ ü" ' + "x" * 39
        qtbot.waitUntil(lambda: not win.snapshots.restoring, timeout=20000)
        assert all(r.ok for r in win.snapshots.last_restore_results)
        qtbot.waitUntil(lambda: value(name) == AWKWARD and diff(name) is False, timeout=15000)
        assert value_of(reader, name) == AWKWARD
    finally:
        reader.close()


# -- plain units ------------------------------------------------------------------------------

def test_saved_values_of_string_arrays_compare_element_by_element():
    from pvprobe.core.values import values_differ
    from pvprobe.qt.app.file_actions import saved_text

    st = PVState(name="S", value=["a b", "", "c"], native_type="STRING", max_count=5, count=3,
                 connected=True, ever_connected=True)
    assert values_differ(st, json.dumps(["a b", "", "c"])) is False      # a snapshot's value
    assert values_differ(st, json.dumps(["a b", "c"])) is True
    assert values_differ(st, saved_text(["a b", "", "c"])) is False      # a .pvs file's items
    assert values_differ(st, saved_text(["a", "b", "", "c"])) is True
    assert values_differ(st, '[3] "a b" "" c') is False                  # the table's summary
    assert values_differ(st, '"unterminated') is True
    assert saved_text(["1", "2.5"]) == "1 2.5"



def test_string_items_text_round_trips():
    from pvprobe.core.strarray import split_string_items, string_items_text

    for items in (AWKWARD, START, [""], ["  "], ['"'], ["\t"], ["a\nb"], []):
        assert split_string_items(string_items_text(items)) == items
    assert string_items_text(AWKWARD) == '"a b" c,"d" "" "it\'s \\\\ ü" ' + "x" * 39
    assert string_items_text(["a"] * 10, preview=8) == " ".join(["a"] * 8) + " ..."
    for bad in ('"open', '"a"b', 'x "', '"\\q"'):
        with pytest.raises(ValueError):
            split_string_items(bad)


def test_format_and_editor_text_of_string_arrays():
    from pvprobe.core.putvalue import text_put_value

    st = PVState(name="S", value=["a b", "", "c"], native_type="STRING", max_count=5, count=3,
                 connected=True)
    assert format_value(st) == '[3] "a b" "" c'
    assert format_value(st, preview=1) == '[3] "a b" ...'
    assert text_put_value(st, '"a b" "" c') == ["a b", "", "c"]
    scalar = PVState(name="s", value="a b", native_type="STRING", max_count=1, connected=True)
    assert text_put_value(scalar, "a b") == "a b" and format_value(scalar) == "a b"
    with pytest.raises(PutValueError, match="unterminated"):
        text_put_value(st, '"a')
    assert coerce_put_value(st, ["a"] * 5)[1] == ["a"] * 5
    with pytest.raises(PutValueError, match="6 elements do not fit NELM 5"):
        coerce_put_value(st, ["a"] * 6)
