"""PutRequest (pvprobe.core.putrequest), Qt-free: the checks every GUI put passes."""

import subprocess
import sys

import numpy as np
import pytest

from pvprobe.core.putrequest import PutRequest, edit_hint, editor_kind, put_refusal, value_shown
from pvprobe.core.putvalue import PutValueError
from pvprobe.core.pvstate import PVState


def _st(value, **kw):
    kw.setdefault("native_type", "DOUBLE")
    kw.setdefault("max_count", 1)
    kw.setdefault("write_access", True)
    kw.setdefault("connected", True)
    return PVState(name=kw.pop("name", "X"), ever_connected=True, value=value, read_access=True, **kw)


def test_putrequest_loads_without_qt():
    code = ("import sys, pvprobe.core.putrequest;"
            "print(sorted(m for m in ('PyQt5', 'pyqtgraph', 'epics') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("state, raw, reason", [
    (_st(1.0, connected=False), "2", "not connected"),
    (_st(1.0, write_access=False), "2", "no write access"),
    (_st(1.0, control_limits=(-10.0, 10.0)), "11", "outside the control limits"),
    (_st(1.0), "abc", "not a number"),
    (_st(1.0), " ", "no value given"),
    (_st(1, native_type="LONG"), "1.5", "not an integer"),
    (_st("a", native_type="STRING"), "x" * 40, "longer than 39"),
    (_st(np.zeros(3), max_count=3, count=3), "1 2 3 4", "do not fit NELM 3"),
    (_st(0, native_type="ENUM", enum_strs=("Off", "On")), "Maybe", "not one of the states"),
])
def test_checks_refuse_with_the_reason(state, raw, reason):
    req = PutRequest(state.name, raw, "table", state)
    with pytest.raises(PutValueError, match=reason):
        req.prepare()
    assert reason in put_refusal(state, raw)


def test_prepared_values_and_confirmation():
    sp = _st(1.0, units="V", precision=2)
    req = PutRequest("SP", "12.5", "probe", sp, timeout=4.0)
    assert req.prepare() == 12.5
    text = req.confirmation_text(12.5)
    assert "SP" in text and "now:  1.00 V" in text and "new:  12.5 V" in text and "4 s" in text
    en = _st(0, native_type="ENUM", enum_strs=("Off", "On"))
    assert PutRequest("E", "On", "table", en).prepare() == 1 and value_shown(en, 1) == "On (1)"
    arr = _st(np.zeros(3), max_count=3, count=3)
    assert PutRequest("A", "1, 2 3", "table", arr).prepare() == [1.0, 2.0, 3.0]
    sa = _st(["a"], native_type="STRING", max_count=4, count=1)
    assert PutRequest("S", '"a b" c', "table", sa).prepare() == ["a b", "c"]
    assert PutRequest("R", [1, 2], "restore").prepare() == [1, 2]      # no state: as given


def test_editor_facts():
    assert editor_kind(None) == "disconnected" and editor_kind(_st(1.0, write_access=False)) == "readonly"
    assert editor_kind(_st(0, native_type="ENUM", enum_strs=("a",))) == "enum"
    assert edit_hint(_st(1.0, control_limits=(0.0, 5.0), units="mm")) == "a number from 0 to 5 mm"
