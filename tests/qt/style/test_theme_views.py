"""Every view follows the theme: probe, put editor, record fields, waveform plot, strip
chart and image view take their colours from pvprobe.qt.style.theme when built and when the
theme changes while they are open (on the real demo IOC)."""

from __future__ import annotations

import collections
import os

import pytest
from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QImage
from PyQt5.QtWidgets import QStyleFactory

from pvprobe.qt.style.theme import (
    apply_theme,
    plot_colors,
    status_colors,
    table_colors,
    theme_spec,
    view_contrast_report,
)

pytestmark = pytest.mark.timeout(120)

#: Screenshots of the dark views (looked at by hand; not compared).
SHOTS = "/tmp/pvprobe-theme"


@pytest.fixture
def dark(qapp):
    """The dark theme applied to the shared QApplication; its look restored afterwards."""
    style, palette, prop = qapp.style().objectName(), qapp.palette(), qapp.property("pvprobe_theme")
    apply_theme(qapp, "dark")
    yield qapp
    restored = QStyleFactory.create(style) if style else None
    if restored is not None:
        qapp.setStyle(restored)
    qapp.setPalette(palette)
    qapp.setProperty("pvprobe_theme", prop)


def _shown(qtbot, widget, size):
    qtbot.addWidget(widget)
    widget.resize(*size)
    widget.show()
    return widget


def _switch(app, view, name: str) -> None:
    """What the main window does on View ▸ Theme: the app's palette, then each open view."""
    apply_theme(app, name)
    view.set_theme(name)


def _dominant_colour(widget) -> QColor:
    """The most frequent pixel colour of ``widget`` as rendered (its background)."""
    img = widget.grab().toImage().convertToFormat(QImage.Format_RGB32)
    counts = collections.Counter(img.pixel(x, y) for y in range(0, img.height(), 3)
                                 for x in range(0, img.width(), 3))
    return QColor(counts.most_common(1)[0][0])


def _save(widget, name: str) -> str:
    os.makedirs(SHOTS, exist_ok=True)
    path = os.path.join(SHOTS, name)
    assert widget.grab().save(path)
    return path


# ------------------------------------------------------------------------------- contrast

@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("palette_name", ["default", "colorblind"])
def test_every_view_colour_meets_its_contrast(theme, palette_name):
    report = list(view_contrast_report(theme, palette_name))
    assert len(report) > 40
    too_low = [(what, round(ratio, 2), need) for what, ratio, need in report if ratio < need]
    assert not too_low


def test_traces_are_distinct_and_follow_the_background():
    for theme in ("light", "dark"):
        pc = plot_colors(theme)
        assert len({c.name() for c in pc.traces}) == len(pc.traces) == 10
        assert pc.trace(10) == pc.trace(0)
    assert plot_colors("dark").background.lightness() < 60 < plot_colors("light").background.lightness()


# ------------------------------------------------------------------------------- probe

def test_probe_follows_the_theme(qtbot, dark, bridge, prefix):
    from pvprobe.qt.probe.probe_panel import ProbePanel

    p = _shown(qtbot, ProbePanel(bridge, prefix + "readonly"), (560, 1000))
    try:
        qtbot.waitUntil(lambda: p.state is not None and p.state.connected and p.discovery is not None
                        and p.discovery.complete, timeout=15000)
        for theme in ("dark", "light", "dark"):
            if theme != p.theme_name:
                _switch(dark, p, theme)
            sc = status_colors(theme)
            assert f"color: {sc.ok.name()}" in p.conn_label.styleSheet()
            assert f"color: {sc.hint.name()}" in p.clock_label.styleSheet()
            assert f"color: {sc.bad.name()}" in p.info["access"].styleSheet()   # no write access
            assert f"color: {sc.bad.name()}" in p.editor.hint.styleSheet()     # "read-only" reason
            assert p.sparkline.line_colour == plot_colors(theme).trace(0)
            fv = p.fields_view.model
            row = fv.row_of("RTYP")
            assert fv.data(fv.index(row, 1), Qt.ForegroundRole).color() == sc.hint
        print("probe screenshot:", _save(p, "probe-dark.png"))
        assert _dominant_colour(p) == QColor(*theme_spec("dark").window)
    finally:
        p.close_pv()


