"""pvAccess values (p4p ``Value`` structures) into PV state: the decoding the PVA
source does per update, the metadata of NT types, tables and trees.

Normative types are recognised by their type id (``epics:nt/NTScalar:1.0`` ...):

- NTScalar / NTScalarArray: ``value`` (number, string, or array), alarm, time,
  display (units, precision or format, limits), control limits, valueAlarm limits;
- NTEnum: ``value.index`` with ``value.choices`` as the enum strings;
- NTTable: the columns (``labels`` as their names), shown as a table;
- NTNDArray: the frame decoded by :mod:`pvprobe.core.ntndarray` (any codec);
- anything else (a plain or nested structure, a union or variant ``value``): a tree
  of (field, type, value) rows, its ``value`` field if it is a plain number/string.

Nothing here imports p4p: a ``Value`` is used through its methods only.
"""

from __future__ import annotations

import re
import time
from typing import Any, Optional

import numpy as np

from ..core.ndarray import FrameError
from ..core.ntndarray import DropCounter, NTNDArrayFields, decode_frame
from ..core.pvstate import ALARM_STATUS_NAMES, PVState

#: p4p scalar type codes -> the native type names the rest of pvprobe uses (the CA
#: names where the type is the same; the others say their width and sign).
NATIVE_OF_CODE = {"d": "DOUBLE", "f": "FLOAT", "i": "LONG", "h": "SHORT", "B": "CHAR",
                  "s": "STRING", "b": "INT8", "H": "USHORT", "I": "ULONG", "l": "INT64",
                  "L": "UINT64", "?": "BOOLEAN"}
_CODE_NAMES = {"d": "double", "f": "float", "i": "int", "h": "short", "B": "ubyte", "s": "string",
               "b": "byte", "H": "ushort", "I": "uint", "l": "long", "L": "ulong", "?": "boolean",
               "v": "any", "U": "union", "S": "structure"}
_PVA_STATUS = ("NONE", "DEVICE", "DRIVER", "RECORD", "DB", "CONF", "UNDEFINED", "CLIENT")
_FORMAT_PREC = re.compile(r"%[-+ #0]*\d*\.(\d+)[eEfFgG]")

KIND_SCALAR, KIND_ENUM, KIND_TABLE, KIND_NDARRAY, KIND_STRUCT = (
    "scalar", "enum", "table", "ndarray", "struct")


def type_name(code: Any) -> str:
    """A p4p type code as pvData spells it (``ad`` -> ``double[]``)."""
    if isinstance(code, tuple):
        kind = code[0]
        base = {"S": "structure", "U": "union", "aS": "structure[]", "aU": "union[]"}.get(kind, kind)
        ident = code[1] if code[1] not in ("structure", "union") else ""   # p4p's default ids
        return f"{base} {ident}".strip() if ident else base
    if isinstance(code, str) and code.startswith("a"):
        return _CODE_NAMES.get(code[1:], code[1:]) + "[]"
    return _CODE_NAMES.get(code, str(code))


def kind_of(value: Any) -> str:
    """Which of the shapes above a structure has."""
    tid = value.getID()
    if tid.startswith("epics:nt/NTScalar"):      # NTScalar, NTScalarArray: by the standard
        return KIND_SCALAR                       # (no type() walk: ~10 us per connection)
    if tid.startswith("epics:nt/NTNDArray:"):
        return KIND_NDARRAY
    if tid.startswith("epics:nt/NTTable:"):
        return KIND_TABLE
    if tid.startswith("epics:nt/NTEnum:"):
        return KIND_ENUM
    if "value" in value:
        code = value.type()["value"]
        if isinstance(code, str) and code.lstrip("a") in NATIVE_OF_CODE:
            return KIND_SCALAR
        if isinstance(code, tuple) and code[1] == "enum_t":
            return KIND_ENUM
    return KIND_STRUCT


def describe_type(value: Any) -> tuple[str, str, int]:
    """``(native type name, type id, element count)`` of a first value."""
    kind = kind_of(value)
    tid = value.getID() or "structure"
    if kind == KIND_SCALAR:
        code = value.type()["value"]
        if code.startswith("a"):
            # PVA arrays have no NELM: the current length, at least 2 so that the PV
            # is an array everywhere (a 1-element array is still an array)
            return NATIVE_OF_CODE[code[1:]], tid, max(len(value["value"]), 2)
        return NATIVE_OF_CODE[code], tid, 1
    if kind == KIND_ENUM:
        return "ENUM", tid, 1
    if kind == KIND_TABLE:
        return "TABLE", tid, _table_rows(value)
    if kind == KIND_NDARRAY:
        return "NDARRAY", tid, _nd_count(value)
    return "STRUCT", tid, 1


