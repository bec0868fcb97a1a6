"""Probe panels, waveform plots, strip charts and image views as dock widgets of the main window.

Each view holds its own engine subscriptions; closing its dock releases them
(every add matched by one remove). Views are made lazily, so the main window
imports pyqtgraph only when a plot or an image is first opened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any, Optional

from PyQt5.QtCore import Qt, pyqtSignal
from PyQt5.QtGui import QCloseEvent
from PyQt5.QtWidgets import QDockWidget, QMainWindow, QWidget

log = logging.getLogger(__name__)

#: View kinds, in the order their stats are reported.
KINDS = ("probe", "waveform", "strip", "image", "compare")
TITLES = {"probe": "Probe", "waveform": "Waveform", "strip": "Strip chart", "image": "Image",
          "compare": "Compare CA and PVA"}


def release_view(widget: QWidget) -> None:
    """Drop every engine subscription a view holds (idempotent)."""
    for method in ("close_pv", "close_pvs", "shutdown"):
        fn = getattr(widget, method, None)
        if callable(fn):
            try:
                fn()
            except Exception:   # a view that fails to clean up must not stop the others
                log.exception("%s.%s failed", type(widget).__name__, method)
            return


def dock_object_name(kind: str, index: int) -> str:
    """The object name of the ``index``-th open dock of ``kind`` ("probe-dock-0")."""
    return f"{kind}-dock-{index}"


def free_dock_index(used: Iterable[int]) -> int:
    """The lowest index not in ``used`` (names of closed docks are taken again)."""
    taken = set(used)
    index = 0
    while index in taken:
        index += 1
    return index


class ViewDock(QDockWidget):
    """A dock holding one view; closing it releases the view's PVs and deletes it."""

    closed = pyqtSignal(object)

    def __init__(self, kind: str, view: QWidget, title: str, parent: QWidget, index: int = 0) -> None:
        super().__init__(title, parent)
        self.kind = kind
        self.view = view
        self.index = index
        # a stable name (kind and index): the saved window state holds one entry per
        # name, so names that never repeat (object ids) made it grow with every dock
        self.setObjectName(dock_object_name(kind, index))
        self.setWidget(view)
        self.setAttribute(Qt.WA_DeleteOnClose, True)
        self.setAllowedAreas(Qt.AllDockWidgetAreas)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        release_view(self.view)
        self.closed.emit(self)
        super().closeEvent(event)


