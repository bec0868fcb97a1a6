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

import numpy as np
import pytest
from conftest import ROOT

from pvprobe.core import ndarray as nd
from pvprobe.core.tiff import TiffError, parse_tiff, read_tiff, tiff_bytes, write_tiff

pytestmark = pytest.mark.timeout(240)
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


def test_values_outside_the_announced_type_are_skipped_not_wrapped():
    """Int16 pixels (-600..599 in a SHORT waveform) under a stale UInt8 type: a type change
    half arrived; the frame is skipped with a reason, not drawn wrapped modulo 256."""
    flat = (np.arange(1200) - 600).astype(np.int16)
    with pytest.raises(nd.FrameError, match="UInt8|uint8"):
        nd.to_image(flat, nd.ArrayMeta(2, (40, 30, 0), nd.MONO, 1))
    with pytest.raises(nd.FrameError, match="int8"):
        nd.to_image(flat, nd.ArrayMeta(2, (40, 30, 0), nd.MONO, 0))
    with pytest.raises(nd.FrameError, match="uint16"):       # negative in a LONG waveform
        nd.to_image(np.array([-1, 5], np.int32), nd.ArrayMeta(2, (2, 1, 0), nd.MONO, 3))
    with pytest.raises(nd.FrameError, match="int32"):        # too big in a DOUBLE waveform
        nd.to_image(np.array([2.0 ** 40, 1.0]), nd.ArrayMeta(2, (2, 1, 0), nd.MONO, 4))
    # in range: converted by value
    f = nd.to_image(np.array([0, 255], np.int16), nd.ArrayMeta(2, (2, 1, 0), nd.MONO, 1))
    assert f.data.dtype == np.uint8 and f.data.tolist() == [[0, 255]]


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


# ============================================================================ real IOCs

# A test camera (pythonSoftIOC, own process) that switches size, colour mode and data
# type when its Scenario record is written. ArrayData is a *signed SHORT* waveform for
# every scenario, so UInt16 pixels travel as their bits. Scenario 4 publishes the new
# pixels 1 s before the new sizes (a camera mid-change): the view must skip, not garble.
CAM_IOC = r'''
import asyncio, sys
import numpy as np
from softioc import asyncio_dispatcher, builder, softioc
sys.path.insert(0, sys.argv[2])
from test_image_refs import SCENARIOS, reference, flat_of

P = sys.argv[1]
d = asyncio_dispatcher.AsyncioDispatcher()
rec = {s: builder.longIn(P + s, initial_value=0) for s in
       ("NDimensions_RBV", "ArraySize0_RBV", "ArraySize1_RBV", "ArraySize2_RBV",
        "ArrayCounter_RBV", "UniqueId_RBV")}
rec["ColorMode_RBV"] = builder.mbbIn(P + "ColorMode_RBV", "Mono", "Bayer", "RGB1", "RGB2", "RGB3",
                                     initial_value=0)
rec["DataType_RBV"] = builder.mbbIn(P + "DataType_RBV", "Int8", "UInt8", "Int16", "UInt16",
                                    initial_value=3)
data = builder.WaveformIn(P + "ArrayData", datatype=np.int16, length=3072)
state = {"cur": 0, "sizes_at": 0.0, "sizes_done": False}

def choose(v):
    state["cur"] = int(v)
    state["sizes_at"] = d.loop.time() + SCENARIOS[int(v)]["late"]
    state["sizes_done"] = False

builder.longOut(P + "Scenario", initial_value=0, on_update=choose)
builder.LoadDatabase()
softioc.iocInit(d, enable_pva=False)

def sizes(sc):
    n, dims = sc["ndims"], sc["dims"]
    rec["NDimensions_RBV"].set(n)
    for i in range(3):
        rec["ArraySize%d_RBV" % i].set(dims[i])
    rec["ColorMode_RBV"].set(sc["mode"])
    rec["DataType_RBV"].set(sc["dtype"])

async def run():
    k = 0
    while True:
        sc = SCENARIOS[state["cur"]]
        if not state["sizes_done"] and d.loop.time() >= state["sizes_at"]:
            sizes(sc)
            state["sizes_done"] = True
        k += 1
        rec["UniqueId_RBV"].set(k)
        data.set(flat_of(state["cur"]))
        rec["ArrayCounter_RBV"].set(k)
        await asyncio.sleep(0.05)

asyncio.run_coroutine_threadsafe(run(), d.loop)
print("CAM-READY", flush=True)
softioc.non_interactive_ioc()
'''

