"""What the PV table shows of a state alone: a live cell's text and a cell's tool tip."""

from __future__ import annotations

from pvprobe.core.format import format_timestamp, format_value, full_value_text
from pvprobe.core.protocol_text import NO_TIME_TEXT, frame_summary, pva_lines, shows_status
from pvprobe.core.pvstate import PVState
from pvprobe.core.values import SEVERITY_PREFIX

from .pvtable_columns import CONNECTING_TEXT, DISCONNECTED_TEXT, READ_ONLY_TEXT, Col

#: A tool tip shows at most this many characters of a value.
TOOLTIP_CHARS = 2000


def cell_text(st: PVState, col: int) -> str:
    """The text shown in one cell of the live columns (Name … Connection)."""
    if col == Col.NAME:
        return st.name
    if not st.ever_connected:
        if col == Col.VALUE:
            return CONNECTING_TEXT
        if col == Col.CONNECTION:
            return f"{CONNECTING_TEXT} ({st.error})" if st.error else CONNECTING_TEXT
        return ""
    if col == Col.VALUE:
        if st.native_type == "NDARRAY":       # a pvAccess image: what it is, not its pixels
            return frame_summary(st)
        return format_value(st)
    if col == Col.UNITS:
        return "" if st.is_enum or st.native_type == "STRING" else st.units
    if col == Col.SEVERITY:
        if not st.connected:
            return DISCONNECTED_TEXT
        return SEVERITY_PREFIX.get(st.severity, "") + st.severity_name
    if col == Col.STATUS:   # blank when there is nothing to say
        return st.status_name if shows_status(st) else ""
    if col == Col.TIMESTAMP:     # a PVA server may send 0: say so, never "1970"
        return format_timestamp(st.timestamp) or (NO_TIME_TEXT if st.protocol == "pva" else "")
    if col == Col.CONNECTION:
        if not st.connected:
            return DISCONNECTED_TEXT
        if st.read_access and not st.write_access and st.access_known:
            return "connected, read-only"
        if not st.read_access:
            return "connected, no read access"
        return "connected"
    if col == Col.ACCESS:
        if st.read_access and not st.write_access:
            return READ_ONLY_TEXT
        return st.access_text
    return ""


def state_tooltip(st: PVState, col: int) -> str:
    """Full value (arrays up to a limit), plus connection and error text."""
    lines = [st.name]
    if not st.ever_connected:
        lines.append(CONNECTING_TEXT)
    else:
        full = format_value(st, with_units=True, preview=64)
        if len(full) > TOOLTIP_CHARS:
            full = full[:TOOLTIP_CHARS] + " …"
        if not st.connected:
            lines.append(f"DISCONNECTED, last value: {full}")
        else:
            lines.append(full)
            if st.severity or st.status_text:
                lines.append(f"{st.severity_name} alarm, status {st.status_name}")
        exact = full_value_text(st, with_units=True, preview=64)
        if exact:   # PREC hides digits the IOC holds: give them all
            if len(exact) > TOOLTIP_CHARS:
                exact = exact[:TOOLTIP_CHARS] + " …"
            lines.append(f"full value: {exact}")
        if st.timestamp:
            lines.append(format_timestamp(st.timestamp))
        if st.host:
            lines.append(f"host {st.host}, {st.native_type or '?'}[{st.max_count}], {st.access_text}")
    lines.extend(pva_lines(st))
    if st.error:
        lines.append(f"error: {st.error}")
    return "\n".join(lines)


__all__ = ["cell_text", "state_tooltip", "TOOLTIP_CHARS"]
