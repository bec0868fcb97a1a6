"""Puts awaiting completion: their deadlines, results and callbacks."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from ..core.batch import PutResult
from ..core.putvalue import PutValueError, coerce_put_value

log = logging.getLogger(__name__)

#: Puts with completion callback (put_many) awaiting completion at a time. An EPICS
#: base IOC completes them through its callback queue (2,000 entries per priority
#: unless the IOC sets callbackSetQueueSize): 20,000 sent at once overflowed it
#: ("callbackRequest: ERROR cbLow ring buffer full") and thousands of completions
#: were never sent back when the IOC's threads ran at normal priority.
PUT_WINDOW = 500

Done = Optional[Callable[[PutResult], None]]


@dataclass
class PendingPut:
    rid: int
    name: str
    value: Any
    old_value: Any
    deadline: float
    t0: float
    done: Done = None
    data: Any = None  # what the source must keep alive until completion


class Puts:
    """Pending puts by request id, and the results for the next batch."""

    def __init__(self) -> None:
        self.pending: dict[int, PendingPut] = {}
        self.results: list[PutResult] = []

    def start(self, source: Any, ch: Any, rid: int, name: str, value: Any, timeout: float,
              done: Done, wait: bool = True) -> None:
        """Check, convert and send a put to channel ``ch`` (None: not open). With
        ``wait`` the put asks for a completion callback (and times out); without,
        it is a plain put reported as sent."""
        def fail(msg: str) -> None:
            self.report(PutResult(name=name, value=value, ok=False, error=msg, request_id=rid), done)

        if ch is None:
            return fail("PV is not open in this session")
        state = ch.state
        if not state.connected:
            return fail("not connected")
        if not state.write_access:
            return fail("no write access (read-only PV)")
        if state.is_enum and not ch.meta_ok:
            return fail("enum states not known yet")
        try:
            native, values = coerce_put_value(state, value)
        except PutValueError as exc:
            return fail(str(exc))
        error, data = source.put(ch, native, values, rid, wait)
        if error:
            return fail(error)
        if not wait:
            return self.report(PutResult(name=name, value=value, ok=True, old_value=state.value,
                                         request_id=rid), done)
        self.sent(rid, name, value, state.value, timeout, done, data)

    def sent(self, rid: int, name: str, value: Any, old_value: Any, timeout: float,
             done: Done, data: Any) -> None:
        now = time.monotonic()
        self.pending[rid] = PendingPut(rid, name, value, old_value, now + timeout, now, done, data)

    def finish(self, rid: int, ok: bool, error: str) -> None:
        """Its completion came (ignored if it timed out already)."""
        p = self.pending.pop(rid, None)
        if p is None:
            return
        self.report(PutResult(name=p.name, value=p.value, ok=ok, old_value=p.old_value,
                              error="" if ok else f"put failed: {error}", request_id=rid,
                              seconds=time.monotonic() - p.t0), p.done)

    def expire(self) -> None:
        """Fail the puts whose completion did not come by their deadline."""
        if not self.pending:
            return
        now = time.monotonic()
        for rid in [r for r, p in self.pending.items() if p.deadline <= now]:
            p = self.pending.pop(rid)
            self.report(PutResult(name=p.name, value=p.value, ok=False, old_value=p.old_value,
                                  error=f"no completion within {p.deadline - p.t0:.1f} s (timeout)",
                                  request_id=rid, seconds=now - p.t0), p.done)

    def report(self, result: PutResult, done: Done) -> None:
        self.results.append(result)
        if done is not None:
            try:
                done(result)
            except Exception:
                log.exception("put callback failed")

    def take_results(self) -> list[PutResult]:
        results, self.results = self.results, []
        return results
