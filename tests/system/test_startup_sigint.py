"""Ctrl-C at any moment of ``pvprobe --demo`` start-up quits cleanly (exit 0) and
leaves no demo IOC or repeater behind (issue 12, item 5).

The moments are observed from outside, on the real app process: the repeater it
spawns first, the demo IOC process, libca loaded into the app (engine
construction), the app's CA connection to the IOC (window up, PVs connecting),
and the running window a while later.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable

import psutil
import pytest

pytestmark = pytest.mark.timeout(150)

START_TIMEOUT = 60.0
EXIT_TIMEOUT = 20.0


def _wait(pred: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Poll ``pred`` until true or ``timeout`` s pass (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)  # ok-sleep: polling another process with a deadline
    return pred()


def _children(app: psutil.Process, token: str) -> list[psutil.Process]:
    out = []
    try:
        kids = app.children(recursive=True)
    except psutil.NoSuchProcess:
        return out
    for p in kids:
        try:
            if token in " ".join(p.cmdline()):
                out.append(p)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return out


def _libca_loaded(app: psutil.Process) -> bool:
    try:
        with open(f"/proc/{app.pid}/maps") as f:
            return "libca.so" in f.read()
    except OSError:
        return False


def _tcp(p: psutil.Process) -> list:
    """``p``'s TCP connections (psutil 6 renamed connections to net_connections)."""
    fn = getattr(p, "net_connections", None) or p.connections
    return fn("tcp")


def _connected_to(app: psutil.Process, ioc: list[psutil.Process]) -> bool:
    """The app holds an established TCP connection to a port the demo IOC listens on."""
    try:
        listening = {c.laddr.port for p in ioc for c in _tcp(p)
                     if c.status == psutil.CONN_LISTEN}
        return any(c.raddr and c.raddr.port in listening and c.status == psutil.CONN_ESTABLISHED
                   for c in _tcp(app))
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def _alive(procs: list[psutil.Process]) -> list[psutil.Process]:
    out = []
    for p in procs:
        try:
            if p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def _state(popen: subprocess.Popen) -> str:
    """For failure messages: the app's exit status and stderr once it ended."""
    if popen.poll() is None:
        return "app still running"
    return f"app exited {popen.returncode}: {popen.stderr.read().decode(errors='replace')[-2000:]}"


@pytest.mark.parametrize("moment", ["repeater", "ioc_process", "libca", "connected", "running"])
def test_ctrl_c_at_any_moment_of_startup_quits_cleanly(tmp_path, moment):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PVPROBE_SETTINGS=str(tmp_path / "s.ini"))
    token = f"PVPINT{moment.upper().replace('_', '')}:"
    popen = subprocess.Popen([sys.executable, "-m", "pvprobe", "--demo", "--prefix", token],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    app = psutil.Process(popen.pid)
    seen: list[psutil.Process] = []
    try:
        def found(kind: str) -> bool:
            procs = _children(app, kind)
            seen.extend(p for p in procs if p not in seen)
            return bool(procs)

        assert _wait(lambda: found("repeater"), START_TIMEOUT), "no repeater started"
        if moment != "repeater":
            assert _wait(lambda: found("pvprobe.demo.ioc"), START_TIMEOUT), "no demo IOC started"
        if moment in ("libca", "connected", "running"):
            assert _wait(lambda: _libca_loaded(app), START_TIMEOUT), f"libca never loaded: {_state(popen)}"
        if moment in ("connected", "running"):
            ioc = _children(app, "pvprobe.demo.ioc")
            assert _wait(lambda: _connected_to(app, ioc), START_TIMEOUT), \
                f"never connected to the IOC: {_state(popen)}"
        if moment == "running":
            time.sleep(1.0)  # ok-sleep: a moment well inside the running window's life
        assert popen.poll() is None, popen.stderr.read().decode(errors="replace")
        popen.send_signal(signal.SIGINT)         # Ctrl-C in the terminal
        try:
            code = popen.wait(EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            pytest.fail(f"Ctrl-C at '{moment}': the app did not exit within {EXIT_TIMEOUT} s")
        err = popen.stderr.read().decode(errors="replace")
        assert code == 0, f"Ctrl-C at '{moment}': exit {code}\n{err[-3000:]}"
        assert "Traceback" not in err, err[-3000:]
        assert _wait(lambda: not _alive(seen), 10, 0.05), \
            f"left running after Ctrl-C at '{moment}': {[p.cmdline() for p in _alive(seen)]}"
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(10)
        for p in _alive(seen):
            p.kill()