def is_array_code(value: Any) -> bool:
    return kind_of(value) == KIND_SCALAR and value.type()["value"].startswith("a")


# ----------------------------------------------------------------------------- alarm, time

def stamp_seconds(value: Any, field: str = "timeStamp") -> float:
    """POSIX seconds of a time_t field; 0.0 when absent or never set (1970)."""
    try:
        secs = value[field + ".secondsPastEpoch"]
        nsec = value[field + ".nanoseconds"]
    except (KeyError, AttributeError):
        return 0.0
    return secs + nsec * 1e-9 if (secs or nsec) else 0.0


def _alarm(state: PVState, value: Any) -> None:
    try:
        sev = value["alarm.severity"]
        if not sev and not state.severity and not state.status_text and not state.status:
            return      # no alarm, as before: status and message not read (per-update cost)
        status = value["alarm.status"]
        msg = value["alarm.message"]
    except (KeyError, AttributeError):
        state.severity, state.status, state.status_text = 0, 0, ""
        return
    alarm_into(state, sev, status, msg)


def alarm_into(state: PVState, sev: int, status: int, msg: str) -> None:
    """An NT alarm (severity, status code, message) as PV state."""
    state.severity = int(sev)
    # QSRV puts the CA alarm status name in the message ("HIHI", "LINK"...)
    if msg in ALARM_STATUS_NAMES:
        state.status, state.status_text = ALARM_STATUS_NAMES.index(msg), ""
    else:
        state.status = 0 if not sev else int(status)
        if msg:
            state.status_text = msg
        elif 0 <= status < len(_PVA_STATUS) and (status or sev):
            state.status_text = _PVA_STATUS[status]
        else:
            state.status_text = ""


def decode_fast(state: PVState, item: Any) -> None:
    """One update of a fast monitor (:mod:`.fast`): (value, severity, status, message,
    stamp) of an NTScalar scalar or an NTEnum's index."""
    value, sev, status, msg, stamp = item
    if sev or state.severity or state.status or state.status_text:
        alarm_into(state, sev, status, msg)
    state.timestamp = stamp
    state.count = 1
    state.value = value
    state.update_count += 1


# ----------------------------------------------------------------------------- values

def _table_rows(value: Any) -> int:
    cols = value["value"]
    keys = list(cols.keys())
    return len(cols[keys[0]]) if keys else 0


def table_of(value: Any) -> dict:
    """An NTTable as ``{"labels": [...], "columns": [(name, type, list/array)...]}``."""
    cols = value["value"]
    types = dict(value.type()["value"].aspy()[2]) if hasattr(value.type()["value"], "aspy") else {}
    labels = list(value.get("labels", []) or [])
    out = []
    for i, key in enumerate(cols.keys()):
        label = labels[i] if i < len(labels) and labels[i] else key
        out.append((label, type_name(types.get(key, "")), cols[key]))
    return {"labels": [c[0] for c in out], "columns": out}


def tree_of(value: Any, limit: int = 2000, short: bool = False) -> list[tuple[int, str, str, Any]]:
    """Rows ``(depth, field, type, value)`` of a whole structure, depth first (at most
    ``limit`` rows); substructures have value None; unions show their member. With
    ``short``, arrays longer than :data:`SHORT_ELEMENTS` keep only their first elements
    (as a ``[n] a b c ...`` text: the tree then holds no big array)."""
    rows: list[tuple[int, str, str, Any]] = []
    leaf = _short_leaf if short else _leaf

    def walk(v: Any, spec: list, depth: int) -> None:
        for name, code in spec:
            if len(rows) >= limit:
                return
            try:
                item = v[name]
            except Exception as exc:     # a field p4p cannot give: say so, go on
                rows.append((depth, name, type_name(code), f"<unreadable: {exc}>"))
                continue
            if isinstance(code, tuple) and code[0] == "S":
                rows.append((depth, name, type_name(code), None))
                walk(item, code[2], depth + 1)
            elif isinstance(code, tuple) and code[0] in ("aS", "aU"):
                rows.append((depth, name, type_name(code), f"[{len(item)} elements]"))
            else:
                rows.append((depth, name, type_name(code), leaf(item)))

    walk(value, value.type().aspy()[2], 0)
    return rows


