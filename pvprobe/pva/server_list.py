"""The channel list a pvxs server publishes: an RPC to its built-in ``server`` PV, over
one TCP connection of our own (plain sockets: no p4p, no Qt).

Every pvxs server (p4p servers and gateways, QSRV2 in pythonSoftIOC / pvxslibs IOCs)
serves a PV named ``server`` (pvxs ``src/serversource.cpp``): an RPC whose argument
(or its NTURI ``query``) has ``op=channels`` returns an NTScalar string array of the
channel names its sources list; ``op=info`` returns ``{implLang, version}``. That PV is
never claimed by a name search (``ServerSource::onSearch`` does nothing), so a client
must open the channel on a TCP connection to that one server, as pvxs's ``pvxlist
HOST:PORT`` does (``RPCBuilder::server``). p4p has no such call (its client always
searches), hence this small client.

The exchange, as pvxs does it (``src/clientconn.cpp``, ``src/clientget.cpp``,
``src/serverconn.cpp``): the server opens with SET_BYTE_ORDER (a control message) and
CONNECTION_VALIDATION (its buffer size, registry size, auth methods); we answer
CONNECTION_VALIDATION (buffer size, registry size, QoS, "anonymous", a null
credential) and get CONNECTION_VALIDATED (a status); CREATE_CHANNEL "server" gives
its sid; RPC with subcommand INIT (0x08) and an empty pvRequest, then RPC with
subcommand 0 and the argument ``{string op}``; the reply is a status, the type and the
value (pvData full serialization, ``src/dataencode.cpp``). Each message's header says
its byte order (flag 0x80: big-endian); we send big-endian.
"""

from __future__ import annotations

import re
import socket
import struct
import time
from typing import Any

from .search import FLAG_MSB, MAGIC, VERSION

FLAG_CONTROL = 0x01
FLAG_SEG = 0x30
FLAG_SEG_FIRST, FLAG_SEG_LAST = 0x10, 0x20
CMD_CONNECTION_VALIDATION = 1
CMD_CREATE_CHANNEL = 7
CMD_CONNECTION_VALIDATED = 9
CMD_MESSAGE = 18
CMD_RPC = 20
SUB_INIT = 0x08
#: The built-in PV of a pvxs server.
SERVER_PV = "server"
#: Largest reply accepted (bytes): a list of a million names is about 30 MB.
MAX_MESSAGE = 256 * 1024 * 1024
_SERVER = re.compile(r"^(?P<host>[A-Za-z0-9_.\-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>\d{1,5})$")


class ServerListError(Exception):
    """A server's channel list could not be had; the message says why."""


def parse_server(text: str) -> tuple[str, int]:
    """``host:port`` as (host, port); ServerListError for anything else."""
    m = _SERVER.match(text.strip())
    port = int(m.group("port")) if m else 0
    if not m or not 0 < port < 65536:
        raise ServerListError(f"{text.strip()[:80]!r} is not host:port (e.g. 127.0.0.1:5075)")
    return m.group("host").strip("[]"), port


# ----------------------------------------------------------------------------- encoding

def _size(n: int) -> bytes:
    return bytes([n]) if n < 254 else b"\xfe" + struct.pack(">I", n)


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return _size(len(data)) + data


def _message(cmd: int, body: bytes) -> bytes:
    return struct.pack(">BBBBI", MAGIC, VERSION, FLAG_MSB, cmd, len(body)) + body


def _op_argument(op: str) -> bytes:
    """Type and value of the RPC argument ``structure { string op }``."""
    return b"\x80" + _string("") + _size(1) + _string("op") + b"\x60" + _string(op)


# ----------------------------------------------------------------------------- decoding

