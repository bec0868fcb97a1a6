"""The pvAccess source of the engine, on p4p's raw client (pvxs underneath).

Each channel is one monitor of the whole structure: its first update is the
connection (type, count, metadata), a ``Disconnected`` in its queue the loss of
it. pvxs calls our handler in its own thread when a monitor's queue becomes
non-empty; the handler only notes the channel and wakes the worker, which pops
the queued updates in :meth:`PVASource.poll` (so updates of one PV between two
ticks cost one pop each and one decode in all: coalescing as for CA). A channel
whose users want no values keeps its monitor (the connection) and drops them.

Paced arrays (image views): every update of a paced channel replaces the newest
frame kept by the source and announces it; the engine's fetch hands that frame
over (no network round trip), so only the newest frame is ever decoded, and the
decoding (NTNDArray codecs) runs in the worker when the batch is built, never in
the GUI thread.

PVA says nothing about access rights before a put: ``access_known`` is False
and a refused put reports the server's message. p4p does not tell which server
answered (``host`` stays empty).

Import this module only after the CA context exists (``pvprobe.ca.context``):
p4p loads pvxslibs, whose EPICS libraries pyepics would otherwise pick up.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from ..core.pvstate import PVState
from ..engine.events import Connected, Disconnected, FrameFetched, GetDone, PutDone
from ..engine.inbox import Inbox
from ..engine.lean import LEAN_REFRESH_S
from ..engine.needs import Subscription
from ..engine.source import NEW, NOTHING_NEW, Source
from . import values as pv

log = logging.getLogger(__name__)

#: The name prefix of PVA channels in the engine (bare names are CA).
PREFIX = "pva://"
#: What the monitor of a scalar, array or enum PV asks once its whole structure is
#: known: decoding and copying an update then touches 3 fields, not 20 (display,
#: control and valueAlarm come with the metadata get at each connection).
NARROW_REQUEST = "field(value,alarm,timeStamp)"
#: A plain value monitor (no every-sample user, not paced) is emptied at most this
#: often: what changes faster is squashed by pvxs into its newest update while it
#: waits, so a PV changing at 10 Hz costs 4 pops and 4 decodes a second, not 10, and
#: its shown value stays at most this much (plus a tick) older than the newest.
#: (Python pays per update what CA's C monitor callback does not: see the README's
#: pvAccess figures.)
PVA_POLL_S = 0.25
#: ... once the source serves more channels than this (a big table), and only for
#: channels no view shows right now (:meth:`PVASource.set_watched`): a probe, a
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
    quiet: bool = False             # its handler never wakes the worker (plain values)
    emptied: float = 0.0            # when its queue was last emptied (monotonic)
    waiting: bool = False           # in the source's queue of monitors emptied later
    slow: bool = False              # lean mode, no view watches it: emptied every LEAN_REFRESH_S
    watched: bool = False           # a view shows it: never deferred
    repeat: bool = False            # a swapped-in monitor: its first update repeats ``last``
    ops: set = field(default_factory=set)   # puts in flight (kept alive until done)


def wire_name(name: str) -> str:
    return name[len(PREFIX):] if name.startswith(PREFIX) else name


class PVASource(Source):
    """pvAccess behind the engine (one p4p client context)."""

    cheap_updates = False
    item_type = PVAItem

    def __init__(self, context: Any = None) -> None:
        if context is None:
            from p4p.client import raw
            context = raw.Context("pva", nt=False, useenv=True)
        self._ctx = context
        from p4p import _p4p
        from p4p.client.raw import Context as _RawContext
        from p4p.client.raw import Disconnected as _Disc
        from p4p.client.raw import Finished as _Fin
        from p4p.client.raw import RemoteError as _Rem
        self._disconnected, self._finished, self._remote_error = _Disc, _Fin, _Rem
        self._client_monitor = _p4p.ClientMonitor
        self._pop = _p4p.ClientMonitor.pop
        self._make_request = _RawContext.makeRequest
        self._inbox: Optional[Inbox] = None
        self._wake: Callable[[], None] = lambda: None
        self._closing = False
        self._ready: deque[int] = deque()          # sids whose monitor queue has news
        # (due, sid) of monitors emptied at due time: plain ones, and lean mode's slow ones
        self._later: deque[tuple[float, int]] = deque()
        self._later_slow: deque[tuple[float, int]] = deque()
        self.poll_interval = PVA_POLL_S
        self.slow_interval = LEAN_REFRESH_S
        self._links: dict[int, PVALink] = {}
        #: (set, op) of operations that completed: released by the worker, never in
        #: pvxs's callback (an op destroyed in its own callback thread can deadlock pvxs)
        self._done_ops: deque[tuple[set, list]] = deque()
        self._lost_sids: dict[int, float] = {}  # were connected, are not now: since when
        self._next_hurry = 0.0
        self._warnings: list[str] = []

    # ------------------------------------------------------------------ set-up

    def bind(self, inbox: Inbox, wake: Callable[[], None]) -> None:
        self._inbox, self._wake = inbox, wake

    def worker_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        return threading.Thread(target=target, name=name, daemon=True)

    def close(self) -> None:
        self._closing = True

    def alive(self) -> bool:
        return not self._closing or self._ctx is not None

    def flush(self) -> None:
        pass    # pvxs sends at once

    def take_warnings(self) -> list[str]:
        out, self._warnings = self._warnings, []
        return out

    # ------------------------------------------------------------------ pvxs thread

    def _handler(self, sid: int, link: PVALink, quiet: bool) -> Callable[[], None]:
        """What pvxs calls (its thread, with the GIL) when a monitor's queue becomes
        non-empty. ``quiet``: a plain value monitor, whose updates wait for the
        worker's next pass (at least one per tick): the handler is then
        ``deque.append`` bound to the sid, no Python frame and no wake-up per update.
        Otherwise (connecting, paced frames) it also wakes the worker."""
        ready, src = self._ready, self
        if quiet:
            return functools.partial(ready.append, sid)

        def on_event() -> None:
            if src._closing:
                return
            ready.append(sid)
            if not link.connected or link.announce:
                src._wake()
        return on_event

    def _monitor(self, sid: int, link: PVALink, request: Optional[str], quiet: bool) -> Any:
        """A pvxs monitor of ``link.wire`` (p4p's ClientMonitor without its Python
        wrappers: the handler and pop() run per update)."""
        req = self._make_request(request) if request else None
        return self._client_monitor(self._ctx._ctxt, link.wire,
                                    handler=self._handler(sid, link, quiet), pvRequest=req)

    # ------------------------------------------------------------------ the worker's part

    def poll(self) -> None:
        """Pop what the monitors queued (worker thread): connections, losses, values.
        Plain value monitors are emptied at most every :data:`PVA_POLL_S`; in lean
        mode, those no view watches every LEAN_REFRESH_S (pvxs keeps their newest)."""
        done_ops = self._done_ops
        while done_ops:
            ops, box = done_ops.popleft()
            if box:
                ops.discard(box[0])
                box.clear()         # the op <-> callback cycle goes: freed here, now
        ready, links, ib = self._ready, self._links, self._inbox
        later, slow = self._later, self._later_slow
        if self._lost_sids:
            self._hurry()
        if not ready and not later and not slow:
            return
        now = time.monotonic()
        keep_all = ib.keep_all
        while ready:
            try:
                sid = ready.popleft()
            except IndexError:
                break
            link = links.get(sid)
            if link is None or link.monitor is None or link.waiting:
                continue
            if (link.quiet and link.connected and not link.watched and sid not in keep_all
                    and (link.slow or len(links) > DEFER_ABOVE)):
                wait = self.slow_interval if link.slow else self.poll_interval
                if link.emptied + wait > now:
                    link.waiting = True
                    (slow if link.slow else later).append((link.emptied + wait, sid))
                    continue
            link.emptied = now
            self._drain(sid, link, ib)
        for queue in (later, slow):
            while queue and queue[0][0] <= now:
                sid = queue.popleft()[1]
                link = links.get(sid)
                if link is None or link.monitor is None:
                    continue
                link.waiting = False
                link.emptied = now
                self._drain(sid, link, ib)

    def _drain(self, sid: int, link: PVALink, ib: Inbox) -> None:
        """Pop what ``sid``'s monitor queued: losses, the connection, values (the
        newest is kept; every one with keep_all; NTNDArray uniqueIds all counted)."""
        pop, mon = self._pop, link.monitor
        got: list = []
        for _ in range(10000):       # a bounded drain: the rest comes at the next event
            try:
                v = pop(mon)
            except Exception as exc:     # p4p refused to decode an update
                self._warn(f"{PREFIX}{link.wire}: bad update: {exc}")
                continue
            if v is None:
                break
            if isinstance(v, Exception):
                got.clear()
                self._lost(sid, link, v, ib)
                continue
            if not link.connected:
                if self._connected(sid, link, v, ib):
                    return      # the narrow monitor's first update follows
                continue        # connection_info and the users' subscription follow
            got.append(v)
        if got and link.repeat:
            link.repeat = False
            if _repeats(got[0], link.last):     # already delivered (a second keep_all sample)
                del got[0]
        if not got:
            return
        n = len(got)
        link.seq += n
        counters = link.ndarray
        if counters is not None:       # frames missed upstream: gaps in uniqueId
            for v in got:
                counters.drops.update(v.get("uniqueId", None))
        kind = link.kind
        newest = PVAItem(got[-1], kind, link.seq, counters)
        link.last = newest
        if link.announce:
            with ib.lock:
                ib.announced[sid] = (newest.seq, 0)
                ib.stats.frames_announced += n
        elif link.values:
            with ib.lock:
                ib.latest[sid] = newest
                ib.updates += n
                if sid in ib.keep_all:
                    seq0 = link.seq - n
                    kept = [PVAItem(v, kind, seq0 + i + 1, counters) for i, v in enumerate(got)]
                    ib.samples.setdefault(sid, []).extend(kept)

    def _connected(self, sid: int, link: PVALink, v: Any, ib: Inbox) -> bool:
        """The first update since (re)connecting: the channel's shape, its Connected
        event; True when its monitor was swapped for a narrow one."""
        try:
            link.kind = pv.kind_of(v)
        except Exception as exc:
            self._warn(f"{PREFIX}{link.wire}: cannot read its structure: {exc}")
            link.kind = pv.KIND_STRUCT
        if link.kind == pv.KIND_NDARRAY and link.ndarray is None:
            link.ndarray = pv.FrameCounters()
        link.seq += 1
        if link.ndarray is not None:
            link.ndarray.drops.update(v.get("uniqueId", None))
        link.last = PVAItem(v, link.kind, link.seq, link.ndarray)
        if not link.narrow:
            link.meta = link.last
        link.connected = True
        self._lost_sids.pop(sid, None)
        ib.post(Connected(sid))
        if not link.narrow and link.kind in (pv.KIND_SCALAR, pv.KIND_ENUM):
            self._narrow(sid, link)
            return True
        return False

    def _narrow(self, sid: int, link: PVALink) -> None:
        """Swap the whole-structure monitor for one of value, alarm and time."""
        if self._swap(sid, link, NARROW_REQUEST, quiet=not link.announce):
            link.narrow = True

    def _swap(self, sid: int, link: PVALink, request: Optional[str], quiet: bool) -> bool:
        """Replace the channel's monitor (its first update repeats the current value)."""
        old = link.monitor
        try:
            link.monitor = self._monitor(sid, link, request, quiet)
        except Exception as exc:     # keep the old one
            self._warn(f"{PREFIX}{link.wire}: {exc}")
            return False
        link.quiet = quiet
        link.repeat = link.connected and link.last is not None
        try:
            old.close()
        except Exception:
            pass
        return True

    def _hurry(self) -> None:
        """Search again for the lost channels (every HURRY_S while there are any);
        remake the monitors of those lost for RECREATE_S."""
        now = time.monotonic()
        if now < self._next_hurry:
            return
        self._next_hurry = now + HURRY_S
        lost = self._lost_sids
        for sid in [s for s in lost if s not in self._links]:
            del lost[sid]
        if not lost:
            return
        for sid, since in list(lost.items()):
            if now - since >= RECREATE_S:
                link = self._links[sid]
                try:
                    self._ctx.disconnect(link.wire)     # a fresh channel, not the cached one
                except Exception as exc:
                    log.debug("disconnect %s failed: %s", link.wire, exc)
                self._swap(sid, link, NARROW_REQUEST if link.narrow else None, quiet=link.quiet)
                lost[sid] = now
        try:
            self._ctx.hurryUp()
        except Exception as exc:
            log.debug("hurryUp failed: %s", exc)

    def _lost(self, sid: int, link: PVALink, exc: Exception, ib: Inbox) -> None:
        link.meta = None           # metadata again at the next connection
        if not self._lost_sids:
            self._next_hurry = time.monotonic() + 0.5
        self._lost_sids.setdefault(sid, time.monotonic())
        if isinstance(exc, self._disconnected):
            if link.connected:
                link.connected = False
                ib.post(Disconnected(sid))

        elif isinstance(exc, self._finished):
            if link.connected:
                link.connected = False
                ib.post(Disconnected(sid))
            self._warn(f"{PREFIX}{link.wire}: the server ended the subscription")
        else:
            self._warn(f"{PREFIX}{link.wire}: {exc}")

    def _warn(self, text: str) -> None:
        log.warning("%s", text)
        self._warnings.append(text)

    # ------------------------------------------------------------------ channels

    def create(self, channel: Any) -> None:
        link = PVALink(wire_name(channel.name))
        channel.link = link
        channel.state.protocol = "pva"
        channel.state.access_known = False
        self._links[channel.sid] = link
        try:
            link.monitor = self._monitor(channel.sid, link, None, quiet=False)
        except Exception as exc:
            del self._links[channel.sid]
            channel.link = None
            raise ValueError(f"{channel.name}: cannot open: {exc}") from None

    def clear(self, channel: Any) -> None:
        link = channel.link
        self._links.pop(channel.sid, None)
        if link is not None and link.monitor is not None:
            try:
                link.monitor.close()
            except Exception:
                pass
            link.monitor = None
        channel.sub = None

    def connection_info(self, channel: Any) -> None:
        link, state = channel.link, channel.state
        v = link.last.value
        try:
            native, tid, count = pv.describe_type(v)
        except Exception as exc:
            native, tid, count = "STRUCT", "?", 1
            state.error = f"cannot read its structure: {exc}"
        state.native_type, state.type_id, state.max_count = native, tid, count
        state.host = ""
        state.read_access = True
        state.write_access = native not in ("TABLE", "NDARRAY", "STRUCT")
        state.access_known = False
        if state.error.startswith("not found"):
            state.error = ""

    def set_watched(self, channel: Any, watched: bool) -> None:
        link = channel.link
        link.watched = watched
        if watched and link.waiting:     # shown now: its newest value at once
            link.waiting, link.emptied = False, 0.0
            self._ready.append(channel.sid)
            self._wake()

    def watch_access(self, channel: Any) -> None:
        pass      # PVA has no access-rights events

    def get_meta(self, channel: Any) -> None:
        """Metadata from the whole structure: the first update of this connection if
        the monitor had it, else one get."""
        link = channel.link
        if link.meta is not None:
            self._inbox.post(GetDone(channel.sid, link.meta, True, False, ""))
            link.meta = None      # a whole structure is KBs: not kept per channel once used
            self._wake()
            return
        sid, inbox, src = channel.sid, self._inbox, self
        box: list = []

        def done(value: Any) -> None:     # pvxs thread
            src._done_ops.append((link.ops, box))
            if src._closing:
                return
            if isinstance(value, Exception):
                inbox.post(GetDone(sid, None, False, False, _error_text(value)))
            else:
                item = PVAItem(value, link.kind, link.seq, link.ndarray)
                link.meta = item
                inbox.post(GetDone(sid, item, True, False, ""))
            src._wake()
        try:
            op = self._ctx.get(link.wire, done)
        except Exception as exc:
            inbox.post(GetDone(sid, None, False, False, _error_text(exc)))
            return
        box.append(op)
        link.ops.add(op)

    def get_value(self, channel: Any) -> str:
        """The newest value: what the monitor queued so far is taken first (a read
        right after a put sees the put's update, not the value before it)."""
        link = channel.link
        if link.monitor is not None and link.connected:
            link.waiting = False
            link.emptied = time.monotonic()
            self._drain(channel.sid, link, self._inbox)
        if not link.connected or link.last is None:
            return "not connected"
        self._inbox.post(GetDone(channel.sid, link.last, False, True, ""))
        self._wake()
        return ""

    def subscribe(self, channel: Any, sub: Subscription) -> str:
        link = channel.link
        link.announce = bool(sub.announce)
        link.values = not sub.announce
        link.slow = bool(sub.alarm_only)
        channel.sub = sub
        if link.waiting and not link.slow:    # watched now: its newest value at once
            link.waiting, link.emptied = False, 0.0
            self._ready.append(channel.sid)
        if link.announce and link.quiet and link.monitor is not None:
            # announcements must wake the worker: a handler that does
            self._swap(channel.sid, link, NARROW_REQUEST if link.narrow else None, quiet=False)
        last = link.last
        if last is not None and link.connected:   # the first event, as a new CA subscription's
            ib = self._inbox
            with ib.lock:
                if link.announce:
                    ib.announced[channel.sid] = (last.seq, 0)
                else:
                    ib.latest[channel.sid] = last
                    if channel.sid in ib.keep_all:
                        ib.samples.setdefault(channel.sid, []).append(last)
            self._wake()
        return ""

    def unsubscribe(self, channel: Any) -> None:
        link = channel.link
        channel.sub = None
        if link is not None:
            link.values = link.announce = False

    def put(self, channel: Any, native: str, values: list, rid: int, wait: bool) -> tuple[str, Any]:
        link, state = channel.link, channel.state
        if native in ("TABLE", "NDARRAY", "STRUCT"):
            return f"puts to {state.type_id or 'this structure'} are not supported", None
        target = "value.index" if native == "ENUM" else "value"
        data = pv.put_value_of(native, values, state.max_count > 1 or link.last is not None
                               and pv.is_array_code(link.last.value))
        ops = link.ops
        box: list = []
        inbox, wake, closing = self._inbox, self._wake, self

        def done(result: Any) -> None:     # pvxs thread
            closing._done_ops.append((ops, box))
            if closing._closing or not wait:
                wake()      # the worker releases the op
                return
            if result is None:
                inbox.post(PutDone(rid, True, ""))
            else:
                inbox.post(PutDone(rid, False, _error_text(result)))
            wake()

        request = "record[block=true]" if wait else None
        try:
            op = self._ctx.put(link.wire, done, builder={target: data}, request=request, get=False)
        except Exception as exc:
            return _error_text(exc), None
        box.append(op)
        ops.add(op)
        return "", op

    # ------------------------------------------------------------------ values

    def decode(self, state: PVState, item: PVAItem) -> None:
        pv.decode_into(state, item.value, item.kind, item.counters)

    def sample(self, state: PVState, item: PVAItem) -> tuple:
        return pv.sample_of(state, item.value, item.kind)

    def timestamp_of(self, item: PVAItem) -> float:
        return pv.stamp_seconds(item.value)

    def stamp_of(self, item: PVAItem) -> tuple:
        return (item.seq, 0)

    def apply_meta(self, state: PVState, item: PVAItem) -> None:
        try:
            pv.apply_meta(state, item.value)
        except Exception as exc:
            state.error = f"cannot read its metadata: {exc}"

    def updates(self) -> int:
        return 0

    def drain_values(self, into: dict, limit: int) -> int:
        return 0

    def take_values(self, channels: Iterable[Any], into: dict) -> None:
        pass

    # ------------------------------------------------------------------ paced arrays

    def on_cheap_path(self, channel: Any) -> bool:
        return False

    def announcements_seen(self, channel: Any) -> Optional[int]:
        return None

    def newest_announcement(self, channel: Any, last_stamp: tuple) -> int:
        ib = self._inbox
        with ib.lock:
            stamp = ib.announced.pop(channel.sid, None)
        if stamp is None or stamp <= last_stamp:
            return NOTHING_NEW
        return NEW

    def pause_announcements(self, channel: Any) -> None:
        link = channel.link
        link.announce = False
        channel.sub = None

    def fetch(self, channel: Any) -> Optional[str]:
        link = channel.link
        if not link.connected or link.last is None:
            return None
        item = link.last
        ib = self._inbox
        with ib.lock:
            ib.latest[channel.sid] = item
            ib.updates += 1
            ib.stats.frames_fetched += 1
            ib.frame_waiting = True
            ib.events.append(FrameFetched(channel.sid, True, "", (item.seq, 0)))
        self._wake()
        return ""


def _repeats(v: Any, last: Optional[PVAItem]) -> bool:
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


def _error_text(exc: Any) -> str:
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
