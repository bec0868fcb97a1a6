"""A minimal baseline TIFF writer (and reader for what it writes): uncompressed,
one strip, little-endian, mono or RGB (chunky), 8/16/32/64-bit integers and
32/64-bit floats, full bit depth. Files are written atomically."""

from __future__ import annotations

import os
import struct
from typing import Optional

import numpy as np

from .atomic import atomic_write_bytes

_SHORT, _LONG, _RATIONAL, _ASCII = 3, 4, 5, 2
_TYPE_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 16: 8}
_SAMPLE_FORMAT = {"u": 1, "i": 2, "f": 3}


class TiffError(ValueError):
    """The array cannot be written, or the file is not one this module reads."""


def tiff_bytes(img: np.ndarray, description: str = "") -> bytes:
    """The TIFF file for ``img`` (``H×W`` or ``H×W×3``), raw values, full depth."""
    a = np.asarray(img)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3):
        raise TiffError(f"need H×W or H×W×3, got shape {a.shape}")
    if a.dtype.kind == "b":
        a = a.astype(np.uint8)
    if a.dtype.kind not in _SAMPLE_FORMAT or a.dtype.itemsize not in (1, 2, 4, 8):
        raise TiffError(f"cannot store {a.dtype} in TIFF")
    if a.dtype.kind == "f" and a.dtype.itemsize < 4:
        a = a.astype(np.float32)
    h, w = a.shape[:2]
    spp = 1 if a.ndim == 2 else 3
    bits = a.dtype.itemsize * 8
    data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
    desc = (description or "pvprobe").encode("ascii", "replace") + b"\0"

    # layout: header (8) | extra values | pixel data | IFD
    extra = bytearray()
    base = 8

    def put_extra(raw: bytes) -> int:
        if len(extra) % 2:
            extra.append(0)
        off = base + len(extra)
        extra.extend(raw)
        return off

    bits_off = put_extra(struct.pack("<3H", bits, bits, bits)) if spp == 3 else None
    fmt_off = (put_extra(struct.pack("<3H", *[_SAMPLE_FORMAT[a.dtype.kind]] * 3))
               if spp == 3 else None)
    res_off = put_extra(struct.pack("<II", 72, 1))
    desc_off = put_extra(desc) if len(desc) > 4 else None
    if len(extra) % 2:
        extra.append(0)
    data_off = base + len(extra)
    ifd_off = data_off + len(data)
    pad = ifd_off % 2
    ifd_off += pad

    entries: list[tuple[int, int, int, int | bytes]] = [
        (256, _LONG, 1, w),
        (257, _LONG, 1, h),
        (258, _SHORT, spp, bits if spp == 1 else bits_off),
        (259, _SHORT, 1, 1),                       # no compression
        (262, _SHORT, 1, 2 if spp == 3 else 1),    # RGB / BlackIsZero
        (270, _ASCII, len(desc), desc_off if desc_off is not None else desc),
        (273, _LONG, 1, data_off),
        (277, _SHORT, 1, spp),
        (278, _LONG, 1, h),
        (279, _LONG, 1, len(data)),
        (282, _RATIONAL, 1, res_off),
        (283, _RATIONAL, 1, res_off),
        (284, _SHORT, 1, 1),                       # chunky
        (296, _SHORT, 1, 1),                       # no absolute unit
        (339, _SHORT, spp, _SAMPLE_FORMAT[a.dtype.kind] if spp == 1 else fmt_off),
    ]
    ifd = bytearray(struct.pack("<H", len(entries)))
    for tag, typ, count, value in entries:
        if isinstance(value, bytes):
            field = value.ljust(4, b"\0")
        elif typ == _SHORT and count == 1:
            field = struct.pack("<HH", value, 0)
        else:
            field = struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, typ, count) + field
    ifd += struct.pack("<I", 0)
    if len(data) + ifd_off >= 2 ** 32:
        raise TiffError("image too large for a classic TIFF (4 GiB)")
    return b"II*\0" + struct.pack("<I", ifd_off) + bytes(extra) + data + b"\0" * pad + bytes(ifd)


def write_tiff(path: str | os.PathLike, img: np.ndarray, description: str = "") -> None:
    """Write ``img`` as an uncompressed TIFF, atomically (never half a file)."""
    atomic_write_bytes(path, tiff_bytes(img, description))


def read_tiff(path: str | os.PathLike) -> np.ndarray:
    """Read an uncompressed single-image TIFF as written by :func:`write_tiff`
    (either byte order, strips, chunky samples)."""
    with open(path, "rb") as f:
        raw = f.read()
    return parse_tiff(raw)


def parse_tiff(raw: bytes) -> np.ndarray:
    if raw[:4] == b"II*\0":
        e = "<"
    elif raw[:4] == b"MM\0*":
        e = ">"
    else:
        raise TiffError("not a classic TIFF")
    (ifd,) = struct.unpack_from(e + "I", raw, 4)
    (n,) = struct.unpack_from(e + "H", raw, ifd)
    tags: dict[int, list[int]] = {}
    for i in range(n):
        tag, typ, count = struct.unpack_from(e + "HHI", raw, ifd + 2 + 12 * i)
        size = _TYPE_SIZE.get(typ, 1) * count
        off = ifd + 2 + 12 * i + 8
        if size > 4:
            (off,) = struct.unpack_from(e + "I", raw, off)
        if typ == _SHORT:
            tags[tag] = list(struct.unpack_from(f"{e}{count}H", raw, off))
        elif typ == _LONG:
            tags[tag] = list(struct.unpack_from(f"{e}{count}I", raw, off))
    if tags.get(259, [1])[0] != 1:
        raise TiffError("compressed TIFF not supported")
    w, h = tags[256][0], tags[257][0]
    spp = tags.get(277, [1])[0]
    bits = tags.get(258, [1])[0]
    kind = {1: "u", 2: "i", 3: "f"}[tags.get(339, [1])[0]]
    dtype = np.dtype(f"{e}{kind}{bits // 8}")
    chunks = [raw[o:o + c] for o, c in zip(tags[273], tags[279])]
    a = np.frombuffer(b"".join(chunks), dtype=dtype, count=w * h * spp)
    a = a.astype(dtype.newbyteorder("="))
    return a.reshape(h, w, spp) if spp > 1 else a.reshape(h, w)


def describe(img: np.ndarray, extra: Optional[str] = None) -> str:
    """A short ImageDescription: shape and type (plus ``extra``)."""
    s = f"pvprobe frame {'x'.join(str(d) for d in img.shape)} {img.dtype}"
    return s + (f"; {extra}" if extra else "")
