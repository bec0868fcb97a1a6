"""PV names: validation, splitting pasted text, and plain-text PV list files."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: CA limits a PV name to what fits a channel name; EPICS records are far shorter.
MAX_NAME_LENGTH = 255
_SPLIT = re.compile(r"[\s,;]+")
_ALLOWED = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no space


def pv_name_error(name: str) -> str | None:
    """Why ``name`` is not a usable PV name, or None if it is fine (a ``ca://`` or
    ``pva://`` scheme in front is allowed)."""
    m = _SCHEME.match(name or "")
    if m:
        if m.group(1).lower() not in PROTOCOLS:
            return f"unknown protocol {m.group(1)!r} (use ca:// or pva://)"
        name = name[m.end():]
    if not name:
        return "empty name"
    if len(name) > MAX_NAME_LENGTH:
        return f"name longer than {MAX_NAME_LENGTH} characters"
    if any(c.isspace() for c in name):
        return "name contains white space"
    if not _ALLOWED.match(name):
        return "name contains non-ASCII or control characters"
    for ch in "\"'`{}":
        if ch in name:
            return f"name contains {ch!r}"
    return None


#: Protocols a channel address may name (``ca://NAME``, ``pva://NAME``).
PROTOCOLS = ("ca", "pva")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_default_protocol = "ca"
_protocol_given = False


def set_default_protocol(protocol: str, *, from_settings: bool = False) -> None:
    """The protocol of bare names from now on (``--default-protocol``, the settings).
    A call not ``from_settings`` (the command line) wins over the settings file from
    then on (see :func:`default_protocol_given`)."""
    global _default_protocol, _protocol_given
    p = protocol.strip().lower()
    if p not in PROTOCOLS:
        raise ValueError(f"default protocol {protocol!r} is not one of {', '.join(PROTOCOLS)}")
    _default_protocol = p
    if not from_settings:
        _protocol_given = True


def default_protocol() -> str:
    return _default_protocol


def default_protocol_given() -> bool:
    """True when the default protocol was set other than from the settings (the command
    line's ``--default-protocol``): the GUI's saved setting then does not replace it."""
    return _protocol_given


def reset_default_protocol() -> None:
    """CA again, as if nothing had set it (tests)."""
    global _default_protocol, _protocol_given
    _default_protocol, _protocol_given = "ca", False


def strip_scheme(name: str) -> str:
    """The engine's key of a typed address (PyDM/Phoebus style): ``ca://NAME`` and,
    with CA the default protocol, a bare ``NAME`` -> ``NAME``; ``pva://NAME`` and,
    with PVA the default, a bare name -> ``pva://NAME``. An unknown scheme is left
    as it is (:func:`pv_name_error` says why it cannot be used)."""
    m = _SCHEME.match(name)
    if m is None:
        return name if _default_protocol == "ca" or not name else "pva://" + name
    proto, rest = m.group(1).lower(), name[m.end():]
    if proto == "ca":
        return rest
    if proto == "pva":
        return "pva://" + rest
    return name


def looks_like_scheme(key: str) -> bool:
    """A CA name that a reader would take for ``scheme://...`` (e.g. ``A://x``)."""
    return _SCHEME.match(key) is not None and not key.startswith("pva://")


def protocol_of(key: str) -> str:
    """``"pva"`` or ``"ca"`` for an engine key (see :func:`strip_scheme`)."""
    return "pva" if key.startswith("pva://") else "ca"


@dataclass
class ParsedNames:
    """Good names (in order, without duplicates) and the rejected entries with reasons."""

    names: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)


def split_names(text: str) -> ParsedNames:
    """Split pasted text (white space, commas, semicolons) into names."""
    out = ParsedNames()
    seen: set[str] = set()
    for token in _SPLIT.split(text.strip()):
        if not token:
            continue
        name = strip_scheme(token)
        err = pv_name_error(name)
        if err:
            out.rejected.append((token, err))
        elif name not in seen:
            seen.add(name)
            out.names.append(name)
    return out


def parse_pv_list(text: str) -> ParsedNames:
    """Parse a PV list: one name per line, ``#`` comments and blank lines ignored."""
    out = ParsedNames()
    seen: set[str] = set()
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name = strip_scheme(line)
        err = pv_name_error(name)
        if err:
            out.rejected.append((f"line {lineno}: {line[:60]}", err))
        elif name not in seen:
            seen.add(name)
            out.names.append(name)
    return out


class PVListError(Exception):
    """A PV list file could not be read."""


#: A PV list larger than this is refused rather than read into memory.
MAX_LIST_BYTES = 64 * 1024 * 1024


def read_pv_list(path: str | os.PathLike) -> ParsedNames:
    """Read a PV list file, with clear errors for missing, huge or binary files."""
    p = Path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise PVListError(f"cannot read PV list {p}: {exc.strerror or exc}") from None
    if size > MAX_LIST_BYTES:
        raise PVListError(f"PV list {p} is {size} bytes, more than {MAX_LIST_BYTES}")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise PVListError(f"cannot read PV list {p}: {exc.strerror or exc}") from None
    if b"\x00" in data:
        raise PVListError(f"PV list {p} is not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return parse_pv_list(text)


def write_pv_list(path: str | os.PathLike, names: list[str], header: str = "") -> None:
    """Write a PV list atomically (temp file + rename)."""
    from .atomic import atomic_write_text

    lines = [f"# {h}" for h in header.splitlines()] if header else []
    atomic_write_text(path, "\n".join(lines + list(names)) + "\n")


# ----------------------------------------------------------------------------- channels

class ChannelNameError(ValueError):
    """A channel address that cannot be used; the message says why."""


@dataclass(frozen=True)
class ChannelName:
    """A PV name and the protocol that reaches it."""

    protocol: str
    name: str

    def __str__(self) -> str:
        return format_channel(self)


def channel_error(text: str, default: str = "ca") -> str | None:
    """Why ``text`` is not a usable channel address, or None if it is fine."""
    try:
        parse_channel(text, default)
    except ChannelNameError as exc:
        return str(exc)
    return None


def parse_channel(text: str, default: str = "ca") -> ChannelName:
    """``pva://NAME``, ``ca://NAME`` or a bare ``NAME`` (protocol ``default``).

    Surrounding white space is ignored; the scheme is case-insensitive. Raises
    :class:`ChannelNameError` for an unknown protocol or a bad name.
    """
    if default not in PROTOCOLS:
        raise ValueError(f"default protocol {default!r} is not one of {PROTOCOLS}")
    s = text.strip() if isinstance(text, str) else ""
    m = _SCHEME.match(s)
    proto = default
    if m:
        proto = m.group(1).lower()
        if proto not in PROTOCOLS:
            raise ChannelNameError(f"{s[:60]!r}: unknown protocol {m.group(1)!r} "
                                   f"(use ca:// or pva://)")
        s = s[m.end():]
    err = pv_name_error(s)
    if err:
        shown = text.strip()[:60] if isinstance(text, str) else repr(text)
        raise ChannelNameError(f"{shown!r}: {err}" if shown else err)
    return ChannelName(proto, s)


def format_channel(ch: ChannelName, default: str = "ca") -> str:
    """The address to show or save: the bare name for ``default``, else ``proto://name``."""
    return ch.name if ch.protocol == default else f"{ch.protocol}://{ch.name}"
