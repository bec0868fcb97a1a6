"""The synchronous calls of the command-line tools (no worker): bulk open, read,
put and wait, put many. One adaptive wait covers many PVs (:mod:`.waits`)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Optional

from ..core.batch import PutResult
from ..core.pvstate import PVState
from .channels import DEFAULT_CONNECTION_TIMEOUT, Channel
from .needs import Use
from .puts import PUT_WINDOW
from .waits import get_timeout, pending_until, wait_answers, wait_cap


class SyncCalls:
    """Mixed into :class:`~.core.Engine`: the calls the CLI twins use."""

    def _pump(self) -> int:
        """Apply what arrived; returns the count of answers so far."""
        self._process_events()
        self._puts.expire()
        return self._answers

    def _pump_until(self, predicate: Callable[[], bool], deadline: float) -> bool:
        while True:
            self._pump()
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            self._wake.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            self._wake.clear()

    def _wait_answers(self, pending: Callable[[], bool], quiet: float, cap: float,
                      longer: Optional[Callable[[], float]] = None) -> str:
        """See :func:`.waits.wait_answers`."""
        return wait_answers(self._pump, self._wake, pending, quiet, cap, longer)

    def _require_no_worker(self) -> None:
        if self._worker is not None:
            raise RuntimeError("synchronous calls are for use without the worker")

    def open(self, names: Iterable[str], timeout: Optional[float] = None,
             monitor: bool = False) -> dict[str, PVState]:
        """Connect (bulk) and wait, all at once, until every PV connected and has
        its metadata. The wait goes on while connections keep arriving and gives up
        once none has arrived for ``timeout`` seconds (default 2), or after
        :func:`wait_cap` in all. Synchronous; no worker needed."""
        self._require_no_worker()
        names = list(dict.fromkeys(names))
        quiet = DEFAULT_CONNECTION_TIMEOUT if timeout is None else timeout
        use = Use.of(monitor_arrays=monitor)
        chs = [self._channels.add(n, use) for n in names]
        self.source.flush()
        created = [c for c in chs if c.link is not None]
        self._wait_answers(pending_until(created, lambda c: c.state.connected and c.meta_ok),
                           quiet, wait_cap(quiet, len(chs)))
        return {c.name: c.state for c in chs}

    def read(self, names: Iterable[str], timeout: Optional[float] = None,
             metadata: bool = True) -> dict[str, PVState]:
        """The bulk recipe: create all channels, wait for connections together, one
        get per PV without waiting, flushed in bulk, then collect. Each PV gets a
        read-once use: a new one sends its metadata get and its value get together at
        its connection (one round trip, no subscription). ``metadata=False`` skips the
        metadata get (units, precision, limits) of PVs not open yet, enums excepted
        (snapshots need only value, alarm and time). Each result is a PVState;
        ``error`` says why a PV has no value (never connected, timeout...).

        One wait covers connections and values: it goes on while they keep arriving
        and gives up on what is missing once nothing has arrived for ``timeout``
        seconds (default: 2 s, or 0.5 + log10(elements) for the largest array
        still waiting if longer), or after :func:`wait_cap` in all."""
        self._require_no_worker()
        names = list(dict.fromkeys(names))
        fresh = {n for n in names if n not in self._channels.by_name}
        use = Use.of(once=True, light=not metadata)
        chs = [self._channels.add(n, use) for n in names]
        for c in chs:       # already open: a fresh value get (new ones get theirs on connecting)
            if c.name not in fresh and c.state.connected:
                c.get_raw = None
                self._channels.send_value_get(c)
        self.source.flush()
        quiet = DEFAULT_CONNECTION_TIMEOUT if timeout is None else timeout

        def longer() -> float:   # the default waits longer for the values of big arrays
            return max([get_timeout(c.state.max_count) for c in chs if c.state.connected
                        and c.state.max_count > 1 and not self._read_done(c)], default=0.0)

        created = [c for c in chs if c.link is not None]
        why = self._wait_answers(pending_until(created, self._read_done), quiet,
                                 wait_cap(quiet, len(chs)),
                                 longer if timeout is None else None) or "timeout"
        for c in created:
            state = c.state
            if not state.connected:
                state.error = state.error or f"not found (no server answered within the timeout: {why})"
            elif c.get_raw is not None:
                self.source.decode(state, c.get_raw)
            elif not state.error:
                state.error = f"get timed out ({why})"
        return {n: self._channels.by_name[n].state.copy() for n in names}

    @staticmethod
    def _read_done(ch: Channel) -> bool:
        """A PV of :meth:`read` has its value and metadata, or an error that no
        waiting will cure (array too big, get refused)."""
        state = ch.state
        return state.connected and ((ch.meta_ok and ch.get_raw is not None) or bool(state.error))

    def put_wait(self, name: str, value: Any, timeout: float = 10.0,
                 connect_timeout: Optional[float] = None, wait: bool = True) -> PutResult:
        """Put and wait for completion (put callback) or ``timeout``. Synchronous.
        With ``wait=False`` a plain put is sent and flushed, completion not awaited."""
        state = self.open([name], connect_timeout)[name]
        if state.error and state.native_type == "":
            return PutResult(name=name, value=value, ok=False, error=state.error)
        if not state.connected:
            return PutResult(name=name, value=value, ok=False,
                             error="not found (no server answered within the timeout)")
        rid = next(self._rid)
        box: list[PutResult] = []
        self._start_put(rid, name, value, timeout, box.append, wait=wait)
        self.source.flush()
        self._pump_until(lambda: bool(box), time.monotonic() + timeout + 1.0)
        self._puts.results.clear()
        return box[0] if box else PutResult(name=name, value=value, ok=False, error="timeout")

    def put_many(self, items: Iterable[tuple[str, Any]], timeout: float = 10.0,
                 connect_timeout: Optional[float] = None) -> list[PutResult]:
        """Put many values at once: connect all (bulk; ``connect_timeout`` as in
        :meth:`open`), send the puts with completion callbacks, at most
        :data:`PUT_WINDOW` awaiting completion at a time (more as they complete), and
        wait for the completions while they keep arriving: a put not completed once
        none has completed for ``timeout`` seconds (or after :func:`wait_cap`) fails.
        Returns one :class:`PutResult` per item, in order. Synchronous."""
        items = list(items)
        self.open([n for n, _ in items], connect_timeout)
        results: dict[int, PutResult] = {}
        rids = []
        todo: deque[tuple[int, str, Any]] = deque()
        cap = wait_cap(timeout, len(items))
        for name, value in items:
            rid = next(self._rid)
            rids.append(rid)
            ch = self._channels.by_name.get(name)
            if ch is not None and not ch.state.connected:
                results[rid] = PutResult(name=name, value=value, ok=False, request_id=rid,
                                         error=ch.state.error or "not found (no server answered within the timeout)")
            else:
                todo.append((rid, name, value))
        flying: set[int] = set()

        def pending() -> bool:
            """Top the window up (asked whenever completions came), then: any left?"""
            flying.difference_update([r for r in flying if r in results])
            sent = False
            while todo and len(flying) < PUT_WINDOW:
                rid, name, value = todo.popleft()
                # the wait ends it: each put's own deadline lies beyond the wait's cap
                self._start_put(rid, name, value, cap + 1.0,
                                lambda r: results.__setitem__(r.request_id, r))
                if rid not in results:
                    flying.add(rid)
                sent = True
            if sent:
                self.source.flush()
            return len(results) < len(rids)

        why = self._wait_answers(pending, timeout, cap)
        now = time.monotonic()
        for rid, (name, value) in zip(rids, items):
            p = self._puts.pending.pop(rid, None)
            if rid not in results:
                results[rid] = PutResult(name=name, value=value, ok=False, request_id=rid,
                                         old_value=p.old_value if p else None,
                                         error=f"no completion ({why or 'timeout'})",
                                         seconds=now - p.t0 if p else 0.0)
        self._puts.results.clear()
        return [results[rid] for rid in rids]
