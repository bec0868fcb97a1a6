"""When the PVA source empties each monitor's queue.

pvxs calls a monitor's handler (its thread) when the queue becomes non-empty; the
handler appends the channel to :attr:`EmptyingSchedule.ready`. The worker asks
:meth:`EmptyingSchedule.due` which channels to empty now: at once, unless a plain
value monitor (no every-sample user, not paced, no view showing it) of a big
session was emptied less than ``poll_interval`` ago (lean mode: ``slow_interval``)
— then it waits its turn, while pvxs keeps (squashes into) its newest update."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator

from ..engine.lean import LEAN_REFRESH_S
from .link import DEFER_ABOVE, PVA_POLL_S


class EmptyingSchedule:
    """Channels with news (``ready``) and those waiting their turn."""

    def __init__(self) -> None:
        self.ready: deque[int] = deque()                  # sids whose queue has news
        self._later: deque[tuple[float, int]] = deque()   # (due, sid), plain values
        self._slow: deque[tuple[float, int]] = deque()    # (due, sid), lean mode
        self.poll_interval = PVA_POLL_S
        self.slow_interval = LEAN_REFRESH_S
        self.defer_above = DEFER_ABOVE
        self.events = 0      # channels handed in by their handler (pvxs's thread)
        self.emptied = 0     # emptyings handed out by :meth:`due`

    def due(self, links: dict, keep_all: set) -> Iterator[tuple[int, object]]:
        """(sid, link) of each channel to empty now (its ``emptied`` time is set)."""
        ready, later, slow = self.ready, self._later, self._slow
        if not ready and not later and not slow:
            return
        now = time.monotonic()
        big = self.is_big(links)
        while ready:
            try:
                sid = ready.popleft()
            except IndexError:
                break
            self.events += 1
            link = links.get(sid)
            if link is None or link.monitor is None or link.waiting:
                continue
            if self.defers(sid, link, keep_all, big):
                wait = self.slow_interval if link.slow else self.poll_interval
                if link.emptied + wait > now:
                    link.waiting = True
                    (slow if link.slow else later).append((link.emptied + wait, sid))
                    continue
            link.emptied = now
            self.emptied += 1
            yield sid, link
        for queue in (later, slow):
            while queue and queue[0][0] <= now:
                sid = queue.popleft()[1]
                link = links.get(sid)
                if link is None or link.monitor is None:
                    continue
                link.waiting = False
                link.emptied = now
                self.emptied += 1
                yield sid, link

    def defers(self, sid: int, link: object, keep_all: set, big: bool) -> bool:
        """Whether ``link``'s queue is emptied on the schedule, not at each event: a
        plain value monitor no view shows and no every-sample user reads, of a big
        session (lean mode: any session)."""
        return (link.quiet and link.connected and not link.watched and not link.announce
                and sid not in keep_all and (link.slow or big))

    def is_big(self, links: dict) -> bool:
        return len(links) > self.defer_above

    def again(self, sid: int, link: object) -> None:
        """Empty ``link``'s queue again one interval from now: its last emptying stopped
        at its size without seeing it empty, so pvxs will not call its handler."""
        if not link.waiting:
            link.waiting = True
            wait = self.slow_interval if link.slow else self.poll_interval
            (self._slow if link.slow else self._later).append((link.emptied + wait, sid))

    def at_once(self, sid: int, link: object) -> None:
        """A channel waiting its turn is wanted now (a view shows it)."""
        if link.waiting:
            link.waiting, link.emptied = False, 0.0
            self.ready.append(sid)
