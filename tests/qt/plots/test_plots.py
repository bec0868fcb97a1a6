"""Waveform plot and strip chart on the real demo IOC: valid-length arrays, an array
as x, gaps on IOC death and restart, bounded ring buffers, CSV/PNG exports, screenshots."""

from __future__ import annotations

import csv
import math
import os

import numpy as np
import pytest
from PyQt5.QtCore import QMimeData, QPoint, Qt
from PyQt5.QtGui import QDropEvent, QImage

from pvprobe.core.ringbuffer import SEV_DISCONNECTED, RingBuffer, bytes_for, capacity_for
from pvprobe.core.waveform_data import (
    columns_csv,
    finite_range,
    minmax_decimate,
    samples_csv,
    valid_elements,
    visible_slice,
)

pytestmark = pytest.mark.timeout(180)

SHOTS = "/tmp/pvprobe-plots"


def _image_is_not_blank(path: str) -> bool:
    img = QImage(path)
    assert not img.isNull(), f"{path} does not load"
    img = img.convertToFormat(QImage.Format_RGB32)
    ptr = img.constBits()
    ptr.setsize(img.byteCount())
    a = np.frombuffer(ptr, np.uint8).reshape(img.height(), img.bytesPerLine())
    return len(np.unique(a[:, : img.width() * 4].reshape(-1, 4)[:, :3], axis=0)) > 5


# -- waveform plot ----------------------------------------------------------------------------

@pytest.fixture
def wplot(qtbot, bridge):
    from pvprobe.qt.plots.waveform_plot import WaveformPlot
    w = WaveformPlot(bridge)
    qtbot.addWidget(w)
    w.resize(1000, 600)
    w.show()
    yield w
    w.close_pvs()


def test_waveform_variable_length(qtbot, wplot, prefix, tmp_path):
    name = f"{prefix}wave"
    wplot.add_pvs([name])
    tr = wplot._traces[name]
    qtbot.waitUntil(lambda: tr.shown is not None and tr.state.count > 0, timeout=15000)
    # several different lengths arrive (the demo's wave changes length 4 times a second)
    seen = set()
    buckets = max(64, int(wplot.vb.width()))

    def lengths_seen():
        st = tr.state
        if tr.shown is not None and st is not None and st.count:
            assert len(tr.shown) == st.count                    # only the valid elements
            x, y = tr.curve.getData()
            assert x[0] == 0 and x[-1] == st.count - 1          # drawn extent = valid length
            if st.count <= 2 * buckets:
                assert len(x) == st.count                       # every point, as is
            else:
                assert len(x) <= 3 * buckets + 1               # min/max per pixel column
                assert np.nanmax(y) == np.nanmax(tr.shown) and np.nanmin(y) == np.nanmin(tr.shown)
            seen.add(st.count)
        return len(seen) >= 3 and max(seen) > 2 * buckets and min(seen) <= 2 * buckets
    qtbot.waitUntil(lengths_seen, timeout=40000)
    assert tr.state.max_count == 2048
    assert f"{tr.state.count}/2048" in wplot.info.text() or "/2048" in wplot.info.text()
    os.makedirs(SHOTS, exist_ok=True)
    shot = os.path.join(SHOTS, "waveform.png")
    wplot.grab().save(shot)
    assert _image_is_not_blank(shot)


def test_waveform_array_as_x(qtbot, wplot, prefix, tmp_path):
    name, xname = f"{prefix}wave", f"{prefix}wave:x"
    wplot.add_pvs([name])
    wplot.set_x_pv(xname)
    assert wplot.x_pv() == xname
    tr = wplot._traces[name]

    def plotted_against_x():
        x, y = tr.curve.getData()
        xs = wplot._x.shown
        if xs is None or tr.shown is None or x is None or not len(x):
            return False
        return len(xs) == len(tr.shown) and math.isclose(np.nanmax(x), 1000.0) and np.nanmin(x) == 0.0
    qtbot.waitUntil(plotted_against_x, timeout=15000)
    assert wplot._x.monotonic
    # crosshair readout: the point nearest x=1000 ms is the last valid element
    i, v = wplot.value_at(name, 1000.0)
    assert i == len(tr.shown) - 1 and v == tr.shown[-1]
    # CSV of the shown data: x column from the x PV, y column the valid elements
    wplot.set_frozen(True)
    path = tmp_path / "wave.csv"
    rows = wplot.export_csv(str(path))
    with open(path) as f:
        table = list(csv.reader(f))
    assert table[0] == [f"x:{xname}", name]
    assert rows == len(table) - 1 == len(tr.shown)
    assert float(table[-1][0]) == 1000.0
    assert np.allclose([float(r[1]) for r in table[1:]], tr.shown)
    png = tmp_path / "wave.png"
    wplot.export_png(str(png))
    assert _image_is_not_blank(str(png))
    # back to index: the element index again
    wplot.set_frozen(False)
    wplot.set_x_pv(None)
    qtbot.waitUntil(lambda: tr.curve.getData()[0] is not None and len(tr.curve.getData()[0])
                    and np.nanmax(tr.curve.getData()[0]) == len(tr.shown) - 1, timeout=10000)
    os.makedirs(SHOTS, exist_ok=True)
    wplot.grab().save(os.path.join(SHOTS, "waveform_index.png"))


