"""What ``pvprobe --demo`` shows of the demo IOC's pvAccess side (no Qt, no epics, no p4p).

Rows of some of the records over pvAccess (``pva://NAME``) beside their CA rows,
and an image view of the PVA camera's lz4 stream.
"""

from __future__ import annotations

from .pva_camera import LZ4_SUFFIX

#: Records shown over pvAccess too (QSRV2), in the order of their CA rows.
PVA_FEATURED = ("sine", "setpoint", "enum", "switch", "long", "message", "readonly", "heartbeat", "wave")


def pva_rows(prefix: str) -> list[str]:
    """``pva://`` rows of the featured records."""
    return [f"pva://{prefix}{n}" for n in PVA_FEATURED]


def pva_views(prefix: str) -> list[tuple[str, list[str]]]:
    """The views the demo opens on its pvAccess side: the PVA camera (lz4)."""
    return [("image", [f"pva://{prefix}{LZ4_SUFFIX}"])]
