"""The demo IOC, its launcher and the CA repeater helper, checked with pyepics directly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from typing import Optional

import numpy as np
import psutil
import pytest

from pvprobe.core.caenv import free_port, loopback_env
from pvprobe.demo.launcher import DemoIOC

epics = pytest.importorskip("epics")
from epics import ca  # noqa: E402

CONNECT_TIMEOUT = 10.0

SCALAR_LAYOUT = [("ai", 400, "double"), ("ao", 100, "double"), ("bi", 100, "enum"),
                 ("bo", 100, "enum"), ("mbbi", 50, "enum"), ("mbbo", 50, "enum"),
                 ("longin", 100, "long"), ("stringin", 100, "string")]
AD_COLOR_MODES = ("Mono", "Bayer", "RGB1", "RGB2", "RGB3", "YUV444", "YUV422", "YUV421")
AD_DATA_TYPES = ("Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32",
                 "Int64", "UInt64", "Float32", "Float64")


# -- helpers -----------------------------------------------------------------


def wait_until(cond: Callable[[], bool], timeout: float, step: float = 0.05) -> bool:
    """Poll ``cond`` until true or ``timeout`` s elapse (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)  # ok-sleep: bounded poll of a non-Qt condition (no event loop here)
    return cond()


def connected_pv(name: str, **kw) -> epics.PV:
    pv = epics.PV(name, **kw)
    assert pv.wait_for_connection(CONNECT_TIMEOUT), f"{name} did not connect"
    return pv


def ctrl(name: str) -> epics.PV:
    pv = connected_pv(name, form="ctrl", auto_monitor=False)
    pv.get_ctrlvars(timeout=5)
    return pv


def read(name: str, **kw):
    value = connected_pv(name, auto_monitor=False).get(use_monitor=False, timeout=5, **kw)
    assert value is not None, f"no value for {name}"
    return value


