"""Access security and read-only mode, on the demo IOC (issue 7, security)."""

from __future__ import annotations

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QDialog

from pvprobe.qt.app.main_window import MainWindow
from pvprobe.qt.app.settings import Settings
from pvprobe.qt.bridge import READ_ONLY_REASON, EngineBridge
from pvprobe.qt.table.pvtable_model import Col
from pvprobe.qt.table.snapshot_ui import RestoreConfirmDialog

pytestmark = pytest.mark.timeout(120)

#: PVs of the demo IOC reserved for these tests (nobody else writes them).
WRITABLE = "ao:097"


@pytest.fixture
def make_window(qtbot, engine, tmp_path):
    bridge = EngineBridge(engine)
    made = []

    def make(read_only=False, settings_text=None):
        path = tmp_path / "s.ini"
        if settings_text is not None:
            path.write_text(settings_text)
        win = MainWindow(bridge, settings=Settings(path), read_only=read_only)
        qtbot.addWidget(win, before_close_func=lambda w: setattr(w, "force_close", True))
        win.resize(1000, 640)
        win.show()
        made.append(win)
        return win
    bridge.start()
    yield make
    bridge.stop()


def _row_state(win, name):
    return win.model.state(win.model.row_of(name))


def _connected(win, names):
    return all(win.model.row_of(n) is not None and _row_state(win, n).connected for n in names)


def _read(name):
    from pvprobe.ca.engine import Engine
    other = Engine()
    try:
        return other.read([name])[name].value
    finally:
        other.close()


def test_asg_protected_pv_is_read_only_everywhere(qtbot, make_window, prefix):
    win = make_window()
    ro, rw = prefix + "readonly", prefix + WRITABLE
    win.add_pvs([ro, rw])
    qtbot.waitUntil(lambda: _connected(win, [ro, rw]), timeout=15000)
    m = win.model
    assert not (m.flags(m.index(m.row_of(ro), Col.VALUE)) & Qt.ItemIsEditable)
    assert m.flags(m.index(m.row_of(rw), Col.VALUE)) & Qt.ItemIsEditable
    assert "read" in (m.data(m.index(m.row_of(ro), Col.ACCESS), Qt.DisplayRole) or "").lower()
    # refused locally, with the reason, nothing sent
    assert win.table_widget.put_value(ro, 1.0) is None
    assert "write access" in win.last_message.lower() or "read-only" in win.last_message.lower()
    probe = win.open_probe(ro)
    qtbot.waitUntil(lambda: probe.state is not None and probe.state.connected, timeout=10000)
    assert probe.editor.kind == "readonly" and not probe.editor.put_button.isEnabled()


def test_read_only_mode_disables_every_put_path(qtbot, make_window, prefix, tmp_path, monkeypatch):
    name = prefix + WRITABLE
    before = _read(name)
    win = make_window(read_only=True)
    assert win.read_only and "read-only" in win.windowTitle()
    win.add_pvs([name])
    qtbot.waitUntil(lambda: _connected(win, [name]), timeout=15000)
    m = win.model
    # shown without write access: no editor in the table
    assert not _row_state(win, name).write_access
    assert not (m.flags(m.index(m.row_of(name), Col.VALUE)) & Qt.ItemIsEditable)
    # the table's put path refuses
    assert win.table_widget.put_value(name, before + 1) is None
    # the bridge itself refuses even a direct call, with the reason
    results = []
    win.bridge.putFinished.connect(results.append)
    rid = win.bridge.put(name, before + 2)
    assert rid < 0
    qtbot.waitUntil(lambda: bool(results), timeout=5000)
    assert not results[0].ok and results[0].error == READ_ONLY_REASON
    # the probe shows a read-only editor that says why
    probe = win.open_probe(name)
    qtbot.waitUntil(lambda: probe.state is not None and probe.state.connected, timeout=10000)
    assert probe.editor.kind == "readonly" and "read-only mode" in probe.editor.hint.text().lower()
    # a snapshot restore fails for every PV, the IOC is untouched
    snap = tmp_path / "s.csv"
    snap.write_text(f"name,value,severity,status,timestamp\n{name},{before + 3},NO_ALARM,NO_ALARM,\n")
    monkeypatch.setattr(RestoreConfirmDialog, "exec_", lambda dlg: QDialog.Accepted)
    monkeypatch.setattr("PyQt5.QtWidgets.QMessageBox.warning", lambda *a, **k: None)
    win.snapshots.restore_snapshot(str(snap))
    qtbot.waitUntil(lambda: not win.snapshots.restoring, timeout=20000)
    assert all(not r.ok for r in win.snapshots.last_restore_results)
    assert _read(name) == before


def test_read_only_from_the_settings_file_is_kept(qtbot, make_window):
    win = make_window(settings_text="[window]\nread_only=true\n")
    assert win.read_only
    win.force_close = True
    win.close()
    assert "read_only=true" in (win.settings.path and open(win.settings.path).read())


def test_duplicate_pv_names_are_reported_in_the_status_bar(qtbot, make_window, prefix):
    """A second IOC serving the same names (on the other port of the address list):
    the window says so and keeps working."""
    from conftest import REPEATER_PORT, RESTART_PORT

    from pvprobe.demo.launcher import DemoIOC

    twin = DemoIOC(prefix=prefix, server_port=RESTART_PORT, repeater_port=REPEATER_PORT)
    twin.start(timeout=60)
    try:
        win = make_window()
        name = prefix + "ao:096"
        win.add_pvs([name])
        qtbot.waitUntil(lambda: any("duplicate" in w and name in w for w in win.ca_warnings), timeout=20000)
        assert "duplicate" in win.last_message and name in win.last_message
        qtbot.waitUntil(lambda: _connected(win, [name]), timeout=10000)
    finally:
        twin.stop()
