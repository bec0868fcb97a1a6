"""Editing the Value column: the right editor per PV type, checked before anything is sent.

The delegate never talks to CA and never writes the model: a committed edit becomes
``putRequested(name, value)`` (queued), which the table widget turns into a put
through the bridge (with its confirmation). A value that does not fit the PV —
outside the control limits, not a number, an unknown state, a string over 39
bytes, too many elements — is refused with the reason (``refused(name, reason)``
and a tooltip at the editor); nothing is sent.
"""

from __future__ import annotations

from typing import Any, Optional

from PyQt5.QtCore import QEvent, QModelIndex, QObject, QPersistentModelIndex, Qt, pyqtSignal
from PyQt5.QtGui import QKeyEvent
from PyQt5.QtWidgets import QComboBox, QLineEdit, QStyledItemDelegate, QStyleOptionViewItem, QToolTip, QWidget

from pvprobe.core.colors import STATUS, css_rgb
from pvprobe.core.putrequest import edit_hint, put_refusal
from pvprobe.core.putvalue import MAX_STRING, PutValueError, text_put_value
from pvprobe.core.pvstate import PVState
from pvprobe.core.values import editable_text, is_editable

from .pvtable_model import STATE_ROLE, Col

_INVALID_STYLE = f"QLineEdit {{ border: 2px solid {css_rgb(STATUS['light']['warn'])}; }}"


class ValueDelegate(QStyledItemDelegate):
    """Editors for the Value column; other columns are never edited."""

    #: (name, value) — a checked value the user committed; connect queued.
    putRequested = pyqtSignal(str, object)
    #: (name, reason) — an edit was refused; nothing was sent.
    refused = pyqtSignal(str, str)

    def __init__(self, parent: Optional[QObject] = None) -> None:
        super().__init__(parent)

    # -- editors ---------------------------------------------------------------------------
    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,  # noqa: N802
                     index: QModelIndex) -> Optional[QWidget]:
        if index.column() != Col.VALUE:
            return None
        st: Optional[PVState] = index.data(STATE_ROLE)
        if st is None or not is_editable(st):
            return None
        if st.is_enum and st.enum_strs and not st.is_array:
            combo = QComboBox(parent)
            combo.addItems(list(st.enum_strs))
            combo.setProperty("pv_name", st.name)
            combo.setProperty("user_chose", False)
            combo.setToolTip(edit_hint(st))

            def chosen(_i: int, c: QComboBox = combo) -> None:
                c.setProperty("user_chose", True)
                self.commitData.emit(c)
                self.closeEditor.emit(c, QStyledItemDelegate.NoHint)
            combo.activated.connect(chosen)
            return combo
        edit = QLineEdit(parent)
        edit.setFrame(False)
        edit.setProperty("pv_name", st.name)
        if st.is_char_array:
            edit.setMaxLength(max(1, st.max_count - 1))
        elif st.native_type == "STRING" and not st.is_array:
            edit.setMaxLength(MAX_STRING)
        if st.ever_connected and not st.is_enum and not st.native_type == "STRING" \
                and not st.is_char_array and not st.is_array:
            edit.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        edit.setToolTip(edit_hint(st))
        edit.setPlaceholderText(edit_hint(st))
        pidx = QPersistentModelIndex(index)
        edit._pv_index = pidx  # type: ignore[attr-defined]  # follows the row if it moves
        edit.textEdited.connect(lambda text, e=edit: self._live_check(e, QModelIndex(pidx), text))
        edit.installEventFilter(self)
        return edit

    def setEditorData(self, editor: QWidget, index: QModelIndex) -> None:  # noqa: N802
        st: Optional[PVState] = index.data(STATE_ROLE)
        if st is None:
            return
        if isinstance(editor, QComboBox):
            if isinstance(st.value, int) and 0 <= st.value < editor.count():
                editor.setCurrentIndex(int(st.value))
        elif isinstance(editor, QLineEdit):
            if not editor.isModified():        # never overwrite what the user typed
                editor.setText(editable_text(st))
                editor.selectAll()

    def setModelData(self, editor: QWidget, model: Any, index: QModelIndex) -> None:  # noqa: N802
        """Check and request the put; the model itself is never written."""
        st: Optional[PVState] = index.data(STATE_ROLE)
        if st is None:
            return
        if isinstance(editor, QComboBox):
            if not editor.property("user_chose"):
                return
            value: Any = editor.currentIndex()
        elif isinstance(editor, QLineEdit):
            if not editor.isModified():
                return                       # opened and left: nothing to put
            try:                             # a STRING array's text: its elements
                value = text_put_value(st, editor.text())
            except PutValueError as exc:
                self.refused.emit(st.name, str(exc))
                return
        else:
            return
        reason = put_refusal(st, value)
        if reason:
            self.refused.emit(st.name, reason)
            return
        self.putRequested.emit(st.name, value)

    def updateEditorGeometry(self, editor: QWidget, option: QStyleOptionViewItem,  # noqa: N802
                             index: QModelIndex) -> None:
        editor.setGeometry(option.rect)

    # -- feedback while typing -----------------------------------------------------------------
    def _live_check(self, editor: QLineEdit, index: QModelIndex, text: str) -> Optional[str]:
        st: Optional[PVState] = index.data(STATE_ROLE) if index.isValid() else None
        if st is None:
            return None
        reason = put_refusal(st, text) if text.strip() or st.native_type == "STRING" \
            or st.is_char_array else "no value given"
        editor.setStyleSheet(_INVALID_STYLE if reason else "")
        editor.setToolTip(reason or edit_hint(st))
        return reason

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        """Enter on an invalid value: keep the editor open and say why."""
        if isinstance(obj, QLineEdit) and event.type() == QEvent.KeyPress \
                and isinstance(event, QKeyEvent) and event.key() in (Qt.Key_Return, Qt.Key_Enter):
            name = obj.property("pv_name")
            pidx = getattr(obj, "_pv_index", None)
            index = QModelIndex(pidx) if pidx is not None else QModelIndex()
            if index.isValid() and obj.isModified():
                reason = self._live_check(obj, index, obj.text())
                if reason:
                    QToolTip.showText(obj.mapToGlobal(obj.rect().bottomLeft()), reason, obj)
                    self.refused.emit(str(name), reason)
                    return True
        return super().eventFilter(obj, event)


__all__ = ["ValueDelegate"]
