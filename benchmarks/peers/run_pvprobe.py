"""pvprobe's GUI on a pvAccess NTNDArray, measured like the peers.

  python benchmarks/peers/run_pvprobe.py '{"name": "BENCH:image", "warmup": 3, "seconds": 10,
                                          "stats": "/tmp/stats.json"}'

Runs ``python -m pvprobe --image pva://NAME --quit-after Q --stats FILE`` in this
process (the real app: main window, image dock, engine, bridge), with one hook:
``CountingImageItem.paint`` (pvprobe's own count of frames really painted) also
tells the shared :class:`meter.Meter` about each new frame painted, with the
frame timestamp the view set (the camera stamps timeStamp = dataTimeStamp =
publish time). ``received`` = NTNDArray updates the PVA source took off the
network (``extra["received"]`` of the newest frame handed to the view); the view's
own counts (handed over, decoded, codec, decode time) come from ``--stats`` and
``ImageView.stats()``. The meter quits the app when its window is over (the
``--quit-after`` is only a safety net).
"""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent.parent))

from meter import Meter  # noqa: E402


def main() -> None:
    args = json.loads(sys.argv[1])
    from PyQt5.QtWidgets import QApplication

    from pvprobe.qt.image.image_item import CountingImageItem
    from pvprobe.qt.image.image_view import ImageView

    state: dict = {"meter": None, "view": None}

    def find_view():
        if state["view"] is None:
            for w in QApplication.allWidgets():
                if isinstance(w, ImageView):
                    state["view"] = w
        return state["view"]

    def received() -> int:
        v = find_view()
        st = getattr(v, "frame_state", None) if v is not None else None
        extra = getattr(st, "extra", None) or {}
        return int(extra.get("received") or 0)

    def extra() -> dict:
        v = find_view()
        s = v.stats() if v is not None else {}
        return {"view_stats_at_window_end": s}

    def done() -> None:
        QApplication.instance().quit()      # run_gui's finish() writes --stats

    orig_paint = CountingImageItem.paint

    def paint(self, painter, *a):
        new, ts = self.has_pending, self.pending_ts
        orig_paint(self, painter, *a)
        if new and not self.has_pending:
            if state["meter"] is None:       # the app exists by now
                state["meter"] = Meter(float(args.get("warmup", 3)), float(args.get("seconds", 10)),
                                       received, done, extra,
                                       widget=lambda: getattr(find_view(), "glw", None))
            state["meter"].painted(ts)
    CountingImageItem.paint = paint

    argv = ["pvprobe", "--image", "pva://" + args["name"],
            "--quit-after", str(float(args.get("quit_after", 300)))]
    if args.get("stats"):
        argv += ["--stats", args["stats"]]
    if args.get("tick_hz"):
        argv += ["--tick-hz", str(args["tick_hz"])]
    sys.argv = argv
    runpy.run_module("pvprobe", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
