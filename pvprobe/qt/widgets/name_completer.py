"""A name completer for a line edit, fed per keystroke by a function (the window's
:class:`~pvprobe.core.name_index.NameIndex`): prefix matches first, then names
containing the text, shown unfiltered in a popup. With ``multi`` the last token of
a space/comma separated list is completed (the table's add box)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from PyQt5.QtCore import QEvent, QModelIndex, QObject, QStringListModel, Qt
from PyQt5.QtWidgets import QCompleter, QLineEdit

from pvprobe.core.name_index import is_glob

#: Completions shown at most.
LIMIT = 50

_LAST_TOKEN = re.compile(r"[^\s,]*$")


class NameCompleter(QObject):
    """Completion popup for ``edit``; ``complete(text, limit)`` gives the candidates."""

    def __init__(self, edit: QLineEdit, complete: Callable[[str, int], list[str]],
                 multi: bool = False, limit: int = LIMIT) -> None:
        super().__init__(edit)
        self.edit = edit
        self._complete = complete
        self.multi = multi
        self.limit = limit
        #: Seconds the last keystroke's completion took (lookup and popup), for tests/stats.
        self.last_seconds = 0.0
        self.model = QStringListModel(self)
        self.completer = QCompleter(self.model, self)
        self.completer.setWidget(edit)
        self.completer.setCompletionMode(QCompleter.UnfilteredPopupCompletion)
        self.completer.setCaseSensitivity(Qt.CaseSensitive)
        self.completer.setMaxVisibleItems(12)
        self.completer.activated[str].connect(self._insert)
        # ahead of the completer's own filter: Enter on a highlighted name must not
        # reach the box first (QCompleter hands it over, the add box would add the
        # half-typed text, and only then would the name be put in)
        self.completer.popup().installEventFilter(self)
        edit.textEdited.connect(self._on_edited)

    def _token(self, text: str) -> str:
        return _LAST_TOKEN.search(text).group(0) if self.multi else text.strip()

    def _on_edited(self, text: str) -> None:
        t0 = time.perf_counter()
        token = self._token(text)
        hits = [] if not token or is_glob(token) else self._complete(token, self.limit)
        if not hits or hits == [token]:
            self.completer.popup().hide()
        else:
            self.model.setStringList(hits)
            self.completer.complete()
            self.completer.popup().setCurrentIndex(QModelIndex())     # nothing picked until Down
        self.last_seconds = time.perf_counter() - t0

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        """Enter on a highlighted name in the popup picks it (and nothing else)."""
        if (event.type() == QEvent.KeyPress and event.key() in (Qt.Key_Return, Qt.Key_Enter)
                and obj is self.completer.popup() and obj.isVisible()):
            index = obj.currentIndex()
            if index.isValid():
                obj.hide()
                self._insert(str(index.data()))
                return True
        return False

    def _insert(self, choice: str) -> None:
        """Put the chosen name in place of the token being typed; a one-name box (probe,
        image source) then opens it, the add box waits for more names or Enter."""
        text = self.edit.text()
        if self.multi:
            head = text[: len(text) - len(self._token(text))]
            self.edit.setText(head + choice)
        else:
            self.edit.setText(choice)
            self.edit.returnPressed.emit()

    def candidates(self) -> list[str]:
        """What the popup offers now."""
        return self.model.stringList()

    def popup_visible(self) -> bool:
        return self.completer.popup().isVisible()


def attach_completer(edit: QLineEdit, complete: Callable[[str, int], list[str]],
                     multi: bool = False) -> NameCompleter:
    """A :class:`NameCompleter` on ``edit`` (once: a second call returns the first)."""
    existing = getattr(edit, "name_completer", None)
    if isinstance(existing, NameCompleter):
        return existing
    edit.name_completer = NameCompleter(edit, complete, multi)  # type: ignore[attr-defined]
    return edit.name_completer  # type: ignore[attr-defined]
