"""The PVA source's part for channels on the fast path (:mod:`.fast`): their
connections, losses, metadata and values, and leaving the path for a p4p monitor.

A mixin of :class:`~.source.PVASource` (its ``_links``, ``_inbox``, ``_recovery``,
``fast`` and ``_monitor``/``_warn`` are used here); every method runs in the
worker thread.
"""

from __future__ import annotations

from typing import Any, Optional

from ..engine.events import Connected, Disconnected, GetDone
from ..engine.inbox import Inbox
from . import values as pv
from .fast import CONNECTED, DISCONNECTED, ERROR, FINISHED, UNSUITABLE
from .link import BIG_QUEUE, BIG_REQUEST, PREFIX, PVAItem, PVALink


class FastChannels:
    """Fast-path handling for :class:`~.source.PVASource` (see the module)."""

    _links: dict
    _inbox: Optional[Inbox]

    # ------------------------------------------------------------------ opening

    def _open_fast(self, sid: int, link: PVALink, parked: bool = False) -> bool:
        """Start ``link`` as a fast monitor (``parked``: its channel alone, see
        :mod:`.fast`); False: not possible, use p4p."""
        try:
            link.fast = self.fast.open(sid, link.wire, parked)
        except Exception as exc:     # noqa: BLE001  (a bad name, a closed hub)
            self._warn(f"{PREFIX}{link.wire}: fast monitor refused ({exc}); using p4p")
            return False
        return True

    def _leave_fast(self, sid: int, link: PVALink) -> bool:
        """Move ``link`` from its fast monitor to a p4p monitor of the whole structure
        (queued as a big session's; its first update is its connection again when not
        yet connected). False when the p4p monitor could not be made (then it stays)."""
        try:
            link.queue, link.request = BIG_QUEUE, BIG_REQUEST
            link.monitor = self._monitor(sid, link, link.request, quiet=False)
        except Exception as exc:     # noqa: BLE001
            self._warn(f"{PREFIX}{link.wire}: {exc}")
            return False
        self.fast.close(link.fast)
        link.fast = -1
        link.repeat = False
        return True

    # ------------------------------------------------------------------ the worker's part

    def _poll_fast(self, ib: Inbox) -> None:
        """Connections, losses and metadata of the fast monitors."""
        links, sid_of = self._links, self.fast.sid_of
        for slot, code, a, b, meta in self.fast.events():
            sid = sid_of.get(slot)
            link = links.get(sid) if sid is not None else None
            if link is None or link.fast != slot:
                continue
            if code == CONNECTED:
                link.kind = pv.KIND_ENUM if b == "enum" else pv.KIND_SCALAR
                link.fast_type = (a, b)
                link.seq += 1
                link.meta = PVAItem(meta, link.kind, link.seq)    # the first update's metadata
                link.connected = True
                self._recovery.found(sid)
                ib.post(Connected(sid))
            elif code in (DISCONNECTED, FINISHED):
                link.searched = False
                self._recovery.lost(sid)
                if link.connected:
                    link.connected = False
                    ib.post(Disconnected(sid))
                if code == FINISHED:
                    self._warn(f"{PREFIX}{link.wire}: the server ended the subscription")
            elif code == ERROR:
                self._warn(f"{PREFIX}{link.wire}: {a}")
            elif code == UNSUITABLE:     # an array, table, image...: p4p decodes those
                self._leave_fast(sid, link)
        for slot, meta, error in self.fast.metas():
            sid = sid_of.get(slot)
            link = links.get(sid) if sid is not None else None
            if link is None or link.fast != slot:
                continue
            if error:
                ib.post(GetDone(sid, None, False, False, error))
            else:
                ib.post(GetDone(sid, PVAItem(meta, link.kind, link.seq), True, False, ""))

    # ------------------------------------------------------------------ per channel

    def _fast_connection_info(self, channel: Any) -> None:
        link, state = channel.link, channel.state
        tid, code = link.fast_type or ("", "d")
        state.native_type = "ENUM" if code == "enum" else pv.NATIVE_OF_CODE.get(code, "DOUBLE")
        state.type_id = tid or "structure"
        state.max_count = 1

    def _fast_value(self, channel: Any) -> str:
        """get_value of a fast channel: the newest value it holds."""
        link = channel.link
        got = self.fast.take([link.fast], True) if link.connected else []
        if not got:
            return "not connected"
        self._inbox.post(GetDone(channel.sid, got[-1][1], False, True, ""))
        self._wake()
        return ""

    def _fast_first(self, channel: Any) -> None:
        """A new subscription's first event: the newest value at once."""
        got = self.fast.take([channel.link.fast], True)
        if got:
            ib = self._inbox
            with ib.lock:
                ib.latest[channel.sid] = got[-1][1]
            self._wake()

    # ------------------------------------------------------------------ values

    def _into(self, got: list, into: dict) -> int:
        """Drained (slot, FastValue) into ``into`` by sid; a channel whose users now want
        every sample leaves the fast path (its value is kept as the first sample)."""
        sid_of, links, ib = self.fast.sid_of, self._links, self._inbox
        keep_all = ib.keep_all
        for slot, item in got:
            sid = sid_of.get(slot)
            if sid is None:
                continue
            into[sid] = item
            if sid in keep_all:
                with ib.lock:
                    ib.samples.setdefault(sid, []).append(item)
                link = links.get(sid)
                if link is not None and link.fast >= 0:
                    self._leave_fast(sid, link)
        return len(got)

    def updates(self) -> int:
        return self.fast.updates()

    def drain_values(self, into: dict, limit: int) -> int:
        return self._into(self.fast.drain(limit), into)

    def drain_first_values(self, into: dict, limit: int) -> int:
        return self._into(self.fast.drain(limit, True), into)

    def take_values(self, channels: Any, into: dict) -> None:
        slots = [c.link.fast for c in channels if c.link is not None and c.link.fast >= 0]
        if slots:
            self._into(self.fast.take(slots), into)

    def renew_first_value(self, channel: Any) -> None:
        link = channel.link
        if link is not None and link.fast >= 0:
            self.fast.renew(link.fast)

    def on_cheap_path(self, channel: Any) -> bool:
        return channel.link is not None and channel.link.fast >= 0
