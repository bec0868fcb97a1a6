"""The one CA context of the process: created in the main thread, destroyed at exit.

Order at exit: engines stop their workers and clear their channels, then the
context is destroyed in the thread that created it. Destroying the context
stops libca's threads, so no callback can run into a finalising interpreter
(the segfault-on-exit pyepics users meet).
"""

from __future__ import annotations

import atexit
import os
import threading

from pvprobe.core.realtime import drop_realtime
from pvprobe.core.tuning import apply_gil_switch_interval

from . import lowlevel as ll

_created_in: threading.Thread | None = None
_engines: list = []


def ensure_context(start_repeater: bool = True) -> None:
    """Create the CA context (once). Must first happen in the main thread.

    ``EPICS_CA_*`` variables the user set are honoured; EPICS_CA_MAX_ARRAY_BYTES
    defaults to 2**24. A CA repeater is started if none listens on the repeater
    port, so libca has no reason to complain that caRepeater is missing.
    """
    global _created_in
    if _created_in is not None:
        return
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError("the CA context must be created in the main thread")
    os.environ.setdefault("EPICS_CA_MAX_ARRAY_BYTES", str(2 ** 24))
    # libca's threads (and a repeater or IOC we start) under normal scheduling:
    # real-time EPICS threads pre-empt the GUI thread (see core.realtime)
    drop_realtime()
    if start_repeater:
        try:
            from .repeater import ensure_repeater
            ensure_repeater()
        except Exception:  # a missing repeater costs only a warning line from libca
            pass
    ll.init_libca()
    # libca's callback threads take the GIL for every update: a short switch
    # interval (core.tuning) keeps the worker and the GUI thread from waiting for it
    apply_gil_switch_interval()
    _created_in = threading.current_thread()
    atexit.register(shutdown)


def register_engine(engine) -> None:
    _engines.append(engine)


def shutdown() -> None:
    """Stop every engine's worker, then destroy the context, which clears every
    subscription and channel and ends libca's threads (idempotent)."""
    global _created_in
    if _created_in is None:
        return
    for eng in list(_engines):
        try:
            eng.stop()
        except Exception:
            pass
    _engines.clear()
    ll.destroy_context()
    _created_in = None
