"""Which server answers a pvAccess channel: a UDP name search, as a PVA client does it.

p4p's client does not report the peer of a channel, so this asks the network itself:
a SEARCH message (command 3) to every address of ``EPICS_PVA_ADDR_LIST`` (and, unless
``EPICS_PVA_AUTO_ADDR_LIST`` is NO, to the broadcast address), then the SEARCH_RESPONSE
(command 4) of the server that claims the name gives its TCP address. A gateway answers
for the channels it forwards: its address is what a client connects to, so that is the
answer then. Plain sockets: no p4p, no Qt.

Message layout, checked against pvxs (github.com/epics-base/pvxs, master 788f838):

- header, ``src/pvaproto.h`` (``to_wire(Buf&, const Header&)``): ``0xCA``, version 2,
  flags (``pva_flags::MSB`` 0x80 = big-endian; Server 0x40 on replies), command, u32
  payload size;
- SEARCH body, ``src/client.cpp`` (``ContextImpl::tickSearch``): u32 searchSequenceID, u8
  flags (``pva_search_flags``: MustReply 0x01, Unicast 0x80 when sent to a unicast
  address), 3 reserved bytes, 16-byte reply address (all zero: "reply to the sender"),
  u16 reply port, the protocols (size-encoded count, then "tcp" as a size-encoded
  string), u16 channel count, then per channel u32 id and its name (size-encoded);
  pvxs keeps one message under ``maxSearchPayload`` = 1400 bytes;
- how a server reads it, ``src/udp_collector.cpp`` (``UDPCollector::process_one``) and
  answers, ``src/server.cpp`` (``Server::Pvt::onSearch``): only when it claims a name
  (or MustReply is set): 12-byte GUID, u32 sequence id, 16-byte address (IPv4 as
  ``::ffff:a.b.c.d``; ``::ffff:0.0.0.0`` means "the UDP sender's address", as
  ``procSearchReply`` in ``src/client.cpp`` reads it), u16 TCP port, the protocol
  string, u8 found, u16 count and u32 ids;
- sizes, ``src/pvaproto.h`` (``to_wire(Buffer&, const Size&)``): one byte below 254,
  else 254 and a u32; addresses, ``src/evhelper.cpp`` (``to_wire(Buffer&, const SockAddr&)``);
- the address list, ``src/config.cpp`` (``split_addr_into``): entries split on
  whitespace, ``host`` or ``host:port``, the default port EPICS_PVA_BROADCAST_PORT (5076).

Name servers (EPICS_PVA_NAME_SERVERS) are searched too, over TCP (:mod:`.name_servers`),
in the same wait. Not covered: IPv6 entries.
"""

from __future__ import annotations

import ipaddress
import os
import select
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from typing import Optional

from .name_servers import NameServerError, NameServerLinks, name_servers

MAGIC = 0xCA
VERSION = 2
FLAG_MSB = 0x80             # header flags: big-endian payload
FLAG_CONTROL = 0x01         # header flags: control message (never over UDP)
FLAG_SEGMENTS = 0x30        # header flags: segmented (never over UDP)
CMD_SEARCH = 0x03
CMD_SEARCH_RESPONSE = 0x04
SEARCH_UNICAST = 0x80       # SEARCH flags: sent to a unicast address
SEARCH_MUST_REPLY = 0x01    # SEARCH flags: answer even when claiming nothing (discovery)
DEFAULT_PORT = 5076
BROADCAST = "255.255.255.255"
#: Largest SEARCH message pvxs sends (names beyond it go in the next message).
MAX_PAYLOAD = 1400
#: When (s after the start) the names not yet found are searched again: UDP may drop.
RESEND_AT = (0.0, 0.1, 0.3, 0.6)
_ANY_V4 = bytes(10) + b"\xff\xff" + bytes(4)     # ::ffff:0.0.0.0


class SearchError(ValueError):
    """A search that cannot be made (no address to send to, a bad address list)."""


# ----------------------------------------------------------------------------- encoding

def _size(n: int) -> bytes:
    return bytes([n]) if n < 254 else b"\xfe" + struct.pack(">I", n)


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return _size(len(data)) + data


def search_message(seq: int, channels: Iterable[tuple[int, str]], reply_port: int,
                   unicast: bool) -> bytes:
    """One SEARCH message (big-endian) for ``channels`` ((id, name) pairs), replies to
    the sender's address at ``reply_port``."""
    items = [struct.pack(">I", cid) + _string(name) for cid, name in channels]
    body = (struct.pack(">IB3x", seq & 0xFFFFFFFF, SEARCH_UNICAST if unicast else 0)
            + bytes(16) + struct.pack(">H", reply_port)
            + _size(1) + _string("tcp")
            + struct.pack(">H", len(items)) + b"".join(items))
    return struct.pack(">BBBBI", MAGIC, VERSION, FLAG_MSB, CMD_SEARCH, len(body)) + body