REFS = r'''
import numpy as np
# mode: 0 Mono, 2 RGB1, 3 RGB2, 4 RGB3; dtype: 0 Int8, 1 UInt8, 2 Int16, 3 UInt16
SCENARIOS = [
    dict(mode=0, dtype=3, w=64, h=48, ndims=2, dims=(64, 48, 0), late=0.0),
    dict(mode=2, dtype=1, w=32, h=24, ndims=3, dims=(3, 32, 24), late=0.0),
    dict(mode=3, dtype=1, w=32, h=24, ndims=3, dims=(32, 3, 24), late=0.0),
    dict(mode=4, dtype=1, w=32, h=24, ndims=3, dims=(32, 24, 3), late=0.0),
    dict(mode=0, dtype=2, w=40, h=30, ndims=2, dims=(40, 30, 0), late=1.0),
    dict(mode=0, dtype=0, w=16, h=8, ndims=2, dims=(16, 8, 0), late=0.0),
]
TYPES = {0: np.int8, 1: np.uint8, 2: np.int16, 3: np.uint16}

def reference(i):
    """The image (H, W) or (H, W, 3) scenario i shows, in its NDArray type."""
    sc = SCENARIOS[i]
    w, h = sc["w"], sc["h"]
    y, x = np.mgrid[:h, :w]
    if sc["mode"] == 0:
        idx = y * w + x
        if sc["dtype"] == 3:
            return ((40000 + 7 * idx) % 65536).astype(np.uint16)   # half above 32767
        if sc["dtype"] == 2:
            return (idx - 600).astype(np.int16)
        return (idx % 256 - 128).astype(np.int8)
    c = np.arange(3)[None, None, :]
    return ((y[..., None] * 7 + x[..., None] * 3 + c * 50) % 256).astype(np.uint8)

def flat_of(i):
    """What the IOC puts in its signed SHORT waveform for scenario i."""
    sc, ref = SCENARIOS[i], reference(i)
    if sc["mode"] == 2:
        flat = ref.ravel()
    elif sc["mode"] == 3:
        flat = ref.transpose(0, 2, 1).ravel()
    elif sc["mode"] == 4:
        flat = ref.transpose(2, 0, 1).ravel()
    else:
        flat = ref.ravel()
    if flat.dtype == np.uint16:
        return flat.view(np.int16)          # the bits, as areaDetector does in a SHORT waveform
    return flat.astype(np.int16)
'''


@pytest.fixture(scope="module")
def refs(tmp_path_factory):
    d = tmp_path_factory.mktemp("camrefs")
    (d / "test_image_refs.py").write_text(REFS)
    sys.path.insert(0, str(d))
    import test_image_refs
    yield d, test_image_refs
    sys.path.remove(str(d))


@pytest.fixture
def cam_ioc(refs, demo_ioc):
    """The test camera on the second server port libca searches (see conftest)."""
    from conftest import dies_with_parent
    d, _ = refs
    script = d / "cam_ioc.py"
    script.write_text(CAM_IOC)
    ports = [a.rsplit(":", 1)[1] for a in os.environ["EPICS_CA_ADDR_LIST"].split()]
    port = [p for p in ports if p != os.environ["EPICS_CA_SERVER_PORT"]][0]
    env = dict(os.environ, EPICS_CA_SERVER_PORT=port)
    proc = subprocess.Popen(dies_with_parent([sys.executable, str(script), "PVPIMG:cam:", str(d)]), env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    # lines are read by a thread: select() on the pipe plus a buffered readline() missed
    # CAM-READY when it arrived in one read with the lines before it (it sat in the
    # file's buffer while select() waited for more bytes that never came)
    import queue
    import threading
    got: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [got.put(ln) for ln in proc.stdout] + [got.put("")],
                     daemon=True).start()
    lines = []
    deadline = time.monotonic() + 60
    while True:
        try:
            line = got.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            proc.kill()
            pytest.fail("test camera IOC not ready:\n" + "".join(lines))
        if not line:
            break
        lines.append(line)
        if line.startswith("CAM-READY"):
            break
    if not lines or not lines[-1].startswith("CAM-READY"):
        proc.kill()
        pytest.fail("test camera IOC failed:\n" + "".join(lines))
    yield "PVPIMG:cam:"
    proc.terminate()
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


