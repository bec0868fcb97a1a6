"""Channels that were connected and are not: searched for again, and remade when
that does not bring them back.

pvxs backs its searches off towards 30 s, and a restarted server's beacons may
never reach this client (a gateway on another subnet, a port the client does not
listen on): while any channel is lost, all are searched for again every
:data:`HURRY_S`. Behind a restarted p4p gateway pvxs was seen to find the server
again but never restart a few of 1,000 monitors (a fresh client read them at
once): a channel lost for :data:`RECREATE_S` gets a fresh channel and monitor."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .link import HURRY_S, RECREATE_S


class LostChannels:
    """sid -> when it was lost (or last remade); the next search."""

    def __init__(self) -> None:
        self.since: dict[int, float] = {}
        self._next = 0.0

    def __len__(self) -> int:
        return len(self.since)

    def lost(self, sid: int) -> None:
        if not self.since:
            self._next = time.monotonic() + 0.5
        self.since.setdefault(sid, time.monotonic())

    def found(self, sid: int) -> None:
        self.since.pop(sid, None)

    def step(self, links: dict, hurry_up: Callable[[], Any],
             remake: Callable[[int, Any], None]) -> None:
        """Worker thread, at every pass: at most every HURRY_S, remake the channels lost
        for RECREATE_S and search for all lost ones again."""
        if not self.since:
            return
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + HURRY_S
        for sid in [s for s in self.since if s not in links]:
            del self.since[sid]
        if not self.since:
            return
        for sid, since in list(self.since.items()):
            if now - since >= RECREATE_S:
                remake(sid, links[sid])
                self.since[sid] = now
        try:
            hurry_up()
        except Exception:     # a closing context: nothing to search with
            pass
