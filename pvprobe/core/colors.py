"""Every colour pvprobe draws, and the names of its themes and alarm palettes: one source.

Plain RGB tuples, no Qt: ``pvprobe.qt.style.theme`` turns them into QPalettes and
QColors, and every widget takes its colours from there (or from here). Before,
the PV table kept its own copies for the light theme and they drifted from the
theme's (disconnected rows grey 128 at start, 118 after a theme change);
``tests/qt/style/test_theme_model.py`` checks that no Qt module writes a colour literal.

Contrast rules the values obey are in ``pvprobe.qt.style.theme`` (and its tests).
"""

from __future__ import annotations

RGB = tuple[int, int, int]
RGBA = tuple[int, int, int, int]

#: Theme names (``--theme``, View ▸ Theme, the settings file).
THEMES = ("light", "dark")
#: Alarm colour palette names (View menu, the settings file).
ALARM_PALETTES = ("default", "colorblind")

#: QPalette roles per theme.
THEME_ROLES: dict[str, dict[str, RGB]] = {
    "light": dict(
        window=(239, 239, 239), window_text=(20, 20, 20), base=(255, 255, 255),
        alternate_base=(245, 245, 245), text=(20, 20, 20), button=(239, 239, 239),
        button_text=(20, 20, 20), highlight=(48, 140, 198), highlighted_text=(255, 255, 255),
        link=(0, 90, 180), tooltip_base=(255, 255, 220), tooltip_text=(0, 0, 0),
        disabled_text=(120, 120, 120), placeholder=(110, 110, 110), mid=(184, 184, 184),
        dark=(160, 160, 160), light=(255, 255, 255), shadow=(118, 118, 118)),
    "dark": dict(
        window=(45, 45, 48), window_text=(230, 230, 230), base=(30, 30, 32),
        alternate_base=(40, 40, 43), text=(230, 230, 230), button=(53, 53, 56),
        button_text=(230, 230, 230), highlight=(42, 110, 180), highlighted_text=(255, 255, 255),
        link=(110, 170, 240), tooltip_base=(60, 60, 64), tooltip_text=(235, 235, 235),
        disabled_text=(128, 128, 128), placeholder=(150, 150, 150), mid=(70, 70, 74),
        dark=(25, 25, 27), light=(85, 85, 90), shadow=(10, 10, 10)),
}
#: QPalette.BrightText in both themes.
BRIGHT_TEXT: RGB = (255, 80, 80)
#: Frame of check boxes and radio buttons where Fusion's own is too faint.
INDICATOR_FRAME: dict[str, RGB] = {"dark": (150, 150, 155)}

