"""Per-user file locations (settings, put log), from ``platformdirs``.

On Linux these are where pvprobe always kept them — ``$XDG_CONFIG_HOME`` or
``~/.config``, and ``$XDG_DATA_HOME`` or ``~/.local/share`` — so nothing moves
for existing users. macOS and Windows get their native places:

==========  ==========================================  =========================================
            settings (``pvprobe.ini``)                  put log (``putlog.jsonl``)
==========  ==========================================  =========================================
Linux       ``~/.config/pvprobe/``                      ``~/.local/share/pvprobe/``
macOS       ``~/Library/Application Support/pvprobe/``  ``~/Library/Application Support/pvprobe/``
Windows     ``%APPDATA%\\pvprobe\\`` (roaming, as Qt)     ``%LOCALAPPDATA%\\pvprobe\\``
==========  ==========================================  =========================================

Qt kept the settings of macOS users in ``~/.config/pvprobe/pvprobe.ini``; that file
is still used while the native one does not exist. The environment overrides
(``PVPROBE_SETTINGS``, ``PVPROBE_PUTLOG``) are applied by the callers.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "pvprobe"
SETTINGS_FILE_NAME = "pvprobe.ini"
PUTLOG_FILE_NAME = "putlog.jsonl"


def _home_based(*parts: str) -> Path:
    """``~/parts.../pvprobe`` as ``os.path.expanduser`` sees it: the fallback when
    platformdirs cannot find a home directory (it raises; a put must still be logged)."""
    return Path(os.path.expanduser("~"), *parts, APP_NAME)


def config_dir() -> Path:
    """The per-user configuration directory (``~/.config/pvprobe`` on Linux)."""
    try:
        # appauthor=False: no vendor level on Windows; roaming: where Qt kept the file there.
        return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False, roaming=True))
    except RuntimeError:
        return _home_based(".config")


def data_dir() -> Path:
    """The per-user data directory (``~/.local/share/pvprobe`` on Linux)."""
    try:
        return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    except RuntimeError:
        return _home_based(".local", "share")


def legacy_settings_file() -> Path:
    """Where Qt's ``QSettings`` (INI, user scope) put the file on macOS."""
    return Path.home() / ".config" / APP_NAME / SETTINGS_FILE_NAME


def settings_file_in(directory: Path, platform: str = sys.platform) -> Path:
    """``pvprobe.ini`` in ``directory``, except on macOS when only the file Qt used
    before exists: then that one, so nobody loses their settings."""
    native = directory / SETTINGS_FILE_NAME
    if platform == "darwin" and not native.exists():
        legacy = legacy_settings_file()
        if legacy.is_file():
            return legacy
    return native


def settings_file() -> Path:
    """The default settings file (no override)."""
    return settings_file_in(config_dir())


def putlog_file() -> Path:
    """The default put log file (no override)."""
    return data_dir() / PUTLOG_FILE_NAME
