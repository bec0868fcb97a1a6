"""Several protocol sources behind one engine: each channel goes to the source its
name's scheme names (``pva://NAME``), bare names to the default source (CA).

Sources other than the default are created on the first channel that needs them
(a CA-only session never loads p4p). Per-channel calls go to the channel's own
source (``channel.source``); per-item calls to the source whose ``item_type`` the
item is; while only the default source is in use, the per-update calls are its
own functions (no dispatch on the hot path).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Optional

from ..core.pvstate import PVState
from .inbox import Inbox
from .needs import Subscription
from .source import Source


def scheme_of(name: str) -> str:
    """``"pva"`` for ``pva://NAME``; ``""`` for a bare name."""
    i = name.find("://")
    return name[:i].lower() if i > 0 else ""


class MuxSource(Source):
    """The default source plus sources made on demand by scheme."""

    def __init__(self, default: Source, factories: dict[str, Callable[[], Source]],
                 default_scheme: str = "ca") -> None:
        self.default = default
        self.default_scheme = default_scheme
        self.factories = dict(factories)
        self.sources: dict[str, Source] = {default_scheme: default}
        self.cheap_updates = default.cheap_updates
        self.lean = False
        self._inbox: Optional[Inbox] = None
        self._wake: Callable[[], None] = lambda: None
        self._others: list[Source] = []
        self._owners: dict[type, Source] = {}
        self._errors: dict[str, str] = {}
        self._turn = 0
        self._direct()

    def _direct(self) -> None:
        """Per-item calls straight to the default source while it is the only one."""
        d = self.default
        if self._others:
            decoders: dict = {}
            for src in self._others:
                own = src.item_decoders()
                decoders.update(own)
                self._owners.update(dict.fromkeys(own, src))
            get, default = decoders.get, d.decode

            def decode(state: PVState, item: Any) -> None:
                """One dict lookup per update (the busiest per-item call)."""
                get(type(item), default)(state, item)
            self.decode = decode                                           # type: ignore[method-assign]
            self.sample = self._sample                                     # type: ignore[method-assign]
            self.apply_meta = self._apply_meta                             # type: ignore[method-assign]
        else:
            self.decode, self.sample, self.apply_meta = d.decode, d.sample, d.apply_meta  # type: ignore[method-assign]

    def source_for(self, scheme: str) -> Source:
        """The source of ``scheme`` (made now if needed); ValueError says why not."""
        scheme = scheme or self.default_scheme
        src = self.sources.get(scheme)
        if src is not None:
            return src
        if scheme in self._errors:
            raise ValueError(self._errors[scheme])
        factory = self.factories.get(scheme)
        if factory is None:
            raise ValueError(f"unknown protocol {scheme!r} (use ca:// or pva://)")
        try:
            src = factory()
        except Exception as exc:
            self._errors[scheme] = f"{scheme}: cannot start its client: {exc}"
            raise ValueError(self._errors[scheme]) from None
        if self._inbox is not None:
            src.bind(self._inbox, self._wake)
        if hasattr(src, "engine_drains"):     # its cheap path is drained only if the default's is
            src.engine_drains = self.cheap_updates
        src.set_lean(self.lean)
        self.sources[scheme] = src
        self._others.append(src)
        self._direct()
        return src

    def _owner(self, item: Any) -> Source:
        return self._owners.get(type(item), self.default)

    # -- set-up and threads
    def bind(self, inbox: Inbox, wake: Callable[[], None]) -> None:
        self._inbox, self._wake = inbox, wake
        for src in self.sources.values():
            src.bind(inbox, wake)

    def worker_thread(self, target: Callable[[], None], name: str) -> threading.Thread:
        return self.default.worker_thread(target, name)

    def close(self) -> None:
        for src in self.sources.values():
            src.close()

    def alive(self) -> bool:
        return self.default.alive()

    def flush(self) -> None:
        self.default.flush()
        for src in self._others:
            src.flush()

    def set_lean(self, enabled: bool) -> None:
        self.lean = enabled
        for src in self.sources.values():
            src.set_lean(enabled)

    def poll(self) -> None:
        for src in self._others:
            src.poll()

    def take_warnings(self) -> list[str]:
        out = self.default.take_warnings()
        for src in self._others:
            out += src.take_warnings()
        return out

    # -- channels
    def create(self, channel: Any) -> None:
        src = self.source_for(scheme_of(channel.name))
        channel.source = src
        src.create(channel)

    def clear(self, channel: Any) -> None:
        channel.source.clear(channel)

    def connection_info(self, channel: Any) -> None:
        channel.source.connection_info(channel)

    def set_watched(self, channel: Any, watched: bool) -> None:
        if channel.source is not None:
            channel.source.set_watched(channel, watched)

    def watch_access(self, channel: Any) -> None:
        channel.source.watch_access(channel)

    def get_meta(self, channel: Any) -> None:
        channel.source.get_meta(channel)

    def get_value(self, channel: Any) -> str:
        return channel.source.get_value(channel)

    def subscribe(self, channel: Any, sub: Subscription) -> str:
        return channel.source.subscribe(channel, sub)

    def unsubscribe(self, channel: Any) -> None:
        if channel.source is not None:
            channel.source.unsubscribe(channel)

    def put(self, channel: Any, native: str, values: list, rid: int, wait: bool) -> tuple[str, Any]:
        return channel.source.put(channel, native, values, rid, wait)

    # -- values
    def _sample(self, state: PVState, item: Any) -> tuple:
        return self._owner(item).sample(state, item)

    def _apply_meta(self, state: PVState, item: Any) -> None:
        self._owner(item).apply_meta(state, item)

    def timestamp_of(self, item: Any) -> float:
        return self._owner(item).timestamp_of(item)

    def stamp_of(self, item: Any) -> tuple:
        return self._owner(item).stamp_of(item)

    def updates(self) -> int:
        n = self.default.updates()
        for src in self._others:
            n += src.updates()
        return n

    def _drain(self, how: str, into: dict, limit: int) -> int:
        """``limit`` values from the sources' cheap paths, shared: each first offered
        an equal part (which goes first alternates), then what others left over."""
        if not self._others:
            return getattr(self.default, how)(into, limit)
        sources = [self.default, *self._others]
        self._turn = (self._turn + 1) % len(sources)
        sources = sources[self._turn:] + sources[:self._turn]
        share = -(-limit // len(sources))
        taken = [getattr(src, how)(into, min(share, limit)) for src in sources]
        n = sum(taken)
        for src, got in zip(sources, taken):
            if n >= limit:
                break
            if got >= share:        # it had more
                n += getattr(src, how)(into, limit - n)
        return n

    def drain_values(self, into: dict, limit: int) -> int:
        return self._drain("drain_values", into, limit)

    def take_values(self, channels: Iterable[Any], into: dict) -> None:
        channels = list(channels)
        for src in self.sources.values():
            mine = [c for c in channels if c.source is src]
            if mine:
                src.take_values(mine, into)

    def drain_first_values(self, into: dict, limit: int) -> int:
        return self._drain("drain_first_values", into, limit)

    def renew_first_value(self, channel: Any) -> None:
        if channel.source is not None:
            channel.source.renew_first_value(channel)

    # -- paced arrays
    def on_cheap_path(self, channel: Any) -> bool:
        return channel.source is not None and channel.source.on_cheap_path(channel)

    def announcements_seen(self, channel: Any) -> Optional[int]:
        return channel.source.announcements_seen(channel)

    def newest_announcement(self, channel: Any, last_stamp: tuple) -> int:
        return channel.source.newest_announcement(channel, last_stamp)

    def pause_announcements(self, channel: Any) -> None:
        channel.source.pause_announcements(channel)

    def fetch(self, channel: Any) -> Optional[str]:
        return channel.source.fetch(channel)
