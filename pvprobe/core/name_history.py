"""The names an operator used before, kept in a local file for completion.

One line per name, ``<unix time>\\t<name>`` under a header line, newest last; at
most :data:`MAX_NAMES` (the oldest go first). Writes are atomic and merge what
another pvprobe wrote meanwhile (newest time wins), so two windows do not undo
each other. A file that cannot be read as such (not text, no header, bad lines)
is never overwritten: it is copied aside as ``<file>.damaged-<time>`` with a
message, its good lines are kept, and the next write starts from those.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Optional

from .atomic import atomic_write_text
from .paths import data_dir
from .pvnames import pv_name_error

HEADER = "# pvprobe name history 1"
FILE_NAME = "names.history"
#: Names kept; each costs ~100 bytes in the file.
MAX_NAMES = 20000
#: A history bigger than this is not read (a wrong file given by mistake).
MAX_FILE_BYTES = 16 * 2 ** 20


def history_file() -> Path:
    """The default history file (``$PVPROBE_HISTORY`` overrides)."""
    env = os.environ.get("PVPROBE_HISTORY")
    return Path(env) if env else data_dir() / FILE_NAME


class NameHistory:
    """The used names and their last use; :attr:`problems` says what could not be read."""

    def __init__(self, path: Optional[Path] = None, max_names: int = MAX_NAMES) -> None:
        self.path = Path(path) if path is not None else history_file()
        self.max_names = max_names
        self._last: dict[str, float] = {}
        self.problems: list[str] = []
        self._dirty = False
        self._aside: Optional[Path] = None     # the copy of a damaged file made this session

    # ------------------------------------------------------------------ reading

    def load(self) -> NameHistory:
        """Read the file (a missing one is an empty history). Problems go to
        :attr:`problems`; a damaged file is copied aside first."""
        self.problems = []
        entries, bad = self._read(self.path)
        if bad:
            self._set_aside(bad)
        self._last = self._newest(entries)
        return self

    def _read(self, path: Path) -> tuple[dict[str, float], str]:
        """(name -> time, why the file is damaged or "")."""
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return {}, ""
        except OSError as exc:
            return {}, f"cannot read it: {exc.strerror or exc}"
        if size > MAX_FILE_BYTES:
            return {}, f"it is {size} bytes, more than a history can be ({MAX_FILE_BYTES})"
        try:
            raw = path.read_bytes()
        except OSError as exc:
            return {}, f"cannot read it: {exc.strerror or exc}"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("utf-8", errors="replace")
            return self._parse(text)[0], "it is not UTF-8 text"
        entries, bad_lines, header = self._parse(text)
        if not header and text.strip():
            return entries, "it has no history header"
        if bad_lines:
            return entries, f"{bad_lines} line(s) are not 'time<TAB>name'"
        return entries, ""

    @staticmethod
    def _parse(text: str) -> tuple[dict[str, float], int, bool]:
        entries: dict[str, float] = {}
        bad = 0
        lines = text.splitlines()
        header = bool(lines) and lines[0].strip() == HEADER
        for line in lines[1 if header else 0:]:
            if not line.strip() or line.startswith("#"):
                continue
            t, sep, name = line.partition("\t")
            name = name.strip()
            try:
                when = float(t)
            except ValueError:
                bad += 1
                continue
            if not sep or pv_name_error(name) or when != when:
                bad += 1
                continue
            if when > entries.get(name, -1.0):
                entries[name] = when
        return entries, bad, header

    def _set_aside(self, why: str) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        try:
            shutil.copy2(self.path, aside)
            self._aside = aside
            self.problems.append(f"name history {self.path}: {why}; a copy was kept as {aside} "
                                 f"and the readable names are used")
        except OSError as exc:
            self.problems.append(f"name history {self.path}: {why}; it could not be copied aside "
                                 f"({exc.strerror or exc}), so it will not be written this session")
            self.path = Path(os.devnull)

    def _newest(self, entries: dict[str, float]) -> dict[str, float]:
        if len(entries) <= self.max_names:
            return entries
        keep = sorted(entries.items(), key=lambda kv: kv[1])[-self.max_names:]
        return dict(keep)

    # ------------------------------------------------------------------ use

    def names(self) -> list[str]:
        """The names, most recently used first."""
        return [n for n, _ in sorted(self._last.items(), key=lambda kv: kv[1], reverse=True)]

    def __len__(self) -> int:
        return len(self._last)

    def remember(self, names: Iterable[str], when: Optional[float] = None) -> int:
        """Note these names as used now; returns how many were good names."""
        t = time.time() if when is None else when
        n = 0
        for name in names:
            name = name.strip()
            if name and not pv_name_error(name):
                self._last[name] = t
                n += 1
        if n:
            self._dirty = True
            if len(self._last) > self.max_names:
                self._last = self._newest(self._last)
        return n

    def save(self) -> None:
        """Write atomically, merged with what the file holds now (another window may
        have written since); nothing to do when nothing changed."""
        if not self._dirty or self.path == Path(os.devnull):
            return
        on_disk, bad = self._read(self.path)
        if bad and self._aside is None:   # damaged since we read it: keep it aside first
            self._set_aside(bad)
        merged = dict(on_disk)
        for name, t in self._last.items():
            if t > merged.get(name, -1.0):
                merged[name] = t
        merged = self._newest(merged)
        lines = [HEADER] + [f"{t:.3f}\t{n}" for n, t in sorted(merged.items(), key=lambda kv: kv[1])]
        atomic_write_text(self.path, "\n".join(lines) + "\n")
        self._last = merged
        self._dirty = False
