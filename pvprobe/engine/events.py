"""Typed events (source callbacks -> worker) and commands (public API -> worker).

Small immutable records dispatched by type; no string tags, no reading by index.
Values themselves do not travel as events: a callback stores the newest value of
a PV in the :class:`~.inbox.Inbox` (coalescing), events are for everything else.
An ``item`` is the source's opaque raw value (for CA: ``(dbr_type, count, bytes)``),
decoded only by the source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, Optional, Union

from ..core.batch import PutResult


class Connected(NamedTuple):
    """A channel connected (or reconnected)."""
    sid: int


class Disconnected(NamedTuple):
    """A channel lost its server."""
    sid: int


class AccessRights(NamedTuple):
    """A channel's access rights changed."""
    sid: int
    read: bool
    write: bool


class GetDone(NamedTuple):
    """A get completed: metadata, a value (read-once, lean refresh) or both (a
    string's metadata get is a value get). ``error`` is "" when it succeeded."""
    sid: int
    item: Any           # the raw value (None on error)
    meta: bool          # carries metadata
    value: bool         # carries a timestamped value
    error: str


class FrameFetched(NamedTuple):
    """The get of a paced array completed (on success its item is already the PV's
    newest value in the inbox). ``error`` is "" when it succeeded or the channel
    merely disconnected."""
    sid: int
    ok: bool
    error: str
    stamp: Optional[tuple]   # (secs, nsec) of the fetched array


class ServerFound(NamedTuple):
    """Which server answers a channel, found apart from its connection (a PVA name
    search): ``host`` is ``"host:port"`` or a text saying it was not found."""
    sid: int
    host: str


class PutDone(NamedTuple):
    """A put with completion callback completed."""
    rid: int
    ok: bool
    error: str


Event = Union[Connected, Disconnected, AccessRights, GetDone, FrameFetched, ServerFound, PutDone]


class AddCmd(NamedTuple):
    """One more use of each name, with what that user needs."""
    names: list
    monitor_arrays: bool
    keep_all: bool
    once: bool
    paced: bool
    light: bool


class RemoveCmd(AddCmd):
    """One use less of each name: the one added with these needs (same fields)."""


class PutCmd(NamedTuple):
    rid: int
    name: str
    value: Any
    timeout: float
    done: Optional[Callable[[PutResult], None]]
    wait: bool


class LeanCmd(NamedTuple):
    enabled: bool


class FrameCmd(NamedTuple):
    name: str


class WatchCmd(NamedTuple):
    owner: str
    names: set


Command = Union[AddCmd, RemoveCmd, PutCmd, LeanCmd, FrameCmd, WatchCmd]