def search_messages(seq: int, channels: list[tuple[int, str]], reply_port: int,
                    unicast: bool) -> list[bytes]:
    """The SEARCH messages for many channels, each under :data:`MAX_PAYLOAD` bytes
    (a single name longer than that still goes, alone)."""
    out: list[bytes] = []
    batch: list[tuple[int, str]] = []
    size = 0
    for cid, name in channels:
        n = 5 + len(name.encode("utf-8")) + 4
        if batch and (size + n > MAX_PAYLOAD - 40 or len(batch) == 0xFFFF):
            out.append(search_message(seq, batch, reply_port, unicast))
            batch, size = [], 0
        batch.append((cid, name))
        size += n
    if batch:
        out.append(search_message(seq, batch, reply_port, unicast))
    return out


# ----------------------------------------------------------------------------- decoding

class _Reader:
    """Reads a payload of either byte order; any overrun raises ValueError."""

    def __init__(self, data: bytes, big: bool) -> None:
        self.data, self.pos, self.order = data, 0, ">" if big else "<"

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("truncated")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(self.order + fmt, self.take(struct.calcsize(self.order + fmt)))

    def size(self) -> int:
        n = self.take(1)[0]
        if n == 255:
            return 0        # pvData's "null" string
        return self.unpack("I")[0] if n == 254 else n

    def string(self) -> str:
        return self.take(self.size()).decode("utf-8", "replace")


def _address(raw: bytes, sender: str) -> str:
    """A 16-byte wire address as text ("any" means the UDP sender's address)."""
    if raw == _ANY_V4 or raw == bytes(16):
        return sender
    addr = ipaddress.IPv6Address(raw)
    return str(addr.ipv4_mapped) if addr.ipv4_mapped is not None else f"[{addr}]"


def _response_fields(data: bytes, sender: str) -> Optional[tuple[bytes, int, str, str, int, list[int]]]:
    """A SEARCH_RESPONSE's (GUID, sequence id, "host:port", protocol, found, [ids]); None
    for anything else (another command, a truncated or malformed packet)."""
    try:
        if len(data) < 8 or data[0] != MAGIC or data[1] == 0 or data[3] != CMD_SEARCH_RESPONSE:
            return None
        flags = data[2]
        if flags & (FLAG_CONTROL | FLAG_SEGMENTS):
            return None
        head = _Reader(data[4:8], bool(flags & FLAG_MSB))
        (length,) = head.unpack("I")
        if length > len(data) - 8:
            return None
        r = _Reader(data[8:8 + length], bool(flags & FLAG_MSB))
        guid = r.take(12)
        (seq,) = r.unpack("I")
        host = _address(r.take(16), sender)
        (port,) = r.unpack("H")
        proto = r.string()
        (found,) = r.unpack("B")
        (count,) = r.unpack("H")
        ids = [r.unpack("I")[0] for _ in range(count)]
    except (ValueError, struct.error, UnicodeError):
        return None
    return guid, seq, f"{host}:{port}", proto, found, ids


def parse_response(data: bytes, sender: str) -> Optional[tuple[str, int, list[int]]]:
    """A SEARCH_RESPONSE as ``("host:port", sequence id, [found ids])``; None for
    anything else (another command, a truncated or malformed packet, "not found")."""
    fields = _response_fields(data, sender)
    if fields is None:
        return None
    _guid, seq, server, proto, found, ids = fields
    if proto != "tcp" or not found or not ids:
        return None
    return server, seq, ids


# ----------------------------------------------------------------------------- where to send

def _flag(env: Mapping[str, str], key: str, default: bool) -> bool:
    text = env.get(key, "").strip().upper()
    if text in ("NO", "0"):
        return False
    if text in ("YES", "1"):
        return True
    return default


def default_port(env: Mapping[str, str]) -> int:
    """EPICS_PVA_BROADCAST_PORT, or 5076."""
    text = env.get("EPICS_PVA_BROADCAST_PORT", "").strip()
    if not text:
        return DEFAULT_PORT
    try:
        port = int(text)
    except ValueError:
        raise SearchError(f"EPICS_PVA_BROADCAST_PORT={text!r} is not a port number") from None
    if not 0 < port < 65536:
        raise SearchError(f"EPICS_PVA_BROADCAST_PORT={text!r} is not a port number")
    return port