def test_probe_disconnected_value_and_put_messages_use_the_theme(qtbot, dark, bridge, prefix):
    from pvprobe.core.pvstate import PVState
    from pvprobe.qt.probe.probe_panel import ProbePanel

    p = _shown(qtbot, ProbePanel(bridge, prefix + "setpoint"), (560, 900))
    try:
        qtbot.waitUntil(lambda: p.state is not None and p.state.connected, timeout=15000)
        gone = PVState(name=p.pv_name, connected=False, ever_connected=True, value=1.0,
                       native_type="DOUBLE", max_count=1, read_access=True)
        p.state = gone
        p._show_value()
        sc = status_colors("dark")
        sheet = p.value_label.styleSheet()
        assert f"color: {sc.muted.name()}" in sheet and f"background: {sc.muted_fill.name()}" in sheet
        ed = p.editor
        qtbot.keyClicks(ed.line, "not a number")
        assert f"color: {sc.bad.name()}" in ed.message.styleSheet()
        assert sc.warn.name() in ed.line.styleSheet()
        _switch(dark, p, "light")
        light = status_colors("light")
        assert f"color: {light.bad.name()}" in ed.message.styleSheet()
        assert light.warn.name() in ed.line.styleSheet()
        assert f"background: {light.muted_fill.name()}" in p.value_label.styleSheet()
    finally:
        p.close_pv()


# ------------------------------------------------------------------------------- plots

def _axis_colour(item, ax: str) -> QColor:
    return item.getAxis(ax).pen().color()


def test_waveform_plot_follows_the_theme(qtbot, dark, bridge, prefix):
    from pvprobe.qt.plots.waveform_plot import WaveformPlot

    w = _shown(qtbot, WaveformPlot(bridge, [f"{prefix}wave", f"{prefix}wave:x"]), (900, 560))
    try:
        qtbot.waitUntil(lambda: all(t.y is not None for t in w._traces.values()), timeout=15000)
        qtbot.waitUntil(lambda: w.redraws > 0, timeout=5000)
        for theme in ("dark", "light", "dark"):
            if theme != w.theme_name:
                _switch(dark, w, theme)
            pc = plot_colors(theme)
            assert w.plot.backgroundBrush().color() == pc.background
            assert _axis_colour(w.item, "left") == pc.foreground
            assert w.item.getAxis("bottom").textPen().color() == pc.foreground
            assert w.legend.labelTextColor() == pc.foreground
            assert w.crosshair.v.pen.color() == pc.cursor
            for i, tr in enumerate(w._traces.values()):
                assert tr.curve.opts["pen"].color() == pc.trace(i)
            assert _dominant_colour(w.plot) == pc.background
        print("waveform screenshot:", _save(w, "waveform-dark.png"))
    finally:
        w.close_pvs()


def test_strip_chart_follows_the_theme(qtbot, dark, bridge, prefix):
    from pvprobe.qt.plots.strip_chart import StripChart

    names = [f"{prefix}sine", f"{prefix}ai:000", f"{prefix}heartbeat"]
    c = _shown(qtbot, StripChart(bridge, names, span_s=10), (1100, 560))
    try:
        qtbot.waitUntil(lambda: all(len(c.ring(n)) > 5 for n in names), timeout=15000)
        c.set_own_axis(f"{prefix}heartbeat", True)
        qtbot.waitUntil(lambda: c.table.item(0, 2).text() not in ("", "connecting"), timeout=5000)
        for theme in ("dark", "light", "dark"):
            if theme != c.theme_name:
                _switch(dark, c, theme)
            pc = plot_colors(theme)
            assert c.plot.backgroundBrush().color() == pc.background
            assert _axis_colour(c.item, "left") == pc.foreground
            assert c.item.getAxis("bottom").textPen().color() == pc.foreground
            for i, name in enumerate(names):
                s = c._series[name]
                assert s.curve.opts["pen"].color() == pc.trace(i)
                assert c.table.item(s.row, 0).foreground().color() == pc.trace(i)
            own = c._series[f"{prefix}heartbeat"].axis
            assert own.pen().color() == pc.trace(2)
            c._update_table()          # the severity column as of the newest state
            sev = c._series[f"{prefix}sine"].state.severity
            expected = pc.alarm.get(sev)
            got = c.table.item(c._series[f"{prefix}sine"].row, 2).foreground()
            assert (got.color() == expected) if expected is not None else got.style() == 0
            for level, marker in c._series[f"{prefix}sine"].markers.items():
                assert marker.opts["pen"].color() == pc.alarm[level]
            assert _dominant_colour(c.plot) == pc.background
        print("strip chart screenshot:", _save(c, "strip-dark.png"))
    finally:
        c.close_pvs()


