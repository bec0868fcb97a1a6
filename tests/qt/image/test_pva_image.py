"""The image view on pvAccess NTNDArray frames (tests/pva_gui_server.py, PVA kind "spare2"):
mono uint16, RGB1 uint8 and lz4 frames shown pixel for pixel; codec, decode time and
uniqueId gaps in the status bar and --stats; ROI, profiles, modes and TIFF export on PVA
frames; a frame that cannot be decoded is skipped with the reason; ``pvprobe --image
pva://NAME`` with --screenshot, --quit-after and --stats. ImageFeed's PVA case unit-tested."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import PVA_PORTS, SERVERS_DIR, ServerProcess

from pvprobe.core.image_feed import ImageFeed
from pvprobe.core.ndarray import Frame
from pvprobe.core.pvstate import PVState
from pvprobe.core.tiff import read_tiff

pytestmark = pytest.mark.timeout(180)

P = "PVPGIMG:"
SERVER = SERVERS_DIR / "pva_gui_server.py"
from servers.pva_gui_server import mono16, rgb8  # noqa: E402

# ============================================================================ ImageFeed units

def _frame_state(uid: int, frame=None, error: str = "", update: int = 1, **extra) -> PVState:
    st = PVState(name="pva://X:img", connected=True, ever_connected=True, protocol="pva",
                 native_type="NDARRAY", type_id="epics:nt/NTNDArray:1.0", update_count=update)
    st.value = None if frame is None else frame.data
    st.extra = {"codec": "lz4", "unique_id": uid, "received": update, "dropped": 0, "frame_error": error,
                "decode_s": 0.002, "mean_decode_s": 0.003, **extra}
    if frame is not None:
        st.extra["frame"] = frame
    return st


def test_feed_for_pva_takes_the_engines_frame():
    feed = ImageFeed.for_pva("pva://X:img")
    assert feed.names == ["pva://X:img"] and feed.meta_pvs == [] and feed.pva
    f = Frame(mono16(), "Mono", "UInt16")
    frame, st = feed.apply([_frame_state(1, f)])
    assert frame is f and st is not None
    assert (feed.counters.received, feed.counters.decoded, feed.codec) == (1, 1, "lz4")
    assert feed.pva_status()[:2] == ["codec lz4", "decode 2.0 ms (mean 3.0)"]
    # the same update again (a connection change): nothing new
    assert feed.apply([_frame_state(1, f)]) == (None, None)
    # a frame the engine could not decode: skipped with its reason, the old frame kept aside
    frame, _ = feed.apply([_frame_state(2, f, error="lz4 data decodes to 3072 bytes, "
                                                    "uncompressedSize says 3074", update=2)])
    assert frame is None and feed.counters.skipped == 1
    assert feed.message() == "frame skipped: lz4 data decodes to 3072 bytes, uncompressedSize says 3074"
    # uniqueId gaps since the view's first frame (the source counted 2 before it opened)
    frame, _ = feed.apply([_frame_state(6, f, update=5, received=5, dropped=3)])
    assert frame is f and feed.gaps == 3 and feed.counters.unique_id == 6
    assert feed.counters.published >= feed.counters.received
    s = feed.pva_stats()
    assert s["codec"] == "lz4" and s["decode_ms_mean"] == 3.0 and s["frames_dropped_unique_id_gaps"] == 3


def test_feed_for_pva_says_what_is_not_a_frame():
    feed = ImageFeed.for_pva("pva://X:scalar")
    st = PVState(name="pva://X:scalar", connected=True, ever_connected=True, value=1.5, update_count=1,
                 protocol="pva", type_id="epics:nt/NTScalar:1.0")
    assert feed.apply([st]) == (None, None)
    assert "not an NTNDArray (epics:nt/NTScalar:1.0)" in feed.message()
    with pytest.raises(ValueError):
        ImageFeed.for_pva("X:img")


# ============================================================================ live view

@pytest.fixture(scope="module")
def pva_image_server(ca_repeater: object) -> Iterator[ServerProcess]:
    """tests/pva_gui_server.py on the "spare2" ports; stopped by PID."""
    tcp, udp = PVA_PORTS["spare2"]
    srv = ServerProcess([sys.executable, str(SERVER), P, str(tcp), str(udp)], tcp, P)
    srv.wait_listening(60)
    yield srv
    srv.stop()


@pytest.fixture
def view(qtbot, pva_image_server):
    from pvprobe.ca.engine import Engine
    from pvprobe.qt.bridge import EngineBridge
    from pvprobe.qt.image.image_view import ImageView

    eng = Engine(tick_hz=20)
    bridge = EngineBridge(eng)
    v = ImageView(bridge)
    qtbot.addWidget(v)
    v.resize(1000, 760)
    v.show()
    bridge.start()
    yield v
    v.shutdown()
    bridge.stop()
    eng.close()


def shown(qtbot, view, timeout: int = 20000) -> Frame:
    qtbot.waitUntil(lambda: view.frame is not None and view.image_item.painted > 0, timeout=timeout)
    return view.frame


def test_mono_uint16_frame(qtbot, view):
    view.open_prefix(f"pva://{P}img:mono16")          # what --image and the menu call
    assert view.subscribed_names() == [f"pva://{P}img:mono16"]
    f = shown(qtbot, view)
    assert f.data.dtype == np.uint16 and f.color_mode == "Mono"
    np.testing.assert_array_equal(f.data, mono16())
    view.refresh_status()
    text = view.status_label.text()
    assert "codec none" in text and "decode " in text and "uniqueId gaps 0" in text
    assert "48×32 Mono UInt16" in text
    s = view.stats()
    assert s["codec"] == "none" and s["protocol"] == "pva" and s["decode_ms_mean"] is not None
    assert s["frames_displayed"] >= 1 and s["array_counter"] == 1


def test_rgb1_uint8_frame(qtbot, view):
    view.source_edit.setText(f"pva://{P}img:rgb8")     # typed in the source box
    view._open_from_ui()
    f = shown(qtbot, view)
    assert f.is_rgb and f.color_mode == "RGB1" and f.data.shape == (32, 48, 3)
    np.testing.assert_array_equal(f.data, rgb8())
    assert view.levels() == (0.0, 255.0)
    view.set_roi(4, 5, 10, 6)
    sub = rgb8()[5:11, 4:14].astype(np.float64).mean(axis=2)
    assert view.last_roi_stats["mean"] == pytest.approx(sub.mean())
    px = rgb8()[7, 3]
    assert view.readout_at(3, 7).endswith(f"R {px[0]} G {px[1]} B {px[2]}")


def test_lz4_frame_roi_profiles_modes_and_tiff(qtbot, view, tmp_path):
    view.open_pva(f"pva://{P}img:lz4")
    f = shown(qtbot, view)
    np.testing.assert_array_equal(f.data, mono16())
    assert view.feed.codec == "lz4"
    view.refresh_status()
    assert "codec lz4" in view.status_label.text()
    assert view.stats()["codec"] == "lz4"
    view.set_roi(2, 3, 20, 10)
    sub = mono16()[3:13, 2:22].astype(np.float64)
    assert view.last_roi_stats["sum"] == sub.sum() and view.last_roi_stats["max"] == sub.max()
    view.set_profiles_visible(True)
    view.set_profile_position(10, 20)
    _, ys = view.hcurve.getData()
    np.testing.assert_array_equal(ys, mono16()[20].astype(float))
    view.rotate_combo.setCurrentIndex(1)
    np.testing.assert_array_equal(view.shown, np.rot90(mono16(), -1))
    view.rotate_combo.setCurrentIndex(0)
    view.log_check.setChecked(True)
    view.log_check.setChecked(False)
    view.save_tiff(str(tmp_path / "f.tif"))
    back = read_tiff(tmp_path / "f.tif")
    assert back.dtype == np.uint16 and back.tobytes() == mono16().tobytes()


def test_lying_frame_is_skipped_with_the_reason(qtbot, view):
    view.open_pva(f"pva://{P}img:liar")
    qtbot.waitUntil(lambda: "uncompressedSize" in view.message_label.text(), timeout=20000)
    assert view.message_label.text().startswith("frame skipped: ")
    assert view.frame is None and view.stats()["frames_skipped"] >= 1


def test_stream_counts_unique_id_gaps_and_paints(qtbot, view, tmp_path):
    view.open_pva(f"pva://{P}img:stream")
    qtbot.waitUntil(lambda: view.image_item.painted >= 8 and view.feed.gaps >= 2, timeout=30000)
    s = view.stats()
    assert s["frames_dropped_unique_id_gaps"] == view.feed.gaps >= 2
    assert s["frames_published"] >= s["frames_received"] >= s["frames_displayed"] >= 8
    view.refresh_status()
    assert f"uniqueId gaps {view.feed.gaps}" in view.status_label.text()
    assert "codec lz4" in view.status_label.text()
    np.testing.assert_array_equal(view.frame.data[:, :8], mono16()[:, :8])   # left of the square
    view.set_colormap("viridis")
    view.roi_check.setChecked(True)
    painted = view.image_item.painted
    qtbot.waitUntil(lambda: view.image_item.painted >= painted + 2, timeout=10000)
    view.refresh_status()
    assert view.grab().save(str(tmp_path / "image-pva.png"))


def test_command_line_image_pva_with_screenshot_and_stats(tmp_path, pva_image_server):
    shot, stats = tmp_path / "img.png", tmp_path / "stats.json"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-m", "pvprobe", "--settings", str(tmp_path / "s.ini"),
                          "--image", f"pva://{P}img:stream", "--quit-after", "4",
                          "--screenshot", str(shot), "--stats", str(stats)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    image = json.loads(stats.read_text())["views"]["image"][0]
    assert image["source"] == f"pva://{P}img:stream"
    assert image["codec"] == "lz4" and image["decode_ms_mean"] is not None
    assert image["frames_displayed"] >= 5 and "48×32 Mono UInt16" in image["image"]
    assert image["frames_dropped_unique_id_gaps"] >= 1
    assert shot.stat().st_size > 1000
