"""Strip chart: scalar PVs against time, every update at its IOC timestamp.

PVs are held by one ``bridge.subscribe(..., keep_all=True)`` handle: each batch then carries
every update since the previous one (``PVState.samples``), so nothing is lost
between ticks. Each PV's history is a fixed-memory :class:`RingBuffer`
(the size is shown in the UI); a disconnection writes a NaN sample, so lines are
broken there. Redraws run on a timer: only the visible time window is taken,
reduced to min/max per pixel column, and handed to pyqtgraph.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QTimer, pyqtSignal
from PyQt5.QtWidgets import QWidget

from pvprobe.core.pvstate import PVState
from pvprobe.core.redraw_budget import RedrawBudget
from pvprobe.core.ringbuffer import SEV_DISCONNECTED, RingBuffer, bytes_for, memory_text, shared_capacity
from pvprobe.core.waveform_data import bucket_starts, minmax_decimate, samples_csv

from ..style.theme import plot_colors, status_colors, theme_of
from .plot_common import NameDropMixin, PlotExportMixin
from .strip_chart_ui import SPANS, build_strip_chart_ui
from .strip_readouts import LINE_WIDTH, NOT_NUMERIC, Series, StripReadouts

MIN_SPAN_S, MAX_SPAN_S = 10.0, 86400.0
#: The buffer holds at least this much history (scroll back while paused).
MIN_HISTORY_S = 600.0
#: Largest ring per PV (samples): 2,000,000 × 17 B × 1.5 ≈ 51 MB.
MAX_SAMPLES = 2_000_000
#: All rings of one chart together stay within this (default 1 GiB); fewer samples per PV then.
MEMORY_BUDGET = 2 ** 30
MIN_RING = 1000
#: Min/max decimation: one bucket (2 points) per 1..this many pixels (more PVs, wider).
MAX_PIXELS_PER_BUCKET = 4


class StripChart(StripReadouts, NameDropMixin, PlotExportMixin, QWidget):
    """Scalar PVs on a shared time axis. ``bridge`` is the :class:`EngineBridge`.

    ``span_s``: visible time span (10 s … 24 h); ``rate_hz``: the update rate the
    ring buffers are sized for (history = max(span, 10 min) at that rate);
    ``redraw_hz``: redraw timer rate; ``memory_budget``: bytes all rings may take together.
    Each PV is added once with ``keep_all=True``
    and removed once (:meth:`remove_pv`, :meth:`close_pvs`).
    """

    EXPORT_STEM = "stripchart"
    CSV_EXPORT = ("Export visible data", "samples")
    DROP_VERB = "Charting"

    message = pyqtSignal(str)
    pvsChanged = pyqtSignal()

    def __init__(self, bridge: Any, names: Iterable[str] = (), parent: Optional[QWidget] = None,
                 span_s: float = 60.0, rate_hz: float = 10.0, redraw_hz: float = 10.0,
                 clock: Callable[[], float] = time.time, memory_budget: int = MEMORY_BUDGET) -> None:
        super().__init__(parent)
        self.memory_budget = int(memory_budget)
        self.bridge = bridge
        self._clock = clock
        self._series: dict[str, Series] = {}
        self._colour_i = 0
        self._theme = theme_of()
        self._plot_colours = plot_colors(self._theme)
        self._status_colours = status_colors(self._theme)
        self._span = float(span_s)
        self._rate = float(rate_hz)
        self._paused = False
        self._attached = True
        self._dirty = False
        self._range_changed = False
        self._axis_col = 3
        self.updates_received = 0
        self.redraws = 0
        self.redraw_seconds_total = 0.0
        self.curves_updated = 0
        self._build_ui()
        self._timer = QTimer(self)
        self._base_interval_ms = max(10, int(1000 / max(0.1, redraw_hz)))
        self._frame_t0 = 0.0
        #: Frame costs and the redraw pacing they call for.
        self.budget = RedrawBudget(self._base_interval_ms)
        self._timer.setInterval(self._base_interval_ms)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self._table_timer = QTimer(self, interval=500)
        self._table_timer.timeout.connect(self._update_table)
        self._table_timer.start()
        self.setAcceptDrops(True)
        self._sub = bridge.subscribe([], self._on_states, keep_all=True)
        self.set_span(span_s)
        self.add_pvs(names)

    # -- UI -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        build_strip_chart_ui(self)

    # -- buffer sizing ------------------------------------------------------------------
    @property
    def history_s(self) -> float:
        """Time the ring buffers hold at the expected rate."""
        return max(self._span, MIN_HISTORY_S)

    def capacity(self, n_pvs: Optional[int] = None) -> int:
        """Samples per PV ring: the history at the expected rate, but all rings together
        stay within ``memory_budget`` bytes (then the label says how much time fits)."""
        n = len(self._series) if n_pvs is None else n_pvs
        return shared_capacity(self.history_s, self._rate, n, self.memory_budget, MAX_SAMPLES, MIN_RING)

    def _apply_capacity(self) -> None:
        cap = self.capacity()
        for s in self._series.values():
            if s.ring.capacity != cap:
                s.ring.resize(cap)
        self.memory_label.setText(self.memory_text())

    def bytes_per_pv(self) -> int:
        return bytes_for(self.capacity())

    def memory_text(self) -> str:
        return memory_text(self.capacity(), self._rate, len(self._series))

    def set_span(self, seconds: float) -> None:
        """Visible time span, clamped to 10 s … 24 h; resizes the rings if needed."""
        seconds = float(min(MAX_SPAN_S, max(MIN_SPAN_S, seconds)))
        self._span = seconds
        i = self.span_combo.findData(seconds)
        if i >= 0:
            self.span_combo.setCurrentIndex(i)
        self._apply_capacity()
        if self._paused:
            (x0, x1), _ = self.vb.viewRange()
            mid = (x0 + x1) / 2
            self._set_x(mid - seconds / 2, mid + seconds / 2)
        self._force = True

    def span(self) -> float:
        return self._span

    def set_rate_hz(self, rate_hz: float) -> None:
        """The update rate the rings are sized for."""
        if rate_hz <= 0:
            raise ValueError("rate must be positive")
        self._rate = float(rate_hz)
        self.set_span(self._span)

    # -- PVs ------------------------------------------------------------------------------
    def add_pvs(self, names: Iterable[str]) -> list[str]:
        """Chart these scalar PVs (already charted names are skipped); returns the added."""
        new = [n for n in dict.fromkeys(n.strip() for n in names) if n and n not in self._series]
        if not new:
            return []
        cap = self.capacity(len(self._series) + len(new))
        self.table.blockSignals(True)
        for name in new:
            slot = self._colour_i
            colour = self._plot_colours.trace(slot)
            self._colour_i += 1
            curve = pg.PlotDataItem(pen=pg.mkPen(colour, width=LINE_WIDTH), connect="finite", antialias=False)
            self.vb.addItem(curve)
            s = Series(name, colour, RingBuffer(cap), curve, self.vb, slot=slot)
            self._series[name] = s
            self._add_table_row(s)
        self.table.blockSignals(False)
        self._renumber()
        self._update_legend()
        if not self._sub.closed:
            self._sub.add(new)
        self._apply_capacity()
        self.pvsChanged.emit()
        self._dirty = True
        return new

    def remove_pv(self, name: str) -> bool:
        """Stop charting ``name`` (closes it in the engine). False if not charted."""
        s = self._series.pop(name, None)
        if s is None:
            return False
        self._detach_axis(s)
        self.vb.removeItem(s.curve)
        for m in s.markers.values():
            self.vb.removeItem(m)
        self.legend.removeItem(s.curve)
        self.table.removeRow(s.row)
        self._renumber()
        self._update_legend()
        self._sub.remove([name])
        self._apply_capacity()
        self.pvsChanged.emit()
        return True

    def remove_selected(self) -> list[str]:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        names = [self.table.item(r, 0).text() for r in rows]
        for n in names:
            self.remove_pv(n)
        return names

    def pv_names(self) -> list[str]:
        return list(self._series)

    def ring(self, name: str) -> RingBuffer:
        """The history of ``name`` (read-only use)."""
        return self._series[name].ring

    def close_pvs(self) -> None:
        """Close every PV and stop taking batches and redrawing. Idempotent."""
        if not self._attached:
            return
        self._attached = False
        self._timer.stop()
        self._table_timer.stop()
        self._sub.close()

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.close_pvs()
        super().closeEvent(event)

    def _renumber(self) -> None:
        for r in range(self.table.rowCount()):
            s = self._series.get(self.table.item(r, 0).text())
            if s is not None:
                s.row = r

    # -- batches ---------------------------------------------------------------------------
    def _on_states(self, states: list[PVState]) -> None:
        """The states of the charted PVs in one batch (routed by the bridge)."""
        for st in states:
            s = self._series.get(st.name)
            if s is None:
                continue
            s.state = st
            numeric = st.native_type not in NOT_NUMERIC and st.max_count <= 1
            if st.samples:
                if numeric:
                    n = self._add_samples(s, st.samples, st.connected)
                    s.received += n
                    self.updates_received += n
                    self._dirty = True
            elif (numeric and st.connected and st.value is not None and st.update_count != s.last_update
                  and (s.ring.last_time is None or st.timestamp > s.ring.last_time)):
                # first value of a channel another view opened before us (no monitor event yet)
                s.ring.append(st.timestamp, st.value, st.severity)
                s.received += 1
                self.updates_received += 1
                self._dirty = True
            s.last_update = st.update_count
            if s.was_connected and not st.connected:
                if s.ring.add_gap():
                    s.gaps += 1
                    self._dirty = True
            s.was_connected = st.connected

    @staticmethod
    def _add_samples(s: Series, samples: list, connected: bool) -> int:
        """Append samples. Ones sent before a disconnection but delivered after its gap
        was recorded (libca's threads do not order monitor and connection callbacks)
        arrive while the PV is still disconnected: they go before the gap."""
        ring = s.ring
        if ring.last_is_gap and not connected:
            ring.pop()
            n = ring.extend_samples(samples)
            ring.add_gap()
            return n
        return ring.extend_samples(samples)

    # -- drawing ------------------------------------------------------------------------------
    def _set_x(self, x0: float, x1: float) -> None:
        self._setting_range = True
        try:
            self.vb.setXRange(x0, x1, padding=0)
        finally:
            self._setting_range = False

    _setting_range = False

    def _tick(self) -> None:
        if not self.isVisible():
            return
        if self._paused:
            if self._range_changed or self._force:
                self.redraw()
            return
        self.redraw(full=self._force)

    _force = False

    def _frame_done(self) -> None:
        """A frame was painted: time it (redraw start to paint end) and pace the next
        ones (see :class:`RedrawBudget`). Curves a live frame does not refresh keep
        their drawn data, which is in time coordinates, so it scrolls without being rebuilt."""
        if not self._frame_t0:
            return
        cost = time.perf_counter() - self._frame_t0
        self._frame_t0 = 0.0
        interval = self.budget.frame_done(cost, len(self._series), self._updated_last, self._prep_last)
        if interval != self._timer.interval():
            self._timer.setInterval(interval)

    _updated_last = 0
    _prep_last = 0.0
    _rr = 0
    # frame cost totals, as the benchmark reads them
    frame_seconds_total = property(lambda self: self.budget.seconds_total)
    frames_timed = property(lambda self: self.budget.frames)

    def redraw(self, full: bool = True) -> float:
        """Draw the visible window of the PVs (and move it to now when live).
        ``full``: every PV; otherwise (live timer) only PVs with new samples, at most
        as many as fit the frame target, oldest-drawn first.
        Returns the seconds this took (data preparation and hand-over, not painting)."""
        t0 = time.perf_counter()
        self._frame_t0 = t0
        if not self._paused:
            now = self._clock()
            self._set_x(now - self._span, now)
        (x0, x1), _ = self.vb.viewRange()
        buckets = max(32, int((self.vb.width() or 800) / self.pixels_per_bucket()))
        series = list(self._series.values())
        if not full and series:
            k = self._rr % len(series)
            order = series[k:] + series[:k]
            todo = [s for s in order if s.drawn_total != s.ring.total][: self.budget.per_frame]
            if todo:
                self._rr = (series.index(todo[-1]) + 1) % len(series)
        else:
            todo = series
        for s in todo:
            t, v, sev = s.ring.window(x0, x1)
            top = int(sev.max()) if len(sev) else 0
            alarmed = 0 < top and (top < SEV_DISCONNECTED or bool(((sev > 0) & (sev < SEV_DISCONNECTED)).any()))
            if len(t) > 2 * buckets:
                idx = bucket_starts(t, len(t), buckets, by_x=s.ring.monotonic)
                px, py = minmax_decimate(t, v, buckets, idx=idx)
                if alarmed:   # worst severity per bucket, one value per drawn point
                    sb = np.maximum.reduceat(np.where(sev < SEV_DISCONNECTED, sev, 0), idx)
                    psev = np.append(np.repeat(sb, (len(px) - 1) // len(idx)), sb[-1])
            else:
                px, py = t.copy(), v.copy()
                psev = sev
            s.curve.setData(px, py, connect="finite")
            s.draw_alarms(px, py, psev if alarmed else None, self._plot_colours.alarm)
            s.drawn_total = s.ring.total
        self._updated_last = len(todo)
        self._dirty = self._range_changed = self._force = False
        self.redraws += 1
        self.curves_updated += len(todo)
        self.painted.mark()
        dt = time.perf_counter() - t0
        self._prep_last = dt
        self.redraw_seconds_total += dt
        return dt

    def pixels_per_bucket(self) -> int:
        """Min/max bucket width: 1 px for a few PVs, up to 4 px for hundreds (paint cost)."""
        return min(MAX_PIXELS_PER_BUCKET, 1 + len(self._series) // 60)

    def _on_x_range(self, *args: Any) -> None:
        if not self._setting_range:
            self._range_changed = True

    def _on_manual_range(self, *args: Any) -> None:
        """Pan/zoom by the user: stop following time."""
        self.set_paused(True)

    def set_paused(self, paused: bool) -> None:
        """Paused: the time axis stays put (pan/zoom to scroll back); data keeps arriving."""
        if self.pause_btn.isChecked() != paused:
            self.pause_btn.setChecked(paused)
            return
        self._paused = paused
        if not paused:
            self._force = True

    def is_paused(self) -> bool:
        return self._paused

    def go_live(self) -> None:
        """Follow the newest data again and autoscale y."""
        self.vb.enableAutoRange(axis=pg.ViewBox.YAxis)
        for s in self._series.values():
            if s.axis is not None:
                s.vb.enableAutoRange(axis=pg.ViewBox.YAxis)
        self.set_paused(False)
        self.redraw()

    def show_range(self, t0: float, t1: float) -> None:
        """Pause and show the time range ``t0``..``t1`` (POSIX seconds)."""
        self.set_paused(True)
        self._set_x(t0, t1)
        self.redraw()

    def visible_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.vb.viewRange()
        return float(x0), float(x1)

    # -- data out ----------------------------------------------------------------------------------
    def visible_samples(self) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        """(name, t, value, severity) of every PV inside the visible time range (copies)."""
        x0, x1 = self.visible_range()
        out = []
        for s in self._series.values():
            t, v, sev = s.ring.window(x0, x1, pad=0)
            out.append((s.name, t.copy(), v.copy(), sev.copy()))
        return out

    def csv_text(self) -> tuple[str, int]:
        """The visible samples as CSV (long format) and their count (see :meth:`export_csv`)."""
        series = self.visible_samples()
        return samples_csv(series), sum(len(t) for _, t, _, _ in series)

    # -- diagnostics ---------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts for ``--stats``: charted PVs, samples received, frames painted, memory."""
        return {
            "plotted_pvs": list(self._series),
            "updates_received": self.updates_received,
            "redraws": self.redraws,
            "frames_drawn": self.painted.frames,
            "redraw_ms_mean": round(1000 * self.redraw_seconds_total / self.redraws, 3) if self.redraws else None,
            "frame_ms_mean": self.budget.mean_ms(),
            "frame_ms_max": round(1000 * self.budget.seconds_max, 3),
            "redraw_interval_ms": self._timer.interval(),
            "curves_updated": self.curves_updated,
            "curves_per_live_frame": min(self.budget.per_frame, len(self._series)),
            "ring_capacity_per_pv": self.capacity(),
            "ring_bytes_per_pv": self.bytes_per_pv(),
            "samples_held": sum(len(s.ring) for s in self._series.values()),
            "gaps": sum(s.gaps for s in self._series.values()),
            "paused": self._paused,
        }


__all__ = ["StripChart", "SPANS"]
