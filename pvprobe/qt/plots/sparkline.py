"""A small sparkline of recent values, painted with QPainter (cheap enough for many
probes)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Optional

from PyQt5.QtCore import QPointF, QRectF, QSize, Qt
from PyQt5.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PyQt5.QtWidgets import QSizePolicy, QWidget

from pvprobe.core.colors import SPARKLINE_BAND

from ..style.theme import plot_colors, status_colors, theme_of

#: The no-alarm band (LOW..HIGH): a faint green wash, readable under the line in both themes.
BAND = QColor(*SPARKLINE_BAND)


class Sparkline(QWidget):
    """Recent values as a line, last value dotted, min and max written at the left."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._values: list[float] = []
        self._band: Optional[tuple[float, float]] = None
        self.setMinimumHeight(44)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setToolTip("Recent values (since open or the last reset)")
        self.paints = 0
        self.set_theme(theme_of())

    def set_theme(self, name: str) -> None:
        """Line and label colours of the "light" or "dark" theme (the fill is the palette's base)."""
        self.line_colour = plot_colors(name).trace(0)
        self.text_colour = status_colors(name).hint
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(240, 48)

    def set_values(self, values: Iterable[float], band: Optional[Sequence[float]] = None) -> None:
        """The values to draw (oldest first); ``band`` (low, high) is shaded if given."""
        self._values = [float(v) for v in values if math.isfinite(v)]
        self._band = tuple(band) if band and len(band) == 2 and band[1] > band[0] else None  # type: ignore[assignment]
        self.update()

    def values(self) -> list[float]:
        return list(self._values)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        self.paints += 1
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        r = QRectF(self.rect()).adjusted(2, 3, -4, -3)
        p.fillRect(self.rect(), self.palette().base())
        vals = self._values
        fm = self.fontMetrics()
        if len(vals) < 2:
            p.setPen(self.text_colour)
            p.drawText(r, Qt.AlignCenter, "waiting for values…" if not vals else f"{vals[0]:.6g}")
            p.end()
            return
        lo, hi = min(vals), max(vals)
        label_w = max(fm.horizontalAdvance(f"{lo:.4g}"), fm.horizontalAdvance(f"{hi:.4g}")) + 6
        plot = QRectF(r.left() + label_w, r.top(), max(10.0, r.width() - label_w), r.height())
        span = hi - lo if hi > lo else 1.0
        base = lo if hi > lo else lo - 0.5

        def y(v: float) -> float:
            return plot.bottom() - (v - base) / span * plot.height()

        if self._band is not None:
            blo, bhi = self._band
            top, bot = y(min(max(bhi, base), base + span)), y(min(max(blo, base), base + span))
            if bot > top:
                p.fillRect(QRectF(plot.left(), top, plot.width(), bot - top), BAND)
        n = len(vals)
        dx = plot.width() / (n - 1)
        poly = QPolygonF([QPointF(plot.left() + i * dx, y(v)) for i, v in enumerate(vals)])
        p.setPen(QPen(self.line_colour, 1.4))
        p.drawPolyline(poly)
        p.setBrush(self.line_colour)
        p.drawEllipse(poly[n - 1], 2.5, 2.5)
        p.setPen(self.text_colour)
        p.drawText(QRectF(r.left(), r.top(), label_w - 4, fm.height()), Qt.AlignRight | Qt.AlignTop,
                   f"{hi:.4g}")
        p.drawText(QRectF(r.left(), r.bottom() - fm.height(), label_w - 4, fm.height()),
                   Qt.AlignRight | Qt.AlignBottom, f"{lo:.4g}")
        p.end()
