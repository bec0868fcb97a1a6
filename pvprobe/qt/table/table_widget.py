"""The PV table widget: entry, filter, toggles and the live table — one per tab.

Everything that touches Channel Access goes through the :class:`EngineBridge`
(add, remove, put); the model is fed by the bridge's batches.
"""

from __future__ import annotations

import functools
import logging
import os
import zlib
from typing import Any, Iterable, Optional

from PyQt5.QtCore import QByteArray, QMimeData, QModelIndex, QPoint, QRectF, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QIcon, QKeySequence, QPainter, QPixmap
from PyQt5.QtWidgets import (
    QAbstractItemView, QAction, QApplication, QFrame, QHeaderView, QInputDialog,
    QLabel, QLineEdit, QMenu, QTableView, QToolButton, QVBoxLayout, QWidget,
)

from pvprobe.core.batch import Batch, PutResult
from pvprobe.core.putrequest import PutRequest, edit_hint, value_shown
from pvprobe.core.putvalue import PutValueError, text_put_value
from pvprobe.core.pvnames import ParsedNames, PVListError, read_pv_list, split_names
from pvprobe.core.pvstate import PVState
from pvprobe.core.values import editable_text, is_editable

from ..bridge import EngineBridge
from ..puts import PutWorkflow
from ..widgets.flow_layout import FlowLayout
from .pvtable_model import (
    DESC_SUFFIX, HEADERS, PUTTING_TEXT, Col, PVTableModel,
)
from .table_filter import PVFilterProxy
from ..style.theme import table_colors
from .value_delegate import ValueDelegate

log = logging.getLogger(__name__)

#: Sample text per column: default widths come from these, measured once with the
#: view's font (Interactive resize: no per-row measuring, fine at 20,000 rows).
COLUMN_SAMPLES = {
    Col.NAME: "XXX:XXXXXXX:XXXXX", Col.VALUE: "-123456.7890", Col.UNITS: "mm/s",
    Col.SEVERITY: "DISCONNECTED", Col.STATUS: "HWLIMIT", Col.TIMESTAMP: "2024-12-31 23:59:59.999",
    Col.CONNECTION: "connected, read-only", Col.ACCESS: "XXread/write",
    Col.DESCRIPTION: "A record description", Col.COMPLETION: "failed: no completion within",
    Col.SAVED: "-123456.7890",
}
#: Hidden unless asked for: Description costs a channel per PV; Saved needs a snapshot.
DEFAULT_HIDDEN = (Col.DESCRIPTION, Col.SAVED)
#: How many rejected names a message lists before "and N more".
REJECT_LIST = 5
#: Drops larger than this are refused (a PV list of 20,000 names is ~0.5 MB).
MAX_DROP_BYTES = 16 * 1024 * 1024
HEADER_MAGIC = b"PVPTHDR"
HEADER_VERSION = 1
FILTER_PLACEHOLDER = "Filter: text or glob (name, value, severity)"
ENTRY_PLACEHOLDER = "Add PVs (type or paste names, Enter)"


def describe_rejected(rejected: list[tuple[str, str]]) -> str:
    """'2 names rejected: "a b" (name contains ...), ...' — short enough for a status bar."""
    if not rejected:
        return ""
    shown = "; ".join(f"{tok[:40]!r}: {why}" for tok, why in rejected[:REJECT_LIST])
    more = f"; and {len(rejected) - REJECT_LIST} more" if len(rejected) > REJECT_LIST else ""
    noun = "name" if len(rejected) == 1 else "names"
    return f"{len(rejected)} {noun} rejected: {shown}{more}"