def test_waveform_freeze_counts_and_close(qtbot, wplot, bridge, prefix):
    name = f"{prefix}wave"
    wplot.add_pvs([name, name])          # duplicates ignored: one add, one remove
    assert wplot.pv_names() == [name]
    qtbot.waitUntil(lambda: wplot.stats()["frames_drawn"] >= 2, timeout=15000)
    wplot.set_frozen(True)
    frozen = wplot._traces[name].shown
    drawn = wplot.stats()["redraws"]
    got = wplot.stats()["updates_received"]
    qtbot.waitUntil(lambda: wplot.stats()["updates_received"] >= got + 2, timeout=10000)
    assert wplot._traces[name].shown is frozen and wplot.stats()["redraws"] == drawn
    wplot.set_frozen(False)
    assert wplot._traces[name].shown is not frozen
    s = wplot.stats()
    assert s["plotted_pvs"] == [name] and s["updates_received"] >= s["frames_drawn"] >= 2
    # NaN-safe ranges and log y do not raise
    wplot.set_log_y(True)
    wplot.redraw(all_traces=True)
    wplot.set_log_y(False)
    # the channel is closed when the plot goes away
    wplot.close_pvs()
    qtbot.waitUntil(lambda: bridge.engine.debug_info(name) is None, timeout=5000)


def test_plot_drop_text_adds_pvs(qtbot, bridge, prefix):
    from pvprobe.qt.plots.strip_chart import StripChart
    from pvprobe.qt.plots.waveform_plot import WaveformPlot
    for cls, names in ((WaveformPlot, [f"{prefix}wave"]), (StripChart, [f"{prefix}sine", f"{prefix}ai:000"])):
        w = cls(bridge)
        qtbot.addWidget(w)
        md = QMimeData()
        md.setText("\n".join(names) + "\nbad'name")
        ev = QDropEvent(QPoint(5, 5), Qt.CopyAction, md, Qt.LeftButton, Qt.NoModifier)
        w.dropEvent(ev)
        assert w.pv_names() == names
        w.close_pvs()


# -- strip chart --------------------------------------------------------------------------------

@pytest.fixture
def chart(qtbot, bridge):
    from pvprobe.qt.plots.strip_chart import StripChart
    w = StripChart(bridge, span_s=30, redraw_hz=10)
    qtbot.addWidget(w)
    w.resize(1200, 600)
    w.show()
    yield w
    w.close_pvs()


def test_strip_chart_ioc_timestamps_alarms_and_exports(qtbot, chart, prefix, tmp_path):
    names = [f"{prefix}sine", f"{prefix}ai:000", f"{prefix}ai:001", f"{prefix}heartbeat"]
    chart.add_pvs(names)
    ring = chart.ring(f"{prefix}sine")
    # sine is 10 Hz with alarm limits ±5/±8: wait for several alarm states
    qtbot.waitUntil(lambda: len(ring) >= 60 and set(ring.view()[2].tolist()) >= {0, 1, 2}, timeout=30000)
    t, v, s = ring.view()
    assert np.all(np.diff(t) > 0)                       # IOC timestamps, in order
    assert np.all(np.diff(t) < 0.5)                     # every 0.1 s update kept
    # the demo sine steps 2π/100 per 0.1 s: consecutive samples follow the curve (none lost)
    assert np.abs(np.diff(v)).max() < 10 * 2 * np.pi / 100 + 1e-6
    assert chart.stats()["updates_received"] >= 60
    chart.set_own_axis(f"{prefix}heartbeat", True)
    qtbot.waitUntil(lambda: chart.stats()["frames_drawn"] >= 3, timeout=10000)
    m = chart._series[f"{prefix}sine"].markers
    assert m.get(2) is not None and len(m[2].getData()[0]) > 0   # MAJOR dots drawn
    os.makedirs(SHOTS, exist_ok=True)
    shot = os.path.join(SHOTS, "stripchart.png")
    chart.grab().save(shot)
    assert _image_is_not_blank(shot)
    # pause: the time axis stays, data keeps coming
    chart.set_paused(True)
    r0 = chart.visible_range()
    n0 = len(ring)
    # the window: samples keep coming (~1 s), over many redraw ticks that would scroll
    qtbot.waitUntil(lambda: len(ring) >= n0 + 8, timeout=5000)
    assert chart.visible_range() == r0
    # export what is visible
    path = tmp_path / "strip.csv"
    n = chart.export_csv(str(path))
    with open(path) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == n > 0
    sine_rows = [r for r in rows if r["pv"] == f"{prefix}sine"]
    ts = np.array([float(r["timestamp"]) for r in sine_rows])
    assert r0[0] <= ts.min() and ts.max() <= r0[1]
    assert {r["severity"] for r in sine_rows} <= {"NO_ALARM", "MINOR", "MAJOR"}
    png = tmp_path / "strip.png"
    chart.export_png(str(png))
    assert _image_is_not_blank(str(png))
    chart.go_live()
    assert not chart.is_paused()


