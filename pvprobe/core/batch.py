"""What the engine hands to its consumer once per tick."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from .pvstate import PVState


@dataclass(slots=True)
class Batch:
    """All PVs that changed since the previous batch, one (newest) state each.

    ``states`` are copies owned by the consumer. ``put_results`` are completed
    or failed puts since the previous batch. ``seq`` counts batches.
    """

    seq: int
    states: list[PVState] = field(default_factory=list)
    put_results: list[PutResult] = field(default_factory=list)
    updates_received: int = 0   # CA monitor callbacks since the engine started
    pvs: int = 0                # PVs the engine holds
    connected: int = 0          # of which connected
    #: CA warnings since the previous batch, as sentences for the user (e.g. a PV
    #: served by two IOCs: "PV X: served by h1:p1 and h2:p2 (duplicate; using the first)").
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PutResult:
    """The outcome of one put: ``ok`` with no error, or the reason it failed."""

    name: str
    value: Any
    ok: bool
    error: str = ""
    old_value: Any = None
    request_id: Optional[int] = None
    seconds: float = 0.0
