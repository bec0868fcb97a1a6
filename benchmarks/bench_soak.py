"""Soak: many PVs at 10 Hz plus a camera, in a real MainWindow, for a long time.

An EPICS base soft IOC serves ``--pvs`` calc records at 10 Hz; the demo IOC
(pythonSoftIOC) serves the camera (``image2:``, RGB at 10 Hz; ``--camera ''`` for
none). The client is pvprobe's MainWindow (offscreen) with every PV in one tab
(full monitors through the C callback; lean mode only above 25,000 PVs) and an
ImageView on the camera, in its own process.

Every ``--interval`` seconds the client prints one JSON line (stdout): elapsed
time, RSS (MiB), CPU % of the client over the interval (100 = one core), event-loop
lateness p99/max over the interval (10 ms timer), CA updates taken per second,
camera frames received/shown per second, connected PVs. At the end one summary
line: RSS growth after warm-up (first ``--warmup`` seconds ignored), in MiB and %,
against the target (< 5 % growth after warm-up).

Default 30 minutes (the issue's soak). Quick run::

    .venv/bin/python benchmarks/bench_soak.py --pvs 10000 --duration 120 --warmup 30
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

TARGET_GROWTH_PCT = 5.0


# ----------------------------------------------------------------------------- client

def client(a: argparse.Namespace) -> None:
    """The measured process: a MainWindow with every PV and an ImageView."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    import faulthandler
    import signal

    faulthandler.register(signal.SIGUSR1, all_threads=True)   # the driver asks on a stall
    import psutil
    from PyQt5.QtCore import QTimer
    from PyQt5.QtWidgets import QApplication

    from pvprobe.ca.engine import Engine

    app = QApplication([])
    from pvprobe.qt.app.diagnostics import LoopLatency
    from pvprobe.qt.app.main_window import MainWindow
    from pvprobe.qt.app.settings import Settings
    from pvprobe.qt.bridge import EngineBridge
    from pvprobe.qt.image.image_view import ImageView

    names = Path(a.names).read_text().split()
    engine = Engine(tick_hz=20)
    bridge = EngineBridge(engine)
    settings = Path(tempfile.mkdtemp(prefix="pvprobe-soak-")) / "settings.ini"
    win = MainWindow(bridge, settings=Settings(settings))
    win.force_close = True
    win.resize(1200, 800)
    win.show()
    image = None
    if a.camera:
        image = ImageView(bridge, a.camera)
        image.resize(800, 800)
        image.show()
    bridge.start()
    win.add_pvs(names)
    lat = LoopLatency()
    lat.start()
    proc = psutil.Process()
    t0 = time.monotonic()
    last = {"t": t0, "cpu": sum(proc.cpu_times()[:2]), "upd": 0, "recv": 0, "shown": 0}

    def sample() -> None:
        now = time.monotonic()
        cpu = sum(proc.cpu_times()[:2])
        st = image.stats() if image else {}
        recv, shown = st.get("frames_received") or 0, st.get("frames_displayed") or 0
        dt = now - last["t"]
        line = {"t": round(now - t0, 1), "rss_mb": round(proc.memory_info().rss / 2 ** 20, 1),
                "cpu_pct": round(100 * (cpu - last["cpu"]) / dt, 1),
                "loop_p99_ms": round(lat.p99_ms() or 0.0, 1),
                "loop_max_ms": round(lat.max_ms() or 0.0, 1),
                "updates_per_s": round((bridge.updates_received - last["upd"]) / dt),
                "frames_recv_per_s": round((recv - last["recv"]) / dt, 1),
                "frames_shown_per_s": round((shown - last["shown"]) / dt, 1),
                "connected": bridge.engine_connected, "pvs": bridge.engine_pvs,
                "batches": bridge.batches_applied, "lean": engine.debug_summary().lean,
                "worker_ticks": engine.stats.ticks}
        print(json.dumps(line), flush=True)
        del lat.samples[:]
        last.update(t=now, cpu=cpu, upd=bridge.updates_received, recv=recv, shown=shown)

    timer = QTimer()
    timer.timeout.connect(sample)
    timer.start(int(a.interval * 1000))
    QTimer.singleShot(int(a.duration * 1000), app.quit)
    app.exec_()
    timer.stop()
    lat.stop()
    if image:
        image.shutdown()
    bridge.stop()
    os._exit(0)     # the context is destroyed by pvprobe's atexit; skip Qt teardown costs


