"""PV table model, bridge, main window and run_gui.

The model tests feed hand-made PVStates straight into ``PVTableModel.apply_batch``
(no CA involved). Everything with an engine runs the real ``Engine`` against the
demo IOC: no stand-in for the CA layer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np
import pytest
from PyQt5.QtCore import Qt, QThread, QTimer
from PyQt5.QtGui import QColor, QFont, QImage
from PyQt5.QtWidgets import QApplication, QMessageBox

from pvprobe.ca.engine import Engine
from pvprobe.core.batch import Batch
from pvprobe.core.pvstate import PVState
from pvprobe.qt.app.app import run_gui
from pvprobe.qt.app.diagnostics import LoopLatency, RunStats
from pvprobe.qt.app.main_window import MainWindow
from pvprobe.qt.bridge import EngineBridge
from pvprobe.qt.table.pvtable_model import STATE_ROLE, Col, PVTableModel


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


# -- helpers on the real engine -----------------------------------------------------------------
#: ao records of the demo IOC this file may write (other test files own the rest).
ALARM_AO = {"ao:040": ("HIGH", "HSV", "MINOR", 1), "ao:041": ("HIHI", "HHSV", "MAJOR", 2),
            "ao:042": ("HIHI", "HHSV", "INVALID", 3)}
BRIDGE_PUT_AO = "ao:043"


def _put_sync(items: list[tuple[str, object]]) -> None:
    """Put with a second, synchronous Engine (no worker) and wait for every completion."""
    eng = Engine()
    try:
        results = eng.put_many(items, timeout=10.0, connect_timeout=10.0)
    finally:
        eng.close()
    failed = [r for r in results if not r.ok]
    assert not failed, failed


def _read_sync(names: list[str]) -> dict[str, PVState]:
    """Read values straight from the IOC with a second, synchronous Engine."""
    eng = Engine()
    try:
        return eng.read(names, timeout=10.0)
    finally:
        eng.close()


def _count_acks(engine) -> list:
    """A pass-through spy on ``engine.batch_done``: the real method still runs."""
    acks: list = []
    real = engine.batch_done

    def batch_done() -> None:
        acks.append(None)
        real()
    engine.batch_done = batch_done
    return acks


def _state(win, name: str) -> PVState | None:
    row = win.model.row_of(name)
    return None if row is None else win.model.state(row)


# -- bridge ---------------------------------------------------------------------------------
def test_bridge_queues_to_gui_thread_and_acks_once(qtbot, engine, prefix):
    acks = _count_acks(engine)
    bridge = EngineBridge(engine)
    seen = []   # per batch, in the first consumer: (thread, seq, acks so far, applied so far, sent)
    bridge.add_consumer(lambda b: seen.append((QThread.currentThread(), b.seq, len(acks),
                                               bridge.batches_applied, engine.stats.batches_sent)))

    def broken(batch):
        raise RuntimeError("consumer bug")
    bridge.add_consumer(broken)
    bridge.start()
    sine = prefix + "sine"            # 10 Hz: batches keep coming
    bridge.add([sine])
    qtbot.waitUntil(lambda: bridge.engine_connected == 1 and bridge.batches_applied >= 3,
                    timeout=15000)
    gui = QApplication.instance().thread()
    assert seen and all(t == gui for t, *_ in seen)
    assert [s[1] for s in seen] == list(range(1, len(seen) + 1)), "no batch lost"
    for _, seq, acked, applied, sent in seen:
        # consumers run before the ack; the engine waits for it before the next batch
        assert acked == applied == seq - 1 and sent == seq, (seq, acked, applied, sent)
    # the broken consumer is counted once per batch and stalls nothing
    assert bridge.consumer_errors == bridge.batches_applied
    before = (bridge.batches_applied, bridge.updates_received)
    qtbot.waitUntil(lambda: bridge.batches_applied > before[0] + 2
                    and bridge.updates_received > before[1], timeout=15000)
    assert bridge.consumer_errors == bridge.batches_applied

    # commands are forwarded: add, put (result and value on the IOC), remove
    target = prefix + BRIDGE_PUT_AO
    bridge.add([target])
    qtbot.waitUntil(lambda: bridge.engine_pvs == 2 and bridge.engine_connected == 2, timeout=15000)
    old = _read_sync([target])[target].value
    results = []
    bridge.putFinished.connect(results.append)
    assert bridge.put(target, old + 1.25, timeout=5.0) == 1
    qtbot.waitUntil(lambda: bool(results), timeout=15000)
    assert results[0].ok and results[0].name == target and results[0].request_id == 1, results
    assert _read_sync([target])[target].value == pytest.approx(old + 1.25)
    bridge.remove([target])
    qtbot.waitUntil(lambda: bridge.engine_pvs == 1, timeout=15000)

    bridge.stop()
    assert not bridge.running and not engine.debug_summary().worker_alive
    # a batch still queued at stop is dropped, but acked: exactly one ack per batch sent
    qtbot.waitUntil(lambda: len(acks) >= engine.stats.batches_sent, timeout=5000)
    assert len(acks) == engine.stats.batches_sent and bridge.batches_applied <= len(acks)


# -- main window ------------------------------------------------------------------------------
@pytest.fixture
def window(qtbot, engine):
    """A MainWindow on a running real engine: (window, bridge)."""
    bridge = EngineBridge(engine)
    win = MainWindow(bridge)
    qtbot.addWidget(win, before_close_func=lambda w: setattr(w, "force_close", True))
    win.resize(1100, 700)
    bridge.start()
    yield win, bridge
    bridge.stop()


def _wait_live(qtbot, win, bridge, n: int, timeout: int = 15000) -> None:
    """Until the table has ``n`` connected rows with values and the engine has ``n`` PVs."""
    qtbot.waitUntil(lambda: win.model.connected_count == n and win.model.valued_count == n
                    and bridge.engine_pvs == n, timeout=timeout)


def test_paste_with_junk_lines(window, qtbot, prefix):
    win, bridge = window
    p = prefix
    win.add_pvs([p + "sine"])
    text = (f"{p}sine\n{p}ai:300\n\n{p}bo:001, {p}mbbi:001;bad\"name\n  ca://{p}longin:001\t\n"
            "{junk}\n")
    win.entry.setText(text)
    win.entry.returnPressed.emit()
    names = [p + "sine", p + "ai:300", p + "bo:001", p + "mbbi:001", p + "longin:001"]
    assert win.model.names() == names
    msg = win.statusBar().currentMessage()
    assert "Added 4 PVs" in msg and "1 already shown" in msg and "2 names rejected" in msg
    assert "{junk}" in msg
    assert win.entry.text() == 'bad"name {junk}'   # only the rejects stay to be fixed
    _wait_live(qtbot, win, bridge, len(names))    # the engine opened exactly these


def test_status_counts_from_batches(window, qtbot, prefix):
    win, bridge = window
    static = [prefix + "ai:301", prefix + "ai:302"]        # PINI only: one update each
    win.add_pvs(static + [prefix + "nosuch:counts"])       # never answers
    assert win.counts_label.text() == "3 PVs, 0 connected, 0 updates"
    qtbot.waitUntil(lambda: win.model.connected_count == 2 and bridge.updates_received >= 2,
                    timeout=15000)
    assert bridge.updates_received == 2
    assert win.counts_label.text() == "3 PVs, 2 connected, 2 updates"


def test_remove_selected_rows(window, qtbot, prefix):
    win, bridge = window
    names = [f"{prefix}ai:{i:03d}" for i in range(300, 306)]
    win.add_pvs(names)
    _wait_live(qtbot, win, bridge, 6)
    with qtbot.waitActive(win):
        win.show()
        win.activateWindow()
    win.table.selectRow(1)
    sm = win.table.selectionModel()
    sm.select(win.model.index(4, 0), sm.Select | sm.Rows)
    win.table.setFocus()
    qtbot.keyClick(win.table, Qt.Key_Delete)
    assert win.model.names() == [names[0], names[2], names[3], names[5]]
    assert "Remove" in [a.text() for a in win.table.actions()]
    assert win.counts_label.text().startswith("4 PVs")
    # the engine closed the two PVs (it reports its PV count after a removal)
    qtbot.waitUntil(lambda: bridge.engine_pvs == 4 and bridge.engine_connected == 4, timeout=15000)
    assert win.model.connected_count == 4


def test_open_pv_list(window, qtbot, tmp_path, monkeypatch, prefix):
    win, bridge = window
    warnings = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warnings.append(a[2]))
    assert win.open_pv_list(str(tmp_path / "missing.txt")) is None
    assert warnings and "missing.txt" in warnings[0]
    binary = tmp_path / "bin.txt"
    binary.write_bytes(b"A\x00B")
    assert win.open_pv_list(str(binary)) is None and len(warnings) == 2
    a, b = prefix + "ai:301", prefix + "ai:302"
    good = tmp_path / "list.txt"
    good.write_text(f"# comment\n{a}\n{b} # trailing\n\n{a}\nbad name\n")
    parsed = win.open_pv_list(str(good))
    assert parsed is not None and win.model.names() == [a, b]
    assert "1 name rejected" in win.statusBar().currentMessage()
    _wait_live(qtbot, win, bridge, 2)


def test_copy_selected(window, qtbot, prefix):
    win, bridge = window
    name = prefix + "ai:300"           # static, PREC 2 (test_engine may have written it)
    win.add_pvs([name])
    _wait_live(qtbot, win, bridge, 1)
    value = win.model.state(0).value
    win.table.selectRow(0)
    assert win.copy_selected() == f"{name}\t{value:.2f}"
    assert QApplication.clipboard().text() == f"{name}\t{value:.2f}"


@pytest.fixture
def alarm_pvs(prefix):
    """ao:040/041/042 put into MINOR / MAJOR / INVALID (alarm limit below the value);
    restored afterwards. Returns {name: expected severity}."""
    fields, values, restore = [], [], []
    for rec, (limit, sv, sev, _) in ALARM_AO.items():
        name = prefix + rec
        fields += [(f"{name}.{limit}", 10.0), (f"{name}.{sv}", sev)]
        restore += [(f"{name}.{sv}", "NO_ALARM"), (f"{name}.{limit}", 0.0)]
        values.append((name, float(rec.split(":")[1])))      # processing re-checks the alarms
    _put_sync(fields)
    _put_sync(values)
    yield {prefix + rec: code for rec, (_, _, _, code) in ALARM_AO.items()}
    _put_sync(restore)
    _put_sync(values)


def test_screenshot_not_blank(window, qtbot, tmp_path, prefix, alarm_pvs):
    win, bridge = window
    with qtbot.waitExposed(win):
        win.show()
    p = prefix
    live_names = [p + "ai:300", p + "enum", p + "stringin:001", p + "wave", p + "readonly",
                  p + "sine"] + list(alarm_pvs)
    win.add_pvs(live_names + [p + "nosuch:shot"])        # one row stays "connecting…"
    def live_now(n):
        st = _state(win, n)
        return st is not None and st.connected and st.value is not None
    qtbot.waitUntil(lambda: all(live_now(n) for n in live_names), timeout=15000)
    qtbot.waitUntil(lambda: all(_state(win, n).severity == sev for n, sev in alarm_pvs.items()),
                    timeout=15000)
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


def test_put_result_reported(window, qtbot, prefix):
    win, bridge = window
    name = prefix + "readonly"          # ASG READONLY: the IOC grants no write access
    win.add_pvs([name])
    _wait_live(qtbot, win, bridge, 1)
    assert not _state(win, name).write_access
    assert win.bridge.put(name, 5) == 1
    qtbot.waitUntil(lambda: "no write access" in win.statusBar().currentMessage(), timeout=15000)
    assert name in win.statusBar().currentMessage()
    assert _read_sync([name])[name].value == 42.0        # unchanged on the IOC


# -- app + diagnostics --------------------------------------------------------------------------
def _ctrl_c() -> None:
    """What Ctrl-C in the terminal does (run_gui's SIGINT handler), or a plain quit if
    no handler is installed (never a KeyboardInterrupt into pytest)."""
    if signal.getsignal(signal.SIGINT) in (signal.default_int_handler, signal.SIG_DFL, signal.SIG_IGN):
        QApplication.instance().quit()
    else:
        signal.raise_signal(signal.SIGINT)


def test_run_gui_quits_saves_shot_and_stats(qtbot, tmp_path, engine, prefix):
    """A real run: once both PVs are connected and have values, Ctrl-C ends it; the
    screenshot and the statistics are written, the engine stopped, on_exit called."""
    names = [prefix + "ai:300", prefix + "sine"]
    acks = _count_acks(engine)
    found: dict = {}

    def poll() -> None:
        if "quit" in found:
            return
        win = found.get("win")
        if win is None:
            wins = [w for w in QApplication.topLevelWidgets()
                    if isinstance(w, MainWindow) and w.bridge.engine is engine]
            if not wins:
                return
            win = found["win"] = wins[0]
            found["bridge"] = win.bridge
        m = win.model
        if (m.rowCount() == 2 and m.connected_count == 2 and m.valued_count == 2
                and win.bridge.batches_applied >= 2):
            found["quit"] = True
            _ctrl_c()
    poller = QTimer()
    poller.timeout.connect(poll)
    poller.start(20)
    exited = []
    shot, stats_path = tmp_path / "app.png", tmp_path / "stats.json"
    try:
        # quit_after is only the safety net here (see the next test for quit_after itself)
        code = run_gui(engine, names, screenshot=str(shot), quit_after=60.0,
                       stats_path=str(stats_path), on_exit=lambda: exited.append(True))
    finally:
        poller.stop()
    assert found.get("quit"), "the PVs never connected (run ended by the 60 s safety net)"
    bridge = found["bridge"]
    assert code == 0 and exited == [True]
    assert not bridge.running and not engine.debug_summary().worker_alive
    assert bridge.engine_pvs == 2                       # the engine opened the names
    # one ack per applied batch; at most one more batch was sent and is still queued
    assert len(acks) == bridge.batches_applied >= 2
    assert engine.stats.batches_sent - len(acks) in (0, 1)
    assert QImage(str(shot)).width() >= 1000
    stats = json.loads(stats_path.read_text())
    assert set(stats) == {"pvs", "connected", "seconds_to_all_connected", "seconds_to_all_values",
                          "updates_received", "batches_applied", "loop_lateness_ms_p99",
                          "loop_lateness_ms_max", "rss_mb", "views", "value_age_s_p50",
                          "value_age_s_p99", "value_age_s_max", "shown_value_age_s_p50",
                          "shown_value_age_s_p99", "shown_value_age_s_max", "fast_callbacks", "lean"}
    assert stats["fast_callbacks"] is engine.fast_callbacks and stats["lean"] is False
    assert stats["pvs"] == 2 and stats["connected"] == 2
    assert 2 <= stats["batches_applied"] <= bridge.batches_applied
    assert 2 <= stats["updates_received"] <= bridge.updates_received
    assert stats["seconds_to_all_connected"] is not None and stats["seconds_to_all_connected"] >= 0
    assert stats["seconds_to_all_values"] is not None and stats["seconds_to_all_values"] >= 0
    assert stats["loop_lateness_ms_p99"] is not None and stats["rss_mb"] > 10


def test_run_stats_null_when_never_reached(qtbot, tmp_path, engine, prefix):
    # RunStats alone (no latency timer), on a bridge over a real, unstarted engine
    m = PVTableModel()
    m.add_names(["N:1", "N:2"])
    stats = RunStats(m, EngineBridge(engine))
    m.apply_batch(Batch(seq=1, states=[live("N:1", 1.0)]))
    stats.on_batch()
    d = stats.write(tmp_path / "s.json")
    assert d["seconds_to_all_connected"] is None and d["seconds_to_all_values"] is None
    assert json.loads((tmp_path / "s.json").read_text())["loop_lateness_ms_p99"] is None

    # a real run whose PVs never all connect: quit_after ends it by itself, nulls in the stats
    run_engine = Engine(tick_hz=20)
    exited = []
    shot, stats_path = tmp_path / "never.png", tmp_path / "never.json"
    try:
        code = run_gui(run_engine, [prefix + "ai:300", prefix + "nosuch:never"],
                       screenshot=str(shot), quit_after=0.5, stats_path=str(stats_path),
                       settings_path=str(tmp_path / "never.ini"),
                       on_exit=lambda: exited.append(True))
    finally:
        run_engine.close()
    assert code == 0 and exited == [True]
    assert QImage(str(shot)).width() >= 1000
    d = json.loads(stats_path.read_text())
    assert d["pvs"] == 2 and d["connected"] <= 1
    assert d["seconds_to_all_connected"] is None and d["seconds_to_all_values"] is None
    assert d["loop_lateness_ms_p99"] is not None


def test_loop_latency(qtbot):
    lat = LoopLatency()
    lat.start()
    qtbot.waitUntil(lambda: len(lat.samples) >= 3, timeout=5000)   # it samples the loop
    lat.stop()
    assert 0 <= lat.p99_ms() <= lat.max_ms()


def test_qt_package_does_not_import_epics():
    code = ("import sys; import pvprobe.qt.app.app, pvprobe.qt.app.main_window, pvprobe.qt.app.diagnostics; "
            "assert 'epics' not in sys.modules, 'pvprobe.qt imported epics'")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


def test_run_stats_pool_value_ages_once_every_row_has_a_value():
    from pvprobe.core.pvstate import PVState
    from pvprobe.qt.app.diagnostics import RunStats

    class Rows:          # the three things RunStats reads of a table model
        def __init__(self, states):
            self.states = states
            self.connected_count = sum(s.connected for s in states)
            self.valued_count = sum(s.value is not None for s in states)

        def rowCount(self):  # noqa: N802 (Qt's name)
            return len(self.states)

        def state(self, row):
            return self.states[row]

    class Bridge:
        updates_received = batches_applied = 0

    rows = Rows([PVState(name="a", connected=True, value=1.0, timestamp=100.0),
                 PVState(name="b", connected=True, value=2.0, timestamp=99.0),
                 PVState(name="c", connected=False, value=3.0, timestamp=50.0)])
    stats = RunStats(rows, Bridge())
    stats.sample_value_ages(now=101.0)           # not all values yet: nothing pooled
    assert stats.to_dict()["value_age_s_p99"] is None
    stats.on_batch()
    stats.sample_value_ages(now=101.0)           # the disconnected row is not counted
    d = stats.to_dict()
    assert (d["value_age_s_p50"], d["value_age_s_max"]) == (2.0, 2.0) and d["value_age_s_p99"] == 2.0
    assert d["shown_value_age_s_p99"] is None      # no rows on screen given


def test_run_stats_pool_the_shown_rows_apart():
    """``shown_value_age_s_*``: the rows on screen only (what the operator sees)."""
    from pvprobe.core.pvstate import PVState
    from pvprobe.qt.app.diagnostics import RunStats

    class Rows:
        def __init__(self, states):
            self.states = states
            self.connected_count = self.valued_count = len(states)

        def rowCount(self):  # noqa: N802 (Qt's name)
            return len(self.states)

        def state(self, row):
            return self.states[row]

    class Bridge:
        updates_received = batches_applied = 0

    rows = Rows([PVState(name=f"p{i}", connected=True, value=1.0, timestamp=100.0 - i) for i in range(10)])
    stats = RunStats(rows, Bridge(), shown=lambda: [0, 1])
    stats.on_batch()
    stats.sample_value_ages(now=101.0)
    d = stats.to_dict()
    assert d["value_age_s_max"] == 10.0 and d["shown_value_age_s_max"] == 2.0
    assert d["shown_value_age_s_p50"] == 2.0 or d["shown_value_age_s_p50"] == 1.0
