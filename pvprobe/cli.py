"""Command line: the GUI (default) and its twins ``get``, ``put``, ``info``,
``monitor`` and ``demo-ioc``. Output follows caget/caput/cainfo/camonitor.

Heavy imports (epics, Qt, the IOC libraries) happen inside the commands: the
IOC and pyepics must never share a process, and ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Optional, Sequence

from . import __version__
from .core.format import (CAGET_FORMAT, MAX_FORMAT_DIGITS, FloatFormat, char_array_bytes,
                          char_array_escaped, format_scalar, format_timestamp, format_value)
from .core.pvnames import PVListError, pv_name_error, strip_scheme
from .core.pvs_format import read_names
from .core.pvstate import PVState
from .core.realtime import drop_realtime

SUBCOMMANDS = ("get", "put", "info", "monitor", "demo-ioc", "snapshot")

#: What ``pvprobe --demo`` shows when no PV is named.
DEMO_FEATURED = ["sine", "setpoint", "enum", "switch", "long", "message", "readonly", "slow",
                 "heartbeat", "wave", "filename", "image1:ArrayCounter_RBV",
                 "image1:ArraySize0_RBV", "image1:ArraySize1_RBV", "image1:ColorMode_RBV",
                 "image1:DataType_RBV", "image2:ColorMode_RBV"]


def _err(prog: str, msg: str) -> None:
    print(f"pvprobe {prog}: {msg}", file=sys.stderr)


def _check_names(prog: str, names: Sequence[str]) -> tuple[list[str], bool]:
    good, ok = [], True
    for raw in names:
        name = strip_scheme(raw)
        reason = pv_name_error(name)
        if reason:
            _err(prog, f"{raw!r}: invalid PV name ({reason})")
            ok = False
        else:
            good.append(name)
    return good, ok


def _value_fields(state: PVState, as_string: bool, floats: FloatFormat = CAGET_FORMAT) -> str:
    """caget-style value: arrays as ``count v0 v1 ...``, floats as ``floats`` says (caget's
    ``%g`` by default), CHAR waveforms with --string as caget -S prints them (escaped)."""
    if state.is_char_array and as_string:
        return char_array_escaped(state.value if state.value is not None else b"")
    if state.is_array:
        vals = state.value if state.value is not None else []
        return " ".join([str(len(vals))] + [format_scalar(state, v, floats) for v in vals])
    return format_value(state, floats=floats)


def _json_value(state: PVState, as_string: bool) -> Any:
    """The value for --json: every digit the IOC holds (floats as exact doubles); with
    --string a CHAR waveform is its text up to the first NUL, or escaped as caget -S
    prints it when the bytes are not UTF-8."""
    v = state.value
    if state.is_char_array and as_string:
        raw = char_array_bytes(v if v is not None else b"").split(b"\x00", 1)[0]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return char_array_escaped(raw)
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def _state_json(state: PVState, as_string: bool, floats: FloatFormat = CAGET_FORMAT) -> dict:
    return {
        "name": state.name, "connected": state.connected, "value": _json_value(state, as_string),
        "text": _value_fields(state, as_string, floats) if state.connected else None,
        "count": state.count, "type": state.native_type, "units": state.units,
        "severity": state.severity_name, "status": state.status_name,
        "timestamp": state.timestamp or None,
        "enum_strs": list(state.enum_strs) or None, "error": state.error or None,
    }


def float_format(args: argparse.Namespace) -> FloatFormat:
    """The floating-point format the options ask for (-e/-f/-g N, --prec), caget's %g by default."""
    for style in ("e", "f", "g"):
        digits = getattr(args, f"fmt_{style}", None)
        if digits is not None:
            return FloatFormat(style, digits)
    if getattr(args, "prec", False):
        return FloatFormat("prec")
    return CAGET_FORMAT


def _engine():
    from .ca.engine import Engine

    return Engine()


# ---------------------------------------------------------------------------- get

