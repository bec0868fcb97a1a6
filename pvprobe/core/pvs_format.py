"""Phoebus / CS-Studio PV Table files (``.pvs``): read and write.

The format (Phoebus ``app/pvtable`` ``PVTableXMLPersistence``)::

    <?xml version="1.0" encoding="UTF-8"?>
    <pvtable version="3.0" enable_save_restore="true">
      <timeout>60.0</timeout>
      <pvlist>
        <pv>
          <selected>true</selected>
          <name>NAME</name>
          <tolerance>0.01</tolerance>
          <saved_value_timestamp>2024-01-02 03:04:05.000000000</saved_value_timestamp>
          <saved_value>1.5</saved_value>                 (scalar, or:)
          <saved_array_value><item>1</item><item>2</item></saved_array_value>
          <completion>false</completion>
        </pv>
      </pvlist>
    </pvtable>

Older files are read too: a global ``<tolerance>`` under the root, no
``enable_save_restore`` attribute, the legacy ``<readback>``/``<readback_value>``
pair (added as a separate, unselected entry, as Phoebus does), and ``<pv>NAME</pv>``.
Names starting with ``#`` are Phoebus comments and are skipped.

Security: the XML is parsed with ``defusedxml``; any document type declaration
(``<!DOCTYPE``), entity declaration or external entity reference is refused
before it can expand (billion laughs, XXE), in any encoding. Nothing is evaluated.
Element names are read without their namespace.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union
from xml.etree import ElementTree as ET

from defusedxml import ElementTree as DefusedET
from defusedxml.common import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden

from .pvnames import ParsedNames, PVListError, pv_name_error, read_pv_list, strip_scheme
from .textfile import read_limited

#: A PV table file larger than this is refused rather than parsed.
MAX_PVS_BYTES = 64 * 1024 * 1024
#: Phoebus' default per-PV tolerance and completion timeout.
DEFAULT_TOLERANCE = 0.01
DEFAULT_TIMEOUT = 60.0

SavedValue = Union[str, list]  # scalar text, or list of item texts for arrays


@dataclass
class PVSEntry:
    """One row of a PV table."""

    name: str
    selected: bool = True
    tolerance: Optional[float] = None
    saved_value: Optional[SavedValue] = None
    saved_timestamp: str = ""
    completion: bool = False


@dataclass
class PVSFile:
    """A PV table: entries in file order, plus entries refused (with reasons)."""

    entries: list[PVSEntry] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    version: str = ""
    tolerance: Optional[float] = None
    timeout: Optional[float] = None
    save_restore: bool = True

    @property
    def names(self) -> list[str]:
        """PV names in order, without duplicates."""
        return list(dict.fromkeys(e.name for e in self.entries))

    @property
    def saved(self) -> dict[str, SavedValue]:
        """Saved values by name (PVs without one are absent)."""
        return {e.name: e.saved_value for e in self.entries if e.saved_value is not None}

    @property
    def timestamps(self) -> dict[str, str]:
        return {e.name: e.saved_timestamp for e in self.entries if e.saved_timestamp}


# ----------------------------------------------------------------------------- parsing

#: defusedxml's refusals, as the error says them.
_REFUSED = {
    DTDForbidden: "a document type declaration (<!DOCTYPE>)",
    EntitiesForbidden: "an entity declaration (<!ENTITY>)",
    ExternalReferenceForbidden: "an external entity reference",
}


def _local(tag: Any) -> str:
    """An element's name without its namespace (``{uri}pvtable`` -> ``pvtable``)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse_xml_safely(data: bytes, where: str) -> ET.Element:
    """Parse ``data`` with defusedxml: any DTD, entity declaration or external reference
    is refused before anything expands. Tags lose their namespace. Raises PVListError."""
    try:
        root = DefusedET.fromstring(data, forbid_dtd=True, forbid_entities=True,
                                    forbid_external=True)
    except DefusedXmlException as exc:
        what = next((w for cls, w in _REFUSED.items() if isinstance(exc, cls)),
                    "a construct defusedxml refuses")
        raise PVListError(f"{where}: contains {what}, which is not allowed; refusing to parse") from None
    except (ET.ParseError, ValueError, LookupError) as exc:      # bad XML, unknown encoding
        raise PVListError(f"{where}: not a valid XML PV table ({exc})") from None
    except (RecursionError, MemoryError):
        raise PVListError(f"{where}: XML too deeply nested or too large") from None
    for el in root.iter():
        el.tag = _local(el.tag)
    return root


