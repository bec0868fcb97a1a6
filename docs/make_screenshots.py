"""Regenerate the README screenshots from the real app on the embedded demo IOC.

    python docs/make_screenshots.py [--out docs/images] [--seconds 6]

Starts the demo IOC on free loopback ports, opens the main window with the demo
table, then each view (probe, waveform plot, strip chart, image view, RGB image),
lets the data flow and saves one PNG per view; then switches to the dark theme and
saves the main window and the strip chart again. Runs offscreen (no display needed).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "images"))
    ap.add_argument("--seconds", type=float, default=6.0, help="data time before each picture")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from pvprobe.demo.launcher import DemoIOC

    demo = DemoIOC(prefix="PVPDEMO:")
    demo.start()
    os.environ.update(demo.client_env)
    os.environ["PVPROBE_SETTINGS"] = os.path.join(tempfile.mkdtemp(prefix="pvprobe-shots-"), "s.ini")
    try:
        from PyQt5.QtWidgets import QApplication

        from pvprobe.ca.engine import Engine
        from pvprobe.cli.gui import DEMO_FEATURED
        from pvprobe.qt.app.main_window import MainWindow
        from pvprobe.qt.app.settings import Settings
        from pvprobe.qt.bridge import EngineBridge
        from pvprobe.qt.style.theme import setup_application

        app = QApplication(sys.argv[:1])
        app.setApplicationName("pvprobe")
        setup_application(app, "light")
        p = demo.prefix
        bridge = EngineBridge(Engine(tick_hz=50))
        win = MainWindow(bridge, settings=Settings())
        win.resize(1280, 760)
        win.show()
        names = [p + n for n in DEMO_FEATURED] + [f"{p}ai:{i:03d}" for i in range(100)]
        win.open_tab(names, "demo")
        bridge.start()
        _pump(app, args.seconds)
        win.grab().save(str(out / "main-window.png"))

        def float_view(view, size=(1000, 620)):
            dock = view.parentWidget()
            dock.setFloating(True)
            dock.resize(*size)
            return view

        probe = float_view(win.open_probe(p + "sine"), (760, 820))
        wave = float_view(win.views.open_waveform([p + "wave"]))
        strip = float_view(win.views.open_strip([p + "sine", p + "ai:001", p + "ai:002"]))
        image = float_view(win.views.open_image(p + "image1:"), (1000, 820))
        rgb = float_view(win.views.open_image(p + "image2:"), (1000, 780))
        compare = float_view(win.views.open_compare(p + "wave"), (1000, 640))
        _pump(app, args.seconds)
        for name, widget in (("probe.png", probe), ("waveform.png", wave), ("strip-chart.png", strip),
                             ("image-mono.png", image), ("image-rgb.png", rgb),
                             ("compare-ca-pva.png", compare)):
            widget.parentWidget().raise_()
            app.processEvents()
            if not widget.grab().save(str(out / name)):
                print(f"could not save {name}", file=sys.stderr)
                return 1
            print(out / name)
        print(out / "main-window.png")
        win.set_theme("dark")            # View ▸ Theme ▸ Dark, as an operator would
        win.resize(1280, 760)
        _pump(app, 1.5)
        strip.parentWidget().raise_()
        app.processEvents()
        for name, widget in (("main-window-dark.png", win), ("strip-chart-dark.png", strip)):
            if not widget.grab().save(str(out / name)):
                print(f"could not save {name}", file=sys.stderr)
                return 1
            print(out / name)
        win.force_close = True
        win.close()
        bridge.stop()
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
