"""The PV table widget on the real demo IOC: sort, filter, toggles, palettes, DESC,
editing and puts, clipboard, header state, and a 5,000-PV table that keeps the GUI live."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
from PyQt5.QtCore import QMimeData, QPoint, Qt, QUrl
from PyQt5.QtGui import QDropEvent, QImage
from PyQt5.QtWidgets import QApplication, QComboBox, QLineEdit

from pvprobe.core.batch import Batch
from pvprobe.core.pvstate import PVState
from pvprobe.core.values import natural_key, severity_level
from pvprobe.qt.bridge import EngineBridge
from pvprobe.qt.style.theme import table_colors
from pvprobe.qt.table.pvtable_model import (
    DIFF_ROLE,
    Col,
    PVTableModel,
)
from pvprobe.qt.table.table_brushes import ALARM_COLOURS, COLORBLIND_COLOURS
from pvprobe.qt.table.table_filter import PVFilterProxy, make_matcher
from pvprobe.qt.table.table_view import FILTER_PLACEHOLDER
from pvprobe.qt.table.table_widget import PVTableWidget

pytestmark = pytest.mark.timeout(180)

SHOT = "/tmp/pvtable_shot.png"


# -- helpers ------------------------------------------------------------------------------------
@pytest.fixture
def table(qtbot, engine):
    bridge = EngineBridge(engine)
    w = PVTableWidget(bridge)
    w.confirm_puts = False
    qtbot.addWidget(w)
    w.resize(1280, 640)
    w.show()
    bridge.start()
    yield w
    w.close_pvs()
    bridge.stop()


@pytest.fixture
def reader(demo_ioc):
    """A second Engine, without a worker, to check what the IOC really holds."""
    from pvprobe.ca.engine import Engine
    eng = Engine()
    yield eng
    eng.stop()


def text(w: PVTableWidget, name: str, col: Col) -> str:
    m = w.model
    return m.data(m.index(m.row_of(name), int(col)), Qt.DisplayRole) or ""


def shown(w: PVTableWidget) -> list[str]:
    """Names in the order the view shows them (after filter and sort)."""
    p = w.proxy
    return [p.index(r, int(Col.NAME)).data() for r in range(p.rowCount())]


def state(w: PVTableWidget, name: str) -> PVState:
    return w.model.state_of(name)


def wait_connected(qtbot, w: PVTableWidget, n: int | None = None, timeout: int = 20000) -> None:
    n = w.model.rowCount() if n is None else n
    qtbot.waitUntil(lambda: w.model.connected_count >= n and w.model.valued_count >= n, timeout=timeout)


def proxy_index(w: PVTableWidget, name: str, col: Col):
    src = w.model.index(w.model.row_of(name), int(col))
    return w.proxy.mapFromSource(src)


# -- pure model / filter units (no IOC) ---------------------------------------------------------
def _live(name, value, **kw):
    kw.setdefault("native_type", "DOUBLE" if isinstance(value, float) else "LONG")
    kw.setdefault("max_count", 1)
    return PVState(name=name, connected=True, ever_connected=True, value=value, read_access=True,
                   write_access=True, monitored=True, timestamp=1.7e9, **kw)


def test_natural_key_and_matchers():
    names = ["X:ai:10", "X:ai:2", "x:AI:1", "X:ai:02b"]
    assert sorted(names, key=natural_key) == ["x:AI:1", "X:ai:2", "X:ai:02b", "X:ai:10"]
    sub = make_matcher("Ai:1")
    assert sub("X:ai:10") and not sub("X:bo:2")
    glob = make_matcher("*:ai:1?")
    assert glob("X:ai:10") and not glob("X:ai:1") and not glob("X:ai:100")
    assert make_matcher("  ") is None


def test_model_saved_column_desc_rows_and_palette(qtbot):
    m = PVTableModel()
    m.add_names(["A", "B", "C"])
    m.set_description_enabled(True)
    desc = PVState(name="A.DESC", connected=True, ever_connected=True, value="Beam current",
                   native_type="STRING", max_count=1)
    spans = []
    m.dataChanged.connect(lambda tl, br, roles=(): spans.append((tl.row(), br.row())))
    m.apply_batch(Batch(seq=1, states=[_live("C", 1.0), desc, _live("B", 5.0, precision=2)]))
    assert spans == [(0, 2)], "one dataChanged per batch, DESC included"
    assert m.rowCount() == 3 and m.row_of("A.DESC") is None
    assert m.data(m.index(0, Col.DESCRIPTION)) == "Beam current"
    m.set_saved_values({"B": "5.001", "C": "2"})
    assert m.data(m.index(1, Col.SAVED), DIFF_ROLE) is False
    assert m.data(m.index(2, Col.SAVED), DIFF_ROLE) is True
    assert m.data(m.index(2, Col.SAVED)).startswith("≠")            # readable without colour
    assert m.data(m.index(2, Col.SAVED), Qt.BackgroundRole) is not None
    assert m.data(m.index(0, Col.SAVED), DIFF_ROLE) is None
    m.apply_batch(Batch(seq=2, states=[_live("A", 1.0, severity=2)]))
    bg = m.data(m.index(0, Col.VALUE), Qt.BackgroundRole).color()
    assert bg == ALARM_COLOURS[2][0]
    m.set_palette("colorblind")
    assert m.data(m.index(0, Col.VALUE), Qt.BackgroundRole).color() == COLORBLIND_COLOURS[2][0]
    with pytest.raises(ValueError):
        m.set_palette("neon")


def test_sort_keeps_selection_and_filter_cache(qtbot):
    m = PVTableModel()
    names = [f"S:{i}" for i in (10, 2, 33, 1)]
    m.add_names(names)
    m.apply_batch(Batch(seq=1, states=[_live(n, float(-i)) for i, n in enumerate(names)]))
    p = PVFilterProxy()
    p.setSourceModel(m)
    from PyQt5.QtCore import QItemSelectionModel
    sel = QItemSelectionModel(p)
    sel.select(p.index(m.row_of("S:33"), 0), QItemSelectionModel.Select | QItemSelectionModel.Rows)
    p.sort(int(Col.NAME), Qt.AscendingOrder)
    assert [p.index(r, 0).data() for r in range(4)] == ["S:1", "S:2", "S:10", "S:33"]
    assert [p.index(i.row(), 0).data() for i in sel.selectedRows()] == ["S:33"]
    p.sort(int(Col.VALUE), Qt.AscendingOrder)         # values 0, -1, -2, -3
    assert [p.index(r, 0).data() for r in range(4)] == ["S:1", "S:33", "S:2", "S:10"]


# -- on the demo IOC ------------------------------------------------------------------------------
def test_layout_and_defaults(table):
    w = table
    assert w.filter_edit.placeholderText() == FILTER_PLACEHOLDER
    assert w.alarm_toggle.isCheckable() and w.disconnected_toggle.isCheckable()
    hh = w.view.horizontalHeader()
    assert hh.isSectionHidden(Col.DESCRIPTION) and hh.isSectionHidden(Col.SAVED)
    assert hh.sectionsMovable()
    assert not w.view.wordWrap()
    assert {"Copy names", "Copy names and values", "Remove", "Put value…"} <= {
        a.text() for a in w.view.actions()}


def test_sort_by_name_value_and_severity(qtbot, table, prefix):
    w = table
    ao = [f"{prefix}ao:{i:03d}" for i in (70, 7, 12, 9)]          # values 70.0 7.0 12.0 9.0
    dyn = [f"{prefix}ai:{i:03d}" for i in (31, 4, 17, 0, 22, 9, 28, 13, 5, 36)]
    w.add_pvs(dyn + ao)
    wait_connected(qtbot, w)
    w.view.sortByColumn(int(Col.NAME), Qt.AscendingOrder)     # what a header click does
    assert shown(w) == sorted(dyn + ao, key=natural_key)
    w.view.sortByColumn(int(Col.NAME), Qt.DescendingOrder)
    assert shown(w) == sorted(dyn + ao, key=natural_key, reverse=True)

    w.view.sortByColumn(int(Col.VALUE), Qt.AscendingOrder)
    order = [n for n in shown(w) if n in ao]
    assert order == [f"{prefix}ao:{i:03d}" for i in (7, 9, 12, 70)], "numeric, not text order"
    values = [float(state(w, n).value) for n in shown(w)]
    assert values == sorted(values)

    def two_levels():
        return len({severity_level(state(w, n)) for n in dyn + ao}) >= 2
    qtbot.waitUntil(two_levels, timeout=20000)
    w.view.sortByColumn(int(Col.SEVERITY), Qt.DescendingOrder)
    levels = [severity_level(state(w, n)) for n in shown(w)]
    assert levels == sorted(levels, reverse=True) and levels[0] >= 1
    assert w.view.horizontalHeader().sortIndicatorSection() == Col.SEVERITY


def test_filter_substring_glob_value_and_severity(qtbot, table, prefix):
    w = table
    names = [prefix + n for n in ("sine", "setpoint", "enum", "message")]
    names += [f"{prefix}ai:{i:03d}" for i in range(10)] + [f"{prefix}stringin:{i:03d}" for i in range(5)]
    w.add_pvs(names)
    wait_connected(qtbot, w)
    w.filter_edit.setText("SETp")
    assert shown(w) == [prefix + "setpoint"]
    w.filter_edit.setText("*:ai:00[0-4]")
    assert shown(w) == [f"{prefix}ai:{i:03d}" for i in range(5)]
    w.filter_edit.setText("text 003")                     # the value of stringin:003
    assert shown(w) == [f"{prefix}stringin:003"]
    assert "1 of" in w.count_label.text()
    qtbot.waitUntil(lambda: any(state(w, n).severity == 2 for n in names), timeout=20000)
    w.filter_edit.setText("major")
    rows = shown(w)
    assert rows and all(state(w, n).severity_name == "MAJOR" for n in rows)
    w.filter_edit.clear()
    assert len(shown(w)) == len(names)


def test_alarms_only_follows_live_data_within_a_second(qtbot, table, prefix):
    w = table
    dyn = [f"{prefix}ai:{i:03d}" for i in range(40)]
    quiet = [f"{prefix}ao:{i:03d}" for i in range(10)]
    w.add_pvs(dyn + quiet)
    wait_connected(qtbot, w)
    w.alarm_toggle.setChecked(True)
    assert all(state(w, n).severity >= 1 for n in shown(w))
    violations, refreshes = [], []

    def check():           # at each refresh, every shown row matches and every match is shown
        refreshes.append(time.monotonic())
        rows = set(shown(w))
        for n in dyn + quiet:
            in_alarm = state(w, n).connected and state(w, n).severity >= 1
            if in_alarm != (n in rows):
                violations.append((n, in_alarm))
    w.proxy.refreshed.connect(check)
    # alarm states change every second or so: the filter must follow (3 refreshes)
    qtbot.waitUntil(lambda: len(refreshes) >= 3, timeout=8000)
    w.proxy.refreshed.disconnect(check)
    assert max(np.diff(refreshes), default=0) < 1.6
    assert not violations
    assert not any(n in shown(w) for n in quiet)
    w.alarm_toggle.setChecked(False)
    assert len(shown(w)) == 50


def test_disconnected_only_and_disconnect_display(qtbot, table, restartable_ioc, prefix):
    w = table
    ioc = restartable_ioc
    gone = [ioc.prefix + "heartbeat", ioc.prefix + "sine"]
    stay = prefix + "setpoint"
    progress = []
    w.progress.connect(lambda c, n: progress.append((c, n)))
    w.add_pvs(gone + [stay])
    wait_connected(qtbot, w)
    assert progress[-1] == (3, 3)
    w.disconnected_toggle.setChecked(True)
    assert shown(w) == []
    ioc.stop()
    qtbot.waitUntil(lambda: set(shown(w)) == set(gone), timeout=40000)
    for n in gone:
        assert text(w, n, Col.CONNECTION) == "DISCONNECTED" and text(w, n, Col.SEVERITY) == "DISCONNECTED"
        idx = w.model.index(w.model.row_of(n), int(Col.VALUE))
        assert idx.data(Qt.FontRole).italic()
        # greyed in the theme's disconnected colour (one source: core.colors via theme)
        assert idx.data(Qt.ForegroundRole).color() == table_colors(w.model.theme_name).disconnected_fg
    assert (1, 3) in progress
    w.alarm_toggle.setChecked(True)            # both toggles: rows with either problem
    assert set(gone) <= set(shown(w))
    w.alarm_toggle.setChecked(False)
    ioc.restart()
    qtbot.waitUntil(lambda: shown(w) == [], timeout=40000)
    qtbot.waitUntil(lambda: progress[-1] == (3, 3), timeout=10000)


def _has_pixel(image: QImage, colour) -> bool:
    img = image.convertToFormat(QImage.Format_RGB32)
    ptr = img.constBits()
    ptr.setsize(img.sizeInBytes())
    px = np.frombuffer(ptr, dtype=np.uint32)
    return bool(np.any(px == (0xFF000000 | colour.red() << 16 | colour.green() << 8 | colour.blue())))


def test_alarm_colours_in_both_palettes(qtbot, table, prefix):
    w = table
    dyn = [f"{prefix}ai:{i:03d}" for i in range(30)]
    w.add_pvs(dyn)
    wait_connected(qtbot, w)

    def majors():
        return [n for n in dyn if state(w, n).connected and state(w, n).severity == 2]
    for palette, colours in (("default", ALARM_COLOURS), ("colorblind", COLORBLIND_COLOURS)):
        w.set_palette(palette)
        qtbot.waitUntil(lambda: bool(majors()), timeout=20000)
        name = majors()[0]
        for col in (Col.VALUE, Col.SEVERITY):
            idx = w.model.index(w.model.row_of(name), int(col))
            assert idx.data(Qt.BackgroundRole).color() == colours[2][0]
            assert idx.data(Qt.ForegroundRole).color() == colours[2][1]
        assert text(w, name, Col.SEVERITY) == "✖ MAJOR"           # readable without colour
        assert _has_pixel(w.grab().toImage(), colours[2][0]), f"{palette} MAJOR colour painted"
    assert COLORBLIND_COLOURS[1][0] != ALARM_COLOURS[1][0]


def test_description_column_only_while_shown(qtbot, table, prefix, reader):
    w = table
    sp = prefix + "setpoint"
    assert reader.put_wait(sp + ".DESC", "Output voltage").ok
    w.add_pvs([sp, prefix + "sine"])
    wait_connected(qtbot, w)
    assert not w._desc_sub.names
    w.set_column_visible(Col.DESCRIPTION, True)
    qtbot.waitUntil(lambda: text(w, sp, Col.DESCRIPTION) == "Output voltage", timeout=10000)
    assert w.model.rowCount() == 2, "DESC states create no rows"
    w.add_pvs([prefix + "enum"])
    assert prefix + "enum.DESC" in w._desc_sub.names
    w.set_column_visible(Col.DESCRIPTION, False)
    assert not w._desc_sub.names and not w.model.description_enabled


def test_enum_edit_through_combo_puts_to_the_ioc(qtbot, table, prefix, reader):
    w = table
    name = prefix + "enum"
    w.add_pvs([name])
    wait_connected(qtbot, w)
    st = state(w, name)
    target = (int(st.value) + 1) % len(st.enum_strs)
    idx = proxy_index(w, name, Col.VALUE)
    assert w.view.edit(idx, w.view.EditKeyPressed, None)
    combo = w.view.indexWidget(idx)
    assert isinstance(combo, QComboBox) and combo.count() == 4
    assert [combo.itemText(i) for i in range(4)] == ["Off", "Standby", "On", "Fault"]
    combo.setCurrentIndex(target)
    combo.activated.emit(target)
    qtbot.waitUntil(lambda: text(w, name, Col.COMPLETION).startswith("done"), timeout=10000)
    assert text(w, name, Col.COMPLETION).endswith(" ms")
    qtbot.waitUntil(lambda: state(w, name).value == target, timeout=5000)
    assert reader.read([name])[name].value == target


def test_numeric_edit_checked_against_control_limits(qtbot, table, prefix, reader, monkeypatch):
    w = table
    name = prefix + "setpoint"
    w.add_pvs([name])
    wait_connected(qtbot, w)
    sent = []
    real_put = w.bridge.put
    monkeypatch.setattr(w.bridge, "put", lambda *a, **k: sent.append(a) or real_put(*a, **k))
    messages = []
    w.message.connect(messages.append)
    idx = proxy_index(w, name, Col.VALUE)
    assert w.view.edit(idx, w.view.EditKeyPressed, None)
    editor = w.view.indexWidget(idx)
    assert isinstance(editor, QLineEdit)
    editor.selectAll()
    qtbot.keyClicks(editor, "250")
    assert "control limits" in editor.toolTip()                   # said while typing
    qtbot.keyClick(editor, Qt.Key_Return)
    assert w.view.indexWidget(idx) is editor, "an invalid value keeps the editor open"
    assert messages and "outside the control limits -100..100" in messages[-1]
    n_messages = len(messages)
    w.delegate.setModelData(editor, w.proxy, idx)                 # focus-out commit path
    qtbot.waitUntil(lambda: len(messages) > n_messages, timeout=2000)   # refused again
    assert "outside the control limits" in messages[-1]
    assert sent == [] and text(w, name, Col.COMPLETION) == ""
    editor.selectAll()
    qtbot.keyClicks(editor, "12.5")
    qtbot.keyClick(editor, Qt.Key_Return)
    qtbot.waitUntil(lambda: text(w, name, Col.COMPLETION).startswith("done"), timeout=10000)
    assert len(sent) == 1
    assert reader.read([name])[name].value == pytest.approx(12.5)
    assert w.put_value(name, "1e6") is None and len(sent) == 1     # the API checks too
    assert w.put_value(name, "0") is not None


def test_read_only_not_editable_and_completion_failed(qtbot, table, prefix):
    w = table
    ro, slow = prefix + "readonly", prefix + "slow"
    w.add_pvs([ro, slow])
    wait_connected(qtbot, w)
    idx = proxy_index(w, ro, Col.VALUE)
    assert not (w.proxy.flags(idx) & Qt.ItemIsEditable)
    assert not w.view.edit(idx, w.view.EditKeyPressed, None) and w.view.indexWidget(idx) is None
    assert text(w, ro, Col.ACCESS) == "read-only"
    assert w.model.index(w.model.row_of(ro), int(Col.ACCESS)).data(Qt.DecorationRole) is not None
    assert w.put_value(ro, 1.0) is None and "read-only" in w.last_message
    # a put that does not complete in time: the Completion column says failed
    w.put_timeout = 0.5
    rid = w.put_value(slow, state(w, slow).value + 1)    # a change: completes after 3 s
    assert rid is not None and text(w, slow, Col.COMPLETION) == "putting…"
    qtbot.waitUntil(lambda: text(w, slow, Col.COMPLETION).startswith("failed"), timeout=10000)
    assert "timeout" in text(w, slow, Col.COMPLETION)


def test_copy_drag_drop_and_remove(qtbot, table, prefix, tmp_path):
    w = table
    names = [prefix + "setpoint", prefix + "message", prefix + "long"]
    w.add_pvs(names)
    wait_connected(qtbot, w)
    w.view.selectRow(0)
    w.view.selectionModel().select(w.proxy.index(2, 0), w.view.selectionModel().Select
                                   | w.view.selectionModel().Rows)
    assert w.selected_names() == [names[0], names[2]]
    assert w.copy_selected(False) == f"{names[0]}\n{names[2]}"
    assert QApplication.clipboard().text() == f"{names[0]}\n{names[2]}"
    w.view.setFocus()
    qtbot.keyClick(w.view, Qt.Key_C, Qt.ControlModifier)
    lines = QApplication.clipboard().text().splitlines()
    assert lines[0].startswith(names[0] + "\t") and len(lines) == 2
    md = w.proxy.mimeData([w.proxy.index(0, 0), w.proxy.index(0, 1), w.proxy.index(2, 0)])
    assert md.text() == f"{names[0]}\n{names[2]}"                  # dragging rows out

    # drops: text, a PV list file, a binary file, a huge file
    def drop(mime: QMimeData) -> None:
        ev = QDropEvent(QPoint(20, 20), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
        w.view.dropEvent(ev)
    m = QMimeData()
    m.setText(f"{prefix}sine, {prefix}enum")
    drop(m)
    assert w.names()[-2:] == [prefix + "sine", prefix + "enum"]
    good = tmp_path / "list.pvs"
    good.write_text(f"# list\n{prefix}switch\n")
    binary = tmp_path / "bin.pvs"
    binary.write_bytes(b"\x00\x01\x02")
    huge = tmp_path / "huge.txt"
    with open(huge, "wb") as f:
        f.truncate(40 * 1024 * 1024)
    for path, expect in ((good, "Added 1 PV"), (binary, "not a text file"), (huge, "too large")):
        m = QMimeData()
        m.setUrls([QUrl.fromLocalFile(str(path))])
        drop(m)
        assert expect in w.last_message, (path, w.last_message)
    changed = []
    w.listChanged.connect(lambda: changed.append(1))
    w.view.clearSelection()
    w.view.selectRow(0)
    qtbot.keyClick(w.view, Qt.Key_Delete)
    assert names[0] not in w.names() and changed
    w.clear()
    assert w.names() == [] and w.model.rowCount() == 0


def test_header_state_round_trip_and_corrupt_data(qtbot, table, prefix):
    w = table
    w.add_pvs([prefix + "setpoint", prefix + "sine"])
    hh = w.view.horizontalHeader()
    default = bytes(hh.saveState())
    for bad in (b"", b"garbage", b"PVPTHDR\x01\x0bnot-a-qt-state", w.header_state()[:-7], b"\xff" * 64):
        assert w.restore_header_state(bad) is False
        assert bytes(hh.saveState()) == default
    hh.moveSection(hh.visualIndex(Col.UNITS), 0)
    hh.setSectionHidden(int(Col.STATUS), True)
    w.set_column_visible(Col.DESCRIPTION, True)
    hh.resizeSection(int(Col.NAME), 333)
    w.view.sortByColumn(int(Col.VALUE), Qt.DescendingOrder)
    data = w.header_state()
    assert isinstance(data, bytes)

    other = PVTableWidget(w.bridge)
    qtbot.addWidget(other)
    other.add_pvs([prefix + "setpoint"])
    assert other.restore_header_state(data) is True
    oh = other.view.horizontalHeader()
    assert oh.visualIndex(Col.UNITS) == 0 and oh.isSectionHidden(Col.STATUS)
    assert not oh.isSectionHidden(Col.DESCRIPTION) and other.model.description_enabled
    assert oh.isSectionHidden(Col.SAVED), "Saved stays hidden without a snapshot"
    assert oh.sectionSize(Col.NAME) == 333
    assert (oh.sortIndicatorSection(), oh.sortIndicatorOrder()) == (Col.VALUE, Qt.DescendingOrder)
    assert other.proxy.sort_column() == Col.VALUE
    other.close_pvs()
    other.set_saved_values({prefix + "setpoint": "1.00"})
    assert not oh.isSectionHidden(Col.SAVED)
    other.set_saved_values(None)
    assert oh.isSectionHidden(Col.SAVED)


def test_saved_values_compared_live(qtbot, table, prefix):
    w = table
    a, b, e = prefix + "ao:007", prefix + "ao:009", prefix + "mbbo:003"
    w.add_pvs([a, b, e])
    wait_connected(qtbot, w)
    w.set_saved_values({a: "7.0", b: "9.5", e: text(w, e, Col.VALUE)})
    assert w.is_column_visible(Col.SAVED)
    diff = {n: w.model.index(w.model.row_of(n), int(Col.SAVED)).data(DIFF_ROLE) for n in (a, b, e)}
    assert diff == {a: False, b: True, e: False}
    assert "1 of 3 rows differ" in w.last_message


def test_5000_pv_table_connects_without_blocking_the_gui(qtbot, table, scalar_names, prefix):
    w = table
    unknown = [f"{prefix}nosuch:{i:04d}" for i in range(4000)]
    names = list(scalar_names) + unknown
    progress = []
    w.progress.connect(lambda c, n: progress.append((c, n)))
    added = w.add_pvs(names)
    assert len(added) == 5000
    assert w.model.valued_count == 0, "add_pvs waited for CA instead of returning at once"
    qtbot.waitUntil(lambda: bool(progress) and progress[-1] == (1000, 5000), timeout=60000)
    qtbot.waitUntil(lambda: all(w.model.state_of(n).value is not None for n in scalar_names[::50]),
                    timeout=20000)
    w.view.sortByColumn(int(Col.SEVERITY), Qt.DescendingOrder)
    w.filter_edit.setText("*:ai:*")
    assert len(shown(w)) == 400
    counts = [c for c, n in progress]
    # the GUI loop ran while connecting: progress came in steps, in order
    assert len(progress) >= 2 and counts == sorted(counts) and all(n == 5000 for _, n in progress)
    assert w.model.connected_count == 1000


def test_screenshot_looks_right(qtbot, table, prefix, reader):
    w = table
    for pv, desc in (("setpoint", "Output voltage"), ("sine", "Position readback"),
                     ("enum", "Operating mode"), ("slow", "Slow move (3 s)")):
        assert reader.put_wait(f"{prefix}{pv}.DESC", desc).ok
    names = [prefix + n for n in ("sine", "setpoint", "enum", "switch", "message", "readonly",
                                  "filename", "wave", "heartbeat", "slow")]
    names += [f"{prefix}ai:{i:03d}" for i in range(8)]
    w.resize(1900, 520)
    w.add_pvs(names[:10] + [prefix + "no:such:pv"] + names[10:])
    wait_connected(qtbot, w, len(names))
    w.set_column_visible(Col.DESCRIPTION, True)
    w.put_timeout = 0.5
    w.put_value(prefix + "setpoint", "3.25")
    w.put_value(prefix + "slow", state(w, prefix + "slow").value + 1)   # a change: 3 s to complete
    w.set_saved_values({prefix + "setpoint": "3.25", prefix + "enum": "On", prefix + "sine": "1.000"})
    qtbot.waitUntil(lambda: any(state(w, n).severity == 2 for n in names), timeout=20000)
    qtbot.waitUntil(lambda: text(w, prefix + "slow", Col.COMPLETION).startswith("failed"), timeout=10000)
    img = w.grab()
    assert img.save(SHOT)
    assert os.path.getsize(SHOT) > 10000
