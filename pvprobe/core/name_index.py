"""Known PV names, for completing what the operator types: plain Python, no Qt.

Names come from several places (the history file, the open tabs and lists, the
channel lists servers and gateways publish); each place keeps its own set and
the index answers over all of them:

- :meth:`NameIndex.complete`: names starting with what was typed (binary search in
  one sorted list: about 20 µs for 100,000 names), then, if those are few, names
  containing it (a scan: a few ms for 100,000); each at most ``limit``;
- :meth:`NameIndex.glob`: every name matching a shell pattern (``SR*:BPM?:X``),
  for adding many at once.

Names are engine keys (``NAME`` for CA, ``pva://NAME`` for PVA, see
:func:`pvprobe.core.pvnames.strip_scheme`); a typed prefix matches both the bare
name and its ``pva://`` form, so typing ``SR:`` offers PVA names too.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from collections.abc import Iterable

PVA = "pva://"
#: New names inserted one by one up to this many; more are sorted with the rest.
INSERT_MAX = 2000


class NameIndex:
    """Names by source; completion and glob over all of them."""

    def __init__(self) -> None:
        self._sources: dict[str, set[str]] = {}
        self._sorted: list[str] = []      # bare names (no pva://), sorted, no duplicates
        self._pva: set[str] = set()       # bare names known over PVA
        self._ca: set[str] = set()        # bare names known over CA (or bare)
        self._dirty = False

    def __len__(self) -> int:
        self._rebuild()
        return len(self._sorted)

    def set_source(self, source: str, names: Iterable[str]) -> None:
        """Replace what ``source`` knows (e.g. "history", "tab:Main", "server:...")."""
        new = {n.strip() for n in names if n and n.strip()}
        old = self._sources.get(source) or set()
        if old != new:
            self._sources[source] = new
            self._remove(old - new)
            self._insert(new - old)

    def drop_source(self, source: str) -> None:
        self._remove(self._sources.pop(source, set()))

    def add(self, source: str, names: Iterable[str]) -> None:
        """Add names to what ``source`` knows."""
        known = self._sources.setdefault(source, set())
        fresh = {n.strip() for n in names if n and n.strip()} - known
        known.update(fresh)
        self._insert(fresh)

    @staticmethod
    def _form(name: str) -> tuple[str, bool]:
        """(bare name, known over PVA)."""
        if name.startswith(PVA):
            return name[len(PVA):], True
        return (name[5:] if name.startswith("ca://") else name), False

    def _one_by_one(self, names: set[str]) -> bool:
        """Whether a change of these names goes into the sorted list one by one (few,
        and the list is in order); else the list is sorted again at the next query."""
        if not names:
            return False
        if self._dirty or len(names) > INSERT_MAX:
            self._dirty = True
            return False
        return True

    def _remove(self, names: set[str]) -> None:
        """Names a source no longer holds: out of the sorted list one by one while they
        are few and no other source holds them, else sort later."""
        if not self._one_by_one(names):
            return
        for n in names:
            bare, pva = self._form(n)
            forms = (PVA + bare,) if pva else (bare, "ca://" + bare)
            if any(f in src for src in self._sources.values() for f in forms):
                continue
            (self._pva if pva else self._ca).discard(bare)
            if bare not in self._pva and bare not in self._ca:
                i = bisect.bisect_left(self._sorted, bare)
                if i < len(self._sorted) and self._sorted[i] == bare:
                    del self._sorted[i]

    def _insert(self, names: set[str]) -> None:
        """Names new to a source: into the sorted list one by one while they are few
        (a keystroke must not wait for sorting 100,000 names again), else sort later."""
        if not self._one_by_one(names):
            return
        for n in names:
            bare, pva = self._form(n)
            if bare not in self._pva and bare not in self._ca:
                bisect.insort(self._sorted, bare)
            (self._pva if pva else self._ca).add(bare)

    def names(self, source: str) -> set[str]:
        """What ``source`` holds (a copy; empty for an unknown source)."""
        return set(self._sources.get(source, ()))

    def sources(self) -> dict[str, int]:
        """How many names each source holds."""
        return {k: len(v) for k, v in self._sources.items()}

    def _rebuild(self) -> None:
        if not self._dirty:
            return
        pva: set[str] = set()
        ca: set[str] = set()
        for names in self._sources.values():
            for n in names:
                if n.startswith(PVA):
                    pva.add(n[len(PVA):])
                else:
                    ca.add(n[5:] if n.startswith("ca://") else n)
        self._pva, self._ca = pva, ca
        self._sorted = sorted(pva | ca)
        self._dirty = False

    def _keys(self, bare: str, want_pva: bool | None) -> list[str]:
        """The engine keys of a bare name (CA, PVA or both as known)."""
        out = []
        if want_pva is not True and bare in self._ca:
            out.append(bare)
        if want_pva is not False and bare in self._pva:
            out.append(PVA + bare)
        return out

    @staticmethod
    def _split(typed: str) -> tuple[str, bool | None]:
        """(bare prefix, protocol asked: True PVA, False CA, None either)."""
        t = typed.strip()
        low = t.lower()
        if low.startswith(PVA):
            return t[len(PVA):], True
        if low.startswith("ca://"):
            return t[5:], False
        return t, None

    def complete(self, typed: str, limit: int = 50) -> list[str]:
        """Names starting with ``typed`` (sorted), then names containing it, as engine
        keys; at most ``limit``. Nothing for an empty text."""
        self._rebuild()
        prefix, want_pva = self._split(typed)
        if not prefix:
            return []
        names = self._sorted
        out: list[str] = []
        i = bisect.bisect_left(names, prefix)
        while i < len(names) and names[i].startswith(prefix) and len(out) < limit:
            out.extend(self._keys(names[i], want_pva))
            i += 1
        if len(out) < limit and len(prefix) >= 2:
            seen = set(out)
            for n in names:
                if prefix in n and not n.startswith(prefix):
                    for k in self._keys(n, want_pva):
                        if k not in seen:
                            out.append(k)
                    if len(out) >= limit:
                        break
        return out[:limit]

    def glob(self, pattern: str, limit: int = 100000) -> list[str]:
        """Every name matching the shell pattern (``*``, ``?``, ``[...]``), as engine
        keys, sorted; a pattern without wildcards matches nothing (use it as a name)."""
        self._rebuild()
        pat, want_pva = self._split(pattern)
        if not is_glob(pat):
            return []
        rx = re.compile(fnmatch.translate(pat))
        # names share the literal head of the pattern: search only from there
        head = re.split(r"[*?\[]", pat, maxsplit=1)[0]
        names = self._sorted
        i = bisect.bisect_left(names, head)
        out: list[str] = []
        while i < len(names) and names[i].startswith(head) and len(out) < limit:
            if rx.match(names[i]):
                out.extend(self._keys(names[i], want_pva))
            i += 1
        return out[:limit]


def is_glob(text: str) -> bool:
    """The text is a shell pattern (has ``*``, ``?`` or ``[``)."""
    return any(c in text for c in "*?[")
