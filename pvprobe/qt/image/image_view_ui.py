"""The image view's widgets and layout (its setupUi)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
)

from pvprobe.core.colors import IMAGE_OVERLAY

from ..style.theme import theme_of
from ..widgets.flow_layout import FlowLayout, labelled
from .image_item import CountingImageItem

#: Profile curves and cursor lines, and the ROI, drawn over the pixels.
PROFILE = IMAGE_OVERLAY["profile"]
ROI = IMAGE_OVERLAY["roi"]

#: Colour maps offered (label -> pyqtgraph colormap name).
COLORMAPS = {"grey": "CET-L1", "viridis": "viridis", "inferno": "inferno", "magma": "magma",
             "plasma": "plasma", "cividis": "cividis", "turbo": "turbo", "fire": "CET-L3",
             "blue": "CET-L6"}
HIST_HZ = 4.0        # histogram refresh
SLOW_HZ = 10.0       # ROI statistics and profiles
STATUS_HZ = 2.0      # status bar text

if TYPE_CHECKING:
    from .image_view import ImageView


def build_image_view_ui(w: ImageView) -> None:
    """Make the view's widgets (source bar, image, histogram, ROI, profiles, status) and timers."""
    lay = QVBoxLayout(w)
    lay.setContentsMargins(4, 4, 4, 4)
    bar = FlowLayout()
    w.source_edit = QLineEdit()
    w.source_edit.setPlaceholderText("plugin prefix (e.g. 13SIM1:image1:), array PV, or pva://NTNDArray")
    w.width_spin = QSpinBox()
    w.height_spin = QSpinBox()
    for s, tip in ((w.width_spin, "width"), (w.height_spin, "height")):
        s.setRange(0, 65535)
        s.setSpecialValueText("auto")
        s.setToolTip(f"{tip} of a plain array PV (auto: from the plugin's size PVs)")
    open_btn = QPushButton("Open")
    open_btn.clicked.connect(w._open_from_ui)
    w.source_edit.returnPressed.connect(w._open_from_ui)
    bar.addWidget(labelled("Source:", w.source_edit, stretch=1), 1)
    bar.addWidget(labelled("W", w.width_spin))
    bar.addWidget(labelled("H", w.height_spin))
    bar.addWidget(open_btn)
    lay.addLayout(bar)

    tools = FlowLayout()
    w.cmap_combo = QComboBox()
    w.cmap_combo.addItems(list(COLORMAPS))
    w.cmap_combo.currentTextChanged.connect(w.set_colormap)
    w.auto_check = QCheckBox("Auto levels")
    w.auto_check.setChecked(True)
    w.auto_check.setToolTip("levels from the 0.5–99.5 percentiles")
    w.auto_check.toggled.connect(w._auto_toggled)
    w.per_frame_check = QCheckBox("every frame")
    w.per_frame_check.setToolTip("recompute auto levels for each frame")
    w.per_frame_check.toggled.connect(lambda _: w._levels_changed_by_option())
    w.log_check = QCheckBox("Log")
    w.log_check.toggled.connect(w._log_toggled)
    w.rotate_combo = QComboBox()
    w.rotate_combo.addItems(["0°", "90°", "180°", "270°"])
    w.rotate_combo.setToolTip("rotate clockwise")
    w.rotate_combo.currentIndexChanged.connect(lambda _: w._orientation_changed())
    w.flip_h_check = QCheckBox("Flip H")
    w.flip_v_check = QCheckBox("Flip V")
    for c in (w.flip_h_check, w.flip_v_check):
        c.toggled.connect(lambda _: w._orientation_changed())
    w.roi_check = QCheckBox("ROI")
    w.roi_check.toggled.connect(w.set_roi_visible)
    w.profile_check = QCheckBox("Profiles")
    w.profile_check.toggled.connect(w.set_profiles_visible)
    tiff_btn = QPushButton("Save TIFF…")
    tiff_btn.clicked.connect(w._save_tiff_dialog)
    png_btn = QPushButton("Save PNG…")
    png_btn.clicked.connect(w._save_png_dialog)
    tools.addWidget(labelled("Map", w.cmap_combo))
    for widget in (w.auto_check, w.per_frame_check, w.log_check,
              w.rotate_combo, w.flip_h_check, w.flip_v_check, w.roi_check,
              w.profile_check):
        tools.addWidget(widget)
    tools.addStretch(1)
    tools.addWidget(tiff_btn)
    tools.addWidget(png_btn)
    lay.addLayout(tools)

    # Separate widgets: a new frame repaints only the image's viewport, not the
    # histogram, its gradient or the profile plots.
    w.glw = pg.GraphicsLayoutWidget()
    w.vb = pg.ViewBox(lockAspect=True, invertY=True)
    w.vb.setMenuEnabled(True)
    w.image_item = CountingImageItem()
    w.vb.addItem(w.image_item)
    w.glw.addItem(w.vb, row=0, col=0)
    w.vplot_w = pg.PlotWidget()
    w.vplot = w.vplot_w.getPlotItem()
    w.vplot.invertY(True)
    w.vplot.setYLink(w.vb)
    w.vplot_w.setMaximumWidth(170)
    w.vcurve = w.vplot.plot(pen=PROFILE)
    w.hist_w = pg.HistogramLUTWidget()
    w.hist = w.hist_w.item
    w.hist.setImageItem(w.image_item)
    # the histogram is refreshed on a timer, not on every frame
    try:
        w.image_item.sigImageChanged.disconnect(w.hist.imageChanged)
    except TypeError:
        pass
    w.hist.sigLevelsChanged.connect(w._hist_levels_changed)
    w.hplot_w = pg.PlotWidget()
    w.hplot = w.hplot_w.getPlotItem()
    w.hplot.setXLink(w.vb)
    w.hplot_w.setMaximumHeight(150)
    w.hcurve = w.hplot.plot(pen=PROFILE)
    w.hline = pg.InfiniteLine(angle=0, movable=True, pen=pg.mkPen(PROFILE, width=1))
    w.vline = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(PROFILE, width=1))
    for ln in (w.hline, w.vline):
        ln.sigPositionChanged.connect(w._mark_slow)
        w.vb.addItem(ln, ignoreBounds=True)
    w.roi = pg.RectROI([0, 0], [64, 64], pen=pg.mkPen(ROI, width=2))
    w.roi.addScaleHandle([0, 0], [1, 1])
    w.roi.sigRegionChanged.connect(w._mark_slow)
    w.vb.addItem(w.roi, ignoreBounds=True)
    grid = QGridLayout()
    grid.setSpacing(2)
    grid.addWidget(w.glw, 0, 0)
    grid.addWidget(w.vplot_w, 0, 1)
    grid.addWidget(w.hist_w, 0, 2)
    grid.addWidget(w.hplot_w, 1, 0)
    grid.setColumnStretch(0, 1)
    grid.setRowStretch(0, 1)
    lay.addLayout(grid, 1)

    w.readout_label = QLabel(" ")
    w.roi_label = QLabel(" ")
    w.message_label = QLabel("")
    w.message_label.setWordWrap(True)
    w.status_label = QLabel("no source")
    # long texts wrap: a label never widens the dock (and the window) past the screen
    for label in (w.readout_label, w.roi_label, w.status_label):
        label.setWordWrap(True)
    w.set_theme(theme_of())
    info = QHBoxLayout()
    info.addWidget(w.readout_label, 1)
    info.addWidget(w.roi_label, 2)
    lay.addLayout(info)
    lay.addWidget(w.message_label)
    lay.addWidget(w.status_label)

    w.glw.scene().sigMouseMoved.connect(w._mouse_moved)
    w.set_colormap("grey")
    w.set_roi_visible(False)
    w.set_profiles_visible(False)

    w._hist_timer = QTimer(w)
    w._hist_timer.setInterval(int(1000 / HIST_HZ))
    w._hist_timer.timeout.connect(w._refresh_hist)
    w._slow_timer = QTimer(w)
    w._slow_timer.setInterval(int(1000 / SLOW_HZ))
    w._slow_timer.timeout.connect(w._refresh_slow)
    w._status_timer = QTimer(w)
    w._status_timer.setInterval(int(1000 / STATUS_HZ))
    w._status_timer.timeout.connect(w.refresh_status)
    for t in (w._hist_timer, w._slow_timer, w._status_timer):
        t.start()
