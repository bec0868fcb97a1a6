"""The Channel Access source of the engine: libca channels, subscriptions, gets and
puts, and the callbacks that feed the engine's inbox.

libca's callbacks (its own threads) only copy raw bytes and return. Value monitors
use the C callback of ``pvprobe.ca._fastmon`` where it was built (no Python runs per
update at all: the worker drains the newest bytes per PV); otherwise, and for
subscriptions that keep every sample, a Python ctypes callback fills the inbox.
A paced array's one-element monitor announces each new array (in C: it only wakes
the worker once armed); its whole array is fetched with one get.
"""

from __future__ import annotations

import ctypes
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional

from epics import ca

from ..core.ndarray import array_bytes_problem
from ..engine.events import (
    AccessRights,
    Connected,
    Disconnected,
    FrameFetched,
    GetDone,
    PutDone,
)
from ..engine.inbox import Inbox
from ..engine.needs import Subscription
from ..engine.source import NEW, NEW_WHILE_ARMING, NOTHING_NEW, Source
from . import dbr
from . import lowlevel as ll

log = logging.getLogger(__name__)

#: Arrays longer than this are not monitored unless asked (pyepics' AUTOMONITOR_MAXLENGTH).
AUTOMONITOR_MAXLENGTH = ca.AUTOMONITOR_MAXLENGTH

_DBLCHNL = re.compile(r'Channel: "(?P<name>.*)", Connecting to: (?P<first>\S+), Ignored: (?P<other>\S+)')
_ECA_DBLCHNL_NO = 25   # ECA_DBLCHNL's message number (caerr.h)
_TIME_STRING, _FIRST_CTRL, _FIRST_NON_TIME = 14, 28, 21


def describe_ca_exception(status: int, context: str) -> str:
    """A CA exception as one sentence for the user (duplicate PV names spelled out)."""
    m = _DBLCHNL.search(context)
    if m or (status & 0xFFF8) >> 3 == _ECA_DBLCHNL_NO:
        if m:
            return (f"PV {m['name']}: served by {m['first']} and {m['other']} "
                    f"(duplicate; using the first)")
        return f"duplicate PV: {context}"
    return f"CA: {ll.message(status)}" + (f": {context}" if context else "")


@dataclass(eq=False, slots=True)
class CALink:
    """What the CA source holds for one engine channel (``channel.link``)."""

    chid: Any
    native: int = -1               # native DBR type (-1: never connected)
    evid: Any = None               # the current subscription
    fast: int = -1                 # slot of the C callback (-1: none)


