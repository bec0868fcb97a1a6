"""pvAccess in the GUI's table and probe, against a real p4p server (tests/pva_gui_server.py,
PVA kind "spare1") and the CA demo IOC: pva:// names by every entry path, the Protocol
column, PVA texts (type id, alarm message, access unknown until tried, no time), puts
through the one put workflow (confirmation, put log, the server's refusal), the default
protocol setting, the probe's NTTable table and structure tree."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PVA_PORTS, SERVERS_DIR, ServerProcess, show_main_window
from PyQt5.QtCore import QByteArray
from PyQt5.QtWidgets import QMessageBox

from pvprobe.core import pvnames
from pvprobe.core.putlog import read_putlog
from pvprobe.qt.probe.probe_panel import ProbePanel
from pvprobe.qt.table.pvtable_model import Col
from pvprobe.qt.table.table_widget import PVTableWidget

pytestmark = pytest.mark.timeout(120)

P = "PVPGUI:"
SERVER = SERVERS_DIR / "pva_gui_server.py"


@pytest.fixture(scope="module")
def pva_gui_server(ca_repeater: object) -> Iterator[ServerProcess]:
    """tests/pva_gui_server.py on the "spare1" ports; stopped by PID."""
    tcp, udp = PVA_PORTS["spare1"]
    srv = ServerProcess([sys.executable, str(SERVER), P, str(tcp), str(udp)], tcp, P)
    srv.wait_listening(60)
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def ca_default() -> Iterator[None]:
    """Every test starts and ends with CA as the default protocol, set by nobody."""
    pvnames.reset_default_protocol()
    yield
    pvnames.reset_default_protocol()


@pytest.fixture
def table(qtbot, bridge, pva_gui_server) -> Iterator[PVTableWidget]:
    t = PVTableWidget(bridge)
    t.confirm_puts = False
    qtbot.addWidget(t)
    t.resize(1100, 300)
    t.show()
    yield t
    t.close_pvs()


def cell(t: PVTableWidget, name: str, col: int) -> str:
    return t.model.text(t.model.row_of(name), col)


def wait_connected(qtbot, t: PVTableWidget, names: list[str], timeout: int = 20000) -> None:
    def ok() -> bool:
        sts = [t.model.state_of(n) for n in names]
        return all(s is not None and s.connected and s.value is not None for s in sts)
    qtbot.waitUntil(ok, timeout=timeout)


# -- the table -----------------------------------------------------------------------------------

def test_table_protocol_column_and_pva_texts(qtbot, table, prefix):
    table.add_from_text(f"ca://{prefix}setpoint pva://{P}dbl {P}notime pva://{P}table pva://{P}ro")
    ca, dbl, table_pv, ro = prefix + "setpoint", f"pva://{P}dbl", f"pva://{P}table", f"pva://{P}ro"
    assert table.names() == [ca, dbl, P + "notime", table_pv, ro]     # bare = CA (the default)
    wait_connected(qtbot, table, [ca, dbl, table_pv, ro])
    assert cell(table, ca, Col.PROTOCOL) == "CA"
    assert cell(table, dbl, Col.PROTOCOL) == "PVA"
    assert cell(table, P + "notime", Col.PROTOCOL) == "CA"             # known before it connects
    assert cell(table, P + "notime", Col.VALUE) == "connecting…"        # no such CA PV
    assert table.is_column_visible(Col.PROTOCOL)
    # the PVA alarm message is the status; the value is formatted with display.precision
    assert cell(table, dbl, Col.STATUS) == "drifting"
    assert cell(table, dbl, Col.SEVERITY).endswith("MINOR")
    assert cell(table, dbl, Col.VALUE) == "1.25"
    assert cell(table, dbl, Col.UNITS) == "mm"
    assert cell(table, dbl, Col.ACCESS) == "read; write unknown until tried"
    assert cell(table, dbl, Col.CONNECTION) == "connected"
    assert cell(table, table_pv, Col.ACCESS) == "read; no puts of this type"
    assert cell(table, table_pv, Col.VALUE) == "[table 3 rows × 3 columns]"
    tip = table.model.tooltip(table.model.state_of(dbl), Col.VALUE)
    assert "pvAccess, type epics:nt/NTScalar:1.0" in tip
    assert "MINOR alarm, status drifting" in tip
    assert "write unknown until tried" in tip
    ca_tip = table.model.tooltip(table.model.state_of(ca), Col.VALUE)
    assert "pvAccess" not in ca_tip and "host " in ca_tip
    # Description: CA rows read NAME.DESC, PVA rows show display.description (no .DESC channel)
    table.set_column_visible(Col.DESCRIPTION, True)
    assert cell(table, dbl, Col.DESCRIPTION) == "drift sensor"
    assert ca + ".DESC" in table._desc_sub and not any(n.startswith("pva://") for n in table._desc_sub.names)
    table.set_column_visible(Col.DESCRIPTION, False)
    # hideable like the other optional columns
    table.set_column_visible(Col.PROTOCOL, False)
    assert not table.is_column_visible(Col.PROTOCOL)
    table.set_column_visible(Col.PROTOCOL, True)


def test_every_entry_path_takes_pva_names(qtbot, table, tmp_path):
    txt = tmp_path / "list.txt"
    txt.write_text(f"# mixed\npva://{P}int\nca://{P}ca_one\n{P}bare\n")
    pvs = tmp_path / "list.pvs"
    pvs.write_text(f'<?xml version="1.0"?><pvtable version="3.0"><pvlist>'
                   f'<pv><name>pva://{P}enum</name></pv><pv><name>{P}ca_two</name></pv>'
                   f'</pvlist></pvtable>')
    table.add_from_file(str(txt))
    table._on_files_dropped([str(pvs)])
    table._on_text_dropped(f"pva://{P}ro, ca://{P}ca_three")
    table.entry.setText(f"pva://{P}refuse bad://x")
    table._on_entry()
    assert table.entry.text() == "bad://x"                           # the rejected one stays
    assert table.names() == [f"pva://{P}int", P + "ca_one", P + "bare", f"pva://{P}enum",
                             P + "ca_two", f"pva://{P}ro", P + "ca_three", f"pva://{P}refuse"]
    wait_connected(qtbot, table, [f"pva://{P}int", f"pva://{P}enum", f"pva://{P}ro", f"pva://{P}refuse"])
    assert cell(table, f"pva://{P}enum", Col.VALUE) == "On"


def test_bare_names_follow_the_default_protocol(qtbot, table):
    pvnames.set_default_protocol("pva")
    table.add_from_text(f"{P}int ca://{P}ca_x")
    assert table.names() == [f"pva://{P}int", P + "ca_x"]
    # dragged out, a CA row says ca:// so a drop reads it back as CA
    md = table.model.mimeData([table.model.index(0, 0), table.model.index(1, 0)])
    assert md.text().splitlines() == [f"pva://{P}int", f"ca://{P}ca_x"]
    wait_connected(qtbot, table, [f"pva://{P}int"])


def test_table_put_to_pva_confirmed_logged_and_refused(qtbot, table, monkeypatch, isolated_settings):
    asked: list[str] = []

    def yes(parent, title, text, *a, **k):
        asked.append(text)
        return QMessageBox.Yes
    monkeypatch.setattr(QMessageBox, "question", staticmethod(yes))
    names = [f"pva://{P}int", f"pva://{P}ro", f"pva://{P}refuse"]
    table.add_pvs(names)
    table.confirm_puts = True
    wait_connected(qtbot, table, names)
    good, ro, refuse = names
    assert table.put_value(good, "42") is not None
    assert asked and good in asked[-1]
    qtbot.waitUntil(lambda: cell(table, good, Col.COMPLETION).startswith("done"), timeout=15000)
    qtbot.waitUntil(lambda: cell(table, good, Col.VALUE) == "42", timeout=15000)
    # a value that does not fit an int is refused before anything is sent
    n_asked = len(asked)
    assert table.put_value(good, "4.5e20") is None
    assert len(asked) == n_asked and "Not sent" in table.last_message
    # the server refuses: its message is shown
    assert table.put_value(ro, "1") is not None
    qtbot.waitUntil(lambda: cell(table, ro, Col.COMPLETION).startswith("failed"), timeout=15000)
    assert "Put not supported" in cell(table, ro, Col.COMPLETION)
    assert table.put_value(refuse, "1") is not None
    qtbot.waitUntil(lambda: cell(table, refuse, Col.COMPLETION).startswith("failed"), timeout=15000)
    assert "interlocked: shutter open" in cell(table, refuse, Col.COMPLETION)
    assert "interlocked: shutter open" in table.last_message
    log = read_putlog()
    by_name = {r["pv"]: r for r in log} if log and "pv" in log[0] else {r.get("name"): r for r in log}
    assert good in by_name and by_name[good].get("source") == "table"
    assert ro in by_name and refuse in by_name


def test_old_header_state_without_the_protocol_column_restores(qtbot, table):
    """A column layout saved before the Protocol column existed (11 sections) comes back."""
    import zlib

    from PyQt5.QtGui import QStandardItemModel
    from PyQt5.QtWidgets import QTableView

    from pvprobe.qt.table.table_columns import HEADER_MAGIC, HEADER_VERSION

    old = QTableView()
    old.setModel(QStandardItemModel(1, 11))
    old.horizontalHeader().resizeSection(int(Col.VALUE), 321)
    qt = bytes(old.horizontalHeader().saveState())
    data = HEADER_MAGIC + bytes([HEADER_VERSION, 11]) + zlib.crc32(qt).to_bytes(4, "big") + qt
    assert table.restore_header_state(data)
    assert table.view.columnWidth(int(Col.VALUE)) == 321
    assert table.is_column_visible(Col.PROTOCOL)
    assert table.model.columnCount() == 12


# -- the default protocol setting ------------------------------------------------------------------

def test_default_protocol_setting_is_applied_and_saved(qtbot, bridge, isolated_settings, pva_gui_server):
    from pvprobe.qt.app.settings import Settings

    Path(isolated_settings).write_text("[window]\ndefault_protocol=pva\n")
    win = show_main_window(qtbot, bridge, Path(isolated_settings))
    assert pvnames.default_protocol() == "pva"
    assert win.protocol_menu.actions["pva"].isChecked()
    win.table_widget.add_from_text(f"{P}int")
    assert win.table_widget.names() == [f"pva://{P}int"]
    win.protocol_menu.actions["ca"].trigger()
    assert pvnames.default_protocol() == "ca"
    assert win.save_session()
    assert Settings(isolated_settings).load().default_protocol == "ca"
    win.force_close = True
    win.close()


def test_command_line_protocol_wins_over_the_setting(qtbot, bridge, isolated_settings):
    Path(isolated_settings).write_text("[window]\ndefault_protocol=pva\n")
    pvnames.set_default_protocol("ca")          # what --default-protocol ca does
    win = show_main_window(qtbot, bridge, Path(isolated_settings))
    assert pvnames.default_protocol() == "ca"
    assert win.protocol_menu.actions["ca"].isChecked()
    assert win.session().default_protocol == "pva"     # the saved choice is kept
    win.force_close = True
    win.close()


def test_bad_protocol_in_settings_warns(qtbot, bridge, isolated_settings):
    from pvprobe.qt.app.settings import Settings

    Path(isolated_settings).write_text("[window]\ndefault_protocol=http\n")
    s = Settings(isolated_settings)
    assert s.load().default_protocol == "ca"
    assert "default_protocol" in s.warning_text()


# -- the probe -----------------------------------------------------------------------------------

@pytest.fixture
def probe(qtbot, bridge, pva_gui_server) -> Iterator[ProbePanel]:
    p = ProbePanel(bridge)
    p.confirm_puts = False
    qtbot.addWidget(p)
    p.resize(620, 900)
    p.show()
    yield p
    p.close_pv()


def probe_connected(qtbot, p: ProbePanel) -> None:
    qtbot.waitUntil(lambda: p.state is not None and p.state.connected and p.state.value is not None,
                    timeout=20000)


def test_probe_pva_scalar(qtbot, probe):
    assert probe.set_typed(f"pva://{P}dbl")
    probe_connected(qtbot, probe)
    i = probe.info
    assert "epics:nt/NTScalar:1.0" in i["type"].text() and i["type"].text().startswith("DOUBLE")
    assert i["access"].text() == "read; write unknown until tried"
    # the server that answered a name search (p4p does not tell a channel's peer)
    qtbot.waitUntil(lambda: i["host"].text() == f"127.0.0.1:{PVA_PORTS['spare1'][0]}", timeout=10000)
    assert i["display"].text() == "-5 .. 5"
    assert i["control"].text() == "-4 .. 4"
    assert i["alarm"].text() == "-4.5 .. 4.5" and i["warning"].text() == "-3 .. 3"
    assert probe.value_label.text() == "1.25 mm"
    assert "status drifting" in probe.alarm_label.text() and "MINOR" in probe.alarm_label.text()
    assert probe.time_label.text().startswith("Server time 20")
    assert not probe.fields_box.isVisible()            # record fields are CA's
    assert probe.engine_names() == [f"pva://{P}dbl"] * 2     # the PV (+ keep_all), no .RTYP
    assert probe.name_label.text() == f"pva://{P}dbl"


def test_probe_no_time(qtbot, probe):
    probe.set_pv(f"pva://{P}notime")
    probe_connected(qtbot, probe)
    assert probe.time_label.text() == "Server time: no time (the server sent 0)"


def test_probe_nttable_as_a_table(qtbot, probe, tmp_path):
    probe.set_pv(f"pva://{P}table")
    probe_connected(qtbot, probe)
    qtbot.waitUntil(lambda: probe.struct_box.isVisible(), timeout=5000)
    sv = probe.structure_view
    assert sv.kind == "table" and sv.stack.currentWidget() is sv.table
    m = sv.table_model
    assert (m.rowCount(), m.columnCount()) == (3, 3)
    assert [m.headerData(c, 1) for c in range(3)] == ["Name", "Position", "Count"]
    assert [m.cell(r, 0) for r in range(3)] == ["x", "y", "z"]
    assert [m.cell(r, 1) for r in range(3)] == ["1.5", "-2.0", "0.25"]
    assert [m.cell(r, 2) for r in range(3)] == ["1", "2", "3"]
    assert "3 rows × 3 columns" in sv.caption.text()
    assert probe.info["count"].text() == "3 rows"
    assert probe.editor.kind == "readonly"
    assert "No puts of this pvAccess type" in probe.editor.hint.text()
    assert not probe.plot_button.isEnabled()
    probe.resize(560, 720)
    assert probe.grab().save(str(tmp_path / "probe-pva-table.png"))


def test_probe_structure_as_a_tree_and_union_text(qtbot, probe):
    probe.set_pv(f"pva://{P}nested")
    probe_connected(qtbot, probe)
    qtbot.waitUntil(lambda: probe.structure_view.kind == "tree", timeout=5000)
    rows = probe.structure_view.tree_rows()
    assert ("serial", "string", "SN-42") in rows
    assert ("motor", "structure", "") in rows
    assert ("low", "double", "-1.0") in rows
    assert ("samples", "int[]", "[3] 1 2 3") in rows
    assert "my:gui/Thing:1.0" in probe.structure_view.caption.text()
    assert probe.info["type"].text() == "STRUCT (my:gui/Thing:1.0)"
    probe.set_pv(f"pva://{P}union")
    qtbot.waitUntil(lambda: probe.state is not None and probe.state.value is not None
                    and probe.structure_view.kind == "tree"
                    and probe.structure_view.caption.text().startswith("my:gui/Union"), timeout=20000)
    assert ("value", "union", "hello") in probe.structure_view.tree_rows()
    assert "hello" in probe.value_label.text()


def test_probe_put_confirmed_logged_refused(qtbot, probe, monkeypatch):
    asked: list[str] = []

    def yes(parent, title, text, *a, **k):
        asked.append(text)
        return QMessageBox.Yes
    monkeypatch.setattr(QMessageBox, "question", staticmethod(yes))
    probe.confirm_puts = True
    probe.set_pv(f"pva://{P}int")
    probe_connected(qtbot, probe)
    assert probe.editor.kind == "number"
    probe.editor.line.setText("17")
    probe.editor.put_button.click()
    qtbot.waitUntil(lambda: probe.state.value == 17, timeout=15000)
    assert asked and f"pva://{P}int" in asked[-1]
    assert any(r.get("source") == "probe" for r in read_putlog())
    probe.set_pv(f"pva://{P}refuse")
    probe_connected(qtbot, probe)
    probe.editor.line.setText("1")
    probe.editor.put_button.click()
    qtbot.waitUntil(lambda: "interlocked: shutter open" in probe.editor.message_text, timeout=15000)
    assert probe.editor.message_text.startswith("✖ Failed")


def test_table_screenshot_with_ca_and_pva_rows(qtbot, bridge, isolated_settings, pva_gui_server, prefix, tmp_path):
    win = show_main_window(qtbot, bridge, Path(isolated_settings))
    win.resize(1320, 520)
    t = win.table_widget
    t.add_from_text(" ".join([prefix + n for n in ("sine", "setpoint", "enum", "message")]
                             + [f"pva://{P}{n}" for n in ("dbl", "int", "enum", "notime", "table", "nested",
                                                          "img:lz4")]))
    wait_connected(qtbot, t, t.names())
    t.view.horizontalHeader().restoreState(QByteArray(t._default_header))
    t.view.resizeColumnToContents(int(Col.PROTOCOL))
    assert cell(t, f"pva://{P}notime", Col.TIMESTAMP) == "no time"
    assert win.grab().save(str(tmp_path / "table-ca-pva.png"))
    win.force_close = True
    win.close()


# -- the command line ------------------------------------------------------------------------------

def _run_gui(tmp_path, ini: Path, *args: str) -> dict:
    import json
    import os
    import subprocess

    stats = tmp_path / f"stats{len(list(tmp_path.glob('stats*')))}.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-m", "pvprobe", "--settings", str(ini), *args,
                          "--quit-after", "4", "--stats", str(stats)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return json.loads(stats.read_text())


def test_command_line_names_follow_the_saved_protocol(tmp_path, pva_gui_server):
    """Bare names on the command line take the saved default protocol; --default-protocol
    wins; --stats and PVA rows work together."""
    ini = tmp_path / "s.ini"
    ini.write_text("[window]\ndefault_protocol=pva\n")
    s = _run_gui(tmp_path, ini, f"{P}int", f"{P}dbl")
    assert (s["pvs"], s["connected"]) == (2, 2)           # both over PVA
    assert "default_protocol=pva" in ini.read_text()      # kept
    s = _run_gui(tmp_path, ini, "--default-protocol", "ca", f"{P}int", f"pva://{P}dbl")
    assert (s["pvs"], s["connected"]) == (2, 1)           # PVPGUI:int is no CA PV


def test_ntndarray_rows_and_probe_lead_to_the_image_view(qtbot, bridge, isolated_settings, pva_gui_server):
    win = show_main_window(qtbot, bridge, Path(isolated_settings))
    t = win.table_widget
    lz4, liar = f"pva://{P}img:lz4", f"pva://{P}img:liar"
    t.add_pvs([lz4, liar])
    qtbot.waitUntil(lambda: cell(t, lz4, Col.VALUE).startswith("[NTNDArray 48×32")
                    and "uncompressedSize" in cell(t, liar, Col.VALUE), timeout=20000)
    assert cell(t, lz4, Col.VALUE) == "[NTNDArray 48×32 Mono UInt16, lz4, uniqueId 3]"
    assert cell(t, liar, Col.VALUE).startswith("[NTNDArray: lz4 data decodes to 3072 bytes")
    probe = win.open_probe(lz4)
    qtbot.waitUntil(lambda: probe.plot_button.text() == "Image view" and probe.plot_button.isEnabled(),
                    timeout=20000)
    assert probe.value_label.text() == "[NTNDArray 48×32 Mono UInt16, lz4, uniqueId 3]"
    probe.plot_button.click()
    images = win.views.views("image")
    assert len(images) == 1 and images[0].feed.array_pv == lz4
    qtbot.waitUntil(lambda: images[0].frame is not None, timeout=20000)
    assert images[0].frame.data.shape == (32, 48)
    win.force_close = True
    win.close()


def test_file_open_and_save_keep_each_rows_protocol(qtbot, bridge, isolated_settings, tmp_path):
    """File > Open of a .pvs and a .txt with pva:// names; a list saved while bare names
    mean PVA writes CA names as ca://, so it reads back the same rows."""
    pvs = tmp_path / "mixed.pvs"
    pvs.write_text(f'<?xml version="1.0"?><pvtable version="3.0"><pvlist>'
                   f'<pv><name>pva://{P}dbl</name></pv><pv><name>ca://{P}ca_one</name></pv>'
                   f'</pvlist></pvtable>')
    win = show_main_window(qtbot, bridge, Path(isolated_settings))
    parsed = win.file_actions.open_list(str(pvs), into="current")
    assert parsed is not None and parsed.rejected == []
    t = win.table_widget
    assert t.names() == [f"pva://{P}dbl", P + "ca_one"]
    pvnames.set_default_protocol("pva", from_settings=True)
    out = tmp_path / "saved.txt"
    assert win.file_actions.write_list(str(out), t)
    lines = [ln for ln in out.read_text().splitlines() if not ln.startswith("#")]
    assert lines == [f"pva://{P}dbl", f"ca://{P}ca_one"]
    parsed = win.file_actions.open_list(str(out), into="new")
    assert win.table_widget.names() == [f"pva://{P}dbl", P + "ca_one"]
    win.force_close = True
    win.close()


