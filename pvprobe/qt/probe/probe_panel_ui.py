"""The probe panel's widgets and layout (its setupUi), and the draggable PV name label."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional

from PyQt5.QtCore import QMimeData, QPoint, Qt
from PyQt5.QtGui import QDrag, QFont, QMouseEvent
from PyQt5.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ..plots.sparkline import Sparkline
from ..style.theme import label_style
from ..widgets.flow_layout import FlowLayout
from .put_editor import PutEditor
from .pva_view import StructureView
from .record_fields_view import RecordFieldsView


class PVNameLabel(QLabel):
    """The probe's PV name; drag it out (text/plain) to open the PV elsewhere."""

    def __init__(self, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._press: Optional[QPoint] = None
        self.setTextInteractionFlags(Qt.NoTextInteraction)
        self.setCursor(Qt.OpenHandCursor)
        self.setToolTip("Drag the name onto another view (table, plot, probe) to open it there")
        self.drags = 0

    def mime_data(self) -> QMimeData:
        md = QMimeData()
        md.setText(self.text())
        return md

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if event.button() == Qt.LeftButton:
            self._press = event.pos()
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self._press is None or not self.text() or not (event.buttons() & Qt.LeftButton):
            return
        if (event.pos() - self._press).manhattanLength() < QApplication.startDragDistance():
            return
        self._press = None
        self.drags += 1
        drag = QDrag(self)
        drag.setMimeData(self.mime_data())
        drag.exec_(Qt.CopyAction)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._press = None
        super().mouseReleaseEvent(event)


if TYPE_CHECKING:
    from .probe_panel import ProbePanel


def build_probe_panel_ui(w: ProbePanel) -> None:
    """Make the panel's widgets (entry, value, alarm, info, history, sparkline, editor, fields) and lay them out."""
    w.entry = QLineEdit(w)
    w.entry.setPlaceholderText("PV name — type and press Enter, or drop one here")
    w.entry.setClearButtonEnabled(True)
    w.entry.setAcceptDrops(False)      # a dropped name opens the PV (the panel takes it)
    w.entry.returnPressed.connect(lambda: w.set_typed(w.entry.text()))

    w.name_label = PVNameLabel(w)
    f = QFont(w.font())
    f.setBold(True)
    f.setPointSizeF(f.pointSizeF() * 1.15)
    w.name_label.setFont(f)
    w.conn_label = QLabel(w)
    w.value_label = QLabel(w)
    vf = QFont(w.font())
    vf.setPointSizeF(vf.pointSizeF() * 2.0)
    vf.setBold(True)
    w.value_label.setFont(vf)
    w.value_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    w.value_label.setMinimumHeight(int(w.value_label.fontMetrics().height() * 1.4))
    w.value_label.setContentsMargins(8, 2, 8, 2)
    w.value_label.setAutoFillBackground(True)
    w.value_label.setWordWrap(True)
    # every digit the IOC holds, shown only where PREC hides some (5.5 with PREC 0 is "6")
    w.full_label = QLabel(w)
    w.full_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    w.full_label.setWordWrap(True)
    w.full_label.setContentsMargins(8, 0, 8, 0)
    w.full_label.setToolTip("The value with every digit the IOC holds: the record's "
                               "precision (PREC) hides some of them above")
    w.full_label.hide()
    w.alarm_label = QLabel(w)
    w.time_label = QLabel(w)
    w.time_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    w.clock_label = QLabel(w)
    w.clock_label.setStyleSheet(label_style(w._colours.hint))

    w.copy_button = QPushButton("Copy report", w)
    w.copy_button.setToolTip("Copy everything shown here as text (the same as 'pvprobe info PV --fields')")
    w.copy_button.clicked.connect(w.copy_report)
    w.plot_button = QPushButton("Strip chart", w)
    w.plot_button.clicked.connect(w._request_plot)
    w.plot_button.setEnabled(False)

    top = FlowLayout()      # wraps: never wider than the dock allows
    top.addWidget(w.entry, 1)
    top.addWidget(w.plot_button)
    top.addWidget(w.copy_button)
    head = QHBoxLayout()
    head.addWidget(w.name_label, 1)
    head.addWidget(w.conn_label)

    # channel information (what cainfo shows and more)
    w.info = {}
    info_box = QGroupBox("Channel (limits: low .. high)", w)
    grid = QGridLayout(info_box)
    grid.setVerticalSpacing(2)
    grid.setHorizontalSpacing(6)
    left = (("type", "Type"), ("count", "Elements"), ("host", "Host"),
            ("access", "Access"), ("precision", "Precision"))
    right = (("units", "Units"), ("display", "Display"), ("alarm", "Alarm"),
             ("warning", "Warning"), ("control", "Control"))
    for col, items in ((0, left), (2, right)):
        for row, (key, label) in enumerate(items):
            lab = QLabel("-", info_box)
            lab.setTextInteractionFlags(Qt.TextSelectableByMouse)
            w.info[key] = lab
            name = QLabel(label + ":", info_box)
            name.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            grid.addWidget(name, row, col)
            grid.addWidget(lab, row, col + 1)
    lab = QLabel("-", info_box)
    lab.setTextInteractionFlags(Qt.TextSelectableByMouse)
    lab.setWordWrap(True)
    w.info["enums"] = lab
    name = QLabel("Enum states:", info_box)
    name.setAlignment(Qt.AlignRight | Qt.AlignTop)
    grid.addWidget(name, len(left), 0)
    grid.addWidget(lab, len(left), 1, 1, 3)
    grid.setColumnStretch(1, 1)
    grid.setColumnStretch(3, 1)
    tips = {"type": "native DBR type", "count": "elements: valid now vs NELM for arrays",
            "host": "the IOC serving this PV (host:port)", "access": "this client's rights",
            "display": "display limits LOPR .. HOPR", "alarm": "alarm limits LOLO .. HIHI (MAJOR outside)",
            "warning": "warning limits LOW .. HIGH (MINOR outside)",
            "control": "control limits DRVL .. DRVH: puts outside are refused"}
    for key, tip in tips.items():
        w.info[key].setToolTip(tip)

    put_box = QGroupBox("Put", w)
    w.editor = PutEditor(w.bridge, put_box, source="probe")
    QVBoxLayout(put_box).addWidget(w.editor)

    hist_box = QGroupBox("History (since open)", w)
    w.stats_label = QLabel("-", hist_box)
    w.stats_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
    w.stats_label.setWordWrap(True)
    w.reset_button = QPushButton("Reset", hist_box)
    w.reset_button.setToolTip("Start the statistics and the sparkline afresh")
    w.reset_button.clicked.connect(w.reset_history)
    w.sparkline = Sparkline(hist_box)
    hl = QVBoxLayout(hist_box)
    row = QHBoxLayout()
    row.addWidget(w.stats_label, 1)
    row.addWidget(w.reset_button, 0, Qt.AlignTop)
    hl.addLayout(row)
    hl.addWidget(w.sparkline)
    w.hist_box = hist_box

    fields_box = QGroupBox("Record fields", w)
    w.fields_view = RecordFieldsView(w.bridge, fields_box, source="probe")
    QVBoxLayout(fields_box).addWidget(w.fields_view)
    w.fields_box = fields_box

    struct_box = QGroupBox("pvAccess structure", w)
    w.structure_view = StructureView(struct_box)
    QVBoxLayout(struct_box).addWidget(w.structure_view)
    struct_box.hide()                 # shown for NTTables and other structures
    w.struct_box = struct_box

    body = QWidget(w)
    bl = QVBoxLayout(body)
    bl.setContentsMargins(0, 0, 0, 0)
    bl.addLayout(head)
    bl.addWidget(w.value_label)
    bl.addWidget(w.full_label)
    bl.addWidget(w.alarm_label)
    bl.addWidget(w.time_label)
    bl.addWidget(struct_box, 2)
    bl.addWidget(w.clock_label)
    bl.addWidget(put_box)
    bl.addWidget(info_box)
    bl.addWidget(hist_box)
    bl.addWidget(fields_box, 1)
    scroll = QScrollArea(w)
    scroll.setWidget(body)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.NoFrame)
    scroll.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
    w.scroll = scroll

    w.status = QLabel(w)
    w.status.setWordWrap(True)
    lay = QVBoxLayout(w)
    lay.addLayout(top)
    lay.addWidget(scroll, 1)
    lay.addWidget(w.status)
    w._show_empty()
