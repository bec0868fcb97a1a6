"""Starting and stopping the GUI around an engine."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Sequence
from typing import Any

from PyQt5.QtCore import QTimer
from PyQt5.QtWidgets import QApplication

from pvprobe.core.atomic import atomic_write_text
from pvprobe.core.interrupts import QuitRequest

from ..bridge import EngineBridge
from ..style.theme import apply_theme, setup_application
from .diagnostics import LoopLatency, RunStats
from .main_window import MainWindow
from .settings import Settings

log = logging.getLogger(__name__)

WINDOW_SIZE = (1280, 760)
WINDOW_SIZE_WITH_VIEWS = (1600, 1000)
#: How often --stats samples the age of every shown value (ms; not a multiple of scan periods).
VALUE_AGE_SAMPLE_MS = 437
#: How often the event loop looks for Ctrl-C (ms).
QUIT_POLL_MS = 100


def _get_app(theme: str | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("pvprobe")
        app.setOrganizationName("pvprobe")
        setup_application(app, theme or "light")
    elif theme:
        apply_theme(app, theme)
    return app


def run_gui(engine: Any, names: list[str], *, screenshot: str | None = None,
            quit_after: float | None = None, stats_path: str | None = None,
            on_exit: Callable[[], None] | None = None, settings_path: str | None = None,
            tab_title: str | None = None, views: Sequence[tuple[str, list[str]]] = (),
            theme: str | None = None, read_only: bool = False,
            restore_session: bool = True, quit_request: QuitRequest | None = None) -> int:
    """Show the main window on ``engine`` with ``names`` and run until quit.

    ``quit_after`` seconds ends the run by itself; ``screenshot`` saves the window
    (PNG) right before quitting; ``stats_path`` gets the run statistics as JSON.
    The window settings (geometry, theme, palette, put confirmation) come from the
    settings file (``settings_path``, default per user); the last session's tabs
    too when ``restore_session`` (else they stay saved, unshown). ``names`` open
    in a tab of their own (``tab_title``). ``views`` opens docks: ("probe" | "waveform" | "strip" | "image",
    names). Ctrl-C in the terminal quits cleanly: ``quit_request`` (installed by the
    caller for the whole start-up; else here) is polled by the event loop, so Ctrl-C
    never raises inside Qt code and one that came before the loop ran quits at once.
    Returns the exit code.
    """
    own_request = quit_request is None
    if quit_request is None:
        quit_request = QuitRequest()
        quit_request.install()
    try:
        return _run(engine, names, quit_request, screenshot=screenshot, quit_after=quit_after,
                    stats_path=stats_path, on_exit=on_exit, settings_path=settings_path,
                    tab_title=tab_title, views=views, theme=theme, read_only=read_only,
                    restore_session=restore_session)
    finally:
        if own_request:
            quit_request.restore()


def _run(engine: Any, names: list[str], quit_request: QuitRequest, *, screenshot: str | None,
         quit_after: float | None, stats_path: str | None, on_exit: Callable[[], None] | None,
         settings_path: str | None, tab_title: str | None,
         views: Sequence[tuple[str, list[str]]], theme: str | None, read_only: bool,
         restore_session: bool) -> int:
    """run_gui's body, with Ctrl-C already turned into ``quit_request``."""
    app = _get_app()
    bridge = EngineBridge(engine)
    window = MainWindow(bridge, settings=Settings(settings_path), read_only=read_only,
                        restore_tabs=restore_session)
    if theme:
        window.set_theme(theme)
    if not window.restored_geometry:
        window.resize(*(WINDOW_SIZE_WITH_VIEWS if views else WINDOW_SIZE))
    window.fit_to_screen()          # default and restored sizes never exceed the screen
    window.show()
    if names:
        window.open_tab(names, tab_title)
    for kind, view_names in views:
        window.open_view(kind, list(view_names))
    latency = LoopLatency(parent=window)
    table = window.table_widget                       # the table of the names given
    stats = RunStats(window.model, bridge, latency, shown=table.visible_rows)
    bridge.batchApplied.connect(stats.on_batch)
    if stats_path:   # value ages for --stats, sampled at an odd period (no beat with scans)
        ages = QTimer(window)
        ages.timeout.connect(stats.sample_value_ages)
        ages.start(VALUE_AGE_SAMPLE_MS)
    finished = False

    def finish() -> None:
        """Screenshot and statistics, once, while the window still shows everything."""
        nonlocal finished
        if finished:
            return
        finished = True
        try:
            if screenshot and not window.grab().save(screenshot):
                log.error("could not save screenshot to %s", screenshot)
        except Exception:
            log.exception("screenshot failed")
        if stats_path:
            try:
                data = stats.to_dict()
                data["views"] = window.views.stats()
                data["fast_callbacks"] = bool(getattr(engine, "fast_callbacks", False))
                data["lean"] = bridge.lean
                atomic_write_text(stats_path, json.dumps(data, indent=2, default=str) + "\n")
            except OSError:
                log.exception("could not write stats to %s", stats_path)

    window.aboutToClose.connect(finish)

    def request_quit() -> None:
        finish()
        app.quit()

    # Ctrl-C only sets quit_request: the loop looks at it (Python runs signal handlers
    # between bytecodes, so this timer also wakes it up while Qt waits in C++)
    def poll_quit() -> None:
        if quit_request.requested:
            request_quit()

    wakeup = QTimer()
    wakeup.timeout.connect(poll_quit)
    wakeup.start(QUIT_POLL_MS)

    latency.start()
    code = 1
    try:
        bridge.start()
        if quit_after is not None:
            QTimer.singleShot(max(0, int(quit_after * 1000)), request_quit)
        # quit() before exec_() would be lost: a request that came during start-up ends here
        code = 0 if quit_request.requested else app.exec_()
    finally:
        wakeup.stop()
        latency.stop()
        finish()
        try:
            # the engine stops before the window lets go of its rows: the removals that
            # closing the tables asks for are never carried out (clearing 100,000
            # channels one by one kept the quit waiting for the worker); the channels
            # go with the protocol contexts at exit
            bridge.stop()
        finally:
            # no questions from here: the session (tabs and their lists) is saved
            window.force_close = True
            window.close()
            if on_exit is not None:
                on_exit()
            window.deleteLater()
    return code