def test_strip_chart_gap_on_disconnect(qtbot, chart, restartable_ioc):
    name = "PVPRST:sine"
    chart.add_pvs([name])
    ring = chart.ring(name)
    qtbot.waitUntil(lambda: len(ring) >= 10, timeout=20000)
    restartable_ioc.stop()               # kill the IOC
    qtbot.waitUntil(lambda: ring.last_is_gap, timeout=60000)
    t_gap = ring.last_time
    n_before = int(np.sum(~np.isnan(ring.view()[1])))
    restartable_ioc.start(timeout=60)
    qtbot.waitUntil(lambda: len(ring) >= n_before + 10 + 1, timeout=60000)
    t, v, s = ring.view()
    gaps = np.nonzero(np.isnan(v))[0]
    assert len(gaps) == 1 and s[gaps[0]] == SEV_DISCONNECTED
    near = slice(gaps[0] - 2, gaps[0] + 3)
    assert t[gaps[0] - 1] < t_gap < t[gaps[0] + 1], (t[near].tolist(), t_gap, v[near].tolist())
    # the curve handed to pyqtgraph keeps the NaN, so no line joins the two sides
    chart.show_range(t[0] - 1, t[-1] + 1)
    x, y = chart._series[name].curve.getData()
    assert np.isnan(y).sum() == 1
    assert chart.stats()["gaps"] == 1
    os.makedirs(SHOTS, exist_ok=True)
    chart.grab().save(os.path.join(SHOTS, "stripchart_gap.png"))


# -- pure units ------------------------------------------------------------------------------------

def test_ring_buffer_bounded():
    cap = 1000
    r = RingBuffer(cap)
    nbytes = r.nbytes
    assert nbytes == bytes_for(cap)
    t = 0.0
    for chunk in (1, 7, 999, 1000, 5000, 3):
        for _ in range(50):
            ts = t + np.arange(chunk) * 0.1
            r.extend(ts, np.sin(ts), np.zeros(chunk, np.int8))
            t = ts[-1] + 0.1
            assert len(r) <= cap and r.nbytes == nbytes
    for i in range(100_000):
        r.append(t + i * 0.1, i, i % 4)
    assert len(r) == cap and r.nbytes == nbytes
    tt, vv, ss = r.view()
    assert np.all(np.diff(tt) > 0) and vv[-1] == 99_999 and vv[0] == 99_000
    assert r.total == r.dropped + cap
    # gap: one NaN after the last sample, never two in a row
    assert r.add_gap() and not r.add_gap()
    assert r.last_is_gap and np.isnan(r.view()[1][-1]) and r.view()[2][-1] == SEV_DISCONNECTED
    # window and value_at
    t_last = tt[-1]
    w = r.window(t_last - 1.0, t_last)
    assert 10 <= len(w[0]) <= 13
    assert r.value_at(t_last)[1] == 99_999
    r.resize(10)
    assert len(r) == 10 and r.capacity == 10
    assert capacity_for(600, 10) == 7500 and capacity_for(1, 0.1) >= 1


