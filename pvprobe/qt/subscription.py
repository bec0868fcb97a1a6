"""Subscriptions as handles: what one view holds, and the routing of states to it.

A view asks the bridge for names, with what it needs (every sample, whole arrays,
paced frames, one read per connection) and a callback, and gets a
:class:`Subscription`. Its :meth:`~Subscription.close` releases exactly what it
took (one engine remove per add, with the same options), so closing one view never
touches another view's PVs. The :class:`Router` hands each batch's states to the
subscribers of their names: a view gets only its own states, with one dict lookup
per state for the whole batch (not one scan per view).
"""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Optional

from pvprobe.core.pvstate import PVState

log = logging.getLogger(__name__)

#: A subscriber's callback: the states of its names in one batch (GUI thread).
OnStates = Callable[[list[PVState]], None]
_ids = itertools.count(1)


class Subscription:
    """PVs one view holds with one set of options; :meth:`close` gives them back.

    Names may be added and removed while it is open (with the options it was made
    with); a name added twice is held twice. ``on_states`` (None: the view reads
    whole batches itself, e.g. the table) gets the states of its names from each
    batch. With ``watch`` its names are the engine's *watched* set for this handle
    (full updates in lean mode).
    """

    def __init__(self, bridge: Any, on_states: Optional[OnStates], options: dict[str, bool],
                 watch: bool = False) -> None:
        self._bridge = bridge
        self.on_states = on_states
        self.options = dict(options)
        self.watch = watch
        self.owner = f"sub-{next(_ids)}"
        self._held: Counter[str] = Counter()
        self._closed = False

    # -- what it holds ---------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        """The names held, once each (in the order first added)."""
        return list(self._held)

    def held(self) -> list[str]:
        """The names held, each as many times as it was added."""
        return list(self._held.elements())

    @property
    def closed(self) -> bool:
        return self._closed

    def __contains__(self, name: str) -> bool:
        return name in self._held

    def __len__(self) -> int:
        return len(self._held)

    # -- changing it -----------------------------------------------------------------
    def add(self, names: Iterable[str]) -> None:
        """Hold ``names`` too (one more use of each), with this handle's options."""
        if self._closed:
            raise RuntimeError("subscription is closed")
        names = list(names)
        if not names:
            return
        new = [n for n in names if n not in self._held]
        self._held.update(names)
        self._bridge.add(names, **self.options)
        self._changed(new, [])

    def remove(self, names: Iterable[str]) -> None:
        """Give back one use of each of ``names`` this handle holds (others are ignored)."""
        gone: list[str] = []
        released: list[str] = []
        for n in names:
            if self._held.get(n, 0) > 0:
                self._held[n] -= 1
                released.append(n)
                if not self._held[n]:
                    del self._held[n]
                    gone.append(n)
        if released:
            self._bridge.remove(released, **self.options)
            self._changed([], gone)

    def set_names(self, names: Iterable[str]) -> None:
        """Hold exactly ``names`` (once each): adds what is new, removes what is gone."""
        want = list(dict.fromkeys(names))
        wanted = set(want)
        extra = [n for n, k in self._held.items() for _ in range(k - 1 if n in wanted else k)]
        self.remove(extra)
        self.add([n for n in want if n not in self._held])

    def close(self) -> None:
        """Release everything this handle took (idempotent)."""
        if self._closed:
            return
        held = list(self._held.elements())
        gone = list(self._held)
        self._held.clear()
        self._closed = True
        if held:
            self._bridge.remove(held, **self.options)
        self._changed([], gone)
        if self.watch:
            self._bridge.watch(self.owner, [])

    def _changed(self, new: list[str], gone: list[str]) -> None:
        router: Optional[Router] = getattr(self._bridge, "router", None)
        if router is not None and self.on_states is not None and (new or gone):
            router.update(self, new, gone)
        if self.watch and (new or gone) and not self._closed:
            self._bridge.watch(self.owner, set(self._held))

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._held)} names"
        return f"<Subscription {self.owner} {self.options} {state}>"


class Router:
    """name -> the callbacks that want its states; hands each batch out by name."""

    def __init__(self) -> None:
        self._subs: dict[str, list[Subscription]] = {}
        #: name -> distinct callbacks (a view holding one name in two handles gets it once)
        self._routes: dict[str, tuple[OnStates, ...]] = {}
        self.errors = 0

    def update(self, sub: Subscription, new: Iterable[str], gone: Iterable[str]) -> None:
        for n in new:
            self._subs.setdefault(n, []).append(sub)
            self._route(n)
        for n in gone:
            subs = self._subs.get(n)
            if subs and sub in subs:
                subs.remove(sub)
            self._route(n)

    def _route(self, name: str) -> None:
        subs = self._subs.get(name)
        if not subs:
            self._subs.pop(name, None)
            self._routes.pop(name, None)
            return
        self._routes[name] = tuple(dict.fromkeys(s.on_states for s in subs))

    def __bool__(self) -> bool:
        return bool(self._routes)

    def names(self) -> set[str]:
        """Every name some subscriber gets states for."""
        return set(self._routes)

    def dispatch(self, states: list[PVState]) -> None:
        """Give every subscriber the states of its names (one dict lookup per state)."""
        routes = self._routes
        if not routes:
            return
        out: dict[OnStates, list[PVState]] = {}
        get = routes.get
        for st in states:
            cbs = get(st.name)
            if cbs is not None:
                for cb in cbs:
                    got = out.get(cb)
                    if got is None:
                        out[cb] = [st]
                    else:
                        got.append(st)
        for cb, mine in out.items():
            try:
                cb(mine)
            except Exception:   # a broken view must not stall the others
                self.errors += 1
                log.exception("subscriber %r failed", cb)


__all__ = ["OnStates", "Router", "Subscription"]
