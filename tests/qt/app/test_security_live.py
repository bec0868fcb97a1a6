"""Access security changed while running (issue 7, security): a real EPICS base soft IOC
whose ACF grants write to ``PVPASG:target`` only while ``PVPASG:enable`` is 1. The
window follows every change without user action: table, probe and put editor, and the
put paths refuse locally (with the reason) exactly while the IOC denies write."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPEATER_PORT, RESTART_PORT, show_main_window
from PyQt5.QtCore import Qt

from pvprobe.core.caenv import loopback_env

pytestmark = pytest.mark.timeout(120)

P = "PVPASG:"
ENABLE, TARGET = P + "enable", P + "target"

ACF = f"""ASG(DEFAULT) {{ RULE(1, READ) RULE(1, WRITE) }}
ASG(SWITCHED) {{
    INPA("{ENABLE}")
    RULE(1, READ)
    RULE(1, WRITE) {{ CALC("A>0.5") }}
}}
"""

DB = f"""record(bo, "{ENABLE}") {{ field(ZNAM, "denied") field(ONAM, "granted") field(VAL, "0") field(PINI, "YES") }}
record(ao, "{TARGET}") {{ field(ASG, "SWITCHED") field(PREC, "2") field(VAL, "0") field(PINI, "YES") }}
"""

#: ``python -m epicscorelibs.ioc`` has no ``-a`` option: set the ACF before iocInit, then run it.
IOC_WITH_ACF = ("import sys; from epicscorelibs import ioc; "
                "ioc.dbCore.asSetFilename(sys.argv.pop(1).encode()); ioc.main()")


@pytest.fixture
def asg_ioc(tmp_path: Path, ca_repeater: object) -> Iterator[subprocess.Popen]:
    """A soft IOC on RESTART_PORT serving the two PVs under the switched ACF; killed at teardown."""
    (tmp_path / "asg.acf").write_text(ACF)
    (tmp_path / "asg.db").write_text(DB)
    env = dict(os.environ)
    env.update(loopback_env(RESTART_PORT, REPEATER_PORT))
    proc = subprocess.Popen([sys.executable, "-c", IOC_WITH_ACF, str(tmp_path / "asg.acf"),
                             "-d", str(tmp_path / "asg.db")], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    yield proc
    proc.kill()
    proc.wait(10)


@pytest.fixture
def other_engine(asg_ioc: subprocess.Popen) -> Iterator[Any]:
    """A second, independent CA client (the operator at another console)."""
    from pvprobe.ca.engine import Engine

    eng = Engine()
    yield eng
    eng.close()


@pytest.fixture
def window(qtbot, tmp_path: Path, asg_ioc: subprocess.Popen) -> Iterator[Any]:
    """A real MainWindow on its own engine, puts without confirmation questions."""
    from pvprobe.ca.engine import Engine
    from pvprobe.qt.bridge import EngineBridge

    engine = Engine(tick_hz=20)
    bridge = EngineBridge(engine)
    win = show_main_window(qtbot, bridge, tmp_path / "s.ini")
    win.set_confirm_puts(False)
    bridge.start()
    yield win
    win.force_close = True
    win.close()
    bridge.stop()
    engine.close()


def _set_enable(engine: Any, on: bool) -> None:
    result = engine.put_wait(ENABLE, int(on), timeout=5, connect_timeout=10)
    assert result.ok, result.error


def _bridge_put(qtbot, win: Any, value: float) -> Any:
    """Put through the window's bridge; returns the PutResult."""
    results: list = []
    win.bridge.putFinished.connect(results.append)
    try:
        rid = win.bridge.put(TARGET, value, 5.0)
        qtbot.waitUntil(lambda: any(r.request_id == rid for r in results), timeout=10000)
    finally:
        win.bridge.putFinished.disconnect(results.append)
    return next(r for r in results if r.request_id == rid)


def _writable_everywhere(win: Any, probe: Any) -> bool:
    from pvprobe.qt.table.pvtable_model import Col

    m = win.model
    row = m.row_of(TARGET)
    st = m.state(row)
    return bool(st.connected and st.write_access
                and m.flags(m.index(row, Col.VALUE)) & Qt.ItemIsEditable
                and m.text(row, Col.ACCESS) == "read/write"
                and probe.state is not None and probe.state.write_access
                and probe.info["access"].text() == "read/write"
                and probe.editor.kind == "number" and probe.editor.put_button.isEnabled())


def _read_only_everywhere(win: Any, probe: Any) -> bool:
    from pvprobe.qt.table.pvtable_model import Col

    m = win.model
    row = m.row_of(TARGET)
    st = m.state(row)
    return bool(st.connected and st.read_access and not st.write_access
                and not (m.flags(m.index(row, Col.VALUE)) & Qt.ItemIsEditable)
                and "read-only" in m.text(row, Col.ACCESS).lower()
                and "read-only" in m.text(row, Col.CONNECTION)
                and probe.state is not None and probe.state.connected and not probe.state.write_access
                and probe.info["access"].text() == "read-only"
                and probe.editor.kind == "readonly" and not probe.editor.put_button.isEnabled()
                and "no write access" in probe.editor.hint.text().lower())


def _assert_refused(qtbot, win: Any, other_engine: Any, value: float) -> None:
    """Every put path refuses locally with the reason; the IOC keeps its value."""
    before = other_engine.read([TARGET], timeout=5)[TARGET].value
    assert win.table_widget.put_value(TARGET, value) is None
    assert "write access" in win.last_message.lower() or "read-only" in win.last_message.lower()
    result = _bridge_put(qtbot, win, value)
    assert not result.ok and "no write access" in result.error
    assert other_engine.read([TARGET], timeout=5)[TARGET].value == before != value


def test_access_rights_changed_at_run_time_are_followed(qtbot, window, other_engine) -> None:
    win = window
    assert other_engine.read([TARGET], timeout=30)[TARGET].connected, "the ASG IOC did not start"
    win.add_pvs([TARGET])
    probe = win.open_probe(TARGET)
    # 1. the IOC denies write: read-only everywhere, every put refused locally with the reason
    qtbot.waitUntil(lambda: win.model.row_of(TARGET) is not None
                    and _read_only_everywhere(win, probe), timeout=15000)
    _assert_refused(qtbot, win, other_engine, 1.25)
    # 2. another client grants write (enable=1): the window follows without user action
    _set_enable(other_engine, True)
    qtbot.waitUntil(lambda: _writable_everywhere(win, probe), timeout=10000)
    result = _bridge_put(qtbot, win, 2.5)
    assert result.ok, result.error
    assert other_engine.read([TARGET], timeout=5)[TARGET].value == 2.5
    assert win.table_widget.put_value(TARGET, 3.75) is not None
    qtbot.waitUntil(lambda: other_engine.read([TARGET], timeout=5)[TARGET].value == 3.75, timeout=10000)
    probe.editor.set_value_text("4.5")
    assert probe.editor.submit()
    qtbot.waitUntil(lambda: other_engine.read([TARGET], timeout=5)[TARGET].value == 4.5, timeout=10000)
    # 3. write denied again (enable=0): read-only again everywhere, puts refused
    _set_enable(other_engine, False)
    qtbot.waitUntil(lambda: _read_only_everywhere(win, probe), timeout=10000)
    _assert_refused(qtbot, win, other_engine, 5.25)
