"""Fixed-memory history of one scalar PV: (time, value, severity) samples.

Preallocated numpy arrays; memory never grows after construction (or after an
explicit :meth:`RingBuffer.resize`). A disconnection is recorded as a sample
whose value is NaN (severity :data:`SEV_DISCONNECTED`), so a plot drawing with
``connect="finite"`` never draws a line across it.

Layout: the arrays are ``capacity + slack`` long and the live samples are always
one contiguous slice ``[start, end)``; when the end is reached the newest
``capacity`` samples are moved to the front (amortised O(1) per sample). So
:meth:`view` and :meth:`window` return numpy *views*, never copies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Optional

import numpy as np

#: Severity stored for a gap (the channel was disconnected).
SEV_DISCONNECTED = 4
#: Bytes stored per sample: float64 time + float64 value + int8 severity.
BYTES_PER_SAMPLE = 8 + 8 + 1
#: Extra room, as a fraction of the capacity, that makes appends amortised O(1).
SLACK_FRACTION = 0.5
MIN_CAPACITY = 16


def capacity_for(span_s: float, rate_hz: float, margin: float = 1.25,
                 max_samples: int = 2_000_000) -> int:
    """Samples needed to hold ``span_s`` seconds at ``rate_hz`` (with ``margin``), clamped."""
    if not (span_s > 0 and rate_hz > 0):
        raise ValueError("span and rate must be positive")
    n = int(math.ceil(span_s * rate_hz * margin))
    return max(MIN_CAPACITY, min(int(max_samples), n))


def bytes_for(capacity: int) -> int:
    """Memory a :class:`RingBuffer` of ``capacity`` samples allocates (arrays only)."""
    return _size_for(capacity) * BYTES_PER_SAMPLE


def shared_capacity(history_s: float, rate_hz: float, rings: int, memory_budget: int,
                    max_samples: int = 2_000_000, min_capacity: int = 1000) -> int:
    """Samples per ring when each of ``rings`` rings should hold ``history_s`` seconds at
    ``rate_hz``, but all of them together stay within ``memory_budget`` bytes (then
    each holds less time; never fewer than ``min_capacity`` samples)."""
    by_budget = max(min_capacity, int(memory_budget // max(1, rings) // bytes_for(1000) * 1000))
    return min(capacity_for(history_s, rate_hz, max_samples=max_samples), by_budget)


def memory_text(capacity: int, rate_hz: float, rings: int) -> str:
    """One line saying what ``rings`` rings of ``capacity`` samples hold and take."""
    per = bytes_for(capacity)
    return (f"History: fixed ring of {capacity:,} samples per PV ≈ {span_text(capacity / rate_hz)} "
            f"at {rate_hz:g} Hz · {per / 1024:,.0f} KiB per PV · {rings} PVs = "
            f"{per * rings / 2 ** 20:,.1f} MiB (oldest overwritten, never grows)")


def span_text(seconds: float) -> str:
    """A time span in the largest unit that fits: "90 s", "10 min", "24 h"."""
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    if seconds >= 60:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _size_for(capacity: int) -> int:
    return capacity + max(MIN_CAPACITY, int(capacity * SLACK_FRACTION))


class RingBuffer:
    """The newest ``capacity`` samples of one PV, in arrival order.

    Samples should arrive in time order (IOC timestamps of one PV normally do);
    if one goes back in time :attr:`monotonic` becomes False and :meth:`window`
    falls back to a mask instead of a binary search.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self._alloc(int(capacity))
        self.total = 0            # samples ever appended (gaps included)
        self.dropped = 0          # samples pushed out by newer ones

    def _alloc(self, capacity: int) -> None:
        self.capacity = capacity
        size = _size_for(capacity)
        self._t = np.zeros(size, np.float64)
        self._v = np.zeros(size, np.float64)
        self._s = np.zeros(size, np.int8)
        self._start = 0
        self._end = 0
        self.monotonic = True

    # -- size ------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._end - self._start

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays (fixed for a given capacity)."""
        return self._t.nbytes + self._v.nbytes + self._s.nbytes

    @property
    def last_time(self) -> Optional[float]:
        return float(self._t[self._end - 1]) if self._end > self._start else None

    @property
    def last_is_gap(self) -> bool:
        return self._end > self._start and self._s[self._end - 1] == SEV_DISCONNECTED

    def resize(self, capacity: int) -> None:
        """Reallocate for a new capacity, keeping the newest samples that fit."""
        t, v, s = (a.copy() for a in self.view())
        mono = self.monotonic
        total, dropped = self.total, self.dropped
        self._alloc(int(capacity))
        self.total, self.dropped = 0, 0
        if len(t):
            self.extend(t, v, s)
        self.total = total
        self.dropped = dropped + max(0, len(t) - self.capacity)
        self.monotonic = mono

    def clear(self) -> None:
        self._start = self._end = 0
        self.monotonic = True

    # -- writing -----------------------------------------------------------------------
    def append(self, t: float, value: float, severity: int = 0) -> None:
        """Add one sample (value converted to float; non-numbers become NaN)."""
        self.extend(np.array([t], np.float64), np.array([_to_float(value)], np.float64),
                    np.array([severity], np.int8))

    def add_gap(self, t: Optional[float] = None) -> bool:
        """Record a disconnection: a NaN sample just after the last one (or at ``t``).
        Returns False (and records nothing) if the last sample already is a gap."""
        if self.last_is_gap:
            return False
        last = self.last_time
        if t is None or (last is not None and t <= last):
            t = (last if last is not None else 0.0) + 1e-6
        self.extend(np.array([t], np.float64), np.array([np.nan]), np.array([SEV_DISCONNECTED], np.int8))
        return True

    def pop(self) -> None:
        """Drop the newest sample (e.g. a gap that late samples must precede)."""
        if self._end > self._start:
            self._end -= 1

    def extend(self, t: np.ndarray, v: np.ndarray, sev: np.ndarray) -> None:
        """Add many samples at once (arrays of equal length, time-ordered)."""
        n = len(t)
        if n == 0:
            return
        if not (len(v) == n and len(sev) == n):
            raise ValueError("t, v and severity must have the same length")
        cap = self.capacity
        last = self.last_time
        self.total += n
        if n >= cap:
            self.dropped += len(self) + n - cap
            t, v, sev = t[-cap:], v[-cap:], sev[-cap:]
            self._start, self._end = 0, 0
            n = cap
            last = None
        elif self._end + n > len(self._t):
            keep = min(len(self), cap - n)
            src = slice(self._end - keep, self._end)
            self._t[:keep] = self._t[src]
            self._v[:keep] = self._v[src]
            self._s[:keep] = self._s[src]
            self.dropped += len(self) - keep
            self._start, self._end = 0, keep
        e = self._end
        self._t[e:e + n] = t
        self._v[e:e + n] = v
        self._s[e:e + n] = sev
        if self.monotonic and ((last is not None and t[0] < last) or (n > 1 and np.any(np.diff(t) < 0))):
            self.monotonic = False
        self._end = e + n
        over = self._end - self._start - cap
        if over > 0:
            self._start += over
            self.dropped += over

    def extend_samples(self, samples: Iterable[tuple]) -> int:
        """Append ``(timestamp, value, severity)`` tuples (PVState.samples); returns the count."""
        samples = list(samples)
        if not samples:
            return 0
        t = np.fromiter((s[0] for s in samples), np.float64, len(samples))
        v = np.fromiter((_to_float(s[1]) for s in samples), np.float64, len(samples))
        s = np.fromiter((s[2] for s in samples), np.int8, len(samples))
        self.extend(t, v, s)
        return len(samples)

    # -- reading ------------------------------------------------------------------------
    def view(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(t, value, severity) of every held sample, oldest first. Views: valid until
        the next write; copy what you keep."""
        sl = slice(self._start, self._end)
        return self._t[sl], self._v[sl], self._s[sl]

    def window(self, t0: float, t1: float, pad: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Samples with ``t0 <= t <= t1`` plus ``pad`` samples either side (so a line
        enters and leaves the visible range). Views when the times are monotonic."""
        t, v, s = self.view()
        if not len(t):
            return t, v, s
        if self.monotonic:
            i0 = max(0, int(np.searchsorted(t, t0, "left")) - pad)
            i1 = min(len(t), int(np.searchsorted(t, t1, "right")) + pad)
            return t[i0:i1], v[i0:i1], s[i0:i1]
        m = (t >= t0) & (t <= t1)
        return t[m], v[m], s[m]

    def value_at(self, t: float) -> Optional[tuple[float, float, int]]:
        """The newest sample at or before ``t`` (for a crosshair), or None."""
        tt, v, s = self.view()
        if not len(tt):
            return None
        if self.monotonic:
            i = int(np.searchsorted(tt, t, "right")) - 1
        else:
            before = np.nonzero(tt <= t)[0]
            i = int(before[np.argmax(tt[before])]) if len(before) else -1
        if i < 0:
            return None
        return float(tt[i]), float(v[i]), int(s[i])


def _to_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


__all__ = ["RingBuffer", "capacity_for", "bytes_for", "shared_capacity", "memory_text", "span_text",
           "SEV_DISCONNECTED", "BYTES_PER_SAMPLE"]
