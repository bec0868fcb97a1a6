"""Core helpers (no CA, no Qt): PVState copies, formatting, names, put-value checks."""

from dataclasses import fields

import numpy as np
import pytest

from pvprobe.core.format import char_array_to_text, format_value
from pvprobe.core.putvalue import PutValueError, coerce_put_value
from pvprobe.core.pvnames import parse_pv_list, pv_name_error, split_names
from pvprobe.core.pvstate import PVState


def test_copy_copies_every_field():
    st = PVState(name="A")
    for i, f in enumerate(fields(PVState)):
        if f.name != "name":
            setattr(st, f.name, [i] if f.name == "samples" else f"v{i}")
    cp = st.copy()
    for f in fields(PVState):
        assert getattr(cp, f.name) == getattr(st, f.name), f.name
    assert cp.samples is not st.samples


def test_char_array_text_stops_at_nul_and_survives_bad_utf8():
    assert char_array_to_text(np.frombuffer(b"/a/b.h5\x00junk", np.uint8)) == "/a/b.h5"
    assert char_array_to_text(np.frombuffer(b"caf\xe9\x00", np.uint8)) == "caf\xe9"


def test_format_value_enum_precision_array():
    assert format_value(PVState(name="e", value=1, native_type="ENUM", enum_strs=("A", "B"))) == "B"
    assert format_value(PVState(name="d", value=1.23456, native_type="DOUBLE", precision=2)) == "1.23"
    arr = PVState(name="w", value=np.arange(10.0), native_type="DOUBLE", max_count=10, precision=1)
    assert format_value(arr).startswith("[10] 0.0 1.0")


@pytest.mark.parametrize("name, ok", [("A:B", True), ("", False), ("a b", False), ("x" * 300, False),
                                      ("caf\u00e9", False), ("A{B}", False)])
def test_pv_name_validation(name, ok):
    assert (pv_name_error(name) is None) == ok


def test_split_and_list_parsing():
    parsed = split_names("A:1, A:2;A:1\n\tca://B:3 caf\u00e9")
    assert parsed.names == ["A:1", "A:2", "B:3"] and len(parsed.rejected) == 1
    parsed = parse_pv_list("# comment\nA:1  # trailing\n\n  B:2\nbad name\n")
    assert parsed.names == ["A:1", "B:2"] and parsed.rejected[0][0].startswith("line 5")


def test_put_value_checks():
    ao = PVState(name="ao", native_type="DOUBLE", max_count=1, control_limits=(-10.0, 10.0))
    assert coerce_put_value(ao, "2.5") == ("DOUBLE", [2.5])
    with pytest.raises(PutValueError, match="control limits"):
        coerce_put_value(ao, 11)
    with pytest.raises(PutValueError, match="not a number"):
        coerce_put_value(ao, "x")
    en = PVState(name="e", native_type="ENUM", max_count=1, enum_strs=("Off", "On"))
    assert coerce_put_value(en, "On") == ("ENUM", [1])
    with pytest.raises(PutValueError, match="out of range"):
        coerce_put_value(en, 2)
    sh = PVState(name="s", native_type="SHORT", max_count=1)
    with pytest.raises(PutValueError, match="range"):
        coerce_put_value(sh, 40000)
    st = PVState(name="t", native_type="STRING", max_count=1)
    with pytest.raises(PutValueError, match="longer than 39"):
        coerce_put_value(st, "x" * 40)
    wf = PVState(name="w", native_type="DOUBLE", max_count=3)
    assert coerce_put_value(wf, "1, 2 3") == ("DOUBLE", [1.0, 2.0, 3.0])
    with pytest.raises(PutValueError, match="NELM"):
        coerce_put_value(wf, [1, 2, 3, 4])
    ch = PVState(name="c", native_type="CHAR", max_count=8)
    assert coerce_put_value(ch, "abc") == ("CHAR", [97, 98, 99, 0])
    with pytest.raises(PutValueError, match="does not fit"):
        coerce_put_value(ch, "abcdefgh")


def test_atomic_write_keeps_permissions_and_follows_the_umask(tmp_path):
    """Not mkstemp's private 0600: a new file gets 0666 less the umask, a replaced file
    keeps its own mode (a list shared read-only with other operators stays so)."""
    import os

    from pvprobe.core.atomic import atomic_write_text
    old = os.umask(0o022)
    try:
        new = tmp_path / "new.txt"
        atomic_write_text(new, "a\n")
        assert new.stat().st_mode & 0o777 == 0o644
        shared = tmp_path / "shared.txt"
        shared.write_text("x\n")
        os.chmod(shared, 0o664)
        atomic_write_text(shared, "b\n")
        assert shared.stat().st_mode & 0o777 == 0o664 and shared.read_text() == "b\n"
    finally:
        os.umask(old)


def test_atomic_write_removes_stale_temps_of_killed_writers_only(tmp_path):
    import os
    import time

    from pvprobe.core.atomic import STALE_TMP_S, atomic_write_text
    target = tmp_path / "list.txt"
    stale = tmp_path / ".list.txt.abc123.tmp"       # as mkstemp names them
    fresh = tmp_path / ".list.txt.def456.tmp"       # a writer still at work
    other = tmp_path / ".other.txt.ghi789.tmp"      # another file's
    for f in (stale, fresh, other):
        f.write_text("half")
    old = time.time() - STALE_TMP_S - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write_text(target, "a\n")
    assert not stale.exists() and fresh.exists() and other.exists()
    assert target.read_text() == "a\n"
