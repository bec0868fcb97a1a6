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

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from ..core.pvstate import PVState
from ..engine.events import Connected, Disconnected, FrameFetched, GetDone, PutDone
from ..engine.inbox import Inbox
from ..engine.needs import Subscription
from ..engine.source import NEW, NOTHING_NEW, Source
from . import values as pv

log = logging.getLogger(__name__)

#: The name prefix of PVA channels in the engine (bare names are CA).
PREFIX = "pva://"


class PVAItem:
    """One update as the engine carries it: the structure, its shape and a
    per-channel sequence number (frames are ordered by it: servers may send no time)."""

    __slots__ = ("value", "kind", "seq", "counters")

    def __init__(self, value: Any, kind: str, seq: int, counters: Any = None) -> None:
        self.value, self.kind, self.seq, self.counters = value, kind, seq, counters


@dataclass(eq=False)
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
        from p4p.client.raw import Disconnected as _Disc
        from p4p.client.raw import Finished as _Fin
        from p4p.client.raw import RemoteError as _Rem
        self._disconnected, self._finished, self._remote_error = _Disc, _Fin, _Rem
        self._inbox: Optional[Inbox] = None
        self._wake: Callable[[], None] = lambda: None
        self._closing = False
        self._ready: deque[int] = deque()          # sids whose monitor queue has news
        self._links: dict[int, PVALink] = {}
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

    def _handler(self, sid: int) -> Callable[[], None]:
        ready, wake = self._ready, self

        def on_event() -> None:   # pvxs thread: note and wake, nothing else
            if not wake._closing:
                ready.append(sid)
                wake._wake()
        return on_event

    # ------------------------------------------------------------------ the worker's part

    def poll(self) -> None:
        """Pop what the monitors queued (worker thread): connections, losses, values."""
        ready = self._ready
        if not ready:
            return
        sids = set()
        while ready:
            try:
                sids.add(ready.popleft())
            except IndexError:
                break
        ib = self._inbox
        for sid in sids:
            link = self._links.get(sid)
            if link is not None and link.monitor is not None:
                self._drain(sid, link, ib)

    def _drain(self, sid: int, link: PVALink, ib: Inbox) -> None:
        newest: Optional[PVAItem] = None
        kept: list[PVAItem] = []
        keep_all = sid in ib.keep_all
        for _ in range(10000):       # a bounded drain: the rest comes at the next event
            try:
                v = link.monitor.pop()
            except Exception as exc:     # p4p refused to decode an update
                self._warn(f"{PREFIX}{link.wire}: bad update: {exc}")
                continue
            if v is None:
                break
            if isinstance(v, Exception):
                newest = None
                kept.clear()
                self._lost(sid, link, v, ib)
                continue
            if not link.connected:
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
                link.connected = True
                ib.post(Connected(sid))
                continue        # connection_info and the users' subscription follow
            link.seq += 1
            if link.ndarray is not None:       # frames missed upstream: gaps in uniqueId
                link.ndarray.drops.update(v.get("uniqueId", None))
            item = PVAItem(v, link.kind, link.seq, link.ndarray)
            link.last = item
            if link.values or link.announce:
                newest = item
                if keep_all and link.values:
                    kept.append(item)
        if newest is None:
            return
        with ib.lock:
            if link.announce:
                ib.announced[sid] = (newest.seq, 0)
                ib.stats.frames_announced += 1
            else:
                ib.latest[sid] = newest
                ib.updates += 1 + max(0, len(kept) - 1)
                if kept:
                    ib.samples.setdefault(sid, []).extend(kept)

    def _lost(self, sid: int, link: PVALink, exc: Exception, ib: Inbox) -> None:
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
            link.monitor = self._ctx.monitor(link.wire, self._handler(channel.sid))
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

    def watch_access(self, channel: Any) -> None:
        pass      # PVA has no access-rights events

    def get_meta(self, channel: Any) -> None:
        link = channel.link
        if link.last is not None:
            self._inbox.post(GetDone(channel.sid, link.last, True, False, ""))
            self._wake()

    def get_value(self, channel: Any) -> str:
        link = channel.link
        if not link.connected or link.last is None:
            return "not connected"
        self._inbox.post(GetDone(channel.sid, link.last, False, True, ""))
        self._wake()
        return ""

    def subscribe(self, channel: Any, sub: Subscription) -> str:
        link = channel.link
        link.announce = bool(sub.announce)
        link.values = not sub.announce
        channel.sub = sub
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
            if box:
                ops.discard(box[0])
            if closing._closing or not wait:
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