def cmd_get(args: argparse.Namespace) -> int:
    names, ok = _check_names("get", args.pvs)
    if not names:
        return 2
    floats = float_format(args)
    states = _engine().read(names, timeout=args.timeout)
    out = []
    for name in names:
        st = states[name]
        if st.error or st.value is None:
            _err("get", f"{name}: {st.error or 'no value'}")
            ok = False
            if args.json:
                out.append(_state_json(st, args.string, floats))
            continue
        if args.json:
            out.append(_state_json(st, args.string, floats))
        else:
            print(f"{name} {_value_fields(st, args.string, floats)}")
    if args.json:
        print(json.dumps(out, indent=None))
    return 0 if ok else 1


# ---------------------------------------------------------------------------- put

def cmd_put(args: argparse.Namespace) -> int:
    names, ok = _check_names("put", [args.pv])
    if not ok:
        return 2
    name = names[0]
    eng = _engine()
    before = eng.read([name], timeout=args.timeout)[name]
    if before.error or not before.connected:
        _err("put", f"{name}: {before.error or 'not connected'}")
        return 1
    value: Any = args.values[0] if len(args.values) == 1 else list(args.values)
    if before.is_char_array and isinstance(value, list):
        value = " ".join(value)
    res = eng.put_wait(name, value, timeout=args.timeout or 10.0, wait=args.wait)
    _log_put(before, value, res)
    if not res.ok:
        _err("put", f"{name}: {res.error}")
        return 1
    after = eng.read([name], timeout=args.timeout)[name]
    floats = float_format(args)
    print(f"{name} {_value_fields(before, True, floats)} -> {_value_fields(after, True, floats)}")
    return 0


def _log_put(before: PVState, value: Any, res: Any) -> None:
    """Append the put to the put log (source "cli"); a log that cannot be written is reported, not fatal."""
    from .core.putlog import PutLog
    from .core.putvalue import PutValueError, coerce_put_value

    new: Any = value
    try:
        _, vals = coerce_put_value(before, value)
        if not (before.is_char_array and isinstance(value, str)):
            new = vals if before.is_array else vals[0]
    except PutValueError:
        pass
    log = PutLog()
    try:
        log.append(before.name, before.value, new, res.ok, res.error, "cli", res.seconds or None,
                   before.enum_strs)
    except OSError as exc:
        _err("put", f"could not write the put log {log.path}: {exc}")


# ---------------------------------------------------------------------------- info

def info_lines(st: PVState, floats: FloatFormat = CAGET_FORMAT, **report: Any) -> list[str]:
    """cainfo-like report of one PV: the probe's report (``core.probe_report``)."""
    from .core.probe_report import report_lines

    return report_lines(st, floats=floats, **report)


def cmd_info(args: argparse.Namespace) -> int:
    names, ok = _check_names("info", args.pvs)
    if not names:
        return 2
    eng = _engine()
    states = eng.read(names, timeout=args.timeout)
    for i, name in enumerate(names):
        st = states[name]
        report: dict = {}
        if getattr(args, "fields", False) and st.connected:
            from .core.record_fields import read_record_fields

            disc = read_record_fields(lambda ns: eng.read(ns, timeout=args.timeout), name)
            report = dict(fields=disc.present(), rtyp=disc.rtyp, fields_note=disc.problem)
        if i:
            print()
        print("\n".join(info_lines(st, float_format(args), **report)))
        if not st.connected or st.error:
            _err("info", f"{name}: {st.error or 'not connected'}")
            ok = False
    return 0 if ok else 1


# ---------------------------------------------------------------------------- monitor