def test_waveform_helpers():
    y = np.sin(np.linspace(0, 20, 100_001))
    y[500:600] = np.nan
    x, d = minmax_decimate(None, y, 500)
    assert len(d) <= 3 * 501 + 1 and np.nanmax(d) == np.nanmax(y) and np.nanmin(d) == np.nanmin(y)
    assert x[-1] == len(y) - 1 and d[-1] == y[-1]                    # drawn extent = data extent
    assert np.isnan(d).any()                               # the NaN run stays a gap
    assert finite_range(np.array([np.nan, 1.0, -2.0, np.inf])) == (-2.0, 1.0)
    assert finite_range(np.array([np.nan])) is None
    assert valid_elements(np.arange(10.0), 4).tolist() == [0, 1, 2, 3]
    assert valid_elements(np.array(["a"])) is None and valid_elements(None) is None
    assert visible_slice(None, 100, 10.2, 20.7, pad=0) == slice(11, 21)
    assert visible_slice(None, 100, 10.2, 20.7) == slice(10, 22)
    text = columns_csv(["i", "a"], [np.arange(3), np.array([1.5, np.nan])])
    assert text.splitlines() == ["i,a", "0,1.5", "1,", "2,"]
    s = samples_csv([("P,1", np.array([1.0, 2.0]), np.array([3.0, np.nan]), np.array([1, 4], np.int8))])
    rows = list(csv.reader(s.splitlines()))
    assert rows[1][0] == "P,1" and rows[1][3] == "3.0" and rows[1][4] == "MINOR"
    assert rows[2][3] == "" and rows[2][4] == "DISCONNECTED"


def test_strip_chart_refuses_text_and_arrays_clearly(qtbot, chart, prefix):
    text_pv, wave_pv, num_pv = f"{prefix}stringin:000", f"{prefix}wave", f"{prefix}ai:002"
    chart.add_pvs([text_pv, wave_pv, num_pv])
    qtbot.waitUntil(lambda: len(chart.ring(num_pv)) >= 1 and all(
        chart._series[n].state is not None and chart._series[n].state.connected for n in (text_pv, wave_pv)),
        timeout=15000)
    def table_filled() -> bool:                       # the side table refreshes twice a second
        rows = {chart.table.item(r, 0).text(): r for r in range(chart.table.rowCount())
                if chart.table.item(r, 0) is not None}
        return all(n in rows and chart.table.item(rows[n], 1) is not None
                   and chart.table.item(rows[n], 1).text() != "" for n in (text_pv, wave_pv, num_pv))
    qtbot.waitUntil(table_filled, timeout=5000)
    assert len(chart.ring(text_pv)) == 0 and len(chart.ring(wave_pv)) == 0
    row = {chart.table.item(r, 0).text(): r for r in range(chart.table.rowCount())}
    assert chart.table.item(row[text_pv], 1).text().startswith("not plottable: text")
    assert "array" in chart.table.item(row[wave_pv], 1).text()
    assert chart.table.item(row[num_pv], 1).text() != ""
    assert chart.remove_pv(wave_pv) and wave_pv not in chart.pv_names()
    assert "MiB" in chart.memory_label.text() and "7,500 samples per PV" in chart.memory_label.text()
    chart.set_span(86400 * 10)                        # clamped to 24 h, rings resized
    assert chart.span() == 86400 and chart.ring(num_pv).capacity == chart.capacity() == 1_080_000
    chart.memory_budget = 2 ** 20                     # 1 MiB for all: fewer samples, said so
    chart.set_span(3600)
    assert chart.ring(num_pv).capacity == chart.capacity() < 36_000
    assert chart.bytes_per_pv() * len(chart.pv_names()) <= 2 ** 20
    assert "≈ " in chart.memory_label.text()


def test_waveform_nan_and_log_y(qtbot, wplot, bridge, prefix):
    """NaN in an array (put into the IOC's wave:set) is a gap, ranges ignore it, log y
    drops values <= 0."""
    name = f"{prefix}wave:set"
    wplot.add_pvs([name])
    tr = wplot._traces[name]
    qtbot.waitUntil(lambda: tr.state is not None and tr.state.connected and tr.state.write_access,
                    timeout=15000)
    values = [1.0, 2.0, float("nan"), 4.0, -1.0, 0.0, 10.0, 100.0]
    bridge.put(name, values)
    qtbot.waitUntil(lambda: tr.shown is not None and len(tr.shown) >= 8 and np.isnan(tr.shown[2]),
                    timeout=15000)
    x, y = tr.curve.getData()
    assert np.isnan(y[2]) and y[7] == 100.0
    (_, _), (y0, y1) = wplot.vb.viewRange()
    assert y0 <= -1.0 and y1 >= 100.0 and math.isfinite(y0) and math.isfinite(y1)
    wplot.set_log_y(True)
    x, y = tr.curve.getData()
    assert np.isnan(y[4]) and np.isnan(y[5]) and y[7] == 2.0        # log10; <= 0 dropped
    (_, _), (ly0, ly1) = wplot.vb.viewRange()
    assert ly0 <= 0.0 and ly1 >= 2.0                                # log10 space: 1 .. 100
    assert f"{tr.state.count}/16" in wplot.info.text()
    wplot.set_log_y(False)
    bridge.put(name, [0.0])