def _string(el: ET.Element) -> str:
    """All character data directly inside ``el`` (not its children's)."""
    return (el.text or "") + "".join(c.tail or "" for c in el)


def _child_text(el: ET.Element, tag: str) -> Optional[str]:
    c = el.find(tag)
    return None if c is None else _string(c)


def _bool(text: Optional[str], default: bool) -> bool:
    if text is None:
        return default
    t = text.strip().lower()
    if t in ("true", "yes", "1"):
        return True
    if t in ("false", "no", "0"):
        return False
    return default


def _float(text: Optional[str]) -> Optional[float]:
    if text is None:
        return None
    try:
        v = float(text.strip())
    except ValueError:
        return None
    return v if math.isfinite(v) else None


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def _name_problem(name: str) -> Optional[str]:
    """Why a (scheme-stripped) entry cannot be used: ``pva://NAME`` is fine, another
    scheme is not (Phoebus also knows loc://, sim://... which pvprobe does not serve)."""
    m = _SCHEME.match(name)
    if m and m.group(1).lower() != "pva":
        return f"{m.group(1)}:// is not a Channel Access or pvAccess PV"
    return pv_name_error(name)


def _saved_of(pv: ET.Element) -> Optional[SavedValue]:
    scalar = _child_text(pv, "saved_value")
    if scalar is not None:
        return scalar
    arr = pv.find("saved_array_value")
    if arr is not None:
        return [_string(item) for item in arr.findall("item")]
    return None


def parse_pvs(data: bytes, where: str = "PV table") -> PVSFile:
    """Parse the bytes of a ``.pvs`` file. Raises :class:`PVListError`."""
    if not data.strip():
        raise PVListError(f"{where}: file is empty")
    root = parse_xml_safely(data, where)
    if root.tag != "pvtable":
        raise PVListError(f"{where}: root element is <{root.tag[:60]}>, expected <pvtable>")
    out = PVSFile(version=str(root.get("version", "")))
    out.save_restore = _bool(root.get("enable_save_restore"), True)
    out.tolerance = _float(_child_text(root, "tolerance"))
    out.timeout = _float(_child_text(root, "timeout"))
    pvlist = root.find("pvlist")
    if pvlist is None:
        return out

    def add(raw: str, entry: PVSEntry, index: int) -> None:
        raw = raw.strip()
        if not raw or raw.startswith("#"):
            return  # Phoebus skips empty names; '#' rows are comments
        name = strip_scheme(raw)
        problem = _name_problem(name)
        if problem:
            out.rejected.append((f"entry {index}: {raw[:60]!r}", problem))
            return
        entry.name = name
        out.entries.append(entry)

    for index, pv in enumerate(pvlist.findall("pv"), 1):
        tol = _float(_child_text(pv, "tolerance"))
        tol = out.tolerance if tol is None else tol
        name = _child_text(pv, "name")
        if name is None and not len(pv):
            name = _string(pv)  # very old: <pv>NAME</pv>
        entry = PVSEntry(name="", selected=_bool(_child_text(pv, "selected"), True), tolerance=tol)
        if out.save_restore:
            entry.saved_value = _saved_of(pv)
            entry.saved_timestamp = (_child_text(pv, "saved_value_timestamp") or "").strip()
            entry.completion = _bool(_child_text(pv, "completion"), False)
        add(name or "", entry, index)
        readback = _child_text(pv, "readback")
        if readback is not None:
            add(readback, PVSEntry(name="", selected=False, tolerance=tol,
                                   saved_value=_child_text(pv, "readback_value") or ""), index)
    return out


