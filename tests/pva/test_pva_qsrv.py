"""One pythonSoftIOC IOC, its records served over CA and over pvAccess (QSRV2): the
engine reads the same things both ways (tests/servers/qsrv_ioc.py, fixture ``qsrv_ioc``)."""

from __future__ import annotations

import time

import pytest
from conftest import QSRV_PREFIX

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True, params=["p4p", "fast"])
def pva_path(request, monkeypatch):
    """Each test on p4p's monitors and again with every channel on the C++ fast path
    (pvprobe.pva.fast; channels it does not suit leave it for p4p)."""
    monkeypatch.setenv("PVPROBE_PVA_FAST", "always" if request.param == "fast" else "never")
    return request.param

RECORDS = ("temp", "hot", "count", "mode", "state", "on", "msg", "wave", "text")


@pytest.fixture
def eng(qsrv_ioc):
    from pvprobe.ca.engine import Engine

    e = Engine(tick_hz=20)
    yield e
    e.close()


def both(eng, records=RECORDS) -> tuple[dict, dict]:
    """(CA states, PVA states) of ``records``, keyed by record name."""
    ca_names = [QSRV_PREFIX + r for r in records]
    pva_names = ["pva://" + n for n in ca_names]
    st = eng.read(ca_names + pva_names, timeout=10)
    return ({r: st[QSRV_PREFIX + r] for r in records}, {r: st["pva://" + QSRV_PREFIX + r] for r in records})


def test_values_alarms_and_metadata_agree(eng):
    ca, pva = both(eng)
    for r in RECORDS:
        c, p = ca[r], pva[r]
        assert c.connected and p.connected, r
        assert c.protocol == "ca" and p.protocol == "pva"
        assert c.severity == p.severity and c.status_name == p.status_name, r
        assert c.native_type == p.native_type or (r == "text" and p.native_type == "CHAR"), \
            (r, c.native_type, p.native_type)
        if r not in ("wave", "text"):
            assert c.value == p.value, (r, c.value, p.value)
        assert abs(c.timestamp - p.timestamp) < 1e-6, r
    assert ca["hot"].severity == 2 and pva["hot"].status_name == "HIHI"
    for r in ("temp", "hot", "count"):
        c, p = ca[r], pva[r]
        assert c.units == p.units and c.display_limits == p.display_limits, r
    assert ca["temp"].precision == pva["temp"].precision == 2
    assert ca["temp"].alarm_limits == pva["temp"].alarm_limits == (5, 90)
    assert ca["temp"].warning_limits == pva["temp"].warning_limits == (10, 80)
    for r in ("mode", "state", "on"):
        assert ca[r].enum_strs == pva[r].enum_strs and ca[r].value == pva[r].value, r
    assert list(ca["wave"].value) == list(pva["wave"].value) == [1.5, 2.5, 3.5, 4.5, 5.5]
    assert bytes(ca["text"].value).split(b"\0")[0] == bytes(pva["text"].value).split(b"\0")[0] == b"abc"


def wait_value(eng_factory, name: str, want, timeout: float = 10.0):
    """The value of ``name`` read by fresh engines until it equals ``want`` (bounded)."""
    deadline = time.monotonic() + timeout
    got = None
    while time.monotonic() < deadline:
        e = eng_factory()
        try:
            got = e.read([name], timeout=5)[name].value
        finally:
            e.close()
        if got == want:
            return got
        time.sleep(0.1)  # ok-sleep: polling an IOC with a deadline
    raise AssertionError(f"{name} is {got!r}, not {want!r} after {timeout} s")


def test_put_over_pva_is_seen_over_ca_and_back(qsrv_ioc):
    from pvprobe.ca.engine import Engine

    e = Engine(tick_hz=20)
    try:
        res = e.put_wait("pva://" + QSRV_PREFIX + "count", 123)
        assert res.ok, res.error
        wait_value(Engine, QSRV_PREFIX + "count", 123)
        res = e.put_wait(QSRV_PREFIX + "count", 456)
        assert res.ok, res.error
        wait_value(Engine, "pva://" + QSRV_PREFIX + "count", 456)
        res = e.put_wait("pva://" + QSRV_PREFIX + "mode", "Fault")
        assert res.ok, res.error
        wait_value(Engine, QSRV_PREFIX + "mode", 2)
        res = e.put_wait(QSRV_PREFIX + "mode", "Idle")
        assert res.ok, res.error
        wait_value(Engine, "pva://" + QSRV_PREFIX + "mode", 0)
    finally:
        e.put_wait(QSRV_PREFIX + "count", 7)
        e.put_wait(QSRV_PREFIX + "mode", "Run")
        e.close()


def test_put_outside_the_control_limits_is_refused_the_same_way_over_both(eng):
    """The longout's DRVL..DRVH come as control limits over CA and over PVA alike: a
    put outside them is refused before it is sent, with the same message."""
    ca = eng.put_wait(QSRV_PREFIX + "count", 5000)
    pva = eng.put_wait("pva://" + QSRV_PREFIX + "count", 5000)
    assert not ca.ok and not pva.ok
    assert ca.error == pva.error and "control limits 0..1000" in ca.error
    bad = eng.put_wait("pva://" + QSRV_PREFIX + "mode", "Nope")
    assert not bad.ok and bad.error == eng.put_wait(QSRV_PREFIX + "mode", "Nope").error
    ca_st, pva_st = both(eng, ("count", "mode"))
    assert ca_st["count"].value == pva_st["count"].value == 7
    assert ca_st["mode"].value == pva_st["mode"].value == 1


def test_text_put_to_a_char_waveform_over_pva_is_not_held_to_its_current_length(qsrv_ioc):
    """Over PVA a CHAR waveform's count is its current length (NELM is not sent): a longer
    text still goes (the IOC holds NELM 32), and CA reads it back."""
    from pvprobe.ca.engine import Engine
    from pvprobe.core.format import char_array_to_text

    e = Engine(tick_hz=20)
    try:
        assert e.read(["pva://" + QSRV_PREFIX + "text"], timeout=10)["pva://" + QSRV_PREFIX + "text"].count == 4
        res = e.put_wait("pva://" + QSRV_PREFIX + "text", "hello world")
        assert res.ok, res.error
        deadline = time.monotonic() + 10
        while True:
            fresh = Engine(tick_hz=20)
            try:
                st = fresh.read([QSRV_PREFIX + "text"], timeout=5)[QSRV_PREFIX + "text"]
            finally:
                fresh.close()
            if char_array_to_text(st.value) == "hello world" or time.monotonic() > deadline:
                break
            time.sleep(0.1)  # ok-sleep: polling an IOC with a deadline
        assert char_array_to_text(st.value) == "hello world"
    finally:
        e.put_wait(QSRV_PREFIX + "text", "abc")
        e.close()
