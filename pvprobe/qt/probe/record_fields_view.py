"""The record's fields as a table: field, value, meaning (or the last put's result).

Cells are editable where the IOC grants write access (never ``.RTYP``); menu
fields (``.SCAN``, ``.HHSV``...) get a combo box of their choices. An edit is
checked and confirmed like any put (:class:`~pvprobe.qt.puts.PutWorkflow`) and logged by the bridge.
The view knows nothing of CA: the probe feeds it the fields' states.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

from PyQt5.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, pyqtSignal
from PyQt5.QtGui import QBrush
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from pvprobe.core.batch import PutResult
from pvprobe.core.probe_report import field_value_text
from pvprobe.core.pvstate import PVState
from pvprobe.core.record_fields import FIELD_HELP, READ_ONLY_FIELDS
from pvprobe.core.values import editable_text

from ..puts import PutsOwner
from ..style.theme import status_colors, theme_of

COLUMNS = ("Field", "Value", "Meaning / last put")
STATE_ROLE = Qt.UserRole
#: The table grows to this many rows before it scrolls by itself.
MAX_ROWS_SHOWN = 24


def field_writable(fld: str, st: PVState) -> bool:
    return st.connected and st.write_access and fld not in READ_ONLY_FIELDS


class RecordFieldsModel(QAbstractTableModel):
    """Rows are (FIELD, PVState); edits become ``editRequested(field, value)``, never stored."""

    editRequested = pyqtSignal(str, object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[tuple[str, PVState]] = []
        self._notes: dict[str, tuple[str, str]] = {}   # field -> (text, StatusColors field)
        self.set_theme(theme_of())

    def set_theme(self, name: str) -> None:
        """Colours of the "light" or "dark" theme (read-only values, help and put notes)."""
        colours = status_colors(name)
        self._brushes = {tone: QBrush(getattr(colours, tone)) for tone in ("ok", "bad", "hint")}
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1))

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Horizontal and role == Qt.DisplayRole:
            return COLUMNS[section]
        return None

    def set_fields(self, rows: Sequence[tuple[str, PVState]]) -> None:
        rows = list(rows)
        if [f for f, _ in rows] != [f for f, _ in self._rows]:
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
        else:
            changed = [i for i, ((_, a), (_, b)) in enumerate(zip(self._rows, rows)) if a is not b]
            self._rows = rows
            if changed:
                self.dataChanged.emit(self.index(min(changed), 0), self.index(max(changed), len(COLUMNS) - 1))

    def fields(self) -> list[str]:
        return [f for f, _ in self._rows]

    def state_of(self, fld: str) -> Optional[PVState]:
        for f, st in self._rows:
            if f == fld:
                return st
        return None

    def row_of(self, fld: str) -> int:
        for i, (f, _) in enumerate(self._rows):
            if f == fld:
                return i
        return -1

    def set_note(self, fld: str, text: str, tone: str = "hint") -> None:
        """Show ``text`` in the field's third column, drawn in ``tone`` ("ok", "bad", "hint")."""
        self._notes[fld] = (text, tone)
        r = self.row_of(fld)
        if r >= 0:
            self.dataChanged.emit(self.index(r, 2), self.index(r, 2))

    def note(self, fld: str) -> str:
        return self._notes.get(fld, ("", ""))[0]

    def flags(self, index: QModelIndex) -> Qt.ItemFlags:
        if not index.isValid():
            return Qt.NoItemFlags
        f = Qt.ItemIsEnabled | Qt.ItemIsSelectable
        fld, st = self._rows[index.row()]
        if index.column() == 1 and field_writable(fld, st):
            f |= Qt.ItemIsEditable
        return f

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        fld, st = self._rows[index.row()]
        col = index.column()
        if role == STATE_ROLE:
            return st
        if role in (Qt.DisplayRole, Qt.EditRole):
            if col == 0:
                return f".{fld}"
            if col == 1:
                return editable_text(st) if role == Qt.EditRole else field_value_text(st)
            note = self._notes.get(fld)
            return note[0] if note and note[0] else FIELD_HELP.get(fld, "")
        if role == Qt.ForegroundRole:
            if col == 1 and not field_writable(fld, st):
                return self._brushes["hint"]
            if col == 2:
                note = self._notes.get(fld)
                return self._brushes[note[1] if note and note[0] else "hint"]
        if role == Qt.ToolTipRole:
            help_ = FIELD_HELP.get(fld, "")
            if col == 1:
                if fld in READ_ONLY_FIELDS:
                    return f".{fld}: {help_} (cannot be changed)"
                if not st.write_access:
                    return f".{fld}: {help_} (read-only: no write access)"
                return f".{fld}: {help_}; double-click to change ({st.native_type})"
            return f"{st.name}: {help_}"
        return None

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.EditRole) -> bool:  # noqa: N802
        if role != Qt.EditRole or not index.isValid() or index.column() != 1:
            return False
        fld, _ = self._rows[index.row()]
        self.editRequested.emit(fld, value)
        return False   # the IOC's value comes back through the monitor


