"""Closing p4p monitors off the worker thread.

p4p's ``ClientMonitor.close()`` cancels the pvxs subscription and waits for pvxs's
network thread to do it: with that thread busy receiving a big table's updates, one
close took milliseconds, and 10,000 channels each swapping their first monitor for
a narrow one kept the worker ~4 s in ``close()`` (py-spy, bench_pva_table). The
:class:`MonitorCloser` hands them to a thread of its own (``close()`` releases the
GIL while it waits), in the order given."""

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
            _close(monitor)
            del monitor

    def stop(self, timeout: float = 0.5) -> None:
        """Close what is queued, then end the thread (waits at most ``timeout`` s: at
        exit, what is left goes with the client context)."""
        with self._lock:
            self._stopped = True
            thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(timeout)

    def pending(self) -> int:
        return self._queue.qsize()


def _close(monitor: Any) -> None:
    try:
        monitor.close()
    except Exception as exc:
        log.debug("closing a monitor failed: %s", exc)
