"""pvAccess NTNDArray images: pvprobe's GUI against c2dataviewer and PyDM on the same
stream. One JSON line on stdout (progress on stderr).

  python benchmarks/bench_pva_image.py [--rates max,30,60,120] [--codecs none,lz4]
         [--viewers pvprobe,c2dv,pydm] [--seconds 10] [--warmup 3] [--size 1024x1024]
         [--peers-python /work/peers-venv/bin/python] [--pydm-redraw-hz 0] [--pin]

For each camera mode (``max`` = as fast as it can, or fixed frames/s) and codec
(``none``, ``lz4`` as areaDetector sends it) one camera process
(``benchmarks/pva_camera.py``: p4p server, UInt16 Mono, uniqueId counting,
dataTimeStamp = publish time) serves one NTNDArray, and each viewer runs on it in
turn, in its own process, offscreen (the order alternates between modes):

* ``pvprobe``: ``python -m pvprobe --image pva://NAME --quit-after … --stats FILE``
  (``benchmarks/peers/run_pvprobe.py`` runs exactly that, with a hook on
  ``CountingImageItem.paint``);
* ``c2dv``: c2dataviewer's image app (``benchmarks/peers/run_c2dv.py``, the peers'
  venv; rate setting "Full IOC Rate" — its default, "5 Hz", polls);
* ``pydm``: ``PyDMImageView`` on PyDM's p4p plugin (``benchmarks/peers/run_pydm.py``,
  the peers' venv; PyDM's default maxRedrawRate 30 Hz; ``--pydm-redraw-hz N`` adds a
  run at N Hz).

Every viewer is measured the same way (``benchmarks/peers/meter.py``): frames
*painted* (a paint of the viewer's image widget/item after a new frame was set;
Qt merges repaints, so frames handed over but never painted do not count),
frames received by the process, latency = paint time − dataTimeStamp (p50, p99),
over one steady window after the first frames and a warm-up; CPU% of the viewer
and of the camera over exactly that window (psutil, from outside); frames the
camera published in the window (its log). Also the render ceiling (pyqtgraph
``setImage`` + repaint of a 1024² UInt16 frame offscreen, no network:
``bench_image.py client ceiling``), the target check
``displayed ≥ 0.9 × min(received, ceiling)`` and ratios pvprobe / peer.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import PY, Bench, CpuWindow, emit, kill_pid, log, ratio, rnd  # noqa: E402

from pvprobe.core.caenv import free_port  # noqa: E402

PEERS = HERE / "peers"
CAMERA = HERE / "pva_camera.py"
DEFAULT_PEERS_PY = "/work/peers-venv/bin/python"
TARGET = 0.9


def start_camera(b: Bench, name: str, rate: float, codec: str, size: str,
                 cpus=None) -> tuple[subprocess.Popen, dict, Path]:
    """The NTNDArray camera on free loopback ports; returns (process, its READY info, log)."""
    logf = b.tmp / f"camera-{codec}-{rate:g}.log"
    argv = [PY, str(CAMERA), "--name", name, "--rate", f"{rate:g}", "--codec", codec,
            "--size", size, "--tcp-port", str(free_port()), "--udp-port", str(free_port()),
            "--log", str(logf)]
    proc = b.spawn(argv, dict(os.environ), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                   stderr=subprocess.DEVNULL, text=True, preexec_fn=_pinned(cpus))
    deadline = time.monotonic() + 60
    info: dict = {}
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("CAMERA-READY"):
            info = json.loads(line.split(" ", 1)[1])
            break
    if not info:
        kill_pid(proc)
        raise RuntimeError("camera did not start")
    return proc, info, logf


def published_between(logf: Path, t0: float, t1: float) -> Optional[float]:
    """Frames/s the camera published between wall times t0 and t1 (from its log)."""
    pts = []
    for line in logf.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("SUMMARY"):
            pts.append((float(parts[0]), int(parts[1])))
    if len(pts) < 2 or t1 <= t0:
        return None

    def uid_at(t: float) -> float:
        for (ta, ua), (tb, ub) in zip(pts, pts[1:]):
            if ta <= t <= tb:
                return ua + (ub - ua) * (t - ta) / (tb - ta) if tb > ta else ua
        return float(pts[0][1] if t < pts[0][0] else pts[-1][1])
    return (uid_at(t1) - uid_at(t0)) / (t1 - t0)


def _pinned(cpus):
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, set(cpus))


def run_viewer(b: Bench, argv: list[str], env: dict, timeout: float, cam: subprocess.Popen,
               cpus=None) -> dict:
    """Run a launcher; CPU of it and of the camera over its window (window_start → result).
    Its stderr goes to a file (PyDM at a high redraw rate logs a warning per skipped
    redraw: a pipe nobody reads would fill and stop it)."""
    errf = b.tmp / f"viewer-{len(b.children)}.err"
    with open(errf, "w") as ef:
        proc = b.spawn(argv, env, stdout=subprocess.PIPE, stderr=ef, text=True,
                       preexec_fn=_pinned(cpus))
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
            cw = CpuWindow({"viewer": proc.pid, "camera": cam.pid})
            cw.start()
        else:
            res = d
            if cw is not None:
                res["cpu_percent_window"] = cw.stop()
            break
    else:
        res = {"error": f"timeout after {timeout} s"}
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        kill_pid(proc)
    err = errf.read_text(errors="replace")
    if "error" in res or proc.returncode not in (0, None):
        log(f"viewer exit {proc.returncode}; stderr tail:", err[-2000:])
    res["exit_code"] = proc.returncode
    return res


def ceiling(env: dict, seconds: float) -> dict:
    """bench_image's render ceiling: setImage + repaint of 1024² UInt16, offscreen."""
    out = subprocess.run([PY, str(HERE / "bench_image.py"), "client", "ceiling",
                          json.dumps({"seconds": seconds})], env=env, capture_output=True,
                         text=True, timeout=120)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": out.stderr[-500:]}