def _leaf(item: Any) -> Any:
    """A leaf as shown in a tree: unions/variants by their member, arrays as arrays."""
    if hasattr(item, "getID") and hasattr(item, "type"):   # a union's selected structure
        return f"<{item.getID() or 'structure'}>"
    return item


#: Array elements a short tree keeps (info's field listing).
SHORT_ELEMENTS = 8


def _short_leaf(item: Any) -> Any:
    """A leaf of a short tree: long arrays as the text of their first elements."""
    item = _leaf(item)
    if isinstance(item, (np.ndarray, list, tuple)) and len(item) > SHORT_ELEMENTS:
        head = " ".join(str(v) for v in list(item[:SHORT_ELEMENTS]))
        return f"[{len(item)}] {head} ..."
    return item


def _nd_count(value: Any) -> int:
    try:
        dims = [int(d["size"]) for d in value["dimension"]]
    except Exception:
        return 0
    return int(np.prod(dims)) if dims else 0


def nd_fields(value: Any) -> NTNDArrayFields:
    """The plain fields of an NTNDArray ``Value`` for :func:`decode_frame`."""
    data = value["value"]
    codec = value.get("codec.name", "") or ""
    param = value.get("codec.parameters", None)
    attrs = {}
    for a in value.get("attribute", []) or []:
        try:
            attrs[a["name"]] = a["value"]
        except Exception:
            continue
    return NTNDArrayFields(
        value=data, dims=[int(d["size"]) for d in value["dimension"]], codec=codec,
        codec_type=param if isinstance(param, (int, np.integer)) else None,
        uncompressed_size=value.get("uncompressedSize", None), attributes=attrs,
        unique_id=value.get("uniqueId", None), timestamp=stamp_seconds(value, "dataTimeStamp"))


class FrameCounters:
    """Per-PV NTNDArray bookkeeping kept by the source: drops from uniqueId gaps,
    decode time."""

    __slots__ = ("drops", "decoded", "decode_s", "failed")

    def __init__(self) -> None:
        self.drops = DropCounter()
        self.decoded = 0
        self.decode_s = 0.0
        self.failed = 0


def decode_ndarray(state: PVState, value: Any, counters: FrameCounters) -> None:
    """Decode the frame of an NTNDArray into ``state.extra["frame"]`` (its pixels as
    ``state.value``); a frame that cannot be shown leaves the last good one and says why."""
    t0 = time.perf_counter()
    f = nd_fields(value)
    extra = dict(state.extra or {})
    extra.update(codec=f.codec or "none", unique_id=f.unique_id, dims=list(f.dims),
                 dropped=counters.drops.dropped, received=counters.drops.received,
                 data_time=f.timestamp, attributes={k: _leaf(v) for k, v in list(f.attributes.items())[:50]})
    try:
        frame = decode_frame(f)
    except FrameError as exc:
        counters.failed += 1
        extra["frame_error"] = str(exc)
        state.extra = extra
        return
    except Exception as exc:     # a codec library's own error on corrupt data
        counters.failed += 1
        extra["frame_error"] = f"cannot decode {f.codec or 'frame'}: {exc}"
        state.extra = extra
        return
    dt = time.perf_counter() - t0
    counters.decoded += 1
    counters.decode_s += dt
    extra.update(frame=frame, frame_error="", decode_s=dt,
                 mean_decode_s=counters.decode_s / counters.decoded)
    state.extra = extra
    state.value = frame.data
    state.count = int(frame.data.size)


def decode_into(state: PVState, value: Any, kind: str, counters: Optional[FrameCounters] = None) -> None:
    """Decode one update ``value`` of shape ``kind`` into ``state``."""
    if kind == KIND_SCALAR and _scalar_into(state, value):
        return
    _alarm(state, value)
    state.timestamp = stamp_seconds(value)
    if kind == KIND_SCALAR:
        v = value["value"]
        if isinstance(v, (np.ndarray, list)):     # string arrays come as lists
            state.count = n = len(v)
            if n > state.max_count:
                state.max_count = n
        else:
            state.count = 1
        state.value = v
    elif kind == KIND_ENUM:
        state.value = int(value["value.index"])
        state.count = 1
        choices = value.get("value.choices", None)
        if choices is not None and tuple(choices) != state.enum_strs:
            state.enum_strs = tuple(choices)
    elif kind == KIND_TABLE:
        table = table_of(value)
        state.extra = {**(state.extra or {}), "table": table}
        state.count = _table_rows(value)
        state.value = f"[table {state.count} rows × {len(table['columns'])} columns]"
    elif kind == KIND_NDARRAY:
        decode_ndarray(state, value, counters or FrameCounters())
    else:
        tree = tree_of(value)
        state.extra = {**(state.extra or {}), "tree": tree}
        state.value = _struct_value(value)
        state.count = 1
    state.update_count += 1


