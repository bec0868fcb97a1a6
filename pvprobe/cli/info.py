"""``pvprobe info``: everything about PVs, like cainfo; --fields adds the record's fields."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.format import CAGET_FORMAT, FloatFormat
from ..core.pvstate import PVState
from . import pvatext
from .common import add_float_options, add_timeout, check_names, command_parser, engine, err, float_format


def info_lines(st: PVState, floats: FloatFormat = CAGET_FORMAT, **report: Any) -> list[str]:
    """cainfo-like report of one PV: the probe's report (``core.probe_report``)."""
    from ..core.probe_report import report_lines

    lines = report_lines(st, floats=floats, **report)
    if st.protocol != "pva" or not st.ever_connected:
        return lines
    return pva_report(lines, st)


def pva_report(lines: list[str], st: PVState) -> list[str]:
    """The cainfo-like report of a pvAccess channel: no CA host line, the native type
    without CA's DBR_ prefix, then protocol, type id, server, access and field tree
    (``pvatext.info_lines``) after the State line."""
    out: list[str] = []
    for line in lines:
        key = line.strip().split(":", 1)[0]
        if key == "Host":
            continue
        if key == "Native type":
            line = line.replace("DBR_", "", 1)
        if key == "Value" and st.native_type in pvatext.STRUCTURED:   # not a frame's pixels
            line = f"    Value:            {pvatext.summary_text(st)}"
        out.append(line)
        if key == "State":
            out += pvatext.info_lines(st)[:pvatext.INFO_HEAD]
    out += pvatext.info_lines(st)[pvatext.INFO_HEAD:]
    return out


def run(args: argparse.Namespace) -> int:
    """Print each PV's report; exit 1 if any is not connected, 2 if no name was valid."""
    names, ok = check_names("info", args.pvs)
    if not names:
        return 2
    eng = engine()
    states = eng.read(names, timeout=args.timeout)
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
