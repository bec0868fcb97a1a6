"""N PVs updating at 10 Hz (one IOC of N ``calc`` records, SCAN .1 second): what the
client takes and how fresh the values are, same run.

(a) baseline: a bare pvprobe Engine consumer process (no GUI) counting updates/s;
(b) the GUI on the same PVs (``--stats``): updates/s, batches/s, loop lateness,
    GUI CPU% over the steady window (psutil, from outside);
(c) staleness: an engine-only process keeping each PV's newest IOC timestamp
    from the batches and sampling ``now - timestamp`` over all PVs every 0.5 s;
    it also derives the IOC's real processing rate from the values (CALC=VAL+1).
(d) the same in lean mode (what the GUI does for rows off screen): staleness and CPU.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time

from common import PY, Bench, CpuWindow, cpu_percent, emit, log, ratio, run_client_windowed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=20.0)
    a = ap.parse_args()
    S = a.seconds
    res: dict = {"bench": "updates", "n": a.n, "rate_hz_per_pv": 10, "offered_nominal_per_s": a.n * 10,
                 "window_s": S}
    with Bench() as b:
        ioc, names = b.ioc("BU:calc:", a.n, "updating")
        env = b.client_env([ioc])
        pvlist = b.write_list(names)
        time.sleep(1.0)
        res["ioc_cpu_percent_no_client"] = round(cpu_percent(ioc.pid, 3.0), 1)
        log("IOC CPU with no client:", res["ioc_cpu_percent_no_client"])

        log("(a) bare engine consumer")
        base = run_client_windowed(b, "monitor", {"list": str(pvlist), "seconds": S, "warmup": 2},
                                   env, S + 180, {"ioc": ioc.pid})
        log("(a)", base)

        log("(c) engine consumer with staleness tracking")
        stale = run_client_windowed(b, "monitor", {"list": str(pvlist), "seconds": S, "warmup": 2,
                                                   "track": True}, env, S + 180, {"ioc": ioc.pid})
        log("(c)", stale)

        log("(d) the same in lean mode (alarm-only monitors + a get every LEAN_REFRESH_S per PV)")
        lean = run_client_windowed(b, "monitor", {"list": str(pvlist), "seconds": S, "warmup": 2,
                                                  "track": True, "lean": True}, env, S + 180, {"ioc": ioc.pid})
        log("(d)", lean)

        # (b) GUI: steady window starts once the engine baseline had all values (+ margin)
        warm = max(4.0, 2 * (base.get("seconds_to_all_values") or 5.0) + 3.0)
        T = warm + S + 1.0
        stats = b.tmp / "gui-stats.json"
        argv = [PY, "-m", "pvprobe", "--pvlist", str(pvlist), "--quit-after", f"{T:g}",
                "--stats", str(stats)]
        log(f"(b) GUI, --quit-after {T:g}, CPU window {warm:g}..{warm + S:g} s")
        t0 = time.monotonic()
        proc = b.spawn(argv, dict(env, QT_QPA_PLATFORM="offscreen"), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)
        time.sleep(warm)
        cw = CpuWindow({"gui": proc.pid, "ioc": ioc.pid})
        cw.start()
        time.sleep(S)
        gui_cpu = cw.stop()
        try:
            _, err = proc.communicate(timeout=T + 120 - (time.monotonic() - t0))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        gui = json.loads(stats.read_text()) if stats.exists() else {"error": "no stats file"}
        if proc.returncode != 0:
            log("GUI stderr tail:", err.decode()[-1500:])
        gui.update({"quit_after": T, "exit_code": proc.returncode, "cpu_percent_window": gui_cpu})
        if "updates_received" in gui:
            # the stats are totals since start (updates flow while the rest connects):
            # averages over the whole run
            gui["updates_per_s_run_avg"] = round(gui["updates_received"] / T)
            gui["batches_per_s_run_avg"] = round(gui["batches_applied"] / T, 2)
        log("(b)", gui)

    ioc_rate = stale.get("ioc_processed_per_s")
    res.update({
        "engine_baseline": base, "gui": gui, "staleness": stale, "staleness_lean": lean,
        "ioc_processed_per_s": ioc_rate,
        "ioc_keeps_up": None if ioc_rate is None else ioc_rate >= 0.95 * a.n * 10,
        "ratios": {
            "engine_updates_vs_ioc_processed": ratio(base.get("updates_per_s"), ioc_rate),
            "gui_updates_vs_engine_updates": ratio(gui.get("updates_per_s_run_avg"), base.get("updates_per_s")),
            "gui_cpu_vs_engine_cpu": ratio((gui.get("cpu_percent_window") or {}).get("gui"),
                                           base.get("cpu_percent")),
            "lean_cpu_vs_engine_cpu": ratio(lean.get("cpu_percent"), base.get("cpu_percent")),
            "lean_staleness_p99_vs_full": ratio(lean.get("staleness_s_p99"), stale.get("staleness_s_p99")),
        },
        "targets_met": {
            "gui_lateness_p99_le_50ms": None if gui.get("loop_lateness_ms_p99") is None
            else gui["loop_lateness_ms_p99"] <= 50,
            "gui_lateness_max_le_250ms": None if gui.get("loop_lateness_ms_max") is None
            else gui["loop_lateness_ms_max"] <= 250,
            "every_value_within_0_5s_lean": None if lean.get("staleness_s_p99") is None
            else lean["staleness_s_p99"] <= 0.5,
        },
    })
    emit(res)


if __name__ == "__main__":
    main()
