"""The image item: pixels painted through a lookup table, frames and paint latency
counted."""

from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np
import pyqtgraph as pg
from PyQt5.QtGui import QImage


class CountingImageItem(pg.ImageItem):
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
            self._out = ()           # pyqtgraph's path makes its own: ours go (4 MB each at 1024²)
            return super().render()
        lut = self.lut
        if callable(lut):
            lut = lut(img, 256)
        lo, hi = float(lv[0]), float(lv[1])
        key = (img.dtype.itemsize, lo, hi, None if lut is None else hash(np.asarray(lut).tobytes()))
        if key != self._lut_key:
            self._lut32 = argb_table(img.dtype, lo, hi, None if lut is None else np.asarray(lut))
            self._lut_key = key
        step = 1 if self.full_res else self._display_step()
        self._rendered_step = step
        src = img[::step, ::step] if step > 1 else img
        self.qimage = pg.functions.ndarray_to_qimage(self._lookup(src), QImage.Format_RGB32)
        self._renderRequired = False
        self._unrenderable = False

    full_res = False       # True: render every pixel even when the view shows fewer
    _rendered_step = 1
    _out: tuple = ()       # the two 32-bit output buffers of the current shape
    _out_next = 0

    def _lookup(self, src: np.ndarray) -> np.ndarray:
        """``src`` through the colour table into the next output buffer (returned)."""
        buf = self._out_buffer(src.shape)
        lookup_argb(self._lut32, src, buf)
        return buf

    def _out_buffer(self, shape: tuple) -> np.ndarray:
        """The output buffer for the next render: two per frame shape, used in turn
        (no 4 MB allocation and page faults per 1024² frame). The one taken is never
        the buffer of the QImage shown now (``self.qimage``), so that image keeps its
        pixels until it is replaced; rendering and painting both run in the GUI
        thread, so Qt never paints from a buffer while it is written."""
        if not self._out or self._out[0].shape != shape:
            self._out = (np.empty(shape, np.uint32), np.empty(shape, np.uint32))
            self._out_next = 0
        buf = self._out[self._out_next]
        if self.qimage is not None and getattr(self.qimage, "data", None) is buf:
            self._out_next ^= 1              # (e.g. after a render of another shape)
            buf = self._out[self._out_next]
        self._out_next ^= 1
        return buf

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


#: Pixels per block of :func:`lookup_argb`: numpy casts a block's 8/16-bit indices to
#: a temporary of intp (8 bytes each: 512 KB here), which stays in the core's cache.
LOOKUP_BLOCK_PX = 65536


def lookup_argb(lut: np.ndarray, src: np.ndarray, out: np.ndarray) -> None:
    """``out[...] = lut[src]`` for a 2-D uint8/uint16 ``src`` (any strides) and a table
    of every value of its type: the pixels of ``np.take(lut, src)``, without its
    whole-frame intp temporary (8 MB per 1024² frame, written and read back: three
    times the memory traffic of the lookup itself) and its bounds checks (the table
    covers every value, so ``mode="clip"`` never clips; with ``out`` numpy's default
    mode would also buffer the output)."""
    if (src.ndim != 2 or src.dtype not in (np.uint8, np.uint16) or out.shape != src.shape
            or out.dtype != lut.dtype or lut.ndim != 1 or len(lut) != 1 << (8 * src.dtype.itemsize)):
        raise ValueError(f"lookup_argb: {src.shape} {src.dtype} pixels into {out.shape} "
                         f"{out.dtype} through a table of {lut.shape} {lut.dtype}")
    rows = max(1, LOOKUP_BLOCK_PX // max(1, src.shape[1]))
    for r in range(0, src.shape[0], rows):
        np.take(lut, src[r:r + rows], out=out[r:r + rows], mode="clip")


def argb_table(dtype: np.dtype, lo: float, hi: float, lut: Optional[np.ndarray]) -> np.ndarray:
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
