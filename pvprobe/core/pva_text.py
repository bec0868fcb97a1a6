"""What only pvAccess has, as text: NTTables as tables, other structures as trees,
NTNDArray frames as one summary line, the lines a PVA PV's report adds (like pvinfo:
protocol, type id, server, field tree: shared by ``pvprobe info`` and the probe's
"Copy report"), and JSON-safe copies of all of it (the CLI twins' ``--json``).

Works on :class:`~pvprobe.core.pvstate.PVState` only (``extra`` as
``pvprobe.pva.values`` fills it). Plain Python: no Qt, no p4p.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .protocol_text import STRUCTURED_TYPES, frame_summary, server_text
from .pvstate import PVState

#: Native types of PVA values that are no scalar or array (shown by this module).
STRUCTURED = STRUCTURED_TYPES
#: Array elements shown in a tree or table cell before "... (N elements)".
SHOWN_ELEMENTS = 8


def is_structured(state: PVState) -> bool:
    """A table, a structure or an image: one line of ``get`` cannot hold it."""
    return state.native_type in STRUCTURED


def cell_text(value: Any, limit: int = SHOWN_ELEMENTS) -> str:
    """A field or cell value as text: numbers with %g where they are floats, arrays
    as ``[n] a b c ...`` (at most ``limit`` elements), strings as they are."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray)):
        value = list(value)
    if hasattr(value, "tolist") and not isinstance(value, (int, float)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        shown = " ".join(cell_text(v) for v in value[:limit])
        more = " ..." if len(value) > limit else ""
        return f"[{len(value)}] {shown}{more}".rstrip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def summary_text(state: PVState) -> str:
    """The one-line value of a structured PV (get's and monitor's value column)."""
    if state.native_type == "NDARRAY":
        return frame_summary(state)
    return cell_text(state.value)


def table_lines(table: dict, indent: str = "    ") -> list[str]:
    """An NTTable as aligned text: a header of the column labels, then one line per row."""
    cols = table.get("columns", [])
    if not cols:
        return [indent + "(no columns)"]
    texts = [[label] + [cell_text(v) for v in list(values)] for label, _type, values in cols]
    left = [str(ty).startswith("string") for _label, ty, _values in cols]   # text left, numbers right
    rows = max(len(t) for t in texts)
    widths = [max(len(s) for s in t) for t in texts]
    lines = []
    for r in range(rows):
        cells = []
        for t, w, lj in zip(texts, widths, left):
            cell = t[r] if r < len(t) else ""
            cells.append(cell.ljust(w) if lj or r == 0 else cell.rjust(w))
        lines.append(indent + "  ".join(cells).rstrip())
    return lines


def tree_lines(tree: Sequence[tuple], indent: str = "    ") -> list[str]:
    """A structure's ``(depth, field, type, value)`` rows as an indented listing:
    ``field  type  value`` (substructures without a value)."""
    rows = [(indent + "  " * depth + field, type_name, "" if value is None else cell_text(value))
            for depth, field, type_name, value in tree]
    if not rows:
        return [indent + "(empty structure)"]
    w_field = max(len(r[0]) for r in rows)
    w_type = max(len(r[1]) for r in rows)
    return [f"{f.ljust(w_field)}  {t.ljust(w_type)}  {v}".rstrip() for f, t, v in rows]


def structure_lines(state: PVState) -> list[str]:
    """What ``get`` prints under ``NAME`` for a table or a structure."""
    extra = state.extra or {}
    if state.native_type == "TABLE" and "table" in extra:
        return table_lines(extra["table"])
    if state.native_type == "STRUCT" and "tree" in extra:
        return tree_lines(extra["tree"])
    return []


# ----------------------------------------------------------------------------- JSON

def jsonable(value: Any) -> Any:
    """``value`` as JSON can hold it: numpy arrays and scalars as lists and numbers,
    non-finite floats as their names, unknown objects as text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, int):
        return value
    if isinstance(value, (bytes, bytearray)):
        return list(value)
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    return str(value)


def structure_json(state: PVState) -> dict:
    """The extra --json keys of a structured PV: ``table`` (labels and columns by
    label), ``tree`` (field rows) or ``frame`` (an image's shape, codec, uniqueId)."""
    extra = state.extra or {}
    if state.native_type == "TABLE" and "table" in extra:
        t = extra["table"]
        return {"table": {"labels": list(t["labels"]),
                          "columns": {label: jsonable(values) for label, _ty, values in t["columns"]},
                          "types": {label: ty for label, ty, _v in t["columns"]}}}
    if state.native_type == "STRUCT" and "tree" in extra:
        return {"tree": [{"depth": d, "field": f, "type": ty, "value": jsonable(v)}
                         for d, f, ty, v in extra["tree"]]}
    if state.native_type == "NDARRAY":
        frame = extra.get("frame")
        out = {"codec": extra.get("codec"), "unique_id": jsonable(extra.get("unique_id")),
               "dims": jsonable(extra.get("dims")), "frame_error": extra.get("frame_error", ""),
               "dropped": extra.get("dropped"), "received": extra.get("received")}
        if frame is not None:
            out.update(width=frame.width, height=int(frame.data.shape[0]), data_type=frame.data_type,
                       color_mode=frame.color_mode)
        return {"frame": out}
    return {}


# ----------------------------------------------------------------------------- info

#: The lines of :func:`info_lines` that go right after the report's State line.
INFO_HEAD = 3


def info_lines(state: PVState) -> list[str]:
    """What the report adds for a PVA channel: protocol, type id and the server that
    answered its name search (first :data:`INFO_HEAD` lines), then description, table,
    frame and the field tree (pvinfo style: field, type, value). Access is the report's
    own line ("write unknown until tried")."""
    extra = state.extra or {}
    lines = ["    Protocol:         pvAccess",
             f"    Type id:          {state.type_id or '-'}",
             f"    Server:           {server_text(state)}"]
    if extra.get("description"):
        lines.append(f"    Description:      {extra['description']}")
    fields = extra.get("fields") or extra.get("tree")
    if state.native_type == "TABLE" and "table" in extra:
        lines.append("    Table:")
        lines += table_lines(extra["table"], indent="      ")
    if state.native_type == "NDARRAY":
        lines.append(f"    Frame:            {frame_summary(state)}")
    if fields:
        lines.append("    Fields:")
        lines += tree_lines(fields, indent="      ")
    return lines
