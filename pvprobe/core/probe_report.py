"""The text report of one PV: what ``cainfo`` shows and more (limits, enum states,
valid length, sub-second timestamp, record fields, history); for a pvAccess PV what
``pvinfo`` shows too (type id, server, field tree; see :func:`pva_lines`). Shared by the
probe's "Copy report" and ``pvprobe info [--fields]``. Plain Python."""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Sequence
from typing import Optional

from . import pva_text
from .format import FloatFormat, char_array_to_text, format_number, format_value, full_value_text
from .history import Stats
from .pvstate import PVState
from .record_fields import FIELD_HELP

#: Array elements shown in the report's value line.
REPORT_PREVIEW = 20
_W = 18  # label column width (after the 4-space indent)


def format_timestamp_us(ts: float) -> str:
    """IOC timestamp in local time with microseconds; "-" if unknown."""
    if not ts:
        return "-"
    return _dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S.%f")


def fmt_limits(lims) -> str:
    """``low .. high``; "-" when the PV has none, "not set" when both are NaN (e.g. an ao
    without alarm limits), and ``0 .. 0 (none)`` where EPICS means "no limits"."""
    if not lims:
        return "-"
    lo, hi = lims
    if lo is None or hi is None:
        return "-"
    if isinstance(lo, float) and isinstance(hi, float) and math.isnan(lo) and math.isnan(hi):
        return "not set"
    text = f"{format_number(lo)} .. {format_number(hi)}" if not isinstance(lo, float) else f"{lo:g} .. {hi:g}"
    return text + " (none)" if lo == hi == 0 else text


def value_text(state: PVState, preview: int = REPORT_PREVIEW,
               floats: Optional[FloatFormat] = None) -> str:
    """The value as the report shows it: text for CHAR waveforms, arrays with a preview,
    enums as ``state (index)``, scalars with precision (or ``floats``) and units."""
    if state.value is None:
        return format_value(state) or "-"
    if state.is_char_array:
        return repr(char_array_to_text(state.value))
    if state.is_enum and not state.is_array:
        text = format_value(state)
        return f"{text} ({int(state.value)})" if text != str(state.value) else text
    return format_value(state, with_units=True, preview=preview, floats=floats)


def _line(label: str, text: str) -> str:
    return f"    {label + ':':<{_W}}{text}"


def field_value_text(state: PVState) -> str:
    """A record field's value in one line (menus as their choice, links as text)."""
    if not state.connected:
        return "(disconnected)"
    if state.value is None:
        return ""
    return format_value(state, preview=8)


def report_lines(state: PVState, *, fields: Optional[Sequence[tuple[str, PVState]]] = None,
                 rtyp: Optional[str] = None, fields_note: str = "",
                 history: Optional[Stats] = None, rate: Optional[float] = None,
                 since_update: Optional[float] = None,
                 floats: Optional[FloatFormat] = None) -> list[str]:
    """The report of one PV as lines. ``fields`` are (FIELD, state) pairs of the record;
    ``history`` the statistics since open; ``rate`` updates/s; ``since_update`` seconds;
    ``floats`` how values are printed (default: the PV's PREC, plus a "Full value" line
    with every digit when PREC hides some). A connected pvAccess PV gets its own
    layout (:func:`pva_lines`)."""
    lines = _report_lines(state, fields=fields, rtyp=rtyp, fields_note=fields_note,
                          history=history, rate=rate, since_update=since_update, floats=floats)
    if state.protocol != "pva" or not state.ever_connected:
        return lines
    return pva_lines(lines, state)


def pva_lines(lines: list[str], st: PVState) -> list[str]:
    """The report of a pvAccess channel from the CA layout's ``lines``: no CA host line
    (the Server line says who answered), the native type without CA's DBR_ prefix, a
    structure's one-line summary as its value, protocol, type id and server after the
    State line, and description, table, frame and field tree at the end
    (:func:`pva_text.info_lines`)."""
    extra = pva_text.info_lines(st)
    out: list[str] = []
    for line in lines:
        key = line.strip().split(":", 1)[0]
        if key == "Host":
            continue
        if key == "Native type":
            line = line.replace("DBR_", "", 1)
        if key == "Value" and st.native_type in pva_text.STRUCTURED:   # not a frame's pixels
            line = _line("Value", pva_text.summary_text(st))
        out.append(line)
        if key == "State":
            out += extra[:pva_text.INFO_HEAD]
    return out + extra[pva_text.INFO_HEAD:]


def _report_lines(state: PVState, *, fields: Optional[Sequence[tuple[str, PVState]]],
                  rtyp: Optional[str], fields_note: str, history: Optional[Stats],
                  rate: Optional[float], since_update: Optional[float],
                  floats: Optional[FloatFormat]) -> list[str]:
    """The report in CA's layout (see :func:`report_lines`)."""
    st = state
    lines = [st.name, _line("State", "connected" if st.connected else
                            ("disconnected" if st.ever_connected else "not connected"))]
    if not st.ever_connected:
        if st.error:
            lines.append(_line("Error", st.error))
        return lines
    count = f"{st.max_count}"
    if st.is_array:
        count += f" (valid now: {st.count})"
    lines += [
        _line("Host", st.host or "-"),
        _line("Access", st.access_text),
        _line("Native type", f"DBR_{st.native_type}"),
        _line("Element count", count),
        _line("Value", value_text(st, floats=floats)),
        *([_line("Full value", full)] if floats is None and st.value is not None
          and (full := full_value_text(st, with_units=True, preview=REPORT_PREVIEW)) else []),
        _line("Units", st.units or "-"),
        _line("Precision", "-" if st.precision is None else str(st.precision)),
        _line("Display limits", fmt_limits(st.display_limits)),
        _line("Alarm limits", f"{fmt_limits(st.alarm_limits)} (LOLO .. HIHI)"),
        _line("Warning limits", f"{fmt_limits(st.warning_limits)} (LOW .. HIGH)"),
        _line("Control limits", fmt_limits(st.control_limits)),
    ]
    if st.enum_strs:
        lines.append(_line("Enum states", ", ".join(f"{i}={s}" for i, s in enumerate(st.enum_strs))))
    lines += [
        _line("Severity", st.severity_name),
        _line("Status", st.status_name),
        _line("Timestamp", format_timestamp_us(st.timestamp)),
    ]
    if rate is not None:
        lines.append(_line("Update rate", f"{rate:.2f} /s"))
    if since_update is not None:
        lines.append(_line("Last update", f"{since_update:.1f} s ago"))
    if history is not None:
        if history.count:
            p = st.precision if st.precision is not None and 0 <= st.precision <= 17 else None
            f = (lambda x: format_number(float(x), p)) if p is not None else (lambda x: f"{x:.6g}")
            std = "-" if math.isnan(history.std) else f(history.std)
            lines.append(_line("History", f"n={history.count} min={f(history.min)} max={f(history.max)} "
                                          f"mean={f(history.mean)} std={std}"))
        else:
            lines.append(_line("History", "no numeric values"))
    if fields is not None or fields_note:
        title = f"Record fields ({rtyp})" if rtyp else "Record fields"
        lines.append(f"    {title}:")
        if fields_note:
            lines.append(f"        {fields_note}")
        for fld, fst in fields or ():
            access = "" if fst.write_access or not fst.connected else "  [read-only]"
            lines.append(f"        .{fld:<5} {field_value_text(fst)}{access}")
    return lines


def report_text(state: PVState, **kw) -> str:
    return "\n".join(report_lines(state, **kw)) + "\n"


def field_help(fld: str) -> str:
    return FIELD_HELP.get(fld, "")
