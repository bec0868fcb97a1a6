"""The strip chart's readouts: own y axes, legend, PV table, theme colours, crosshair
text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QBrush, QColor
from PyQt5.QtWidgets import QTableWidgetItem

from pvprobe.core.pvstate import PVState
from pvprobe.core.ringbuffer import SEV_DISCONNECTED, RingBuffer
from pvprobe.core.waveform_data import iso_time

from ..style.theme import ThemedMixin, plot_colors, status_colors
from .plot_common import apply_plot_colours

#: Pen widths: 1 px lines paint ~8x faster than wider ones (Qt raster engine).
LINE_WIDTH = 1
#: Alarm markers' pen width.
ALARM_WIDTH = 3
#: Legend shown up to this many PVs (the side table always lists them).
MAX_LEGEND = 12
#: Native types a strip chart does not plot.
NOT_NUMERIC = ("STRING",)


@dataclass
class Series:
    """One charted PV: its history, curve, axis and counts."""

    name: str
    colour: QColor
    ring: RingBuffer
    curve: pg.PlotDataItem
    vb: pg.ViewBox
    axis: Optional[pg.AxisItem] = None
    markers: dict = field(default_factory=dict)     # severity -> PlotDataItem
    state: Optional[PVState] = None
    was_connected: bool = False
    last_update: int = -1
    received: int = 0
    gaps: int = 0
    row: int = -1
    drawn_total: int = -1      # ring.total when last drawn
    slot: int = 0              # its place in the theme's trace colours

    def draw_alarms(self, px: np.ndarray, py: np.ndarray, psev: Optional[np.ndarray], colours: dict) -> None:
        """A wide halo in the severity colour (``colours``: severity -> colour) under the
        drawn points in MINOR/MAJOR/INVALID (``psev``: severity per drawn point, None =
        no alarm in view). Each alarmed point also colours the segment to the next one,
        so a single one shows."""
        for level in (1, 2, 3):
            item = self.markers.get(level)
            mask = None if psev is None else psev == level
            if mask is None or not mask.any():
                if item is not None and item.isVisible():
                    item.setData([], [])
                    item.hide()
                continue
            if item is None:
                item = pg.PlotDataItem(pen=pg.mkPen(colours[level], width=ALARM_WIDTH),
                                       connect="finite", antialias=False)
                item.setZValue(-1)
                self.vb.addItem(item)
                self.markers[level] = item
            mask[1:] |= mask[:-1]
            item.setData(px, np.where(mask, py, np.nan), connect="finite")
            item.show()


class StripReadouts(ThemedMixin):
    """Part of :class:`StripChart` (see the module docstring)."""

    def _add_table_row(self, s: Series) -> None:
        """The side table's row of a new series: name (in its colour), value, severity,
        and the "own axis" check box."""
        row = self.table.rowCount()
        self.table.insertRow(row)
        it = QTableWidgetItem(s.name)
        it.setForeground(QBrush(s.colour))
        self.table.setItem(row, 0, it)
        self.table.setItem(row, 1, QTableWidgetItem(""))
        self.table.setItem(row, 2, QTableWidgetItem("connecting"))
        own = QTableWidgetItem()
        own.setFlags(Qt.ItemIsUserCheckable | Qt.ItemIsEnabled | Qt.ItemIsSelectable)
        own.setCheckState(Qt.Unchecked)
        self.table.setItem(row, 3, own)

    def set_own_axis(self, name: str, own: bool) -> None:
        """Give ``name`` its own y axis on the right (or put it back on the shared left one)."""
        s = self._series[name]
        if own == (s.axis is not None):
            return
        items = [s.curve, *s.markers.values()]
        for it in items:
            s.vb.removeItem(it)
        if own:
            vb = pg.ViewBox()
            axis = pg.AxisItem("right")
            self._colour_axis(s, axis)
            self.item.layout.addItem(axis, 2, self._axis_col)
            self._axis_col += 1
            self.item.layout.activate()         # place it now, not at the next layout pass
            self.item.scene().addItem(vb)
            axis.linkToView(vb)
            vb.setXLink(self.vb)
            vb.enableAutoRange(axis=pg.ViewBox.YAxis)
            vb.setAutoVisible(y=True)
            s.vb, s.axis = vb, axis
        else:
            self._detach_axis(s)
        for it in items:
            s.vb.addItem(it)
        item = self.table.item(s.row, 3)
        if item is not None and (item.checkState() == Qt.Checked) != own:
            self.table.blockSignals(True)
            item.setCheckState(Qt.Checked if own else Qt.Unchecked)
            self.table.blockSignals(False)
        self._sync_views()
        self._force = True

    def _detach_axis(self, s: Series) -> None:
        if s.axis is None:
            return
        for it in [s.curve, *s.markers.values()]:
            if it.scene() is not None:
                s.vb.removeItem(it)
        self.item.layout.removeItem(s.axis)
        if s.axis.scene() is not None:
            s.axis.scene().removeItem(s.axis)
        if s.vb.scene() is not None:
            s.vb.scene().removeItem(s.vb)
        s.vb.setXLink(None)
        s.axis, s.vb = None, self.vb

    def _sync_views(self, *args: Any) -> None:
        self._force = True          # the width changed: new decimation for every curve
        rect = self.vb.sceneBoundingRect()
        for s in self._series.values():
            if s.axis is not None:
                s.vb.setGeometry(rect)
                s.vb.linkedViewChanged(self.vb, s.vb.XAxis)

    def _on_table_item(self, item: QTableWidgetItem) -> None:
        if item.column() == 3:
            name = self.table.item(item.row(), 0).text()
            if name in self._series:
                self.set_own_axis(name, item.checkState() == Qt.Checked)

    def _label(self, s: Series) -> str:
        units = s.state.units if s.state is not None else ""
        return f"{s.name} [{units}]" if units else s.name

    def _update_legend(self) -> None:
        self.legend.clear()
        if len(self._series) > MAX_LEGEND:
            self.legend.hide()
            return
        self.legend.show()
        for s in self._series.values():
            self.legend.addItem(s.curve, self._label(s))

    def _update_table(self) -> None:
        if not self.isVisible():
            return
        relabel = False
        for s in self._series.values():
            st = s.state
            if st is None or s.row < 0:
                continue
            if st.units and self.legend.isVisible():
                lab = self.legend.getLabel(s.curve)
                if lab is not None and lab.text != self._label(s):
                    relabel = True
            if s.axis is not None and st.units:
                s.axis.setLabel(self._label(s), color=s.colour.name())
            if st.native_type in NOT_NUMERIC or st.max_count > 1:
                val = "not plottable: " + ("array (use a waveform plot)" if st.max_count > 1 else "text")
            else:
                val = self._value_text(st)
            sev = st.severity_name
            item = self.table.item(s.row, 1)
            if item.text() != val:
                item.setText(val)
            sitem = self.table.item(s.row, 2)
            if sitem.text() != sev:
                sitem.setText(sev)
                sitem.setForeground(self._severity_brush(st))
        if relabel:
            self._update_legend()

    def _severity_brush(self, st: PVState) -> QBrush:
        """The severity cell's text colour: the alarm colour, muted when disconnected."""
        if not st.connected:
            return QBrush(self._status_colours.muted)
        colour = self._plot_colours.alarm.get(st.severity)
        return QBrush(colour) if colour is not None else QBrush()

    def _apply_theme(self) -> None:
        """Background, axes, legend, crosshair, traces (their own axes and list entries
        too) and alarm halos in the theme's colours."""
        pc = self._plot_colours = plot_colors(self._theme)
        self._status_colours = status_colors(self._theme)
        apply_plot_colours(self.plot, self.legend, pc, ("left", "bottom", "right"))
        self.crosshair.set_colour(pc.cursor)
        for s in self._series.values():
            s.colour = pc.trace(s.slot)
            s.curve.setPen(pg.mkPen(s.colour, width=LINE_WIDTH))
            for level, marker in s.markers.items():
                marker.setPen(pg.mkPen(pc.alarm[level], width=ALARM_WIDTH))
            if s.axis is not None:
                self._colour_axis(s, s.axis)
            if s.row >= 0:
                self.table.item(s.row, 0).setForeground(QBrush(s.colour))
                if s.state is not None:
                    self.table.item(s.row, 2).setForeground(self._severity_brush(s.state))

    def _colour_axis(self, s: Series, axis: pg.AxisItem) -> None:
        """A series' own y axis is drawn in the series' colour."""
        axis.setPen(pg.mkPen(s.colour))
        axis.setTextPen(pg.mkPen(s.colour))
        axis.setLabel(self._label(s), color=s.colour.name())

    @staticmethod
    def _value_text(st: PVState) -> str:
        return "" if st.value is None else (
                st.enum_strs[st.value] if st.enum_strs and isinstance(st.value, int)
                and 0 <= st.value < len(st.enum_strs) else
                (f"{st.value:.{st.precision}f}" if isinstance(st.value, float) and st.precision is not None
                 else str(st.value)))

    def _on_mouse(self, x: float, y: float) -> None:
        parts = [iso_time(x)]
        for s in list(self._series.values())[:8]:
            v = s.ring.value_at(x)
            if v is not None:
                val = "gap" if v[2] == SEV_DISCONNECTED else f"{v[1]:.6g}"
                parts.append(f"{s.name} = {val}")
        self.readout.setText("   ".join(parts))
