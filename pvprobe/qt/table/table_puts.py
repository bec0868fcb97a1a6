"""The table's puts: a cell edit or the put dialog becomes a PutRequest for the table's
put workflow; the Completion column follows it."""

from __future__ import annotations

from typing import Any, Optional

from PyQt5.QtWidgets import QInputDialog, QLineEdit

from pvprobe.core.batch import PutResult
from pvprobe.core.putrequest import PutRequest, edit_hint, value_shown
from pvprobe.core.putvalue import PutValueError, text_put_value
from pvprobe.core.values import editable_text, is_editable

from .pvtable_model import PUTTING_TEXT


class TablePuts:
    """Part of :class:`PVTableWidget` (see the module docstring)."""

    def _on_put_requested(self, name: str, value: Any) -> None:
        self.put_value(name, value)

    def _on_refused(self, name: str, reason: str) -> None:
        self._say(f"Not sent to {name}: {reason}")

    def put_value(self, name: str, value: Any) -> Optional[int]:
        """Check ``value``, confirm (unless ``confirm_puts`` is False) and put it through
        the put workflow. Returns the request id, or None when refused or cancelled. The
        row's Completion column follows the request."""
        st = self.model.state_of(name)
        if st is None:
            self._say(f"Not sent: {name} is not in this table")
            return None
        self.puts.confirm = self.confirm_puts
        rid = self.puts.submit(PutRequest(name, value, "table", st, self.put_timeout), self)
        if rid is None:
            if not self.puts.last_refusal:
                self._say(f"Put to {name} cancelled")
            return None
        self.model.set_completion(name, PUTTING_TEXT)
        self._say(f"Putting {value_shown(st, self.puts.pending_value(rid))} to {name}…")
        return rid

    def put_value_dialog(self, name: Optional[str] = None) -> Optional[int]:
        """Ask for a value for ``name`` (default: the selected row) and put it."""
        if not name:
            sel = self.selected_names()
            if len(sel) != 1:
                self._say("Select one PV to put a value")
                return None
            name = sel[0]
        st = self.model.state_of(name)
        if st is None:
            return None
        if not is_editable(st):
            self._say(f"Cannot put to {name}: " + ("not connected" if not st.connected
                                                   else "no write access (read-only PV)"))
            return None
        if st.is_enum and st.enum_strs:
            current = int(st.value) if isinstance(st.value, int) and 0 <= st.value < len(st.enum_strs) else 0
            item, ok = QInputDialog.getItem(self, "Put value", f"{name} ({edit_hint(st)}):",
                                            list(st.enum_strs), current, False)
            if not ok:
                return None
            return self.put_value(name, list(st.enum_strs).index(item))
        text, ok = QInputDialog.getText(self, "Put value", f"{name} ({edit_hint(st)}):",
                                        QLineEdit.Normal, editable_text(st))
        if not ok:
            return None
        try:
            value = text_put_value(st, text)     # a STRING array's text: its elements
        except PutValueError as exc:
            self._on_refused(name, str(exc))
            return None
        return self.put_value(name, value)

    def _on_put_finished(self, result: PutResult) -> None:
        name = result.name
        if result.ok:
            ms = result.seconds * 1000.0
            text = f"done {ms:.0f} ms" if result.seconds else "done"
            self._say(f"Put to {name} done" + (f" in {ms:.0f} ms" if result.seconds else ""))
        else:
            text = f"failed: {result.error}"
            self._say(f"Put to {name} failed: {result.error}")
        self.model.set_completion(name, text)
