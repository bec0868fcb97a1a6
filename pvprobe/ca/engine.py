"""The CA engine: one context, a CAThread worker, coalesced batches.

libca callbacks (its own threads) only copy raw bytes into a "latest per PV"
table and return. Value monitors use the C callback of ``pvprobe.ca._fastmon``
where it was built (no Python runs per update at all; the worker drains the
newest bytes per PV); otherwise, and for subscriptions that keep every sample,
a Python ctypes callback fills a lock-guarded dict. The worker, an ``epics.ca.CAThread`` attached
to the one context created in the main thread, runs commands (add, remove,
put), sends the metadata gets and subscriptions for channels that (re)connect,
decodes the newest value of each changed PV and hands one :class:`Batch` per
tick to its consumer. A new batch is handed over only once the consumer has
called :meth:`Engine.batch_done` for the previous one, so a slow consumer gets
fewer, fuller batches, never a queue.

Big arrays a view paces (``add(..., paced=True)``, the image view) are not
monitored in full: a one-element monitor announces each new array, and the
worker fetches the whole array with one get only when the previous one has
left for the consumer, or, once the consumer calls :meth:`Engine.request_frame`
(the image view does as it paints each frame), only when it asked for the next.
While the camera is ahead of the consumer, the announcements stop and each
request fetches at once; when a fetch returns the frame already shown, they
start again. A camera publishing faster than the view can draw costs no copy of
a frame that is not shown; the view gets the newest frame, at the rate it can
take it.

The same engine serves the command-line tools synchronously
(:meth:`Engine.read`, :meth:`Engine.put_wait`), without the worker.
"""

from __future__ import annotations

import ctypes
import itertools
import logging
import math
import queue
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple, Optional, Union

from epics import ca

from ..core.batch import Batch, PutResult
from ..core.ndarray import array_bytes_problem
from ..core.putvalue import PutValueError, coerce_put_value
from ..core.pvstate import PVState
from ..engine.lean import alarm_only
from ..engine.needs import ANNOUNCE, Subscription, Use, Users, wanted_subscription
from . import lowlevel as ll
from .context import ensure_context, register_engine

log = logging.getLogger(__name__)

#: Arrays longer than this are not monitored unless asked (pyepics' AUTOMONITOR_MAXLENGTH).
AUTOMONITOR_MAXLENGTH = ca.AUTOMONITOR_MAXLENGTH
DEFAULT_CONNECTION_TIMEOUT = 2.0
#: Synchronous waits for many PVs (read, open, put_many) go on while answers keep
#: arriving and end after a quiet spell of the timeout; a trickle of answers cannot
#: keep them forever: the whole wait is at most WAIT_CAP_FACTOR x the timeout plus
#: WAIT_CAP_PER_PV_S per PV (60 s for 20,000 PVs at the default 2 s; the bulk read
#: of 20,000 PVs takes about 1.5 s here, so the cap leaves 40x that).
WAIT_CAP_FACTOR = 10.0
WAIT_CAP_PER_PV_S = 0.002
#: Puts with completion callback (put_many) awaiting completion at a time. An EPICS
#: base IOC completes them through its callback queue (2,000 entries per priority
#: unless the IOC sets callbackSetQueueSize): 20,000 sent at once overflowed it
#: ("callbackRequest: ERROR cbLow ring buffer full") and thousands of completions
#: were never sent back when the IOC's threads ran at normal priority.
PUT_WINDOW = 500
#: ... and while answers are coming, take them in batches this far apart (seconds).
ANSWER_BATCH_S = 0.005
#: Default cap on PV states handed over in one batch (see Engine.max_batch_states).
MAX_BATCH_STATES = 5000
#: Paced arrays (image frames) in flight or fetched-and-waiting per PV. 2 would overlap
#: a get's round trip with the consumer's work, but measured on a camera flood it
#: fetched 4 frames per frame shown (benchmarks/bench_image.py --paced-depths).
PACED_DEPTH = 1
#: Pull mode: after this many frames in a row that were announced before the consumer
#: asked (the camera is faster than the view), the announcements stop and each request
#: fetches at once (polling); a fetch that returns the frame already shown switches back.
POLL_AFTER_EARLY = 3
#: Lean mode: every PV on an alarm-only monitor is re-read this often (seconds) ...
LEAN_REFRESH_S = 2.0
#: ... in steps of this length, each re-reading its share of them.
LEAN_REFRESH_STEP_S = 0.05
#: Lean mode with the C monitor callback: watched PVs are decoded every tick, the
#: others at most this many per second, longest-waiting first (lean mode starts at
#: 25,000 PVs: each busy one every 2.5 s; 50,000: every 5 s), spread over the ticks.
#: More kept the worker so busy that the GUI thread waited for the GIL on every
#: Qt -> Python call (50,000 busy PVs: loop lateness p99 0.6-1.2 s at 40,000/s,
#: 0.35 s at 10,000/s).
LEAN_DECODE_BUDGET_PER_S = 10000
_NATIVE_CODE = {name: code for code, (name, _, _) in ll.NATIVE.items()}
_CTYPE = {"STRING": ctypes.c_char * 40, "SHORT": ctypes.c_int16, "FLOAT": ctypes.c_float,
          "ENUM": ctypes.c_uint16, "CHAR": ctypes.c_uint8, "LONG": ctypes.c_int32,
          "DOUBLE": ctypes.c_double}


_DBLCHNL = re.compile(r'Channel: "(?P<name>.*)", Connecting to: (?P<first>\S+), Ignored: (?P<other>\S+)')
_ECA_DBLCHNL_NO = 25   # ECA_DBLCHNL's message number (caerr.h)


def describe_ca_exception(status: int, context: str) -> str:
    """A CA exception as one sentence for the user (duplicate PV names spelled out)."""
    m = _DBLCHNL.search(context)
    if m or (status & 0xFFF8) >> 3 == _ECA_DBLCHNL_NO:
        if m:
            return (f"PV {m['name']}: served by {m['first']} and {m['other']} "
                    f"(duplicate; using the first)")
        return f"duplicate PV: {context}"
    return f"CA: {ll.message(status)}" + (f": {context}" if context else "")


def get_timeout(count: int) -> float:
    """pyepics' rule for a get's timeout: 0.5 + log10(element count)."""
    return 0.5 + math.log10(max(1, count))


def wait_cap(quiet: float, count: int) -> float:
    """Longest whole wait for ``count`` PVs whose quiet timeout is ``quiet`` seconds."""
    return WAIT_CAP_FACTOR * quiet + WAIT_CAP_PER_PV_S * count


# ---------------------------------------------------------------------- typed events
# What libca's callbacks hand the worker (through the lock-guarded inbox).

class Connected(NamedTuple):
    """A channel connected (or reconnected)."""
    sid: int


class Disconnected(NamedTuple):
    """A channel lost its server."""
    sid: int


class AccessRights(NamedTuple):
    """A channel's access rights changed."""
    sid: int
    read: bool
    write: bool


class GetDone(NamedTuple):
    """A get (metadata, value or lean refresh) completed; ``raw`` is empty unless ``status`` is normal."""
    sid: int
    dbr_type: int
    count: int
    raw: bytes
    status: int


class FrameFetched(NamedTuple):
    """The get of a paced array completed (its bytes are already the PV's newest value)."""
    sid: int
    status: int
    stamp: Optional[tuple]


class PutDone(NamedTuple):
    """A put with completion callback completed."""
    rid: int
    status: int


Event = Union[Connected, Disconnected, AccessRights, GetDone, FrameFetched, PutDone]


# ---------------------------------------------------------------------- typed commands
# What the public API asks the worker to do.

class AddCmd(NamedTuple):
    names: list
    monitor_arrays: bool
    keep_all: bool
    once: bool
    paced: bool
    light: bool


