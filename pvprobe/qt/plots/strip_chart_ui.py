"""The strip chart's widgets and layout (its setupUi)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
)

from ..widgets.flow_layout import FlowLayout, labelled
from .plot_common import Crosshair, NameDragTable, PaintCounter, apply_plot_colours, export_buttons

#: The time spans offered (seconds, label).
SPANS: tuple[tuple[float, str], ...] = (
    (10, "10 s"), (30, "30 s"), (60, "1 min"), (300, "5 min"), (600, "10 min"), (1800, "30 min"),
    (3600, "1 h"), (7200, "2 h"), (21600, "6 h"), (43200, "12 h"), (86400, "24 h"),
)

if TYPE_CHECKING:
    from .strip_chart import StripChart


def build_strip_chart_ui(w: StripChart) -> None:
    """Make the chart's widgets (entry, span, pause, plot, PV table) and lay them out."""
    w.entry = QLineEdit(placeholderText="Add scalar PVs (Enter)")
    w.entry.returnPressed.connect(w._on_entry)
    w.span_combo = QComboBox()
    for s, text in SPANS:
        w.span_combo.addItem(text, s)
    w.span_combo.activated.connect(lambda i: w.set_span(w.span_combo.itemData(i)))
    w.pause_btn = QPushButton("Pause")
    w.pause_btn.setCheckable(True)
    w.pause_btn.setToolTip("Stop following time; pan/zoom to scroll back. Zooming pauses too.")
    w.pause_btn.toggled.connect(w.set_paused)
    live_btn = QPushButton("Live")
    live_btn.setToolTip("Follow the newest data again, autoscale y")
    live_btn.clicked.connect(w.go_live)
    csv_btn, png_btn = export_buttons(w, "Export the visible samples (every update, IOC timestamps)")
    remove_btn = QPushButton("Remove")
    remove_btn.setToolTip("Remove the PVs selected in the list")
    remove_btn.clicked.connect(w.remove_selected)
    bar = FlowLayout()      # wraps: never wider than the dock allows
    bar.addWidget(w.entry, 2)
    bar.addWidget(labelled("Span:", w.span_combo))
    for widget in (w.pause_btn, live_btn, csv_btn, png_btn, remove_btn):
        bar.addWidget(widget)

    w.date_axis = pg.DateAxisItem(orientation="bottom")
    w.plot = pg.PlotWidget(axisItems={"bottom": w.date_axis})
    w.plot.setAcceptDrops(False)
    w.plot.viewport().setAcceptDrops(False)
    w.item = w.plot.getPlotItem()
    w.item.showGrid(x=True, y=True, alpha=0.25)
    w.legend = w.item.addLegend(offset=(10, 10))
    w.vb = w.item.getViewBox()
    w.vb.disableAutoRange(axis=pg.ViewBox.XAxis)
    w.vb.enableAutoRange(axis=pg.ViewBox.YAxis)
    w.vb.setAutoVisible(y=True)
    w.vb.sigRangeChangedManually.connect(w._on_manual_range)
    w.vb.sigXRangeChanged.connect(w._on_x_range)
    w.vb.sigResized.connect(w._sync_views)
    w.crosshair = Crosshair(w.item, w._on_mouse, lambda: w.readout.setText(""))
    w.painted = PaintCounter(w.plot.viewport(), w, on_frame=w._frame_done)
    apply_plot_colours(w.plot, w.legend, w._plot_colours, ("left", "bottom", "right"))
    w.crosshair.set_colour(w._plot_colours.cursor)

    w.table = NameDragTable(0, 4)      # rows drag out as PV names
    w.table.setHorizontalHeaderLabels(["PV", "Value", "Severity", "Own y"])
    w.table.verticalHeader().setVisible(False)
    w.table.setSelectionBehavior(QAbstractItemView.SelectRows)
    w.table.setEditTriggers(QAbstractItemView.NoEditTriggers)
    hh = w.table.horizontalHeader()
    fm = w.table.fontMetrics()   # fixed widths: no per-row measuring (200 rows live)
    for c, sample in ((0, "XXXXXXX:XXXXXXX"), (1, "-1234.567"), (2, "DISCONNECTED"), (3, "Own y")):
        hh.setSectionResizeMode(c, QHeaderView.Interactive)
        w.table.setColumnWidth(c, fm.horizontalAdvance(sample) + 12)
    hh.setStretchLastSection(True)
    w.table.setMinimumWidth(240)
    w.table.itemChanged.connect(w._on_table_item)

    w.memory_label = QLabel()
    w.memory_label.setToolTip("Each PV's history is a ring of fixed size: the oldest "
                                 "samples are overwritten, memory never grows.")
    w.readout = QLabel()
    w.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
    for label in (w.memory_label, w.readout):   # long texts wrap, never widen the window
        label.setWordWrap(True)
    split = QSplitter(Qt.Horizontal)
    split.addWidget(w.plot)
    split.addWidget(w.table)
    split.setStretchFactor(0, 4)
    split.setStretchFactor(1, 0)
    split.setSizes([780, 500])
    lay = QVBoxLayout(w)
    lay.setContentsMargins(4, 4, 4, 4)
    lay.addLayout(bar)
    lay.addWidget(split, 1)
    lay.addWidget(w.readout)
    lay.addWidget(w.memory_label)