def test_gui_snapshot_of_ca_and_pva_rows(qtbot, bridge, isolated_settings, pva_gui_server, prefix,
                                          tmp_path, monkeypatch):
    """Snapshot > Save / Compare / Restore on a tab of CA and PVA rows: PVA scalars and
    enums are saved, compared and restored (through the put workflow); an NTTable and a
    structure are left out with the reason, nothing crashes."""
    from PyQt5.QtWidgets import QDialog

    from pvprobe.core.snapshot import read_snapshot
    from pvprobe.qt.table.snapshot_ui import RestoreConfirmDialog

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a, **k: QMessageBox.Ok))
    win = show_main_window(qtbot, bridge, Path(isolated_settings))
    t = win.table_widget
    names = [prefix + "setpoint", f"pva://{P}int", f"pva://{P}enum", f"pva://{P}table", f"pva://{P}nested"]
    t.add_pvs(names)
    wait_connected(qtbot, t, names)
    path = tmp_path / "snap.csv"
    snap = win.snapshots.save_snapshot(str(path))
    assert snap is not None
    assert "2 pvAccess tables/structures/images not saved" in win.last_message
    back = {r.name: r for r in read_snapshot(path).rows}
    assert sorted(back) == sorted(names[:3])
    assert back[f"pva://{P}int"].value_text == cell(t, f"pva://{P}int", Col.VALUE)
    assert back[f"pva://{P}enum"].value_text == "On"
    win.set_confirm_puts(False)
    assert t.put_value(f"pva://{P}enum", 2) is not None
    qtbot.waitUntil(lambda: cell(t, f"pva://{P}enum", Col.VALUE) == "Fault", timeout=15000)
    diffs = win.snapshots.compare_snapshot(str(path))
    assert diffs is not None
    assert [d.name for d in diffs if d.kind == "different"] == [f"pva://{P}enum"]
    monkeypatch.setattr(RestoreConfirmDialog, "exec_", lambda dlg: QDialog.Accepted)
    assert win.snapshots.restore_snapshot(str(path))
    qtbot.waitUntil(lambda: not win.snapshots.restoring, timeout=20000)
    qtbot.waitUntil(lambda: cell(t, f"pva://{P}enum", Col.VALUE) == "On", timeout=15000)
    win.force_close = True
    win.close()


