"""Numbers and bytes as the IOC holds them (issue 12, item 2), on a real EPICS base soft IOC
(``python -m epicscorelibs.ioc``) and on a caproto server serving the same PVs
(``tests/servers/numbers_ioc.py``):

- the command-line twins print floats as caget does (``%g``; ``-e/-f/-g N``; ``--prec``
  for the record's PREC), never rounded to PREC 0; ``--json`` carries every digit;
- ``get --string`` of bytes that are not text prints them escaped (caget -S), not "";
- snapshots keep full precision and restore the exact value;
- the GUI keeps PREC but shows the full value where PREC hides it (probe, table tooltip,
  copied report).
"""

from __future__ import annotations

import codecs
import csv
import json
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from conftest import NUMBERS_PORTS, SERVERS_DIR, ServerProcess
from servers.numbers_ioc import FWAVE, NUL_FIRST, WAVE, random_bytes

pytestmark = pytest.mark.timeout(120)

PREFIX = {"softioc": "PVPNUMS:", "caproto": "PVPNUMC:"}
THIRD = 1 / 3
POINT3 = 0.1 + 0.2            # 0.30000000000000004


def numbers_db(p: str) -> str:
    """EPICS base records with the PVs of ``tests/servers/numbers_ioc.py`` (PREC 0 everywhere: the
    records' default). ``bytes`` starts empty: the db parser cannot take 2,048 constants
    (the fixture writes them)."""
    def const(values) -> str:
        return "{const: [" + ", ".join(repr(v) for v in values) + "]}"

    def wf(name: str, ftvl: str, nelm: int, values=None) -> str:
        inp = f" field(INP, {const(values)}) field(PINI, \"YES\")" if values is not None else ""
        return f'record(waveform, "{p}{name}") {{ field(FTVL, "{ftvl}") field(NELM, "{nelm}"){inp} }}\n'

    db = (wf("wave", "DOUBLE", 64, WAVE) + wf("fwave", "FLOAT", 8, FWAVE)
          + wf("bytes", "UCHAR", 2048) + wf("nul", "CHAR", 16, NUL_FIRST)
          + f'record(ao, "{p}ao") {{ field(VAL, "5.5") }}\n'
          + f'record(ao, "{p}whole") {{ field(VAL, "5") }}\n')
    for i in range(4):
        db += wf(f"w:{i}", "DOUBLE", 64) + f'record(ao, "{p}x:{i}") {{ field(VAL, "0") }}\n'
    return db


