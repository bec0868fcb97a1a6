"""The table's columns: shown or hidden (the Description column opens NAME.DESC channels
while shown), the header menu, and the header state saved with the session."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable

from PyQt5.QtCore import QByteArray, QPoint
from PyQt5.QtWidgets import QMenu

from .pvtable_model import DESC_SUFFIX, HEADERS, Col

log = logging.getLogger(__name__)

#: The saved header state: this magic and version, then Qt's own state (compressed).
HEADER_MAGIC = b"PVPTHDR"
HEADER_VERSION = 1


class TableColumns:
    """Part of :class:`PVTableWidget` (see the module docstring)."""

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
        if not self._desc_sub.closed:     # pvAccess rows: display.description, no channel
            self._desc_sub.add([c for c in dict.fromkeys(channels)
                                if c not in self._desc_sub and not c.startswith("pva://")])

    def _close_desc(self, names: Iterable[str]) -> None:
        self._desc_sub.remove(n + DESC_SUFFIX for n in names if not n.startswith("pva://"))

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
            # a layout saved before a column was added (Protocol) comes back with it shown
            if raw[n] != HEADER_VERSION or not 0 < raw[n + 1] <= len(HEADERS):
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
