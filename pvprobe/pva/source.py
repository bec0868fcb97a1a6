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
answered: for a channel a view watches, a name search (:mod:`.finder`, in its own
thread, once per connection) fills ``host`` ("host:port", or that no server answered).

Import this module only after the CA context exists (``pvprobe.ca.context``):
p4p loads pvxslibs, whose EPICS libraries pyepics would otherwise pick up.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Optional

from ..core.pvstate import PVState
from ..engine.events import Connected, Disconnected, FrameFetched, GetDone
from ..engine.inbox import Inbox
from ..engine.needs import Subscription
from ..engine.source import NEW, NOTHING_NEW, Source
from . import values as pv
from .closer import MonitorCloser
from .fast import FastPath
from .fast_source import FastChannels
from .finder import ServerFinder
from .flow import FlowChecks
from .link import (
    BIG_QUEUE,
    BIG_REQUEST,
    DEFER_ABOVE,
    NARROW_REQUEST,
    PREFIX,
    PULL_OPTIONS,
    PVAItem,
    PVALink,
    repeats,
    wire_name,
)
from .ops import start_get, start_put
from .recovery import LostChannels
from .schedule import EmptyingSchedule
from .servers import ServerChecks

log = logging.getLogger(__name__)

class PVASource(FastChannels, ServerChecks, Source):
    """pvAccess behind the engine (one p4p client context, and one pvxs context of
    fast monitors in big sessions: :mod:`.fast`)."""

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
        self.schedule = EmptyingSchedule()         # when each monitor's queue is emptied
        self._ready = self.schedule.ready          # what pvxs's handlers append to
        self._links: dict[int, PVALink] = {}
        #: (set, [op]) of operations that completed: released by the worker, never in
        #: pvxs's callback thread (see .ops)
        self._done_ops: deque[tuple[set, list]] = deque()
        self._closer = MonitorCloser()      # old monitors closed off the worker
        self._recovery = LostChannels()     # channels that were connected and are not
        self._warnings: list[str] = []
        self.finder = ServerFinder(self._server_found, self._client_conf)
        self.fast = FastPath(self._client_conf)
        self.flow = FlowChecks(lambda: self._wake())
        #: the engine drains cheap values (the mux says; without it no fast path)
        self.engine_drains = True

    def item_decoders(self) -> dict:
        """The decoder of each type of item this source hands out."""
        out = {PVAItem: self.decode}
        if self.fast.value_type is not None:
            out[self.fast.value_type] = pv.decode_fast
        return out

    # ------------------------------------------------------------------ set-up

    def bind(self, inbox: Inbox, wake: Callable[[], None]) -> None:
        self._inbox, self._wake = inbox, wake

    def worker_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        return threading.Thread(target=target, name=name, daemon=True)

    def close(self) -> None:
        self._closing = True
        self._closer.stop()
        self.finder.close()
        self.flow.close()
        self.fast.shutdown()

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
            # a pull channel's handler runs only once a fetch emptied its queue: the view
            # waits for this frame (also while the pacer polls, announcements paused)
            if not link.connected or link.announce or link.pull:
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
        self._recovery.step(self._links, self._hurry_up, self._remake)
        ib = self._inbox
        if self.fast.sid_of:
            self._poll_fast(ib)
            self.fast.read_step(time.monotonic())
        while self.flow.answers:
            self._flow_answer(*self.flow.answers.popleft())
        schedule, links, keep_all = self.schedule, self._links, ib.keep_all
        big = schedule.is_big(links)
        for sid, link in schedule.due(links, keep_all):
            if link.queue and schedule.defers(sid, link, keep_all, big):
                if self._drain(sid, link, ib, link.queue):
                    schedule.again(sid, link)     # not seen empty: no event will come
            else:
                self._drain(sid, link, ib)

    def _drain(self, sid: int, link: PVALink, ib: Inbox, limit: int = 10000,
               pulled: bool = False) -> bool:
        """Pop what ``sid``'s monitor queued, at most ``limit`` entries: losses, the
        connection, values (the newest is kept; every one with keep_all; NTNDArray
        uniqueIds all counted). True when the queue was not seen empty (then pvxs
        calls no handler for what comes next: the caller empties it again later).
        A connected pull channel (see .link.PULL_OPTIONS) is only announced here, and
        emptied when a frame is fetched (``pulled``)."""
        if link.pull and link.connected and not pulled:
            if link.announce:
                with ib.lock:
                    ib.announced[sid] = (link.seq + 1, 0)
                    ib.stats.frames_announced += 1
            return False
        pop, mon = self._pop, link.monitor
        got: list = []
        full = True
        for _ in range(limit):       # bounded: the rest comes at the next event
            try:
                v = pop(mon)
            except Exception as exc:     # p4p refused to decode an update
                self._warn(f"{PREFIX}{link.wire}: bad update: {exc}")
                continue
            if v is None:
                full = False
                break
            if isinstance(v, Exception):
                got.clear()
                self._lost(sid, link, v, ib)
                continue
            if not link.connected:
                if self._connected(sid, link, v, ib):
                    return False    # the narrow monitor's first update follows
                continue        # connection_info and the users' subscription follow
            got.append(v)
        if got and link.repeat:
            link.repeat = False
            if repeats(got[0], link.last):     # already delivered (a second keep_all sample)
                del got[0]
        if not got:
            return full
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
        return full

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
        self._recovery.found(sid)
        ib.post(Connected(sid))
        if link.queue:      # a big session's: whole and quiet from now on (see .link)
            link.quiet = not link.announce
        elif not link.narrow and link.kind in (pv.KIND_SCALAR, pv.KIND_ENUM):
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
        link.quiet, link.request = quiet, request
        link.repeat = link.connected and link.last is not None
        self._closer.close_later(old)
        return True

    def _hurry_up(self) -> None:
        self._ctx.hurryUp()
        if self.fast.sid_of:
            try:
                self.fast.hurry_up()
            except ValueError:      # shut down
                pass

    def _remake(self, sid: int, link: PVALink) -> None:
        """A fresh channel and monitor for a channel lost too long (see .recovery)."""
        if link.fast >= 0:
            try:
                self.fast.reopen(link.fast)
            except ValueError as exc:
                self._warn(f"{PREFIX}{link.wire}: {exc}")
            return
        try:
            self._ctx.disconnect(link.wire)     # a fresh channel, not the cached one
        except Exception as exc:
            log.debug("disconnect %s failed: %s", link.wire, exc)
        self._swap(sid, link, link.request, quiet=link.quiet)

    def _lost(self, sid: int, link: PVALink, exc: Exception, ib: Inbox) -> None:
        link.meta = None           # metadata again at the next connection
        link.searched = False      # and its server (it may come back elsewhere)
        self._recovery.lost(sid)
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
        big = self.schedule.is_big(self._links)
        every = channel.keep_all or channel.paced      # such users leave the fast path anyway
        if self.engine_drains and not every and self.fast.wanted(big or self.lean) and self._open_fast(
                channel.sid, link, parked=self.lean):     # lean: parked until a view shows it
            return
        if big:      # see .link.BIG_QUEUE
            link.queue, link.request = BIG_QUEUE, BIG_REQUEST
        try:
            link.monitor = self._monitor(channel.sid, link, link.request, quiet=False)
        except Exception as exc:
            del self._links[channel.sid]
            channel.link = None
            raise ValueError(f"{channel.name}: cannot open: {exc}") from None

    def clear(self, channel: Any) -> None:
        link = channel.link
        self._links.pop(channel.sid, None)
        self.finder.forget(channel.sid)
        if link is not None and link.fast >= 0:
            self.fast.close(link.fast)
            link.fast = -1
        if link is not None and link.monitor is not None:
            self._closer.close_later(link.monitor)
            link.monitor = None
        channel.sub = None

    def connection_info(self, channel: Any) -> None:
        link, state = channel.link, channel.state
        if link.fast >= 0:
            self._fast_connection_info(channel)
        else:
            try:
                native, tid, count = pv.describe_type(link.last.value)
            except Exception as exc:
                native, tid, count = "STRUCT", "?", 1
                state.error = f"cannot read its structure: {exc}"
            state.native_type, state.type_id, state.max_count = native, tid, count
        native = state.native_type
        state.host = ""
        if link.watched:
            self._search(channel)
        state.read_access = True
        state.write_access = native not in ("TABLE", "NDARRAY", "STRUCT")
        state.access_known = False
        if state.error.startswith("not found"):
            state.error = ""

    def set_watched(self, channel: Any, watched: bool) -> None:
        link = channel.link
        link.watched = watched
        if watched and link.connected and not link.searched:
            self._search(channel)
        if watched and link.waiting:     # shown now: its newest value at once
            self.schedule.at_once(channel.sid, link)
            self._wake()

    def watch_access(self, channel: Any) -> None:
        pass      # PVA has no access-rights events

    def get_meta(self, channel: Any) -> None:
        """Metadata from the whole structure: the first update of this connection if
        the monitor had it (a fast monitor's: its fields as a dict), else one get."""
        link = channel.link
        big = self.lean or self.schedule.is_big(self._links)     # lean: a very large table
        if link.fast >= 0 and not big:
            link.meta = None      # a small session's (a probe): the whole structure, for
        if link.meta is not None:  # info's fields tree, by one get below
            self._inbox.post(GetDone(channel.sid, link.meta, True, False, ""))
            link.meta = None      # a whole structure is KBs: not kept per channel once used
            self._wake()
            return
        if link.fast >= 0 and big:
            try:      # its connection came without metadata: a get in C++
                self.fast.get_meta(link.fast)
            except ValueError as exc:
                self._inbox.post(GetDone(channel.sid, None, False, False, str(exc)))
                self._wake()
            return
        start_get(self._ctx, link, channel.sid, self._inbox, self._wake, self._done_ops,
                  lambda: self._closing)

    def get_value(self, channel: Any) -> str:
        """The newest value: what the monitor queued so far is taken first (a read
        right after a put sees the put's update, not the value before it)."""
        link = channel.link
        if link.fast >= 0:
            return self._fast_value(channel)
        if link.monitor is not None and link.connected:
            link.waiting = False
            link.emptied = time.monotonic()
            self._drain(channel.sid, link, self._inbox, pulled=True)
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
        if link.fast >= 0:
            if not link.announce and channel.sid not in self._inbox.keep_all:
                if link.slow:       # lean, no view shows it: its channel alone (see .fast)
                    self.fast.park(link.fast)
                else:
                    self.fast.unpark(link.fast)
                self.fast.mute(link.fast, False)
                if link.connected:
                    self._fast_first(channel)
                return ""
            self._leave_fast(channel.sid, link)       # paced frames or every sample: p4p
        if not link.slow:                     # watched now: its newest value at once
            self.schedule.at_once(channel.sid, link)
        if link.announce and not link.pull and link.monitor is not None:
            # paced: a handler that wakes the worker, flow control, popped at each
            # fetch (see .link.PULL_OPTIONS)
            link.queue, link.pull = 0, True
            request = PULL_OPTIONS + (NARROW_REQUEST if link.narrow else "")
            if not self._swap(channel.sid, link, request, quiet=False):
                link.pull = False
            elif link.connected:       # its server: does it do flow control? (.flow)
                self._search(channel)
        elif not link.announce:
            link.pull = False
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
            link.values = link.announce = link.pull = False
            if link.fast >= 0:
                self.fast.mute(link.fast, True)

    def put(self, channel: Any, native: str, values: list, rid: int, wait: bool) -> tuple[str, Any]:
        link, state = channel.link, channel.state
        if native in ("TABLE", "NDARRAY", "STRUCT"):
            return f"puts to {state.type_id or 'this structure'} are not supported", None
        target = "value.index" if native == "ENUM" else "value"
        data = pv.put_value_of(native, values, state.max_count > 1 or link.last is not None
                               and pv.is_array_code(link.last.value))
        return start_put(self._ctx, link, target, data, rid, wait, self._inbox, self._wake,
                         self._done_ops, lambda: self._closing)

    # ------------------------------------------------------------------ values

    def decode(self, state: PVState, item: Any) -> None:
        if type(item) is not PVAItem:       # a fast monitor's (get_value, samples)
            pv.decode_fast(state, item)
            return
        pv.decode_into(state, item.value, item.kind, item.counters)

    def sample(self, state: PVState, item: Any) -> tuple:
        if type(item) is not PVAItem:       # a fast monitor's
            return item.stamp, item.value, item.severity
        return pv.sample_of(state, item.value, item.kind)

    def timestamp_of(self, item: Any) -> float:
        return item.stamp if type(item) is not PVAItem else pv.stamp_seconds(item.value)

    def stamp_of(self, item: Any) -> tuple:
        return (item.stamp, 0) if type(item) is not PVAItem else (item.seq, 0)

    def apply_meta(self, state: PVState, item: PVAItem) -> None:
        try:
            # the field tree (info's listing) costs a third of a connection: not for
            # the rows of a big table (bench_pva_table: 28-33 % of the worker, ~7 KB/PV)
            # (a fast channel's metadata is a dict of those fields: no tree either)
            pv.apply_meta(state, item.value, with_fields=len(self._links) <= DEFER_ABOVE
                          and not isinstance(item.value, dict))
        except Exception as exc:
            state.error = f"cannot read its metadata: {exc}"

    # updates, drain_values, drain_first_values, take_values, renew_first_value and
    # on_cheap_path: the fast path's (.fast_source)

    # ------------------------------------------------------------------ paced arrays

    def announcements_seen(self, channel: Any) -> Optional[int]:
        return None

    def newest_announcement(self, channel: Any, last_stamp: tuple) -> int:
        return NEW if self._inbox.newer_announcement(channel.sid, last_stamp) else NOTHING_NEW

    def _announce(self, sid: int, link: PVALink) -> None:
        ib = self._inbox
        with ib.lock:
            ib.announced[sid] = (link.seq + 1, 0)
            ib.stats.frames_announced += 1

    def pause_announcements(self, channel: Any) -> None:
        link = channel.link
        link.announce = False       # a pull channel stays one: popped at each fetch
        channel.sub = None

    def fetch(self, channel: Any) -> Optional[str]:
        link = channel.link
        if link.pull and link.connected:      # take what came since (see .link.PULL_OPTIONS)
            if link.flow:     # one frame: the server sends the next when it is taken
                if self._drain(channel.sid, link, self._inbox, 1, pulled=True):
                    self._announce(channel.sid, link)      # more is queued already
            else:
                self._drain(channel.sid, link, self._inbox, pulled=True)
            if link.last is not None and link.last.seq == link.fetched:
                return None     # nothing new (an event of a swapped-out monitor): keep asking
        if not link.connected or link.last is None:
            return None
        item = link.last
        link.fetched = item.seq
        ib = self._inbox
        with ib.lock:
            ib.latest[channel.sid] = item
            ib.updates += 1
            ib.stats.frames_fetched += 1
            ib.frame_waiting = True
            ib.events.append(FrameFetched(channel.sid, True, "", (item.seq, 0)))
        self._wake()
        return ""
