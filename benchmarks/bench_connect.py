"""Connect and read N static PVs (one IOC of N ``ai`` records), five ways, same run.

(a) pyepics bulk recipe at the ca level (baseline), (b) pvprobe ``Engine.read``,
(c) ``pvprobe snapshot save`` (if the subcommand exists; twice, the faster
counts, as for the baseline), (d) the GUI (``pvprobe --pvlist --quit-after
--stats``, offscreen), (e) the naive ``epics.PV(n).get()`` loop on the first
1,000 names, (f) ``pvprobe snapshot save --timeout T`` of a list holding 1,000
names nobody serves and 100 that exist: how long past the timeout it waits.

Prints one JSON line; ratios are against (a) measured in this same run, or for
(f) against its timeout.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

from common import PY, Bench, emit, log, ratio, rnd

TARGETS = {"snapshot_vs_recipe_max": 1.5, "gui_vs_recipe_max": 2.0,
           "gui_loop_lateness_ms_p99_max": 50.0, "gui_loop_lateness_ms_max_max": 250.0,
           "missing_vs_timeout_max": 1.5}


def snapshot_available(env: dict) -> bool:
    r = subprocess.run([PY, "-m", "pvprobe", "snapshot", "--help"], env=env, capture_output=True,
                       text=True, timeout=60)
    return r.returncode == 0 and "usage: pvprobe snapshot" in r.stdout


def run_snapshot(b: Bench, env: dict, pvlist, n: int, timeout: float,
                 extra: tuple = ()) -> dict:
    out_csv = b.tmp / "snap.csv"
    out_csv.unlink(missing_ok=True)
    argv = [PY, "-m", "pvprobe", "snapshot", "save", "--pvlist", str(pvlist), "-o", str(out_csv),
            *extra]
    t0 = time.monotonic()
    proc = b.spawn(argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": f"timeout after {timeout} s"}
    wall = time.monotonic() - t0
    rows = None
    if out_csv.exists():
        rows = sum(1 for _ in out_csv.open())
    summary = [line for line in err.decode().splitlines() if "PVs saved" in line]
    if proc.returncode != 0 and not extra:
        log("snapshot stderr tail:", err.decode()[-1500:])
    return {"wall_s": round(wall, 3), "exit_code": proc.returncode, "csv_lines": rows,
            "rows_saved_ok": rows == n + 2,      # first line + header + one row per PV
            "summary": summary[-1] if summary else None}


def run_missing(b: Bench, env: dict, names: list, n_missing: int, timeout: float) -> dict:
    """(f) snapshot save of 100 served names and ``n_missing`` names nobody serves,
    ``--timeout timeout``: it should end about ``timeout`` after the last answer."""
    present = names[:100]
    pvlist = b.write_list(present + [f"BC:missing:{i:06d}" for i in range(n_missing)], "missing.txt")
    res = run_snapshot(b, env, pvlist, len(present) + n_missing, timeout + 120,
                       ("--timeout", f"{timeout:g}"))
    res.update({"timeout_s": timeout, "n_missing": n_missing, "n_present": len(present),
                "expected_summary": f"{len(present)} PVs saved, {n_missing} not connected"})
    res["reported_ok"] = res.get("exit_code") == 1 and res.get("summary") == res["expected_summary"]
    return res


def run_gui(b: Bench, env: dict, pvlist, quit_after: float) -> dict:
    stats = b.tmp / f"gui-stats-{quit_after:g}.json"
    argv = [PY, "-m", "pvprobe", "--pvlist", str(pvlist), "--quit-after", f"{quit_after:g}",
            "--stats", str(stats)]
    genv = dict(env, QT_QPA_PLATFORM="offscreen")
    t0 = time.monotonic()
    proc = b.spawn(argv, genv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        _, err = proc.communicate(timeout=quit_after + 120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return {"error": "GUI did not exit"}
    wall = time.monotonic() - t0
    if proc.returncode != 0 or not stats.exists():
        log("GUI stderr tail:", err.decode()[-1500:])
    res = json.loads(stats.read_text()) if stats.exists() else {"error": "no stats file"}
    res.update({"quit_after": quit_after, "wall_s": round(wall, 2), "exit_code": proc.returncode})
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--naive-n", type=int, default=1000)
    ap.add_argument("--gui-seconds", type=float, default=None,
                    help="--quit-after for the GUI (default: from the recipe time)")
    ap.add_argument("--missing", type=int, default=1000, help="names nobody serves in (f)")
    ap.add_argument("--missing-timeout", type=float, default=5.0, help="--timeout of (f)")
    a = ap.parse_args()
    res: dict = {"bench": "connect", "n": a.n, "targets": TARGETS}
    with Bench() as b:
        ioc, names = b.ioc("BC:ai:", a.n, "static")
        env = b.client_env([ioc])
        pvlist = b.write_list(names)
        tmo = 30 + a.n / 1000

        log("(a) recipe")
        rec = b.run_client("recipe", {"list": str(pvlist), "timeout": tmo}, env, tmo + 60)
        log("(a)", rec)
        log("(b) Engine.read")
        eng = b.run_client("engine_read", {"list": str(pvlist), "timeout": tmo}, env, tmo + 60)
        log("(b)", eng)
        log("(a') recipe again (noise check)")
        rec2 = b.run_client("recipe", {"list": str(pvlist), "timeout": tmo}, env, tmo + 60)
        log("(a')", rec2)

        snap = snap_repeat = missing = None
        if snapshot_available(env):
            log("(c) pvprobe snapshot save")
            snap = run_snapshot(b, env, pvlist, a.n, tmo + 60)
            log("(c)", snap)
            log("(c') pvprobe snapshot save again")
            snap_repeat = run_snapshot(b, env, pvlist, a.n, tmo + 60)
            log("(c')", snap_repeat)
            log(f"(f) snapshot save, {a.missing} missing names, --timeout {a.missing_timeout:g}")
            missing = run_missing(b, env, names, a.missing, a.missing_timeout)
            log("(f)", missing)
        else:
            log("(c) pvprobe snapshot: not available in this tree")
        snap_best = min((x for x in (snap, snap_repeat) if x and "wall_s" in x),
                        key=lambda x: x["wall_s"], default=None)

        base_inner = min(x["inner_s"] for x in (rec, rec2) if "inner_s" in x) if "inner_s" in rec else None
        base_wall = min(x["wall_s"] for x in (rec, rec2) if "wall_s" in x)
        T = a.gui_seconds or max(8.0, round(4 * (base_inner or 2) + 4))
        log(f"(d) GUI, --quit-after {T}")
        gui = run_gui(b, env, pvlist, T)
        if gui.get("seconds_to_all_values") is None and not a.gui_seconds:
            T = round(3 * T)
            log(f"(d) not all values within the run; again with --quit-after {T}")
            gui = run_gui(b, env, pvlist, T)
        log("(d)", gui)

        log(f"(e) naive loop on {min(a.naive_n, a.n)} PVs")
        naive = b.run_client("naive", {"list": str(pvlist), "limit": a.naive_n, "budget_s": 150},
                             env, 240)
        log("(e)", naive)

    gui_t = gui.get("seconds_to_all_values")
    res.update({
        "recipe": rec, "recipe_repeat": rec2, "engine_read": eng,
        "snapshot": snap, "snapshot_repeat": snap_repeat, "missing": missing,
        "gui": gui, "naive": naive,
        "baseline_inner_s": base_inner, "baseline_wall_s": base_wall,
        "ratios": {
            "engine_read_inner_vs_recipe_inner": ratio(eng.get("inner_s"), base_inner),
            "engine_read_wall_vs_recipe_wall": ratio(eng.get("wall_s"), base_wall),
            "snapshot_wall_vs_recipe_wall": ratio(snap_best["wall_s"], base_wall) if snap_best else None,
            "missing_wall_vs_timeout": ratio(missing.get("wall_s"), a.missing_timeout)
            if missing else None,
            "gui_all_values_vs_recipe_inner": ratio(gui_t, base_inner),
            "naive_extrapolated_vs_recipe_inner": ratio(
                naive.get("ms_per_pv", 0) * a.n / 1000 if "ms_per_pv" in naive else None, base_inner),
        },
        "naive_extrapolated_s_for_n": rnd(naive["ms_per_pv"] * a.n / 1000, 1) if "ms_per_pv" in naive else None,
    })
    r = res["ratios"]
    res["targets_met"] = {
        "snapshot": None if r["snapshot_wall_vs_recipe_wall"] is None
        else (r["snapshot_wall_vs_recipe_wall"] <= TARGETS["snapshot_vs_recipe_max"]
              and all(x.get("exit_code") == 0 and x.get("rows_saved_ok")
                      for x in (snap, snap_repeat))),
        "missing": None if r["missing_wall_vs_timeout"] is None
        else (r["missing_wall_vs_timeout"] <= TARGETS["missing_vs_timeout_max"]
              and missing["reported_ok"]),
        "gui_time": None if r["gui_all_values_vs_recipe_inner"] is None
        else r["gui_all_values_vs_recipe_inner"] <= TARGETS["gui_vs_recipe_max"],
        "gui_lateness_p99": None if gui.get("loop_lateness_ms_p99") is None
        else gui["loop_lateness_ms_p99"] <= TARGETS["gui_loop_lateness_ms_p99_max"],
        "gui_lateness_max": None if gui.get("loop_lateness_ms_max") is None
        else gui["loop_lateness_ms_max"] <= TARGETS["gui_loop_lateness_ms_max_max"],
    }
    emit(res)


if __name__ == "__main__":
    main()