class CASource(Source):
    """Channel Access behind the engine. Create it after the CA context exists."""

    def __init__(self) -> None:
        self._inbox: Optional[Inbox] = None
        self._wake: Callable[[], None] = lambda: None
        self._closing = False
        # ctypes callbacks must stay referenced for the life of the context
        self._cb_conn = ll.CONN_CB(self._on_connection)
        self._cb_access = ll.ACCESS_CB(self._on_access)
        self._cb_monitor = ll.EVENT_CB(self._on_monitor)
        self._cb_get = ll.EVENT_CB(self._on_get)
        self._cb_put = ll.EVENT_CB(self._on_put)
        self._cb_announce = ll.EVENT_CB(self._on_announce)
        self._cb_frame = ll.EVENT_CB(self._on_frame)
        # value monitors through the C callback where it was built (see lowlevel.fast_monitor)
        self._fast = ll.fast_monitor()
        self.cheap_updates = self._fast is not None
        self._fast_group = id(self)
        #: C slots of frame announcements: never drained, armed to wake the worker
        self._announce_group = -id(self)
        self._announce_slots: set[int] = set()
        self._fast_sid: dict[int, int] = {}     # C value slot -> sid
        self._fast_updates0 = self._fast.updates() if self._fast is not None else 0
        # the per-update calls are plain functions (no method call on the hot path)
        self.decode = dbr.decode_into
        self.sample = dbr.sample_of
        self.apply_meta = dbr.apply_ctrl_metadata

    # ------------------------------------------------------------------ libca callbacks
    # These run in libca's threads: copy, store, return. Nothing else.

    def _on_monitor(self, args: ll.EventArgs) -> None:
        if self._closing or args.status != ll.ECA_NORMAL:
            return
        sid = args.usr
        item = (args.type, args.count, ll.raw_copy(args))
        ib = self._inbox
        with ib.lock:
            ib.latest[sid] = item
            ib.updates += 1
            if sid in ib.keep_all:
                ib.samples.setdefault(sid, []).append(item)

    def _on_announce(self, args: ll.EventArgs) -> None:
        """A paced array changed (its 1-element monitor): fetch it when the consumer can take it."""
        if self._closing or args.status != ll.ECA_NORMAL:
            return
        stamp = ll.time_stamp_of(ctypes.string_at(args.dbr, 12))
        ib = self._inbox
        with ib.lock:
            ib.announced[args.usr] = stamp
            ib.stats.frames_announced += 1
        self._wake()

    def _on_frame(self, args: ll.EventArgs) -> None:
        """The get of a paced array completed: it is that PV's newest value."""
        if self._closing:
            return
        ok = args.status == ll.ECA_NORMAL
        item = (args.type, args.count, ll.raw_copy(args)) if ok else None
        stamp = ll.time_stamp_of(item[2]) if ok else None
        error = "" if ok or args.status == ll.ECA_DISCONN else ll.message(args.status)
        ib = self._inbox
        with ib.lock:
            if ok:
                ib.latest[args.usr] = item
                ib.updates += 1
                ib.stats.frames_fetched += 1
                ib.frame_waiting = True
            ib.events.append(FrameFetched(args.usr, ok, error, stamp))
        self._wake()

    def _on_get(self, args: ll.EventArgs) -> None:
        if self._closing:
            return
        t = args.type
        if args.status == ll.ECA_NORMAL:
            ev = GetDone(args.usr, (t, args.count, ll.raw_copy(args)),
                         t >= _FIRST_CTRL or t == _TIME_STRING,
                         _TIME_STRING <= t < _FIRST_NON_TIME, "")
        else:
            ev = GetDone(args.usr, None, False, False, ll.message(args.status))
        self._inbox.post(ev)
        self._wake()

    def _on_put(self, args: ll.EventArgs) -> None:
        if self._closing:
            return
        ok = args.status == ll.ECA_NORMAL
        self._inbox.post(PutDone(args.usr, ok, "" if ok else ll.message(args.status)))
        self._wake()

    def _on_connection(self, args: ll.ConnArgs) -> None:
        if self._closing:
            return
        sid = ll.puser(args.chid)
        self._inbox.post(Connected(sid) if args.op == ll.CA_OP_CONN_UP else Disconnected(sid))
        self._wake()

    def _on_access(self, args: ll.AccessArgs) -> None:
        if self._closing:
            return
        sid = ll.puser(args.chid)
        self._inbox.post(AccessRights(sid, bool(args.access & 1), bool(args.access & 2)))
        self._wake()

    # ------------------------------------------------------------------ set-up

    def bind(self, inbox: Inbox, wake: Callable[[], None]) -> None:
        self._inbox, self._wake = inbox, wake

    def worker_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        """A CAThread: attached to the one CA context created in the main thread."""
        return ca.CAThread(target=target, name=name.replace("pvprobe-", "pvprobe-ca-", 1),
                           daemon=True)

    def close(self) -> None:
        self._closing = True
        if self._fast is not None:
            for idx in list(self._announce_slots):
                self._fast.disarm(idx)   # no call into Python after this

    def alive(self) -> bool:
        return ll.loaded()

    def flush(self) -> None:
        ll.flush()

    def take_warnings(self) -> list[str]:
        """CA exceptions queued by libca's handler, as sentences (each logged once)."""
        out = []
        q = ll.ca_exceptions
        while q:
            try:
                status, ctx = q.popleft()
            except IndexError:
                break
            text = describe_ca_exception(status, ctx)
            log.warning("%s", text)
            out.append(text)
        return out

    # ------------------------------------------------------------------ channels

    def create(self, channel: Any) -> None:
        channel.link = CALink(ll.create_channel(channel.name, self._cb_conn, channel.sid))

    def clear(self, channel: Any) -> None:
        self.unsubscribe(channel)
        link = channel.link
        if link is not None and link.chid is not None:
            ll.clear_channel(link.chid)
            link.chid = None

    def connection_info(self, channel: Any) -> None:
        link, state = channel.link, channel.state
        info = ll.channel_info(link.chid)
        link.native = info["native"]
        state.native_type = ll.NATIVE[link.native][0] if link.native in ll.NATIVE else "?"
        state.max_count, state.host = info["count"], info["host"]
        state.read_access, state.write_access = info["read"], info["write"]
        # libca drops arrays above its limit without a word: say so here
        state.error = array_bytes_problem(state.max_count, state.native_type)

    def watch_access(self, channel: Any) -> None:
        ll.replace_access_rights_event(channel.link.chid, self._cb_access)

    def get_meta(self, channel: Any) -> None:
        """The metadata get (DBR_CTRL_*). STRING has no CTRL type: its CTRL get is a
        DBR_TIME_STRING get, which the engine also keeps as the value; so for a
        STRING array it asks for the valid elements (count 0), as the value get
        does, never for one element (that reply, taken as the value, cut a caproto
        server's string array to its first element whenever it came alone)."""
        link = channel.link
        count = 0 if link.native == 0 and channel.state.max_count > 1 else 1
        ll.array_get_callback(ll.ctrl_type(link.native), count, link.chid, self._cb_get,
                              channel.sid)

    def get_value(self, channel: Any) -> str:
        link = channel.link
        status = ll.array_get_callback(ll.time_type(link.native),
                                       0 if channel.state.max_count > 1 else 1,
                                       link.chid, self._cb_get, channel.sid)
        return "" if status == ll.ECA_NORMAL else ll.message(status)

    def subscribe(self, channel: Any, sub: Subscription) -> str:
        """Subscribe as ``sub`` says, reusing the channel's C slot if it has one."""
        link = channel.link
        count = 0 if channel.state.max_count > 1 else 1  # 0: the server's current (valid) length
        mask = ll.DBE_ALARM if sub.alarm_only else ll.DBE_VALUE | ll.DBE_ALARM
        callback, usr = self._cb_monitor, channel.sid
        if sub.announce:   # announce only: the first element and the timestamp
            count, callback = 1, self._cb_announce
            if self._fast is not None:   # in C: no Python per announcement (arm() wakes us)
                if link.fast < 0:
                    link.fast = self._fast.alloc(self._announce_group)
                    self._announce_slots.add(link.fast)
                    channel.frame.events_seen = 0
                callback, usr = ll.FAST_CB, link.fast
        elif self._fast is not None and not sub.every_sample:
            if link.fast < 0:
                link.fast = self._fast.alloc(self._fast_group)
                self._fast_sid[link.fast] = channel.sid
            callback, usr = ll.FAST_CB, link.fast
        status, evid = ll.create_subscription(ll.time_type(link.native), count, link.chid,
                                              mask, callback, usr)
        if status != ll.ECA_NORMAL:
            return ll.message(status)
        link.evid, channel.sub = evid, sub
        return ""

    def unsubscribe(self, channel: Any) -> None:
        link = channel.link
        channel.sub = None
        if link is None:
            return
        if link.evid is not None:
            ll.clear_subscription(link.evid)
            link.evid = None
        if link.fast >= 0:
            self._fast.release(link.fast)
            self._fast_sid.pop(link.fast, None)
            self._announce_slots.discard(link.fast)
            link.fast = -1

    def put(self, channel: Any, native: str, values: list, rid: int, wait: bool) -> tuple[str, Any]:
        dbr_type, n, data = dbr.put_buffer(native, values)
        chid = channel.link.chid
        if wait:
            status = ll.array_put_callback(dbr_type, n, chid, data, self._cb_put, rid)
        else:
            status = ll.array_put(dbr_type, n, chid, data)
        return ("" if status == ll.ECA_NORMAL else ll.message(status)), data

    # ------------------------------------------------------------------ values

    def timestamp_of(self, item: Any) -> float:
        return ll.decode_time_header(item[2])[2]

    def stamp_of(self, item: Any) -> tuple:
        return ll.time_stamp_of(item[2])

    def updates(self) -> int:
        return self._fast.updates() - self._fast_updates0 if self._fast is not None else 0

    def drain_values(self, into: dict, limit: int) -> int:
        return self._into(self._fast.drain(self._fast_group, limit), into)

    def drain_first_values(self, into: dict, limit: int) -> int:
        if self._fast is None:
            return 0
        return self._into(self._fast.drain(self._fast_group, limit, True), into)

    def _into(self, items: list, into: dict) -> int:
        """The drained ``items`` (idx, type, count, raw) into ``into`` by sid; how many."""
        by_slot = self._fast_sid
        for idx, dbr_type, count, raw in items:
            sid = by_slot.get(idx)
            if sid is not None:
                into[sid] = (dbr_type, count, raw)
        return len(items)

    def renew_first_value(self, channel: Any) -> None:
        link = channel.link
        if link is not None and link.fast >= 0 and link.fast not in self._announce_slots:
            self._fast.renew(link.fast)

    def take_values(self, channels: Iterable[Any], into: dict) -> None:
        slots = [c.link.fast for c in channels if c.link is not None and c.link.fast >= 0]
        if not slots:
            return
        by_slot = self._fast_sid
        for idx, dbr_type, count, raw in self._fast.take(slots):
            sid = by_slot.get(idx)
            if sid is not None:
                into[sid] = (dbr_type, count, raw)

    # ------------------------------------------------------------------ paced arrays

    def on_cheap_path(self, channel: Any) -> bool:
        return channel.link is not None and channel.link.fast >= 0

    def announcements_seen(self, channel: Any) -> Optional[int]:
        link = channel.link
        if link is None or link.fast < 0:
            return None
        return self._fast.events(link.fast)

    def newest_announcement(self, channel: Any, last_stamp: tuple) -> int:
        link = channel.link
        if link.fast >= 0:
            items = self._fast.take([link.fast])
            if not items or ll.time_stamp_of(items[-1][3]) <= last_stamp:
                if not self._fast.arm(link.fast, self._wake):
                    return NOTHING_NEW
                return NEW_WHILE_ARMING    # one came between take() and arm()
            return NEW
        return NEW if self._inbox.newer_announcement(channel.sid, last_stamp) else NOTHING_NEW

    def pause_announcements(self, channel: Any) -> None:
        """Clear the announcement subscription, keep its C slot (disarmed) for later."""
        link = channel.link
        if link.evid is not None:
            ll.clear_subscription(link.evid)
            link.evid = None
        channel.sub = None
        if link.fast >= 0:
            self._fast.disarm(link.fast)

    def fetch(self, channel: Any) -> Optional[str]:
        link = channel.link
        status = ll.array_get_callback(ll.time_type(link.native), 0, link.chid, self._cb_frame,
                                       channel.sid)
        if status == ll.ECA_DISCONN:
            return None      # the circuit just died: its disconnection event follows
        return "" if status == ll.ECA_NORMAL else ll.message(status)