def _endpoint(entry: str, port: int) -> tuple[str, int]:
    host, sep, tail = entry.rpartition(":")
    if not sep:
        return entry, port
    try:
        p = int(tail)
    except ValueError:
        raise SearchError(f"EPICS_PVA_ADDR_LIST entry {entry!r}: {tail!r} is not a port") from None
    if not host or not 0 < p < 65536:
        raise SearchError(f"EPICS_PVA_ADDR_LIST entry {entry!r} is not host or host:port")
    return host, p


def search_addresses(env: Optional[Mapping[str, str]] = None) -> list[tuple[str, int]]:
    """Where a client sends its searches: each ``host``/``host:port`` of
    EPICS_PVA_ADDR_LIST (the default port EPICS_PVA_BROADCAST_PORT or 5076), plus the
    broadcast address unless EPICS_PVA_AUTO_ADDR_LIST is NO. ``env``: the client's
    configuration (default ``os.environ`` now). Duplicates once."""
    env = os.environ if env is None else env
    port = default_port(env)
    out = [_endpoint(e, port) for e in env.get("EPICS_PVA_ADDR_LIST", "").split()]
    if _flag(env, "EPICS_PVA_AUTO_ADDR_LIST", True):
        out.append((BROADCAST, port))
    return list(dict.fromkeys(out))


def _is_unicast(host: str) -> bool:
    """Flag a search as unicast unless it goes to the broadcast or a multicast address
    (pvxs also counts its interfaces' broadcast addresses out, which plain sockets do
    not list; servers read the flag as a hint only)."""
    try:
        ip = ipaddress.IPv4Address(host)
    except ValueError:
        return True     # a host name: one host
    return not (ip.is_multicast or host == BROADCAST)


# ----------------------------------------------------------------------------- the search

def _targets(env: Optional[Mapping[str, str]]) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
    """Where to search: UDP addresses, name servers; SearchError when nowhere."""
    targets = search_addresses(env)
    try:
        servers = name_servers(env)
    except NameServerError as exc:
        raise SearchError(str(exc)) from None
    if not targets and not servers:
        raise SearchError("nowhere to search: EPICS_PVA_ADDR_LIST and EPICS_PVA_NAME_SERVERS are "
                          "empty and EPICS_PVA_AUTO_ADDR_LIST is NO")
    return targets, servers


