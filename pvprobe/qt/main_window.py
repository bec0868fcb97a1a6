"""The main window: an entry line for PV names above the PV table."""

from __future__ import annotations

import logging
from typing import Iterable

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import (
    QAbstractItemView, QAction, QApplication, QFileDialog, QHeaderView, QLabel,
    QLineEdit, QMainWindow, QMessageBox, QTableView, QVBoxLayout, QWidget,
)

from pvprobe.core.batch import Batch, PutResult
from pvprobe.core.pvnames import ParsedNames, PVListError, read_pv_list, split_names

from .bridge import EngineBridge
from .pvtable_model import HEADERS, Col, PVTableModel

log = logging.getLogger(__name__)

#: Sample text per column: default widths come from these, measured once with the
#: view's font (Interactive resize: no per-row measuring, fine at 20,000 rows).
COLUMN_SAMPLES = {
    Col.NAME: "XXX:XXXXXXX:XXXXX", Col.VALUE: "-123456.7890", Col.UNITS: "mm/s",
    Col.SEVERITY: "DISCONNECTED", Col.STATUS: "HWLIMIT", Col.TIMESTAMP: "2024-12-31 23:59:59.999",
    Col.CONNECTION: "DISCONNECTED",
}
#: How many rejected names a message lists before "and N more".
REJECT_LIST = 5


def describe_rejected(rejected: list[tuple[str, str]]) -> str:
    """'2 names rejected: "a b" (name contains ...), ...' — short enough for a status bar."""
    if not rejected:
        return ""
    shown = "; ".join(f"{tok[:40]!r}: {why}" for tok, why in rejected[:REJECT_LIST])
    more = f"; and {len(rejected) - REJECT_LIST} more" if len(rejected) > REJECT_LIST else ""
    noun = "name" if len(rejected) == 1 else "names"
    return f"{len(rejected)} {noun} rejected: {shown}{more}"


class PVTableView(QTableView):
    """A QTableView set up for tens of thousands of rows."""

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
        vh = self.verticalHeader()
        vh.setSectionResizeMode(QHeaderView.Fixed)   # uniform row heights
        vh.setDefaultSectionSize(self.fontMetrics().height() + 6)
        vh.setVisible(False)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setStretchLastSection(True)
        hh.setHighlightSections(False)

    def apply_default_widths(self) -> None:
        fm = self.fontMetrics()
        pad = 2 * fm.averageCharWidth() + 6
        for col, sample in COLUMN_SAMPLES.items():
            self.setColumnWidth(int(col), fm.horizontalAdvance(sample) + pad)


    def fit_name_column(self, names: list[str], max_width: int = 420) -> None:
        """Widen the Name column for the longest of ``names`` (measures a few, not all)."""
        longest = sorted(names, key=len)[-5:]
        fm = self.fontMetrics()
        want = max(fm.horizontalAdvance(n) for n in longest) + 2 * fm.averageCharWidth() + 6
        if want > self.columnWidth(int(Col.NAME)):
            self.setColumnWidth(int(Col.NAME), min(want, max_width))


