"""Texts that depend on a PV's protocol (CA or pvAccess), shared by the table and the
probe: the Protocol column, the access cell, the status cell and the extra tooltip
lines of a pvAccess PV. Plain Python (no Qt, no p4p)."""

from __future__ import annotations

from .pvnames import default_protocol, looks_like_scheme, protocol_of
from .pvstate import PVState

#: Shown in the Protocol column.
PROTOCOL_LABELS = {"ca": "CA", "pva": "PVA"}
#: The access cell of a pvAccess PV whose type the app cannot put (tables, frames, structures).
NO_PUT_TEXT = "read; no puts of this type"
#: pvAccess types shown whole (table, tree, image): no value to plot, put or snapshot.
STRUCTURED_TYPES = ("TABLE", "STRUCT", "NDARRAY")
#: The Timestamp cell of a PVA PV whose server sent time 0.
NO_TIME_TEXT = "no time"
#: The server of a PVA PV when no server answered a name search for it (``state.host``).
SERVER_NOT_FOUND = "not found by a search"
#: The server of a PVA PV whose search has not answered yet.
SERVER_SEARCHING = "searching…"


def protocol_label(name: str) -> str:
    """``"CA"`` or ``"PVA"`` for an engine key (known before the PV connects)."""
    return PROTOCOL_LABELS[protocol_of(name)]


def listed_name(key: str) -> str:
    """An engine key as a PV list writes it: a CA name gets ``ca://`` while bare names
    mean PVA (a ``pva://`` key keeps its scheme), so reading it back gives the same key."""
    if protocol_of(key) == "ca" and (default_protocol() != "ca" or looks_like_scheme(key)):
        return "ca://" + key       # (a CA name like ``A://x`` too: read back, it is that name)
    return key


def frame_summary(st: PVState) -> str:
    """An NTNDArray as one line: ``[NTNDArray 48×32 Mono UInt16, lz4, uniqueId 7]``, or
    why its frame cannot be shown."""
    extra = st.extra or {}
    frame = extra.get("frame")
    if extra.get("frame_error"):
        return f"[NTNDArray: {extra['frame_error']}]"
    if frame is None:
        return "[NTNDArray, no frame yet]" if st.connected else ""
    codec = extra.get("codec") or "none"
    uid = extra.get("unique_id")
    return (f"[NTNDArray {frame.width}×{frame.height} {frame.color_mode} {frame.data_type}, {codec}"
            + (f", uniqueId {uid}]" if uid is not None else "]"))


def server_text(st: PVState) -> str:
    """Which server answered a PVA PV: ``host:port`` as a name search found it (a
    gateway's, through a gateway), "not found by a search", or "searching…" until the
    search answered ("-" before it ever connected)."""
    if not st.ever_connected:
        return "-"
    return st.host or SERVER_SEARCHING


def access_cell(st: PVState) -> str:
    """The access text of a PVA PV (PVA tells no rights before a put), "" for CA (the
    caller keeps its own wording)."""
    if st.access_known or not st.ever_connected:
        return ""
    return st.access_text if st.write_access else NO_PUT_TEXT


def shows_status(st: PVState) -> bool:
    """The Status cell says something: a CA status or severity, or a PVA alarm message
    (a PVA server may send a message with severity NO_ALARM)."""
    return bool(st.connected and (st.status or st.severity or st.status_text))


def pva_lines(st: PVState) -> list[str]:
    """Tooltip/report lines of a connected-once PVA PV: the type id, type and size, access."""
    if st.protocol != "pva" and protocol_of(st.name) != "pva":
        return []
    if not st.ever_connected:
        return ["pvAccess"]
    lines = [f"pvAccess, type {st.type_id or '?'}"]
    shape = f"{st.native_type or '?'}" + (f"[{st.max_count}]" if st.is_array else "")
    access = access_cell(st) or st.access_text
    lines.append(f"{shape}, {access}" if access else shape)
    return lines


__all__ = ["STRUCTURED_TYPES", "PROTOCOL_LABELS", "NO_PUT_TEXT", "NO_TIME_TEXT", "protocol_label", "listed_name",
           "access_cell", "shows_status", "pva_lines", "frame_summary"]
