"""TIFF export on tifffile: every NDArray data type and colour mode round trips, read back
by tifffile itself (not by our reader); what is written (byte order, photometric, one
ImageDescription, resolution) stays as the hand-written writer had it; BigTIFF is chosen
above a limit; writes stay atomic."""

from __future__ import annotations

import io

import numpy as np
import pytest
import tifffile

from pvprobe.core import ndarray as nd
from pvprobe.core.tiff import (
    CLASSIC_TIFF_LIMIT,
    TiffError,
    describe,
    needs_bigtiff,
    parse_tiff,
    read_tiff,
    tiff_bytes,
    write_tiff,
)

pytestmark = pytest.mark.timeout(60)


def _values(dtype: np.dtype, n: int) -> np.ndarray:
    """``n`` values of ``dtype`` spanning its range, extremes first."""
    rng = np.random.default_rng(7)
    if dtype.kind == "f":
        v = rng.normal(0, 1e6, n).astype(dtype)
        v[:3] = [np.finfo(dtype).min, np.finfo(dtype).max, np.finfo(dtype).tiny]
        return v
    info = np.iinfo(dtype)
    v = rng.integers(info.min, info.max, n, dtype=dtype, endpoint=True)
    v[:2] = info.min, info.max
    return v


def _frame(data_type: int, mode: int, w: int = 9, h: int = 7) -> nd.Frame:
    dtype = np.dtype(nd.NUMPY_TYPES[data_type])
    if mode == nd.MONO:
        return nd.to_image(_values(dtype, w * h), nd.ArrayMeta(2, (w, h, 0), mode, data_type))
    dims = {nd.RGB1: (3, w, h), nd.RGB2: (w, 3, h), nd.RGB3: (w, h, 3)}[mode]
    return nd.to_image(_values(dtype, 3 * w * h), nd.ArrayMeta(3, dims, mode, data_type))


@pytest.mark.parametrize("mode", [nd.MONO, nd.RGB1, nd.RGB2, nd.RGB3])
@pytest.mark.parametrize("data_type", range(len(nd.DATA_TYPES)))
def test_every_ndarray_type_and_colour_mode_round_trips_through_tifffile(tmp_path, data_type, mode):
    frame = _frame(data_type, mode)
    img = frame.data
    desc = describe(img, "13SIM1:image1:ArrayData uid=42 ts=1700000000.123456")
    path = tmp_path / "f.tif"
    write_tiff(path, img, desc)
    with tifffile.TiffFile(path) as tif:
        assert len(tif.pages) == 1 and not tif.is_bigtiff and tif.byteorder == "<"
        page = tif.pages[0]
        back = page.asarray()
        assert back.dtype == img.dtype and back.shape == img.shape
        assert back.tobytes() == np.ascontiguousarray(img).tobytes()      # bit exact
        rgb = img.ndim == 3
        assert page.photometric == (tifffile.PHOTOMETRIC.RGB if rgb else tifffile.PHOTOMETRIC.MINISBLACK)
        assert page.samplesperpixel == (3 if rgb else 1)
        assert page.planarconfig == tifffile.PLANARCONFIG.CONTIG
        assert page.compression == tifffile.COMPRESSION.NONE
        # one ImageDescription, ours: no tifffile JSON metadata, no Software tag
        assert [t.value for t in page.tags.values() if t.code == 270] == [desc]
        assert 305 not in page.tags
        assert page.tags[282].value == (72, 1) and page.tags[296].value == 1
    assert read_tiff(path).tobytes() == back.tobytes()
    assert path.read_bytes()[:4] == b"II*\0"
    assert not list(tmp_path.glob(".*tmp"))


def test_big_endian_and_odd_inputs_are_written_as_before():
    be = np.arange(12, dtype=">u2").reshape(3, 4)
    raw = tiff_bytes(be)
    assert raw[:4] == b"II*\0"
    with tifffile.TiffFile(io.BytesIO(raw)) as tif:
        assert tif.pages[0].description == "pvprobe"            # the default description
        np.testing.assert_array_equal(tif.pages[0].asarray(), be)
    assert parse_tiff(tiff_bytes(np.ones((2, 2), bool))).dtype == np.uint8
    assert parse_tiff(tiff_bytes(np.ones((2, 2), np.float16))).dtype == np.float32
    assert parse_tiff(tiff_bytes(np.ones((2, 2, 1), np.uint8))).shape == (2, 2)
    with pytest.raises(TiffError, match="cannot store"):
        tiff_bytes(np.ones((2, 2), np.complex64))


def test_description_is_ascii_with_replacements(tmp_path):
    path = tmp_path / "d.tif"
    write_tiff(path, np.zeros((2, 2), np.uint8), "caf\u00e9 \u00b5m")
    with tifffile.TiffFile(path) as tif:
        assert tif.pages[0].description == "caf? ?m"


def test_bigtiff_decision():
    assert CLASSIC_TIFF_LIMIT < 2 ** 32                          # room for tags and offsets
    assert not needs_bigtiff(CLASSIC_TIFF_LIMIT)
    assert needs_bigtiff(CLASSIC_TIFF_LIMIT + 1)
    assert needs_bigtiff(5 * 2 ** 30)                           # a 5 GiB frame
    assert not needs_bigtiff(2048 * 2048 * 8)
    assert needs_bigtiff(101, limit=100) and not needs_bigtiff(100, limit=100)


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_bigtiff_written_above_the_limit(tmp_path, compression):
    img = _values(np.dtype(np.uint16), 64 * 48).reshape(48, 64)
    small, big = tmp_path / "small.tif", tmp_path / "big.tif"
    write_tiff(small, img, "s", compression=compression, bigtiff_limit=img.nbytes)
    write_tiff(big, img, "b", compression=compression, bigtiff_limit=img.nbytes - 1)
    assert small.read_bytes()[:4] == b"II*\0" and big.read_bytes()[:4] == b"II+\0"
    for p in (small, big):
        with tifffile.TiffFile(p) as tif:
            assert tif.is_bigtiff == (p == big)
            assert tif.pages[0].compression == (tifffile.COMPRESSION.ADOBE_DEFLATE if compression
                                                else tifffile.COMPRESSION.NONE)
        np.testing.assert_array_equal(read_tiff(p), img)


def test_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "keep.tif"
    write_tiff(path, np.full((3, 3), 5, np.uint8), "old")
    before = path.read_bytes()
    with pytest.raises(TiffError):
        write_tiff(path, np.zeros((3, 3), np.uint8), "new", compression="no-such-codec")
    with pytest.raises(TiffError, match="H×W"):
        write_tiff(path, np.zeros((3, 3, 4), np.uint8))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.tif"]


def test_not_a_tiff_is_a_tiff_error(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\0garbage")
    with pytest.raises(TiffError):
        read_tiff(bad)
    with pytest.raises(TiffError):
        parse_tiff(b"not a tiff")
