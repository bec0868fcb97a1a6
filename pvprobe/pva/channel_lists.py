"""The channel lists pvAccess servers publish, gathered in a thread of their own so
neither the GUI nor the engine's worker waits: a discovery ping finds the servers where
a client searches (:func:`.search.discover_servers`), the servers of PVs already found
are added, and each is asked for its list (:func:`.server_list.list_channels`, a few
at a time, each bounded by its timeout). Plain sockets: no p4p, no Qt.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Optional, Union

from .search import SearchError, discover_servers
from .server_list import ServerListError, list_channels, parse_server

log = logging.getLogger(__name__)

#: Seconds a discovery ping waits for answers.
DISCOVER_TIMEOUT = 1.0
#: Seconds one server may take to give its list.
LIST_TIMEOUT = 3.0
#: Servers asked at once.
PARALLEL = 8
#: Servers asked at most per refresh (a discovery on a big network may find hundreds).
MAX_SERVERS = 200


@dataclass
class ListsResult:
    """One refresh: per server (``host:port``) its names or why there are none;
    ``problem`` says what went wrong before any server was asked (discovery)."""

    lists: dict[str, Union[list[str], str]] = field(default_factory=dict)
    problem: str = ""
    discovered: list[str] = field(default_factory=list)


def gather(extra: Iterable[str] = (), env: Optional[Mapping[str, str]] = None,
           discover: bool = True, discover_timeout: float = DISCOVER_TIMEOUT,
           list_timeout: float = LIST_TIMEOUT) -> ListsResult:
    """Discover the servers (unless ``discover`` is False), add ``extra`` servers
    (``host:port``; bad entries reported), and get each one's channel list. Bounded:
    about ``discover_timeout`` + ``list_timeout`` × ceil(servers / PARALLEL) s."""
    out = ListsResult()
    servers: list[str] = []
    if discover:
        try:
            out.discovered = discover_servers(discover_timeout, env)
            servers += out.discovered
        except SearchError as exc:
            out.problem = f"no discovery: {exc}"
        except OSError as exc:
            out.problem = f"discovery failed: {exc}"
    for s in extra:
        try:
            parse_server(s)
        except ServerListError as exc:
            out.lists[s] = str(exc)
            continue
        servers.append(s.strip())
    servers = list(dict.fromkeys(servers))[:MAX_SERVERS]
    if not servers:
        return out
    with ThreadPoolExecutor(min(PARALLEL, len(servers)), thread_name_prefix="pvprobe-pva-list") as pool:
        for server, got in zip(servers, pool.map(lambda s: _one(s, list_timeout), servers)):
            out.lists[server] = got
    return out


def _one(server: str, timeout: float) -> Union[list[str], str]:
    try:
        return list_channels(server, timeout)
    except ServerListError as exc:
        return str(exc)
    except Exception as exc:       # whatever else a socket does: said, the others go on
        log.warning("channel list of %s: %s", server, exc)
        return f"failed: {exc}"


class ServerLists:
    """Refreshes in a daemon thread, one at a time: :meth:`refresh` while one runs is
    dropped (returns False). ``post(result)`` is called from that thread."""

    def __init__(self, env: Optional[Callable[[], Optional[Mapping[str, str]]]] = None) -> None:
        self._env = env or (lambda: None)
        self._lock = threading.Lock()
        self._running = False
        self.refreshes = 0

    @property
    def running(self) -> bool:
        return self._running

    def refresh(self, post: Callable[[ListsResult], None], extra: Iterable[str] = (),
                discover: bool = True) -> bool:
        """Start one refresh (discovery plus ``extra`` servers); False if one runs."""
        with self._lock:
            if self._running:
                return False
            self._running = True
        extra = list(extra)

        def run() -> None:
            try:
                result = gather(extra, self._env(), discover)
            except Exception as exc:        # never leave the flag set
                log.warning("server channel lists: %s", exc)
                result = ListsResult(problem=f"failed: {exc}")
            finally:
                with self._lock:
                    self._running = False
                    self.refreshes += 1
            post(result)

        threading.Thread(target=run, name="pvprobe-pva-lists", daemon=True).start()
        return True
