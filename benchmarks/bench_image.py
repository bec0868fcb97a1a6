"""Image view at full camera rate: one JSON line on stdout (progress on stderr).

  python benchmarks/bench_image.py [--seconds 8] [--sections ceiling,mono1024,mono2048,rgb1024]
                                   [--ticks 20,200] [--repeat N] [--rate FPS]

Sections:
* ``ceiling``: offscreen pyqtgraph ``ImageItem.setImage`` + forced repaint of a
  1024×1024 UInt16 frame with fixed levels, no network: painted frames/s.
* ``mono1024`` / ``mono2048`` / ``rgb1024``: a pythonSoftIOC camera (own process)
  publishing as fast as it can (1024² or 2048² UInt16 Mono in a signed SHORT
  waveform, as areaDetector does; 1024² UInt8 RGB1 in a CHAR waveform), and, one
  at a time, in their own processes:
  - ``baseline``: a plain pyqtgraph client — pyepics ``PV(callback=…)`` emitting a
    Qt signal per frame, slot ``setImage`` (the usual hand-written viewer);
  - ``pvprobe_tick<T>``: Engine(tick_hz=T) + EngineBridge + ImageView.
  Each client reports over the same steady window: frames published by the IOC
  (ArrayCounter), full ArrayData values that reached the client (received: monitor
  callbacks; pvprobe fetches paced frames by get), frames really painted
  (displayed), dropped, latency frame timestamp → paint, event-loop lateness p99,
  RSS, CPU of client and IOC. With ``--repeat N`` each client runs N times,
  alternating the order, and the run with the median displayed rate is reported
  (all runs under ``<client>_runs``): a flooding IOC on the same 2 cores swings
  a lot between runs.
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

from common import (  # noqa: E402
    PY,
    Bench,
    CpuWindow,  # noqa: E402
    emit,
    kill_pid,
    log,
    ratio,
    rnd,
)
from common import run_client_windowed as _unused  # noqa: F401,E402

from pvprobe.ca.engine import PACED_DEPTH  # noqa: E402
from pvprobe.core.caenv import free_port, loopback_env  # noqa: E402

ARRAY_BYTES = str(2 ** 25)
SECTIONS = {"mono1024": (1024, 1024, "mono"), "mono2048": (2048, 2048, "mono"),
            "rgb1024": (1024, 1024, "rgb1")}

# ----------------------------------------------------------------------------- the camera IOC

CAMERA = r'''
import asyncio, sys
import numpy as np
from softioc import asyncio_dispatcher, builder, softioc
P, W, H, MODE, RATE = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
d = asyncio_dispatcher.AsyncioDispatcher()
rgb = MODE == "rgb1"
n = W * H * (3 if rgb else 1)
recs = {}
for s, v in (("NDimensions_RBV", 3 if rgb else 2), ("ArraySize0_RBV", 3 if rgb else W),
             ("ArraySize1_RBV", W if rgb else H), ("ArraySize2_RBV", H if rgb else 0),
             ("ColorMode_RBV", 2 if rgb else 0), ("DataType_RBV", 1 if rgb else 3),
             ("ArrayCounter_RBV", 0), ("UniqueId_RBV", 0)):
    recs[s] = builder.longIn(P + s, initial_value=v)
data = builder.WaveformIn(P + "ArrayData", datatype=np.uint8 if rgb else np.int16, length=n)
builder.LoadDatabase()
softioc.iocInit(d, enable_pva=False)
rng = np.random.default_rng(0)
if rgb:
    frames = [rng.integers(0, 256, n, dtype=np.uint8) for _ in range(4)]
else:
    y, x = np.mgrid[:H, :W]
    base = ((np.sin(x / 40.0) + np.cos(y / 30.0) + 2) * 16000).astype(np.uint16)
    frames = [np.roll(base, 37 * i, axis=1).ravel().view(np.int16) for i in range(4)]

async def run():
    k = 0
    loop = asyncio.get_running_loop()
    t_next = loop.time()
    while True:
        k += 1
        recs["UniqueId_RBV"].set(k)
        data.set(frames[k % 4])
        recs["ArrayCounter_RBV"].set(k)
        if RATE > 0:                      # fixed rate: drift-free, never catch up in bursts
            t_next = max(t_next + 1.0 / RATE, loop.time() - 1.0 / RATE)
            await asyncio.sleep(max(0.0, t_next - loop.time()))
        else:                             # as fast as it can
            await asyncio.sleep(0)

asyncio.run_coroutine_threadsafe(run(), d.loop)
print("CAMERA-READY", flush=True)
softioc.non_interactive_ioc()
'''


# ----------------------------------------------------------------------------- clients

def _out(d: dict) -> None:
    print(json.dumps(d), flush=True)


def _rss() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2 ** 20


def _app():
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt5.QtWidgets import QApplication
    return QApplication.instance() or QApplication([])


def _counting_item():
    import pyqtgraph as pg

    class Item(pg.ImageItem):
        def __init__(self) -> None:
            super().__init__(axisOrder="row-major")
            self.painted = 0
            self.pending = None
            self.lat_sum = 0.0
            self.lat_n = 0

        def paint(self, p, *a):
            super().paint(p, *a)
            if self.pending is not None:
                self.painted += 1
                if self.pending > 0:
                    self.lat_sum += time.time() - self.pending
                    self.lat_n += 1
                self.pending = None
    return Item()


def client_ceiling(args: dict) -> None:
    """setImage + repaint, offscreen, fixed levels, no network."""
    import numpy as np
    import pyqtgraph as pg
    app = _app()
    w, h = int(args.get("w", 1024)), int(args.get("h", 1024))
    glw = pg.GraphicsLayoutWidget()
    vb = glw.addViewBox(lockAspect=True, invertY=True)
    item = _counting_item()
    vb.addItem(item)
    glw.resize(1000, 800)
    glw.show()
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 65535, (h, w), dtype=np.uint16) for _ in range(4)]
    item.setImage(frames[0], autoLevels=False, levels=(0, 65535))
    vb.autoRange(padding=0)
    app.processEvents()
    t0 = time.monotonic()
    end = t0 + float(args.get("seconds", 4))
    k = 0
    while time.monotonic() < end:
        k += 1
        item.pending = 0.0
        item.setImage(frames[k % 4], autoLevels=False, levels=(0, 65535))
        glw.viewport().repaint()
        app.processEvents()
    dt = time.monotonic() - t0
    _out({"set_image_calls": k, "painted": item.painted, "seconds": round(dt, 2),
          "painted_per_s": round(item.painted / dt, 1)})


def _loop_latency():
    from pvprobe.qt.app.diagnostics import LoopLatency
    lat = LoopLatency()
    lat.start()
    return lat


def client_baseline(args: dict) -> None:
    """The usual hand-written viewer: pyepics PV callback → Qt signal → setImage."""
    import numpy as np
    import pyqtgraph as pg
    from PyQt5.QtCore import QObject, pyqtSignal
    app = _app()
    import epics
    P, w, h, mode = args["prefix"], args["w"], args["h"], args["mode"]

    class Relay(QObject):
        frame = pyqtSignal(object, float)
    relay = Relay()
    counts = {"cb": 0, "counter": None}
    glw = pg.GraphicsLayoutWidget()
    vb = glw.addViewBox(lockAspect=True, invertY=True)
    item = _counting_item()
    vb.addItem(item)
    glw.resize(1100, 820)
    glw.show()
    first = [True]

    def show(value, ts):
        img = (value.reshape(h, w, 3) if mode == "rgb1" else value.view(np.uint16).reshape(h, w))
        item.pending = ts
        item.setImage(img, autoLevels=False, levels=(0, 255) if mode == "rgb1" else (0, 65535))
        if first[0]:
            first[0] = False
            vb.autoRange(padding=0)
    relay.frame.connect(show)

    def on_frame(value=None, timestamp=0.0, **kw):
        counts["cb"] += 1
        relay.frame.emit(value, timestamp or 0.0)

    def on_counter(value=None, **kw):
        counts["counter"] = value
    pv = epics.PV(P + "ArrayData", auto_monitor=True, form="time", callback=on_frame)
    cpv = epics.PV(P + "ArrayCounter_RBV", callback=on_counter)
    _measure(app, args, lambda: counts["cb"], lambda: item.painted,
             lambda: counts["counter"], lambda: (item.lat_sum, item.lat_n))
    pv.clear_callbacks()
    cpv.clear_callbacks()


def _patch_nogil_copy() -> None:
    """EXPERIMENT (not shipped): copy large CA buffers with ctypes.memmove, which
    releases the GIL, into an uninitialised numpy buffer, instead of
    ctypes.string_at (which holds the GIL for the whole copy); decode without a
    second copy. Measures the engine change the report proposes."""
    import ctypes

    import numpy as np

    from pvprobe.ca import lowlevel as ll
    string_at = ctypes.string_at

    def raw_copy(a):
        t = a.type
        n = ll._value_offset[t] + a.count * ll._elem_size[t]
        if n < 65536:
            return string_at(a.dbr, n)
        buf = np.empty(n, np.uint8)
        ctypes.memmove(buf.ctypes.data, a.dbr, n)
        return buf
    orig = ll.decode_values

    def decode_values(dbr_type, count, raw):
        if isinstance(raw, np.ndarray):
            native = dbr_type % 7
            dtype = ll.NATIVE[native][1]
            if dtype is not None:
                return np.frombuffer(raw, dtype=dtype, count=count, offset=ll._value_offset[dbr_type])
        return orig(dbr_type, count, raw)
    ll.raw_copy = raw_copy
    ll.decode_values = decode_values


def client_pvprobe(args: dict) -> None:
    """Engine + EngineBridge + ImageView, as in the app."""
    app = _app()
    from pvprobe.ca.context import ensure_context, register_engine
    from pvprobe.ca.source import CASource
    from pvprobe.engine.core import Engine
    from pvprobe.qt.bridge import EngineBridge
    from pvprobe.qt.image.image_view import ImageView

    class CountingSource(CASource):
        """Counts full values received per channel: monitor callbacks, and the gets of
        paced arrays (the image view's ArrayData) — benchmark introspection only."""

        def __init__(self) -> None:
            self.cb_counts: dict[int, int] = {}
            super().__init__()

        def _on_monitor(self, a) -> None:  # libca thread
            self.cb_counts[a.usr] = self.cb_counts.get(a.usr, 0) + 1
            super()._on_monitor(a)

        def _on_frame(self, a) -> None:  # libca thread
            self.cb_counts[a.usr] = self.cb_counts.get(a.usr, 0) + 1
            super()._on_frame(a)
    if args.get("nogil_copy"):
        _patch_nogil_copy()
    ensure_context()
    source = CountingSource()
    eng = Engine(source, tick_hz=float(args["tick"]))   # pvprobe.ca.engine.Engine, counting
    register_engine(eng)
    if args.get("depth"):
        eng.paced_depth = int(args["depth"])
    bridge = EngineBridge(eng)
    view = ImageView(bridge)
    view.resize(1100, 820)
    view.show()
    bridge.start()
    P = args["prefix"]
    view.open_prefix(P)
    name = P + "ArrayData"

    def received() -> int:
        info = eng._channels.by_name.get(name)
        return source.cb_counts.get(info.sid, 0) if info is not None else 0

    def lat():
        it = view.image_item
        return it.latency_sum, it.latency_n
    _measure(app, args, received, lambda: view.image_item.painted,
             lambda: view.feed.counters.counter if view.feed else None, lat,
             extra=lambda: view.stats())
    view.shutdown()
    bridge.stop()


def _run_for(app, seconds: float) -> None:
    """Run the Qt event loop for ``seconds`` (a real loop: no busy polling)."""
    from PyQt5.QtCore import QEventLoop, QTimer
    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec_()


def _thread_cpu() -> dict:
    """CPU seconds per thread: Python threads by name, the GUI thread as 'gui',
    libca's own threads (not Python threads) as 'ca-N'."""
    import threading

    import psutil
    names = {t.native_id: t.name for t in threading.enumerate()}
    main = threading.main_thread().native_id
    out: dict = {}
    k = 0
    for t in psutil.Process().threads():
        if t.id == main:
            name = "gui"
        elif t.id in names:
            name = names[t.id]
        else:
            k += 1
            name = f"other-{t.id}"
        out[name] = t.user_time + t.system_time
    return out


def _measure(app, args, received, painted, counter, latency, extra=None) -> None:
    """Wait for frames, warm up, then measure over a window; print the result line."""
    deadline = time.monotonic() + 30
    while painted() < 2 or counter() is None:
        _run_for(app, 0.1)
        if time.monotonic() > deadline:
            _out({"error": "no frames within 30 s", "received": received(), "painted": painted()})
            return
    _run_for(app, float(args.get("warmup", 3)))
    lat = _loop_latency()
    th0 = _thread_cpu()
    r0, p0, c0, (ls0, ln0), rss0 = received(), painted(), counter(), latency(), _rss()
    _out({"event": "window_start"})
    t0 = time.monotonic()
    seconds = float(args.get("seconds", 8))
    series = []           # RSS every 30 s of a long window (memory flat or not)
    while time.monotonic() - t0 < seconds:
        _run_for(app, min(30.0, seconds - (time.monotonic() - t0)))
        if seconds > 60:
            series.append(round(_rss(), 1))
    dt = time.monotonic() - t0
    r1, p1, c1, (ls1, ln1), rss1 = received(), painted(), counter(), latency(), _rss()
    th1 = _thread_cpu()
    lat.stop()
    pub = (c1 - c0) / dt if c0 is not None and c1 is not None else None
    res = {"seconds": round(dt, 2), "published_per_s": rnd(pub, 1),
           "received_per_s": round((r1 - r0) / dt, 1), "displayed_per_s": round((p1 - p0) / dt, 1),
           "dropped_per_s": rnd(pub - (p1 - p0) / dt, 1) if pub is not None else None,
           "latency_ms_mean": rnd(1000 * (ls1 - ls0) / (ln1 - ln0), 1) if ln1 > ln0 else None,
           "loop_lateness_ms_p99": rnd(lat.p99_ms(), 1), "loop_lateness_ms_max": rnd(lat.max_ms(), 1),
           "rss_mb_start": round(rss0, 1), "rss_mb_end": round(rss1, 1)}
    if series:
        res["rss_mb_every_30s"] = series
    res["thread_cpu_percent"] = {k: round(100 * (v - th0.get(k, 0.0)) / dt, 1)
                                 for k, v in sorted(th1.items()) if v - th0.get(k, 0.0) > 0.01 * dt}
    if extra is not None:
        res["view_stats"] = extra()
    _out(res)


CLIENTS = {"ceiling": client_ceiling, "baseline": client_baseline, "pvprobe": client_pvprobe}


# ----------------------------------------------------------------------------- driver

RUN_KEYS = ("published_per_s", "received_per_s", "displayed_per_s", "latency_ms_mean",
            "loop_lateness_ms_p99", "cpu_percent_window")


def _median_run(runs: list[dict]) -> dict:
    """The run with the median displayed rate (with --repeat: the machine is noisy and a
    flooding IOC on the same 2 cores swings between runs)."""
    ok = [r for r in runs if "displayed_per_s" in r]
    if not ok:
        return runs[-1] if runs else {}
    ok.sort(key=lambda r: r["displayed_per_s"])
    return ok[(len(ok) - 1) // 2]


def _periods(v: dict):
    """Mean latency in displayed-frame periods (the issue's target: below 2)."""
    d, lat = v.get("displayed_per_s"), v.get("latency_ms_mean")
    return round(lat * d / 1000.0, 2) if d and lat else None


def run_client(b: Bench, mode: str, args: dict, env: dict, timeout: float,
               watch: dict[str, int], cpus=None) -> dict:
    argv = [PY, __file__, "client", mode, json.dumps(args)]
    proc = b.spawn(argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                   preexec_fn=_pinned(cpus))
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    cw, res = None, {"error": "no result"}
    while time.monotonic() < deadline:
        if not sel.select(0.5):
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
    if "error" in res:
        log(f"client {mode} failed:", proc.stderr.read()[-2000:] if proc.stderr else "")
    return res


def _pinned(cpus):
    """preexec_fn: run the child (and every thread it starts) on ``cpus`` only."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, set(cpus))


def start_camera(b: Bench, prefix: str, w: int, h: int, mode: str,
                 rate: float = 0.0, cpus=None) -> tuple[subprocess.Popen, int]:
    script = b.tmp / "camera.py"
    script.write_text(CAMERA)
    port = free_port()
    env = dict(os.environ)
    env.update(loopback_env(port, b.repeater_port))
    env["EPICS_CA_MAX_ARRAY_BYTES"] = ARRAY_BYTES
    proc = b.spawn([PY, str(script), prefix, str(w), str(h), mode, str(rate)], env,
                   preexec_fn=_pinned(cpus), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                   stderr=subprocess.DEVNULL,
                   text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line or line.startswith("CAMERA-READY"):
            break
    if proc.poll() is not None:
        raise RuntimeError("camera IOC died")
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--sections", default="ceiling,mono1024,mono2048,rgb1024")
    ap.add_argument("--ticks", default="20,200", help="engine tick rates to run pvprobe with")
    ap.add_argument("--no-baseline", action="store_true",
                    help="skip the baseline client (e.g. for a long memory run)")
    ap.add_argument("--rate", type=float, default=0.0,
                    help="camera frames/s (default 0: as fast as the IOC can)")
    ap.add_argument("--pin", action="store_true",
                    help="camera IOC on CPU 0, clients on the other CPUs: as with a camera "
                         "on its own host (unpinned, a flooding IOC takes whatever CPU the "
                         "client leaves idle)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs of each client per section, alternating their order; the "
                         "run with the median displayed rate is reported (all with _runs)")
    ap.add_argument("--paced-depths", default="",
                    help="comma list of Engine.paced_depth values to run pvprobe with "
                         f"(default: the engine's own, {PACED_DEPTH})")
    ap.add_argument("--experiment-nogil-copy", action="store_true",
                    help="also run pvprobe (last tick) with the GIL-free copy experiment")
    a = ap.parse_args()
    sections = [s for s in a.sections.split(",") if s]
    ticks = [float(t) for t in a.ticks.split(",") if t]
    depths = [int(d) for d in a.paced_depths.split(",") if d] or [0]
    ioc_cpus = client_cpus = None
    if a.pin:   # the camera on the first CPU, the clients on the others
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs at least 2 CPUs")
        ioc_cpus, client_cpus = cpus[:1], cpus[1:]
    result: dict = {"bench": "image", "seconds": a.seconds, "camera_rate": a.rate or "max",
                    "pinned": bool(a.pin), "repeat": a.repeat}
    with Bench() as b:
        env0 = dict(os.environ, QT_QPA_PLATFORM="offscreen", EPICS_CA_MAX_ARRAY_BYTES=ARRAY_BYTES)
        env0.update(loopback_env(free_port(), b.repeater_port))
        ceiling = None
        if "ceiling" in sections:
            log("rendering ceiling (1024² UInt16, offscreen)")
            result["ceiling_1024"] = run_client(b, "ceiling", {"seconds": min(a.seconds, 5)},
                                                env0, 60, {})
            ceiling = result["ceiling_1024"].get("painted_per_s")
        for sec in sections:
            if sec not in SECTIONS:
                continue
            w, h, mode = SECTIONS[sec]
            prefix = f"BIMG{sec}:"
            cam, port = start_camera(b, prefix, w, h, mode, a.rate, cpus=ioc_cpus)
            log(f"{sec}: camera pid {cam.pid} on port {port}")
            env = dict(env0)
            env.update(loopback_env(port, b.repeater_port))
            env["EPICS_CA_MAX_ARRAY_BYTES"] = ARRAY_BYTES
            args = {"prefix": prefix, "w": w, "h": h, "mode": mode, "seconds": a.seconds,
                    "warmup": a.warmup}
            out: dict = {}
            configs = [] if a.no_baseline else [("baseline", "baseline", args)]
            for t in ticks:
                for dp in depths:
                    configs.append((f"pvprobe_tick{t:g}" + (f"_depth{dp}" if dp else ""),
                                    "pvprobe", dict(args, tick=t, depth=dp)))
            runs: dict[str, list] = {k: [] for k, _, _ in configs}
            for rnd_i in range(a.repeat):
                # alternate the order, so that neither client always meets the IOC first
                for key, mode_, cargs in (configs if rnd_i % 2 == 0 else configs[::-1]):
                    log(f"{sec}: {key} (round {rnd_i + 1}/{a.repeat})")
                    runs[key].append(run_client(b, mode_, cargs, env, a.seconds + a.warmup + 60,
                                                {"ioc": cam.pid}, cpus=client_cpus))
            for key, rs in runs.items():
                out[key] = _median_run(rs)
                if a.repeat > 1:
                    out[key + "_runs"] = [{k: r.get(k) for k in RUN_KEYS} for r in rs]
            out.setdefault("baseline", {})
            if a.experiment_nogil_copy and ticks:
                t = ticks[-1]
                log(f"{sec}: EXPERIMENT pvprobe, tick {t:g} Hz, GIL-free CA copy")
                out[f"experiment_nogil_copy_tick{t:g}"] = run_client(
                    b, "pvprobe", dict(args, tick=t, nogil_copy=True), env,
                    a.seconds + a.warmup + 60, {"ioc": cam.pid})
            base = out["baseline"].get("displayed_per_s")
            rat = {}
            for k, v in out.items():
                if (k.startswith(("pvprobe", "experiment")) and isinstance(v, dict)
                        and "displayed_per_s" in v):
                    d, r = v["displayed_per_s"], v["received_per_s"]
                    rat[k] = {
                        "displayed_vs_baseline_displayed": ratio(d, base),
                        "displayed_vs_min_received_ceiling": ratio(d, min(r, ceiling) if ceiling else r),
                        "latency_vs_baseline_latency": ratio(v.get("latency_ms_mean"),
                                                             out["baseline"].get("latency_ms_mean")),
                        "latency_in_displayed_frame_periods": _periods(v),
                    }
            out["ratios"] = rat
            result[sec] = out
            kill_pid(cam)
    emit(result)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "client":
        CLIENTS[sys.argv[2]](json.loads(sys.argv[3]) if len(sys.argv) > 3 else {})
    else:
        main()