@pytest.fixture
def view(qtbot, engine):
    from pvprobe.qt.bridge import EngineBridge
    from pvprobe.qt.image.image_view import ImageView
    bridge = EngineBridge(engine)
    v = ImageView(bridge)
    qtbot.addWidget(v)
    v.resize(1100, 820)
    v.show()
    bridge.start()
    yield v
    v.shutdown()
    bridge.stop()


def _shift_of(frame: np.ndarray, pattern: np.ndarray, step: tuple, period: int) -> bool:
    """True if ``frame`` is ``pattern`` rolled by k*step for some k (known pixels)."""
    for k in range(period):
        dy, dx = (k * step[0]) % pattern.shape[0], (k * step[1]) % pattern.shape[1]
        if frame[0, 0].tolist() != pattern[-dy, -dx].tolist():
            continue
        if np.array_equal(frame, np.roll(pattern, (dy, dx), axis=(0, 1))):
            return True
    return False


def test_demo_mono_camera_shown(qtbot, view, prefix):
    from pvprobe.demo.ioc import IMAGE1_SIZE, mono_pattern
    view.open_prefix(prefix + "image1:")
    qtbot.waitUntil(lambda: view.frame is not None, timeout=20000)
    f = view.frame
    assert f.data.shape == (1024, 1024) and f.data.dtype == np.uint16
    assert f.color_mode == "Mono" and f.data_type == "UInt16"
    # right orientation and values: the frame is the IOC's pattern, rolled (3k, 7k)
    assert _shift_of(f.data, mono_pattern(*IMAGE1_SIZE), (3, 7), 1024)
    lo, hi = view.levels()
    p_lo, p_hi = np.percentile(f.data, [0.5, 99.5])
    assert 0 <= lo < hi <= 65535
    assert abs(lo - p_lo) < 0.05 * 65535 and abs(hi - p_hi) < 0.05 * 65535
    qtbot.waitUntil(lambda: view.stats()["frames_displayed"] >= 3, timeout=20000)
    st = view.stats()
    assert st["frames_received"] >= st["frames_displayed"] >= 3
    assert st["latency_ms_mean"] is not None and st["latency_ms_mean"] >= 0
    view.refresh_status()
    text = view.status_label.text()
    assert "1024×1024 Mono UInt16" in text and "shown" in text and "counter" in text

    # ROI statistics equal numpy's on the same frame; profiles; pixel readout
    view.set_roi(100, 200, 300, 150)
    s, img = view.last_roi_stats, view.shown
    sub = img[200:350, 100:400].astype(np.float64)
    assert s["mean"] == pytest.approx(sub.mean()) and s["sum"] == sub.sum()
    assert s["min"] == sub.min() and s["max"] == sub.max()
    assert s["sigma"] == pytest.approx(sub.std())
    view.set_profiles_visible(True)
    view.set_profile_position(10, 20)
    xs, ys = view.hcurve.getData()
    np.testing.assert_array_equal(ys, view.shown[20].astype(float))
    assert view.readout_at(5, 7) == f"x 5  y 7  =  {view.shown[7, 5]}"

    # rotate 90° clockwise: readout still in camera coordinates
    view.rotate_combo.setCurrentIndex(1)
    assert view.shown.shape == (1024, 1024)
    np.testing.assert_array_equal(view.shown, np.rot90(view.frame.data, -1))
    assert view.readout_at(1023, 0).startswith("x 0  y 0  =")

    view.set_colormap("inferno")
    view.rotate_combo.setCurrentIndex(0)
    view.roi_check.setChecked(True)
    painted = view.image_item.painted      # frames painted with the new colour map and ROI
    qtbot.waitUntil(lambda: view.image_item.painted >= painted + 2, timeout=10000)
    view.grab().save(SHOT)
    shot = view.grab().toImage()
    from PyQt5.QtGui import QImage
    assert not QImage(SHOT).isNull()
    colours = {shot.pixel(x, y) for x in range(0, shot.width(), 37) for y in range(0, shot.height(), 29)}
    assert len(colours) > 50           # not blank


