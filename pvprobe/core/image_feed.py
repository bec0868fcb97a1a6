"""The data side of an image view: which PVs to open, the plugin's announced
sizes/mode/type, and the newest frame of each batch. Plain Python, no Qt.

A pvAccess NTNDArray (``pva://NAME``, :meth:`ImageFeed.for_pva`) is one PV: the
engine decodes its frames in the worker (any codec) and hands the :class:`Frame` in
``state.extra["frame"]``; the feed takes it as it is, counts it, and keeps
``extra["frame_error"]`` as the reason a frame was skipped. Its codec, decode time
and the frames lost upstream (gaps in ``uniqueId``) go to the status bar and stats.

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
#: Of those, what a frame is not shaped without (until each has a value or is known
#: not to come: a frame is never shown in a guessed type or mode).
NEEDED_SUFFIXES = ("ColorMode_RBV", "DataType_RBV")


class FrameNotReady(FrameError):
    """The frame waits for the plugin's type or mode (held, not counted as skipped)."""


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
    _heard: set = field(default_factory=set)   # meta suffixes with a value or an error
    _held: Optional[PVState] = None
    _last_update: int = -1
    _ever_connected: bool = False
    _counter0: Optional[int] = None
    pva: bool = False            # a pvAccess NTNDArray: frames come decoded in extra["frame"]
    codec: str = ""              # PVA: the newest frame's codec ("none" when plain)
    decode_s: float = 0.0        # PVA: the newest frame's decode time in the worker
    mean_decode_s: float = 0.0   # PVA: mean decode time (the engine's running mean)
    gaps: int = 0                # PVA: frames missing from uniqueId since the view opened
    _pva0: Optional[tuple] = None    # (updates received by the source, gaps) at the first frame

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

    @classmethod
    def for_pva(cls, name: str) -> ImageFeed:
        """An NTNDArray over pvAccess: ``name`` is the engine key ``pva://NAME``."""
        name = name.strip()
        if not name.startswith("pva://") or len(name) == len("pva://"):
            raise ValueError(f"not a pvAccess name: {name!r} (pva://NAME)")
        return cls(array_pv=name, pva=True)

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
        if self.pva:
            return self._apply_pva(states)
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
            if not isinstance(exc, FrameNotReady):
                self.counters.skipped += 1
            self.skip_reason = str(exc)
            self._held = data
            return None, None
        self._held = None
        self.skip_reason = ""
        self.counters.decoded += 1
        return frame, data

    def _apply_pva(self, states: Iterable[PVState]) -> tuple[Optional[Frame], Optional[PVState]]:
        """An NTNDArray update: the frame the engine decoded, or why there is none."""
        data: Optional[PVState] = None
        for st in states:
            if st.name == self.array_pv:
                data = st
        if data is None:
            return None, None
        self.connected, self.error = data.connected, data.error
        self.max_count, self.native_type = data.max_count, data.native_type
        if data.connected:
            self._ever_connected = True
        if not data.connected or data.update_count == self._last_update or not data.update_count:
            return None, None
        self._last_update = data.update_count
        extra = data.extra or {}
        c = self.counters
        c.received += 1
        self._count_pva(extra)
        frame = extra.get("frame")
        problem = extra.get("frame_error") or ("" if frame is not None else
                                               f"not an NTNDArray ({data.type_id or 'no type id'})")
        if problem:
            c.skipped += 1
            self.skip_reason = problem
            return None, None
        self.skip_reason = ""
        c.decoded += 1
        self.decode_s = float(extra.get("decode_s") or 0.0)
        self.mean_decode_s = float(extra.get("mean_decode_s") or 0.0)
        return frame, data

    def _count_pva(self, extra: dict) -> None:
        """Codec, uniqueId, and frames the server made that never reached the view."""
        self.codec = str(extra.get("codec") or "")
        c = self.counters
        uid = extra.get("unique_id")
        c.unique_id = c.counter = int(uid) if isinstance(uid, (int, np.integer)) else None
        got, gaps = int(extra.get("received") or 0), int(extra.get("dropped") or 0)
        if self._pva0 is None:
            self._pva0 = (got - 1, gaps)
        got0, gaps0 = self._pva0
        self.gaps = max(0, gaps - gaps0)
        # frames the server published since the view's first one: every update the
        # source received plus the uniqueId gaps between them
        c.published = max(c.received, got - got0 + self.gaps)

    def pva_stats(self) -> dict:
        """The PVA figures of ``--stats`` (empty for a CA source)."""
        if not self.pva:
            return {}
        return {"protocol": "pva", "codec": self.codec or None,
                "decode_ms_last": round(1000 * self.decode_s, 3) if self.counters.decoded else None,
                "decode_ms_mean": round(1000 * self.mean_decode_s, 3) if self.counters.decoded else None,
                "frames_dropped_unique_id_gaps": self.gaps}

    def pva_status(self) -> list[str]:
        """Status-bar parts of a PVA source: codec, decode time, uniqueId gaps."""
        if not self.pva or not self.counters.received:
            return []
        parts = [f"codec {self.codec or '?'}"]
        if self.counters.decoded:
            parts.append(f"decode {1000 * self.decode_s:.1f} ms (mean {1000 * self.mean_decode_s:.1f})")
        parts.append(f"uniqueId gaps {self.gaps}")
        return parts

    def decode(self, flat: np.ndarray) -> Frame:
        if self.prefix is None:
            return plain_image(flat, self.width, self.height, self.rgb)
        waiting = [self.prefix + s for s in NEEDED_SUFFIXES if s not in self._heard]
        if waiting:
            raise FrameNotReady(f"waiting for {', '.join(waiting)}")
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
        heard_now = suffix not in self._heard and (value is not None or bool(st.error))
        if heard_now:           # a value, or it will not come (not found, no access...)
            self._heard.add(suffix)
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
            return heard_now        # a frame held for it may be shaped now
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
