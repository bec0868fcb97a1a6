"""The data side of an image view: which PVs to open, the plugin's announced
sizes/mode/type, and the newest frame of each batch. Plain Python, no Qt.

A frame whose length does not fit the announced sizes (a camera in the middle of
an ROI, binning or mode change) is skipped with a reason and kept aside: when the
size PVs catch up in a later batch it is decoded then, so nothing garbled is ever
shown and the first good frame after a change is not lost.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .ndarray import MONO, ArrayMeta, Frame, FrameError, plain_image, to_image
from .pvstate import PVState

#: Suffixes of the areaDetector plugin PVs an image view reads besides ArrayData.
META_SUFFIXES = ("NDimensions_RBV", "ArraySize0_RBV", "ArraySize1_RBV", "ArraySize2_RBV",
                 "ColorMode_RBV", "DataType_RBV", "ArrayCounter_RBV", "UniqueId_RBV")


@dataclass
class FeedCounters:
    """Running counts since the source was opened."""

    received: int = 0          # ArrayData values handed to the feed (after engine coalescing)
    decoded: int = 0           # of which shaped into a frame
    skipped: int = 0           # of which did not fit the announced size/mode (not shown)
    published: int = 0         # frames the IOC produced (ArrayCounter_RBV steps), if known
    counter: Optional[int] = None
    unique_id: Optional[int] = None


@dataclass
class ImageFeed:
    """Turns batches of PV states into frames for one plugin (or plain array PV)."""

    array_pv: str
    prefix: Optional[str] = None
    width: int = 0               # plain array: user-given size
    height: int = 0
    rgb: bool = False
    meta: ArrayMeta = field(default_factory=ArrayMeta)
    counters: FeedCounters = field(default_factory=FeedCounters)
    error: str = ""              # from the ArrayData PV (not found, array too large, ...)
    skip_reason: str = ""        # why the last frame was not shown ("" once one fits)
    connected: bool = False
    max_count: int = 0
    native_type: str = ""
    _values: dict = field(default_factory=dict)
    _held: Optional[PVState] = None
    _last_update: int = -1
    _ever_connected: bool = False
    _counter0: Optional[int] = None

    # -- construction ----------------------------------------------------------------
    @classmethod
    def for_prefix(cls, prefix: str) -> ImageFeed:
        return cls(array_pv=prefix + "ArrayData", prefix=prefix)

    @classmethod
    def for_array(cls, pv: str, width: int, height: int, rgb: bool = False) -> ImageFeed:
        if width <= 0 or height <= 0:
            raise ValueError("width and height must be positive")
        return cls(array_pv=pv, width=int(width), height=int(height), rgb=rgb,
                   meta=ArrayMeta(3 if rgb else 2, (3, width, height) if rgb else (width, height, 0),
                                  2 if rgb else MONO, None))

    @property
    def meta_pvs(self) -> list[str]:
        """The plugin's size/mode/type/counter PVs (none for a plain array)."""
        return [self.prefix + s for s in META_SUFFIXES] if self.prefix else []

    @property
    def names(self) -> list[str]:
        return [self.array_pv] + self.meta_pvs

    # -- batches ---------------------------------------------------------------------
    def apply(self, states: Iterable[PVState]) -> tuple[Optional[Frame], Optional[PVState]]:
        """Take one batch's states; returns the newest frame that fits (and the
        ArrayData state it came from), or (None, None)."""
        data: Optional[PVState] = None
        meta_changed = False
        p = self.prefix
        for st in states:
            if st.name == self.array_pv:
                data = st
            elif p and st.name.startswith(p):
                meta_changed |= self._apply_meta(st)
        if data is not None:
            self.connected = data.connected
            self.error = data.error
            self.max_count, self.native_type = data.max_count, data.native_type
            if data.connected:
                self._ever_connected = True
            if (data.value is None or not data.connected or data.count == 0
                    or data.update_count == self._last_update):
                data = None          # no new value (a connection or access change only)
            else:
                self._last_update = data.update_count
                self.counters.received += 1
        if data is None and meta_changed and self._held is not None:
            data, self._held = self._held, None      # sizes caught up: try the held frame
        if data is None:
            return None, None
        try:
            frame = self.decode(np.asarray(data.value))
        except FrameError as exc:
            self.counters.skipped += 1
            self.skip_reason = str(exc)
            self._held = data
            return None, None
        self._held = None
        self.skip_reason = ""
        self.counters.decoded += 1
        return frame, data

    def decode(self, flat: np.ndarray) -> Frame:
        if self.prefix is None:
            return plain_image(flat, self.width, self.height, self.rgb)
        return to_image(flat, self.meta)

    def _apply_meta(self, st: PVState) -> bool:
        suffix = st.name[len(self.prefix or ""):]
        if suffix not in META_SUFFIXES:
            return False
        value = st.value if st.connected else None
        try:
            value = None if value is None else int(value)
        except (TypeError, ValueError):
            value = None
        if suffix == "ArrayCounter_RBV":
            if value is not None:
                c = self.counters
                if c.counter is not None and value > c.counter:
                    c.published += value - c.counter
                c.counter = value
            return False
        if suffix == "UniqueId_RBV":
            self.counters.unique_id = value
            return False
        old = self._values.get(suffix)
        self._values[suffix] = value
        if old == value:
            return False
        v = self._values
        dims = tuple(int(v.get(f"ArraySize{i}_RBV") or 0) for i in range(3))
        ndims = v.get("NDimensions_RBV")
        if ndims is None:   # not (yet) known: infer from the sizes
            ndims = 3 if dims[2] > 0 else 2
        self.meta = ArrayMeta(int(ndims), dims,  # type: ignore[arg-type]
                              int(v.get("ColorMode_RBV") or 0), v.get("DataType_RBV"))
        return True

    # -- text ------------------------------------------------------------------------
    def message(self) -> str:
        """Why nothing (new) is shown, or "". A lost connection says so first: a frame
        fetch cut by the same disconnection ("get failed: Virtual circuit disconnect")
        is its consequence, not the news."""
        if not self.connected and self._ever_connected:
            return f"{self.array_pv}: disconnected (last frame kept)"
        if self.error:
            return f"{self.array_pv}: {self.error}"
        if not self.connected:
            return f"{self.array_pv}: connecting…"
        if self.skip_reason:
            return f"frame skipped: {self.skip_reason}"
        return ""


class RateMeter:
    """Events per second over the last ``window`` seconds (from running totals)."""

    def __init__(self, window: float = 2.0, clock=time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._points: list[tuple[float, int]] = []

    def rate(self, total: int) -> float:
        now = self._clock()
        pts = self._points
        pts.append((now, total))
        while len(pts) > 2 and now - pts[1][0] >= self.window:
            pts.pop(0)
        t0, n0 = pts[0]
        return (total - n0) / (now - t0) if now > t0 else 0.0
