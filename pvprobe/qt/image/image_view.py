"""Area-detector image view: the newest frame of an areaDetector plugin (or of a
plain array PV with a given width and height) in a pyqtgraph ImageItem.

Frames come only through the :class:`~pvprobe.qt.bridge.EngineBridge`: the view
opens ArrayData *paced*: the view asks for the next frame when it starts painting
one (``EngineBridge.request_frame``) and the engine then fetches the newest, so
its round trip overlaps the paint, a camera faster than the screen costs no
copies of frames never shown, and a frame never waits behind the display; each batch
carries at most the newest ArrayData value, and
the view sets at most one image per batch. What is really painted
is counted in :meth:`.image_item.CountingImageItem.paint` (Qt merges repaints), so the
status bar's "shown" rate and the latency (frame timestamp → paint) are honest.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtCore import pyqtSignal
from PyQt5.QtWidgets import QWidget

from pvprobe.core import ndarray as nd
from pvprobe.core.image_feed import ImageFeed
from pvprobe.core.ndarray import Frame
from pvprobe.core.pvnames import strip_scheme
from pvprobe.core.pvstate import PVState

from ..style.theme import label_style, status_colors
from ..subscription import Subscription
from .image_save import PNG_EXT, PNG_FILTER, TIFF_EXT, TIFF_FILTER, ask_save_path, save_frame_tiff, save_rendered_png
from .image_status import ImageStatus
from .image_view_ui import COLORMAPS, build_image_view_ui


def is_pva_source(text: str) -> bool:
    """The image source box names a pvAccess NTNDArray (``pva://NAME``)."""
    return text.strip().lower().startswith("pva://")


#: A frame asked for but not shown within this time is asked for again.
REQUEST_RETRY_S = 0.5


class ImageView(QWidget):
    """Image view for an areaDetector plugin prefix or a plain array PV.

    ``bridge`` is the app's EngineBridge; the view holds subscriptions (the array
    paced, its metadata PVs) only between :meth:`open_prefix`/:meth:`open_array`
    and :meth:`close_source`, which closes them.
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
        self._last_request = 0.0
        self._build()
        #: Frames received, painted, dropped, latency and rates since the source was opened.
        self.counts = ImageStatus(self.image_item)
        self.image_item.on_paint_start = self._want_frame
        if prefix:
            self.open_prefix(prefix)

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        build_image_view_ui(self)

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
        if is_pva_source(prefix):
            self.open_pva(prefix)
            return
        self._open(ImageFeed.for_prefix(prefix))
        self.source_edit.setText(prefix)

    def open_array(self, pv: str, width: int, height: int, rgb: bool = False) -> None:
        """Show a plain array PV as a ``width``×``height`` image (mono, or RGB1)."""
        self._open(ImageFeed.for_array(pv.strip(), width, height, rgb))
        self.source_edit.setText(pv.strip())
        self.width_spin.setValue(width)
        self.height_spin.setValue(height)

    def open_pva(self, name: str) -> None:
        """Show a pvAccess NTNDArray ``pva://NAME`` (frames decoded by the engine, any codec)."""
        key = strip_scheme(name.strip())
        self._open(ImageFeed.for_pva(key))
        self.source_edit.setText(key)

    def _open(self, feed: ImageFeed) -> None:
        self.close_source()
        self.feed = feed
        self._subs = [self.bridge.subscribe([feed.array_pv], self._on_states, paced=True),
                      self.bridge.subscribe(feed.meta_pvs, self._on_states)]
        self._want_frame()
        self.frame = self.shown = self.frame_state = None
        self._need_levels = True
        self.counts.reset()
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
            if is_pva_source(text):
                self.open_pva(text)
            elif w > 0 and h > 0:
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
        save_frame_tiff(path, self.frame, self.frame_state, self.feed)

    def save_png(self, path: str) -> None:
        """The frame as displayed (orientation, levels, colour map, log), image resolution."""
        save_rendered_png(self.image_item, path)

    def _save_tiff_dialog(self) -> None:
        self._save_dialog(TIFF_FILTER, TIFF_EXT, self.save_tiff)

    def _save_png_dialog(self) -> None:
        self._save_dialog(PNG_FILTER, PNG_EXT, self.save_png)

    def _save_dialog(self, filt: str, ext: str, fn: Any) -> None:
        if self.frame is None:
            self._show_error("no frame to save yet")
            return
        path = ask_save_path(self, filt, ext)
        if not path:
            return
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
        return self.counts.stats(self.feed, self.frame)

    def refresh_status(self) -> None:
        """Update the status line: rates, dropped, counter, size/mode/type, latency."""
        if self.feed is None:
            self.status_label.setText("no source")
            return
        self.status_label.setText(self.counts.line(self.stats(), self.feed.pva_status()))


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