def test_waveform_bad_names_say_why(qtbot, wplot, prefix):
    wplot.add_pvs([f"{prefix}no:such:array", f"{prefix}ai:000"])
    wplot.set_x_pv(f"{prefix}no:such:x")
    qtbot.waitUntil(lambda: "not found" in wplot.info.text() and "scalar" in wplot.info.text(),
                    timeout=15000)
    text = wplot.info.text()
    assert f"{prefix}no:such:array" in text and f"x = {prefix}no:such:x" in text


def test_strip_chart_static_and_shared_pvs_get_their_value(qtbot, chart, bridge, prefix):
    """A PV that never changes still shows its value (at its IOC timestamp), whether the
    chart opened the channel or another view had it open already (no new monitor event)."""
    own, shared = f"{prefix}ao:005", f"{prefix}ao:006"
    seen = {}
    bridge.add_consumer(lambda b: seen.update({s.name: s for s in b.states if s.value is not None}))
    bridge.add([shared])
    qtbot.waitUntil(lambda: shared in seen, timeout=15000)
    chart.add_pvs([own, shared])
    qtbot.waitUntil(lambda: len(chart.ring(own)) == 1 and len(chart.ring(shared)) == 1, timeout=15000)
    assert chart.ring(own).view()[1][0] == 5.0 and chart.ring(shared).view()[1][0] == 6.0
    assert chart.ring(shared).view()[0][0] == seen[shared].timestamp     # IOC time, not arrival
    beats = []
    bridge.add_consumer(lambda b: beats.extend(s for s in b.states if s.name == prefix + "heartbeat"))
    bridge.add([prefix + "heartbeat"])
    # the window: two heartbeats (1 Hz) in later batches, in which a repeat would have come
    qtbot.waitUntil(lambda: len(beats) >= 3, timeout=10000)
    assert len(chart.ring(own)) == 1                                    # no repeats
    bridge.remove([prefix + "heartbeat"])
    bridge.remove([shared])


def test_strip_chart_wheel_zoom_pauses_and_live_resumes(qtbot, chart, prefix):
    from PyQt5.QtCore import QPointF
    from PyQt5.QtGui import QWheelEvent
    from PyQt5.QtWidgets import QApplication
    name = f"{prefix}sine"
    chart.add_pvs([name])
    qtbot.waitUntil(lambda: len(chart.ring(name)) >= 20, timeout=15000)
    assert not chart.is_paused()
    span0 = chart.visible_range()[1] - chart.visible_range()[0]
    vp = chart.plot.viewport()
    pos = QPointF(vp.width() / 2, vp.height() / 2)
    ev = QWheelEvent(pos, vp.mapToGlobal(pos.toPoint()), QPoint(0, 0), QPoint(0, 240), Qt.NoButton,
                     Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(vp, ev)                       # the user zooms in with the wheel
    qtbot.waitUntil(chart.is_paused, timeout=5000)
    r = chart.visible_range()
    assert r[1] - r[0] < span0 * 0.95                    # zoomed in, and it stays there
    n = len(chart.ring(name))
    qtbot.waitUntil(lambda: len(chart.ring(name)) >= n + 5, timeout=5000)   # while samples come
    assert chart.visible_range() == r
    chart.go_live()
    assert not chart.is_paused()
    qtbot.waitUntil(lambda: abs((chart.visible_range()[1] - chart.visible_range()[0]) - chart.span()) < 1e-3,
                    timeout=5000)


def test_waveform_hidden_skips_redraws(qtbot, wplot, prefix):
    name = f"{prefix}wave"
    wplot.add_pvs([name])
    qtbot.waitUntil(lambda: wplot.stats()["redraws"] >= 1, timeout=15000)
    wplot.hide()
    r0, u0 = wplot.stats()["redraws"], wplot.stats()["updates_received"]
    qtbot.waitUntil(lambda: wplot.stats()["updates_received"] >= u0 + 2, timeout=10000)
    assert wplot.stats()["redraws"] == r0                   # received, not drawn
    wplot.show()
    qtbot.waitUntil(lambda: wplot.stats()["redraws"] > r0, timeout=5000)
    assert wplot._traces[name].shown is wplot._traces[name].y   # the newest value on show
