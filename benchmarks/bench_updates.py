"""N PVs updating at 10 Hz (one IOC of N ``calc`` records, SCAN .1 second): what the
client takes and how fresh the values are, same run.

(a) baseline: the usual pyepics way, one ``epics.PV(name, callback=...)`` per PV,
    the callback storing value and timestamp;
(c) pvprobe's Engine worker (C monitor callback), a consumer keeping each PV's
    newest IOC timestamp from the batches;
(p) the same Engine on pure-Python callbacks (``PVPROBE_PY_CALLBACKS=1``: an install
    without a C compiler);
(d) the Engine in lean mode (what the GUI does above LEAN_THRESHOLD PVs);
(b) the GUI on the same PVs (``--stats``): updates/s, batches/s, loop lateness, the
    age of every shown value (``value_age_s_*``), GUI CPU% over a steady window
    (psutil, from outside).
(a), (c), (p), (d) sample ``now - timestamp`` over all PVs at random 0.25-0.75 s
phases (staleness) and derive the IOC's real processing rate from the values
(CALC=VAL+1). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import time

from common import Bench, cpu_percent, emit, gui_run, log, ratio, run_client_windowed


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
        common = {"list": str(pvlist), "seconds": S, "warmup": 2}

        def client(label: str, mode: str, extra: dict, client_env: dict) -> dict:
            log(label)
            r = run_client_windowed(b, mode, dict(common, **extra), client_env, S + 180, {"ioc": ioc.pid})
            log(label, r)
            return r
        base = client("(a) baseline: epics.PV callbacks", "pyepics_monitor", {}, env)
        stale = client("(c) Engine, C callback", "monitor", {"track": True}, env)
        stale_py = client("(p) Engine, Python callbacks", "monitor", {"track": True},
                          dict(env, PVPROBE_PY_CALLBACKS="1"))
        lean = client("(d) Engine, lean mode", "monitor", {"track": True, "lean": True}, env)

        # (b) GUI: steady window starts once the engine baseline had all values (+ margin)
        warm = max(4.0, 2 * (stale.get("seconds_to_all_values") or 5.0) + 3.0)
        T = warm + S + 1.0
        gui = gui_run(b, "(b)", pvlist, env, ioc, warm, S)
        if "updates_received" in gui:
            # the stats are totals since start (updates flow while the rest connects):
            # averages over the whole run
            gui["updates_per_s_run_avg"] = round(gui["updates_received"] / T)
            gui["batches_per_s_run_avg"] = round(gui["batches_applied"] / T, 2)
        log("(b)", gui)

    ioc_rate = stale.get("ioc_processed_per_s")
    gui_cpu = (gui.get("cpu_percent_window") or {}).get("gui")
    res.update({
        "baseline_pyepics": base, "engine": stale, "engine_py_callbacks": stale_py,
        "engine_lean": lean, "gui": gui, "ioc_processed_per_s": ioc_rate,
        "ioc_keeps_up": None if ioc_rate is None else ioc_rate >= 0.95 * a.n * 10,
        "ratios": {
            "engine_updates_vs_baseline": ratio(stale.get("updates_per_s"), base.get("updates_per_s")),
            "engine_cpu_vs_baseline": ratio(stale.get("cpu_percent"), base.get("cpu_percent")),
            "engine_staleness_p99_vs_baseline": ratio(stale.get("staleness_s_p99"), base.get("staleness_s_p99")),
            "engine_py_callbacks_cpu_vs_baseline": ratio(stale_py.get("cpu_percent"), base.get("cpu_percent")),
            "engine_py_callbacks_staleness_p99_vs_baseline": ratio(stale_py.get("staleness_s_p99"),
                                                                   base.get("staleness_s_p99")),
            "lean_cpu_vs_baseline": ratio(lean.get("cpu_percent"), base.get("cpu_percent")),
            "gui_cpu_vs_baseline": ratio(gui_cpu, base.get("cpu_percent")),
            "gui_value_age_p99_vs_baseline_staleness_p99": ratio(gui.get("value_age_s_p99"),
                                                                 base.get("staleness_s_p99")),
        },
        "targets_met": {
            "gui_lateness_p99_le_50ms": None if gui.get("loop_lateness_ms_p99") is None
            else gui["loop_lateness_ms_p99"] <= 50,
            "gui_lateness_max_le_250ms": None if gui.get("loop_lateness_ms_max") is None
            else gui["loop_lateness_ms_max"] <= 250,
            "gui_every_value_within_0_5s_p99": None if gui.get("value_age_s_p99") is None
            else gui["value_age_s_p99"] <= 0.5,
            "gui_below_one_core": None if gui_cpu is None else gui_cpu < 100,
        },
    })
    emit(res)


if __name__ == "__main__":
    main()
