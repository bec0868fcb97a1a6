"""Finding PV names in the window (demo IOC for real rows): completion in the table's add
box, the probe's name box and the image source box within 100 ms with 100,000 known
names; the history file (names added, probed, opened as images; a damaged file said
once, kept aside and never lost); names of the open tabs kept current; globs in the
add box (how many, nothing matching, an absurd count refused)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from conftest import show_main_window
from PyQt5.QtCore import Qt
from PyQt5.QtTest import QTest

from pvprobe.core.name_history import HEADER, NameHistory, history_file
from pvprobe.core.name_sources import MAX_GLOB_ADD

pytestmark = pytest.mark.timeout(120)


def _names(n: int) -> list[str]:
    return [f"SR{i // 1000:02d}:BPM{i % 1000:03d}:X" for i in range(n)]


def _type(qtbot, edit, text: str) -> list[float]:
    """Type ``text`` key by key into ``edit``; the seconds each key took (the key's
    handling, the lookup and showing the popup all happen inside the key event)."""
    edit.setFocus()
    took = []
    for ch in text:
        t0 = time.perf_counter()
        QTest.keyClick(edit, ch)
        took.append(time.perf_counter() - t0)
    return took


@pytest.fixture
def win(qtbot, bridge, tmp_path):
    ini = tmp_path / "s.ini"        # exact candidates: no servers' lists arriving meanwhile
    ini.write_text("[names]\nserver_lists=false\n")
    w = show_main_window(qtbot, bridge, ini)
    w.confirm_puts = False
    return w


def test_add_box_completes_100000_names_within_100_ms(qtbot, win):
    finder = win.name_finder
    finder.sources.index.set_source("server:test", _names(100000))
    len(finder.sources.index)                      # the window sorts when a source changes
    entry = win.table_widget.entry
    took = _type(qtbot, entry, "SR42:BPM12")
    comp = entry.name_completer
    assert comp.popup_visible()
    got = comp.candidates()
    assert got[:10] == [f"SR42:BPM12{i}:X" for i in range(10)], got[:10]
    # the product bound: every keystroke's popup within 100 ms of the key
    assert max(took) < 0.1, took
    # while the popup shows, keys reach it first: typing goes on in the box
    QTest.keyClick(comp.completer.popup(), "5")
    assert entry.text() == "SR42:BPM125" and comp.candidates() == ["SR42:BPM125:X"]
    QTest.keyClick(comp.completer.popup(), Qt.Key_Escape)
    assert not comp.popup_visible() and entry.text() == "SR42:BPM125"
    # a second token of the add box is completed on its own
    entry.setText("")
    _type(qtbot, entry, "SR01:BPM001:X SR02:BPM00")
    assert comp.candidates()[0] == "SR02:BPM000:X"
    # Down, Enter in the popup: the highlighted name replaces the token, nothing added yet
    popup = comp.completer.popup()
    QTest.keyClick(popup, Qt.Key_Down)
    QTest.keyClick(popup, Qt.Key_Return)
    assert entry.text() == "SR01:BPM001:X SR02:BPM000:X" and not comp.popup_visible()
    assert win.table_widget.names() == []
    QTest.keyClick(entry, Qt.Key_Return)
    assert win.table_widget.names() == ["SR01:BPM001:X", "SR02:BPM000:X"]
    # Enter with nothing highlighted adds what was typed
    _type(qtbot, entry, "SR03:BPM00")
    assert comp.popup_visible()
    QTest.keyClick(popup, Qt.Key_Return)
    assert win.table_widget.names()[-1] == "SR03:BPM00" and not comp.popup_visible(), entry.text()


def test_probe_and_image_boxes_complete(qtbot, win, prefix):
    idx = win.name_finder.sources.index
    idx.set_source("server:test", _names(100000) + [f"pva://{prefix}cam"])
    len(idx)                                       # sorted when the source came (as the window does)
    probe = win.open_probe()
    took = _type(qtbot, probe.entry, "SR07:BPM99")
    assert probe.entry.name_completer.popup_visible() and max(took) < 0.1, took
    assert probe.entry.name_completer.candidates() == [f"SR07:BPM99{i}:X" for i in range(10)]
    # picking a name in a one-name box opens it
    QTest.keyClick(probe.entry.name_completer.completer.popup(), Qt.Key_Down)
    QTest.keyClick(probe.entry.name_completer.completer.popup(), Qt.Key_Return)
    assert probe.pv_name == "SR07:BPM990:X"
    image = win.views.open_image(f"{prefix}image1:")
    image.source_edit.clear()
    _type(qtbot, image.source_edit, "pva://" + prefix[:4])
    assert image.source_edit.name_completer.candidates() == [f"pva://{prefix}cam"]


def test_history_keeps_names_added_probed_and_opened_as_images(qtbot, bridge, tmp_path, prefix):
    path = history_file()
    assert not path.exists()
    w = show_main_window(qtbot, bridge, tmp_path / "s.ini")
    w.table_widget.add_from_text(f"{prefix}sine {prefix}setpoint")
    probe = w.open_probe()
    probe.set_typed(f"{prefix}ramp")
    w.views.open_image(f"{prefix}image1:")
    # written by itself (throttled), before the window closes
    qtbot.waitUntil(lambda: path.exists() and f"{prefix}image1:" in path.read_text(), timeout=15000)
    w.force_close = True
    w.close()
    names = NameHistory(path).load().names()
    assert {f"{prefix}sine", f"{prefix}setpoint", f"{prefix}ramp", f"{prefix}image1:"} <= set(names)
    # a new window completes them: nothing of them is in its tabs
    w2 = show_main_window(qtbot, bridge, tmp_path / "s2.ini", restore_tabs=False)
    _type(qtbot, w2.table_widget.entry, f"{prefix}ram")
    assert f"{prefix}ramp" in w2.table_widget.entry.name_completer.candidates()


def test_a_damaged_history_is_said_once_kept_aside_and_never_lost(qtbot, bridge, tmp_path, prefix):
    path = history_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x00\xffgarbage\n12.0\tOLD:GOOD:NAME\nnot a line\n")
    w = show_main_window(qtbot, bridge, tmp_path / "s.ini")
    qtbot.waitUntil(lambda: "name history" in w.last_message, timeout=5000)
    assert "copy was kept" in w.last_message
    asides = list(path.parent.glob(path.name + ".damaged-*"))
    assert len(asides) == 1 and asides[0].read_bytes().startswith(b"\x00\xffgarbage")
    # its readable name completes, and the window carries on
    _type(qtbot, w.table_widget.entry, "OLD:GO")
    assert w.table_widget.entry.name_completer.candidates() == ["OLD:GOOD:NAME"]
    w.table_widget.add_from_text(f"{prefix}sine")
    w.force_close = True
    w.close()
    text = path.read_text()
    assert text.splitlines()[0] == HEADER
    assert "OLD:GOOD:NAME" in text and f"{prefix}sine" in text
    # said once: a second window reads a good file and says nothing about it
    w2 = show_main_window(qtbot, bridge, tmp_path / "s2.ini", restore_tabs=False)
    qtbot.wait(50)
    assert "name history" not in w2.last_message


def test_names_of_open_tabs_follow_rows(qtbot, win, prefix):
    t = win.table_widget
    t.add_pvs([f"{prefix}sine", f"{prefix}ramp"])
    idx = win.name_finder.sources.index
    qtbot.waitUntil(lambda: idx.sources().get("tabs") == 2, timeout=5000)
    t.view.selectRow(t.model.row_of(f"{prefix}ramp"))
    t.remove_selected()
    qtbot.waitUntil(lambda: idx.sources().get("tabs") == 1, timeout=5000)
    win.tabs.new_tab(names=[f"{prefix}setpoint"])
    qtbot.waitUntil(lambda: idx.sources().get("tabs") == 2, timeout=5000)
    win.tabs.close_tab(win.tabs.currentIndex(), ask=False)
    qtbot.waitUntil(lambda: idx.sources().get("tabs") == 1, timeout=5000)
    assert win.tabs.count() == 1


def test_glob_in_the_add_box_adds_every_match(qtbot, win):
    finder = win.name_finder
    finder.sources.index.set_source("server:test", _names(20000))
    t = win.table_widget
    t.add_pvs(["SR01:BPM001:X"])
    t.entry.setText("SR01:BPM00?:X")
    QTest.keyClick(t.entry, Qt.Key_Return)
    assert t.names() == ["SR01:BPM001:X"] + [f"SR01:BPM00{i}:X" for i in range(10) if i != 1]
    assert "Added 9 PVs" in t.last_message and "10 matching 'SR01:BPM00?:X'" in t.last_message
    assert "1 already shown" in t.last_message and t.entry.text() == ""
    # nothing matches: said, nothing added, the text stays to be fixed
    t.entry.setText("NOPE*:X")
    QTest.keyClick(t.entry, Qt.Key_Return)
    assert "no known name matches 'NOPE*:X'" in t.last_message and len(t.names()) == 10
    assert t.entry.text() == "NOPE*:X"
    # an absurd count is refused
    t.entry.setText("SR*")
    QTest.keyClick(t.entry, Qt.Key_Return)
    assert f"more than {MAX_GLOB_ADD:,} at once" in t.last_message and len(t.names()) == 10
    # a glob beside names: names read as typed (ca://, pva://), bad ones kept to fix
    t.entry.setText("SR02:BPM01[01]:X, pva://MORE:X bad\"name")
    QTest.keyClick(t.entry, Qt.Key_Return)
    assert t.names()[10:] == ["SR02:BPM010:X", "SR02:BPM011:X", "pva://MORE:X"], t.names()
    assert "Added 3 PVs" in t.last_message and "1 name rejected" in t.last_message
    assert t.entry.text() == 'bad"name'
    # a glob is not remembered as a name
    finder._refresh_tabs()
    assert not any("*" in n or "?" in n for n in finder.sources.history.names())


def test_history_file_from_env(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PVPROBE_HISTORY", str(tmp_path / "h"))
    assert history_file() == tmp_path / "h"


def test_a_new_name_does_not_sort_100000_again() -> None:
    """A name remembered (a probe opened) goes into the sorted list by itself: the next
    keystroke does not wait for the whole index to be sorted again."""
    from pvprobe.core.name_index import NameIndex

    idx = NameIndex()
    idx.set_source("server:test", _names(100000))
    assert len(idx) == 100000
    idx.add("history", ["ZZ:NEW", "pva://SR01:BPM001:X"])
    idx.set_source("tabs", ["AA:ROW"])
    assert not idx._dirty
    assert idx.complete("ZZ") == ["ZZ:NEW"] and idx.complete("AA:") == ["AA:ROW"]
    assert idx.complete("SR01:BPM001:") == ["SR01:BPM001:X", "pva://SR01:BPM001:X"]
    idx.set_source("tabs", [])                      # a name gone: taken out, no sorting
    assert not idx._dirty
    assert idx.complete("AA:") == [] and len(idx) == 100001
    idx.set_source("tabs", ["SR01:BPM001:X", "ZZ:NEW"])   # held by other sources too
    idx.set_source("tabs", [])
    assert idx.complete("SR01:BPM001:") == ["SR01:BPM001:X", "pva://SR01:BPM001:X"]
    assert idx.complete("ZZ") == ["ZZ:NEW"]
    idx.drop_source("history")
    assert idx.complete("SR01:BPM001:") == ["SR01:BPM001:X"] and idx.complete("ZZ") == []
    assert not idx._dirty and len(idx) == 100000
    # many at once: sorted again, the same answers
    idx.set_source("tabs", _names(5000))
    idx.set_source("tabs", [])
    assert idx._dirty and len(idx) == 100000 and idx.complete("SR01:BPM001:") == ["SR01:BPM001:X"]


def test_restored_tabs_are_not_new_uses(qtbot, bridge, tmp_path, prefix):
    """A restored session's rows complete (tabs) but are not written to the history as
    used again at every start (a 100,000-row session would push out the typed names)."""
    ini = tmp_path / "s.ini"
    w = show_main_window(qtbot, bridge, ini)
    w.table_widget.add_pvs([f"{prefix}sine", f"{prefix}ramp"])
    w.force_close = True
    w.close()
    path = history_file()
    assert f"{prefix}ramp" in path.read_text()
    path.unlink()
    w2 = show_main_window(qtbot, bridge, ini)
    assert w2.table_widget.names() == [f"{prefix}sine", f"{prefix}ramp"]
    w2.table_widget.add_pvs([f"{prefix}setpoint"])
    w2.force_close = True
    w2.close()
    names = NameHistory(path).load().names()
    assert names == [f"{prefix}setpoint"]
    assert w2.name_finder.sources.index.sources()["tabs"] == 3


def test_a_history_that_cannot_be_written_is_said_once(qtbot, bridge, tmp_path, monkeypatch, prefix):
    """The history's folder is a file: said once at start, the window carries on (names
    still complete this session). A write that fails later is said once too, not at
    every throttled retry."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PVPROBE_HISTORY", str(blocker / "names.history"))
    w = show_main_window(qtbot, bridge, tmp_path / "s.ini")
    said: list[str] = []
    w.statusBar().messageChanged.connect(lambda text: said.append(text))
    qtbot.waitUntil(lambda: any("not be written this session" in m for m in said), timeout=5000)
    finder = w.name_finder
    finder.remember([f"{prefix}sine"])
    finder._save()
    _type(qtbot, w.table_widget.entry, f"{prefix}si")
    assert f"{prefix}sine" in w.table_widget.entry.name_completer.candidates()

    def refuse() -> None:
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(finder.sources.history, "save", refuse)
    for n in ("ramp", "setpoint"):
        finder.remember([prefix + n])
        finder._save()
    assert sum("not saved: No space left" in m for m in said) == 1, said
    assert sum("not be written this session" in m for m in said) == 1, said


def test_switching_and_closing_tabs_keep_the_refresh_delay(qtbot, win, prefix):
    """currentChanged(int) once reached the timer's start(msec): the tab index became the
    delay, and -1 (the last tab closed) made Qt warn of a negative interval."""
    from pvprobe.qt.app.name_finder import TABS_DELAY_MS

    timer = win.name_finder._tabs_timer
    win.open_tab([prefix + "sine"], "one")
    win.open_tab([prefix + "ramp"], "two")
    win.open_tab([prefix + "sine"], "three")
    win.tabs.setCurrentIndex(2)
    win.tabs.setCurrentIndex(1)
    assert timer.interval() == TABS_DELAY_MS
    win.tabs.close_all()
    assert timer.interval() == TABS_DELAY_MS
