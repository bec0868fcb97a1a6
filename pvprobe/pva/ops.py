"""One-shot pvAccess operations of the source: the metadata get and puts.

Their completion callbacks run in pvxs's thread and only post to the inbox; the
operation objects are released by the worker (``done_ops``), never in that
callback: an op whose last reference went in its own callback thread was
collected there ("syncCancel op being destroyed on worker thread")."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from ..engine.events import GetDone, PutDone
from ..engine.inbox import Inbox
from .link import PVAItem, PVALink, error_text

DoneOps = deque   # of (the link's set of ops, [op]): released by the worker


def start_get(ctx: Any, link: PVALink, sid: int, inbox: Inbox, wake: Callable[[], None],
              done_ops: DoneOps, closing: Callable[[], bool]) -> None:
    """One get of the whole structure; its answer comes as a GetDone with the metadata."""
    box: list = []

    def done(value: Any) -> None:     # pvxs thread
        done_ops.append((link.ops, box))
        if closing():
            return
        if isinstance(value, Exception):
            inbox.post(GetDone(sid, None, False, False, error_text(value)))
        else:
            item = PVAItem(value, link.kind, link.seq, link.ndarray)
            link.meta = item
            inbox.post(GetDone(sid, item, True, False, ""))
        wake()
    try:
        op = ctx.get(link.wire, done)
    except Exception as exc:
        inbox.post(GetDone(sid, None, False, False, error_text(exc)))
        return
    box.append(op)
    link.ops.add(op)


def start_put(ctx: Any, link: PVALink, target: str, data: Any, rid: int, wait: bool, inbox: Inbox,
              wake: Callable[[], None], done_ops: DoneOps,
              closing: Callable[[], bool]) -> tuple[str, Any]:
    """Put ``data`` into field ``target``; with ``wait`` (block=true) its completion or
    the server's refusal comes as a PutDone. Returns (error or "", the op)."""
    ops = link.ops
    box: list = []

    def done(result: Any) -> None:     # pvxs thread
        done_ops.append((ops, box))
        if closing() or not wait:
            wake()      # the worker releases the op
            return
        if result is None:
            inbox.post(PutDone(rid, True, ""))
        else:
            inbox.post(PutDone(rid, False, error_text(result)))
        wake()

    request = "record[block=true]" if wait else None
    try:
        op = ctx.put(link.wire, done, builder={target: data}, request=request, get=False)
    except Exception as exc:
        return error_text(exc), None
    box.append(op)
    ops.add(op)
    return "", op
