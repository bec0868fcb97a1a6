"""The main window: PV tables in tabs, File and Snapshot menus, settings, status bar."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, Optional

from PyQt5.QtCore import QByteArray, QRect, QTimer, pyqtSignal
from PyQt5.QtGui import QCloseEvent, QResizeEvent
from PyQt5.QtWidgets import (
    QApplication,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QWidget,
)

from pvprobe.core.batch import Batch, PutResult
from pvprobe.core.pvnames import ParsedNames, strip_scheme

from ..bridge import EngineBridge
from ..style.theme import apply_theme, current_theme
from ..table.pvtable_model import HEADERS, Col, PVTableModel  # noqa: F401 (re-exported)
from ..table.snapshot_ui import SnapshotUI
from ..table.table_view import COLUMN_SAMPLES, PVTableView  # noqa: F401
from ..table.table_widget import REJECT_LIST, PVTableWidget, describe_rejected  # noqa: F401
from ..table.tabs import TableTabs
from .file_actions import FileActions
from .menus import PALETTE_LABELS, build_main_menus  # noqa: F401 (PALETTE_LABELS re-exported)
from .name_finder import NameFinder
from .settings import PALETTES, Session, Settings, TabSettings
from .view_docks import ViewDocks

log = logging.getLogger(__name__)

#: Above this many PVs in the engine, PVs no table shows are handed over less often
#: (lean mode, see Engine.set_lean); below half of it, every update comes back.
#: With the C monitor callback one process takes 100,000 updates/s at half a core,
#: so lean mode waits for very large tables; with Python callbacks it comes early.
LEAN_THRESHOLD = 25000
LEAN_THRESHOLD_PY_CALLBACKS = 2000


def lean_threshold_for(engine: object) -> int:
    """The lean-mode threshold that suits this engine's monitor callbacks."""
    return LEAN_THRESHOLD if getattr(engine, "fast_callbacks", False) else LEAN_THRESHOLD_PY_CALLBACKS

#: Qt platforms whose screen is not a real one: the window is not fitted to it.
SCREENLESS_PLATFORMS = ("offscreen", "minimal")

