"""The gateway in the window, through a real ``python -m p4p.gw`` (downstream on the PVA
kind "spare1", status prefix GWQ:) in front of a p4p server on ports the client does
not search: its status view (tab of its status PVs, probes of its stats and rate
tables), a refused put showing the gateway's message, the probe saying "through
gateway GWQ:" once the gateway's channel list names the PV, and that list completing
names. The gateway posts its channel list every 30 s and a name counts once two posts
in a row list it: one test waits for that (up to about 60 s).

Found here: the gateway's list also holds names it only searched for (the demo IOC's
``pva://PVPTEST:sine``, which this client got straight from the IOC, was listed once,
because the client's search reached the gateway too)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from conftest import PVA_PORTS, free_port, show_main_window
from PyQt5.QtTest import QTest
from servers.pva_gateway import Gateway, Upstream

from pvprobe.core.name_sources import (
    GATEWAY_ENV,
    GATEWAY_STATUS,
    gateway_prefixes,
    set_cli_gateways,
)
from pvprobe.qt.table.pvtable_model import Col

pytestmark = pytest.mark.timeout(240)

GW = "GWQ:"


def _ports(n: int) -> list[int]:
    taken = {p for pair in PVA_PORTS.values() for p in pair}
    out: list[int] = []
    while len(out) < n:
        p = free_port()
        if p not in taken and p not in out:
            out.append(p)
    return out


@pytest.fixture(scope="module")
def upstream(ca_repeater: object) -> Iterator[Upstream]:
    tcp, udp = _ports(2)
    up = Upstream(f"gwq{os.getpid()}", 6, 0.0, tcp, udp)
    yield up
    up.stop()


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tcp, udp = PVA_PORTS["spare1"]
    pvlist = f".* ALLOW\n{upstream.prefix}:setp ALLOW RO\n"       # the last match wins
    gw = Gateway(tmp_path_factory.mktemp("gwq"), tcp, udp, [upstream.udp], pvlist=pvlist, status=GW).start()
    yield gw
    gw.stop()


@pytest.fixture
def win(qtbot, bridge, gateway, tmp_path, monkeypatch):
    monkeypatch.setenv(GATEWAY_ENV, GW)
    w = show_main_window(qtbot, bridge, tmp_path / "s.ini")
    w.confirm_puts = False
    w.table_widget.confirm_puts = False
    return w


def _cell(t, name: str, col: int) -> str:
    return t.model.text(t.model.row_of(name), col)


def test_gateway_status_view_opens_its_pvs_as_rows_and_probes(qtbot, win):
    finder = win.name_finder
    assert finder.gateways == [GW]
    table = finder.open_gateway_status(GW)
    assert win.tabs.title_of(table) == f"Gateway {GW}"
    assert table.names() == [f"pva://{GW}{s}" for s in GATEWAY_STATUS]
    m = table.model

    def connected(names: list[str]) -> bool:
        return all(m.state_of(n) is not None and m.state_of(n).connected for n in names)
    qtbot.waitUntil(lambda: connected(table.names()), timeout=20000)
    assert "table" in _cell(table, f"pva://{GW}us:bypv:rx", Col.VALUE)
    probes = win.views.views("probe")
    assert [p.pv_name for p in probes] == [f"pva://{GW}stats", f"pva://{GW}us:bypv:rx", f"pva://{GW}ds:byhost:rx"]
    qtbot.waitUntil(lambda: all(p.state is not None and p.state.connected for p in probes), timeout=20000)
    assert probes[0].state.native_type == "STRUCT"
    assert "ccacheSize" in str(probes[0].state.extra.get("tree"))
    assert probes[1].state.native_type == "TABLE" and probes[2].state.native_type == "TABLE"
    # a bad prefix opens nothing and says why
    assert finder.open_gateway_status("pva://GW:") is None
    assert "Not opened" in win.last_message and "without a scheme" in win.last_message


def test_a_put_refused_by_the_gateway_shows_its_message(qtbot, win, upstream):
    t = win.table_widget
    name = f"pva://{upstream.prefix}:setp"
    t.add_pvs([name])
    qtbot.waitUntil(lambda: t.model.state_of(name).connected and t.model.state_of(name).value == 1.0,
                    timeout=20000)
    assert t.put_value(name, "7.5") is not None
    qtbot.waitUntil(lambda: _cell(t, name, Col.COMPLETION).startswith("failed"), timeout=15000)
    assert "denied by gateway" in _cell(t, name, Col.COMPLETION).lower()
    assert "denied by gateway" in t.last_message.lower()
    assert "denied by gateway" in win.last_message.lower()
    # nothing was written: a fresh read still gives the old value
    from p4p.client.thread import Context

    with Context("pva") as ctx:     # its own client, through the gateway too
        assert ctx.get(name[len("pva://"):], timeout=5) == 1.0
    assert t.model.state_of(name).value == 1.0


@pytest.mark.slow       # two posts of the gateway's channel list: 30-60 s
def test_probe_says_through_gateway_and_its_channel_list_completes(qtbot, win, upstream, prefix):
    up = upstream.prefix
    finder = win.name_finder
    win.table_widget.add_pvs([f"pva://{up}:0", f"pva://{up}:1"])
    probe = win.open_probe(f"pva://{up}:2")
    direct = win.open_probe(f"pva://{prefix}sine")       # the demo IOC over PVA, no gateway
    # a channel only someone else holds through the gateway (no tab, no history)
    other = win.bridge.subscribe([f"pva://{up}:4"], None)
    try:
        qtbot.waitUntil(lambda: probe.state is not None and probe.state.connected, timeout=20000)
        qtbot.waitUntil(lambda: direct.state is not None and direct.state.connected, timeout=20000)
        # the gateway posts its channel list every 30 s; a name counts after two posts
        qtbot.waitUntil(lambda: finder.sources.gateway_of(f"pva://{up}:4") == GW, timeout=120000)
        assert finder.sources.gateway_of(f"pva://{up}:2") == GW
        assert finder.sources.gateway_of(f"pva://{prefix}sine") is None
        # what answers the name search is the gateway: its address, and that it is one
        gw_server = f"127.0.0.1:{PVA_PORTS['spare1'][0]}"
        qtbot.waitUntil(lambda: probe.info["host"].text() == f"{gw_server} (through gateway {GW})",
                        timeout=5000)
        demo_server = f"127.0.0.1:{PVA_PORTS['demo'][0]}"
        qtbot.waitUntil(lambda: direct.info["host"].text() == demo_server, timeout=5000)
        # the gateway's list completes a name nobody typed here
        entry = win.table_widget.entry
        entry.setFocus()
        QTest.keyClicks(entry, f"{up}:")
        assert f"pva://{up}:4" in entry.name_completer.candidates()
        assert win.name_finder.sources.index.sources()[f"gateway:{GW}"] >= 4
        assert f"pva://{up}:4" not in finder.sources.history.names()
    finally:
        other.close()


def test_gateway_prefixes_from_option_env_and_settings(monkeypatch) -> None:
    from pvprobe.cli.gui import build_parser

    args = build_parser().parse_args(["--gateway-status", "GWA:", "--gateway-status", "GWB:"])
    set_cli_gateways(args.gateway_status)
    try:
        monkeypatch.setenv(GATEWAY_ENV, "GWC:, GWA: pva://bad")
        got, problems = gateway_prefixes(["GWD:", "has space"])
        assert got == ["GWA:", "GWB:", "GWC:", "GWD:"]
        assert len(problems) == 2 and "'pva://bad' ignored" in problems[0]
    finally:
        set_cli_gateways([])


def test_a_name_counts_as_through_the_gateway_after_two_posts() -> None:
    """Its cache lists names it is only searching for until its next sweep: one post
    is not enough."""
    from pvprobe.core.name_history import NameHistory
    from pvprobe.core.name_sources import NameSources

    src = NameSources(NameHistory(os.devnull))
    src.set_gateway_cache(GW, ["A:held", "B:searched"])
    assert src.gateway_of("pva://A:held") is None
    src.set_gateway_cache(GW, ["A:held"])
    assert src.gateway_of("pva://A:held") == GW and src.gateway_of("pva://B:searched") is None
    assert src.gateway_of("A:held") is None                 # a CA name never comes through it
    assert src.index.complete("A:") == ["pva://A:held"]


def test_gateway_setting_is_read_kept_and_added_to(qtbot, bridge, tmp_path, monkeypatch) -> None:
    """[names] gateway_status set by hand survives the session save (which rewrites the
    file), and a prefix typed in Open > Gateway status is added to it."""
    from PyQt5.QtWidgets import QInputDialog

    ini = tmp_path / "s.ini"
    ini.write_text("[names]\ngateway_status=GWX:\n")
    w = show_main_window(qtbot, bridge, ini)
    assert w.name_finder.gateways == ["GWX:"]
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *a, **k: ("GWY:", True)))
    w.name_finder.gateways.append("GWZ:")                # two known: the dialog asks
    w.name_finder.gateway_action.trigger()
    assert w.tabs.title_of(w.table_widget) == "Gateway GWY:"
    w.force_close = True
    w.close()
    w2 = show_main_window(qtbot, bridge, ini)
    assert w2.name_finder.gateways == ["GWX:", "GWY:"]


def test_the_gui_option_reaches_the_window(gateway, tmp_path) -> None:
    """``pvprobe --gateway-status``: a good prefix is taken, a bad one is said (log), and
    the window shows the gateway's own status PV through it."""
    import json
    import subprocess
    import sys

    stats = tmp_path / "stats.json"
    out = subprocess.run([sys.executable, "-m", "pvprobe", "--gateway-status", GW, "--gateway-status", "pva://X:",
                          f"pva://{GW}clients", "--settings", str(tmp_path / "s.ini"), "--quit-after", "5",
                          "--stats", str(stats)],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert "'pva://X:' ignored: give the prefix without a scheme" in out.stderr, out.stderr[-3000:]
    assert f"'{GW}'" not in out.stderr
    data = json.loads(stats.read_text())
    assert data["pvs"] == 1 and data["connected"] == 1
