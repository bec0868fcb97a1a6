"""NTNDArray frames (pvAccess areaDetector images): every codec, type and colour mode,
bad input, dropped-frame counting; and a live p4p server in its own process.

Frames are compressed here with imagecodecs the way areaDetector's NDPluginCodec
writes them; the bslz4 decoder is also checked against bytes made by the
bitshuffle library itself (the one areaDetector links).
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator

import imagecodecs
import numpy as np
import pytest
from conftest import SERVERS_DIR
from servers.pva_ca_mix import fields_of, pva_client_conf
from servers.pva_ndarray_server import frame_pixels

from pvprobe.core.caenv import free_port
from pvprobe.core.ndarray import FrameError
from pvprobe.core.ntndarray import DropCounter, NTNDArrayFields, decode_frame, decompress, pvdata_dtype

#: pvData scalar type codes of the NDArray element types.
TYPE_CODES = {np.int8: 1, np.int16: 2, np.int32: 3, np.int64: 4, np.uint8: 5, np.uint16: 6,
              np.uint32: 7, np.uint64: 8, np.float32: 9, np.float64: 10}
MODES = {"Mono": 0, "RGB1": 2, "RGB2": 3, "RGB3": 4}
W, H = 13, 7


def image(dtype, rgb: bool, seed: int = 0) -> np.ndarray:
    """H×W (or H×W×3) test image spanning the type's range (extremes included)."""
    rng = np.random.default_rng(seed)
    shape = (H, W, 3) if rgb else (H, W)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        img = (rng.standard_normal(shape) * 1e3).astype(dt)
        img.flat[0], img.flat[1] = np.finfo(dt).min, np.finfo(dt).max
    else:
        info = np.iinfo(dt)
        img = rng.integers(info.min, info.max, size=shape, dtype=dt, endpoint=True)
        img.flat[0], img.flat[1] = info.min, info.max
    return img


def layout(img: np.ndarray, mode: str) -> tuple[np.ndarray, list[int]]:
    """The flat NDArray data and its dimension sizes (dims[0] = x) for a colour mode."""
    if mode == "Mono":
        return img.ravel(), [W, H]
    if mode == "RGB1":                               # [3, X, Y]
        return img.ravel(), [3, W, H]
    if mode == "RGB2":                               # [X, 3, Y]
        return img.transpose(0, 2, 1).ravel(), [W, 3, H]
    return img.transpose(2, 0, 1).ravel(), [W, H, 3]  # RGB3: [X, Y, 3]


