"""pvAccess servers' own channel lists in the window's name completion: the first
completion asks the servers a discovery ping finds (the session's EPICS_PVA_ADDR_LIST
names every test server's UDP port) for their lists, off the GUI thread; the p4p test
server's and QSRV's names then complete as ``pva://`` names in the add box; View >
Refresh server channel lists says what it got; a server that went away (the server of a
PV in the table, now stopped) is said by address, and its names go."""

from __future__ import annotations

import pytest
from conftest import NT_PREFIX, NT_RESTART_PREFIX, PVA_PORTS, QSRV_PREFIX, show_main_window
from PyQt5.QtTest import QTest

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def win(qtbot, bridge, tmp_path):
    return show_main_window(qtbot, bridge, tmp_path / "s.ini")


def _type(edit, text: str) -> list[str]:
    edit.setFocus()
    edit.clear()
    QTest.keyClicks(edit, text)
    return edit.name_completer.candidates()


def test_servers_channels_complete_in_the_add_box(qtbot, win, pva_nt_server, qsrv_ioc):
    finder = win.name_finder
    entry = win.table_widget.entry
    assert finder.server_list_status == ""            # nothing asked before completion is used
    _type(entry, f"{NT_PREFIX}a")
    qtbot.waitUntil(lambda: finder.server_list_status != "", timeout=20000)
    nt, qsrv = f"127.0.0.1:{PVA_PORTS['nt'][0]}", f"127.0.0.1:{PVA_PORTS['qsrv'][0]}"
    assert f"{NT_PREFIX}ai" in finder.sources.server_names(nt)
    assert f"{QSRV_PREFIX}temp" in finder.sources.server_names(qsrv)
    got = _type(entry, f"{NT_PREFIX}a")
    assert f"pva://{NT_PREFIX}ai" in got and f"pva://{NT_PREFIX}alarmed" in got, got
    assert entry.name_completer.popup_visible()
    # QSRV's record names, in the probe's name box too
    probe = win.open_probe(f"pva://{NT_PREFIX}ai")
    assert f"pva://{QSRV_PREFIX}temp" in _type(probe.entry, f"{QSRV_PREFIX}te")
    # listed names are not "used": the history does not get them
    assert f"pva://{QSRV_PREFIX}temp" not in finder.sources.history.names()
    assert "Server channel lists:" in finder.server_list_status and "names from" in finder.server_list_status


def test_menu_refresh_says_what_it_got_and_a_server_gone(qtbot, win, pva_nt_restartable, monkeypatch):
    """The servers of the PVA PVs shown are asked even when discovery does not find them."""
    finder = win.name_finder
    server = f"127.0.0.1:{PVA_PORTS['spare3'][0]}"
    name = f"pva://{NT_RESTART_PREFIX}ai"
    win.table_widget.add_pvs([name])
    # the table's PVA PV: its server found by a name search (state.host)
    qtbot.waitUntil(lambda: (win.table_widget.model.state_of(name) or None) is not None
                    and win.table_widget.model.state_of(name).host == server, timeout=20000)
    # from now on a discovery ping reaches the demo IOC only: this server is asked
    # because a PV of the table is on it
    monkeypatch.setenv("EPICS_PVA_ADDR_LIST", f"127.0.0.1:{PVA_PORTS['demo'][1]}")
    finder.lists_action.trigger()
    assert "asking the pvAccess servers" in win.last_message
    qtbot.waitUntil(lambda: "names from" in win.last_message, timeout=20000)
    assert f"{NT_RESTART_PREFIX}ai" in finder.sources.server_names(server)
    # a name only the server's list knows (not in a tab, not in the history)
    assert f"pva://{NT_RESTART_PREFIX}alarmed" in finder.complete(f"{NT_RESTART_PREFIX}al")
    # the server stops: the next refresh says so by its address and drops its names
    pva_nt_restartable[0].stop()
    assert finder.refresh_server_lists()
    qtbot.waitUntil(lambda: server in finder.sources.server_problems, timeout=20000)
    qtbot.waitUntil(lambda: f"{server}: cannot connect" in win.last_message, timeout=5000)
    assert finder.sources.server_names(server) == []
    assert finder.complete(f"{NT_RESTART_PREFIX}al") == []


def test_automatic_refreshes_can_be_turned_off(qtbot, bridge, tmp_path, pva_nt_server):
    """``server_lists=false`` under [names]: no discovery ping at the first completion,
    none every 5 minutes; the menu still asks (and the setting survives the session save)."""
    ini = tmp_path / "s.ini"
    ini.write_text("[names]\nserver_lists=false\n")
    w = show_main_window(qtbot, bridge, ini)
    finder = w.name_finder
    assert not finder.auto_lists
    _type(w.table_widget.entry, f"{NT_PREFIX}a")
    assert not finder._lists_first.isActive() and not finder._lists_timer.isActive()
    assert not finder._lists.running and finder.server_list_status == ""
    finder.lists_action.trigger()
    qtbot.waitUntil(lambda: "names from" in finder.server_list_status, timeout=20000)
    assert f"pva://{NT_PREFIX}alarmed" in finder.complete(f"{NT_PREFIX}al")
    assert not finder._lists_timer.isActive()
    w.force_close = True
    w.close()
    assert "server_lists=false" in ini.read_text()
