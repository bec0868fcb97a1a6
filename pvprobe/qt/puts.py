"""The one put workflow of the GUI: check, confirm, send, log, report completion.

Every caller — the table (cell edits and the put dialog), the probe's editor, its
record fields and the snapshot restore — hands a
:class:`~pvprobe.core.putrequest.PutRequest` to its :class:`PutWorkflow`:

- the request is checked (``PutRequest.prepare``); a value that does not fit is
  refused with the reason (``refused``) and nothing is sent;
- unless ``confirm`` is off, the user is asked (one wording for every caller; a
  restore confirms its whole list in its own dialog and turns this off);
- the put goes through the bridge, which writes the put log (with the request's
  ``source``) and refuses it in read-only mode;
- ``finished(PutResult)`` reports the completion, or a failure when no answer came
  within the request's timeout plus :data:`GRACE`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Optional

from PyQt5.QtCore import QObject, QTimer, pyqtSignal
from PyQt5.QtWidgets import QMessageBox, QWidget

from pvprobe.core.batch import PutResult
from pvprobe.core.putrequest import DEFAULT_TIMEOUT, PutRequest
from pvprobe.core.putvalue import PutValueError
from pvprobe.core.pvstate import PVState

#: Extra seconds after a put's timeout before the GUI gives up waiting for any answer.
GRACE = 3.0


def ask_confirmation(parent: Optional[QWidget], title: str, text: str) -> bool:
    """A Yes/No question, No by default."""
    answer = QMessageBox.question(parent, title, text, QMessageBox.Yes | QMessageBox.No, QMessageBox.No)
    return answer == QMessageBox.Yes


class PutWorkflow(QObject):
    """Runs one caller's puts through the bridge (see the module docstring).

    Signals: ``refused(name, reason)`` (nothing sent), ``started(rid, name)``,
    ``finished(PutResult)`` (also for the GUI-side "no answer" timeout); only this
    workflow's requests are reported.
    """

    refused = pyqtSignal(str, str)
    started = pyqtSignal(int, str)
    finished = pyqtSignal(object)

    def __init__(self, bridge: Any, parent: Optional[QObject] = None, source: str = "app") -> None:
        super().__init__(parent)
        self.bridge = bridge
        #: The put log's source for :meth:`request` ("table", "probe", "restore"...).
        self.source = source
        #: Seconds each put made by :meth:`request` may take.
        self.timeout = DEFAULT_TIMEOUT
        #: Ask before every put.
        self.confirm = True
        self._pending: dict[int, tuple[PutRequest, float, Any]] = {}   # rid -> (request, t0, value)
        self.last_result: Optional[PutResult] = None
        self.last_refusal = ""
        self.sent = 0
        self._watchdog = QTimer(self)
        self._watchdog.setInterval(250)
        self._watchdog.timeout.connect(self._check_overdue)
        bridge.putFinished.connect(self._on_put_finished)

    @property
    def busy(self) -> bool:
        return bool(self._pending)

    def pending_names(self) -> list[str]:
        return [req.name for req, _, _ in self._pending.values()]

    def request(self, st: PVState, raw: Any, parent: Optional[QWidget] = None,
                old_text: Optional[str] = None) -> Optional[int]:
        """:meth:`submit` a request to put ``raw`` (a value or an editor's text) to the PV
        of ``st``, with this workflow's source and timeout."""
        return self.submit(PutRequest(st.name, raw, self.source, st, self.timeout, old_text), parent)

    def submit(self, req: PutRequest, parent: Optional[QWidget] = None) -> Optional[int]:
        """Check, confirm and send ``req``; the request id, or None if refused or cancelled
        (``last_refusal`` says why it was refused; "" when the user said no)."""
        try:
            value = req.prepare()
        except PutValueError as exc:
            self.last_refusal = str(exc)
            self.refused.emit(req.name, str(exc))
            return None
        self.last_refusal = ""
        if self.confirm and not ask_confirmation(parent, "Confirm put", req.confirmation_text(value)):
            return None
        rid = self.bridge.put(req.name, value, req.timeout, source=req.source, state=req.state)
        self._pending[rid] = (req, time.monotonic(), value)
        self.sent += 1
        self._watchdog.start()
        self.started.emit(rid, req.name)
        return rid

    def pending_value(self, rid: int) -> Any:
        """The value sent by pending request ``rid`` (None if not pending)."""
        p = self._pending.get(rid)
        return None if p is None else p[2]

    def forget(self, names: set[str]) -> None:
        """Stop reporting the pending puts to ``names`` (their rows are gone)."""
        self._pending = {rid: p for rid, p in self._pending.items() if p[0].name not in names}

    def _on_put_finished(self, result: PutResult) -> None:
        if self._pending.pop(result.request_id, None) is None:
            return      # not ours
        if not self._pending:
            self._watchdog.stop()
        self.last_result = result
        self.finished.emit(result)

    def _check_overdue(self) -> None:
        now = time.monotonic()
        for rid, (req, t0, value) in list(self._pending.items()):
            if now - t0 > req.timeout + GRACE:
                del self._pending[rid]
                res = PutResult(name=req.name, value=value, ok=False, request_id=rid, seconds=now - t0,
                                error=f"no answer from the engine within {req.timeout + GRACE:g} s")
                self.last_result = res
                self.finished.emit(res)
        if not self._pending:
            self._watchdog.stop()


class PutSetting:
    """A widget's put setting that lives in its put workflows: reading it gives the
    first workflow's ``attr``, setting it sets every workflow's (converted with
    ``convert``). The widget lists its workflows in ``_put_runners()``."""

    def __init__(self, attr: str, convert: Callable[[Any], Any]) -> None:
        self.attr = attr
        self.convert = convert

    def __get__(self, obj: Any, owner: Optional[type] = None) -> Any:
        if obj is None:
            return self
        return getattr(obj._put_runners()[0], self.attr)

    def __set__(self, obj: Any, value: Any) -> None:
        for runner in obj._put_runners():
            setattr(runner, self.attr, self.convert(value))


class PutsOwner:
    """A widget that puts through its own :class:`PutWorkflow` (``self.runner``) and
    shows its progress in ``_on_refused(name, reason)``, ``_on_started(rid, name)``
    and ``_on_finished(result)``; ``confirm_puts`` asks before each put, ``timeout``
    (seconds) is how long a put may take."""

    runner: PutWorkflow
    confirm_puts = PutSetting("confirm", bool)
    timeout = PutSetting("timeout", float)

    def _put_runners(self) -> tuple[PutWorkflow, ...]:
        return (self.runner,)

    def _make_runner(self, bridge: Any, source: str) -> PutWorkflow:
        self.runner = PutWorkflow(bridge, self, source)  # type: ignore[arg-type]
        self.runner.refused.connect(self._on_refused)  # type: ignore[attr-defined]
        self.runner.started.connect(self._on_started)  # type: ignore[attr-defined]
        self.runner.finished.connect(self._on_finished)  # type: ignore[attr-defined]
        return self.runner


__all__ = ["GRACE", "PutWorkflow", "PutsOwner", "PutSetting", "ask_confirmation"]
