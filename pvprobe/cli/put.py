"""``pvprobe put``: write a PV like caput and print ``NAME old -> new``."""

from __future__ import annotations

import argparse
from typing import Any

from ..core.pva_text import STRUCTURED
from ..core.pvnames import protocol_of
from ..core.pvstate import PVState
from .common import add_float_options, add_timeout, check_names, command_parser, engine, err, float_format, value_fields


def run(args: argparse.Namespace) -> int:
    """Put the value; exit 0 on success, 1 if the PV or the put failed, 2 for a bad name."""
    names, ok = check_names("put", [args.pv])
    if not ok:
        return 2
    name = names[0]
    eng = engine()
    before = eng.read([name], timeout=args.timeout)[name]
    if before.error or not before.connected:
        err("put", f"{name}: {before.error or 'not connected'}")
        return 1
    if before.native_type in STRUCTURED:
        err("put", f"{name}: puts to a pvAccess {before.type_id or 'structure'} are not supported "
                   "(only scalars, enums and arrays)")
        return 1
    value: Any = args.values[0] if len(args.values) == 1 else list(args.values)
    if before.is_char_array and isinstance(value, list):
        value = " ".join(value)
    # a pvAccess put is always answered (done, or refused with the server's message):
    # wait for that answer, or a refusal would go unseen
    wait = args.wait or protocol_of(name) == "pva"
    res = eng.put_wait(name, value, timeout=args.timeout or 10.0, wait=wait)
    _log_put(before, value, res)
    if not res.ok:
        err("put", f"{name}: {res.error}")
        return 1
    # pvAccess: the open channel's newest update may not have been taken in yet when
    # the put's answer arrives (Engine.read of an open PVA channel answers from it), so
    # the value after the put is read on a channel of its own
    reader = engine() if protocol_of(name) == "pva" else eng
    after = reader.read([name], timeout=args.timeout)[name]
    floats = float_format(args)
    print(f"{name} {value_fields(before, True, floats)} -> {value_fields(after, True, floats)}")
    return 0


def _log_put(before: PVState, value: Any, res: Any) -> None:
    """Append the put to the put log (source "cli"); a log that cannot be written is reported, not fatal."""
    from ..core.putlog import PutLog
    from ..core.putvalue import PutValueError, coerce_put_value

    new: Any = value
    try:
        _, vals = coerce_put_value(before, value)
        if not (before.is_char_array and isinstance(value, str)):
            new = vals if before.is_array else vals[0]
    except PutValueError:
        pass
    log = PutLog()
    try:
        log.append(before.name, before.value, new, res.ok, res.error, "cli", res.seconds or None,
                   before.enum_strs)
    except OSError as exc:
        err("put", f"could not write the put log {log.path}: {exc}")


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("put", "Write a PV (like caput): prints 'NAME old -> new'. Enums take the "
                              "state name or index.")
    p.add_argument("pv", metavar="PV")
    p.add_argument("values", nargs="+", metavar="VALUE", help="value, or several for an array")
    p.add_argument("--wait", "-c", action="store_true",
                   help="wait for processing to complete (put callback; pvAccess puts always "
                        "wait for the server's answer)")
    add_timeout(p, "give up after S seconds without an answer: on connecting "
                   "(default 2) and on the put's completion (default 10)")
    add_float_options(p)
    return p
