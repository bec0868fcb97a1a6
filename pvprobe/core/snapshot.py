"""Snapshots of PV values as CSV: save, read back, compare with live values, restore.

File format (UTF-8, written with the csv module, ``\\n`` line ends)::

    # pvprobe snapshot 2024-05-01T12:00:00.123456+02:00
    name,value,severity,status,timestamp,type,count,units,error
    PVPDEMO:setpoint,12.5,NO_ALARM,NO_ALARM,2024-05-01T11:59:58.000001+02:00,DOUBLE,1,V,
    PVPDEMO:enum,On,NO_ALARM,NO_ALARM,...,ENUM,1,,
    PVPDEMO:wave:set,1.0 2.0 3.0,NO_ALARM,NO_ALARM,...,DOUBLE,16,,
    PVPDEMO:gone,,DISCONNECTED,DISCONNECTED,,,0,,not found (no server answered ...)

- ``value``: numbers written exactly (``repr`` of floats, ``NaN``/``inf``/``-inf``);
  enums as the state string (the index if the state has no unique, non-empty
  string); CHAR waveforms as text; STRING scalars as text (CSV-quoted as needed);
  numeric arrays as the valid elements separated by single spaces; STRING
  arrays as a JSON list of strings (parsed with ``json``, never evaluated).
- ``count`` is the channel's element count (NELM), so a one-element waveform
  is still an array; ``type`` the native CA type (DOUBLE, ENUM, CHAR, ...).
- ``timestamp`` the IOC time stamp, ISO 8601 with the UTC offset, empty if unknown.
- ``error`` says why a row has no value (disconnected, get timed out);
  such rows are never restored.

Readers skip ``#`` lines before the header, accept the columns in any order
(``name`` and ``value`` are required, unknown columns are ignored), and report
a bad row by its line number.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import numpy as np

from .protocol_text import listed_name
from .pvnames import pv_name_error, strip_scheme
from .pvstate import ALARM_STATUS_NAMES, NATIVE_TYPE_NAMES, SEVERITY_NAMES, PVState
from .textfile import read_limited
from .values import editable_text, is_int_text

COLUMNS = ("name", "value", "severity", "status", "timestamp", "type", "count", "units", "error")
MAGIC = "# pvprobe snapshot"
DISCONNECTED = "DISCONNECTED"
#: A snapshot larger than this is refused rather than read into memory.
MAX_SNAPSHOT_BYTES = 64 * 1024 * 1024
#: pvAccess scalar types CA has no name for (``pvprobe.pva.values.NATIVE_OF_CODE``).
PVA_INT_TYPES = ("INT8", "USHORT", "ULONG", "INT64", "UINT64", "BOOLEAN")
_INT_TYPES = ("SHORT", "LONG", "CHAR", "ENUM", *PVA_INT_TYPES)
#: Types a snapshot row may have.
ROW_TYPES = (*NATIVE_TYPE_NAMES, *PVA_INT_TYPES)
_FLOAT_TYPES = ("FLOAT", "DOUBLE")


class SnapshotError(Exception):
    """A snapshot file could not be read or written; the message says which and why."""


@dataclass
class SnapshotRow:
    """One PV of a snapshot, as text exactly as in the file."""

    name: str
    value_text: str = ""
    severity: str = ""
    status: str = ""
    timestamp: str = ""       # ISO 8601, "" if unknown
    type: str = ""            # native CA type, "" if never connected
    count: int = 0            # element count of the channel (NELM)
    units: str = ""
    error: str = ""           # why there is no value; "" when the value is good

    @property
    def has_value(self) -> bool:
        return not self.error and self.severity != DISCONNECTED and bool(self.type)

    @property
    def is_array(self) -> bool:
        return self.count > 1

    @property
    def is_char_array(self) -> bool:
        return self.type == "CHAR" and self.count > 1

    def timestamp_posix(self) -> Optional[float]:
        if not self.timestamp:
            return None
        try:
            return _dt.datetime.fromisoformat(self.timestamp).timestamp()
        except ValueError:
            return None


@dataclass
class Snapshot:
    rows: list[SnapshotRow] = field(default_factory=list)
    created: str = ""         # ISO time from the comment line, if any

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rows]

    def row(self, name: str) -> Optional[SnapshotRow]:
        for r in self.rows:
            if r.name == name:
                return r
        return None

    @property
    def by_name(self) -> dict[str, SnapshotRow]:
        return {r.name: r for r in self.rows}


# ----------------------------------------------------------------------------- state -> text

def _iso(ts: float) -> str:
    if not ts:
        return ""
    try:
        return _dt.datetime.fromtimestamp(ts).astimezone().isoformat(timespec="microseconds")
    except (OverflowError, OSError, ValueError):
        return ""


def value_text(state: PVState) -> str:
    """The value of ``state`` as snapshot text (see the module docstring): every digit,
    STRING arrays as a JSON list."""
    return editable_text(state, exact=True, json_strings=True)


def row_from_state(state: PVState) -> SnapshotRow:
    has_value = state.connected and state.value is not None and not state.error
    error = ""
    if not has_value:
        error = state.error or ("not connected" if not state.connected else "no value")
    return SnapshotRow(
        name=state.name,
        value_text=value_text(state) if has_value else "",
        severity=state.severity_name,
        status=state.status_name,
        timestamp=_iso(state.timestamp) if has_value else "",
        type=state.native_type,
        count=int(state.max_count or (1 if state.native_type else 0)),
        units=state.units or "",
        error=error,
    )


def snapshot_from_states(states: Iterable[PVState]) -> Snapshot:
    """A snapshot of these states, in order (the first of duplicate names kept)."""
    rows, seen = [], set()
    for st in states:
        if st.name in seen:
            continue
        seen.add(st.name)
        rows.append(row_from_state(st))
    return Snapshot(rows=rows, created=_dt.datetime.now().astimezone().isoformat(timespec="seconds"))


# ----------------------------------------------------------------------------- text -> values

def _number(token: str, native: str) -> Union[int, float]:
    t = token.strip()
    if native in _INT_TYPES:
        try:
            return int(t)
        except ValueError:
            v = float(t)  # "3.0" from another tool: accept integral floats only
            if not math.isfinite(v) or v != int(v):
                raise ValueError(f"{token!r} is not an integer") from None
            return int(v)
    return float(t)


def parse_value(text: str, native: str, count: int) -> Any:
    """The put-ready value of a snapshot text: float/int, list for arrays, str for
    text and enum states. Raises ValueError with the reason."""
    if native == "CHAR" and count > 1:
        return text
    if native == "STRING":
        if count > 1:
            try:
                items = json.loads(text) if text.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"STRING array is not a JSON list of strings ({exc.msg})") from None
            if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                raise ValueError("STRING array is not a JSON list of strings")
            return items
        return text
    if native == "ENUM" and count <= 1:
        s = text.strip()
        if not s:
            raise ValueError("empty enum state")
        return int(s) if is_int_text(s) else s
    if native in _INT_TYPES + _FLOAT_TYPES:
        if count > 1:
            return [_number(t, native) for t in text.split()]
        if not text.strip():
            raise ValueError("empty value")
        return _number(text, native)
    raise ValueError(f"unknown type {native!r}")


# ----------------------------------------------------------------------------- write

def format_snapshot(snap: Snapshot) -> str:
    buf = io.StringIO()
    created = snap.created or _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    buf.write(f"{MAGIC} {created}\n")
    w = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    # QUOTE_MINIMAL does not quote a lone "\r" (not in the line terminator): quote such rows whole.
    w_all = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
    w.writerow(COLUMNS)
    for r in snap.rows:
        fields = [listed_name(r.name), r.value_text, r.severity, r.status, r.timestamp, r.type,
                  str(r.count), r.units, r.error]
        (w_all if any("\r" in f for f in fields) else w).writerow(fields)
    return buf.getvalue()


def write_snapshot(path: Union[str, os.PathLike], snap: Snapshot) -> None:
    """Write the snapshot CSV atomically (temp file + rename)."""
    from .atomic import atomic_write_text

    for r in snap.rows:
        problem = pv_name_error(listed_name(r.name))
        if problem:
            raise SnapshotError(f"cannot write snapshot {path}: {r.name!r} is not a valid PV name ({problem})")
    try:
        atomic_write_text(path, format_snapshot(snap))
    except OSError as exc:
        raise SnapshotError(f"cannot write snapshot {path}: {exc.strerror or exc}") from None


# ----------------------------------------------------------------------------- read

_SEVERITIES = set(SEVERITY_NAMES) | {DISCONNECTED, ""}
_STATUSES = set(ALARM_STATUS_NAMES) | {DISCONNECTED, ""}


def _check_row(r: SnapshotRow) -> Optional[str]:
    problem = pv_name_error(listed_name(r.name))
    if problem:
        return f"invalid PV name {r.name[:60]!r} ({problem})"
    if r.type not in ROW_TYPES and r.type != "":
        return f"unknown type {r.type[:20]!r} (expected one of {', '.join(ROW_TYPES)})"
    if r.severity not in _SEVERITIES and not r.severity.isdigit():
        return f"unknown severity {r.severity[:20]!r}"
    # a pvAccess alarm status is the server's message, any text
    if r.status not in _STATUSES and not r.status.isdigit() and not r.name.startswith("pva://"):
        return f"unknown status {r.status[:20]!r}"
    if r.timestamp:
        try:
            _dt.datetime.fromisoformat(r.timestamp)
        except ValueError:
            return f"bad timestamp {r.timestamp[:40]!r} (expected ISO 8601)"
    if r.has_value:
        try:
            parse_value(r.value_text, r.type, r.count)
        except ValueError as exc:
            return f"bad {r.type} value {r.value_text[:40]!r}: {exc}"
    return None


def parse_snapshot(text: str, where: str = "snapshot") -> Snapshot:
    """Parse snapshot text. Raises :class:`SnapshotError` naming ``where`` and the line."""
    if not text.strip():
        raise SnapshotError(f"{where}: file is empty")
    snap = Snapshot()
    pos, start = 0, 0  # start: lines skipped before the header
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end < 0 else end + 1
        line = text[pos:end]
        if not (line.startswith("#") or not line.strip()):
            break
        if line.startswith(MAGIC):
            snap.created = line[len(MAGIC):].strip()[:100]
        pos, start = end, start + 1
    if pos >= len(text):
        raise SnapshotError(f"{where}: no header line (expected {','.join(COLUMNS)})")
    old_limit = csv.field_size_limit()
    csv.field_size_limit(max(old_limit, MAX_SNAPSHOT_BYTES))
    reader = csv.reader(io.StringIO(text[pos:], newline=""), strict=True)
    try:
        header = next(reader)
    except csv.Error as exc:
        raise SnapshotError(f"{where}: line {start + 1}: bad CSV header ({exc})") from None
    header = [h.strip().lower() for h in header]
    if "name" not in header or "value" not in header:
        raise SnapshotError(f"{where}: line {start + 1}: not a snapshot header "
                            f"(expected columns {','.join(COLUMNS)})")
    dup = {h for h in header if h and header.count(h) > 1}
    if dup:
        raise SnapshotError(f"{where}: line {start + 1}: column {sorted(dup)[0]!r} appears twice")
    col = {h: i for i, h in enumerate(header)}
    seen: dict[str, int] = {}
    lineno = start + reader.line_num
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise SnapshotError(f"{where}: line {start + reader.line_num}: bad CSV ({exc})") from None
        first = lineno + 1
        lineno = start + reader.line_num
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) != len(header):
            raise SnapshotError(f"{where}: line {first}: {len(fields)} fields, the header has {len(header)}")
        get = lambda key, fields=fields: fields[col[key]] if key in col else ""
        count_text = get("count").strip()
        try:
            count = int(count_text) if count_text else 1
            if count < 0:
                raise ValueError
        except ValueError:
            raise SnapshotError(f"{where}: line {first}: bad count {count_text[:20]!r}") from None
        row = SnapshotRow(name=strip_scheme(get("name").strip()), value_text=get("value"),
                          severity=get("severity").strip(), status=get("status").strip(),
                          timestamp=get("timestamp").strip(), type=get("type").strip().upper(),
                          count=count, units=get("units"), error=get("error"))
        if "type" not in col and row.value_text.strip():  # a bare name,value list
            try:
                float(row.value_text)
                row.type = "DOUBLE"
            except ValueError:
                row.type = "STRING"  # put as text: coerce_put_value converts it
        problem = _check_row(row)
        if problem:
            raise SnapshotError(f"{where}: line {first}: {problem}")
        if row.name in seen:
            raise SnapshotError(f"{where}: line {first}: {row.name} appears twice (first on line {seen[row.name]})")
        seen[row.name] = first
        snap.rows.append(row)
    return snap


def read_snapshot(path: Union[str, os.PathLike]) -> Snapshot:
    """Read a snapshot CSV, with clear errors for missing, huge, binary or corrupt files."""
    p = Path(path)
    data = read_limited(p, MAX_SNAPSHOT_BYTES, "snapshot", SnapshotError)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SnapshotError(f"snapshot {p}: line {line}: not UTF-8 text "
                            f"(byte 0x{data[exc.start]:02x})") from None
    return parse_snapshot(text, f"snapshot {p}")


# ----------------------------------------------------------------------------- compare

EQUAL, DIFFERENT, MISSING_LIVE, DISCONNECTED_SAVED = "equal", "different", "missing-live", "disconnected"


@dataclass
class Difference:
    """How one saved PV compares with its live value.

    ``kind``: ``equal``, ``different``, ``missing-live`` (no live value now:
    not found, disconnected, no data) or ``disconnected`` (no value was saved).
    """

    name: str
    kind: str
    saved_text: str = ""
    live_text: str = ""
    detail: str = ""


def _close(a: Any, b: Any, tolerance: float) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    fa, fb = float(a), float(b)
    if math.isnan(fa) or math.isnan(fb):
        return math.isnan(fa) and math.isnan(fb)
    if math.isinf(fa) or math.isinf(fb):
        return fa == fb
    return abs(fa - fb) <= tolerance + 1e-12 * max(abs(fa), abs(fb))


def _compare_values(row: SnapshotRow, live: PVState, tolerance: float) -> tuple[bool, str]:
    live_row = row_from_state(live)
    native = live.native_type or row.type
    count = live_row.count if live_row.count else row.count
    if live_row.value_text == row.value_text and live_row.type == row.type:
        return True, ""
    if native == "ENUM" and count <= 1:
        saved = row.value_text.strip()
        idx = live.value if isinstance(live.value, (int, np.integer)) else None
        if is_int_text(saved) and idx is not None:
            return int(saved) == int(idx), ""
        if idx is not None and 0 <= int(idx) < len(live.enum_strs):
            return live.enum_strs[int(idx)] == saved, ""
        return live_row.value_text == saved, ""
    try:
        a = parse_value(row.value_text, row.type or native, row.count)
        b = parse_value(live_row.value_text, native, count)
    except ValueError:
        return live_row.value_text == row.value_text, "values not comparable as numbers"
    if isinstance(a, list) or isinstance(b, list):
        a = a if isinstance(a, list) else [a]
        b = b if isinstance(b, list) else [b]
        if len(a) != len(b):
            return False, f"{len(a)} elements saved, {len(b)} live"
        bad = [i for i, (x, y) in enumerate(zip(a, b)) if not _close(x, y, tolerance)]
        if bad:
            return False, f"{len(bad)} of {len(a)} elements differ (first at index {bad[0]})"
        return True, ""
    if isinstance(a, str) or isinstance(b, str):
        return str(a) == str(b), ""
    return _close(a, b, tolerance), ""


def compare(snap: Snapshot, live: Mapping[str, PVState], tolerance: float = 1e-9) -> list[Difference]:
    """Compare every saved PV with its live state. Numbers are equal within
    ``tolerance`` (absolute, plus a relative 1e-12), arrays element by element,
    enums by state string, text exactly."""
    out = []
    for row in snap.rows:
        st = live.get(row.name)
        if not row.has_value:
            out.append(Difference(row.name, DISCONNECTED_SAVED, "", value_text(st) if st and st.connected else "",
                                  row.error or "no value saved"))
            continue
        if st is None or not st.connected or st.value is None or st.error:
            reason = "not read" if st is None else (st.error or ("not connected" if not st.connected else "no value"))
            out.append(Difference(row.name, MISSING_LIVE, row.value_text, "", reason))
            continue
        same, detail = _compare_values(row, st, tolerance)
        out.append(Difference(row.name, EQUAL if same else DIFFERENT, row.value_text, value_text(st), detail))
    return out


# ----------------------------------------------------------------------------- restore

class RestorePlan(list):
    """``[(name, value), ...]`` ready for ``Engine.put_many``; ``skipped`` lists
    ``(name, reason)`` for PVs that cannot be restored."""

    def __init__(self, puts: Iterable[tuple[str, Any]] = (), skipped: Iterable[tuple[str, str]] = ()):
        super().__init__(puts)
        self.skipped: list[tuple[str, str]] = list(skipped)


def restore_plan(snap: Snapshot, names: Optional[Sequence[str]] = None) -> RestorePlan:
    """The puts that restore ``snap`` (or only ``names``), values converted back
    from text. Rows without a saved value (disconnected at save time), empty
    arrays and names not in the snapshot are skipped, with the reason."""
    by_name = snap.by_name
    wanted = list(dict.fromkeys(names)) if names is not None else snap.names
    plan = RestorePlan()
    for name in wanted:
        row = by_name.get(name)
        if row is None:
            plan.skipped.append((name, "not in the snapshot"))
            continue
        if not row.has_value:
            plan.skipped.append((name, f"no saved value ({row.error or 'disconnected at save time'})"))
            continue
        try:
            value = parse_value(row.value_text, row.type, row.count)
        except ValueError as exc:
            plan.skipped.append((name, f"saved value unusable: {exc}"))
            continue
        if isinstance(value, list) and not value:
            plan.skipped.append((name, "saved array is empty"))
            continue
        plan.append((name, value))
    return plan
