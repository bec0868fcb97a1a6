"""``pvprobe monitor``: print every update like camonitor until Ctrl-C, --count or --duration."""

from __future__ import annotations

import argparse
import threading
import time

from ..core.format import format_timestamp
from ..core.pva_text import STRUCTURED, summary_text
from ..core.pvstate import PVState
from .common import (
    add_float_options,
    add_timeout,
    check_names,
    command_parser,
    engine,
    err,
    float_format,
    positive,
    value_fields,
)

#: What stands for the time of an update whose server sent none (pvAccess timeStamp 0).
NO_TIME = "(no time)"


def run(args: argparse.Namespace) -> int:
    """Print updates; exit 1 if a PV never connected within the timeout, 2 if no name was valid."""
    names, ok = check_names("monitor", args.pvs)
    if not names:
        return 2
    floats = float_format(args)
    eng = engine()
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
                if st.native_type in STRUCTURED and st.connected and st.samples:
                    # a table, structure or image: its newest value as one line
                    alarm = "" if st.severity == 0 else f" {st.severity_name}"
                    when = format_timestamp(st.timestamp) or NO_TIME
                    print(f"{st.name} {when} {summary_text(st)}{alarm}", flush=True)
                    printed[0] += 1
                    if args.count and printed[0] >= args.count:
                        done.set()
                    continue
                for ts, value, sev in st.samples:
                    if done.is_set():
                        break
                    shown = PVState(name=st.name, value=value, native_type=st.native_type,
                                    max_count=st.max_count, enum_strs=st.enum_strs,
                                    precision=st.precision, connected=True, severity=sev)
                    alarm = "" if sev == 0 else f" {shown.severity_name}"
                    when = format_timestamp(ts) or NO_TIME
                    print(f"{st.name} {when} {value_fields(shown, args.string, floats)}{alarm}", flush=True)
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
                    err("monitor", f"{n}: not found (no server answered within the timeout)")
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


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("monitor", "Print every update (like camonitor) until Ctrl-C, --count or "
                                  "--duration.", pvs=True)
    p.add_argument("--count", "-n", type=int, default=0, help="stop after N updates in all")
    p.add_argument("--duration", "-d", type=positive, default=None, metavar="S", help="stop after S seconds")
    add_timeout(p, "seconds to wait for connection (default 2)")
    p.add_argument("--string", "-S", action="store_true",
                   help="show CHAR waveforms as text (escaped like caget -S)")
    add_float_options(p)
    return p