ALL_SHAPES = ("dbl", "int", "ro", "refuse", "enum", "notime", "table", "nested", "union",
              "img:mono16", "img:rgb8", "img:lz4", "img:liar", "img:stream")


def test_every_pva_shape_in_every_cell_role_and_sort(qtbot, table, prefix):
    """Every shape the server has, beside a CA row: every column in every role, sorted
    by every column, copied, filtered: texts, no exception."""
    from PyQt5.QtCore import Qt

    from pvprobe.qt.table.pvtable_columns import HEADERS

    names = [prefix + "sine"] + [f"pva://{P}{n}" for n in ALL_SHAPES]
    table.add_pvs(names)
    wait_connected(qtbot, table, [n for n in names if not n.endswith("liar")])
    m = table.model
    roles = (Qt.DisplayRole, Qt.ToolTipRole, Qt.ForegroundRole, Qt.BackgroundRole, Qt.FontRole,
             Qt.TextAlignmentRole, Qt.DecorationRole)
    for r in range(m.rowCount()):
        for c in range(len(HEADERS)):
            for role in roles:
                m.data(m.index(r, c), role)
            assert isinstance(m.text(r, c), str)
    for c in range(len(HEADERS)):
        m.sort_rows(c, Qt.DescendingOrder)
        m.sort_rows(c, Qt.AscendingOrder)
    assert sorted(m.names()) == sorted(names)
    table.view.selectAll()
    assert len(table.copy_selected(True).splitlines()) == len(names)
    table.proxy.set_filter_text("PVA")
    table.proxy.set_filter_text("img")
    qtbot.waitUntil(lambda: table.proxy.rowCount() == 5, timeout=5000)
    assert cell(table, f"pva://{P}union", Col.VALUE) == "hello"


def test_probe_takes_every_pva_shape(qtbot, probe):
    """Each shape in turn in one probe: connected, a value text, no exception (pytest-qt
    fails the test on an exception in a slot)."""
    for n in ALL_SHAPES:
        name = f"pva://{P}{n}"
        assert probe.set_pv(name)
        qtbot.waitUntil(lambda: probe.state is not None and probe.state.connected
                        and probe.state.update_count > 0, timeout=20000)
        qtbot.waitUntil(lambda: probe.value_label.text() not in ("", "connecting…"), timeout=5000)
        assert probe.report_text().startswith(name)
