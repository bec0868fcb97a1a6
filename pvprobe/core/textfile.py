"""Reading a user's text file (snapshot, PV table) with clear, bounded refusals."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

#: Byte order marks of UTF-16 files: their NUL bytes are text, not binary data.
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def read_limited(path: Union[str, os.PathLike], limit: int, what: str,
                 error: type[Exception], utf16_ok: bool = False) -> bytes:
    """The bytes of the file at ``path``, at most ``limit`` of them.

    ``what`` names the file in messages ("snapshot", "PV table"); every refusal
    (missing, not a regular file, larger than ``limit``, NUL bytes of a binary file;
    with ``utf16_ok`` a file starting with a UTF-16 BOM may hold NULs) raises
    ``error`` with a message that says which file and why.
    """
    p = Path(path)
    try:
        if not p.exists():
            raise error(f"cannot read {what} {p}: no such file")
        if not p.is_file():
            raise error(f"cannot read {what} {p}: not a regular file")
        size = p.stat().st_size
        if size > limit:
            raise error(f"{what} {p} is {size} bytes, more than {limit}; refusing to read it")
        with p.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise error(f"cannot read {what} {p}: {exc.strerror or exc}") from None
    if len(data) > limit:      # grew while being read
        raise error(f"{what} {p} is more than {limit} bytes; refusing to read it")
    if b"\x00" in data and not (utf16_ok and data.startswith(UTF16_BOMS)):
        raise error(f"{what} {p} is not a text file (binary data)")
    return data


__all__ = ["read_limited", "UTF16_BOMS"]
