"""``pvprobe snapshot save | restore | compare``: headless save and restore of PV values.

Exit status: 0 success, 1 when any PV failed (not connected, put refused...),
2 for bad input (unreadable snapshot or PV list, invalid names, refused
confirmation). ``compare`` exits 1 when anything differs, like ``diff``.
Heavy imports (epics) happen inside the commands.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from ..core.pva_text import STRUCTURED
from ..core.pvnames import strip_scheme
from ..core.snapshot import (
    DIFFERENT,
    DISCONNECTED_SAVED,
    EQUAL,
    MISSING_LIVE,
    Snapshot,
    SnapshotError,
    compare,
    read_snapshot,
    restore_plan,
    snapshot_from_states,
    value_text,
    write_snapshot,
)
from .common import add_protocol_option, add_timeout, check_names, engine, list_names, non_negative
from .common import err as _common_err


def _err(cmd: str, msg: str) -> None:
    _common_err(f"snapshot {cmd}", msg)


def _read(cmd: str, path: str) -> Optional[Snapshot]:
    """The snapshot in ``path``, or None when it cannot be read (reported)."""
    try:
        return read_snapshot(path)
    except SnapshotError as exc:
        _err(cmd, str(exc))
        return None


def _shorten(text: str, n: int = 80) -> str:
    text = text.replace("\n", "\\n").replace("\r", "\\r")
    return text if len(text) <= n else text[: n - 3] + "..."


def _show(text: str) -> str:
    return repr(text) if text == "" or text != text.strip() else _shorten(text)


# ---------------------------------------------------------------------------- save

def _names_for_save(args: argparse.Namespace) -> tuple[list[str], bool]:
    names, ok = check_names("snapshot save", args.pvs)
    for path in args.pvlist or []:
        listed = list_names("snapshot save", path)
        if listed is None:
            return names, False
        names += listed[0]
        ok = ok and listed[1]
    return list(dict.fromkeys(names)), ok


def cmd_save(args: argparse.Namespace) -> int:
    names, ok = _names_for_save(args)
    if not ok:
        return 2
    if not names:
        _err("save", "no PVs to save (give PV names or --pvlist FILE)")
        return 2
    states = engine().read(names, timeout=args.timeout, metadata=False)
    structured = [n for n in names if states[n].native_type in STRUCTURED]
    for n in structured:
        _err("save", f"{n}: not saved: a pvAccess {states[n].type_id or 'structure'} (tables, "
                     "structures and images have no value a snapshot can hold and restore)")
    snap = snapshot_from_states(states[n] for n in names if n not in structured)
    try:
        write_snapshot(args.output, snap)
    except SnapshotError as exc:
        _err("save", str(exc))
        return 2
    failed = [r for r in snap.rows if not r.has_value]
    for r in failed:
        _err("save", f"{r.name}: {r.error or 'not connected'}")
    skipped = f", {len(structured)} not savable" if structured else ""
    print(f"{len(snap.rows) - len(failed)} PVs saved, {len(failed)} not connected{skipped}", file=sys.stderr)
    return 1 if failed or structured else 0


# ---------------------------------------------------------------------------- restore

def _confirm(n: int) -> Optional[bool]:
    """True/False from the user; None when stdin is not interactive."""
    try:
        interactive = sys.stdin is not None and sys.stdin.isatty()
    except (ValueError, OSError):
        interactive = False
    if not interactive:
        return None
    try:
        answer = input(f"Restore {n} PV{'s' if n != 1 else ''}? [y/N] ")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_restore(args: argparse.Namespace) -> int:
    from ..core.putvalue import PutValueError, coerce_put_value

    snap = _read("restore", args.file)
    if snap is None:
        return 2
    wanted = None
    if args.pv:
        wanted = [strip_scheme(n) for n in args.pv]
    plan = restore_plan(snap, wanted)
    failed = 0
    for name, reason in plan.skipped:
        _err("restore", f"{name}: not restored: {reason}")
        failed += 1
    if wanted is not None and any(r == "not in the snapshot" for _, r in plan.skipped):
        return 2
    if not plan:
        _err("restore", "nothing to restore")
        return 1 if failed else 0
    eng = engine()
    live = eng.read([n for n, _ in plan], timeout=args.timeout)
    rows = snap.by_name
    for name, _value in plan:
        st = live[name]
        current = value_text(st) if st.connected and not st.error and st.value is not None else "(not connected)"
        note = ""
        if st.connected and st.native_type:
            try:
                coerce_put_value(st, _value)
            except PutValueError as exc:
                note = f"   (will fail: {exc})"
            if not st.write_access:
                note = "   (will fail: read-only)"
        elif not st.connected:
            note = f"   (will fail: {st.error or 'not connected'})"
        print(f"{name} {_show(current)} -> {_show(rows[name].value_text)}{note}")
    sys.stdout.flush()
    if args.dry_run:
        print(f"dry run: {len(plan)} put{'s' if len(plan) != 1 else ''} not made", file=sys.stderr)
        return 0
    if not args.yes:
        answer = _confirm(len(plan))
        if answer is None:
            _err("restore", "refusing to restore without confirmation: stdin is not a terminal "
                            "(use --yes to restore non-interactively, --dry-run to only look)")
            return 2
        if not answer:
            _err("restore", "not confirmed; nothing restored")
            return 2
    results = eng.put_many(list(plan), timeout=args.timeout or 10.0, connect_timeout=args.timeout)
    bad = [r for r in results if not r.ok]
    for r in bad:
        _err("restore", f"{r.name}: {r.error}")
    print(f"{len(results) - len(bad)} PVs restored, {len(bad) + failed} failed", file=sys.stderr)
    return 1 if bad or failed else 0


# ---------------------------------------------------------------------------- compare

def cmd_compare(args: argparse.Namespace) -> int:
    snap = _read("compare", args.file)
    if snap is None:
        return 2
    names = snap.names
    if args.pv:
        wanted = set(strip_scheme(n) for n in args.pv)
        missing = wanted - set(names)
        for n in sorted(missing):
            _err("compare", f"{n}: not in the snapshot")
        if missing:
            return 2
        snap.rows = [r for r in snap.rows if r.name in wanted]
        names = snap.names
    live = engine().read(names, timeout=args.timeout) if names else {}
    diffs = compare(snap, live, tolerance=args.tolerance)
    counts = {EQUAL: 0, DIFFERENT: 0, MISSING_LIVE: 0, DISCONNECTED_SAVED: 0}
    for d in diffs:
        counts[d.kind] = counts.get(d.kind, 0) + 1
        if d.kind == EQUAL:
            if args.all:
                print(f"{d.name} equal: {_show(d.saved_text)}")
        elif d.kind == DIFFERENT:
            extra = f" ({d.detail})" if d.detail else ""
            print(f"{d.name} different: saved {_show(d.saved_text)}, now {_show(d.live_text)}{extra}")
        elif d.kind == MISSING_LIVE:
            print(f"{d.name} missing-live: saved {_show(d.saved_text)}, now {d.detail}")
        else:
            print(f"{d.name} disconnected: no value saved ({d.detail})")
    print(f"{counts[EQUAL]} equal, {counts[DIFFERENT]} different, {counts[MISSING_LIVE]} not connected now, "
          f"{counts[DISCONNECTED_SAVED]} without saved value", file=sys.stderr)
    return 0 if counts[EQUAL] == len(diffs) else 1


# ---------------------------------------------------------------------------- parser

RESTORE_TIMEOUT_HELP = ("give up on what is still missing once nothing has arrived for S seconds: "
                        "connections and values (default 2), put completions (default 10); the "
                        "waits go on while answers keep arriving, each at most 10*S + 2 ms per PV")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pvprobe snapshot",
        description="Save PV values to a CSV snapshot, compare a snapshot with live values, restore it.")
    add_protocol_option(p)
    sub = p.add_subparsers(dest="action", metavar="{save,restore,compare}")
    sub.required = True

    s = sub.add_parser("save", help="read PVs and write a snapshot CSV",
                       description="Read every PV (bulk) and write a snapshot CSV atomically. "
                                   "PVs that are not connected are written as DISCONNECTED rows; "
                                   "the exit status is then 1.")
    s.add_argument("pvs", nargs="*", metavar="PV", help="PV names (in addition to --pvlist)")
    s.add_argument("--pvlist", action="append", metavar="FILE",
                   help="PV list: a text list (one name per line) or a Phoebus .pvs table")
    s.add_argument("-o", "--output", required=True, metavar="OUT.csv", help="snapshot file to write")
    add_timeout(s)
    s.set_defaults(func=cmd_save)

    r = sub.add_parser("restore", help="put the saved values back",
                       description="Print every put (NAME current -> saved), ask for confirmation "
                                   "(or --yes), put all values, report each PV that failed.")
    r.add_argument("file", metavar="FILE.csv")
    r.add_argument("--dry-run", "-n", action="store_true", help="only print the puts")
    r.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    r.add_argument("--pv", nargs="+", action="extend", metavar="NAME", help="restore only these PVs")
    add_timeout(r, RESTORE_TIMEOUT_HELP)
    r.set_defaults(func=cmd_restore)

    c = sub.add_parser("compare", help="compare a snapshot with the live values",
                       description="One line per PV that differs; exit 0 if all equal, 1 otherwise.")
    c.add_argument("file", metavar="FILE.csv")
    c.add_argument("--tolerance", type=non_negative, default=1e-9, metavar="T",
                   help="absolute tolerance for numbers (default 1e-9)")
    c.add_argument("--all", "-a", action="store_true", help="also list equal PVs")
    c.add_argument("--pv", nargs="+", action="extend", metavar="NAME", help="compare only these PVs")
    add_timeout(c)
    c.set_defaults(func=cmd_compare)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the action the arguments name (save, restore or compare)."""
    return args.func(args)