def _plural(n: int, word: str = "PV") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _swatch_icon(colours: list[QColor]) -> QIcon:
    """A small icon of coloured squares (the alarm toggle shows the palette)."""
    pm = QPixmap(12 * len(colours) + 2, 14)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    for i, c in enumerate(colours):
        p.setPen(c.darker(140))
        p.setBrush(c)
        p.drawRoundedRect(QRectF(1 + 12 * i, 2, 10, 10), 2, 2)
    p.end()
    return QIcon(pm)


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

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._acceptable(event.mimeData(), event.source()):
            event.setDropAction(Qt.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        if self._acceptable(event.mimeData(), event.source()):
            event.setDropAction(Qt.CopyAction)
            event.accept()
        else:
            event.ignore()

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


class PVTableWidget(QWidget):
    """One PV table: add-names entry, filter, alarm/disconnected toggles and the view.

    Signals: ``listChanged()`` when rows are added or removed, ``message(str)`` for
    the status bar, ``progress(connected, total)`` after batches while not all rows
    are connected (when the numbers change) and once when all are.
    """

    listChanged = pyqtSignal()
    message = pyqtSignal(str)
    progress = pyqtSignal(int, int)
    #: The user asked to open PVs in a view: ("probe" | "waveform" | "strip", names).
    viewRequested = pyqtSignal(str, list)

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        #: Ask before every put (a QMessageBox); tests and expert users turn it off.
        self.confirm_puts = True
        #: Seconds a put may take before it is reported failed.
        self.put_timeout = 10.0
        self.last_message = ""
        #: This table's puts: checks, confirmation, put log, completion.
        self.puts = PutWorkflow(bridge, self, "table")
        self.puts.refused.connect(self._on_refused)
        self.puts.finished.connect(self._on_put_finished)
        # what this table holds in the engine: its rows, and NAME.DESC read once per
        # connection while the Description column shows (the model reads whole batches)
        self._rows_sub = bridge.subscribe([], None)
        self._desc_sub = bridge.subscribe([], None, once=True)
        self._last_progress: tuple[int, int] = (-1, -1)
        self._all_reported = False
        self._watch_owner = f"pvtable-{id(self):x}"
        self._watched: frozenset[str] = frozenset()
        self._attached = True

        self.model = PVTableModel(self)
        self.proxy = PVFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        # -- controls ------------------------------------------------------------------
        self.entry = QLineEdit(self)
        self.entry.setPlaceholderText(ENTRY_PLACEHOLDER)
        self.entry.setClearButtonEnabled(True)
        self.entry.setToolTip("PV names separated by spaces, commas or new lines; ca://NAME accepted")
        self.entry.returnPressed.connect(self._on_entry)

        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText(FILTER_PLACEHOLDER)
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Case-insensitive text, or a glob with * ? [ ] matching the whole "
                                    "name, value or severity (e.g. *:ai:1*)")
        self.filter_edit.textChanged.connect(self._on_filter_text)

        self.alarm_toggle = QToolButton(self)
        self.alarm_toggle.setText("Alarms only")
        self.alarm_toggle.setCheckable(True)
        self.alarm_toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.alarm_toggle.setToolTip("Show only connected PVs in alarm (MINOR, MAJOR, INVALID)")
        self.alarm_toggle.toggled.connect(self._on_toggles)

        self.disconnected_toggle = QToolButton(self)
        self.disconnected_toggle.setText("Disconnected only")
        self.disconnected_toggle.setCheckable(True)
        self.disconnected_toggle.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        self.disconnected_toggle.setToolTip("Show only PVs that are not connected (with Alarms only: both)")
        self.disconnected_toggle.toggled.connect(self._on_toggles)
        self._update_swatches()

        self.count_label = QLabel(self)
        self.count_label.setTextInteractionFlags(Qt.NoTextInteraction)
        self.count_label.setMinimumWidth(60)     # a narrow window clips the count, not the window
        fm = self.fontMetrics()
        self.entry.setMinimumWidth(min(fm.horizontalAdvance(ENTRY_PLACEHOLDER) + 40, 200))
        self.filter_edit.setMinimumWidth(min(fm.horizontalAdvance(FILTER_PLACEHOLDER) + 40, 160))
        self.count_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)

        # -- view ------------------------------------------------------------------------
        self.view = PVTableView(self)
        self.view.setModel(self.proxy)
        self.view.apply_default_widths()
        self.view.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed)
        self.delegate = ValueDelegate(self.view)
        self.view.setItemDelegateForColumn(int(Col.VALUE), self.delegate)
        self.delegate.putRequested.connect(self._on_put_requested, Qt.QueuedConnection)
        self.delegate.refused.connect(self._on_refused)
        self.proxy.hold = lambda: self.view.state() == QAbstractItemView.EditingState
        hh = self.view.horizontalHeader()
        hh.setSectionsMovable(True)
        hh.setSectionsClickable(True)
        hh.setSortIndicatorShown(True)
        hh.setSortIndicator(-1, Qt.AscendingOrder)   # insertion order until the user sorts
        self.view.setSortingEnabled(True)
        hh.setContextMenuPolicy(Qt.CustomContextMenu)
        hh.customContextMenuRequested.connect(self._header_menu)
        for col in DEFAULT_HIDDEN:
            hh.setSectionHidden(int(col), True)
        self._default_header = QByteArray(hh.saveState())
        self.view.filesDropped.connect(self._on_files_dropped)
        self.view.textDropped.connect(self._on_text_dropped)

        top = FlowLayout(spacing=6)     # wraps in a narrow window instead of widening it
        top.addWidget(self.entry, 5)
        sep = QFrame(self)
        sep.setFrameShape(QFrame.VLine)
        sep.setFrameShadow(QFrame.Sunken)
        top.addWidget(sep)
        top.addWidget(self.filter_edit, 4)
        top.addWidget(self.alarm_toggle)
        top.addWidget(self.disconnected_toggle)
        top.addWidget(self.count_label)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.setSpacing(4)
        lay.addLayout(top)
        lay.addWidget(self.view)

        self._make_actions()
        self.set_palette("default")

        # -- feeds ---------------------------------------------------------------------
        bridge.add_consumer(self.model.apply_batch)
        self.destroyed.connect(functools.partial(_detach, bridge, self.model.apply_batch))
        bridge.batchApplied.connect(self._after_batch)
        self.proxy.refreshed.connect(self._refresh_counts)
        self.proxy.refreshed.connect(self._schedule_watch)
        self._watch_timer = QTimer(self)
        self._watch_timer.setSingleShot(True)
        self._watch_timer.setInterval(150)
        self._watch_timer.timeout.connect(self._update_watch)
        self.view.verticalScrollBar().valueChanged.connect(self._schedule_watch)
        self.proxy.rowsInserted.connect(self._schedule_watch)
        self.proxy.rowsRemoved.connect(self._schedule_watch)
        self.proxy.layoutChanged.connect(self._schedule_watch)
        self.proxy.modelReset.connect(self._schedule_watch)
        self._refresh_counts()

    # -- actions -------------------------------------------------------------------------
    def _make_actions(self) -> None:
        v = self.view
        self.copy_names_action = QAction("Copy names", self)
        self.copy_names_action.triggered.connect(lambda: self.copy_selected(False))
        self.copy_action = QAction("Copy names and values", self)
        self.copy_action.setShortcut(QKeySequence.Copy)
        self.copy_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.copy_action.triggered.connect(lambda: self.copy_selected(True))
        self.remove_action = QAction("Remove", self)
        self.remove_action.setShortcuts([QKeySequence(QKeySequence.Delete), QKeySequence(Qt.Key_Backspace)])
        self.remove_action.setShortcutContext(Qt.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.put_action = QAction("Put value…", self)
        self.put_action.triggered.connect(self.put_value_dialog)
        for a in (self.copy_names_action, self.copy_action, self.remove_action, self.put_action):
            v.addAction(a)
        v.setContextMenuPolicy(Qt.CustomContextMenu)
        v.customContextMenuRequested.connect(self._row_menu)

    def _row_menu(self, pos: QPoint) -> None:
        idx = self.view.indexAt(pos)
        if idx.isValid() and not self.view.selectionModel().isRowSelected(idx.row(), QModelIndex()):
            self.view.selectRow(idx.row())
        states = self.selected_states()
        menu = QMenu(self.view)
        for a in (self.copy_names_action, self.copy_action):
            a.setEnabled(bool(states))
            menu.addAction(a)
        menu.addSeparator()
        if states:
            names = [st.name for st in states]
            arrays = [st.name for st in states if st.is_array]
            scalars = [st.name for st in states if not st.is_array]
            menu.addAction("Probe", lambda: self.viewRequested.emit("probe", names[:8]))
            if scalars:
                menu.addAction("Strip chart", lambda: self.viewRequested.emit("strip", scalars))
            if arrays:
                menu.addAction("Waveform plot", lambda: self.viewRequested.emit("waveform", arrays))
            menu.addSeparator()
        self.put_action.setEnabled(len(states) == 1 and is_editable(states[0]))
        menu.addAction(self.put_action)
        menu.addSeparator()
        self.remove_action.setEnabled(bool(states))
        menu.addAction(self.remove_action)
        menu.exec_(self.view.viewport().mapToGlobal(pos))
        for a in (self.copy_names_action, self.copy_action, self.remove_action, self.put_action):
            a.setEnabled(True)

    def _header_menu(self, pos: QPoint) -> None:
        hh = self.view.horizontalHeader()
        menu = QMenu(hh)
        for col in Col:
            a = menu.addAction(HEADERS[col])
            a.setCheckable(True)
            a.setChecked(not hh.isSectionHidden(int(col)))
            if col == Col.NAME:
                a.setEnabled(False)
            elif col == Col.SAVED and not self.model.has_saved_values:
                a.setEnabled(False)
                a.setText("Saved (load a snapshot)")
            a.toggled.connect(lambda on, c=col: self.set_column_visible(c, on))
        menu.addSeparator()
        reset = menu.addAction("Reset columns")
        reset.triggered.connect(self.reset_columns)
        menu.exec_(hh.mapToGlobal(pos))

    # -- columns ---------------------------------------------------------------------------
    def set_column_visible(self, col: int, visible: bool) -> None:
        """Show or hide a column (Name always shown; Saved only with a snapshot)."""
        col = Col(col)
        if col == Col.NAME:
            visible = True
        if col == Col.SAVED and not self.model.has_saved_values:
            visible = False
        self.view.horizontalHeader().setSectionHidden(int(col), not visible)
        if col == Col.DESCRIPTION:
            self._sync_description()

    def is_column_visible(self, col: int) -> bool:
        return not self.view.horizontalHeader().isSectionHidden(int(col))

    def reset_columns(self) -> None:
        self.view.horizontalHeader().restoreState(self._default_header)
        self.view.apply_default_widths()
        self.view.fit_name_column(self.model.names())
        if self.model.has_saved_values:
            self.set_column_visible(Col.SAVED, True)
        self._sync_description()

    def _sync_description(self) -> None:
        """DESC channels are open exactly while the Description column is visible."""
        want = self.is_column_visible(Col.DESCRIPTION)
        if want and not self.model.description_enabled:
            channels = self.model.set_description_enabled(True)
            self._open_desc(channels)
        elif not want and self.model.description_enabled:
            self.model.set_description_enabled(False)
            self._desc_sub.set_names([])

    def _open_desc(self, channels: Iterable[str]) -> None:
        if not self._desc_sub.closed:
            self._desc_sub.add([c for c in dict.fromkeys(channels) if c not in self._desc_sub])

    def _close_desc(self, names: Iterable[str]) -> None:
        self._desc_sub.remove(n + DESC_SUFFIX for n in names)

    def header_state(self) -> bytes:
        """Column order, widths, hidden columns and sort column, as bytes to store."""
        qt = bytes(self.view.horizontalHeader().saveState())
        return (HEADER_MAGIC + bytes([HEADER_VERSION, len(HEADERS)])
                + zlib.crc32(qt).to_bytes(4, "big") + qt)

    def restore_header_state(self, data: bytes) -> bool:
        """Apply :meth:`header_state` output. Corrupt or foreign data: False, defaults kept."""
        hh = self.view.horizontalHeader()
        try:
            raw = bytes(data) if data is not None else b""
            n = len(HEADER_MAGIC)
            if len(raw) < n + 7 or not raw.startswith(HEADER_MAGIC):
                return False
            if raw[n] != HEADER_VERSION or raw[n + 1] != len(HEADERS):
                return False
            qt = raw[n + 6:]
            if zlib.crc32(qt) != int.from_bytes(raw[n + 2:n + 6], "big"):
                return False        # truncated or altered: Qt would half-apply it
            before = QByteArray(hh.saveState())
            ok = hh.restoreState(QByteArray(qt))
            if not ok or hh.count() != len(HEADERS) or hh.hiddenSectionCount() >= len(HEADERS):
                hh.restoreState(before)
                return False
        except Exception:   # never let a bad settings file break the window
            log.exception("could not restore the table header state")
            return False
        hh.setSectionHidden(int(Col.NAME), False)
        if not self.model.has_saved_values:
            hh.setSectionHidden(int(Col.SAVED), True)
        self._sync_description()
        col, order = hh.sortIndicatorSection(), hh.sortIndicatorOrder()
        if 0 <= col < len(HEADERS):
            self.proxy.sort(col, order)
        return True

    # -- palette / saved values ---------------------------------------------------------------
    def set_palette(self, name: str) -> None:
        """'default' or 'colorblind' alarm colours."""
        self.model.set_palette(name)
        self._update_swatches()

    def set_theme(self, name: str) -> None:
        """'light' or 'dark' theme colours for the table and the toggles' swatches."""
        self.model.set_theme(name)
        self._update_swatches()

    def _update_swatches(self) -> None:
        tc = table_colors(self.model.theme_name, self.model.palette_name)
        self.alarm_toggle.setIcon(_swatch_icon([tc.alarm[sev][0] for sev in (1, 2, 3)]))
        self.disconnected_toggle.setIcon(_swatch_icon([tc.disconnected_fg]))

    @property
    def palette_name(self) -> str:
        return self.model.palette_name

    def set_saved_values(self, values: Optional[dict[str, str]]) -> None:
        """Values from a snapshot (name → text) to compare with; None hides the Saved column."""
        self.model.set_saved_values(values)
        self.set_column_visible(Col.SAVED, values is not None)
        if values is not None:
            differ = sum(1 for r in range(self.model.rowCount()) if self.model.differs(r))
            self._say(f"Snapshot loaded: {_plural(len(values), 'value')}, "
                      f"{differ} of {_plural(self.model.rowCount(), 'row')} differ")

    # -- adding ------------------------------------------------------------------------------
    def add_pvs(self, names: Iterable[str]) -> list[str]:
        """Add rows for ``names`` (duplicates ignored) and open them. Returns those added."""
        added = self.model.add_names(names)
        if added:
            self.view.fit_name_column(added)
            if not self._rows_sub.closed:
                self._rows_sub.add(added)
            if self.model.description_enabled:
                self._open_desc(n + DESC_SUFFIX for n in added)
            self._all_reported = False
            self.listChanged.emit()
        self._refresh_counts()
        return added

    def add_from_text(self, text: str) -> ParsedNames:
        """Add pasted/typed names; rejected entries are reported via ``message``."""
        parsed = split_names(text)
        added = self.add_pvs(parsed.names)
        self._report(len(added), len(parsed.names) - len(added), parsed.rejected)
        return parsed

    def add_from_file(self, path: str) -> ParsedNames:
        """Add the names of a PV list file; raises PVListError (missing, huge, binary)."""
        parsed = read_pv_list(path)
        added = self.add_pvs(parsed.names)
        self._report(len(added), len(parsed.names) - len(added), parsed.rejected,
                     source=os.path.basename(path))
        return parsed

    def _on_entry(self) -> None:
        text = self.entry.text()
        if not text.strip():
            return
        parsed = self.add_from_text(text)
        # keep only the rejected tokens, so the user can fix them
        self.entry.setText(" ".join(tok for tok, _ in parsed.rejected))

    def _report(self, added: int, duplicates: int, rejected: list[tuple[str, str]],
                source: str = "") -> None:
        parts = [f"Added {_plural(added)}" + (f" from {source}" if source else "")]
        if duplicates:
            parts.append(f"{duplicates} already shown")
        if rejected:
            parts.append(describe_rejected(rejected))
        self._say(", ".join(parts))

    def _say(self, text: str) -> None:
        self.last_message = text
        self.message.emit(text)

    def _on_files_dropped(self, paths: list) -> None:
        for path in paths:
            try:
                size = os.path.getsize(path)
                if os.path.isdir(path):
                    raise PVListError(f"{os.path.basename(path)} is a folder, not a PV list")
                if size > MAX_DROP_BYTES:
                    raise PVListError(f"{os.path.basename(path)} is {size / 1e6:.0f} MB: too large "
                                      f"for a PV list (limit {MAX_DROP_BYTES // (1024 * 1024)} MiB)")
                self.add_from_file(path)
            except (OSError, PVListError) as exc:
                msg = str(exc) if isinstance(exc, PVListError) else f"cannot read {path}: {exc}"
                self._say(f"Not added: {msg}")

    def _on_text_dropped(self, text: str) -> None:
        if len(text) > MAX_DROP_BYTES:
            self._say("Not added: the dropped text is too large for a list of PV names")
            return
        if "\x00" in text:
            self._say("Not added: the dropped data is not text")
            return
        self.add_from_text(text)

    # -- rows, selection -----------------------------------------------------------------------
    def names(self) -> list[str]:
        return self.model.names()

    def states(self) -> list[PVState]:
        """The state of every row (including rows the filter hides)."""
        return self.model.states()

    def selected_rows(self) -> list[int]:
        """Selected model (source) rows, in the order shown."""
        sm = self.view.selectionModel()
        if sm is None:
            return []
        proxy_rows: set[int] = set()
        source_rows: list[int] = []
        for rng in sm.selection():
            if rng.model() is self.model:      # selected with source indexes (old API users)
                source_rows.extend(range(rng.top(), rng.bottom() + 1))
            else:
                proxy_rows.update(range(rng.top(), rng.bottom() + 1))
        out = [self.proxy.mapToSource(self.proxy.index(r, 0)).row() for r in sorted(proxy_rows)]
        seen = set(out)
        out.extend(r for r in sorted(set(source_rows)) if r not in seen)
        return [r for r in out if r >= 0]

    def selected_names(self) -> list[str]:
        return [self.model.name_at(r) for r in self.selected_rows()]

    def selected_states(self) -> list[PVState]:
        return [self.model.state(r) for r in self.selected_rows()]

    def _remove_names(self, removed: list[str]) -> None:
        if not removed:
            return
        self._rows_sub.remove(removed)
        self._close_desc(removed)
        gone = set(removed)
        self.puts.forget(gone)
        self.listChanged.emit()
        self._refresh_counts()

    def remove_selected(self) -> list[str]:
        """Remove the selected rows and close their PVs."""
        rows = self.selected_rows()
        if not rows:
            return []
        removed = self.model.remove_rows(rows)
        self._remove_names(removed)
        self._say(f"Removed {_plural(len(removed))}")
        return removed

    def clear(self) -> list[str]:
        """Remove every row (and close the PVs in the engine)."""
        removed = self.model.clear()
        self._remove_names(removed)
        return removed

    def close_pvs(self) -> list[str]:
        """Like :meth:`clear`, and detach from the bridge: the table is going away."""
        removed = self.clear()
        self._rows_sub.close()
        self._desc_sub.close()
        if self._attached:
            self._attached = False
            self.bridge.remove_consumer(self.model.apply_batch)
            try:
                self.bridge.batchApplied.disconnect(self._after_batch)
            except TypeError:
                pass
            self.puts.forget(set(self.puts.pending_names()))
            self._watch_timer.stop()
            self._send_watch(frozenset())
        return removed

    def copy_selected(self, with_values: bool = True) -> str:
        """Copy the selected rows' names (or 'name<TAB>value' lines) to the clipboard."""
        lines = []
        for row in self.selected_rows():
            st = self.model.state(row)
            if with_values:
                lines.append(f"{st.name}\t{self.model.display_text(st, Col.VALUE)}")
            else:
                lines.append(st.name)
        text = "\n".join(lines)
        if text:
            QApplication.clipboard().setText(text)
            what = "names and values" if with_values else "names"
            self._say(f"Copied {what} of {_plural(len(lines))}")
        return text

    # -- filter ------------------------------------------------------------------------------------
    def _on_filter_text(self, text: str) -> None:
        self.proxy.set_filter_text(text)

    def _on_toggles(self) -> None:
        self.proxy.set_only_alarm(self.alarm_toggle.isChecked())
        self.proxy.set_only_disconnected(self.disconnected_toggle.isChecked())

    # -- puts ----------------------------------------------------------------------------------------
    def _on_put_requested(self, name: str, value: Any) -> None:
        self.put_value(name, value)

    def _on_refused(self, name: str, reason: str) -> None:
        self._say(f"Not sent to {name}: {reason}")

    def put_value(self, name: str, value: Any) -> Optional[int]:
        """Check ``value``, confirm (unless ``confirm_puts`` is False) and put it through
        the put workflow. Returns the request id, or None when refused or cancelled. The
        row's Completion column follows the request."""
        st = self.model.state_of(name)
        if st is None:
            self._say(f"Not sent: {name} is not in this table")
            return None
        self.puts.confirm = self.confirm_puts
        rid = self.puts.submit(PutRequest(name, value, "table", st, self.put_timeout), self)
        if rid is None:
            if not self.puts.last_refusal:
                self._say(f"Put to {name} cancelled")
            return None
        self.model.set_completion(name, PUTTING_TEXT)
        self._say(f"Putting {value_shown(st, self.puts.pending_value(rid))} to {name}…")
        return rid

    def put_value_dialog(self, name: Optional[str] = None) -> Optional[int]:
        """Ask for a value for ``name`` (default: the selected row) and put it."""
        if not name:
            sel = self.selected_names()
            if len(sel) != 1:
                self._say("Select one PV to put a value")
                return None
            name = sel[0]
        st = self.model.state_of(name)
        if st is None:
            return None
        if not is_editable(st):
            self._say(f"Cannot put to {name}: " + ("not connected" if not st.connected
                                                   else "no write access (read-only PV)"))
            return None
        if st.is_enum and st.enum_strs:
            current = int(st.value) if isinstance(st.value, int) and 0 <= st.value < len(st.enum_strs) else 0
            item, ok = QInputDialog.getItem(self, "Put value", f"{name} ({edit_hint(st)}):",
                                            list(st.enum_strs), current, False)
            if not ok:
                return None
            return self.put_value(name, list(st.enum_strs).index(item))
        text, ok = QInputDialog.getText(self, "Put value", f"{name} ({edit_hint(st)}):",
                                        QLineEdit.Normal, editable_text(st))
        if not ok:
            return None
        try:
            value = text_put_value(st, text)     # a STRING array's text: its elements
        except PutValueError as exc:
            self._on_refused(name, str(exc))
            return None
        return self.put_value(name, value)

    def _on_put_finished(self, result: PutResult) -> None:
        name = result.name
        if result.ok:
            ms = result.seconds * 1000.0
            text = f"done {ms:.0f} ms" if result.seconds else "done"
            self._say(f"Put to {name} done" + (f" in {ms:.0f} ms" if result.seconds else ""))
        else:
            text = f"failed: {result.error}"
            self._say(f"Put to {name} failed: {result.error}")
        self.model.set_completion(name, text)

    # -- batches ---------------------------------------------------------------------------------
    def _after_batch(self, batch: Batch) -> None:
        total = self.model.rowCount()
        self._refresh_counts()
        if total == 0:
            return
        pair = (self.model.connected_count, total)
        if pair[0] < total:
            self._all_reported = False
            if pair != self._last_progress:
                self.progress.emit(*pair)
        elif not self._all_reported:
            self._all_reported = True
            self.progress.emit(*pair)
        self._last_progress = pair

    def _refresh_counts(self) -> None:
        n = self.model.rowCount()
        shown = self.proxy.rowCount()
        conn = self.model.connected_count
        head = f"{shown:,} of {n:,} shown" if self.proxy.is_filtering() else _plural(n).replace(
            str(n), f"{n:,}", 1)
        self.count_label.setText(f"{head} · {conn:,} connected")

    # -- what is on screen (lean engines give full monitors only to these) -------------------------
    def _schedule_watch(self, *args: Any) -> None:
        if self._attached and not self._watch_timer.isActive():
            self._watch_timer.start()

    def visible_names(self) -> list[str]:
        """Names of the rows currently on screen."""
        n = self.proxy.rowCount()
        if n == 0 or not self.isVisible():
            return []
        first = self.view.rowAt(0)
        last = self.view.rowAt(self.view.viewport().height() - 1)
        first = 0 if first < 0 else first
        last = n - 1 if last < 0 else last
        rows = self.proxy.source_rows(list(range(first, min(last, n - 1) + 1)))
        return [self.model.name_at(r) for r in rows if r >= 0]

    def _update_watch(self) -> None:
        self._send_watch(frozenset(self.visible_names()))

    def _send_watch(self, names: frozenset) -> None:
        if names == self._watched:
            return
        self._watched = names
        try:
            self.bridge.watch(self._watch_owner, names)
        except AttributeError:      # an engine without lean mode
            pass

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        self._schedule_watch()

    def hideEvent(self, event: Any) -> None:  # noqa: N802
        super().hideEvent(event)
        self._schedule_watch()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._schedule_watch()


def _detach(bridge: EngineBridge, consumer: Any) -> None:
    """A table deleted without close_pvs(): stop feeding its (dead) model."""
    bridge.remove_consumer(consumer)


__all__ = ["PVTableWidget", "PVTableView", "describe_rejected", "COLUMN_SAMPLES",
           "FILTER_PLACEHOLDER"]
