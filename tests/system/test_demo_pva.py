"""The demo IOC over pvAccess: its records through QSRV2 agree with CA, and its PVA camera
(NTNDArray, plain and lz4) sends the same moving picture on both PVs.

The session's demo IOC (conftest's ``demo_ioc``) serves PVA on server kind "demo";
the client reads through pvprobe's own engine (pva:// names).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import PVA_PORTS

from pvprobe.demo.pva_camera import LZ4_SUFFIX, PLAIN_SUFFIX, PVA_IMAGE_SIZE, frame_pixels

#: Records whose value and metadata do not move on their own.
STILL = ("setpoint", "enum", "switch", "long", "message", "readonly", "ao:007", "mbbi:003",
         "bi:001", "longin:004", "stringin:002", "ai:250")


@pytest.fixture
def reader(demo_ioc: object):
    """A fresh pvprobe Engine used without a worker (Engine.read)."""
    from pvprobe.ca.engine import Engine

    eng = Engine(tick_hz=20)
    yield eng
    eng.close()


def _agree(ca, pva) -> list[str]:
    """What differs between a CA and a PVA reading of one record (empty: they agree)."""
    out = []
    for field in ("value", "units", "precision", "enum_strs", "display_limits", "control_limits",
                  "alarm_limits", "warning_limits", "severity", "status_name", "native_type"):
        a, b = getattr(ca, field), getattr(pva, field)
        if field == "precision" and ca.native_type not in ("DOUBLE", "FLOAT"):
            continue    # CA has no precision for other types; QSRV2 says 0
        if field in ("display_limits", "control_limits", "alarm_limits", "warning_limits"):
            a = None if a is None else tuple(float(x) for x in a)
            b = None if b is None else tuple(float(x) for x in b)
            if a is not None and b is not None and np.allclose(a, b, rtol=0, atol=0, equal_nan=True):
                continue
        if a != b:
            out.append(f"{field}: CA {a!r} PVA {b!r}")
    return out


def test_the_client_environment_names_the_pva_search_port(demo_ioc):
    tcp, udp = PVA_PORTS["demo"]
    assert demo_ioc.pva_ports == (tcp, udp)
    env = demo_ioc.client_env
    assert env["EPICS_PVA_ADDR_LIST"] == f"127.0.0.1:{udp}"
    assert env["EPICS_PVA_AUTO_ADDR_LIST"] == "NO"
    assert f"export EPICS_PVA_ADDR_LIST=127.0.0.1:{udp}" in demo_ioc.stdout_lines


def test_records_over_pva_agree_with_ca(reader, prefix):
    names = [prefix + n for n in STILL]
    got = reader.read(names + ["pva://" + n for n in names], timeout=5)
    for n in names:
        ca, pva = got[n], got["pva://" + n]
        assert ca.connected and pva.connected, (n, ca.error, pva.error)
        assert pva.protocol == "pva" and pva.type_id.startswith("epics:nt/"), pva.type_id
        assert not _agree(ca, pva), (n, _agree(ca, pva))
    assert got["pva://" + prefix + "enum"].enum_strs == ("Off", "Standby", "On", "Fault")
    assert got["pva://" + prefix + "setpoint"].units == "V"


def test_moving_record_over_pva_moves(reader, prefix):
    name = f"pva://{prefix}sine"
    first = reader.read([name], timeout=5)[name]
    assert first.connected and first.units == "mm" and first.precision == 3
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        again = reader.read([name], timeout=5)[name]
        if again.timestamp > first.timestamp and again.value != first.value:
            break
    else:
        pytest.fail("pva:// sine did not move within 10 s")


def _frame(reader, name: str):
    st = reader.read([name], timeout=5)[name]
    assert st.connected, st.error
    assert st.extra is not None and not st.extra.get("frame_error"), st.extra
    return st


def test_pva_camera_plain_and_lz4_decode_to_the_same_moving_image(reader, prefix):
    plain, lz4 = f"pva://{prefix}{PLAIN_SUFFIX}", f"pva://{prefix}{LZ4_SUFFIX}"
    width, height = PVA_IMAGE_SIZE
    seen: dict[str, set[int]] = {plain: set(), lz4: set()}
    pair = None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (pair is None or min(len(s) for s in seen.values()) < 2):
        a, b = _frame(reader, plain), _frame(reader, lz4)
        assert a.extra["codec"] in ("", "none") and b.extra["codec"] == "lz4"
        for st in (a, b):
            uid = st.extra["unique_id"]
            assert st.value.shape == (height, width) and st.value.dtype == np.uint16
            # pixel for pixel the picture of frame uid - 1: image1's pattern, moved
            assert np.array_equal(st.value, frame_pixels(uid - 1)), (st.name, uid)
            seen[st.name].add(uid)
        if a.extra["unique_id"] == b.extra["unique_id"]:
            pair = (a, b)
            assert np.array_equal(a.value, b.value)
    assert pair is not None, f"never read both PVs at one frame: {seen}"
    assert all(len(s) >= 2 for s in seen.values()), f"the camera did not move: {seen}"


def test_demo_ioc_without_pva_serves_ca_only(ca_repeater):
    from pvprobe.demo.launcher import DemoIOC

    ioc = DemoIOC(prefix="PVPNOPVA:", pva=False)
    try:
        ioc.start(timeout=60)
        assert ioc.pva_ports is None
        assert "EPICS_PVA_ADDR_LIST" not in ioc.client_env
        assert "INFO: PVXS QSRV2" not in ioc.stderr_tail()
    finally:
        ioc.stop()


def test_demo_window_names_pva_rows_beside_the_ca_ones():
    from pvprobe.cli.gui import _gui_names, build_parser
    from pvprobe.demo.featured import PVA_FEATURED

    names, ok = _gui_names(build_parser().parse_args(["--demo"]), "PVPDEMO:")
    assert ok
    for rec in PVA_FEATURED:
        assert f"PVPDEMO:{rec}" in names and f"pva://PVPDEMO:{rec}" in names


@pytest.mark.live     # starts its own demo IOC (in the app it runs)
def test_pvprobe_demo_shows_both_protocols_and_the_pva_camera(tmp_path):
    """``pvprobe --demo`` on its own IOC: every row (CA and pva://) connects, and the image
    view of the PVA camera's lz4 stream decodes and paints frames."""
    import json
    import os
    import subprocess
    import sys

    stats = tmp_path / "stats.json"
    out = subprocess.run([sys.executable, "-m", "pvprobe", "--demo", "--prefix", "PVPDPVA:",
                          "--settings", str(tmp_path / "s.ini"), "--quit-after", "8",
                          "--stats", str(stats)],
                         capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert out.returncode == 0, out.stderr[-3000:]
    data = json.loads(stats.read_text())
    assert data["pvs"] > 100 and data["connected"] == data["pvs"]
    image = data["views"]["image"][0]
    assert image["source"] == f"pva://PVPDPVA:{LZ4_SUFFIX}"
    assert image["protocol"] == "pva" and image["codec"] == "lz4"
    assert image["frames_displayed"] > 5
    assert "512×512" in image["image"]
