"""Coalescing: the PVs with news, decoded once per tick into the states of a batch."""

from __future__ import annotations

import time
from typing import Any

from ..core.pvstate import PVState
from .inbox import Inbox
from .lean import LeanMode
from .source import Source

#: Default cap on PV states handed over in one batch (see Engine.max_batch_states).
MAX_BATCH_STATES = 5000


class Coalescer:
    """Which PVs have news for the next batch, and their decoded states."""

    def __init__(self, source: Source, inbox: Inbox, lean: LeanMode, stats: Any) -> None:
        self.source = source
        self.inbox = inbox
        self.lean = lean
        self.stats = stats
        #: PVs with news for the next batch, oldest first: PVs held back by the per-batch
        #: cap stay at the front, so under overload every PV gets its turn (FIFO).
        self.changed: dict[int, None] = {}
        #: At most this many PV states per batch: a 20,000-PV connect reaches the UI
        #: in a few slices instead of one long model update.
        self.max_states = MAX_BATCH_STATES
        self.tick = 0.05
        self._updates0 = source.updates()

    def mark(self, sid: int) -> None:
        """The channel has news for the next batch."""
        self.changed[sid] = None

    def forget(self, sid: int) -> None:
        self.changed.pop(sid, None)

    def collect(self, channels: Any) -> list[PVState]:
        """Decode the newest value of each PV that changed; the states of the PVs with
        news, at most :attr:`max_states` (the rest first in line next time)."""
        latest, samples, updates = self.inbox.take_values()
        self.stats.updates_received = updates
        source = self.source
        t0 = time.perf_counter()
        if source.cheap_updates:
            self.stats.updates_received += source.updates() - self._updates0
            self._take_cheap(latest, channels.by_name)
        by_sid = channels.by_sid
        changed = self.changed
        decode = source.decode
        for sid, item in latest.items():
            ch = by_sid.get(sid)
            if ch is not None:
                decode(ch.state, item)
                changed[sid] = None
        out: list[PVState] = []
        keep: dict[int, None] = {}
        for sid in changed:
            ch = by_sid.get(sid)
            if ch is None:
                continue
            if (ch.state.connected and not ch.meta_ok) or len(out) >= self.max_states:
                # hold the first value until units/enum strings are known; and never hand
                # the UI more than max_states at once (the rest go next tick)
                keep[sid] = None
                continue
            state = ch.state.copy()
            if sid in samples:
                taken = [source.sample(ch.state, it) for it in samples[sid]]
                if ch.resubscribed_ts is not None:
                    if taken and taken[0][0] == ch.resubscribed_ts:
                        taken = taken[1:]
                    ch.resubscribed_ts = None
                state.samples = taken
            out.append(state)
        self.changed = keep
        held = {sid: samples[sid] for sid in keep if sid in samples}
        if held:   # samples of held PVs wait for the next batch, none is lost
            self.inbox.give_back_samples(held)
        self.stats.decode_seconds += time.perf_counter() - t0
        return out

    def _take_cheap(self, latest: dict, by_name: dict) -> None:
        """Newest values from the cheap path, at most a batch's worth (the rest wait,
        first in line next time: no value is decoded only to be held back, and no
        single call holds the GIL long); in lean mode those of watched PVs plus the
        longest-waiting others, within the decode budget. A PV's first value (since
        it subscribed or reconnected) is never held back by the budget: a row without
        a value gets it as soon as it arrives (at most a batch's worth per tick)."""
        lean = self.lean
        if not lean.enabled:
            self.source.drain_values(latest, self.max_states)
            return
        watched = [c for c in map(by_name.get, lean.watched) if c is not None]
        if watched:
            self.source.take_values(watched, latest)
        first = self.source.drain_first_values(latest, self.max_states)
        n = lean.budget.allowance(time.monotonic(), self.tick, max(0, self.max_states - first))
        if n > 0:
            lean.budget.spend(self.source.drain_values(latest, n))
