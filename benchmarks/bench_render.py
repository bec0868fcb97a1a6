"""The image item's render, old against new in the same run: one JSON line on stdout
(progress on stderr).

  python benchmarks/bench_render.py [--rounds 5] [--frames 60] [--cases u16_1024,u8_1024,u16_2048]
                                    [--load 0] [--widget 961x737]

``CountingImageItem.render`` (``pvprobe/qt/image/image_item.py``) turns an 8/16-bit
mono frame into 32-bit RGB through one colour table. Two items are compared, the
same class but for the lookup:

* ``old``: ``np.take(table, frame)`` (a new 4 MB output per 1024² frame, and numpy's
  cast of the uint16 indices to an 8 MB intp temporary first);
* ``new``: ``lookup_argb`` (the table taken in row blocks into one of two output
  buffers kept per frame shape).

Per case (``u16_1024`` = 1024² UInt16, ``u8_1024`` = 1024² UInt8, ``u16_2048`` = 2048²
UInt16), in an offscreen window whose image area is ``--widget`` (pvprobe's image
dock is 961×737 in the PVA benchmark: a 2048² frame is drawn every 2nd pixel):

* ``render_ms``: ``item.render()`` alone on a fresh frame (a copy, as a decoder
  hands over a new array per frame; the copy is not counted);
* ``frame_ms``: ``setImage`` + a forced repaint of the view (render and QPainter's
  scaled ``drawImage``: the GUI thread's whole cost of showing a frame).

Each as wall time (``*_ms``) and as the GUI thread's CPU time (``*_cpu_ms``,
``time.thread_time``: what holds on a loaded machine). Old and new alternate round
by round (``--rounds``, ``--frames`` each); the figures are the medians of the
rounds' means, and ``<what>_ratio_new_old`` (< 1: new is cheaper).
``--load N`` runs N processes copying 8 MB arrays in a loop meanwhile (the memory
traffic of a receiving network thread: the app's lookup runs beside pvxs copying
2 MB frames hundreds of times a second).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from common import PY, emit, log, ratio  # noqa: E402

CASES = {"u16_1024": ("uint16", 1024), "u8_1024": ("uint8", 1024), "u16_2048": ("uint16", 2048)}
LOAD_CODE = ("import numpy as np\na = np.ones(1 << 20); b = np.empty_like(a)\n"
             "while True:\n    np.copyto(b, a)\n")


def make_items() -> dict[str, Any]:
    """The new item and one whose lookup is the old ``np.take`` (all else the same)."""
    import numpy as np

    from pvprobe.qt.image.image_item import CountingImageItem

    class OldLookupItem(CountingImageItem):
        def _lookup(self, src: np.ndarray) -> np.ndarray:
            return np.take(self._lut32, src)

    return {"old": OldLookupItem(), "new": CountingImageItem()}


def frames_for(dtype: str, size: int) -> list:
    """Four frames of spots on a flat background (what cameras send), with noise."""
    import numpy as np
    rng = np.random.default_rng(1)
    y, x = np.ogrid[:size, :size]
    base = np.full((size, size), 100.0)
    for _ in range(30):
        cx, cy, s = rng.uniform(0, size), rng.uniform(0, size), rng.uniform(3, 15) * size / 1024
        base += rng.uniform(2000, 40000) * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    top = float(np.iinfo(dtype).max)
    scale = top / 65535.0
    return [np.clip((base + rng.integers(0, 16, base.shape)) * scale, 0, top).astype(dtype)
            for _ in range(4)]


def timed(prepare: Callable[[int], Any], fn: Callable[[Any], None], n: int) -> tuple[float, float]:
    """Mean wall and GUI-thread CPU ms per call of ``fn(prepare(k))`` over ``n`` calls
    (``prepare`` not counted). CPU time holds on a loaded machine, wall time does not."""
    wall = cpu = 0.0
    for k in range(n):
        arg = prepare(k)
        t0, c0 = time.perf_counter(), time.thread_time()
        fn(arg)
        wall += time.perf_counter() - t0
        cpu += time.thread_time() - c0
    return wall * 1e3 / n, cpu * 1e3 / n


def run_case(dtype: str, size: int, rounds: int, n: int, widget: tuple[int, int]) -> dict:
    """Old vs new render alone and render + repaint, alternating round by round."""
    import numpy as np
    import pyqtgraph as pg
    from PyQt5.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    frames = frames_for(dtype, size)
    top = float(np.iinfo(dtype).max)
    levels = (0.02 * top, 0.6 * top)
    res: dict = {}
    wins = []
    for name, item in make_items().items():
        glw = pg.GraphicsLayoutWidget()
        vb = glw.addViewBox(lockAspect=True, invertY=True)
        vb.addItem(item)
        glw.resize(*widget)
        glw.show()
        item.setImage(frames[0], autoLevels=False, levels=levels)
        vb.autoRange(padding=0)
        app.processEvents()
        wins.append(glw)

        def render(img: Any, item: Any = item) -> None:
            item.image = img
            item.render()

        def show(img: Any, item: Any = item, glw: Any = glw) -> None:
            item.setImage(img, autoLevels=False, levels=levels)
            glw.viewport().repaint()
            app.processEvents()
        res[name] = {"render": render, "show": show, "item": item,
                     **{k: [] for k in ("render_ms", "frame_ms", "render_cpu_ms", "frame_cpu_ms")}}

    def fresh(k: int) -> Any:
        return frames[k % 4].copy()      # a new array per frame, as a decoder hands over
    for _ in range(rounds):
        for name in ("old", "new"):
            r = res[name]
            for what in ("render", "frame"):
                wall, cpu = timed(fresh, r["render" if what == "render" else "show"], n)
                r[f"{what}_ms"].append(wall)
                r[f"{what}_cpu_ms"].append(cpu)
    out: dict = {"step": res["new"]["item"]._rendered_step}
    for name in ("old", "new"):
        for k in ("render_ms", "frame_ms", "render_cpu_ms", "frame_cpu_ms"):
            out[f"{name}_{k}"] = round(statistics.median(res[name][k]), 3)
    for k in ("render_ms", "frame_ms", "render_cpu_ms", "frame_cpu_ms"):
        out[f"{k[:-3]}_ratio_new_old"] = ratio(out[f"new_{k}"], out[f"old_{k}"], 3)
    for glw in wins:
        glw.close()
    return out


def parse_widget(text: str) -> tuple[int, int]:
    try:
        w, h = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--widget wants WxH, e.g. 961x737, not {text!r}") from None
    return w, h


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=60, help="frames per round and item")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--load", type=int, default=0, help="memory-copying processes meanwhile")
    ap.add_argument("--widget", default="961x737", type=parse_widget)
    a = ap.parse_args()
    unknown = [c for c in a.cases.split(",") if c not in CASES]
    if unknown:
        raise SystemExit(f"unknown case(s) {unknown}: choose from {list(CASES)}")
    import os
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    loads = [subprocess.Popen([PY, "-c", LOAD_CODE]) for _ in range(max(0, a.load))]
    result: dict = {"bench": "render", "rounds": a.rounds, "frames": a.frames, "load": a.load,
                    "widget": list(a.widget), "load_avg_at_start": [round(x, 2) for x in os.getloadavg()]}
    try:
        for case in a.cases.split(","):
            dtype, size = CASES[case]
            log(f"{case}: {a.rounds} rounds of {a.frames} frames, old and new")
            result[case] = run_case(dtype, size, a.rounds, a.frames, a.widget)
            log(case, result[case])
    finally:
        for p in loads:
            p.kill()
            p.wait(10)
    result["load_avg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    emit(result)


if __name__ == "__main__":
    main()
