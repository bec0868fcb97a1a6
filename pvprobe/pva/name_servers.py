"""pvAccess name servers (``EPICS_PVA_NAME_SERVERS``): searches over TCP.

A client configured with name servers opens a TCP connection to each, completes the
connection handshake and sends its SEARCH messages on it; the server answers each
with a SEARCH_RESPONSE on the same connection. Used by :mod:`.search` beside its UDP
search. Plain sockets: no p4p, no Qt.

Checked against pvxs (github.com/epics-base/pvxs, master 788f838):

- the list, ``src/config.cpp``: entries split on whitespace, ``host`` or ``host:port``,
  the default port EPICS_PVA_SERVER_PORT (5075);
- the handshake, ``src/clientconn.cpp``: the server sends SET_BYTE_ORDER (a control
  message: 8 bytes, no body) and CONNECTION_VALIDATION (command 1); the client answers
  CONNECTION_VALIDATION (u32 receive buffer size, u16 introspection registry size, u16
  QoS, the auth method as a string, its credentials: "anonymous" has none, a null
  type byte 0xFF); the server confirms with CONNECTION_VALIDATED (command 9, a status:
  0xFF is OK);
- the search, ``src/client.cpp`` (``tickSearch``: flags Unicast, reply port 0) and
  ``src/serverchan.cpp`` (``ServerConn::handle_SEARCH``: the answer goes back on the
  connection, its address ``::ffff:0.0.0.0`` meaning the peer).
"""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from typing import Optional

MAGIC = 0xCA
VERSION = 2
FLAG_CONTROL = 0x01
FLAG_MSB = 0x80
CMD_VALIDATION = 0x01
CMD_VALIDATED = 0x09
DEFAULT_SERVER_PORT = 5075
#: Longest a name server may take to connect and shake hands (within the search's time).
HANDSHAKE_S = 1.0
#: A frame longer than this is no answer to a search: the connection is dropped.
MAX_FRAME = 1 << 20


class NameServerError(ValueError):
    """A bad EPICS_PVA_NAME_SERVERS entry."""


def name_servers(env: Optional[Mapping[str, str]] = None) -> list[tuple[str, int]]:
    """Each ``host``/``host:port`` of EPICS_PVA_NAME_SERVERS (default port
    EPICS_PVA_SERVER_PORT or 5075), duplicates once; NameServerError for a bad entry."""
    env = os.environ if env is None else env
    text = env.get("EPICS_PVA_SERVER_PORT", "").strip()
    try:
        port = int(text) if text else DEFAULT_SERVER_PORT
    except ValueError:
        raise NameServerError(f"EPICS_PVA_SERVER_PORT={text!r} is not a port number") from None
    out = []
    for entry in env.get("EPICS_PVA_NAME_SERVERS", "").split():
        host, sep, tail = entry.rpartition(":")
        if not sep:
            host, p = entry, port
        else:
            try:
                p = int(tail)
            except ValueError:
                raise NameServerError(f"EPICS_PVA_NAME_SERVERS entry {entry!r}: {tail!r} is not a port") \
                    from None
        if not host or not 0 < p < 65536:
            raise NameServerError(f"EPICS_PVA_NAME_SERVERS entry {entry!r} is not host or host:port")
        out.append((host, p))
    return list(dict.fromkeys(out))


def _frames(buf: bytearray) -> list[bytes]:
    """Whole frames taken off the front of ``buf`` (a control message is its 8-byte
    header alone); ValueError for what is no pvAccess stream."""
    out = []
    while len(buf) >= 8:
        if buf[0] != MAGIC:
            raise ValueError("not a pvAccess stream")
        flags = buf[2]
        size = 0 if flags & FLAG_CONTROL else struct.unpack(">I" if flags & FLAG_MSB else "<I", buf[4:8])[0]
        if size > MAX_FRAME:
            raise ValueError("frame too long")
        if len(buf) < 8 + size:
            break
        out.append(bytes(buf[:8 + size]))
        del buf[:8 + size]
    return out


def validation_reply() -> bytes:
    """The client's CONNECTION_VALIDATION: anonymous, no credentials (big-endian)."""
    auth = b"anonymous"
    body = struct.pack(">IHH", 0x10000, 0x7FFF, 0) + bytes([len(auth)]) + auth + b"\xff"
    return struct.pack(">BBBBI", MAGIC, VERSION, FLAG_MSB, CMD_VALIDATION, len(body)) + body


class _Link:
    """One validated connection to a name server."""

    def __init__(self, host: str, port: int, deadline: float) -> None:
        self.host = host
        self.buf = bytearray()
        self.sock = socket.create_connection((host, port), timeout=max(0.05, deadline - time.monotonic()))
        try:
            self.sock.setblocking(False)
            self._await(CMD_VALIDATION, deadline)
            self._send(validation_reply(), deadline)
            status = self._await(CMD_VALIDATED, deadline)
            if len(status) < 9 or status[8] != 0xFF:
                raise ConnectionError("the name server refused the connection")
            self.peer = self.sock.getpeername()[0]
        except BaseException:
            self.sock.close()
            raise

    def _send(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("name server: send timed out")
            _, ready, _ = select.select([], [self.sock], [], left)
            if ready:
                view = view[self.sock.send(view):]

    def _await(self, cmd: int, deadline: float) -> bytes:
        """The first non-control frame of command ``cmd`` (others before it are skipped)."""
        while True:
            for frame in self.read():
                if not frame[2] & FLAG_CONTROL and frame[3] == cmd:
                    return frame
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("name server: no handshake in time")
            select.select([self.sock], [], [], left)

    def read(self) -> list[bytes]:
        """The whole frames that have arrived (non-blocking); ConnectionError when closed."""
        while True:
            try:
                data = self.sock.recv(0x10000)
            except (BlockingIOError, InterruptedError):
                break
            if not data:
                raise ConnectionError("the name server closed the connection")
            self.buf += data
        return _frames(self.buf)

    def send(self, messages: Iterable[bytes]) -> None:
        self._send(b"".join(messages), time.monotonic() + HANDSHAKE_S)


class NameServerLinks:
    """The name servers' connections of one search (those that answer in time; the
    others are left out, as a client retries them later). A context manager."""

    def __init__(self, servers: list[tuple[str, int]], deadline: float) -> None:
        self.links: list[_Link] = []
        self.errors: list[str] = []
        for host, port in servers:
            try:
                self.links.append(_Link(host, port, min(deadline, time.monotonic() + HANDSHAKE_S)))
            except (OSError, ValueError) as exc:
                self.errors.append(f"{host}:{port}: {exc}")

    def sockets(self) -> list[socket.socket]:
        return [link.sock for link in self.links]

    def send(self, messages: list[bytes]) -> None:
        """Send ``messages`` on every connection (a failing one is dropped)."""
        for link in list(self.links):
            try:
                link.send(messages)
            except (OSError, ValueError):
                self._drop(link)

    def answers(self, sock: socket.socket) -> list[tuple[bytes, str]]:
        """(frame, peer address) of what arrived on ``sock``."""
        for link in self.links:
            if link.sock is sock:
                try:
                    return [(frame, link.peer) for frame in link.read()]
                except (OSError, ValueError):
                    self._drop(link)
        return []

    def _drop(self, link: _Link) -> None:
        link.sock.close()
        self.links.remove(link)

    def close(self) -> None:
        for link in self.links:
            link.sock.close()
        self.links = []

    def __enter__(self) -> NameServerLinks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
