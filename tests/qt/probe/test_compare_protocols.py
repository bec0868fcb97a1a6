"""Compare CA and PVA: pvprobe.core.protocol_compare (plain states) and the compare panel
against the demo IOC, which serves every record over CA and over PVA (QSRV2)."""

from __future__ import annotations

import math

import pytest
from conftest import PVA_PORTS

from pvprobe.core.protocol_compare import PVA_SERVER_NOTE, ProtocolComparison, compare_names
from pvprobe.core.protocol_text import SERVER_NOT_FOUND, SERVER_SEARCHING
from pvprobe.core.pvstate import PVState

T0 = 1_780_000_000.25


def _pair(name: str = "X:rec", **pva_changes) -> tuple[PVState, PVState]:
    common = dict(connected=True, ever_connected=True, value=1.5, count=1, max_count=1,
                  native_type="DOUBLE", units="mm", precision=3, display_limits=(0.0, 10.0),
                  control_limits=(0.0, 10.0), alarm_limits=(math.nan, math.nan),
                  warning_limits=(math.nan, math.nan), timestamp=T0, read_access=True,
                  write_access=True)
    ca = PVState(name, host="127.0.0.1:5064", **common)
    pva = PVState("pva://" + name, protocol="pva", type_id="epics:nt/NTScalar:1.0",
                  access_known=False, **{**common, **pva_changes})
    return ca, pva


def _compared(ca: PVState, pva: PVState) -> ProtocolComparison:
    comp = ProtocolComparison(ca.name)
    assert comp.update(ca) and comp.update(pva)
    return comp


# -- the comparison, from plain states ------------------------------------------------------

def test_names_of_both_channels():
    assert compare_names("X:a") == ("X:a", "pva://X:a")
    assert compare_names("ca://X:a") == ("X:a", "pva://X:a")
    assert compare_names(" pva://X:a ") == ("X:a", "pva://X:a")


def test_same_record_agrees_and_protocol_nature_is_no_difference():
    comp = _compared(*_pair())
    assert comp.summary() == "CA and PVA agree"
    assert not comp.differences()
    rows = {r.key: r for r in comp.rows()}
    assert rows["server"].ca == "127.0.0.1:5064" and rows["server"].pva == SERVER_SEARCHING
    assert rows["server"].note == PVA_SERVER_NOTE
    assert "unknown until tried" in rows["access"].pva and not rows["access"].differs
    assert rows["alarm_limits"].ca == rows["alarm_limits"].pva == "not set"   # NaN equals NaN


@pytest.mark.parametrize("host, shown", [("127.0.0.1:5075", "127.0.0.1:5075"),
                                         (SERVER_NOT_FOUND, SERVER_NOT_FOUND), ("", SERVER_SEARCHING)])
def test_pva_server_row_says_what_the_search_found(host, shown):
    """The two addresses differ by nature (another port, a gateway): never marked."""
    comp = _compared(*_pair(host=host))
    row = next(r for r in comp.rows() if r.key == "server")
    assert (row.ca, row.pva, row.differs) == ("127.0.0.1:5064", shown, False)
    ca, pva = _pair()
    pva.ever_connected = pva.connected = False
    row = next(r for r in _compared(ca, pva).rows() if r.key == "server")
    assert row.pva == "-"



@pytest.mark.parametrize("change, key", [
    (dict(units="m"), "units"), (dict(precision=2), "precision"), (dict(value=2.5), "value"),
    (dict(severity=2), "severity"), (dict(display_limits=(0.0, 20.0)), "display_limits"),
    (dict(native_type="FLOAT"), "type"), (dict(connected=False), "connection"),
])
def test_a_field_that_differs_is_marked_and_said(change, key):
    comp = _compared(*_pair(**change))
    marked = [r.key for r in comp.differences()]
    assert marked == [key]
    row = comp.differences()[0]
    assert comp.summary() == f"differs: {row.label} (CA {row.ca}, PVA {row.pva})"