def test_view_asks_for_each_frame_as_it_paints_it(qtbot, view, prefix):
    """Pull pacing: the engine fetches a frame only when the view asks (as it paints the
    previous one), so every frame fetched is painted; a hidden view (no paints) asks as
    it takes each frame, and painting resumes when it is shown again."""
    name = prefix + "image1:ArrayData"
    eng = view.bridge.engine
    view.open_prefix(prefix + "image1:")
    qtbot.waitUntil(lambda: view.image_item.painted >= 5, timeout=20000)
    info = eng.debug_info(name)
    assert info.pull and info.paced
    f0, p0 = eng.stats.frames_fetched, view.image_item.painted
    # the window: 10 more frames painted (the demo camera runs at 15 Hz)
    qtbot.waitUntil(lambda: view.image_item.painted >= p0 + 10, timeout=20000)
    fetched, painted = eng.stats.frames_fetched - f0, view.image_item.painted - p0
    assert abs(fetched - painted) <= 2, (fetched, painted)
    view.hide()
    f1 = eng.stats.frames_fetched
    qtbot.waitUntil(lambda: eng.stats.frames_fetched >= f1 + 5, timeout=10000)
    view.show()
    p1 = view.image_item.painted
    qtbot.waitUntil(lambda: view.image_item.painted >= p1 + 5, timeout=10000)


def test_demo_rgb1_camera_shown_as_rgb(qtbot, view, prefix):
    from pvprobe.demo.ioc import IMAGE2_SIZE, rgb_pattern
    view.open_prefix(prefix + "image2:")
    qtbot.waitUntil(lambda: view.frame is not None, timeout=20000)
    f = view.frame
    assert f.data.shape == (480, 640, 3) and f.data.dtype == np.uint8 and f.is_rgb
    assert f.color_mode == "RGB1"
    assert _shift_of(f.data, rgb_pattern(*IMAGE2_SIZE), (2, 5), 3840)
    assert view.image_item.image.shape == (480, 640, 3)
    assert view.levels() == (0.0, 255.0)          # 8-bit RGB shown as sent
    view._hist_dirty = True
    view._refresh_hist()                            # histogram of an RGB frame: no error
    view.set_roi(10, 20, 30, 40)
    sub = f.data[20:60, 10:40].astype(np.float64).mean(axis=2)
    assert view.last_roi_stats["mean"] == pytest.approx(sub.mean())
    assert view.readout_at(3, 4).endswith(f"R {f.data[4, 3, 0]} G {f.data[4, 3, 1]} B {f.data[4, 3, 2]}")
    view.grab().save("/tmp/image_view_rgb.png")


def test_save_tiff_and_png(qtbot, view, prefix, tmp_path):
    from PyQt5.QtGui import QImage
    view.open_prefix(prefix + "image1:")
    qtbot.waitUntil(lambda: view.frame is not None, timeout=20000)
    frame = view.frame.data.copy()   # no event loop runs until the files are saved
    view.save_tiff(str(tmp_path / "f.tif"))
    back = read_tiff(tmp_path / "f.tif")
    assert back.dtype == np.uint16 and back.tobytes() == frame.tobytes()  # full bit depth
    view.save_png(str(tmp_path / "f.png"))
    png = QImage(str(tmp_path / "f.png"))
    assert not png.isNull() and (png.width(), png.height()) == (1024, 1024)


