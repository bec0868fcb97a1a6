"""The File menu: open / save PV lists (.txt and Phoebus .pvs), import and export.

Every write is atomic (temp file + rename, see :mod:`pvprobe.core.atomic`). A file
that cannot be read is reported in a message box naming the file and the reason,
and nothing changes: the list is parsed completely before any tab is touched.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Optional

from PyQt5.QtCore import QObject, pyqtSignal
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from pvprobe.core.protocol_text import listed_name
from pvprobe.core.pvnames import ParsedNames, PVListError, read_pv_list, write_pv_list
from pvprobe.core.pvs_format import looks_like_pvs, read_pvs, write_pvs
from pvprobe.core.snapshot import value_text
from pvprobe.core.strarray import string_items_text

from ..table.tabs import TableTabs
from ..widgets.actions import fill_menu, make_action

LIST_FILTER = "PV lists (*.txt *.pvs *.lst);;Text PV lists (*.txt *.lst);;Phoebus PV tables (*.pvs);;All files (*)"
TXT_FILTER = "Text PV list (*.txt)"
PVS_FILTER = "Phoebus PV table (*.pvs)"


def read_any_list(path: str) -> tuple[ParsedNames, Optional[dict[str, Any]]]:
    """Names (and, for .pvs files, saved values) of a list file. Raises PVListError."""
    if looks_like_pvs(path):
        pvs = read_pvs(path)
        return ParsedNames(names=pvs.names, rejected=list(pvs.rejected)), pvs.saved
    return read_pv_list(path), None


def saved_text(value: Any) -> str:
    """A .pvs saved value (text or list of item texts) as one display string; array
    items separated by spaces, quoted where an item is empty or holds spaces (as the
    table writes STRING arrays), so every item is read back as it was."""
    if isinstance(value, (list, tuple)):
        return string_items_text(value)
    return str(value)


class FileActions(QObject):
    """File menu logic over a :class:`TableTabs`. ``settings`` (optional) keeps recent files."""

    #: A one-line report for the status bar.
    message = pyqtSignal(str)

    def __init__(self, tabs: TableTabs, parent: QWidget, settings: Any = None) -> None:
        super().__init__(parent)
        self.tabs = tabs
        self.window = parent
        self.settings = settings
        self.last_dir = ""
        tabs.save_callback = self.save
        w = parent
        self.open_action = make_action(
            w, "&Open PV list…", self.open_list, QKeySequence.Open,
            tip="Open a .txt or .pvs list (in a new tab unless the current one is empty)")
        self.add_list_action = make_action(w, "&Add PV list to this tab…", lambda: self.open_list(into="current"))
        self.save_action = make_action(w, "&Save list", self.save, QKeySequence.Save)
        self.save_as_action = make_action(w, "Save list &as…", self.save_as, "Ctrl+Shift+S")
        self.import_pvs_action = make_action(w, "&Import Phoebus .pvs…", self.import_pvs)
        self.export_pvs_action = make_action(w, "&Export .pvs (with current values)…", self.export_pvs)
        self.recent_menu = QMenu("Open &recent", w)
        self.recent_menu.aboutToShow.connect(self._fill_recent)

    def fill_menu(self, menu: QMenu) -> None:
        fill_menu(menu, [self.tabs.new_tab_action, self.open_action, self.add_list_action, self.recent_menu,
                         None, self.save_action, self.save_as_action,
                         None, self.import_pvs_action, self.export_pvs_action,
                         None, self.tabs.rename_tab_action, self.tabs.close_tab_action])

    # -- helpers -----------------------------------------------------------------------------
    def _error(self, title: str, path: str, reason: str) -> None:
        name = os.path.basename(path) or path
        reason = str(reason)
        text = reason if name in reason else f"{name}: {reason}"
        QMessageBox.warning(self.window, title, f"Could not {title.lower()} “{name}”.\n\n{text}")

    def _remember(self, path: str) -> None:
        self.last_dir = os.path.dirname(os.path.abspath(path))
        if self.settings is not None:
            try:
                self.settings.add_recent(path)
            except Exception:   # recent files are a convenience only
                pass

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = self.settings.recent_files() if self.settings is not None else []
        for path in files:
            self.recent_menu.addAction(path, lambda p=path: self.open_list(p))
        if not files:
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _report(self, table: Any, path: str, parsed: ParsedNames, added: list[str]) -> None:
        from ..table.table_widget import describe_rejected  # the wording the entry line uses
        parts = [f"Opened {os.path.basename(path)}: {len(added)} PV{'s' if len(added) != 1 else ''} added"]
        dup = len(parsed.names) - len(added)
        if dup:
            parts.append(f"{dup} already shown")
        if parsed.rejected:
            parts.append(describe_rejected(parsed.rejected))
        self.message.emit(", ".join(parts))

    # -- open --------------------------------------------------------------------------------
    def open_list(self, path: Optional[str] = None, into: str = "auto") -> Optional[ParsedNames]:
        """Open a .txt/.pvs list. ``into``: "new" tab, "current" tab (names added), or
        "auto" (the current tab if it is empty, else a new tab). Returns the parsed names,
        or None when cancelled or unreadable (then no tab changes)."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.window, "Open PV list", self.last_dir, LIST_FILTER)
            if not path:
                return None
        try:
            parsed, saved = read_any_list(path)
        except PVListError as exc:
            self._error("Open PV list", path, str(exc))
            return None
        except Exception as exc:     # anything unexpected: still a message, never a crash
            self._error("Open PV list", path, f"{exc.__class__.__name__}: {exc}")
            return None
        current = self.tabs.current_table()
        if into == "auto":
            into = "current" if current is not None and not current.names() else "new"
        if into == "new" or current is None:
            table = self.tabs.new_tab(title=os.path.basename(path), names=parsed.names, path=path)
            added = list(parsed.names)
            self.tabs.set_dirty(table, False)
        else:
            table = current
            was_empty = not table.names()
            added = table.add_pvs(parsed.names)
            if was_empty and self.tabs.path_of(table) is None:
                self.tabs.set_path(table, path)     # an empty tab becomes this file
                self.tabs.set_dirty(table, False)
        if saved:
            table.set_saved_values({n: saved_text(v) for n, v in saved.items()})
        self._remember(path)
        self._report(table, path, parsed, added)
        return parsed

    def import_pvs(self, path: Optional[str] = None) -> Optional[ParsedNames]:
        """Import a Phoebus PV table into a new tab; saved values show in the Saved column."""
        if not path:
            path, _ = QFileDialog.getOpenFileName(self.window, "Import Phoebus PV table", self.last_dir,
                                                  PVS_FILTER + ";;All files (*)")
            if not path:
                return None
        try:
            pvs = read_pvs(path)
        except PVListError as exc:
            self._error("Import PV table", path, str(exc))
            return None
        parsed = ParsedNames(names=pvs.names, rejected=list(pvs.rejected))
        table = self.tabs.new_tab(title=os.path.basename(path), names=parsed.names, path=path)
        self.tabs.set_dirty(table, False)
        if pvs.saved:
            table.set_saved_values({n: saved_text(v) for n, v in pvs.saved.items()})
        self._remember(path)
        self._report(table, path, parsed, parsed.names)
        return parsed

    # -- save --------------------------------------------------------------------------------
    def write_list(self, path: str, table: Any) -> bool:
        """Write ``table``'s names to ``path`` (.pvs → Phoebus XML, else text); atomic.
        CA names are written ``ca://NAME`` while bare names mean PVA, so the list reads
        back the same whatever the default protocol is then."""
        names = [listed_name(n) for n in table.names()]
        try:
            if path.lower().endswith(".pvs"):
                write_pvs(path, names)
            else:
                title = self.tabs.title_of(table) if table in self.tabs.tables() else ""
                header = (f"pvprobe PV list{': ' + title if title else ''}\n"
                          f"saved {time.strftime('%Y-%m-%d %H:%M:%S')}, {len(names)} PVs\n"
                          "one name per line; '#' starts a comment")
                write_pv_list(path, names, header=header)
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            self._error("Save PV list", path, reason)
            return False
        return True

    def save(self, table: Any = None) -> bool:
        """Save the tab's list to its file (asks for one if it has none). True when saved."""
        table = table or self.tabs.current_table()
        if table is None:
            return False
        path = self.tabs.path_of(table)
        if not path:
            return self.save_as(table)
        if not self.write_list(path, table):
            return False
        self.tabs.set_dirty(table, False)
        self._remember(path)
        self.message.emit(f"Saved {len(table.names())} PVs to {os.path.basename(path)}")
        return True

    def save_as(self, table: Any = None, path: Optional[str] = None) -> bool:
        """Ask for a file (.txt or .pvs) and save the tab's list there; the tab takes the file."""
        table = table or self.tabs.current_table()
        if table is None:
            return False
        if not path:
            start = self.tabs.path_of(table) or os.path.join(self.last_dir, self.tabs.title_of(table) + ".txt")
            path, chosen = QFileDialog.getSaveFileName(self.window, "Save PV list as", start,
                                                       f"{TXT_FILTER};;{PVS_FILTER}")
            if not path:
                return False
            if not os.path.splitext(path)[1]:
                path += ".pvs" if chosen == PVS_FILTER else ".txt"
        if not self.write_list(path, table):
            return False
        self.tabs.set_path(table, path)
        self.tabs.set_dirty(table, False)
        self._remember(path)
        self.message.emit(f"Saved {len(table.names())} PVs to {os.path.basename(path)}")
        return True

    def export_pvs(self, table: Any = None, path: Optional[str] = None) -> bool:
        """Write a Phoebus .pvs of the tab with each connected PV's current value as its
        saved value. The tab keeps its own file (this is a copy)."""
        table = table or self.tabs.current_table()
        if table is None:
            return False
        if not path:
            start = os.path.join(self.last_dir, self.tabs.title_of(table).rsplit(".", 1)[0] + ".pvs")
            path, _ = QFileDialog.getSaveFileName(self.window, "Export Phoebus PV table", start, PVS_FILTER)
            if not path:
                return False
            if not os.path.splitext(path)[1]:
                path += ".pvs"
        saved: dict[str, Any] = {}
        stamps: dict[str, str] = {}
        for st in table.states():
            if st.connected and st.value is not None:
                text = value_text(st)
                if st.is_array and not st.is_char_array:
                    saved[st.name] = json.loads(text) if st.native_type == "STRING" else text.split()
                else:
                    saved[st.name] = text
                if st.timestamp:
                    stamps[st.name] = (time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(st.timestamp))
                                       + f".{int((st.timestamp % 1) * 1e9):09d}")
        try:
            write_pvs(path, table.names(), saved, stamps)
        except (OSError, ValueError) as exc:
            self._error("Export PV table", path, getattr(exc, "strerror", None) or str(exc))
            return False
        self._remember(path)
        self.message.emit(f"Exported {len(table.names())} PVs ({len(saved)} values) to {os.path.basename(path)}")
        return True


__all__ = ["FileActions", "read_any_list", "saved_text"]
