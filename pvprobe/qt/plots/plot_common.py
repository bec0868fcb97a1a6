"""Bits shared by the waveform plot and the strip chart: theme colours, PV-name drops,
atomic PNG export, a paint counter and a crosshair."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Optional

import pyqtgraph as pg
from PyQt5.QtCore import QEvent, QMimeData, QObject, Qt, QTimer
from PyQt5.QtWidgets import QAbstractItemView, QTableWidget, QWidget

from pvprobe.core.atomic import atomic_write_text
from pvprobe.core.pvnames import ParsedNames, split_names

from ..style.theme import PlotColors
from ..widgets.png import write_png

MAX_DROP_CHARS = 1_000_000


def apply_plot_colours(plot: pg.PlotWidget, legend: Any, pc: PlotColors,
                       axes: Iterable[str] = ("left", "bottom")) -> None:
    """Background, axes (lines, ticks, labels; the grid follows them) and legend of
    ``plot`` in the theme's plot colours (trace pens are the caller's)."""
    plot.setBackground(pc.background)
    item = plot.getPlotItem()
    for ax in axes:
        axis = item.getAxis(ax)
        axis.setPen(pg.mkPen(pc.foreground))
        axis.setTextPen(pg.mkPen(pc.foreground))
    legend.setBrush(pg.mkBrush(pc.legend_fill()))
    legend.setLabelTextColor(pc.foreground)
    for _sample, label in legend.items:
        label.setText(label.text)        # re-rendered in the new colour


def names_from_drop(text: str) -> ParsedNames:
    """PV names from dropped/pasted text (same rules as the table's entry)."""
    if len(text) > MAX_DROP_CHARS:
        out = ParsedNames()
        out.rejected.append((text[:40] + "…", f"dropped text longer than {MAX_DROP_CHARS:,} characters"))
        return out
    return split_names(text)


def save_png(widget: QWidget, path: str) -> None:
    """Grab ``widget`` and write it as PNG, atomically. Raises OSError on failure."""
    write_png(widget.grab(), path)


class PaintCounter(QObject):
    """Counts paint events of a widget (the plot's viewport) that showed new data:
    Qt merges repaint requests, so this, not setData calls, is "frames drawn"."""

    def __init__(self, target: QWidget, parent: Optional[QObject] = None,
                 on_frame: Optional[Callable[[], None]] = None) -> None:
        super().__init__(parent)
        self.frames = 0            # paints that showed new data
        self.paints = 0            # all paint events
        self.pending = False
        self.on_frame = on_frame   # called (queued) right after a frame with new data was painted
        target.installEventFilter(self)

    def mark(self) -> None:
        """New data was handed to the items; the next paint shows it."""
        self.pending = True

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Paint:
            self.paints += 1
            if self.pending:
                self.pending = False
                self.frames += 1
                if self.on_frame is not None:
                    QTimer.singleShot(0, self.on_frame)   # runs once this paint is done
        return False


class Crosshair:
    """Vertical + horizontal lines following the mouse in ``plot_item``;
    ``on_move(x, y)`` gets view coordinates (rate-limited), ``on_leave()`` when outside."""

    def __init__(self, plot_item: pg.PlotItem, on_move: Callable[[float, float], None],
                 on_leave: Callable[[], None]) -> None:
        self.v = pg.InfiniteLine(angle=90, movable=False)
        self.h = pg.InfiniteLine(angle=0, movable=False)
        self.plot_item = plot_item
        for line in (self.v, self.h):
            line.setZValue(1000)
            line.hide()
            plot_item.addItem(line, ignoreBounds=True)
        self._on_move = on_move
        self._on_leave = on_leave
        self.enabled = True
        self._proxy = pg.SignalProxy(plot_item.scene().sigMouseMoved, rateLimit=30, slot=self._moved)

    def set_colour(self, colour: Any) -> None:
        """Draw the dashed lines in ``colour`` (the theme's plot cursor colour)."""
        pen = pg.mkPen(colour, width=1, style=Qt.DashLine)
        self.v.setPen(pen)
        self.h.setPen(pen)

    def _moved(self, evt: tuple) -> None:
        pos = evt[0]
        vb = self.plot_item.vb
        if not self.enabled or not vb.sceneBoundingRect().contains(pos):
            self.v.hide()
            self.h.hide()
            self._on_leave()
            return
        p = vb.mapSceneToView(pos)
        self.v.setPos(p.x())
        self.h.setPos(p.y())
        self.v.show()
        self.h.show()
        self._on_move(p.x(), p.y())


__all__ = ["apply_plot_colours", "names_from_drop", "save_png", "PaintCounter", "Crosshair"]


# -- dragging PV names out of a plot (drop them on a table, probe or other plot) ------------
def names_mime(names: Iterable[str]) -> QMimeData:
    """text/plain mime data with one PV name per line (what every view accepts on drop)."""
    md = QMimeData()
    md.setText("\n".join(names))
    return md


class NameDragTable(QTableWidget):
    """A table whose first column holds PV names; dragging rows carries the names as text."""

    def __init__(self, rows: int, cols: int, parent: Optional[QWidget] = None) -> None:
        super().__init__(rows, cols, parent)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragOnly)

    def dragged_names(self) -> list[str]:
        rows = sorted({i.row() for i in self.selectedItems()})
        return [self.item(r, 0).text() for r in rows if self.item(r, 0) is not None]

    def mimeData(self, items) -> QMimeData:  # noqa: N802 (Qt override)
        return names_mime(self.dragged_names())


