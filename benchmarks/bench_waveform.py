"""A 1,000,000-double waveform at 10 Hz from a real IOC into a plot: updates received
vs drawn per second, event-loop lateness, GUI CPU. Baselines in the same run.

Processes (all started here, stopped by PID):
  * IOC: pythonSoftIOC (``--role ioc``), one ``WaveformIn`` of N doubles, ``set()``
    at HZ from precomputed arrays (so the IOC's own CPU stays small);
  * one client per mode (``--role client``), offscreen Qt, the pvprobe Engine and
    EngineBridge, the plot fully shown (1200×700), run one after the other:
      - ``pvprobe``:  :class:`pvprobe.qt.plots.waveform_plot.WaveformPlot` (min/max
        decimation of the visible range to the plot's width);
      - ``plain``:    baseline, a plain pyqtgraph ``PlotWidget`` calling
        ``setData(value)`` on every update (no downsampling, no clipping);
      - ``pg_auto``:  pyqtgraph's own ``setDownsampling(auto=True, method="peak")``
        + ``setClipToView(True)`` (the other way the issue allows).

Per client over the steady window (after the first value + warm-up):
``ca_updates_per_s`` (CA monitor callbacks the engine took), ``received_per_s``
(new arrays the view got from batches), ``set_data_per_s`` (arrays handed to
pyqtgraph), ``painted_per_s`` (viewport paint events that showed new data),
``lateness_ms_p99/max`` (10 ms timer in the GUI thread), ``cpu_percent_window``
(client process incl. its CA threads, and the IOC; psutil from outside).

Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

PV = "BW:wave"
READY = "BENCH-WAVEFORM-IOC-READY"


# ----------------------------------------------------------------------------- IOC role

def run_ioc(n: int, hz: float) -> None:
    import asyncio

    import numpy as np
    from softioc import asyncio_dispatcher, builder, softioc

    dispatcher = asyncio_dispatcher.AsyncioDispatcher()
    rec = builder.WaveformIn(PV, datatype=np.float64, length=n, EGU="V")
    builder.LoadDatabase()
    softioc.iocInit(dispatcher, enable_pva=False)
    t = np.linspace(0.0, 1.0, n)
    frames = [np.sin(2 * np.pi * (5 + 20 * t) * t + 0.3 * k) + 0.01 * np.random.default_rng(k).standard_normal(n)
              for k in range(8)]

    async def loop() -> None:
        period = 1.0 / hz
        deadline = asyncio.get_running_loop().time()
        k = 0
        while True:
            rec.set(frames[k % len(frames)])
            k += 1
            deadline += period
            now = asyncio.get_running_loop().time()
            if deadline < now:
                deadline = now
            await asyncio.sleep(deadline - now)

    asyncio.run_coroutine_threadsafe(loop(), dispatcher.loop)
    print(READY, flush=True)
    softioc.non_interactive_ioc()


# ----------------------------------------------------------------------------- client role

def run_client(mode: str, seconds: float, warmup: float, timeout: float) -> None:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import pyqtgraph as pg
    from PyQt5.QtWidgets import QApplication

    from pvprobe.ca.engine import Engine
    from pvprobe.qt.app.diagnostics import LoopLatency
    from pvprobe.qt.bridge import EngineBridge
    from pvprobe.qt.plots.plot_common import PaintCounter

    app = QApplication([])
    eng = Engine(tick_hz=20)
    bridge = EngineBridge(eng)
    counts = {"received": 0, "set_data": 0}
    if mode == "pvprobe":
        from pvprobe.qt.plots.waveform_plot import WaveformPlot
        w = WaveformPlot(bridge, [PV])
        painted = w.painted
        received = lambda: w.updates_received       # noqa: E731
        set_data = lambda: w.redraws                # noqa: E731
    else:
        w = pg.PlotWidget()
        curve = w.plot(pen="y")
        if mode == "pg_auto":
            curve.setDownsampling(auto=True, method="peak")
            curve.setClipToView(True)
        painted = PaintCounter(w.viewport())
        last = {"u": -1}

        def consumer(batch) -> None:
            for st in batch.states:
                if st.name == PV and st.value is not None and st.update_count != last["u"]:
                    last["u"] = st.update_count
                    counts["received"] += 1
                    curve.setData(st.value[: st.count])
                    counts["set_data"] += 1
                    painted.mark()
        bridge.add_consumer(consumer)
        bridge.add([PV], monitor_arrays=True)
        received = lambda: counts["received"]       # noqa: E731
        set_data = lambda: counts["set_data"]       # noqa: E731
    w.resize(1200, 700)
    w.show()
    bridge.start()

    def spin(cond, limit: float) -> bool:
        end = time.monotonic() + limit
        while time.monotonic() < end:
            app.processEvents()
            if cond():
                return True
            time.sleep(0.002)
        return cond()

    t0 = time.monotonic()
    if not spin(lambda: received() > 0, timeout):
        print(json.dumps({"mode": mode, "error": f"no value within {timeout} s"}), flush=True)
        return
    first_value_s = time.monotonic() - t0
    spin(lambda: False, warmup)
    lat = LoopLatency(10)
    print(json.dumps({"event": "window_start"}), flush=True)
    c0 = (bridge.updates_received, received(), set_data(), painted.frames, painted.paints)
    tw = time.monotonic()
    lat.start()
    from PyQt5.QtCore import QTimer
    QTimer.singleShot(int(seconds * 1000), app.quit)
    app.exec_()
    lat.stop()
    dt = time.monotonic() - tw
    c1 = (bridge.updates_received, received(), set_data(), painted.frames, painted.paints)
    d = [b - a for a, b in zip(c0, c1)]
    res = {
        "mode": mode, "window_s": round(dt, 2), "first_value_s": round(first_value_s, 2),
        "ca_updates_per_s": round(d[0] / dt, 2), "received_per_s": round(d[1] / dt, 2),
        "set_data_per_s": round(d[2] / dt, 2), "painted_per_s": round(d[3] / dt, 2),
        "paint_events_per_s": round(d[4] / dt, 2),
        "lateness_ms_p99": round(lat.p99_ms() or 0.0, 1), "lateness_ms_max": round(lat.max_ms() or 0.0, 1),
    }
    if mode == "pvprobe":
        res["plot_stats"] = {k: v for k, v in w.stats().items() if k != "updates_received_per_pv"}
        w.close_pvs()
    print(json.dumps(res), flush=True)
    bridge.stop()
    os._exit(0)   # the CA context goes with the process


# ----------------------------------------------------------------------------- driver

def windowed(b, argv: list[str], env: dict, timeout: float, watch: dict) -> dict:
    """Run a client; measure CPU of it and ``watch`` between its window_start line and result."""
    import selectors

    from common import CpuWindow, kill_pid
    proc = b.spawn(argv, env, stdout=subprocess.PIPE, stderr=None, text=True)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    cw = None
    res: dict = {"error": "no result"}
    while time.monotonic() < deadline:
        if not sel.select(timeout=0.5):
            if proc.poll() is not None:
                break
            continue
        line = proc.stdout.readline()
        if not line:
            break
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        if d.get("event") == "window_start":
            cw = CpuWindow(dict(watch, client=proc.pid))
            cw.start()
        else:
            res = d
            if cw is not None:
                res["cpu_percent_window"] = cw.stop()
            break
    else:
        res = {"error": f"timeout after {timeout} s"}
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        kill_pid(proc)
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--role", choices=("driver", "ioc", "client"), default="driver")
    ap.add_argument("--mode", default="pvprobe")
    ap.add_argument("--n", type=int, default=1_000_000, help="waveform elements (doubles)")
    ap.add_argument("--hz", type=float, default=10.0)
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring window per client")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--modes", default="pvprobe,plain,pg_auto")
    a = ap.parse_args()
    if a.role == "ioc":
        return run_ioc(a.n, a.hz)
    if a.role == "client":
        return run_client(a.mode, a.seconds, a.warmup, timeout=60.0)

    from common import PY, Bench, cpu_percent, emit, log, ratio

    from pvprobe.core.caenv import free_port, loopback_env

    array_bytes = str(max(2 ** 24, a.n * 8 + 4096))
    res: dict = {"bench": "waveform", "n": a.n, "hz": a.hz, "window_s": a.seconds,
                 "bytes_per_update": a.n * 8}
    with Bench() as b:
        port = free_port()
        env = dict(os.environ)
        env.update(loopback_env(port, b.repeater_port))
        env["EPICS_CA_MAX_ARRAY_BYTES"] = array_bytes
        env["PYTHONPATH"] = str(HERE.parent)
        ioc = b.spawn([PY, __file__, "--role", "ioc", "--n", str(a.n), "--hz", str(a.hz)], env,
                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = ioc.stdout.readline()
            if not line or READY in line:
                break
        if ioc.poll() is not None:
            emit({**res, "error": "IOC failed to start"})
            return
        log(f"IOC up (pid {ioc.pid}, port {port})")
        time.sleep(1.0)
        res["ioc_cpu_percent_no_client"] = round(cpu_percent(ioc.pid, 2.0), 1)
        cenv = dict(env, QT_QPA_PLATFORM="offscreen")
        clients = {}
        for mode in a.modes.split(","):
            log(f"client {mode}: {a.seconds} s window")
            argv = [PY, __file__, "--role", "client", "--mode", mode, "--seconds", str(a.seconds),
                    "--warmup", str(a.warmup)]
            clients[mode] = windowed(b, argv, cenv, a.seconds + a.warmup + 120, {"ioc": ioc.pid})
            log(mode, clients[mode])
    res["clients"] = clients
    p, base = clients.get("pvprobe", {}), clients.get("plain", {})

    def cpu(c: dict) -> float | None:
        return (c.get("cpu_percent_window") or {}).get("client")

    res["ratios"] = {
        "pvprobe_painted_vs_received": ratio(p.get("painted_per_s"), p.get("received_per_s")),
        "plain_painted_vs_received": ratio(base.get("painted_per_s"), base.get("received_per_s")),
        "pvprobe_painted_vs_plain_painted": ratio(p.get("painted_per_s"), base.get("painted_per_s")),
        "pvprobe_lateness_p99_vs_plain": ratio(p.get("lateness_ms_p99"), base.get("lateness_ms_p99")),
        "pvprobe_cpu_vs_plain_cpu": ratio(cpu(p), cpu(base)),
    }
    res["targets_met"] = {
        "pvprobe_lateness_p99_le_50ms": None if p.get("lateness_ms_p99") is None else p["lateness_ms_p99"] <= 50,
        "pvprobe_draws_every_received_update": None if not p.get("received_per_s") else
        p.get("painted_per_s", 0) >= 0.9 * p["received_per_s"],
    }
    emit(res)


if __name__ == "__main__":
    main()
