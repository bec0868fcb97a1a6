"""The probe on the real demo IOC: channel info, record fields per record type, history,
safe puts (menu, limits, strings, arrays, read-only, slow and timed-out puts), the put
log, drag and drop, the plot request, the copied report and ``pvprobe info --fields``."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import NT_PREFIX, PVA_PORTS
from PyQt5.QtCore import QMimeData, QPoint, Qt
from PyQt5.QtGui import QDropEvent, QImage
from PyQt5.QtWidgets import QApplication, QMessageBox

from pvprobe.core.history import History, RunningStats
from pvprobe.core.probe_report import fmt_limits, report_lines
from pvprobe.core.putlog import ENV_VAR, PutLog, jsonable, putlog_path, read_putlog
from pvprobe.core.pvstate import PVState
from pvprobe.core.record_fields import (
    FIELD_ORDER,
    FieldDiscovery,
    candidate_fields,
    field_pv,
    read_record_fields,
    record_name,
)
from pvprobe.qt.probe.probe_panel import ProbePanel, first_name
from pvprobe.qt.probe.put_editor import PutEditor

pytestmark = pytest.mark.timeout(120)

SHOT = "/tmp/probe_shot.png"


@pytest.fixture(autouse=True)
def putlog_file(tmp_path, monkeypatch):
    """Every test writes its own put log, never the user's (independent of conftest)."""
    path = tmp_path / "putlog.jsonl"
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


# -- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def make_probe(qtbot, bridge):
    panels = []

    def make(name=None, confirm=False):
        p = ProbePanel(bridge, name)
        p.confirm_puts = confirm
        qtbot.addWidget(p)
        p.resize(560, 1000)
        p.show()
        panels.append(p)
        return p

    yield make
    for p in panels:
        p.close_pv()


@pytest.fixture
def reader(demo_ioc):
    """A second Engine, without a worker: what the IOC really holds."""
    from pvprobe.ca.engine import Engine
    eng = Engine()
    yield eng
    eng.close()


def connected(qtbot, p: ProbePanel, fields: bool = True, timeout: int = 15000) -> None:
    qtbot.waitUntil(lambda: p.state is not None and p.state.connected and p.state.value is not None,
                    timeout=timeout)
    if fields:
        qtbot.waitUntil(lambda: p.discovery is not None and p.discovery.complete, timeout=timeout)


def accept_dialogs(monkeypatch, answer=QMessageBox.Yes) -> list[str]:
    """Confirmation boxes answer ``answer``; returns the texts they showed."""
    shown: list[str] = []

    def question(parent, title, text, *args, **kwargs):
        shown.append(text)
        return answer
    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return shown


def slow_record_idle(qtbot, reader, name: str) -> None:
    """Wait until ``name`` (the demo's slow record) has finished any earlier put (PACT 0):
    a test that times its own put to it starts from an idle record, whatever ran before."""
    pact = name + ".PACT"
    qtbot.waitUntil(lambda: reader.read([pact], timeout=2)[pact].value == 0, timeout=10000)


def finished(qtbot, editor: PutEditor, timeout: int = 15000):
    qtbot.waitUntil(lambda: not editor.busy and editor.runner.last_result is not None, timeout=timeout)
    return editor.runner.last_result


# -- plain-Python units -------------------------------------------------------------------------
def test_running_stats_match_numpy_and_reset():
    rng = np.random.default_rng(4)
    data = rng.normal(1e6, 3.0, 5000)       # large offset: Welford stays accurate
    rs = RunningStats()
    for x in data:
        rs.add(x)
    assert rs.count == 5000
    assert rs.mean == pytest.approx(np.mean(data), rel=1e-12)
    assert rs.std == pytest.approx(np.std(data, ddof=1), rel=1e-9)
    assert (rs.min, rs.max) == (data.min(), data.max())
    rs.add(float("nan"))
    assert rs.count == 5000 and rs.skipped == 1
    rs.reset()
    assert rs.count == 0 and math.isnan(rs.mean) and rs.snapshot().count == 0
    rs.add(2.0)
    assert rs.std == 0.0 and rs.min == rs.max == 2.0