def test_subscription_stops_when_view_closes(qtbot, view, prefix):
    bridge = view.bridge
    seen = []
    bridge.add_consumer(lambda b: seen.extend(s.name for s in b.states))
    bridge.add([prefix + "heartbeat"])              # keeps batches (and their PV count) coming
    view.open_prefix(prefix + "image1:")
    qtbot.waitUntil(lambda: view.frame is not None, timeout=20000)
    assert prefix + "image1:ArrayData" in view.subscribed_names()
    qtbot.waitUntil(lambda: bridge.engine_pvs == 10, timeout=10000)   # 9 image PVs + heartbeat
    view.close_source()
    assert view.subscribed_names() == []
    qtbot.waitUntil(lambda: bridge.engine_pvs == 1, timeout=10000)
    seen.clear()
    # the window: two heartbeats (1 Hz) in later batches, in which frames would have come
    qtbot.waitUntil(lambda: seen.count(prefix + "heartbeat") >= 2, timeout=10000)
    assert prefix + "image1:ArrayData" not in seen
    assert not any(n.startswith(prefix + "image1:") for n in seen)
    bridge.remove([prefix + "heartbeat"])


def test_open_from_ui_and_plain_array(qtbot, view, prefix):
    view.source_edit.setText(prefix + "image2:ArrayData")
    view.width_spin.setValue(640 * 3)
    view.height_spin.setValue(480)
    view._open_from_ui()
    qtbot.waitUntil(lambda: view.frame is not None, timeout=20000)
    assert view.frame.data.shape == (480, 1920) and view.feed.meta_pvs == []
    view.width_spin.setValue(0)
    view.source_edit.setText(prefix + "image1:")
    view._open_from_ui()
    qtbot.waitUntil(lambda: view.frame is not None and view.frame.data.shape == (1024, 1024),
                    timeout=20000)


def test_size_mode_type_changes_at_run_time(qtbot, view, cam_ioc, refs):
    from pvprobe.ca.engine import Engine
    _, R = refs
    shown = []
    view.frameShown.connect(lambda f: shown.append(f.data.copy()))
    view.open_prefix(cam_ioc)
    writer = Engine()
    try:
        for i, sc in enumerate(R.SCENARIOS):
            res = writer.put_wait(cam_ioc + "Scenario", i, timeout=5, connect_timeout=10)
            assert res.ok, res.error
            ref = R.reference(i)
            mode = ("Mono", "Bayer", "RGB1", "RGB2", "RGB3")[sc["mode"]]
            qtbot.waitUntil(lambda: view.frame is not None and view.frame.color_mode == mode
                            and view.frame.data.shape == ref.shape
                            and view.frame.data.dtype == ref.dtype, timeout=20000)
            assert np.array_equal(view.frame.data, ref)
            if i == 4:   # pixels came 1 s before their sizes: skipped meanwhile, not shown
                assert view.feed.counters.skipped >= 1
    finally:
        writer.close()
    # no garbage, ever: every frame shown is exactly one of the scenarios' images
    refs_by_key = {}
    for i in range(len(R.SCENARIOS)):
        r = R.reference(i)
        refs_by_key.setdefault((r.shape, r.dtype.str), []).append(r)
    for img in shown:
        cands = refs_by_key.get((img.shape, img.dtype.str), [])
        assert any(np.array_equal(img, r) for r in cands), (img.shape, img.dtype)
    view._hist_dirty = True                         # the histogram of the last frame shown
    view._refresh_hist()
    view.grab().save("/tmp/image_view_cam.png")


def test_too_small_max_array_bytes_says_which_value(demo_ioc, prefix, tmp_path):
    """A client whose libca accepts at most 100000 bytes: the view says which value is needed."""
    code = textwrap.dedent(f"""
        import json, sys
        from PyQt5.QtWidgets import QApplication
        app = QApplication([])
        from pvprobe.ca.engine import Engine
        from pvprobe.qt.bridge import EngineBridge
        from pvprobe.qt.image.image_view import ImageView
        bridge = EngineBridge(Engine())
        v = ImageView(bridge)
        v.show()
        bridge.start()
        v.open_prefix({prefix + 'image1:'!r})
        import time
        t0 = time.monotonic()
        while time.monotonic() - t0 < 20 and "EPICS_CA_MAX_ARRAY_BYTES" not in v.message_label.text():
            app.processEvents()
            time.sleep(0.02)  # ok-sleep: event pump of a subprocess client, bounded by 20 s
        print(json.dumps({{"message": v.message_label.text(), "frame": v.frame is not None}}))
        bridge.stop()
    """)
    env = dict(os.environ, EPICS_CA_MAX_ARRAY_BYTES="100000", EPICS_CA_AUTO_ARRAY_BYTES="NO")
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                       timeout=90, cwd=str(ROOT))
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
    assert lines, p.stderr[-3000:]
    res = json.loads(lines[-1])
    assert "EPICS_CA_MAX_ARRAY_BYTES ≥ 4194320" in res["message"], res
    assert "image1:ArrayData" in res["message"] and not res["frame"]


