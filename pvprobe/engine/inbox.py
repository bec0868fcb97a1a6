"""The lock-guarded store a source's callbacks (their own threads) write into and
the worker drains: newest value per PV, kept samples, frame announcements, events.
Callbacks only store and return; the fields are public so a source's hot callback
writes them without a method call per update."""

from __future__ import annotations

import threading
from typing import Any

from .events import Event


class Inbox:
    """Written by callbacks under :attr:`lock`, drained by the worker."""

    __slots__ = ("lock", "latest", "samples", "keep_all", "announced", "events",
                 "updates", "frame_waiting", "stats")

    def __init__(self, stats: Any) -> None:
        self.lock = threading.Lock()
        self.latest: dict[int, Any] = {}        # sid -> newest raw item
        self.samples: dict[int, list] = {}      # sid -> every item (keep_all PVs)
        self.keep_all: set[int] = set()         # sids whose every item is kept
        self.announced: dict[int, tuple] = {}   # paced sid -> stamp of its newest announced array
        self.events: list[Event] = []
        self.updates = 0                        # values received through Python callbacks
        self.frame_waiting = False              # a fetched array waits for delivery
        self.stats = stats                      # EngineStats: frame counters

    def post(self, event: Event) -> None:
        with self.lock:
            self.events.append(event)

    def take_events(self) -> list[Event]:
        with self.lock:
            events, self.events = self.events, []
        return events

    def take_values(self) -> tuple[dict, dict, int]:
        """(newest items, samples, updates so far); the fetched frame is taken too."""
        with self.lock:
            latest, self.latest = self.latest, {}
            samples, self.samples = self.samples, {}
            self.frame_waiting = False
            return latest, samples, self.updates

    def give_back_samples(self, held: dict[int, list]) -> None:
        """Samples of PVs held back from a batch go first next time (none is lost)."""
        with self.lock:
            for sid, items in held.items():
                newer = self.samples.get(sid)
                self.samples[sid] = list(items) + list(newer) if newer else items

    def keep_samples(self, sid: int, on: bool) -> None:
        with self.lock:
            if on:
                self.keep_all.add(sid)
            else:
                self.keep_all.discard(sid)
                self.samples.pop(sid, None)

    def newer_announcement(self, sid: int, last_stamp: tuple) -> bool:
        """Take ``sid``'s announced stamp: whether one newer than ``last_stamp`` came
        (for sources whose callbacks announce through the inbox)."""
        with self.lock:
            stamp = self.announced.pop(sid, None)
        return stamp is not None and stamp > last_stamp

    def forget(self, sid: int) -> None:
        """A channel went: drop everything it left here."""
        with self.lock:
            self.latest.pop(sid, None)
            self.samples.pop(sid, None)
            self.keep_all.discard(sid)
            self.announced.pop(sid, None)
