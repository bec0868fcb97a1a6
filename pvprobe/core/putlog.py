"""The put log: one JSON line per put made from pvprobe, appended and flushed, never rewritten.

Answers "who changed this PV, when, from what": each line holds the ISO time
(local, with UTC offset), PV, old value, new value, result ("ok" or the error),
where the put came from (``table``, ``probe``, ``restore``, ``cli``, ``app``),
the user and the host. The file lives in the user's data directory
(:mod:`pvprobe.core.paths`): on Linux ``$XDG_DATA_HOME/pvprobe/putlog.jsonl``
(default ``~/.local/share/pvprobe/``), on macOS ``~/Library/Application
Support/pvprobe/``, on Windows ``%LOCALAPPDATA%\\pvprobe\\``;
``PVPROBE_PUTLOG`` names another file.

Each call opens the file in append mode, writes whole lines, flushes and
fsyncs, and closes it: a crash loses nothing already reported, and several
pvprobe processes can append to the same file (O_APPEND). Plain Python.
"""

from __future__ import annotations

import datetime as _dt
import getpass
import json
import math
import os
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Optional

import numpy as np

from . import paths

ENV_VAR = "PVPROBE_PUTLOG"
FILE_NAME = paths.PUTLOG_FILE_NAME
#: Arrays longer than this are logged as a summary, not element by element.
MAX_LOGGED_ELEMENTS = 1000


def putlog_path() -> Path:
    """Where the put log is written: ``PVPROBE_PUTLOG``, else the user's data directory
    (``$XDG_DATA_HOME`` or ``~/.local/share``, then ``pvprobe/putlog.jsonl`` on Linux)."""
    override = os.environ.get(ENV_VAR)
    if override:
        return Path(override).expanduser()
    return paths.putlog_file()


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry, no LOGNAME
        return ""


def jsonable(value: Any, enum_strs: Sequence[str] = ()) -> Any:
    """A JSON-friendly copy of a PV value: numpy to lists, bytes to text, NaN as a string,
    enum indices with their state (``"On (2)"``), long arrays summarised."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        if value.size > MAX_LOGGED_ELEMENTS:
            head = " ".join(str(jsonable(v)) for v in value.ravel()[:8])
            return f"[{value.size} elements] {head} ..."
        return [jsonable(v) for v in value.ravel().tolist()]
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_LOGGED_ELEMENTS:
            head = " ".join(str(jsonable(v)) for v in value[:8])
            return f"[{len(value)} elements] {head} ..."
        return [jsonable(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        i = int(value)
        if enum_strs and 0 <= i < len(enum_strs):
            return f"{enum_strs[i]} ({i})"
        return i
    if isinstance(value, (float, np.floating)):
        f = float(value)
        return f if math.isfinite(f) else repr(f)
    if isinstance(value, str):
        if enum_strs and value in enum_strs:
            return f"{value} ({list(enum_strs).index(value)})"
        return value
    return str(value)


def make_entry(pv: str, old: Any, new: Any, ok: bool, error: str = "", source: str = "app",
               seconds: Optional[float] = None, enum_strs: Sequence[str] = (),
               when: Optional[_dt.datetime] = None) -> dict:
    """One put-log record (a dict, one JSON line)."""
    when = when or _dt.datetime.now().astimezone()
    entry = {
        "time": when.isoformat(timespec="microseconds"),
        "pv": pv,
        "old": jsonable(old, enum_strs),
        "new": jsonable(new, enum_strs),
        "result": "ok" if ok else (error or "failed"),
        "ok": bool(ok),
        "source": source,
        "user": _user(),
        "host": socket.gethostname(),
    }
    if seconds is not None:
        entry["seconds"] = round(float(seconds), 6)
    return entry


class PutLog:
    """Appends put records to the log file. ``path=None`` resolves :func:`putlog_path`
    at every write, so the environment may change after construction."""

    def __init__(self, path: Optional[os.PathLike | str] = None, fsync: bool = True) -> None:
        self._path = Path(path) if path is not None else None
        self.fsync = fsync
        self.written = 0

    @property
    def path(self) -> Path:
        return self._path if self._path is not None else putlog_path()

    def append_entries(self, entries: Iterable[dict]) -> int:
        """Append records, one JSON line each, flushed (and fsynced) before returning."""
        lines = [json.dumps(e, ensure_ascii=False, separators=(", ", ": ")) + "\n" for e in entries]
        if not lines:
            return 0
        path = self.path
        path.parent.mkdir(parents=True, exist_ok=True)
        # one write per line: a crash between lines leaves whole lines only
        with open(path, "a", encoding="utf-8") as f:
            for line in lines:
                f.write(line)
                f.flush()
            if self.fsync:
                try:
                    os.fsync(f.fileno())
                except OSError:
                    pass
        self.written += len(lines)
        return len(lines)

    def append(self, pv: str, old: Any, new: Any, ok: bool, error: str = "", source: str = "app",
               seconds: Optional[float] = None, enum_strs: Sequence[str] = ()) -> dict:
        """Append one put; returns the record written."""
        entry = make_entry(pv, old, new, ok, error, source, seconds, enum_strs)
        self.append_entries([entry])
        return entry


def read_putlog(path: Optional[os.PathLike | str] = None) -> list[dict]:
    """Every complete record of a put log (a torn last line, from a crash mid-write, is skipped)."""
    p = Path(path) if path is not None else putlog_path()
    out: list[dict] = []
    try:
        with open(p, encoding="utf-8") as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
    except FileNotFoundError:
        return []
    return out
