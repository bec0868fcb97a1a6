"""Plain facts about a PV's value that every view needs, Qt-free: is it shown yet,
is it a number, may it be edited, how it sorts, whether it differs from a saved
value, and the text an editor (or a snapshot) starts from."""

from __future__ import annotations

import json
import math
import re
from typing import Any, Optional

import numpy as np

from .format import char_array_to_text, format_number, format_value
from .pvstate import PVState
from .strarray import split_string_items, string_items_text

#: Severity text readable without colour: a prefix symbol per level.
SEVERITY_PREFIX = {0: "", 1: "▲ ", 2: "✖ ", 3: "◆ "}
#: Saved values that differ from the live one are marked with this prefix.
DIFF_PREFIX = "≠ "


def has_value(st: PVState) -> bool:
    """True once the row shows what it will show: a value, or a connected array
    that is deliberately not monitored."""
    return st.value is not None or (st.connected and st.is_array and not st.monitored)


def is_numeric(st: PVState) -> bool:
    """A plain number (shown right-aligned)."""
    if st.is_enum or st.is_array or st.native_type == "STRING":
        return False
    return isinstance(st.value, (int, float, np.integer, np.floating)) and not isinstance(st.value, bool)


def is_editable(st: PVState) -> bool:
    """The value may be edited: connected, writable and of a known type."""
    return bool(st.connected and st.write_access and st.native_type and st.native_type != "?")


# -- sort keys ------------------------------------------------------------------------------
_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> tuple:
    """'ai:2' < 'ai:10': alternating (text, number) parts; text parts case-insensitive."""
    parts = _DIGITS.split(text.lower())
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


def text_key(text: str) -> tuple:
    """Blank last; numbers (as text, a leading DIFF_PREFIX ignored) numerically before words."""
    if not text:
        return (2, 0.0, "")
    try:
        v = float(text.lstrip(DIFF_PREFIX).split()[0])
        if not math.isnan(v):
            return (0, v, text)
    except (ValueError, IndexError):
        pass
    return (1, 0.0, natural_key(text))


def value_key(st: PVState) -> tuple:
    """Numbers numerically, enums/text by text, arrays by length; no value last."""
    v = st.value
    if v is None or not st.ever_connected:
        return (3, 0.0, ())
    if is_numeric(st):
        f = float(v)
        if math.isnan(f):
            return (2, 0.0, ())
        return (0, f, ())
    if st.is_array and not st.is_char_array and isinstance(v, np.ndarray):
        return (0, float(v.size), ())
    return (1, 0.0, natural_key(format_value(st)))


def severity_level(st: PVState) -> int:
    """0..3 for connected PVs, 4 disconnected, 5 never connected (worst last ascending)."""
    if not st.ever_connected:
        return 5
    if not st.connected:
        return 4
    return int(st.severity)


# -- comparing with saved values --------------------------------------------------------------
def _float_or_none(text: str) -> Optional[float]:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _tolerance(st: PVState, a: float, b: float) -> float:
    """Half a unit of the last digit shown (PREC), else a relative 1e-9."""
    rel = 1e-9 * max(abs(a), abs(b), 1e-300)
    if st.precision is not None and 0 <= st.precision <= 17 and isinstance(st.value, (float, np.floating)):
        return max(0.5 * 10.0 ** (-st.precision) * (1 + 1e-9), rel)
    return rel


_SUMMARY = re.compile(r"\[\d+\]( |$)")


def saved_string_items(saved: str) -> Optional[list[str]]:
    """The elements of a saved STRING array: a JSON list of strings (a snapshot's value)
    or the elements as the table writes them (``a "b c" ""``); None if neither."""
    text = saved.strip()
    if text.startswith("["):
        try:
            items = json.loads(text)
        except ValueError:
            items = None
        if isinstance(items, list) and all(isinstance(x, str) for x in items):
            return items
    try:
        return split_string_items(saved)
    except ValueError:
        return None