# ------------------------------------------------------------------------------- image view

def test_image_view_labels_follow_the_theme(qtbot, dark, bridge, prefix):
    from pvprobe.qt.image.image_view import ImageView

    v = _shown(qtbot, ImageView(bridge), (900, 700))
    try:
        for theme in ("dark", "light"):
            if theme != v.theme_name:
                _switch(dark, v, theme)
            sc = status_colors(theme)
            assert f"color: {sc.bad.name()}" in v.message_label.styleSheet()
            assert f"color: {sc.hint.name()}" in v.status_label.styleSheet()
    finally:
        v.shutdown()


# ------------------------------------------------------------------------------- main window

def test_main_window_switch_reaches_open_views_and_tables(qtbot, dark, bridge, engine, prefix, tmp_path):
    from pvprobe.qt.app.main_window import MainWindow
    from pvprobe.qt.app.settings import Settings

    win = MainWindow(bridge, settings=Settings(tmp_path / "settings.ini"))
    qtbot.addWidget(win, before_close_func=lambda w: setattr(w, "force_close", True))
    win.resize(1000, 640)
    win.show()
    try:
        win.set_theme("dark")
        probe = win.open_probe(prefix + "setpoint")
        plot = win.views.open_waveform([prefix + "wave"])
        chart = win.views.open_strip([prefix + "sine"])
        assert probe.theme_name == plot.theme_name == chart.theme_name == "dark"
        win.theme_actions["light"].trigger()
        assert [v.theme_name for v in win.views.views()] == ["light"] * 3
        assert plot.plot.backgroundBrush().color() == plot_colors("light").background
        table = win.table_widget
        assert table.model.theme_name == "light"
        swatch = table.disconnected_toggle.icon().pixmap(14, 14).toImage()
        assert QColor(swatch.pixel(6, 7)) == table_colors("light").disconnected_fg
    finally:
        win.force_close = True
        win.close()


def test_alarm_palette_reaches_open_and_new_probes(qtbot, bridge, prefix, tmp_path):
    from pvprobe.qt.app.main_window import MainWindow
    from pvprobe.qt.app.settings import Settings
    from pvprobe.qt.style.theme import alarm_colors

    win = MainWindow(bridge, settings=Settings(tmp_path / "settings.ini"))
    qtbot.addWidget(win, before_close_func=lambda w: setattr(w, "force_close", True))
    win.show()
    try:
        before = win.open_probe(prefix + "setpoint")
        win.palette_actions["colorblind"].trigger()
        after = win.open_probe(prefix + "sine")
        blind = alarm_colors(before.theme_name, "colorblind")
        assert before._palette == blind and after._palette == blind
        assert before._palette != alarm_colors(before.theme_name, "default")
    finally:
        win.force_close = True
        win.close()


def test_dark_theme_check_box_frames_stand_out(qtbot, dark):
    """Fusion draws check box frames from the window colour: on a dark base an unchecked
    box all but vanished (the strip chart's "Own y" column). The theme's style draws
    them in a frame colour with at least 3:1 contrast to the base."""
    from PyQt5.QtWidgets import QCheckBox, QStyle, QStyleOptionButton

    from pvprobe.qt.style.theme import contrast_ratio
    box = QCheckBox("Own y")
    _shown(qtbot, box, (120, 30))
    opt = QStyleOptionButton()
    box.initStyleOption(opt)
    r = box.style().subElementRect(QStyle.SE_CheckBoxIndicator, opt, box)
    img = box.grab().toImage()
    ratio = img.devicePixelRatio() or 1
    left_edge = QColor(img.pixel(int(r.left() * ratio), int(r.center().y() * ratio)))
    base = dark.palette().base().color()
    assert contrast_ratio(left_edge.getRgb()[:3], base.getRgb()[:3]) >= 3.0, left_edge.getRgb()
