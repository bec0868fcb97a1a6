"""Atomic file writes: a crash mid-write never leaves half a file."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _umask() -> int:
    """The process umask, read without changing it where Linux tells it (setting it
    to read it back would race with files other threads create meanwhile)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(p: Path) -> int:
    """The permission bits the new file gets: those of the file it replaces, else
    what ``open()`` would give (0o666 less the umask), not mkstemp's private 0o600,
    so lists and snapshots stay shareable as before."""
    try:
        return p.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


#: Temporary files of ``path`` older than this are left-overs of a writer that was
#: killed mid-write (a live writer renames its own within a second): removed.
STALE_TMP_S = 600.0


def _remove_stale_temps(p: Path) -> None:
    now = time.time()
    try:
        for old in p.parent.glob(f".{glob.escape(p.name)}.*.tmp"):
            try:
                if now - old.stat().st_mtime > STALE_TMP_S:
                    old.unlink()
            except OSError:
                pass
    except OSError:
        pass


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into: a temporary file beside
    ``path``, fsynced and renamed over it when the block ends without an error,
    removed when it raises (the old file, if any, is then untouched). Keeps the
    replaced file's permissions (a new file gets the umask's). Temporary files a
    killed writer left beside ``path`` are removed once they are stale. For
    writers that stream (a multi-GiB TIFF) rather than build the bytes first."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(p)
    mode = _mode_for(p)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    os.close(fd)
    try:
        with open(tmp, "wb") as fh:     # by name: fh.name is the path, as writers expect
            os.fchmod(fh.fileno(), mode)     # on the open file: a read-only mode still writes
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, fsync, then rename over it
    (see :func:`atomic_file`): a crash mid-write never leaves half a file."""
    with atomic_file(path) as fh:
        fh.write(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))