@pytest.fixture(scope="session")
def numbers_softioc(ca_repeater: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    db = tmp_path_factory.mktemp("numbers") / "numbers.db"
    db.write_text(numbers_db(PREFIX["softioc"]))
    ioc = ServerProcess([sys.executable, "-m", "epicscorelibs.ioc", "-d", str(db)],
                        NUMBERS_PORTS["softioc"], PREFIX["softioc"], stdin_pipe=True)
    ioc.wait_listening(60)
    from pvprobe.ca.engine import Engine

    eng = Engine()
    try:
        res = eng.put_wait(PREFIX["softioc"] + "bytes", random_bytes(), timeout=10, connect_timeout=20)
    finally:
        eng.close()
    if not res.ok:
        ioc.stop()
        raise RuntimeError(f"could not write the soft IOC's bytes: {res.error}")
    yield ioc
    ioc.stop()


@pytest.fixture(scope="session")
def numbers_caproto(ca_repeater: object) -> Iterator[ServerProcess]:
    ioc = ServerProcess([sys.executable, str(SERVERS_DIR / "numbers_ioc.py"), "--prefix", PREFIX["caproto"],
                         "--interfaces", "127.0.0.1"], NUMBERS_PORTS["caproto"], PREFIX["caproto"])
    ioc.wait_listening(60)
    yield ioc
    ioc.stop()


@pytest.fixture(params=["softioc", "caproto"])
def server(request: pytest.FixtureRequest) -> ServerProcess:
    """The soft IOC, then the caproto server (same PV names under their own prefixes)."""
    return request.getfixturevalue(f"numbers_{request.param}")


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvprobe", *args], capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def ok(*args: str) -> str:
    out = run(*args)
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    return out.stdout


def c(fmt: str, values) -> str:
    """C printf of each value (Python's % follows C for e, f, g)."""
    return " ".join(fmt % float(v) for v in values)


F32 = [float(np.float32(v)) for v in FWAVE]


# -- the command-line twins --------------------------------------------------------------------
def test_get_prints_floats_as_caget_does(server):
    p = server.prefix
    lines = ok("get", p + "wave", p + "fwave", p + "ao", p + "whole").splitlines()
    assert lines[0] == f"{p}wave 64 {c('%g', WAVE)}"     # 0 0.0833333 0.166667 ...
    assert lines[0].startswith(f"{p}wave 64 0 0.0833333 0.166667 0.25 ")
    assert lines[1] == f"{p}fwave 8 {c('%g', F32)}"
    assert lines[2] == f"{p}ao 5.5"
    assert lines[3] == f"{p}whole 5"


@pytest.mark.parametrize("opts, fmt", [(("-e", "3"), "%.3e"), (("-f", "2"), "%.2f"),
                                       (("-g", "10"), "%.10g"), (("--general", "17"), "%.17g"),
                                       (("--fixed", "0"), "%.0f"), (("--prec",), "%.0f")])
def test_format_options_follow_caget(server, opts, fmt):
    p = server.prefix
    lines = ok("get", *opts, p + "wave", p + "ao").splitlines()
    assert lines == [f"{p}wave 64 {c(fmt, WAVE)}", f"{p}ao {fmt % 5.5}"]


def test_put_prints_old_and_new_as_the_ioc_holds_them(server):
    p = server.prefix
    ok("put", p + "x:0", "0")
    assert ok("put", p + "w:0", "1", "2", "3", "4", "5.5").strip().endswith("-> 5 1 2 3 4 5.5")
    assert ok("put", p + "x:0", "2.25").strip() == f"{p}x:0 0 -> 2.25"
    assert ok("put", "-e", "2", p + "x:0", "1e-9").strip() == f"{p}x:0 2.25e+00 -> 1.00e-09"
    assert json.loads(ok("get", "--json", p + "w:0"))[0]["value"] == [1.0, 2.0, 3.0, 4.0, 5.5]


def test_json_carries_every_digit(server):
    p = server.prefix
    data = json.loads(ok("get", "--json", p + "wave", p + "fwave", p + "ao"))
    assert data[0]["value"] == WAVE                      # exact: float == float
    assert data[0]["text"] == f"64 {c('%g', WAVE)}"
    assert data[1]["value"] == F32
    assert data[2]["value"] == 5.5 and data[2]["text"] == "5.5"


def test_monitor_and_info_print_what_the_ioc_holds(server):
    p = server.prefix
    line = ok("monitor", "-n", "1", "--timeout", "10", p + "wave").strip()
    assert line.startswith(p + "wave ") and line.endswith(f" 64 {c('%g', WAVE)}")
    line = ok("monitor", "-n", "1", "--timeout", "10", "-f", "3", p + "ao").strip()
    assert line.endswith(" 5.500")
    info = ok("info", p + "ao").splitlines()
    assert "    Value:            5.5" in info and "    Precision:        0" in info
    assert "    Value:            6" in ok("info", "--prec", p + "ao").splitlines()
    assert "    Value:            5.50" in ok("info", "--fixed", "2", p + "ao").splitlines()


@pytest.mark.parametrize("opts", [("-g", "19"), ("-e", "-1"), ("-f", "x"), ("-e", "2", "-g", "3")])
def test_bad_format_options_are_refused_clearly(opts):
    out = run("get", *opts, "PVPNUMS:ao")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "digits" in out.stderr or "not allowed with" in out.stderr


def test_get_string_shows_bytes_that_are_not_text_escaped(server):
    p = server.prefix
    raw = bytes(random_bytes())
    out = ok("get", "--string", p + "bytes")
    assert out.startswith(p + "bytes ") and out.endswith("\n")
    text = out[len(p) + len("bytes "):-1]
    assert text.startswith("\\x1d")
    assert all(" " <= ch <= "~" for ch in text)          # printable ASCII only
    assert codecs.escape_decode(text.encode("ascii"))[0] == raw   # every byte, exactly
    assert ok("get", "-S", p + "nul") == f"{p}nul \n"       # a NUL first: the empty text
    line = ok("monitor", "-S", "-n", "1", "--timeout", "10", p + "bytes").rstrip("\n")
    assert line.startswith(p + "bytes ") and line.endswith(" " + text)
    data = json.loads(ok("get", "-S", "--json", p + "bytes", p + "nul"))
    assert data[0]["value"] == text and data[0]["text"] == text
    assert data[1]["value"] == "" and data[1]["text"] == ""


# -- snapshots: full precision ------------------------------------------------------------------
def test_snapshot_keeps_full_precision_and_restores_the_exact_value(numbers_softioc, tmp_path):
    p = numbers_softioc.prefix
    ok("put", p + "x:1", repr(POINT3))
    ok("put", p + "x:2", repr(THIRD))
    ok("put", p + "w:1", repr(THIRD), repr(POINT3), "5.5")
    snap = tmp_path / "s.csv"
    ok("snapshot", "save", p + "x:1", p + "x:2", p + "w:1", "-o", str(snap))
    rows = {r["name"]: r for r in csv.DictReader(line for line in snap.read_text().splitlines()
                                                 if not line.startswith("#"))}
    assert rows[p + "x:1"]["value"] == "0.30000000000000004"
    assert rows[p + "x:2"]["value"] == "0.3333333333333333"
    assert rows[p + "w:1"]["value"] == "0.3333333333333333 0.30000000000000004 5.5"
    assert float(rows[p + "x:1"]["value"]) == POINT3 and float(rows[p + "x:2"]["value"]) == THIRD
    for name in ("x:1", "x:2"):
        ok("put", p + name, "0")
    ok("put", p + "w:1", "0")
    ok("snapshot", "restore", str(snap), "--yes")
    data = json.loads(ok("get", "--json", p + "x:1", p + "x:2", p + "w:1"))
    assert [d["value"] for d in data] == [POINT3, THIRD, [THIRD, POINT3, 5.5]]


# -- the GUI: PREC stays, the full value where PREC hides it ---------------------------------------
@pytest.fixture
def numbers_bridge(qtbot, server) -> Iterator[object]:
    from pvprobe.ca.engine import Engine
    from pvprobe.qt.bridge import EngineBridge

    eng = Engine(tick_hz=20)
    br = EngineBridge(eng)
    br.start()
    yield br
    br.stop()
    eng.close()


def test_probe_shows_the_full_value_where_prec_hides_it(qtbot, server, numbers_bridge):
    from pvprobe.core.probe_report import report_text
    from pvprobe.qt.probe.probe_panel import ProbePanel

    p = server.prefix
    panel = ProbePanel(numbers_bridge, p + "ao")
    qtbot.addWidget(panel)
    panel.show()
    try:
        qtbot.waitUntil(lambda: panel.state is not None and panel.state.value is not None, timeout=15000)
        qtbot.waitUntil(lambda: panel.value_label.text() == "6", timeout=5000)   # PREC 0 stays
        assert panel.full_label.isVisible() and panel.full_label.text() == "full value: 5.5"
        assert "    Full value:       5.5" in report_text(panel.state).splitlines()

        panel.set_pv(p + "whole")                    # 5.0 with PREC 0 hides nothing
        qtbot.waitUntil(lambda: panel.state is not None and panel.state.name == p + "whole"
                        and panel.state.value is not None, timeout=15000)
        qtbot.waitUntil(lambda: panel.value_label.text() == "5", timeout=5000)
        assert not panel.full_label.isVisible()
        assert "Full value" not in report_text(panel.state)

        panel.set_pv(p + "wave")
        qtbot.waitUntil(lambda: panel.state is not None and panel.state.name == p + "wave"
                        and panel.state.value is not None, timeout=15000)
        qtbot.waitUntil(lambda: panel.full_label.isVisible(), timeout=5000)
        assert panel.value_label.text().startswith("[64] 0 0 0 0 0")
        assert panel.full_label.text().startswith(
            "full value: [64] 0.0 0.08333333333333333 0.16666666666666666 0.25 ")
    finally:
        panel.close_pv()


def test_table_tooltip_gives_the_full_value(server):
    from pvprobe.ca.engine import Engine
    from pvprobe.qt.table.pvtable_model import Col, PVTableModel

    p = server.prefix
    eng = Engine()
    try:
        states = eng.read([p + "ao", p + "whole", p + "wave", p + "fwave"], timeout=10)
    finally:
        eng.close()
    ao, whole, wave, fwave = (states[p + n] for n in ("ao", "whole", "wave", "fwave"))
    assert PVTableModel.display_text(ao, Col.VALUE) == "6"
    assert "full value: 5.5" in PVTableModel.tooltip(ao, Col.VALUE).splitlines()
    assert "full value" not in PVTableModel.tooltip(whole, Col.VALUE)
    tip = PVTableModel.tooltip(wave, Col.VALUE).splitlines()
    full = next(t for t in tip if t.startswith("full value: "))
    assert full.startswith("full value: [64] 0.0 0.08333333333333333 0.16666666666666666")
    # float32 values as the IOC holds them (0.1, not 0.10000000149011612)
    assert "full value: [8] 0.1 0.25 0.33333334 2.5 1e-07 123456.79 -0.5 7.0" in \
        PVTableModel.tooltip(fwave, Col.VALUE).splitlines()


# -- the core formatting, plain Python ------------------------------------------------------------
def test_float_formats_follow_c_printf_and_refuse_bad_digits():
    from pvprobe.core.format import CAGET_FORMAT, EXACT_FORMAT, FloatFormat

    assert [CAGET_FORMAT.text(v) for v in (5.5, 1 / 12, 42.0, 1234567.5, 1e-7)] == \
        ["5.5", "0.0833333", "42", "1.23457e+06", "1e-07"]
    assert [CAGET_FORMAT.text(v) for v in (float("nan"), float("inf"), -float("inf"))] == \
        ["nan", "inf", "-inf"]
    assert FloatFormat("e", 2).text(-0.000123) == "-1.23e-04"
    assert FloatFormat("f", 0).text(2.5) == "2" and FloatFormat("f", 0).text(3.5) == "4"  # C rounds half to even
    assert FloatFormat("prec").text(5.5, 2) == "5.50" and FloatFormat("prec").text(5.5, None) == "5.5"
    assert EXACT_FORMAT.text(POINT3) == "0.30000000000000004"
    assert EXACT_FORMAT.text(float(np.float32(0.1)), native_type="FLOAT") == "0.1"
    assert EXACT_FORMAT.text(0.1, native_type="FLOAT") == "0.1"   # a double is never shortened wrongly
    assert EXACT_FORMAT.text(POINT3, native_type="FLOAT") == "0.30000000000000004"
    for bad in (("g", 19), ("e", -1), ("x", None)):
        with pytest.raises(ValueError):
            FloatFormat(*bad)


def test_full_value_only_where_prec_hides_digits():
    from pvprobe.core.format import full_value_text, precision_hides_value
    from pvprobe.core.pvstate import PVState

    def st(value, prec, native="DOUBLE", nelm=1, **kw):
        return PVState(name="x", value=value, precision=prec, native_type=native, max_count=nelm,
                       connected=True, **kw)

    assert full_value_text(st(5.5, 0)) == "5.5"
    assert full_value_text(st(5.5, 1)) is None and full_value_text(st(5.0, 0)) is None
    assert full_value_text(st(0.125, 2)) == "0.125"
    assert full_value_text(st(float("nan"), 0)) is None and full_value_text(st(float("inf"), 0)) is None
    assert full_value_text(st(5.5, None)) is None                   # no PREC: shown exactly already
    assert full_value_text(st(np.array([1, 2], dtype=np.int32), 0, "LONG", 2)) is None
    assert full_value_text(st(2, 0, "ENUM", enum_strs=("a", "b", "c"))) is None
    assert full_value_text(st(float(np.float32(0.1)), 1, "FLOAT")) is None   # float32 0.1 is "0.1"
    wave = st(np.array(WAVE), 0, nelm=64)
    assert precision_hides_value(wave) and not precision_hides_value(st(np.arange(64.0), 0, nelm=64))
    assert full_value_text(wave, preview=3) == "[64] 0.0 0.08333333333333333 0.16666666666666666 ..."
    assert full_value_text(st(5.5, 0, units="mm"), with_units=True) == "5.5 mm"


def test_char_arrays_escaped_as_caget_dash_s():
    from pvprobe.core.format import char_array_escaped

    def esc(raw: bytes) -> str:
        return char_array_escaped(np.frombuffer(raw, dtype=np.uint8))

    assert esc(b"scan_0001.h5\0\0\0") == "scan_0001.h5"
    assert esc(b"\0not shown") == ""                                 # a NUL first: empty text
    assert esc("Temp 20 °C".encode()) == "Temp 20 °C"                # printable UTF-8 kept
    assert esc(b'a\tb\nc\\d"e\'f\x1d') == 'a\\tb\\nc\\\\d\\"e\\\'f\\x1d'
    raw = bytes(random_bytes())
    text = esc(raw)
    assert text and all(" " <= ch <= "~" for ch in text)
    assert codecs.escape_decode(text.encode("ascii"))[0] == raw
    assert esc(b"\xff\xfe abc") == "\\xff\\xfe abc"
