#!/usr/bin/env python3
"""Render the application icon's PNG sizes from its SVG with Qt's QSvgRenderer.

The icon sources live in ``pvprobe/resources/`` (package data, so the installed
package and the PyInstaller bundle find them); this script writes
``pvprobe/resources/png/pvprobe-<size>.png`` for sizes 16..256, and, with
``--previews``, a contact sheet of every UI icon on a light and a dark
background (``--previews OUT.png``) for eyeballing.

Run from anywhere: ``python resources/render_icons.py [--check] [--previews OUT.png]``.
``--check`` re-renders in memory and exits 1 if a committed PNG is missing or
has the wrong size (it does not compare pixels: Qt versions antialias differently).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

HERE = os.path.dirname(os.path.abspath(__file__))
RES = os.path.join(os.path.dirname(HERE), "pvprobe", "resources")
SIZES = (16, 32, 48, 64, 128, 256)


def _write_atomic(img, path: str) -> None:
    """PNG-encode ``img`` and write it atomically (pvprobe.core.atomic), world-readable:
    these files are package data."""
    from PyQt5.QtCore import QBuffer, QByteArray, QIODevice
    from pvprobe.core.atomic import atomic_write_bytes

    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.WriteOnly)
    if not img.save(buf, "PNG"):
        raise OSError(f"could not encode {path}")
    buf.close()
    atomic_write_bytes(path, bytes(data))
    os.chmod(path, 0o644)


def render_app_icons() -> list[str]:
    """Write every PNG size; returns the paths written."""
    from pvprobe.qt.resources import render_svg

    with open(os.path.join(RES, "pvprobe.svg"), encoding="utf-8") as f:
        svg = f.read()
    out_dir = os.path.join(RES, "png")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for size in SIZES:
        path = os.path.join(out_dir, f"pvprobe-{size}.png")
        _write_atomic(render_svg(svg, size), path)
        written.append(path)
    return written


def check() -> int:
    from PyQt5.QtGui import QImage

    bad = 0
    for size in SIZES:
        path = os.path.join(RES, "png", f"pvprobe-{size}.png")
        img = QImage(path)
        if img.isNull() or (img.width(), img.height()) != (size, size):
            print(f"missing or wrong size: {path}", file=sys.stderr)
            bad += 1
    return 1 if bad else 0


def previews(out: str) -> None:
    """Every UI icon at 16/24/48 px on a light and a dark strip, plus the app icon."""
    from PyQt5.QtCore import Qt
    from PyQt5.QtGui import QColor, QImage, QPainter
    from pvprobe.qt.resources import icon_names, pixmap, render_svg

    names = icon_names()
    cell = 56
    width = cell * len(names)
    img = QImage(width, cell * 6 + 260, QImage.Format_ARGB32)
    img.fill(QColor("#ffffff"))
    p = QPainter(img)
    for row, (bg, fg) in enumerate((("#ffffff", "#202020"), ("#2a2a2a", "#e6e6e6"))):
        y0 = row * cell * 3
        p.fillRect(0, y0, width, cell * 3, QColor(bg))
        for i, name in enumerate(names):
            for j, size in enumerate((16, 24, 48)):
                p.drawPixmap(i * cell + (cell - size) // 2, y0 + j * cell + (cell - size) // 2,
                             pixmap(name, size, fg))
    with open(os.path.join(RES, "pvprobe.svg"), encoding="utf-8") as f:
        svg = f.read()
    x = 4
    for size in (256, 128, 64, 48, 32, 16):
        p.drawImage(x, cell * 6 + 2, render_svg(svg, size))
        x += size + 8
    p.setPen(Qt.black)
    p.end()
    _write_atomic(img, os.path.abspath(out))
    print("  ".join(names))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only verify the committed PNGs")
    ap.add_argument("--previews", metavar="PNG", help="also write a contact sheet of all icons")
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.dirname(HERE))
    from PyQt5.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841
    if args.check:
        return check()
    for path in render_app_icons():
        print(path)
    if args.previews:
        previews(args.previews)
    return 0


if __name__ == "__main__":
    sys.exit(main())