def test_history_ring_rate_and_non_numeric():
    now = [100.0]
    h = History(ring=5, rate_window=10, clock=lambda: now[0])
    h.add(1.0, 3.0)                       # the initial value: not an update for the rate
    assert h.rate() == 0.0 and h.since_last() == 0.0
    for i in range(10):
        now[0] += 0.5
        h.add(2.0 + i, float(i))
    assert len(h.ring) == 5 and h.values() == [5.0, 6.0, 7.0, 8.0, 9.0]
    assert h.stats.count == 11
    assert h.rate() == pytest.approx(10 / 5.0)
    now[0] += 2.0
    assert h.since_last() == pytest.approx(2.0)
    assert h.add(20.0, "text") is False and h.stats.count == 11 and h.updates == 12
    h.reset()
    assert h.stats.count == 0 and not h.ring


def test_putlog_lines_paths_and_values(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_VAR)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert putlog_path() == tmp_path / "xdg" / "pvprobe" / "putlog.jsonl"
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "my.jsonl"))
    assert putlog_path() == tmp_path / "my.jsonl"
    log = PutLog()
    log.append("X:enum", 0, 2, True, source="probe", enum_strs=("Off", "Standby", "On"))
    log.append("X:wave", np.arange(3.0), [1, 2], False, "no write access", "table")
    log.append("X:big", np.zeros(5000), float("nan"), True, source="restore")
    with open(tmp_path / "my.jsonl", "a") as f:
        f.write('{"time": "2026-01-01T00:00:00", "pv": "torn')       # a crash mid-line
    entries = read_putlog()
    assert [e["pv"] for e in entries] == ["X:enum", "X:wave", "X:big"]
    assert entries[0]["old"] == "Off (0)" and entries[0]["new"] == "On (2)" and entries[0]["result"] == "ok"
    assert entries[1]["old"] == [0.0, 1.0, 2.0] and entries[1]["result"] == "no write access"
    assert entries[2]["old"].startswith("[5000 elements]") and entries[2]["new"] == "nan"
    for e in entries:
        assert e["time"][:4].isdigit() and "T" in e["time"] and e["user"] is not None and e["host"]
    assert jsonable(b"abc") == "abc" and jsonable(np.int16(3)) == 3


