"""Self-measurement: event-loop lateness and run statistics written as JSON."""

from __future__ import annotations

import json
import os
import time
from array import array
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
from PyQt5.QtCore import QObject, Qt, QTimer

from pvprobe.core.atomic import atomic_write_text
from pvprobe.core.batch import Batch


class LoopLatency(QObject):
    """A 10 ms timer in the GUI thread; records how late each tick is (ms)."""

    def __init__(self, interval_ms: int = 10, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.interval_ms = interval_ms
        self.samples = array("d")          # lateness per tick, ms (≥ 0)
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.PreciseTimer)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._last = None
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            late = (now - self._last) * 1000.0 - self.interval_ms
            self.samples.append(late if late > 0.0 else 0.0)
        self._last = now

    def p99_ms(self) -> float | None:
        if not self.samples:
            return None
        return float(np.percentile(np.frombuffer(self.samples, dtype=np.float64), 99))

    def max_ms(self) -> float | None:
        return float(max(self.samples)) if self.samples else None


def rss_mb() -> float | None:
    """This process's resident memory in MiB, or None without psutil."""
    try:
        import psutil
    except ImportError:
        return None
    return psutil.Process(os.getpid()).memory_info().rss / (1024 * 1024)


class RunStats:
    """Timings of one run, checked after each batch from the model's counters (O(1)).

    ``model`` needs ``rowCount()``, ``connected_count`` and ``valued_count``;
    ``bridge`` needs ``updates_received`` and ``batches_applied``; ``shown`` gives
    the model rows on screen (their ages are also pooled apart: what the operator
    sees).
    """

    def __init__(self, model: Any, bridge: Any, latency: LoopLatency | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 shown: Callable[[], Iterable[int]] | None = None) -> None:
        self.model = model
        self.bridge = bridge
        self.latency = latency
        self._clock = clock
        self.started = clock()
        self.seconds_to_all_connected: float | None = None
        self.seconds_to_all_values: float | None = None
        self._ages: list[float] = []
        self._shown_ages: list[float] = []
        self._shown = shown

    def on_batch(self, batch: Batch | None = None) -> None:
        """Note the first moment every row is connected / has a value."""
        n = self.model.rowCount()
        if n == 0:
            return
        if self.seconds_to_all_connected is None and self.model.connected_count >= n:
            self.seconds_to_all_connected = self._clock() - self.started
        if self.seconds_to_all_values is None and self.model.valued_count >= n:
            self.seconds_to_all_values = self._clock() - self.started

    def sample_value_ages(self, now: float | None = None) -> None:
        """Pool the age (wall clock minus IOC timestamp) of every connected row's value,
        once all rows have values: how fresh the table is when every PV keeps changing
        (``value_age_s_*`` in :meth:`to_dict`; meaningless for PVs that never change);
        those of the rows on screen also apart (``shown_value_age_s_*``)."""
        if self.seconds_to_all_values is None:
            return
        now = time.time() if now is None else now
        m = self.model
        for row in range(m.rowCount()):
            st = m.state(row)
            if st.connected and st.timestamp:
                self._ages.append(now - st.timestamp)
        for row in self._shown() if self._shown is not None else ():
            st = m.state(row)
            if st.connected and st.timestamp:
                self._shown_ages.append(now - st.timestamp)

    def _age(self, q: float, shown: bool = False) -> float | None:
        pool = self._shown_ages if shown else self._ages
        if not pool:
            return None
        ages = sorted(pool)
        return round(ages[min(len(ages) - 1, int(q * len(ages)))], 3)

    def to_dict(self) -> dict[str, Any]:
        lat = self.latency

        def r(x: float | None, nd: int = 3) -> float | None:
            return None if x is None else round(x, nd)

        return {
            "pvs": self.model.rowCount(),
            "connected": self.model.connected_count,
            "seconds_to_all_connected": r(self.seconds_to_all_connected),
            "seconds_to_all_values": r(self.seconds_to_all_values),
            "updates_received": self.bridge.updates_received,
            "batches_applied": self.bridge.batches_applied,
            "loop_lateness_ms_p99": r(lat.p99_ms() if lat else None),
            "loop_lateness_ms_max": r(lat.max_ms() if lat else None),
            "rss_mb": r(rss_mb(), 1),
            "value_age_s_p50": self._age(0.5),
            "value_age_s_p99": self._age(0.99),
            "value_age_s_max": self._age(1.0),
            "shown_value_age_s_p50": self._age(0.5, True),
            "shown_value_age_s_p99": self._age(0.99, True),
            "shown_value_age_s_max": self._age(1.0, True),
        }

    def write(self, path: str | os.PathLike) -> dict[str, Any]:
        """Write :meth:`to_dict` atomically as JSON; returns the dict."""
        d = self.to_dict()
        atomic_write_text(path, json.dumps(d, indent=2) + "\n")
        return d
