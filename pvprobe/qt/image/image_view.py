"""Area-detector image view: the newest frame of an areaDetector plugin (or of a
plain array PV with a given width and height) in a pyqtgraph ImageItem.

Frames come only through the :class:`~pvprobe.qt.bridge.EngineBridge`: the view
opens ArrayData *paced*: the view asks for the next frame when it starts painting
one (``EngineBridge.request_frame``) and the engine then fetches the newest, so
its round trip overlaps the paint, a camera faster than the screen costs no
copies of frames never shown, and a frame never waits behind the display; each batch carries at most the newest ArrayData value, and
the view sets at most one image per batch. What is really painted
is counted in :class:`_CountingImageItem.paint` (Qt merges repaints), so the
status bar's "shown" rate and the latency (frame timestamp → paint) are honest.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import QBuffer, QByteArray, QIODevice, QTimer, pyqtSignal
from PyQt5.QtGui import QImage
from PyQt5.QtWidgets import (
    QCheckBox, QComboBox, QFileDialog, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox,
    QVBoxLayout, QWidget,
)

from pvprobe.core import ndarray as nd
from pvprobe.core.atomic import atomic_write_bytes
from pvprobe.core.colors import IMAGE_OVERLAY
from pvprobe.core.image_feed import ImageFeed, RateMeter
from pvprobe.core.ndarray import Frame
from pvprobe.core.pvstate import PVState
from pvprobe.core.tiff import describe, write_tiff

from ..widgets.flow_layout import FlowLayout, labelled
from ..subscription import Subscription
from ..style.theme import label_style, status_colors, theme_of

#: Profile curves and cursor lines, and the ROI, drawn over the pixels.
_PROFILE = IMAGE_OVERLAY["profile"]
_ROI = IMAGE_OVERLAY["roi"]

#: Colour maps offered (label -> pyqtgraph colormap name).
COLORMAPS = {"grey": "CET-L1", "viridis": "viridis", "inferno": "inferno", "magma": "magma",
             "plasma": "plasma", "cividis": "cividis", "turbo": "turbo", "fire": "CET-L3",
             "blue": "CET-L6"}
HIST_HZ = 4.0        # histogram refresh
SLOW_HZ = 10.0       # ROI statistics and profiles
STATUS_HZ = 2.0      # status bar text
#: A frame asked for but not shown within this time is asked for again.
REQUEST_RETRY_S = 0.5


class _CountingImageItem(pg.ImageItem):
    """An ImageItem that counts the frames it really paints and their latency."""

    def __init__(self) -> None:
        super().__init__(axisOrder="row-major")
        self.pending_ts: Optional[float] = None   # IOC timestamp of the frame not yet painted
        self.has_pending = False
        self.painted = 0
        self.replaced = 0
        self.latencies: list[float] = []          # seconds, of recent painted frames
        self.latency_sum = 0.0
        self.latency_n = 0

    use_lut = True     # False: plain grey without a lookup table
    _lut_key: Any = None
    _lut32: Optional[np.ndarray] = None

    def render(self) -> None:
        """8/16-bit mono with scalar levels: one table lookup straight to 32-bit RGB
        (levels and colour map folded into one 256/65536-entry table, rebuilt only
        when they change), then a QImage on that buffer: two C calls per frame, few
        GIL hand-offs while libca threads copy the next frames. Anything else:
        pyqtgraph's own path."""
        img, lv = self.image, self.levels
        if (img is None or img.ndim != 2 or img.dtype not in (np.uint8, np.uint16)
                or lv is None or np.ndim(lv) != 1 or self.autoDownsample
                or self.axisOrder != "row-major"):
            return super().render()
        lut = self.lut
        if callable(lut):
            lut = lut(img, 256)
        lo, hi = float(lv[0]), float(lv[1])
        key = (img.dtype.itemsize, lo, hi, None if lut is None else hash(np.asarray(lut).tobytes()))
        if key != self._lut_key:
            self._lut32 = _argb_table(img.dtype, lo, hi, None if lut is None else np.asarray(lut))
            self._lut_key = key
        step = 1 if self.full_res else self._display_step()
        self._rendered_step = step
        src = img[::step, ::step] if step > 1 else img
        buf = np.take(self._lut32, src)
        self.qimage = pg.functions.ndarray_to_qimage(buf, QImage.Format_RGB32)
        self._renderRequired = False
        self._unrenderable = False

    full_res = False       # True: render every pixel even when the view shows fewer
    _rendered_step = 1

    def _display_step(self) -> int:
        """Image pixels per screen pixel (≥ 1): when a 2048² frame is shown in 800
        screen pixels, every 2nd pixel is drawn — what QPainter's nearest-neighbour
        scaling would pick anyway — for a quarter of the work."""
        try:
            xds, yds = self._computeDownsampleFactors()
        except Exception:
            return 1
        return max(1, min(int(xds), int(yds)))

    def viewTransformChanged(self) -> None:
        super().viewTransformChanged()
        if self.image is not None and not self._renderRequired \
                and self._rendered_step != self._display_step():
            self._renderRequired = True      # zoomed: render at the new step
            self.update()

    def setLevels(self, levels: Any, update: bool = True) -> None:
        img = self.image
        if (levels is not None and img is not None and img.ndim == 3 and img.dtype == np.uint8
                and np.ndim(levels) == 1 and float(levels[0]) == 0.0 and float(levels[1]) == 255.0):
            levels = None     # identity for 8-bit RGB: pyqtgraph's pass-through path
        super().setLevels(levels, update)

    def getLevels(self) -> Any:
        lv = super().getLevels()
        if lv is None and self.image is not None and self.image.dtype == np.uint8:
            return np.array([0.0, 255.0])
        return lv

    def setLookupTable(self, lut: Any, update: bool = True) -> None:
        super().setLookupTable(lut if self.use_lut else None, update)

    def set_frame(self, img: np.ndarray, ts: float, levels: Optional[tuple]) -> None:
        if self.has_pending:
            self.replaced += 1                    # set again before Qt painted the last one
        self.has_pending, self.pending_ts = True, ts
        if levels is None:
            self.setImage(img, autoLevels=False)
        else:
            self.setImage(img, autoLevels=False, levels=levels)

    #: Called (no arguments) as a new frame starts being painted.
    on_paint_start: Any = None

    def paint(self, painter: Any, *args: Any) -> None:
        if self.has_pending and self.on_paint_start is not None:
            self.on_paint_start()
        super().paint(painter, *args)
        if self.has_pending:
            self.has_pending = False
            self.painted += 1
            ts = self.pending_ts
            if ts and ts > 0:
                lat = time.time() - ts
                if -1.0 < lat < 3600.0:
                    self.latency_sum += lat
                    self.latency_n += 1
                    self.latencies.append(lat)
                    if len(self.latencies) > 256:
                        del self.latencies[:128]


