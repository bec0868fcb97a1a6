"""The Snapshot menu: save the current tab's values to CSV, compare, restore.

Restoring: the restore list is the snapshot's PVs (all, or only those of the
selected rows). PVs of the snapshot that the tab does not show are **added to the
tab first** (so the operator sees them before and after), and the restore waits
a bounded time for them to connect. A confirmation dialog lists every put
(name, current → saved) plus the PVs that will be skipped and why; nothing is
sent before OK. Puts go through the GUI's one put workflow
(:class:`~pvprobe.qt.puts.PutWorkflow`: checks against the live PV, put log,
completion; the dialog was the confirmation). Results that never come are
reported failed after ``put_timeout + GRACE`` seconds. Failures are listed, PV by
PV with the reason, in a message box.
"""

from __future__ import annotations

import os
import time
from typing import Any, Optional

from PyQt5.QtCore import QEventLoop, QObject, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QLabel,
    QMenu,
    QMessageBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from pvprobe.core.batch import PutResult
from pvprobe.core.format import format_value
from pvprobe.core.protocol_text import STRUCTURED_TYPES
from pvprobe.core.putrequest import PutRequest
from pvprobe.core.snapshot import (
    DIFFERENT,
    EQUAL,
    MISSING_LIVE,
    Snapshot,
    SnapshotError,
    compare,
    read_snapshot,
    restore_plan,
    snapshot_from_states,
    write_snapshot,
)
from pvprobe.core.strarray import string_items_text

from ..puts import PutWorkflow
from ..widgets.actions import fill_menu, make_action
from .tabs import TableTabs

CSV_FILTER = "Snapshots (*.csv);;All files (*)"
#: Seconds to wait for PVs added for a restore to connect before asking.
CONNECT_WAIT = 5.0
#: Put completion timeout (seconds) given to each put.
PUT_TIMEOUT = 10.0
#: Failures listed in the result message box (the rest are counted).
MAX_LISTED = 25


def _value_display(v: Any) -> str:
    if isinstance(v, (list, tuple)):
        shown = string_items_text(v[:8])      # STRING elements quoted where needed
        return f"[{len(v)}] {shown}{' …' if len(v) > 8 else ''}"
    return str(v)


class RestoreConfirmDialog(QDialog):
    """Every put of a restore, in a table (PV, current, saved), plus what is skipped."""

    def __init__(self, puts: list[tuple[str, str, str]], skipped: list[tuple[str, str]],
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Restore snapshot")
        self.puts = puts
        self.skipped = skipped
        lay = QVBoxLayout(self)
        n = len(puts)
        head = QLabel(f"Write {n} saved value{'s' if n != 1 else ''} to the PVs below?", self)
        head.setWordWrap(True)
        lay.addWidget(head)
        self.table = QTableWidget(n, 3, self)
        self.table.setHorizontalHeaderLabels(["PV", "Current", "→ Saved (will be put)"])
        self.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.verticalHeader().setVisible(False)
        for r, (name, cur, saved) in enumerate(puts):
            for c, text in enumerate((name, cur, saved)):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
            if cur != saved:
                self.table.item(r, 2).setFont(self._bold())
        hh = self.table.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.Interactive)
        hh.setStretchLastSection(True)
        self.table.resizeColumnsToContents()
        lay.addWidget(self.table)
        self.skipped_label = QLabel(self)
        self.skipped_label.setWordWrap(True)
        if skipped:
            lines = [f"{name}: {why}" for name, why in skipped[:10]]
            more = f"\n… and {len(skipped) - 10} more" if len(skipped) > 10 else ""
            self.skipped_label.setText(f"Not restored ({len(skipped)}):\n" + "\n".join(lines) + more)
            lay.addWidget(self.skipped_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel, self)
        self.buttons.button(QDialogButtonBox.Ok).setText(f"Restore {n} PV{'s' if n != 1 else ''}")
        self.buttons.button(QDialogButtonBox.Cancel).setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.resize(720, min(640, 160 + 24 * max(4, n)))

    def _bold(self):
        f = self.font()
        f.setBold(True)
        return f

    def rows(self) -> list[tuple[str, str, str]]:
        """The table's content, as shown (for tests and checks)."""
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]