def bslz4_encode(raw: bytes, itemsize: int, block: int = 0, header: bool = False) -> bytes:
    """bitshuffle/LZ4 built from imagecodecs' pieces: as NDPluginCodec sends it (no
    header, bitshuffle's default block size) or the HDF5-filter variant (12-byte header)."""
    n = len(raw) // itemsize
    block = block or max(128, (8192 // itemsize) // 8 * 8)
    out = bytearray()
    if header:
        out += len(raw).to_bytes(8, "big") + (block * itemsize).to_bytes(4, "big")
    done = 0
    while n - done >= 8:
        count = min(block, (n - done) // 8 * 8)
        chunk = raw[done * itemsize:(done + count) * itemsize]
        packed = imagecodecs.lz4_encode(imagecodecs.bitshuffle_encode(
            chunk, itemsize=itemsize, blocksize=count))
        out += len(packed).to_bytes(4, "big") + packed
        done += count
    return bytes(out + raw[done * itemsize:])


def encode(codec: str, flat: np.ndarray) -> bytes:
    raw = flat.tobytes()
    if codec == "lz4":
        return imagecodecs.lz4_encode(raw)           # raw block, no size header
    if codec == "bslz4":
        return bslz4_encode(raw, flat.dtype.itemsize)
    if codec == "blosc":
        return imagecodecs.blosc_encode(raw, typesize=flat.dtype.itemsize, shuffle=1)
    if codec == "zlib":
        return imagecodecs.zlib_encode(raw)
    if codec == "lz4hdf5":
        return imagecodecs.lz4h5_encode(raw)
    raise AssertionError(codec)


def fields(flat, dims, mode, codec="", dtype=None, size=None, **kw) -> NTNDArrayFields:
    if codec:
        data = np.frombuffer(encode(codec, flat), dtype=np.uint8)
        code = TYPE_CODES[np.dtype(dtype or flat.dtype).type]
        return NTNDArrayFields(data, dims, codec, code,
                               flat.nbytes if size is None else size,
                               {"ColorMode": MODES[mode]}, **kw)
    return NTNDArrayFields(flat, dims, attributes={"ColorMode": MODES[mode]}, **kw)


# ----------------------------------------------------------------------------- good frames

@pytest.mark.parametrize("codec", ["", "lz4", "bslz4", "blosc", "zlib", "lz4hdf5"])
@pytest.mark.parametrize("dtype", list(TYPE_CODES))
@pytest.mark.parametrize("mode", list(MODES))
def test_every_codec_type_and_colour_mode_decodes_pixel_for_pixel(codec, dtype, mode):
    img = image(dtype, mode != "Mono", seed=zlib.crc32(f"{codec}{mode}".encode()))
    flat, dims = layout(img, mode)
    frame = decode_frame(fields(flat, dims, mode, codec))
    assert frame.data.dtype == np.dtype(dtype)
    assert frame.data.shape == img.shape
    np.testing.assert_array_equal(frame.data, img)
    assert frame.color_mode == mode
    assert (frame.width, frame.height) == (W, H)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
def test_lossless_jpeg_decodes_pixel_for_pixel_in_every_colour_mode(mode, dtype):
    """areaDetector JPEG-compresses 8-bit frames; RGB2/RGB3 are interleaved first, the
    dimensions keep their layout, so the decoded frame is H×W×3 whatever the mode."""
    img = image(np.uint8, mode != "Mono", seed=3)
    _, dims = layout(img, mode)
    data = imagecodecs.jpeg8_encode(img, lossless=True)
    f = NTNDArrayFields(np.frombuffer(data, np.uint8), dims, "jpeg", TYPE_CODES[dtype],
                        img.nbytes, {"ColorMode": MODES[mode]})
    frame = decode_frame(f)
    assert frame.data.shape == img.shape and frame.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(frame.data.view(np.uint8), img)


def test_baseline_jpeg_as_the_codec_plugin_writes_it_decodes_close_to_the_source():
    y, x = np.mgrid[0:48, 0:64]
    img = (x * 2 + y * 2).astype(np.uint8)          # smooth (no wrap): lossy JPEG stays close
    data = imagecodecs.jpeg8_encode(img, level=90)
    frame = decode_frame(NTNDArrayFields(np.frombuffer(data, np.uint8), [64, 48], "jpeg", 5,
                                         img.nbytes, {"ColorMode": 0}))
    assert frame.data.shape == (48, 64)
    assert np.abs(frame.data.astype(int) - img).max() <= 8


#: Made by the bitshuffle library as NDPluginCodec calls it (bshuf_compress_lz4, block
#: size 0 = default 4096 for uint16, no header): 10003 uint16, so 2 blocks of 4096,
#: one of 1808 and 3 elements raw.
BSLZ4_AREADETECTOR = "".join([
    "AAABnH+AP+AP+AP+BwD/538AwP8PAPz/BwD/52AAAADw//8IAA8HAOkAAgBP////DwcA3wD6AAL2AAACAAEM"
    "AAEEAQACAAALAA8cANMA+QEDCgMDBwIPDgDVAeoABQIAAf8ABQIABRcAAQIABRcAAQIAARMABQIAARMABQIA"
    "BRcAAQIABRcAAQIAARMABQIAARMABQIABRcAAQIABRcAAQIAARMABQIAARMABQIABRcAAQIABRcAAQIAARMA"
    "BQIAARMABQIABRcACwIAAAoFBgIAAxwCAwIADxwAvQPXAA8CAAIGBAEOAgAPMQACAwIADi4ABgIAAyMADwIA"
    "AgYmAA4CAA8xAAIDAgAOLgAGAgADIwAPAgACBiYACuQBCgIACvIBCgIADzgAsQ8CACMKCAEPAgAXD24AIw9w"
    "AF8PAgATDxwCCQ8CAAkPOAIJDwIACQ9wAF0PAgA/DxYBCQ8CAEEPwgA/DwIAMQ/IASUPAgAlD3ACJQ8CAK8P"
    "MgETDyABzQ9wAgcP4gGvDwIA/////////////////zNQAAAAAAAAAAFsfz/gD/gD/oAHAP/nf8D/DwD8/wAH"
    "AP/oYv8PAAAA/wcAfwAAAPD///8HAOwAAgADEQEPBwDQC/kBAAIAEv8BAAALAAIcAgACAAEMAA8cANIAEQMD"
    "AwMKHwEPDgDCBAACDgIAAfEABQIACiAABRcAAQIADxwAvwYCAAARBQYCAAMcAgMCAA8cALEB8gUDAgAD1wAP"
    "AgACAyMADwIAAg8xAAIDAgAPMQACAwIAAyMADwIAAgMjAA8CAAIPMQACAwIADzEAAgMCAAMjAA8CAAIDIwAP"
    "EQMJCi0BDQIAChwCCgIACioCCgIADzgAeQ8CACMK0AAPAgAXD24AIw9wAF8PAgATD+QBCQ8CAAkPAAIJDwIA"
    "CQ9wAF0PAgA/DxYBCQ8CAEEPwgA/DwIAMQ/IASUPAgAlCXACCUUAD84AMQ8CAIkJ7QAPAgAGCSABDwIAwAlw"
    "Ag/gAMAPAgD/////////////////IlAAAAAAAAAAAOF/4A/4A/6APwcAyH//DwD8/wDABwDIf/8PAAAA//8H"
    "AAB/AAAA8P///wcArwDiAAPGAAPpAAMOAAEJAAH+AAACAAALAAIMAQACAAEMAA8cAJUAqAEGAgAD8AAOAgAG"
    "IwAAAgAKIAAAEgAGAgAPHACHAQIAB/AAARAADwIABAbQAA4CAA8zAAQBAgAOLgAGAgABIQAPAgAEBiYADgIA"
    "DzMABAECAAAuAAEJAA8CADoAVgAPAgAhD4UAJQ9sAA0PWAAlDwIAPw+qAA0PAgA/D8QAPw8CAP///////5JQ"
    "AAAAAADkAOQA5AA="
])

#: Made by the bitshuffle library (bitshuffle.compress_lz4, block 256) behind the
#: 12-byte HDF5 filter header: 1003 uint16, so 3 full blocks, one of 232 and 3 raw.
BSLZ4_HDF5_FROM_BITSHUFFLE = "".join([
    "AAAAAAAAB9YAAAIAAAACA/D/8qha1apWpapVr0pVqla1qlWpStWrVpUqVa16VapStapVzpwZM2fGzJkzc2bM"
    "mDkzZs6MGTNn5syZMWNmzJw5M2accqxxyrHGKPVaodY7pVjjnGOMUcq1Qqj3SrHWOecY43zxgw8+cMEHD7rg"
    "wQdd+OCDH3zwwYs+ePBFDz744AcfOMcY5xrjXGOZaWyzjSw20UUmu8kkp5nklPOccoxzjjHABx/44gNffOGL"
    "b/zxzT/++cc//vhHH//ogx998IMPPgD4HwD9A6B/AfRvAP4NwP8B+D8A/wfg/wD8H4D/A/A/qFo1VammqtVR"
    "tTqqVkdVqqhKFVSpkipVUoVKqlJJVWoKVEGBKihQBQSqwEAVWKgCC1VhoSo8VIUHqvBAFx7ogmTCTLNllskz"
    "yYbZJs8km2abLJNtmk2yTDZJNtk22SSZHM7DcByOx/A4nsfhPByH4Xgcj+N5PI7D8TgOx/E4HIc6+djo5GKj"
    "k5sNTGxyMrHRwcVHJx8bmdxsZGKzg4uNTmil9VVSWKm5tLoaOil1FFRXTy2MtopKii0F11ZRQael5GxMzM3J"
    "mIiJmTkZGxNzMzMjY2JyRkZG5MzOzsjYnJxwjnGOcY6xTrFeId4jlGuUY4xyjEOMc4jVCvcY4R6nGIAPfvCB"
    "D77wQR8+4MMXfOiDD3zwgw988AUP+OABH7jgAAACA/D/8q1KVapetapUqWpVq1KVqletKlWqWtWqVKUqVata"
    "FapUzoyZM2fGzJgxc2bMnBkzZs7MmTNj5syYOTNmzJyZM2eUa41Q6pVCrXPKscYpxxqj1GuFWO+UYo1zjjVG"
    "KdcKoXzogg8edMGDDzrwwQc/+uDDF3344IsefPCBCz740AUfyjlGOc0sJ5nkJpNdZLOJbLaxzDbWOcY65xjn"
    "HGsMY43wyQc+8MQHnvjCE154wwtv+MENP/jBBj/44AcfdOCDDgD2B8D/BPifAP0ToH8D9G8A/g3A/wH5PwD/"
    "B+B/APwPrUqtVaGxqjRWlUar0mlVOK0qp1Wl1KqUWtVSq9rqVVsHXfCgCh7UwYM6+FEHPurCR334qA9f9OGL"
    "fnzRD6/64WTbbJNtkk2yTbbJNskm2STbZJtkk0ySbbZNMkk22TbZ4zgcj+NxPI7DcTgOx+E4HMfjeByPw3Ec"
    "jsPxOA7H8TguNjq52MjkZicTm51cbHRysdHJzUYGNzuZ2OjkYqOTi4KKauuhtVFSUXmxtPL6Kiis1FxYXS2d"
    "lDoKqqsnFkZfmZkZmJOTMzAzN3dyNibm5GRMxMTMnIyNibmZmRExMTnjHGsU4h1CvEK5xjjHOMc4x1inWK8Q"
    "7hHKNcoxxjnGIQMfdOADHnzAgz74wAc/+MAHX/igDx/w4Qs+9MEHPvjBAAACA/AntWpVqULVqlalKlWpWtWq"
    "UKWqValKVapWtSpUqWrVqlLGjJkxc+bMmDkzZs6cGTNjxsyZMXNmEADw/7hnzowZM2PeK8Va55xjjFOuNUKt"
    "Vwq1zinHGqcca4RSrxVivVOKNT7owgcffOCDD170wYMv+vDBFz/44AMXfPCgCx580IUPbaaxzSay2UU3uewk"
    "l5xmllOMc4pxzjHOKeY5xSS3nORw0AEOOMABBjjABAeY4IIXXPCDC37wwQ8+2MEHO+hgB4D/AfA/AP4HwP8E"
    "+J8A/Reg/wP0fwD+D8D/Afg/AP8HtWqrVn3Vqq5a1VGpOipVR6WqqVY1VaqmStVVqaoqVVVVPbyql1f18qte"
    "ftXLr/r9Vb++6tdX/fqqX1/166t6fSzbZJpks2ySabLNsEnmyTbDZpkl08ybZYZMMm+mGTbLHMfjeRyP43EY"
    "jsNzOJ7H8TAeh+MwPIfjYTwO42F4DsePTm42MrHZycBGJxcfnVxsbHLzkYHNTi4mOjnY+ODiI0UlxZaCa6uo"
    "pdNSQUW19dDaKKmotFhaeW0VlFZqKqiuIyMjcmZnZ2RsTs7MzAzMyckZmJuTOzkbA3NyMiZmZmbGO8RqhXuM"
    "cI5TjHGONQrxDiFeo1RjnGOMY5xjrFOoVwc8+IIHfPCAD1zwgQ868AEPPuBDF3zggw984IMvfNCHAAAB0PEh"
    "lapVrWpVqlL1qlWlSlWrXpWqVK1qVatSlapXpSrmzJkxc2bMnDkzZsaMmTNn5syYEADydxkzZsbMzjnXGKVc"
    "K4RapxRrnXOONU651gi1XinEOqcca5w++NAHH7zogwdf9OCDD370wYcu+PBBFzz4oAMffKKbTHSzjWa2kc4y"
    "1ljHGOccY5xjrDONdbaRzDa6PeSghzzykEce8MgHH/jgBx/84IM/fPGFP77wxz/A/wD4PwD/B+D/APgfCADw"
    "/wH8P4D+BcC/APg/laqqUlVVqqoKVVWlqqpUWZWqq1JVVauoahVXpepFr6/o1Re9+qJXX/DrC351xS+u+MUV"
    "vrjCF1XwigyZZt4MM2SeOTPMnHlmzDhzZpgx88yYY+aMMWPmw3gexsPwHIan8DyM5+E9DM/heQjPw3kY3oPy"
    "EJ6jm51NTH5ysJHBxUUnJxsb3PxkZKOzi4lPTj42uJZOSh0l1dUSS6uvoJJyS0G1VdTSaamgpNpaaG2VTsbG"
    "xNzMzImYmJyTkRE5M7MzMjYnZ2ZkBsbk7AwI9wjlGucY4xzjEOMdYrVCOUY4xynGOMcapXiPEA/48AUf+OAD"
    "H/zgAx58wYM+eMAHLvjABx34gA8fE06kRSF0"
])


def test_bslz4_as_the_codec_plugin_writes_it_made_by_the_bitshuffle_library_decodes():
    want = (np.arange(10003, dtype=np.uint32) // 7 % 300).astype(np.uint16)
    data = base64.b64decode(BSLZ4_AREADETECTOR)
    np.testing.assert_array_equal(decompress(data, "bslz4", np.dtype(np.uint16), want.nbytes),
                                  want)
    with pytest.raises(FrameError, match="uncompressedSize"):
        decompress(data, "bslz4", np.dtype(np.uint16), None)


def test_bslz4_hdf5_variant_made_by_the_bitshuffle_library_decodes():
    want = (np.arange(1003, dtype=np.uint32) * 2654435761 % 70001).astype(np.uint16)
    data = base64.b64decode(BSLZ4_HDF5_FROM_BITSHUFFLE)
    for size in (want.nbytes, None):
        np.testing.assert_array_equal(decompress(data, "bslz4", np.dtype(np.uint16), size), want)


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.float32, np.float64])
@pytest.mark.parametrize("n", [5, 8, 4096, 4099, 20000])
def test_bslz4_both_variants_at_block_edges(dtype, n):
    flat = image(dtype, False).ravel()
    flat = np.resize(flat, n)
    for header in (False, True):
        data = bslz4_encode(flat.tobytes(), flat.dtype.itemsize, header=header)
        np.testing.assert_array_equal(decompress(data, "bslz4", flat.dtype, flat.nbytes), flat)


def test_lz4hdf5_in_adsupport_layout_with_a_block_stored_raw_decodes():
    """ADSupport's compress_lz4hdf5: uint64 BE size, uint32 BE block size, then per
    block a uint32 BE length and LZ4 data, or the raw block when LZ4 did not shrink it."""
    rng = np.random.default_rng(2)
    want = np.concatenate([rng.integers(0, 65535, 500, dtype=np.uint16),      # incompressible
                           np.full(500, 7, np.uint16), rng.integers(0, 9, 250, dtype=np.uint16)])
    raw, block = want.tobytes(), 1000
    data = len(raw).to_bytes(8, "big") + block.to_bytes(4, "big")
    stored_raw = 0
    for i in range(0, len(raw), block):
        chunk = raw[i:i + block]
        packed = imagecodecs.lz4_encode(chunk)
        if len(packed) >= len(chunk):
            packed, stored_raw = chunk, stored_raw + 1
        data += len(packed).to_bytes(4, "big") + packed
    assert stored_raw == 1
    np.testing.assert_array_equal(decompress(data, "lz4hdf5", want.dtype, want.nbytes), want)


def test_codec_name_and_type_code_from_the_wire_are_accepted_loosely():
    img = image(np.uint16, False)
    f = fields(img.ravel(), [W, H], "Mono", "lz4")
    f.codec = " LZ4 "
    f.codec_type = np.int64(6)                 # what a variant field may hand back
    np.testing.assert_array_equal(decode_frame(f).data, img)


def test_missing_colour_mode_is_inferred_from_the_dimensions():
    img = image(np.uint8, True)
    for mode in ("RGB1", "RGB2", "RGB3"):
        flat, dims = layout(img, mode)
        f = NTNDArrayFields(flat, dims)
        np.testing.assert_array_equal(decode_frame(f).data, img)
    flat, dims = layout(img[..., 0].copy(), "Mono")
    assert decode_frame(NTNDArrayFields(flat, dims)).data.shape == (H, W)


def test_no_codec_none_codec_and_typed_numpy_value_are_plain_frames():
    img = image(np.float32, False)
    for codec in ("", "none"):
        f = NTNDArrayFields(img.ravel(), [W, H], codec=codec, attributes={"ColorMode": 0})
        np.testing.assert_array_equal(decode_frame(f).data, img)


# ----------------------------------------------------------------------------- bad frames

def test_unknown_codec_is_refused_with_its_name():
    img = image(np.uint16, False)
    f = fields(img.ravel(), [W, H], "Mono", "lz4")
    f.codec = "zstd"
    with pytest.raises(FrameError, match="unknown codec 'zstd'"):
        decode_frame(f)


@pytest.mark.parametrize("codec", ["lz4", "bslz4", "blosc", "zlib", "lz4hdf5"])
@pytest.mark.parametrize("delta", [-2, 2, 1000])
def test_lying_uncompressed_size_is_refused(codec, delta):
    img = image(np.uint16, False)
    f = fields(img.ravel(), [W, H], "Mono", codec, size=img.nbytes + delta)
    with pytest.raises(FrameError, match="uncompressedSize|decode"):
        decode_frame(f)


def test_huge_uncompressed_size_is_refused_without_allocating_it():
    img = image(np.uint16, False)
    f = fields(img.ravel(), [W, H], "Mono", "lz4", size=2 ** 31)
    with pytest.raises(FrameError, match="cannot come from"):
        decode_frame(f)
    f.uncompressed_size = 2 ** 40
    with pytest.raises(FrameError, match="not plausible"):
        decode_frame(f)


def test_bslz4_header_that_lies_about_the_size_is_refused():
    img = image(np.uint16, False)
    data = bytearray(bslz4_encode(img.tobytes(), 2, header=True))
    data[0:8] = (img.nbytes + 16).to_bytes(8, "big")
    with pytest.raises(FrameError, match="bslz4"):
        decompress(bytes(data), "bslz4", np.dtype(np.uint16), None)
    with pytest.raises(FrameError, match="bslz4"):       # and with the true size known
        decompress(bytes(data), "bslz4", np.dtype(np.uint16), img.nbytes)


@pytest.mark.parametrize("mode,dims", [("Mono", [W, H + 1]), ("Mono", [W - 1, H]),
                                       ("RGB1", [3, W, H + 1]), ("RGB2", [W, 3, H - 1]),
                                       ("RGB3", [W + 1, H, 3])])
@pytest.mark.parametrize("codec", ["", "lz4"])
def test_dimensions_that_do_not_match_the_element_count_are_refused(mode, dims, codec):
    img = image(np.uint16, mode != "Mono")
    flat, _ = layout(img, mode)
    with pytest.raises(FrameError, match="elements"):
        decode_frame(fields(flat, dims, mode, codec))


@pytest.mark.parametrize("dims", [[], [W * H], [W, H, 1, 1], [W, 0], [-W, -H]])
def test_dimension_lists_that_cannot_be_an_image_are_refused(dims):
    with pytest.raises(FrameError):
        decode_frame(NTNDArrayFields(np.zeros(W * H, np.uint8), dims))


@pytest.mark.parametrize("code", [0, 11, 12, -1, "ushort", None])
def test_unsupported_data_type_code_is_refused(code):
    img = image(np.uint16, False)
    f = fields(img.ravel(), [W, H], "Mono", "lz4")
    f.codec_type = code
    with pytest.raises(FrameError, match="type|parameters"):
        decode_frame(f)
    if code is not None and not isinstance(code, str):
        with pytest.raises(FrameError, match=f"code {code}"):
            pvdata_dtype(code)


def test_plain_frame_of_a_non_numeric_type_is_refused():
    with pytest.raises(FrameError, match="unsupported element type"):
        decode_frame(NTNDArrayFields(np.array(["a"] * (W * H)), [W, H]))


@pytest.mark.parametrize("codec", ["lz4", "bslz4", "blosc", "zlib", "lz4hdf5", "jpeg"])
def test_corrupt_or_truncated_data_gives_an_error_not_a_crash(codec):
    rng = np.random.default_rng(5)
    junk = rng.integers(0, 256, 200, dtype=np.uint8)
    code = 5 if codec == "jpeg" else 6
    with pytest.raises(FrameError):
        decode_frame(NTNDArrayFields(junk, [W, H], codec, code, W * H * (1 if code == 5 else 2)))
    if codec != "jpeg":
        good = encode(codec, image(np.uint16, False).ravel())
        with pytest.raises(FrameError):
            decode_frame(NTNDArrayFields(good[:len(good) // 2], [W, H], codec, 6, W * H * 2))


def test_jpeg_frame_announcing_16_bit_data_is_refused():
    data = imagecodecs.jpeg8_encode(image(np.uint8, False))
    with pytest.raises(FrameError, match="8-bit"):
        decode_frame(NTNDArrayFields(data, [W, H], "jpeg", 6, W * H * 2))


def test_jpeg_whose_size_differs_from_the_dimensions_is_refused():
    data = imagecodecs.jpeg8_encode(image(np.uint8, False))
    with pytest.raises(FrameError, match="does not match|differs"):
        decode_frame(NTNDArrayFields(data, [W + 1, H], "jpeg", 5, None))


# ----------------------------------------------------------------------------- drops

def test_drop_counter_counts_unique_id_gaps_and_survives_restarts():
    c = DropCounter()
    assert [c.update(u) for u in (5, 6, 9, 10, 14)] == [0, 0, 2, 0, 3]
    assert (c.received, c.dropped, c.restarts) == (5, 5, 0)
    assert c.update(1) == 0 and c.restarts == 1          # IOC restarted: no huge drop
    assert c.update(3) == 1
    assert c.update(None) == 0 and c.received == 8 and c.dropped == 6
    assert c.update(3) == 0 and c.repeats == 1 and c.restarts == 1   # the same frame again


# ----------------------------------------------------------------------------- live pvAccess

def _ports() -> tuple[int, int]:
    port = free_port()
    bport = free_port()
    while bport == port:
        bport = free_port()
    return port, bport


def start_pva_server(prefix: str) -> tuple[subprocess.Popen, int, int]:
    """tests/servers/pva_ndarray_server.py in its own process, on loopback; waits for READY."""
    port, bport = _ports()
    proc = subprocess.Popen([sys.executable, str(SERVERS_DIR / "pva_ndarray_server.py"), prefix,
                             str(port), str(bport)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        ready, _, _ = select.select([proc.stdout], [], [], 0.5)
        if ready and "READY" in proc.stdout.readline():
            return proc, port, bport
    proc.kill()
    raise AssertionError(f"PVA server did not start: {proc.stderr.read()[-2000:]}")


@pytest.fixture(scope="module")
def pva_server() -> Iterator[tuple[str, int, int]]:
    prefix = f"PVPTEST{os.getpid()}"
    proc, port, bport = start_pva_server(prefix)
    yield prefix, port, bport
    os.kill(proc.pid, 9)
    proc.wait(10)


def pva_get(name: str, port: int, bport: int):
    from p4p.client.thread import Context

    ctx = Context("pva", conf=pva_client_conf(port, bport), useenv=False, nt=False)
    try:
        return ctx.get(name, timeout=10)
    finally:
        ctx.close()


@pytest.mark.live
@pytest.mark.parametrize("which", ["plain", "lz4"])
def test_live_p4p_ntndarray_decodes_pixel_for_pixel(pva_server, which):
    prefix, port, bport = pva_server
    v = pva_get(f"{prefix}:{which}", port, bport)
    assert v.getID().startswith("epics:nt/NTNDArray:")
    f = fields_of(v)
    assert f.codec == ("lz4" if which == "lz4" else "")
    if which == "lz4":
        assert np.asarray(f.value).dtype == np.uint8 and f.codec_type == 6
    frame = decode_frame(f)
    want = frame_pixels()
    assert frame.data.dtype == want.dtype and frame.color_mode == "Mono"
    np.testing.assert_array_equal(frame.data, want)
    assert f.unique_id == (7 if which == "plain" else 8)
    assert f.timestamp == (1_700_000_000 if which == "plain" else 0)   # 0: server sent none


@pytest.mark.live
def test_p4p_get_and_ca_engine_read_in_one_process(pva_server, engine, prefix):
    """pyepics' libca (through pvprobe's Engine) and p4p's pvxs in this process:
    a CA read, a PVA get, then a CA read again."""
    import threading

    from pvprobe.core.pvstate import PVState

    got: dict[str, PVState] = {}
    arrived = {prefix + "sine": threading.Event(), prefix + "setpoint": threading.Event()}

    def on_batch(batch) -> None:
        for st in batch.states:
            if st.connected and st.value is not None and st.name in arrived:
                got[st.name] = st
                arrived[st.name].set()
        engine.batch_done()

    engine.start(on_batch)
    engine.add([prefix + "sine"])
    assert arrived[prefix + "sine"].wait(20), "CA value of the demo IOC's sine"
    pva_prefix, port, bport = pva_server
    frame = decode_frame(fields_of(pva_get(f"{pva_prefix}:lz4", port, bport)))
    np.testing.assert_array_equal(frame.data, frame_pixels())
    engine.add([prefix + "setpoint"])
    assert arrived[prefix + "setpoint"].wait(20), "CA still works after p4p ran"


@pytest.mark.live
@pytest.mark.parametrize("order", ["ca-first", "pva-first"])
def test_pyepics_and_p4p_load_in_either_order_in_one_process(pva_server, demo_ioc, prefix, order):
    """A fresh process per load order (pytest's own order is fixed by import history)."""
    pva_prefix, port, bport = pva_server
    r = subprocess.run([sys.executable, str(SERVERS_DIR / "pva_ca_mix.py"), order, prefix + "sine",
                        f"{pva_prefix}:lz4", str(port), str(bport)],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    print(order, out["libs"], out["seconds"], "s")
    assert isinstance(out["ca"], float)
    assert out["shape"] == list(frame_pixels().shape)
    assert out["sum"] == int(frame_pixels().astype(np.int64).sum())
    libs = " ".join(out["libs"])
    assert "libpvxs" in libs and "libca" in libs
    assert "caRepeater" not in r.stderr
