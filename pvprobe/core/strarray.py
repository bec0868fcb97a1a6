"""STRING arrays as one line of text: elements separated by spaces, each written as it
is unless it is empty, holds white space or starts with a double quote; such an
element is JSON-quoted (``"a b"``, ``""``, ``"\\"x"``). :func:`string_items_text`
writes that line (the table, probe and editors show it) and :func:`split_string_items`
reads it back (what an editor's text puts), element for element."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Optional

#: a quoted element (JSON string), a lone quote (an error), or a bare word
_ITEM = re.compile(r'"(?:[^"\\]|\\.)*"|"|\S+')


def quote_string_item(s: str) -> str:
    """One element as shown in a list of elements (quoted only where needed)."""
    if s and not s.startswith('"') and not any(c.isspace() for c in s):
        return s
    return json.dumps(s, ensure_ascii=False)


def string_items_text(items: Iterable[Any], preview: Optional[int] = None) -> str:
    """Elements separated by spaces, each quoted where needed; with ``preview``, at most
    that many followed by `` ...``."""
    items = list(items)
    shown = items if preview is None else items[:preview]
    more = " ..." if preview is not None and len(items) > preview else ""
    return " ".join(quote_string_item(str(x)) for x in shown) + more


def split_string_items(text: str) -> list[str]:
    """The elements of a line written as :func:`string_items_text` writes it. Raises
    ValueError (with the reason) for an unterminated or malformed quoted element."""
    out: list[str] = []
    for m in _ITEM.finditer(text):
        tok = m.group(0)
        if not tok.startswith('"'):
            out.append(tok)
            continue
        end = m.end()
        if tok == '"' or (end < len(text) and not text[end].isspace()):
            raise ValueError(f"unterminated or malformed quoted element at {text[m.start():][:20]!r} "
                             f'(write it as "..." followed by a space)')
        try:
            out.append(json.loads(tok))
        except ValueError as exc:
            raise ValueError(f"bad quoted element {tok[:20]!r}: {exc}") from None
    return out
