"""PyDM's image view on its p4p data plugin (``PyDMImageView``, imageChannel
``pva://NAME``) measured like pvprobe.

Run with the peers' venv (PyDM brings its own Qt/pyqtgraph pins):

  /work/peers-venv/bin/python benchmarks/peers/run_pydm.py '{"name": "BENCH:image",
                                                            "warmup": 3, "seconds": 10}'

PyDM's own path, unchanged: p4p thread ``Context.monitor`` (nt=False) →
``Connection.send_new_value`` → ``pva_codec.decompress`` (lz4 with the ``lz4``
package) → ``new_value_signal[np.ndarray]`` → GUI thread ``image_value_changed``
(keeps the newest array, sets ``needs_redraw``) → ``redraw_timer`` at
``maxRedrawRate`` (PyDM's default 30 Hz; ``"redraw_hz"`` changes it) starts an
``ImageUpdateThread`` → ``__updateDisplay`` → ``ImageItem.setImage`` → Qt paints.
We count a frame displayed when the ImageItem's ``paint`` runs after a new
``setImage`` from ``__updateDisplay`` (Qt merges repaints). Latency: paint time −
the ``dataTimeStamp`` of the array that redraw took (kept per array object as
``decompress`` returns it). ``received``: NTNDArray updates ``send_new_value`` got.
Widget in a plain QMainWindow of 1100×820 (PyDM's defaults otherwise: colour
limits 0..255, autoDownsample on, Fortran reading order).
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from meter import Meter, ts_of  # noqa: E402


def main() -> None:
    args = json.loads(sys.argv[1])
    os.environ.setdefault("PYDM_DEFAULT_PROTOCOL", "pva")
    from PyQt5.QtWidgets import QApplication, QMainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    import pyqtgraph as pg
    from pydm.data_plugins.epics_plugins import p4p_plugin_component as p4pc
    from pydm.widgets.image import PyDMImageView

    counts = {"received": 0}
    ts_by_array: dict = {}
    keep: deque = deque(maxlen=64)       # arrays alive while their id() is a key
    state: dict = {"meter": None}

    orig_send = p4pc.Connection.send_new_value

    def send_new_value(self, value):                 # p4p's worker thread
        if not isinstance(value, p4pc.Disconnected):
            counts["received"] += 1
        return orig_send(self, value)
    p4pc.Connection.send_new_value = send_new_value

    orig_decompress = p4pc.decompress

    def decompress(value):
        arr = orig_decompress(value)
        try:
            t = value["dataTimeStamp"]
            keep.append(arr)
            if len(ts_by_array) > 128:
                ts_by_array.clear()
            ts_by_array[id(arr)] = ts_of(t["secondsPastEpoch"], t["nanoseconds"])
        except Exception:
            pass
        return arr
    p4pc.decompress = decompress

    V = PyDMImageView
    orig_changed = V.image_value_changed

    def image_value_changed(self, new_image):        # GUI thread
        self._bench_ts = ts_by_array.get(id(new_image), 0.0)
        return orig_changed(self, new_image)
    V.image_value_changed = image_value_changed

    orig_redraw = V.redrawImage

    def redraw(self):                                 # the timer: a thread takes image_waveform
        if self.needs_redraw and (self.thread is None or self.thread.isFinished()):
            self._bench_thread_ts = getattr(self, "_bench_ts", 0.0)
        return orig_redraw(self)
    V.redrawImage = redraw

    orig_update = V._PyDMImageView__updateDisplay

    def update_display(self, data):                   # GUI thread: setImage
        item = self.getImageItem()
        item._bench_new, item._bench_ts = True, getattr(self, "_bench_thread_ts", 0.0)
        return orig_update(self, data)
    V._PyDMImageView__updateDisplay = update_display

    orig_paint = pg.ImageItem.paint

    def paint(self, p, *a):
        new = getattr(self, "_bench_new", False)
        orig_paint(self, p, *a)
        if new and state["meter"] is not None:
            self._bench_new = False
            state["meter"].painted(self._bench_ts)
    pg.ImageItem.paint = paint

    win = QMainWindow()
    view = PyDMImageView(image_channel="pva://" + args["name"])
    if args.get("redraw_hz"):
        view.maxRedrawRate = int(args["redraw_hz"])
    win.setCentralWidget(view)
    win.resize(1100, 820)
    win.show()

    def done() -> None:
        sys.stdout.flush()
        os._exit(0)          # the result is out; skip p4p's and Qt's teardown

    state["meter"] = Meter(float(args.get("warmup", 3)), float(args.get("seconds", 10)),
                           lambda: counts["received"], done,
                           lambda: {"pydm_max_redraw_hz": view.maxRedrawRate,
                                   "pydm_image_shape": list(view.image_waveform.shape),
                                   "pydm_image_dtype": str(view.image_waveform.dtype)},
                           widget=lambda: view)
    app.exec_()


if __name__ == "__main__":
    main()
