"""Adaptive pacing of a live plot's redraws (no Qt): how often to redraw and how many
curves one live frame may refresh, from what the last frames cost."""

from __future__ import annotations

import math
from dataclasses import dataclass

#: Drawing may take at most 1/FRAME_BUDGET of the GUI thread's time (adaptive redraw rate).
FRAME_BUDGET = 3.0
MAX_INTERVAL_MS = 2000
#: A live frame refreshes as many curves as fit this (round robin); at least MIN_PER_FRAME.
FRAME_TARGET_S = 0.035
MIN_PER_FRAME = 4
#: ... and every curve is refreshed at least this often (seconds).
REFRESH_S = 1.0
MAX_LIVE_FRAME_S = 0.1


@dataclass
class RedrawBudget:
    """Frame costs of one plot and the pacing they call for.

    After each painted frame, :meth:`frame_done` gets its cost (redraw start to paint
    end) and returns the next redraw interval: never below ``base_interval_ms``, and
    long enough that drawing takes at most 1/FRAME_BUDGET of the GUI thread. It also
    sets :attr:`per_frame`, how many curves a live frame refreshes: as many as fit
    FRAME_TARGET_S, but every curve at least every REFRESH_S unless a frame would then
    exceed MAX_LIVE_FRAME_S (so longer frames never feed longer intervals).
    """

    base_interval_ms: int
    seconds_last: float = 0.0       # redraw + paint of the last frame
    seconds_total: float = 0.0
    seconds_max: float = 0.0
    frames: int = 0
    per_frame: int = 1_000_000

    def frame_done(self, cost: float, curves: int, refreshed: int, prep_s: float) -> int:
        """Record a frame of ``cost`` seconds that refreshed ``refreshed`` of ``curves``
        curves, whose data preparation took ``prep_s``; returns the next interval (ms)."""
        self.seconds_last = cost
        self.seconds_total += cost
        self.seconds_max = max(self.seconds_max, cost)
        self.frames += 1
        interval = max(self.base_interval_ms, min(MAX_INTERVAL_MS, int(1000 * cost * FRAME_BUDGET)))
        if refreshed:
            # a refreshed curve costs its preparation and about as much again at paint
            # (pyqtgraph rebuilds its path); the rest of the frame is fixed cost
            per_curve = max(1e-5, 2.0 * prep_s / refreshed)
            by_target = int(FRAME_TARGET_S / per_curve)
            by_refresh = int(math.ceil(curves * interval / 1000.0 / REFRESH_S))
            by_max = int(MAX_LIVE_FRAME_S / per_curve)
            self.per_frame = max(MIN_PER_FRAME, min(max(by_target, by_refresh), by_max))
        return interval

    def mean_ms(self) -> float | None:
        """Mean frame cost in milliseconds (None before the first frame)."""
        return round(1000 * self.seconds_total / self.frames, 3) if self.frames else None


__all__ = ["RedrawBudget", "FRAME_BUDGET", "MAX_INTERVAL_MS", "FRAME_TARGET_S", "MIN_PER_FRAME",
           "REFRESH_S", "MAX_LIVE_FRAME_S"]
