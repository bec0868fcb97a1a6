"""Where the names the operator can complete come from, and globs in the add box:
plain Python, no Qt (the window's wiring is :mod:`pvprobe.qt.app.name_finder`).

Sources fed into one :class:`~pvprobe.core.name_index.NameIndex`:

- ``history``: names used before (:class:`~pvprobe.core.name_history.NameHistory`):
  every name added to a table, probed or opened as an image; saved atomically, at
  most every :data:`SAVE_EVERY` seconds and at close;
- ``tabs``: the names of the open tabs, kept current as rows come and go;
- ``gateway:PREFIX``: the channels a p4p gateway serves (its ``PREFIXcache``
  string array, which it posts every 30 s; a name counts once two posts in a row
  list it, see :meth:`NameSources.set_gateway_cache`), as ``pva://`` keys.

- ``server-list:HOST:PORT``: the channels a pvxs server lists itself (its built-in
  ``server`` PV: p4p servers and gateways, QSRV2 IOCs), as ``pva://`` keys; the servers
  are those a discovery ping finds and those of PVA PVs already connected
  (:meth:`NameSources.set_server_lists`; gathered by :mod:`pvprobe.pva.channel_lists`).

Gateway status prefixes come from ``--gateway-status`` (:func:`set_cli_gateways`),
``$PVPROBE_GATEWAYS`` (spaces or commas) and the settings file
(``gateway_status`` under ``[names]``, one per line), in that order.

A ChannelFinder directory would be one more source (``set_source("cf", names)``
from a query of the service named by ``EPICS_CF_URL``); it is not built: no
ChannelFinder server can run here to test against.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Optional, Union

from .name_history import NameHistory
from .name_index import NameIndex, is_glob
from .pvnames import pv_name_error

#: Environment variable: gateway status prefixes (``GW:`` or ``GW1: GW2:``).
GATEWAY_ENV = "PVPROBE_GATEWAYS"
#: Seconds between history writes while names keep being used.
SAVE_EVERY = 5.0
#: A glob adding more rows than this at once is refused (narrow the pattern).
MAX_GLOB_ADD = 5000
#: The index source of a server's own channel list is this plus its ``host:port``.
SERVER_SOURCE = "server-list:"
#: A server address as the PVA source reports it (``state.host``).
HOST_PORT = re.compile(r"^[A-Za-z0-9_.\-]+:\d{1,5}$")
#: The status PVs of a p4p gateway (``python -m p4p.gw``), after its prefix.
GATEWAY_STATUS = ("clients", "cache", "stats", "StatsTime",
                  "us:bypv:rx", "us:bypv:tx", "ds:bypv:rx", "ds:bypv:tx",
                  "us:byhost:rx", "us:byhost:tx", "ds:byhost:rx", "ds:byhost:tx")
#: Those the gateway status view also opens as probes (structure and rate tables).
GATEWAY_PROBES = ("stats", "us:bypv:rx", "ds:byhost:rx")

_cli_gateways: list[str] = []


def set_cli_gateways(prefixes: Iterable[str]) -> None:
    """``--gateway-status PREFIX`` (repeatable) for this run."""
    _cli_gateways[:] = [p for p in prefixes if p]


def gateway_prefix_error(prefix: str) -> Optional[str]:
    """Why ``prefix`` cannot be a gateway status prefix, or None."""
    if not prefix:
        return "empty prefix"
    if "://" in prefix:
        return "give the prefix without a scheme (the status PVs are pvAccess)"
    return pv_name_error(prefix + "cache")


def gateway_prefixes(settings_lines: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """(the configured gateway status prefixes, problems): command line, then
    ``$PVPROBE_GATEWAYS``, then the settings; duplicates and bad ones left out."""
    given = list(_cli_gateways) + re.split(r"[\s,]+", os.environ.get(GATEWAY_ENV, "")) + list(settings_lines)
    out: list[str] = []
    problems: list[str] = []
    for p in (g.strip() for g in given):
        if not p or p in out:
            continue
        why = gateway_prefix_error(p)
        if why:
            problems.append(f"gateway status prefix {p[:60]!r} ignored: {why}")
        else:
            out.append(p)
    return out, problems


def gateway_status_names(prefix: str) -> list[str]:
    """The engine keys of a gateway's status PVs."""
    return [f"pva://{prefix}{s}" for s in GATEWAY_STATUS]


