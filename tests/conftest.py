"""Shared test set-up: an isolated loopback CA environment, a CA repeater and the demo IOC.

Runs at import, before any test imports epics (pyepics reads the environment
when libca initialises).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, Optional

import pytest

from pvprobe.core.caenv import DEMO_MAX_ARRAY_BYTES, free_port, loopback_env


def _two_ports() -> tuple[int, int]:
    server = free_port()
    repeater = free_port()
    while repeater == server:
        repeater = free_port()
    return server, repeater


SERVER_PORT, REPEATER_PORT = _two_ports()
os.environ.update(loopback_env(SERVER_PORT, REPEATER_PORT))
os.environ["EPICS_CA_MAX_ARRAY_BYTES"] = DEMO_MAX_ARRAY_BYTES
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DEMO_PREFIX = "PVPTEST:"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test (and every app it starts) gets its own settings file and put log,
    never the user's."""
    d = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("PVPROBE_SETTINGS", str(d / "pvprobe.ini"))
    monkeypatch.setenv("PVPROBE_PUTLOG", str(d / "putlog.jsonl"))
    return str(d / "pvprobe.ini")


@pytest.fixture(autouse=True)
def no_modal_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modal question nobody answers would hang a test (e.g. a window closed by
    pytest-qt at teardown): unless a test patches it itself, answer Discard."""
    import sys

    if "PyQt5.QtWidgets" not in sys.modules:
        return
    from PyQt5.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.Discard))


@pytest.fixture(scope="session", autouse=True)
def ca_repeater() -> Iterator[Optional[object]]:
    """A CA repeater on the test repeater port, so libca prints no 'caRepeater' noise."""
    from pvprobe.ca.repeater import ensure_repeater, stop_repeater

    proc = ensure_repeater(REPEATER_PORT, die_with_parent=True)
    yield proc
    stop_repeater(proc)


@pytest.fixture(scope="session")
def demo_ioc(ca_repeater: object) -> Iterator[object]:
    """The demo IOC serving on the session's ports; stopped at the end."""
    from pvprobe.demo.launcher import DemoIOC

    ioc = DemoIOC(prefix=DEMO_PREFIX, server_port=SERVER_PORT, repeater_port=REPEATER_PORT)
    ioc.start(timeout=60)
    yield ioc
    ioc.stop()


@pytest.fixture(scope="session")
def prefix(demo_ioc: object) -> str:
    """PV name prefix of the running demo IOC."""
    return demo_ioc.prefix  # type: ignore[attr-defined]


# -- engine fixtures -----------------------------------------------------------------------

#: A second server port for an IOC that tests kill and restart (the session IOC stays up).
RESTART_PORT = free_port()
while RESTART_PORT in (SERVER_PORT, REPEATER_PORT):
    RESTART_PORT = free_port()
os.environ["EPICS_CA_ADDR_LIST"] = f"127.0.0.1:{SERVER_PORT} 127.0.0.1:{RESTART_PORT}"


@pytest.fixture
def engine(demo_ioc: object) -> Iterator[object]:
    """A fresh pvprobe Engine (CA context shared by the whole test process)."""
    from pvprobe.ca.engine import Engine

    eng = Engine(tick_hz=20)
    yield eng
    eng.close()


@pytest.fixture
def bridge(qtbot: object, engine: object) -> Iterator[object]:
    """A started EngineBridge on the ``engine`` fixture (GUI thread: needs qtbot's app)."""
    from pvprobe.qt.bridge import EngineBridge

    br = EngineBridge(engine)
    br.start()
    yield br
    br.stop()


def show_main_window(qtbot: object, bridge: object, settings_path: Path, **options: object) -> object:
    """A shown MainWindow (1000x640) on ``bridge`` with its own settings file; closed
    without questions at teardown."""
    from pvprobe.qt.main_window import MainWindow
    from pvprobe.qt.settings import Settings

    win = MainWindow(bridge, settings=Settings(settings_path), **options)
    qtbot.addWidget(win, before_close_func=lambda w: setattr(w, "force_close", True))
    win.resize(1000, 640)
    win.show()
    return win


@pytest.fixture(scope="session")
def scalar_names(prefix: str) -> list[str]:
    """The demo IOC's 1,000 scalar PVs."""
    layout = (("ai", 400), ("ao", 100), ("bi", 100), ("bo", 100), ("mbbi", 50), ("mbbo", 50),
              ("longin", 100), ("stringin", 100))
    return [f"{prefix}{kind}:{i:03d}" for kind, n in layout for i in range(n)]


@pytest.fixture
def restartable_ioc(ca_repeater: object) -> Iterator[object]:
    """A second demo IOC on its own port, for tests that kill and restart it."""
    from pvprobe.demo.launcher import DemoIOC

    ioc = DemoIOC(prefix="PVPRST:", server_port=RESTART_PORT, repeater_port=REPEATER_PORT)
    ioc.start(timeout=60)
    yield ioc
    ioc.stop()