class _Reader:
    """pvData from one message payload (its byte order); any overrun raises ValueError."""

    def __init__(self, data: bytes, big: bool, types: dict[int, Any]) -> None:
        self.data, self.pos, self.order, self.types = data, 0, ">" if big else "<", types

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ValueError("truncated message")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(self.order + fmt, self.take(struct.calcsize(fmt)))[0]

    def size(self) -> int:
        n = self.take(1)[0]
        if n == 255:
            return -1
        return self.unpack("i") if n == 254 else n

    def string(self) -> str:
        return self.take(max(0, self.size())).decode("utf-8", "replace")

    def status(self) -> tuple[bool, str]:
        """(success, message) of a Status."""
        code = self.take(1)[0]
        if code == 0xFF:
            return True, ""
        msg = self.string()
        self.string()                   # the call stack
        return code <= 1, msg           # OK, warning: success

    # -- types: ("s", code) scalar(s), ("S", id, [(name, type)]) struct, ("U", ...) union,
    #    ("A", code) array of scalars, ("SA"/"UA", elem) arrays of struct/union, ("V",) any
    def type(self, depth: int = 0) -> Any:
        if depth > 20:
            raise ValueError("type nested too deep")
        code = self.take(1)[0]
        if code == 0xFF:
            return None
        if code == 0xFD:
            key = self.unpack("H")
            self.types[key] = t = self.type(depth + 1)
            return t
        if code == 0xFE:
            key = self.unpack("H")
            if key not in self.types:
                raise ValueError("unknown cached type")
            return self.types[key]
        if code in (0x80, 0x81):
            tid = self.string()
            members = [(self.string(), self.type(depth + 1)) for _ in range(max(0, self.size()))]
            return ("S" if code == 0x80 else "U", tid, members)
        if code in (0x88, 0x89):
            return ("SA" if code == 0x88 else "UA", self.type(depth + 1))
        if code == 0x82:
            return ("V",)
        if code == 0x8A:
            return ("VA",)
        if code & 0x10:
            raise ValueError("fixed or bounded arrays are not read")
        return ("A", code & ~0x18) if code & 0x08 else ("s", code)

    _FMT = {0x00: "?", 0x20: "b", 0x21: "h", 0x22: "i", 0x23: "q", 0x24: "B", 0x25: "H",
            0x26: "I", 0x27: "Q", 0x42: "f", 0x43: "d"}

    def scalar(self, code: int) -> Any:
        if code == 0x60 or code == 0x83:
            return self.string()
        fmt = self._FMT.get(code)
        if fmt is None:
            raise ValueError(f"unknown type code 0x{code:02x}")
        return self.unpack(fmt)

    def value(self, t: Any, depth: int = 0) -> Any:
        """A value of type ``t`` (structures as dicts)."""
        if t is None or depth > 40:
            return None
        kind = t[0]
        if kind == "s":
            return self.scalar(t[1])
        if kind == "A":
            return [self.scalar(t[1]) for _ in range(max(0, self.size()))]
        if kind == "S":
            return {name: self.value(mt, depth + 1) for name, mt in t[2]}
        if kind == "U":
            sel = self.size()
            return None if sel < 0 else self.value(t[2][sel][1], depth + 1)
        if kind == "V":
            return self.value(self.type(), depth + 1)
        if kind in ("SA", "UA", "VA"):
            elem = t[1] if kind != "VA" else ("V",)
            return [self.value(elem, depth + 1) if self.take(1)[0] else None
                    for _ in range(max(0, self.size()))]
        raise ValueError(f"unknown type {kind}")


# ----------------------------------------------------------------------------- the exchange

