"""Building menu actions: one call per action instead of four lines each."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Optional, Union

from PyQt5.QtCore import QObject, Qt
from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QAction, QActionGroup, QMenu

Shortcut = Union[str, QKeySequence, QKeySequence.StandardKey, Qt.Key]


def make_action(parent: QObject, text: str, slot: Callable[[], Any],
                shortcut: Union[Shortcut, Sequence[Shortcut], None] = None,
                context: Optional[Qt.ShortcutContext] = None, tip: str = "") -> QAction:
    """A QAction of ``parent`` that calls ``slot()`` (without the ``checked`` argument)
    when triggered; ``shortcut`` is one key sequence or a list of them, ``context``
    its scope (Qt.WindowShortcut by default), ``tip`` the tool tip."""
    action = QAction(text, parent)
    if shortcut is not None:
        keys = shortcut if isinstance(shortcut, (list, tuple)) else [shortcut]
        action.setShortcuts([QKeySequence(k) for k in keys])
    if context is not None:
        action.setShortcutContext(context)
    if tip:
        action.setToolTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


def choice_actions(menu: QMenu, parent: QObject, choices: Iterable[tuple[str, str]],
                   choose: Callable[[str], Any], current: str) -> dict[str, QAction]:
    """One checkable, mutually exclusive action in ``menu`` per (key, label) of
    ``choices``; picking one calls ``choose(key)``. ``current`` starts checked (the
    first key when ``current`` is not among them). Returns the actions by key."""
    group = QActionGroup(parent)
    actions: dict[str, QAction] = {}
    for key, label in choices:
        act = menu.addAction(label)
        act.setCheckable(True)
        act.setActionGroup(group)
        act.triggered.connect(lambda _c=False, k=key: choose(k))
        actions[key] = act
    if actions:
        actions.get(current, next(iter(actions.values()))).setChecked(True)
    return actions


def fill_menu(menu: QMenu, entries: Iterable[Union[QAction, QMenu, None]]) -> None:
    """Add ``entries`` to ``menu`` in order: actions, submenus, and None for a separator."""
    for entry in entries:
        if entry is None:
            menu.addSeparator()
        elif isinstance(entry, QMenu):
            menu.addMenu(entry)
        else:
            menu.addAction(entry)


__all__ = ["make_action", "choice_actions", "fill_menu"]