def legend_name_at(legend: Any, scene_pos: Any, names_by_curve: dict) -> Optional[str]:
    """The PV name of the legend entry under ``scene_pos`` (None when none is)."""
    for sample, label in getattr(legend, "items", []):
        for item in (sample, label):
            if item.sceneBoundingRect().contains(scene_pos):
                return names_by_curve.get(id(sample.item))
    return None


def make_legend_draggable(legend: Any, owner: QWidget, names_by_curve: Callable[[], dict]) -> None:
    """Dragging a legend entry starts a drag of its PV name; dragging elsewhere on the
    legend still moves the legend (pyqtgraph's default)."""
    from PyQt5.QtGui import QDrag

    original = legend.mouseDragEvent

    def drag(ev: Any) -> None:
        if ev.button() == Qt.LeftButton and ev.isStart():
            name = legend_name_at(legend, ev.buttonDownScenePos(), names_by_curve())
            if name:
                ev.accept()
                d = QDrag(owner)
                d.setMimeData(names_mime([name]))
                d.exec_(Qt.CopyAction)
                return
        original(ev)

    legend.mouseDragEvent = drag


class NameDropMixin:
    """Drag-and-drop of PV names (text/plain) onto a plot widget: the names are added
    with ``add_pvs``; rejects and additions are reported on ``message``.
    ``DROP_VERB`` says what happens ("Plotting", "Charting")."""

    DROP_VERB = "Adding"

    def dragEnterEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasText():
            event.acceptProposedAction()

    def dragMoveEvent(self, event: Any) -> None:  # noqa: N802
        if event.mimeData().hasText():
            event.acceptProposedAction()

    def dropEvent(self, event: Any) -> None:  # noqa: N802
        if not event.mimeData().hasText():
            return
        self.add_from_text(event.mimeData().text())
        event.acceptProposedAction()

    def add_from_text(self, text: str, say_added: bool = True) -> list[str]:
        """Add the PV names in ``text`` (typed or dropped); rejects are reported on
        ``message``, and with ``say_added`` what was added. Returns the names added."""
        parsed = names_from_drop(text)
        added = self.add_pvs(parsed.names)  # type: ignore[attr-defined]
        if parsed.rejected:
            self.message.emit("Rejected: " + ", ".join(  # type: ignore[attr-defined]
                f"{t} ({why})" for t, why in parsed.rejected[:5]))
        elif added and say_added:
            self.message.emit(f"{self.DROP_VERB} {', '.join(added)}")  # type: ignore[attr-defined]
        return added

    def _on_entry(self) -> None:
        """The entry line's names (Enter): added, the line cleared."""
        text = self.entry.text()  # type: ignore[attr-defined]
        self.entry.clear()  # type: ignore[attr-defined]
        self.add_from_text(text, say_added=False)


def export_buttons(owner: Any, csv_tip: str) -> tuple[Any, Any]:
    """The CSV… and PNG… buttons of a plot, wired to its export dialogs."""
    from PyQt5.QtWidgets import QPushButton

    csv_btn = QPushButton("CSV…")
    csv_btn.setToolTip(csv_tip)
    csv_btn.clicked.connect(owner._export_csv_dialog)
    png_btn = QPushButton("PNG…")
    png_btn.clicked.connect(owner._export_png_dialog)
    return csv_btn, png_btn


class PlotExportMixin:
    """The exports every plot has: its data as CSV (``csv_text()`` of the plot) and
    ``plot`` as PNG, offered as ``EXPORT_STEM``.csv/.png. ``CSV_EXPORT`` is the CSV
    dialog's title and what the count of written lines is called."""

    EXPORT_STEM = "plot"
    CSV_EXPORT = ("Export data", "rows")

    def csv_text(self) -> tuple[str, int]:
        """The CSV text of the plot's data and how many data lines it has."""
        raise NotImplementedError

    def export_csv(self, path: str) -> int:
        """Write the data as CSV (atomically); returns the number of data lines."""
        text, n = self.csv_text()
        atomic_write_text(path, text)
        return n

    def _export_csv_dialog(self) -> None:
        title, unit = self.CSV_EXPORT
        export_with_dialog(self, title, f"{self.EXPORT_STEM}.csv", "CSV (*.csv)",  # type: ignore[arg-type]
                           lambda p: f"Wrote {self.export_csv(p):,} {unit} to {p}")

    def export_png(self, path: str) -> None:
        """Write the plot picture as PNG (atomically)."""
        save_png(self.plot, path)  # type: ignore[attr-defined]

    def _export_png_dialog(self) -> None:
        export_with_dialog(self, "Export picture", f"{self.EXPORT_STEM}.png", "PNG (*.png)",  # type: ignore[arg-type]
                           lambda p: (self.export_png(p), f"Wrote {p}")[1])


def export_with_dialog(widget: QWidget, title: str, default_name: str, file_filter: str,
                       write: Callable[[str], str]) -> Optional[str]:
    """Ask for a file, run ``write(path)`` (returns the report line) and emit the report,
    or the reason it failed, on ``widget.message``. Returns the path written, or None."""
    from PyQt5.QtWidgets import QFileDialog

    path, _ = QFileDialog.getSaveFileName(widget, title, default_name, file_filter)
    if not path:
        return None
    try:
        widget.message.emit(write(path))  # type: ignore[attr-defined]
        return path
    except OSError as exc:
        widget.message.emit(f"Could not write {path}: {exc}")  # type: ignore[attr-defined]
        return None
