"""The table widget's controls (entry, filter, toggles, count), view and layout (its
setupUi)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt5.QtCore import QByteArray, Qt
from PyQt5.QtWidgets import QAbstractItemView, QFrame, QLabel, QLineEdit, QToolButton, QVBoxLayout

from ..widgets.flow_layout import FlowLayout
from .pvtable_model import Col
from .table_view import DEFAULT_HIDDEN, ENTRY_PLACEHOLDER, FILTER_PLACEHOLDER, PVTableView
from .value_delegate import ValueDelegate

if TYPE_CHECKING:
    from .table_widget import PVTableWidget


def build_table_widget_ui(w: PVTableWidget) -> None:
    """Make the entry, filter, toggles, count label and the view, and lay them out."""
    # -- controls ------------------------------------------------------------------
    w.entry = QLineEdit(w)
    w.entry.setPlaceholderText(ENTRY_PLACEHOLDER)
    w.entry.setClearButtonEnabled(True)
    w.entry.setToolTip("PV names separated by spaces, commas or new lines; ca://NAME accepted")
    w.entry.returnPressed.connect(w._on_entry)

    w.filter_edit = QLineEdit(w)
    w.filter_edit.setPlaceholderText(FILTER_PLACEHOLDER)
    w.filter_edit.setClearButtonEnabled(True)
    w.filter_edit.setToolTip("Case-insensitive text, or a glob with * ? [ ] matching the whole "
                             "name, value or severity (e.g. *:ai:1*)")
    w.filter_edit.textChanged.connect(w._on_filter_text)

    w.alarm_toggle = _filter_toggle(w, "Alarms only",
                                    "Show only connected PVs in alarm (MINOR, MAJOR, INVALID)")
    w.disconnected_toggle = _filter_toggle(w, "Disconnected only",
                                           "Show only PVs that are not connected (with Alarms only: both)")
    w._update_swatches()

    w.count_label = QLabel(w)
    w.count_label.setTextInteractionFlags(Qt.NoTextInteraction)
    w.count_label.setMinimumWidth(60)     # a narrow window clips the count, not the window
    fm = w.fontMetrics()
    w.entry.setMinimumWidth(min(fm.horizontalAdvance(ENTRY_PLACEHOLDER) + 40, 200))
    w.filter_edit.setMinimumWidth(min(fm.horizontalAdvance(FILTER_PLACEHOLDER) + 40, 160))
    w.count_label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)

    # -- view ------------------------------------------------------------------------
    w.view = PVTableView(w)
    w.view.setModel(w.proxy)
    w.view.apply_default_widths()
    w.view.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed)
    w.delegate = ValueDelegate(w.view)
    w.view.setItemDelegateForColumn(int(Col.VALUE), w.delegate)
    w.delegate.putRequested.connect(w._on_put_requested, Qt.QueuedConnection)
    w.delegate.refused.connect(w._on_refused)
    w.proxy.hold = lambda: w.view.state() == QAbstractItemView.EditingState
    hh = w.view.horizontalHeader()
    hh.setSectionsMovable(True)
    hh.setSectionsClickable(True)
    hh.setSortIndicatorShown(True)
    hh.setSortIndicator(-1, Qt.AscendingOrder)   # insertion order until the user sorts
    w.view.setSortingEnabled(True)
    hh.setContextMenuPolicy(Qt.CustomContextMenu)
    hh.customContextMenuRequested.connect(w._header_menu)
    for col in DEFAULT_HIDDEN:
        hh.setSectionHidden(int(col), True)
    hh.moveSection(hh.visualIndex(int(Col.PROTOCOL)), 1)     # CA or PVA, next to the name
    w._default_header = QByteArray(hh.saveState())
    w.view.filesDropped.connect(w._on_files_dropped)
    w.view.textDropped.connect(w._on_text_dropped)

    top = FlowLayout(spacing=6)     # wraps in a narrow window instead of widening it
    top.addWidget(w.entry, 5)
    sep = QFrame(w)
    sep.setFrameShape(QFrame.VLine)
    sep.setFrameShadow(QFrame.Sunken)
    top.addWidget(sep)
    top.addWidget(w.filter_edit, 4)
    top.addWidget(w.alarm_toggle)
    top.addWidget(w.disconnected_toggle)
    top.addWidget(w.count_label)
    lay = QVBoxLayout(w)
    lay.setContentsMargins(4, 4, 4, 4)
    lay.setSpacing(4)
    lay.addLayout(top)
    lay.addWidget(w.view)


def _filter_toggle(w: PVTableWidget, text: str, tip: str) -> QToolButton:
    """A checkable filter button (its icon shows the alarm colours, see _update_swatches)."""
    b = QToolButton(w)
    b.setText(text)
    b.setCheckable(True)
    b.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
    b.setToolTip(tip)
    b.toggled.connect(w._on_toggles)
    return b
