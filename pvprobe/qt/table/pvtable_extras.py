"""What the table model shows besides live states, and how: Description (NAME.DESC
states), the Completion of puts, saved (snapshot) values, palette and theme, and names
dragged out as text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Optional

from PyQt5.QtCore import QMimeData, QModelIndex, Qt
from PyQt5.QtGui import QBrush

from pvprobe.core.protocol_text import listed_name

from .pvtable_columns import DESC_SUFFIX, Col
from .table_brushes import PALETTES

_NAME_MIME = "text/plain"


class RowExtras:
    """Part of :class:`PVTableModel` (see the module docstring)."""

    def mimeTypes(self) -> list[str]:
        return [_NAME_MIME]

    def mimeData(self, indexes: Iterable[QModelIndex]) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        md = QMimeData()
        # CA names go out as ca://NAME while bare names mean PVA: a drop reads them back as CA
        md.setText("\n".join(listed_name(self._names[r]) for r in rows if r < len(self._names)))
        return md

    def supportedDragActions(self) -> Qt.DropActions:
        return Qt.CopyAction

    def set_description_enabled(self, enabled: bool) -> list[str]:
        """Accept ``NAME.DESC`` states for the Description column. Returns the DESC
        channel names of the current rows (the caller adds/removes them in the engine). A
        pvAccess row has none: its description comes with its value (display.description)."""
        self._desc_enabled = bool(enabled)
        return [n + DESC_SUFFIX for n in self._names if not n.startswith("pva://")]

    @property
    def description_enabled(self) -> bool:
        return self._desc_enabled

    def set_completion(self, name: str, text: str) -> None:
        """The put status of one row: "", "putting…", "done 12 ms", "failed: reason"."""
        row = self._row.get(name)
        if row is None:
            return
        if text:
            self._completion[name] = text
        else:
            self._completion.pop(name, None)
        idx = self.index(row, Col.COMPLETION)
        self.dataChanged.emit(idx, idx)

    def completion(self, name: str) -> str:
        return self._completion.get(name, "")

    def set_saved_values(self, values: Optional[dict[str, str]]) -> None:
        """Saved (snapshot) values by PV name, as text; None forgets them."""
        self._saved = None if values is None else {str(k): "" if v is None else str(v)
                                                   for k, v in values.items()}
        self._all_changed()

    @property
    def has_saved_values(self) -> bool:
        return self._saved is not None

    def set_palette(self, name: str) -> None:
        """'default' (yellow/red/purple) or 'colorblind' (Okabe–Ito)."""
        if name not in PALETTES:
            raise ValueError(f"unknown palette {name!r} (one of {', '.join(PALETTES)})")
        if name != self._palette:
            self._palette = name
            self._apply_colours()

    def set_theme(self, name: str) -> None:
        """Colours for the 'light' or 'dark' theme (alarm colours stay readable on both)."""
        if name != self._theme:
            self._theme = name
            self._apply_colours()

    def _apply_colours(self) -> None:
        from ..style.theme import table_colors

        tc = table_colors(self._theme, self._palette)
        self._brushes = {k: (QBrush(bg), QBrush(fg)) for k, (bg, fg) in tc.alarm.items()}
        self._grey, self._disc_bg = QBrush(tc.disconnected_fg), QBrush(tc.disconnected_bg)
        self._diff_bg = QBrush(tc.diff_bg)
        self._failed_fg, self._done_fg = QBrush(tc.failed_fg), QBrush(tc.done_fg)
        self._all_changed()

    @property
    def palette_name(self) -> str:
        return self._palette

    @property
    def theme_name(self) -> str:
        return self._theme
