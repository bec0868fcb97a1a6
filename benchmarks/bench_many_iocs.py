"""Many IOCs, one table (issue 15): 100,000 CA PVs from 5 soft IOCs plus 10,000 PVA PVs
through a real p4p gateway, in one pvprobe window; the CA-only figures of the same run.

Set-up (all started here, stopped by PID on the way out):
* 5 EPICS base soft IOCs (CA), each on its own port, each 20,000 records: the first
  ``--updating`` / 5 are ``calc`` at 10 Hz (``SCAN .1 second``, ``VAL+1``), the rest
  static ``ai``;
* one soft IOC with QSRV2 (``python -m pvxslibs.ioc``) serving ``--pva`` static ``ai``
  records over pvAccess, on ports the client does not search;
* ``python -m p4p.gw`` (``pva_gateway.py``) searching that IOC upstream and serving
  loopback on its own ports: the client's ``EPICS_PVA_ADDR_LIST`` names the gateway
  only, so every PVA answer comes through it.

Measured, in this order:
(a) ``recipe``: the pyepics bulk recipe (``clients.py recipe``) on the 100,000 CA
    names, twice, the faster counts (baseline);
(p) ``recipe_pva``: the same idea over pvAccess, p4p's ``Context.get(list)`` of the
    10,000 ``pva://`` names through the gateway (for reference);
(e) ``gui_empty``: the GUI with one PV (RSS baseline for the per-PV figure);
(c) ``gui_ca``: the GUI (``python -m pvprobe --pvlist L --quit-after T --stats F``,
    offscreen) with the 100,000 CA names;
(g) ``gui_all``: the same with all 110,000 names (CA + ``pva://``).
The GUI runs through ``--role gui`` of this script: pvprobe's own ``cli.main`` with
``RunStats`` extended (benchmark side only) to note when every row is connected /
valued, the GUI loop lateness from then on (``after_connected``/``after_values``),
and to quit (SIGINT, as Ctrl-C: the same path as ``--quit-after``) ``--steady``
seconds after all values; value ages are sampled on at most 1,000 of the updating rows
(the app's own sampler walks every row, 110,000 per 0.437 s, in the GUI thread,
which would measure itself). The quit time is from the stats file's mtime (written
at the quit) to the process exit, polled every 5 ms (as ``bench_shutdown.py``).

Prints one JSON line; progress on stderr.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

POLL = 0.005
TARGETS = {"gui_vs_recipe_max": 2.0, "kb_per_pv_max": 5.0, "loop_p99_ms_max": 50.0,
           "loop_max_ms_max": 250.0, "quit_s_max": 2.0}


# ----------------------------------------------------------------------------- client roles

def role_gui(argv: list[str], steady: float, age_rows: int, freeze: bool = False) -> int:
    """pvprobe's GUI (``cli.main(argv)``) with RunStats extended for this benchmark.
    ``freeze``: experiment, not the app's behaviour: ``gc.freeze()`` once every row is
    connected and again once every row has a value (the objects then existing are
    never scanned again by a full collection)."""
    t0 = time.monotonic()
    import numpy as np
    from PyQt5.QtCore import QTimer

    from pvprobe.qt.app import diagnostics as d

    orig_on_batch, orig_to_dict = d.RunStats.on_batch, d.RunStats.to_dict

    def cpu_s() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    def mark(stats) -> tuple[float, int, float]:
        return (time.monotonic() - t0, len(stats.latency.samples) if stats.latency else 0, cpu_s())

    def on_batch(self, batch=None) -> None:
        c, v = self.seconds_to_all_connected, self.seconds_to_all_values
        orig_on_batch(self, batch)
        if c is None and self.seconds_to_all_connected is not None:
            self._q2_connected = mark(self)
            if freeze:
                gc.freeze()
        if v is None and self.seconds_to_all_values is not None:
            self._q2_values = mark(self)
            if freeze:
                gc.freeze()
            if steady > 0:
                QTimer.singleShot(int(steady * 1000), lambda: os.kill(os.getpid(), signal.SIGINT))

    def sample_value_ages(self, now: float | None = None) -> None:
        if self.seconds_to_all_values is None:
            return
        now = time.time() if now is None else now
        m = self.model
        n = min(age_rows, m.rowCount())
        for row in range(0, n, max(1, n // 1000)):
            st = m.state(row)
            if st.connected and st.timestamp:
                self._ages.append(now - st.timestamp)

    def after(self, attr: str) -> dict | None:
        mk = getattr(self, attr, None)
        if mk is None or self.latency is None:
            return None
        s = np.frombuffer(self.latency.samples, dtype=np.float64)[mk[1]:]
        if not len(s):
            return None
        dt = time.monotonic() - t0 - mk[0]
        return {"process_s": round(mk[0], 3), "ticks": int(len(s)), "seconds": round(dt, 2),
                "cpu_percent": round(100 * (cpu_s() - mk[2]) / dt, 1) if dt > 0 else None,
                "loop_lateness_ms_p99": round(float(np.percentile(s, 99)), 3),
                "loop_lateness_ms_max": round(float(s.max()), 3)}

    def to_dict(self) -> dict:
        out = orig_to_dict(self)
        out["after_connected"] = after(self, "_q2_connected")
        mk = getattr(self, "_q2_connected", None)
        out["gc_after_connected"] = gc_after(mk[0]) if mk else None
        out["gc_whole_run"] = gc_after(0.0)
        out["after_values"] = after(self, "_q2_values")
        out["process_s_at_quit"] = round(time.monotonic() - t0, 3)
        out["cpu_s_at_quit"] = round(cpu_s(), 2)
        return out

    gc_pauses: list[tuple[float, int, float]] = []     # (when, generation, ms), gen >= 1
    gc_start = [0.0]

    def on_gc(phase: str, info: dict) -> None:
        """Every collection of generation 1 or 2 (any thread: it holds the GIL meanwhile)."""
        if info.get("generation", 0) < 1:
            return
        if phase == "start":
            gc_start[0] = time.perf_counter()
        else:
            gc_pauses.append((time.monotonic() - t0, info["generation"],
                              1000 * (time.perf_counter() - gc_start[0])))
    gc.callbacks.append(on_gc)

    def gc_after(since: float) -> dict:
        ms = [p[2] for p in gc_pauses if p[0] >= since]
        g2 = [p[2] for p in gc_pauses if p[0] >= since and p[1] == 2]
        return {"gen1_2_collections": len(ms), "gen2_collections": len(g2),
                "max_pause_ms": round(max(ms), 1) if ms else None,
                "gen2_max_pause_ms": round(max(g2), 1) if g2 else None,
                "pauses_over_100ms": sum(1 for x in ms if x > 100)}

    d.RunStats.on_batch = on_batch
    d.RunStats.sample_value_ages = sample_value_ages
    d.RunStats.to_dict = to_dict
    from pvprobe.cli import main
    return main(argv)


def role_pva_recipe(args: dict) -> None:
    """p4p bulk get of the names (``pva://`` stripped) through whatever EPICS_PVA_* say."""
    names = [ln.strip().removeprefix("pva://") for ln in open(args["list"]) if ln.strip()]
    t0 = time.monotonic()
    from p4p.client.thread import Context
    ctx = Context("pva", nt=False)
    t1 = time.monotonic()
    vals = ctx.get(names, timeout=float(args.get("timeout", 60)), throw=False)
    t2 = time.monotonic()
    got = sum(1 for v in vals if not isinstance(v, Exception))
    print(json.dumps({"n": len(names), "values": got, "init_s": round(t1 - t0, 3),
                      "inner_s": round(t2 - t1, 3)}), flush=True)
    os._exit(0)


# ----------------------------------------------------------------------------- driver

def run_gui(b, env: dict, pvlist: Path, label: str, steady: float, age_rows: int,
            max_s: float, freeze: bool = False) -> dict:
    """One GUI run; stats plus quit → exit time."""
    from common import PY, kill_pid, log
    stats = b.tmp / f"gui-{label}.json"
    errf = open(b.tmp / f"gui-{label}.err", "wb")
    argv = [PY, str(Path(__file__).resolve()), "--role", "gui", "--steady", f"{steady:g}",
            "--age-rows", str(age_rows)] + (["--experiment-gc-freeze"] if freeze else []) + ["--",
            "--pvlist", str(pvlist), "--quit-after", f"{max_s:g}", "--stats", str(stats)]
    log(f"GUI {label}: steady {steady:g} s after all values, at most {max_s:g} s")
    t0 = time.monotonic()
    proc = b.spawn(argv, dict(env, QT_QPA_PLATFORM="offscreen"), stdout=subprocess.DEVNULL, stderr=errf)
    deadline = t0 + max_s + 120
    while time.monotonic() < deadline and proc.poll() is None and not stats.exists():
        time.sleep(POLL)
    exit_at = code = None
    end = time.monotonic() + 30
    while time.monotonic() < end:
        if proc.poll() is not None:
            exit_at, code = time.time(), proc.returncode
            break
        time.sleep(POLL)
    if exit_at is None:
        log(f"GUI {label} still running 30 s after the quit; killing it")
        kill_pid(proc)
    errf.close()
    res: dict = json.loads(stats.read_text()) if stats.exists() else {"error": "no stats file"}
    if stats.exists():
        res["seconds_quit_to_exit"] = round(exit_at - os.stat(stats).st_mtime, 3) if exit_at else None
    res["exit_code"] = code if exit_at else "killed (hung)"
    res["wall_s"] = round(time.monotonic() - t0, 2)
    if code:
        log(f"GUI {label} stderr tail:", (b.tmp / f"gui-{label}.err").read_text(errors="replace")[-1500:])
    log(label, {k: v for k, v in res.items() if k != "views"})
    return res


def make_db(b, k: int, per_ioc: int, updating: int) -> tuple[list[Path], list[str], list[str]]:
    from common import write_db
    du, ds = b.tmp / f"ioc{k}-u.db", b.tmp / f"ioc{k}-s.db"
    up = write_db(du, f"MI{k}:u:", updating, "updating")
    st = write_db(ds, f"MI{k}:s:", per_ioc - updating, "static")
    return [du, ds], up, st


def summarise(label: str, g: dict, recipe_inner: float | None, n: int, rss_empty: float | None) -> dict:
    from common import ratio, rnd
    ac = g.get("after_connected") or {}
    rss = g.get("rss_mb")
    return {
        "pvs": g.get("pvs"), "connected": g.get("connected"),
        "seconds_to_all_connected": g.get("seconds_to_all_connected"),
        "seconds_to_all_values": g.get("seconds_to_all_values"),
        "all_values_vs_recipe": ratio(g.get("seconds_to_all_values"), recipe_inner),
        "all_connected_vs_recipe": ratio(g.get("seconds_to_all_connected"), recipe_inner),
        "rss_mb": rss,
        "kb_per_pv": rnd(None if rss is None else rss * 1024 / n, 2),
        "kb_per_pv_over_empty_gui": rnd(None if rss is None or rss_empty is None
                                        else (rss - rss_empty) * 1024 / n, 2),
        "loop_p99_ms_after_connected": ac.get("loop_lateness_ms_p99"),
        "loop_max_ms_after_connected": ac.get("loop_lateness_ms_max"),
        "cpu_percent_after_connected": ac.get("cpu_percent"),
        "gc_after_connected": g.get("gc_after_connected"),
        "loop_p99_ms_whole_run": g.get("loop_lateness_ms_p99"),
        "loop_max_ms_whole_run": g.get("loop_lateness_ms_max"),
        "value_age_s_p99_updating": g.get("value_age_s_p99"),
        "seconds_quit_to_exit": g.get("seconds_quit_to_exit"),
        "exit_code": g.get("exit_code"),
    }


def targets(s: dict) -> dict:
    def le(x, lim):
        return None if x is None else x <= lim
    return {"all_values_le_2x_recipe": le(s["all_values_vs_recipe"], TARGETS["gui_vs_recipe_max"]),
            "kb_per_pv_lt_5": None if s["kb_per_pv"] is None else s["kb_per_pv"] < TARGETS["kb_per_pv_max"],
            "loop_p99_le_50ms": le(s["loop_p99_ms_after_connected"], TARGETS["loop_p99_ms_max"]),
            "loop_max_le_250ms": le(s["loop_max_ms_after_connected"], TARGETS["loop_max_ms_max"]),
            "quit_lt_2s": None if s["seconds_quit_to_exit"] is None
            else s["seconds_quit_to_exit"] < TARGETS["quit_s_max"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iocs", type=int, default=5)
    ap.add_argument("--per-ioc", type=int, default=20000)
    ap.add_argument("--updating", type=int, default=10000, help="calc records at 10 Hz, over all CA IOCs")
    ap.add_argument("--pva", type=int, default=10000, help="PVA PVs through the gateway")
    ap.add_argument("--steady", type=float, default=20.0, help="GUI seconds after all values")
    ap.add_argument("--skip-ca-gui", action="store_true")
    ap.add_argument("--experiment-gc-freeze", action="store_true",
                    help="not the app's behaviour: the GUI calls gc.freeze() once all rows are "
                         "connected and once all have values")
    ap.add_argument("--role", choices=["driver", "gui", "pva_recipe"], default="driver")
    ap.add_argument("--age-rows", type=int, default=0)
    ap.add_argument("rest", nargs="*")
    a = ap.parse_args()
    if a.role == "gui":
        sys.exit(role_gui(a.rest, a.steady, a.age_rows, a.experiment_gc_freeze))
    if a.role == "pva_recipe":
        role_pva_recipe(json.loads(a.rest[0]))
        return

    import psutil
    from common import PY, Bench, emit, free_port, log, ratio
    from pva_gateway import Gateway
    n_ca = a.iocs * a.per_ioc
    upd = a.updating // a.iocs
    res: dict = {"bench": "many_iocs", "iocs": a.iocs, "per_ioc": a.per_ioc, "n_ca": n_ca,
                 "updating_10hz": upd * a.iocs, "n_pva_gateway": a.pva, "steady_s": a.steady,
                 "experiment_gc_freeze": a.experiment_gc_freeze,
                 "loadavg_start": [round(x, 2) for x in os.getloadavg()],
                 "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    with Bench() as b:
        iocs, up_names, st_names = [], [], []
        for k in range(a.iocs):
            dbs, up, st = make_db(b, k, a.per_ioc, upd)
            iocs.append(b.ioc_multi(dbs, f"ca{k}"))
            up_names += up
            st_names += st
        pva_ioc, pva_raw = b.ioc("MG:s:", a.pva, "static", name="qsrv", pva=True)
        gw = Gateway(b.tmp / "gw", free_port(), free_port(), [pva_ioc.pva_udp])
        t = time.monotonic()
        gw.start()
        log(f"gateway up on {gw.port}/{gw.udp} in {time.monotonic() - t:.1f} s (pid {gw.pid}),"
            f" upstream QSRV2 search port {pva_ioc.pva_udp}")
        try:
            env = b.client_env(iocs, EPICS_PVA_ADDR_LIST=f"127.0.0.1:{gw.udp}",
                               EPICS_PVA_AUTO_ADDR_LIST="NO",
                               EPICS_PVA_BROADCAST_PORT=str(gw.udp))
            ca_names = up_names + st_names           # updating rows first (value ages)
            pva_names = [f"pva://{n}" for n in pva_raw]
            ca_list = b.write_list(ca_names, "ca.txt")
            all_list = b.write_list(ca_names + pva_names, "all.txt")
            pva_list = b.write_list(pva_names, "pva.txt")
            one_list = b.write_list(ca_names[:1], "one.txt")
            tmo = 120.0

            log("(a) recipe, CA")
            rec = b.run_client("recipe", {"list": str(ca_list), "timeout": tmo}, env, tmo + 60)
            log("(a)", rec)
            rec2 = b.run_client("recipe", {"list": str(ca_list), "timeout": tmo}, env, tmo + 60)
            log("(a')", rec2)
            inners = [r["inner_s"] for r in (rec, rec2) if r.get("values") == n_ca]
            base = min(inners) if inners else None

            log("(p) recipe, PVA through the gateway")
            t = time.monotonic()
            p = subprocess.run([PY, __file__, "--role", "pva_recipe", json.dumps({"list": str(pva_list)})],
                               env=env, capture_output=True, text=True, timeout=180)
            lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{")]
            rec_pva = json.loads(lines[-1]) if lines else {"error": p.stderr[-800:]}
            rec_pva["wall_s"] = round(time.monotonic() - t, 3)
            log("(p)", rec_pva)

            max_s = max(60.0, 6 * (base or 20) + a.steady + 30)
            empty = run_gui(b, env, one_list, "empty", 3.0, 0, 30)
            rss_empty = empty.get("rss_mb")
            gui_ca = {} if a.skip_ca_gui else run_gui(b, env, ca_list, "ca", a.steady, len(up_names), max_s,
                                                      a.experiment_gc_freeze)
            gwp = psutil.Process(gw.pid)
            gw_cpu0 = sum(gwp.cpu_times()[:2])
            t = time.monotonic()
            gui_all = run_gui(b, env, all_list, "all", a.steady, len(up_names), max_s,
                              a.experiment_gc_freeze)
            gw_cpu = round(100 * (sum(gwp.cpu_times()[:2]) - gw_cpu0) / (time.monotonic() - t), 1)
            gw_rss = round(gwp.memory_info().rss / 2 ** 20, 1)
        finally:
            gw.stop()

    s_ca = summarise("ca", gui_ca, base, n_ca, rss_empty) if gui_ca else {}
    s_all = summarise("all", gui_all, base, n_ca + a.pva, rss_empty)
    res.update({
        "recipe": rec, "recipe_repeat": rec2, "recipe_inner_s": base, "recipe_pva": rec_pva,
        "gui_empty": {"rss_mb": rss_empty, "seconds_quit_to_exit": empty.get("seconds_quit_to_exit")},
        "gui_ca": gui_ca, "gui_all": gui_all,
        "gateway": {"cpu_percent_during_gui_all": gw_cpu, "rss_mb_after": gw_rss},
        "summary_ca_only": s_ca, "summary_all": s_all,
        "ratios_all_vs_ca_only": {k: ratio(s_all.get(k), s_ca.get(k)) for k in (
            "seconds_to_all_connected", "seconds_to_all_values", "rss_mb", "kb_per_pv",
            "loop_p99_ms_after_connected", "loop_max_ms_after_connected",
            "seconds_quit_to_exit")} if s_ca else None,
        "targets_met_all": targets(s_all), "targets_met_ca_only": targets(s_ca) if s_ca else None,
        "loadavg_end": [round(x, 2) for x in os.getloadavg()],
    })
    emit(res)


if __name__ == "__main__":
    main()
