"""c2dataviewer's image viewer (``c2dv --app image --pv NAME``) measured like pvprobe.

Run with the peers' venv (c2dataviewer brings pvapy and its own pyqtgraph pin):

  /work/peers-venv/bin/python benchmarks/peers/run_c2dv.py '{"name": "BENCH:image",
                                                            "warmup": 3, "seconds": 10}'

c2dataviewer's own path, unchanged: pvapy monitor thread → ``ImagePlotWidget.display``
(decode, transpose, copy, put on a queue, emit a signal) → GUI thread
``_set_image_signal_callback`` → ``RawImageWidget.setImage`` (stores the frame and
calls ``update()``) → Qt's ``paintEvent`` renders it (``makeARGB``) and draws it.
Its ``frames_displayed`` label counts ``setImage`` calls (frames handed over); we
count what ``paintEvent`` really renders: a paint after a new ``setImage`` (Qt
merges several ``update()`` calls into one paint, so two frames set before a paint
are one frame displayed). Latency: paint time − the painted frame's
``dataTimeStamp`` (kept per ``uniqueId`` as ``display`` sees it). ``received`` is
c2dataviewer's own ``frames_received`` (monitor updates with a new uniqueId).

Settings: c2dataviewer starts at "5 Hz" (it polls the PV with a get 5 times a
second); the launcher picks "Full IOC Rate" (a monitor), as a user does for a fast
camera (``"rate": "5 Hz"`` etc. keeps another entry). Everything else is its default.
"""

from __future__ import annotations

import json
import os
import sys
from collections import OrderedDict
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from meter import Meter, ts_of  # noqa: E402


def _exit_now() -> None:
    """The result is printed: leave at once (pvapy's monitor thread aborts the
    interpreter's teardown with "FATAL: exception not rethrown")."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _shape(img) -> list:
    """Shape and dtype of the last frame c2dataviewer handed over (decoding worked?)."""
    return [] if img is None else [*img.image.shape, str(img.image.dtype)]


def main() -> None:
    args = json.loads(sys.argv[1])
    from c2dataviewer import c2dv
    from c2dataviewer.control import imagecontroller
    from c2dataviewer.view import image_display as disp

    state: dict = {"meter": None, "widget": None}
    ts_by_uid: OrderedDict = OrderedDict()
    W = disp.ImagePlotWidget

    orig_display = W.display

    def display(self, data, zoomUpdate=False):        # pvapy's thread, as c2dv calls it
        if not zoomUpdate:
            try:
                t = data["dataTimeStamp"]
                ts_by_uid[data["uniqueId"]] = ts_of(t["secondsPastEpoch"], t["nanoseconds"])
                while len(ts_by_uid) > 256:
                    ts_by_uid.popitem(last=False)
            except Exception:
                pass
        return orig_display(self, data, zoomUpdate)
    W.display = display

    orig_cb = W._set_image_signal_callback

    def set_image_cb(self):                            # GUI thread: the frame handed over
        orig_cb(self)
        img = self.last_displayed_image
        if img is not None and img.new:
            self._bench_pending = ts_by_uid.get(img.id, 0.0)
    W._set_image_signal_callback = set_image_cb

    orig_paint = W.paintEvent

    def paint_event(self, ev):
        new = self.image is None and bool(self.opts)   # a setImage not rendered yet
        pending = getattr(self, "_bench_pending", None)
        orig_paint(self, ev)
        if new and self.image is not None and state["meter"] is not None:
            self._bench_pending = None
            state["meter"].painted(pending)
    W.paintEvent = paint_event

    orig_init = imagecontroller.ImageController.__init__

    def controller_init(self, widget, **kw):
        orig_init(self, widget, **kw)
        combo = widget.iocRate
        want = args.get("rate", "Full IOC Rate")
        idx = combo.findText(want)
        combo.setCurrentIndex(idx if idx >= 0 else combo.count() - 1)
        iw = widget.imageWidget
        state["widget"] = iw
        state["meter"] = Meter(float(args.get("warmup", 3)), float(args.get("seconds", 10)),
                               lambda: iw.frames_received, _exit_now,
                               lambda: {"c2dv_frames_displayed_label_count": iw.frames_displayed,
                                        "c2dv_frames_received": iw.frames_received,
                                        "c2dv_frames_missed": iw.frames_missed,
                                        "c2dv_rate_setting": combo.currentText(),
                                        "c2dv_image_shape": _shape(iw.last_displayed_image)},
                               widget=lambda: iw)
    imagecontroller.ImageController.__init__ = controller_init   # the class imagev uses

    sys.argv = ["c2dv", "--app", "image", "--pv", args["name"]]
    try:
        c2dv.main()
    except SystemExit:
        pass


if __name__ == "__main__":
    main()
