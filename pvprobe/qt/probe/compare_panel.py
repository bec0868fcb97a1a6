"""Compare CA and PVA: one record over both protocols side by side, differences marked.

A plain QWidget (the main window puts it in a dock). It holds ``NAME`` and
``pva://NAME`` through one bridge subscription (no CA or PVA calls here) and
feeds every state to :class:`pvprobe.core.protocol_compare.ProtocolComparison`;
the table shows each field as CA and PVA say it, a differing row in the theme's
"differs" colours, and the line above says what differs.

Integration API: ``ComparePanel(bridge, name=None, parent=None)``, :meth:`set_pv`,
:attr:`pv_name`, :attr:`comparison`, :meth:`summary_text`, :meth:`close_pv`,
:meth:`set_theme`, the signal ``pvChanged(name)``.
"""

from __future__ import annotations

import weakref
from typing import Any, Optional

from PyQt5.QtCore import QSize, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QBrush, QDragEnterEvent, QDropEvent, QFont
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pvprobe.core.protocol_compare import CompareRow, ProtocolComparison, compare_names
from pvprobe.core.pvnames import pv_name_error
from pvprobe.core.pvstate import PVState

from ..style.theme import label_style, status_colors, table_colors, theme_of
from ..subscription import Subscription

#: Columns of the table.
COLUMNS = ("Field", "CA", "PVA", "Note")
#: The table is redrawn at most this often (ms): a 10 Hz record does not repaint per update.
REFRESH_MS = 200
#: Widest the CA and PVA columns get when fitted to their text (px).
MAX_VALUE_WIDTH = 250


def _consumer_for(panel: ComparePanel):
    ref = weakref.ref(panel)

    def consume(states: list[PVState]) -> None:
        p = ref()
        if p is not None:
            p._on_states(states)
    return consume


class ComparePanel(QWidget):
    """The same record over CA and over PVA, field by field."""

    #: The compared record changed (its name, "" when closed).
    pvChanged = pyqtSignal(str)

    def __init__(self, bridge: Any, name: Optional[str] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.comparison: Optional[ProtocolComparison] = None
        self._sub: Optional[Subscription] = None
        holder: list[Optional[Subscription]] = [None]
        self._holder = holder           # released on destruction too
        self.destroyed.connect(lambda *_: holder[0] is not None and holder[0].close())
        self._theme = theme_of()
        self._dirty = False
        self._sized = False
        self.setAcceptDrops(True)
        self.setWindowTitle("Compare CA and PVA")
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._refresh_if_dirty)
        self._timer.start()
        if name:
            self.set_pv(name)

    # -- widgets -------------------------------------------------------------------------------
    def _build(self) -> None:
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("record name (NAME, ca://NAME or pva://NAME)")
        self.name_edit.returnPressed.connect(lambda: self.set_pv(self.name_edit.text()))
        go = QPushButton("Compare", self)
        go.clicked.connect(lambda: self.set_pv(self.name_edit.text()))
        top = QHBoxLayout()
        top.addWidget(self.name_edit, 1)
        top.addWidget(go)
        self.summary_label = QLabel("Type a record name: it is read over CA and over PVA.", self)
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        for col in range(len(COLUMNS)):
            header.setSectionResizeMode(col, QHeaderView.Interactive)
        header.setStretchLastSection(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table, 1)

    def sizeHint(self) -> QSize:  # noqa: N802
        """Wide enough for both protocols' columns side by side."""
        return QSize(620, 520)

    # -- public API ------------------------------------------------------------------------------
    @property
    def pv_name(self) -> str:
        """The compared record ("" when none)."""
        return self.comparison.name if self.comparison is not None else ""

    def set_pv(self, text: str) -> bool:
        """Compare the record named in ``text``; False (and a message) when it is no name."""
        text = (text or "").strip().split()[0] if (text or "").strip() else ""
        if not text:
            return False
        error = pv_name_error(text)
        if error:
            self._say(f"Not a PV name: {error}", bad=True)
            return False
        ca, pva = compare_names(text)
        if self.comparison is not None and self.comparison.name == ca:
            return True
        self.close_pv()
        self.comparison = ProtocolComparison(ca)
        self._sized = False
        self.name_edit.setText(ca)
        self._sub = self.bridge.subscribe([ca, pva], _consumer_for(self), watch=True)
        self._holder[0] = self._sub
        self._say(f"Connecting to {ca} over CA and PVA…")
        self._show_rows()
        self.pvChanged.emit(ca)
        return True

    def close_pv(self) -> None:
        """Release both channels (idempotent)."""
        if self._sub is not None:
            self._sub.close()
        self._sub = None
        self._holder[0] = None
        if self.comparison is not None:
            self.comparison = None
            self.table.setRowCount(0)
            self.pvChanged.emit("")

    def summary_text(self) -> str:
        return self.summary_label.text()

    def set_theme(self, name: str) -> None:
        self._theme = name
        self._show_rows()

    def rows(self) -> list[CompareRow]:
        return self.comparison.rows() if self.comparison is not None else []

    # -- updates --------------------------------------------------------------------------------
    def _on_states(self, states: list[PVState]) -> None:
        comp = self.comparison
        if comp is None:
            return
        for st in states:
            if comp.update(st):
                self._dirty = True

    def _refresh_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self._show_rows()

    def refresh(self) -> None:
        """Redraw now (tests, and the first state)."""
        self._dirty = False
        self._show_rows()

    def _show_rows(self) -> None:
        comp = self.comparison
        if comp is None:
            return
        rows = comp.rows()
        colours = table_colors(self._theme)
        self.table.setRowCount(len(rows))
        bold = QFont(self.table.font())
        bold.setBold(True)
        for r, row in enumerate(rows):
            texts = (row.label, row.ca, row.pva, row.note)
            for c, text in enumerate(texts):
                item = self.table.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.table.setItem(r, c, item)
                item.setText(text)
                item.setToolTip(text)
                item.setData(Qt.UserRole, row.key)
                if row.differs:
                    item.setBackground(QBrush(colours.diff_bg))
                    item.setForeground(QBrush(colours.diff_fg))
                    item.setFont(bold)
                else:
                    item.setData(Qt.BackgroundRole, None)
                    item.setData(Qt.ForegroundRole, None)
                    item.setData(Qt.FontRole, None)
        if not self._sized and comp.ca is not None and comp.pva is not None:
            self._size_columns()        # once both have said something
        self._say(comp.summary(), bad=bool(comp.differences()))

    def _size_columns(self) -> None:
        """Fit the columns to their text once, CA and PVA at most MAX_VALUE_WIDTH wide
        (long array previews are elided; the tooltip has them whole)."""
        self.table.resizeColumnsToContents()
        for col in (1, 2):
            self.table.setColumnWidth(col, min(self.table.columnWidth(col), MAX_VALUE_WIDTH))
        self._sized = True

    def _say(self, text: str, bad: bool = False) -> None:
        sc = status_colors(self._theme)
        self.summary_label.setText(text)
        self.summary_label.setStyleSheet(label_style(sc.bad if bad else sc.ok, bold=bad))

    # -- drops ------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasText():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        self.set_pv(event.mimeData().text())
        event.acceptProposedAction()

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.close_pv()
        super().closeEvent(event)