class MainWindow(QMainWindow):
    """pvprobe's main window. All CA traffic goes through ``bridge``."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("pvprobe")
        self.last_message = ""
        self.model = PVTableModel(self)
        bridge.add_consumer(self.model.apply_batch)
        bridge.batchApplied.connect(self._after_batch)
        bridge.putFinished.connect(self._on_put_finished)

        self.entry = QLineEdit(self)
        self.entry.setPlaceholderText("Add PVs (type or paste names, Enter)")
        self.entry.setClearButtonEnabled(True)
        self.entry.returnPressed.connect(self._on_entry)

        self.table = PVTableView(self)
        self.table.setModel(self.model)
        self.table.apply_default_widths()

        central = QWidget(self)
        lay = QVBoxLayout(central)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addWidget(self.entry)
        lay.addWidget(self.table)
        self.setCentralWidget(central)

        self.counts_label = QLabel(self)
        self.statusBar().addPermanentWidget(self.counts_label)
        self._make_actions()
        self.refresh_counts()

    # -- actions -------------------------------------------------------------------------
    def _make_actions(self) -> None:
        self.remove_action = QAction("Remove", self)
        self.remove_action.setShortcuts([QKeySequence(QKeySequence.Delete), QKeySequence(Qt.Key_Backspace)])
        self.remove_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.copy_action = QAction("Copy name and value", self)
        self.copy_action.setShortcut(QKeySequence.Copy)
        self.copy_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.copy_action.triggered.connect(self.copy_selected)
        self.table.addAction(self.copy_action)
        self.table.addAction(self.remove_action)
        self.table.setContextMenuPolicy(Qt.ActionsContextMenu)

        file_menu = self.menuBar().addMenu("&File")
        self.open_action = file_menu.addAction("&Open PV list…", self.open_pv_list)
        self.open_action.setShortcut(QKeySequence.Open)
        file_menu.addSeparator()
        self.quit_action = file_menu.addAction("&Quit", self.close)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))

    # -- adding --------------------------------------------------------------------------
    def add_pvs(self, names: Iterable[str]) -> list[str]:
        """Add rows for ``names`` (duplicates ignored) and subscribe them. Returns those added."""
        added = self.model.add_names(names)
        if added:
            self.table.fit_name_column(added)
            self.bridge.add(added)
        self.refresh_counts()
        return added

    def add_from_text(self, text: str) -> ParsedNames:
        """Add pasted/typed names; rejected entries are reported in the status bar."""
        parsed = split_names(text)
        added = self.add_pvs(parsed.names)
        self._report(len(added), len(parsed.names) - len(added), parsed.rejected)
        return parsed

    def _on_entry(self) -> None:
        text = self.entry.text()
        if not text.strip():
            return
        parsed = self.add_from_text(text)
        # keep only the rejected tokens, so the user can fix them
        self.entry.setText(" ".join(tok for tok, _ in parsed.rejected))

    def _report(self, added: int, duplicates: int, rejected: list[tuple[str, str]]) -> None:
        parts = [f"Added {added} PV{'s' if added != 1 else ''}"]
        if duplicates:
            parts.append(f"{duplicates} already shown")
        if rejected:
            parts.append(describe_rejected(rejected))
        self.last_message = ", ".join(parts)
        self.statusBar().showMessage(self.last_message, 0 if rejected else 8000)

    def open_pv_list(self, path: str | None = None) -> ParsedNames | None:
        """Ask for (or take) a PV list file and add its names; errors go to a message box."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open PV list", "", "PV lists (*.txt *.pvs *.lst);;All files (*)")
            if not path:
                return None
        try:
            parsed = read_pv_list(path)
        except PVListError as exc:
            QMessageBox.warning(self, "Open PV list", str(exc))
            return None
        added = self.add_pvs(parsed.names)
        self._report(len(added), len(parsed.names) - len(added), parsed.rejected)
        return parsed

    # -- removing / copying --------------------------------------------------------------
    def selected_rows(self) -> list[int]:
        """Selected row numbers, from the selection's ranges (cheap for 20,000 rows)."""
        sm = self.table.selectionModel()
        if sm is None:
            return []
        rows: set[int] = set()
        for rng in sm.selection():
            rows.update(range(rng.top(), rng.bottom() + 1))
        return sorted(rows)

    def remove_selected(self) -> list[str]:
        """Remove the selected rows and unsubscribe their PVs."""
        rows = self.selected_rows()
        if not rows:
            return []
        removed = self.model.remove_rows(rows)
        self.bridge.remove(removed)
        self.statusBar().showMessage(f"Removed {len(removed)} PV{'s' if len(removed) != 1 else ''}", 5000)
        self.refresh_counts()
        return removed

    def copy_selected(self) -> str:
        """Copy 'name<TAB>value' lines of the selected rows to the clipboard."""
        lines = []
        for row in self.selected_rows():
            st = self.model.state(row)
            lines.append(f"{st.name}\t{self.model.display_text(st, Col.VALUE)}")
        text = "\n".join(lines)
        if text:
            QApplication.clipboard().setText(text)
        return text

    # -- batches -------------------------------------------------------------------------
    def refresh_counts(self) -> None:
        n = self.model.rowCount()
        self.counts_label.setText(
            f"{n} PVs, {self.model.connected_count} connected, "
            f"{self.bridge.updates_received} updates")

    def _after_batch(self, batch: Batch) -> None:
        self.refresh_counts()

    def _on_put_finished(self, result: PutResult) -> None:
        if result.ok:
            self.statusBar().showMessage(f"Put {result.name} = {result.value!r} done", 5000)
        else:
            self.statusBar().showMessage(f"Put {result.name} = {result.value!r} failed: {result.error}")


__all__ = ["MainWindow", "PVTableView", "HEADERS", "describe_rejected"]
