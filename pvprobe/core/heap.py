"""Giving the C heap back to the system after a burst (glibc's ``malloc_trim``).

Connecting a very large table allocates and frees a lot at once (batches of
states, search and connection buffers, each PVA channel's first structure);
glibc keeps the freed pages of its arenas resident. One trim once the table has
connected returns them. A no-op where glibc is not the C library.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from typing import Optional

log = logging.getLogger(__name__)

_trim: Optional[object] = None
_looked = False


def _malloc_trim() -> Optional[object]:
    global _trim, _looked
    if not _looked:
        _looked = True
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            fn = libc.malloc_trim
            fn.argtypes, fn.restype = [ctypes.c_size_t], ctypes.c_int
            _trim = fn
        except (OSError, AttributeError):
            _trim = None
    return _trim


def trim() -> bool:
    """Return the C heap's free pages to the system; False where that is not possible."""
    fn = _malloc_trim()
    if fn is None:
        return False
    try:
        fn(0)   # type: ignore[operator]
    except Exception as exc:      # noqa: BLE001  (never fatal)
        log.debug("malloc_trim: %s", exc)
        return False
    return True