def cmd_monitor(args: argparse.Namespace) -> int:
    import threading

    names, ok = _check_names("monitor", args.pvs)
    if not names:
        return 2
    floats = float_format(args)
    eng = _engine()
    done = threading.Event()
    lock = threading.Lock()
    printed = [0]
    seen_conn: dict[str, bool] = {}

    def on_batch(batch) -> None:
        with lock:
            for st in batch.states:
                was = seen_conn.get(st.name)
                if st.ever_connected and was and not st.connected:
                    print(f"{st.name} *** disconnected", flush=True)
                seen_conn[st.name] = st.connected
                for ts, value, sev in st.samples:
                    if done.is_set():
                        break
                    shown = PVState(name=st.name, value=value, native_type=st.native_type,
                                    max_count=st.max_count, enum_strs=st.enum_strs,
                                    precision=st.precision, connected=True, severity=sev)
                    alarm = "" if sev == 0 else f" {shown.severity_name}"
                    print(f"{st.name} {format_timestamp(ts)} {_value_fields(shown, args.string, floats)}{alarm}",
                          flush=True)
                    printed[0] += 1
                    if args.count and printed[0] >= args.count:
                        done.set()
        eng.batch_done()

    eng.add(names, keep_all=True)
    eng.start(on_batch)
    deadline = time.monotonic() + args.duration if args.duration else None
    connect_deadline = time.monotonic() + (args.timeout or 2.0)
    try:
        while not done.is_set():
            if deadline and time.monotonic() >= deadline:
                break
            if connect_deadline and time.monotonic() >= connect_deadline:
                with lock:
                    missing = [n for n in names if not seen_conn.get(n)]
                for n in missing:
                    _err("monitor", f"{n}: not found (no server answered within the timeout)")
                    ok = False
                connect_deadline = None
                if len(missing) == len(names):
                    break
            done.wait(0.05)
    except KeyboardInterrupt:
        pass
    finally:
        eng.stop()
    return 0 if ok else 1


# ---------------------------------------------------------------------------- demo IOC

def cmd_demo_ioc(args: argparse.Namespace) -> int:
    from .demo import ioc

    argv = ["--prefix", args.prefix] if args.prefix else []
    return ioc.main(argv) or 0


# ---------------------------------------------------------------------------- GUI

def _gui_names(args: argparse.Namespace, demo_prefix: Optional[str]) -> tuple[list[str], bool]:
    names, ok = _check_names("", args.pvs)
    if args.pvlist:
        try:
            parsed = read_names(args.pvlist)
        except PVListError as exc:
            _err("", str(exc))
            return names, False
        for entry, reason in parsed.rejected:
            _err("", f"{args.pvlist}: {entry}: {reason}")
        names += parsed.names
    if demo_prefix and not names:
        names = [demo_prefix + n for n in DEMO_FEATURED]
        names += [f"{demo_prefix}ai:{i:03d}" for i in range(100)]
        names += [f"{demo_prefix}{kind}:{i:03d}" for kind in ("bo", "mbbi", "longin", "stringin")
                  for i in range(5)]
    return list(dict.fromkeys(names)), ok


def restores_session(args: argparse.Namespace) -> bool:
    """Whether the GUI brings back the last session's tabs: a plain start does; PVs,
    lists or views named on the command line (names, --pvlist, --probe, --plot,
    --strip, --image, and --demo, which names its own PVs) open a window of just
    those, unless --restore-session asks for the old tabs too."""
    given = (args.pvs, args.pvlist, args.probe, args.plot, args.strip, args.image, args.demo)
    return bool(args.restore_session) or not any(given)


def cmd_gui(args: argparse.Namespace) -> int:
    """The main window. Ctrl-C at any moment (demo IOC start, libca, window, event
    loop) quits cleanly with status 0 and stops the demo IOC."""
    from .core.interrupts import QuitRequest

    with QuitRequest() as quit_request:
        return _run_gui_command(args, quit_request)


def _run_gui_command(args: argparse.Namespace, quit_request: Any) -> int:
    from .qt.app.platform_check import xcb_problem

    problem = xcb_problem()     # Qt would only say "could not load the Qt platform plugin"
    if problem:
        print(problem, file=sys.stderr)
        return 1
    demo = None
    if args.demo:
        from .demo.launcher import DemoIOC, DemoIOCCancelled, DemoIOCError

        demo = DemoIOC(prefix=args.prefix)
        try:
            if quit_request.requested:
                return 0
            demo.start(cancel=quit_request.event)
        except DemoIOCCancelled:
            return 0
        except DemoIOCError as exc:
            _err("--demo", f"the demo IOC did not start: {exc}")
            return 1
        os.environ.update(demo.client_env)
    try:
        names, ok = _gui_names(args, demo.prefix if demo else None)
        if not ok and not names:
            return 2
        if quit_request.requested:
            return 0
        from .ca.engine import Engine
        from .qt.app.app import run_gui

        if args.reset_settings:
            from .qt.app.settings import reset_settings
            try:
                removed = reset_settings(args.settings)
            except OSError as exc:
                _err("--reset-settings", f"could not remove the settings file: {exc}")
                return 1
            if removed:
                print(f"pvprobe: settings reset ({removed} removed)", file=sys.stderr)
        title = None
        if args.pvlist:
            title = os.path.basename(args.pvlist)
        elif demo is not None and not args.pvs:
            title = "demo"
        views = []
        for kind, option, given in (("probe", "--probe", args.probe), ("waveform", "--plot", args.plot),
                                    ("strip", "--strip", args.strip)):
            if given:
                good, _ok = _check_names(option, given)
                if good:
                    views.append((kind, good))
        if args.image:
            views.append(("image", list(args.image)))
        if quit_request.requested:
            return 0
        # camera frames do not wait for a tick (paced arrays go out once fetched)
        engine = Engine(tick_hz=args.tick_hz or 20.0)
        return run_gui(engine, names, screenshot=args.screenshot, quit_after=args.quit_after,
                       stats_path=args.stats, settings_path=args.settings, tab_title=title,
                       views=views, theme=args.theme, read_only=args.read_only,
                       restore_session=restores_session(args), quit_request=quit_request)
    finally:
        if demo is not None:
            demo.stop()


