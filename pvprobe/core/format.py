"""Turning PV values into text, shared by the CLI and the Qt models."""

from __future__ import annotations

import datetime as _dt
import math
from dataclasses import dataclass
from typing import Any, Optional

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


#: caget's largest accepted -e/-f/-g digit count (VALID_DOUBLE_DIGITS in caget.c).
MAX_FORMAT_DIGITS = 18

#: C escapes caget -S uses for these characters (epicsStrnEscapedFromRaw).
_C_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
              "\t": "\\t", "\v": "\\v", "\\": "\\\\", "'": "\\'", '"': '\\"'}


@dataclass(frozen=True)
class FloatFormat:
    """How floating-point values are printed, with caget's semantics.

    ``style`` "g" (caget's default, C ``%g``: 6 significant digits), "e" or "f"
    with ``digits`` digits (caget ``-e N``, ``-f N``, ``-g N``: C ``%.Ne`` ...),
    "prec" for the PV's PREC (``%.PRECf``, as the GUI shows it; ``%g`` when the PV
    has no usable PREC), or "exact" for the shortest text that reads back as the
    very value the IOC holds (repr; float32 values as float32).
    """

    style: str = "g"
    digits: Optional[int] = None

    def __post_init__(self) -> None:
        if self.style not in ("e", "f", "g", "prec", "exact"):
            raise ValueError(f"unknown float style {self.style!r}")
        if self.digits is not None and not 0 <= self.digits <= MAX_FORMAT_DIGITS:
            raise ValueError(f"digits must be 0..{MAX_FORMAT_DIGITS}, not {self.digits}")

    def text(self, value: float, precision: Optional[int] = None, native_type: str = "") -> str:
        """``value`` as this format prints it; ``precision`` is the PV's PREC."""
        if self.style == "exact":
            return exact_number(value, native_type)
        if self.style == "prec":
            if precision is not None and 0 <= precision <= 17:
                return c_format(value, "f", precision)
            return c_format(value, "g", None)
        return c_format(value, self.style, self.digits)


#: caget's default: ``%g``.
CAGET_FORMAT = FloatFormat()
#: Every digit the IOC holds (JSON, snapshots, the GUI's "full value").
EXACT_FORMAT = FloatFormat("exact")


def c_format(value: float, style: str, digits: Optional[int]) -> str:
    """C printf ``%g`` / ``%.Ne`` / ``%.Nf`` / ``%.Ng`` of ``value`` (inf, -inf, nan as C spells them)."""
    spec = f"%{style}" if digits is None else f"%.{digits}{style}"
    return spec % float(value)


def exact_number(value: Any, native_type: str = "") -> str:
    """The shortest text that reads back as exactly ``value``: a FLOAT (float32) PV's value
    as float32 (0.1, not 0.10000000149011612), else as a double; NaN and inf spelled out."""
    v = float(value)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if native_type == "FLOAT" or isinstance(value, np.float32):
        f32 = np.float32(v)
        if float(f32) == v:
            return str(f32)
    return repr(v)


def format_number(value: Any, precision: int | None = None,
                  floats: Optional[FloatFormat] = None, native_type: str = "") -> str:
    """A number as text. Floats: with ``floats`` if given, else with the PV's precision
    (``%.PRECf``), else exactly (repr); NaN and inf spelled out. Integers in decimal."""
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if floats is not None:
            return floats.text(v, precision, native_type)
        if math.isnan(v):
            return "NaN"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if precision is not None and 0 <= precision <= 17:
            return f"{v:.{precision}f}"
        return exact_number(value, native_type)
    if isinstance(value, (np.integer,)):
        return str(int(value))
    return str(value)


def format_scalar(state: PVState, value: Any, floats: Optional[FloatFormat] = None) -> str:
    if state.is_enum and isinstance(value, (int, np.integer)):
        idx = int(value)
        if 0 <= idx < len(state.enum_strs):
            return state.enum_strs[idx]
        return str(idx)
    if isinstance(value, str):
        return value
    return format_number(value, state.precision, floats, state.native_type)


