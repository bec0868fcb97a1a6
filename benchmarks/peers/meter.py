"""The measuring window every image-viewer launcher shares (stdlib + PyQt5 only: it
runs inside pvprobe's venv and inside the peers' venv alike).

A launcher hooks its viewer so that :meth:`Meter.painted` is called once per frame
really painted (inside the paint, with the frame's ``dataTimeStamp``), and gives a
``received()`` function (frames that reached the viewer process). The meter waits
for the first two painted frames, lets ``warmup`` seconds pass, prints
``{"event": "window_start"}`` (the driver starts its CPU window on that line),
counts for ``seconds``, prints the result line and calls ``done()``.

Result keys: seconds, received_per_s, painted_per_s, latency_ms p50/p99/mean
(paint time − dataTimeStamp, over frames painted in the window), widget size,
event-loop lateness p99 (a 10 ms timer), plus whatever ``extra()`` returns.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, Optional

from PyQt5.QtCore import QTimer

#: Give up when no frame was painted within this time.
FIRST_FRAME_TIMEOUT_S = 60.0
LATENESS_TICK_MS = 10


def out(d: dict) -> None:
    print(json.dumps(d), flush=True)


def pct(values: list[float], q: float) -> Optional[float]:
    """The q-quantile (0..1) of ``values``, nearest rank; None when empty."""
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def ts_of(seconds: Any, nanoseconds: Any) -> float:
    """POSIX time of an EPICS timeStamp given in POSIX seconds (PVA) and ns."""
    try:
        return float(seconds) + 1e-9 * float(nanoseconds)
    except (TypeError, ValueError):
        return 0.0


class Meter:
    """One measuring window: first frames, warm-up, window, result, done."""

    def __init__(self, warmup: float, seconds: float, received: Callable[[], int],
                 done: Callable[[], None], extra: Optional[Callable[[], dict]] = None,
                 widget: Optional[Callable[[], Any]] = None) -> None:
        self.warmup, self.seconds = warmup, seconds
        self.received, self.done, self.extra, self.widget = received, done, extra, widget
        self.n_painted = 0
        self.lat: list[float] = []          # seconds, of frames painted inside the window
        self.in_window = False
        self.state = "wait"
        self.t_start = time.monotonic()
        self._t0 = self._wall0 = 0.0
        self._p0 = self._r0 = 0
        self._late: list[float] = []
        self._last_tick = 0.0
        self.timer = QTimer()
        self.timer.timeout.connect(self._step)
        self.timer.start(50)
        self.ticker = QTimer()
        self.ticker.timeout.connect(self._tick)

    # ---------------------------------------------------------------- called by the hooks
    def painted(self, data_ts: Optional[float]) -> None:
        """A new frame was painted just now; ``data_ts`` its dataTimeStamp (POSIX s)."""
        self.n_painted += 1
        if self.in_window and data_ts and data_ts > 0:
            lat = time.time() - data_ts
            if -1.0 < lat < 3600.0:
                self.lat.append(lat)

    # ---------------------------------------------------------------- the window
    def _tick(self) -> None:
        now = time.monotonic()
        if self._last_tick:
            self._late.append(max(0.0, now - self._last_tick - LATENESS_TICK_MS / 1000.0))
        self._last_tick = now

    def _step(self) -> None:
        now = time.monotonic()
        if self.state == "wait":
            if self.n_painted >= 2:
                self.state, self._t_first = "warmup", now
            elif now - self.t_start > FIRST_FRAME_TIMEOUT_S:
                self._finish({"error": f"no frames painted within {FIRST_FRAME_TIMEOUT_S:g} s",
                              "received": self.received(), "painted": self.n_painted})
        elif self.state == "warmup" and now - self._t_first >= self.warmup:
            self.state, self.in_window = "window", True
            self._t0, self._wall0 = now, time.time()
            self._p0, self._r0 = self.n_painted, self.received()
            self.ticker.start(LATENESS_TICK_MS)
            out({"event": "window_start", "t": self._wall0})
        elif self.state == "window" and now - self._t0 >= self.seconds:
            self.in_window = False
            self.ticker.stop()
            dt = now - self._t0
            p, r = self.n_painted - self._p0, self.received() - self._r0
            res = {"seconds": round(dt, 3), "t0": round(self._wall0, 3), "t1": round(time.time(), 3),
                   "received": r, "painted": p,
                   "received_per_s": round(r / dt, 1), "painted_per_s": round(p / dt, 1),
                   "latency_ms_p50": _ms(pct(self.lat, 0.5)), "latency_ms_p99": _ms(pct(self.lat, 0.99)),
                   "latency_ms_mean": _ms(sum(self.lat) / len(self.lat) if self.lat else None),
                   "latency_n": len(self.lat),
                   "loop_lateness_ms_p99": _ms(pct(self._late, 0.99)),
                   "startup_to_first_paint_s": round(self._t_first - self.t_start, 2)}
            w = self.widget() if self.widget else None
            if w is not None:
                res["image_widget_px"] = [w.width(), w.height()]
            if self.extra is not None:
                try:
                    res.update(self.extra())
                except Exception as e:       # the figures above still count
                    res["extra_error"] = repr(e)
            self._finish(res)

    def _finish(self, res: dict) -> None:
        self.state = "done"
        self.timer.stop()
        out(res)
        sys.stdout.flush()
        self.done()


def _ms(s: Optional[float]) -> Optional[float]:
    return None if s is None else round(1000.0 * s, 2)
