"""Shutdown with many subscribed PVs: time from the quit request to process exit.

One IOC serves N PVs, U of them ``calc`` records updating at 10 Hz (the rest
static ``ai``). Two clients, each its own process:

(a) the GUI: ``pvprobe --pvlist --quit-after T --stats F``. The stats file is
    written right after the event loop returns (i.e. at the quit), before the
    engine stops; the quit moment is the file's mtime (polled every 5 ms), the
    exit moment is when the process is reaped (polled every 5 ms).
(b) an engine worker (clients.py shutdown): all PVs subscribed and valued, then
    it prints the quit time and returns from main; pvprobe's atexit handler
    stops the worker, clears channels and destroys the context.

A negative exit code means a signal (crash). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time

from common import PY, Bench, emit, log, write_db

POLL = 0.005


def wait_exit(proc: subprocess.Popen, deadline: float) -> tuple[float | None, int | None]:
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return time.time(), proc.returncode
        time.sleep(POLL)
    return None, None


def gui_run(b: Bench, env: dict, pvlist, T: float, max_exit: float) -> dict:
    stats = b.tmp / f"shutdown-gui-{T:g}.json"
    argv = [PY, "-m", "pvprobe", "--pvlist", str(pvlist), "--quit-after", f"{T:g}", "--stats", str(stats)]
    proc = b.spawn(argv, dict(env, QT_QPA_PLATFORM="offscreen"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    deadline = time.monotonic() + T + 120
    seen_at = None
    while time.monotonic() < deadline and proc.poll() is None:
        if seen_at is None and stats.exists():
            seen_at = time.time()
            break
        time.sleep(POLL)
    exit_at, code = wait_exit(proc, time.monotonic() + max_exit)
    if exit_at is None:
        log(f"GUI still running {max_exit} s after the quit; killing it")
        proc.kill()
        proc.wait(10)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode:
        log("GUI stderr tail:", err[-1500:])
    res: dict = {"quit_after": T}
    if stats.exists():
        st = json.loads(stats.read_text())
        quit_at = os.stat(stats).st_mtime
        res.update({k: st.get(k) for k in ("pvs", "connected", "seconds_to_all_values",
                                          "updates_received", "rss_mb")})
        res["stats_seen_minus_mtime_s"] = round(seen_at - quit_at, 3) if seen_at else None
        res["seconds_quit_to_exit"] = round(exit_at - quit_at, 3) if exit_at else None
    else:
        res["error"] = "no stats file"
    res["exit_code"] = code if exit_at else "killed (hung)"
    res["crash"] = isinstance(code, int) and code < 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    res["stderr_lines"] = len(lines)
    res["stderr_head"] = lines[:3]
    return res


def engine_run(b: Bench, env: dict, pvlist, max_exit: float) -> dict:
    from common import CLIENTS
    argv = [PY, CLIENTS, "shutdown", json.dumps({"list": str(pvlist), "hold": 3})]
    proc = b.spawn(argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = ""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or line.startswith("{"):
            break
    res = json.loads(line) if line.startswith("{") else {"error": "no quit line"}
    exit_at, code = wait_exit(proc, time.monotonic() + max_exit)
    if exit_at is None:
        proc.kill()
        proc.wait(10)
    err = proc.stderr.read()
    if proc.returncode:
        log("engine stderr tail:", err[-1500:])
    if "quit_at" in res:
        res["seconds_quit_to_exit"] = round(exit_at - res.pop("quit_at"), 3) if exit_at else None
    res["exit_code"] = code if exit_at else "killed (hung)"
    res["crash"] = isinstance(code, int) and code < 0
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--updating", type=int, default=5000, help="of which calc records at 10 Hz")
    ap.add_argument("--quit-after", type=float, default=40.0, help="GUI run length before the quit")
    ap.add_argument("--max-exit", type=float, default=90.0, help="give up waiting for exit after this")
    a = ap.parse_args()
    res: dict = {"bench": "shutdown", "n": a.n, "updating_10hz": a.updating}
    with Bench() as b:
        s_db, u_db = b.tmp / "static.db", b.tmp / "upd.db"
        names = write_db(s_db, "BS:ai:", a.n - a.updating, "static")
        names += write_db(u_db, "BS:calc:", a.updating, "updating")
        ioc = b.ioc_multi([s_db, u_db], "shutdown")
        env = b.client_env([ioc])
        pvlist = b.write_list(names)
        log("(b) engine worker")
        res["engine"] = engine_run(b, env, pvlist, a.max_exit)
        log("(b)", res["engine"])
        log(f"(a) GUI, --quit-after {a.quit_after:g}")
        res["gui"] = gui_run(b, env, pvlist, a.quit_after, a.max_exit)
        log("(a)", res["gui"])
    emit(res)


if __name__ == "__main__":
    main()
