"""The default protocol of bare names (CA or PVA): a View submenu, saved with the settings.

At start-up the saved choice is applied unless the command line gave
``--default-protocol`` (:func:`pvprobe.core.pvnames.default_protocol_given`): the
command line wins for that run, and the saved choice is written back unchanged
unless the user picks one in the menu.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Optional

from PyQt5.QtCore import QObject
from PyQt5.QtWidgets import QAction, QActionGroup, QMenu

from pvprobe.core import pvnames

#: Menu labels of the protocols.
LABELS = {"ca": "Channel Access (ca://)", "pva": "pvAccess (pva://)"}


def apply_saved_protocol(settings_path: Optional[str] = None) -> str:
    """Start-up, before the command line's names are read: the saved default protocol
    (``window/default_protocol``), unless ``--default-protocol`` gave one. Returns the
    protocol bare names use now. A bad or missing file leaves CA."""
    if not pvnames.default_protocol_given():
        saved = _read_saved(settings_path)
        if saved in pvnames.PROTOCOLS:
            pvnames.set_default_protocol(saved, from_settings=True)
    return pvnames.default_protocol()


def _read_saved(settings_path: Optional[str]) -> str:
    """``window/default_protocol`` of the settings file, read without side effects (the
    main window's :class:`Settings` later checks, warns about and repairs the file)."""
    import configparser

    from .settings import MAX_FILE_BYTES, default_settings_path

    path = settings_path or default_settings_path()
    try:
        if os.path.getsize(path) > MAX_FILE_BYTES:
            return ""
        cp = configparser.ConfigParser(interpolation=None, strict=False)
        cp.read(path, encoding="utf-8")
        return cp.get("window", "default_protocol", fallback="").strip().lower()
    except (OSError, configparser.Error, UnicodeDecodeError):
        return ""


class ProtocolMenu(QObject):
    """"Bare names use" submenu of ``parent_menu``; ``saved`` is what the settings keep."""

    def __init__(self, parent_menu: QMenu, say: Optional[Callable[[str], None]] = None) -> None:
        super().__init__(parent_menu)
        self._say = say
        self.saved = "ca"
        self.menu = parent_menu.addMenu("Bare PV names &use")
        self.menu.setToolTip("The protocol of names typed without ca:// or pva://")
        group = QActionGroup(self)
        self.actions: dict[str, QAction] = {}
        for proto in pvnames.PROTOCOLS:
            act = self.menu.addAction(LABELS[proto])
            act.setCheckable(True)
            act.setActionGroup(group)
            act.triggered.connect(lambda _c=False, p=proto: self.choose(p))
            self.actions[proto] = act
        self._check(pvnames.default_protocol())

    def _check(self, proto: str) -> None:
        act = self.actions.get(proto)
        if act is not None:
            act.setChecked(True)

    def restore(self, saved: str) -> None:
        """Start-up: apply the saved choice, unless the command line gave one."""
        self.saved = saved if saved in pvnames.PROTOCOLS else "ca"
        if not pvnames.default_protocol_given():
            pvnames.set_default_protocol(self.saved, from_settings=True)
        self._check(pvnames.default_protocol())

    def choose(self, proto: str) -> None:
        """The user's choice: used from now on and saved."""
        pvnames.set_default_protocol(proto, from_settings=True)
        self.saved = proto
        self._check(proto)
        if self._say is not None:
            self._say(f"Bare PV names now use {LABELS[proto]}")

    @property
    def current(self) -> str:
        return pvnames.default_protocol()


__all__ = ["ProtocolMenu", "LABELS", "apply_saved_protocol"]
