"""Regenerate the README's pvAccess screenshots from the real app.

    python docs/make_pva_screenshots.py [--out docs/images] [--seconds 4]

Starts the demo IOC (CA rows) and the p4p test server ``tests/servers/pva_gui_server.py``
(PVA rows, an NTTable, an lz4 NTNDArray stream) on free loopback ports, then saves
``table-ca-pva.png`` (a table of CA and PVA rows), ``probe-pva-table.png`` (a probe
of the NTTable) and ``image-pva.png`` (the image view of the lz4 stream). The GUI
tests (tests/qt/table/test_pva_gui.py, tests/qt/image/test_pva_image.py) take the same pictures.
Runs offscreen (no display needed).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
P = "PVPSHOT:"


def _pump(app, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.01)  # ok-sleep: event pump of a one-shot script


def _start_pva_server() -> tuple[subprocess.Popen, int]:
    from pvprobe.core.caenv import free_port

    tcp, udp = free_port(), free_port()
    server = ROOT / "tests" / "servers" / "pva_gui_server.py"
    proc = subprocess.Popen([sys.executable, str(server), P, str(tcp), str(udp)],
                            stdout=subprocess.PIPE, text=True)
    if proc.stdout is None or proc.stdout.readline().strip() != "READY":
        proc.kill()
        raise RuntimeError("the p4p test server did not start")
    return proc, udp


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "images"))
    ap.add_argument("--seconds", type=float, default=4.0, help="data time before each picture")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from pvprobe.demo.launcher import DemoIOC

    demo = DemoIOC(prefix="PVPDEMO:")
    demo.start()
    server, udp = _start_pva_server()
    try:
        os.environ.update(demo.client_env)
        others = demo.client_env.get("EPICS_PVA_ADDR_LIST", "")      # the demo's own PVA server
        os.environ["EPICS_PVA_ADDR_LIST"] = f"{others} 127.0.0.1:{udp}".strip()
        os.environ["EPICS_PVA_AUTO_ADDR_LIST"] = "NO"
        os.environ["PVPROBE_SETTINGS"] = os.path.join(tempfile.mkdtemp(prefix="pvprobe-shots-"), "s.ini")
        from PyQt5.QtWidgets import QApplication

        from pvprobe.ca.engine import Engine
        from pvprobe.qt.app.main_window import MainWindow
        from pvprobe.qt.app.settings import Settings
        from pvprobe.qt.bridge import EngineBridge
        from pvprobe.qt.style.theme import setup_application
        from pvprobe.qt.table.pvtable_model import Col

        app = QApplication(sys.argv[:1])
        app.setApplicationName("pvprobe")
        setup_application(app, "light")
        p = demo.prefix
        bridge = EngineBridge(Engine(tick_hz=50))
        win = MainWindow(bridge, settings=Settings())
        win.resize(1320, 520)
        win.show()
        names = ([p + n for n in ("sine", "setpoint", "enum", "message")]
                 + [f"pva://{P}{n}" for n in ("dbl", "int", "enum", "notime", "table", "nested", "img:lz4")])
        table = win.open_tab(names, "CA and PVA")
        bridge.start()
        _pump(app, args.seconds)
        table.view.resizeColumnToContents(int(Col.PROTOCOL))
        app.processEvents()
        shots = [("table-ca-pva.png", win)]
        probe = win.open_probe(f"pva://{P}table")
        probe.parentWidget().setFloating(True)
        probe.parentWidget().resize(560, 720)
        image = win.views.open_image(f"pva://{P}img:stream")
        image.parentWidget().setFloating(True)
        image.parentWidget().resize(1000, 760)
        image.set_colormap("viridis")
        image.roi_check.setChecked(True)
        _pump(app, args.seconds)
        image.refresh_status()
        shots += [("probe-pva-table.png", probe), ("image-pva.png", image)]
        for name, widget in shots:
            if widget is not win:
                widget.parentWidget().raise_()
            app.processEvents()
            if not widget.grab().save(str(out / name)):
                print(f"could not save {name}", file=sys.stderr)
                return 1
            print(out / name)
        win.force_close = True
        win.close()
        bridge.stop()
    finally:
        server.kill()
        server.wait(10)
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
