"""The table follows the theme: alarm and disconnected colours from theme.table_colors."""

from __future__ import annotations

from PyQt5.QtCore import Qt

from pvprobe.core.batch import Batch
from pvprobe.core.pvstate import PVState
from pvprobe.qt.pvtable_model import Col, PVTableModel
from pvprobe.qt.theme import table_colors


def test_model_colours_follow_theme_and_palette(qtbot):
    m = PVTableModel()
    m.add_names(["T:major", "T:gone"])
    major = PVState(name="T:major", connected=True, ever_connected=True, value=1.0, native_type="DOUBLE",
                    max_count=1, severity=2, status=3, read_access=True)
    gone = PVState(name="T:gone", connected=False, ever_connected=True, value=1.0, native_type="DOUBLE",
                   max_count=1, read_access=True)
    m.apply_batch(Batch(seq=1, states=[major, gone]))
    for theme in ("dark", "light"):
        for palette in ("colorblind", "default"):
            m.set_theme(theme)
            m.set_palette(palette)
            tc = table_colors(theme, palette)
            bg = m.data(m.index(0, Col.SEVERITY), Qt.BackgroundRole)
            assert bg.color() == tc.alarm[2][0]
            fg = m.data(m.index(1, Col.VALUE), Qt.ForegroundRole)
            assert fg.color() == tc.disconnected_fg
    assert m.theme_name == "light" and m.palette_name == "default"
