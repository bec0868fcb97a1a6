"""The main window: an entry line for PV names above the PV table."""

from __future__ import annotations

import logging
from typing import Iterable

from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QFileDialog, QLabel, QMainWindow, QMessageBox, QWidget

from pvprobe.core.batch import Batch, PutResult
from pvprobe.core.pvnames import ParsedNames, PVListError

from .bridge import EngineBridge
from .pvtable_model import HEADERS, Col, PVTableModel  # noqa: F401 (re-exported)
from .table_widget import COLUMN_SAMPLES, REJECT_LIST, PVTableView, PVTableWidget, describe_rejected  # noqa: F401

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    """pvprobe's main window. All CA traffic goes through ``bridge``."""

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.setWindowTitle("pvprobe")
        self.last_message = ""
        # One PV table as the central widget (tabs come later); the old attribute
        # names stay as aliases: model, table (the view), entry.
        self.table_widget = PVTableWidget(bridge, self)
        self.model: PVTableModel = self.table_widget.model
        self.table = self.table_widget.view
        self.entry = self.table_widget.entry
        self.setCentralWidget(self.table_widget)
        self.table_widget.message.connect(self._show_message)
        self.table_widget.listChanged.connect(self.refresh_counts)
        bridge.batchApplied.connect(self._after_batch)
        bridge.putFinished.connect(self._on_put_finished)

        self.counts_label = QLabel(self)
        self.statusBar().addPermanentWidget(self.counts_label)
        self._make_actions()
        self.refresh_counts()

    # -- actions -------------------------------------------------------------------------
    def _make_actions(self) -> None:
        self.remove_action = self.table_widget.remove_action
        self.copy_action = self.table_widget.copy_action
        file_menu = self.menuBar().addMenu("&File")
        self.open_action = file_menu.addAction("&Open PV list…", self.open_pv_list)
        self.open_action.setShortcut(QKeySequence.Open)
        file_menu.addSeparator()
        self.quit_action = file_menu.addAction("&Quit", self.close)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))

    def _show_message(self, text: str) -> None:
        self.last_message = text
        sticky = "rejected" in text or "failed" in text or "Not " in text
        self.statusBar().showMessage(text, 0 if sticky else 8000)

    # -- adding / removing / copying: the table widget does it ------------------------------
    def add_pvs(self, names: Iterable[str]) -> list[str]:
        """Add rows for ``names`` (duplicates ignored) and subscribe them. Returns those added."""
        return self.table_widget.add_pvs(names)

    def add_from_text(self, text: str) -> ParsedNames:
        """Add pasted/typed names; rejected entries are reported in the status bar."""
        return self.table_widget.add_from_text(text)

    def open_pv_list(self, path: str | None = None) -> ParsedNames | None:
        """Ask for (or take) a PV list file and add its names; errors go to a message box."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(
                self, "Open PV list", "", "PV lists (*.txt *.pvs *.lst);;All files (*)")
            if not path:
                return None
        try:
            return self.table_widget.add_from_file(path)
        except PVListError as exc:
            QMessageBox.warning(self, "Open PV list", str(exc))
            return None

    def selected_rows(self) -> list[int]:
        return self.table_widget.selected_rows()

    def remove_selected(self) -> list[str]:
        """Remove the selected rows and unsubscribe their PVs."""
        return self.table_widget.remove_selected()

    def copy_selected(self) -> str:
        """Copy 'name<TAB>value' lines of the selected rows to the clipboard."""
        return self.table_widget.copy_selected(True)

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
