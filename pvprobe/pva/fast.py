"""The C++ monitors of a PVA source's plain scalars (:mod:`pvprobe.pva._pvafast`).

In a big session (more than :data:`~.link.DEFER_ABOVE` PVA channels), each new
channel is first a fast monitor: pvxs's thread keeps its newest value, alarm and
time stamp in C++ and queues the channel once; no update costs Python, the GIL or
a p4p wrapper until the engine drains it (as CA's ``_fastmon`` does), and a PV
that changes faster than the engine looks costs one decode per look. Its metadata
comes with each connection's first (complete) update, read in C++ as a dict of
display, control, valueAlarm fields and enum choices (no get, no fields tree). A
channel whose structure is not an NTScalar or NTEnum scalar (arrays, tables,
images, other structures), or whose users want every sample or paced frames,
leaves the fast path for a p4p monitor.

In lean mode (very large tables) a fast channel no view shows is *parked*: pvxs
keeps ~25 KB per monitor (each subscription's whole type and values) but ~1 KB per
channel, so a parked channel holds its channel alone (its connection and losses
come as before) and its value, alarm and time are read by get when it connects,
then in turn every :data:`PARKED_REFRESH_S` (at most :data:`PARKED_READS_PER_S`),
at most 128 reads in flight. A view that shows it again gets its monitor back
(:meth:`FastPath.unpark`); so do all when lean mode ends.

``PVPROBE_PVA_FAST``: ``big`` (default), ``always`` (every channel starts fast), or
``never`` (p4p monitors only; also when the extension is not built or was built
for another pvxs).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any, Optional

log = logging.getLogger(__name__)

#: What the fast monitors ask: the whole structure (its first update brings the
#: metadata; QSRV2 sends only changed fields after it, and pvxs's receive cost and
#: memory per monitor, ~26 KB, were the same for field(value,alarm,timeStamp)), in
#: pvxs's smallest queue (the C++ handler empties it at each event anyway).
FAST_REQUEST = "record[queueSize=2]"
#: events() codes (see _pvafast.cpp)
CONNECTED, DISCONNECTED, FINISHED, ERROR, UNSUITABLE = 1, 2, 3, 4, 5
MODES = ("big", "always", "never")
#: A parked channel's value is re-read this often (s) ...
PARKED_REFRESH_S = 5.0
#: ... or less often, so that the rotation takes at most this many reads per second
#: (each costs the client, the gateway and the server a get: 10,000 parked rows are
#: read every 10 s, as CA's unwatched rows of a 100,000-PV table are decoded).
PARKED_READS_PER_S = 1000.0


def load_module() -> tuple[Any, str]:
    """The extension module, or None and why not (p4p must be imported first: the
    extension links the libpvxs p4p loaded)."""
    try:
        import p4p  # noqa: F401  (loads libpvxs and libCom)

        from . import _pvafast
    except ImportError as exc:
        return None, str(exc)
    return _pvafast, ""


class FastPath:
    """One pvxs client context of fast monitors; slots by engine channel (sid)."""

    def __init__(self, conf: Callable[[], Optional[dict]], mode: Optional[str] = None) -> None:
        mode = (mode or os.environ.get("PVPROBE_PVA_FAST", "") or "big").strip().lower()
        if mode not in MODES:
            log.warning("PVPROBE_PVA_FAST=%r: use one of %s; using 'big'", mode, ", ".join(MODES))
            mode = "big"
        self.mode = mode
        self._conf = conf
        self._module, self.why_not = (None, "PVPROBE_PVA_FAST=never") if mode == "never" \
            else load_module()
        self.value_type: Optional[type] = getattr(self._module, "FastValue", None)
        self._hub: Any = None
        self._shut = False
        self.sid_of: dict[int, int] = {}     # slot -> sid
        self.parked: set[int] = set()        # slots without a monitor (see park())
        self._read_at = 0.0
        self._updates0 = 0

    @property
    def available(self) -> bool:
        return self._module is not None

    def wanted(self, big: bool) -> bool:
        """Whether a new channel starts on the fast path."""
        return self._module is not None and (self.mode == "always" or big)

    def hub(self) -> Any:
        """The pvxs context (made at the first use); ValueError once shut down."""
        if self._shut:
            raise ValueError("the PVA fast path is shut down")
        if self._hub is None:
            conf = self._conf() or None
            self._hub = self._module.Hub({str(k): str(v) for k, v in conf.items()} if conf else None)
            self._updates0 = 0
        return self._hub

    def open(self, sid: int, wire: str, parked: bool = False) -> int:
        """A fast monitor of ``wire`` (``parked``: its channel alone); its slot
        (ValueError says why not)."""
        slot = self.hub().open(wire, FAST_REQUEST, parked)
        self.sid_of[slot] = sid
        if parked:
            self.parked.add(slot)
        return slot

    def park(self, slot: int) -> None:
        """Let its monitor go, keep its channel; read on the rotation (lean mode)."""
        try:
            self.hub().park(slot)
        except ValueError as exc:      # shut down, gone, or no channel: stays monitored
            log.debug("park %s: %s", slot, exc)
            return
        self.parked.add(slot)

    def unpark(self, slot: int) -> None:
        """A monitor again (a view shows it)."""
        if slot not in self.parked:
            return
        try:
            self.hub().unpark(slot)
        except ValueError as exc:
            log.debug("unpark %s: %s", slot, exc)
            return
        self.parked.discard(slot)

    def read_step(self, now: float) -> int:
        """Start the parked channels' reads due by ``now`` (monotonic s): first values
        of those (re)connected, then their share of the rotation."""
        if self._hub is None or not self.parked:
            self._read_at = now
            return 0
        elapsed = now - self._read_at if self._read_at else 0.0
        self._read_at = now
        period = max(PARKED_REFRESH_S, len(self.parked) / PARKED_READS_PER_S)
        return self._hub.read_step(elapsed / period)

    def close(self, slot: int) -> None:
        self.sid_of.pop(slot, None)
        self.parked.discard(slot)
        if self._hub is not None:
            try:
                self._hub.close(slot)
            except ValueError:
                pass

    def shutdown(self) -> None:
        hub, self._hub = self._hub, None
        self._shut = True
        self.sid_of.clear()
        self.parked.clear()
        if hub is not None:
            hub.shutdown()

    # -- what the worker takes
    def events(self) -> list:
        return self._hub.events() if self._hub is not None else []

    def metas(self) -> list:
        return self._hub.metas() if self._hub is not None else []

    def updates(self) -> int:
        return self._hub.updates() if self._hub is not None else 0

    def drain(self, limit: int, fresh_only: bool = False) -> list:
        if self._hub is None or limit <= 0:
            return []
        return self._hub.drain(limit, fresh_only)

    def take(self, slots: list, any_value: bool = False) -> list:
        if self._hub is None or not slots:
            return []
        return self._hub.take(slots, any_value)

    def mute(self, slot: int, muted: bool) -> None:
        """A muted slot keeps its newest value but is not drained (no user wants values)."""
        try:
            self.hub().mute(slot, muted)
        except ValueError:       # shut down, or the slot went meanwhile
            pass

    def renew(self, slot: int) -> None:
        try:
            self.hub().renew(slot)
        except ValueError:
            pass

    def __getattr__(self, name: str) -> Any:
        """get_meta, reopen, hurry_up, slot_events, opened: the hub's own (ValueError
        once shut down)."""
        if name in ("get_meta", "reopen", "hurry_up", "slot_events", "opened"):
            return getattr(self.hub(), name)
        raise AttributeError(name)