#: (theme, alarm palette) -> severity (1 MINOR, 2 MAJOR, 3 INVALID) -> (cell fill, text on it).
#: Default: yellow, red, purple. Colour-blind: Okabe–Ito yellow, vermillion, reddish
#: purple, apart in lightness as well as hue (distinct under deuteranopia, protanopia,
#: tritanopia and in greyscale), black text on all three. Dark: the same hues, red and
#: purple lifted so the fills stand out from a dark base by >= 3.
ALARM_FILLS: dict[tuple[str, str], dict[int, tuple[RGB, RGB]]] = {
    ("light", "default"): {1: ((255, 221, 87), (0, 0, 0)), 2: ((214, 48, 49), (255, 255, 255)),
                           3: ((156, 39, 176), (255, 255, 255))},
    ("light", "colorblind"): {1: ((240, 228, 66), (0, 0, 0)), 2: ((213, 94, 0), (0, 0, 0)),
                              3: ((204, 121, 167), (0, 0, 0))},
    ("dark", "default"): {1: ((255, 221, 87), (0, 0, 0)), 2: ((235, 77, 75), (0, 0, 0)),
                          3: ((190, 100, 215), (0, 0, 0))},
    ("dark", "colorblind"): {1: ((240, 228, 66), (0, 0, 0)), 2: ((213, 94, 0), (0, 0, 0)),
                             3: ((204, 121, 167), (0, 0, 0))},
}
#: Alarm colours used as text or lines on the base or window (>= 4.5:1 against both).
ALARM_TEXT: dict[tuple[str, str], dict[int, RGB]] = {
    ("light", "default"): {1: (140, 98, 0), 2: (200, 30, 30), 3: (140, 30, 160)},
    ("light", "colorblind"): {1: (140, 98, 0), 2: (180, 75, 0), 3: (160, 70, 130)},
    ("dark", "default"): {1: (255, 221, 87), 2: (255, 110, 105), 3: (215, 140, 235)},
    ("dark", "colorblind"): {1: (240, 228, 66), 2: (240, 120, 40), 3: (220, 150, 190)},
}
#: The table's other colours: disconnected rows, the Saved cell that differs, put results.
TABLE: dict[str, dict[str, RGB]] = {
    "light": dict(disconnected_fg=(118, 118, 118), disconnected_bg=(232, 232, 232),
                  diff_bg=(200, 228, 250), diff_fg=(0, 0, 0), failed_fg=(170, 20, 20),
                  done_fg=(0, 110, 60)),
    "dark": dict(disconnected_fg=(150, 150, 150), disconnected_bg=(58, 58, 60),
                 diff_bg=(28, 68, 110), diff_fg=(235, 235, 235), failed_fg=(255, 120, 115),
                 done_fg=(100, 210, 140)),
}
#: Status label text on the window or base (probe, put editor, image view...).
STATUS: dict[str, dict[str, RGB]] = {
    "light": dict(ok=(0, 110, 60), bad=(170, 20, 20), hint=(95, 95, 95), muted=(100, 100, 100),
                  link=(0, 90, 180), muted_fill=(228, 228, 228), warn=(213, 94, 0)),
    "dark": dict(ok=(100, 210, 140), bad=(255, 120, 115), hint=(170, 170, 170),
                 muted=(160, 160, 160), link=(110, 170, 240), muted_fill=(52, 52, 55),
                 warn=(240, 120, 40)),
}
#: Plot trace colours in order: Tableau-10 hues, darkened for white, lightened for dark.
TRACES: dict[str, tuple[RGB, ...]] = {
    "light": ((25, 105, 165), (175, 80, 0), (30, 115, 30), (200, 30, 30), (130, 85, 185),
              (140, 86, 75), (175, 45, 135), (100, 100, 100), (105, 105, 0), (0, 110, 125)),
    "dark": ((90, 160, 230), (255, 150, 60), (90, 200, 90), (255, 105, 100), (190, 150, 235),
             (205, 150, 120), (240, 140, 210), (180, 180, 180), (205, 205, 60), (70, 210, 225)),
}
#: Plot background, axes, grid and crosshair.
PLOT: dict[str, dict[str, RGB]] = {
    "light": dict(background=(255, 255, 255), foreground=(50, 50, 50), grid=(200, 200, 200),
                  cursor=(200, 110, 0)),
    "dark": dict(background=(25, 25, 27), foreground=(210, 210, 210), grid=(70, 70, 74),
                 cursor=(245, 158, 11)),
}
#: The sparkline's no-alarm band (LOW..HIGH): a faint green wash, readable in both themes.
SPARKLINE_BAND: RGBA = (120, 200, 120, 45)
#: Overlays drawn on camera images (any theme: they sit on the pixels).
IMAGE_OVERLAY: dict[str, RGB] = {"profile": (255, 255, 0), "roi": (0, 255, 255)}
#: The padlock painted in read-only table rows, and its keyhole.
LOCK_ICON: RGB = (90, 90, 90)
LOCK_KEYHOLE: RGB = (255, 255, 255)
#: Icon colour when no QApplication (hence no palette) exists yet.
ICON_FALLBACK: RGB = (40, 40, 40)


def css_rgb(c: RGB) -> str:
    """``rgb(r, g, b)`` for Qt style sheets."""
    return f"rgb({c[0]}, {c[1]}, {c[2]})"


__all__ = ["RGB", "RGBA", "THEMES", "ALARM_PALETTES", "THEME_ROLES", "BRIGHT_TEXT", "INDICATOR_FRAME",
           "ALARM_FILLS", "ALARM_TEXT", "TABLE", "STATUS", "TRACES", "PLOT", "SPARKLINE_BAND",
           "IMAGE_OVERLAY", "LOCK_ICON", "LOCK_KEYHOLE", "ICON_FALLBACK", "css_rgb"]
