"""NTNDArray frames (areaDetector over pvAccess) as numpy images: no Qt, no protocol.

The caller (a pvAccess source) hands over plain fields of one NTNDArray:
``value`` (a typed numpy array, or the compressed ``ubyte[]`` bytes), the
codec name and parameters (the original pvData scalar type code), the
``uncompressedSize``, the dimension sizes (``dimension[0]`` is x, the width)
and attributes such as ``ColorMode``. :func:`decode_frame` turns them into the
same :class:`~pvprobe.core.ndarray.Frame` (``H×W`` or ``H×W×3``) that CA
areaDetector frames give, via :func:`~pvprobe.core.ndarray.to_image`, so an
image view shows both alike. Anything that does not fit raises
:class:`~pvprobe.core.ndarray.FrameError` with the reason (the frame is then
skipped, never drawn as garbage).

Codecs as areaDetector's NDPluginCodec writes them:

- ``lz4``: one raw LZ4 block, no size header (size from ``uncompressedSize``);
- ``bslz4``: ``bshuf_compress_lz4`` output with bitshuffle's default block size
  and NO header (ADCore R3-x ``compressBSLZ4``; ADViewers, PyDM and QE decode it
  that way): per block a big-endian uint32 length and an LZ4 block of
  bit-shuffled elements, then the last ``n % 8`` elements as they are. The
  HDF5-filter variant with a 12-byte header (as in HDF5 files and some detector
  streams) is accepted too;
- ``blosc``: a standard blosc(1) frame; ``zlib``: a zlib stream (``compress2``);
  ``lz4hdf5``: the HDF5 LZ4 filter format (ADSupport's lz4hdf5, imagecodecs ``lz4h5``);
- ``jpeg``: a JPEG file (8-bit only; RGB comes back pixel-interleaved).

``imagecodecs`` is imported on first use, so a CA-only session never loads it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .ndarray import (
    COLOR_MODES,
    DATA_TYPES,
    MONO,
    NUMPY_TYPES,
    RGB1,
    RGB2,
    RGB3,
    ArrayMeta,
    Frame,
    FrameError,
    to_image,
)

#: pvData ScalarType codes (pvBoolean=0 ... pvDouble=10) -> numpy dtype, as in
#: ``codec.parameters`` of a compressed NTNDArray (6 = pvUShort).
PVDATA_TYPES: dict[int, np.dtype] = {
    1: np.dtype(np.int8), 2: np.dtype(np.int16), 3: np.dtype(np.int32), 4: np.dtype(np.int64),
    5: np.dtype(np.uint8), 6: np.dtype(np.uint16), 7: np.dtype(np.uint32), 8: np.dtype(np.uint64),
    9: np.dtype(np.float32), 10: np.dtype(np.float64),
}
_PVDATA_NAMES = {0: "boolean", 11: "string"}
#: numpy dtype -> areaDetector NDDataType index (DataType_RBV), as ndarray.py uses it.
_ND_INDEX = {np.dtype(t): i for i, t in enumerate(NUMPY_TYPES)}
#: Codec names this module decodes ("" or "none": not compressed).
CODECS = ("lz4", "bslz4", "blosc", "jpeg", "zlib", "lz4hdf5")
#: Refuse to allocate more than this for one decoded frame (a lying header).
MAX_FRAME_BYTES = 2 ** 32


@dataclass
class NTNDArrayFields:
    """The plain fields of one NTNDArray, protocol-neutral."""

    value: Any                                   # numpy array (typed) or bytes (compressed)
    dims: Sequence[int] = ()                     # dimension[i].size; dims[0] = x (width)
    codec: str = ""                              # codec.name
    codec_type: Optional[int] = None             # codec.parameters: pvData scalar type code
    uncompressed_size: Optional[int] = None      # uncompressedSize (bytes)
    attributes: Mapping[str, Any] = field(default_factory=dict)   # name -> value
    unique_id: Optional[int] = None
    timestamp: Optional[float] = None            # dataTimeStamp, seconds since 1970 (0: none)

    @property
    def color_mode(self) -> Optional[int]:
        """The ``ColorMode`` attribute as an int, or None if absent or not a number."""
        v = self.attributes.get("ColorMode")
        try:
            return None if v is None else int(v)
        except (TypeError, ValueError):
            return None


# ----------------------------------------------------------------------------- types

def pvdata_dtype(code: Any) -> np.dtype:
    """The numpy type of a pvData scalar type code; :class:`FrameError` if not numeric."""
    try:
        c = int(code)
    except (TypeError, ValueError):
        raise FrameError(f"codec parameters {code!r} is not a pvData type code") from None
    if c in PVDATA_TYPES:
        return PVDATA_TYPES[c]
    what = _PVDATA_NAMES.get(c, "unknown")
    raise FrameError(f"unsupported data type code {c} ({what}) in codec parameters")


def nd_data_type(dtype: np.dtype) -> int:
    """areaDetector NDDataType index (0 Int8 ... 9 Float64) of a numpy type."""
    dt = np.dtype(dtype)
    if dt.byteorder not in ("=", "|") and dt.newbyteorder("=") in _ND_INDEX:
        dt = dt.newbyteorder("=")
    try:
        return _ND_INDEX[dt]
    except KeyError:
        raise FrameError(f"unsupported element type {dt.name}") from None


# ----------------------------------------------------------------------------- codecs

def _ic():
    try:
        import imagecodecs
    except ImportError as exc:      # pragma: no cover - a dependency
        raise FrameError(f"compressed frame needs imagecodecs ({exc})") from None
    return imagecodecs


def bshuf_default_block(itemsize: int) -> int:
    """Elements per block bitshuffle picks when asked for block size 0 (8 KiB, multiple of 8)."""
    return max(128, (8192 // itemsize) // 8 * 8)


def _bslz4(buf: memoryview, itemsize: int, size: Optional[int]) -> bytes:
    """Decode bitshuffle/LZ4 as NDPluginCodec writes it (``bshuf_compress_lz4`` with the
    default block size, no header; ``size`` from uncompressedSize); also the HDF5-filter
    variant with a 12-byte header (uint64 BE byte count, uint32 BE block bytes), taken
    when its byte count equals ``size`` (a bare stream starts with a block length, which
    read as a uint64 is at least 2**32)."""
    if len(buf) >= 12:
        nbytes = int.from_bytes(buf[0:8], "big")
        block_bytes = int.from_bytes(buf[8:12], "big")
        block_ok = block_bytes > 0 and not block_bytes % itemsize and not (block_bytes // itemsize) % 8
        if size is not None and nbytes == size and not block_ok:
            raise FrameError(f"bslz4 header block size {block_bytes} bytes is not valid "
                             f"for {itemsize}-byte elements")
        if block_ok and nbytes <= MAX_FRAME_BYTES and (size is None or nbytes == size):
            return _bshuf_blocks(buf[12:], itemsize, nbytes, block_bytes // itemsize)
    if size is None:
        raise FrameError("bslz4 frame without uncompressedSize")
    return _bshuf_blocks(buf, itemsize, size, bshuf_default_block(itemsize))


def _bshuf_blocks(buf: memoryview, itemsize: int, nbytes: int, block: int) -> bytes:
    """Blocks of (uint32 BE length, LZ4 block of bit-shuffled elements), then the last
    ``n % 8`` elements as they are (bitshuffle's ``bshuf_compress_lz4`` layout)."""
    ic = _ic()
    if nbytes % itemsize:
        raise FrameError(f"bslz4 size {nbytes} is not a multiple of {itemsize}-byte elements")
    n = nbytes // itemsize
    if n and 255 * len(buf) + 16 * (n // block + 1) < nbytes:
        raise FrameError(f"{nbytes} bytes cannot come from {len(buf)} bslz4 bytes (corrupt?)")
    out = bytearray()
    pos = done = 0
    while n - done >= 8:
        count = min(block, (n - done) // 8 * 8)
        if pos + 4 > len(buf):
            raise FrameError("bslz4 data ends inside a block header (truncated or wrong size)")
        clen = int.from_bytes(buf[pos:pos + 4], "big")
        pos += 4
        if pos + clen > len(buf):
            raise FrameError("bslz4 data ends inside a block (truncated or wrong size)")
        raw = ic.lz4_decode(buf[pos:pos + clen], out=count * itemsize)
        if len(raw) != count * itemsize:
            raise FrameError("bslz4 block decodes to the wrong size (corrupt?)")
        out += ic.bitshuffle_decode(raw, itemsize=itemsize, blocksize=count)
        pos += clen
        done += count
    rest = (n - done) * itemsize
    if len(buf) - pos != rest:
        raise FrameError(f"bslz4 data has {len(buf) - pos} bytes after its blocks, {rest} "
                         f"expected (wrong uncompressedSize or type?)")
    out += buf[pos:]
    return bytes(out)


def _blosc_checked(buf: memoryview) -> memoryview:
    """The blosc frame after checking its 16-byte header against the bytes received.

    blosc's decoder trusts the header's compressed size and would read past a
    truncated buffer, so a short frame is refused here.
    """
    if len(buf) < 16:
        raise FrameError("blosc data shorter than its 16-byte header")
    nbytes = int.from_bytes(buf[4:8], "little")
    cbytes = int.from_bytes(buf[12:16], "little")
    if nbytes > MAX_FRAME_BYTES:
        raise FrameError(f"blosc header announces {nbytes} bytes (corrupt?)")
    if cbytes < 16 or cbytes > len(buf):
        raise FrameError(f"blosc header says {cbytes} compressed bytes, {len(buf)} received "
                         f"(truncated or corrupt)")
    return buf[:cbytes]


def decompress(data: Any, codec: str, dtype: np.dtype, uncompressed_size: Optional[int]) -> np.ndarray:
    """Decode compressed bytes into a flat array of ``dtype`` (JPEG: ``H×W[×3]`` uint8).

    :class:`FrameError` for an unknown codec, corrupt data, or a decoded size
    that differs from ``uncompressed_size`` (when given).
    """
    name = (codec or "").strip().lower()
    if name not in CODECS:
        raise FrameError(f"unknown codec {codec!r} (known: {', '.join(CODECS)})")
    # no copy of the compressed bytes: the decoders read any buffer
    buf = memoryview(np.ascontiguousarray(data).reshape(-1).view(np.uint8)) \
        if isinstance(data, np.ndarray) else memoryview(data).cast("B")
    size = None if uncompressed_size is None else int(uncompressed_size)
    if size is not None and not 0 <= size <= MAX_FRAME_BYTES:
        raise FrameError(f"uncompressedSize {size} is not plausible")
    ic = _ic()
    try:
        if name == "jpeg":
            if dtype.itemsize != 1:
                raise FrameError(f"jpeg frame announces {dtype.name} data; JPEG holds 8-bit only")
            img = np.asarray(ic.jpeg8_decode(buf))
            if size is not None and img.nbytes != size:
                raise FrameError(f"jpeg decodes to {img.nbytes} bytes, uncompressedSize says {size}")
            return img.view(dtype)
        if name == "lz4":
            if size is None:
                raise FrameError("lz4 frame without uncompressedSize")
            if size > 255 * len(buf) + 16:      # LZ4 expands at most ~255:1
                raise FrameError(f"uncompressedSize {size} cannot come from {len(buf)} "
                                 f"lz4 bytes (corrupt?)")
            raw = ic.lz4_decode(buf, out=size)
        elif name == "bslz4":
            raw = _bslz4(buf, dtype.itemsize, size)
        elif name == "blosc":
            raw = ic.blosc_decode(_blosc_checked(buf))
        elif name == "zlib":
            raw = ic.zlib_decode(buf)
        else:  # lz4hdf5
            raw = ic.lz4h5_decode(buf)
    except FrameError:
        raise
    except Exception as exc:     # imagecodecs raises its own error types per codec
        raise FrameError(f"{name} data cannot be decoded ({type(exc).__name__}: {exc})") from None
    if size is not None and len(raw) != size:
        raise FrameError(f"{name} data decodes to {len(raw)} bytes, uncompressedSize says {size}")
    if len(raw) % dtype.itemsize:
        raise FrameError(f"{name} data decodes to {len(raw)} bytes, not whole {dtype.name} elements")
    return np.frombuffer(raw, dtype=dtype)


# ----------------------------------------------------------------------------- frames

def infer_color_mode(dims: Sequence[int]) -> int:
    """Colour mode from the dimensions when no ColorMode attribute is sent."""
    if len(dims) == 3:
        for mode, axis in ((RGB1, 0), (RGB2, 1), (RGB3, 2)):
            if dims[axis] == 3:
                return mode
    return MONO


def _jpeg_frame(img: np.ndarray, dims: list[int], mode: int) -> Frame:
    """A decoded JPEG (``H×W`` or ``H×W×3``, any source RGB layout) checked against dims."""
    n = int(np.prod(dims)) if dims else 0
    if img.size != n:
        raise FrameError(f"jpeg image {'×'.join(map(str, img.shape))} does not match "
                         f"dimensions {'×'.join(map(str, dims))}")
    if img.ndim == 2:
        x = dims[0] if len(dims) >= 2 else 0
        if img.shape[1] != x:
            raise FrameError(f"jpeg width {img.shape[1]} differs from dimension[0] {x}")
        return Frame(img, COLOR_MODES[MONO], DATA_TYPES[nd_data_type(img.dtype)],
                     "decoded from JPEG")
    name = COLOR_MODES[mode] if mode in (RGB1, RGB2, RGB3) else "RGB1"
    return Frame(img, name, DATA_TYPES[nd_data_type(img.dtype)], "decoded from JPEG")


def decode_frame(f: NTNDArrayFields) -> Frame:
    """One NTNDArray's fields -> a :class:`Frame`; :class:`FrameError` says why not."""
    dims = [int(d) for d in f.dims]
    if not dims or len(dims) > 3 or any(d <= 0 for d in dims):
        raise FrameError(f"dimensions {dims} cannot be shown (need 2 or 3 positive sizes)")
    mode = f.color_mode
    if mode is None:
        mode = infer_color_mode(dims)
    codec = (f.codec or "").strip()
    if codec and codec.lower() != "none":
        if f.codec_type is None:
            raise FrameError(f"{codec} frame without the original data type (codec.parameters)")
        dtype = pvdata_dtype(f.codec_type)
        flat = decompress(f.value, codec, dtype, f.uncompressed_size)
        if codec.lower() == "jpeg":
            return _jpeg_frame(flat, dims, mode)
    else:
        flat = np.asarray(f.value)
        if flat.dtype.kind not in "iuf":
            raise FrameError(f"unsupported element type {flat.dtype.name}")
        flat = flat.ravel()
    meta = ArrayMeta(len(dims), tuple(dims + [0] * (3 - len(dims))),  # type: ignore[arg-type]
                     mode, nd_data_type(flat.dtype))
    return to_image(flat, meta)


# ----------------------------------------------------------------------------- drops

class DropCounter:
    """Counts frames missed from gaps in ``uniqueId`` (areaDetector counts up by 1).

    The same uniqueId again (a reconnect re-sends the current frame) counts in
    ``repeats``; a smaller one (an IOC restart, a counter reset) starts counting
    afresh and counts in ``restarts``, never as a huge drop.
    """

    def __init__(self) -> None:
        self.received = 0
        self.dropped = 0
        self.repeats = 0
        self.restarts = 0
        self.last: Optional[int] = None

    def update(self, unique_id: Optional[int]) -> int:
        """Take one received frame's uniqueId; returns the frames missed just before it."""
        self.received += 1
        if unique_id is None:
            return 0
        uid = int(unique_id)
        gap = 0
        if self.last is not None:
            if uid > self.last:
                gap = uid - self.last - 1
            elif uid == self.last:
                self.repeats += 1
            else:
                self.restarts += 1
        self.last = uid
        self.dropped += gap
        return gap
