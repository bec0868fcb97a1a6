"""``pvprobe info``: everything about PVs, like cainfo; --fields adds the record's fields."""

from __future__ import annotations

import argparse
from typing import Any, Optional

from ..core.format import CAGET_FORMAT, FloatFormat
from ..core.pvstate import PVState
from .common import add_float_options, add_timeout, check_names, command_parser, engine, err, float_format

#: How long ``info`` waits for a pvAccess name search (which server answers), at most (s).
SEARCH_TIMEOUT = 1.0


def info_lines(st: PVState, floats: FloatFormat = CAGET_FORMAT, **report: Any) -> list[str]:
    """cainfo-like report of one PV (pvinfo-like for pvAccess): the probe's report
    (``core.probe_report.report_lines``)."""
    from ..core.probe_report import report_lines

    return report_lines(st, floats=floats, **report)


def find_pva_servers(states: dict[str, PVState], timeout: Optional[float]) -> None:
    """Fill ``host`` of the connected pvAccess PVs in ``states`` with the server that
    answers a name search (one search for all, at most ``timeout`` or
    :data:`SEARCH_TIMEOUT` seconds; a gateway's address through a gateway)."""
    from ..core.protocol_text import SERVER_NOT_FOUND
    from ..pva.search import SearchError, find_servers

    wire = {name: name[len("pva://"):] for name, st in states.items()
            if st.protocol == "pva" and st.connected}
    if not wire:
        return
    try:
        found = find_servers(wire.values(), min(timeout or SEARCH_TIMEOUT, SEARCH_TIMEOUT))
    except SearchError as exc:
        found, why = {}, f"not searched: {exc}"
    else:
        why = SERVER_NOT_FOUND
    for name, bare in wire.items():
        states[name].host = found.get(bare) or why


def run(args: argparse.Namespace) -> int:
    """Print each PV's report; exit 1 if any is not connected, 2 if no name was valid."""
    names, ok = check_names("info", args.pvs)
    if not names:
        return 2
    eng = engine()
    states = eng.read(names, timeout=args.timeout)
    find_pva_servers(states, args.timeout)
    for i, name in enumerate(names):
        st = states[name]
        report: dict = {}
        if getattr(args, "fields", False) and st.connected:
            from ..core.record_fields import read_record_fields

            disc = read_record_fields(lambda ns: eng.read(ns, timeout=args.timeout), name)
            report = dict(fields=disc.present(), rtyp=disc.rtyp, fields_note=disc.problem)
        if i:
            print()
        print("\n".join(info_lines(st, float_format(args), **report)))
        if not st.connected or st.error:
            err("info", f"{name}: {st.error or 'not connected'}")
            ok = False
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("info", "Everything about PVs (like cainfo); --fields adds the record's "
                               "fields. A pvAccess channel adds its type id and field tree (like "
                               "pvinfo: field, type, value).", pvs=True)
    add_timeout(p)
    p.add_argument("--fields", "-f", action="store_true",
                   help="also read the record's common fields (.DESC, .SCAN, limits, links...): "
                        "the probe's report")
    add_float_options(p, fixed_short=False)
    return p
