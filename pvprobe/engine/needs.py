"""Who uses a channel, and what it must be subscribed to because of them.

Every ``Engine.add`` is one :class:`Use` of a channel; every ``remove`` takes one
back. :func:`needs_of` derives what the channel needs from the uses it has left,
and :func:`wanted_subscription` the subscription that follows, the same way when
a user comes and when one goes: there is no separate "upgrade" and "downgrade".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple, Optional


class Use(NamedTuple):
    """The options of one ``add`` of a channel."""

    monitor_arrays: bool = False   # monitor even above the automonitor length
    keep_all: bool = False         # every update (samples), not only the newest
    once: bool = False             # read at each (re)connection, never subscribe
    paced: bool = False            # big array: announced, fetched when the consumer can take it
    light: bool = False            # read-once without the metadata (units, limits...)

    @classmethod
    def of(cls, monitor_arrays: bool = False, keep_all: bool = False, once: bool = False,
           paced: bool = False, light: bool = False) -> Use:
        """A normalised use: ``light`` means something only for a read-once use."""
        return cls(bool(monitor_arrays), bool(keep_all), bool(once), bool(paced),
                   bool(light and once))


@dataclass(frozen=True)
class Needs:
    """What a channel's users need together."""

    users: int
    keep_all: bool      # some user wants every update
    monitor_big: bool   # some user asks a big array monitored (in full or paced)
    paced: bool         # paced users only: a full-monitor or keep_all user wins
    once: bool          # every user only reads at (re)connection: no subscription
    metadata: bool      # some user wants units, precision, limits


NOBODY = Needs(users=0, keep_all=False, monitor_big=False, paced=False, once=False,
               metadata=False)


def needs_of(uses: Iterable[Use]) -> Needs:
    """Derive the channel's needs from its uses (the one rule, both ways)."""
    uses = list(uses)
    if not uses:
        return NOBODY
    keep_all = any(u.keep_all for u in uses)
    full = any(u.monitor_arrays and not u.paced for u in uses)
    paced = any(u.paced for u in uses)
    return Needs(users=len(uses), keep_all=keep_all, monitor_big=full or paced,
                 paced=paced and not keep_all and not full,
                 once=all(u.once for u in uses),
                 metadata=not all(u.light for u in uses))


class Subscription(NamedTuple):
    """The kind of subscription a channel has or should have (protocol-neutral)."""

    announce: bool = False      # announcements of new arrays (paced), values fetched apart
    alarm_only: bool = False    # lean: alarm changes only, values re-read on a timer
    every_sample: bool = False  # every update kept, not only the newest


ANNOUNCE = Subscription(announce=True)


def wanted_subscription(needs: Needs, *, big: bool, polling: bool,
                        alarm_only: bool) -> Optional[Subscription]:
    """The subscription a connected channel with these needs should have (None: none).

    ``big``: longer than the automonitor length; ``polling``: a paced array whose
    consumer is slower than the camera (announcements off on purpose);
    ``alarm_only``: the lean decision for this channel (see :mod:`.lean`)."""
    if needs.users == 0 or needs.once or (big and not needs.monitor_big):
        return None
    if needs.paced:
        return None if polling else ANNOUNCE
    return Subscription(alarm_only=alarm_only and not needs.keep_all and not needs.monitor_big,
                        every_sample=needs.keep_all)


@lru_cache(maxsize=4096)
def _needs_of_tuple(uses: tuple) -> Needs:
    return needs_of(uses)


class Users:
    """The uses of one channel (a small multiset, in order of arrival) and the needs
    they make (derived once per add or remove: few distinct mixes exist, so from a cache;
    20,000 channels opened cost no derivation each)."""

    __slots__ = ("_uses", "_needs")

    def __init__(self) -> None:
        self._uses: list[Use] = []
        self._needs = NOBODY

    def _changed(self) -> None:
        self._needs = _needs_of_tuple(tuple(self._uses))

    def add(self, use: Use) -> None:
        self._uses.append(use)
        self._changed()

    def remove(self, use: Use) -> None:
        """Take back one use: the last one with these options; a caller that did not
        repeat the options of its ``add`` takes back the last use added."""
        for i in range(len(self._uses) - 1, -1, -1):
            if self._uses[i] == use:
                del self._uses[i]
                break
        else:
            if self._uses:
                self._uses.pop()
        self._changed()

    def __len__(self) -> int:
        return len(self._uses)

    def needs(self) -> Needs:
        return self._needs

    def count(self, **options: bool) -> int:
        """Uses with all these options set (e.g. ``count(keep_all=True)``)."""
        return sum(all(getattr(u, k) == v for k, v in options.items()) for u in self._uses)