def format_value(state: PVState, with_units: bool = False, preview: int = ARRAY_PREVIEW,
                 floats: Optional[FloatFormat] = None) -> str:
    """The value as an operator reads it: enums as strings, char waveforms as text,
    arrays summarised as ``[n] v0 v1 ...``. Floats with the PV's precision, or
    with ``floats`` when given (e.g. ``EXACT_FORMAT``)."""
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
        shown = " ".join(format_scalar(state, v, floats) for v in value[:preview])
        more = " ..." if n > preview else ""
        return f"[{n}] {shown}{more}".rstrip()
    text = format_scalar(state, value, floats)
    if with_units and state.units and not state.is_enum and not isinstance(value, str):
        text = f"{text} {state.units}"
    return text


def _float_items(state: PVState, preview: int) -> list:
    """The float values ``format_value`` shows (scalar or the first ``preview`` elements)."""
    v = state.value
    if v is None or state.is_char_array or state.is_enum:
        return []
    if isinstance(v, np.ndarray):
        if v.dtype.kind != "f":
            return []
        return list(v.ravel()[:preview])
    return [v] if isinstance(v, (float, np.floating)) else []


def precision_hides_value(state: PVState, preview: int = ARRAY_PREVIEW) -> bool:
    """Does the PREC-formatted value lose digits the IOC holds (e.g. 5.5 with PREC 0
    shown as "6"), for a scalar or for any of the ``preview`` array elements shown?"""
    items = _float_items(state, preview)
    if not items or state.precision is None or not 0 <= state.precision <= 17:
        return False
    arr = np.asarray(items, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if not finite.size:
        return False
    rounded = np.round(finite, state.precision)
    if state.native_type == "FLOAT":
        return bool(np.any(rounded.astype(np.float32) != finite.astype(np.float32)))
    # %.Nf and np.round can differ in the last digit's rounding: check by the text too
    if not np.any(rounded != finite):
        return False
    return any(float(f"{x:.{state.precision}f}") != x for x in finite.tolist())


def full_value_text(state: PVState, with_units: bool = False,
                    preview: int = ARRAY_PREVIEW) -> Optional[str]:
    """The value with every digit the IOC holds, when PREC hides some (else None)."""
    if not precision_hides_value(state, preview):
        return None
    return format_value(state, with_units=with_units, preview=preview, floats=EXACT_FORMAT)


def char_array_bytes(value: Any) -> bytes:
    """The bytes of a CHAR waveform value (numpy array, bytes or str), all of them."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    arr = np.asarray(value)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    return arr.astype(np.uint8, copy=False).tobytes()


def _escape_char(ch: str) -> str:
    esc = _C_ESCAPES.get(ch)
    if esc is not None:
        return esc
    if ch.isprintable():
        return ch
    return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8"))


def char_array_escaped(value: Any) -> str:
    """A CHAR waveform as caget -S prints it: the text up to the first NUL, with
    control characters, backslashes and quotes escaped (``\\n``, ``\\x1d``, ``\\\\``,
    ``\\"``). Valid UTF-8 keeps its printable characters; bytes that are not UTF-8
    text are escaped byte by byte (``\\xhh`` for every byte outside printable ASCII,
    as caget does), never shown as an empty string. A NUL at the start is the
    empty string."""
    raw = char_array_bytes(value).split(b"\x00", 1)[0]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")     # one character per byte; >= 0x80 is escaped below
        return "".join(_escape_char(c) if c < "\x80" else f"\\x{ord(c):02x}" for c in text)
    if text.isprintable() and not any(c in text for c in "\\'\""):
        return text
    return "".join(_escape_char(c) for c in text)


def format_timestamp(ts: float, with_date: bool = True) -> str:
    """IOC timestamp in local time with milliseconds; empty if unknown."""
    if not ts:
        return ""
    t = _dt.datetime.fromtimestamp(ts)
    fmt = "%Y-%m-%d %H:%M:%S.%f" if with_date else "%H:%M:%S.%f"
    return t.strftime(fmt)[:-3]
