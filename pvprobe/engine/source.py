"""What a protocol source implements for the engine (CA: :mod:`pvprobe.ca.source`).

The engine owns the channels (:class:`~.channels.Channel`: name, PV state, users,
pacing) and decides *what* each needs (a :class:`~.needs.Subscription` or none, a
metadata get, a fetch); the source does it on the wire and keeps its own record
per channel in ``channel.link``. Its callbacks run in the protocol's threads and
only write into the :class:`~.inbox.Inbox` (values, samples, announcements, typed
events) and wake the worker. Raw values (``item``) are opaque to the engine: only
the source decodes them into :class:`~pvprobe.core.pvstate.PVState` fields.

Calls come from the worker thread (or, without a worker, from the synchronous
calls' thread); only the callbacks run elsewhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Optional

from ..core.pvstate import PVState
from .inbox import Inbox
from .needs import Subscription

#: :meth:`Source.newest_announcement` answers
NOTHING_NEW, NEW, NEW_WHILE_ARMING = 0, 1, 2


class Source:
    """Interface of a protocol source (all methods must be overridden)."""

    #: updates cost no Python per update (decoded only when drained)
    cheap_updates: bool = False
    #: the type of this source's raw items (several sources behind one engine: :mod:`.mux`)
    item_type: type = tuple
    #: lean mode is on (see :meth:`set_lean`)
    lean: bool = False

    def set_lean(self, enabled: bool) -> None:
        """The engine's lean mode changed (very large tables): a source may open new
        channels leaner. The subscriptions follow through subscribe() as usual."""
        self.lean = enabled

    def item_decoders(self) -> dict:
        """The decoder of each type of item this source hands out (its items' types
        must differ from every other source's: the mux dispatches on them)."""
        return {self.item_type: self.decode}

    # -- set-up and threads
    def bind(self, inbox: Inbox, wake: Callable[[], None]) -> None:
        """Where callbacks store what arrives, and how they wake the worker."""
        raise NotImplementedError

    def worker_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        """An unstarted thread able to make protocol calls."""
        raise NotImplementedError

    def close(self) -> None:
        """From now on callbacks return at once (no call into Python after this)."""
        raise NotImplementedError

    def alive(self) -> bool:
        """The protocol library is still usable (channels can be cleared)."""
        raise NotImplementedError

    def flush(self) -> None:
        """Send what was queued (one flush per batch of requests)."""
        raise NotImplementedError

    def poll(self) -> None:
        """Protocol work the worker does before it applies events (PVA: pop the
        monitor queues its callbacks flagged). Default: nothing."""

    def take_warnings(self) -> list[str]:
        """Protocol warnings since the last call, as sentences for the user."""
        raise NotImplementedError

    # -- channels
    def create(self, channel: Any) -> None:
        """Start connecting ``channel`` (sets ``channel.link``); ValueError: bad name."""
        raise NotImplementedError

    def clear(self, channel: Any) -> None:
        """Unsubscribe and close the channel."""
        raise NotImplementedError

    def connection_info(self, channel: Any) -> None:
        """The channel connected: fill its state's type, count, host, access (and an
        error the protocol would otherwise keep silent, e.g. an array too big)."""
        raise NotImplementedError

    def set_watched(self, channel: Any, watched: bool) -> None:
        """A view shows the channel now (or stopped): a source that delays updates
        to save work delivers it promptly. Default: nothing (every update is prompt)."""

    def watch_access(self, channel: Any) -> None:
        """Report access-rights changes as events from now on."""
        raise NotImplementedError

    def get_meta(self, channel: Any) -> None:
        """Ask for the metadata (answer: a GetDone event with ``meta``)."""
        raise NotImplementedError

    def get_value(self, channel: Any) -> str:
        """Ask for the current value (answer: GetDone with ``value``); returns an error or ""."""
        raise NotImplementedError

    def subscribe(self, channel: Any, sub: Subscription) -> str:
        """Subscribe as ``sub`` says (sets ``channel.sub`` on success); returns an error or ""."""
        raise NotImplementedError

    def unsubscribe(self, channel: Any) -> None:
        """Cancel the subscription, if any (``channel.sub`` becomes None)."""
        raise NotImplementedError

    def put(self, channel: Any, native: str, values: list, rid: int, wait: bool) -> tuple[str, Any]:
        """Send a put of already-checked ``values`` of type ``native``; with ``wait``
        its completion comes as a PutDone event. Returns (error or "", data to keep
        alive until completion)."""
        raise NotImplementedError

    # -- values
    def decode(self, state: PVState, item: Any) -> None:
        """Decode ``item`` into ``state`` (value, count, alarm, timestamp, update_count)."""
        raise NotImplementedError

    def sample(self, state: PVState, item: Any) -> tuple:
        """``(timestamp, value, severity)`` of ``item`` (keep_all samples)."""
        raise NotImplementedError

    def timestamp_of(self, item: Any) -> float:
        raise NotImplementedError

    def apply_meta(self, state: PVState, item: Any) -> None:
        """Units, precision, limits, enum strings of a metadata answer."""
        raise NotImplementedError

    def updates(self) -> int:
        """Updates taken by the cheap path since the source started (0 without it)."""
        raise NotImplementedError

    def drain_values(self, into: dict, limit: int) -> int:
        """Move up to ``limit`` newest values of the cheap path into ``into`` (sid -> item),
        longest-waiting first; the rest stay first in line. Returns how many."""
        raise NotImplementedError

    def take_values(self, channels: Iterable[Any], into: dict) -> None:
        """Move the newest values of these channels (cheap path) into ``into``."""
        raise NotImplementedError

    def drain_first_values(self, into: dict, limit: int) -> int:
        """As :meth:`drain_values`, only the values that are their channel's first on the
        cheap path (since it subscribed, or since :meth:`renew_first_value`); the
        others stay in line. Returns how many (0 without a cheap path)."""
        return 0

    def renew_first_value(self, channel: Any) -> None:
        """The channel's next cheap-path value counts as a first value again (it was
        disconnected: the row waits for it)."""

    # -- paced arrays
    def on_cheap_path(self, channel: Any) -> bool:
        """The channel's updates go through the cheap path now (diagnostics)."""
        raise NotImplementedError

    def announcements_seen(self, channel: Any) -> Optional[int]:
        """Announcements counted for ``channel`` by the cheap path (None: counted by callbacks)."""
        raise NotImplementedError

    def newest_announcement(self, channel: Any, last_stamp: tuple) -> int:
        """NOTHING_NEW (and the next announcement wakes the worker), NEW, or
        NEW_WHILE_ARMING (one arrived just as the source armed the wake-up)."""
        raise NotImplementedError

    def pause_announcements(self, channel: Any) -> None:
        """Stop a paced channel's announcements, keeping what resumes them cheaply."""
        raise NotImplementedError

    def fetch(self, channel: Any) -> Optional[str]:
        """Get the whole newest array (answer: FrameFetched); returns "" when sent, None
        when the channel turned out disconnected (nothing sent, no error: its
        Disconnected event follows), else an error."""
        raise NotImplementedError

    def stamp_of(self, item: Any) -> tuple:
        """``(secs, nsec)`` of an item, for ordering frames."""
        raise NotImplementedError
