"""Which server answers the channels a view shows: name searches (:mod:`.search`) in a
thread of their own, so neither the engine's worker nor the GUI waits for them.

The PVA source asks once per connection of a watched channel (the probe, the compare
panel, the table's visible rows); the answer comes back as a
:class:`~pvprobe.engine.events.ServerFound` event. Requests that queue up while a
search runs go out together in the next one (one message holds many names).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Optional

from ..core.protocol_text import SERVER_NOT_FOUND
from .search import SearchError, find_servers

log = logging.getLogger(__name__)

#: How long one search waits for answers (s).
SEARCH_TIMEOUT = 1.0


class ServerFinder:
    """Searches for the server of each channel asked, in a daemon thread started at the
    first request; ``post(sid, host)`` receives each answer (``host:port`` or
    :data:`SERVER_NOT_FOUND`). ``conf`` gives the client's configuration (the
    EPICS_PVA_* keys; None: the environment at the time of the search)."""

    def __init__(self, post: Callable[[int, str], None],
                 conf: Optional[Callable[[], Optional[Mapping[str, str]]]] = None,
                 timeout: float = SEARCH_TIMEOUT) -> None:
        self._post = post
        self._conf = conf or (lambda: None)
        self.timeout = timeout
        self._asked: dict[int, str] = {}
        self._cv = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._closed = False
        self.searches = 0           # searches made (one per batch of names)

    def ask(self, sid: int, name: str) -> None:
        """Search for the server of channel ``sid`` (``name`` without ``pva://``)."""
        with self._cv:
            if self._closed:
                return
            self._asked[sid] = name
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="pvprobe-pva-search",
                                                daemon=True)
                self._thread.start()
            self._cv.notify()

    def forget(self, sid: int) -> None:
        """Channel ``sid`` went: not searched for if still waiting."""
        with self._cv:
            self._asked.pop(sid, None)

    def close(self) -> None:
        """No more searches; a running one ends within its timeout, unposted."""
        with self._cv:
            self._closed = True
            self._asked.clear()
            self._cv.notify()

    def _take(self) -> Optional[dict[int, str]]:
        with self._cv:
            while not self._asked and not self._closed:
                self._cv.wait()
            if self._closed:
                return None
            asked, self._asked = self._asked, {}
            return asked

    def _run(self) -> None:
        while True:
            asked = self._take()
            if asked is None:
                return
            answers = self._search(set(asked.values()))
            self.searches += 1
            with self._cv:
                if self._closed:
                    return
            for sid, name in asked.items():
                self._post(sid, answers.get(name) or SERVER_NOT_FOUND)

    def _search(self, names: set[str]) -> dict[str, Optional[str]]:
        try:
            return find_servers(sorted(names), self.timeout, self._conf())
        except SearchError as exc:
            log.warning("pvAccess server search: %s", exc)
            return {n: f"not searched: {exc}" for n in names}
        except Exception as exc:        # a socket that cannot be opened: say so, go on
            log.warning("pvAccess server search failed: %s", exc)
            return {n: f"search failed: {exc}" for n in names}
