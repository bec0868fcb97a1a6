"""Running statistics of one PV's values and a bounded ring of recent ones (sparkline).

Welford's algorithm: one pass, numerically stable, O(1) per value. Plain Python.
"""

from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

#: Recent values kept for the sparkline.
DEFAULT_RING = 600
#: Seconds over which the update rate is measured.
RATE_WINDOW = 10.0


def as_number(value: Any) -> Optional[float]:
    """A float for numeric scalars (bool/int/float/numpy), None for anything else."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "biuf":
        return float(value.reshape(-1)[0])
    return None


@dataclass
class Stats:
    """A snapshot of the running statistics."""

    count: int = 0
    min: float = math.nan
    max: float = math.nan
    mean: float = math.nan
    std: float = math.nan      # sample standard deviation (n - 1); 0 for one value
    skipped: int = 0           # NaN/inf values seen (not in the statistics)


class RunningStats:
    """min, max, mean, sample standard deviation and count, updated value by value."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.skipped = 0
        self._mean = 0.0
        self._m2 = 0.0
        self.min = math.inf
        self.max = -math.inf

    def add(self, x: float) -> bool:
        """Add one value; NaN and inf are counted as skipped. Returns True if used."""
        x = float(x)
        if not math.isfinite(x):
            self.skipped += 1
            return False
        self.count += 1
        delta = x - self._mean
        self._mean += delta / self.count
        self._m2 += delta * (x - self._mean)
        if x < self.min:
            self.min = x
        if x > self.max:
            self.max = x
        return True

    @property
    def mean(self) -> float:
        return self._mean if self.count else math.nan

    @property
    def variance(self) -> float:
        if self.count == 0:
            return math.nan
        if self.count == 1:
            return 0.0
        return max(0.0, self._m2 / (self.count - 1))

    @property
    def std(self) -> float:
        return math.sqrt(self.variance) if self.count else math.nan

    def snapshot(self) -> Stats:
        if not self.count:
            return Stats(skipped=self.skipped)
        return Stats(self.count, self.min, self.max, self.mean, self.std, self.skipped)


class History:
    """Statistics since open (or the last reset), recent (t, value) pairs and the update rate.

    ``t`` is the IOC timestamp of each value (POSIX seconds); the update rate and
    "time since last update" use the client's monotonic clock at arrival.
    """

    def __init__(self, ring: int = DEFAULT_RING, rate_window: float = RATE_WINDOW,
                 clock=time.monotonic) -> None:
        self.stats = RunningStats()
        self.ring: deque[tuple[float, float]] = deque(maxlen=max(2, int(ring)))
        self.rate_window = rate_window
        self._clock = clock
        self._arrivals: deque[tuple[float, int]] = deque()   # (monotonic, values that arrived)
        self.updates = 0            # every update, numeric or not
        self.last_arrival: Optional[float] = None
        self.first_arrival: Optional[float] = None

    def reset(self) -> None:
        """Start the statistics and the sparkline afresh (the rate keeps running)."""
        self.stats.reset()
        self.ring.clear()

    def add(self, t: float, value: Any, now: Optional[float] = None) -> bool:
        """One update. Numeric scalars go into the statistics and the ring."""
        return self.add_many([(t, value)], now)

    def add_many(self, items, now: Optional[float] = None) -> bool:
        """Several updates that arrived together; returns True if any was numeric."""
        now = self._clock() if now is None else now
        n = 0
        used = False
        for t, value in items:
            n += 1
            x = as_number(value)
            if x is None:
                continue
            used = True
            if self.stats.add(x):
                self.ring.append((float(t), x))
        if n:
            if self.first_arrival is None:
                # the subscription's initial value is no update: the rate counts from here
                self.first_arrival = now
                n -= 1
                self.updates += 1
            if n:
                self._arrivals.append((now, n))
            self.updates += n
            self.last_arrival = now
            self._trim(now)
        return used

    def _trim(self, now: float) -> None:
        while self._arrivals and self._arrivals[0][0] < now - self.rate_window:
            self._arrivals.popleft()

    def rate(self, now: Optional[float] = None) -> float:
        """Updates per second over the last ``rate_window`` seconds (or since the first value;
        the initial value a subscription sends is not counted)."""
        now = self._clock() if now is None else now
        self._trim(now)
        n = sum(k for _, k in self._arrivals)
        if not n or self.first_arrival is None:
            return 0.0
        span = min(self.rate_window, max(1e-3, now - self.first_arrival))
        return n / span

    def since_last(self, now: Optional[float] = None) -> Optional[float]:
        """Seconds since the last update arrived, None before the first."""
        if self.last_arrival is None:
            return None
        now = self._clock() if now is None else now
        return max(0.0, now - self.last_arrival)

    def values(self) -> list[float]:
        return [v for _, v in self.ring]