def _reply_socket() -> socket.socket:
    """A UDP socket on a free port that may send broadcasts (replies come back to it)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind(("0.0.0.0", 0))
    except OSError:
        sock.close()
        raise
    return sock


def find_servers(names: Iterable[str], timeout: float = 1.0,
                 env: Optional[Mapping[str, str]] = None) -> dict[str, Optional[str]]:
    """The ``"host:port"`` of the server that answers each of ``names`` (plain names, no
    ``pva://``), None for a name no server claimed within ``timeout`` seconds. One
    socket, the names batched into few messages, resent for the missing ones. Packets
    that are no valid answer are ignored. Raises :class:`SearchError` when the address
    list is bad or empty."""
    wanted = list(dict.fromkeys(n for n in names if n))
    found: dict[str, Optional[str]] = dict.fromkeys(wanted)
    if not wanted:
        return found
    targets, servers = _targets(env)
    by_id = {i + 1: n for i, n in enumerate(wanted)}
    seq = int(time.monotonic() * 1000) & 0x7FFFFFFF
    start = time.monotonic()
    deadline = start + max(0.0, timeout)
    with _reply_socket() as sock, NameServerLinks(servers, deadline) as tcp:
        reply_port = sock.getsockname()[1]
        resends = [start + t for t in RESEND_AT if t < timeout] or [start]
        while True:
            now = time.monotonic()
            missing = [(cid, n) for cid, n in by_id.items() if found[n] is None]
            if not missing:
                break
            if resends and now >= resends[0]:
                resends = [t for t in resends if t > now]
                _send(sock, targets, seq, missing, reply_port)
                tcp.send(search_messages(seq, missing, 0, True))
            if now >= deadline:
                break
            wait = min(deadline, resends[0] if resends else deadline) - now
            _receive(sock, tcp, max(0.0, wait), seq, by_id, found)
    return found


def find_server(name: str, timeout: float = 1.0,
                env: Optional[Mapping[str, str]] = None) -> Optional[str]:
    """The ``"host:port"`` of the server that answers ``name``, None when none did within
    ``timeout`` seconds (see :func:`find_servers`)."""
    if not name or not name.strip():
        raise SearchError("no channel name to search for")
    return find_servers([name.strip()], timeout, env)[name.strip()]


def _send(sock: socket.socket, targets: list[tuple[str, int]], seq: int,
          channels: list[tuple[int, str]], reply_port: int) -> None:
    for host, port in targets:
        for msg in search_messages(seq, channels, reply_port, _is_unicast(host)):
            try:
                sock.sendto(msg, (host, port))
            except OSError:
                pass        # an unreachable or unresolvable entry: the others still count


def _replies(sock: socket.socket, tcp: NameServerLinks, wait: float) -> Optional[list[tuple[bytes, str]]]:
    """(message, sender) pairs that arrive within ``wait`` s, on the UDP socket or a
    name server's connection; None when nothing came in that time."""
    ready, _, _ = select.select([sock, *tcp.sockets()], [], [], max(0.0, wait))
    if not ready:
        return None
    out: list[tuple[bytes, str]] = []
    for r in ready:
        if r is not sock:
            out += tcp.answers(r)
            continue
        try:
            data, peer = sock.recvfrom(0x10000)
        except OSError:
            continue
        out.append((data, peer[0]))
    return out


def _receive(sock: socket.socket, tcp: NameServerLinks, wait: float, seq: int,
             by_id: dict[int, str], found: dict[str, Optional[str]]) -> None:
    """Read the replies that arrive within ``wait`` seconds (ignoring what is no answer
    to this search)."""
    end = time.monotonic() + wait
    while True:
        left = end - time.monotonic()
        got = _replies(sock, tcp, left)
        if got is None:
            return
        for data, sender in got:
            reply = parse_response(data, sender)
            if reply is not None and reply[1] == seq:
                for cid in reply[2]:
                    name = by_id.get(cid)
                    if name is not None and found[name] is None:
                        found[name] = reply[0]
        if all(found[n] is not None for n in by_id.values()) or left <= 0:
            return


# ----------------------------------------------------------------------------- discovery

def discovery_message(seq: int, reply_port: int, unicast: bool) -> bytes:
    """A discovery ping (pvxs ``tickSearch(SearchKind::discover)``): a SEARCH with the
    MustReply flag, no protocol and no channel. Every pvxs server answers it (``Server::
    Pvt::onSearch`` replies when nothing is claimed but MustReply is set) with its GUID
    and TCP address, "found" 0."""
    body = (struct.pack(">IB3x", seq & 0xFFFFFFFF, SEARCH_MUST_REPLY | (SEARCH_UNICAST if unicast else 0))
            + bytes(16) + struct.pack(">H", reply_port) + _size(0) + struct.pack(">H", 0))
    return struct.pack(">BBBBI", MAGIC, VERSION, FLAG_MSB, CMD_SEARCH, len(body)) + body


def discover_servers(timeout: float = 1.0, env: Optional[Mapping[str, str]] = None) -> list[str]:
    """The ``"host:port"`` of every pvAccess server that answered a discovery ping sent
    where a client searches (:func:`search_addresses`) within ``timeout`` seconds (the
    whole time is waited: nobody says how many servers there are), in the order they
    answered; a server answering on several addresses counts once (by its GUID).
    Raises :class:`SearchError` when the address list is bad or empty."""
    targets, servers = _targets(env)
    seq = int(time.monotonic() * 1000) & 0x7FFFFFFF
    found: dict[bytes, str] = {}
    start = time.monotonic()
    deadline = start + max(0.0, timeout)
    with _reply_socket() as sock, NameServerLinks(servers, deadline) as tcp:
        reply_port = sock.getsockname()[1]
        resends = [start + t for t in RESEND_AT if t < timeout] or [start]
        while True:
            now = time.monotonic()
            if resends and now >= resends[0]:
                resends = [t for t in resends if t > now]
                for host, port in targets:
                    try:
                        sock.sendto(discovery_message(seq, reply_port, _is_unicast(host)), (host, port))
                    except OSError:
                        pass
                tcp.send([discovery_message(seq, 0, True)])
            if now >= deadline:
                break
            wait = min(deadline, resends[0] if resends else deadline) - now
            for data, sender in _replies(sock, tcp, wait) or []:
                fields = _response_fields(data, sender)
                if fields is not None and fields[1] == seq and fields[3] == "tcp":
                    found.setdefault(fields[0], fields[2])
    return list(found.values())


__all__ = ["discover_servers", "find_server", "find_servers", "search_addresses", "search_message",
           "search_messages", "parse_response", "SearchError", "DEFAULT_PORT"]
