"""pvprobe.core.heap: the C heap's free pages go back to the system after a burst."""

from __future__ import annotations

import ctypes
import platform

import psutil
import pytest

from pvprobe.core import heap


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_trim_gives_freed_pages_back():
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallopt(-1, 1 << 30)       # M_TRIM_THRESHOLD: free() itself gives nothing back
    proc = psutil.Process()
    before = proc.memory_info().rss
    blocks = [libc.malloc(4000) for _ in range(20000)]      # ~80 MB of small blocks
    for b in blocks:
        ctypes.memset(b, 1, 4000)
    keep = libc.malloc(64)                                 # on top: the heap cannot shrink by itself
    for b in blocks:
        libc.free(b)
    held = proc.memory_info().rss
    assert held - before > 40 * 2 ** 20, (before, held)
    assert heap.trim()
    after = proc.memory_info().rss
    libc.free(keep)
    assert held - after > 40 * 2 ** 20, (before, held, after)
