"""Ctrl-C (SIGINT) as a quit request, at any moment of a GUI run.

Python's own handler raises KeyboardInterrupt wherever the main thread happens
to be: in the middle of starting the demo IOC, of loading libca, of building
the window or inside a Qt slot (where PyQt cannot let it through). Start-up
then died by the signal and left cleanup undone, or quit() was asked before
the event loop ran and the app never ended. :class:`QuitRequest` replaces it
for the whole run: the handler only records the request; start-up looks at
:attr:`QuitRequest.requested` between its steps and the running event loop
polls it, so quitting always goes through the normal cleanup.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Optional


class QuitRequest:
    """Records SIGINT instead of raising; a context manager that installs and restores."""

    def __init__(self, signals: tuple[int, ...] = (signal.SIGINT,)) -> None:
        self.signals = signals
        #: Set once Ctrl-C arrived (wait on it, or test it between steps).
        self.event = threading.Event()
        self._old: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        return self.event.is_set()

    def request(self) -> None:
        """Ask to quit, as Ctrl-C does."""
        self.event.set()

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        self.event.set()

    def install(self) -> bool:
        """Take over the signals; False (nothing done) outside the main thread."""
        try:
            for sig in self.signals:
                self._old[sig] = signal.signal(sig, self._handle)
        except ValueError:       # not the main thread
            self.restore()
            return False
        return True

    def restore(self) -> None:
        """Give the signals their previous handlers back (idempotent)."""
        for sig, old in self._old.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        self._old.clear()

    def __enter__(self) -> QuitRequest:
        self.install()
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()


__all__ = ["QuitRequest"]
