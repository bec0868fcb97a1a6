"""The PVA source's monitor closer (pvprobe.pva.closer): old monitors closed in a
thread of their own, and at exit left to the client context's close."""

from __future__ import annotations

import threading

import pytest

from pvprobe.pva.closer import MonitorCloser

pytestmark = pytest.mark.timeout(30)


class Closable:
    """Anything with close(): the closer needs no more of a p4p monitor."""

    def __init__(self, closed: list, gate: threading.Event | None = None) -> None:
        self.closed, self.gate = closed, gate
        self.entered = threading.Event()

    def close(self) -> None:
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(20), "the test never opened the gate"
        self.closed.append(self)


def test_closes_in_its_own_thread_in_order() -> None:
    closer, closed = MonitorCloser(), []
    items = [Closable(closed) for _ in range(5)]
    for it in items:
        closer.close_later(it)
    done = threading.Event()
    closer.close_later(type("Last", (), {"close": lambda self: done.set()})())
    assert done.wait(10)
    assert closed == items
    closer.stop()


def test_stop_leaves_what_is_queued_unclosed_and_returns_once() -> None:
    """At exit the queued monitors go with the client context (one call), never one by
    one: stop() ends the thread after the close in progress; the rest stay queued."""
    closer, closed, gate = MonitorCloser(), [], threading.Event()
    busy = Closable(closed, gate)             # the close in progress when stop() comes
    rest = [Closable(closed) for _ in range(100)]
    closer.close_later(busy)
    for it in rest:
        closer.close_later(it)
    assert busy.entered.wait(10)
    closer.stop(timeout=0.0)
    gate.set()
    closer._thread.join(10)
    assert not closer._thread.is_alive()
    assert closed == [busy]
    assert closer.pending() == len(rest)
    closer.stop()                             # again: nothing to wait for
    late: list = []
    closer.close_later(Closable(late))        # after stop: closed at once, in this thread
    assert len(late) == 1