def test_values_compared_at_the_update_both_have_seen():
    ca, pva = _pair()
    comp = _compared(ca, pva)
    # CA's next update arrives first: not a difference, the common update is compared
    later = PVState(ca.name, **{**{f: getattr(ca, f) for f in ("connected", "ever_connected", "native_type",
                                                                 "units", "precision", "host")},
                                "value": 9.0, "timestamp": T0 + 0.1, "count": 1, "max_count": 1})
    later.display_limits, later.control_limits = ca.display_limits, ca.control_limits
    later.alarm_limits, later.warning_limits = ca.alarm_limits, ca.warning_limits
    comp.update(later)
    rows = {r.key: r for r in comp.rows()}
    assert not rows["value"].differs and rows["value"].ca == "1.500"
    assert not rows["timestamp"].differs and "compared at the update" in rows["timestamp"].note
    # and when the two never saw one update, the times are marked
    comp2 = _compared(later, pva)
    assert [r.key for r in comp2.differences()] == ["value", "timestamp"]


def test_integer_precision_none_over_ca_is_not_a_difference():
    comp = _compared(*_pair(precision=0, native_type="LONG", value=3))
    ca = comp.ca
    ca.native_type, ca.precision, ca.value = "LONG", None, 3
    comp.update(ca)
    row = {r.key: r for r in comp.rows()}["precision"]
    assert not row.differs and "CA sends no precision" in row.note


# -- the panel, with the demo IOC ------------------------------------------------------------

@pytest.fixture
def panel(qtbot, bridge):
    from pvprobe.qt.probe.compare_panel import ComparePanel

    p = ComparePanel(bridge)
    qtbot.addWidget(p)
    p.resize(900, 500)
    p.show()
    yield p
    p.close_pv()


def _both_connected(panel) -> bool:
    c = panel.comparison
    return bool(c and c.ca and c.pva and c.ca.connected and c.pva.connected and c.common_time())


def _marked_rows(panel) -> dict[str, tuple[str, str]]:
    """key -> (CA text, PVA text) of the rows the table shows in the 'differs' colours."""
    from pvprobe.qt.style.theme import table_colors

    diff = table_colors(panel._theme).diff_bg
    out = {}
    for r in range(panel.table.rowCount()):
        item = panel.table.item(r, 1)
        if item.background().color() == diff:
            out[item.data(0x0100)] = (item.text(), panel.table.item(r, 2).text())
    return out


def test_panel_same_record_agrees_over_ca_and_pva(qtbot, panel, demo_ioc, prefix):
    assert panel.set_pv(f"pva://{prefix}setpoint")
    assert panel.pv_name == f"{prefix}setpoint"
    qtbot.waitUntil(lambda: _both_connected(panel), timeout=15000)
    panel.refresh()
    assert panel.summary_text() == "CA and PVA agree"
    assert _marked_rows(panel) == {}
    rows = {r.key: r for r in panel.rows()}
    assert rows["units"].ca == rows["units"].pva == "V"
    assert rows["server"].ca.endswith(f":{demo_ioc.server_port}")
    # PVA's: the address a name search found (QSRV2's TCP port), in the table too, searched
    # off the GUI thread (the panel watches both channels, the engine's source searches)
    pva_server = f"127.0.0.1:{PVA_PORTS['demo'][0]}"
    qtbot.waitUntil(lambda: {r.key: r for r in panel.rows()}["server"].pva == pva_server, timeout=10000)
    panel.refresh()
    shown = [(panel.table.item(r, 1).text(), panel.table.item(r, 2).text()) for r in range(panel.table.rowCount())
             if panel.table.item(r, 0).text() == "Server address"]
    assert shown == [(rows["server"].ca, pva_server)]
    assert "server" not in _marked_rows(panel)


def test_panel_follows_a_moving_record_without_marking_it(qtbot, panel, prefix):
    panel.set_pv(f"{prefix}sine")
    seen: set[str] = set()

    def moved() -> bool:
        if _both_connected(panel):
            panel.refresh()
            seen.add(panel.rows()[1].ca)
            assert not _marked_rows(panel), panel.summary_text()
        return len(seen) >= 3
    qtbot.waitUntil(moved, timeout=15000)