# ----------------------------------------------------------------------------- driver

def summarise(lines: list[dict], warmup: float) -> dict:
    after = [d for d in lines if d["t"] >= warmup]
    out: dict = {"bench": "soak", "samples": len(lines), "target_growth_pct_max": TARGET_GROWTH_PCT}
    if len(after) >= 2:
        r0, r1 = after[0]["rss_mb"], after[-1]["rss_mb"]
        out.update(rss_after_warmup_mb=r0, rss_end_mb=r1, rss_growth_mb=round(r1 - r0, 1),
                   rss_growth_pct=round(100 * (r1 - r0) / r0, 2),
                   rss_max_mb=max(d["rss_mb"] for d in after),
                   cpu_pct_mean=round(sum(d["cpu_pct"] for d in after) / len(after), 1),
                   loop_p99_ms_max=max(d["loop_p99_ms"] for d in after),
                   loop_max_ms_max=max(d["loop_max_ms"] for d in after),
                   updates_per_s_mean=round(sum(d["updates_per_s"] for d in after) / len(after)),
                   frames_shown_per_s_mean=round(sum(d["frames_shown_per_s"] for d in after) / len(after), 1))
        out["ok"] = out["rss_growth_pct"] < TARGET_GROWTH_PCT
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pvs", type=int, default=10000)
    ap.add_argument("--rate", choices=["10"], default="10", help="Hz per PV (calc SCAN .1 second)")
    ap.add_argument("--camera", default="image2:", help="demo camera plugin ('' for none)")
    ap.add_argument("--duration", type=float, default=1800.0, help="seconds (default 30 min)")
    ap.add_argument("--warmup", type=float, default=120.0, help="seconds ignored for growth")
    ap.add_argument("--interval", type=float, default=10.0, help="seconds between samples")
    ap.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--names", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        client(a)
        return

    from common import Bench, free_port, log, loopback_env

    from pvprobe.demo.launcher import DemoIOC

    with Bench() as b:
        ioc, names = b.ioc("SOAK:", a.pvs, "updating", name="soak")
        ports = [ioc.port]
        cam = None
        camera = ""
        if a.camera:
            cam = DemoIOC(prefix="SOAKCAM:", server_port=free_port(), repeater_port=b.repeater_port)
            cam.start(timeout=90)
            ports.append(cam.server_port)
            camera = "SOAKCAM:" + a.camera
        try:
            lst = b.tmp / "names.txt"
            lst.write_text("\n".join(names))
            env = dict(os.environ)
            env.update(loopback_env(ioc.port, b.repeater_port))
            env["EPICS_CA_ADDR_LIST"] = " ".join(f"127.0.0.1:{p}" for p in ports)
            env["EPICS_CA_MAX_ARRAY_BYTES"] = str(2 ** 24)
            env["QT_QPA_PLATFORM"] = "offscreen"
            cmd = [sys.executable, __file__, "--client", "--names", str(lst), "--camera", camera,
                   "--duration", str(a.duration), "--interval", str(a.interval)]
            log(f"soak: {a.pvs} PVs at {a.rate} Hz, camera {camera or 'none'}, {a.duration:.0f} s")
            p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
            b.children.append(p)
            lines = []
            dumped = False
            assert p.stdout is not None
            for raw in p.stdout:
                try:
                    d = json.loads(raw)
                except ValueError:
                    continue
                lines.append(d)
                print(json.dumps(d), flush=True)
                if d["updates_per_s"] == 0 and d["connected"] and not dumped:
                    # no batch applied for a whole interval: show where every thread is
                    log("stall: no updates applied for an interval; thread stacks follow")
                    os.kill(p.pid, signal.SIGUSR1)
                    dumped = True
            p.wait(30)
            print(json.dumps(dict(summarise(lines, a.warmup), pvs=a.pvs, camera=camera or None,
                                  duration_s=a.duration, warmup_s=a.warmup)), flush=True)
        finally:
            if cam is not None:
                cam.stop()


if __name__ == "__main__":
    main()
