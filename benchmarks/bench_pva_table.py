"""N PVs updating at 10 Hz, over Channel Access and over pvAccess from the same IOC
(EPICS base soft IOC with QSRV2, ``python -m pvxslibs.ioc``), same run.

(c) pvprobe's Engine on the CA names, (v) the same Engine on the ``pva://`` names,
(p) p4p's own thread client the usual way (``Context.monitor`` per PV, the PVA
baseline):
updates/s, CPU, staleness (``now - timestamp`` sampled at random phases), the IOC's
real processing rate (CALC=VAL+1);
(b) the GUI on the CA names and (g) on the PVA names (``--stats``): loop lateness,
the age of every row's value and of the rows on screen, GUI CPU over a steady window.
Ratios: PVA against CA. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import time

from common import Bench, cpu_percent, emit, gui_run, log, ratio, run_client_windowed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--no-gui", action="store_true", help="engines only")
    a = ap.parse_args()
    S = a.seconds
    res: dict = {"bench": "pva_table", "n": a.n, "rate_hz_per_pv": 10, "window_s": S}
    with Bench() as b:
        ioc, names = b.ioc("BP:calc:", a.n, "updating", pva=True)
        env = b.client_env([ioc])
        ca_list = b.write_list(names, "ca.txt")
        pva_list = b.write_list([f"pva://{n}" for n in names], "pva.txt")
        time.sleep(1.0)
        res["ioc_cpu_percent_no_client"] = round(cpu_percent(ioc.pid, 3.0), 1)
        common = {"seconds": S, "warmup": 2, "track": True}

        def client(label: str, pvlist) -> dict:
            log(label)
            r = run_client_windowed(b, "monitor", dict(common, list=str(pvlist)), env, S + 180,
                                    {"ioc": ioc.pid})
            log(label, r)
            return r
        ca = client("(c) Engine, CA", ca_list)
        pva = client("(v) Engine, PVA", pva_list)
        log("(p) p4p's own client, Context.monitor per PV")
        p4p_base = run_client_windowed(b, "p4p_monitor", dict(common, list=str(pva_list)), env, S + 180,
                                       {"ioc": ioc.pid})
        log("(p) p4p's own client", p4p_base)
        gui_ca = gui_pva = {}
        if not a.no_gui:
            warm = max(4.0, 2 * max(ca.get("seconds_to_all_values") or 5.0,
                                    pva.get("seconds_to_all_values") or 5.0) + 3.0)
            gui_ca = gui_run(b, "ca", ca_list, env, ioc, warm, S)
            gui_pva = gui_run(b, "pva", pva_list, env, ioc, warm, S)

    def gcpu(g: dict):
        return (g.get("cpu_percent_window") or {}).get("gui")
    res.update({
        "engine_ca": ca, "engine_pva": pva, "p4p_monitor": p4p_base, "gui_ca": gui_ca, "gui_pva": gui_pva,
        "ratios_engine_pva_vs_p4p_monitor": {
            "updates": ratio(pva.get("updates_per_s"), p4p_base.get("updates_per_s")),
            "cpu": ratio(pva.get("cpu_percent"), p4p_base.get("cpu_percent")),
            "staleness_p50": ratio(pva.get("staleness_s_p50"), p4p_base.get("staleness_s_p50")),
            "staleness_p99": ratio(pva.get("staleness_s_p99"), p4p_base.get("staleness_s_p99")),
        },
        "ratios_pva_vs_ca": {
            "engine_cpu": ratio(pva.get("cpu_percent"), ca.get("cpu_percent")),
            "engine_updates": ratio(pva.get("updates_per_s"), ca.get("updates_per_s")),
            "engine_staleness_p99": ratio(pva.get("staleness_s_p99"), ca.get("staleness_s_p99")),
            "seconds_to_all_values": ratio(pva.get("seconds_to_all_values"), ca.get("seconds_to_all_values")),
            "gui_cpu": ratio(gcpu(gui_pva), gcpu(gui_ca)),
            "gui_loop_p99": ratio(gui_pva.get("loop_lateness_ms_p99"), gui_ca.get("loop_lateness_ms_p99")),
            "gui_value_age_p99": ratio(gui_pva.get("value_age_s_p99"), gui_ca.get("value_age_s_p99")),
            "gui_shown_value_age_p99": ratio(gui_pva.get("shown_value_age_s_p99"),
                                             gui_ca.get("shown_value_age_s_p99")),
        },
        "targets_met_pva": {
            # the target: every value on screen (the rows a view shows get
            # every update); the rows off screen are emptied every PVA_POLL_S
            "gui_shown_values_within_0_5s_p99": None if gui_pva.get("shown_value_age_s_p99") is None
            else gui_pva["shown_value_age_s_p99"] <= 0.5,
            "gui_every_row_within_0_5s_p99": None if gui_pva.get("value_age_s_p99") is None
            else gui_pva["value_age_s_p99"] <= 0.5,
            "gui_lateness_p99_le_50ms": None if gui_pva.get("loop_lateness_ms_p99") is None
            else gui_pva["loop_lateness_ms_p99"] <= 50,
        },
    })
    emit(res)


if __name__ == "__main__":
    main()
