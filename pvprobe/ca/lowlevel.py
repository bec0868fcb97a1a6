"""Thin ctypes layer over the libca that pyepics loads.

pyepics' high-level calls poll twice per subscription and unpack every event
in the callback thread. Here the callbacks copy the raw DBR bytes and return;
decoding happens later, once per PV per tick, in the engine's worker.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import os
import struct
from typing import Optional

import numpy as np
from epics import ca, dbr

ECA_NORMAL = 1
ECA_DISCONN = 24 << 3      # caerr.h: DEFMSG(CA_K_WARNING, 24), a request cut by a disconnect
CA_OP_CONN_UP = 6
DBE_VALUE, DBE_LOG, DBE_ALARM, DBE_PROPERTY = 1, 2, 4, 8
EPICS_EPOCH = 631152000.0

#: native DBR type -> (name, numpy dtype or None for strings, element size)
NATIVE = {
    0: ("STRING", None, 40),
    1: ("SHORT", np.dtype(np.int16), 2),
    2: ("FLOAT", np.dtype(np.float32), 4),
    3: ("ENUM", np.dtype(np.uint16), 2),
    4: ("CHAR", np.dtype(np.uint8), 1),
    5: ("LONG", np.dtype(np.int32), 4),
    6: ("DOUBLE", np.dtype(np.float64), 8),
}
_TIME_HEADER = struct.Struct("=hhII")  # status, severity, secs, nsec


class EventArgs(ctypes.Structure):
    """struct event_handler_args, with ``usr`` kept as a plain pointer-sized int."""

    _fields_ = [("usr", ctypes.c_void_p), ("chid", ctypes.c_void_p), ("type", ctypes.c_long),
                ("count", ctypes.c_long), ("dbr", ctypes.c_void_p), ("status", ctypes.c_int)]


class ConnArgs(ctypes.Structure):
    _fields_ = [("chid", ctypes.c_void_p), ("op", ctypes.c_long)]


class AccessArgs(ctypes.Structure):
    _fields_ = [("chid", ctypes.c_void_p), ("access", ctypes.c_ubyte)]


class ExceptionArgs(ctypes.Structure):
    """struct exception_handler_args (cadef.h)."""

    _fields_ = [("usr", ctypes.c_void_p), ("chid", ctypes.c_void_p), ("type", ctypes.c_long),
                ("count", ctypes.c_long), ("addr", ctypes.c_void_p), ("stat", ctypes.c_long),
                ("op", ctypes.c_long), ("ctx", ctypes.c_char_p), ("pFile", ctypes.c_char_p),
                ("lineNo", ctypes.c_uint)]


EVENT_CB = ctypes.CFUNCTYPE(None, EventArgs)
CONN_CB = ctypes.CFUNCTYPE(None, ConnArgs)
ACCESS_CB = ctypes.CFUNCTYPE(None, AccessArgs)
EXCEPTION_CB = ctypes.CFUNCTYPE(None, ExceptionArgs)

#: CA exceptions (status, context text), appended by libca's threads, drained by the engine.
#: Bounded: a flood of exceptions never grows memory.
ca_exceptions: collections.deque[tuple[int, str]] = collections.deque(maxlen=1000)


def _on_exception(args: ExceptionArgs) -> None:
    """libca's exception handler: queue (status, context) and return; never raises."""
    try:
        ctx = args.ctx.decode(errors="replace") if args.ctx else ""
        ca_exceptions.append((int(args.stat), ctx))
    except BaseException:  # pragma: no cover - must never raise into libca
        pass


#: Module-level and kept alive for the life of the context (libca holds the pointer).
_exception_cb = EXCEPTION_CB(_on_exception)

_libca = None
_value_offset: list[int] = []
_elem_size = [0] * 39

try:  # the optional C monitor callback (setup.py builds it where a compiler exists)
    from . import _fastmon
except ImportError:  # pragma: no cover - depends on the build
    _fastmon = None
#: libca callback of the C module (set by init_libca when the module is there).
FAST_CB: Optional[ctypes._CFuncPtr] = None


