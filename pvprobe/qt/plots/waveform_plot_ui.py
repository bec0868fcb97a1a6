"""The waveform plot's widgets and layout (its setupUi)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PyQt5.QtCore import Qt
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLabel,
    QLineEdit,
    QMenu,
    QPushButton,
    QToolButton,
    QVBoxLayout,
)

from ..widgets.flow_layout import FlowLayout, labelled
from .plot_common import Crosshair, PaintCounter, export_buttons, make_legend_draggable

#: The x axis choice meaning "the element index".
INDEX_TEXT = "index"

if TYPE_CHECKING:
    from .waveform_plot import WaveformPlot


def build_waveform_plot_ui(w: WaveformPlot) -> None:
    """Make the plot's widgets (entry, x choice, scale lock, plot, legend, info) and lay them out."""
    w.entry = QLineEdit(placeholderText="Add array PVs (Enter)")
    w.entry.returnPressed.connect(w._on_entry)
    w.x_combo = QComboBox(editable=True)
    w.x_combo.addItem(INDEX_TEXT)
    w.x_combo.setToolTip("x axis: the element index, or another array PV (type its name)")
    w.x_combo.setMinimumContentsLength(14)
    w.x_combo.activated[str].connect(w._on_x_chosen)
    w.lock_box = QCheckBox("Lock scale")
    w.lock_box.setToolTip("Unchecked: x and y follow the data (autoscale)")
    w.lock_box.toggled.connect(w.set_scale_locked)
    w.log_box = QCheckBox("Log y")
    w.log_box.toggled.connect(w.set_log_y)
    w.freeze_box = QCheckBox("Freeze")
    w.freeze_box.setToolTip("Stop redrawing; values keep arriving and are shown on resume")
    w.freeze_box.toggled.connect(w.set_frozen)
    auto_btn = QPushButton("Autoscale")
    auto_btn.clicked.connect(w.autoscale)
    csv_btn, png_btn = export_buttons(w, "Export the shown data (visible x range, full resolution)")
    w.pv_menu_btn = QToolButton(text="PVs", popupMode=QToolButton.InstantPopup)
    w.pv_menu = QMenu(w)
    w.pv_menu.aboutToShow.connect(w._fill_pv_menu)
    w.pv_menu_btn.setMenu(w.pv_menu)

    bar = FlowLayout()      # wraps: never wider than the dock allows
    bar.addWidget(w.entry, 2)
    bar.addWidget(labelled("x:", w.x_combo, stretch=1), 1)
    for widget in (w.lock_box, auto_btn, w.log_box, w.freeze_box, csv_btn, png_btn,
              w.pv_menu_btn):
        bar.addWidget(widget)

    w.plot = pg.PlotWidget()
    w.plot.setAcceptDrops(False)
    w.plot.viewport().setAcceptDrops(False)
    w.item = w.plot.getPlotItem()
    w.item.showGrid(x=True, y=True, alpha=0.25)
    w.item.setLabel("bottom", INDEX_TEXT)
    w.legend = w.item.addLegend(offset=(10, 10))
    make_legend_draggable(w.legend, w, w._names_by_curve)
    w.vb = w.item.getViewBox()
    w.vb.disableAutoRange()
    w.vb.sigRangeChangedManually.connect(w._on_manual_range)
    w.vb.sigXRangeChanged.connect(w._on_x_range)
    w.vb.sigResized.connect(w._on_x_range)
    w.crosshair = Crosshair(w.item, w._on_mouse, w._on_mouse_leave)
    w.painted = PaintCounter(w.plot.viewport(), w)
    w._apply_theme()

    w.info = QLabel()
    w.info.setTextInteractionFlags(Qt.TextSelectableByMouse)
    w.readout = QLabel()
    w.readout.setTextInteractionFlags(Qt.TextSelectableByMouse)
    for label in (w.info, w.readout):     # long texts wrap, never widen the window
        label.setWordWrap(True)
    lay = QVBoxLayout(w)
    lay.setContentsMargins(4, 4, 4, 4)
    lay.addLayout(bar)
    lay.addWidget(w.plot, 1)
    lay.addWidget(w.info)
    lay.addWidget(w.readout)
    w._update_info()