@pytest.mark.parametrize("dtype,levels", [(np.uint16, (1000.0, 60000.0)), (np.uint8, (10.0, 200.0))])
@pytest.mark.parametrize("cmap", [None, "viridis"])
def test_fast_render_matches_pyqtgraph(qtbot, dtype, levels, cmap):
    """The view's one-lookup render draws what pyqtgraph's own path draws (±1 per channel)."""
    import pyqtgraph as pg

    from pvprobe.qt.image.image_item import CountingImageItem
    rng = np.random.default_rng(5)
    img = rng.integers(0, np.iinfo(dtype).max, (37, 53), dtype=dtype, endpoint=True)
    lut = None if cmap is None else pg.colormap.get(cmap).getLookupTable(nPts=256, alpha=False)
    out = []
    for item in (CountingImageItem(), pg.ImageItem(axisOrder="row-major")):
        item.setImage(img, autoLevels=False, levels=levels)
        item.setLookupTable(lut)
        item.render()
        q = item.qimage.convertToFormat(item.qimage.Format_RGB32)
        ptr = q.constBits()
        ptr.setsize(q.byteCount())
        a = np.frombuffer(bytes(ptr), np.uint8).reshape(q.height(), q.bytesPerLine())[:, :4 * q.width()]
        out.append(a.reshape(q.height(), q.width(), 4)[..., :3].astype(int))
    assert np.abs(out[0] - out[1]).max() <= 1


def test_colormaps_offered(qtbot):
    from pvprobe.qt.image.image_view import COLORMAPS, ImageView

    class NoBridge:
        def add_consumer(self, c): pass
        def remove_consumer(self, c): pass
        def add(self, names, **o): pass
        def remove(self, names): pass
    v = ImageView(NoBridge())
    qtbot.addWidget(v)
    assert {"grey", "viridis", "inferno", "magma", "plasma"} <= set(COLORMAPS)
    for name in COLORMAPS:
        v.set_colormap(name)
        assert v.cmap_combo.currentText() == name
    v.shutdown()


def test_levels_log_and_flip(qtbot, view, prefix):
    view.open_prefix(prefix + "image1:")
    qtbot.waitUntil(lambda: view.frame is not None, timeout=20000)
    view.set_levels(1000, 2000)
    assert not view.auto_check.isChecked()
    n = view.image_item.painted
    qtbot.waitUntil(lambda: view.image_item.painted > n + 1, timeout=20000)
    assert view.levels() == (1000.0, 2000.0)            # manual levels stay on new frames
    view.log_check.setChecked(True)
    img = view.image_item.image
    assert img.dtype == np.float32 and float(img.min()) >= 0.0 and float(img.max()) <= 5.0
    lo, hi = view.levels()
    assert 0.0 <= lo < hi <= 5.0                         # levels recomputed on the log scale
    view.log_check.setChecked(False)
    view.auto_check.setChecked(True)
    view.per_frame_check.setChecked(True)
    view.flip_h_check.setChecked(True)
    view.flip_v_check.setChecked(True)
    np.testing.assert_array_equal(view.shown, view.frame.data[::-1, ::-1])
    assert view.readout_at(0, 0).startswith("x 1023  y 1023  =")
    n = view.image_item.painted
    qtbot.waitUntil(lambda: view.image_item.painted > n + 1, timeout=20000)
    lo, hi = view.levels()
    p_lo, p_hi = np.percentile(view.shown, [0.5, 99.5])
    assert abs(lo - p_lo) < 0.05 * 65535 and abs(hi - p_hi) < 0.05 * 65535