# ---------------------------------------------------------------------------- parsers

def _positive(text: str) -> float:
    v = float(text)
    if not v > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pvprobe",
        description="Monitor and probe EPICS PVs over Channel Access. Without a subcommand, "
                    "opens the main window on the PVs named.",
        epilog="Subcommands: get, put, info, monitor, snapshot {save,compare,restore}, demo-ioc "
               "(pvprobe SUBCOMMAND --help). EPICS_CA_* environment variables are honoured.")
    p.add_argument("--version", action="version", version=f"pvprobe {__version__}")
    p.add_argument("pvs", nargs="*", metavar="PV", help="PV names to show in the table")
    p.add_argument("--pvlist", metavar="FILE", help="PV list: a text file (one name per line, # comments) or a Phoebus .pvs table")
    p.add_argument("--demo", action="store_true",
                   help="start the embedded demo IOC on free loopback ports and show its PVs")
    p.add_argument("--prefix", default="PVPDEMO:", help="demo IOC PV prefix (default PVPDEMO:)")
    p.add_argument("--tick-hz", type=_positive, default=None,
                   help="batches of PV updates delivered to the UI per second (default 20; "
                        "camera frames go out as soon as they arrive)")
    p.add_argument("--probe", action="append", metavar="PV", help="open a probe panel on PV (repeatable)")
    p.add_argument("--plot", action="append", metavar="PV",
                   help="open a waveform plot of the array PV (repeat: all in one plot)")
    p.add_argument("--strip", action="append", metavar="PV",
                   help="open a strip chart of the scalar PV (repeat: all on one chart)")
    p.add_argument("--image", action="append", metavar="PREFIX",
                   help="open an image view of the areaDetector plugin PREFIX (e.g. 13SIM1:image1:)")
    p.add_argument("--theme", choices=("light", "dark"), help="colour theme (default: the last one used)")
    p.add_argument("--read-only", action="store_true",
                   help="watch only: every put from the app is refused (also: read_only=true under "
                        "[window] in the settings file)")
    p.add_argument("--screenshot", metavar="PNG", help="save a picture of the window before quitting")
    p.add_argument("--quit-after", type=_positive, metavar="SECONDS", help="quit by itself")
    p.add_argument("--stats", metavar="JSON", help="write run statistics as JSON at exit")
    p.add_argument("--settings", metavar="INI",
                   help="settings file (default: $PVPROBE_SETTINGS, else ~/.config/pvprobe/pvprobe.ini)")
    p.add_argument("--restore-session", action="store_true",
                   help="also bring back the last session's tabs when PVs, lists or views are "
                        "named (by default only those are shown; a plain start restores the session)")
    p.add_argument("--reset-settings", action="store_true",
                   help="forget the saved window layout, tabs and options before starting")
    return p