def _scalar_into(state: PVState, value: Any) -> bool:
    """The common case, in one frame (a table's rows decode ~100,000 updates/s): an
    NTScalar with alarm and time stamp, no alarm now nor before. False: not that case
    (the general path decodes it)."""
    try:
        sev = value["alarm.severity"]
        secs = value["timeStamp.secondsPastEpoch"]
        nsec = value["timeStamp.nanoseconds"]
        v = value["value"]
    except (KeyError, AttributeError):
        return False
    if sev or state.severity or state.status or state.status_text or isinstance(v, (np.ndarray, list)):
        return False
    state.timestamp = secs + nsec * 1e-9 if (secs or nsec) else 0.0
    state.count = 1
    state.value = v
    state.update_count += 1
    return True


def _struct_value(value: Any) -> Any:
    """The ``value`` field of a structure when it is something a cell can show."""
    if "value" not in value:
        return f"<{value.getID() or 'structure'}>"
    code = value.type()["value"]
    v = value["value"]
    if code == "v" or (isinstance(code, tuple) and code[0] == "U"):
        kind = "variant" if code == "v" else "union"
        if v is None:
            return f"<{kind}: empty>"
        if hasattr(v, "getID"):
            return f"<{kind}: {v.getID() or 'structure'}>"
        return v if isinstance(v, (int, float, str)) else f"<{kind}: {repr(v)[:80]}>"
    if isinstance(code, tuple):
        return f"<{type_name(code)}>"
    return v


def sample_of(state: PVState, value: Any, kind: str) -> tuple:
    """``(timestamp, value, severity)`` of an update (kept samples)."""
    if kind == KIND_SCALAR:
        v = value["value"]
    elif kind == KIND_ENUM:
        v = int(value["value.index"])
    else:
        v = None
    try:
        sev = int(value["alarm.severity"])
    except (KeyError, AttributeError):
        sev = 0
    return stamp_seconds(value), v, sev


# ----------------------------------------------------------------------------- metadata

def _limits(value: Any, low: str, high: str) -> Optional[tuple]:
    try:
        lo, hi = value[low], value[high]
    except (KeyError, AttributeError):
        return None
    return (float(lo), float(hi))


def apply_meta(state: PVState, value: Any, with_fields: bool = True) -> None:
    """Units, precision, limits and enum strings of an NT value (``with_fields``: also
    the whole structure as ``extra["fields"]``, for info)."""
    get = value.get
    if "display" in value:
        state.units = get("display.units", "") or ""
        prec = get("display.precision", None) if "display.precision" in value else None
        if prec is None:
            m = _FORMAT_PREC.search(get("display.format", "") or "")
            prec = int(m.group(1)) if m else None
        state.precision = int(prec) if prec is not None else None
        state.display_limits = _limits(value, "display.limitLow", "display.limitHigh")
        desc = get("display.description", "") if "display.description" in value else ""
        if desc:
            state.extra = {**(state.extra or {}), "description": desc}
    # the whole structure as info shows it (pvinfo's field, type, value): once per
    # connection, long arrays cut short
    if with_fields:
        state.extra = {**(state.extra or {}), "fields": tree_of(value, short=True)}
    if "control" in value:
        state.control_limits = _limits(value, "control.limitLow", "control.limitHigh")
    if "valueAlarm" in value:
        state.alarm_limits = _limits(value, "valueAlarm.lowAlarmLimit", "valueAlarm.highAlarmLimit")
        state.warning_limits = _limits(value, "valueAlarm.lowWarningLimit", "valueAlarm.highWarningLimit")
    if "value.choices" in value:
        state.enum_strs = tuple(get("value.choices", ()) or ())


def put_value_of(native: str, values: list, array: bool) -> Any:
    """What to assign to ``value`` (or ``value.index``) for a put of checked ``values``."""
    if native == "ENUM":
        return int(values[0])
    if array:
        if native == "STRING":
            return [str(v) for v in values]
        return np.asarray(values)
    return values[0]
