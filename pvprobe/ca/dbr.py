"""DBR values to and from PV state: the decoding the engine's CA source does per
update (kept to plain calls on the hot path) and the encoding of puts."""

from __future__ import annotations

import ctypes
from typing import Any

from ..core.pvstate import PVState
from . import lowlevel as ll

#: native type name -> DBR code
NATIVE_CODE = {name: code for code, (name, _, _) in ll.NATIVE.items()}
_CTYPE = {"STRING": ctypes.c_char * 40, "SHORT": ctypes.c_int16, "FLOAT": ctypes.c_float,
          "ENUM": ctypes.c_uint16, "CHAR": ctypes.c_uint8, "LONG": ctypes.c_int32,
          "DOUBLE": ctypes.c_double}

_decode_header = ll.decode_time_header
_decode_values = ll.decode_values
_decode_scalar = ll.decode_scalar


def value_of(state: PVState, dbr_type: int, count: int, raw: bytes) -> Any:
    """The value of a TIME_* DBR: an array for array PVs, else a scalar (None if empty)."""
    if state.max_count > 1:
        return _decode_values(dbr_type, count, raw)
    if count < 1:
        return None
    return _decode_scalar(dbr_type, raw)


def decode_into(state: PVState, item: tuple) -> None:
    """Decode an item ``(dbr_type, count, raw)`` into ``state``."""
    dbr_type, count, raw = item
    state.status, state.severity, state.timestamp = _decode_header(raw)
    state.value = value_of(state, dbr_type, count, raw)
    state.count = count
    state.update_count += 1


def sample_of(state: PVState, item: tuple) -> tuple:
    """``(timestamp, value, severity)`` of an item."""
    dbr_type, count, raw = item
    status, severity, ts = _decode_header(raw)
    return ts, value_of(state, dbr_type, count, raw), severity


def apply_ctrl_metadata(state: PVState, item: tuple) -> None:
    """Units, precision, enum strings and limits of a DBR_CTRL_* answer (a string's
    "metadata" answer is a DBR_TIME_STRING value: nothing to take from it)."""
    dbr_type, _, raw = item
    if dbr_type < 28:  # strings have no CTRL form
        return
    md = ll.decode_ctrl_metadata(dbr_type, raw)
    state.units = md.get("units", "") or ""
    state.precision = md.get("precision")
    state.enum_strs = tuple(md.get("enum_strs", ()))
    if "upper_disp_limit" in md:
        state.display_limits = (md["lower_disp_limit"], md["upper_disp_limit"])
        state.alarm_limits = (md["lower_alarm_limit"], md["upper_alarm_limit"])
        state.warning_limits = (md["lower_warning_limit"], md["upper_warning_limit"])
    if "upper_ctrl_limit" in md:
        state.control_limits = (md["lower_ctrl_limit"], md["upper_ctrl_limit"])


def put_buffer(native: str, values: list) -> tuple[int, int, Any]:
    """``(dbr_type, count, ctypes array)`` for a put of checked ``values``."""
    n = len(values)
    data = (_CTYPE[native] * n)()
    for i, v in enumerate(values):
        if native == "STRING":
            data[i].value = v.encode("utf-8")
        else:
            data[i] = v
    return NATIVE_CODE[native], n, data