def test_panel_marks_what_qsrv2_says_differently(qtbot, panel, prefix):
    """``wave`` (waveform DOUBLE without alarm limits): CA says they are not set (NaN),
    QSRV2's valueAlarm says 0 .. 0: a real difference between the protocols."""
    panel.set_pv(f"{prefix}wave")
    qtbot.waitUntil(lambda: _both_connected(panel), timeout=15000)
    panel.refresh()
    marked = _marked_rows(panel)
    assert "alarm_limits" in marked, (marked, panel.summary_text())
    assert marked["alarm_limits"][0] != marked["alarm_limits"][1]
    assert panel.summary_text().startswith("differs: ") and "Alarm limits" in panel.summary_text()
    assert "value" not in marked


def test_panel_marks_a_record_served_only_over_ca(qtbot, panel, caproto_ioc):
    panel.set_pv(f"{caproto_ioc.prefix}str")
    qtbot.waitUntil(lambda: panel.comparison.ca is not None and panel.comparison.ca.connected,
                    timeout=15000)
    panel.refresh()
    marked = _marked_rows(panel)
    assert marked.get("connection", ("", ""))[0] == "connected", marked
    assert panel.summary_text().startswith("differs: Connection (CA connected, PVA ")


def test_panel_refuses_a_bad_name_and_keeps_the_record(qtbot, panel, prefix):
    panel.set_pv(f"{prefix}setpoint")
    assert not panel.set_pv("xyz://nothing")
    assert "Not a PV name" in panel.summary_text()
    assert panel.pv_name == f"{prefix}setpoint"


def test_closing_releases_both_channels(qtbot, panel, bridge, engine, prefix):
    name = f"{prefix}long"
    panel.set_pv(name)
    qtbot.waitUntil(lambda: _both_connected(panel), timeout=15000)
    assert {name, "pva://" + name} <= set(engine.states())
    panel.close_pv()
    qtbot.waitUntil(lambda: not ({name, "pva://" + name} & set(engine.states())), timeout=5000)


# -- the window: menu action and --compare ----------------------------------------------------

def test_menu_action_compares_the_selected_row(qtbot, bridge, prefix, tmp_path):
    from conftest import show_main_window

    from pvprobe.qt.probe.compare_panel import ComparePanel

    win = show_main_window(qtbot, bridge, tmp_path / "s.ini")
    table = win.table_widget
    table.add_pvs([f"pva://{prefix}enum"])
    qtbot.waitUntil(lambda: table.model.rowCount() == 1, timeout=5000)
    table.view.selectRow(0)
    assert win.compare_action.text().replace("&", "") == "Compare CA and PVA…"
    win.compare_action.trigger()
    panels = win.views.views("compare")
    assert len(panels) == 1 and isinstance(panels[0], ComparePanel)
    panel = panels[0]
    assert panel.pv_name == f"{prefix}enum"
    qtbot.waitUntil(lambda: _both_connected(panel), timeout=15000)
    panel.refresh()
    assert panel.summary_text() == "CA and PVA agree"
    assert {r.key: r for r in panel.rows()}["enum_strs"].pva == "Off, Standby, On, Fault"


@pytest.mark.live     # starts its own demo IOC (in the app it runs)
def test_compare_option_opens_the_panel(tmp_path):
    """``pvprobe --compare NAME`` (here on the demo it starts): the window shows the
    panel; the screenshot is the README's picture of it when PVPROBE_README_SHOTS is set."""
    import os
    import subprocess
    import sys

    shot = tmp_path / "compare.png"
    token = "PVPCMP:"
    out = subprocess.run([sys.executable, "-m", "pvprobe", "--demo", "--prefix", token,
                          "--settings", str(tmp_path / "s.ini"), "--compare", token + "wave",
                          "--compare", f"pva://{token}setpoint", "--quit-after", "6",
                          "--screenshot", str(shot), "--stats", str(tmp_path / "stats.json")],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert shot.stat().st_size > 10_000
    target = os.environ.get("PVPROBE_README_SHOTS")
    if target:
        import shutil

        shutil.copy(shot, os.path.join(target, "compare-ca-pva.png"))
