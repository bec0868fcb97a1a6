"""Image view: NDArray decoding (every colour mode and data type), TIFF round trip,
and the view itself on real IOCs (demo cameras, a test camera that changes size,
mode and type while a view is open, a client with too small max array bytes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from pvprobe.core import ndarray as nd
from pvprobe.core.tiff import TiffError, parse_tiff, read_tiff, tiff_bytes, write_tiff

pytestmark = pytest.mark.timeout(240)
ROOT = Path(__file__).resolve().parents[1]
SHOT = "/tmp/image_view_shot.png"


# ============================================================================ ndarray units

def _ref(w: int = 5, h: int = 4) -> np.ndarray:
    """A reference RGB image (h, w, 3) with distinct, known values."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return (100 * y + 10 * x + c).astype(np.uint16)


def test_mono_shape_and_orientation():
    w, h = 5, 3
    flat = np.arange(w * h, dtype=np.uint16)   # row-major, X fastest
    f = nd.to_image(flat, nd.ArrayMeta(2, (w, h, 0), nd.MONO, 3))
    assert f.data.shape == (h, w) and f.data.dtype == np.uint16
    assert f.data[0, 1] == 1 and f.data[1, 0] == w and f.data[2, 4] == 14
    assert f.color_mode == "Mono" and f.data_type == "UInt16" and not f.is_rgb


def test_bayer_is_mono_with_note():
    f = nd.to_image(np.zeros(6, np.uint8), nd.ArrayMeta(2, (3, 2, 0), nd.BAYER, 1))
    assert f.data.shape == (2, 3) and "Bayer" in f.note


@pytest.mark.parametrize("mode", [nd.RGB1, nd.RGB2, nd.RGB3])
def test_rgb_modes_give_the_same_image(mode):
    ref = _ref()
    h, w, _ = ref.shape
    if mode == nd.RGB1:     # [3, X, Y]: pixel-interleaved
        flat, dims = ref.ravel(), (3, w, h)
    elif mode == nd.RGB2:   # [X, 3, Y]: row-interleaved
        flat, dims = ref.transpose(0, 2, 1).ravel(), (w, 3, h)
    else:                   # [X, Y, 3]: plane-interleaved
        flat, dims = ref.transpose(2, 0, 1).ravel(), (w, h, 3)
    f = nd.to_image(flat, nd.ArrayMeta(3, dims, mode, 3))
    assert f.data.shape == (h, w, 3) and f.is_rgb
    np.testing.assert_array_equal(f.data, ref)
    assert f.data[2, 4, 1] == 100 * 2 + 10 * 4 + 1    # known pixel: y=2, x=4, green


# (DataType code, waveform dtype, values) -> expected values
TYPE_CASES = [
    (0, np.uint8, [0, 127, 128, 255], np.int8, [0, 127, -128, -1]),        # Int8 in CHAR
    (1, np.uint8, [0, 255], np.uint8, [0, 255]),
    (2, np.int16, [-5, 7], np.int16, [-5, 7]),
    (3, np.int16, [0, 1, -1, -32768], np.uint16, [0, 1, 65535, 32768]),     # UInt16 in SHORT
    (3, np.int32, [0, 1, 65535, 40000], np.uint16, [0, 1, 65535, 40000]),   # UInt16 in LONG
    (4, np.int32, [-2 ** 31, 2 ** 31 - 1], np.int32, [-2 ** 31, 2 ** 31 - 1]),
    (5, np.int32, [-1, 5], np.uint32, [2 ** 32 - 1, 5]),                    # UInt32 in LONG
    (6, np.float64, [-3.0, 2.0 ** 40], np.int64, [-3, 2 ** 40]),           # Int64 in DOUBLE
    (7, np.float64, [3.0, 2.0 ** 50], np.uint64, [3, 2 ** 50]),
    (8, np.float32, [1.5, -2.25], np.float32, [1.5, -2.25]),
    (8, np.float64, [1.5, -2.25], np.float32, [1.5, -2.25]),               # Float32 in DOUBLE
    (9, np.float32, [1.5, -2.25], np.float64, [1.5, -2.25]),               # Float64 in FLOAT
    (2, np.uint8, [0, 200], np.int16, [0, 200]),                            # Int16 in CHAR
]


@pytest.mark.parametrize("code,wave,values,want_type,want", TYPE_CASES)
def test_data_types(code, wave, values, want_type, want):
    flat = np.array(values * 3, dtype=wave)           # 2 x (len*3/2)... any shape that fits
    n = len(flat)
    f = nd.to_image(flat, nd.ArrayMeta(2, (n, 1, 0), nd.MONO, code))
    assert f.data.dtype == want_type
    np.testing.assert_array_equal(f.data[0, :len(values)], np.array(want, dtype=want_type))
    assert f.data_type == nd.DATA_TYPES[code]


def test_size_mismatch_is_skipped_with_reason():
    with pytest.raises(nd.FrameError, match="1024"):
        nd.to_image(np.zeros(640 * 480, np.uint16), nd.ArrayMeta(2, (1024, 1024, 0), nd.MONO, 3))
    with pytest.raises(nd.FrameError, match="RGB1"):
        nd.to_image(np.zeros(12, np.uint8), nd.ArrayMeta(3, (2, 2, 3), nd.RGB1, 1))
    with pytest.raises(nd.FrameError, match="3 dimensions"):
        nd.to_image(np.zeros(12, np.uint8), nd.ArrayMeta(2, (4, 3, 0), nd.RGB1, 1))
    with pytest.raises(nd.FrameError, match="not supported"):
        nd.to_image(np.zeros(12, np.uint8), nd.ArrayMeta(2, (4, 3, 0), 6, 1))
    with pytest.raises(nd.FrameError, match="no valid size"):
        nd.to_image(np.zeros(12, np.uint8), nd.ArrayMeta(2, (0, 0, 0), nd.MONO, 1))


