"""Process-wide tuning that both the engine and the GUI rely on (no Qt, no epics).

The GIL switch interval: CPython lets a thread that holds the GIL run this long
before another thread that wants it gets it. The default (5 ms) is too long for
pvprobe: libca's callback threads take the GIL for every update, and the GUI
thread needs it back for every Qt -> Python call (paint, ``data()``) while the
worker decodes a batch. With the default a busy worker stretched one repaint to
~0.8 s at 50,000 busy PVs; 0.5 ms cut the GUI loop lateness p99 by more than half,
and the worker and libca's threads stop waiting 5 ms per hand-back.
"""

from __future__ import annotations

import sys

#: CPython's GIL switch interval (seconds) in a pvprobe process: the CA context sets it
#: when it is created, the Qt bridge when it starts (whichever comes first).
GIL_SWITCH_INTERVAL_S = 0.0005


def apply_gil_switch_interval() -> float:
    """Lower the GIL switch interval to :data:`GIL_SWITCH_INTERVAL_S` (never raise one
    that is already shorter); returns the interval now in force. Idempotent."""
    if sys.getswitchinterval() > GIL_SWITCH_INTERVAL_S:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    return sys.getswitchinterval()
