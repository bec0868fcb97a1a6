"""Checking and converting a value before it is put: refused here, with the reason,
rather than sent and silently clamped or truncated by the IOC."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from .format import char_array_to_text
from .pvstate import PVState
from .strarray import split_string_items, string_items_text

MAX_STRING = 39  # DBR_STRING holds 40 bytes including the terminating NUL
_INT_RANGE = {"SHORT": (-2 ** 15, 2 ** 15 - 1), "LONG": (-2 ** 31, 2 ** 31 - 1), "CHAR": (0, 255),
              "ENUM": (0, 65535),
              # pvAccess integer types without a CA twin
              "INT8": (-128, 127), "USHORT": (0, 2 ** 16 - 1), "ULONG": (0, 2 ** 32 - 1),
              "INT64": (-2 ** 63, 2 ** 63 - 1), "UINT64": (0, 2 ** 64 - 1), "BOOLEAN": (0, 1)}


class PutValueError(ValueError):
    """The value does not fit the PV; the message says why."""


def _to_number(text: Any, native: str) -> float | int:
    if isinstance(text, (bool, np.bool_, int, np.integer)):
        v: float | int = int(text)
    elif isinstance(text, (float, np.floating)):
        v = float(text)
    else:
        s = str(text).strip()
        try:
            v = int(s, 0) if native in _INT_RANGE and re.fullmatch(r"[+-]?(0[xob])?[0-9a-fA-F_]+", s) else float(s)
        except ValueError:
            raise PutValueError(f"{text!r} is not a number") from None
    if native in _INT_RANGE:
        if isinstance(v, float):
            if not math.isfinite(v) or v != int(v):
                raise PutValueError(f"{text!r} is not an integer ({native} PV)")
            v = int(v)
        lo, hi = _INT_RANGE[native]
        if not lo <= v <= hi:
            raise PutValueError(f"{v} is outside the {native} range {lo}..{hi}")
    return v


def _check_control_limits(state: PVState, v: float) -> None:
    lims = state.control_limits
    if not lims or not isinstance(v, (int, float)) or isinstance(v, bool):
        return
    lo, hi = lims
    if lo is None or hi is None or not hi > lo:  # 0/0 means "no limits" in EPICS
        return
    if isinstance(v, float) and math.isnan(v):
        return
    if v < lo or v > hi:
        raise PutValueError(f"{v} is outside the control limits {lo:g}..{hi:g}")


def _enum_index(state: PVState, value: Any) -> int:
    if isinstance(value, str):
        s = value.strip()
        if s in state.enum_strs:
            return state.enum_strs.index(s)
        try:
            idx = int(s)
        except ValueError:
            choices = ", ".join(repr(x) for x in state.enum_strs) or "none known"
            raise PutValueError(f"{value!r} is not one of the states ({choices})") from None
    else:
        idx = int(_to_number(value, "ENUM"))
    n = len(state.enum_strs)
    if n and not 0 <= idx < n:
        raise PutValueError(f"state index {idx} out of range 0..{n - 1}")
    return idx


def text_put_value(state: PVState, text: str) -> Any:
    """What an editor's text means for ``state``: the list of elements for a STRING
    array (:func:`split_string_items`), the text itself for everything else."""
    if state.native_type == "STRING" and state.is_array:
        try:
            return split_string_items(text)
        except ValueError as exc:
            raise PutValueError(str(exc)) from None
    return text


def coerce_put_value(state: PVState, value: Any) -> tuple[str, list]:
    """Return ``(native_type, values)`` ready to send, or raise :class:`PutValueError`.

    ``value`` may be a scalar, a string (state name for enums, text for CHAR
    waveforms, numbers as text) or a sequence for arrays.
    """
    native = state.native_type
    if not native:
        raise PutValueError("PV type unknown (never connected)")
    nelm = max(1, state.max_count)
    pva = state.protocol == "pva"   # variable-length arrays, strings of any length
    if native == "CHAR" and nelm > 1 and isinstance(value, (str, bytes)):
        raw = value.encode("utf-8") if isinstance(value, str) else value
        if len(raw) + 1 > nelm and not pva:     # a PVA array's length is no limit
            raise PutValueError(f"text of {len(raw)} bytes does not fit {nelm} characters (with NUL)")
        return native, list(raw) + [0]
    if isinstance(value, (list, tuple, np.ndarray)):
        items: Sequence[Any] = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else list(value)
    elif isinstance(value, str) and nelm > 1 and native != "STRING":
        items = [x for x in re.split(r"[\s,]+", value.strip()) if x]
    else:
        items = [value]
    if not items:
        raise PutValueError("no value given")
    if len(items) > nelm and not pva:
        raise PutValueError(f"{len(items)} elements do not fit NELM {nelm}")
    out: list = []
    for item in items:
        if native == "STRING":
            s = str(item) if not isinstance(item, bytes) else item.decode("utf-8", "replace")
            if not pva and len(s.encode("utf-8")) > MAX_STRING:
                raise PutValueError(f"string of {len(s.encode('utf-8'))} bytes is longer than {MAX_STRING}")
            out.append(s)
        elif native == "ENUM":
            out.append(_enum_index(state, item))
        else:
            v = _to_number(item, native)
            _check_control_limits(state, v)
            out.append(v)
    return native, out


def describe_put_value(native: str, values: list) -> str:
    """Short text of a coerced value, for messages and logs."""
    if native == "CHAR" and len(values) > 1:
        return repr(char_array_to_text(bytes(int(v) & 0xFF for v in values)))
    if native == "STRING" and len(values) != 1:
        return "[" + string_items_text(values, 8) + "]"
    if len(values) == 1:
        return str(values[0])
    return "[" + " ".join(str(v) for v in values[:8]) + (" ..." if len(values) > 8 else "") + "]"
