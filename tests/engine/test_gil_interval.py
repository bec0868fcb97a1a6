"""One GIL switch interval for the whole process (issue 13): the CA context and the
Qt bridge both leave ``core.tuning.GIL_SWITCH_INTERVAL_S`` (0.5 ms) in force, and
neither raises an interval that is already shorter."""

from __future__ import annotations

import json
import subprocess
import sys

from pvprobe.core.tuning import GIL_SWITCH_INTERVAL_S, apply_gil_switch_interval

#: Run in a fresh interpreter (CPython's default interval, 5 ms): a real engine (its CA
#: context), then something raises the interval again, then a bridge over that engine
#: starts. Imports only what the old code had too, so it shows the old values.
_PROBE = """
import json, sys
from PyQt5.QtCore import QCoreApplication
app = QCoreApplication([])
out = {"fresh": sys.getswitchinterval()}
from pvprobe.ca.engine import Engine
engine = Engine()
out["context"] = sys.getswitchinterval()
sys.setswitchinterval(0.005)
from pvprobe.qt.bridge import EngineBridge
bridge = EngineBridge(engine)
bridge.start()
out["bridge"] = sys.getswitchinterval()
bridge.stop()
print(json.dumps(out))
"""


def test_documented_value() -> None:
    assert GIL_SWITCH_INTERVAL_S == 0.0005


def test_engine_context_and_started_bridge_leave_the_documented_interval() -> None:
    res = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr[-3000:]
    seen = json.loads(res.stdout.strip().splitlines()[-1])
    assert seen["fresh"] == 0.005, seen            # the probe really starts from the default
    assert seen["context"] == GIL_SWITCH_INTERVAL_S, seen
    assert seen["bridge"] == GIL_SWITCH_INTERVAL_S, seen


def test_a_shorter_interval_is_kept() -> None:
    old = sys.getswitchinterval()
    try:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S / 2)
        assert apply_gil_switch_interval() == GIL_SWITCH_INTERVAL_S / 2
        sys.setswitchinterval(0.005)
        assert apply_gil_switch_interval() == GIL_SWITCH_INTERVAL_S
    finally:
        sys.setswitchinterval(old)
