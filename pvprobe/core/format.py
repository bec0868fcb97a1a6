"""Turning PV values into text, shared by the CLI and the Qt models."""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any

import numpy as np

from .pvstate import PVState
from .strarray import string_items_text

#: How many array elements a one-line summary shows.
ARRAY_PREVIEW = 8


def char_array_to_text(value: Any) -> str:
    """Decode a CHAR waveform: up to the first NUL, UTF-8 with a safe fallback."""
    if isinstance(value, str):
        return value.split("\x00", 1)[0]
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    else:
        arr = np.asarray(value)
        if arr.ndim == 0:
            arr = arr.reshape(1)
        raw = arr.astype(np.uint8, copy=False).tobytes()
    raw = raw.split(b"\x00", 1)[0]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def format_number(value: Any, precision: int | None = None) -> str:
    """A number with the PV's precision (floats only); NaN and inf spelled out."""
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if precision is not None and 0 <= precision <= 17:
            return f"{v:.{precision}f}"
        return repr(v)
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def format_scalar(state: PVState, value: Any) -> str:
    if state.is_enum and isinstance(value, (int, np.integer)):
        idx = int(value)
        if 0 <= idx < len(state.enum_strs):
            return state.enum_strs[idx]
        return str(idx)
    if isinstance(value, str):
        return value
    return format_number(value, state.precision)


def format_value(state: PVState, with_units: bool = False, preview: int = ARRAY_PREVIEW) -> str:
    """The value as an operator reads it: enums as strings, char waveforms as text,
    arrays summarised as ``[n] v0 v1 ...``."""
    value = state.value
    if value is None:
        if state.is_array and not state.monitored and state.connected:
            return f"[{state.max_count}] (not monitored)"
        return ""
    if state.is_char_array:
        return char_array_to_text(value)
    if state.is_array and isinstance(value, (list, tuple)):      # STRING arrays
        return f"[{len(value)}] {string_items_text(value, preview)}".rstrip()
    if isinstance(value, np.ndarray) and (state.is_array or value.size != 1):
        n = int(value.size)
        shown = " ".join(format_scalar(state, v) for v in value[:preview])
        more = " ..." if n > preview else ""
        return f"[{n}] {shown}{more}".rstrip()
    text = format_scalar(state, value)
    if with_units and state.units and not state.is_enum and not isinstance(value, str):
        text = f"{text} {state.units}"
    return text


def format_timestamp(ts: float, with_date: bool = True) -> str:
    """IOC timestamp in local time with milliseconds; empty if unknown."""
    if not ts:
        return ""
    t = _dt.datetime.fromtimestamp(ts)
    fmt = "%Y-%m-%d %H:%M:%S.%f" if with_date else "%H:%M:%S.%f"
    return t.strftime(fmt)[:-3]
