"""The main window on the real demo IOC: in-process with qtbot, and as users start it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import psutil
import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QImage

from pvprobe.qt.app.main_window import MainWindow
from pvprobe.qt.bridge import EngineBridge
from pvprobe.qt.table.pvtable_model import Col

pytestmark = pytest.mark.timeout(120)


def _distinct_colours(path) -> int:
    img = QImage(str(path))
    assert not img.isNull(), f"{path} is not an image"
    step_x, step_y = max(1, img.width() // 80), max(1, img.height() // 60)
    return len({img.pixel(x, y) for x in range(0, img.width(), step_x)
                for y in range(0, img.height(), step_y)})


@pytest.fixture
def window(qtbot, engine):
    bridge = EngineBridge(engine)
    win = MainWindow(bridge)
    qtbot.addWidget(win)
    win.resize(1100, 700)
    win.show()
    bridge.start()
    yield win
    bridge.stop()


def test_table_shows_demo_values_and_alarm_severities(qtbot, window, prefix, tmp_path):
    dynamic = [f"{prefix}ai:{i:03d}" for i in range(40)]
    names = [prefix + "sine", prefix + "enum", prefix + "filename", prefix + "readonly"] + dynamic
    window.add_pvs(names)
    model = window.model

    def text(name, col):
        return model.data(model.index(model.row_of(name), col), Qt.DisplayRole)

    qtbot.waitUntil(lambda: model.connected_count == len(names), timeout=15000)
    qtbot.waitUntil(lambda: text(prefix + "sine", Col.VALUE) not in (None, "", "connecting…"), timeout=10000)
    assert text(prefix + "sine", Col.UNITS) == "mm"
    assert len(text(prefix + "sine", Col.VALUE).split(".")[1]) == 3, "PREC 3"
    assert text(prefix + "enum", Col.VALUE) in ("Off", "Standby", "On", "Fault")
    assert text(prefix + "filename", Col.VALUE).endswith(".h5")
    assert "read-only" in text(prefix + "readonly", Col.CONNECTION)

    # the dynamic ai records cross MINOR and MAJOR limits: both must show, in colour and in words
    def severities():
        return {text(n, Col.SEVERITY) for n in dynamic}

    qtbot.waitUntil(lambda: any("MINOR" in s for s in severities())
                    and any("MAJOR" in s for s in severities()), timeout=20000)
    for name in dynamic:
        row = model.row_of(name)
        sev = model.data(model.index(row, Col.SEVERITY), Qt.DisplayRole)
        bg = model.data(model.index(row, Col.SEVERITY), Qt.BackgroundRole)
        if "MAJOR" in sev or "MINOR" in sev:
            assert bg is not None and QColor(bg.color() if hasattr(bg, "color") else bg).isValid()
    shot = tmp_path / "table.png"
    assert window.grab().save(str(shot))
    assert _distinct_colours(shot) > 10


def test_pasted_names_with_junk_are_split_and_reported(qtbot, window, prefix):
    window.add_from_text(f"{prefix}sine\n  {prefix}sine\n{prefix}long, ca://{prefix}switch\n\u00e9t\u00e9 x\"y")
    assert window.model.names() == [prefix + "sine", prefix + "long", prefix + "switch"]
    assert "2 names rejected" in window.last_message and "non-ASCII" in window.last_message


def _procs_with(token: str) -> list[psutil.Process]:
    out = []
    for p in psutil.process_iter(["cmdline"]):
        try:
            if token in " ".join(p.info["cmdline"] or []):
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.1)  # ok-sleep: polling other processes with a deadline
    return pred()


def _connected_to(app: psutil.Process, ioc: list[psutil.Process]) -> bool:
    """The app holds an established TCP connection to a port its demo IOC listens on
    (its window is up and its engine connected)."""
    try:
        def tcp(p: psutil.Process) -> list:    # psutil 6 renamed connections to net_connections
            return (getattr(p, "net_connections", None) or p.connections)("tcp")
        listening = {c.laddr.port for p in ioc for c in tcp(p) if c.status == psutil.CONN_LISTEN}
        return any(c.raddr and c.raddr.port in listening and c.status == psutil.CONN_ESTABLISHED
                   for c in tcp(app))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _gui_env() -> dict:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def test_demo_mode_end_to_end_with_screenshot_and_stats(tmp_path):
    shot, stats = tmp_path / "demo.png", tmp_path / "stats.json"
    token = "PVPE2E:"
    out = subprocess.run([sys.executable, "-m", "pvprobe", "--demo", "--prefix", token,
                          "--quit-after", "6", "--screenshot", str(shot), "--stats", str(stats)],
                         capture_output=True, text=True, timeout=90, env=_gui_env())
    assert out.returncode == 0, out.stderr
    assert "caRepeater" not in out.stderr
    data = json.loads(stats.read_text())
    for key in ("pvs", "connected", "seconds_to_all_connected", "seconds_to_all_values",
                "updates_received", "batches_applied", "loop_lateness_ms_p99",
                "loop_lateness_ms_max", "rss_mb"):
        assert key in data
    assert data["pvs"] > 100 and data["connected"] == data["pvs"]
    assert data["seconds_to_all_values"] is not None and data["updates_received"] > 100
    assert _distinct_colours(shot) > 10
    assert _wait(lambda: not _procs_with(token), 5), "demo IOC left running"


def test_views_from_the_command_line_with_screenshot_and_stats(tmp_path):
    """--probe/--plot/--strip/--image open docks; their figures join --stats; the
    settings of the run (theme) are remembered."""
    shot, stats, ini = tmp_path / "views.png", tmp_path / "stats.json", tmp_path / "s.ini"
    token = "PVPVW:"
    out = subprocess.run([sys.executable, "-m", "pvprobe", "--demo", "--prefix", token, "--settings", str(ini),
                          "--probe", token + "sine", "--plot", token + "wave", "--strip", token + "sine",
                          "--strip", token + "ai:001", "--image", token + "image2:", "--theme", "dark",
                          "--quit-after", "10", "--screenshot", str(shot), "--stats", str(stats)],
                         capture_output=True, text=True, timeout=100, env=_gui_env())
    assert out.returncode == 0, out.stderr
    views = json.loads(stats.read_text())["views"]
    assert len(views["strip"][0]["plotted_pvs"]) == 2 and views["strip"][0]["updates_received"] > 5
    assert len(views["waveform"][0]["plotted_pvs"]) == 1 and views["waveform"][0]["updates_received"] > 0
    image = views["image"][0]
    assert image["frames_received"] > 5 and image["frames_displayed"] > 5
    assert "640" in image["image"] and "RGB1" in image["image"]
    assert _distinct_colours(shot) > 10
    assert "theme=dark" in ini.read_text()
    assert _wait(lambda: not _procs_with(token), 5), "demo IOC left running"


@pytest.mark.parametrize("how", ["sigint", "sigkill"])
def test_demo_ioc_never_outlives_the_app(how):
    token = f"PVP{how.upper()}:"
    app = subprocess.Popen([sys.executable, "-m", "pvprobe", "--demo", "--prefix", token],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_gui_env())
    try:
        assert _wait(lambda: any("pvprobe.demo.ioc" in " ".join(p.cmdline()) for p in _procs_with(token)
                                 if p.pid != app.pid), 60), "demo IOC did not start"
        ioc = [p for p in _procs_with(token) if "pvprobe.demo.ioc" in " ".join(p.cmdline())]
        app_proc = psutil.Process(app.pid)
        assert _wait(lambda: _connected_to(app_proc, ioc), 60), "the app never connected to its demo IOC"
        if how == "sigint":
            app.send_signal(signal.SIGINT)    # Ctrl-C in the terminal
            assert app.wait(20) == 0
        else:
            app.kill()                         # a crash of the app
            app.wait(10)
        assert _wait(lambda: not _procs_with(token), 10), f"demo IOC orphaned after {how}"
    finally:
        if app.poll() is None:
            app.kill()
        for p in _procs_with(token):
            p.kill()


def test_rows_show_disconnection_and_resume_after_ioc_restart(qtbot, window, restartable_ioc):
    ioc = restartable_ioc
    names = [ioc.prefix + "heartbeat", ioc.prefix + "sine"]
    window.add_pvs(names)
    model = window.model

    def text(name, col):
        return model.data(model.index(model.row_of(name), col), Qt.DisplayRole) or ""

    qtbot.waitUntil(lambda: model.connected_count == 2, timeout=15000)
    ioc.stop()
    qtbot.waitUntil(lambda: all("DISCONNECTED" in text(n, Col.CONNECTION) for n in names), timeout=40000)
    assert all("DISCONNECTED" in text(n, Col.SEVERITY) for n in names)
    italic = model.data(model.index(model.row_of(names[1]), Col.VALUE), Qt.FontRole)
    assert italic is not None and italic.italic(), "stale value must not look live"
    ioc.restart()
    qtbot.waitUntil(lambda: model.connected_count == 2, timeout=40000)
    before = text(names[0], Col.VALUE)
    qtbot.waitUntil(lambda: text(names[0], Col.VALUE) != before, timeout=10000)