class RemoveCmd(NamedTuple):
    names: list
    monitor_arrays: bool
    keep_all: bool
    once: bool
    paced: bool
    light: bool


class PutCmd(NamedTuple):
    rid: int
    name: str
    value: Any
    timeout: float
    done: Optional[Callable[[PutResult], None]]
    wait: bool


class LeanCmd(NamedTuple):
    enabled: bool


class FrameCmd(NamedTuple):
    name: str


class WatchCmd(NamedTuple):
    owner: str
    names: set


Command = Union[AddCmd, RemoveCmd, PutCmd, LeanCmd, FrameCmd, WatchCmd]


class CAError(Exception):
    """A CA operation failed; the message names the PV and the reason."""


@dataclass
class _Slot:
    """Engine-private record of one channel."""

    sid: int
    name: str
    chid: Any = None
    state: PVState = None  # type: ignore[assignment]
    native: int = -1
    evid: Any = None
    meta_ok: bool = False
    users: Users = field(default_factory=Users)   # the add() calls not yet removed
    sub: Optional[Subscription] = None  # what the current subscription (evid) is
    # derived from the users' needs by _reconcile, never set elsewhere:
    want_monitor: bool = False     # arrays above AUTOMONITOR_MAXLENGTH only when asked
    keep_all: bool = False         # report every update (samples), not only the newest
    once: bool = False             # read on each (re)connection, never subscribe (e.g. .DESC)
    meta_light: bool = False       # read-once without the CTRL metadata get (enums excepted)
    get_raw: Any = None            # (type, count, raw) of the last completed TIME get
    mask: int = 0                  # event mask of the current subscription
    paced: bool = False            # big array: announced by a 1-element monitor, fetched by get
    fast: int = -1                 # slot of the C monitor callback (-1: Python callback)
    resubscribed_ts: Optional[float] = None  # timestamp already delivered before a re-subscription
    fetch_t0: float = 0.0          # when the oldest outstanding fetch was sent (0: none)
    fetching: int = 0              # fetches in flight
    pull: bool = False             # paced by the consumer's request_frame() calls
    credit: int = 0                # pull mode: fetches the consumer asked for (0 or 1)
    events_seen: int = 0           # announcements counted so far (C announcement slot)
    poll: bool = False             # pull mode, camera faster than the consumer: no announcements,
                                   # each request fetches at once
    early: int = 0                 # announcements in a row that came before the consumer asked
    armed: bool = False            # waiting for an announcement the consumer asked for
    last_stamp: tuple = (0, 0)     # (secs, nsec) of the newest array fetched


@dataclass
class _PendingPut:
    rid: int
    name: str
    value: Any
    old_value: Any
    deadline: float
    t0: float
    done: Optional[Callable[[PutResult], None]] = None
    data: Any = None  # keeps the ctypes buffer alive until completion


@dataclass
class EngineStats:
    updates_received: int = 0
    batches_sent: int = 0
    pvs: int = 0
    connected: int = 0
    ticks: int = 0
    decode_seconds: float = 0.0
    lean_refreshes: int = 0       # gets sent to refresh PVs on alarm-only monitors
    frames_announced: int = 0     # new arrays announced on paced PVs
    frames_fetched: int = 0       # of which fetched in full (the rest were superseded)
    poll_switches: int = 0        # paced PVs switched between announced and polled fetches