class _Connection:
    """One TCP connection to a pvAccess server, messages read whole (segments joined)."""

    def __init__(self, host: str, port: int, deadline: float) -> None:
        self.deadline = deadline
        self.types: dict[int, Any] = {}
        try:
            self.sock = socket.create_connection((host, port), timeout=self._left())
        except TimeoutError:
            raise ServerListError("no answer (connection timed out)") from None
        except OSError as exc:
            raise ServerListError(f"cannot connect: {exc.strerror or exc}") from None
        self.buf = b""

    def _left(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise ServerListError("no answer in time")
        return left

    def close(self) -> None:
        self.sock.close()

    def send(self, cmd: int, body: bytes) -> None:
        try:
            self.sock.settimeout(self._left())
            self.sock.sendall(_message(cmd, body))
        except TimeoutError:
            raise ServerListError("no answer in time") from None
        except OSError as exc:
            raise ServerListError(f"connection lost: {exc.strerror or exc}") from None

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            try:
                self.sock.settimeout(self._left())
                chunk = self.sock.recv(max(65536, n - len(self.buf)))
            except TimeoutError:
                raise ServerListError("no answer in time") from None
            except OSError as exc:
                raise ServerListError(f"connection lost: {exc.strerror or exc}") from None
            if not chunk:
                raise ServerListError("the server closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def receive(self) -> tuple[int, _Reader]:
        """The next application message: (command, reader of its payload)."""
        payload = b""
        while True:
            head = self._read(8)
            if head[0] != MAGIC:
                raise ServerListError("not a pvAccess server (bad header)")
            flags, cmd = head[2], head[3]
            length = struct.unpack(">I" if flags & FLAG_MSB else "<I", head[4:])[0]
            if flags & FLAG_CONTROL:
                continue                # SET_BYTE_ORDER, markers: no payload
            if len(payload) + length > MAX_MESSAGE:
                raise ServerListError("reply too large")
            payload += self._read(length)
            seg = flags & FLAG_SEG
            if seg == 0 or seg == FLAG_SEG_LAST:
                return cmd, _Reader(payload, bool(flags & FLAG_MSB), self.types)

    def expect(self, cmd: int) -> _Reader:
        """The next message of command ``cmd`` (others, e.g. ECHO, skipped)."""
        while True:
            got, r = self.receive()
            if got == cmd:
                return r
            if got == CMD_MESSAGE:      # a server's log message to us: skip
                continue


def _handshake(conn: _Connection) -> None:
    r = conn.expect(CMD_CONNECTION_VALIDATION)
    r.take(6)                           # its buffer size, registry size
    methods = [r.string() for _ in range(max(0, r.size()))]
    if methods and "anonymous" not in methods:
        raise ServerListError(f"the server asks authentication {'/'.join(methods)}")
    conn.send(CMD_CONNECTION_VALIDATION,
              struct.pack(">IHH", 0x10000, 0x7FFF, 0) + _string("anonymous") + b"\xff")
    conn.expect(CMD_CONNECTION_VALIDATED).status()


def _open_channel(conn: _Connection, name: str) -> int:
    conn.send(CMD_CREATE_CHANNEL, struct.pack(">HI", 1, 1) + _string(name))
    r = conn.expect(CMD_CREATE_CHANNEL)
    r.unpack("I")
    sid = r.unpack("I")
    ok, msg = r.status()
    if not ok:
        raise ServerListError(f"no {name!r} PV here ({msg or 'refused'}): not a pvxs server?")
    return sid


def call_server(server: str, op: str, timeout: float = 2.0) -> Any:
    """The answer of ``server``'s (``host:port``) built-in ``server`` PV to ``op``
    ("channels", "info"), as plain Python (structures as dicts). Raises
    :class:`ServerListError` with the reason (refused, no answer within ``timeout``
    seconds, no such PV, the server's error)."""
    host, port = parse_server(server)
    conn = _Connection(host, port, time.monotonic() + max(0.05, timeout))
    try:
        _handshake(conn)
        sid = _open_channel(conn, SERVER_PV)
        conn.send(CMD_RPC, struct.pack(">IIB", sid, 1, SUB_INIT) + b"\x80" + _string("") + _size(0))
        r = conn.expect(CMD_RPC)
        r.unpack("I"), r.take(1)
        ok, msg = r.status()
        if not ok:
            raise ServerListError(f"RPC refused: {msg}")
        conn.send(CMD_RPC, struct.pack(">IIB", sid, 1, 0) + _op_argument(op))
        r = conn.expect(CMD_RPC)
        r.unpack("I"), r.take(1)
        ok, msg = r.status()
        if not ok:
            raise ServerListError(f"the server says: {msg or 'error'}")
        try:
            return r.value(r.type())
        except (ValueError, struct.error, IndexError) as exc:
            raise ServerListError(f"reply not understood: {exc}") from None
    except (ValueError, struct.error) as exc:
        raise ServerListError(f"not a pvAccess answer: {exc}") from None
    finally:
        conn.close()


def list_channels(server: str, timeout: float = 2.0) -> list[str]:
    """The channel names ``server`` (``host:port``) lists, sorted (see :func:`call_server`).
    A server whose sources list no names (a gateway: its channels are found by search
    only) gives an empty list."""
    reply = call_server(server, "channels", timeout)
    value = reply.get("value") if isinstance(reply, dict) else None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ServerListError("reply not understood: no string array 'value'")
    return sorted(v for v in value if v)


def server_info(server: str, timeout: float = 2.0) -> dict[str, Any]:
    """``{implLang, version}`` of a pvxs server (see :func:`call_server`)."""
    reply = call_server(server, "info", timeout)
    if not isinstance(reply, dict):
        raise ServerListError("reply not understood")
    return reply


__all__ = ["ServerListError", "call_server", "list_channels", "server_info", "parse_server"]
