"""Saving an image view's frame: raw values as TIFF, or the picture as displayed as PNG."""

from __future__ import annotations

from typing import Any, Optional

from PyQt5.QtWidgets import QFileDialog, QWidget

from pvprobe.core.image_feed import ImageFeed
from pvprobe.core.ndarray import Frame
from pvprobe.core.tiff import describe, write_tiff

from ..widgets.png import write_png

#: File dialog filters and the extension a chosen name gets when it has none.
TIFF_FILTER, TIFF_EXT = "TIFF (*.tif *.tiff)", ".tif"
PNG_FILTER, PNG_EXT = "PNG (*.png)", ".png"


def save_frame_tiff(path: str, frame: Optional[Frame], state: Any, feed: Optional[ImageFeed]) -> None:
    """The frame's raw values (full bit depth, camera orientation), described by its
    array PV, unique id and timestamp (``state``: its ArrayData PVState)."""
    if frame is None:
        raise ValueError("no frame to save yet")
    pv = feed.array_pv if feed else ""
    uid = getattr(feed.counters, "unique_id", None) if feed else None
    extra = f"{pv} uid={uid} ts={getattr(state, 'timestamp', 0.0):.6f}"
    write_tiff(path, frame.data, describe(frame.data, extra))


def save_rendered_png(item: Any, path: str) -> None:
    """The image ``item`` shows (orientation, levels, colour map, log), rendered at the
    image's resolution whatever the zoom."""
    if item.image is None:
        raise ValueError("no frame to save yet")
    item.full_res = True      # every pixel, whatever the zoom
    try:
        item.render()
    finally:
        item.full_res = False
        item._renderRequired = True     # back to the screen's resolution on next paint
    if item.qimage is None:
        raise ValueError("the frame could not be rendered")
    write_png(item.qimage, path)


def ask_save_path(parent: QWidget, file_filter: str, ext: str) -> Optional[str]:
    """A file name from a save dialog ("frame" + ``ext`` proposed), with ``ext`` added
    when the chosen name has no image extension; None when cancelled."""
    path, _ = QFileDialog.getSaveFileName(parent, "Save frame", f"frame{ext}", file_filter)
    if not path:
        return None
    return path if path.lower().endswith((ext, ".tiff")) else path + ext


__all__ = ["save_frame_tiff", "save_rendered_png", "ask_save_path"]