def test_putlog_survives_a_crash(tmp_path):
    """Written line by line and flushed: a process killed right after a put keeps its line."""
    path = tmp_path / "crash.jsonl"
    code = ("import os, signal; from pvprobe.core.putlog import PutLog\n"
            f"log = PutLog({str(path)!r}, fsync=False)\n"
            "log.append('A', 1, 2, True, source='cli')\n"
            "log.append('B', 'x', 'y', True, source='cli')\n"
            "os.kill(os.getpid(), signal.SIGKILL)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.returncode == -9
    assert [e["pv"] for e in read_putlog(path)] == ["A", "B"]


def test_record_field_candidates_per_type():
    ai, mbbo, si = candidate_fields("ai"), candidate_fields("mbbo"), candidate_fields("stringin")
    for common in ("DESC", "RTYP", "SCAN", "PINI", "PROC", "DISV", "DISA"):
        assert common in ai and common in mbbo and common in si
    assert {"EGU", "HOPR", "LOPR", "HIHI", "LOLO", "HHSV", "LLSV", "INP"} <= set(ai)
    assert "OUT" not in ai and "DOL" not in ai
    assert {"OUT", "DOL"} <= set(mbbo) and "EGU" not in mbbo and "INP" not in mbbo
    assert "INP" in si and "EGU" not in si and "HIHI" not in si
    assert "CALC" in candidate_fields("calc") and "INP" not in candidate_fields("calc")
    assert candidate_fields("someNewType") == FIELD_ORDER      # unknown: try all, keep what connects
    assert record_name("A:b.VAL") == "A:b" and field_pv("A:b.VAL", "DESC") == "A:b.DESC"


def test_field_discovery_drops_fields_never_found():
    d = FieldDiscovery("R:x")
    assert d.initial() == ["R:x.RTYP"]
    add, remove = d.update(PVState(name="R:x.RTYP", connected=True, ever_connected=True,
                                   value="unknownType", native_type="STRING", max_count=1))
    assert len(add) == len(FIELD_ORDER) - 1 and not remove and not d.complete
    for name in add:
        fld = name.split(".")[1]
        if fld in ("DESC", "SCAN"):
            d.update(PVState(name=name, connected=True, ever_connected=True, value="v"))
        else:
            _, rm = d.update(PVState(name=name, error="not found"))
            assert rm == [name]
    assert d.complete and [f for f, _ in d.present()] == ["DESC", "RTYP", "SCAN"]
    # not an IOC record at all: no RTYP -> a note, no error rows
    d2 = FieldDiscovery("plain")
    d2.initial()
    d2.update(PVState(name="plain.RTYP", error="not found"))
    assert d2.complete and "no record fields" in d2.problem and d2.present() == []


def test_read_record_fields_sync_reads_rtyp_then_its_candidates():
    calls = []

    def read(names):
        calls.append(list(names))
        out = {}
        for n in names:
            fld = n.split(".")[1]
            if fld == "RTYP":
                out[n] = PVState(name=n, connected=True, ever_connected=True, value="bo")
            elif fld == "DOL":           # pretend this IOC lacks one: it is left out
                out[n] = PVState(name=n, error="not found")
            else:
                out[n] = PVState(name=n, connected=True, ever_connected=True, value=0)
        return out
    disc = read_record_fields(read, "R:b.VAL")
    assert calls[0] == ["R:b.RTYP"] and len(calls) == 2
    assert [f for f, _ in disc.present()] == [f for f in candidate_fields("bo") if f != "DOL"]
    assert disc.rtyp == "bo" and disc.dropped == {"DOL"} and disc.complete


def test_report_limits_text():
    assert fmt_limits((float("nan"), float("nan"))) == "not set"
    assert fmt_limits((0.0, 0.0)) == "0 .. 0 (none)"
    assert fmt_limits((-10.0, 10.0)) == "-10 .. 10"
    assert fmt_limits(None) == "-"
    lines = report_lines(PVState(name="N", error="not found"))
    assert lines[1].endswith("not connected") and "not found" in lines[2]


def test_first_name_of_dropped_text():
    assert first_name("  ca://A:b  C:d\n") == "A:b"
    assert first_name("A:b, C:d") == "A:b" and first_name("   ") is None


# -- the probe on the IOC ----------------------------------------------------------------------------
def test_probe_shows_what_the_ioc_serves(qtbot, make_probe, reader, prefix):
    p = make_probe(prefix + "sine")
    connected(qtbot, p)
    ref = reader.read([prefix + "sine"])[prefix + "sine"]
    st = p.state
    assert (st.units, st.precision, st.native_type, st.host) == (ref.units, ref.precision, "DOUBLE", ref.host)
    i = p.info
    assert i["type"].text() == "DBR_DOUBLE" and i["units"].text() == "mm" and i["precision"].text() == "3"
    assert i["host"].text() == ref.host and ":" in ref.host
    assert i["access"].text() == "read/write"
    assert i["display"].text() == "-10 .. 10" and i["alarm"].text() == "-8 .. 8"
    assert i["warning"].text() == "-5 .. 5" and i["control"].text() == "-10 .. 10"
    assert p.value_label.text().endswith(" mm")
    assert "IOC time 20" in p.time_label.text() and "." in p.time_label.text()   # sub-second
    qtbot.waitUntil(lambda: "updates/s" in p.clock_label.text() and p.history.rate() > 3, timeout=5000)
    # every field shown equals the engine's own get of that field
    fields = dict(p.discovery.present())
    got = reader.read([field_pv(prefix + "sine", f) for f in fields])
    for f, fst in fields.items():
        other = got[field_pv(prefix + "sine", f)]
        if f != "PROC":
            assert fst.value == other.value, f
    assert fields["RTYP"].value == "ai" and fields["EGU"].value == "mm"
    assert (fields["LOPR"].value, fields["HOPR"].value) == st.display_limits
    assert (fields["LOLO"].value, fields["HIHI"].value) == st.alarm_limits
    assert (fields["LOW"].value, fields["HIGH"].value) == st.warning_limits
    # the table shows them: menus as their choice, links as text
    m = p.fields_view.model
    assert m.data(m.index(m.row_of("SCAN"), 1)) == ".1 second"
    assert m.data(m.index(m.row_of("HHSV"), 1)) == "MAJOR"
    assert m.data(m.index(m.row_of("INP"), 1)).startswith(prefix + "sine_sim")

    # an enum: all states shown; an array: valid length vs NELM
    p.set_pv(prefix + "enum")
    connected(qtbot, p, fields=False)
    assert p.info["enums"].text() == "0=Off, 1=Standby, 2=On, 3=Fault"
    assert p.editor.kind == "enum" and p.editor.enum_box.count() == 4
    p.set_pv(prefix + "wave")
    connected(qtbot, p, fields=False)
    assert p.info["count"].text().endswith("valid of 2048 (NELM)")
    assert p.value_label.text().startswith("[")


def test_fields_table_lists_existing_fields_only(qtbot, make_probe, engine, prefix):
    """Several probes at once; ai, bo, mbbo, calc, waveform and stringin records differ."""
    kinds = {"ai:000": "ai", "bo:000": "bo", "mbbo:000": "mbbo", "ai:000_sim": "calc",
             "wave": "waveform", "stringin:000": "stringin"}
    panels = {k: make_probe(prefix + k) for k in kinds}
    for p in panels.values():
        connected(qtbot, p)
    shown = {}
    for k, p in panels.items():
        d = p.discovery
        assert d.rtyp == kinds[k] and not d.problem
        assert not d.dropped, f"{k}: {d.dropped}"      # every candidate for the type exists
        names = p.fields_view.model.fields()
        assert names == list(candidate_fields(kinds[k]))
        for f in names:                                  # no error rows: all connected
            assert p.fields_view.model.state_of(f).connected
        shown[kinds[k]] = set(names)
    assert {"HIHI", "HHSV", "EGU", "INP"} <= shown["ai"]
    assert "EGU" not in shown["mbbo"] and {"OUT", "DOL"} <= shown["mbbo"]
    assert "EGU" not in shown["stringin"] and "HIHI" not in shown["stringin"] and "INP" in shown["stringin"]
    assert "CALC" in shown["calc"] and "INP" not in shown["calc"]
    assert "INP" in shown["waveform"] and "HIHI" not in shown["waveform"]
    assert shown["bo"] == set(candidate_fields("bo"))
    assert "bo record" in panels["bo:000"].fields_view.status.text()
    # every add matched by a remove: closing all probes leaves the engine empty
    for p in panels.values():
        p.close_pv()
    qtbot.waitUntil(lambda: engine.debug_summary().channels == 0, timeout=5000)


def test_unknown_fields_are_dropped_quietly_for_a_non_record(qtbot, make_probe, prefix):
    p = make_probe("PVPROBE:NO:SUCH")
    qtbot.waitUntil(lambda: p.discovery.complete, timeout=10000)
    assert "not found" in p.conn_label.text()
    assert p.fields_view.model.rowCount() == 0 and "no record fields" in p.fields_view.status.text()
    assert p.editor.kind == "disconnected"


def test_history_matches_the_values_put(qtbot, make_probe, reader, engine, prefix):
    name = prefix + "ao:090"
    assert reader.put_wait(name, 1.0, timeout=5).ok
    p = make_probe(name)
    connected(qtbot, p, fields=False)
    qtbot.waitUntil(lambda: getattr(engine.debug_info(name), "keep_all", False),
                    timeout=5000)                                          # every update kept
    values = [2.0, -3.5, 10.25, 7.0, 0.5, 0.75]     # all different: an ao posts changes only
    for v in values:
        assert reader.put_wait(name, v, timeout=5).ok
    expected = np.array([1.0] + values)
    qtbot.waitUntil(lambda: p.history.stats.count >= len(expected), timeout=5000)
    s = p.history.stats.snapshot()
    assert s.count == len(expected)
    assert (s.min, s.max) == (expected.min(), expected.max())
    assert s.mean == pytest.approx(expected.mean())
    assert s.std == pytest.approx(expected.std(ddof=1))
    assert p.history.values() == list(expected)
    assert "n = 7" in p.stats_label.text()
    qtbot.waitUntil(lambda: p.sparkline.values() == list(expected), timeout=2000)
    p.reset_history()
    assert p.history.stats.count == 0 and p.sparkline.values() == []
    assert reader.put_wait(name, 4.0, timeout=5).ok
    qtbot.waitUntil(lambda: p.history.stats.count == 1, timeout=5000)
    assert p.history.stats.mean == 4.0


def test_put_with_confirmation_reaches_ioc_and_is_logged(qtbot, make_probe, reader, prefix, putlog_file,
                                                         monkeypatch):
    name = prefix + "setpoint"
    assert reader.put_wait(name, 0.0, timeout=5).ok
    p = make_probe(name, confirm=True)
    assert p.confirm_puts
    connected(qtbot, p, fields=False)
    # "No" sends nothing
    shown = accept_dialogs(monkeypatch, QMessageBox.No)
    p.editor.set_value_text("12.5")
    assert p.editor.submit() is False and p.editor.runner.sent == 0 and len(shown) == 1
    # "Yes" puts, waits for completion, shows the result
    shown = accept_dialogs(monkeypatch)
    p.editor.set_value_text("12.5")
    assert p.editor.submit() is True
    assert "12.5" in shown[0] and name in shown[0] and "now:" in shown[0]
    res = finished(qtbot, p.editor)
    assert res.ok, res.error
    assert reader.read([name])[name].value == 12.5
    assert "Done" in p.editor.message_text
    entries = read_putlog(putlog_file)
    assert len(entries) == 1
    e = entries[0]
    assert (e["pv"], e["old"], e["new"], e["result"], e["source"]) == (name, 0.0, 12.5, "ok", "probe")
    assert reader.put_wait(name, 0.0, timeout=5).ok


def test_enum_put_by_menu(qtbot, make_probe, reader, prefix, putlog_file):
    name = prefix + "enum"
    assert reader.put_wait(name, "Off", timeout=5).ok
    p = make_probe(name)
    connected(qtbot, p, fields=False)
    ed = p.editor
    assert [ed.enum_box.itemText(i) for i in range(ed.enum_box.count())] == ["Off", "Standby", "On", "Fault"]
    ed.set_value_text("On")
    assert ed.enum_box.currentIndex() == 2
    assert ed.submit()
    assert finished(qtbot, ed).ok
    assert reader.read([name])[name].value == 2
    e = read_putlog(putlog_file)[-1]
    assert (e["old"], e["new"]) == ("Off (0)", "On (2)")
    qtbot.waitUntil(lambda: p.value_label.text() == "On", timeout=5000)


def test_out_of_limits_and_bad_values_refused_before_sending(qtbot, make_probe, reader, prefix, putlog_file):
    name = prefix + "setpoint"
    p = make_probe(name)
    connected(qtbot, p, fields=False)
    before = reader.read([name])[name].value
    ed = p.editor
    assert "from -100 to 100 V" in ed.hint.text() and "PREC 2" in ed.hint.text()
    for text, reason in (("150", "outside the control limits -100..100"), ("abc", "not a number"),
                         ("", "no value given")):
        ed.set_value_text(text)
        assert "✖" in ed.message_text                   # told while typing
        assert ed.submit() is False
        assert reason in ed.message_text and "nothing sent" in ed.message_text
    assert ed.runner.sent == 0 and not putlog_file.exists()
    assert reader.read([name])[name].value == before
    ed.set_value_text("1.2345")                           # accepted, with a note on PREC
    assert "PREC 2" in ed.message_text and "1.23" in ed.message_text


def test_strings_arrays_and_char_waveforms(qtbot, make_probe, reader, prefix, putlog_file):
    msg = make_probe(prefix + "message")
    connected(qtbot, msg, fields=False)
    ed = msg.editor
    assert ed.kind == "string" and "39 bytes" in ed.hint.text()
    ed.set_value_text("x" * 41)
    assert ed.submit() is False and "longer than 39" in ed.message_text
    ok_text = "y" * 39
    ed.set_value_text(ok_text)
    assert ed.submit() and finished(qtbot, ed).ok
    assert reader.read([prefix + "message"])[prefix + "message"].value == ok_text
    assert reader.put_wait(prefix + "message", "hello", timeout=5).ok

    wav = make_probe(prefix + "wave:set")
    connected(qtbot, wav, fields=False)
    ed = wav.editor
    assert ed.kind == "array" and "up to 16 numbers" in ed.hint.text()
    ed.set_value_text(", ".join(str(i) for i in range(17)))
    assert ed.submit() is False and "do not fit NELM 16" in ed.message_text
    ed.set_value_text("1, 2 3.5,4")
    assert ed.submit() and finished(qtbot, ed).ok
    np.testing.assert_array_equal(reader.read([prefix + "wave:set"])[prefix + "wave:set"].value,
                                  [1, 2, 3.5, 4])
    assert read_putlog(putlog_file)[-1]["new"] == [1.0, 2.0, 3.5, 4.0]

    fn = make_probe(prefix + "filename:set")
    connected(qtbot, fn, fields=False)
    ed = fn.editor
    assert ed.kind == "text" and "127 bytes" in ed.hint.text()
    ed.set_value_text("/data/" + "z" * 130)
    assert ed.submit() is False and "does not fit 128" in ed.message_text
    long_text = "/data/2026/" + "long_name_" * 10 + ".h5"
    ed.set_value_text(long_text)
    assert ed.submit() and finished(qtbot, ed).ok
    from pvprobe.core.format import char_array_to_text
    got = reader.read([prefix + "filename:set"])[prefix + "filename:set"]
    assert char_array_to_text(got.value) == long_text


def test_read_only_pv_shows_read_only_editor(qtbot, make_probe, prefix, putlog_file):
    p = make_probe(prefix + "readonly")
    connected(qtbot, p)
    ed = p.editor
    assert ed.kind == "readonly" and ed.readonly.isVisible() and not ed.put_button.isEnabled()
    assert "Read-only" in ed.hint.text() and "access security" in ed.hint.text()
    assert ed.readonly.text() == "42.0 V"
    assert ed.submit() is False and "nothing sent" in ed.message_text
    assert p.info["access"].text() == "read-only"
    m = p.fields_view.model
    assert m.rowCount() > 10
    for r in range(m.rowCount()):                       # no field of it is editable either
        assert not (m.flags(m.index(r, 1)) & Qt.ItemIsEditable)
    assert p.fields_view.put_field("DESC", "x") is None and "read-only" in m.note("DESC")
    assert not putlog_file.exists()


def test_slow_put_shows_busy_then_done(qtbot, make_probe, reader, prefix, putlog_file):
    slow_record_idle(qtbot, reader, prefix + "slow")
    p = make_probe(prefix + "slow")
    connected(qtbot, p, fields=False)
    ed = p.editor
    ed.timeout = 10
    assert ed.runner.last_result is None
    ed.set_value_text("2.5")
    assert ed.submit()
    assert ed.busy and not ed.put_button.isEnabled() and ed.busy_bar.isVisible()
    qtbot.waitUntil(lambda: "Putting… waiting for completion" in ed.message_text, timeout=2000)
    # busy until the completion, which the IOC sends after 3 s: not a moment less
    qtbot.waitUntil(lambda: not ed.busy, timeout=10000)
    res = ed.runner.last_result
    assert res is not None, "no longer busy before the put completed"
    assert res.ok and res.seconds >= 2.5
    assert "Done" in ed.message_text and not ed.busy_bar.isVisible() and ed.put_button.isEnabled()
    e = read_putlog(putlog_file)[-1]
    assert e["result"] == "ok" and e["seconds"] >= 2.5


def test_put_timeout_reported_and_logged(qtbot, make_probe, reader, prefix, putlog_file):
    slow_record_idle(qtbot, reader, prefix + "slow")
    p = make_probe(prefix + "slow")
    connected(qtbot, p, fields=False)
    p.put_timeout = 1.0
    p.editor.set_value_text("3")
    assert p.editor.submit()
    res = finished(qtbot, p.editor, timeout=8000)
    assert not res.ok and "timeout" in res.error
    assert "Failed" in p.editor.message_text and "timeout" in p.editor.message_text
    e = read_putlog(putlog_file)[-1]
    assert e["ok"] is False and "timeout" in e["result"] and e["source"] == "probe"
    qtbot.waitUntil(lambda: not p.editor.runner.busy, timeout=5000)


def test_field_edit_puts_to_the_field(qtbot, make_probe, reader, prefix, putlog_file):
    name = prefix + "ao:095"
    p = make_probe(name)
    connected(qtbot, p)
    m = p.fields_view.model
    assert m.flags(m.index(m.row_of("DESC"), 1)) & Qt.ItemIsEditable
    assert not (m.flags(m.index(m.row_of("RTYP"), 1)) & Qt.ItemIsEditable)
    m.setData(m.index(m.row_of("DESC"), 1), "probe test field", Qt.EditRole)
    qtbot.waitUntil(lambda: m.state_of("DESC").value == "probe test field", timeout=5000)
    assert reader.read([name + ".DESC"])[name + ".DESC"].value == "probe test field"
    qtbot.waitUntil(lambda: "put done" in m.note("DESC"), timeout=5000)
    # a menu field by index (the combo box's choice), and a refused value
    hsv = m.state_of("HSV")
    assert hsv.enum_strs[:4] == ("NO_ALARM", "MINOR", "MAJOR", "INVALID")
    m.setData(m.index(m.row_of("HSV"), 1), 2, Qt.EditRole)
    qtbot.waitUntil(lambda: m.state_of("HSV").value == 2, timeout=5000)
    m.setData(m.index(m.row_of("HOPR"), 1), "lots", Qt.EditRole)
    assert "refused" in m.note("HOPR")
    log = read_putlog(putlog_file)
    assert [e["pv"] for e in log] == [name + ".DESC", name + ".HSV"]
    assert log[1]["new"] == "MAJOR (2)"
    for fld, v in (("DESC", ""), ("HSV", 0)):
        assert reader.put_wait(f"{name}.{fld}", v, timeout=5).ok


def test_drop_a_name_and_drag_the_name_out(qtbot, make_probe, prefix):
    p = make_probe(prefix + "sine")
    md = QMimeData()
    md.setText(f"ca://{prefix}enum\n")
    ev = QDropEvent(QPoint(20, 20), Qt.CopyAction, md, Qt.LeftButton, Qt.NoModifier)
    p.dropEvent(ev)
    assert ev.isAccepted() and p.pv_name == prefix + "enum"
    bad = QMimeData()
    bad.setText("ünicode")
    ev = QDropEvent(QPoint(20, 20), Qt.CopyAction, bad, Qt.LeftButton, Qt.NoModifier)
    p.dropEvent(ev)
    assert p.pv_name == prefix + "enum"
    out = p.name_label.mime_data()
    assert out.hasText() and out.text() == prefix + "enum"


def test_plot_button_asks_for_strip_chart_or_waveform(qtbot, make_probe, prefix):
    p = make_probe(prefix + "sine")
    connected(qtbot, p, fields=False)
    assert p.plot_button.text() == "Strip chart"
    with qtbot.waitSignal(p.openPlotRequested, timeout=2000) as sig:
        p.plot_button.click()
    assert sig.args == [prefix + "sine", "strip"]
    p.set_pv(prefix + "wave")
    connected(qtbot, p, fields=False)
    assert p.plot_button.text() == "Waveform"
    with qtbot.waitSignal(p.openPlotRequested, timeout=2000) as sig:
        p.plot_button.click()
    assert sig.args == [prefix + "wave", "waveform"]
    p.set_pv(prefix + "message")
    connected(qtbot, p, fields=False)
    assert not p.plot_button.isEnabled()


def run_cli(*args: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvprobe", *args], capture_output=True, text=True,
                          timeout=60, env=env)


def test_copy_report_equals_cli_info_fields(qtbot, make_probe, prefix):
    name = prefix + "mbbo:003"
    p = make_probe(name)
    connected(qtbot, p)
    text = p.copy_report()
    assert QApplication.clipboard().text() == text
    out = run_cli("info", "--fields", name)
    assert out.returncode == 0, out.stderr
    cli = out.stdout
    for piece in ("Native type:      DBR_ENUM", "Enum states:      0=Zero, 1=One", "Value:            Three (3)",
                  "Record fields (mbbo):", ".SCAN  Passive", ".PINI  YES", ".RTYP  mbbo", "Timestamp:"):
        assert piece in cli and piece in text, piece
    assert ".EGU" not in cli and ".HIHI" not in cli
    # the same lines, apart from what only the live probe knows (rate, last update, history)
    live_only = ("Update rate:", "Last update:", "History:")
    probe_lines = [ln for ln in text.splitlines() if not ln.strip().startswith(live_only)]
    assert probe_lines == cli.splitlines()
    # an ai record: limits and links in the report
    out = run_cli("info", "--fields", prefix + "ai:001")
    assert ".HIHI  90.000" in out.stdout and f".INP   {prefix}ai:001_sim" in out.stdout
    assert "Record fields (ai):" in out.stdout


@pytest.mark.parametrize("which", ["qsrv2 mbbo", "p4p table"])
def test_copy_report_of_a_pva_pv_equals_cli_info(qtbot, make_probe, prefix, pva_nt_server, which):
    """One PVA layout for both (core.probe_report): no CA host or DBR_ prefix, the protocol,
    type id and the server a name search found, then the field tree."""
    name, server = {"qsrv2 mbbo": (f"pva://{prefix}mbbo:003", f"127.0.0.1:{PVA_PORTS['demo'][0]}"),
                    "p4p table": (f"pva://{NT_PREFIX}table", f"127.0.0.1:{pva_nt_server.port}")}[which]
    p = make_probe(name)
    connected(qtbot, p, fields=False)
    qtbot.waitUntil(lambda: p.state.host == server, timeout=10000)      # searched off the GUI thread
    text = p.copy_report()
    out = run_cli("info", name)
    assert out.returncode == 0, out.stderr
    live_only = ("Update rate:", "Last update:", "History:")
    probe_lines = [ln for ln in text.splitlines() if not ln.strip().startswith(live_only)]
    assert probe_lines == out.stdout.splitlines()
    for piece in (f"    Server:           {server}", "    Protocol:         pvAccess", "    Fields:"):
        assert piece in probe_lines, piece
    assert not any(ln.strip().startswith("Host:") or "DBR_" in ln for ln in probe_lines)


def test_cli_put_is_logged(demo_ioc, prefix, putlog_file):
    env = dict(os.environ)
    out = run_cli("put", prefix + "ao:091", "7.5", env=env)
    assert out.returncode == 0, out.stderr
    out = run_cli("put", prefix + "readonly", "1", env=env)
    assert out.returncode == 1
    entries = read_putlog(putlog_file)
    assert [(e["pv"], e["new"], e["ok"], e["source"]) for e in entries] == [
        (prefix + "ao:091", 7.5, True, "cli"), (prefix + "readonly", 1.0, False, "cli")]
    assert "read-only" in entries[1]["result"]


def test_probe_screenshot_is_not_blank(qtbot, make_probe, prefix):
    p = make_probe(prefix + "sine")
    p.resize(560, 1180)
    connected(qtbot, p)
    qtbot.waitUntil(lambda: len(p.history.values()) >= 10, timeout=5000)
    paints = p.sparkline.paints
    qtbot.waitUntil(lambda: p.sparkline.paints > paints, timeout=5000)   # the newest history drawn
    img = p.grab().toImage()
    assert img.save(SHOT)
    small = img.scaled(140, 295).convertToFormat(QImage.Format_RGB32)
    colours = {small.pixel(x, y) for x in range(small.width()) for y in range(small.height())}
    assert len(colours) > 30
    assert p.sparkline.paints > 0
