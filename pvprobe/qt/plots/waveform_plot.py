"""Waveform plot: array PVs against their index or against another array PV.

Fed by the bridge's batches (newest array per PV). Only the valid elements
(``PVState.count``) are plotted; NaN makes a gap. Large arrays stay responsive:
each redraw takes only the part inside the visible x range and reduces it to
the min and max of each screen-pixel bucket (:func:`minmax_decimate`, peaks kept),
so pyqtgraph never sees more than ~2 points per pixel. Redraws are skipped while
frozen or hidden; what is received and what is painted are counted separately.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QColor
from PyQt5.QtWidgets import QWidget

from pvprobe.core.pvstate import PVState
from pvprobe.core.waveform_data import (
    columns_csv,
    finite_range,
    is_monotonic,
    minmax_decimate,
    trace_label,
    valid_elements,
    value_at,
    visible_columns,
    visible_slice,
    x_source_texts,
)

from ..style.theme import ThemedMixin, plot_colors, theme_of
from .plot_common import NameDropMixin, PlotExportMixin, apply_plot_colours
from .waveform_plot_ui import INDEX_TEXT, build_waveform_plot_ui

#: Autoscale keeps the current ranges while the data fills at least this fraction of them.
KEEP_RANGE_FILL = 0.8


@dataclass
class _Trace:
    name: str
    colour: QColor
    curve: pg.PlotDataItem
    state: Optional[PVState] = None
    y: Optional[np.ndarray] = None          # valid elements of the newest value
    shown: Optional[np.ndarray] = None      # the array drawn last (frozen view keeps it)
    dirty: bool = False
    label: str = ""
    last_update: int = -1
    received: int = 0
    slot: int = 0                           # its place in the theme's trace colours


@dataclass
class _XSource:
    name: Optional[str] = None
    state: Optional[PVState] = None
    x: Optional[np.ndarray] = None
    shown: Optional[np.ndarray] = None
    monotonic: bool = True


class WaveformPlot(ThemedMixin, NameDropMixin, PlotExportMixin, QWidget):
    """Plot one or more array PVs. ``bridge`` is the :class:`EngineBridge`.

    The traces and the x PV are held by one ``bridge.subscribe(..., whole_arrays=True)``
    handle; :meth:`close_pvs` closes it.
    """

    EXPORT_STEM = "waveform"
    CSV_EXPORT = ("Export shown data", "rows")
    DROP_VERB = "Plotting"

    #: A short message for the status bar.
    message = pyqtSignal(str)
    #: The plotted PV names changed.
    pvsChanged = pyqtSignal()

    def __init__(self, bridge: Any, names: Iterable[str] = (), parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._traces: dict[str, _Trace] = {}
        self._x = _XSource()
        self._colour_i = 0
        self._theme = theme_of()
        self._plot_colours = plot_colors(self._theme)
        self._frozen = False
        self._auto = True
        self._attached = True
        self.updates_received = 0
        self.redraws = 0
        self._range_redraw = QTimer(self, singleShot=True, interval=0)
        self._range_redraw.timeout.connect(lambda: self.redraw(all_traces=True))
        self._build_ui()
        self.setAcceptDrops(True)
        self._sub = bridge.subscribe([], self._on_states, whole_arrays=True)
        self.add_pvs(names)

    # -- UI -----------------------------------------------------------------------------
    def _build_ui(self) -> None:
        build_waveform_plot_ui(self)

    def _names_by_curve(self) -> dict:
        """id(curve item) -> PV name, for dragging names out of the legend."""
        return {id(tr.curve): tr.name for tr in self._traces.values()}

    # -- theme ----------------------------------------------------------------------------
    def _apply_theme(self) -> None:
        """Background, axes, legend, crosshair and traces in the theme's colours."""
        pc = self._plot_colours = plot_colors(self._theme)
        apply_plot_colours(self.plot, self.legend, pc)
        self.crosshair.set_colour(pc.cursor)
        for tr in self._traces.values():
            tr.colour = pc.trace(tr.slot)
            self._set_pen(tr)

    def _set_pen(self, tr: _Trace) -> None:
        """The trace's pen: its colour, dashed while the PV is disconnected."""
        style = Qt.DashLine if tr.state is not None and not tr.state.connected else Qt.SolidLine
        tr.curve.setPen(pg.mkPen(tr.colour, width=1, style=style))

    # -- PVs ------------------------------------------------------------------------------
    def add_pvs(self, names: Iterable[str]) -> list[str]:
        """Plot these array PVs (names already plotted are skipped); returns the added."""
        new = [n for n in dict.fromkeys(n.strip() for n in names) if n and n not in self._traces]
        if not new:
            return []
        for name in new:
            slot = self._colour_i
            colour = self._plot_colours.trace(slot)
            self._colour_i += 1
            curve = pg.PlotDataItem(pen=pg.mkPen(colour, width=1), name=name, connect="finite",
                                    antialias=False)
            self.item.addItem(curve)
            self._traces[name] = _Trace(name, colour, curve, label=name, slot=slot)
            self.x_combo.addItem(name)
        if not self._sub.closed:
            self._sub.add(new)
        self._update_info()
        self.pvsChanged.emit()
        return new

    def remove_pv(self, name: str) -> bool:
        """Stop plotting ``name`` (and close it in the engine). False if not plotted."""
        tr = self._traces.pop(name, None)
        if tr is None:
            return False
        self.item.removeItem(tr.curve)
        self.legend.removeItem(tr.curve)
        i = self.x_combo.findText(name)
        if i > 0:
            self.x_combo.removeItem(i)
        self._sub.remove([name])
        self._update_info()
        self.pvsChanged.emit()
        self.redraw(all_traces=True)
        return True

    def pv_names(self) -> list[str]:
        return list(self._traces)

    def x_pv(self) -> Optional[str]:
        return self._x.name

    def set_x_pv(self, name: Optional[str]) -> None:
        """Use the array PV ``name`` as x (None or "" or "index": the element index)."""
        name = (name or "").strip()
        if name == INDEX_TEXT:
            name = ""
        if (name or None) == self._x.name:
            return
        if self._x.name is not None:
            self._sub.remove([self._x.name])
        self._x = _XSource(name=name or None)
        if name and not self._sub.closed:
            self._sub.add([name])
        self.item.setLabel("bottom", name or INDEX_TEXT)
        self._x_label = name or INDEX_TEXT
        self.x_combo.setCurrentText(name or INDEX_TEXT)
        self._force_range = True
        self._update_info()
        self.redraw(all_traces=True)

    def close_pvs(self) -> None:
        """Close every PV and stop taking batches (the widget is going away). Idempotent."""
        if not self._attached:
            return
        self._attached = False
        self._traces.clear()
        self._x = _XSource()
        self._sub.close()

    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.close_pvs()
        super().closeEvent(event)

    # -- batches --------------------------------------------------------------------------
    def _on_states(self, states: list[PVState]) -> None:
        """The states of the plotted PVs (and the x PV) in one batch (routed by the bridge)."""
        changed = False
        for st in states:
            tr = self._traces.get(st.name)
            if tr is not None:
                if st.update_count != tr.last_update:
                    tr.last_update = st.update_count
                    if st.value is not None:
                        tr.received += 1
                        self.updates_received += 1
                tr.state = st
                tr.y = valid_elements(st.value, st.count) if st.connected or st.value is not None else None
                tr.dirty = changed = True
            if st.name == self._x.name:
                self._x.state = st
                x = valid_elements(st.value, st.count)
                self._x.x = None if x is None else x.astype(np.float64, copy=False)
                self._x.monotonic = x is not None and is_monotonic(self._x.x)
                changed = True
                for t in self._traces.values():
                    t.dirty = True
        if changed:
            self._update_info()
            if not self._frozen and self.isVisible():
                self.redraw()

    # -- drawing ----------------------------------------------------------------------------
    def redraw(self, all_traces: bool = False) -> None:
        """Hand the newest (or, when frozen, the shown) data to the curves, decimated to
        the visible range and the plot's width."""
        if not self._attached:
            return
        if not self._frozen:
            for tr in self._traces.values():
                if tr.dirty or all_traces:
                    tr.shown = tr.y
                    tr.dirty = False
            self._x.shown = self._x.x
        xs = self._x.shown if self._x.name else None
        if self._x.name and xs is None:
            for tr in self._traces.values():
                tr.curve.setData([], [])
            return
        (x0, x1), _ = self.vb.viewRange()
        if self._auto:
            x0, x1 = -math.inf, math.inf
        buckets = max(64, int(self.vb.width() or 600))
        yr: list[tuple[float, float]] = []
        xr: list[tuple[float, float]] = []
        log_y = self.log_box.isChecked()
        for tr in self._traces.values():
            y = tr.shown
            if y is None or not len(y):
                tr.curve.setData([], [])
                continue
            n = len(y) if xs is None else min(len(y), len(xs))
            if xs is None:
                sl = visible_slice(None, n, x0, x1)
            else:
                sl = visible_slice(xs, n, x0, x1, self._x.monotonic)
            ys = y[sl]
            xv = None if xs is None else xs[sl]
            if xs is None:
                px, py = minmax_decimate(None, ys, buckets)
                px = px + sl.start
            else:
                px, py = minmax_decimate(xv, ys, buckets, by_x=self._x.monotonic)
            if log_y:
                with np.errstate(divide="ignore", invalid="ignore"):
                    py = np.where(py > 0, py, np.nan)
            tr.curve.setData(px, py, connect="finite")
            if self._auto:
                r = finite_range(py)
                if r is not None:
                    yr.append(r)
                r = finite_range(px)
                if r is not None:
                    xr.append(r)
        self.redraws += 1
        self.painted.mark()
        if self._auto and xr and yr:
            self._apply_auto_range(xr, yr, log_y)

    def _apply_auto_range(self, xr: list, yr: list, log_y: bool) -> None:
        x0, x1 = min(r[0] for r in xr), max(r[1] for r in xr)
        y0, y1 = min(r[0] for r in yr), max(r[1] for r in yr)
        if log_y:
            y0, y1 = math.log10(y0), math.log10(y1)
        if x1 <= x0:
            x0, x1 = x0 - 0.5, x1 + 0.5
        if y1 <= y0:
            d = abs(y0) * 0.05 or 1.0
            y0, y1 = y0 - d, y1 + d
        if not self._force_range and self._range_ok((x0, x1), (y0, y1)):
            return      # hysteresis: no axis jitter, no extra repaint for small changes
        self._force_range = False
        self._setting_range = True
        try:
            self.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02, update=True)
        finally:
            self._setting_range = False

    def _range_ok(self, xr: tuple, yr: tuple) -> bool:
        """The current view already shows ``xr`` × ``yr`` and is not much larger."""
        for (c0, c1), (t0, t1) in zip(self.vb.viewRange(), (xr, yr)):
            span = c1 - c0
            if not (c0 <= t0 and t1 <= c1) or (t1 - t0) < KEEP_RANGE_FILL * span:
                return False
        return True

    _setting_range = False
    _force_range = True
    _x_label = ""

    def _on_x_range(self, *args: Any) -> None:
        """Zoom/pan/resize: redecimate for the new visible range (coalesced)."""
        if not self._auto and not self._setting_range and self._attached:
            self._range_redraw.start()

    def _on_manual_range(self, *args: Any) -> None:
        """The user zoomed or panned: stop autoscaling (the lock shows it)."""
        if self._auto:
            self.lock_box.setChecked(True)

    # -- controls --------------------------------------------------------------------------
    def set_scale_locked(self, locked: bool) -> None:
        """Locked: the ranges stay where they are; unlocked: they follow the data."""
        self._auto = not locked
        if self.lock_box.isChecked() != locked:
            self.lock_box.setChecked(locked)
        if not locked:
            self._force_range = True
            self.redraw(all_traces=True)
        else:
            self._range_redraw.start()     # re-decimate for the range as it is now

    def autoscale(self) -> None:
        """Fit the ranges to the data once (keeps the lock as it is)."""
        locked = not self._auto
        self._auto = True
        self._force_range = True
        self.redraw(all_traces=True)
        self._auto = not locked
        if locked:
            self.redraw(all_traces=True)

    def set_log_y(self, on: bool) -> None:
        if self.log_box.isChecked() != on:
            self.log_box.setChecked(on)
            return
        self.item.setLogMode(x=False, y=on)
        self.autoscale()

    def set_frozen(self, frozen: bool) -> None:
        """Freeze (pause) redrawing; on resume the newest values are drawn."""
        if self.freeze_box.isChecked() != frozen:
            self.freeze_box.setChecked(frozen)
            return
        self._frozen = frozen
        self._update_info()
        if not frozen:
            self.redraw(all_traces=True)

    def is_frozen(self) -> bool:
        return self._frozen

    def showEvent(self, event: Any) -> None:  # noqa: N802
        super().showEvent(event)
        if any(t.dirty for t in self._traces.values()):
            QTimer.singleShot(0, self.redraw)

    def _on_x_chosen(self, text: str) -> None:
        self.set_x_pv(text)

    def _fill_pv_menu(self) -> None:
        self.pv_menu.clear()
        if not self._traces:
            self.pv_menu.addAction("(no PVs)").setEnabled(False)
        for name in list(self._traces):
            self.pv_menu.addAction(f"Remove {name}", lambda n=name: self.remove_pv(n))

    # -- readouts -----------------------------------------------------------------------------
    def _update_info(self) -> None:
        parts = []
        for tr in self._traces.values():
            label = trace_label(tr.name, tr.state, tr.y is not None)
            if label != tr.label:
                tr.label = label
                sample = self.legend.getLabel(tr.curve)
                if sample is not None:
                    sample.setText(label)
                self._set_pen(tr)
            parts.append(label)
        if self._x.name:
            label, info = x_source_texts(self._x.name, self._x.state, self._x.monotonic)
            if label != self._x_label:
                self._x_label = label
                self.item.setLabel("bottom", label)
            parts.append(info)
        parts.append(f"received {self.updates_received} · painted {self.painted.frames}"
                     + (" · FROZEN" if self._frozen else ""))
        self.info.setText(" · ".join(parts))

    def _on_mouse(self, x: float, y: float) -> None:
        yv = 10 ** y if self.log_box.isChecked() else y
        parts = [f"x={x:.6g}  y={yv:.6g}"]
        for tr in self._traces.values():
            v = self.value_at(tr.name, x)
            if v is not None:
                parts.append(f"{tr.name}[{v[0]}] = {v[1]:.6g}")
        self.readout.setText("   ".join(parts))

    def _on_mouse_leave(self) -> None:
        self.readout.setText("")

    def value_at(self, name: str, x: float) -> Optional[tuple[int, float]]:
        """(index, value) of the shown point of ``name`` nearest to ``x``, or None."""
        tr = self._traces.get(name)
        if tr is None or (self._x.name and self._x.shown is None):
            return None
        return value_at(tr.shown, x, self._x.shown if self._x.name else None, self._x.monotonic)

    # -- data out -----------------------------------------------------------------------------
    def shown_data(self) -> tuple[list[str], list[np.ndarray]]:
        """Headers and columns of what is shown: x (index or the x PV) and each PV's
        full-resolution values inside the visible x range."""
        (x0, x1), _ = self.vb.viewRange()
        if self._auto:
            x0, x1 = -math.inf, math.inf
        ys = {n: t.shown for n, t in self._traces.items() if t.shown is not None}
        if self._x.name is None:
            return visible_columns(ys, x0, x1, x_header=INDEX_TEXT)
        if self._x.shown is None:
            return [f"x:{self._x.name}"] + list(ys), [np.array([])] + [np.array([]) for _ in ys]
        return visible_columns(ys, x0, x1, self._x.shown, f"x:{self._x.name}", self._x.monotonic)

    def csv_text(self) -> tuple[str, int]:
        """The shown data as CSV and its number of rows (see :meth:`export_csv`)."""
        headers, cols = self.shown_data()
        return columns_csv(headers, cols), max((len(c) for c in cols), default=0)

    # -- diagnostics ------------------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Counts for ``--stats``: plotted PVs, updates received, frames painted."""
        return {
            "plotted_pvs": list(self._traces),
            "x_pv": self._x.name,
            "updates_received": self.updates_received,
            "updates_received_per_pv": {n: t.received for n, t in self._traces.items()},
            "redraws": self.redraws,
            "frames_drawn": self.painted.frames,
            "frozen": self._frozen,
        }


__all__ = ["WaveformPlot"]
