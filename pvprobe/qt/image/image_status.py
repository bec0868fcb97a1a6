"""An image view's counts since its source was opened, and its status line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Optional

import numpy as np

from pvprobe.core.image_feed import ImageFeed, RateMeter
from pvprobe.core.ndarray import Frame


class ImageStatus:
    """Frames received, really painted, dropped and skipped, latency and rates of one
    image item (a :class:`~.image_item.CountingImageItem`) since :meth:`reset`."""

    def __init__(self, item: Any) -> None:
        self.item = item
        self.reset()

    def reset(self) -> None:
        """Count from now (a source was opened)."""
        item = self.item
        self.painted0 = item.painted
        self.lat0 = (item.latency_sum, item.latency_n)
        self.rate_recv, self.rate_shown = RateMeter(), RateMeter()

    def stats(self, feed: Optional[ImageFeed], frame: Optional[Frame]) -> dict[str, Any]:
        """Counts for --stats: frames received, displayed (really painted), dropped,
        skipped, mean latency, the array counter and the frame's size and type."""
        item = self.item
        c = feed.counters if feed else None
        painted = item.painted - self.painted0
        received = c.received if c else 0
        decoded = c.decoded if c else 0
        lat_sum = item.latency_sum - self.lat0[0]
        lat_n = item.latency_n - self.lat0[1]
        before_view = max(0, c.published - received) if c and c.published else 0
        replaced = max(0, decoded - painted)
        return {
            "source": feed.array_pv if feed else None,
            "frames_published": c.published if c else None,
            "frames_received": received,
            "frames_displayed": painted,
            "frames_dropped": before_view + replaced,
            "frames_dropped_before_view": before_view,
            "frames_replaced_before_paint": replaced,
            "frames_skipped": c.skipped if c else 0,
            "latency_ms_mean": round(1000 * lat_sum / lat_n, 2) if lat_n else None,
            "array_counter": c.counter if c else None,
            "image": image_text(frame),
            **(feed.pva_stats() if feed else {}),      # codec, decode time, uniqueId gaps
        }

    def line(self, s: dict[str, Any], extra: Sequence[str] = ()) -> str:
        """The status line of stats ``s``: rates, dropped, counter, size/mode/type,
        ``extra`` (a pvAccess source's codec, decode time, gaps), latency."""
        recv = self.rate_recv.rate(s["frames_received"])
        shown = self.rate_shown.rate(s["frames_displayed"])
        lats = self.item.latencies[-32:]
        lat = f"{1000 * float(np.mean(lats)):.0f} ms" if lats else "–"
        parts = [f"received {recv:.1f}/s", f"shown {shown:.1f}/s", f"dropped {s['frames_dropped']}"]
        if s["frames_skipped"]:
            parts.append(f"skipped {s['frames_skipped']}")
        if s["array_counter"] is not None:
            parts.append(f"counter {s['array_counter']}")
        if s["image"]:
            parts.append(s["image"])
        parts.extend(extra)
        parts.append(f"latency {lat}")
        return "  ·  ".join(parts)


def image_text(f: Optional[Frame]) -> str:
    """"W×H mode type (note)" of a frame ("" for none)."""
    if f is None:
        return ""
    return f"{f.width}×{f.height} {f.color_mode} {f.data_type}" + (f" ({f.note})" if f.note else "")


__all__ = ["ImageStatus", "image_text"]
