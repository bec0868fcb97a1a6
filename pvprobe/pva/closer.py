"""Closing p4p monitors off the worker thread.

p4p's ``ClientMonitor.close()`` cancels the pvxs subscription and waits for pvxs's
network thread to do it: with that thread busy receiving a big table's updates, one
close took milliseconds, and 10,000 channels each swapping their first monitor for
a narrow one kept the worker ~4 s in ``close()`` (py-spy, bench_pva_table). The
:class:`MonitorCloser` hands them to a thread of its own (``close()`` releases the
GIL while it waits), in the order given.

At exit none of that: :meth:`MonitorCloser.stop` leaves what is still queued to the
client context's close (p4p's exit handler cancels every subscription in one call).
Closing them one by one there (the table's rows removed as the window closes: 10,000
PVA channels) kept the quit waiting for this thread."""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Optional

log = logging.getLogger(__name__)


class MonitorCloser:
    """A daemon thread that closes the monitors given to :meth:`close_later`."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._stopped = False
        self._left: list = []       # taken from the queue after stop(): never closed here

    def close_later(self, monitor: Any) -> None:
        """Close ``monitor`` soon, in the closer's thread (started on first use); at
        once, in this thread, once the closer was stopped."""
        if monitor is None:
            return
        with self._lock:
            stopped = self._stopped
            if not stopped and self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pvprobe-pva-closer",
                                                daemon=True)
                self._thread.start()
        if stopped:
            _close(monitor)
        else:
            self._queue.put(monitor)

    def _run(self) -> None:
        while True:
            monitor = self._queue.get()
            if monitor is None:
                return
            if self._stopped:       # left (and referenced) for the context's close
                self._left.append(monitor)
                return
            _close(monitor)
            del monitor

    def stop(self, timeout: float = 0.1) -> None:
        """End the thread after the close in progress (waits at most ``timeout`` s,
        once); what is still queued stays queued, unclosed: at exit it goes with the
        client context, whose close cancels every subscription at once (dropping the
        monitors here would cancel each one as it is freed)."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            thread = self._thread
        if thread is None:
            return
        if self._queue.empty():     # (only this thread's get() empties it) wake it up
            self._queue.put(None)
        thread.join(timeout)

    def pending(self) -> int:
        """Monitors given and not closed (after stop(): left to the context)."""
        return self._queue.qsize() + len(self._left)


def _close(monitor: Any) -> None:
    try:
        monitor.close()
    except Exception as exc:
        log.debug("closing a monitor failed: %s", exc)
