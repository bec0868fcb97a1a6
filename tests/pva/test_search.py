"""pvprobe.pva.search (which server answers a pvAccess name) against real servers: the
p4p test server (tests/servers/pva_server.py) and pythonSoftIOC's QSRV2; and that it
ignores garbage a UDP peer sends back. The searches go where the session's clients
search (conftest: EPICS_PVA_ADDR_LIST lists every test server's UDP port)."""

from __future__ import annotations

import random
import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import NT_PREFIX, PVA_PORTS, QSRV_PREFIX

from pvprobe.pva.search import (
    SearchError,
    find_server,
    find_servers,
    parse_response,
    search_addresses,
    search_message,
    search_messages,
)

pytestmark = pytest.mark.timeout(60)

#: Slack for "within the timeout" (a loaded 2-core box; the point is "bounded").
SLACK = 3.0


def _server(kind: str) -> str:
    return f"127.0.0.1:{PVA_PORTS[kind][0]}"


# -- against real servers -----------------------------------------------------------------

def test_finds_the_p4p_servers_address(pva_nt_server):
    assert find_server(NT_PREFIX + "ai") == _server("nt")
    assert pva_nt_server.port == PVA_PORTS["nt"][0]


def test_unknown_name_is_none_within_the_timeout(pva_nt_server):
    start = time.monotonic()
    assert find_server(NT_PREFIX + "no:such:pv", timeout=0.5) is None
    assert time.monotonic() - start < 0.5 + SLACK


def test_finds_qsrv_records_and_many_names_in_one_search(pva_nt_server, qsrv_ioc):
    assert find_server(QSRV_PREFIX + "temp") == _server("qsrv")
    names = [QSRV_PREFIX + "count", NT_PREFIX + "enum", QSRV_PREFIX + "no:such", NT_PREFIX + "ai"]
    assert find_servers(names) == {QSRV_PREFIX + "count": _server("qsrv"), NT_PREFIX + "enum": _server("nt"),
                                   QSRV_PREFIX + "no:such": None, NT_PREFIX + "ai": _server("nt")}


def test_environment_is_read_at_call_time(pva_nt_server, monkeypatch):
    monkeypatch.setenv("EPICS_PVA_ADDR_LIST", f"127.0.0.1:{PVA_PORTS['nt'][1]}")
    assert find_server(NT_PREFIX + "ai") == _server("nt")
    # searching only where the server is not: not found (the env of the call counts)
    monkeypatch.setenv("EPICS_PVA_ADDR_LIST", f"127.0.0.1:{PVA_PORTS['spare2'][1]}")
    assert find_server(NT_PREFIX + "ai", timeout=0.3) is None
    # the default port: EPICS_PVA_BROADCAST_PORT
    monkeypatch.setenv("EPICS_PVA_ADDR_LIST", "127.0.0.1")
    monkeypatch.setenv("EPICS_PVA_BROADCAST_PORT", str(PVA_PORTS["nt"][1]))
    assert find_server(NT_PREFIX + "ai") == _server("nt")


# -- a peer that sends garbage ---------------------------------------------------------------

def _reply(seq: int, ids: list[int], host: bytes = bytes(10) + b"\xff\xff" + bytes(4), port: int = 4242,
           proto: str = "tcp", found: int = 1, big: bool = True) -> bytes:
    o = ">" if big else "<"
    body = (b"G" * 12 + struct.pack(o + "I", seq) + host + struct.pack(o + "H", port)
            + bytes([len(proto)]) + proto.encode() + bytes([found]) + struct.pack(o + "H", len(ids))
            + b"".join(struct.pack(o + "I", i) for i in ids))
    return struct.pack(o + "BBBBI", 0xCA, 2, 0x40 | (0x80 if big else 0), 4, len(body)) + body


def _garbage(seq: int, ids: list[int]) -> list[bytes]:
    good = _reply(seq, ids)
    return [b"", b"\x00", b"hello, world", random.Random(14).randbytes(300), good[:7], good[:20], good[:-1],
            b"\xca\x02\xc0\x04\xff\xff\xff\xff" + good[8:],                   # length beyond the packet
            bytes([0xCB]) + good[1:],                                          # wrong magic
            good[:3] + b"\x03" + good[4:],                                     # a SEARCH, not a reply
            good[:2] + bytes([good[2] | 0x01]) + good[3:],                     # a control message
            _reply(seq, ids, proto="udp"), _reply(seq, ids, found=0),
            good[:42] + b"\xfe\xff\xff\xff\xff" + good[43:],                   # a string size overrun
            _reply(seq + 1, ids),                                              # another search's
            _reply(seq, [0xDEADBEEF])]                                         # an id never asked