def test_plain_image_takes_first_w_h_elements():
    f = nd.plain_image(np.arange(20, dtype=np.float64), 3, 2)
    assert f.data.shape == (2, 3) and f.data[1, 2] == 5
    with pytest.raises(nd.FrameError):
        nd.plain_image(np.arange(5.0), 3, 2)


@pytest.mark.parametrize("rot", [0, 90, 180, 270])
@pytest.mark.parametrize("fh", [False, True])
@pytest.mark.parametrize("fv", [False, True])
def test_orient_and_inverse(rot, fh, fv):
    src = np.arange(3 * 5).reshape(3, 5)
    shown = nd.orient(src, rot, fh, fv)
    assert shown.shape == (src.shape if rot in (0, 180) else src.shape[::-1])
    for y in range(shown.shape[0]):
        for x in range(shown.shape[1]):
            sx, sy = nd.source_xy(x, y, shown.shape, rot, fh, fv)
            assert src[sy, sx] == shown[y, x]
    if rot == 90 and not fh and not fv:
        assert shown[0, -1] == src[0, 0]       # clockwise: top-left goes top-right


def test_roi_stats_equal_numpy():
    rng = np.random.default_rng(1)
    img = rng.integers(0, 65535, size=(64, 80), dtype=np.uint16)
    s = nd.roi_stats(img, 10, 5, 30, 20)
    sub = img[5:25, 10:40].astype(np.float64)
    assert s["n"] == sub.size
    assert s["min"] == sub.min() and s["max"] == sub.max() and s["sum"] == sub.sum()
    assert s["mean"] == pytest.approx(sub.mean()) and s["sigma"] == pytest.approx(sub.std())
    yy, xx = np.mgrid[5:25, 10:40]
    assert s["centroid_x"] == pytest.approx((sub * xx).sum() / sub.sum())
    assert s["centroid_y"] == pytest.approx((sub * yy).sum() / sub.sum())
    assert nd.roi_stats(img, 200, 200, 5, 5) is None
    clipped = nd.roi_stats(img, -10, -10, 20, 20)
    assert clipped["width"] == 10 and clipped["height"] == 10


def test_levels_and_profiles():
    img = np.arange(100 * 100, dtype=np.uint16).reshape(100, 100)
    lo, hi = nd.auto_levels(img, 0, 100)
    assert lo == 0 and hi == img.max()
    lo, hi = nd.auto_levels(img, 1, 99)
    assert 0 < lo < hi < img.max()
    assert nd.auto_levels(np.full((4, 4), 7)) == (7.0, 8.0)
    np.testing.assert_array_equal(nd.row_profile(img, 3), img[3])
    np.testing.assert_array_equal(nd.col_profile(img, 4), img[:, 4])
    assert nd.row_profile(img, 100) is None and nd.col_profile(img, -1) is None
    rgb = _ref()
    np.testing.assert_allclose(nd.row_profile(rgb, 1), rgb[1].mean(axis=1))
    lg = nd.log_scale(img)
    assert lg.dtype == np.float32 and lg[0, 0] == 0 and np.all(np.diff(lg.ravel()) >= 0)


def test_array_bytes_arithmetic():
    assert nd.array_bytes_needed(1024 * 1024, "LONG") == 4 * 1024 * 1024 + 16
    assert nd.array_bytes_needed(921600, "CHAR") == 921616
    auto = {"EPICS_CA_MAX_ARRAY_BYTES": "100000"}
    assert nd.client_array_limit(auto) is None           # libca sizes its buffers itself
    fixed = dict(auto, EPICS_CA_AUTO_ARRAY_BYTES="NO")
    assert nd.client_array_limit(fixed) == 100000
    msg = nd.array_bytes_problem(1024 * 1024, "LONG", fixed)
    assert "EPICS_CA_MAX_ARRAY_BYTES ≥ 4194320" in msg and "100000" in msg
    assert nd.array_bytes_problem(1000, "LONG", fixed) == ""
    assert nd.array_bytes_problem(1, "DOUBLE", fixed) == ""


# ============================================================================ TIFF

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.uint32,
                                   np.int32, np.int64, np.uint64, np.float32, np.float64])
@pytest.mark.parametrize("rgb", [False, True])
def test_tiff_round_trip_bit_exact(tmp_path, dtype, rgb):
    rng = np.random.default_rng(3)
    shape = (7, 9, 3) if rgb else (7, 9)
    info = np.finfo(dtype) if np.dtype(dtype).kind == "f" else np.iinfo(dtype)
    if np.dtype(dtype).kind == "f":
        img = rng.normal(0, 1e6, shape).astype(dtype)
    else:
        img = rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)
        img.flat[0], img.flat[1] = info.min, info.max
    p = tmp_path / "f.tif"
    write_tiff(p, img, "test")
    back = read_tiff(p)
    assert back.dtype == img.dtype and back.shape == img.shape
    assert back.tobytes() == img.tobytes()
    raw = p.read_bytes()
    assert raw[:4] == b"II*\0" and not list(tmp_path.glob(".*tmp"))


def test_tiff_rejects_bad_shapes():
    with pytest.raises(TiffError):
        tiff_bytes(np.zeros((2, 2, 4), np.uint8))
    with pytest.raises(TiffError):
        tiff_bytes(np.zeros(5, np.uint8))
    with pytest.raises(TiffError):
        parse_tiff(b"not a tiff")
