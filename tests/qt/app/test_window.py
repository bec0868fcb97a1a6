"""The window level: tabs, File menu (PV lists), Snapshot menu, settings persistence.

Everything runs on a real engine and the demo IOC (no stand-ins for the CA layer).
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import QDialog, QMessageBox, QWidget

from pvprobe.core.pvs_format import read_pvs, write_pvs
from pvprobe.qt.app.file_actions import FileActions
from pvprobe.qt.app.settings import Session, Settings, TabSettings, reset_settings
from pvprobe.qt.bridge import EngineBridge
from pvprobe.qt.table.pvtable_model import DIFF_ROLE, Col
from pvprobe.qt.table.snapshot_ui import RestoreConfirmDialog, SnapshotUI
from pvprobe.qt.table.tabs import TableTabs

pytestmark = pytest.mark.timeout(120)


# -- tabs on the real engine (demo IOC) ----------------------------------------------------------
@pytest.fixture
def real(qtbot, engine, prefix):
    """TableTabs of real PVTableWidgets on a running engine: (engine, bridge, host, tabs)."""
    bridge = EngineBridge(engine)
    host = QWidget()
    qtbot.addWidget(host)
    tabs = TableTabs(bridge, host)
    bridge.start()
    yield engine, bridge, host, tabs
    tabs.close_all()
    bridge.stop()


def _connected(table, names):
    m = table.model
    return all(m.row_of(n) is not None and m.state(m.row_of(n)).connected
               and m.state(m.row_of(n)).value is not None for n in names)


@pytest.fixture
def boxes(monkeypatch):
    """QMessageBox static calls captured instead of blocking: (kind, title, text)."""
    seen = []

    def fake(kind, answer=QMessageBox.Ok):
        return lambda parent, title, text, *a, **k: (seen.append((kind, title, text)), answer)[1]
    for kind in ("warning", "information", "critical"):
        monkeypatch.setattr(QMessageBox, kind, staticmethod(fake(kind)))
    return seen


# -- settings ---------------------------------------------------------------------------------
def test_settings_round_trip(qtbot, tmp_path):
    path = tmp_path / "s.ini"
    s = Settings(path)
    assert s.load() == Session() and not s.warnings
    sess = Session(geometry=b"\x01\x02geo", window_state=b"st", palette="colorblind", confirm_puts=False,
                   tabs=[TabSettings("A", ["X:1", "X:2"], b"\x00hdr", str(tmp_path / "a.txt")),
                         TabSettings("B", [], None, None)], current_tab=1, recent_files=["/x/a.txt"])
    assert s.save(sess)
    back = Settings(path).load()
    assert back == sess


@pytest.mark.parametrize("content", [
    os.urandom(3000),
    b"[window]\ngeometry=@ByteArray(\x01\x02)\npalette=42\nconfirm_puts=maybe\n[session]\n"
    b"tab_count=notanumber\n",
    b"[session]\ntab_count=99999999\ncurrent_tab=-5\n[tab0]\nnames=@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x5foo)\n"
    b"title=" + b"x" * 5000 + b"\nheader=!!!notbase64\n[recent]\nfiles=" + b"\\n".join([b"/f"] * 500) + b"\n",
    b"[window]\ngeometry=AAAA",   # truncated
])
def test_damaged_settings_fall_back_to_defaults(qtbot, tmp_path, content):
    path = tmp_path / "s.ini"
    path.write_bytes(content)
    s = Settings(path)
    sess = s.load()
    assert sess.palette == "default" and isinstance(sess.confirm_puts, bool)
    assert len(sess.tabs) <= 50 and all(isinstance(t.names, list) for t in sess.tabs)
    assert len(sess.recent_files) <= 10
    if content.startswith(b"[window]\ngeometry=AAAA"):
        return
    assert s.warning_text().startswith("Settings:") and "\n" not in s.warning_text()
    assert s.save(Session(palette="colorblind"))
    assert Settings(path).load().palette == "colorblind"


def test_reset_settings(tmp_path):
    path = tmp_path / "s.ini"
    assert reset_settings(str(path)) is None
    path.write_text("[window]\npalette=colorblind\n")
    assert reset_settings(str(path)) == str(path) and not path.exists()


# -- tabs --------------------------------------------------------------------------------------
def test_tabs_separate_lists_dirty_rename_close(real, monkeypatch, prefix, qtbot):
    engine, bridge, host, tabs = real
    a_names = [prefix + "ao:070", prefix + "ao:071"]
    a = tabs.new_tab(names=a_names)
    assert not tabs.is_dirty(a) and tabs.tabText(0) == "PVs 1"
    b = tabs.new_tab()
    b.add_pvs([prefix + "mbbo:030"])
    assert a.names() == a_names and b.names() == [prefix + "mbbo:030"]
    assert tabs.is_dirty(b) and tabs.tabText(1).endswith("*") and tabs.current_table() is b
    qtbot.waitUntil(lambda: _connected(a, a_names) and _connected(b, [prefix + "mbbo:030"]), timeout=15000)
    assert tabs.rename_tab(1, "beam") and tabs.tabText(1) == "beam *"
    messages = []
    tabs.message.connect(messages.append)
    a.message.emit("from a")
    b.message.emit("from b")
    assert messages == ["from b"]
    # closing a dirty tab asks: Cancel keeps it, Discard closes it
    answers = [QMessageBox.Cancel]
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: answers.pop(0))
    assert not tabs.close_tab(1) and tabs.count() == 2
    answers.append(QMessageBox.Discard)
    assert tabs.close_tab(1) and tabs.count() == 1
    # its PV left the engine (the engine's pv count comes with every batch)
    qtbot.waitUntil(lambda: bridge.engine_pvs == 2, timeout=10000)
    # a clean tab closes without asking; the last tab is replaced by an empty one
    assert tabs.close_tab(0) and tabs.count() == 1 and tabs.current_table().names() == []
    qtbot.waitUntil(lambda: bridge.engine_pvs == 0, timeout=10000)


def test_close_tab_save_answer_saves(real, tmp_path, monkeypatch, boxes, prefix):
    engine, bridge, host, tabs = real
    FileActions(tabs, host)
    t = tabs.new_tab()
    t.add_pvs([prefix + "ao:072"])
    tabs.set_path(t, str(tmp_path / "s.txt"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Save)
    assert tabs.close_tab(tabs.indexOf(t))
    assert prefix + "ao:072" in (tmp_path / "s.txt").read_text()


# -- file actions -------------------------------------------------------------------------------
def test_save_and_open_lists_txt_and_pvs(real, tmp_path, boxes, prefix):
    engine, bridge, host, tabs = real
    files = FileActions(tabs, host)
    names = [f"{prefix}ao:{i:03d}" for i in (73, 74, 75)]
    t = tabs.new_tab(names=names)
    txt, pvs = str(tmp_path / "l.txt"), str(tmp_path / "l.pvs")
    assert files.save_as(t, txt) and files.save_as(t, pvs)
    assert open(txt).read().startswith("# pvprobe PV list") and read_pvs(pvs).names == names
    assert tabs.path_of(t) == pvs and tabs.title_of(t) == "l.pvs"
    for path in (txt, pvs):
        parsed = files.open_list(path)
        assert parsed.names == names
        assert tabs.current_table() is not t and tabs.current_table().names() == parsed.names
        assert tabs.path_of(tabs.current_table()) == path and not tabs.is_dirty(tabs.current_table())
    assert not boxes


def test_import_pvs_shows_saved_values_and_export(real, tmp_path, boxes, prefix, qtbot):
    engine, bridge, host, tabs = real
    files = FileActions(tabs, host)
    names = [prefix + "ao:076", prefix + "mbbo:031"]
    src = tmp_path / "phoebus.pvs"
    write_pvs(src, names, {names[0]: -123.5, names[1]: ["a", "b"]})
    files.import_pvs(str(src))
    t = tabs.current_table()
    assert t.names() == names
    m = t.model
    assert m.data(m.index(0, Col.SAVED), Qt.DisplayRole) == "-123.5"
    assert t.is_column_visible(Col.SAVED)
    qtbot.waitUntil(lambda: _connected(t, names), timeout=15000)
    live = m.state(0).value
    assert m.data(m.index(0, Col.SAVED), DIFF_ROLE) is (live != -123.5)
    assert files.export_pvs(t, str(tmp_path / "out.pvs"))
    saved = read_pvs(tmp_path / "out.pvs").saved
    assert float(saved[names[0]]) == pytest.approx(live)
    assert saved[names[1]] in m.state(1).enum_strs


def test_unreadable_list_leaves_tab_untouched(real, tmp_path, boxes, prefix):
    engine, bridge, host, tabs = real
    files = FileActions(tabs, host)
    t = tabs.new_tab(names=[prefix + "ao:077"])
    bad = tmp_path / "bad.pvs"
    bad.write_text("<?xml version='1.0'?><pvtable><pvlist><pv><name>X</name>")
    assert files.open_list(str(bad)) is None and files.open_list(str(bad), into="current") is None
    assert len(boxes) == 2 and "bad.pvs" in boxes[0][2] and "XML" in boxes[0][2]
    assert tabs.count() == 1 and t.names() == [prefix + "ao:077"]


# -- snapshot restore: failures and timeouts, on real PVs ------------------------------------------
def test_restore_confirms_every_put_and_reports_failures_and_timeouts(real, tmp_path, boxes, monkeypatch,
                                                                      qtbot, prefix):
    engine, bridge, host, tabs = real
    snap = SnapshotUI(tabs, bridge, host)
    snap.put_timeout = 0.5
    names = [prefix + "readonly", prefix + "slow", prefix + "ao:078"]
    path = tmp_path / "s.csv"
    path.write_text("name,value,severity,status,timestamp\n"
                    f"{names[0]},41.5,NO_ALARM,NO_ALARM,\n{names[1]},7.5,NO_ALARM,NO_ALARM,\n"
                    f"{names[2]},2.5,NO_ALARM,NO_ALARM,\n")
    tabs.new_tab()          # restore into an empty tab: the snapshot's PVs get added
    shown = []

    def accept(dlg):
        shown.append(dlg.rows())
        return QDialog.Accepted
    monkeypatch.setattr(RestoreConfirmDialog, "exec_", accept)
    cur = tabs.current_table()
    assert snap.restore_snapshot(str(path))
    assert cur.names() == names
    assert shown and [r[0] for r in shown[0]] == names and shown[0][2][2] == "2.5"
    qtbot.waitUntil(lambda: not snap.restoring, timeout=20000)
    report = snap.last_restore_report
    assert f"{names[0]}: no write access" in report
    assert f"{names[1]}:" in report and "tim" in report.split(f"{names[1]}:")[1].split("\n")[0]
    assert f"{names[2]}:" not in report
    assert boxes and boxes[-1][0] == "warning"


# -- the real window on the demo IOC ------------------------------------------------------------
from pvprobe.qt.app.main_window import MainWindow  # noqa: E402


@pytest.fixture
def make_window(qtbot, engine, tmp_path):
    """MainWindow factory on one real engine; every window shares tmp_path/settings.ini."""
    bridge = EngineBridge(engine)
    made = []

    def make(settings_path=None, size=(1000, 640), **kw):
        path = settings_path or tmp_path / "settings.ini"
        win = MainWindow(bridge, settings=Settings(path), **kw)
        # pytest-qt closes registered widgets before fixture teardown: never ask then
        qtbot.addWidget(win, before_close_func=lambda w: setattr(w, "force_close", True))
        if size:
            win.resize(*size)
        win.show()
        made.append(win)
        return win
    bridge.start()
    yield make
    for win in made:
        win.force_close = True
        win.close()
    bridge.stop()


def _text(model, name, col):
    return model.data(model.index(model.row_of(name), col), Qt.DisplayRole) or ""


def test_window_tabs_have_separate_lists(qtbot, make_window, prefix):
    win = make_window()
    win.add_pvs([prefix + "ao:070", prefix + "ao:071"])
    first = win.tabs.current_table()
    win.tabs.new_tab_action.trigger()
    assert win.tabs.count() == 2 and win.tabs.current_table() is not first
    win.add_pvs([prefix + "mbbo:030"])
    assert win.model.names() == [prefix + "mbbo:030"]
    qtbot.waitUntil(lambda: win.model.connected_count == 1, timeout=15000)
    assert win.counts_label.text().startswith("1 PVs, 1 connected")
    win.tabs.setCurrentIndex(0)
    assert win.model.names() == [prefix + "ao:070", prefix + "ao:071"]
    qtbot.waitUntil(lambda: win.counts_label.text().startswith("2 PVs, 2 connected"), timeout=15000)
    assert not win.progress_bar.isVisible()


def test_window_save_and_open_list_round_trip(qtbot, make_window, prefix, tmp_path, boxes):
    win = make_window()
    names = [f"{prefix}ao:{i:03d}" for i in range(70, 75)]
    win.add_pvs(names)
    assert win.tabs.is_dirty(win.tabs.current_table())
    for ext in ("txt", "pvs"):
        path = str(tmp_path / f"list.{ext}")
        assert win.file_actions.save_as(path=path)
        assert not win.tabs.is_dirty(win.tabs.current_table()) and win.tabs.path_of(win.tabs.current_table()) == path
    for ext in ("txt", "pvs"):
        before = win.tabs.count()
        parsed = win.open_pv_list(str(tmp_path / f"list.{ext}"))
        assert parsed.names == names and win.tabs.count() == before + 1 and win.model.names() == names
    assert not boxes


def test_window_corrupt_list_reports_and_keeps_tab(qtbot, make_window, prefix, tmp_path, boxes):
    win = make_window()
    win.add_pvs([prefix + "ao:072"])
    bad_txt = tmp_path / "broken.txt"
    bad_txt.write_bytes(b"PV:1\n\x00\x01\x02garbage")
    bad_pvs = tmp_path / "broken.pvs"
    bad_pvs.write_text("<pvtable><pvlist><pv><name>A</name></pv>")   # truncated XML
    for path in (bad_txt, bad_pvs):
        assert win.open_pv_list(str(path)) is None
    assert [b[0] for b in boxes] == ["warning", "warning"]
    assert "broken.txt" in boxes[0][2] and "not a text file" in boxes[0][2]
    assert "broken.pvs" in boxes[1][2] and "XML" in boxes[1][2]
    assert win.tabs.count() == 1 and win.model.names() == [prefix + "ao:072"]


def test_window_settings_round_trip(qtbot, make_window, prefix, tmp_path):
    win = make_window()
    win.add_pvs([prefix + "ao:073"])
    win.tabs.rename_tab(0, "first")
    win.tabs.new_tab(title="second", names=[prefix + "ao:074", prefix + "mbbo:031"])
    win.table.setColumnHidden(int(Col.UNITS), True)
    win.table.setColumnWidth(int(Col.NAME), 333)
    win.set_palette("colorblind")
    win.confirm_action.setChecked(False)
    win.resize(900, 555)
    monkey_answers = []
    win.ask_unsaved = lambda tables: monkey_answers.append(tables) or QMessageBox.Discard
    win.close()
    assert monkey_answers, "tab 'first' was changed: closing asked"
    again = make_window(size=None)
    assert [again.tabs.title_of(t) for t in again.tabs.tables()] == ["first", "second"]
    assert again.tabs.currentIndex() == 1
    assert again.tabs.tables()[0].names() == [prefix + "ao:073"]
    assert again.model.names() == [prefix + "ao:074", prefix + "mbbo:031"]
    assert again.table.isColumnHidden(int(Col.UNITS)) and again.table.columnWidth(int(Col.NAME)) == 333
    assert not again.tabs.tables()[0].view.isColumnHidden(int(Col.UNITS))
    assert again.palette_name == "colorblind" and again.palette_actions["colorblind"].isChecked()
    assert again.confirm_puts is False and all(t.confirm_puts is False for t in again.tabs.tables())
    assert (again.width(), again.height()) == (900, 555)
    assert not any(again.tabs.is_dirty(t) for t in again.tabs.tables())
    qtbot.waitUntil(lambda: again.model.connected_count == 2, timeout=15000)


@pytest.mark.parametrize("damage", ["random", "types"])
def test_window_starts_on_damaged_settings(qtbot, make_window, tmp_path, damage):
    path = tmp_path / "damaged.ini"
    if damage == "random":
        path.write_bytes(os.urandom(5000))
    else:
        path.write_text("[window]\ngeometry=12345\nstate=@Variant(\\0\\0\\0\\x7f)\npalette=3.5\n"
                        "confirm_puts=perhaps\n[session]\ntab_count=lots\ncurrent_tab=[1]\n"
                        "[tab0]\nnames=1,2,3\n")
    win = make_window(settings_path=path)
    assert win.tabs.count() == 1 and win.model.names() == []
    assert win.palette_name == "default" and win.confirm_puts is True
    assert win.last_message.startswith("Settings:") and "defaults" in win.last_message
    assert "\n" not in win.last_message
    win.add_pvs(["A:B"])
    win.force_close = True
    win.close()
    assert make_window(settings_path=path).model.names() == ["A:B"]


def test_window_unsaved_prompts(qtbot, make_window, prefix, tmp_path, monkeypatch):
    win = make_window()
    asked = []
    answers = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: (asked.append(a[2]), answers.pop(0))[1])
    win.add_pvs([prefix + "ao:075"])
    win.tabs.new_tab()
    win.add_pvs([prefix + "ao:076"])
    # tab close: Cancel keeps it, Save writes the list (to the tab's file) and closes it
    answers.append(QMessageBox.Cancel)
    win.tabs.close_tab_action.trigger()
    assert win.tabs.count() == 2 and "has changed" in asked[-1]
    win.tabs.set_path(win.tabs.current_table(), str(tmp_path / "two.txt"))
    answers.append(QMessageBox.Save)
    win.tabs.close_tab_action.trigger()
    assert win.tabs.count() == 1 and prefix + "ao:076" in (tmp_path / "two.txt").read_text()
    # window close: Cancel keeps the window, Discard closes it
    answers.append(QMessageBox.Cancel)
    assert not win.close() and win.isVisible() and "unsaved" in asked[-1]
    answers.append(QMessageBox.Discard)
    assert win.close()
    # --quit-after path: force never asks
    other = make_window()
    other.add_pvs([prefix + "ao:077"])
    other.force_close = True
    n = len(asked)
    assert other.close() and len(asked) == n


def _wait_values(qtbot, model, names, timeout=15000):
    def ok():
        return all(model.row_of(n) is not None and model.state(model.row_of(n)).connected
                   and model.state(model.row_of(n)).value is not None for n in names)
    qtbot.waitUntil(ok, timeout=timeout)


def test_snapshot_save_change_compare_restore(qtbot, make_window, prefix, tmp_path, monkeypatch, boxes):
    from pvprobe.ca.engine import Engine

    win = make_window()
    aos = [f"{prefix}ao:{i:03d}" for i in range(80, 86)]
    mbbos = [f"{prefix}mbbo:{i:03d}" for i in range(33, 36)]
    names = aos + mbbos + [prefix + "message"]
    other = Engine()      # a second client, used synchronously (no worker)
    # the demo IOC is shared by the session: what this test changes is put back at the end
    originals = [(n, st.value) for n, st in other.read(names).items() if st.value is not None]
    try:
        assert all(r.ok for r in other.put_many([(n, 10.5 + i) for i, n in enumerate(aos)]
                                                + [(n, 1) for n in mbbos]
                                                + [(prefix + "message", "before")]))
        win.add_pvs(names)
        model = win.model
        _wait_values(qtbot, model, names)
        qtbot.waitUntil(lambda: _text(model, prefix + "message", Col.VALUE) == "before", timeout=10000)
        snap_path = str(tmp_path / "snap.csv")
        assert win.snapshots.save_snapshot(snap_path) is not None
        # change the values behind the window's back
        results = other.put_many([(n, -3.25 - i) for i, n in enumerate(aos)] + [(n, 5) for n in mbbos]
                                 + [(prefix + "message", "after")])
        assert all(r.ok for r in results), results
        qtbot.waitUntil(lambda: _text(model, prefix + "message", Col.VALUE) == "after", timeout=10000)
        qtbot.waitUntil(lambda: all(model.state(model.row_of(n)).value == 5 for n in mbbos), timeout=10000)
        qtbot.waitUntil(lambda: all(model.state(model.row_of(n)).value < 0 for n in aos), timeout=10000)
        diffs = win.snapshots.compare_snapshot(snap_path)
        assert {d.name for d in diffs if d.kind == "different"} == set(names)
        assert "10 different, 0 equal" in win.last_message
        qtbot.waitUntil(lambda: all(model.data(model.index(model.row_of(n), Col.SAVED), DIFF_ROLE) is True
                                    for n in names), timeout=5000)
        # restore all, accepting the confirmation that lists every put
        shown = []

        def accept(dlg):
            shown.append(dlg.rows())
            return QDialog.Accepted
        monkeypatch.setattr(RestoreConfirmDialog, "exec_", accept)
        assert win.snapshots.restore_snapshot(snap_path)
        assert [r[0] for r in shown[0]] == names
        row = dict((r[0], r) for r in shown[0])[aos[0]]
        assert row[1] == "-3.2" and row[2] == "10.5"    # current (PREC 1) -> saved
        qtbot.waitUntil(lambda: not win.snapshots.restoring, timeout=20000)
        assert all(r.ok for r in win.snapshots.last_restore_results) and not boxes
        assert len(win.snapshots.last_restore_results) == len(names)
        qtbot.waitUntil(lambda: _text(model, prefix + "message", Col.VALUE) == "before", timeout=10000)
        qtbot.waitUntil(lambda: all(model.state(model.row_of(n)).value == 1 for n in mbbos), timeout=10000)
        qtbot.waitUntil(lambda: [model.state(model.row_of(n)).value for n in aos]
                        == [10.5 + i for i in range(len(aos))], timeout=10000)
        qtbot.waitUntil(lambda: all(model.data(model.index(model.row_of(n), Col.SAVED), DIFF_ROLE) is False
                                    for n in names), timeout=5000)
        win.snapshots.clear_action.trigger()
        assert model.data(model.index(0, Col.SAVED), DIFF_ROLE) is None
    finally:
        other.put_many(originals)
        other.stop()


def test_restore_reports_failing_pv(qtbot, make_window, prefix, tmp_path, monkeypatch, boxes):
    win = make_window()
    snap = tmp_path / "ro.csv"
    snap.write_text("name,value,severity,status,timestamp,type,count,units,error\n"
                    f"{prefix}readonly,41.5,NO_ALARM,NO_ALARM,,DOUBLE,1,V,\n"
                    f"{prefix}ao:089,12.5,NO_ALARM,NO_ALARM,,DOUBLE,1,,\n"
                    f"{prefix}ao:088,,DISCONNECTED,DISCONNECTED,,,0,,not found\n")
    monkeypatch.setattr(RestoreConfirmDialog, "exec_", lambda dlg: QDialog.Accepted)
    # the tab is empty: the snapshot's PVs are added, connected, then written
    assert win.snapshots.restore_snapshot(str(snap))
    assert win.model.names() == [prefix + "readonly", prefix + "ao:089"]
    qtbot.waitUntil(lambda: not win.snapshots.restoring, timeout=20000)
    report = win.snapshots.last_restore_report
    assert "1 of 2 PVs written, 1 skipped; 1 failed" in report
    assert f"{prefix}readonly: no write access" in report
    assert boxes and boxes[-1][0] == "warning" and f"{prefix}readonly" in boxes[-1][2]
    qtbot.waitUntil(lambda: win.model.state(win.model.row_of(prefix + "ao:089")).value == 12.5, timeout=10000)


# -- command-line runs and the saved session (issue 12, item 4) -------------------------------
def _saved_three_tabs(make_window, prefix, tmp_path):
    """A plain run that leaves 3 tabs, dark theme, colour-blind palette, no put
    confirmation and a 900x555 window in tmp_path/settings.ini."""
    win = make_window()
    win.add_pvs([prefix + "ao:090"])
    win.tabs.new_tab(title="two", names=[prefix + "ao:091"])
    win.tabs.new_tab(title="three", names=[prefix + "ao:092"])
    win.set_palette("colorblind")
    win.set_confirm_puts(False)
    win.set_theme("dark")
    win.resize(900, 555)
    win.force_close = True
    win.close()
    return [[prefix + "ao:090"], [prefix + "ao:091"], [prefix + "ao:092"]]


def test_named_pvs_open_their_window_without_old_tabs(qtbot, make_window, prefix, tmp_path):
    """PVs named on the command line: window settings come back, the old tabs do not
    (and stay saved for the next plain start)."""
    try:
        old = _saved_three_tabs(make_window, prefix, tmp_path)
        win = make_window(size=None, restore_tabs=False)
        assert win.tabs.count() == 1 and win.model.names() == []
        assert win.palette_name == "colorblind" and win.confirm_puts is False
        assert win.theme_name == "dark" and (win.width(), win.height()) == (900, 555)
        win.open_tab([prefix + "sine"])
        assert win.tabs.count() == 1 and win.model.names() == [prefix + "sine"]
        qtbot.waitUntil(lambda: win.counts_label.text().startswith("1 PVs, 1 connected"), timeout=15000)
        win.force_close = True
        win.close()
        # the next plain start finds the old session as it was
        again = make_window(size=None)
        assert [t.names() for t in again.tabs.tables()] == old
        assert again.tabs.currentIndex() == 2 and again.theme_name == "dark"
        # --restore-session: the old tabs and the named PVs
        again.force_close = True
        again.close()
        both = make_window(size=None, restore_tabs=True)
        both.open_tab([prefix + "sine"])
        assert [t.names() for t in both.tabs.tables()] == old + [[prefix + "sine"]]
    finally:
        from PyQt5.QtWidgets import QApplication

        from pvprobe.qt.style.theme import apply_theme
        apply_theme(QApplication.instance(), "light")


@pytest.mark.parametrize("argv, restores", [
    ([], True), (["--theme", "dark", "--read-only"], True),
    (["X:1"], False), (["--pvlist", "l.txt"], False), (["--probe", "X:1"], False),
    (["--plot", "X:1"], False), (["--strip", "X:1"], False), (["--image", "P:"], False),
    (["--demo"], False), (["--plot", "X:1", "--restore-session"], True), (["--restore-session"], True),
])
def test_which_command_lines_restore_the_session(argv, restores):
    from pvprobe.cli.gui import build_parser, restores_session

    assert restores_session(build_parser().parse_args(argv)) is restores


def test_saved_window_state_does_not_grow_with_docks(qtbot, make_window, tmp_path):
    """Docks have stable names (kind and index), so the window state saved run after
    run keeps one entry per name, not one per dock ever opened."""
    from pvprobe.qt.app.settings import Settings as S

    sizes = []
    for _run in range(4):
        win = make_window(size=None)
        for _ in range(3):
            win.open_probe()
        win.views.open_strip(["X:NOPE"])
        assert sorted(d.objectName() for d in win.views.docks) == [
            "probe-dock-0", "probe-dock-1", "probe-dock-2", "strip-dock-0"]
        win.views.docks[1].close()            # a closed dock's name is taken again
        win.open_probe()
        assert sorted(d.objectName() for d in win.views.docks if d.kind == "probe") == [
            "probe-dock-0", "probe-dock-1", "probe-dock-2"]
        win.force_close = True
        win.close()
        sizes.append(len(S(tmp_path / "settings.ini").load().window_state or b""))
    assert sizes[0] > 0 and len(set(sizes)) == 1, sizes