class _FieldDelegate(QStyledItemDelegate):
    """A combo box of the menu's choices for ENUM fields, a line edit otherwise."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: QModelIndex) -> QWidget:  # noqa: N802
        st: PVState = index.data(STATE_ROLE)
        if st is not None and st.is_enum and st.enum_strs:
            box = QComboBox(parent)
            box.addItems(list(st.enum_strs))
            return box
        return QLineEdit(parent)

    def setEditorData(self, editor: QWidget, index: QModelIndex) -> None:  # noqa: N802
        st: PVState = index.data(STATE_ROLE)
        if isinstance(editor, QComboBox):
            if st is not None and isinstance(st.value, int):
                editor.setCurrentIndex(st.value)
        else:
            editor.setText(index.data(Qt.EditRole) or "")

    def setModelData(self, editor: QWidget, model: Any, index: QModelIndex) -> None:  # noqa: N802
        if isinstance(editor, QComboBox):
            model.setData(index, editor.currentIndex(), Qt.EditRole)
        else:
            model.setData(index, editor.text(), Qt.EditRole)


class RecordFieldsView(PutsOwner, QWidget):
    """The fields table plus a status line ("reading fields…", "ai record, 18 fields")."""

    def __init__(self, bridge: Any, parent: Optional[QWidget] = None, source: str = "probe") -> None:
        super().__init__(parent)
        self.model = RecordFieldsModel(self)
        self._make_runner(bridge, source)
        self.view = QTableView(self)
        self.view.setModel(self.model)
        self.view.setItemDelegateForColumn(1, _FieldDelegate(self.view))
        self.view.verticalHeader().hide()
        self.view.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed)
        self.view.setAlternatingRowColors(True)
        self.view.setWordWrap(False)
        hh = self.view.horizontalHeader()
        hh.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        hh.setSectionResizeMode(1, QHeaderView.Interactive)
        hh.setStretchLastSection(True)
        self.view.setColumnWidth(1, 190)
        self.view.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.status)
        lay.addWidget(self.view)
        self.model.editRequested.connect(self.put_field)
        self._rid_field: dict[int, str] = {}

    def set_theme(self, name: str) -> None:
        """Colours of the "light" or "dark" theme."""
        self.model.set_theme(name)

    def set_fields(self, rows: Sequence[tuple[str, PVState]], status: str) -> None:
        n = self.model.rowCount()
        self.model.set_fields(rows)
        if self.model.rowCount() != n:
            self._fit_rows()
        if status != self.status.text():
            self.status.setText(status)

    def _fit_rows(self) -> None:
        """Tall enough for every field (up to MAX_ROWS_SHOWN): the probe scrolls as a whole."""
        rows = min(max(self.model.rowCount(), 3), MAX_ROWS_SHOWN)
        h = (self.view.horizontalHeader().sizeHint().height()
             + rows * self.view.verticalHeader().defaultSectionSize() + 2 * self.view.frameWidth() + 2)
        self.view.setMinimumHeight(h)

    def put_field(self, fld: str, value: Any) -> Optional[int]:
        """Put ``value`` to the field (checked, confirmed); returns the request id if sent."""
        st = self.model.state_of(fld)
        if st is None:
            return None
        if not field_writable(fld, st):
            self.model.set_note(fld, "read-only field: not sent", "bad")
            return None
        rid = self.runner.request(st, value, self)
        if rid is not None:
            self._rid_field[rid] = fld
        return rid

    def _field_of(self, name: str) -> str:
        return name.rsplit(".", 1)[-1]

    def _on_refused(self, name: str, reason: str) -> None:
        self.model.set_note(self._field_of(name), f"refused, not sent: {reason}", "bad")

    def _on_started(self, rid: int, name: str) -> None:
        self.model.set_note(self._field_of(name), "putting…", "hint")

    def _on_finished(self, result: PutResult) -> None:
        fld = self._rid_field.pop(result.request_id, self._field_of(result.name))
        if result.ok:
            self.model.set_note(fld, f"put done ({result.seconds:.2f} s)", "ok")
        else:
            self.model.set_note(fld, f"put failed: {result.error}", "bad")

    def index_of(self, fld: str) -> QPersistentModelIndex:
        return QPersistentModelIndex(self.model.index(self.model.row_of(fld), 1))
