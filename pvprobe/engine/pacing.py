"""Paced arrays (image frames): announced by a one-element subscription, fetched
whole only when the consumer can take them.

A paced PV is fetched while fewer than ``depth`` of its arrays are in the pipeline
(in flight, or fetched and waiting for the consumer) and, once the consumer calls
``request_frame`` (pull mode), only when it asked. While the camera stays ahead of
the consumer (POLL_AFTER_EARLY announcements in a row before the request), the
announcements stop and each request fetches at once (polling); a fetch that returns
the frame already shown switches back. The consumer never gets a queue: a fetched
array that waits is replaced by a newer one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from .events import FrameFetched
from .inbox import Inbox
from .needs import ANNOUNCE
from .source import NEW_WHILE_ARMING, NOTHING_NEW, Source
from .waits import get_timeout

#: Paced arrays (image frames) in flight or fetched-and-waiting per PV. 2 would overlap
#: a get's round trip with the consumer's work, but measured on a camera flood it
#: fetched 4 frames per frame shown (benchmarks/bench_image.py --paced-depths).
PACED_DEPTH = 1
#: Pull mode: after this many frames in a row that were announced before the consumer
#: asked (the camera is faster than the view), the announcements stop and each request
#: fetches at once (polling); a fetch that returns the frame already shown switches back.
POLL_AFTER_EARLY = 3


@dataclass(slots=True)
class Pacing:
    """The frame state of one channel."""

    fetch_t0: float = 0.0          # when the oldest outstanding fetch was sent (0: none)
    fetching: int = 0              # fetches in flight
    pull: bool = False             # paced by the consumer's request_frame() calls
    credit: int = 0                # pull mode: fetches the consumer asked for (0 or 1)
    events_seen: int = 0           # announcements counted so far (cheap path)
    poll: bool = False             # pull mode, camera faster than the consumer: no
                                   # announcements, each request fetches at once
    early: int = 0                 # announcements in a row that came before the consumer asked
    armed: bool = False            # waiting for an announcement the consumer asked for
    last_stamp: tuple = (0, 0)     # (secs, nsec) of the newest array fetched


class Pacer:
    """The paced channels and their frame state machine."""

    def __init__(self, source: Source, inbox: Inbox, stats: Any,
                 mark: Callable[[int], None]) -> None:
        self.source = source
        self.inbox = inbox
        self.stats = stats
        self.mark = mark               # the channel has news for the next batch
        self.sids: set[int] = set()    # paced channels
        #: Paced arrays in the pipeline per PV (fetches in flight + fetched, not handed over).
        self.depth = PACED_DEPTH

    def set_paced(self, ch: Any, paced: bool) -> None:
        """Pacing on (a full monitor becomes announcements) or off."""
        f = ch.frame
        ch.paced, f.poll = paced, False
        if paced:
            f.early, f.armed = 0, False
            f.credit = 1 if f.pull else 0       # the view waits: the next frame at once
            self.sids.add(ch.sid)
        else:
            self.sids.discard(ch.sid)
            with self.inbox.lock:
                self.inbox.announced.pop(ch.sid, None)

    def forget(self, sid: int) -> None:
        self.sids.discard(sid)

    def request(self, ch: Any) -> None:
        """The consumer is ready for the next frame (pull mode from now on)."""
        if ch.paced:
            ch.frame.pull, ch.frame.credit = True, 1

    def disconnected(self, ch: Any) -> None:
        f = ch.frame
        f.fetch_t0, f.fetching = 0.0, 0
        if f.pull:
            f.credit = 1      # the first frame after a reconnect is wanted
        # after the reconnect: announcements again (the reconnection subscribes)
        f.poll, f.early, f.armed = False, 0, False

    def fetched(self, ch: Any, ev: FrameFetched) -> None:
        """A fetch came back (or failed)."""
        f = ch.frame
        f.fetching = max(0, f.fetching - 1)
        if not f.fetching:
            f.fetch_t0 = 0.0
        if not ev.ok and f.pull:
            f.credit = 1          # no frame reaches the consumer: ask again
        elif ev.ok:
            self._arrived(ch, ev.stamp)
        if ev.error:
            ch.state.error = f"get failed: {ev.error}"
            self.mark(ch.sid)

    def _arrived(self, ch: Any, stamp: tuple) -> None:
        """A paced array arrived. While polling, one no newer than the last means the
        camera fell behind the consumer: drop it, announcements again."""
        f = ch.frame
        if f.poll and stamp <= f.last_stamp:
            with self.inbox.lock:
                item = self.inbox.latest.get(ch.sid)
                if item is not None and self.source.stamp_of(item) == stamp:
                    del self.inbox.latest[ch.sid]          # the frame already shown
            f.poll = False
            self.stats.poll_switches += 1
            if f.pull:
                f.credit = 1                         # the consumer still waits for one
            if ch.sub is None:   # its first event (this same frame) is ignored by stamp
                error = self.source.subscribe(ch, ANNOUNCE)
                if error:
                    ch.state.error = f"cannot subscribe: {error}"
                self.source.flush()
            return
        if stamp > f.last_stamp:
            f.last_stamp = stamp

    def fetch_frames(self, by_sid: dict[int, Any]) -> None:
        """Fetch the newest array of each announced paced PV the consumer can take
        (see the module's docstring). With the cheap path, announcements cost no
        Python: a PV ready for a fetch is *armed*, and only its next announcement
        wakes the worker."""
        if not self.sids:
            return
        now = time.monotonic()
        sent = False
        with self.inbox.lock:
            waiting = self.inbox.latest.keys() & self.sids
        for sid in list(self.sids):
            ch = by_sid.get(sid)
            if ch is None:
                continue
            f = ch.frame
            seen = self.source.announcements_seen(ch)
            if seen is not None:
                self.stats.frames_announced += seen - f.events_seen
                f.events_seen = seen
            if not ch.state.connected:
                continue
            if f.fetching and now - f.fetch_t0 >= get_timeout(ch.state.max_count) + 5.0:
                f.fetching, f.fetch_t0 = 0, 0.0    # a lost reply is given up
                f.credit = 1 if f.pull else 0
            if f.fetching + (sid in waiting) >= self.depth:
                continue
            if f.pull and f.credit <= 0:
                continue          # the consumer has not finished with the last one
            if not f.poll:
                if ch.sub is None:
                    continue      # not subscribed yet
                early = self._take_announcement(ch)
                if early is None:
                    continue      # nothing new yet: the next announcement wakes us
                if f.pull:
                    f.early = f.early + 1 if early else 0
                    if f.early >= POLL_AFTER_EARLY:
                        self._start_polling(ch)
            error = self.source.fetch(ch)
            if error is None:
                continue          # found disconnected: not an error the view should show
            if not error:
                if not f.fetching:
                    f.fetch_t0 = now
                f.fetching += 1
                f.credit = 0
                sent = True
            else:
                ch.state.error = f"get failed: {error}"
                self.mark(sid)
        if sent:
            self.source.flush()

    def _take_announcement(self, ch: Any) -> Optional[bool]:
        """None if no array newer than the last fetched was announced (the PV is then
        armed: its next announcement wakes the worker); else whether it was announced
        before the consumer asked (``early``: the camera is ahead of the view)."""
        f = ch.frame
        news = self.source.newest_announcement(ch, f.last_stamp)
        if news == NOTHING_NEW:
            f.armed = True
            return None
        if news == NEW_WHILE_ARMING:      # one came as we armed: new, and not early
            f.armed = True
        early = not f.armed
        f.armed = False
        return early

    def _start_polling(self, ch: Any) -> None:
        """The camera is ahead of the consumer: stop its announcements (one message per
        published frame, for the IOC and for us), fetch at each request instead."""
        self.source.pause_announcements(ch)
        f = ch.frame
        f.poll, f.early, f.armed = True, 0, False
        self.stats.poll_switches += 1
