"""Qt-free value facts (pvprobe.core.values): sort keys, saved-vs-live comparison and
the one value -> editable text used by the table, the probe, record fields and snapshots."""

import subprocess
import sys

import numpy as np

from pvprobe.core.putvalue import coerce_put_value, text_put_value
from pvprobe.core.pvstate import PVState
from pvprobe.core.snapshot import value_text
from pvprobe.core.values import (
    DIFF_PREFIX,
    editable_text,
    enum_text,
    is_editable,
    is_numeric,
    natural_key,
    severity_level,
    text_key,
    value_key,
    values_differ,
)


def _live(name, value, **kw):
    kw.setdefault("native_type", "DOUBLE" if isinstance(value, float) else "LONG")
    kw.setdefault("max_count", 1)
    return PVState(name=name, connected=True, ever_connected=True, value=value, read_access=True,
                   write_access=True, monitored=True, timestamp=1.7e9, **kw)


def test_values_module_loads_without_qt():
    code = ("import sys, pvprobe.core.values;"
            "print(sorted(m for m in ('PyQt5', 'pyqtgraph', 'epics') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_sort_keys():
    assert sorted(["X:ai:10", "X:ai:2", "x:AI:1"], key=natural_key) == ["x:AI:1", "X:ai:2", "X:ai:10"]
    assert sorted(["", "abc", "10", DIFF_PREFIX + "9"], key=text_key) == [DIFF_PREFIX + "9", "10", "abc", ""]
    nan, one, arr = _live("N", float("nan")), _live("O", 1.0), _live("A", np.arange(5.0), max_count=5)
    never = PVState(name="X")
    assert sorted([never, nan, arr, one], key=value_key) == [one, arr, nan, never]
    gone = _live("G", 1.0)
    gone.connected = False
    assert [severity_level(s) for s in (one, gone, never)] == [0, 4, 5]
    assert is_numeric(one) and not is_numeric(arr) and is_editable(one) and not is_editable(never)


def test_values_differ_with_tolerance_enums_text_arrays():
    f = _live("F", 7.04, precision=1)
    assert values_differ(f, "7.0") is False          # same as shown (PREC 1)
    assert values_differ(f, "7.2") is True
    assert values_differ(_live("F", 1e-12), "1e-12") is False
    e = _live("E", 2, native_type="ENUM", enum_strs=("Off", "Standby", "On"))
    assert values_differ(e, "On") is False and values_differ(e, "Off") is True
    assert values_differ(e, "2") is False
    s = _live("S", "hello", native_type="STRING")
    assert values_differ(s, "hello") is False and values_differ(s, "hello!") is True
    a = _live("A", np.arange(3.0), max_count=3, count=3)
    assert values_differ(a, "0, 1, 2") is False and values_differ(a, "0 1 3") is True
    assert values_differ(PVState(name="N"), "1") is None


def test_editable_text_per_type():
    assert editable_text(_live("F", 7.04, precision=1)) == "7.0"            # what you see
    assert editable_text(_live("F", 7.04, precision=1), exact=True) == "7.04"
    assert editable_text(_live("F", 0.1)) == "0.1"                          # no PREC: exact
    assert editable_text(_live("I", np.int32(5), precision=3)) == "5"
    e = _live("E", 2, native_type="ENUM", enum_strs=("Off", "Standby", "On"))
    assert editable_text(e) == "On"
    dup = _live("E", 1, native_type="ENUM", enum_strs=("A", "A", "3"))
    assert editable_text(dup) == "1" and enum_text(dup, 2) == "2"            # ambiguous: the index
    c = _live("C", np.frombuffer(b"hi\0\0", dtype=np.uint8), native_type="CHAR", max_count=4)
    assert editable_text(c) == "hi"
    s = _live("S", ["a b", "", "c"], native_type="STRING", max_count=5, count=3)
    assert editable_text(s) == '"a b" "" c'
    assert editable_text(s, json_strings=True) == '["a b", "", "c"]'
    a = _live("A", np.array([1.5, 2.0, 3.25]), max_count=8, count=3)
    assert editable_text(a) == "1.5 2.0 3.25"
    assert editable_text(a, max_elements=2) == ""                           # too long to type
    assert editable_text(PVState(name="N")) == ""


def test_editable_text_puts_back_the_same_value():
    cases = [
        _live("F", 7.25, precision=2),
        _live("L", 42),
        _live("E", 1, native_type="ENUM", enum_strs=("Off", "On")),
        _live("S", "x y", native_type="STRING"),
        _live("SA", ["a b", "", "c"], native_type="STRING", max_count=5, count=3),
        _live("A", np.array([1.5, -2.0, 3.25]), max_count=8, count=3, native_type="DOUBLE"),
    ]
    for st in cases:
        _, values = coerce_put_value(st, text_put_value(st, editable_text(st)))
        want = st.value.tolist() if isinstance(st.value, np.ndarray) else st.value
        want = want if isinstance(want, list) else [want]
        assert values == want, st.name


def test_snapshot_text_is_the_exact_editable_text():
    f = _live("F", 1.0 / 3, precision=2)
    assert value_text(f) == repr(1.0 / 3) == editable_text(f, exact=True)
    s = _live("SA", ["a", "b c"], native_type="STRING", max_count=5, count=2)
    assert value_text(s) == '["a", "b c"]'
