"""Read-only snapshots of what the engine does, for tests and diagnostics. They name
behaviour (subscribed, paced, users...), not the engine's private fields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: ChannelDebug.mask values (CA's event mask numbering: DBE_VALUE 1, DBE_ALARM 4)
MASK_VALUE, MASK_ALARM = 1, 4


@dataclass(frozen=True)
class ChannelDebug:
    """What the engine does for one channel (see :meth:`Engine.debug_info`)."""

    name: str
    connected: bool
    subscribed: bool          # a subscription is active (value, alarm or announcement)
    mask: int                 # its event mask (DBE_VALUE 1, DBE_LOG 2, DBE_ALARM 4; 0: none)
    monitored: bool           # a big array someone asked to monitor (or paced)
    paced: bool               # announced by a 1-element monitor, fetched by get
    pull: bool                # paced by the consumer's request_frame() calls
    polling: bool             # pull mode with announcements off (camera ahead of the consumer)
    keep_all: bool            # every update is kept (samples), not only the newest
    once: bool                # read on each (re)connection, never subscribed
    fast_callback: bool       # updates through the source's cheap path (CA: the C callback)
    users: int                # add() calls not yet matched by remove()
    users_keep_all: int
    users_monitor: int        # monitor_arrays users that are not paced
    users_paced: int

    @classmethod
    def of(cls, ch: Any, fast_callback: bool) -> ChannelDebug:
        """Copy the fields of a channel (plain reads, no lock: a snapshot for tests)."""
        sub = ch.sub
        mask = 0 if sub is None else MASK_ALARM if sub.alarm_only else MASK_VALUE | MASK_ALARM
        return cls(name=ch.name, connected=bool(ch.state.connected),
                   subscribed=sub is not None, mask=mask,
                   monitored=ch.want_monitor, paced=ch.paced, pull=ch.frame.pull,
                   polling=ch.frame.poll, keep_all=ch.keep_all, once=ch.once,
                   fast_callback=fast_callback, users=len(ch.users),
                   users_keep_all=ch.users.count(keep_all=True),
                   users_monitor=ch.users.count(monitor_arrays=True, paced=False),
                   users_paced=ch.users.count(paced=True))


@dataclass(frozen=True)
class EngineDebug:
    """Engine-wide counts (see :meth:`Engine.debug_summary`)."""

    channels: int             # channels the engine holds
    subscribed: int           # of which with an active subscription
    polling: int              # of which paced by polling (no subscription on purpose)
    lean: bool                # lean mode is on
    worker_alive: bool        # the worker thread runs
