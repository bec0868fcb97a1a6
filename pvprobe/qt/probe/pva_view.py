"""The probe's pvAccess parts: an NTTable as a table, any other structure as a tree
(field, type, value), and the channel box's PVA wording (type id, access unknown until
tried, the server a name search found, "no time").

The engine already decoded the structure in its worker (``state.extra["table"]`` /
``state.extra["tree"]``, see :mod:`pvprobe.pva.values`); this only shows it, and
rebuilds the widgets only when a new structure arrived (the ``extra`` dict is new
per update).
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np
from PyQt5.QtCore import QAbstractTableModel, QModelIndex, Qt
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pvprobe.core.format import format_number
from pvprobe.core.probe_report import format_timestamp_us
from pvprobe.core.protocol_text import access_cell, server_text
from pvprobe.core.pvstate import PVState

#: Array elements a tree cell shows before "…".
TREE_PREVIEW = 8
#: Rows of an NTTable the probe shows (the rest is counted).
MAX_TABLE_ROWS = 10_000
NO_TIME_TEXT = "no time (the server sent 0)"


def cell_text(value: Any, preview: int = TREE_PREVIEW) -> str:
    """One value of a tree or table cell as text (arrays shortened, None blank)."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value[:preview])
        more = " …" if len(value) > preview else ""
        return f"[{len(value)}] " + " ".join(cell_text(v, preview) for v in items) + more
    if isinstance(value, (float, np.floating, np.integer)):
        return format_number(value)
    if isinstance(value, bytes):
        return repr(value)[:80]
    return str(value)


class NTTableModel(QAbstractTableModel):
    """The columns of an NTTable (``extra["table"]``) as a read-only table model."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._labels: list[str] = []
        self._types: list[str] = []
        self._cols: list[Any] = []
        self._rows = 0

    def set_table(self, table: Optional[dict]) -> None:
        self.beginResetModel()
        cols = list((table or {}).get("columns", []))
        self._labels = [str(c[0]) for c in cols]
        self._types = [str(c[1]) for c in cols]
        self._cols = [c[2] for c in cols]
        self._rows = min(MAX_TABLE_ROWS, max((len(c) for c in self._cols), default=0))
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self._cols)

    def data(self, index: QModelIndex, role: int = Qt.DisplayRole) -> Any:
        if not index.isValid() or role not in (Qt.DisplayRole, Qt.ToolTipRole):
            return None
        col = self._cols[index.column()]
        r = index.row()
        return cell_text(col[r]) if r < len(col) else ""

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.DisplayRole) -> Any:
        if orientation == Qt.Horizontal and 0 <= section < len(self._labels):
            if role == Qt.DisplayRole:
                return self._labels[section]
            if role == Qt.ToolTipRole:
                return f"{self._labels[section]}: {self._types[section]}[]"
        if orientation == Qt.Vertical and role == Qt.DisplayRole:
            return str(section)
        return None

    def cell(self, row: int, col: int) -> str:
        return self.data(self.index(row, col)) or ""


class StructureView(QWidget):
    """An NTTable (table) or another structure (tree) of one PVA PV."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.caption = QLabel(self)
        self.caption.setWordWrap(True)
        self.table_model = NTTableModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.table_model)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Field", "Type", "Value"])
        self.tree.setUniformRowHeights(True)
        self.tree.header().setStretchLastSection(True)
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.table)
        self.stack.addWidget(self.tree)
        self.stack.setMinimumHeight(160)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.caption)
        lay.addWidget(self.stack, 1)
        self._shown: Any = None
        self.kind = ""

    def set_state(self, st: Optional[PVState]) -> bool:
        """Show the table or tree of ``st`` (False when it has neither)."""
        extra = st.extra if st is not None else None
        table = extra.get("table") if extra else None
        tree = extra.get("tree") if extra else None
        item = table if table is not None else tree
        if item is None:
            self._shown, self.kind = None, ""
            return False
        if item is self._shown:
            return True
        self._shown = item
        if table is not None:
            self.kind = "table"
            self.table_model.set_table(table)
            rows = st.count
            cut = f" (first {MAX_TABLE_ROWS:,} shown)" if rows > MAX_TABLE_ROWS else ""
            self.caption.setText(f"NTTable: {rows:,} rows × {len(table['columns'])} columns{cut}")
            self.table.resizeColumnsToContents()
            self.stack.setCurrentWidget(self.table)
        else:
            self.kind = "tree"
            self._fill_tree(tree)
            self.caption.setText(f"{st.type_id or 'structure'}: {len(tree)} fields")
            self.stack.setCurrentWidget(self.tree)
        return True

    def _fill_tree(self, rows: list) -> None:
        self.tree.clear()
        parents: list[Any] = [self.tree]
        for depth, field, type_name, value in rows:
            del parents[depth + 1:]
            parent = parents[min(depth, len(parents) - 1)]
            item = QTreeWidgetItem(parent, [str(field), str(type_name), cell_text(value)])
            text = cell_text(value, 64)
            if text:
                item.setToolTip(2, text)
            parents.append(item)
        self.tree.expandToDepth(2)
        for c in range(2):
            self.tree.resizeColumnToContents(c)

    def tree_rows(self) -> list[tuple[str, str, str]]:
        """The tree's (field, type, value) texts, depth first (for tests and reports)."""
        out: list[tuple[str, str, str]] = []

        def walk(item: QTreeWidgetItem) -> None:
            out.append((item.text(0), item.text(1), item.text(2)))
            for i in range(item.childCount()):
                walk(item.child(i))
        for i in range(self.tree.topLevelItemCount()):
            walk(self.tree.topLevelItem(i))
        return out


def show_pva_info(panel: Any, st: PVState) -> None:
    """The channel box and time line of a PVA PV (called after the CA wording is set)."""
    i = panel.info
    i["type"].setText(f"{st.native_type or '?'} ({st.type_id or 'no type id'})")
    i["type"].setToolTip(f"pvAccess type id: {st.type_id}")
    via = getattr(panel, "gateway_of", None)
    gateway = via(st.name) if callable(via) else None
    server = server_text(st)
    found = "the server that answered a pvAccess name search for this PV"
    if gateway:     # its cache lists the PV: the gateway is what answers the search
        i["host"].setText(f"{server} (through gateway {gateway})")
        i["host"].setToolTip(f"{found}; gateway {gateway} holds this channel (its {gateway}cache "
                             "list named it in two posts in a row)")
    else:
        i["host"].setText(server)
        i["host"].setToolTip(found)
    i["access"].setText(access_cell(st) or st.access_text)
    i["access"].setStyleSheet("")
    if st.is_array:
        i["count"].setText(f"{st.count} (pvAccess arrays have no NELM)")
    if st.native_type == "TABLE":
        i["count"].setText(f"{st.count} rows")


def time_text(st: PVState) -> str:
    """The time line of a PVA PV: the server's time, or that it sent none."""
    if not st.timestamp:
        return f"Server time: {NO_TIME_TEXT}"
    return f"Server time {format_timestamp_us(st.timestamp)}"


__all__ = ["StructureView", "NTTableModel", "show_pva_info", "time_text", "cell_text",
           "NO_TIME_TEXT"]