def is_gone(pid: int) -> bool:
    """True if ``pid`` no longer runs (a zombie counts as gone)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def private_env() -> dict[str, str]:
    """Environment with fresh loopback ports, for IOCs that must not meet the session one."""
    return dict(os.environ, **loopback_env(free_port(), free_port()))


# -- the scalar PVs ------------------------------------------------------------


def test_ready_output(demo_ioc, prefix):
    lines = demo_ioc.stdout_lines
    assert f"PVPROBE-DEMO-READY prefix={prefix}" in lines
    exports = {ln.split("=", 1)[0][len("export "):] for ln in lines if ln.startswith("export ")}
    assert {"EPICS_CA_SERVER_PORT", "EPICS_CA_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST",
            "EPICS_CA_REPEATER_PORT", "EPICS_CA_MAX_ARRAY_BYTES"} <= exports
    assert f"export EPICS_CA_SERVER_PORT={demo_ioc.server_port}" in lines
    assert demo_ioc.client_env["EPICS_CA_SERVER_PORT"] == str(demo_ioc.server_port)


def test_thousand_scalars_connect_with_types(prefix):
    """All 1,000 scalar PVs, connected and read with the bulk recipe (no per-PV wait)."""
    expected = {f"{prefix}{rtype}:{i:03d}": kind
                for rtype, count, kind in SCALAR_LAYOUT for i in range(count)}
    assert len(expected) == 1000
    chids = {n: ca.create_channel(n, connect=False, auto_cb=False) for n in expected}
    deadline = time.monotonic() + CONNECT_TIMEOUT
    for chid in chids.values():
        ca.connect_channel(chid, timeout=max(0.05, deadline - time.monotonic()))
    missing = [n for n, c in chids.items() if not ca.isConnected(c)]
    assert not missing, f"{len(missing)} not connected, e.g. {missing[:5]}"
    for n, chid in chids.items():
        assert ca.field_type(chid) == getattr(ca.dbr, expected[n].upper()), n
    for chid in chids.values():
        ca.get(chid, wait=False)
    ca.poll()
    values = {n: ca.get_complete(c, timeout=5) for n, c in chids.items()}
    assert all(v is not None for v in values.values())
    assert values[f"{prefix}stringin:009"] == "text 009"


def test_sine_metadata(prefix):
    pv = ctrl(f"{prefix}sine")
    assert pv.type.endswith("double") and pv.count == 1
    assert pv.units == "mm" and pv.precision == 3
    assert (pv.lower_disp_limit, pv.upper_disp_limit) == (-10, 10)
    assert (pv.lower_alarm_limit, pv.lower_warning_limit) == (-8, -5)
    assert (pv.upper_warning_limit, pv.upper_alarm_limit) == (5, 8)


def test_writable_scalar_metadata(prefix):
    sp = ctrl(f"{prefix}setpoint")
    assert sp.units == "V" and sp.precision == 2 and sp.write_access
    assert (sp.lower_ctrl_limit, sp.upper_ctrl_limit) == (-100, 100)
    assert (sp.lower_disp_limit, sp.upper_disp_limit) == (-100, 100)
    assert ctrl(f"{prefix}enum").enum_strs == ("Off", "Standby", "On", "Fault")
    assert ctrl(f"{prefix}switch").enum_strs == ("Open", "Closed")
    assert ctrl(f"{prefix}long").type.endswith("long")
    msg = ctrl(f"{prefix}message")
    assert msg.type.endswith("string") and msg.write_access
    assert read(f"{prefix}message") == "hello"


def test_put_round_trips(prefix):
    for suffix, value in (("setpoint", 12.5), ("long", 77), ("enum", 2), ("switch", 1)):
        assert epics.caput(f"{prefix}{suffix}", value, wait=True, timeout=5) == 1
        assert read(f"{prefix}{suffix}") == value
    arr = np.arange(7, dtype=float) * 1.5
    assert epics.caput(f"{prefix}wave:set", arr, wait=True, timeout=5) == 1
    np.testing.assert_array_equal(read(f"{prefix}wave:set"), arr)
    name = "/data/2026/put_test.h5"
    assert epics.caput(f"{prefix}filename:set", name, wait=True, timeout=5) == 1
    assert read(f"{prefix}filename:set", as_string=True) == name


def test_readonly_refused_by_access_security(prefix):
    pv = connected_pv(f"{prefix}readonly", auto_monitor=False)
    assert wait_until(lambda: pv.read_access, 5)
    assert pv.write_access is False
    assert pv.get(use_monitor=False) == 42.0
    with pytest.raises(ca.CASeverityException, match="Write access denied"):
        pv.put(1.0, wait=True, timeout=2)
    assert pv.get(use_monitor=False) == 42.0


def test_alarm_severities_reached(prefix):
    """A moving ai and {P}sine both reach MINOR and MAJOR within a bounded time."""
    seen: dict[str, set[int]] = {"ai:000": set(), "sine": set()}
    values: dict[str, set[float]] = {k: set() for k in seen}
    pvs = []
    for key in seen:
        def cb(severity=None, value=None, key=key, **kw):
            seen[key].add(severity)
            values[key].add(value)
        pvs.append(connected_pv(f"{prefix}{key}", form="time", callback=cb))
    try:
        ok = wait_until(lambda: all({1, 2} <= s for s in seen.values()), 15, 0.1)
        assert ok, f"severities seen: {seen}"
        assert all(len(v) >= 3 for v in values.values()), "values change"
    finally:
        for pv in pvs:
            pv.clear_callbacks()
            pv.disconnect()


def test_heartbeat_ticks(prefix):
    first = read(f"{prefix}heartbeat")
    assert wait_until(lambda: read(f"{prefix}heartbeat") > first, 3, 0.2)


def test_slow_put_completes_after_three_seconds(prefix):
    pv = connected_pv(f"{prefix}slow", auto_monitor=False)
    start = time.monotonic()
    value = round(time.time() % 1000, 2)
    assert pv.put(value, wait=True, timeout=6) == 1
    assert 2.8 <= time.monotonic() - start < 5.5
    start = time.monotonic()
    assert pv.put(value + 1, wait=True, timeout=1) == -1         # gave up waiting
    assert time.monotonic() - start < 2


# -- arrays ------------------------------------------------------------------


def test_wave_variable_length(prefix):
    pv = connected_pv(f"{prefix}wave", auto_monitor=False)
    assert pv.count == pv.nelm == 2048
    lengths = set()
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and len(lengths) < 3:
        data = pv.get(count=None, use_monitor=False)   # count=0: only valid elements
        assert data is not None and 100 <= len(data) <= 2048
        lengths.add(len(data))
        time.sleep(0.3)  # ok-sleep: samples the IOC's changing length, bounded by the deadline
    assert len(lengths) >= 2, lengths


def test_filename_is_text(prefix):
    pv = connected_pv(f"{prefix}filename", auto_monitor=False)
    assert pv.count == 128 and pv.type.endswith("char")
    text = pv.get(as_string=True, use_monitor=False)
    assert text.startswith("/data/2026/scan_") and text.endswith(".h5")


def _counter_rate(name: str, seconds: float) -> float:
    pv = connected_pv(name, auto_monitor=False)
    c0, t0 = pv.get(use_monitor=False), time.monotonic()
    time.sleep(seconds)  # ok-sleep: the measurement window of a rate
    return (pv.get(use_monitor=False) - c0) / (time.monotonic() - t0)


def _camera_meta(plugin: str) -> dict[str, object]:
    meta = {s: read(plugin + s) for s in ("ArraySize0_RBV", "ArraySize1_RBV",
                                          "ArraySize2_RBV", "NDimensions_RBV")}
    meta["ColorMode"] = read(plugin + "ColorMode_RBV", as_string=True)
    meta["DataType"] = read(plugin + "DataType_RBV", as_string=True)
    assert ctrl(plugin + "ColorMode_RBV").enum_strs == AD_COLOR_MODES
    assert ctrl(plugin + "DataType_RBV").enum_strs == AD_DATA_TYPES
    return meta


def test_image1_mono_uint16(prefix):
    plugin = f"{prefix}image1:"
    assert _camera_meta(plugin) == {
        "ArraySize0_RBV": 1024, "ArraySize1_RBV": 1024, "ArraySize2_RBV": 0,
        "NDimensions_RBV": 2, "ColorMode": "Mono", "DataType": "UInt16"}
    data = connected_pv(plugin + "ArrayData", auto_monitor=False)
    assert data.nelm == 1024 * 1024
    frame = data.get(use_monitor=False, timeout=10)
    assert frame is not None and frame.size == 1024 * 1024
    assert frame.min() < 2000 and frame.max() > 63000     # full UInt16 range
    assert read(plugin + "UniqueId_RBV") > 0
    assert _counter_rate(plugin + "ArrayCounter_RBV", 2.0) >= 8   # aim 15; slack for load


def test_image2_rgb1_uint8(prefix):
    plugin = f"{prefix}image2:"
    assert _camera_meta(plugin) == {
        "ArraySize0_RBV": 3, "ArraySize1_RBV": 640, "ArraySize2_RBV": 480,
        "NDimensions_RBV": 3, "ColorMode": "RGB1", "DataType": "UInt8"}
    data = connected_pv(plugin + "ArrayData", auto_monitor=False)
    assert data.nelm == 3 * 640 * 480
    frame = data.get(use_monitor=False, timeout=10)
    rgb = np.asarray(frame).astype(np.uint8).reshape(480, 640, 3)
    assert all(rgb[..., c].max() > rgb[..., c].min() for c in range(3))
    assert _counter_rate(plugin + "ArrayCounter_RBV", 2.0) >= 4   # aim 10


# -- launcher and repeater ---------------------------------------------------


def test_restart_same_ports_client_reconnects(demo_ioc, prefix):
    pv = connected_pv(f"{prefix}heartbeat")
    old_pid, port = demo_ioc.pid, demo_ioc.server_port
    demo_ioc.restart(timeout=60)
    assert demo_ioc.pid != old_pid and demo_ioc.server_port == port
    assert is_gone(old_pid)
    assert wait_until(lambda: pv.connected and pv.get() is not None, 20, 0.1), \
        "client did not reconnect after restart"


# a throwaway client process that must live 1 s
_CLIENT = "import epics, time; epics.ca.create_channel('NOPE:x', connect=False); time.sleep(1.0)"  # ok-sleep


def test_no_carepeater_noise_with_repeater(ca_repeater):
    r = subprocess.run([sys.executable, "-c", _CLIENT], env=dict(os.environ),
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "caRepeater" not in r.stderr, r.stderr


def test_carepeater_noise_without_repeater():
    """Control: on a port with no repeater, libca does complain (so the check above means something)."""
    r = subprocess.run([sys.executable, "-c", _CLIENT], env=private_env(),
                       capture_output=True, text=True, timeout=30)
    assert "caRepeater" in r.stderr


def test_stop_leaves_no_process():
    ioc = DemoIOC(prefix="PVPSTOP:", server_port=free_port(), repeater_port=free_port())
    with ioc:
        pid = ioc.pid
        repeater = ioc._repeater          # the launcher started it (private port)
        assert ioc.is_running() and repeater is not None
    assert not ioc.is_running() and ioc.pid is None
    assert is_gone(pid) and is_gone(repeater.pid)
    ioc.stop()                            # idempotent


_ORPHAN = textwrap.dedent("""
    import sys, time
    from pvprobe.demo.launcher import DemoIOC
    ioc = DemoIOC(prefix="PVPORPH:").start(timeout=60)
    print(ioc.pid, ioc._repeater.pid, flush=True)
    time.sleep(120)  # ok-sleep: the orphan-test app idles until the test kills it
""")


def test_ioc_dies_with_killed_parent():
    """kill -9 of the app that launched the IOC must take the IOC (and repeater) down."""
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN], env=private_env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        line = _readline(parent, 60)
        assert line, "launcher subprocess printed nothing"
        ioc_pid, rep_pid = map(int, line.split())
        assert not is_gone(ioc_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        assert wait_until(lambda: is_gone(ioc_pid) and is_gone(rep_pid), 5, 0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(5)


def _readline(proc: subprocess.Popen, timeout: float) -> Optional[str]:
    """One stdout line from ``proc`` within ``timeout`` s (bounded via a thread)."""
    import threading

    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return out[0].strip() if out else None