class Engine:
    """Channel Access engine. Create it in the main thread, then either
    :meth:`start` the worker (GUI, monitor) or use the synchronous calls (CLI)."""

    def __init__(self, tick_hz: float = 20.0, automonitor_maxlength: int = AUTOMONITOR_MAXLENGTH):
        ensure_context()
        self.tick = 1.0 / max(0.1, float(tick_hz))
        self.automonitor_maxlength = automonitor_maxlength
        self.stats = EngineStats()
        self._slots: dict[str, _Slot] = {}
        self._by_sid: dict[int, _Slot] = {}
        self._sid = itertools.count(1)
        self._rid = itertools.count(1)
        # written by libca threads, drained by the worker
        self._lock = threading.Lock()
        self._latest: dict[int, tuple] = {}
        self._samples: dict[int, list] = {}
        self._keep_all: set[int] = set()
        self._announced: dict[int, tuple] = {}  # paced PV -> stamp of its newest announced array
        self._paced: set[int] = set()       # sids of paced PVs (worker side)
        self._count_connected = True        # recount connected PVs at the next batch
        self._frame_waiting = False         # a fetched array waits for delivery
        self._events: list[Event] = []
        self._answers = 0                   # CA events processed (progress of synchronous waits)
        self._updates = 0
        self._closing = False
        # worker side
        self._commands: "queue.SimpleQueue[Command]" = queue.SimpleQueue()
        self._wake = threading.Event()
        self._wake_set = self._wake.set
        self._ready = threading.Event()
        self._ready.set()
        #: PVs with news for the next batch, oldest first: PVs held back by the per-batch
        #: cap stay at the front, so under overload every PV gets its turn (FIFO).
        self._changed: dict[int, None] = {}
        self._put_results: list[PutResult] = []
        self._warnings: list[str] = []
        #: The last CA warnings (newest last, at most 200), for CLIs and status bars.
        self.warnings: list[str] = []
        self._puts: dict[int, _PendingPut] = {}
        #: At most this many PV states per batch: a 20,000-PV connect reaches the UI
        #: in a few slices instead of one long model update.
        self.max_batch_states = MAX_BATCH_STATES
        #: Paced arrays in the pipeline per PV (fetches in flight + fetched, not yet handed over).
        self.paced_depth = PACED_DEPTH
        self._lean = False
        self._lean_next = 0.0          # next lean refresh step (monotonic)
        self._lean_pos = 0             # where the rotating refresh continues
        self._watchers: dict[str, set[str]] = {}
        self._watched: set[str] = set()
        self._searching: dict[int, float] = {}  # sid -> when to say "not found" if still unconnected
        self._on_batch: Optional[Callable[[Batch], None]] = None
        self._worker: Optional[threading.Thread] = None
        self._running = False
        self._seq = 0
        # ctypes callbacks must stay referenced for the life of the context
        self._cb_conn = ll.CONN_CB(self._on_connection)
        self._cb_access = ll.ACCESS_CB(self._on_access)
        self._cb_monitor = ll.EVENT_CB(self._on_monitor)
        self._cb_get = ll.EVENT_CB(self._on_get)
        self._cb_put = ll.EVENT_CB(self._on_put)
        self._cb_announce = ll.EVENT_CB(self._on_announce)
        # value monitors through the C callback where it was built (see lowlevel.fast_monitor)
        self._fast = ll.fast_monitor()
        self._fast_group = id(self)
        #: C slots of frame announcements: never drained, armed to wake the worker
        self._announce_group = -id(self)
        self._fast_sid: dict[int, int] = {}     # C slot -> sid
        self._fast_updates0 = self._fast.updates() if self._fast is not None else 0
        self._lean_last = 0.0                   # lean: when the C slots were last drained
        self._lean_credit = 0.0                 # lean: decodes allowed now (budget x time)
        #: Lean mode: decodes per second for PVs no view watches (LEAN_DECODE_BUDGET_PER_S).
        self.lean_decode_budget = float(LEAN_DECODE_BUDGET_PER_S)
        self._cb_frame = ll.EVENT_CB(self._on_frame)
        self._command_handlers: dict[type, Callable[[Any], bool]] = {
            AddCmd: self._do_add, RemoveCmd: self._do_remove, PutCmd: self._do_put,
            LeanCmd: self._do_lean, FrameCmd: self._do_frame, WatchCmd: self._do_watch}
        register_engine(self)

    # ------------------------------------------------------------------ libca callbacks
    # These run in libca's threads: copy, store, return. Nothing else.

    def _on_monitor(self, args: ll.EventArgs) -> None:
        if self._closing or args.status != ll.ECA_NORMAL:
            return
        sid = args.usr
        item = (args.type, args.count, ll.raw_copy(args))
        with self._lock:
            self._latest[sid] = item
            self._updates += 1
            if sid in self._keep_all:
                self._samples.setdefault(sid, []).append(item)

    def _on_announce(self, args: ll.EventArgs) -> None:
        """A paced array changed (its 1-element monitor): fetch it when the consumer can take it."""
        if self._closing or args.status != ll.ECA_NORMAL:
            return
        stamp = ll.time_stamp_of(ctypes.string_at(args.dbr, 12))
        with self._lock:
            self._announced[args.usr] = stamp
            self.stats.frames_announced += 1
        self._wake.set()

    def _on_frame(self, args: ll.EventArgs) -> None:
        """The get of a paced array completed: it is that PV's newest value."""
        if self._closing:
            return
        ok = args.status == ll.ECA_NORMAL
        item = (args.type, args.count, ll.raw_copy(args)) if ok else None
        stamp = ll.time_stamp_of(item[2]) if ok else None
        with self._lock:
            if ok:
                self._latest[args.usr] = item
                self._updates += 1
                self.stats.frames_fetched += 1
                self._frame_waiting = True
            self._events.append(FrameFetched(args.usr, args.status, stamp))
        self._wake.set()

    def _on_get(self, args: ll.EventArgs) -> None:
        if self._closing:
            return
        raw = ll.raw_copy(args) if args.status == ll.ECA_NORMAL else b""
        with self._lock:
            self._events.append(GetDone(args.usr, args.type, args.count, raw, args.status))
        self._wake.set()

    def _on_put(self, args: ll.EventArgs) -> None:
        if self._closing:
            return
        with self._lock:
            self._events.append(PutDone(args.usr, args.status))
        self._wake.set()

    def _on_connection(self, args: ll.ConnArgs) -> None:
        if self._closing:
            return
        sid = ll.puser(args.chid)
        with self._lock:
            self._events.append(Connected(sid) if args.op == ll.CA_OP_CONN_UP else Disconnected(sid))
        self._wake.set()

    def _on_access(self, args: ll.AccessArgs) -> None:
        if self._closing:
            return
        sid = ll.puser(args.chid)
        with self._lock:
            self._events.append(AccessRights(sid, bool(args.access & 1), bool(args.access & 2)))
        self._wake.set()

    # ------------------------------------------------------------------ channel bookkeeping

    def _create(self, name: str, monitor: bool, keep_all: bool, once: bool = False,
                paced: bool = False, light: bool = False) -> _Slot:
        """One more use of channel ``name`` (created if new)."""
        use = Use.of(monitor, keep_all, once, paced, light)
        slot = self._slots.get(name)
        if slot is not None:
            slot.users.add(use)
            self._reconcile(slot)
            return slot
        sid = next(self._sid)
        slot = _Slot(sid=sid, name=name, state=PVState(name=name))
        slot.users.add(use)
        self._slots[name] = slot
        self._by_sid[sid] = slot
        self._reconcile(slot)
        try:
            slot.chid = ll.create_channel(name, self._cb_conn, sid)
            self._searching[sid] = time.monotonic() + DEFAULT_CONNECTION_TIMEOUT
        except ValueError as exc:
            slot.state.error = str(exc)
            slot.chid = None
        return slot

    def _drop(self, name: str, use: Use) -> None:
        """One use of ``name`` less; the channel goes when its last user does."""
        slot = self._slots.get(name)
        if slot is None:
            return
        slot.users.remove(use)
        if len(slot.users) > 0:
            self._reconcile(slot)
            return
        del self._slots[name]
        del self._by_sid[slot.sid]
        self._unsubscribe(slot)
        if slot.chid is not None:
            ll.clear_channel(slot.chid)
        with self._lock:
            self._latest.pop(slot.sid, None)
            self._samples.pop(slot.sid, None)
            self._keep_all.discard(slot.sid)
            self._announced.pop(slot.sid, None)
        self._paced.discard(slot.sid)
        self._changed.pop(slot.sid, None)
        self._searching.pop(slot.sid, None)

    def _reconcile(self, slot: _Slot) -> None:
        """Bring ``slot`` to what its users need now: after an add or a remove, a
        lean or watch change, a (re)connection. The one place that subscribes,
        re-subscribes and unsubscribes for the users (pacing's own switches aside)."""
        needs = slot.users.needs()
        state = slot.state
        connected = state is not None and state.connected
        if needs.paced != slot.paced:
            self._set_paced(slot, needs.paced)
        if needs.keep_all != slot.keep_all:
            slot.keep_all = needs.keep_all
            with self._lock:
                if needs.keep_all:
                    self._keep_all.add(slot.sid)
                else:
                    self._keep_all.discard(slot.sid)
                    self._samples.pop(slot.sid, None)
        slot.want_monitor = needs.monitor_big
        if slot.once and not needs.once and connected:
            ll.replace_access_rights_event(slot.chid, self._cb_access)
        slot.once = needs.once
        if slot.meta_light and needs.metadata and connected:
            slot.meta_ok = False              # units, limits... are wanted now
            self._send_meta_get(slot)
        slot.meta_light = not needs.metadata
        if not connected:
            return      # subscriptions follow at the connection (_on_connected)
        want = wanted_subscription(
            needs, big=state.max_count > self.automonitor_maxlength, polling=slot.poll,
            alarm_only=alarm_only(self._lean, self._fast is not None,
                                  slot.name in self._watched, needs))
        if want == slot.sub:
            return
        if slot.sub is not None and want is not None and want.every_sample:
            # every sample is wanted now: the new subscription's first event repeats
            # the value already delivered: not a new sample
            slot.resubscribed_ts = state.timestamp
        self._unsubscribe(slot)
        if want is not None:
            self._subscribe(slot, want)
        elif not (slot.paced and slot.poll):
            state.monitored = False
        self._changed[slot.sid] = None     # the consumer sees "monitored" change

    def _set_paced(self, slot: _Slot, paced: bool) -> None:
        """Pacing on (a full monitor becomes announcements) or off."""
        slot.paced, slot.poll = paced, False
        if paced:
            slot.early, slot.armed = 0, False
            slot.credit = 1 if slot.pull else 0       # the view waits: the next frame at once
            self._paced.add(slot.sid)
        else:
            self._paced.discard(slot.sid)
            with self._lock:
                self._announced.pop(slot.sid, None)

    def _unsubscribe(self, slot: _Slot) -> None:
        """Clear the slot's subscription (if any) and free its C callback slot."""
        if slot.evid is not None:
            ll.clear_subscription(slot.evid)
            slot.evid = None
        slot.sub = None
        self._release_fast(slot)

    def _release_fast(self, slot: _Slot) -> None:
        """Free the slot's C callback slot (its subscription must be cleared already)."""
        if slot.fast >= 0:
            self._fast.release(slot.fast)
            self._fast_sid.pop(slot.fast, None)
            slot.fast = -1

    def _subscribe(self, slot: _Slot, sub: Subscription) -> None:
        """Subscribe as ``sub`` says (reusing the slot's C callback slot, if any)."""
        count = 0 if slot.state.max_count > 1 else 1  # 0: the server's current (valid) length
        mask = ll.DBE_ALARM if sub.alarm_only else ll.DBE_VALUE | ll.DBE_ALARM
        callback, usr = self._cb_monitor, slot.sid
        if sub.announce:   # announce only: the first element and the timestamp
            count, callback = 1, self._cb_announce
            if self._fast is not None:   # in C: no Python per announcement (arm() wakes us)
                if slot.fast < 0:
                    slot.fast = self._fast.alloc(self._announce_group)
                    slot.events_seen = 0
                callback, usr = ll.FAST_CB, slot.fast
        elif self._fast is not None and not sub.every_sample:
            if slot.fast < 0:
                slot.fast = self._fast.alloc(self._fast_group)
                self._fast_sid[slot.fast] = slot.sid
            callback, usr = ll.FAST_CB, slot.fast
        status, evid = ll.create_subscription(ll.time_type(slot.native), count, slot.chid,
                                              mask, callback, usr)
        if status == ll.ECA_NORMAL:
            slot.evid, slot.sub, slot.mask = evid, sub, mask
            slot.state.monitored = True
        else:
            slot.state.error = f"cannot subscribe: {ll.message(status)}"

    def _take_ca_exceptions(self) -> None:
        """Turn CA exceptions queued by libca's handler into warnings (logged once)."""
        q = ll.ca_exceptions
        while q:
            try:
                status, ctx = q.popleft()
            except IndexError:
                break
            text = describe_ca_exception(status, ctx)
            log.warning("%s", text)
            self._warnings.append(text)
            self.warnings.append(text)
        if len(self.warnings) > 200:
            del self.warnings[:-200]

    def _process_events(self) -> list[_Slot]:
        """Apply connection/access/get/put events; returns slots that just connected."""
        self._take_ca_exceptions()
        with self._lock:
            events, self._events = self._events, []
        self._answers += len(events)
        connected: list[_Slot] = []
        for ev in events:
            if type(ev) is PutDone:
                self._finish_put(ev.rid, ev.status)
                continue
            slot = self._by_sid.get(ev.sid)
            if slot is None:
                continue
            if type(ev) is GetDone:
                self._on_get_done(slot, ev)
            elif type(ev) is FrameFetched:
                self._on_frame_fetched(slot, ev)
            elif type(ev) is Connected:
                self._on_connected_event(slot)
                connected.append(slot)
            elif type(ev) is Disconnected:
                self._on_disconnected(slot)
            elif type(ev) is AccessRights:
                slot.state.read_access, slot.state.write_access = ev.read, ev.write
                self._changed[slot.sid] = None
        if connected:
            self._on_connected(connected)
        return connected

    def _on_frame_fetched(self, slot: _Slot, ev: FrameFetched) -> None:
        slot.fetching = max(0, slot.fetching - 1)
        if not slot.fetching:
            slot.fetch_t0 = 0.0
        if ev.status != ll.ECA_NORMAL and slot.pull:
            slot.credit = 1          # no frame reaches the consumer: ask again
        elif ev.status == ll.ECA_NORMAL:
            self._fetched(slot, ev.stamp)
        if ev.status not in (ll.ECA_NORMAL, ll.ECA_DISCONN):
            slot.state.error = f"get failed: {ll.message(ev.status)}"
            self._changed[slot.sid] = None

    def _on_connected_event(self, slot: _Slot) -> None:
        self._count_connected = True
        state = slot.state
        info = ll.channel_info(slot.chid)
        slot.native = info["native"]
        state.native_type = ll.NATIVE[slot.native][0] if slot.native in ll.NATIVE else "?"
        state.max_count, state.host = info["count"], info["host"]
        state.read_access, state.write_access = info["read"], info["write"]
        state.connected = state.ever_connected = True
        # libca drops arrays above its limit without a word: say so here
        state.error = array_bytes_problem(state.max_count, state.native_type)
        self._searching.pop(slot.sid, None)
        self._changed[slot.sid] = None

    def _on_disconnected(self, slot: _Slot) -> None:
        self._count_connected = True
        slot.state.connected = False
        slot.fetch_t0, slot.fetching = 0.0, 0
        if slot.pull:
            slot.credit = 1      # the first frame after a reconnect is wanted
        # after the reconnect: announcements again (_on_connected subscribes)
        slot.poll, slot.early, slot.armed = False, 0, False
        self._changed[slot.sid] = None

    def _on_get_done(self, slot: _Slot, ev: GetDone) -> None:
        state = slot.state
        dbr_type, status = ev.dbr_type, ev.status
        if status != ll.ECA_NORMAL:
            state.error = f"get failed: {ll.message(status)}"
            slot.meta_ok = True
        elif dbr_type >= 28 or dbr_type == 14 and not slot.meta_ok:
            self._apply_meta(slot, dbr_type, ev.raw)
        if 14 <= dbr_type < 21 and status == ll.ECA_NORMAL:
            slot.get_raw = (dbr_type, ev.count, ev.raw)
            if slot.evid is not None and slot.mask == ll.DBE_ALARM and slot.meta_ok:
                # a lean refresh: news only if the IOC processed the record since
                if ll.decode_time_header(ev.raw)[2] == state.timestamp:
                    return
                self._decode(slot, slot.get_raw)
            elif slot.once:
                self._decode(slot, slot.get_raw)
        self._changed[slot.sid] = None

    def _apply_meta(self, slot: _Slot, dbr_type: int, raw: bytes) -> None:
        st = slot.state
        slot.meta_ok = True
        if dbr_type < 28:  # strings have no CTRL form
            return
        md = ll.decode_ctrl_metadata(dbr_type, raw)
        st.units = md.get("units", "") or ""
        st.precision = md.get("precision")
        st.enum_strs = tuple(md.get("enum_strs", ()))
        if "upper_disp_limit" in md:
            st.display_limits = (md["lower_disp_limit"], md["upper_disp_limit"])
            st.alarm_limits = (md["lower_alarm_limit"], md["upper_alarm_limit"])
            st.warning_limits = (md["lower_warning_limit"], md["upper_warning_limit"])
        if "upper_ctrl_limit" in md:
            st.control_limits = (md["lower_ctrl_limit"], md["upper_ctrl_limit"])

    def _on_connected(self, slots: list[_Slot]) -> None:
        """Bulk step for channels that (re)connected: all metadata gets, then all
        subscriptions, then one flush. No waiting per PV."""
        for slot in slots:
            slot.meta_ok = False
            if not slot.once:   # read-once PVs take their access rights from the connection
                ll.replace_access_rights_event(slot.chid, self._cb_access)
            if slot.meta_light and slot.native != _NATIVE_CODE["ENUM"]:
                slot.meta_ok = True           # only the value is wanted (enums need their strings)
                continue
            self._send_meta_get(slot)
        for slot in slots:
            if slot.once:
                self._send_value_get(slot)
            # CA re-establishes existing subscriptions after a reconnect by itself:
            # this changes only what the users' needs (or lean mode) changed meanwhile
            self._reconcile(slot)
        ll.flush()

    def _send_meta_get(self, slot: _Slot) -> None:
        """The metadata get (DBR_CTRL_*). STRING has no CTRL type: its CTRL get is a
        DBR_TIME_STRING get, which the get handler also keeps as the value (``get_raw``);
        so for a STRING array it asks for the valid elements (count 0), as the value get
        does, never for one element (that reply, taken as the value, cut a caproto
        server's string array to its first element whenever it came alone)."""
        count = 0 if slot.native == 0 and slot.state.max_count > 1 else 1
        ll.array_get_callback(ll.ctrl_type(slot.native), count, slot.chid, self._cb_get, slot.sid)

    # ------------------------------------------------------------------ decoding

    def _decode(self, slot: _Slot, item: tuple) -> None:
        dbr_type, count, raw = item
        st = slot.state
        st.status, st.severity, st.timestamp = ll.decode_time_header(raw)
        st.value = self._value_of(slot, dbr_type, count, raw)
        st.count = count
        st.update_count += 1

    def _value_of(self, slot: _Slot, dbr_type: int, count: int, raw: bytes) -> Any:
        if slot.state.max_count > 1:
            return ll.decode_values(dbr_type, count, raw)
        if count < 1:
            return None
        return ll.decode_scalar(dbr_type, raw)

    # ------------------------------------------------------------------ worker

    def start(self, on_batch: Callable[[Batch], None]) -> None:
        """Start the CAThread worker; ``on_batch`` is called in the worker thread."""
        if self._worker is not None:
            raise RuntimeError("engine already started")
        self._on_batch = on_batch
        self._running = True
        self._worker = ca.CAThread(target=self._run, name="pvprobe-ca-worker", daemon=True)
        self._worker.start()

    def batch_done(self) -> None:
        """The consumer applied the last batch: the next one may be delivered."""
        self._ready.set()
        self._wake.set()

    def add(self, names: Iterable[str], monitor_arrays: bool = False, keep_all: bool = False,
            once: bool = False, paced: bool = False, light: bool = False) -> None:
        """Connect and monitor these PVs (non-blocking). ``monitor_arrays`` asks for
        monitors on arrays above AUTOMONITOR_MAXLENGTH; ``keep_all`` reports every
        update in ``PVState.samples`` instead of only the newest; ``once`` reads the
        value at each (re)connection without subscribing (for fields like ``.DESC``);
        ``paced`` monitors a big array by announcement and fetches the newest one only
        when the consumer has taken the previous one (image views: no frame is copied
        that would never be shown; a user asking full monitors on the same PV wins).
        Adding a PV that is already open shares its channel (removal is counted)."""
        self._commands.put(AddCmd(list(names), monitor_arrays, keep_all, once, paced, light))
        self._wake.set()

    def remove(self, names: Iterable[str], monitor_arrays: bool = False, keep_all: bool = False,
               once: bool = False, paced: bool = False, light: bool = False) -> None:
        """Release one use of each PV; pass the options it was added with, so that a PV
        others still use goes back to what they need (samples off when the last
        ``keep_all`` user goes, pacing back when the last full-monitor user goes, a big
        array unmonitored when nobody asks any more)."""
        self._commands.put(RemoveCmd(list(names), monitor_arrays, keep_all, once, paced, light))
        self._wake.set()

    def put(self, name: str, value: Any, timeout: float = 10.0,
            done: Optional[Callable[[PutResult], None]] = None, wait: bool = True) -> int:
        """Put with completion callback (non-blocking). The :class:`PutResult`
        arrives in a later batch's ``put_results`` (and via ``done``, in the worker)."""
        rid = next(self._rid)
        self._commands.put(PutCmd(rid, name, value, timeout, done, wait))
        self._wake.set()
        return rid

    def set_lean(self, enabled: bool) -> None:
        """Lean mode, for very large tables. With the C monitor callback (the usual
        build), PVs no view watches (see :meth:`watch`) are decoded and handed over
        longest-waiting first, LEAN_DECODE_BUDGET_PER_S in all (25,000 busy PVs: each
        every 2.5 s), instead of every tick: libca's updates cost no Python.
        Without it (pure Python callbacks take ~75,000 updates/s at most), they get
        alarm-only monitors (DBE_ALARM: value sent on every severity change) and are
        re-read every LEAN_REFRESH_S. Watched PVs stay live either way."""
        self._commands.put(LeanCmd(bool(enabled)))
        self._wake.set()

    def request_frame(self, name: str) -> None:
        """The consumer is ready for the next array of paced PV ``name``.

        After the first call the PV is paced by these calls (pull): one get is sent
        per request, when a new array has been announced, so an array is fetched
        only when the consumer (the image view, once it painted the previous frame)
        can use it at once: no frame waits behind the display. Requests do not add
        up: a PV has at most one fetch outstanding."""
        self._commands.put(FrameCmd(name))
        self._wake.set()

    def watch(self, owner: str, names: Iterable[str]) -> None:
        """The PVs ``owner`` (a view) shows right now: they get full value monitors
        in lean mode. Replaces that owner's previous set; an empty set stops watching."""
        self._commands.put(WatchCmd(owner, set(names)))
        self._wake.set()

    def _update_masks(self, names: Iterable[str]) -> None:
        """Lean mode or the watched set changed: these channels follow."""
        for name in names:
            slot = self._slots.get(name)
            if slot is not None and slot.evid is not None:
                self._reconcile(slot)

    def _run(self) -> None:
        next_tick = time.monotonic()
        while self._running:
            self._wake.wait(max(0.0, next_tick - time.monotonic()))
            self._wake.clear()
            try:
                self._run_commands()
                self._process_events()
                self._expire_puts()
                self._expire_searches()
                if self._lean and self._fast is None:
                    self._refresh_lean()
                now = time.monotonic()
                if now >= next_tick or self._frame_waiting and self._ready.is_set():
                    # a fetched frame goes out at once: its fetch was paced by the consumer
                    next_tick = now + self.tick
                    self.stats.ticks += 1
                    if self._ready.is_set():
                        self._deliver()
                self._fetch_frames()
            except Exception:  # never let the worker die silently
                log.exception("CA worker error")

    def _refresh_lean(self) -> None:
        """Lean mode: PVs on alarm-only monitors are re-read (one get each) every
        LEAN_REFRESH_S, spread over the period, so every value is at most that old
        while costing a fraction of the callbacks of full monitors."""
        now = time.monotonic()
        if now < self._lean_next:
            return
        self._lean_next = now + LEAN_REFRESH_STEP_S
        lean = [s for s in self._slots.values()
                if s.evid is not None and s.mask == ll.DBE_ALARM and s.state.connected]
        if not lean:
            return
        chunk = max(1, math.ceil(len(lean) * LEAN_REFRESH_STEP_S / LEAN_REFRESH_S))
        start = self._lean_pos % len(lean)
        batch = lean[start:start + chunk]
        if len(batch) < chunk:
            batch += lean[:chunk - len(batch)]
        self._lean_pos = start + chunk
        for s in batch:
            ll.array_get_callback(ll.time_type(s.native), 0 if s.state.max_count > 1 else 1,
                                  s.chid, self._cb_get, s.sid)
        ll.flush()
        self.stats.lean_refreshes += len(batch)

    def _fetch_frames(self) -> None:
        """Fetch the newest array of each announced paced PV while fewer than
        :attr:`paced_depth` of its arrays are in the pipeline (in flight, or fetched and
        waiting for the consumer), and, for PVs in pull mode (:meth:`request_frame`),
        only when the consumer asked for one. The consumer never gets a queue: a
        fetched array that waits is replaced by a newer one.

        With the C callback, announcements cost no Python: a PV ready for a fetch is
        *armed*, and only its next announcement wakes the worker."""
        if not self._paced:
            return
        now = time.monotonic()
        sent = False
        with self._lock:
            waiting = self._latest.keys() & self._paced
        for sid in list(self._paced):
            slot = self._by_sid.get(sid)
            if slot is None:
                continue
            if slot.fast >= 0:
                seen = self._fast.events(slot.fast)
                self.stats.frames_announced += seen - slot.events_seen
                slot.events_seen = seen
            if not slot.state.connected:
                continue
            if slot.fetching and now - slot.fetch_t0 >= get_timeout(slot.state.max_count) + 5.0:
                slot.fetching, slot.fetch_t0 = 0, 0.0    # a lost reply is given up
                slot.credit = 1 if slot.pull else 0
            if slot.fetching + (sid in waiting) >= self.paced_depth:
                continue
            if slot.pull and slot.credit <= 0:
                continue          # the consumer has not finished with the last one
            if not slot.poll:
                if slot.evid is None:
                    continue      # not subscribed yet
                early = self._take_announcement(slot)
                if early is None:
                    continue      # nothing new yet: the next announcement wakes us
                if slot.pull:
                    slot.early = slot.early + 1 if early else 0
                    if slot.early >= POLL_AFTER_EARLY:
                        self._start_polling(slot)
            st = ll.array_get_callback(ll.time_type(slot.native), 0, slot.chid, self._cb_frame, sid)
            if st == ll.ECA_NORMAL:
                if not slot.fetching:
                    slot.fetch_t0 = now
                slot.fetching += 1
                slot.credit = 0
                sent = True
            else:
                slot.state.error = f"get failed: {ll.message(st)}"
                self._changed[sid] = None
        if sent:
            ll.flush()

    def _take_announcement(self, slot: _Slot) -> Optional[bool]:
        """None if no array newer than the last fetched was announced (the PV is then
        armed: its next announcement wakes the worker); else whether it was announced
        before the consumer asked (``early``: the camera is ahead of the view)."""
        if slot.fast >= 0:
            items = self._fast.take([slot.fast])
            if not items or ll.time_stamp_of(items[-1][3]) <= slot.last_stamp:
                if not self._fast.arm(slot.fast, self._wake_set):
                    slot.armed = True
                    return None
                # one came between take() and arm(): new, and not early
                slot.armed = True
        else:
            with self._lock:
                stamp = self._announced.pop(slot.sid, None)
            if stamp is None or stamp <= slot.last_stamp:
                slot.armed = True
                return None
        early = not slot.armed
        slot.armed = False
        return early

    def _start_polling(self, slot: _Slot) -> None:
        """The camera is ahead of the consumer: stop its announcements (one message per
        published frame, for the IOC and for us), fetch at each request instead."""
        if slot.evid is not None:
            ll.clear_subscription(slot.evid)
            slot.evid, slot.sub = None, None
        if slot.fast >= 0:
            self._fast.disarm(slot.fast)   # kept for the announcements' return
        slot.poll, slot.early, slot.armed = True, 0, False
        self.stats.poll_switches += 1

    def _fetched(self, slot: _Slot, stamp: tuple) -> None:
        """A paced array arrived. While polling, one no newer than the last means the
        camera fell behind the consumer: drop it, announcements again."""
        if slot.poll and stamp <= slot.last_stamp:
            with self._lock:
                item = self._latest.get(slot.sid)
                if item is not None and ll.time_stamp_of(item[2]) == stamp:
                    del self._latest[slot.sid]          # the frame already shown
            slot.poll = False
            self.stats.poll_switches += 1
            if slot.pull:
                slot.credit = 1                         # the consumer still waits for one
            if slot.evid is None:
                self._subscribe(slot, ANNOUNCE)   # its first event (this frame) is ignored by stamp
                ll.flush()
            return
        if stamp > slot.last_stamp:
            slot.last_stamp = stamp

    def _expire_searches(self) -> None:
        """Say so when a PV has not been found within the connection timeout
        (CA keeps searching; the row says "not found" instead of "connecting")."""
        if not self._searching:
            return
        now = time.monotonic()
        for sid in [s for s, t in self._searching.items() if t <= now]:
            del self._searching[sid]
            slot = self._by_sid.get(sid)
            if slot is not None and not slot.state.ever_connected:
                slot.state.error = "not found: no server answered (still searching)"
                self._changed[sid] = None

    def _run_commands(self) -> None:
        flush = False
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                break
            flush |= self._command_handlers[type(cmd)](cmd)
        if flush:
            ll.flush()

    def _do_add(self, cmd: AddCmd) -> bool:
        self._count_connected = True
        for name in cmd.names:
            slot = self._create(name, cmd.monitor_arrays, cmd.keep_all, cmd.once, cmd.paced,
                                cmd.light)
            self._changed[slot.sid] = None
        return True

    def _do_remove(self, cmd: RemoveCmd) -> bool:
        self._count_connected = True
        for name in cmd.names:
            self._drop(name, Use.of(cmd.monitor_arrays, cmd.keep_all, cmd.once, cmd.paced,
                                    cmd.light))
        return True

    def _do_lean(self, cmd: LeanCmd) -> bool:
        if cmd.enabled == self._lean:
            return False
        self._lean = cmd.enabled
        self._update_masks(list(self._slots))
        return True

    def _do_frame(self, cmd: FrameCmd) -> bool:
        slot = self._slots.get(cmd.name)
        if slot is not None and slot.paced:
            slot.pull, slot.credit = True, 1
        return False

    def _do_watch(self, cmd: WatchCmd) -> bool:
        old = self._watched
        if cmd.names:
            self._watchers[cmd.owner] = cmd.names
        else:
            self._watchers.pop(cmd.owner, None)
        self._watched = set().union(*self._watchers.values()) if self._watchers else set()
        if self._lean:
            self._update_masks(old ^ self._watched)
            return True
        return False

    def _do_put(self, cmd: PutCmd) -> bool:
        self._start_put(cmd.rid, cmd.name, cmd.value, cmd.timeout, cmd.done, wait=cmd.wait)
        return True

    def _collect(self) -> list[PVState]:
        with self._lock:
            latest, self._latest = self._latest, {}
            samples, self._samples = self._samples, {}
            self._frame_waiting = False
            self.stats.updates_received = self._updates
        t0 = time.perf_counter()
        if self._fast is not None:
            self.stats.updates_received += self._fast.updates() - self._fast_updates0
            by_slot = self._fast_sid
            for idx, dbr_type, count, raw in self._take_fast():
                sid = by_slot.get(idx)
                if sid is not None:
                    latest[sid] = (dbr_type, count, raw)
        for sid, item in latest.items():
            slot = self._by_sid.get(sid)
            if slot is not None:
                self._decode(slot, item)
                self._changed[sid] = None
        out: list[PVState] = []
        keep: dict[int, None] = {}
        for sid in self._changed:
            slot = self._by_sid.get(sid)
            if slot is None:
                continue
            if (slot.state.connected and not slot.meta_ok) or len(out) >= self.max_batch_states:
                # hold the first value until units/enum strings are known; and never hand
                # the UI more than max_batch_states at once (the rest go next tick)
                keep[sid] = None
                continue
            state = slot.state.copy()
            if sid in samples:
                taken = [self._sample(slot, it) for it in samples[sid]]
                if slot.resubscribed_ts is not None:
                    if taken and taken[0][0] == slot.resubscribed_ts:
                        taken = taken[1:]
                    slot.resubscribed_ts = None
                state.samples = taken
            out.append(state)
        self._changed = keep
        held = {sid: samples[sid] for sid in keep if sid in samples}
        if held:   # samples of held PVs wait for the next batch, none is lost
            with self._lock:
                for sid, items in held.items():
                    newer = self._samples.get(sid)
                    self._samples[sid] = list(items) + list(newer) if newer else items
        self.stats.decode_seconds += time.perf_counter() - t0
        return out

    def _take_fast(self) -> list[tuple]:
        """Newest values from the C callback, at most a batch's worth (the rest wait
        in the C queue, first in line next time: no value is decoded only to be held
        back, and no single call holds the GIL long); in lean mode those of watched
        PVs plus the longest-waiting others, LEAN_DECODE_BUDGET_PER_S in all."""
        if not self._lean:
            return self._fast.drain(self._fast_group, self.max_batch_states)
        now = time.monotonic()
        elapsed = now - self._lean_last if self._lean_last else self.tick
        self._lean_last = now
        budget = self.lean_decode_budget
        # at most a quarter second of budget saved up, at most a batch at once
        self._lean_credit = min(budget / 4, self._lean_credit + elapsed * budget)
        n = min(int(self._lean_credit), self.max_batch_states)
        watched = [s.fast for s in map(self._slots.get, self._watched) if s is not None and s.fast >= 0]
        items = self._fast.take(watched) if watched else []
        if n > 0:
            more = self._fast.drain(self._fast_group, n)
            self._lean_credit -= len(more)
            items += more
        return items

    def _sample(self, slot: _Slot, item: tuple) -> tuple:
        dbr_type, count, raw = item
        status, severity, ts = ll.decode_time_header(raw)
        return ts, self._value_of(slot, dbr_type, count, raw), severity

    def _deliver(self) -> None:
        states = self._collect()
        results, self._put_results = self._put_results, []
        warnings, self._warnings = self._warnings, []
        if not states and not results and not warnings and len(self._slots) == self.stats.pvs:
            return      # nothing changed (a removal alone still reports the new PV count)
        self._seq += 1
        st = self.stats
        st.pvs = len(self._slots)
        if self._count_connected:    # O(PVs): only after connection changes, adds, removals
            self._count_connected = False
            st.connected = sum(1 for s in self._slots.values() if s.state.connected)
        batch = Batch(seq=self._seq, states=states, put_results=results,
                      updates_received=st.updates_received, pvs=st.pvs, connected=st.connected,
                      warnings=warnings)
        self._ready.clear()
        st.batches_sent += 1
        try:
            if self._on_batch is not None:
                self._on_batch(batch)
        except Exception:
            log.exception("batch consumer failed")
            self._ready.set()

    # ------------------------------------------------------------------ puts

    def _start_put(self, rid: int, name: str, value: Any, timeout: float,
                   done: Optional[Callable[[PutResult], None]], wait: bool = True) -> None:
        """Check, convert and send a put. With ``wait`` the put asks for a completion
        callback (and times out); without, it is a plain put reported as sent."""
        slot = self._slots.get(name)
        fail = lambda msg: self._put_done(PutResult(name=name, value=value, ok=False, error=msg,
                                                    request_id=rid), done)
        if slot is None:
            return fail("PV is not open in this session")
        st = slot.state
        if not st.connected:
            return fail("not connected")
        if not st.write_access:
            return fail("no write access (read-only PV)")
        if st.is_enum and not slot.meta_ok:
            return fail("enum states not known yet")
        try:
            native, values = coerce_put_value(st, value)
        except PutValueError as exc:
            return fail(str(exc))
        n = len(values)
        ctype = _CTYPE[native]
        data = (ctype * n)()
        for i, v in enumerate(values):
            if native == "STRING":
                data[i].value = v.encode("utf-8")
            else:
                data[i] = v
        if not wait:
            status = ll.array_put(_NATIVE_CODE[native], n, slot.chid, data)
            if status != ll.ECA_NORMAL:
                return fail(ll.message(status))
            return self._put_done(PutResult(name=name, value=value, ok=True, old_value=st.value,
                                            request_id=rid), done)
        status = ll.array_put_callback(_NATIVE_CODE[native], n, slot.chid, data, self._cb_put, rid)
        if status != ll.ECA_NORMAL:
            return fail(ll.message(status))
        now = time.monotonic()
        self._puts[rid] = _PendingPut(rid, name, value, st.value, now + timeout, now, done, data)

    def _finish_put(self, rid: int, status: int) -> None:
        p = self._puts.pop(rid, None)
        if p is None:
            return  # already timed out
        ok = status == ll.ECA_NORMAL
        self._put_done(PutResult(name=p.name, value=p.value, ok=ok, old_value=p.old_value,
                                 error="" if ok else f"put failed: {ll.message(status)}",
                                 request_id=rid, seconds=time.monotonic() - p.t0), p.done)

    def _expire_puts(self) -> None:
        if not self._puts:
            return
        now = time.monotonic()
        for rid in [r for r, p in self._puts.items() if p.deadline <= now]:
            p = self._puts.pop(rid)
            self._put_done(PutResult(name=p.name, value=p.value, ok=False, old_value=p.old_value,
                                     error=f"no completion within {p.deadline - p.t0:.1f} s (timeout)",
                                     request_id=rid, seconds=now - p.t0), p.done)

    def _put_done(self, result: PutResult, done: Optional[Callable[[PutResult], None]]) -> None:
        self._put_results.append(result)
        if done is not None:
            try:
                done(result)
            except Exception:
                log.exception("put callback failed")

    # ------------------------------------------------------------------ synchronous (CLI)

    def _pump_until(self, predicate: Callable[[], bool], deadline: float) -> bool:
        while True:
            self._process_events()
            self._expire_puts()
            if predicate():
                return True
            if time.monotonic() >= deadline:
                return False
            self._wake.wait(min(0.05, max(0.0, deadline - time.monotonic())))
            self._wake.clear()

    def _wait_answers(self, pending: Callable[[], bool], quiet: float, cap: float,
                      longer: Optional[Callable[[], float]] = None) -> str:
        """Pump CA events until ``pending()`` (asked again whenever answers came) is
        false. The wait goes on while answers (connections, gets, put completions)
        keep arriving: it gives up once none has come for ``quiet`` seconds (or for
        ``longer()``, asked only when ``quiet`` has run out, if that is longer), or
        ``cap`` seconds after it began, whichever is first. Returns "" when nothing
        is left pending, else why it gave up (for the messages of what is missing)."""
        t0 = last = time.monotonic()
        seen = self._answers
        q = quiet
        left = pending()
        while left:
            self._wake.clear()
            self._process_events()
            self._expire_puts()
            now = time.monotonic()
            if self._answers != seen:
                seen, last, q = self._answers, now, quiet
                left = pending()
                if not left:
                    break
            if now - last >= q and longer is not None and q == quiet:
                q = max(quiet, longer())
            if now - last >= q:
                return f"nothing arrived for {q:g} s"
            if now - t0 >= cap:
                return f"the wait reached its limit of {cap:g} s"
            if last == now:
                # answers are coming: let them gather for a moment instead of waking
                # for each (the loop would take the GIL from libca's callback threads
                # thousands of times a second while 20,000 PVs connect)
                time.sleep(ANSWER_BATCH_S)
            else:
                self._wake.wait(max(0.001, min(0.05, last + q - now, t0 + cap - now)))
        return ""

    @staticmethod
    def _pending(slots: list[_Slot], done: Callable[[_Slot], bool]) -> Callable[[], bool]:
        """``pending()`` for :meth:`_wait_answers`: true while any of ``slots`` is not
        ``done``. Done slots are dropped from the end of a reversed copy, so all
        calls together cost O(len(slots)), not O(len(slots)) each (20,000 PVs)."""
        rest = [s for s in reversed(slots) if s.chid is not None]

        def pending() -> bool:
            while rest and done(rest[-1]):
                rest.pop()
            return bool(rest)
        return pending

    def open(self, names: Iterable[str], timeout: Optional[float] = None,
             monitor: bool = False) -> dict[str, PVState]:
        """Connect (bulk) and wait, all at once, until every PV connected and has
        its metadata. The wait goes on while connections keep arriving and gives up
        once none has arrived for ``timeout`` seconds (default 2), or after
        :func:`wait_cap` in all. Synchronous; no worker needed."""
        self._require_no_worker()
        names = list(dict.fromkeys(names))
        quiet = DEFAULT_CONNECTION_TIMEOUT if timeout is None else timeout
        slots = [self._create(n, monitor, False) for n in names]
        ll.flush()
        self._wait_answers(self._pending(slots, lambda s: s.state.connected and s.meta_ok),
                           quiet, wait_cap(quiet, len(slots)))
        return {s.name: s.state for s in slots}

    def read(self, names: Iterable[str], timeout: Optional[float] = None,
             metadata: bool = True) -> dict[str, PVState]:
        """The bulk recipe: create all channels, wait for connections together, one
        get per PV without waiting, flushed in bulk, then collect. PVs not open yet
        are opened read-once: each connection sends its metadata get and its value
        get together (one round trip, no subscription). ``metadata=False`` skips the
        metadata get (units, precision, limits) of PVs not open yet, enums excepted
        (snapshots need only value, alarm and time). Each result is a PVState;
        ``error`` says why a PV has no value (never connected, timeout...).

        One wait covers connections and values: it goes on while they keep arriving
        and gives up on what is missing once nothing has arrived for ``timeout``
        seconds (default: 2 s, or 0.5 + log10(elements) for the largest array
        still waiting if longer), or after :func:`wait_cap` in all."""
        self._require_no_worker()
        names = list(dict.fromkeys(names))
        fresh = {n for n in names if n not in self._slots}
        slots = [self._create(n, False, False, once=True, light=not metadata) for n in names]
        for s in slots:       # already open: a fresh value get (new ones get theirs on connecting)
            if s.name not in fresh and s.state.connected:
                s.get_raw = None
                self._send_value_get(s)
        ll.flush()
        quiet = DEFAULT_CONNECTION_TIMEOUT if timeout is None else timeout

        def longer() -> float:   # the default waits longer for the values of big arrays
            return max([get_timeout(s.state.max_count) for s in slots if s.state.connected
                        and s.state.max_count > 1 and not self._read_done(s)], default=0.0)

        why = self._wait_answers(self._pending(slots, self._read_done), quiet,
                                 wait_cap(quiet, len(slots)),
                                 longer if timeout is None else None) or "timeout"
        for s in slots:
            st = s.state
            if s.chid is None:
                continue
            if not st.connected:
                st.error = st.error or f"not found (no server answered within the timeout: {why})"
            elif s.get_raw is not None:
                self._decode(s, s.get_raw)
            elif not st.error:
                st.error = f"get timed out ({why})"
        return {n: self._slots[n].state.copy() for n in names}

    @staticmethod
    def _read_done(slot: _Slot) -> bool:
        """A PV of :meth:`read` has its value and metadata, or an error that no
        waiting will cure (array too big, get refused)."""
        st = slot.state
        return st.connected and ((slot.meta_ok and slot.get_raw is not None) or bool(st.error))

    def _send_value_get(self, slot: _Slot) -> None:
        st = ll.array_get_callback(ll.time_type(slot.native), 0 if slot.state.max_count > 1 else 1,
                                   slot.chid, self._cb_get, slot.sid)
        if st != ll.ECA_NORMAL:
            slot.state.error = f"get failed: {ll.message(st)}"

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
        ll.flush()
        self._pump_until(lambda: bool(box), time.monotonic() + timeout + 1.0)
        self._put_results.clear()
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
        todo: "deque[tuple[int, str, Any]]" = deque()
        cap = wait_cap(timeout, len(items))
        for name, value in items:
            rid = next(self._rid)
            rids.append(rid)
            slot = self._slots.get(name)
            if slot is not None and not slot.state.connected:
                results[rid] = PutResult(name=name, value=value, ok=False, request_id=rid,
                                         error=slot.state.error or "not found (no server answered within the timeout)")
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
                ll.flush()
            return len(results) < len(rids)

        why = self._wait_answers(pending, timeout, cap)
        now = time.monotonic()
        for rid, (name, value) in zip(rids, items):
            p = self._puts.pop(rid, None)
            if rid not in results:
                results[rid] = PutResult(name=name, value=value, ok=False, request_id=rid,
                                         old_value=p.old_value if p else None,
                                         error=f"no completion ({why or 'timeout'})",
                                         seconds=now - p.t0 if p else 0.0)
        self._put_results.clear()
        return [results[rid] for rid in rids]

    def _require_no_worker(self) -> None:
        if self._worker is not None:
            raise RuntimeError("synchronous calls are for use without the worker")

    # ------------------------------------------------------------------ shutdown

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker; callbacks return at once from now on. The channels are
        left to :func:`pvprobe.ca.context.shutdown`, which destroys the context in
        one call at exit: clearing tens of thousands of busy channels one by one
        takes seconds (each ctypes call hands the GIL to the callback threads)."""
        self._running = False
        self._wake.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout)
        self._closing = True
        if self._fast is not None:
            for slot in list(self._slots.values()):
                if slot.paced and slot.fast >= 0:
                    self._fast.disarm(slot.fast)   # no call into Python after this

    def close(self, timeout: float = 5.0) -> None:
        """Stop, then clear every subscription and channel: for an engine that goes
        away while the process (and its CA context) lives on."""
        self.stop(timeout)
        if ll._libca is None:
            return
        for slot in list(self._slots.values()):
            self._unsubscribe(slot)
            if slot.chid is not None:
                ll.clear_channel(slot.chid)
                slot.chid = None
        ll.flush()
        self._slots.clear()
        self._by_sid.clear()

    # ------------------------------------------------------------------ introspection

    @property
    def fast_callbacks(self) -> bool:
        """Value monitors go through the C callback (pvprobe.ca._fastmon)."""
        return self._fast is not None

    def states(self) -> dict[str, PVState]:
        """Current states (copies). Safe only from the worker or without a worker."""
        return {n: s.state.copy() for n, s in self._slots.items()}

    # ------------------------------------------------------------------ debug view (tests)

    def debug_info(self, name: str) -> Optional["ChannelDebug"]:
        """A read-only snapshot of what the engine holds for ``name`` (None: no channel).
        For tests and diagnostics: it names behaviour (subscribed, mask, paced...), not
        the engine's private fields, so those can change without breaking the tests.
        Safe from any thread: it copies plain fields; a worker may change them right after."""
        slot = self._slots.get(name)
        return None if slot is None else ChannelDebug.of(slot)

    def debug_channels(self) -> dict[str, "ChannelDebug"]:
        """:meth:`debug_info` of every channel the engine holds, by name."""
        return {name: ChannelDebug.of(slot) for name, slot in dict(self._slots).items()}

    def debug_summary(self) -> "EngineDebug":
        """Engine-wide state for tests: channels held, subscriptions, lean mode, worker."""
        channels = self.debug_channels().values()
        worker = self._worker
        return EngineDebug(channels=len(channels),
                           subscribed=sum(c.subscribed for c in channels),
                           polling=sum(c.polling for c in channels),
                           lean=self._lean,
                           worker_alive=worker is not None and worker.is_alive())


@dataclass(frozen=True)
class ChannelDebug:
    """What the engine does for one channel (see :meth:`Engine.debug_info`)."""

    name: str
    connected: bool
    subscribed: bool          # a CA subscription is active (value, alarm or announcement)
    mask: int                 # its event mask (DBE_VALUE 1, DBE_LOG 2, DBE_ALARM 4)
    monitored: bool           # a big array someone asked to monitor (or paced)
    paced: bool               # announced by a 1-element monitor, fetched by get
    pull: bool                # paced by the consumer's request_frame() calls
    polling: bool             # pull mode with announcements off (camera ahead of the consumer)
    keep_all: bool            # every update is kept (samples), not only the newest
    once: bool                # read on each (re)connection, never subscribed
    fast_callback: bool       # value monitor through the C callback, not Python
    users: int                # add() calls not yet matched by remove()
    users_keep_all: int
    users_monitor: int        # monitor_arrays users that are not paced
    users_paced: int

    @classmethod
    def of(cls, slot: _Slot) -> "ChannelDebug":
        """Copy the fields of a slot (plain reads, no lock: a snapshot for tests)."""
        state = slot.state
        return cls(name=slot.name, connected=bool(state is not None and state.connected),
                   subscribed=slot.evid is not None, mask=slot.mask,
                   monitored=slot.want_monitor, paced=slot.paced, pull=slot.pull,
                   polling=slot.poll, keep_all=slot.keep_all, once=slot.once,
                   fast_callback=slot.fast >= 0, users=len(slot.users),
                   users_keep_all=slot.users.count(keep_all=True),
                   users_monitor=slot.users.count(monitor_arrays=True, paced=False),
                   users_paced=slot.users.count(paced=True))


@dataclass(frozen=True)
class EngineDebug:
    """Engine-wide counts (see :meth:`Engine.debug_summary`)."""

    channels: int             # channels the engine holds
    subscribed: int           # of which with an active CA subscription
    polling: int              # of which paced by polling (no subscription on purpose)
    lean: bool                # lean mode is on
    worker_alive: bool        # the worker thread runs