def _digits(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of digits") from None
    if not 0 <= n <= MAX_FORMAT_DIGITS:
        raise argparse.ArgumentTypeError(f"digits must be 0..{MAX_FORMAT_DIGITS}, not {n}")
    return n


def _add_float_options(p: argparse.ArgumentParser, fixed_short: bool = True) -> None:
    """caget's floating-point format options (default %g: 6 significant digits, like caget)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-e", "--exp", dest="fmt_e", type=_digits, metavar="N",
                   help="floats as %%e with N digits (caget -e)")
    fixed = ("-f", "--fixed") if fixed_short else ("--fixed",)
    g.add_argument(*fixed, dest="fmt_f", type=_digits, metavar="N",
                   help="floats as %%f with N digits (caget -f)")
    g.add_argument("-g", "--general", dest="fmt_g", type=_digits, metavar="N",
                   help="floats as %%g with N significant digits (caget -g; default: %%g, 6 digits)")
    g.add_argument("--prec", action="store_true",
                   help="floats with the record's PREC (%%.PRECf, as the GUI shows them)")


def build_sub_parser(cmd: str) -> argparse.ArgumentParser:
    from .cli_snapshot import READ_TIMEOUT_HELP

    p = argparse.ArgumentParser(prog=f"pvprobe {cmd}")
    tmo = dict(type=_positive, default=None, metavar="S")
    if cmd == "get":
        p.description = "Read PVs (like caget): one 'NAME VALUE' line each."
        p.add_argument("pvs", nargs="+", metavar="PV")
        p.add_argument("--timeout", help=READ_TIMEOUT_HELP, **tmo)
        p.add_argument("--json", action="store_true",
                       help="print a JSON list instead (values with every digit the IOC holds)")
        p.add_argument("--string", "-S", action="store_true",
                       help="show CHAR waveforms as text (up to the first NUL; control characters "
                            "and bytes that are not UTF-8 escaped as \\xhh, like caget -S)")
        _add_float_options(p)
    elif cmd == "put":
        p.description = "Write a PV (like caput): prints 'NAME old -> new'. Enums take the state name or index."
        p.add_argument("pv", metavar="PV")
        p.add_argument("values", nargs="+", metavar="VALUE", help="value, or several for an array")
        p.add_argument("--wait", "-c", action="store_true",
                       help="wait for processing to complete (put callback)")
        p.add_argument("--timeout", help="give up after S seconds without an answer: on connecting "
                                          "(default 2) and on the put's completion (default 10)", **tmo)
        _add_float_options(p)
    elif cmd == "info":
        p.description = "Everything about PVs (like cainfo); --fields adds the record's fields."
        p.add_argument("pvs", nargs="+", metavar="PV")
        p.add_argument("--timeout", help=READ_TIMEOUT_HELP, **tmo)
        p.add_argument("--fields", "-f", action="store_true",
                       help="also read the record's common fields (.DESC, .SCAN, limits, links...): "
                            "the probe's report")
        _add_float_options(p, fixed_short=False)
    elif cmd == "monitor":
        p.description = "Print every update (like camonitor) until Ctrl-C, --count or --duration."
        p.add_argument("pvs", nargs="+", metavar="PV")
        p.add_argument("--count", "-n", type=int, default=0, help="stop after N updates in all")
        p.add_argument("--duration", "-d", type=_positive, default=None, metavar="S", help="stop after S seconds")
        p.add_argument("--timeout", help="seconds to wait for connection (default 2)", **tmo)
        p.add_argument("--string", "-S", action="store_true",
                       help="show CHAR waveforms as text (escaped like caget -S)")
        _add_float_options(p)
    elif cmd == "demo-ioc":
        p.description = "Run the demo IOC in the foreground and print the environment a client needs."
        p.add_argument("--prefix", default=None, help="PV prefix (default PVPDEMO:)")
    return p


COMMANDS = {"get": cmd_get, "put": cmd_put, "info": cmd_info, "monitor": cmd_monitor,
            "demo-ioc": cmd_demo_ioc}


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # before libca or a demo IOC starts threads: no real-time EPICS threads that
    # would pre-empt the GUI thread (core.realtime)
    drop_realtime()
    if argv and argv[0] == "snapshot":
        from .cli_snapshot import main as snapshot_main

        return snapshot_main(argv[1:])
    if argv and argv[0] in SUBCOMMANDS:
        args = build_sub_parser(argv[0]).parse_args(argv[1:])
        return COMMANDS[argv[0]](args)
    args = build_parser().parse_args(argv)
    return cmd_gui(args)


if __name__ == "__main__":
    sys.exit(main())
