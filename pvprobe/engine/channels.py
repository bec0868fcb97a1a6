"""The engine's channels: who uses each, and bringing each to what they need.

:meth:`Channels.reconcile` is the one place that subscribes, re-subscribes and
unsubscribes a channel for its users (after an add or a remove, a lean or watch
change, a (re)connection), from :func:`~.needs.wanted_subscription`; pacing's own
switches between announcements and polling aside (:mod:`.pacing`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from ..core.pvstate import PVState
from .inbox import Inbox
from .lean import LeanMode
from .needs import Subscription, Use, Users, wanted_subscription
from .pacing import Pacer, Pacing
from .source import Source

#: Seconds after which a PV no server answered for says "not found" (CA keeps searching).
DEFAULT_CONNECTION_TIMEOUT = 2.0


@dataclass(eq=False, slots=True)
class Channel:
    """One channel: its PV state, its users, what it is subscribed to."""

    sid: int
    name: str
    state: PVState
    users: Users = field(default_factory=Users)   # the add() calls not yet removed
    link: Any = None                     # the source's record (None: could not be created)
    source: Any = None                   # the protocol source serving it (several: .mux)
    sub: Optional[Subscription] = None   # the source's current subscription for it
    meta_ok: bool = False                # metadata known (or not wanted)
    get_raw: Any = None                  # the item of the last completed value get
    resubscribed_ts: Optional[float] = None  # timestamp delivered before a re-subscription
    frame: Pacing = field(default_factory=Pacing)
    # derived from the users' needs by Channels.reconcile, never set elsewhere:
    want_monitor: bool = False           # arrays above the automonitor length only when asked
    keep_all: bool = False               # every update (samples), not only the newest
    once: bool = False                   # read on each (re)connection, never subscribed
    meta_light: bool = False             # read-once without the metadata (enums excepted)
    paced: bool = False                  # announced, fetched when the consumer can take it


class Channels:
    """The channel table and its bookkeeping."""

    def __init__(self, source: Source, inbox: Inbox, lean: LeanMode, pacer: Pacer,
                 mark: Callable[[int], None], automonitor_maxlength: int) -> None:
        self.source = source
        self.inbox = inbox
        self.lean = lean
        self.pacer = pacer
        self.mark = mark
        self.automonitor_maxlength = automonitor_maxlength
        self.by_name: dict[str, Channel] = {}
        self.by_sid: dict[int, Channel] = {}
        self._sid = itertools.count(1)
        self.searching: dict[int, float] = {}  # sid -> when to say "not found" if unconnected

    def __len__(self) -> int:
        return len(self.by_name)

    def add(self, name: str, use: Use) -> Channel:
        """One more use of channel ``name`` (created if new)."""
        ch = self.by_name.get(name)
        if ch is not None:
            ch.users.add(use)
            self.reconcile(ch)
            return ch
        sid = next(self._sid)
        ch = Channel(sid=sid, name=name, state=PVState(name=name))
        ch.users.add(use)
        self.by_name[name] = ch
        self.by_sid[sid] = ch
        self.reconcile(ch)
        try:
            self.source.create(ch)
            self.searching[sid] = time.monotonic() + DEFAULT_CONNECTION_TIMEOUT
            if name in self.lean.watched:
                self.source.set_watched(ch, True)
        except ValueError as exc:
            ch.state.error = str(exc)
            ch.link = None
        return ch

    def drop(self, name: str, use: Use) -> Optional[Channel]:
        """One use of ``name`` less; the channel goes with its last user (returned then)."""
        ch = self.by_name.get(name)
        if ch is None:
            return None
        ch.users.remove(use)
        if len(ch.users) > 0:
            self.reconcile(ch)
            return None
        del self.by_name[name]
        del self.by_sid[ch.sid]
        if ch.link is not None:
            self.source.clear(ch)
        self.inbox.forget(ch.sid)
        self.pacer.forget(ch.sid)
        self.searching.pop(ch.sid, None)
        return ch

    def reconcile(self, ch: Channel) -> None:
        """Bring ``ch`` to what its users need now."""
        needs = ch.users.needs()
        state = ch.state
        connected = state.connected
        if needs.paced != ch.paced:
            self.pacer.set_paced(ch, needs.paced)
        if needs.keep_all != ch.keep_all:
            ch.keep_all = needs.keep_all
            self.inbox.keep_samples(ch.sid, needs.keep_all)
        ch.want_monitor = needs.monitor_big
        if ch.once and not needs.once and connected:
            self.source.watch_access(ch)
        ch.once = needs.once
        if ch.meta_light and needs.metadata and connected:
            ch.meta_ok = False              # units, limits... are wanted now
            self.source.get_meta(ch)
        ch.meta_light = not needs.metadata
        if not connected:
            return      # subscriptions follow at the connection (connected())
        want = wanted_subscription(
            needs, big=state.max_count > self.automonitor_maxlength, polling=ch.frame.poll,
            alarm_only=self.lean.alarm_only(
                ch.name, needs, None if ch.source is None else ch.source.cheap_updates))
        if want == ch.sub:
            return
        if ch.sub is not None and want is not None and want.every_sample:
            # every sample is wanted now: the new subscription's first event repeats
            # the value already delivered: not a new sample
            ch.resubscribed_ts = state.timestamp
        self.source.unsubscribe(ch)
        if want is not None:
            error = self.source.subscribe(ch, want)
            if error:
                state.error = f"cannot subscribe: {error}"
            else:
                state.monitored = True
        elif not (ch.paced and ch.frame.poll):
            state.monitored = False
        self.mark(ch.sid)     # the consumer sees "monitored" change

    def follow(self, names: Iterable[str]) -> None:
        """Lean mode or the watched set changed: these subscribed channels follow."""
        for name in names:
            ch = self.by_name.get(name)
            if ch is not None and ch.sub is not None:
                self.reconcile(ch)

    def connection_up(self, ch: Channel) -> None:
        """A Connected event: what the connection says about the PV."""
        self.source.connection_info(ch)
        ch.state.connected = ch.state.ever_connected = True
        self.searching.pop(ch.sid, None)
        self.mark(ch.sid)

    def connected(self, chs: list[Channel]) -> None:
        """Bulk step for channels that (re)connected: all metadata gets, then all
        subscriptions (or read-once gets), then one flush. No waiting per PV."""
        for ch in chs:
            ch.meta_ok = False
            if not ch.once:   # read-once PVs take their access rights from the connection
                self.source.watch_access(ch)
            if ch.meta_light and ch.state.native_type != "ENUM":
                ch.meta_ok = True           # only the value is wanted (enums need their strings)
                continue
            self.source.get_meta(ch)
        for ch in chs:
            if ch.once:
                self.send_value_get(ch)
            # a protocol may re-establish subscriptions after a reconnect by itself:
            # this changes only what the users' needs (or lean mode) changed meanwhile
            self.reconcile(ch)
        self.source.flush()

    def send_value_get(self, ch: Channel) -> None:
        error = self.source.get_value(ch)
        if error:
            ch.state.error = f"get failed: {error}"

    def expire_searches(self) -> None:
        """Say so when a PV has not been found within the connection timeout (the
        search goes on; the row says "not found" instead of "connecting")."""
        if not self.searching:
            return
        now = time.monotonic()
        for sid in [s for s, t in self.searching.items() if t <= now]:
            del self.searching[sid]
            ch = self.by_sid.get(sid)
            if ch is not None and not ch.state.ever_connected:
                ch.state.error = "not found: no server answered (still searching)"
                self.mark(sid)

    def refresh_lean(self) -> int:
        """Lean mode with alarm-only subscriptions: this step's share of them re-read
        (one get each), so every value is at most LEAN_REFRESH_S old. Returns how many."""
        if not self.lean.rotation.due(time.monotonic()):
            return 0
        lean = [c for c in self.by_name.values()
                if c.sub is not None and c.sub.alarm_only and c.state.connected]
        batch = self.lean.rotation.share(lean)
        for ch in batch:
            self.source.get_value(ch)
        if batch:
            self.source.flush()
        return len(batch)
