"""Which server answers a PVA channel, and what it is: the PVA source's part that
starts name searches (:mod:`.finder`) for the channels a view watches and asks a
paced channel's server whether it does flow control (:mod:`.flow`).

A mixin of :class:`~.source.PVASource` (its ``_ctx``, ``_links``, ``_inbox``,
``finder``, ``flow``, ``_swap`` and ``_wake`` are used here).
"""

from __future__ import annotations

from typing import Any, Optional

from ..engine.events import ServerFound
from .flow import FLOW_OPTIONS


class ServerChecks:
    """Server search and flow-control checks for :class:`~.source.PVASource`."""

    def _client_conf(self) -> Optional[dict]:
        """The client context's effective configuration (EPICS_PVA_ADDR_LIST with pvxs's
        broadcast addresses when auto), so the search goes where the client searches."""
        conf = getattr(self._ctx, "conf", None)
        try:
            return dict(conf()) if callable(conf) else None
        except Exception:
            return None

    def _search(self, channel: Any) -> None:
        link = channel.link
        link.searched = True
        self.finder.ask(channel.sid, link.wire)

    def _server_found(self, sid: int, host: str) -> None:
        """The finder's answer (its thread): an event for the worker; for a paced
        channel, whether that server does flow control (.flow)."""
        link = self._links.get(sid)
        if link is not None and link.pull and not link.flow and ":" in host and self.flow.enabled:
            self.flow.ask(sid, host)
        if not self._closing and self._inbox is not None:
            self._inbox.post(ServerFound(sid, host))
            self._wake()

    def _flow_answer(self, sid: int, host: str, yes: bool) -> None:
        """A paced channel's server does flow control: its monitor asks for it."""
        link = self._links.get(sid)
        if not yes or link is None or not link.pull or link.flow or link.monitor is None:
            return
        if self._swap(sid, link, FLOW_OPTIONS, quiet=False):
            link.flow = True

