"""``pvprobe [PV ...]``: the main window, its options and whether it restores the last session.

Qt, epics and the demo IOC are imported inside :func:`run`: ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from typing import Any, Optional

from .. import __version__
from .common import add_protocol_option, check_names, engine, err, list_names, positive

#: What ``pvprobe --demo`` shows when no PV is named.
DEMO_FEATURED = ["sine", "setpoint", "enum", "switch", "long", "message", "readonly", "slow",
                 "heartbeat", "wave", "filename", "image1:ArrayCounter_RBV",
                 "image1:ArraySize0_RBV", "image1:ArraySize1_RBV", "image1:ColorMode_RBV",
                 "image1:DataType_RBV", "image2:ColorMode_RBV"]


#: The longest --quit-after: Qt's timers count milliseconds in a signed 32-bit int.
MAX_QUIT_AFTER_S = (2 ** 31 - 1) // 1000


def _quit_after(text: str) -> float:
    """argparse type of --quit-after: seconds > 0 that Qt's timer can hold (about 24 days)."""
    v = positive(text)
    if v > MAX_QUIT_AFTER_S:
        raise argparse.ArgumentTypeError(f"at most {MAX_QUIT_AFTER_S} s (24 days), not {text}")
    return v


def _gui_names(args: argparse.Namespace, demo_prefix: Optional[str]) -> tuple[list[str], bool]:
    names, ok = check_names("", args.pvs)
    if args.pvlist:
        listed = list_names("", args.pvlist)
        if listed is None:
            return names, False
        names += listed[0]
    if demo_prefix and not names:
        from ..demo.featured import pva_rows

        names = [demo_prefix + n for n in DEMO_FEATURED] + pva_rows(demo_prefix)
        names += [f"{demo_prefix}ai:{i:03d}" for i in range(100)]
        names += [f"{demo_prefix}{kind}:{i:03d}" for kind in ("bo", "mbbi", "longin", "stringin")
                  for i in range(5)]
    return list(dict.fromkeys(names)), ok


def restores_session(args: argparse.Namespace) -> bool:
    """Whether the GUI brings back the last session's tabs: a plain start does; PVs,
    lists or views named on the command line (names, --pvlist, --probe, --plot,
    --strip, --image, and --demo, which names its own PVs) open a window of just
    those, unless --restore-session asks for the old tabs too."""
    given = (args.pvs, args.pvlist, args.probe, args.plot, args.strip, args.image, args.demo,
             args.compare)
    return bool(args.restore_session) or not any(given)


def _views(args: argparse.Namespace) -> list[tuple[str, list[str]]]:
    """The views the options open: probes, one waveform plot, one strip chart, images."""
    views = []
    for kind, option, given in (("probe", "--probe", args.probe), ("waveform", "--plot", args.plot),
                                ("strip", "--strip", args.strip)):
        if given:
            good, _ok = check_names(option, given)
            if good:
                views.append((kind, good))
    if args.image:
        views.append(("image", list(args.image)))
    if args.compare:
        good, _ok = check_names("--compare", args.compare)
        if good:
            views.append(("compare", good))
    return views


def _tab_title(args: argparse.Namespace, demo: Any) -> Optional[str]:
    if args.pvlist:
        return os.path.basename(args.pvlist)
    if demo is not None and not args.pvs:
        return "demo"
    return None


def _reset_settings(path: Optional[str]) -> bool:
    """Remove the settings file (--reset-settings); False when it cannot be removed (reported)."""
    from ..qt.app.settings import reset_settings

    try:
        removed = reset_settings(path)
    except OSError as exc:
        err("--reset-settings", f"could not remove the settings file: {exc}")
        return False
    if removed:
        print(f"pvprobe: settings reset ({removed} removed)", file=sys.stderr)
    return True


def run(args: argparse.Namespace) -> int:
    """The main window. Ctrl-C at any moment (demo IOC start, libca, window, event
    loop) quits cleanly with status 0 and stops the demo IOC."""
    from ..core.interrupts import QuitRequest

    with QuitRequest() as quit_request:
        code = _run_gui_command(args, quit_request)
    # the process ends now: its objects are frozen, so the interpreter's last full
    # collection at exit skips them (a 110,000-PV session's heap: 0.2-0.5 s for nothing)
    gc.freeze()
    return code