def _numeric_array_differs(st: PVState, text: str) -> bool:
    if text.startswith("["):            # "[n] v0 v1 ..." summary: compare the summary
        return text != format_value(st)
    items = [x for x in re.split(r"[\s,]+", text) if x]
    try:
        arr = np.asarray([float(x) for x in items])
    except ValueError:
        return True
    live = np.asarray(st.value, dtype=float).ravel()
    if arr.size != live.size:
        return True
    return not np.allclose(live, arr, rtol=1e-9, atol=0.0, equal_nan=True)


def values_differ(st: PVState, saved: str) -> Optional[bool]:
    """Does the live value of ``st`` differ from the ``saved`` text? None if unknown.

    Numbers compare with a tolerance (half a unit of the displayed precision), enums by
    state string (or index), arrays element-wise, text exactly (trailing blanks ignored).
    """
    if saved is None or not st.ever_connected or st.value is None:
        return None
    saved = str(saved)
    v = st.value
    if st.is_enum:
        s = saved.strip()
        if s == format_value(st):
            return False
        if s.isdigit() and isinstance(v, (int, np.integer)):
            return int(s) != int(v)
        return True
    if is_numeric(st):
        f = _float_or_none(saved.strip())
        if f is None:
            return saved.strip() != format_value(st)
        lv = float(v)
        if math.isnan(lv) or math.isnan(f):
            return not (math.isnan(lv) and math.isnan(f))
        return abs(lv - f) > _tolerance(st, lv, f)
    if st.is_array and not st.is_char_array and isinstance(v, np.ndarray):
        return _numeric_array_differs(st, saved.strip())
    if st.is_array and st.native_type == "STRING" and isinstance(v, (list, tuple)):
        if _SUMMARY.match(saved.strip()):   # "[n] s0 s1 ..." summary: compare the summary
            return saved.strip() != format_value(st)
        items = saved_string_items(saved)
        return items is None or items != [str(x) for x in v]
    return saved.rstrip() != format_value(st).rstrip()


# -- value -> editable text ------------------------------------------------------------------
def is_int_text(s: str) -> bool:
    """``s`` reads as an integer."""
    try:
        int(s)
        return True
    except ValueError:
        return False


def enum_text(st: PVState, idx: int) -> str:
    """An enum's state as text that reads back unambiguously: the state string when it
    is unique, non-empty, unpadded and not a number, else the index."""
    strs = st.enum_strs
    if 0 <= idx < len(strs):
        s = strs[idx]
        if s and s == s.strip() and strs.count(s) == 1 and not is_int_text(s):
            return s
    return str(idx)


def _number_text(v: Any, precision: Optional[int]) -> str:
    if isinstance(v, (bool, np.bool_, int, np.integer)):
        return str(int(v))
    return format_number(float(v), precision)


def editable_text(st: PVState, *, exact: bool = False, max_elements: Optional[int] = None,
                  json_strings: bool = False) -> str:
    """The value of ``st`` as text that, put back, means the same value.

    Floats show the PV's precision (what you see is what you put) unless ``exact``
    (every digit: snapshots); enums their state string (or the index where the string
    is ambiguous); CHAR waveforms their text; arrays their elements separated by
    spaces, STRING elements quoted where needed (``json_strings``: a JSON list).
    Arrays longer than ``max_elements`` give "" (nobody types them). Used by the
    table's editor, the probe's put editor, the record fields and snapshots."""
    v = st.value
    if v is None:
        return ""
    if st.is_char_array:
        return char_array_to_text(v)
    if st.is_array:
        items = v.ravel().tolist() if isinstance(v, np.ndarray) else list(v)
        if max_elements is not None and len(items) > max_elements:
            return ""
        if st.native_type == "STRING":
            strs = [x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in items]
            return json.dumps(strs, ensure_ascii=False) if json_strings else string_items_text(strs)
        return " ".join(_number_text(x, None) for x in items)
    if isinstance(v, np.ndarray):
        v = v.ravel()[0].item() if v.size else ""
    if isinstance(v, (list, tuple)):
        v = v[0] if v else ""
    if st.is_enum and isinstance(v, (int, np.integer)):
        return enum_text(st, int(v))
    if isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return _number_text(v, None if exact else st.precision)
