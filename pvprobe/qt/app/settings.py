"""Persistent settings (QSettings, INI format): window layout, open tabs, palette, recent files.

Everything is read defensively. The file may be hand-edited, truncated, full of
random bytes, hold values of the wrong type or absurdly long lists: every read
checks the type and range and falls back to the default, and the first problems
are collected in :attr:`Settings.warnings` (one line each) for the status bar.
Nothing here raises on bad content.

Stored (all values are plain strings/ints so the file stays readable; binary
layout blobs are base64 text, never ``@ByteArray``/``@Variant``)::

    [window]  geometry, state (base64), palette, confirm_puts, theme, read_only, default_protocol
    [session] tab_count, current_tab
    [tab0]    title, names (one per line), header (base64), path
    [recent]  files (one path per line)
    [names]   gateway_status (gateway status prefixes, one per line; kept as set)
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from PyQt5.QtCore import QSettings

from pvprobe.core.colors import ALARM_PALETTES
from pvprobe.core.colors import THEMES as COLOUR_THEMES
from pvprobe.core.paths import settings_file
from pvprobe.core.pvnames import pv_name_error

ORGANISATION = "pvprobe"
APPLICATION = "pvprobe"
#: Environment variable naming another settings file (tests, several set-ups).
SETTINGS_ENV = "PVPROBE_SETTINGS"

PALETTES = ALARM_PALETTES
THEMES = COLOUR_THEMES
MAX_TABS = 50
MAX_NAMES_PER_TAB = 100_000
MAX_RECENT = 10
MAX_TITLE = 80
MAX_PATH = 4096
#: Base64 text of a geometry/header blob longer than this is ignored.
MAX_BLOB_CHARS = 64 * 1024
#: A settings file larger than this (or with NUL bytes) is moved aside unread.
MAX_FILE_BYTES = 16 * 1024 * 1024
#: Warnings kept (the rest are counted).
MAX_WARNINGS = 5
#: Keys the session does not own, kept as they are when it is saved (gateway status
#: prefixes, whether servers' channel lists refresh by themselves: pvprobe.qt.app.name_finder).
KEPT_KEYS = ("names/gateway_status", "names/server_lists")


@dataclass
class TabSettings:
    """One tab of the saved session."""

    title: str = "PVs"
    names: list[str] = field(default_factory=list)
    header: Optional[bytes] = None
    path: Optional[str] = None


@dataclass
class Session:
    """Everything restored at start and saved at close."""

    geometry: Optional[bytes] = None
    window_state: Optional[bytes] = None
    tabs: list[TabSettings] = field(default_factory=list)
    current_tab: int = 0
    palette: str = "default"
    confirm_puts: bool = True
    recent_files: list[str] = field(default_factory=list)
    theme: str = "light"
    #: Set by hand (or --read-only) for screens that must only watch; never cleared by the app.
    read_only: bool = False
    #: The protocol of bare PV names ("ca" or "pva"; --default-protocol wins for one run).
    default_protocol: str = "ca"


def default_settings_path() -> str:
    """The settings file used when none is given: $PVPROBE_SETTINGS, else the per-user
    one (:func:`pvprobe.core.paths.settings_file`: ``~/.config/pvprobe/pvprobe.ini`` on
    Linux, where Qt kept it; the platform's own place on macOS and Windows)."""
    env = os.environ.get(SETTINGS_ENV)
    if env:
        return env
    return str(settings_file())


def reset_settings(path: Optional[str] = None) -> Optional[str]:
    """``--reset-settings``: delete the settings file. Returns the path removed, or
    None when there was none. Raises OSError only if it exists and cannot be removed."""
    p = Path(path or default_settings_path())
    try:
        p.unlink()
    except FileNotFoundError:
        return None
    return str(p)


def _b64(data: Optional[bytes]) -> str:
    return base64.b64encode(bytes(data)).decode("ascii") if data else ""


class Settings:
    """QSettings-backed persistence; ``path`` None means the per-user default file."""

    def __init__(self, path: Optional[str | os.PathLike] = None) -> None:
        self.path = str(path) if path else default_settings_path()
        self.warnings: list[str] = []
        self._dropped = 0
        self._check_file()
        self.qs = QSettings(self.path, QSettings.IniFormat)

    # -- warnings ------------------------------------------------------------------------
    def warn(self, text: str) -> None:
        if len(self.warnings) < MAX_WARNINGS:
            self.warnings.append(text)
        else:
            self._dropped += 1

    def warning_text(self) -> str:
        """All warnings as one status-bar line ('' when none)."""
        if not self.warnings:
            return ""
        more = f"; and {self._dropped} more" if self._dropped else ""
        return "Settings: " + "; ".join(self.warnings) + more + " (defaults used)"

    def _check_file(self) -> None:
        """A huge or binary file is moved aside (``.damaged``) before QSettings reads it."""
        p = Path(self.path)
        try:
            size = p.stat().st_size
        except OSError:
            return      # no file yet: defaults, no warning
        reason = ""
        if size > MAX_FILE_BYTES:
            reason = f"{size} bytes, more than {MAX_FILE_BYTES}"
        else:
            try:
                data = p.read_bytes()
            except OSError as exc:
                self.warn(f"cannot read {p}: {exc.strerror or exc}")
                return
            if b"\x00" in data:
                reason = "binary data"
            else:
                try:
                    data.decode("utf-8")
                except UnicodeDecodeError:
                    reason = "not UTF-8 text"
        if reason:
            aside = p.with_name(p.name + ".damaged")
            try:
                os.replace(p, aside)
                self.warn(f"{p} was damaged ({reason}); kept as {aside.name}")
            except OSError as exc:
                self.warn(f"{p} is damaged ({reason}) and could not be moved: {exc.strerror or exc}")

    # -- typed reads ----------------------------------------------------------------------
    def _raw(self, key: str) -> Any:
        try:
            return self.qs.value(key)
        except Exception as exc:  # a broken @Variant must not stop the app
            self.warn(f"{key}: unreadable ({exc.__class__.__name__})")
            return None

    def get_str(self, key: str, default: str = "", max_len: int = MAX_PATH) -> str:
        v = self._raw(key)
        if v is None:
            return default
        if not isinstance(v, str):
            self.warn(f"{key}: expected text, found {type(v).__name__}")
            return default
        if len(v) > max_len:
            self.warn(f"{key}: longer than {max_len} characters")
            return default
        return v

    def get_bool(self, key: str, default: bool) -> bool:
        v = self._raw(key)
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.strip().lower() in ("true", "1", "yes", "on"):
            return True
        if isinstance(v, str) and v.strip().lower() in ("false", "0", "no", "off"):
            return False
        self.warn(f"{key}: expected true/false, found {str(v)[:20]!r}")
        return default

    def get_int(self, key: str, default: int, lo: int, hi: int) -> int:
        v = self._raw(key)
        if v is None:
            return default
        try:
            if isinstance(v, bool) or not isinstance(v, (int, str)):
                raise ValueError
            n = int(v)
        except (ValueError, OverflowError):
            self.warn(f"{key}: expected a number, found {str(v)[:20]!r}")
            return default
        if not lo <= n <= hi:
            self.warn(f"{key}: {n} outside {lo}..{hi}")
            return min(max(n, lo), hi)
        return n

    def get_blob(self, key: str) -> Optional[bytes]:
        text = self.get_str(key, "", MAX_BLOB_CHARS)
        if not text:
            return None
        try:
            return base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            self.warn(f"{key}: not valid base64")
            return None

    def get_lines(self, key: str, limit: int) -> list[str]:
        """A newline-separated list, at most ``limit`` entries (the rest dropped, with a warning)."""
        v = self._raw(key)
        if v is None:
            return []
        if isinstance(v, list) and all(isinstance(x, str) for x in v):
            items = v      # a comma list written by hand or by another version
        elif isinstance(v, str):
            items = v.split("\n")
        else:
            self.warn(f"{key}: expected a list of text, found {type(v).__name__}")
            return []
        items = [x.strip() for x in items if x.strip()]
        if len(items) > limit:
            self.warn(f"{key}: {len(items)} entries, only the first {limit} kept")
            items = items[:limit]
        return items

    # -- session -------------------------------------------------------------------------
    def palette(self) -> str:
        p = self.get_str("window/palette", "default", 40)
        if p not in PALETTES:
            self.warn(f"window/palette: unknown palette {p[:20]!r}")
            return "default"
        return p

    def confirm_puts(self) -> bool:
        return self.get_bool("window/confirm_puts", True)

    def recent_files(self) -> list[str]:
        return [p for p in self.get_lines("recent/files", MAX_RECENT * 10)
                if len(p) <= MAX_PATH][:MAX_RECENT]

    def add_recent(self, path: str) -> list[str]:
        """Put ``path`` first in the recent files (saved at once)."""
        path = os.path.abspath(path)
        files = [path] + [p for p in self.recent_files() if p != path]
        files = files[:MAX_RECENT]
        self.qs.setValue("recent/files", "\n".join(files))
        self.sync()
        return files

    def load_tabs(self) -> tuple[list[TabSettings], int]:
        count = self.get_int("session/tab_count", 0, 0, MAX_TABS)
        tabs: list[TabSettings] = []
        bad_names = 0
        for i in range(count):
            g = f"tab{i}/"
            title = self.get_str(g + "title", "", MAX_TITLE).strip() or f"PVs {i + 1}"
            names = []
            for n in self.get_lines(g + "names", MAX_NAMES_PER_TAB):
                if pv_name_error(n):
                    bad_names += 1
                else:
                    names.append(n)
            path = self.get_str(g + "path", "", MAX_PATH) or None
            tabs.append(TabSettings(title=title, names=list(dict.fromkeys(names)),
                                    header=self.get_blob(g + "header"), path=path))
        if bad_names:
            self.warn(f"{bad_names} invalid PV name{'s' if bad_names != 1 else ''} in saved tabs ignored")
        current = self.get_int("session/current_tab", 0, 0, max(0, len(tabs) - 1)) if tabs else 0
        return tabs, current

    def load(self) -> Session:
        """The saved session, validated; problems are in :attr:`warnings`."""
        s = Session()
        s.geometry = self.get_blob("window/geometry")
        s.window_state = self.get_blob("window/state")
        s.palette = self.palette()
        s.confirm_puts = self.confirm_puts()
        s.recent_files = self.recent_files()
        theme = self.get_str("window/theme", "light", 20)
        if theme not in THEMES:
            self.warn(f"window/theme: unknown theme {theme[:20]!r}")
            theme = "light"
        s.theme = theme
        s.read_only = self.get_bool("window/read_only", False)
        proto = self.get_str("window/default_protocol", "ca", 20).lower()
        if proto not in ("ca", "pva"):
            self.warn(f"window/default_protocol: unknown protocol {proto[:20]!r} (ca or pva)")
            proto = "ca"
        s.default_protocol = proto
        s.tabs, s.current_tab = self.load_tabs()
        return s

    def save(self, s: Session) -> bool:
        """Replace the whole file with ``s`` (stale or garbage keys go; :data:`KEPT_KEYS`,
        set by hand or by their own dialogs, stay). True if written."""
        qs = self.qs
        kept = {k: qs.value(k) for k in KEPT_KEYS if qs.contains(k)}
        qs.clear()
        for key, value in kept.items():
            qs.setValue(key, value)
        qs.setValue("window/geometry", _b64(s.geometry))
        qs.setValue("window/state", _b64(s.window_state))
        qs.setValue("window/palette", s.palette if s.palette in PALETTES else "default")
        qs.setValue("window/confirm_puts", "true" if s.confirm_puts else "false")
        qs.setValue("window/theme", s.theme if s.theme in THEMES else "light")
        if s.read_only:
            qs.setValue("window/read_only", "true")
        qs.setValue("window/default_protocol", s.default_protocol if s.default_protocol in ("ca", "pva") else "ca")
        qs.setValue("session/tab_count", len(s.tabs[:MAX_TABS]))
        qs.setValue("session/current_tab", int(s.current_tab))
        for i, t in enumerate(s.tabs[:MAX_TABS]):
            g = f"tab{i}/"
            qs.setValue(g + "title", (t.title or "")[:MAX_TITLE])
            qs.setValue(g + "names", "\n".join(t.names[:MAX_NAMES_PER_TAB]))
            qs.setValue(g + "header", _b64(t.header))
            qs.setValue(g + "path", t.path or "")
        qs.setValue("recent/files", "\n".join(s.recent_files[:MAX_RECENT]))
        return self.sync()

    def sync(self) -> bool:
        self.qs.sync()
        ok = self.qs.status() == QSettings.NoError
        if not ok and self.qs.status() == QSettings.AccessError:
            self.warn(f"cannot write {self.path}")
        return ok


__all__ = ["Settings", "Session", "TabSettings", "reset_settings", "default_settings_path",
           "PALETTES", "SETTINGS_ENV"]
