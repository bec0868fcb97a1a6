"""One record over Channel Access and over pvAccess, side by side: what each says, what differs.

Plain Python (no Qt, no epics, no p4p): the compare panel feeds every state of the
two channels (``NAME`` and ``pva://NAME``) to a :class:`ProtocolComparison` and
shows its :meth:`~ProtocolComparison.rows`.

Values and alarms are compared *at the same update*: each side keeps the last few
updates by timestamp, and the newest timestamp both have seen is the one compared
(a record that changes at 10 Hz is never "different" only because one protocol's
newest update arrived first). With no common timestamp the newest of each are
compared, and the timestamp row says so.

Not differences (each protocol's nature, said in a note): access rights (PVA tells
none before a put), the server address (CA names the server it answered from; for
PVA it is the address a name search found, see ``pvprobe.pva.search``: a different
port, and a gateway's address through a gateway), and the precision of non-float
types (CA sends none, QSRV2 0).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from .format import format_value
from .probe_report import fmt_limits, format_timestamp_us
from .protocol_text import server_text
from .pvnames import strip_scheme
from .pvstate import PVState

#: Updates kept per side to find one both have seen.
HISTORY = 64
#: The note of the server row: where PVA's address comes from.
PVA_SERVER_NOTE = "PVA: the server that answered a name search"
FLOAT_TYPES = ("DOUBLE", "FLOAT")


@dataclass(frozen=True)
class CompareRow:
    """One line of the comparison: what CA and PVA say about ``label``."""

    key: str
    label: str
    ca: str
    pva: str
    differs: bool
    note: str = ""


def compare_names(text: str) -> tuple[str, str]:
    """The CA and PVA engine keys of the record named in ``text`` (``NAME``,
    ``ca://NAME`` or ``pva://NAME``): ``("NAME", "pva://NAME")``."""
    key = strip_scheme(text.strip())
    bare = key[len("pva://"):] if key.startswith("pva://") else key
    return bare, "pva://" + bare


def _same(a: Any, b: Any) -> bool:
    """Equal values: NaN equals NaN, arrays element by element, limits pairwise."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        try:
            x, y = np.asarray(a), np.asarray(b)
            if x.shape != y.shape:
                return False
            if x.dtype.kind in "fc" or y.dtype.kind in "fc":
                return bool(np.array_equal(x, y, equal_nan=True))
            return bool(np.array_equal(x, y))
        except (TypeError, ValueError):
            return False
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


@dataclass(frozen=True)
class _Seen:
    """What one side said at one update (``text``: a CHAR array as its text)."""

    value: Any
    text: str
    severity: str
    status: str
    is_text: bool


def _seen(st: PVState) -> _Seen:
    is_text = st.is_char_array or isinstance(st.value, str)
    return _Seen(st.value, format_value(st, with_units=False) or "-", st.severity_name, st.status_name,
                 is_text)


def _same_value(a: _Seen, b: _Seen) -> bool:
    """Same value; a CHAR waveform and a string (QSRV2 serves long strings as strings)
    are compared as the text they hold (the Type row still shows CHAR vs STRING)."""
    if a.is_text and b.is_text:
        return a.text == b.text
    return _same(a.value, b.value)


class ProtocolComparison:
    """The newest CA and PVA states of one record and the updates each has seen."""

    def __init__(self, name: str) -> None:
        self.ca_name, self.pva_name = compare_names(name)
        self.ca: Optional[PVState] = None
        self.pva: Optional[PVState] = None
        self._history: dict[str, OrderedDict[float, _Seen]] = {"ca": OrderedDict(), "pva": OrderedDict()}

    @property
    def name(self) -> str:
        """The record's name (no scheme)."""
        return self.ca_name

    def update(self, st: PVState) -> bool:
        """Take a state of either channel; False when it is not one of them."""
        if st.name == self.ca_name:
            side = "ca"
            self.ca = st
        elif st.name == self.pva_name:
            side = "pva"
            self.pva = st
        else:
            return False
        if st.connected and st.timestamp:
            hist = self._history[side]
            hist[st.timestamp] = _seen(st)
            hist.move_to_end(st.timestamp)
            while len(hist) > HISTORY:
                hist.popitem(last=False)
        return True

    # -- comparing -------------------------------------------------------------------------
    def common_time(self) -> Optional[float]:
        """The newest timestamp both sides have seen an update with (None: none yet)."""
        ca, pva = self._history["ca"], self._history["pva"]
        both = ca.keys() & pva.keys()
        return max(both) if both else None

    def rows(self) -> list[CompareRow]:
        """Every compared field, in the order the panel shows them."""
        ca, pva = self.ca or PVState(self.ca_name), self.pva or PVState(self.pva_name, protocol="pva")
        rows = [self._connection_row(ca, pva)]
        if not (ca.connected and pva.connected):
            return rows + self._meta_rows(ca, pva, compare=False)
        return rows + self._update_rows(ca, pva) + self._meta_rows(ca, pva, compare=True)

    def differences(self) -> list[CompareRow]:
        return [r for r in self.rows() if r.differs]

    def summary(self) -> str:
        """One line: "CA and PVA agree" or what differs ("differs: units (CA mm, PVA m); ...")."""
        ca, pva = self.ca, self.pva
        if ca is None or pva is None or not (ca.ever_connected or pva.ever_connected):
            return "waiting for both channels"
        diffs = self.differences()
        if not diffs:
            return "CA and PVA agree"
        return "differs: " + "; ".join(f"{r.label} (CA {r.ca}, PVA {r.pva})" for r in diffs)

    # -- rows ---------------------------------------------------------------------------------
    @staticmethod
    def _connection_row(ca: PVState, pva: PVState) -> CompareRow:
        def text(st: PVState) -> str:
            if st.connected:
                return "connected"
            return "disconnected" if st.ever_connected else (st.error or "connecting…")
        return CompareRow("connection", "Connection", text(ca), text(pva), ca.connected != pva.connected)

    def _update_rows(self, ca: PVState, pva: PVState) -> list[CompareRow]:
        t = self.common_time()
        if t is not None:
            a, b = self._history["ca"][t], self._history["pva"][t]
            note = f"compared at the update of {format_timestamp_us(t)}"
            time_row = CompareRow("timestamp", "Timestamp", format_timestamp_us(ca.timestamp),
                                  format_timestamp_us(pva.timestamp), False,
                                  "" if ca.timestamp == pva.timestamp == t else note)
        else:
            a, b = _seen(ca), _seen(pva)
            note = "no update seen with the same time over both"
            time_row = CompareRow("timestamp", "Timestamp", format_timestamp_us(ca.timestamp),
                                  format_timestamp_us(pva.timestamp), ca.timestamp != pva.timestamp,
                                  note if ca.timestamp != pva.timestamp else "")
        value_note = note if t is not None and time_row.note else ""
        return [
            CompareRow("value", "Value", a.text, b.text, not _same_value(a, b), value_note),
            time_row,
            CompareRow("severity", "Alarm severity", a.severity, b.severity, a.severity != b.severity),
            CompareRow("status", "Alarm status / message", a.status, b.status, a.status != b.status),
        ]

    def _meta_rows(self, ca: PVState, pva: PVState, compare: bool) -> list[CompareRow]:
        rows = [
            self._row("type", "Type", ca.native_type or "-", pva.native_type or "-",
                      ca.native_type, pva.native_type, compare,
                      note=pva.type_id and f"PVA type id {pva.type_id}"),
            self._row("units", "Units", ca.units or "-", pva.units or "-", ca.units, pva.units, compare),
            self._precision_row(ca, pva, compare),
        ]
        for key, label in (("display_limits", "Display limits"), ("control_limits", "Control limits"),
                           ("alarm_limits", "Alarm limits (LOLO, HIHI)"),
                           ("warning_limits", "Warning limits (LOW, HIGH)")):
            a, b = getattr(ca, key), getattr(pva, key)
            rows.append(self._row(key, label, fmt_limits(a), fmt_limits(b), _floats(a), _floats(b), compare))
        rows.append(self._row("enum_strs", "Enum strings", _enum_text(ca), _enum_text(pva),
                              tuple(ca.enum_strs), tuple(pva.enum_strs), compare))
        rows.append(CompareRow("access", "Access", ca.access_text or "-", pva.access_text or "-", False,
                               "PVA tells access rights only by refusing a put"
                               if pva.ever_connected and not pva.access_known else ""))
        rows.append(CompareRow("server", "Server address", ca.host or "-", server_text(pva), False,
                               PVA_SERVER_NOTE if pva.ever_connected else ""))
        return rows

    @staticmethod
    def _row(key: str, label: str, ca_text: str, pva_text: str, a: Any, b: Any, compare: bool,
             note: str = "") -> CompareRow:
        return CompareRow(key, label, ca_text, pva_text, compare and not _same(a, b), note or "")

    @staticmethod
    def _precision_row(ca: PVState, pva: PVState, compare: bool) -> CompareRow:
        a, b = ca.precision, pva.precision
        text_a = "-" if a is None else str(a)
        text_b = "-" if b is None else str(b)
        if a is None and b == 0 and ca.native_type not in FLOAT_TYPES:
            return CompareRow("precision", "Precision", text_a, text_b, False,
                              f"CA sends no precision for {ca.native_type or 'this type'}")
        return CompareRow("precision", "Precision", text_a, text_b, compare and a != b)


def _floats(lims: Any) -> Optional[tuple]:
    """Limits as floats (CA may give ints, PVA floats, for the same record)."""
    if not lims:
        return None
    try:
        return tuple(float(x) for x in lims)
    except (TypeError, ValueError):
        return tuple(lims)


def _enum_text(st: PVState) -> str:
    return ", ".join(st.enum_strs) if st.enum_strs else "-"




__all__ = ["CompareRow", "ProtocolComparison", "compare_names", "PVA_SERVER_NOTE"]
