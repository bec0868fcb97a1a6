"""Servers' own channel lists (pvprobe.pva.server_list: the RPC to a pvxs server's
built-in ``server`` PV over a connection of our own) and discovery pings
(pvprobe.pva.search.discover_servers), against real servers: the p4p test server,
pythonSoftIOC's QSRV2 and a p4p gateway (``python -m p4p.gw``); a closed port and a
listener that never answers give a message within the timeout, not a hang."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterator

import pytest
from conftest import NT_PREFIX, PVA_PORTS, QSRV_PREFIX, free_port
from servers.pva_gateway import Gateway, Upstream

from pvprobe.pva.search import SearchError, discover_servers
from pvprobe.pva.server_list import ServerListError, list_channels, parse_server, server_info

pytestmark = pytest.mark.timeout(90)

#: Slack for "within the timeout" (a loaded 2-core box; the point is "bounded").
SLACK = 1.5


def _server(kind: str) -> str:
    return f"127.0.0.1:{PVA_PORTS[kind][0]}"


def _ports(n: int) -> list[int]:
    taken = {p for pair in PVA_PORTS.values() for p in pair}
    out: list[int] = []
    while len(out) < n:
        p = free_port()
        if p not in taken and p not in out:
            out.append(p)
    return out


@pytest.fixture(scope="module")
def gateway(ca_repeater: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Upstream]]:
    """A gateway (status prefix GWL:) in front of one p4p server, all on ports of their own."""
    up_tcp, up_udp, tcp, udp = _ports(4)
    up = Upstream(f"gwl{os.getpid()}", 3, 0.0, up_tcp, up_udp)
    try:
        gw = Gateway(tmp_path_factory.mktemp("gwl"), tcp, udp, [up_udp], status="GWL:").start()
    except Exception:
        up.stop()
        raise
    yield gw, up
    gw.stop()
    up.stop()


def test_a_p4p_servers_channels(pva_nt_server) -> None:
    names = list_channels(_server("nt"))
    assert NT_PREFIX + "ai" in names and NT_PREFIX + "nd:lz4" in names and NT_PREFIX + "table" in names
    assert names == sorted(names) and all(n.startswith(NT_PREFIX) for n in names)
    info = server_info(_server("nt"))
    assert info["implLang"] == "cpp" and "PVXS" in info["version"]


def test_qsrv_lists_its_record_names(qsrv_ioc) -> None:
    names = list_channels(_server("qsrv"))
    for rec in ("temp", "hot", "count", "mode", "state", "on", "msg", "wave", "text"):
        assert QSRV_PREFIX + rec in names, names


def test_the_gateway_answers_for_itself(gateway) -> None:
    """The gateway is a pvxs server too: its ``server`` PV lists its own status PVs;
    what it forwards is found by search only (it lists none of the upstream names)."""
    gw, up = gateway
    names = list_channels(f"127.0.0.1:{gw.port}")
    assert "GWL:cache" in names and "GWL:clients" in names
    assert not [n for n in names if n.startswith(up.prefix)]
    # the upstream server lists its own
    assert f"{up.prefix}:0" in list_channels(f"127.0.0.1:{up.tcp}")


def test_discovery_finds_the_servers_of_the_address_list(pva_nt_server, qsrv_ioc, gateway) -> None:
    gw, up = gateway
    env = {"EPICS_PVA_ADDR_LIST": f"127.0.0.1:{PVA_PORTS['nt'][1]} 127.0.0.1:{PVA_PORTS['qsrv'][1]} "
                                  f"127.0.0.1:{gw.udp} 127.0.0.1:{_ports(1)[0]}",
           "EPICS_PVA_AUTO_ADDR_LIST": "NO"}
    t0 = time.monotonic()
    found = discover_servers(0.5, env)
    assert time.monotonic() - t0 < 0.5 + SLACK
    assert sorted(found) == sorted([_server("nt"), _server("qsrv"), f"127.0.0.1:{gw.port}"])
    # the session's own configuration (conftest: every test server's UDP port) finds them too
    assert {_server("nt"), _server("qsrv")} <= set(discover_servers(0.5))
    # a list naming no server: nothing, after the timeout
    assert discover_servers(0.2, {"EPICS_PVA_ADDR_LIST": f"127.0.0.1:{_ports(1)[0]}",
                                  "EPICS_PVA_AUTO_ADDR_LIST": "NO"}) == []
    with pytest.raises(SearchError, match="nowhere to search"):
        discover_servers(0.2, {"EPICS_PVA_ADDR_LIST": "", "EPICS_PVA_AUTO_ADDR_LIST": "NO"})


def test_a_closed_port_and_a_silent_listener_give_a_message_in_time() -> None:
    port = _ports(1)[0]
    t0 = time.monotonic()
    with pytest.raises(ServerListError, match="cannot connect"):
        list_channels(f"127.0.0.1:{port}", timeout=1.0)
    assert time.monotonic() - t0 < 1.0 + SLACK
    with socket.socket() as silent:        # accepts the connection, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        t0 = time.monotonic()
        with pytest.raises(ServerListError, match="no answer in time"):
            list_channels(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        assert time.monotonic() - t0 < 0.5 + SLACK


def test_a_peer_that_is_no_pvaccess_server() -> None:
    """Something that answers with other bytes (e.g. an HTTP server): said, not hung."""
    import threading

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen()

        def answer() -> None:
            conn, _ = srv.accept()
            with conn:
                conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

        t = threading.Thread(target=answer, daemon=True)
        t.start()
        with pytest.raises(ServerListError, match="not a pvAccess server"):
            list_channels(f"127.0.0.1:{srv.getsockname()[1]}", timeout=2.0)
        t.join(5)


@pytest.mark.parametrize("text", ["", "host", "host:", ":5075", "h:99999", "a b:1", "pva://x:1"])
def test_bad_server_addresses_are_refused(text: str) -> None:
    with pytest.raises(ServerListError, match="is not host:port"):
        parse_server(text)
    assert parse_server(" 127.0.0.1:5075 ") == ("127.0.0.1", 5075)


def test_gather_and_one_refresh_at_a_time(pva_nt_server, qsrv_ioc) -> None:
    """pvprobe.pva.channel_lists: discovery plus named servers, each one's list or why
    not; ServerLists runs one refresh at a time in its own thread and posts the result."""
    import threading

    from pvprobe.pva.channel_lists import ServerLists, gather

    gone = f"127.0.0.1:{_ports(1)[0]}"
    env = {"EPICS_PVA_ADDR_LIST": f"127.0.0.1:{PVA_PORTS['qsrv'][1]}", "EPICS_PVA_AUTO_ADDR_LIST": "NO"}
    got = gather([_server("nt"), gone, "no-port"], env, discover_timeout=0.3, list_timeout=1.0)
    assert got.discovered == [_server("qsrv")] and got.problem == ""
    assert QSRV_PREFIX + "temp" in got.lists[_server("qsrv")]
    assert NT_PREFIX + "ai" in got.lists[_server("nt")]
    assert got.lists[gone].startswith("cannot connect") and "is not host:port" in got.lists["no-port"]
    bad = gather((), {"EPICS_PVA_ADDR_LIST": "", "EPICS_PVA_AUTO_ADDR_LIST": "NO"})
    assert bad.lists == {} and "nowhere to search" in bad.problem

    lists = ServerLists(lambda: env)
    done = threading.Event()
    box = []

    def post(result) -> None:
        box.append(result)
        done.set()

    assert lists.refresh(post, [_server("nt")])
    assert not lists.refresh(post)              # one at a time
    assert done.wait(15)
    assert set(box[0].lists) == {_server("qsrv"), _server("nt")} and lists.refreshes == 1
    deadline = time.monotonic() + 5
    while lists.running and time.monotonic() < deadline:
        time.sleep(0.01)  # ok-sleep: bounded poll for the thread's end
    assert not lists.running