class ViewDocks:
    """Opens and tracks the views of one main window."""

    def __init__(self, window: QMainWindow, bridge: Any,
                 on_message: Optional[Callable[[str], None]] = None) -> None:
        self.window = window
        self.bridge = bridge
        self.docks: list[ViewDock] = []
        self.confirm_puts = True
        self.palette = "default"
        self._say = on_message or (lambda text: None)
        self.read_only = False
        #: Called with (kind, view) for every view opened (the window's name finder).
        self.opened: list[Callable[[str, QWidget], None]] = []

    # -- opening --------------------------------------------------------------------------
    def _add(self, kind: str, view: QWidget, title: str,
             area: Qt.DockWidgetArea = Qt.RightDockWidgetArea) -> ViewDock:
        index = free_dock_index(d.index for d in self.docks if d.kind == kind)
        dock = ViewDock(kind, view, title, self.window, index)
        dock.closed.connect(self._forget)
        same = [d for d in self.docks if d.kind == kind] or [d for d in self.docks
                                                            if self.window.dockWidgetArea(d) == area]
        self.window.addDockWidget(area, dock)
        if same:
            self.window.tabifyDockWidget(same[-1], dock)
        dock.show()
        dock.raise_()
        self.docks.append(dock)
        for hook in self.opened:
            hook(kind, view)
        fit = getattr(self.window, "fit_to_screen", None)
        if callable(fit):           # a view never pushes the window past the screen
            self.window.layout().activate()
            fit()
        return dock

    def _forget(self, dock: ViewDock) -> None:
        if dock in self.docks:
            self.docks.remove(dock)

    def open_probe(self, name: Optional[str] = None) -> QWidget:
        """A new probe panel (on ``name`` if given)."""
        from ..probe.probe_panel import ProbePanel

        panel = ProbePanel(self.bridge, name)
        panel.confirm_puts = self.confirm_puts
        panel.set_palette(self.palette)
        panel.openPlotRequested.connect(self.open_plot_of_kind)
        dock = self._add("probe", panel, f"Probe: {name}" if name else "Probe")
        panel.pvChanged.connect(lambda n, d=dock: d.setWindowTitle(f"Probe: {n}" if n else "Probe"))
        return panel

    def open_compare(self, name: Optional[str] = None) -> QWidget:
        """A panel showing one record over CA and over PVA side by side (empty: it takes a
        typed or dropped name)."""
        from ..probe.compare_panel import ComparePanel

        panel = ComparePanel(self.bridge, name)
        title = "Compare CA/PVA"
        dock = self._add("compare", panel, f"{title}: {panel.pv_name}" if panel.pv_name else title)
        panel.pvChanged.connect(lambda n, d=dock: d.setWindowTitle(f"{title}: {n}" if n else title))
        return panel

    def open_plot_of_kind(self, name: str, kind: str) -> QWidget:
        if kind == "image":                 # a pvAccess NTNDArray probed
            return self.open_image(name)
        return self.open_waveform([name]) if kind == "waveform" else self.open_strip([name])

    def open_waveform(self, names: Iterable[str]) -> QWidget:
        """A waveform plot of array PVs."""
        from ..plots.waveform_plot import WaveformPlot

        names = list(names)
        plot = WaveformPlot(self.bridge, names)
        plot.message.connect(self._say)
        self._add("waveform", plot, "Waveform: " + ", ".join(names[:3]) + (" …" if len(names) > 3 else ""))
        return plot

    def open_strip(self, names: Iterable[str]) -> QWidget:
        """A strip chart of scalar PVs."""
        from ..plots.strip_chart import StripChart

        names = list(names)
        chart = StripChart(self.bridge, names)
        chart.message.connect(self._say)
        self._add("strip", chart, "Strip chart: " + ", ".join(names[:3]) + (" …" if len(names) > 3 else ""),
                  Qt.BottomDockWidgetArea)
        return chart

    def open_image(self, prefix: str) -> QWidget:
        """An image view of an areaDetector plugin (``13SIM1:image1:``)."""
        from ..image.image_view import ImageView

        view = ImageView(self.bridge, prefix)
        view.errorOccurred.connect(self._say)
        self._add("image", view, f"Image: {prefix}")
        return view

    def open_array_image(self, pv: str, width: int, height: int, rgb: bool = False) -> QWidget:
        """An image view of a plain array PV with a given width and height."""
        from ..image.image_view import ImageView

        view = ImageView(self.bridge)
        view.errorOccurred.connect(self._say)
        view.open_array(pv, width, height, rgb=rgb)
        self._add("image", view, f"Image: {pv}")
        return view

    # -- state -------------------------------------------------------------------------------
    def views(self, kind: Optional[str] = None) -> list[QWidget]:
        return [d.view for d in self.docks if kind is None or d.kind == kind]

    def set_theme(self, name: str) -> None:
        """Every open view follows the theme (views opened later take it when built)."""
        for view in self.views():
            view.set_theme(name)  # type: ignore[attr-defined]

    def set_palette(self, name: str) -> None:
        """Alarm colours ("default" or "colorblind") of open and later probe panels."""
        self.palette = name
        for panel in self.views("probe"):
            panel.set_palette(name)  # type: ignore[attr-defined]

    def set_confirm_puts(self, on: bool) -> None:
        self.confirm_puts = on
        for panel in self.views("probe"):
            panel.confirm_puts = on  # type: ignore[attr-defined]

    def stats(self) -> dict[str, list[dict]]:
        """Per kind, the stats of each open view (for ``--stats``)."""
        out: dict[str, list[dict]] = {}
        for d in self.docks:
            fn = getattr(d.view, "stats", None)
            if callable(fn):
                try:
                    out.setdefault(d.kind, []).append(fn())
                except Exception:
                    log.exception("stats of %s failed", d.kind)
        return out

    def close_all(self) -> None:
        """Release every view (window shutdown)."""
        for d in list(self.docks):
            release_view(d.view)
            self.docks.remove(d)


__all__ = ["ViewDocks", "ViewDock", "KINDS", "release_view", "dock_object_name", "free_dock_index"]
