"""The PV table widget: entry, filter, toggles and the live table — one per tab.

Everything that touches Channel Access goes through the :class:`EngineBridge`
(add, remove, put); the model is fed by the bridge's batches.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from typing import Any, Optional

from PyQt5.QtCore import QModelIndex, QPoint, QRectF, Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor, QIcon, QKeySequence, QPainter, QPixmap
from PyQt5.QtWidgets import QApplication, QMenu, QWidget

from pvprobe.core.batch import Batch
from pvprobe.core.protocol_text import STRUCTURED_TYPES
from pvprobe.core.pvnames import ParsedNames, PVListError, read_pv_list, split_names
from pvprobe.core.pvs_format import read_pvs
from pvprobe.core.pvstate import PVState
from pvprobe.core.values import is_editable

from ..bridge import EngineBridge
from ..puts import PutWorkflow
from ..style.theme import table_colors
from ..widgets.actions import make_action
from .pvtable_model import DESC_SUFFIX, Col, PVTableModel
from .table_columns import TableColumns
from .table_filter import PVFilterProxy
from .table_puts import TablePuts
from .table_view import MAX_DROP_BYTES
from .table_widget_ui import build_table_widget_ui

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


def read_list_file(path: str) -> ParsedNames:
    """A PV list file's names: a Phoebus ``.pvs`` table when the content is XML, else a
    plain list (whatever the file is called). Raises PVListError."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise PVListError(f"cannot read PV list {path}: {exc.strerror or exc}") from None
    if head.startswith((b"<?xml", b"<pvtable")):
        pvs = read_pvs(path)
        return ParsedNames(names=list(pvs.names), rejected=list(pvs.rejected))
    return read_pv_list(path)


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


class PVTableWidget(TableColumns, TablePuts, QWidget):
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
        #: Takes the typed text first (globs: the window's name finder); True: handled.
        self.entry_hook: Optional[Any] = None
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

        self._build_ui()
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

    def _build_ui(self) -> None:
        build_table_widget_ui(self)

    # -- actions -------------------------------------------------------------------------
    def _make_actions(self) -> None:
        v = self.view
        local = Qt.WidgetWithChildrenShortcut
        self.copy_names_action = make_action(self, "Copy names", lambda: self.copy_selected(False))
        self.copy_action = make_action(self, "Copy names and values", lambda: self.copy_selected(True),
                                       QKeySequence.Copy, local)
        self.remove_action = make_action(self, "Remove", self.remove_selected,
                                         [QKeySequence.Delete, Qt.Key_Backspace], local)
        self.put_action = make_action(self, "Put value…", self.put_value_dialog)
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
            images = [st.name for st in states if st.native_type == "NDARRAY"][:4]
            arrays = [st.name for st in states if st.is_array and st.native_type not in STRUCTURED_TYPES]
            scalars = [st.name for st in states if not st.is_array and st.native_type not in STRUCTURED_TYPES]
            menu.addAction("Probe", lambda: self.viewRequested.emit("probe", names[:8]))
            if scalars:
                menu.addAction("Strip chart", lambda: self.viewRequested.emit("strip", scalars))
            if arrays:
                menu.addAction("Waveform plot", lambda: self.viewRequested.emit("waveform", arrays))
            if images:
                menu.addAction("Image view", lambda: self.viewRequested.emit("image", images))
            menu.addSeparator()
        self.put_action.setEnabled(len(states) == 1 and is_editable(states[0]))
        menu.addAction(self.put_action)
        menu.addSeparator()
        self.remove_action.setEnabled(bool(states))
        menu.addAction(self.remove_action)
        menu.exec_(self.view.viewport().mapToGlobal(pos))
        for a in (self.copy_names_action, self.copy_action, self.remove_action, self.put_action):
            a.setEnabled(True)

    # -- columns ---------------------------------------------------------------------------

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
        """Add the names of a PV list file (plain text or a Phoebus ``.pvs`` table);
        raises PVListError (missing, huge, binary, bad XML)."""
        parsed = read_list_file(path)
        added = self.add_pvs(parsed.names)
        self._report(len(added), len(parsed.names) - len(added), parsed.rejected,
                     source=os.path.basename(path))
        return parsed

    def _on_entry(self) -> None:
        text = self.entry.text()
        if not text.strip():
            return
        if self.entry_hook is not None and self.entry_hook(self, text):
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

    def visible_rows(self) -> list[int]:
        """The model rows currently on screen."""
        n = self.proxy.rowCount()
        if n == 0 or not self.isVisible():
            return []
        first = self.view.rowAt(0)
        last = self.view.rowAt(self.view.viewport().height() - 1)
        first = 0 if first < 0 else first
        last = n - 1 if last < 0 else last
        return [r for r in self.proxy.source_rows(list(range(first, min(last, n - 1) + 1))) if r >= 0]

    def visible_names(self) -> list[str]:
        """Names of the rows currently on screen."""
        return [self.model.name_at(r) for r in self.visible_rows()]

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


__all__ = ["PVTableWidget", "describe_rejected"]
