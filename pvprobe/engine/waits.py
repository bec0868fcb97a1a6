"""The adaptive wait of the synchronous (CLI) calls over many PVs: it goes on while
answers keep arriving and ends after a quiet spell, or at a cap."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable
from typing import Optional, TypeVar

#: Synchronous waits for many PVs (read, open, put_many) go on while answers keep
#: arriving and end after a quiet spell of the timeout; a trickle of answers cannot
#: keep them forever: the whole wait is at most WAIT_CAP_FACTOR x the timeout plus
#: WAIT_CAP_PER_PV_S per PV (60 s for 20,000 PVs at the default 2 s; the bulk read
#: of 20,000 PVs takes about 1.5 s here, so the cap leaves 40x that).
WAIT_CAP_FACTOR = 10.0
WAIT_CAP_PER_PV_S = 0.002
#: ... and while answers are coming, take them in batches this far apart (seconds).
ANSWER_BATCH_S = 0.005

T = TypeVar("T")


def wait_cap(quiet: float, count: int) -> float:
    """Longest whole wait for ``count`` PVs whose quiet timeout is ``quiet`` seconds."""
    return WAIT_CAP_FACTOR * quiet + WAIT_CAP_PER_PV_S * count


def get_timeout(count: int) -> float:
    """pyepics' rule for a get's timeout: 0.5 + log10(element count)."""
    return 0.5 + math.log10(max(1, count))


def wait_answers(pump: Callable[[], int], wake: threading.Event, pending: Callable[[], bool],
                 quiet: float, cap: float, longer: Optional[Callable[[], float]] = None) -> str:
    """Pump events (``pump()`` returns how many answers came so far) until
    ``pending()`` (asked again whenever answers came) is false. The wait goes on
    while answers (connections, gets, put completions) keep arriving: it gives up
    once none has come for ``quiet`` seconds (or for ``longer()``, asked only when
    ``quiet`` has run out, if that is longer), or ``cap`` seconds after it began,
    whichever is first. Returns "" when nothing is left pending, else why it gave
    up (for the messages of what is missing)."""
    t0 = last = time.monotonic()
    seen = pump()
    q = quiet
    left = pending()
    # the quiet time counts from when pending() is done: it may send work (the next
    # window of puts), and on a starved machine that alone can outlast a short quiet
    last = time.monotonic()
    while left:
        wake.clear()
        answers = pump()
        now = time.monotonic()
        if answers != seen:
            q = quiet
            seen = answers
            left = pending()
            if not left:
                break
            now = last = time.monotonic()
        if now - last >= q and longer is not None and q == quiet:
            q = max(quiet, longer())
        if now - last >= q:
            return f"nothing arrived for {q:g} s"
        if now - t0 >= cap:
            return f"the wait reached its limit of {cap:g} s"
        if last == now:
            # answers are coming: let them gather for a moment instead of waking
            # for each (the loop would take the GIL from the callback threads
            # thousands of times a second while 20,000 PVs connect)
            time.sleep(ANSWER_BATCH_S)
        else:
            wake.wait(max(0.001, min(0.05, last + q - now, t0 + cap - now)))
    return ""


def pending_until(items: Iterable[T], done: Callable[[T], bool]) -> Callable[[], bool]:
    """``pending()`` for :func:`wait_answers`: true while any item is not ``done``.
    Done items are dropped from the end of a reversed copy, so all calls together
    cost O(len(items)), not O(len(items)) each (20,000 PVs)."""
    rest = list(items)
    rest.reverse()

    def pending() -> bool:
        while rest and done(rest[-1]):
            rest.pop()
        return bool(rest)
    return pending
