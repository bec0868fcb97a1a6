"""CountingImageItem's render of 8/16-bit mono frames: pixel for pixel the colour table
(``argb_table``) looked up at every shown pixel — uint8 and uint16, odd shapes, frames
drawn every 2nd/3rd pixel, non-contiguous frames, several lookup blocks — into two
output buffers used in turn (no new buffer per frame; the QImage shown keeps its
pixels while the next frame is rendered)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import pytest

from pvprobe.qt.image import image_item as ii
from pvprobe.qt.image.image_item import CountingImageItem, argb_table, lookup_argb

pytestmark = pytest.mark.timeout(60)


class SteppedItem(CountingImageItem):
    """The item drawing every ``step``-th pixel (what a zoomed-out view asks for)."""

    def __init__(self, step: int) -> None:
        super().__init__()
        self.step = step

    def _display_step(self) -> int:
        return self.step


def _pixels(q) -> np.ndarray:
    """The QImage's 0xAARRGGBB words (Format_RGB32), one per pixel."""
    assert q.format() == q.Format_RGB32
    ptr = q.constBits()
    ptr.setsize(q.bytesPerLine() * q.height())
    words = np.frombuffer(bytes(ptr), np.uint32).reshape(q.height(), q.bytesPerLine() // 4)
    return words[:, :q.width()].copy()


def _frame(dtype, shape: tuple[int, int], seed: int) -> np.ndarray:
    top = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, top, shape, dtype=dtype, endpoint=True)


def _lut(cmap: Optional[str]) -> Optional[np.ndarray]:
    import pyqtgraph as pg
    return None if cmap is None else pg.colormap.get(cmap).getLookupTable(nPts=256, alpha=False)


def _render(item: CountingImageItem, img: np.ndarray, levels, lut) -> np.ndarray:
    item.setImage(img, autoLevels=False, levels=levels)
    item.setLookupTable(lut)
    item.render()
    return _pixels(item.qimage)


def _expected(img: np.ndarray, levels, lut, step: int) -> np.ndarray:
    table = argb_table(img.dtype, float(levels[0]), float(levels[1]), lut)
    return table[img[::step, ::step].astype(np.int64)]


@pytest.mark.parametrize("dtype,levels", [(np.uint8, (10.0, 200.0)), (np.uint16, (1000.0, 60000.0))])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (37, 53), (130, 517)])
@pytest.mark.parametrize("step", [1, 2, 3])
@pytest.mark.parametrize("cmap", [None, "viridis"])
def test_render_is_the_table_at_every_shown_pixel(qtbot, dtype, levels, shape, step, cmap):
    img = _frame(dtype, shape, seed=sum(shape) + step)
    lut = _lut(cmap)
    got = _render(SteppedItem(step), img, levels, lut)
    assert np.array_equal(got, _expected(img, levels, lut, step))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("view", ["transposed", "strided", "reversed"])
def test_non_contiguous_frames_render_the_same(qtbot, dtype, view):
    """Rotated / cropped / flipped frames reach the item as numpy views."""
    base = _frame(dtype, (61, 89), seed=3)
    img = {"transposed": base.T, "strided": base[1::2, 3:80], "reversed": base[::-1, ::-1]}[view]
    assert not img.flags.c_contiguous
    levels = (3.0, float(np.iinfo(dtype).max) * 0.7)
    for step in (1, 2):
        got = _render(SteppedItem(step), img, levels, None)
        assert np.array_equal(got, _expected(img, levels, None, step))


@pytest.mark.parametrize("block_px", [1, 64, 1000])
def test_lookup_in_blocks_of_any_size(monkeypatch, block_px):
    """Blocks of one row or several rows, with a last partial block: every pixel once."""
    monkeypatch.setattr(ii, "LOOKUP_BLOCK_PX", block_px)
    img = _frame(np.uint16, (45, 33), seed=9)
    table = argb_table(np.uint16, 0.0, 65535.0, _lut("viridis"))
    out = np.zeros(img.shape, np.uint32)
    lookup_argb(table, img[:, :], out)
    assert np.array_equal(out, table[img.astype(np.int64)])


def test_two_buffers_in_turn_and_the_shown_image_keeps_its_pixels(qtbot):
    """Frames of one shape reuse two buffers (no 4 MB allocation per 1024² frame); the
    frame being replaced keeps its pixels while the next one is rendered."""
    item = SteppedItem(1)
    frames = [_frame(np.uint16, (40, 50), seed=k) for k in range(4)]
    levels = (0.0, 65535.0)
    images, want = [], []
    for f in frames:
        prev = item.qimage
        before = None if prev is None else _pixels(prev)
        want.append(_expected(f, levels, None, 1))
        _render(item, f, levels, None)
        images.append(item.qimage)
        if prev is not None:
            assert np.array_equal(_pixels(prev), before)     # untouched by this render
        assert np.array_equal(_pixels(item.qimage), want[-1])
    bufs = [q.data for q in images]
    assert bufs[0] is not bufs[1]
    assert bufs[2] is bufs[0] and bufs[3] is bufs[1]
    item.step = 2                                     # another shape: new buffers, exact
    assert np.array_equal(_render(item, frames[0], levels, None), _expected(frames[0], levels, None, 2))
    assert len(item._out) == 2 and item._out[0].shape == (20, 25)
    item.setImage(frames[0].astype(np.float32), autoLevels=False, levels=levels)
    item.render()                                     # pyqtgraph's own path: ours are freed
    assert item._out == () and item.qimage is not None


def test_lookup_rejects_what_it_cannot_do():
    table16 = argb_table(np.uint16, 0.0, 1.0, None)
    table8 = argb_table(np.uint8, 0.0, 1.0, None)
    img = np.zeros((4, 5), np.uint16)
    cases = [(table8, img, np.empty((4, 5), np.uint32)),          # table too short for uint16
             (table16, img, np.empty((5, 4), np.uint32)),         # output of another shape
             (table16, img.astype(np.float32), np.empty((4, 5), np.uint32)),
             (table16, img, np.empty((4, 5), np.int64))]
    for table, src, out in cases:
        with pytest.raises(ValueError, match="lookup_argb"):
            lookup_argb(table, src, out)