class SnapshotUI(QObject):
    """Snapshot menu logic over a :class:`TableTabs` and the bridge."""

    message = pyqtSignal(str)
    #: All PutResults of one restore (including timed-out ones), once complete.
    restoreFinished = pyqtSignal(list)

    def __init__(self, tabs: TableTabs, bridge: Any, parent: QWidget) -> None:
        super().__init__(parent)
        self.tabs = tabs
        self.bridge = bridge
        self.window = parent
        self.last_dir = ""
        self.put_timeout = PUT_TIMEOUT
        self.connect_wait = CONNECT_WAIT
        self.compared: dict[int, str] = {}          # id(table) -> snapshot path
        self.last_differences: list = []
        self.last_restore_results: list[PutResult] = []
        self.last_restore_report = ""
        self._pending: set[int] = set()
        self._results: list[PutResult] = []
        self._restoring = False
        #: The restore's puts (its dialog confirmed them all: no question per put).
        self.puts = PutWorkflow(bridge, self, "restore")
        self.puts.confirm = False
        self.puts.finished.connect(self._on_put_finished)

        w = parent
        self.save_action = make_action(w, "&Save snapshot…", self.save_snapshot)
        self.compare_action = make_action(w, "&Compare with snapshot…", self.compare_snapshot)
        self.clear_action = make_action(w, "C&lear comparison", self.clear_comparison)
        self.restore_action = make_action(w, "&Restore snapshot…", self.restore_snapshot)
        self.restore_selected_action = make_action(w, "Restore snapshot to &selected rows…",
                                                   lambda: self.restore_snapshot(selected_only=True))

    def fill_menu(self, menu: QMenu) -> None:
        fill_menu(menu, [self.save_action, None, self.compare_action, self.clear_action,
                         None, self.restore_action, self.restore_selected_action])

    @property
    def restoring(self) -> bool:
        return self._restoring

    # -- helpers -----------------------------------------------------------------------
    def _ask_open(self, title: str) -> Optional[str]:
        path, _ = QFileDialog.getOpenFileName(self.window, title, self.last_dir, CSV_FILTER)
        return path or None

    def _open(self, path: Optional[str], title: str) -> tuple[str, Optional[Snapshot]]:
        """The snapshot at ``path`` (asked for with a file dialog titled ``title`` when
        None): (path, snapshot); the snapshot is None when nothing was chosen or it
        could not be read (then a message box said why)."""
        path = path or self._ask_open(title)
        return (path, self._load(path, title)) if path else ("", None)

    def _load(self, path: str, title: str) -> Optional[Snapshot]:
        try:
            snap = read_snapshot(path)
        except SnapshotError as exc:
            QMessageBox.warning(self.window, title, f"Could not read “{os.path.basename(path)}”.\n\n{exc}")
            return None
        self.last_dir = os.path.dirname(os.path.abspath(path))
        return snap

    def _wait_until(self, pred, timeout: float) -> bool:
        """Run the event loop until ``pred()`` or ``timeout`` seconds (bounded)."""
        if pred():
            return True
        loop = QEventLoop()
        poll = QTimer()
        poll.setInterval(50)
        poll.timeout.connect(lambda: loop.quit() if pred() else None)
        stop = QTimer()
        stop.setSingleShot(True)
        stop.timeout.connect(loop.quit)
        poll.start()
        stop.start(int(timeout * 1000))
        loop.exec_()
        poll.stop()
        stop.stop()
        return pred()

    # -- save ------------------------------------------------------------------------------
    def save_snapshot(self, path: Optional[str] = None) -> Optional[Snapshot]:
        """All rows of the current tab → CSV (atomic)."""
        table = self.tabs.current_table()
        if table is None or not table.names():
            self.message.emit("Nothing to snapshot: the table is empty")
            return None
        if not path:
            start = os.path.join(self.last_dir, time.strftime("snapshot-%Y%m%d-%H%M%S.csv"))
            path, _ = QFileDialog.getSaveFileName(self.window, "Save snapshot", start, CSV_FILTER)
            if not path:
                return None
            if not os.path.splitext(path)[1]:
                path += ".csv"
        states = table.states()
        # a pvAccess table, structure or image has no value a snapshot can hold and restore
        whole = [st.name for st in states if st.native_type in STRUCTURED_TYPES]
        snap = snapshot_from_states(st for st in states if st.native_type not in STRUCTURED_TYPES)
        try:
            write_snapshot(path, snap)
        except SnapshotError as exc:
            QMessageBox.warning(self.window, "Save snapshot", f"Could not save “{os.path.basename(path)}”.\n\n{exc}")
            return None
        self.last_dir = os.path.dirname(os.path.abspath(path))
        missing = sum(1 for r in snap.rows if not r.has_value)
        extra = f" ({missing} without a value: not connected)" if missing else ""
        if whole:
            extra += (f"; {len(whole)} pvAccess tables/structures/images not saved "
                      f"({', '.join(whole[:3])}{' …' if len(whole) > 3 else ''})")
        self.message.emit(f"Saved snapshot of {len(snap.rows)} PVs to {os.path.basename(path)}{extra}")
        return snap

    # -- compare ---------------------------------------------------------------------------
    def compare_snapshot(self, path: Optional[str] = None) -> Optional[list]:
        """Show the snapshot's values in the current tab's Saved column (differences
        highlighted by the table) and report the counts."""
        table = self.tabs.current_table()
        if table is None:
            return None
        path, snap = self._open(path, "Compare with snapshot")
        if snap is None:
            return None
        shown = set(table.names())
        live = {st.name: st for st in table.states()}
        # rows saved without a value (disconnected then) get no Saved text: nothing to compare
        saved = {r.name: r.value_text for r in snap.rows if r.name in shown and r.has_value}
        table.set_saved_values(saved)
        self.compared[id(table)] = path
        diffs = [d for d in compare(snap, live) if d.name in shown]
        self.last_differences = diffs
        n_diff = sum(d.kind == DIFFERENT for d in diffs)
        n_eq = sum(d.kind == EQUAL for d in diffs)
        n_missing = sum(d.kind == MISSING_LIVE for d in diffs)
        absent = sum(1 for r in snap.rows if r.name not in shown)
        parts = [f"Compared with {os.path.basename(path)}: {n_diff} different, {n_eq} equal"]
        if n_missing:
            parts.append(f"{n_missing} without a live value")
        if absent:
            parts.append(f"{absent} snapshot PVs not in this tab")
        self.message.emit(", ".join(parts))
        return diffs

    def clear_comparison(self) -> None:
        table = self.tabs.current_table()
        if table is not None:
            table.set_saved_values(None)
            self.compared.pop(id(table), None)
            self.message.emit("Comparison cleared")

    # -- restore ---------------------------------------------------------------------------
    def restore_snapshot(self, path: Optional[str] = None, selected_only: bool = False) -> bool:
        """Restore the snapshot (all its PVs, or those of the selected rows) after
        confirmation. Returns True when puts were sent; results come later
        (:attr:`restoreFinished`)."""
        if self._restoring:
            self.message.emit("A restore is still waiting for its results")
            return False
        table = self.tabs.current_table()
        if table is None:
            return False
        names: Optional[list[str]] = None
        if selected_only:
            names = list(table.selected_names())
            if not names:
                QMessageBox.information(self.window, "Restore snapshot", "No rows are selected.")
                return False
        path, snap = self._open(path, "Restore snapshot")
        if snap is None:
            return False
        plan = restore_plan(snap, names)
        if not plan:
            reasons = "\n".join(f"{n}: {why}" for n, why in plan.skipped[:MAX_LISTED])
            QMessageBox.information(self.window, "Restore snapshot",
                                    f"Nothing to restore from “{os.path.basename(path)}”.\n\n{reasons}")
            return False
        wanted = [n for n, _ in plan]
        missing = [n for n in wanted if n not in set(table.names())]
        if missing:
            table.add_pvs(missing)
            self.message.emit(f"Added {len(missing)} snapshot PVs to the table; waiting for them to connect")

        def live_states() -> dict:
            return {st.name: st for st in table.states()}

        def all_connected() -> bool:
            live = live_states()
            return all(n in live and live[n].connected and live[n].value is not None for n in wanted)

        self._wait_until(all_connected, self.connect_wait)
        live = live_states()
        rows = []
        for name, value in plan:
            st = live.get(name)
            if st is None or not st.ever_connected:
                cur = "(not connected)"
            elif not st.connected:
                cur = "(disconnected) " + format_value(st)
            else:
                cur = format_value(st)
            row = snap.row(name)
            saved = row.value_text if row is not None and not row.is_array else _value_display(value)
            rows.append((name, cur, saved))
        dlg = RestoreConfirmDialog(rows, list(plan.skipped), self.window)
        try:
            if dlg.exec_() != QDialog.Accepted:
                self.message.emit("Restore cancelled: nothing was written")
                return False
        finally:
            dlg.deleteLater()
        self._start_puts(list(plan), list(plan.skipped), os.path.basename(path), live)
        return True

    def _start_puts(self, puts: list[tuple[str, Any]], skipped: list[tuple[str, str]], label: str,
                    live: Optional[dict] = None) -> None:
        self._restoring = True
        self._label = label
        self._skipped = skipped
        self._results = []
        self._pending = set()
        live = live or {}
        for name, value in puts:
            req = PutRequest(name, value, "restore", live.get(name), self.put_timeout)
            rid = self.puts.submit(req)
            if rid is None:     # refused by its checks: reported like a failed put
                self._results.append(PutResult(name=name, value=value, ok=False,
                                               error=self.puts.last_refusal))
            else:
                self._pending.add(rid)
        self.message.emit(f"Restoring {len(puts)} PVs from {label}…")
        if not self._pending:
            self._finish()

    def _on_put_finished(self, result: PutResult) -> None:
        if not self._restoring or result.request_id not in self._pending:
            return
        self._pending.discard(result.request_id)
        self._results.append(result)
        if not self._pending:
            self._finish()

    def _finish(self) -> None:
        self._restoring = False
        results = list(self._results)
        self.last_restore_results = results
        failed = [r for r in results if not r.ok]
        ok = len(results) - len(failed)
        summary = f"Restore from {self._label}: {ok} of {len(results)} PVs written"
        if self._skipped:
            summary += f", {len(self._skipped)} skipped"
        if failed:
            lines = [f"{r.name}: {r.error or 'failed'}" for r in failed[:MAX_LISTED]]
            if len(failed) > MAX_LISTED:
                lines.append(f"… and {len(failed) - MAX_LISTED} more")
            self.last_restore_report = f"{summary}; {len(failed)} failed:\n" + "\n".join(lines)
            self.message.emit(f"{summary}; {len(failed)} failed")
            self.restoreFinished.emit(results)
            QMessageBox.warning(self.window, "Restore snapshot", self.last_restore_report)
        else:
            self.last_restore_report = summary
            self.message.emit(summary)
            self.restoreFinished.emit(results)


__all__ = ["SnapshotUI", "RestoreConfirmDialog"]