def summarize(v: dict, published: Optional[float], ceil: Optional[float]) -> dict:
    """The figures of one viewer run, and the target check."""
    if "painted_per_s" not in v:
        return {"error": v.get("error", "no result"), "exit_code": v.get("exit_code")}
    d, r = v["painted_per_s"], v["received_per_s"]
    cpu = v.get("cpu_percent_window", {})
    bound = min(r, ceil) if ceil else r
    s = {"published_per_s": rnd(published, 1), "received_per_s": r, "displayed_per_s": d,
         "latency_ms_p50": v.get("latency_ms_p50"), "latency_ms_p99": v.get("latency_ms_p99"),
         "latency_ms_mean": v.get("latency_ms_mean"),
         "cpu_viewer": cpu.get("viewer"), "cpu_camera": cpu.get("camera"),
         "loop_lateness_ms_p99": v.get("loop_lateness_ms_p99"),
         "image_widget_px": v.get("image_widget_px"),
         "displayed_vs_min_received_ceiling": ratio(d, bound),
         "target_met": bool(bound and d >= TARGET * bound)}
    vs = v.get("view_stats_at_window_end")
    if vs:
        s["pvprobe_stats"] = {k: vs.get(k) for k in ("codec", "decode_ms_mean", "frames_received",
                                                     "frames_displayed", "frames_skipped",
                                                     "frames_dropped_unique_id_gaps", "latency_ms_mean")}
    for k, val in v.items():
        if k.startswith(("c2dv_", "pydm_")):
            s[k] = val
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rates", default="max,30,60,120", help="camera modes: max or frames/s")
    ap.add_argument("--codecs", default="none,lz4")
    ap.add_argument("--viewers", default="pvprobe,c2dv,pydm")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--size", default="1024x1024")
    ap.add_argument("--peers-python", default=DEFAULT_PEERS_PY,
                    help="python of the venv holding c2dataviewer, pydm, p4p, lz4")
    ap.add_argument("--pydm-redraw-hz", type=int, default=0,
                    help="also run PyDM with this maxRedrawRate (0: only its default, 30)")
    ap.add_argument("--pin", action="store_true",
                    help="camera on the first CPU, viewers on the others (camera on its own host)")
    a = ap.parse_args()
    rates = [0.0 if r == "max" else float(r) for r in a.rates.split(",") if r]
    codecs = [c for c in a.codecs.split(",") if c]
    viewers = [v for v in a.viewers.split(",") if v]
    if a.pydm_redraw_hz and "pydm" in viewers:
        viewers.append(f"pydm{a.pydm_redraw_hz}")
    cam_cpus = view_cpus = None
    if a.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise SystemExit("--pin needs at least 2 CPUs")
        cam_cpus, view_cpus = cpus[:1], cpus[1:]
    peers_ok = Path(a.peers_python).exists()
    result: dict = {"bench": "pva_image", "size": a.size, "seconds": a.seconds, "warmup": a.warmup,
                    "pinned": bool(a.pin), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}
    with Bench() as b:
        env0 = dict(os.environ, QT_QPA_PLATFORM="offscreen",
                    PVPROBE_SETTINGS=str(b.tmp / "pvprobe-settings.ini"))
        log("render ceiling (1024² UInt16, offscreen)")
        result["ceiling_1024"] = ceiling(env0, min(a.seconds, 5.0))
        ceil = result["ceiling_1024"].get("painted_per_s")
        k = 0
        for codec in codecs:
            for rate in rates:
                key = f"{'max' if not rate else f'{rate:g}fps'}_{codec}"
                name = f"BENCH:pva:{codec}:{int(rate)}"
                cam, info, logf = start_camera(b, name, rate, codec, a.size, cpus=cam_cpus)
                env = dict(env0, EPICS_PVA_ADDR_LIST=f"127.0.0.1:{info['udp_port']}",
                           EPICS_PVA_AUTO_ADDR_LIST="NO")
                sec: dict = {"camera": info}
                order = viewers if k % 2 == 0 else viewers[::-1]
                k += 1
                for viewer in order:
                    largs = {"name": name, "warmup": a.warmup, "seconds": a.seconds}
                    if viewer == "pvprobe":
                        largs["stats"] = str(b.tmp / f"stats-{key}.json")
                        argv = [PY, str(PEERS / "run_pvprobe.py"), json.dumps(largs)]
                    elif not peers_ok:
                        sec[viewer] = {"error": f"no peers venv at {a.peers_python}"}
                        continue
                    elif viewer == "c2dv":
                        argv = [a.peers_python, str(PEERS / "run_c2dv.py"), json.dumps(largs)]
                    elif viewer.startswith("pydm"):
                        if viewer != "pydm":
                            largs["redraw_hz"] = int(viewer[4:])
                        argv = [a.peers_python, str(PEERS / "run_pydm.py"), json.dumps(largs)]
                    else:
                        raise SystemExit(f"unknown viewer {viewer!r}")
                    log(f"{key}: {viewer}")
                    v = run_viewer(b, argv, env, a.warmup + a.seconds + 120, cam, cpus=view_cpus)
                    pub = (published_between(logf, v["t0"], v["t1"])
                           if "t0" in v and "t1" in v else None)
                    sec[viewer] = summarize(v, pub, ceil)
                    if viewer == "pvprobe":
                        stats = Path(largs["stats"])
                        sec[viewer]["stats_file_written"] = stats.exists()
                    log(f"{key}: {viewer}", json.dumps(sec[viewer]))
                kill_pid(cam)
                try:
                    sec["camera"]["summary"] = json.loads(
                        logf.read_text().rsplit("SUMMARY ", 1)[1].splitlines()[0])
                except (IndexError, ValueError, OSError):
                    pass
                p = sec.get("pvprobe", {})
                rat = {}
                for peer in viewers:
                    if peer == "pvprobe" or "displayed_per_s" not in sec.get(peer, {}):
                        continue
                    q = sec[peer]
                    rat[f"pvprobe_vs_{peer}"] = {
                        "displayed": ratio(p.get("displayed_per_s"), q["displayed_per_s"]),
                        "latency_p50": ratio(p.get("latency_ms_p50"), q["latency_ms_p50"]),
                        "latency_p99": ratio(p.get("latency_ms_p99"), q["latency_ms_p99"]),
                        "cpu": ratio(p.get("cpu_viewer"), q["cpu_viewer"])}
                sec["ratios"] = rat
                sec["pvprobe_ahead_of_all"] = bool(rat) and all(
                    (x["displayed"] or 0) >= 1.0 for x in rat.values())
                result[key] = sec
    result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    emit(result)


if __name__ == "__main__":
    main()
