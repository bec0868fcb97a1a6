"""The PV table's view: default column widths, drops of names and PV list files."""

from __future__ import annotations

from typing import Any

from PyQt5.QtCore import QMimeData, Qt, pyqtSignal
from PyQt5.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PyQt5.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from .pvtable_model import Col

#: Sample text per column: default widths come from these, measured once with the
#: view's font (Interactive resize: no per-row measuring, fine at 20,000 rows).
COLUMN_SAMPLES = {
    Col.NAME: "XXX:XXXXXXX:XXXXX", Col.VALUE: "-123456.7890", Col.UNITS: "mm/s",
    Col.SEVERITY: "DISCONNECTED", Col.STATUS: "HWLIMIT", Col.TIMESTAMP: "2024-12-31 23:59:59.999",
    Col.CONNECTION: "connected, read-only", Col.ACCESS: "XXread/write",
    Col.DESCRIPTION: "A record description", Col.COMPLETION: "failed: no completion within",
    Col.SAVED: "-123456.7890", Col.PROTOCOL: "Protocol",
}
#: Hidden unless asked for: Description costs a channel per PV; Saved needs a snapshot.
DEFAULT_HIDDEN = (Col.DESCRIPTION, Col.SAVED)
#: Drops larger than this are refused (a PV list of 20,000 names is ~0.5 MB).
MAX_DROP_BYTES = 16 * 1024 * 1024
#: Placeholder texts of the filter and entry lines.
FILTER_PLACEHOLDER = "Filter: text or glob (name, value, severity)"
ENTRY_PLACEHOLDER = "Add PVs (type or paste names, Enter)"


class PVTableView(QTableView):
    """A QTableView set up for tens of thousands of rows; accepts dropped names/files."""

    #: Local file paths dropped on the table.
    filesDropped = pyqtSignal(list)
    #: Plain text dropped on the table.
    textDropped = pyqtSignal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.ElideRight)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setAlternatingRowColors(False)   # alarm/disconnect colours stay unambiguous
        self.setSortingEnabled(False)
        self.setCornerButtonEnabled(False)
        self.setShowGrid(True)
        self.setGridStyle(Qt.SolidLine)
        vh = self.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.Fixed)   # uniform row heights
        vh.setDefaultSectionSize(self.fontMetrics().height() + 6)
        vh.setVisible(False)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setStretchLastSection(True)
        hh.setHighlightSections(False)
        hh.setDefaultAlignment(Qt.AlignLeft | Qt.AlignVCenter)
        # drag rows out as names; drop names or PV list files in
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DragDrop)
        self.setDefaultDropAction(Qt.CopyAction)
        self.setDropIndicatorShown(False)

    def apply_default_widths(self) -> None:
        fm = self.fontMetrics()
        pad = 2 * fm.averageCharWidth() + 6
        for col, sample in COLUMN_SAMPLES.items():
            self.setColumnWidth(int(col), fm.horizontalAdvance(sample) + pad)

    def fit_name_column(self, names: list[str], max_width: int = 420) -> None:
        """Widen the Name column for the longest of ``names`` (measures a few, not all)."""
        if not names:
            return
        longest = sorted(names, key=len)[-5:]
        fm = self.fontMetrics()
        want = max(fm.horizontalAdvance(n) for n in longest) + 2 * fm.averageCharWidth() + 6
        if want > self.columnWidth(int(Col.NAME)):
            self.setColumnWidth(int(Col.NAME), min(want, max_width))

    # -- drops ----------------------------------------------------------------------------
    def _acceptable(self, md: QMimeData, source: Any) -> bool:
        if source is self:                  # rows dragged within the table: nothing to do
            return False
        if md.hasUrls() and any(u.isLocalFile() for u in md.urls()):
            return True
        return md.hasText()

    def _answer_drag(self, event: QDragMoveEvent) -> None:
        """Accept (as a copy) what can be dropped here, ignore the rest."""
        if self._acceptable(event.mimeData(), event.source()):
            event.setDropAction(Qt.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        self._answer_drag(event)

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        self._answer_drag(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        md = event.mimeData()
        if not self._acceptable(md, event.source()):
            event.ignore()
            return
        event.setDropAction(Qt.CopyAction)
        event.accept()
        files = [u.toLocalFile() for u in md.urls() if u.isLocalFile()] if md.hasUrls() else []
        if files:
            self.filesDropped.emit(files)
        elif md.hasText():
            self.textDropped.emit(md.text())


__all__ = ["PVTableView", "COLUMN_SAMPLES", "DEFAULT_HIDDEN", "FILTER_PLACEHOLDER", "ENTRY_PLACEHOLDER"]
