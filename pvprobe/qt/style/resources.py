"""Icons and other files shipped inside the package (``pvprobe/resources/``).

Everything is found through :mod:`importlib.resources`, relative to the installed
``pvprobe`` package, so it works the same in a source checkout, an editable
install, a wheel install and a PyInstaller bundle (which collects the files as
package data). No absolute paths.

UI icons are SVGs drawn with ``currentColor``; :func:`icon` substitutes the
theme's text colour before rendering, so the same icon reads on light and dark
themes. Alarm icons (``alarm-minor`` ...) keep their fixed severity colours.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.resources
from typing import Optional, Union

from PyQt5.QtCore import QByteArray, QRectF, Qt
from PyQt5.QtGui import QColor, QGuiApplication, QIcon, QImage, QPainter, QPalette, QPixmap
from PyQt5.QtSvg import QSvgRenderer

from pvprobe.core.colors import ICON_FALLBACK

#: Application icon PNG sizes shipped in ``resources/png/``.
APP_ICON_SIZES = (16, 32, 48, 64, 128, 256)
#: Sizes rendered into each UI icon's QIcon (Qt picks/scales the nearest).
ICON_SIZES = (16, 20, 24, 32, 48, 64)
#: Icons whose colours are fixed (not recoloured with the theme).
FIXED_COLOUR_ICONS = frozenset({"alarm-minor", "alarm-major", "alarm-invalid", "disconnected"})

ColorLike = Union[QColor, str, None]

_stack = contextlib.ExitStack()


def _root():
    return importlib.resources.files("pvprobe").joinpath("resources")


def resource_path(name: str) -> str:
    """Filesystem path of a shipped resource, e.g. ``"pvprobe.svg"``, ``"icons/add.svg"``,
    ``"png/pvprobe-48.png"``. Raises FileNotFoundError if it is not there."""
    ref = _root()
    for part in name.replace("\\", "/").split("/"):
        if part in ("", ".", ".."):
            raise FileNotFoundError(f"bad resource name {name!r}")
        ref = ref.joinpath(part)
    if not ref.is_file():
        raise FileNotFoundError(f"pvprobe resource {name!r} not found (looked in {_root()})")
    # A package on disk gives a real path; as_file copies out of a zip if ever needed.
    return str(_stack.enter_context(importlib.resources.as_file(ref)))


def icon_names() -> list[str]:
    """Names accepted by :func:`icon` (the SVG files in ``resources/icons``)."""
    folder = _root().joinpath("icons")
    return sorted(p.name[:-4] for p in folder.iterdir() if p.name.endswith(".svg"))


@functools.cache
def _svg_text(name: str) -> str:
    with open(resource_path(f"icons/{name}.svg"), encoding="utf-8") as f:
        return f.read()


def _default_colour() -> QColor:
    app = QGuiApplication.instance()
    if app is None:
        return QColor(*ICON_FALLBACK)
    return QGuiApplication.palette().color(QPalette.Active, QPalette.WindowText)


def render_svg(data: Union[bytes, str], size: int) -> QImage:
    """Render SVG text to a transparent ``size``×``size`` ARGB image."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    renderer = QSvgRenderer(QByteArray(raw))
    if not renderer.isValid():
        raise ValueError("invalid SVG")
    img = QImage(size, size, QImage.Format_ARGB32_Premultiplied)
    img.fill(Qt.transparent)
    painter = QPainter(img)
    painter.setRenderHint(QPainter.Antialiasing)
    painter.setRenderHint(QPainter.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return img


def svg_for(name: str, color: ColorLike = None) -> str:
    """The icon's SVG text with ``currentColor`` replaced by ``color``
    (default: the application palette's text colour)."""
    text = _svg_text(name)
    if name in FIXED_COLOUR_ICONS:
        return text
    c = QColor(color) if color is not None else _default_colour()
    return text.replace("currentColor", c.name())


@functools.lru_cache(maxsize=256)
def _icon_cached(name: str, rgb: str) -> QIcon:
    svg = svg_for(name, rgb)
    ic = QIcon()
    for size in ICON_SIZES:
        ic.addPixmap(QPixmap.fromImage(render_svg(svg, size)))
    return ic


def icon(name: str, color: ColorLike = None) -> QIcon:
    """A UI icon by name (see :func:`icon_names`), drawn in ``color`` or, by
    default, in the current palette's text colour. Call again after a theme
    change to get the recoloured icon. Raises FileNotFoundError for unknown names."""
    rgb = "fixed" if name in FIXED_COLOUR_ICONS else (
        QColor(color).name() if color is not None else _default_colour().name())
    return _icon_cached(name, rgb)


@functools.lru_cache(maxsize=1)
def app_icon() -> QIcon:
    """The application icon (PNG sizes 16..256 plus the scalable SVG)."""
    ic = QIcon()
    for size in APP_ICON_SIZES:
        ic.addFile(resource_path(f"png/pvprobe-{size}.png"))
    return ic


def pixmap(name: str, size: int, color: ColorLike = None) -> QPixmap:
    """A UI icon as a pixmap of exactly ``size``×``size``."""
    return QPixmap.fromImage(render_svg(svg_for(name, color), size))


def clear_cache() -> None:
    """Forget rendered icons (tests; not needed for theme changes)."""
    _icon_cached.cache_clear()
    app_icon.cache_clear()
    _svg_text.cache_clear()


def find_icon(name: str) -> Optional[QIcon]:
    """Like :func:`icon` but None for an unknown name."""
    try:
        return icon(name)
    except FileNotFoundError:
        return None