def server_lists_summary(lists: Mapping[str, Union[list[str], str]], problem: str = "") -> str:
    """"Server channel lists: N names from K servers; HOST:PORT: why not; ..."."""
    good = {s: v for s, v in lists.items() if isinstance(v, list)}
    bad = {s: v for s, v in lists.items() if isinstance(v, str)}
    n = len({name for names in good.values() for name in names})
    text = (f"Server channel lists: {n:,} name{'' if n == 1 else 's'} from {len(good)} "
            f"server{'' if len(good) == 1 else 's'}")
    if not lists and not problem:
        text += " (no pvAccess server answered a discovery ping)"
    parts = [problem] if problem else []
    parts += [f"{s}: {why}" for s, why in sorted(bad.items())[:5]]
    if len(bad) > 5:
        parts.append(f"{len(bad) - 5} more servers gave no list")
    return "; ".join([text] + parts)


def cache_key(prefix: str) -> str:
    return f"pva://{prefix}cache"


@dataclass
class GlobResult:
    """What the globs typed in the add box select: ``names`` to add (empty when
    refused), ``message`` for the status bar, ``kept`` the tokens left in the box."""

    names: list[str] = field(default_factory=list)
    message: str = ""
    kept: list[str] = field(default_factory=list)
    #: The tokens that are not globs (names as typed, to be read as such).
    plain: list[str] = field(default_factory=list)


