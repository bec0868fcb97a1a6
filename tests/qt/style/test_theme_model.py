"""The table follows the theme: alarm and disconnected colours from theme.table_colors."""

from __future__ import annotations

from PyQt5.QtCore import Qt

from pvprobe.core.batch import Batch
from pvprobe.core.pvstate import PVState
from pvprobe.qt.style.theme import table_colors
from pvprobe.qt.table.pvtable_model import Col, PVTableModel


def test_model_colours_follow_theme_and_palette(qtbot):
    m = _disconnected_model()
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


def _disconnected_model() -> PVTableModel:
    m = PVTableModel()
    m.add_names(["T:major", "T:gone"])
    major = PVState(name="T:major", connected=True, ever_connected=True, value=1.0, native_type="DOUBLE",
                    max_count=1, severity=2, status=3, read_access=True)
    gone = PVState(name="T:gone", connected=False, ever_connected=True, value=1.0, native_type="DOUBLE",
                   max_count=1, read_access=True)
    m.apply_batch(Batch(seq=1, states=[major, gone]))
    return m


def test_fresh_model_draws_the_light_themes_colours(qtbot):
    """No drift: a model that was never told a theme draws exactly what the light theme
    gives (disconnected rows were grey 128 at start, 118 after any theme change)."""
    from pvprobe.qt.table import table_brushes as pm

    m = _disconnected_model()
    tc = table_colors("light", "default")
    assert m.data(m.index(1, Col.VALUE), Qt.ForegroundRole).color() == tc.disconnected_fg
    assert m.data(m.index(1, Col.SEVERITY), Qt.BackgroundRole).color() == tc.disconnected_bg
    assert m.data(m.index(0, Col.SEVERITY), Qt.BackgroundRole).color() == tc.alarm[2][0]
    assert m.data(m.index(0, Col.SEVERITY), Qt.ForegroundRole).color() == tc.alarm[2][1]
    for constant, colour in ((pm.GREY, tc.disconnected_fg), (pm.DISCONNECTED_BG, tc.disconnected_bg),
                             (pm.DIFF_BG, tc.diff_bg), (pm.FAILED_FG, tc.failed_fg),
                             (pm.DONE_FG, tc.done_fg)):
        assert constant.color() == colour
    for name, colours in pm.PALETTES.items():
        assert colours == table_colors("light", name).alarm


def test_theme_and_palette_names_have_one_source():
    from pvprobe.core import colors
    from pvprobe.qt.app import settings
    from pvprobe.qt.style import theme
    from pvprobe.qt.table import table_brushes

    assert settings.PALETTES == theme.ALARM_PALETTES == tuple(table_brushes.PALETTES) == colors.ALARM_PALETTES
    assert settings.THEMES == theme.THEMES == tuple(theme.available_themes()) == colors.THEMES


def _colour_literals(path) -> list[str]:
    """Colours written as literals in a Qt module: QColor/QBrush/pen/brush calls with
    constant arguments, pyqtgraph colour letters, rgb()/#hex strings outside docstrings."""
    import ast
    import re

    tree = ast.parse(path.read_text(), str(path))
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = list(node.args) + [k.value for k in node.keywords if k.arg in ("pen", "brush", "color")]
            if fn in ("QColor", "QBrush", "mkPen", "mkBrush", "mkColor") and node.args \
                    and all(isinstance(a, ast.Constant) for a in node.args):
                found.append(f"{path.name}:{node.lineno} {fn}(literal)")
            elif any(isinstance(a, ast.Constant) and isinstance(a.value, str) and len(a.value) == 1
                     and a.value in "rgbcmykw" for a in args):
                found.append(f"{path.name}:{node.lineno} pyqtgraph colour letter")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            if re.search(r"rgba?\(\s*\d|#[0-9a-fA-F]{6}\b", node.value):
                found.append(f"{path.name}:{node.lineno} colour in a string")
    return found


def test_qt_modules_take_every_colour_from_core_colors():
    from pathlib import Path

    import pvprobe.qt

    found = []
    for path in sorted(Path(pvprobe.qt.__file__).parent.rglob("*.py")):
        found += _colour_literals(path)
    assert not found, found
