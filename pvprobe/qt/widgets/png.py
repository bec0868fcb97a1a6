"""Writing a picture (QImage or QPixmap) as a PNG file, atomically."""

from __future__ import annotations

from typing import Union

from PyQt5.QtCore import QBuffer, QByteArray, QIODevice
from PyQt5.QtGui import QImage, QPixmap

from pvprobe.core.atomic import atomic_write_bytes


def write_png(picture: Union[QImage, QPixmap], path: str) -> None:
    """Encode ``picture`` as PNG in memory, then write it to ``path`` atomically (a
    failed encoding leaves no file). Raises OSError when encoding or writing fails."""
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    ok = picture.save(buf, "PNG")
    buf.close()
    if not ok:
        raise OSError(f"could not encode the PNG for {path}")
    atomic_write_bytes(path, bytes(data))


__all__ = ["write_png"]