def test_feed_counts_new_values_only_and_says_disconnected():
    from pvprobe.core.image_feed import ImageFeed
    from pvprobe.core.pvstate import PVState
    feed = ImageFeed.for_prefix("C:")
    meta = [PVState(name="C:" + s, connected=True, value=v) for s, v in
            (("NDimensions_RBV", 2), ("ArraySize0_RBV", 3), ("ArraySize1_RBV", 2),
             ("ArraySize2_RBV", 0), ("ColorMode_RBV", 0), ("DataType_RBV", 1),
             ("ArrayCounter_RBV", 10))]
    data = PVState(name="C:ArrayData", connected=True, value=np.arange(6, dtype=np.uint8),
                   count=6, max_count=6, native_type="CHAR", update_count=1)
    frame, _ = feed.apply(meta + [data])
    assert frame is not None and frame.data.shape == (2, 3)
    assert feed.apply([data])[0] is None                  # same value again: not a new frame
    feed.apply([PVState(name="C:ArrayCounter_RBV", connected=True, value=14)])
    assert feed.counters.received == 1 and feed.counters.published == 4
    data2 = data.copy()
    data2.connected = False
    feed.apply([data2])
    assert "disconnected" in feed.message()
    data2.error = "get failed: Virtual circuit disconnect"   # a fetch cut by the same loss
    feed.apply([data2])
    assert "disconnected" in feed.message()
    # a frame that does not fit is held, then shown when the sizes catch up
    big = PVState(name="C:ArrayData", connected=True, value=np.arange(12, dtype=np.uint8),
                  count=12, max_count=12, native_type="CHAR", update_count=2)
    assert feed.apply([big])[0] is None and "12 elements" in feed.message()
    frame, _ = feed.apply([PVState(name="C:ArraySize0_RBV", connected=True, value=6)])
    assert frame is not None and frame.data.shape == (2, 6) and feed.message() == ""


def test_a_frame_before_the_plugins_type_waits_for_it():
    """The first frame can come before DataType_RBV / ColorMode_RBV (they connect on
    their own): it is held, not shown in the waveform's type, and shaped once they come;
    a type PV that will not come (not found) lets frames go in the waveform's type."""
    from pvprobe.core.image_feed import ImageFeed
    from pvprobe.core.pvstate import PVState

    feed = ImageFeed.for_prefix("C:")
    sizes = [PVState(name="C:" + s, connected=True, value=v) for s, v in
             (("NDimensions_RBV", 2), ("ArraySize0_RBV", 3), ("ArraySize1_RBV", 2), ("ArraySize2_RBV", 0))]
    data = PVState(name="C:ArrayData", connected=True, value=np.arange(6, dtype=np.int32) * 1000,
                   count=6, max_count=6, native_type="LONG", update_count=1)
    waiting = [PVState(name="C:DataType_RBV"), PVState(name="C:ColorMode_RBV")]   # connecting
    assert feed.apply(sizes + waiting + [data]) == (None, None)
    assert feed.message() == "frame skipped: waiting for C:ColorMode_RBV, C:DataType_RBV"
    assert feed.counters.skipped == 0
    assert feed.apply([PVState(name="C:ColorMode_RBV", connected=True, value=0)]) == (None, None)
    frame, _ = feed.apply([PVState(name="C:DataType_RBV", connected=True, value=3)])
    assert frame is not None and frame.data.dtype == np.uint16 and frame.data_type == "UInt16"
    assert frame.data.tolist() == [[0, 1000, 2000], [3000, 4000, 5000]] and feed.message() == ""

    other = ImageFeed.for_prefix("D:")
    gone = [PVState(name="D:" + s.name[2:], connected=s.connected, value=s.value) for s in sizes]
    gone += [PVState(name="D:ColorMode_RBV", connected=True, value=0),
             PVState(name="D:DataType_RBV", error="not found: no server answered (still searching)")]
    d2 = PVState(name="D:ArrayData", connected=True, value=np.arange(6, dtype=np.int32),
                 count=6, max_count=6, native_type="LONG", update_count=1)
    frame, _ = other.apply(gone + [d2])
    assert frame is not None and frame.data.dtype == np.int32
