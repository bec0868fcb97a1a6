"""PV names drag out of plots (legend entries, the strip chart's PV table)."""

from __future__ import annotations

import pytest

from pvprobe.qt.plots.plot_common import legend_name_at
from pvprobe.qt.plots.strip_chart import StripChart
from pvprobe.qt.plots.waveform_plot import WaveformPlot

pytestmark = pytest.mark.timeout(120)


def test_waveform_legend_entry_names_its_pv(qtbot, bridge, prefix):
    plot = WaveformPlot(bridge, [prefix + "wave"])
    qtbot.addWidget(plot)
    plot.resize(900, 500)
    plot.show()
    try:
        qtbot.waitUntil(lambda: plot.stats()["updates_received"] > 0, timeout=15000)
        sample, label = plot.legend.items[0]
        centre = label.sceneBoundingRect().center()
        assert legend_name_at(plot.legend, centre, plot._names_by_curve()) == prefix + "wave"
        outside = plot.legend.sceneBoundingRect().bottomRight() + centre * 0 + type(centre)(50, 50)
        assert legend_name_at(plot.legend, outside, plot._names_by_curve()) is None
    finally:
        plot.close_pvs()


def test_strip_chart_rows_drag_as_names(qtbot, bridge, prefix):
    names = [prefix + "sine", prefix + "ai:001"]
    chart = StripChart(bridge, names)
    qtbot.addWidget(chart)
    chart.show()
    try:
        qtbot.waitUntil(lambda: chart.table.rowCount() == 2, timeout=10000)
        chart.table.selectAll()
        md = chart.table.mimeData(chart.table.selectedItems())
        assert md.text().splitlines() == names
    finally:
        chart.close_pvs()


def test_export_dialogs_write_or_say_why(qtbot, bridge, prefix, tmp_path, monkeypatch):
    """The plots' Export buttons: the file is written and reported, or the reason shown."""
    from PyQt5.QtWidgets import QFileDialog

    plot = WaveformPlot(bridge, [prefix + "wave"])
    qtbot.addWidget(plot)
    plot.show()
    messages = []
    plot.message.connect(messages.append)
    try:
        qtbot.waitUntil(lambda: plot.stats()["updates_received"] > 0, timeout=15000)
        target = tmp_path / "w.csv"
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(target), "")))
        plot._export_csv_dialog()
        assert target.exists() and messages[-1].startswith("Wrote ") and str(target) in messages[-1]
        (tmp_path / "a-file").write_text("x")
        bad = tmp_path / "a-file" / "w.png"          # a file where a folder should be
        monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(bad), "")))
        plot._export_png_dialog()
        assert messages[-1].startswith("Could not write") and not bad.exists()
    finally:
        plot.close_pvs()