def _run_gui_command(args: argparse.Namespace, quit_request: Any) -> int:
    from ..qt.app.platform_check import xcb_problem

    problem = xcb_problem()     # Qt would only say "could not load the Qt platform plugin"
    if problem:
        print(problem, file=sys.stderr)
        return 1
    demo = None
    if args.demo:
        from ..demo.launcher import DemoIOC, DemoIOCCancelled, DemoIOCError

        demo = DemoIOC(prefix=args.prefix)
        try:
            if quit_request.requested:
                return 0
            demo.start(cancel=quit_request.event)
        except DemoIOCCancelled:
            return 0
        except DemoIOCError as exc:
            err("--demo", f"the demo IOC did not start: {exc}")
            return 1
        os.environ.update(demo.client_env)
    try:
        if not args.reset_settings:     # bare names given here follow View > Bare PV names use
            from ..qt.app.protocol_menu import apply_saved_protocol

            apply_saved_protocol(args.settings)
        names, ok = _gui_names(args, demo.prefix if demo else None)
        if not ok and not names:
            return 2
        if quit_request.requested:
            return 0
        from ..qt.app.app import run_gui

        if args.reset_settings and not _reset_settings(args.settings):
            return 1
        from ..core.name_sources import set_cli_gateways

        set_cli_gateways(args.gateway_status or [])
        title = _tab_title(args, demo)
        views = _views(args)
        if demo is not None and not (views or args.pvs or args.pvlist):
            from ..demo.featured import pva_views

            views = pva_views(demo.prefix)
        if quit_request.requested:
            return 0
        # camera frames do not wait for a tick (paced arrays go out once fetched)
        eng = engine(tick_hz=args.tick_hz or 20.0)
        return run_gui(eng, names, screenshot=args.screenshot, quit_after=args.quit_after,
                       stats_path=args.stats, settings_path=args.settings, tab_title=title,
                       views=views, theme=args.theme, read_only=args.read_only,
                       restore_session=restores_session(args), quit_request=quit_request)
    finally:
        if demo is not None:
            demo.stop()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pvprobe",
        description="Monitor and probe EPICS PVs over Channel Access and pvAccess. Without a "
                    "subcommand, opens the main window on the PVs named (NAME or ca://NAME: CA, "
                    "pva://NAME: pvAccess).",
        epilog="Subcommands: get, put, info, monitor, snapshot {save,compare,restore}, list, demo-ioc "
               "(pvprobe SUBCOMMAND --help). EPICS_CA_* and EPICS_PVA_* environment variables "
               "are honoured.")
    p.add_argument("--version", action="version", version=f"pvprobe {__version__}")
    add_protocol_option(p)
    p.add_argument("pvs", nargs="*", metavar="PV", help="PV names to show in the table")
    p.add_argument("--pvlist", metavar="FILE",
                   help="PV list: a text file (one name per line, # comments) or a Phoebus .pvs table")
    p.add_argument("--demo", action="store_true",
                   help="start the embedded demo IOC on free loopback ports and show its PVs")
    p.add_argument("--prefix", default="PVPDEMO:", help="demo IOC PV prefix (default PVPDEMO:)")
    p.add_argument("--tick-hz", type=positive, default=None,
                   help="batches of PV updates delivered to the UI per second (default 20; "
                        "camera frames go out as soon as they arrive)")
    p.add_argument("--probe", action="append", metavar="PV", help="open a probe panel on PV (repeatable)")
    p.add_argument("--plot", action="append", metavar="PV",
                   help="open a waveform plot of the array PV (repeat: all in one plot)")
    p.add_argument("--strip", action="append", metavar="PV",
                   help="open a strip chart of the scalar PV (repeat: all on one chart)")
    p.add_argument("--image", action="append", metavar="PREFIX",
                   help="open an image view of the areaDetector plugin PREFIX (e.g. 13SIM1:image1:)")
    p.add_argument("--compare", action="append", metavar="NAME",
                   help="open a panel showing record NAME over CA and over PVA side by side, "
                        "differences marked (repeatable)")
    p.add_argument("--gateway-status", action="append", metavar="PREFIX",
                   help="a p4p gateway's status PV prefix (e.g. GW:): its channel list completes "
                        "names, the probe says which PVs come through it, Open > Gateway status "
                        "shows it (repeatable; also $PVPROBE_GATEWAYS and the settings)")
    p.add_argument("--theme", choices=("light", "dark"), help="colour theme (default: the last one used)")
    p.add_argument("--read-only", action="store_true",
                   help="watch only: every put from the app is refused (also: read_only=true under "
                        "[window] in the settings file)")
    p.add_argument("--screenshot", metavar="PNG", help="save a picture of the window before quitting")
    p.add_argument("--quit-after", type=_quit_after, metavar="SECONDS", help="quit by itself")
    p.add_argument("--stats", metavar="JSON", help="write run statistics as JSON at exit")
    p.add_argument("--settings", metavar="INI",
                   help="settings file (default: $PVPROBE_SETTINGS, else ~/.config/pvprobe/pvprobe.ini)")
    p.add_argument("--restore-session", action="store_true",
                   help="also bring back the last session's tabs when PVs, lists or views are "
                        "named (by default only those are shown; a plain start restores the session)")
    p.add_argument("--reset-settings", action="store_true",
                   help="forget the saved window layout, tabs and options before starting")
    return p
