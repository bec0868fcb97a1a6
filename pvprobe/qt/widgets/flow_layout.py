"""A layout that wraps its widgets onto more lines instead of widening its window.

Control rows (toolbars of views: image, plots, strip chart, probe) used to be
QHBoxLayouts whose minimum width is the sum of every control: a dock holding
one pushed the main window past the screen. A :class:`FlowLayout` is as narrow
as its widest control and as high as its wrapped lines need (height for width),
so every control stays visible and reachable at any window width. Widgets whose
horizontal size policy expands (line edits, spacers) share the spare width of
their line.
"""

from __future__ import annotations

from typing import Optional

from PyQt5.QtCore import QPoint, QRect, QSize, Qt, QTimer
from PyQt5.QtWidgets import QHBoxLayout, QLabel, QLayout, QLayoutItem, QSizePolicy, QStyle, QWidget, QWidgetItem


class FlowLayout(QLayout):
    """Left-to-right lines of widgets, wrapped at the layout's width."""

    def __init__(self, parent: Optional[QWidget] = None, spacing: int = -1) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._spacing = spacing
        self._wrapped_height = 0
        self.setContentsMargins(0, 0, 0, 0)

    # -- item bookkeeping (QLayout's abstract part) -----------------------------------------
    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802
        self._items.append(item)

    def addWidget(self, widget: QWidget, stretch: int = 0) -> None:  # noqa: N802
        """Add ``widget``; ``stretch`` > 0 lets it take spare width of its line."""
        if stretch:
            policy = widget.sizePolicy()
            policy.setHorizontalPolicy(QSizePolicy.Expanding)
            widget.setSizePolicy(policy)
        self.addChildWidget(widget)
        self.addItem(QWidgetItem(widget))

    def addStretch(self, _stretch: int = 1) -> None:  # noqa: N802
        """A spacer that takes the spare width of its line (pushes the rest right)."""
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
        spacer.setMinimumSize(0, 0)
        spacer.setFixedHeight(1)
        self.addWidget(spacer)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> Optional[QLayoutItem]:  # noqa: N802
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> Optional[QLayoutItem]:  # noqa: N802
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    # -- sizes ------------------------------------------------------------------------------
    def expandingDirections(self) -> Qt.Orientations:  # noqa: N802
        return Qt.Orientations(Qt.Orientation(0))

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return self._place(QRect(0, 0, width, 0), apply=False)

    def sizeHint(self) -> QSize:  # noqa: N802
        """Everything on one line."""
        m = self.contentsMargins()
        items = self._visible()
        w = sum(i.sizeHint().width() for i in items) + self._gap() * max(0, len(items) - 1)
        h = max((i.sizeHint().height() for i in items), default=0)
        return QSize(w + m.left() + m.right(), h + m.top() + m.bottom())

    def minimumSize(self) -> QSize:  # noqa: N802
        """The widest single control; as high as the lines need at the current width
        (so docks and windows, which do not ask for height for width, leave room for
        the wrapped lines instead of squeezing them under the next widget)."""
        m = self.contentsMargins()
        size = QSize(0, 0)
        for item in self._visible():
            size = size.expandedTo(item.minimumSize())
        size += QSize(m.left() + m.right(), m.top() + m.bottom())
        return QSize(size.width(), max(size.height(), self._wrapped_height))

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        super().setGeometry(rect)
        height = self._place(rect, apply=True)
        if height != self._wrapped_height:
            # a new number of lines: the minimum height changes, the parents lay out again
            self._wrapped_height = height
            QTimer.singleShot(0, self._relayout)

    def _relayout(self) -> None:
        try:
            self.invalidate()
            parent = self.parentWidget()
            if parent is not None:
                parent.updateGeometry()
        except RuntimeError:      # deleted meanwhile
            pass

    # -- placing ----------------------------------------------------------------------------
    def _gap(self) -> int:
        if self._spacing >= 0:
            return self._spacing
        parent = self.parentWidget()
        if parent is None:
            return 6
        gap = parent.style().pixelMetric(QStyle.PM_LayoutHorizontalSpacing, None, parent)
        return gap if gap >= 0 else 6

    def _visible(self) -> list[QLayoutItem]:
        return [i for i in self._items if not i.isEmpty()]

    def _lines(self, width: int) -> list[list[tuple[QLayoutItem, int]]]:
        """Items with their widths (preferred, squeezed to the line at most), by line."""
        gap = self._gap()
        lines: list[list[tuple[QLayoutItem, int]]] = [[]]
        used = 0
        for item in self._visible():
            w = max(item.minimumSize().width(), min(item.sizeHint().width(), width))
            if lines[-1] and used + gap + w > width:
                lines.append([])
                used = 0
            used += (gap if lines[-1] else 0) + w
            lines[-1].append((item, w))
        return [ln for ln in lines if ln]

    def _place(self, rect: QRect, apply: bool) -> int:
        """Lay the items out in ``rect`` (when ``apply``); returns the height used."""
        m = self.contentsMargins()
        inner = rect.adjusted(m.left(), m.top(), -m.right(), -m.bottom())
        gap = self._gap()
        y = inner.y()
        for line in self._lines(max(1, inner.width())):
            height = max(item.sizeHint().height() for item, _w in line)
            spare = inner.width() - sum(w for _i, w in line) - gap * (len(line) - 1)
            grow = [item for item, _w in line
                    if item.expandingDirections() & Qt.Horizontal]
            x = inner.x()
            for _n, (item, w) in enumerate(line):
                if spare > 0 and item in grow:
                    extra = spare // len(grow) + (1 if grow.index(item) < spare % len(grow) else 0)
                    w += extra
                if apply:
                    h = min(height, max(item.minimumSize().height(), item.sizeHint().height()))
                    top = y + (height - h) // 2
                    item.setGeometry(QRect(QPoint(x, top), QSize(w, h)))
                x += w + gap
            y += height + gap
        return y - gap - inner.y() + m.top() + m.bottom() if y > inner.y() else m.top() + m.bottom()


def labelled(text: str, widget: QWidget, stretch: int = 0) -> QWidget:
    """``text`` and ``widget`` kept together on one line of a flow layout."""
    box = QWidget()
    lay = QHBoxLayout(box)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    lay.addWidget(QLabel(text))
    lay.addWidget(widget, 1)
    if stretch:
        box.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Preferred)
    return box


__all__ = ["FlowLayout", "labelled"]