class MainWindow(QMainWindow):
    """pvprobe's main window. All CA traffic goes through ``bridge``.

    ``settings`` (a :class:`Settings`) restores the window layout, the tabs and
    their lists and column choices, the palette and the put confirmation; the
    session is saved back when the window closes. With ``restore_tabs`` False
    (PVs or views named on the command line) only the window settings come back:
    the saved tabs are neither shown nor overwritten (they are written back as
    they were, so the next plain start finds them). ``force_close`` skips the
    unsaved-changes question (``--quit-after``, Ctrl-C in the terminal).
    """

    #: The window is about to close for good (after any question was answered).
    aboutToClose = pyqtSignal()

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None,
                 settings: Optional[Settings] = None, read_only: bool = False,
                 restore_tabs: bool = True) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.settings = settings
        self.setWindowTitle("pvprobe")
        self.last_message = ""
        self.ca_warnings: list[str] = []
        self.force_close = False
        self.palette_name = "default"
        self.confirm_puts = True
        self._closed = False
        self.restored_geometry = False
        self.restore_tabs = restore_tabs
        #: The saved tabs kept aside (not shown) when ``restore_tabs`` is False.
        self._kept_tabs: Optional[tuple[list[TabSettings], int]] = None

        self.tabs = TableTabs(bridge, self)
        self.tabs.tableCreated.connect(self._prepare_table)
        self.setCentralWidget(self.tabs)
        self.file_actions = FileActions(self.tabs, self, settings)
        self.snapshots = SnapshotUI(self.tabs, bridge, self)
        self.views = ViewDocks(self, bridge, self._show_message)
        self.setDockNestingEnabled(True)
        for source in (self.tabs, self.file_actions, self.snapshots):
            source.message.connect(self._show_message)
        self.tabs.progress.connect(self._on_progress)
        self.tabs.currentTableChanged.connect(lambda _t: self.refresh_counts())
        self.tabs.tabStateChanged.connect(self.refresh_counts)
        bridge.batchApplied.connect(self._after_batch)
        if bridge.lean_threshold is None:
            bridge.lean_threshold = lean_threshold_for(bridge.engine)
        bridge.putFinished.connect(self._on_put_finished)

        self.name_finder = NameFinder(self)     # completion, history, globs, gateways
        self.counts_label = QLabel(self)
        self.progress_bar = QProgressBar(self)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setFormat("connecting %v / %m")
        self.progress_bar.setVisible(False)
        self.statusBar().addPermanentWidget(self.progress_bar)
        self.statusBar().addPermanentWidget(self.counts_label)
        build_main_menus(self)
        self.read_only_from_settings = False
        self._restore_session()
        self.name_finder.baseline()             # restored rows are not new uses of names
        if read_only:
            self.set_read_only()
        self.refresh_counts()

    # -- current table (aliases kept for the single-table API) ---------------------------
    @property
    def table_widget(self) -> PVTableWidget:
        return self.tabs.ensure_tab()  # type: ignore[return-value]

    @property
    def model(self) -> PVTableModel:
        return self.table_widget.model

    @property
    def table(self) -> PVTableView:
        return self.table_widget.view

    @property
    def entry(self) -> Any:
        return self.table_widget.entry

    # -- settings ---------------------------------------------------------------------------
    def _prepare_table(self, table: PVTableWidget) -> None:
        """Every new tab gets the window-wide palette and put confirmation."""
        table.set_palette(self.palette_name)
        table.set_theme(getattr(self, "theme_name", "light"))
        table.confirm_puts = self.confirm_puts
        table.listChanged.connect(self.refresh_counts)
        table.viewRequested.connect(self.open_view)

    def set_palette(self, name: str) -> None:
        """Alarm colours for every table and probe: "default" or "colorblind"."""
        if name not in PALETTES:
            name = "default"
        self.palette_name = name
        self.palette_actions[name].setChecked(True)
        for t in self.tabs.tables():
            t.set_palette(name)
        self.views.set_palette(name)

    def set_confirm_puts(self, on: bool) -> None:
        self.confirm_puts = bool(on)
        if self.confirm_action.isChecked() != self.confirm_puts:
            self.confirm_action.setChecked(self.confirm_puts)
        for t in self.tabs.tables():
            t.confirm_puts = self.confirm_puts
        self.views.set_confirm_puts(self.confirm_puts)

    def set_read_only(self) -> None:
        """Read-only mode for this run: every put path is refused at the bridge and every
        PV is shown without write access. There is no way back inside the app."""
        self.bridge.set_read_only(True)
        self.setWindowTitle("pvprobe — read-only")
        if not hasattr(self, "read_only_label"):
            self.read_only_label = QLabel("READ-ONLY MODE: puts disabled", self)
            self.read_only_label.setStyleSheet("font-weight: bold; padding: 0 6px;")
            self.statusBar().insertPermanentWidget(0, self.read_only_label)

    @property
    def read_only(self) -> bool:
        return self.bridge.read_only

    def set_theme(self, name: str) -> None:
        """Light or dark theme for the whole application: tables and open views follow."""
        if name not in self.theme_actions:
            name = "light"
        self.theme_name = name
        self.theme_actions[name].setChecked(True)
        app = QApplication.instance()
        if app is not None and current_theme(app) != name:
            apply_theme(app, name)
        for t in self.tabs.tables():
            t.set_theme(name)
        self.views.set_theme(name)

    # -- fitting the screen ---------------------------------------------------------------------
    def available_geometry(self) -> Optional[QRect]:
        """The usable part (without panels) of the screen the window is on; None on
        platforms without a real screen (offscreen: its 800x600 is a placeholder, and
        screenshots and automation there want the size they ask for)."""
        if QApplication.platformName() in SCREENLESS_PLATFORMS:
            return None
        screen = self.screen() or QApplication.primaryScreen()
        return screen.availableGeometry() if screen is not None else None

    def fit_to_screen(self) -> None:
        """Shrink and move the window into the screen's available geometry (views and
        restored or default sizes must never push it past the screen's edges)."""
        self._fit_pending = False
        avail = self.available_geometry()
        if avail is None or avail.isEmpty():
            return
        frame, inner = self.frameGeometry(), self.geometry()
        extra_w, extra_h = frame.width() - inner.width(), frame.height() - inner.height()
        w = min(self.width(), avail.width() - extra_w)
        h = min(self.height(), avail.height() - extra_h)
        if (w, h) != (self.width(), self.height()):
            self.resize(w, h)
        frame = self.frameGeometry()
        x = max(avail.left(), min(frame.left(), avail.right() + 1 - frame.width()))
        y = max(avail.top(), min(frame.top(), avail.bottom() + 1 - frame.height()))
        if (x, y) != (frame.left(), frame.top()):
            self.move(x, y)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        avail = self.available_geometry()
        if avail is None:
            return
        too_big = self.frameGeometry().width() > avail.width() or self.frameGeometry().height() > avail.height()
        if too_big and not getattr(self, "_fit_pending", False):
            self._fit_pending = True      # once the layout has settled
            QTimer.singleShot(0, self.fit_to_screen)

    # -- views (docks) -------------------------------------------------------------------------
    def open_view(self, kind: str, names: list) -> None:
        """Open ``names`` in a view: "probe" (one panel each, at most 8), "waveform",
        "strip" or "image" (names are plugin prefixes)."""
        names = [n for n in names if n]
        if kind == "probe":
            for n in names[:8] or [None]:
                self.open_probe(n)
        elif kind == "waveform" and names:
            self.views.open_waveform(names)
        elif kind == "strip" and names:
            self.views.open_strip(names)
        elif kind == "image":
            for n in names:
                self.views.open_image(n)
        elif kind == "compare":
            for n in names[:8] or [None]:
                self.views.open_compare(n)

    def open_probe(self, name: Optional[str] = None) -> QWidget:
        """A probe panel (asks for nothing: an empty probe takes a typed or dropped name)."""
        return self.views.open_probe(name)

    def _open_selected(self, kind: str) -> None:
        names = self.table_widget.selected_names()
        if not names:
            self._show_message("Select rows in the table first")
            return
        self.open_view(kind, names)

    def _ask_and_open(self, kind: str) -> None:
        label = {"image": "areaDetector plugin prefix (e.g. 13SIM1:image1:) or pva://NAME:"}.get(kind, "PV name(s):")
        text, ok = QInputDialog.getText(self, "Open", label)
        if ok and text.strip():     # typed: a bare name takes the default protocol (not images)
            self.open_view(kind, text.split() if kind == "image" else [strip_scheme(n) for n in text.split()])

    def _restore_session(self) -> None:
        if self.settings is None:
            self.tabs.new_tab()
            return
        session = self.settings.load()
        self.protocol_menu.restore(session.default_protocol)
        self.set_palette(session.palette)
        self.set_confirm_puts(session.confirm_puts)
        self.set_theme(session.theme)
        if session.read_only:
            self.read_only_from_settings = True
            self.set_read_only()
        if session.geometry:
            self.restored_geometry = self.restoreGeometry(QByteArray(session.geometry))
        if session.window_state:
            self.restoreState(QByteArray(session.window_state))
        if self.restore_tabs:
            self._restore_tabs(session)
        else:
            self._kept_tabs = (session.tabs, session.current_tab)
        if self.tabs.count() == 0:
            self.tabs.new_tab()
        if self.restore_tabs:
            self.tabs.setCurrentIndex(min(session.current_tab, self.tabs.count() - 1))
        warning = self.settings.warning_text()
        if warning:
            self._show_message(warning)

    def _restore_tabs(self, session: Session) -> None:
        """The saved tabs with their lists and column layouts (not made current)."""
        assert self.settings is not None
        for ts in session.tabs:
            table = self.tabs.new_tab(title=ts.title, names=ts.names, path=ts.path, activate=False)
            if ts.header and not table.restore_header_state(ts.header):
                self.settings.warn(f"column layout of tab “{ts.title}” unreadable")

    def session(self) -> Session:
        """The window as it is now, for the settings file (the saved tabs as they were
        when this run did not restore them)."""
        if self._kept_tabs is not None:
            tabs, current = self._kept_tabs
        else:
            tabs = [TabSettings(title=self.tabs.title_of(t), names=t.names(), header=t.header_state(),
                                path=self.tabs.path_of(t)) for t in self.tabs.tables()]
            current = max(0, self.tabs.currentIndex())
        recent = self.settings.recent_files() if self.settings is not None else []
        return Session(geometry=bytes(self.saveGeometry()), window_state=bytes(self.saveState()),
                       tabs=tabs, current_tab=current,
                       palette=self.palette_name, confirm_puts=self.confirm_puts,
                       recent_files=recent, theme=self.theme_name,
                       read_only=self.read_only_from_settings,
                       default_protocol=self.protocol_menu.saved)

    def save_session(self) -> bool:
        if self.settings is None:
            return True
        ok = self.settings.save(self.session())
        if not ok:
            log.warning("settings not saved to %s", self.settings.path)
        return ok

    def open_tab(self, names: Iterable[str], title: Optional[str] = None) -> PVTableWidget:
        """Show ``names`` (command line, --pvlist): a restored tab with exactly these
        names is reused; an empty current tab is filled; otherwise a new tab opens."""
        names = list(dict.fromkeys(names))
        for t in self.tabs.tables():
            if t.names() == names:
                self.tabs.setCurrentWidget(t)
                return t  # type: ignore[return-value]
        current = self.tabs.current_table()
        if current is not None and not current.names():
            current.add_pvs(names)
            self.tabs.set_dirty(current, False)
            if title:
                self.tabs.set_title(current, title)
            return current  # type: ignore[return-value]
        return self.tabs.new_tab(title=title, names=names)  # type: ignore[return-value]

    # -- closing ------------------------------------------------------------------------------
    def ask_unsaved(self, tables: list) -> int:
        """Save / Discard / Cancel for tabs whose lists changed since they were saved."""
        titles = ", ".join(f"“{self.tabs.title_of(t)}”" for t in tables)
        return QMessageBox.question(
            self, "Unsaved PV lists",
            f"The PV lists of {titles} have unsaved changes.\nSave them before quitting?",
            QMessageBox.Save | QMessageBox.Discard | QMessageBox.Cancel, QMessageBox.Save)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._closed:
            event.accept()
            return
        dirty = self.tabs.dirty_tables()
        if dirty and not self.force_close:
            answer = self.ask_unsaved(dirty)
            if answer == QMessageBox.Cancel:
                event.ignore()
                return
            if answer == QMessageBox.Save:
                for t in dirty:
                    if not self.file_actions.save(t):
                        event.ignore()
                        return
        self.aboutToClose.emit()
        self.save_session()
        self._closed = True
        self.views.close_all()
        self.tabs.close_all()
        event.accept()

    # -- adding / removing / copying: the current table does it --------------------------------
    def add_pvs(self, names: Iterable[str]) -> list[str]:
        """Add rows for ``names`` to the current tab (duplicates ignored). Returns those added."""
        return self.table_widget.add_pvs(names)

    def add_from_text(self, text: str) -> ParsedNames:
        """Add pasted/typed names; rejected entries are reported in the status bar."""
        return self.table_widget.add_from_text(text)

    def open_pv_list(self, path: str | None = None) -> ParsedNames | None:
        """Open a .txt/.pvs list (asks for the file without ``path``); errors go to a message box."""
        return self.file_actions.open_list(path)

    def selected_rows(self) -> list[int]:
        return self.table_widget.selected_rows()

    def remove_selected(self) -> list[str]:
        """Remove the selected rows of the current tab and unsubscribe their PVs."""
        return self.table_widget.remove_selected()

    def copy_selected(self) -> str:
        """Copy 'name<TAB>value' lines of the selected rows to the clipboard."""
        return self.table_widget.copy_selected(True)

    # -- status bar --------------------------------------------------------------------------
    def _show_message(self, text: str) -> None:
        self.last_message = text
        sticky = any(w in text for w in ("rejected", "failed", "Not ", "Settings:", "Could not", "duplicate"))
        self.statusBar().showMessage(text, 0 if sticky else 8000)

    def _on_progress(self, connected: int, total: int) -> None:
        busy = total > 0 and connected < total
        self.progress_bar.setVisible(busy)
        if busy:
            self.progress_bar.setRange(0, total)
            self.progress_bar.setValue(connected)

    def refresh_counts(self) -> None:
        t = self.tabs.current_table()
        if t is None:
            return
        model = t.model
        n = model.rowCount()
        connected = model.connected_count
        self.counts_label.setText(f"{n} PVs, {connected} connected, "
                                  f"{self.bridge.updates_received} updates")
        self._on_progress(connected, n)

    def _after_batch(self, batch: Batch) -> None:
        self.refresh_counts()
        if batch.warnings:
            self._show_warnings(batch.warnings)

    def _show_warnings(self, warnings: list[str]) -> None:
        """CA warnings (duplicate PV names above all) go to the status bar; the last
        100 are kept in :attr:`ca_warnings` (and the log)."""
        self.ca_warnings = (self.ca_warnings + list(warnings))[-100:]
        dup = [w for w in warnings if "duplicate" in w]
        shown = dup or warnings
        more = f" (+{len(shown) - 1} more)" if len(shown) > 1 else ""
        self._show_message(f"Warning: {shown[-1]}{more}")

    @property
    def lean(self) -> bool:
        """Lean mode is on (the bridge switches it above LEAN_THRESHOLD PVs)."""
        return self.bridge.lean

    def _on_put_finished(self, result: PutResult) -> None:
        if result.ok:
            self.statusBar().showMessage(f"Put {result.name} = {result.value!r} done", 5000)
        else:
            self._show_message(f"Put {result.name} = {result.value!r} failed: {result.error}")


__all__ = ["MainWindow", "PVTableView", "HEADERS", "describe_rejected", "LEAN_THRESHOLD",
           "LEAN_THRESHOLD_PY_CALLBACKS", "lean_threshold_for"]
