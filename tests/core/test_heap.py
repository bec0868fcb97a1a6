"""pvprobe.core.heap: the C heap's free pages go back to the system after a burst."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

#: Run in a child process: the test's own heap, not whatever earlier tests left free.
CHILD = r"""
import ctypes, sys
import psutil
from pvprobe.core import heap
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
trimmed = heap.trim() if sys.argv[1] == "trim" else None
after = proc.memory_info().rss
print(before, held, after, trimmed)
"""


def _child(mode: str) -> tuple[int, int, int, str]:
    out = subprocess.run([sys.executable, "-c", CHILD, mode], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    before, held, after, trimmed = out.stdout.split()
    return int(before), int(held), int(after), trimmed


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
                    reason="malloc_trim is glibc's")
def test_trim_gives_freed_pages_back():
    mb = 2 ** 20
    before, held, after, trimmed = _child("trim")
    assert held - before > 40 * mb, (before, held)
    assert trimmed == "True" and held - after > 40 * mb, (before, held, after)
    before, held, after, _ = _child("none")          # without the trim the pages stay
    assert held - after < 10 * mb, (before, held, after)