def _argb_table(dtype: np.dtype, lo: float, hi: float, lut: Optional[np.ndarray]) -> np.ndarray:
    """uint32 0xFFRRGGBB for every possible pixel value of ``dtype`` (levels + colours)."""
    n = 256 if np.dtype(dtype).itemsize == 1 else 65536
    span = hi - lo if hi != lo else 1.0
    ind = np.arange(n, dtype=np.float64)
    if lut is None or len(lut) == 0:
        g = np.clip(np.round((ind - lo) * (255.0 / span)), 0, 255).astype(np.uint32)
        return np.uint32(0xFF000000) | (g << 16) | (g << 8) | g
    m = len(lut)
    idx = np.clip(((ind - lo) * (m / span)).astype(np.int64), 0, m - 1)
    rgb = lut[idx].astype(np.uint32)
    if rgb.ndim == 1:
        rgb = np.repeat(rgb[:, None], 3, axis=1)
    return np.uint32(0xFF000000) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


class ImageView(QWidget):
    """Image view for an areaDetector plugin prefix or a plain array PV.

    ``bridge`` is the app's EngineBridge; the view registers itself as a consumer
    and opens PVs only between :meth:`open_prefix`/:meth:`open_array` and
    :meth:`close_source` (every add matched by one remove).
    """

    #: Emitted with a message when saving fails or a source cannot be opened.
    errorOccurred = pyqtSignal(str)
    #: Emitted after each frame was set (the frame object).
    frameShown = pyqtSignal(object)

    def __init__(self, bridge: Any, prefix: Optional[str] = None,
                 parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.feed: Optional[ImageFeed] = None
        self._subs: list[Subscription] = []    # the array (paced) and its metadata PVs
        self.frame: Optional[Frame] = None        # newest frame shown (raw values)
        self.shown: Optional[np.ndarray] = None   # frame.data oriented (raw values)
        self.frame_state = None                   # its ArrayData PVState
        self.last_roi_stats: Optional[dict] = None
        self._levels: Optional[tuple[float, float]] = None
        self._need_levels = True
        self._setting_levels = False
        self._slow_dirty = False
        self._hist_dirty = False
        self._hist_range_dirty = False
        self._rate_recv = RateMeter()
        self._rate_shown = RateMeter()
        self._last_request = 0.0
        self._build()
        self.image_item.on_paint_start = self._want_frame
        if prefix:
            self.open_prefix(prefix)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        bar = FlowLayout()
        self.source_edit = QLineEdit()
        self.source_edit.setPlaceholderText("plugin prefix (e.g. 13SIM1:image1:) or array PV")
        self.width_spin = QSpinBox()
        self.height_spin = QSpinBox()
        for s, tip in ((self.width_spin, "width"), (self.height_spin, "height")):
            s.setRange(0, 65535)
            s.setSpecialValueText("auto")
            s.setToolTip(f"{tip} of a plain array PV (auto: from the plugin's size PVs)")
        open_btn = QPushButton("Open")
        open_btn.clicked.connect(self._open_from_ui)
        self.source_edit.returnPressed.connect(self._open_from_ui)
        bar.addWidget(labelled("Source:", self.source_edit, stretch=1), 1)
        bar.addWidget(labelled("W", self.width_spin))
        bar.addWidget(labelled("H", self.height_spin))
        bar.addWidget(open_btn)
        lay.addLayout(bar)

        tools = FlowLayout()
        self.cmap_combo = QComboBox()
        self.cmap_combo.addItems(list(COLORMAPS))
        self.cmap_combo.currentTextChanged.connect(self.set_colormap)
        self.auto_check = QCheckBox("Auto levels")
        self.auto_check.setChecked(True)
        self.auto_check.setToolTip("levels from the 0.5–99.5 percentiles")
        self.auto_check.toggled.connect(self._auto_toggled)
        self.per_frame_check = QCheckBox("every frame")
        self.per_frame_check.setToolTip("recompute auto levels for each frame")
        self.per_frame_check.toggled.connect(lambda _: self._levels_changed_by_option())
        self.log_check = QCheckBox("Log")
        self.log_check.toggled.connect(self._log_toggled)
        self.rotate_combo = QComboBox()
        self.rotate_combo.addItems(["0°", "90°", "180°", "270°"])
        self.rotate_combo.setToolTip("rotate clockwise")
        self.rotate_combo.currentIndexChanged.connect(lambda _: self._orientation_changed())
        self.flip_h_check = QCheckBox("Flip H")
        self.flip_v_check = QCheckBox("Flip V")
        for c in (self.flip_h_check, self.flip_v_check):
            c.toggled.connect(lambda _: self._orientation_changed())
        self.roi_check = QCheckBox("ROI")
        self.roi_check.toggled.connect(self.set_roi_visible)
        self.profile_check = QCheckBox("Profiles")
        self.profile_check.toggled.connect(self.set_profiles_visible)
        tiff_btn = QPushButton("Save TIFF…")
        tiff_btn.clicked.connect(self._save_tiff_dialog)
        png_btn = QPushButton("Save PNG…")
        png_btn.clicked.connect(self._save_png_dialog)
        tools.addWidget(labelled("Map", self.cmap_combo))
        for w in (self.auto_check, self.per_frame_check, self.log_check,
                  self.rotate_combo, self.flip_h_check, self.flip_v_check, self.roi_check,
                  self.profile_check):
            tools.addWidget(w)
        tools.addStretch(1)
        tools.addWidget(tiff_btn)
        tools.addWidget(png_btn)
        lay.addLayout(tools)

        # Separate widgets: a new frame repaints only the image's viewport, not the
        # histogram, its gradient or the profile plots.
        self.glw = pg.GraphicsLayoutWidget()
        self.vb = pg.ViewBox(lockAspect=True, invertY=True)
        self.vb.setMenuEnabled(True)
        self.image_item = _CountingImageItem()
        self.vb.addItem(self.image_item)
        self.glw.addItem(self.vb, row=0, col=0)
        self.vplot_w = pg.PlotWidget()
        self.vplot = self.vplot_w.getPlotItem()
        self.vplot.invertY(True)
        self.vplot.setYLink(self.vb)
        self.vplot_w.setMaximumWidth(170)
        self.vcurve = self.vplot.plot(pen=_PROFILE)
        self.hist_w = pg.HistogramLUTWidget()
        self.hist = self.hist_w.item
        self.hist.setImageItem(self.image_item)
        # the histogram is refreshed on a timer, not on every frame
        try:
            self.image_item.sigImageChanged.disconnect(self.hist.imageChanged)
        except TypeError:
            pass
        self.hist.sigLevelsChanged.connect(self._hist_levels_changed)
        self.hplot_w = pg.PlotWidget()
        self.hplot = self.hplot_w.getPlotItem()
        self.hplot.setXLink(self.vb)
        self.hplot_w.setMaximumHeight(150)
        self.hcurve = self.hplot.plot(pen=_PROFILE)
        self.hline = pg.InfiniteLine(angle=0, movable=True, pen=pg.mkPen(_PROFILE, width=1))
        self.vline = pg.InfiniteLine(angle=90, movable=True, pen=pg.mkPen(_PROFILE, width=1))
        for ln in (self.hline, self.vline):
            ln.sigPositionChanged.connect(self._mark_slow)
            self.vb.addItem(ln, ignoreBounds=True)
        self.roi = pg.RectROI([0, 0], [64, 64], pen=pg.mkPen(_ROI, width=2))
        self.roi.addScaleHandle([0, 0], [1, 1])
        self.roi.sigRegionChanged.connect(self._mark_slow)
        self.vb.addItem(self.roi, ignoreBounds=True)
        grid = QGridLayout()
        grid.setSpacing(2)
        grid.addWidget(self.glw, 0, 0)
        grid.addWidget(self.vplot_w, 0, 1)
        grid.addWidget(self.hist_w, 0, 2)
        grid.addWidget(self.hplot_w, 1, 0)
        grid.setColumnStretch(0, 1)
        grid.setRowStretch(0, 1)
        lay.addLayout(grid, 1)

        self.readout_label = QLabel(" ")
        self.roi_label = QLabel(" ")
        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.status_label = QLabel("no source")
        # long texts wrap: a label never widens the dock (and the window) past the screen
        for label in (self.readout_label, self.roi_label, self.status_label):
            label.setWordWrap(True)
        self.set_theme(theme_of())
        info = QHBoxLayout()
        info.addWidget(self.readout_label, 1)
        info.addWidget(self.roi_label, 2)
        lay.addLayout(info)
        lay.addWidget(self.message_label)
        lay.addWidget(self.status_label)

        self.glw.scene().sigMouseMoved.connect(self._mouse_moved)
        self.set_colormap("grey")
        self.set_roi_visible(False)
        self.set_profiles_visible(False)

        self._hist_timer = QTimer(self)
        self._hist_timer.setInterval(int(1000 / HIST_HZ))
        self._hist_timer.timeout.connect(self._refresh_hist)
        self._slow_timer = QTimer(self)
        self._slow_timer.setInterval(int(1000 / SLOW_HZ))
        self._slow_timer.timeout.connect(self._refresh_slow)
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(int(1000 / STATUS_HZ))
        self._status_timer.timeout.connect(self.refresh_status)
        for t in (self._hist_timer, self._slow_timer, self._status_timer):
            t.start()

    def set_theme(self, name: str) -> None:
        """Label colours of the "light" or "dark" theme. The image canvas, its profiles and
        histogram stay dark in both themes (as in every image viewer: no glare around the
        image), so their yellow/cyan lines and ROI need no change."""
        self.theme_name = name
        colours = status_colors(name)
        self.message_label.setStyleSheet(label_style(colours.bad, bold=True))
        self.status_label.setStyleSheet(label_style(colours.hint))

    # ------------------------------------------------------------------ sources
    def open_prefix(self, prefix: str) -> None:
        """Show the areaDetector plugin ``prefix`` (e.g. ``13SIM1:image1:``)."""
        prefix = prefix.strip()
        if not prefix:
            raise ValueError("empty prefix")
        self._open(ImageFeed.for_prefix(prefix))
        self.source_edit.setText(prefix)

    def open_array(self, pv: str, width: int, height: int, rgb: bool = False) -> None:
        """Show a plain array PV as a ``width``×``height`` image (mono, or RGB1)."""
        self._open(ImageFeed.for_array(pv.strip(), width, height, rgb))
        self.source_edit.setText(pv.strip())
        self.width_spin.setValue(width)
        self.height_spin.setValue(height)

    def _open(self, feed: ImageFeed) -> None:
        self.close_source()
        self.feed = feed
        self._subs = [self.bridge.subscribe([feed.array_pv], self._on_states, paced=True),
                      self.bridge.subscribe(feed.meta_pvs, self._on_states)]
        self._want_frame()
        self.frame = self.shown = self.frame_state = None
        self._need_levels = True
        self._rate_recv, self._rate_shown = RateMeter(), RateMeter()
        self._painted0 = self.image_item.painted
        self._replaced0 = self.image_item.replaced
        self._lat0 = (self.image_item.latency_sum, self.image_item.latency_n)
        self.refresh_status()

    def close_source(self) -> None:
        """Close the subscriptions; the last frame stays visible."""
        for sub in self._subs:
            sub.close()
        self._subs = []
        self.feed = None
        self.message_label.setText("")

    @property
    def is_open(self) -> bool:
        return self.feed is not None

    def subscribed_names(self) -> list[str]:
        """Every PV this view holds open now (for tests and diagnostics)."""
        return [n for sub in self._subs for n in sub.names]

    def _open_from_ui(self) -> None:
        text = self.source_edit.text().strip()
        if not text:
            return
        w, h = self.width_spin.value(), self.height_spin.value()
        try:
            if w > 0 and h > 0:
                self.open_array(text, w, h)
            else:
                if not text.endswith(":"):
                    text = text[: -len("ArrayData")] if text.endswith("ArrayData") else text + ":"
                self.open_prefix(text)
        except ValueError as exc:
            self._show_error(str(exc))

    def shutdown(self) -> None:
        """Close the source and stop taking batches (before the bridge goes away)."""
        self.close_source()
        for t in (self._hist_timer, self._slow_timer, self._status_timer):
            t.stop()

    def closeEvent(self, event: Any) -> None:
        self.shutdown()
        super().closeEvent(event)

    # ------------------------------------------------------------------ batches
    def _on_states(self, mine: list[PVState]) -> None:
        """The states of this view's PVs in one batch (routed by the bridge)."""
        feed = self.feed
        if feed is None:
            return
        frame, state = feed.apply(mine)
        if frame is not None:
            self._show(frame, state)
            if not self.glw.isVisible():
                self._want_frame()       # no paint will come: the next one now
        elif any(s.name == feed.array_pv and s.value is not None for s in mine):
            self._want_frame()           # skipped (size changing) or not new: next one
        msg = feed.message()
        if msg != self.message_label.text():
            self.message_label.setText(msg)

    def _want_frame(self) -> None:
        """Ask the engine for the next frame: sent as the last one starts being painted
        (or when it was skipped, or the view is hidden), so a frame is fetched only when
        it can be shown next and never waits behind the display
        (see ``Engine.request_frame``)."""
        if self.feed is not None:
            self._last_request = time.monotonic()
            self.bridge.request_frame(self.feed.array_pv)

    def _orientation(self) -> tuple[int, bool, bool]:
        return (90 * self.rotate_combo.currentIndex(), self.flip_h_check.isChecked(),
                self.flip_v_check.isChecked())

    def _show(self, frame: Frame, state: Any) -> None:
        old = self.frame
        reshaped = old is None or old.data.shape != frame.data.shape
        if reshaped or old.data.dtype != frame.data.dtype:
            self._need_levels = True
            self._hist_range_dirty = True
        self.frame, self.frame_state = frame, state
        self.shown = nd.orient(frame.data, *self._orientation())
        disp = nd.log_scale(self.shown) if self.log_check.isChecked() else self.shown
        levels = None
        true_colour = disp.ndim == 3 and disp.dtype == np.uint8
        if self.auto_check.isChecked() and true_colour and self._need_levels:
            levels = (0.0, 255.0)        # 8-bit RGB as the camera sent it (and the fastest path)
        elif self.auto_check.isChecked() and (self._need_levels or self.per_frame_check.isChecked()):
            levels = nd.auto_levels(disp)
        elif self._need_levels and self._levels is not None and not self.auto_check.isChecked():
            levels = self._levels
        elif self._need_levels:
            levels = nd.auto_levels(disp)
        self._need_levels = False
        if disp.dtype.kind == "f" or disp.ndim == 3:
            disp = np.ascontiguousarray(disp)
        self.image_item.set_frame(disp, getattr(state, "timestamp", 0.0), levels)
        if levels is not None:
            self._set_hist_levels(levels)
        self._slow_dirty = True
        self._hist_dirty = True
        if reshaped:
            self.vb.autoRange(padding=0)
            self._place_tools()
            self.refresh_status()
        self.frameShown.emit(frame)

    def _redisplay(self) -> None:
        if self.frame is not None:
            self._need_levels = True
            self.image_item.has_pending = False       # a redraw, not a new frame
            self._show(self.frame, self.frame_state)
            self.image_item.has_pending = False

    # ------------------------------------------------------------------ levels & colour
    def set_colormap(self, name: str) -> None:
        """Use colour map ``name`` (a key of :data:`COLORMAPS`) for mono images."""
        cmap = pg.colormap.get(COLORMAPS.get(name, name))
        self.image_item.use_lut = name != "grey"
        self.hist.gradient.setColorMap(cmap)
        if name == "grey":
            self.image_item.setLookupTable(None)
        if self.cmap_combo.currentText() != name and name in COLORMAPS:
            self.cmap_combo.setCurrentText(name)

    def set_levels(self, low: float, high: float) -> None:
        """Fixed (manual) levels; turns auto levels off."""
        self.auto_check.setChecked(False)
        self._levels = (float(low), float(high))
        self.image_item.setLevels(self._levels)
        self._set_hist_levels(self._levels)

    def levels(self) -> Optional[tuple[float, float]]:
        lv = self.image_item.getLevels()
        return None if lv is None else (float(np.min(lv)), float(np.max(lv)))

    def _set_hist_levels(self, levels: tuple) -> None:
        self._setting_levels = True
        try:
            self.hist.setLevels(*levels)
        finally:
            self._setting_levels = False

    def _hist_levels_changed(self, *_: Any) -> None:
        if self._setting_levels:
            return
        lo, hi = self.hist.getLevels()
        self._levels = (float(lo), float(hi))
        if self.auto_check.isChecked():           # the user dragged the levels: manual now
            self.auto_check.blockSignals(True)
            self.auto_check.setChecked(False)
            self.auto_check.blockSignals(False)

    def _auto_toggled(self, on: bool) -> None:
        if on:
            self._levels_changed_by_option()

    def _log_toggled(self, _: bool) -> None:
        self._levels = None          # manual levels were for the other scale: start afresh
        self._levels_changed_by_option()

    def _levels_changed_by_option(self) -> None:
        self._redisplay()
        self._hist_dirty = True

    def _orientation_changed(self) -> None:
        self._redisplay()
        self.vb.autoRange(padding=0)
        self._place_tools()

    def _refresh_hist(self) -> None:
        if self._hist_dirty and self.isVisible() and self.image_item.image is not None:
            self._hist_dirty = False
            self._setting_levels = True
            try:
                self.hist.imageChanged(autoLevel=False)
                if self._hist_range_dirty:     # new size or type: fit the histogram's axis
                    self._hist_range_dirty = False
                    self.hist.autoHistogramRange()
            finally:
                self._setting_levels = False

    # ------------------------------------------------------------------ ROI, profiles, readout
    def set_roi_visible(self, on: bool) -> None:
        self.roi.setVisible(on)
        if self.roi_check.isChecked() != on:
            self.roi_check.setChecked(on)
        if not on:
            self.roi_label.setText(" ")
            self.last_roi_stats = None
        self._mark_slow()

    def set_roi(self, x: float, y: float, w: float, h: float) -> None:
        """Place the ROI (displayed-image pixels) and show it."""
        self.roi.setPos((x, y), update=False)
        self.roi.setSize((w, h))
        self.set_roi_visible(True)
        self._refresh_slow()

    def set_profiles_visible(self, on: bool) -> None:
        for item in (self.hplot_w, self.vplot_w, self.hline, self.vline):
            item.setVisible(on)
        if self.profile_check.isChecked() != on:
            self.profile_check.setChecked(on)
        self._mark_slow()

    def set_profile_position(self, x: int, y: int) -> None:
        """Put the profile cross at pixel (x, y) of the displayed image."""
        self.vline.setValue(x + 0.5)
        self.hline.setValue(y + 0.5)
        self._refresh_slow()

    def _place_tools(self) -> None:
        if self.shown is None:
            return
        h, w = self.shown.shape[:2]
        self.roi.setPos((w / 4, h / 4), update=False)
        self.roi.setSize((w / 2, h / 2))
        self.vline.setValue(w / 2)
        self.hline.setValue(h / 2)

    def _mark_slow(self, *_: Any) -> None:
        self._slow_dirty = True

    def _refresh_slow(self) -> None:
        if (self.feed is not None and not self.image_item.has_pending
                and time.monotonic() - self._last_request > REQUEST_RETRY_S):
            self._want_frame()     # a request whose frame never came (lost, or not painted)
        if not self._slow_dirty or self.shown is None:
            return
        self._slow_dirty = False
        img = self.shown
        if self.roi.isVisible():
            (x, y), (w, h) = self.roi.pos(), self.roi.size()
            s = nd.roi_stats(img, x, y, w, h)
            self.last_roi_stats = s
            self.roi_label.setText(_roi_text(s))
        if self.profile_check.isChecked():
            row = nd.row_profile(img, int(math.floor(self.hline.value())))
            col = nd.col_profile(img, int(math.floor(self.vline.value())))
            if row is not None:
                self.hcurve.setData(np.arange(len(row)) + 0.5, row, skipFiniteCheck=True)
            if col is not None:
                self.vcurve.setData(col, np.arange(len(col)) + 0.5, skipFiniteCheck=True)

    def _mouse_moved(self, pos: Any) -> None:
        if self.shown is None or not self.vb.sceneBoundingRect().contains(pos):
            return
        p = self.vb.mapSceneToView(pos)
        self.readout_label.setText(self.readout_at(int(math.floor(p.x())), int(math.floor(p.y()))))

    def readout_at(self, x: int, y: int) -> str:
        """"x, y = value" for the displayed pixel (x, y), in the frame's own coordinates."""
        img = self.shown
        if img is None or not (0 <= y < img.shape[0] and 0 <= x < img.shape[1]):
            return " "
        sx, sy = nd.source_xy(x, y, img.shape, *self._orientation())
        v = img[y, x]
        text = (f"R {v[0]} G {v[1]} B {v[2]}" if img.ndim == 3 else _num(v))
        return f"x {sx}  y {sy}  =  {text}"

    # ------------------------------------------------------------------ saving
    def save_tiff(self, path: str) -> None:
        """The current frame's raw values (full bit depth, camera orientation)."""
        if self.frame is None:
            raise ValueError("no frame to save yet")
        st = self.frame_state
        extra = f"{self.feed.array_pv if self.feed else ''} uid={getattr(self.feed.counters, 'unique_id', None) if self.feed else None} ts={getattr(st, 'timestamp', 0.0):.6f}"
        write_tiff(path, self.frame.data, describe(self.frame.data, extra))

    def save_png(self, path: str) -> None:
        """The frame as displayed (orientation, levels, colour map, log), image resolution."""
        item = self.image_item
        if item.image is None:
            raise ValueError("no frame to save yet")
        item.full_res = True      # every pixel, whatever the zoom
        try:
            item.render()
        finally:
            item.full_res = False
            item._renderRequired = True     # back to the screen's resolution on next paint
        if item.qimage is None:
            raise ValueError("the frame could not be rendered")
        data = QByteArray()
        buf = QBuffer(data)
        buf.open(QIODevice.WriteOnly)
        if not item.qimage.save(buf, "PNG"):
            raise OSError("PNG encoding failed")
        buf.close()
        atomic_write_bytes(path, bytes(data))

    def _save_tiff_dialog(self) -> None:
        self._save_dialog("TIFF (*.tif *.tiff)", ".tif", self.save_tiff)

    def _save_png_dialog(self) -> None:
        self._save_dialog("PNG (*.png)", ".png", self.save_png)

    def _save_dialog(self, filt: str, ext: str, fn: Any) -> None:
        if self.frame is None:
            self._show_error("no frame to save yet")
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save frame", f"frame{ext}", filt)
        if not path:
            return
        if not path.lower().endswith((ext, ".tiff")):
            path += ext
        try:
            fn(path)
        except (OSError, ValueError) as exc:
            self._show_error(f"could not save {path}: {exc}")

    def _show_error(self, msg: str) -> None:
        self.message_label.setText(msg)
        self.errorOccurred.emit(msg)

    # ------------------------------------------------------------------ status
    def stats(self) -> dict[str, Any]:
        """Counts since the source was opened (for --stats): frames received,
        displayed (really painted), dropped, skipped, mean latency, rates."""
        item = self.image_item
        feed = self.feed
        c = feed.counters if feed else None
        painted = item.painted - getattr(self, "_painted0", 0)
        received = c.received if c else 0
        decoded = c.decoded if c else 0
        lat_sum = item.latency_sum - getattr(self, "_lat0", (0.0, 0))[0]
        lat_n = item.latency_n - getattr(self, "_lat0", (0.0, 0))[1]
        before_view = max(0, c.published - received) if c and c.published else 0
        replaced = max(0, decoded - painted)
        return {
            "source": feed.array_pv if feed else None,
            "frames_published": c.published if c else None,
            "frames_received": received,
            "frames_displayed": painted,
            "frames_dropped": before_view + replaced,
            "frames_dropped_before_view": before_view,
            "frames_replaced_before_paint": replaced,
            "frames_skipped": c.skipped if c else 0,
            "latency_ms_mean": round(1000 * lat_sum / lat_n, 2) if lat_n else None,
            "array_counter": c.counter if c else None,
            "image": self._image_text(),
        }

    def _image_text(self) -> str:
        f = self.frame
        if f is None:
            return ""
        return f"{f.width}×{f.height} {f.color_mode} {f.data_type}" + (f" ({f.note})" if f.note else "")

    def refresh_status(self) -> None:
        """Update the status line: rates, dropped, counter, size/mode/type, latency."""
        if self.feed is None:
            self.status_label.setText("no source")
            return
        s = self.stats()
        recv = self._rate_recv.rate(s["frames_received"])
        shown = self._rate_shown.rate(s["frames_displayed"])
        lats = self.image_item.latencies[-32:]
        lat = f"{1000 * float(np.mean(lats)):.0f} ms" if lats else "–"
        parts = [f"received {recv:.1f}/s", f"shown {shown:.1f}/s",
                 f"dropped {s['frames_dropped']}"]
        if s["frames_skipped"]:
            parts.append(f"skipped {s['frames_skipped']}")
        if s["array_counter"] is not None:
            parts.append(f"counter {s['array_counter']}")
        if s["image"]:
            parts.append(s["image"])
        parts.append(f"latency {lat}")
        self.status_label.setText("  ·  ".join(parts))


def _num(v: Any) -> str:
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.6g}"
    return str(v)


def _roi_text(s: Optional[dict]) -> str:
    if s is None:
        return "ROI outside the image"
    cx, cy = s["centroid_x"], s["centroid_y"]
    cen = f"({cx:.1f}, {cy:.1f})" if cx is not None else "–"
    return (f"ROI {s['width']}×{s['height']} @({s['x']},{s['y']}): min {s['min']:.6g}  "
            f"max {s['max']:.6g}  mean {s['mean']:.6g}  σ {s['sigma']:.4g}  "
            f"sum {s['sum']:.6g}  centroid {cen}")
