"""EPICS_PVA_NAME_SERVERS: the server-address search and discovery over TCP, against real
p4p and QSRV2 servers with no UDP search at all; bad entries, a port nobody listens on,
and a peer that is no pvAccess server."""

from __future__ import annotations

import socket
import threading
import time

import pytest
from conftest import NT_PREFIX, PVA_PORTS, QSRV_PREFIX, Collector

from pvprobe.pva.name_servers import NameServerError, name_servers
from pvprobe.pva.search import SearchError, discover_servers, find_server, find_servers

pytestmark = pytest.mark.timeout(60)


def _only_name_servers(monkeypatch, *entries: str) -> None:
    monkeypatch.setenv("EPICS_PVA_AUTO_ADDR_LIST", "NO")
    monkeypatch.setenv("EPICS_PVA_ADDR_LIST", "")
    monkeypatch.setenv("EPICS_PVA_NAME_SERVERS", " ".join(entries))


def test_names_found_through_name_servers_alone(pva_nt_server, qsrv_ioc, monkeypatch):
    nt, qsrv = (f"127.0.0.1:{PVA_PORTS[k][0]}" for k in ("nt", "qsrv"))
    _only_name_servers(monkeypatch, nt, qsrv)
    assert find_server(NT_PREFIX + "ai") == nt
    start = time.monotonic()
    got = find_servers([QSRV_PREFIX + "count", NT_PREFIX + "enum", NT_PREFIX + "no:such"], timeout=0.8)
    assert got == {QSRV_PREFIX + "count": qsrv, NT_PREFIX + "enum": nt, NT_PREFIX + "no:such": None}
    assert time.monotonic() - start < 0.8 + 3.0
    assert set(discover_servers(0.5)) == {nt, qsrv}


def test_the_default_port_and_bad_entries(monkeypatch):
    env = {"EPICS_PVA_NAME_SERVERS": "10.0.0.1 10.0.0.2:5099 10.0.0.1", "EPICS_PVA_SERVER_PORT": "5111"}
    assert name_servers(env) == [("10.0.0.1", 5111), ("10.0.0.2", 5099)]
    assert name_servers({"EPICS_PVA_NAME_SERVERS": "gw"}) == [("gw", 5075)]
    for bad in ("host:port", ":5075", "host:70000"):
        with pytest.raises(NameServerError, match="EPICS_PVA_NAME_SERVERS"):
            name_servers({"EPICS_PVA_NAME_SERVERS": bad})
    _only_name_servers(monkeypatch, "host:port")
    with pytest.raises(SearchError, match="not a port"):
        find_server("X")
    _only_name_servers(monkeypatch)
    with pytest.raises(SearchError, match="nowhere to search"):
        find_server("X")


def test_a_dead_port_and_a_peer_that_is_no_pva_server(monkeypatch):
    """Neither hangs nor raises: the name is not found within the timeout."""
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]
    dead.close()                                  # nobody listens there now
    junk = socket.socket()
    junk.bind(("127.0.0.1", 0))
    junk.listen(4)
    stop = threading.Event()

    def babble() -> None:
        while not stop.is_set():
            junk.settimeout(0.1)
            try:
                conn, _ = junk.accept()
            except OSError:
                continue
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" * 10)
            conn.close()
    t = threading.Thread(target=babble, daemon=True)
    t.start()
    try:
        _only_name_servers(monkeypatch, f"127.0.0.1:{dead_port}", f"127.0.0.1:{junk.getsockname()[1]}")
        start = time.monotonic()
        assert find_server("SOME:PV", timeout=0.5) is None
        assert discover_servers(0.3) == []
        assert time.monotonic() - start < 0.8 + 4.0
    finally:
        stop.set()
        t.join(5)
        junk.close()


def test_the_engine_connects_and_names_the_server_through_name_servers(pva_nt_server, monkeypatch):
    """A client configured with name servers alone: the channel connects (p4p) and the
    row's server address comes from pvprobe's own search over TCP."""
    from pvprobe.ca.engine import Engine

    nt = f"127.0.0.1:{PVA_PORTS['nt'][0]}"
    _only_name_servers(monkeypatch, nt)
    eng = Engine(tick_hz=20)
    col = Collector(eng)
    eng.start(col)
    try:
        name = f"pva://{NT_PREFIX}ai"
        eng.add([name])
        eng.watch("test", [name])
        col.wait(lambda: name in col.latest and col.latest[name].connected, 20, "connected")
        col.wait(lambda: col.latest[name].host == nt, 10, "its server, found through the name server")
    finally:
        eng.close()
