"""The PV table: one row per PV name, updated from engine batches."""

from __future__ import annotations

import enum
from typing import Any, Iterable

import numpy as np
from PyQt5.QtCore import QAbstractTableModel, QModelIndex, QObject, Qt
from PyQt5.QtGui import QBrush, QColor, QFont

from pvprobe.core.batch import Batch
from pvprobe.core.format import format_timestamp, format_value
from pvprobe.core.pvstate import PVState


class Col(enum.IntEnum):
    """Column indices of :class:`PVTableModel`."""

    NAME = 0
    VALUE = 1
    UNITS = 2
    SEVERITY = 3
    STATUS = 4
    TIMESTAMP = 5
    CONNECTION = 6


HEADERS = ("Name", "Value", "Units", "Severity", "Status", "Timestamp", "Connection")

#: The role whose data is the row's :class:`PVState`.
STATE_ROLE = Qt.UserRole

CONNECTING_TEXT = "connecting…"
DISCONNECTED_TEXT = "DISCONNECTED"

#: Severity text readable without colour: a prefix symbol per level.
SEVERITY_PREFIX = {0: "", 1: "▲ ", 2: "✖ ", 3: "◆ "}

#: (background, foreground) per severity for the Value and Severity columns.
ALARM_COLOURS = {
    1: (QColor(255, 221, 87), QColor(0, 0, 0)),       # MINOR: yellow
    2: (QColor(214, 48, 49), QColor(255, 255, 255)),  # MAJOR: red
    3: (QColor(156, 39, 176), QColor(255, 255, 255)), # INVALID: magenta/purple
}
ALARM_BRUSHES = {k: (QBrush(bg), QBrush(fg)) for k, (bg, fg) in ALARM_COLOURS.items()}
GREY = QBrush(QColor(128, 128, 128))
DISCONNECTED_BG = QBrush(QColor(232, 232, 232))

_ALARM_COLUMNS = (Col.VALUE, Col.SEVERITY)
_RIGHT = int(Qt.AlignRight | Qt.AlignVCenter)
_LEFT = int(Qt.AlignLeft | Qt.AlignVCenter)
_TOOLTIP_CHARS = 2000


def has_value(st: PVState) -> bool:
    """True once the row shows what it will show: a value, or a connected array
    that is deliberately not monitored."""
    return st.value is not None or (st.connected and st.is_array and not st.monitored)


def is_numeric(st: PVState) -> bool:
    """A plain number (shown right-aligned)."""
    if st.is_enum or st.is_array or st.native_type == "STRING":
        return False
    return isinstance(st.value, (int, float, np.integer, np.floating)) and not isinstance(st.value, bool)


