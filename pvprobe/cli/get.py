"""``pvprobe get``: read PVs like caget, one ``NAME VALUE`` line each (or --json)."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..core.format import CAGET_FORMAT, FloatFormat, char_array_bytes, char_array_escaped
from ..core.pva_text import jsonable, structure_json, structure_lines
from ..core.pvstate import PVState
from .common import add_float_options, add_timeout, check_names, command_parser, engine, err, float_format, value_fields


def _json_value(state: PVState, as_string: bool) -> Any:
    """The value for --json: every digit the IOC holds (floats as exact doubles); with
    --string a CHAR waveform is its text up to the first NUL, or escaped as caget -S
    prints it when the bytes are not UTF-8."""
    v = state.value
    if state.is_char_array and as_string:
        raw = char_array_bytes(v if v is not None else b"").split(b"\x00", 1)[0]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return char_array_escaped(raw)
    if state.native_type == "NDARRAY":      # the frame's pixels: see "frame" instead
        return None
    return jsonable(v)


def _state_json(state: PVState, as_string: bool, floats: FloatFormat = CAGET_FORMAT) -> dict:
    return {
        "name": state.name, "connected": state.connected, "value": _json_value(state, as_string),
        "text": value_fields(state, as_string, floats) if state.connected else None,
        "count": state.count, "type": state.native_type, "units": state.units,
        "severity": state.severity_name, "status": state.status_name,
        "timestamp": state.timestamp or None,
        "enum_strs": list(state.enum_strs) or None, "error": state.error or None,
        "protocol": state.protocol, "type_id": state.type_id or None,
        **structure_json(state),
    }


def run(args: argparse.Namespace) -> int:
    """Read the PVs; exit 0 if all have a value, 1 if any failed, 2 if no name was valid."""
    names, ok = check_names("get", args.pvs)
    if not names:
        return 2
    floats = float_format(args)
    states = engine().read(names, timeout=args.timeout)
    out = []
    for name in names:
        st = states[name]
        problem = st.error or ("no value" if st.value is None else "")
        if st.native_type == "NDARRAY" and (st.extra or {}).get("frame_error"):
            problem = f"frame not decoded: {st.extra['frame_error']}"
        if problem:
            err("get", f"{name}: {problem}")
            ok = False
            if args.json:
                out.append(_state_json(st, args.string, floats))
            continue
        if args.json:
            out.append(_state_json(st, args.string, floats))
        else:
            print(f"{name} {value_fields(st, args.string, floats)}")
            for line in structure_lines(st):       # a table's rows, a structure's tree
                print(line)
    if args.json:
        print(json.dumps(out, indent=None))
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("get", "Read PVs (like caget): one 'NAME VALUE' line each; a pvAccess table "
                              "or structure adds its rows or field tree below.", pvs=True)
    add_timeout(p)
    p.add_argument("--json", action="store_true",
                   help="print a JSON list instead (values with every digit the IOC holds)")
    p.add_argument("--string", "-S", action="store_true",
                   help="show CHAR waveforms as text (up to the first NUL; control characters "
                        "and bytes that are not UTF-8 escaped as \\xhh, like caget -S)")
    add_float_options(p)
    return p
