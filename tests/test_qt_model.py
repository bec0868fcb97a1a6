"""PV table model, bridge and main window, fed by a fake engine with synthetic PVStates."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PyQt5.QtCore import Qt, QThread
from PyQt5.QtGui import QColor, QFont, QImage
from PyQt5.QtWidgets import QApplication, QMessageBox

from pvprobe.core.batch import Batch, PutResult
from pvprobe.core.pvstate import PVState
from pvprobe.qt.app import run_gui
from pvprobe.qt.bridge import EngineBridge
from pvprobe.qt.diagnostics import LoopLatency, RunStats
from pvprobe.qt.main_window import MainWindow
from pvprobe.qt.pvtable_model import STATE_ROLE, Col, PVTableModel


# -- a fake engine with the Engine's duck-typed interface ------------------------------
class FakeEngine:
    """Records commands; ``feed`` delivers a Batch like the worker would."""

    def __init__(self) -> None:
        self.on_batch = None
        self.added: list[str] = []
        self.removed: list[str] = []
        self.puts: list[tuple] = []
        self.done = 0
        self.started = False
        self.stopped = False
        self.seq = 0
        self.updates = 0

    def start(self, on_batch) -> None:
        self.started = True
        self.on_batch = on_batch

    def batch_done(self) -> None:
        self.done += 1

    def add(self, names) -> None:
        self.added.extend(names)

    def remove(self, names) -> None:
        self.removed.extend(names)

    def put(self, name, value, timeout=10.0) -> int:
        self.puts.append((name, value, timeout))
        return len(self.puts)

    def stop(self) -> None:
        self.stopped = True

    def make_batch(self, states, put_results=()) -> Batch:
        self.seq += 1
        self.updates += len(states)
        return Batch(seq=self.seq, states=list(states), put_results=list(put_results),
                     updates_received=self.updates, pvs=len(self.added) - len(self.removed),
                     connected=sum(s.connected for s in states))

    def feed_from_thread(self, states, put_results=()) -> None:
        """Call on_batch from a worker thread, as the real engine does."""
        batch = self.make_batch(states, put_results)
        t = threading.Thread(target=self.on_batch, args=(batch,))
        t.start()
        t.join()


def live(name: str, value, **kw) -> PVState:
    kw.setdefault("native_type", "DOUBLE" if isinstance(value, float) else "LONG")
    kw.setdefault("max_count", 1)
    kw.setdefault("count", 1)
    return PVState(name=name, connected=True, ever_connected=True, value=value,
                   read_access=True, write_access=True, monitored=True,
                   timestamp=kw.pop("timestamp", 1_700_000_000.25), host="127.0.0.1:5064", **kw)


def sample_states() -> list[PVState]:
    text = np.frombuffer(b"hello world\x00junk" + b"\x00" * 20, dtype=np.uint8)
    return [
        live("TEST:ai", 1.23456, precision=3, units="mm"),
        live("TEST:mbbi", 1, native_type="ENUM", enum_strs=("Off", "On")),
        live("TEST:msg", text, native_type="CHAR", max_count=text.size, count=text.size),
        live("TEST:wave", np.arange(10.0), native_type="DOUBLE", max_count=10, count=10, precision=1),
        live("TEST:minor", 5.0, precision=2, severity=1, status=4, units="V"),
        live("TEST:major", 9.0, precision=2, severity=2, status=3, units="V"),
        live("TEST:invalid", 0.0, precision=2, severity=3, status=17, units="V"),
        PVState(name="TEST:gone", connected=False, ever_connected=True, value=42.5,
                precision=1, native_type="DOUBLE", max_count=1, units="A",
                timestamp=1_700_000_000.0),
        PVState(name="TEST:ro", connected=True, ever_connected=True, value=7, native_type="LONG",
                max_count=1, read_access=True, write_access=False, timestamp=1_700_000_001.5),
    ]


@pytest.fixture
def model(qtbot):
    m = PVTableModel()
    states = sample_states()
    m.add_names([s.name for s in states] + ["TEST:never"])
    m.apply_batch(Batch(seq=1, states=states))
    return m


def cell(m: PVTableModel, name: str, col: Col, role=Qt.DisplayRole):
    return m.data(m.index(m.row_of(name), int(col)), role)


# -- model --------------------------------------------------------------------------------
def test_values_formatted(model):
    assert cell(model, "TEST:ai", Col.VALUE) == "1.235"
    assert cell(model, "TEST:ai", Col.UNITS) == "mm"
    assert cell(model, "TEST:ai", Col.TIMESTAMP).endswith(".250")
    assert cell(model, "TEST:ai", Col.VALUE, Qt.TextAlignmentRole) & Qt.AlignRight
    assert cell(model, "TEST:mbbi", Col.VALUE) == "On"
    assert cell(model, "TEST:mbbi", Col.UNITS) == ""
    assert not cell(model, "TEST:mbbi", Col.VALUE, Qt.TextAlignmentRole) & Qt.AlignRight
    assert cell(model, "TEST:msg", Col.VALUE) == "hello world"
    assert cell(model, "TEST:wave", Col.VALUE).startswith("[10] 0.0 1.0 2.0")
    assert cell(model, "TEST:ai", Col.SEVERITY) == "NO_ALARM"
    assert cell(model, "TEST:ai", Col.CONNECTION) == "connected"
    assert cell(model, "TEST:ro", Col.CONNECTION) == "connected, read-only"
    st = cell(model, "TEST:ai", Col.NAME, STATE_ROLE)
    assert isinstance(st, PVState) and st.name == "TEST:ai"
    tip = cell(model, "TEST:wave", Col.VALUE, Qt.ToolTipRole)
    assert "9.0" in tip       # the tooltip shows the full array


def test_never_connected_reads_connecting(model):
    assert cell(model, "TEST:never", Col.VALUE) == "connecting…"
    assert cell(model, "TEST:never", Col.CONNECTION) == "connecting…"
    assert cell(model, "TEST:never", Col.NAME, Qt.FontRole).italic()


def _colour(model, name, col, role) -> QColor:
    brush = cell(model, name, col, role)
    assert brush is not None, (name, col, role)
    return brush.color()


def test_alarm_colours_and_text(model):
    for col in (Col.VALUE, Col.SEVERITY):
        assert cell(model, "TEST:ai", col, Qt.BackgroundRole) is None
        minor = _colour(model, "TEST:minor", col, Qt.BackgroundRole)
        assert minor.red() > 200 and minor.green() > 180 and minor.blue() < 150   # yellow
        major = _colour(model, "TEST:major", col, Qt.BackgroundRole)
        assert major.red() > 180 and major.green() < 100 and major.blue() < 100   # red
        inv = _colour(model, "TEST:invalid", col, Qt.BackgroundRole)
        assert inv.red() > 120 and inv.blue() > 120 and inv.green() < 100         # purple
    # readable without colour
    assert cell(model, "TEST:minor", Col.SEVERITY) == "▲ MINOR"
    assert cell(model, "TEST:major", Col.SEVERITY) == "✖ MAJOR"
    assert "INVALID" in cell(model, "TEST:invalid", Col.SEVERITY)
    assert cell(model, "TEST:minor", Col.STATUS) == "HIGH"
    # other columns stay uncoloured
    assert cell(model, "TEST:major", Col.NAME, Qt.BackgroundRole) is None


def test_disconnected_row_grey_italic_with_marker(model):
    name = "TEST:gone"
    assert cell(model, name, Col.VALUE) == "42.5"            # last value still visible ...
    assert cell(model, name, Col.CONNECTION) == "DISCONNECTED"
    assert "DISCONNECTED" in cell(model, name, Col.SEVERITY)
    assert "DISCONNECTED" in cell(model, name, Col.VALUE, Qt.ToolTipRole)
    for col in Col:                                            # ... but never as if live
        grey = _colour(model, name, col, Qt.ForegroundRole)
        assert grey.red() == grey.green() == grey.blue() and 90 < grey.red() < 200
        font = cell(model, name, col, Qt.FontRole)
        assert isinstance(font, QFont) and font.italic()
    # a disconnected PV in alarm does not keep its alarm colour
    st = sample_states()[5]
    st.connected = False
    model.apply_batch(Batch(seq=2, states=[st]))
    assert cell(model, "TEST:major", Col.VALUE, Qt.BackgroundRole) is None


def test_counters(model):
    n = model.rowCount()
    assert n == 10
    assert model.connected_count == 8 and model.valued_count == 9
    gone = sample_states()[0]
    gone.connected = False
    model.apply_batch(Batch(seq=2, states=[gone]))
    assert model.connected_count == 7
    model.remove_rows([model.row_of("TEST:ai"), model.row_of("TEST:never")])
    assert model.rowCount() == 8 and model.connected_count == 7 and model.valued_count == 8


def test_add_duplicates_and_remove_rows(qtbot):
    m = PVTableModel()
    assert m.add_names(["A", "B", "A", "C"]) == ["A", "B", "C"]
    assert m.add_names(["B", "D"]) == ["D"]
    assert m.remove_rows([3, 1, 1, 99]) == ["B", "D"]
    assert m.names() == ["A", "C"]
    assert m.row_of("C") == 1 and m.row_of("B") is None
    # updates for removed names are ignored
    m.apply_batch(Batch(seq=1, states=[live("B", 1.0), live("C", 2.0)]))
    assert m.state(1).value == 2.0


def test_one_datachanged_per_batch_5000_rows(qtbot):
    m = PVTableModel()
    names = [f"BIG:{i:05d}" for i in range(5000)]
    m.add_names(names)
    spans = []
    m.dataChanged.connect(lambda tl, br, roles=(): spans.append((tl.row(), br.row(), tl.column(), br.column())))
    states = [live(n, float(i)) for i, n in enumerate(names)]
    states.reverse()
    m.apply_batch(Batch(seq=1, states=states))
    assert spans == [(0, 4999, 0, len(Col) - 1)]
    spans.clear()
    m.apply_batch(Batch(seq=2, states=[live(names[4000], 1.0), live(names[10], 2.0)]))
    assert spans == [(10, 4000, 0, len(Col) - 1)]
    spans.clear()
    m.apply_batch(Batch(seq=3, states=[]))
    assert spans == []
    assert m.connected_count == 5000


# -- bridge ---------------------------------------------------------------------------------
def test_bridge_queues_to_gui_thread_and_acks_once(qtbot):
    engine = FakeEngine()
    bridge = EngineBridge(engine)
    threads = []
    bridge.add_consumer(lambda b: threads.append(QThread.currentThread()))

    def broken(batch):
        raise RuntimeError("consumer bug")
    bridge.add_consumer(broken)
    bridge.start()
    assert engine.started
    engine.feed_from_thread([live("X", 1.0)])
    qtbot.waitUntil(lambda: engine.done == 1, timeout=2000)
    assert threads == [QApplication.instance().thread()]
    assert bridge.batches_applied == 1 and bridge.updates_received == 1
    assert bridge.consumer_errors == 1
    engine.feed_from_thread([live("X", 2.0), live("Y", 1.0)])
    qtbot.waitUntil(lambda: engine.done == 2, timeout=2000)
    qtbot.wait(20)
    assert engine.done == 2 and bridge.updates_received == 3
    # commands are forwarded
    bridge.add(["A"])
    bridge.remove(["A"])
    assert bridge.put("A", 3, timeout=1.0) == 1
    assert engine.added == ["A"] and engine.removed == ["A"] and engine.puts == [("A", 3, 1.0)]
    bridge.stop()
    assert engine.stopped


# -- main window ------------------------------------------------------------------------------
@pytest.fixture
def window(qtbot):
    engine = FakeEngine()
    bridge = EngineBridge(engine)
    win = MainWindow(bridge)
    qtbot.addWidget(win)
    win.resize(1100, 700)
    bridge.start()
    return win, engine


def test_paste_with_junk_lines(window):
    win, engine = window
    win.add_pvs(["SR:current"])
    text = "SR:current\nTEST:ai\n\nTEST:bo, TEST:mbbi;bad\"name\n  ca://TEST:calc\t\n{junk}\n"
    win.entry.setText(text)
    win.entry.returnPressed.emit()
    assert win.model.names() == ["SR:current", "TEST:ai", "TEST:bo", "TEST:mbbi", "TEST:calc"]
    assert engine.added == win.model.names()
    msg = win.statusBar().currentMessage()
    assert "Added 4 PVs" in msg and "1 already shown" in msg and "2 names rejected" in msg
    assert "{junk}" in msg
    assert win.entry.text() == 'bad"name {junk}'   # only the rejects stay to be fixed


def test_status_counts_from_batches(window, qtbot):
    win, engine = window
    win.add_pvs(["A", "B", "C"])
    assert win.counts_label.text() == "3 PVs, 0 connected, 0 updates"
    engine.feed_from_thread([live("A", 1.0), live("B", 2.0)])
    qtbot.waitUntil(lambda: engine.done == 1, timeout=2000)
    assert win.counts_label.text() == "3 PVs, 2 connected, 2 updates"


def test_remove_selected_rows(window, qtbot):
    win, engine = window
    win.add_pvs([f"R:{i}" for i in range(6)])
    with qtbot.waitActive(win):
        win.show()
        win.activateWindow()
    win.table.selectRow(1)
    sm = win.table.selectionModel()
    sm.select(win.model.index(4, 0), sm.Select | sm.Rows)
    win.table.setFocus()
    qtbot.keyClick(win.table, Qt.Key_Delete)
    assert win.model.names() == ["R:0", "R:2", "R:3", "R:5"]
    assert engine.removed == ["R:1", "R:4"]
    assert "Remove" in [a.text() for a in win.table.actions()]
    assert win.counts_label.text().startswith("4 PVs")


def test_open_pv_list(window, tmp_path, monkeypatch):
    win, engine = window
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    assert win.open_pv_list(str(tmp_path / "missing.txt")) is None
    assert warnings and "missing.txt" in warnings[0]
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"A\x00B")
    assert win.open_pv_list(str(binary)) is None and len(warnings) == 2
    good = tmp_path / "list.txt"
    good.write_text("# comment\nL:1\nL:2 # trailing\n\nL:1\nbad name\n")
    parsed = win.open_pv_list(str(good))
    assert parsed is not None and win.model.names() == ["L:1", "L:2"]
    assert "1 name rejected" in win.statusBar().currentMessage()


def test_copy_selected(window, qtbot):
    win, engine = window
    win.add_pvs(["C:1"])
    engine.feed_from_thread([live("C:1", 2.5, precision=2)])
    qtbot.waitUntil(lambda: engine.done == 1, timeout=2000)
    win.table.selectRow(0)
    assert win.copy_selected() == "C:1\t2.50"


def _fill_for_screenshot(win, engine, qtbot):
    states = sample_states()
    win.add_pvs([s.name for s in states] + ["TEST:never"])
    engine.feed_from_thread(states)
    qtbot.waitUntil(lambda: engine.done >= 1, timeout=2000)


def test_screenshot_not_blank(window, qtbot, tmp_path):
    win, engine = window
    with qtbot.waitExposed(win):
        win.show()
    _fill_for_screenshot(win, engine, qtbot)
    path = tmp_path / "shot.png"
    assert win.grab().save(str(path))
    img = QImage(str(path)).convertToFormat(QImage.Format_RGB32)
    assert img.width() >= 1000 and img.height() >= 600
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    px = np.frombuffer(ptr, dtype=np.uint32).reshape(img.height(), -1)
    colours = np.unique(px)
    assert colours.size > 20, "screenshot looks blank"
    # the alarm colours really are painted
    for rgb in ((255, 221, 87), (214, 48, 49), (156, 39, 176)):
        assert (0xFF000000 | rgb[0] << 16 | rgb[1] << 8 | rgb[2]) in set(colours.tolist()), rgb
    extra = os.environ.get("PVPROBE_SHOT")
    if extra:
        win.grab().save(extra)


# -- app + diagnostics --------------------------------------------------------------------------
def test_run_gui_quits_saves_shot_and_stats(qtbot, tmp_path):
    engine = FakeEngine()
    names = ["G:1", "G:2"]

    def start(on_batch):
        engine.started = True
        engine.on_batch = on_batch
        engine.feed_from_thread([live("G:1", 1.0)])
        engine.feed_from_thread([live("G:2", 2.0)])
    engine.start = start
    exited = []
    shot, stats_path = tmp_path / "app.png", tmp_path / "stats.json"
    code = run_gui(engine, names, screenshot=str(shot), quit_after=0.4,
                   stats_path=str(stats_path), on_exit=lambda: exited.append(True))
    assert code == 0 and engine.stopped and exited == [True]
    assert engine.added == names and engine.done == 2
    assert QImage(str(shot)).width() >= 1000
    stats = json.loads(stats_path.read_text())
    assert set(stats) == {"pvs", "connected", "seconds_to_all_connected", "seconds_to_all_values",
                          "updates_received", "batches_applied", "loop_lateness_ms_p99",
                          "loop_lateness_ms_max", "rss_mb", "views"}
    assert stats["pvs"] == 2 and stats["connected"] == 2 and stats["batches_applied"] == 2
    assert 0 <= stats["seconds_to_all_connected"] < 5 and stats["seconds_to_all_values"] is not None
    assert stats["loop_lateness_ms_p99"] is not None and stats["rss_mb"] > 10


def test_run_stats_null_when_never_reached(qtbot, tmp_path):
    m = PVTableModel()
    m.add_names(["N:1", "N:2"])
    bridge = EngineBridge(FakeEngine())
    stats = RunStats(m, bridge)
    m.apply_batch(Batch(seq=1, states=[live("N:1", 1.0)]))
    stats.on_batch()
    d = stats.write(tmp_path / "s.json")
    assert d["seconds_to_all_connected"] is None and d["seconds_to_all_values"] is None
    assert json.loads((tmp_path / "s.json").read_text())["loop_lateness_ms_p99"] is None


def test_loop_latency(qtbot):
    lat = LoopLatency()
    lat.start()
    qtbot.wait(150)
    lat.stop()
    assert len(lat.samples) >= 3
    assert 0 <= lat.p99_ms() <= lat.max_ms()


def test_qt_package_does_not_import_epics():
    code = ("import sys; import pvprobe.qt.app, pvprobe.qt.main_window, pvprobe.qt.diagnostics; "
            "assert 'epics' not in sys.modules, 'pvprobe.qt imported epics'")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_put_result_reported(window, qtbot):
    win, engine = window
    win.add_pvs(["P:1"])
    assert win.bridge.put("P:1", 5) == 1
    engine.feed_from_thread([], [PutResult(name="P:1", value=5, ok=False, error="no write access")])
    qtbot.waitUntil(lambda: engine.done == 1, timeout=2000)
    assert "no write access" in win.statusBar().currentMessage()
