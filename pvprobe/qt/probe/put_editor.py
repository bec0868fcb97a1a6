"""Safe puts: an editor that fits the PV's type, a busy state, the result.

Puts run through the GUI's one put workflow (:class:`~pvprobe.qt.puts.PutWorkflow`:
checks, confirmation, put log, completion report).

:class:`PutEditor` is the probe's editor: a menu of states for enums, a
number field checked against the control limits (and told about the precision),
a text field for strings (39 bytes for DBR_STRING), a multi-line text for CHAR
waveforms, a comma/space separated list for arrays; read-only and disconnected
PVs show a read-only field with the reason.
"""

from __future__ import annotations

import math
import time
from typing import Any, Optional

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from pvprobe.core.batch import PutResult
from pvprobe.core.format import format_number, format_value
from pvprobe.core.putrequest import editor_kind, precision_note, prepare, read_only_reason
from pvprobe.core.putvalue import MAX_STRING, PutValueError
from pvprobe.core.pvstate import PVState
from pvprobe.core.values import editable_text

from ..puts import PutsOwner
from ..style.theme import label_style, status_colors, theme_of

#: Arrays longer than this are not copied into the editor (typing them is no use anyway).
PREFILL_MAX = 4096


class PutEditor(PutsOwner, QWidget):
    """The probe's put editor for one PV. Feed it states with :meth:`set_state`."""

    #: A put was sent (rid); a put finished (PutResult); a value was refused (reason).
    putSent = pyqtSignal(int)
    putDone = pyqtSignal(object)
    refusedValue = pyqtSignal(str)

    def __init__(self, bridge: Any, parent: Optional[QWidget] = None, source: str = "probe") -> None:
        super().__init__(parent)
        self._make_runner(bridge, source)
        self.state: Optional[PVState] = None
        self.kind = ""
        self._shape: tuple = ()
        self._dirty = False           # the user typed since the last prefill
        self._busy_since: Optional[float] = None
        self._theme = theme_of()
        self._colours = status_colors(self._theme)
        self._tones: dict[QWidget, str] = {}   # label -> StatusColors field it is drawn in
        self._invalid = False

        self.enum_box = QComboBox(self)
        self.enum_box.setSizeAdjustPolicy(QComboBox.AdjustToContents)
        self.line = QLineEdit(self)
        self.line.setClearButtonEnabled(True)
        self.text = QPlainTextEdit(self)
        self.text.setMaximumHeight(70)
        self.text.setTabChangesFocus(True)
        self.readonly = QLineEdit(self)
        self.readonly.setReadOnly(True)
        self.readonly.setEnabled(False)
        # one editor visible at a time (a QStackedWidget would be as tall as the tallest)
        self.stack = QWidget(self)
        sl = QHBoxLayout(self.stack)
        sl.setContentsMargins(0, 0, 0, 0)
        self._pages = (self.enum_box, self.line, self.text, self.readonly)
        for w in self._pages:
            w.setParent(self.stack)
            sl.addWidget(w, 1 if w is not self.enum_box else 0)
        sl.addStretch(0)
        self.stack.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Maximum)

        self.put_button = QPushButton("Put", self)
        self.put_button.setToolTip("Send the value (asks for confirmation unless turned off)")
        self.put_button.clicked.connect(self.submit)
        self.current_button = QPushButton("Current", self)
        self.current_button.setToolTip("Load the current value into the editor")
        self.current_button.clicked.connect(self.load_current)
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setMaximumHeight(10)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.hide()
        self.hint = QLabel(self)
        self.hint.setWordWrap(True)
        self._tone(self.hint, "hint")
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextSelectableByMouse)

        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.stack, 1)
        row.addWidget(self.current_button)
        row.addWidget(self.put_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(3)
        lay.addLayout(row)
        lay.addWidget(self.hint)
        lay.addWidget(self.busy_bar)
        lay.addWidget(self.message)

        self.enum_box.activated.connect(self._on_enum_chosen)
        self.line.textEdited.connect(self._on_edited)
        self.line.returnPressed.connect(self.submit)
        self.text.textChanged.connect(self._on_text_changed)
        self._tick = QTimer(self)
        self._tick.setInterval(100)
        self._tick.timeout.connect(self._show_busy)
        self._apply_kind()

    # -- settings ---------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.runner.busy

    # -- colours ---------------------------------------------------------------------------
    def set_theme(self, name: str) -> None:
        """Colours of the "light" or "dark" theme for the hint, the message and the entry frame."""
        self._theme = name
        self._colours = status_colors(name)
        for label, tone in self._tones.items():
            label.setStyleSheet(label_style(getattr(self._colours, tone)))
        self._mark_invalid(self._invalid)

    def _tone(self, label: QWidget, tone: str) -> None:
        """Draw ``label`` in the :class:`StatusColors` field ``tone`` ("ok", "bad", "hint")."""
        self._tones[label] = tone
        label.setStyleSheet(label_style(getattr(self._colours, tone)))

    def _mark_invalid(self, on: bool) -> None:
        """Frame the line edit in the warning colour while its text cannot be put."""
        self._invalid = on
        frame = f"QLineEdit {{ border: 2px solid {self._colours.warn.name()}; }}"
        self.line.setStyleSheet(frame if on else "")

    # -- state ---------------------------------------------------------------------------
    def clear(self) -> None:
        self.state = None
        self._shape = ()        # the next PV's first state picks its editor, even of the same shape
        self.message.clear()
        self._dirty = False
        self._apply_kind()

    def set_state(self, st: Optional[PVState]) -> None:
        """The PV's newest state: chooses the editor; prefills it until the user types."""
        self.state = st
        shape = (editor_kind(st),) + ((st.native_type, st.max_count, st.enum_strs) if st else ())
        if shape != self._shape:
            self._shape = shape
            self._apply_kind()
        elif self.kind == "readonly" or self.kind == "disconnected":
            self.readonly.setText(_readonly_text(st))
        elif not self._dirty and not self.busy and st is not None:
            self._follow(st)

    def _follow(self, st: PVState) -> None:
        """Until the user edits, the editor shows the live value (not while it has focus)."""
        k = self.kind
        if k == "enum":
            if isinstance(st.value, int) and self.enum_box.currentIndex() != st.value \
                    and not self.enum_box.view().isVisible() and 0 <= st.value < self.enum_box.count():
                self.enum_box.setCurrentIndex(st.value)
        elif k == "text":
            if not self.text.hasFocus():
                new = editable_text(st, max_elements=PREFILL_MAX)
                if new != self.text.toPlainText():
                    self.text.blockSignals(True)
                    self.text.setPlainText(new)
                    self.text.blockSignals(False)
        elif k in ("number", "string") and not self.line.hasFocus():
            self.line.setText(editable_text(st, max_elements=PREFILL_MAX))
        # arrays: prefilled once (and by "Current"), never followed live

    def _apply_kind(self) -> None:
        st = self.state
        self.kind = editor_kind(st)
        k = self.kind
        self._dirty = False
        self._mark_invalid(False)
        if k in ("readonly", "disconnected"):
            self._show_page(self.readonly)
            self.readonly.setText(_readonly_text(st))
            self.hint.setText(read_only_reason(st, getattr(self.runner.bridge, 'read_only', False)))
            self._tone(self.hint, "bad" if k == "readonly" else "hint")
            self.put_button.setEnabled(False)
            self.current_button.setEnabled(False)
            self.readonly.setToolTip(read_only_reason(st, getattr(self.runner.bridge, 'read_only', False)))
            return
        assert st is not None
        self._tone(self.hint, "hint")
        self.put_button.setEnabled(not self.busy)
        self.current_button.setEnabled(True)
        if k == "enum":
            self.enum_box.blockSignals(True)
            self.enum_box.clear()
            self.enum_box.addItems([s if s else f"({i})" for i, s in enumerate(st.enum_strs)])
            if isinstance(st.value, int) and 0 <= st.value < len(st.enum_strs):
                self.enum_box.setCurrentIndex(st.value)
            self.enum_box.blockSignals(False)
            self._show_page(self.enum_box)
            self.hint.setText(f"{len(st.enum_strs)} states; choose one and press Put")
        elif k == "text":
            self._show_page(self.text)
            self.text.blockSignals(True)
            self.text.setPlainText(editable_text(st, max_elements=PREFILL_MAX))
            self.text.blockSignals(False)
            self.hint.setText(f"text, at most {max(0, st.max_count - 1)} bytes (CHAR[{st.max_count}])")
        else:
            self._show_page(self.line)
            self.line.setText(editable_text(st, max_elements=PREFILL_MAX))
            self.line.setCursorPosition(0)
            self.line.setMaxLength(32767)
            if k == "string":
                self.hint.setText(f"text, at most {MAX_STRING} bytes (DBR_STRING holds 40 with the NUL)")
            elif k == "array" and st.native_type == "STRING":
                self.hint.setText(f"up to {st.max_count} texts of at most {MAX_STRING} bytes, separated "
                                  f'by spaces; "quote" one that is empty or holds spaces')
            elif k == "array":
                self.hint.setText(f"up to {st.max_count} numbers ({st.native_type}), separated by "
                                  f"commas or spaces")
            else:
                self.hint.setText(self._number_hint(st))
        self._dirty = False

    @staticmethod
    def _number_hint(st: PVState) -> str:
        parts = [f"a number ({st.native_type})"]
        lims = st.control_limits
        if lims and lims[0] is not None and lims[1] is not None and lims[1] > lims[0]:
            unit = f" {st.units}" if st.units else ""
            parts.append(f"from {lims[0]:g} to {lims[1]:g}{unit} (control limits)")
        if st.precision is not None and st.native_type in ("DOUBLE", "FLOAT"):
            parts.append(f"shown with PREC {st.precision}")
        return ", ".join(parts)

    def _show_page(self, page: QWidget) -> None:
        for w in self._pages:
            w.setVisible(w is page)
        self.current_page = page

    # -- editing ---------------------------------------------------------------------------
    def raw_value(self) -> Any:
        """What the user entered (an index for enums, text otherwise)."""
        if self.kind == "enum":
            return self.enum_box.currentIndex()
        if self.kind == "text":
            return self.text.toPlainText()
        return self.line.text()

    def set_value_text(self, text: str) -> None:
        """Type ``text`` into the editor (tests, drag-and-drop)."""
        if self.kind == "text":
            self.text.setPlainText(text)
        elif self.kind == "enum":
            idx = self.enum_box.findText(text)
            if idx < 0 and text.strip().isdigit():
                idx = int(text)
            self.enum_box.setCurrentIndex(idx)
            self._dirty = True
        else:
            self.line.setText(text)
            self._on_edited(text)

    def load_current(self) -> None:
        self._apply_kind()
        self.message.clear()

    def _on_enum_chosen(self, index: int) -> None:
        self._dirty = True          # the user chose: stop following the live value
        self.message.clear()

    def _on_text_changed(self) -> None:
        self._on_edited(self.text.toPlainText())

    def _on_edited(self, text: str) -> None:
        self._dirty = True
        st = self.state
        if st is None or self.kind in ("readonly", "disconnected", "enum"):
            return
        try:
            prepare(st, text)
        except PutValueError as exc:
            self._tone(self.message, "bad")
            self.message.setText(f"✖ {exc}")
            if self.kind != "text":
                self._mark_invalid(True)
            return
        self._mark_invalid(False)
        note = precision_note(st, text) if self.kind == "number" else ""
        self._tone(self.message, "hint")
        self.message.setText(note)

    def submit(self) -> bool:
        """Check the entered value and put it (after confirmation). True if sent."""
        st = self.state
        if st is None or self.busy:
            return False
        if self.kind in ("readonly", "disconnected"):
            self._on_refused(st.name, read_only_reason(st, getattr(self.runner.bridge, 'read_only', False)))
            return False
        rid = self.runner.request(st, self.raw_value(), self)
        return rid is not None

    # -- put cycle ---------------------------------------------------------------------------
    def _on_refused(self, name: str, reason: str) -> None:
        self._tone(self.message, "bad")
        self.message.setText(f"✖ Refused, nothing sent: {reason}")
        self.refusedValue.emit(reason)

    def _on_started(self, rid: int, name: str) -> None:
        self._busy_since = time.monotonic()
        for w in (self.stack, self.put_button, self.current_button):
            w.setEnabled(False)
        self.busy_bar.show()
        self._show_busy()
        self._tick.start()
        self.putSent.emit(rid)

    def _show_busy(self) -> None:
        if self._busy_since is None:
            return
        dt = time.monotonic() - self._busy_since
        self._tone(self.message, "hint")
        self.message.setText(f"Putting… waiting for completion {dt:.1f} s (timeout {self.timeout:g} s)")

    def _on_finished(self, result: PutResult) -> None:
        self._tick.stop()
        self._busy_since = None
        self.busy_bar.hide()
        self.stack.setEnabled(True)
        self._apply_kind()
        secs = f" in {result.seconds:.2f} s" if result.seconds else ""
        if result.ok:
            self._tone(self.message, "ok")
            self.message.setText(f"✔ Done{secs}: {result.name} ← {_short(result.value, self.state)}")
        else:
            self._tone(self.message, "bad")
            self.message.setText(f"✖ Failed{secs}: {result.error}")
        self.putDone.emit(result)

    @property
    def message_text(self) -> str:
        return self.message.text()


def _readonly_text(st: Optional[PVState]) -> str:
    if st is None or st.value is None:
        return ""
    return format_value(st, with_units=True)


def _short(value: Any, st: Optional[PVState]) -> str:
    if st is not None and st.is_enum and isinstance(value, int) and 0 <= value < len(st.enum_strs):
        return st.enum_strs[value]
    if isinstance(value, list):
        head = ", ".join(format_number(v) for v in value[:8])
        return f"[{len(value)}] {head}{' …' if len(value) > 8 else ''}"
    if isinstance(value, str):
        return repr(value) if len(value) < 60 else repr(value[:57] + "…")
    if isinstance(value, float) and math.isfinite(value):
        return format_number(value)
    return str(value)
