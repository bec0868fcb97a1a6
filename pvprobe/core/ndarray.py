"""areaDetector NDArray frames as numpy images: pure numpy, no Qt, no epics.

A frame arrives as a flat waveform (the valid elements) plus the plugin's
``NDimensions_RBV``, ``ArraySize0/1/2_RBV``, ``ColorMode_RBV`` and
``DataType_RBV``. :func:`to_image` turns it into ``H×W`` (mono) or ``H×W×3``
(RGB) without copying where a view will do, or raises :class:`FrameError`
with the reason the frame cannot be shown (it is then skipped, never drawn as
garbage). Also: percentile auto levels, ROI statistics, line profiles,
rotate/flip with the inverse pixel mapping, and the ``EPICS_CA_MAX_ARRAY_BYTES``
arithmetic.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

import numpy as np

#: ColorMode_RBV states (areaDetector NDColorMode_t).
COLOR_MODES = ("Mono", "Bayer", "RGB1", "RGB2", "RGB3", "YUV444", "YUV422", "YUV421")
MONO, BAYER, RGB1, RGB2, RGB3 = range(5)
#: DataType_RBV states (areaDetector NDDataType_t) and their numpy types.
DATA_TYPES = ("Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32",
              "Int64", "UInt64", "Float32", "Float64")
NUMPY_TYPES = (np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32,
               np.int64, np.uint64, np.float32, np.float64)
#: Bytes per element of each CA native type (DBR_STRING ... DBR_DOUBLE).
CA_ELEMENT_BYTES = {"STRING": 40, "SHORT": 2, "FLOAT": 4, "ENUM": 2, "CHAR": 1,
                    "LONG": 4, "DOUBLE": 8}
#: Size of the DBR_TIME_xxx header in front of the values (status, severity,
#: stamp and padding), at most 16 bytes; CA pads payloads to 8 bytes.
_TIME_HEADER_BYTES = 16


class FrameError(ValueError):
    """This frame cannot be shown; the message says why (it is skipped)."""


@dataclass(frozen=True)
class ArrayMeta:
    """What the plugin announces about its arrays (the *_RBV PVs)."""

    ndims: int = 2
    dims: tuple[int, int, int] = (0, 0, 0)   # ArraySize0, 1, 2
    color_mode: int = MONO
    data_type: Optional[int] = None          # None: keep the waveform's element type

    @property
    def color_name(self) -> str:
        return _name(COLOR_MODES, self.color_mode)

    @property
    def type_name(self) -> str:
        return "native" if self.data_type is None else _name(DATA_TYPES, self.data_type)


@dataclass
class Frame:
    """One frame ready to show: ``data`` is ``H×W`` or ``H×W×3``."""

    data: np.ndarray
    color_mode: str
    data_type: str
    note: str = ""

    @property
    def is_rgb(self) -> bool:
        return self.data.ndim == 3

    @property
    def width(self) -> int:
        return int(self.data.shape[1])

    @property
    def height(self) -> int:
        return int(self.data.shape[0])


def _name(names: tuple, i: Optional[int]) -> str:
    return names[i] if i is not None and 0 <= i < len(names) else f"#{i}"


# ----------------------------------------------------------------------------- types

def pixel_values(flat: np.ndarray, data_type: Optional[int]) -> np.ndarray:
    """The pixels as the announced NDArray type.

    Same-size integer types of other signedness (UInt16 in a signed SHORT
    waveform, Int8 in CHAR, UInt32 in LONG) are reinterpreted bit for bit
    (a free ``view``); anything else (UInt16 in a LONG waveform, integers in a
    DOUBLE waveform, Float64 from FLOAT) is converted by value (``astype``).
    A value that the announced integer type cannot hold (600 for UInt8, -1 for
    UInt16 in a LONG waveform) means the announced type is not this frame's
    (a type change half arrived): :class:`FrameError`, never a wrapped image.
    """
    flat = np.asarray(flat)
    if data_type is None:
        return flat
    if not 0 <= data_type < len(NUMPY_TYPES):
        raise FrameError(f"unknown DataType {data_type}")
    want = np.dtype(NUMPY_TYPES[data_type])
    have = flat.dtype
    if have == want:
        return flat
    if have.kind in "iu" and want.kind in "iu" and have.itemsize == want.itemsize:
        return flat.view(want)
    if want.kind in "iu":
        if have.kind == "f":
            flat = np.nan_to_num(flat)
        _check_fits(flat, want)
    return flat.astype(want)


def _check_fits(flat: np.ndarray, want: np.dtype) -> None:
    """Raise :class:`FrameError` if an element lies outside the integer type ``want``."""
    have = flat.dtype
    info = np.iinfo(want)
    if have.kind in "iu":
        hinfo = np.iinfo(have)
        if hinfo.min >= info.min and hinfo.max <= info.max:
            return                   # widening: every value fits
    if flat.size == 0:
        return
    lo, hi = flat.min(), flat.max()
    if lo < info.min or hi > info.max:
        raise FrameError(f"values {lo}..{hi} do not fit the announced {want.name} "
                         f"(data type changing?)")


# ----------------------------------------------------------------------------- shapes

def _dims(meta: ArrayMeta) -> list[int]:
    n = max(0, min(int(meta.ndims), 3))
    return [int(d) for d in meta.dims[:n]]


def expected_length(meta: ArrayMeta) -> int:
    """Elements a frame with these announced sizes holds."""
    dims = _dims(meta)
    return int(np.prod(dims)) if dims else 0


def to_image(flat: np.ndarray, meta: ArrayMeta) -> Frame:
    """Shape a flat frame per ``meta``; raises :class:`FrameError` if it does not fit."""
    mode = int(meta.color_mode)
    dims = _dims(meta)
    if not dims or any(d <= 0 for d in dims):
        raise FrameError(f"no valid size announced (NDimensions={meta.ndims}, sizes={meta.dims})")
    n = len(flat)
    want = int(np.prod(dims))
    if n != want:
        shape = "×".join(str(d) for d in dims)
        raise FrameError(f"frame has {n} elements, the announced size {shape} needs {want} "
                         f"(size or mode changing?)")
    pixels = pixel_values(flat, meta.data_type)
    cname, tname = meta.color_name, (meta.type_name if meta.data_type is not None
                                     else str(pixels.dtype))
    note = ""
    if mode in (MONO, BAYER):
        if mode == BAYER:
            note = "Bayer pattern shown as raw mono (not demosaiced)"
        if len(dims) == 1:
            raise FrameError("1-dimensional array: give a width and height")
        if len(dims) == 3:
            if dims[2] == 1:
                dims = dims[:2]
            elif dims[0] == 1:
                dims = dims[1:]
            else:
                raise FrameError(f"{cname} array with 3 dimensions {dims} (mode changing?)")
        x, y = dims
        return Frame(pixels.reshape(y, x), cname, tname, note)
    if mode in (RGB1, RGB2, RGB3):
        if len(dims) != 3:
            raise FrameError(f"{cname} needs 3 dimensions, {len(dims)} announced (mode changing?)")
        d0, d1, d2 = dims
        if mode == RGB1:       # [3, X, Y]: pixel-interleaved
            if d0 != 3:
                raise FrameError(f"RGB1 needs ArraySize0 = 3, got {d0} (mode changing?)")
            img = pixels.reshape(d2, d1, 3)
        elif mode == RGB2:     # [X, 3, Y]: row-interleaved
            if d1 != 3:
                raise FrameError(f"RGB2 needs ArraySize1 = 3, got {d1} (mode changing?)")
            img = pixels.reshape(d2, 3, d0).transpose(0, 2, 1)
        else:                  # [X, Y, 3]: plane-interleaved
            if d2 != 3:
                raise FrameError(f"RGB3 needs ArraySize2 = 3, got {d2} (mode changing?)")
            img = pixels.reshape(3, d1, d0).transpose(1, 2, 0)
        return Frame(img, cname, tname, note)
    raise FrameError(f"colour mode {cname} is not supported")


def plain_image(flat: np.ndarray, width: int, height: int, rgb: bool = False) -> Frame:
    """A plain array PV shown with a user-given width and height (mono or RGB1)."""
    if width <= 0 or height <= 0:
        raise FrameError("width and height must be positive")
    meta = (ArrayMeta(3, (3, width, height), RGB1) if rgb
            else ArrayMeta(2, (width, height, 0), MONO))
    n, want = len(flat), expected_length(meta)
    if n > want and not rgb:
        flat = flat[:want]       # waveforms often have spare elements (NELM > w×h)
    elif n > want:
        flat = flat[:want]
    return to_image(flat, meta)


# ----------------------------------------------------------------------------- orientation

def orient(img: np.ndarray, rotate: int = 0, flip_h: bool = False, flip_v: bool = False) -> np.ndarray:
    """Rotate clockwise by ``rotate`` degrees (multiple of 90, row 0 at the top),
    then mirror left-right (``flip_h``) and top-bottom (``flip_v``). Views, no copy."""
    k = (rotate // 90) % 4
    out = np.rot90(img, -k, axes=(0, 1)) if k else img
    if flip_h:
        out = out[:, ::-1]
    if flip_v:
        out = out[::-1]
    return out


def source_xy(x: int, y: int, shown_shape: tuple, rotate: int = 0, flip_h: bool = False,
              flip_v: bool = False) -> tuple[int, int]:
    """The (x, y) in the original frame of the pixel shown at (x, y) by :func:`orient`."""
    h, w = int(shown_shape[0]), int(shown_shape[1])
    if flip_v:
        y = h - 1 - y
    if flip_h:
        x = w - 1 - x
    for _ in range((rotate // 90) % 4):
        # undo one clockwise turn: shown[i, j] = before[H-1-j, i], H = rows before = w now
        x, y = y, w - 1 - x
        h, w = w, h
    return x, y


# ----------------------------------------------------------------------------- levels & stats

def intensity(img: np.ndarray) -> np.ndarray:
    """Mono data as is; RGB as the mean of R, G and B (float)."""
    return img.mean(axis=2) if img.ndim == 3 else img


def sample(img: np.ndarray, max_samples: int = 65536) -> np.ndarray:
    """A strided subsample of at most ~``max_samples`` pixels (all channels kept)."""
    h, w = img.shape[:2]
    step = max(1, int(math.ceil(math.sqrt(h * w / max_samples))))
    return img[::step, ::step]


def auto_levels(img: np.ndarray, low: float = 0.5, high: float = 99.5,
                max_samples: int = 65536) -> tuple[float, float]:
    """Percentile levels from a subsample; never an empty range; NaNs ignored."""
    s = np.asarray(sample(img, max_samples), dtype=np.float64).ravel()
    s = s[np.isfinite(s)]
    if s.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(s, [low, high]))
    if hi <= lo:
        lo, hi = float(s.min()), float(s.max())
        if hi <= lo:
            hi = lo + 1.0
    return lo, hi


def clip_rect(shape: tuple, x0: float, y0: float, w: float, h: float) -> Optional[tuple[int, int, int, int]]:
    """Integer (x0, y0, x1, y1) of a rectangle clipped to an image, or None if empty."""
    H, W = int(shape[0]), int(shape[1])
    a, b = max(0, int(math.floor(x0))), max(0, int(math.floor(y0)))
    c, d = min(W, int(math.ceil(x0 + w))), min(H, int(math.ceil(y0 + h)))
    if c <= a or d <= b:
        return None
    return a, b, c, d


def roi_stats(img: np.ndarray, x0: float, y0: float, w: float, h: float) -> Optional[dict]:
    """min, max, mean, sigma, sum, intensity centroid (cx, cy, in image pixels)
    and pixel count of a rectangle (RGB: of the intensity); None if it is empty."""
    r = clip_rect(img.shape, x0, y0, w, h)
    if r is None:
        return None
    a, b, c, d = r
    sub = np.asarray(intensity(img[b:d, a:c]), dtype=np.float64)
    total = float(sub.sum())
    if total != 0.0 and math.isfinite(total):
        cx = float((sub.sum(axis=0) * np.arange(a, c)).sum() / total)
        cy = float((sub.sum(axis=1) * np.arange(b, d)).sum() / total)
    else:
        cx = cy = None
    return {"x": a, "y": b, "width": c - a, "height": d - b, "n": int(sub.size),
            "min": float(sub.min()), "max": float(sub.max()), "mean": float(sub.mean()),
            "sigma": float(sub.std()), "sum": total, "centroid_x": cx, "centroid_y": cy}


def row_profile(img: np.ndarray, y: int) -> Optional[np.ndarray]:
    """Row ``y`` (RGB: intensity), or None outside the image."""
    if not 0 <= y < img.shape[0]:
        return None
    return np.asarray(intensity(img[y:y + 1]))[0]


def col_profile(img: np.ndarray, x: int) -> Optional[np.ndarray]:
    """Column ``x`` (RGB: intensity), or None outside the image."""
    if not 0 <= x < img.shape[1]:
        return None
    return np.asarray(intensity(img[:, x:x + 1]))[:, 0]


def log_scale(img: np.ndarray) -> np.ndarray:
    """log10(1 + value − min) as float32, for a log display (values stay ordered)."""
    f = np.asarray(img, dtype=np.float32)
    mn = float(np.nanmin(sample(f))) if f.size else 0.0
    return np.log10(np.maximum(f - mn, 0.0) + 1.0)


# ----------------------------------------------------------------------------- array bytes

def array_bytes_needed(count: int, native_type: str) -> int:
    """EPICS_CA_MAX_ARRAY_BYTES a client needs for ``count`` elements of a native type:
    count × element size plus the DBR_TIME header, rounded up to a multiple of 8."""
    size = CA_ELEMENT_BYTES.get(native_type, 8)
    raw = int(count) * size + _TIME_HEADER_BYTES
    return (raw + 7) // 8 * 8


def client_array_limit(environ: Optional[Mapping[str, str]] = None) -> Optional[int]:
    """The array size (bytes) libca will accept, or None when it sizes buffers itself.

    libca (3.16+) ignores EPICS_CA_MAX_ARRAY_BYTES unless EPICS_CA_AUTO_ARRAY_BYTES
    is set to something other than YES. Values under 16384 are raised to 16384.
    """
    env = os.environ if environ is None else environ
    auto = env.get("EPICS_CA_AUTO_ARRAY_BYTES", "").strip()
    if auto == "" or auto.lower() == "yes":
        return None
    try:
        value = int(env.get("EPICS_CA_MAX_ARRAY_BYTES", "16384").strip())
    except ValueError:
        value = 16384
    return max(value, 16384)


def array_bytes_problem(count: int, native_type: str,
                        environ: Optional[Mapping[str, str]] = None) -> str:
    """A message naming the EPICS_CA_MAX_ARRAY_BYTES value needed, or "" if it fits."""
    if count <= 1:
        return ""
    limit = client_array_limit(environ)
    if limit is None:
        return ""
    need = array_bytes_needed(count, native_type)
    if need <= limit:
        return ""
    size = CA_ELEMENT_BYTES.get(native_type, 8)
    return (f"array too large for EPICS_CA_MAX_ARRAY_BYTES={limit}: up to {count} elements × "
            f"{size} bytes need EPICS_CA_MAX_ARRAY_BYTES ≥ {need} (set it before starting pvprobe)")
