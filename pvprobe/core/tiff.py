"""TIFF export of a frame (and a reader for tests), on ``tifffile``.

What is written is the frame's raw values at full bit depth: mono (``H×W``,
BlackIsZero) or RGB (``H×W×3``, chunky), 8/16/32/64-bit integers and 32/64-bit
floats, little-endian, one ImageDescription (PV, unique id, timestamp: see
:func:`describe`), resolution 72 with no unit, uncompressed unless asked.
A classic TIFF holds at most 4 GiB; bigger frames are written as BigTIFF
(:func:`needs_bigtiff`). Files are written atomically, streamed into the
temporary file (no second copy of a multi-GiB frame in memory).
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO, Optional

import numpy as np
import tifffile

from .atomic import atomic_file

#: Room left for tags, description and offsets below the classic TIFF's 32-bit
#: offsets (tifffile keeps the same 32 MiB margin for its own choice).
_HEADROOM = 32 * 1024 * 1024
#: Pixel data above this many bytes go into a BigTIFF.
CLASSIC_TIFF_LIMIT = 2 ** 32 - _HEADROOM
_KINDS = ("u", "i", "f")


class TiffError(ValueError):
    """The array cannot be written, or the file is not a TIFF this module reads."""


def needs_bigtiff(nbytes: int, limit: int = CLASSIC_TIFF_LIMIT) -> bool:
    """True when ``nbytes`` of pixel data do not fit a classic TIFF. Decided on the
    uncompressed size, so a compressed file is BigTIFF whenever it might need to be
    (tifffile's own choice is off when compressing)."""
    return nbytes > limit


def _storable(img: np.ndarray) -> np.ndarray:
    """``img`` as the ``H×W`` or ``H×W×3`` array that is written; TiffError otherwise."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise TiffError(f"need H×W or H×W×3, got shape {a.shape}")
    if a.dtype.kind == "b":
        a = a.astype(np.uint8)
    if a.dtype.kind not in _KINDS or a.dtype.itemsize not in (1, 2, 4, 8):
        raise TiffError(f"cannot store {a.dtype} in TIFF")
    if a.dtype.kind == "f" and a.dtype.itemsize < 4:
        a = a.astype(np.float32)      # float16 TIFFs are rarely readable elsewhere
    return a


def _write(fh: BinaryIO, a: np.ndarray, description: str, compression: Optional[str],
           limit: int) -> None:
    desc = (description or "pvprobe").encode("ascii", "replace")
    try:
        tifffile.imwrite(
            fh, a, bigtiff=needs_bigtiff(a.nbytes, limit), byteorder="<",
            photometric="rgb" if a.ndim == 3 else "minisblack",
            description=desc, metadata=None, software=False,
            resolution=(72, 72), resolutionunit="NONE", compression=compression)
    except (ValueError, tifffile.TiffFileError) as exc:
        raise TiffError(f"cannot write TIFF: {exc}") from exc


def tiff_bytes(img: np.ndarray, description: str = "", compression: Optional[str] = None,
               bigtiff_limit: int = CLASSIC_TIFF_LIMIT) -> bytes:
    """The TIFF file for ``img`` (``H×W`` or ``H×W×3``), raw values, full depth."""
    a = _storable(img)
    buf = io.BytesIO()
    _write(buf, a, description, compression, bigtiff_limit)
    return buf.getvalue()


def write_tiff(path: str | os.PathLike, img: np.ndarray, description: str = "",
               compression: Optional[str] = None,
               bigtiff_limit: int = CLASSIC_TIFF_LIMIT) -> None:
    """Write ``img`` as a TIFF (BigTIFF above ``bigtiff_limit`` bytes of pixels),
    atomically: never half a file. ``compression``: a tifffile name such as
    ``"zlib"``; None (default) writes the values uncompressed."""
    a = _storable(img)               # refuse before a temporary file exists
    with atomic_file(path) as fh:
        _write(fh, a, description, compression, bigtiff_limit)


def _first_page(tif: tifffile.TiffFile) -> np.ndarray:
    if not tif.pages:
        raise TiffError("TIFF has no image")
    return tif.pages[0].asarray()


def read_tiff(path: str | os.PathLike) -> np.ndarray:
    """The first image of a TIFF or BigTIFF file (``H×W`` or ``H×W×samples``)."""
    try:
        with tifffile.TiffFile(path) as tif:
            return _first_page(tif)
    except tifffile.TiffFileError as exc:
        raise TiffError(f"{path}: not a TIFF this reader understands ({exc})") from exc


def parse_tiff(raw: bytes) -> np.ndarray:
    """:func:`read_tiff` for the bytes of a file."""
    try:
        with tifffile.TiffFile(io.BytesIO(raw)) as tif:
            return _first_page(tif)
    except tifffile.TiffFileError as exc:
        raise TiffError(f"not a TIFF this reader understands ({exc})") from exc


def tiff_description(path: str | os.PathLike) -> str:
    """The first image's ImageDescription ('' when it has none)."""
    with tifffile.TiffFile(path) as tif:
        return tif.pages[0].description if tif.pages else ""


def describe(img: np.ndarray, extra: Optional[str] = None) -> str:
    """A short ImageDescription: shape and type (plus ``extra``)."""
    s = f"pvprobe frame {'x'.join(str(d) for d in img.shape)} {img.dtype}"
    return s + (f"; {extra}" if extra else "")