class NameSources:
    """The name index with its sources, the history and the gateways' caches."""

    def __init__(self, history: NameHistory, index: Optional[NameIndex] = None) -> None:
        self.history = history
        self.index = index if index is not None else NameIndex()
        self.index.set_source("history", history.names())
        self._gateways: dict[str, set[str]] = {}     # prefix -> bare names it serves
        self._posts: dict[str, set[str]] = {}        # prefix -> its last cache post
        self.server_problems: dict[str, str] = {}        # host:port -> why no list
        self._server_lists: dict[str, list[str]] = {}    # host:port -> its last list
        self._last_save = 0.0
        self._unsaved = False
        self.save_error = ""

    # -- history ------------------------------------------------------------------------
    @property
    def unsaved(self) -> bool:
        """Names remembered since the last write."""
        return self._unsaved

    @property
    def problems(self) -> list[str]:
        return list(self.history.problems)

    def remember(self, names: Iterable[str]) -> int:
        """Note names as used now (history and index); how many were good names."""
        names = [n.strip() for n in names if n and n.strip() and not is_glob(n)]
        n = self.history.remember(names)
        if n:
            self.index.add("history", names)
            self._unsaved = True
        return n

    def save_due(self, now: Optional[float] = None) -> bool:
        """Unsaved names and the last write at least :data:`SAVE_EVERY` s ago."""
        now = time.monotonic() if now is None else now
        return self._unsaved and now - self._last_save >= SAVE_EVERY

    def save(self) -> str:
        """Write the history now; returns "" or why it could not be written."""
        self._last_save = time.monotonic()
        try:
            self.history.save()
            self._unsaved = False
            self.save_error = ""
        except OSError as exc:
            self.save_error = f"name history {self.history.path} not saved: {exc.strerror or exc}"
        return self.save_error

    # -- tabs ---------------------------------------------------------------------------
    def set_tabs(self, names: Iterable[str]) -> None:
        self.index.set_source("tabs", names)

    # -- gateways -----------------------------------------------------------------------
    def set_gateway_cache(self, prefix: str, names: Iterable[str]) -> None:
        """One post of gateway ``prefix``'s ``cache`` PV (bare names). The cache also
        holds names the gateway is still searching for upstream (any client's search,
        found or not): those are dropped by its next sweep unless a client holds them
        through it. So a name counts as served through the gateway only when two
        posts in a row list it (the gateway posts every 30 s)."""
        bare = {str(n).strip() for n in names if n and str(n).strip()}
        previous = self._posts.get(prefix)
        self._posts[prefix] = bare
        if previous is None:
            return
        confirmed = bare & previous
        self._gateways[prefix] = confirmed
        self.index.set_source(f"gateway:{prefix}", (f"pva://{n}" for n in confirmed))

    def gateway_of(self, key: str) -> Optional[str]:
        """The prefix of a gateway whose cache lists the PVA key ``pva://NAME``, or None."""
        if not key.startswith("pva://"):
            return None
        bare = key[len("pva://"):]
        for prefix, names in self._gateways.items():
            if bare in names:
                return prefix
        return None

    # -- servers' own channel lists ------------------------------------------------------
    def set_server_lists(self, lists: Mapping[str, Union[list[str], str]], problem: str = "") -> str:
        """One refresh of the servers' channel lists: ``{host:port: names or why not}``.
        Servers that answered replace what they listed before; the others (refused, no
        answer, gone) are dropped. Returns the summary for the status bar."""
        self.server_problems = {}
        for server, got in lists.items():
            if isinstance(got, str):
                self.server_problems[server] = got
        for server in list(self._server_lists):
            if not isinstance(lists.get(server), list):
                del self._server_lists[server]
                self.index.drop_source(SERVER_SOURCE + server)
        for server, got in lists.items():
            # the same list again (the usual refresh): nothing to do (100,000 names
            # made into keys again would hold the GUI thread ~0.1 s)
            if isinstance(got, list) and self._server_lists.get(server) != got:
                self._server_lists[server] = list(got)
                self.index.set_source(SERVER_SOURCE + server, (f"pva://{n}" for n in got))
        return server_lists_summary(lists, problem)

    def server_names(self, server: str) -> list[str]:
        """The bare names ``server`` (``host:port``) listed at the last refresh."""
        return sorted(n[len("pva://"):] for n in self.index.names(SERVER_SOURCE + server))

    def server_hosts(self, states: Iterable[object]) -> list[str]:
        """The ``host:port`` of the PVA PVs in ``states`` whose server a search found."""
        out = {st.host for st in states
               if getattr(st, "protocol", "") == "pva" and HOST_PORT.match(getattr(st, "host", "") or "")}
        return sorted(out)

    # -- globs --------------------------------------------------------------------------
    def expand(self, text: str, shown: Iterable[str] = (), limit: int = MAX_GLOB_ADD) -> Optional[GlobResult]:
        """The names the globs in ``text`` select, with the other tokens as typed; None
        when ``text`` holds no glob. Refused (nothing added) when a glob matches no known
        name or more than ``limit`` names not shown yet."""
        tokens = [t for t in re.split(r"[\s,]+", text) if t]
        globs = [t for t in tokens if is_glob(t)]
        if not globs:
            return None
        plain = [t for t in tokens if not is_glob(t)]
        have = set(shown)
        out: list[str] = []
        parts: list[str] = []
        for g in globs:
            hits = self.index.glob(g, limit=10 * limit + 1)
            new = [h for h in hits if h not in have and h not in out]
            if not hits:
                return GlobResult(message=f"Not added: no known name matches {g!r} ({len(self.index)} "
                                          f"names known from the history, the tabs and gateways)",
                                  kept=tokens)
            if len(new) > limit:
                many = f"more than {10 * limit:,}" if len(hits) > 10 * limit else f"{len(new):,}"
                return GlobResult(message=f"Not added: {g!r} matches {many} names, more than {limit:,} "
                                          f"at once; narrow the pattern", kept=tokens)
            out.extend(new)
            already = len(hits) - len(new)
            parts.append(f"{len(hits)} matching {g!r}" + (f" ({already} already shown)" if already else ""))
        return GlobResult(names=out, message="; ".join(parts), plain=plain)
