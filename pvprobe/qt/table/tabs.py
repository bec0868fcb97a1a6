"""Several PV tables in tabs, each with its own list, file and unsaved-changes flag."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtWidgets import QInputDialog, QMessageBox, QTabWidget, QWidget

from ..widgets.actions import make_action

#: Makes one table widget: ``factory(bridge, parent)``. The default is PVTableWidget.
WidgetFactory = Callable[[Any, Optional[QWidget]], QWidget]
#: Saves one tab's list (asking for a file if it has none); True when saved.
SaveCallback = Callable[[QWidget], bool]


def _default_factory(bridge: Any, parent: Optional[QWidget]) -> QWidget:
    from .table_widget import PVTableWidget
    return PVTableWidget(bridge, parent)


@dataclass
class TabInfo:
    title: str
    path: Optional[str] = None
    dirty: bool = False


class TableTabs(QTabWidget):
    """A QTabWidget of PV tables (``PVTableWidget``).

    Each tab has a title, a file path (where its list was loaded from / saved to)
    and a dirty flag set by the table's ``listChanged`` (shown as ``*``). Closing a
    tab whose list changed since it was last saved asks Save / Discard / Cancel;
    Save calls :attr:`save_callback` (set by the File menu logic). The last tab is
    never left closed: closing it leaves a fresh empty tab. ``message`` and
    ``progress`` of the current tab are forwarded.
    """

    message = pyqtSignal(str)
    progress = pyqtSignal(int, int)
    #: The current table changed (new widget, or None while empty).
    currentTableChanged = pyqtSignal(object)
    #: A tab's dirty flag, title or path changed.
    tabStateChanged = pyqtSignal()
    #: A new table widget was made (before it is filled): set palette, flags, ...
    tableCreated = pyqtSignal(object)

    def __init__(self, bridge: Any, parent: Optional[QWidget] = None,
                 factory: Optional[WidgetFactory] = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._factory = factory or _default_factory
        self._info: dict[int, TabInfo] = {}          # id(widget) -> info
        self._counter = 0
        self.save_callback: Optional[SaveCallback] = None
        self.setTabsClosable(True)
        self.setMovable(True)
        self.setDocumentMode(True)
        self.tabCloseRequested.connect(lambda i: self.close_tab(i))
        self.tabBarDoubleClicked.connect(self._on_double_click)
        self.currentChanged.connect(self._on_current_changed)

        self.new_tab_action = make_action(self, "&New tab", self.new_tab, "Ctrl+T", Qt.WindowShortcut)
        self.close_tab_action = make_action(self, "&Close tab", lambda: self.close_tab(self.currentIndex()),
                                            "Ctrl+W", Qt.WindowShortcut)
        self.rename_tab_action = make_action(self, "&Rename tab…", lambda: self.rename_tab(self.currentIndex()))
        self.addAction(self.new_tab_action)
        self.addAction(self.close_tab_action)

    # -- tables --------------------------------------------------------------------------
    def tables(self) -> list[QWidget]:
        return [self.widget(i) for i in range(self.count())]

    def current_table(self) -> Optional[QWidget]:
        return self.currentWidget()

    def info(self, table: QWidget) -> TabInfo:
        return self._info[id(table)]

    def next_title(self) -> str:
        taken = {self.info(t).title for t in self.tables()}
        n = 1
        while f"PVs {n}" in taken:
            n += 1
        return f"PVs {n}"

    def new_tab(self, title: Optional[str] = None, names: Iterable[str] = (),
                path: Optional[str] = None, activate: bool = True) -> QWidget:
        """A new table tab (optionally filled); it starts clean (not dirty)."""
        table = self._factory(self.bridge, self)
        info = TabInfo(title=(title or "").strip() or self.next_title(), path=path)
        self._info[id(table)] = info
        table.listChanged.connect(lambda t=table: self.set_dirty(t, True))
        table.message.connect(lambda text, t=table: self._forward_message(t, text))
        table.progress.connect(lambda c, n, t=table: self._forward_progress(t, c, n))
        self.tableCreated.emit(table)
        index = self.addTab(table, info.title)
        names = list(names)
        if names:
            table.add_pvs(names)
        info.dirty = False
        self._update_title(table)
        if activate:
            self.setCurrentIndex(index)
        return table

    def ensure_tab(self) -> QWidget:
        """The current table, creating one if there is none."""
        return self.current_table() or self.new_tab()

    # -- dirty / title / path ------------------------------------------------------------
    def set_dirty(self, table: QWidget, dirty: bool) -> None:
        info = self._info.get(id(table))
        if info is None or info.dirty == dirty:
            return
        info.dirty = dirty
        self._update_title(table)
        self.tabStateChanged.emit()

    def is_dirty(self, table: QWidget) -> bool:
        return self.info(table).dirty

    def needs_saving(self, table: QWidget) -> bool:
        """Dirty, and there is something to save (an emptied, never-saved tab is not)."""
        info = self.info(table)
        return info.dirty and (bool(table.names()) or info.path is not None)

    def dirty_tables(self) -> list[QWidget]:
        return [t for t in self.tables() if self.needs_saving(t)]

    def set_path(self, table: QWidget, path: Optional[str], retitle: bool = True) -> None:
        info = self.info(table)
        info.path = os.path.abspath(path) if path else None
        if retitle and path:
            info.title = os.path.basename(path)
        self._update_title(table)
        self.tabStateChanged.emit()

    def path_of(self, table: QWidget) -> Optional[str]:
        return self.info(table).path

    def title_of(self, table: QWidget) -> str:
        return self.info(table).title

    def set_title(self, table: QWidget, title: str) -> None:
        title = title.strip()
        if title:
            self.info(table).title = title[:80]
            self._update_title(table)
            self.tabStateChanged.emit()

    def _update_title(self, table: QWidget) -> None:
        i = self.indexOf(table)
        if i < 0:
            return
        info = self.info(table)
        self.setTabText(i, info.title + (" *" if info.dirty else ""))
        self.setTabToolTip(i, info.path or "not saved to a file")

    # -- rename / close --------------------------------------------------------------------
    def _on_double_click(self, index: int) -> None:
        if index >= 0:
            self.rename_tab(index)

    def rename_tab(self, index: int, title: Optional[str] = None) -> bool:
        """Rename tab ``index``; without ``title`` the user is asked."""
        table = self.widget(index)
        if table is None:
            return False
        if title is None:
            title, ok = QInputDialog.getText(self, "Rename tab", "Tab name:", text=self.title_of(table))
            if not ok:
                return False
        if not title.strip():
            return False
        self.set_title(table, title)
        return True

    def ask_save(self, table: QWidget) -> int:
        """Save / Discard / Cancel for one tab with unsaved changes."""
        info = self.info(table)
        where = f" to {os.path.basename(info.path)}" if info.path else ""
        return QMessageBox.question(
            self, "Unsaved PV list",
            f"The PV list of tab “{info.title}” has changed since it was last saved{where}.\n"
            "Save it before closing?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)

    def close_tab(self, index: int, ask: bool = True) -> bool:
        """Close tab ``index``; True if it was closed (False when the user cancelled
        or the save failed). The table's PVs are removed from the engine."""
        table = self.widget(index)
        if table is None:
            return False
        if ask and self.needs_saving(table):
            answer = self.ask_save(table)
            if answer == QMessageBox.Cancel:
                return False
            if answer == QMessageBox.Save:
                if self.save_callback is None or not self.save_callback(table):
                    return False
        self.removeTab(self.indexOf(table))
        try:
            table.close_pvs()
        finally:
            self._info.pop(id(table), None)
            table.deleteLater()
        if self.count() == 0:
            self.new_tab()
        self.tabStateChanged.emit()
        return True

    def close_all(self) -> None:
        """Close every tab without asking (window shutdown)."""
        while self.count():
            table = self.widget(0)
            self.removeTab(0)
            try:
                table.close_pvs()
            finally:
                self._info.pop(id(table), None)
                table.deleteLater()

    # -- forwarding ------------------------------------------------------------------------
    def _forward_message(self, table: QWidget, text: str) -> None:
        if table is self.currentWidget():
            self.message.emit(text)

    def _forward_progress(self, table: QWidget, connected: int, total: int) -> None:
        if table is self.currentWidget():
            self.progress.emit(connected, total)

    def _on_current_changed(self, index: int) -> None:
        table = self.widget(index) if index >= 0 else None
        self.currentTableChanged.emit(table)


__all__ = ["TableTabs", "TabInfo"]