def init_libca() -> None:
    """Load libca and create the one preemptive CA context, in the calling (main) thread.

    pyepics' atexit finalizer is turned off: it clears channels one by one while
    callbacks keep coming (tens of seconds with busy PVs); :func:`destroy_context`
    does the job instead.
    """
    global _libca, _value_offset
    if _libca is not None:
        return
    os.environ.setdefault("EPICS_CA_MAX_ARRAY_BYTES", str(2 ** 24))
    ca.AUTO_CLEANUP = False
    ca.PREEMPTIVE_CALLBACK = True
    # Someone (a script embedding pvprobe) may have initialised pyepics already:
    # reuse its context rather than creating another one.
    _libca = ca.libca if ca.libca is not None else ca.initialize_libca()
    atexit.unregister(ca.finalize_libca)
    _libca.ca_puser.restype = ctypes.c_void_p
    _libca.ca_element_count.restype = ctypes.c_ulong
    _libca.ca_message.restype = ctypes.c_char_p
    _libca.ca_host_name.restype = ctypes.c_char_p
    # pyepics installs no CA exception handler: libca would print exceptions such
    # as ECA_DBLCHNL (two servers answer for one name) on stderr, unseen by the user.
    # Ours queues them for the engine (Batch.warnings). Installed from the thread
    # that owns the context (this one).
    _libca.ca_add_exception_event(_exception_cb, None)
    _value_offset = list(dbr.value_offset)
    for t in range(39):
        _elem_size[t] = NATIVE[t % 7][2]
    global FAST_CB
    if _fastmon is not None:
        # TIME types only (what the engine subscribes to); other types are refused
        _fastmon.set_sizes(_value_offset, [_elem_size[t] if 14 <= t < 21 else 0 for t in range(39)])
        FAST_CB = EVENT_CB(_fastmon.callback_address())


def fast_monitor():
    """The C monitor callback module, ready for libca; None where it was not built or
    ``PVPROBE_PY_CALLBACKS=1`` asks for the pure-Python callbacks."""
    if FAST_CB is None or os.environ.get("PVPROBE_PY_CALLBACKS", "") not in ("", "0"):
        return None
    return _fastmon


def libca():
    if _libca is None:
        raise RuntimeError("CA is not initialised (call init_libca() first)")
    return _libca


def loaded() -> bool:
    """libca is loaded and its context not destroyed (channels may still be cleared)."""
    return _libca is not None


def destroy_context() -> None:
    """Destroy the CA context: stops libca's threads, so no callback runs afterwards."""
    global _libca
    if _libca is None:
        return
    _libca.ca_context_destroy()
    _libca = None
    ca.libca = None  # pyepics must not touch the destroyed context again
    ca.initial_context = None


def message(status: int) -> str:
    try:
        return libca().ca_message(ctypes.c_long(status)).decode(errors="replace")
    except Exception:  # pragma: no cover - defensive
        return f"CA status {status}"


def raw_copy(args: EventArgs) -> bytes:
    """Copy the DBR buffer of an event (header + ``count`` elements)."""
    t = args.type
    return ctypes.string_at(args.dbr, _value_offset[t] + args.count * _elem_size[t])


def time_type(native: int) -> int:
    return native + 14


def ctrl_type(native: int) -> int:
    return 14 if native == 0 else native + 28  # CTRL_STRING is just TIME_STRING


def decode_values(dbr_type: int, count: int, raw: bytes):
    """The value part of a raw DBR buffer: numpy array (numbers) or list of str."""
    native = dbr_type % 7
    off = _value_offset[dbr_type]
    _, dtype, size = NATIVE[native]
    if dtype is None:
        out = []
        for i in range(count):
            chunk = raw[off + 40 * i: off + 40 * (i + 1)]
            out.append(chunk.split(b"\x00", 1)[0].decode("utf-8", errors="replace"))
        return out
    return np.frombuffer(raw, dtype=dtype, count=count, offset=off).copy()


_SCALAR = {1: struct.Struct("=h"), 2: struct.Struct("=f"), 3: struct.Struct("=H"),
           4: struct.Struct("=B"), 5: struct.Struct("=i"), 6: struct.Struct("=d")}


