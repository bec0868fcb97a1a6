"""The main window's menu bar: File, Edit, Snapshot, Open and View."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PyQt5.QtGui import QKeySequence
from PyQt5.QtWidgets import QApplication

from ..style.theme import available_themes, current_theme
from ..widgets.actions import choice_actions
from .protocol_menu import ProtocolMenu
from .settings import PALETTES

if TYPE_CHECKING:
    from .main_window import MainWindow

PALETTE_LABELS = {"default": "&Standard alarm colours",
                  "colorblind": "&Colour-blind safe alarm colours"}


def build_main_menus(w: MainWindow) -> None:
    """Fill ``w``'s menu bar; sets the actions other code reaches through the window
    (``quit_action``, ``open_action``, ``remove_action``, ``copy_action``,
    ``probe_action``, ``compare_action``, ``theme_actions``, ``palette_actions``,
    ``confirm_action``, ``protocol_menu``) and
    ``w.theme_name`` (the application's current theme)."""
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    w.file_actions.fill_menu(file_menu)
    file_menu.addSeparator()
    w.quit_action = file_menu.addAction("&Quit", w.close)
    w.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
    w.open_action = w.file_actions.open_action

    edit_menu = bar.addMenu("&Edit")
    w.remove_action = edit_menu.addAction("&Remove selected rows", w.remove_selected)
    w.copy_action = edit_menu.addAction("&Copy names and values", w.copy_selected)
    edit_menu.addAction("Copy &names only", lambda: w.table_widget.copy_selected(False))
    edit_menu.addSeparator()
    edit_menu.addAction("&Put value to selected PV…", lambda: w.table_widget.put_value_dialog())

    w.snapshots.fill_menu(bar.addMenu("&Snapshot"))

    views_menu = bar.addMenu("&Open")
    w.probe_action = views_menu.addAction("&Probe a PV…", lambda: w.open_probe())
    w.probe_action.setShortcut(QKeySequence("Ctrl+P"))
    views_menu.addAction("Probe &selected rows", lambda: w._open_selected("probe"))
    views_menu.addAction("&Waveform plot of selected rows", lambda: w._open_selected("waveform"))
    views_menu.addAction("S&trip chart of selected rows", lambda: w._open_selected("strip"))
    w.compare_action = views_menu.addAction(
        "Compare CA and P&VA…", lambda: w.open_view("compare", w.table_widget.selected_names()[:1]))
    views_menu.addSeparator()
    views_menu.addAction("&Waveform plot of a PV…", lambda: w._ask_and_open("waveform"))
    views_menu.addAction("Strip &chart of a PV…", lambda: w._ask_and_open("strip"))
    views_menu.addAction("&Image view (areaDetector plugin prefix or pva:// NTNDArray)…",
                         lambda: w._ask_and_open("image"))
    w.name_finder.fill_menu(views_menu)

    view_menu = bar.addMenu("&View")
    app = QApplication.instance()
    w.theme_name = current_theme(app) if app is not None else "light"
    themes = [(name, name.capitalize()) for name in available_themes()]
    w.theme_actions = choice_actions(view_menu.addMenu("&Theme"), w, themes, w.set_theme, w.theme_name)
    palettes = [(name, PALETTE_LABELS.get(name, name)) for name in PALETTES]
    w.palette_actions = choice_actions(view_menu, w, palettes, w.set_palette, "default")
    view_menu.addSeparator()
    w.confirm_action = view_menu.addAction("Ask before every &put")
    w.confirm_action.setCheckable(True)
    w.confirm_action.setChecked(True)
    w.confirm_action.toggled.connect(w.set_confirm_puts)
    w.protocol_menu = ProtocolMenu(view_menu, w._show_message)


__all__ = ["build_main_menus", "PALETTE_LABELS"]
