"""Strip chart: 200 PVs at 10 Hz on one chart with 10 minutes of buffered history:
redraw time per frame, memory per PV, loop lateness and CPU while live.

Processes: an EPICS base soft IOC of N ``calc`` records at 10 Hz (``common.Bench``),
and one offscreen Qt client (``--role client``) running the pvprobe Engine,
EngineBridge and a :class:`pvprobe.qt.plots.strip_chart.StripChart` (1400×800, span
10 min). Before the live data starts every PV's ring is filled synthetically with
``--history`` seconds at 10 Hz (a random walk with some alarm samples), so each
frame draws the full 10 minutes × N PVs (6,000 samples each).

1. live window (``--seconds``): the chart redraws on its timer; samples received/s
   (every update, keep_all), redraws/s, frames painted/s, lateness p99/max, CPU;
2. frame cost, timer stopped, ``--frames`` frames each, same data, same widget:
   - ``pvprobe``: ``StripChart.redraw()`` (visible window, min/max per pixel) then a
     synchronous ``viewport().repaint()``: ``prep_ms``, ``paint_ms``, ``frame_ms``;
   - ``naive`` (baseline): every curve ``setData(t, v)`` with the whole ring, no
     reduction, then repaint;
   - ``pg_auto``: the whole ring with pyqtgraph's ``setDownsampling(auto=True,
     method="peak")`` + ``setClipToView(True)``, then repaint.
3. memory: ring bytes per PV (fixed by construction) and the RSS growth of the
   client from before the chart existed to after it was filled, per PV.

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))


def run_client(listfile: str, seconds: float, history: float, frames: int, redraw_hz: float) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import numpy as np
    import psutil
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    from pvprobe.ca.engine import Engine
    from pvprobe.qt.app.diagnostics import LoopLatency
    from pvprobe.qt.bridge import EngineBridge

    names = [ln.strip() for ln in open(listfile) if ln.strip()]
    app = QApplication([])
    eng = Engine(tick_hz=20)
    bridge = EngineBridge(eng)
    from pvprobe.qt.plots.strip_chart import StripChart
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    chart = StripChart(bridge, span_s=max(600.0, history), rate_hz=10, redraw_hz=redraw_hz)
    chart.resize(1400, 800)
    chart.show()
    # synthetic history: `history` s at 10 Hz ending now, per PV
    rng = np.random.default_rng(1)
    n_hist = int(history * 10)
    now = time.time()
    t = now - history + np.arange(n_hist) * 0.1
    chart.add_pvs(names)
    for i, name in enumerate(names):
        v = np.cumsum(rng.standard_normal(n_hist)) + 10 * i
        sev = np.zeros(n_hist, np.int8)
        if i % 10 == 0:       # one PV in 10 has alarm stretches (30 s each): MINOR 1/7, MAJOR 1/11
            sev[(np.arange(n_hist) // 300 + i) % 7 == 0] = 1
            sev[(np.arange(n_hist) // 300 + i) % 11 == 0] = 2
        chart.ring(name).extend(t.copy(), v, sev)
    rss1 = proc.memory_info().rss
    bridge.start()

    def spin(cond, limit: float) -> bool:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            app.processEvents()
            if cond():
                return True
            time.sleep(0.002)
        return cond()

    live = lambda: sum(1 for n in names if chart.ring(n).last_time and chart.ring(n).last_time > now)  # noqa: E731
    t0 = time.monotonic()
    ok = spin(lambda: live() == len(names), 60)
    all_live_s = time.monotonic() - t0
    spin(lambda: False, 2.0)
    lat = LoopLatency(10)
    print(json.dumps({"event": "window_start"}), flush=True)
    st0 = chart.stats()
    p0 = chart.painted.frames
    r0 = chart.redraw_seconds_total
    f0 = (chart.frame_seconds_total, chart.frames_timed)
    tw = time.monotonic()
    lat.start()
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec_()
    lat.stop()
    dt = time.monotonic() - tw
    st1 = chart.stats()
    redraws = st1["redraws"] - st0["redraws"]
    live_res = {
        "all_pvs_live_s": round(all_live_s, 2) if ok else None,
        "samples_received_per_s": round((st1["updates_received"] - st0["updates_received"]) / dt, 1),
        "redraws_per_s": round(redraws / dt, 2),
        "painted_per_s": round((chart.painted.frames - p0) / dt, 2),
        "redraw_prep_ms_mean": round(1000 * (chart.redraw_seconds_total - r0) / max(1, redraws), 2),
        "frame_ms_mean": round(1000 * (chart.frame_seconds_total - f0[0]) / max(1, chart.frames_timed - f0[1]), 2),
        "redraw_interval_ms_end": chart._timer.interval(),
        "curves_refreshed_per_live_frame": round((st1["curves_updated"] - st0["curves_updated"]) / max(1, redraws), 1),
        "lateness_ms_p99": round(lat.p99_ms() or 0.0, 1), "lateness_ms_max": round(lat.max_ms() or 0.0, 1),
        "window_s": round(dt, 2),
    }
    # frame cost, same data, timer stopped
    chart._timer.stop()
    bridge.stop()
    vp = chart.plot.viewport()
    samples_per_pv = int(np.mean([len(chart.ring(n)) for n in names]))

    def frame_cost(prepare) -> dict:
        prep, paint = [], []
        for _ in range(frames):
            a = time.perf_counter()
            prepare()
            b = time.perf_counter()
            vp.repaint()
            c = time.perf_counter()
            prep.append(b - a)
            paint.append(c - b)
        med = lambda xs: round(1000 * float(np.median(xs)), 2)  # noqa: E731
        return {"prep_ms": med(prep), "paint_ms": med(paint),
                "frame_ms": med([p + q for p, q in zip(prep, paint)])}

    chart.set_paused(True)    # keep the same time range for every variant
    chart.show_range(now - history + 1, time.time())
    ours = frame_cost(chart.redraw)
    pts_ours = sum(len(s.curve.getData()[0]) for s in chart._series.values())

    def naive() -> None:
        for s in chart._series.values():
            tt, vv, _ = s.ring.view()
            s.curve.setData(tt.copy(), vv.copy(), connect="finite")
    base = frame_cost(naive)
    pts_naive = sum(len(s.curve.getData()[0]) for s in chart._series.values())
    for s in chart._series.values():
        s.curve.setDownsampling(auto=True, method="peak")
        s.curve.setClipToView(True)
    pg_auto = frame_cost(naive)
    res = {
        "pvs": len(names), "history_s": history, "samples_per_pv": samples_per_pv,
        "live": live_res,
        "frame": {"pvprobe": dict(ours, points_handed_to_pyqtgraph=pts_ours),
                  "naive": dict(base, points_handed_to_pyqtgraph=pts_naive), "pg_auto": pg_auto},
        "memory": {"ring_capacity_per_pv": chart.capacity(), "ring_bytes_per_pv": chart.bytes_per_pv(),
                   "rss_growth_kb_per_pv_chart_filled": round((rss1 - rss0) / 1024 / len(names), 1),
                   "memory_label": chart.memory_text()},
    }
    print(json.dumps(res), flush=True)
    os._exit(0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--role", choices=("driver", "client"), default="driver")
    ap.add_argument("--list", default="")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=15.0, help="live measuring window")
    ap.add_argument("--history", type=float, default=600.0, help="synthetic history per PV (s)")
    ap.add_argument("--frames", type=int, default=10, help="frames per variant for the frame cost")
    ap.add_argument("--redraw-hz", type=float, default=10.0)
    a = ap.parse_args()
    if a.role == "client":
        return run_client(a.list, a.seconds, a.history, a.frames, a.redraw_hz)

    from bench_waveform import windowed
    from common import PY, Bench, emit, log, ratio

    res: dict = {"bench": "stripchart", "n": a.n, "rate_hz_per_pv": 10, "history_s": a.history,
                 "window_s": a.seconds}
    with Bench() as b:
        ioc, names = b.ioc("BS:calc:", a.n, "updating")
        env = dict(b.client_env([ioc]), QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(HERE.parent))
        lst = b.write_list(names)
        argv = [PY, __file__, "--role", "client", "--list", str(lst), "--seconds", str(a.seconds),
                "--history", str(a.history), "--frames", str(a.frames), "--redraw-hz", str(a.redraw_hz)]
        log(f"client: {a.n} PVs, {a.history:g} s history, {a.seconds:g} s live window")
        client = windowed(b, argv, env, a.seconds + 240, {"ioc": ioc.pid})
    res.update(client)
    fr = client.get("frame", {})
    res["ratios"] = {
        "naive_frame_vs_pvprobe_frame": ratio((fr.get("naive") or {}).get("frame_ms"),
                                              (fr.get("pvprobe") or {}).get("frame_ms")),
        "pg_auto_frame_vs_pvprobe_frame": ratio((fr.get("pg_auto") or {}).get("frame_ms"),
                                                (fr.get("pvprobe") or {}).get("frame_ms")),
        "samples_received_vs_offered": ratio((client.get("live") or {}).get("samples_received_per_s"),
                                             a.n * 10.0),
    }
    emit(res)


if __name__ == "__main__":
    main()
