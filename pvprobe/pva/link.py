"""What the pvAccess source keeps per channel and per update, its tunables, and the
wording of p4p's errors (plain Python; p4p values used through their methods only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from . import values as pv

#: The name prefix of PVA channels in the engine (bare names are CA).
PREFIX = "pva://"
#: What the monitor of a scalar, array or enum PV asks once its whole structure is
#: known: decoding and copying an update then touches 3 fields, not 20 (display,
#: control and valueAlarm come with the metadata get at each connection).
NARROW_REQUEST = "field(value,alarm,timeStamp)"
#: The queue (updates kept by pvxs, the newest squashed into the last) of the
#: monitors opened once the source serves more than :data:`DEFER_ABOVE` channels.
#: Such a queue is emptied on the source's schedule by exactly this many pops and no
#: last, empty one: pvxs calls a monitor's handler only after a pop found its queue
#: empty, so a PV that keeps changing then costs its handler no call (and pvxs's
#: network thread no wait for the GIL) and two pops per emptying, not five.
BIG_QUEUE = 2
#: The request of those monitors: the whole structure (no narrow swap: with 10,000
#: channels the swapped-out monitors lived on for seconds, their handlers called
#: ~10,000 times a second, while p4p's close() waited for pvxs's busy thread).
BIG_REQUEST = f"record[queueSize={BIG_QUEUE}]"
#: The request options of a paced channel's monitor (an image view's NTNDArray):
#: the source pops it only when the view takes a frame (``PVASource.fetch``), so
#: pvxs squashes what the view could not paint into the newest of 2 queued updates,
#: and no frame costs a Python pop, a wrapper and the GIL unless it may be shown (the
#: CA image path likewise fetches only what the view asks). On a pvxs server the
#: monitor then also asks flow control (``.flow.FLOW_OPTIONS``), which spares the
#: network and both ends the frames no one sees.
PULL_OPTIONS = "record[queueSize=2]"
#: A plain value monitor (no every-sample user, not paced) is emptied at most this
#: often: what changes faster is squashed by pvxs into its newest update while it
#: waits, so a PV changing at 10 Hz costs 4 pops and 4 decodes a second, not 10, and
#: its shown value stays at most this much (plus a tick) older than the newest.
#: (Python pays per update what CA's C monitor callback does not: see the README's
#: pvAccess figures.)
PVA_POLL_S = 0.25
#: ... once the source serves more channels than this (a big table), and only for
#: channels no view shows right now (``PVASource.set_watched``): a probe, a
#: plot or the visible rows get every update.
DEFER_ABOVE = 500
#: While channels that were connected are lost, search for them again this often
#: (pvxs backs its searches off towards 30 s, and a restarted server's beacons may
#: never reach this client: a gateway on another subnet, a port the client does not
#: listen on).
HURRY_S = 2.0
#: A channel lost this long has its monitor made anew on a fresh channel: through a
#: restarted p4p gateway, pvxs was seen to find the server again but never restart
#: a few of 1,000 monitors (a fresh client got their values at once).
RECREATE_S = 6.0


class PVAItem:
    """One update as the engine carries it: the structure, its shape and a
    per-channel sequence number (frames are ordered by it: servers may send no time)."""

    __slots__ = ("value", "kind", "seq", "counters")

    def __init__(self, value: Any, kind: str, seq: int, counters: Any = None) -> None:
        self.value, self.kind, self.seq, self.counters = value, kind, seq, counters


@dataclass(eq=False, slots=True)
class PVALink:
    """What the PVA source holds for one engine channel (``channel.link``)."""

    wire: str                       # the name on the wire (no pva:// prefix)
    monitor: Any = None             # p4p raw Subscription: the channel's connection
    connected: bool = False
    kind: str = ""
    last: Optional[PVAItem] = None  # newest update (whatever the users want)
    seq: int = 0
    values: bool = False            # updates go to the inbox as values
    announce: bool = False          # paced: updates announce, the newest waits for a fetch
    ndarray: Any = None             # pv.FrameCounters of an NTNDArray channel
    meta: Optional[PVAItem] = None  # the whole structure (metadata) since the last connection
    narrow: bool = False            # the monitor asks only value, alarm and time
    queue: int = 0                  # its queue size when emptied by counted pops (else 0)
    request: Optional[str] = None   # the monitor's pvRequest (None: the whole structure)
    pull: bool = False              # paced: popped only when a frame is fetched
    fetched: int = -1               # seq of the last update handed over by a fetch
    quiet: bool = False             # its handler never wakes the worker (plain values)
    emptied: float = 0.0            # when its queue was last emptied (monotonic)
    waiting: bool = False           # in the source's queue of monitors emptied later
    slow: bool = False              # lean mode, no view watches it: emptied every LEAN_REFRESH_S
    watched: bool = False           # a view shows it: never deferred
    repeat: bool = False            # a swapped-in monitor: its first update repeats ``last``
    searched: bool = False          # its server was searched for since it connected
    ops: set = field(default_factory=set)   # puts in flight (kept alive until done)
    flow: bool = False              # paced, on a server doing flow control (.flow): one pop a fetch
    fast: int = -1                  # its slot on the fast path (.fast), or -1
    fast_type: Optional[tuple] = None   # (type id, value code) the fast monitor saw


def wire_name(name: str) -> str:
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


def repeats(v: Any, last: Optional[PVAItem]) -> bool:
    """Whether update ``v`` is the value ``last`` held (same time stamp and value): the
    first update of a monitor swapped in for the channel's previous one."""
    if last is None:
        return False
    try:
        if pv.stamp_seconds(v) != pv.stamp_seconds(last.value):
            return False
        if "uniqueId" in v:
            return v["uniqueId"] == last.value["uniqueId"]
        field = "value.index" if "value.index" in v else "value"
        a, b = v[field], last.value[field]
    except Exception:
        return False
    if hasattr(a, "shape") or hasattr(b, "shape"):
        import numpy as np

        return bool(np.array_equal(a, b))
    return a == b


def error_text(exc: Any) -> str:
    """A p4p error as the server said it."""
    text = str(exc).strip()
    name = type(exc).__name__
    if name == "RemoteError":
        return text or "refused by the server"
    if name == "Cancelled":
        return "cancelled (channel closed)"
    if name == "Disconnected":
        return "disconnected"
    return f"{name}: {text}" if text else name
