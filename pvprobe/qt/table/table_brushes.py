"""The table's colours as Qt brushes (from pvprobe.core.colors, the one source the
theme uses too) and the padlock icon of read-only rows."""

from __future__ import annotations

from typing import Optional

from PyQt5.QtCore import QPointF, QRectF, Qt
from PyQt5.QtGui import QBrush, QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from pvprobe.core import colors

# Colours come from pvprobe.core.colors (the one source the theme uses too); the
# model starts with the light theme's and set_theme/set_palette take theme.table_colors.
_LIGHT = colors.TABLE["light"]


def _alarm_colours(palette: str) -> dict[int, tuple[QColor, QColor]]:
    return {sev: (QColor(*bg), QColor(*fg)) for sev, (bg, fg) in colors.ALARM_FILLS[("light", palette)].items()}


#: (background, foreground) per severity for the Value and Severity columns (light theme):
#: yellow/red/purple, and the colour-blind-safe Okabe–Ito set (see core.colors).
ALARM_COLOURS = _alarm_colours("default")
COLORBLIND_COLOURS = _alarm_colours("colorblind")
PALETTES = {name: _alarm_colours(name) for name in colors.ALARM_PALETTES}
ALARM_BRUSHES = {k: (QBrush(bg), QBrush(fg)) for k, (bg, fg) in ALARM_COLOURS.items()}
PALETTE_BRUSHES = {name: {k: (QBrush(bg), QBrush(fg)) for k, (bg, fg) in cols.items()}
                    for name, cols in PALETTES.items()}
GREY = QBrush(QColor(*_LIGHT["disconnected_fg"]))
DISCONNECTED_BG = QBrush(QColor(*_LIGHT["disconnected_bg"]))
#: The Saved cell of a row whose live value differs (light sky blue: not an alarm colour).
DIFF_BG = QBrush(QColor(*_LIGHT["diff_bg"]))
FAILED_FG = QBrush(QColor(*_LIGHT["failed_fg"]))
DONE_FG = QBrush(QColor(*_LIGHT["done_fg"]))


# -- a lock drawn once (no emoji font needed) ---------------------------------------------------
_LOCK_ICON: Optional[QIcon] = None


def lock_icon() -> QIcon:
    """A small padlock, painted (fonts without U+1F512 would show a box)."""
    global _LOCK_ICON
    if _LOCK_ICON is None:
        size = 32
        pm = QPixmap(size, size)
        pm.fill(Qt.transparent)
        p = QPainter(pm)
        p.setRenderHint(QPainter.Antialiasing)
        colour = QColor(*colors.LOCK_ICON)
        pen = QPen(colour, 3.2)
        p.setPen(pen)
        p.setBrush(Qt.NoBrush)
        shackle = QPainterPath()
        shackle.moveTo(QPointF(10, 15))
        shackle.lineTo(QPointF(10, 10))
        shackle.arcTo(QRectF(10, 3, 12, 14), 180, -180)
        shackle.lineTo(QPointF(22, 15))
        p.drawPath(shackle)
        p.setPen(Qt.NoPen)
        p.setBrush(colour)
        p.drawRoundedRect(QRectF(6, 14, 20, 15), 3, 3)
        p.setBrush(QColor(*colors.LOCK_KEYHOLE))
        p.drawEllipse(QRectF(14, 18.5, 4, 4))
        p.drawRect(QRectF(15.2, 21, 1.6, 4.5))
        p.end()
        _LOCK_ICON = QIcon(pm)
    return _LOCK_ICON