class JunkPeer:
    """A UDP socket that answers every SEARCH with garbage (and, if ``then_good``, one
    valid reply for every id after it): the "server" a test may write for this case."""

    def __init__(self, then_good: bool) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.then_good, self.searches = then_good, 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65536)
            except OSError:      # (a timeout too)
                continue
            self.searches += 1
            seq, ids = self._parse(data)
            for junk in _garbage(seq, ids):
                self.sock.sendto(junk, peer)
            if self.then_good:
                self.sock.sendto(_reply(seq, ids, big=False), peer)    # little-endian is fine too

    @staticmethod
    def _parse(data: bytes) -> tuple[int, list[int]]:
        """The sequence id and channel ids of a SEARCH (as a server reads it)."""
        assert data[0] == 0xCA and data[3] == 3 and data[2] & 0x80
        seq, flags = struct.unpack(">IB", data[8:13])
        pos = 8 + 4 + 4 + 16 + 2
        nproto = data[pos]
        pos += 1
        for _ in range(nproto):
            pos += 1 + data[pos]
        (count,) = struct.unpack(">H", data[pos:pos + 2])
        pos += 2
        ids = []
        for _ in range(count):
            (cid,) = struct.unpack(">I", data[pos:pos + 4])
            ids.append(cid)
            pos += 4 + 1 + data[pos + 4]
        return seq, ids

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def junk() -> Iterator[list[JunkPeer]]:
    peers: list[JunkPeer] = []
    yield peers
    for p in peers:
        p.stop()


def test_garbage_replies_are_ignored(junk, pva_nt_server):
    peer = JunkPeer(then_good=False)
    junk.append(peer)
    env = {"EPICS_PVA_ADDR_LIST": f"127.0.0.1:{peer.port} 127.0.0.1:{PVA_PORTS['nt'][1]}",
           "EPICS_PVA_AUTO_ADDR_LIST": "NO"}
    # the real server still answers, whatever came first from the junk peer
    assert find_server(NT_PREFIX + "ai", env=env) == _server("nt")
    # only junk: nothing found, no exception, within the timeout
    only_junk = {"EPICS_PVA_ADDR_LIST": f"127.0.0.1:{peer.port}", "EPICS_PVA_AUTO_ADDR_LIST": "NO"}
    start = time.monotonic()
    assert find_server(NT_PREFIX + "ai", timeout=0.5, env=only_junk) is None
    assert time.monotonic() - start < 0.5 + SLACK
    assert peer.searches >= 2


def test_a_valid_reply_after_garbage_counts_and_any_address_means_the_sender(junk):
    peer = JunkPeer(then_good=True)
    junk.append(peer)
    env = {"EPICS_PVA_ADDR_LIST": f"127.0.0.1:{peer.port}", "EPICS_PVA_AUTO_ADDR_LIST": "NO"}
    assert find_servers(["A:x", "B:y"], env=env) == {"A:x": "127.0.0.1:4242", "B:y": "127.0.0.1:4242"}


# -- messages and the address list (plain functions) ------------------------------------------

def test_search_message_layout():
    msg = search_message(7, [(1, "A:x"), (2, "B:yy")], 40000, unicast=True)
    assert msg[:4] == bytes([0xCA, 2, 0x80, 3])
    assert struct.unpack(">I", msg[4:8])[0] == len(msg) - 8
    assert struct.unpack(">IB3x", msg[8:16]) == (7, 0x80)
    assert msg[16:32] == bytes(16) and struct.unpack(">H", msg[32:34])[0] == 40000
    assert msg[34:39] == b"\x01\x03tcp"
    assert JunkPeer._parse(msg) == (7, [1, 2])
    assert search_message(7, [(1, "A")], 1, unicast=False)[12] == 0
    many = search_messages(1, [(i, f"NAME:{i:05d}:" + "x" * 40) for i in range(200)], 1, True)
    assert len(many) > 1 and all(len(m) <= 1400 + 8 for m in many)
    assert sum(len(JunkPeer._parse(m)[1]) for m in many) == 200


def test_parse_response_reads_addresses():
    mapped = bytes(10) + b"\xff\xff" + bytes([10, 1, 2, 3])
    assert parse_response(_reply(5, [9], host=mapped, port=5075), "127.0.0.1") == ("10.1.2.3:5075", 5, [9])
    assert parse_response(_reply(5, [9]), "192.0.2.7") == ("192.0.2.7:4242", 5, [9])
    v6 = bytes(15) + b"\x01"
    assert parse_response(_reply(5, [9], host=v6), "x") == ("[::1]:4242", 5, [9])
    for junk in _garbage(5, [9])[:-2]:     # all but another search's and an unknown id
        assert parse_response(junk, "127.0.0.1") is None


def test_addresses_from_the_environment():
    assert search_addresses({}) == [("255.255.255.255", 5076)]
    env = {"EPICS_PVA_ADDR_LIST": " 10.0.0.1  gw.example:6000\t10.0.0.1 ", "EPICS_PVA_AUTO_ADDR_LIST": "no",
           "EPICS_PVA_BROADCAST_PORT": "7000"}
    assert search_addresses(env) == [("10.0.0.1", 7000), ("gw.example", 6000)]
    env["EPICS_PVA_AUTO_ADDR_LIST"] = "YES"
    assert search_addresses(env)[-1] == ("255.255.255.255", 7000)
    with pytest.raises(SearchError, match="EPICS_PVA_BROADCAST_PORT"):
        search_addresses({"EPICS_PVA_BROADCAST_PORT": "many"})
    with pytest.raises(SearchError, match="not a port"):
        search_addresses({"EPICS_PVA_ADDR_LIST": "10.0.0.1:x"})
    with pytest.raises(SearchError, match="nowhere to search"):
        find_servers(["A"], env={"EPICS_PVA_AUTO_ADDR_LIST": "NO"})
    with pytest.raises(SearchError, match="no channel name"):
        find_server(" ")