def decode_scalar(dbr_type: int, raw: bytes):
    """The single value of a scalar DBR buffer as a Python int/float/str (fast path)."""
    native = dbr_type % 7
    off = _value_offset[dbr_type]
    if native == 0:
        return raw[off:off + 40].split(b"\x00", 1)[0].decode("utf-8", errors="replace")
    return _SCALAR[native].unpack_from(raw, off)[0]


def time_stamp_of(raw: bytes) -> tuple[int, int]:
    """(seconds, nanoseconds) of a DBR_TIME_* buffer: exact, for ordering."""
    return _TIME_HEADER.unpack_from(raw, 0)[2:]


def decode_time_header(raw: bytes) -> tuple[int, int, float]:
    """(status, severity, POSIX timestamp) of a DBR_TIME_* buffer."""
    status, severity, secs, nsec = _TIME_HEADER.unpack_from(raw, 0)
    ts = EPICS_EPOCH + secs + nsec * 1e-9 if (secs or nsec) else 0.0
    return status, severity, ts


def decode_ctrl_metadata(dbr_type: int, raw: bytes) -> dict:
    """Metadata (units, precision, limits, enum strings, status, severity) of a CTRL buffer."""
    st = dbr.Map[dbr_type]
    n = ctypes.sizeof(st)
    buf = raw[:n] if len(raw) >= n else raw + b"\x00" * (n - len(raw))
    return ca._unpack_metadata(ftype=dbr_type, dbr_value=st.from_buffer_copy(buf))


# -- channel calls (all take the chid as a ctypes.c_void_p) -------------------------------

def create_channel(name: str, conn_cb: CONN_CB, user: int) -> ctypes.c_void_p:
    chid = ctypes.c_void_p()
    st = libca().ca_create_channel(ctypes.c_char_p(name.encode()), conn_cb,
                                   ctypes.c_void_p(user), ctypes.c_short(0), ctypes.byref(chid))
    if st != ECA_NORMAL:
        raise ValueError(f"{name}: cannot create channel: {message(st)}")
    return chid


def puser(chid) -> Optional[int]:
    return libca().ca_puser(ctypes.c_void_p(chid) if isinstance(chid, int) else chid)


def channel_info(chid) -> dict:
    lib = libca()
    host = lib.ca_host_name(chid)
    return {
        "native": int(lib.ca_field_type(chid)),
        "count": int(lib.ca_element_count(chid)),
        "host": host.decode(errors="replace") if host else "",
        "read": bool(lib.ca_read_access(chid)),
        "write": bool(lib.ca_write_access(chid)),
    }


def is_connected(chid) -> bool:
    return libca().ca_state(chid) == 2  # cs_conn


def array_get_callback(dbr_type: int, count: int, chid, cb: EVENT_CB, user: int) -> int:
    return libca().ca_array_get_callback(ctypes.c_long(dbr_type), ctypes.c_ulong(count), chid, cb,
                                         ctypes.c_void_p(user))


def create_subscription(dbr_type: int, count: int, chid, mask: int, cb: EVENT_CB,
                        user: int) -> tuple[int, ctypes.c_void_p]:
    evid = ctypes.c_void_p()
    st = libca().ca_create_subscription(ctypes.c_long(dbr_type), ctypes.c_ulong(count), chid,
                                        ctypes.c_long(mask), cb, ctypes.c_void_p(user),
                                        ctypes.byref(evid))
    return st, evid


def clear_subscription(evid) -> None:
    libca().ca_clear_subscription(evid)


def clear_channel(chid) -> None:
    libca().ca_clear_channel(chid)


def replace_access_rights_event(chid, cb: ACCESS_CB) -> None:
    libca().ca_replace_access_rights_event(chid, cb)


def array_put_callback(dbr_type: int, count: int, chid, data, cb: EVENT_CB, user: int) -> int:
    return libca().ca_array_put_callback(ctypes.c_long(dbr_type), ctypes.c_ulong(count), chid,
                                         ctypes.byref(data), cb, ctypes.c_void_p(user))


def array_put(dbr_type: int, count: int, chid, data) -> int:
    return libca().ca_array_put(ctypes.c_long(dbr_type), ctypes.c_ulong(count), chid, ctypes.byref(data))


def flush() -> None:
    libca().ca_flush_io()


def pend_event(seconds: float) -> None:
    libca().ca_pend_event(ctypes.c_double(seconds))