class PVTableModel(QAbstractTableModel):
    """Rows keyed by PV name, holding the newest :class:`PVState` of each.

    ``apply_batch`` costs O(changed PVs) and emits one ``dataChanged`` per batch
    (spanning the lowest to the highest changed row). ``connected_count`` and
    ``valued_count`` are kept incrementally so nothing loops over all rows.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._names: list[str] = []
        self._states: list[PVState] = []
        self._row: dict[str, int] = {}
        self.connected_count = 0
        self.valued_count = 0
        self._italic: QFont | None = None

    # -- structure -------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._names)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> Any:
        if role == Qt.DisplayRole:
            if orientation == Qt.Horizontal and 0 <= section < len(HEADERS):
                return HEADERS[section]
            if orientation == Qt.Vertical:
                return str(section + 1)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlags:
        if not index.isValid():
            return Qt.NoItemFlags
        return Qt.ItemIsEnabled | Qt.ItemIsSelectable

    # -- rows --------------------------------------------------------------------------
    def names(self) -> list[str]:
        """PV names in row order (a copy)."""
        return list(self._names)

    def row_of(self, name: str) -> int | None:
        return self._row.get(name)

    def state(self, row: int) -> PVState:
        return self._states[row]

    def add_names(self, names: Iterable[str]) -> list[str]:
        """Append a row per new name; duplicates are ignored. Returns the names added."""
        added: list[str] = []
        seen = set(self._row)
        for name in names:
            if name not in seen:
                seen.add(name)
                added.append(name)
        if not added:
            return []
        first = len(self._names)
        self.beginInsertRows(QModelIndex(), first, first + len(added) - 1)
        for i, name in enumerate(added):
            self._row[name] = first + i
            self._names.append(name)
            self._states.append(PVState(name=name))
        self.endInsertRows()
        return added

    def remove_rows(self, rows: Iterable[int]) -> list[str]:
        """Remove the given rows (any order, duplicates ignored). Returns the names removed."""
        wanted = sorted({r for r in rows if 0 <= r < len(self._names)}, reverse=True)
        if not wanted:
            return []
        removed: list[str] = []
        # contiguous ranges, highest first, so lower row numbers stay valid
        ranges: list[tuple[int, int]] = []
        for r in wanted:
            if ranges and ranges[-1][0] == r + 1:
                ranges[-1] = (r, ranges[-1][1])
            else:
                ranges.append((r, r))
        for lo, hi in ranges:
            self.beginRemoveRows(QModelIndex(), lo, hi)
            for st in self._states[lo:hi + 1]:
                self._count(st, -1)
                removed.append(st.name)
            del self._names[lo:hi + 1]
            del self._states[lo:hi + 1]
            self.endRemoveRows()
        lowest = ranges[-1][0]
        for name in removed:
            self._row.pop(name, None)
        for i in range(lowest, len(self._names)):
            self._row[self._names[i]] = i
        removed.reverse()
        return removed

    def clear(self) -> list[str]:
        """Remove every row; returns the names removed."""
        return self.remove_rows(range(len(self._names)))

    # -- updates -----------------------------------------------------------------------
    def _count(self, st: PVState, sign: int) -> None:
        if st.connected:
            self.connected_count += sign
        if has_value(st):
            self.valued_count += sign

    def apply_batch(self, batch: Batch) -> None:
        """Store each changed state; one dataChanged for the changed row span."""
        lo = hi = -1
        row_of = self._row
        for st in batch.states:
            row = row_of.get(st.name)
            if row is None:     # removed meanwhile, or not ours
                continue
            self._count(self._states[row], -1)
            self._states[row] = st
            self._count(st, +1)
            if lo < 0 or row < lo:
                lo = row
            if row > hi:
                hi = row
        if lo >= 0:
            self.dataChanged.emit(self.index(lo, 0), self.index(hi, len(HEADERS) - 1))

    # -- data ----------------------------------------------------------------------------
    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if row >= len(self._states):
            return None
        st = self._states[row]
        if role == Qt.DisplayRole:
            return self.display_text(st, col)
        if role == Qt.ForegroundRole:
            return self._foreground(st, col)
        if role == Qt.BackgroundRole:
            return self._background(st, col)
        if role == Qt.FontRole:
            if not st.connected:
                return self._italic_font()
            return None
        if role == Qt.TextAlignmentRole:
            if col == Col.VALUE and st.ever_connected and is_numeric(st):
                return _RIGHT
            return _LEFT
        if role == Qt.ToolTipRole:
            return self.tooltip(st, col)
        if role == STATE_ROLE:
            return st
        return None

    @staticmethod
    def display_text(st: PVState, col: int) -> str:
        """The text shown in one cell."""
        if col == Col.NAME:
            return st.name
        if not st.ever_connected:
            if col == Col.VALUE:
                return CONNECTING_TEXT
            if col == Col.CONNECTION:
                return f"{CONNECTING_TEXT} ({st.error})" if st.error else CONNECTING_TEXT
            return ""
        if col == Col.VALUE:
            return format_value(st)
        if col == Col.UNITS:
            return "" if st.is_enum or st.native_type == "STRING" else st.units
        if col == Col.SEVERITY:
            if not st.connected:
                return DISCONNECTED_TEXT
            return SEVERITY_PREFIX.get(st.severity, "") + st.severity_name
        if col == Col.STATUS:   # blank when there is nothing to say
            return st.status_name if st.connected and (st.status or st.severity) else ""
        if col == Col.TIMESTAMP:
            return format_timestamp(st.timestamp)
        if col == Col.CONNECTION:
            if not st.connected:
                return DISCONNECTED_TEXT
            if st.read_access and not st.write_access:
                return "connected, read-only"
            if not st.read_access:
                return "connected, no read access"
            return "connected"
        return ""

    def _foreground(self, st: PVState, col: int) -> Any:
        if not st.connected:
            return GREY
        if col in _ALARM_COLUMNS and st.severity in ALARM_BRUSHES:
            return ALARM_BRUSHES[st.severity][1]
        return None

    def _background(self, st: PVState, col: int) -> Any:
        if not st.connected:
            return DISCONNECTED_BG if st.ever_connected and col in (Col.SEVERITY, Col.CONNECTION) else None
        if col in _ALARM_COLUMNS and st.severity in ALARM_BRUSHES:
            return ALARM_BRUSHES[st.severity][0]
        return None

    def _italic_font(self) -> QFont:
        if self._italic is None:
            self._italic = QFont()
            self._italic.setItalic(True)
        return self._italic

    @staticmethod
    def tooltip(st: PVState, col: int) -> str:
        """Full value (arrays up to a limit), plus connection and error text."""
        lines = [st.name]
        if not st.ever_connected:
            lines.append(CONNECTING_TEXT)
        else:
            full = format_value(st, with_units=True, preview=64)
            if len(full) > _TOOLTIP_CHARS:
                full = full[:_TOOLTIP_CHARS] + " …"
            if not st.connected:
                lines.append(f"DISCONNECTED, last value: {full}")
            else:
                lines.append(full)
                if st.severity:
                    lines.append(f"{st.severity_name} alarm, status {st.status_name}")
            if st.timestamp:
                lines.append(format_timestamp(st.timestamp))
            if st.host:
                lines.append(f"host {st.host}, {st.native_type or '?'}[{st.max_count}], {st.access_text}")
        if st.error:
            lines.append(f"error: {st.error}")
        return "\n".join(lines)
