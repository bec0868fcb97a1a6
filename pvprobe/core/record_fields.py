"""The common fields of the record behind a PV, per record type, and their discovery.

The record type (``.RTYP``) chooses the candidate fields; a candidate that never
connects (the IOC does not serve that field, or the server is no IOC at all) is
dropped quietly, never shown as an error. Plain Python: no Qt, no epics. The
engine is reached through a ``read`` callable (CLI) or add/remove lists (GUI).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Optional

from .pvstate import PVState

#: Fields every record has (dbCommon), in display order.
COMMON = ("DESC", "RTYP", "SCAN", "PINI", "PROC", "DISV", "DISA")
_EGU = ("EGU", "HOPR", "LOPR")
_ALARMS = ("HIHI", "HIGH", "LOW", "LOLO", "HHSV", "HSV", "LSV", "LLSV")
_IN = ("INP",)
_OUT = ("OUT", "DOL")

#: Display order of every field this module knows.
FIELD_ORDER = ("DESC", "RTYP", "SCAN", "PINI", "PROC", "DISV", "DISA", "EGU", "HOPR", "LOPR",
               "HIHI", "HIGH", "LOW", "LOLO", "HHSV", "HSV", "LSV", "LLSV", "INP", "DOL", "OUT",
               "CALC")

#: Candidate fields by record type (EPICS base 7 record definitions). Types not listed
#: get every field of FIELD_ORDER as candidates; the missing ones never connect.
RECORD_FIELDS: dict[str, tuple[str, ...]] = {
    "ai": _EGU + _ALARMS + _IN,
    "ao": _EGU + _ALARMS + _OUT,
    "bi": _IN,
    "bo": _OUT,
    "mbbi": _IN,
    "mbbo": _OUT,
    "mbbiDirect": _IN,
    "mbboDirect": _OUT,
    "longin": _EGU + _ALARMS + _IN,
    "longout": _EGU + _ALARMS + _OUT,
    "int64in": _EGU + _ALARMS + _IN,
    "int64out": _EGU + _ALARMS + _OUT,
    "stringin": _IN,
    "stringout": _OUT,
    "lsi": _IN,
    "lso": _OUT,
    "calc": _EGU + _ALARMS + ("CALC",),
    "calcout": _EGU + _ALARMS + ("CALC", "OUT"),
    "sel": _EGU + _ALARMS,
    "sub": _EGU + _ALARMS,
    "dfanout": _EGU + _ALARMS + ("DOL",),
    "waveform": _EGU + _IN,
    "aai": _EGU + _IN,
    "aao": _EGU + _OUT,
    "subArray": _EGU + _IN,
    "compress": _EGU + _IN,
    "event": _IN,
    "printf": ("OUT",),
    "fanout": (),
    "seq": (),
    "aSub": (),
    "histogram": (),
    "permissive": (),
    "state": (),
}

#: Fields no client can change (the IOC refuses the put); shown read-only.
READ_ONLY_FIELDS = frozenset({"RTYP"})

#: One-line meaning of each field (tooltips, reports).
FIELD_HELP: dict[str, str] = {
    "DESC": "description", "RTYP": "record type", "SCAN": "scan mechanism / period",
    "PINI": "process at IOC init", "PROC": "write 1 to process the record",
    "DISV": "disable value (record disabled when DISA = DISV)", "DISA": "disable",
    "EGU": "engineering units", "HOPR": "high operating (display) range",
    "LOPR": "low operating (display) range", "HIHI": "hihi alarm limit", "HIGH": "high alarm limit",
    "LOW": "low alarm limit", "LOLO": "lolo alarm limit", "HHSV": "hihi severity",
    "HSV": "high severity", "LSV": "low severity", "LLSV": "lolo severity",
    "INP": "input link", "DOL": "desired output link", "OUT": "output link",
    "CALC": "calculation expression",
}


def record_name(pv: str) -> str:
    """The record part of a PV name: ``rec.VAL`` and ``rec`` both give ``rec``."""
    return pv.split(".", 1)[0]


def field_pv(pv: str, fld: str) -> str:
    return f"{record_name(pv)}.{fld}"


def field_of(pv: str) -> str:
    """``rec.DESC`` -> ``DESC``; a name without a field gives ``""``."""
    return pv.split(".", 1)[1] if "." in pv else ""


def candidate_fields(rtyp: Optional[str]) -> tuple[str, ...]:
    """The fields to try for a record of type ``rtyp`` (all of them if unknown), in display order."""
    extra = RECORD_FIELDS.get(rtyp or "")
    if extra is None:
        return FIELD_ORDER
    wanted = set(COMMON) | set(extra)
    return tuple(f for f in FIELD_ORDER if f in wanted)


def never_found(state: PVState) -> bool:
    """True when a field PV was searched for and nobody answered (it does not exist)."""
    return not state.ever_connected and bool(state.error)


@dataclass
class FieldDiscovery:
    """Which fields of one record exist, learned from the states of the field PVs.

    Start with :meth:`initial` (the ``.RTYP`` PV); feed every state of the field PVs
    to :meth:`update`, which says which PVs to add next (the candidates for that
    record type) and which to remove (the ones never found). ``fields`` holds the
    newest state of each present field, in display order via :meth:`present`.
    """

    pv: str
    rtyp: Optional[str] = None
    #: "" while looking; "no record fields: ..." when the server has no RTYP.
    problem: str = ""
    fields: dict[str, PVState] = field(default_factory=dict)
    pending: set[str] = field(default_factory=set)     # field names asked for, not yet connected
    dropped: set[str] = field(default_factory=set)     # never found: left out
    candidates: tuple[str, ...] = ()

    @property
    def record(self) -> str:
        return record_name(self.pv)

    def initial(self) -> list[str]:
        self.pending = {"RTYP"}
        return [field_pv(self.pv, "RTYP")]

    def owns(self, name: str) -> bool:
        return record_name(name) == self.record and field_of(name) in FIELD_ORDER

    def update(self, state: PVState) -> tuple[list[str], list[str]]:
        """Take one field PV's state; returns (PV names to add, PV names to remove)."""
        fld = field_of(state.name)
        add: list[str] = []
        remove: list[str] = []
        if fld not in FIELD_ORDER or fld in self.dropped:
            return add, remove
        if state.ever_connected:
            self.pending.discard(fld)
            self.fields[fld] = state
        elif never_found(state):
            self.pending.discard(fld)
            self.fields.pop(fld, None)
            if fld == "RTYP":
                self.problem = "no record fields: the server does not serve .RTYP (not an IOC record?)"
                self.dropped.add(fld)
                remove.append(state.name)
                return add, remove
            self.dropped.add(fld)
            remove.append(state.name)
            return add, remove
        if fld == "RTYP" and self.rtyp is None and isinstance(state.value, str) and state.value:
            self.rtyp = state.value
            self.candidates = candidate_fields(self.rtyp)
            for f in self.candidates:
                if f != "RTYP":
                    self.pending.add(f)
                    add.append(field_pv(self.pv, f))
        return add, remove

    @property
    def complete(self) -> bool:
        """RTYP known (or refused) and every candidate connected or dropped."""
        return bool(self.problem) or (self.rtyp is not None and not self.pending)

    def present(self) -> list[tuple[str, PVState]]:
        """(field, state) of the fields found so far, in display order."""
        return [(f, self.fields[f]) for f in FIELD_ORDER if f in self.fields]


def read_record_fields(read: Callable[[list[str]], Mapping[str, PVState]],
                       pv: str) -> FieldDiscovery:
    """Synchronous discovery for the CLI: ``read(names)`` is e.g. ``Engine.read``.

    Reads ``.RTYP``, then every candidate field of that record type at once;
    fields that are not found are left out."""
    disc = FieldDiscovery(pv)
    names = disc.initial()
    while names:
        states = read(names)
        nxt: list[str] = []
        for n in names:
            st = states.get(n)
            if st is None:
                continue
            if not st.ever_connected and not st.error:
                st.error = "not found"
            add, _ = disc.update(st)
            nxt += add
        names = nxt
    disc.pending.clear()
    return disc


def iter_field_names(pv: str, fields: Iterable[str]) -> list[str]:
    return [field_pv(pv, f) for f in fields]
