"""Light and dark themes (Fusion style + QPalette) and the colours that go with them.

``apply_theme(app, "dark")`` sets the style and palette (no stylesheet).
:func:`table_colors` gives, per theme and alarm palette, every colour the PV
table draws itself (alarm cell fills and their text, disconnected rows, the
"differs from saved" cell, put completion text) such that:

- text on an alarm fill has a WCAG contrast ratio of at least 4.5;
- an alarm colour drawn directly on the theme's base or window (``alarm_text``:
  labels, plot pens, icons) has at least 4.5 against both;
- in the dark theme the alarm fills themselves stand out from the base by at
  least 3 (in the light theme MINOR's yellow cannot: the ▲ symbol and the hue
  carry it, as in every EPICS display).

All colours and the theme and palette names come from ``pvprobe.core.colors``
(the table model's defaults are the light theme's, from the same place).

The other views take their colours from here too: :func:`status_colors` (probe,
put editor, record fields, image view labels: text >= 4.5 on window and base) and
:func:`plot_colors` (waveform plot, strip chart, sparkline: axes text >= 4.5,
trace colours >= 4.5 so they also serve as text). :func:`label_style` turns a
colour into a label stylesheet. Views take the current theme from
:func:`theme_of` when built and follow ``set_theme(name)`` (the main window calls
it on every open view).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Optional, Union

from PyQt5.QtCore import Qt
from PyQt5.QtGui import QColor, QPainter, QPalette
from PyQt5.QtWidgets import QApplication, QProxyStyle, QStyle, QStyleFactory

from pvprobe.core import colors
from pvprobe.core.colors import ALARM_PALETTES, RGB, THEMES

#: Application property holding the applied theme's name.
THEME_PROPERTY = "pvprobe_theme"

ColourLike = Union[QColor, RGB, str]


# ---------------------------------------------------------------------- contrast

def _rgb(c: ColourLike) -> RGB:
    if isinstance(c, tuple):
        return c
    q = QColor(c) if isinstance(c, str) else c
    return (q.red(), q.green(), q.blue())


def relative_luminance(c: ColourLike) -> float:
    """WCAG 2 relative luminance of an sRGB colour (0 black .. 1 white)."""
    def lin(v: int) -> float:
        s = v / 255.0
        return s / 12.92 if s <= 0.04045 else ((s + 0.055) / 1.055) ** 2.4
    r, g, b = _rgb(c)
    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


def contrast_ratio(a: ColourLike, b: ColourLike) -> float:
    """WCAG 2 contrast ratio between two colours (1 .. 21)."""
    la, lb = relative_luminance(a), relative_luminance(b)
    hi, lo = max(la, lb), min(la, lb)
    return (hi + 0.05) / (lo + 0.05)


# ---------------------------------------------------------------------- palettes

@dataclass(frozen=True)
class ThemeSpec:
    """The palette roles of one theme (RGB tuples)."""

    window: RGB
    window_text: RGB
    base: RGB
    alternate_base: RGB
    text: RGB
    button: RGB
    button_text: RGB
    highlight: RGB
    highlighted_text: RGB
    link: RGB
    tooltip_base: RGB
    tooltip_text: RGB
    disabled_text: RGB
    placeholder: RGB
    mid: RGB
    dark: RGB
    light: RGB
    shadow: RGB


_SPECS = {name: ThemeSpec(**roles) for name, roles in colors.THEME_ROLES.items()}


def available_themes() -> list[str]:
    """Theme names :func:`apply_theme` accepts."""
    return list(THEMES)


def theme_spec(name: str) -> ThemeSpec:
    """The palette roles of theme ``name``."""
    if name not in _SPECS:
        raise ValueError(f"unknown theme {name!r} (one of {', '.join(THEMES)})")
    return _SPECS[name]


def make_palette(name: str) -> QPalette:
    """A complete QPalette for theme ``name``."""
    s = theme_spec(name)
    pal = QPalette()
    roles = {
        QPalette.Window: s.window, QPalette.WindowText: s.window_text, QPalette.Base: s.base,
        QPalette.AlternateBase: s.alternate_base, QPalette.Text: s.text,
        QPalette.Button: s.button, QPalette.ButtonText: s.button_text,
        QPalette.Highlight: s.highlight, QPalette.HighlightedText: s.highlighted_text,
        QPalette.Link: s.link, QPalette.LinkVisited: s.link,
        QPalette.ToolTipBase: s.tooltip_base, QPalette.ToolTipText: s.tooltip_text,
        QPalette.PlaceholderText: s.placeholder, QPalette.BrightText: colors.BRIGHT_TEXT,
        QPalette.Mid: s.mid, QPalette.Dark: s.dark, QPalette.Light: s.light,
        QPalette.Midlight: s.light, QPalette.Shadow: s.shadow,
    }
    for role, rgb in roles.items():
        pal.setColor(QPalette.All, role, QColor(*rgb))
    for role in (QPalette.WindowText, QPalette.Text, QPalette.ButtonText):
        pal.setColor(QPalette.Disabled, role, QColor(*s.disabled_text))
    pal.setColor(QPalette.Disabled, QPalette.Highlight, QColor(*s.mid))
    return pal


class _ThemeStyle(QProxyStyle):
    """Fusion, with check box and radio button frames drawn in a colour that stands
    out from the base: Fusion derives them from the window colour, which in the dark
    theme leaves an unchecked box (a table's "Own y" column, the image view's options)
    nearly invisible."""

    def __init__(self, frame: QColor) -> None:
        super().__init__(QStyleFactory.create("Fusion"))
        self.setObjectName("fusion")     # what it is, to anyone asking the style's name
        self.frame = frame

    def drawPrimitive(self, element, option, painter, widget=None) -> None:  # noqa: N802
        super().drawPrimitive(element, option, painter, widget)
        if element not in (QStyle.PE_IndicatorCheckBox, QStyle.PE_IndicatorRadioButton):
            return
        painter.save()
        painter.setRenderHint(QPainter.Antialiasing, element == QStyle.PE_IndicatorRadioButton)
        painter.setPen(self.frame)
        painter.setBrush(Qt.NoBrush)
        r = option.rect.adjusted(0, 0, -1, -1)
        if element == QStyle.PE_IndicatorRadioButton:
            painter.drawEllipse(r)
        else:
            painter.drawRect(r)
        painter.restore()


#: Frame of check boxes and radio buttons where Fusion's own is too faint.
INDICATOR_FRAME = colors.INDICATOR_FRAME


def apply_theme(app: QApplication, name: str) -> None:
    """Apply theme ``name`` ("light" or "dark") to ``app``: Fusion style and a full
    palette (tooltips included; no stylesheet, so the app's own is untouched).
    Records the name in the app property ``pvprobe_theme``.
    Views that draw their own colours should then ask :func:`table_colors` again,
    and icons should be re-fetched (``resources.icon`` follows the palette)."""
    spec_pal = make_palette(name)
    frame = INDICATOR_FRAME.get(name)
    fusion = QStyleFactory.create("Fusion") if frame is None else _ThemeStyle(QColor(*frame))
    if fusion is not None:
        app.setStyle(fusion)
    app.setProperty(THEME_PROPERTY, name)   # first: palette-change handlers see the new name
    app.setPalette(spec_pal)


def current_theme(app: QApplication) -> str:
    """The name last given to :func:`apply_theme` ("light" when none was)."""
    name = app.property(THEME_PROPERTY)
    return name if name in THEMES else "light"


# ---------------------------------------------------------------------- table colours

@dataclass(frozen=True)
class TableColors:
    """Colours a table model draws itself, for one theme and one alarm palette."""

    theme: str
    palette: str
    #: severity (1 MINOR, 2 MAJOR, 3 INVALID) -> (cell fill, text on that fill)
    alarm: dict[int, tuple[QColor, QColor]] = field(default_factory=dict)
    #: severity -> colour for alarm text/lines drawn directly on the theme's base
    alarm_text: dict[int, QColor] = field(default_factory=dict)
    disconnected_fg: QColor = field(default_factory=QColor)
    disconnected_bg: QColor = field(default_factory=QColor)
    diff_bg: QColor = field(default_factory=QColor)
    diff_fg: QColor = field(default_factory=QColor)
    failed_fg: QColor = field(default_factory=QColor)
    done_fg: QColor = field(default_factory=QColor)
    base: QColor = field(default_factory=QColor)
    text: QColor = field(default_factory=QColor)


_C = QColor
_FILLS = colors.ALARM_FILLS
_ALARM_TEXT = colors.ALARM_TEXT
_OTHER = colors.TABLE


def table_colors(theme: str = "light", palette_name: str = "default") -> TableColors:
    """Every colour the PV table draws itself, for ``theme`` and alarm palette
    ``palette_name`` ("default" or "colorblind")."""
    spec = theme_spec(theme)
    if palette_name not in ALARM_PALETTES:
        raise ValueError(f"unknown alarm palette {palette_name!r} "
                         f"(one of {', '.join(ALARM_PALETTES)})")
    key = (theme, palette_name)
    other = {k: _C(*v) for k, v in _OTHER[theme].items()}
    return TableColors(
        theme=theme, palette=palette_name,
        alarm={sev: (_C(*bg), _C(*fg)) for sev, (bg, fg) in _FILLS[key].items()},
        alarm_text={sev: _C(*c) for sev, c in _ALARM_TEXT[key].items()},
        base=_C(*spec.base), text=_C(*spec.text), **other)


def alarm_colors(theme: str = "light", palette_name: str = "default"
                 ) -> dict[int, tuple[QColor, QColor]]:
    """severity -> (cell fill, text) for ``theme`` and alarm palette ``palette_name``:
    a drop-in for ``pvtable_model.PALETTES[palette_name]``."""
    return table_colors(theme, palette_name).alarm


def contrast_report(theme: str, palette_name: str) -> Iterable[tuple[str, float]]:
    """(what, ratio) pairs the tests check; handy when tuning colours."""
    tc = table_colors(theme, palette_name)
    for sev, (bg, fg) in tc.alarm.items():
        yield f"sev{sev} text on fill", contrast_ratio(fg, bg)
        yield f"sev{sev} fill vs base", contrast_ratio(bg, tc.base)
        yield f"sev{sev} alarm_text vs base", contrast_ratio(tc.alarm_text[sev], tc.base)
    yield "disconnected text vs base", contrast_ratio(tc.disconnected_fg, tc.base)
    yield "disconnected text on its fill", contrast_ratio(tc.disconnected_fg, tc.disconnected_bg)
    yield "diff text on fill", contrast_ratio(tc.diff_fg, tc.diff_bg)
    yield "failed text vs base", contrast_ratio(tc.failed_fg, tc.base)
    yield "done text vs base", contrast_ratio(tc.done_fg, tc.base)


# ---------------------------------------------------------------------- other widgets

@dataclass(frozen=True)
class StatusColors:
    """Text colours for status labels on the window/base background of one theme."""

    ok: QColor       #: success ("done", "connected")
    bad: QColor      #: failure, read-only, errors
    hint: QColor     #: secondary text (clock, hints, progress)
    muted: QColor    #: de-emphasised text (disconnected, connecting; shown in italics)
    link: QColor
    muted_fill: QColor  #: background behind a disconnected value (muted text on it >= 4.5)
    warn: QColor     #: frame of an invalid entry (>= 3 against the base)


_STATUS = colors.STATUS


def status_colors(theme: str = "light") -> StatusColors:
    """Status text colours for ``theme`` (replace hard-coded ``rgb(170, 20, 20)`` etc.)."""
    theme_spec(theme)
    return StatusColors(**{k: _C(*v) for k, v in _STATUS[theme].items()})


def label_style(colour: QColor, *, italic: bool = False, bold: bool = False,
                background: Optional[QColor] = None) -> str:
    """A QLabel stylesheet drawing text in ``colour`` (and the given font and fill)."""
    parts = [f"color: {colour.name()};"]
    if italic:
        parts.append("font-style: italic;")
    if bold:
        parts.append("font-weight: bold;")
    if background is not None:
        parts.append(f"background: {background.name()};")
    return " ".join(parts)


@dataclass(frozen=True)
class PlotColors:
    """Colours for pyqtgraph plots in one theme."""

    background: QColor
    foreground: QColor   #: axes, labels
    grid: QColor
    cursor: QColor       #: the crosshair
    alarm: dict[int, QColor] = field(default_factory=dict)  #: severity pens (>= 4.5 vs background)
    #: line colours in order (>= 4.5 vs the background and the base: also used as text)
    traces: tuple[QColor, ...] = ()

    def trace(self, i: int) -> QColor:
        """The colour of the ``i``-th trace (cycling)."""
        return QColor(self.traces[i % len(self.traces)])

    def legend_fill(self) -> QColor:
        """The legend's box: the background, slightly translucent."""
        c = QColor(self.background)
        c.setAlpha(200)
        return c


_TRACES = colors.TRACES
_PLOT = colors.PLOT


def plot_colors(theme: str = "light", palette_name: str = "default") -> PlotColors:
    """Plot colours for ``theme``: e.g. ``pg.PlotWidget(background=pc.background)``,
    ``plot.getAxis("left").setPen(pc.foreground)``; alarm pens from the alarm palette."""
    tc = table_colors(theme, palette_name)
    return PlotColors(alarm=dict(tc.alarm_text), traces=tuple(_C(*c) for c in _TRACES[theme]),
                      **{k: _C(*v) for k, v in _PLOT[theme].items()})


def view_contrast_report(theme: str, palette_name: str = "default"
                         ) -> Iterable[tuple[str, float, float]]:
    """(what, ratio, required) for every colour the views draw on the window, the base or
    a plot: text needs 4.5 (WCAG AA), lines and frames 3."""
    spec, sc = theme_spec(theme), status_colors(theme)
    pc = plot_colors(theme, palette_name)
    for bg_name, bg in (("window", spec.window), ("base", spec.base)):
        for what in ("ok", "bad", "hint", "muted", "link"):
            yield f"{what} text on {bg_name}", contrast_ratio(getattr(sc, what), bg), 4.5
        yield f"invalid-entry frame on {bg_name}", contrast_ratio(sc.warn, bg), 3.0
        for sev, c in pc.alarm.items():
            yield f"sev{sev} alarm text on {bg_name}", contrast_ratio(c, bg), 4.5
        for i, c in enumerate(pc.traces):
            yield f"trace {i} as text on {bg_name}", contrast_ratio(c, bg), 4.5
    yield "muted text on its fill", contrast_ratio(sc.muted, sc.muted_fill), 4.5
    yield "plot axes on plot background", contrast_ratio(pc.foreground, pc.background), 4.5
    yield "crosshair on plot background", contrast_ratio(pc.cursor, pc.background), 3.0
    for sev, c in pc.alarm.items():
        yield f"sev{sev} alarm pen on plot background", contrast_ratio(c, pc.background), 3.0
    for i, c in enumerate(pc.traces):
        yield f"trace {i} on plot background", contrast_ratio(c, pc.background), 4.5


class ThemedMixin:
    """A view's theme switch: :attr:`theme_name`, and :meth:`set_theme`, which keeps
    the name and recolours the view (its ``_apply_theme()``)."""

    _theme = "light"

    @property
    def theme_name(self) -> str:
        return self._theme

    def set_theme(self, name: str) -> None:
        """Colours of the "light" or "dark" theme (the main window calls this on a switch)."""
        self._theme = name
        self._apply_theme()

    def _apply_theme(self) -> None:
        """Recolour the view for ``self._theme``."""


def theme_of(app: Optional[QApplication] = None) -> str:
    """The current theme of ``app`` (default: the running QApplication), "light" if none."""
    app = app or QApplication.instance()
    return current_theme(app) if app is not None else "light"


def setup_application(app: QApplication, theme: str = "light") -> None:
    """Everything desktop-facing in one call: the window icon, the desktop file name
    (so docks and Wayland compositors match ``pvprobe.desktop`` and show its icon) and
    the theme. Call once after creating the QApplication."""
    from .resources import app_icon

    app.setWindowIcon(app_icon())
    app.setDesktopFileName("pvprobe")
    apply_theme(app, theme)
