"""Lean mode (very large tables): which PVs are decoded or subscribed less.

Two ways, chosen by what the source's updates cost. With a source whose updates
cost no Python (CA's C monitor callback), every PV keeps its value monitor and PVs
no view watches are only *decoded* less often, within a budget per second
(:class:`DecodeBudget`). Otherwise PVs no view watches get alarm-only
subscriptions and are re-read on a rotating timer (:class:`RefreshRotation`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Optional, TypeVar

from .needs import Needs

#: Lean mode without cheap updates: every PV on an alarm-only monitor is re-read this often (s) ...
LEAN_REFRESH_S = 2.0
#: ... in steps of this length, each re-reading its share of them.
LEAN_REFRESH_STEP_S = 0.05
#: Lean mode with cheap updates: watched PVs are decoded every tick, the others at
#: most this many per second, longest-waiting first (lean mode starts at 25,000 PVs:
#: each busy one every 2.5 s; 50,000: every 5 s), spread over the ticks. More kept
#: the worker so busy that the GUI thread waited for the GIL on every Qt -> Python
#: call (50,000 busy PVs: loop lateness p99 0.6-1.2 s at 40,000/s, 0.35 s at 10,000/s).
LEAN_DECODE_BUDGET_PER_S = 10000

T = TypeVar("T")


class DecodeBudget:
    """How many unwatched PVs may be decoded now: the budget per second times the
    time since the last drain, at most a quarter second saved up, at most ``cap``."""

    __slots__ = ("per_s", "_last", "_credit")

    def __init__(self, per_s: float = LEAN_DECODE_BUDGET_PER_S) -> None:
        self.per_s = float(per_s)
        self._last = 0.0
        self._credit = 0.0

    def allowance(self, now: float, first_step: float, cap: int) -> int:
        """Decodes allowed at ``now`` (``first_step``: the interval assumed the first time)."""
        elapsed = now - self._last if self._last else first_step
        self._last = now
        self._credit = min(self.per_s / 4, self._credit + elapsed * self.per_s)
        return min(int(self._credit), cap)

    def spend(self, n: int) -> None:
        self._credit -= n


class RefreshRotation:
    """Re-read PVs on alarm-only monitors every LEAN_REFRESH_S, in steps of
    LEAN_REFRESH_STEP_S, each step its share, continuing where the last stopped."""

    __slots__ = ("_next", "_pos")

    def __init__(self) -> None:
        self._next = 0.0
        self._pos = 0

    def due(self, now: float) -> bool:
        """True once per step (and schedules the next)."""
        if now < self._next:
            return False
        self._next = now + LEAN_REFRESH_STEP_S
        return True

    def share(self, items: Sequence[T]) -> list[T]:
        """This step's share of ``items`` (wrapping around)."""
        if not items:
            return []
        chunk = max(1, math.ceil(len(items) * LEAN_REFRESH_STEP_S / LEAN_REFRESH_S))
        start = self._pos % len(items)
        part = list(items[start:start + chunk])
        if len(part) < chunk:
            part += items[:chunk - len(part)]
        self._pos = start + chunk
        return part


class LeanMode:
    """Whether lean mode is on, which PVs the views watch, and what follows."""

    def __init__(self, cheap_updates: bool) -> None:
        self.enabled = False
        #: the source's updates cost no Python: decode less instead of subscribing less
        self.cheap_updates = cheap_updates
        self.watchers: dict[str, set[str]] = {}
        self.watched: set[str] = set()
        self.budget = DecodeBudget()
        self.rotation = RefreshRotation()

    def watch(self, owner: str, names: set[str]) -> set[str]:
        """``owner`` watches ``names`` now (empty: nothing); returns the PVs whose
        watched state changed."""
        old = self.watched
        if names:
            self.watchers[owner] = names
        else:
            self.watchers.pop(owner, None)
        self.watched = set().union(*self.watchers.values()) if self.watchers else set()
        return old ^ self.watched

    def alarm_only(self, name: str, needs: Needs, cheap: Optional[bool] = None) -> bool:
        """Whether PV ``name`` gets an alarm-only subscription: in lean mode, when
        updates are not cheap (``cheap``: its own source's, when several sources serve
        the engine), for PVs no view watches and no user needs every value of."""
        cheap = self.cheap_updates if cheap is None else cheap
        return (self.enabled and not cheap and name not in self.watched
                and not needs.keep_all and not needs.monitor_big)

    @property
    def refreshing(self) -> bool:
        """Alarm-only PVs are re-read on the rotation timer."""
        return self.enabled and not self.cheap_updates