def read_pvs(path: Union[str, os.PathLike]) -> PVSFile:
    """Read a Phoebus PV table file, with clear errors for missing, huge, binary or bad files."""
    p = Path(path)
    data = read_limited(p, MAX_PVS_BYTES, "PV table", PVListError, utf16_ok=True)
    return parse_pvs(data, f"PV table {p}")


def looks_like_pvs(path: Union[str, os.PathLike]) -> bool:
    """True for ``*.pvs`` files or files whose content starts like XML."""
    p = Path(path)
    if p.suffix.lower() == ".pvs":
        return True
    try:
        with p.open("rb") as fh:
            head = fh.read(512)
    except OSError:
        return False
    head = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith((b"<?xml", b"<pvtable"))


# ----------------------------------------------------------------------------- writing

# Characters XML 1.0 cannot hold at all (not even as references), and lone surrogates.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def _xml_text(value: Any) -> str:
    if isinstance(value, float):
        text = repr(value)
    else:
        text = str(value)
    text = _NOT_XML.sub("\ufffd", text)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def format_pvs(names: Sequence[str], saved: Optional[Mapping[str, Any]] = None,
               timestamps: Optional[Mapping[str, str]] = None,
               tolerance: float = DEFAULT_TOLERANCE, timeout: float = DEFAULT_TIMEOUT) -> str:
    """The text of a Phoebus PV table. Saved values: text or numbers for scalars,
    lists/tuples (or arrays) for array values. Characters XML cannot represent
    are replaced by U+FFFD."""
    saved = saved or {}
    timestamps = timestamps or {}
    lines = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
             '<pvtable version="3.0" enable_save_restore="true">',
             f"  <timeout>{float(timeout)!r}</timeout>",
             "  <pvlist>"]
    for name in names:
        problem = _name_problem(name)
        if problem:
            raise ValueError(f"{name!r}: invalid PV name ({problem})")
        lines += ["    <pv>",
                  "      <selected>true</selected>",
                  f"      <name>{_xml_text(name)}</name>",
                  f"      <tolerance>{float(tolerance)!r}</tolerance>",
                  f"      <saved_value_timestamp>{_xml_text(timestamps.get(name, ''))}"
                  f"</saved_value_timestamp>"]
        if name in saved and saved[name] is not None:
            value = saved[name]
            if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
                value = value.tolist()
            if isinstance(value, (list, tuple)):
                items = "".join(f"<item>{_xml_text(v)}</item>" for v in value)
                lines.append(f"      <saved_array_value>{items}</saved_array_value>")
            else:
                lines.append(f"      <saved_value>{_xml_text(value)}</saved_value>")
        lines += ["      <completion>false</completion>", "    </pv>"]
    lines += ["  </pvlist>", "</pvtable>", ""]
    return "\n".join(lines)


def write_pvs(path: Union[str, os.PathLike], names: Sequence[str],
              saved: Optional[Mapping[str, Any]] = None,
              timestamps: Optional[Mapping[str, str]] = None,
              tolerance: float = DEFAULT_TOLERANCE, timeout: float = DEFAULT_TIMEOUT) -> None:
    """Write a Phoebus PV table atomically (temp file + rename)."""
    from .atomic import atomic_write_text

    atomic_write_text(path, format_pvs(names, saved, timestamps, tolerance, timeout))


def read_names(path: Union[str, os.PathLike]) -> ParsedNames:
    """PV names from a plain list or a Phoebus ``.pvs`` table, whichever the file is."""
    if looks_like_pvs(path):
        table = read_pvs(path)
        return ParsedNames(names=list(table.names), rejected=list(table.rejected))
    return read_pv_list(path)
