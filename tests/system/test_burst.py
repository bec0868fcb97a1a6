"""A burst far above what the UI can draw, the issue's figure: 50,000 PVs changing at
10 Hz (and each one's alarm severity flipping every second) from a real EPICS base soft
IOC, shown in a MainWindow (lean mode turns on above 25,000 PVs). The IOC's one scan
thread rarely keeps up with 500,000 records/s on this 2-core machine, so the offer it
achieves is measured and printed; it is still far above what the UI draws. The event
loop stays responsive, memory stays bounded, visible rows keep updating, and when the
burst ends every row catches up with what the IOC holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPEATER_PORT, RESTART_PORT, show_main_window

from pvprobe.core.caenv import loopback_env
from pvprobe.core.pvstate import ALARM_STATUS_NAMES

pytestmark = pytest.mark.timeout(300)

N = 50_000
P = "PVPBURST:"
BURST_S = 12.0
#: Records per scan-disable group (see :func:`burst_db`).
GROUP = 500
#: PVs whose monitors a separate client counts, to measure the rate the IOC offers.
SAMPLE = 100
#: The alarm status of a disabled record (SDIS).
DISABLE = ALARM_STATUS_NAMES.index("DISABLE")


def burst_db(n: int, prefix: str = P) -> str:
    """``n`` calc records at 10 Hz: 0..19 counting, MINOR at >= 10 (severity flips at 1 Hz);
    all stop processing while ``{prefix}stop`` is 1, as it is at start (the burst
    begins when a client puts 0).

    Every DB link merges two records' lock sets, and iocInit's merging is quadratic in
    the set's size: 50,000 records disabled by one record took iocInit 36 s (one lock
    set), so each group of GROUP records has its own disable record that follows
    ``{prefix}stop`` through a CP link (a CA link: no lock-set merge); iocInit 1.5 s."""
    stop = (f'record(bo, "{prefix}stop") {{ field(ZNAM, "run") field(ONAM, "stop") '
            'field(VAL, "1") field(PINI, "YES") }\n')
    grp = ('record(bo, "{p}stop{g:03d}") {{ field(DOL, "{p}stop CP") field(OMSL, "closed_loop") '
           'field(VAL, "1") }}\n')
    rec = ('record(calc, "{p}c{i:05d}") {{ field(SCAN, ".1 second") field(CALC, "A<19?A+1:0") '
           'field(INPA, "{p}c{i:05d}") field(HIGH, "10") field(HSV, "MINOR") '
           'field(SDIS, "{p}stop{g:03d}") field(DISV, "1") field(DISS, "NO_ALARM") field(VAL, "{v}") }}\n')
    groups = "".join(grp.format(p=prefix, g=g) for g in range((n + GROUP - 1) // GROUP))
    return stop + groups + "".join(rec.format(p=prefix, i=i, g=i // GROUP, v=i % 20) for i in range(n))


def start_ioc(db: Path, port: int, **extra: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.update(loopback_env(port, REPEATER_PORT))
    env.update(extra)
    return subprocess.Popen([sys.executable, "-m", "epicscorelibs.ioc", "-d", str(db)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)


@pytest.fixture
def burst_ioc(tmp_path: Path, ca_repeater: object) -> Iterator[subprocess.Popen]:
    db = tmp_path / "burst.db"
    db.write_text(burst_db(N))
    proc = start_ioc(db, RESTART_PORT)
    yield proc
    proc.kill()
    proc.wait(10)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


class OfferMeter:
    """A separate client keeping every monitor update of a sample of the burst PVs:
    how many value changes per PV the IOC achieves."""

    def __init__(self, names: list[str]) -> None:
        from pvprobe.ca.engine import Engine

        self.updates = 0
        self.connected = 0
        self._engine = Engine(tick_hz=5)
        self._engine.start(self._on_batch)
        self._engine.add(names, keep_all=True)

    def _on_batch(self, batch: Any) -> None:
        self.updates += sum(len(st.samples) for st in batch.states)
        self.connected = batch.connected
        self._engine.batch_done()

    def close(self) -> None:
        self._engine.close()


def test_burst_50000_pvs_at_10hz(qtbot, tmp_path: Path, burst_ioc) -> None:
    from pvprobe.ca.engine import Engine
    from pvprobe.qt.app.diagnostics import LoopLatency
    from pvprobe.qt.bridge import EngineBridge
    from pvprobe.qt.table.pvtable_model import Col

    names = [f"{P}c{i:05d}" for i in range(N)]
    engine = Engine(tick_hz=20)
    bridge = EngineBridge(engine)
    win = show_main_window(qtbot, bridge, tmp_path / "s.ini")
    bridge.start()
    lat = LoopLatency()
    meter = OfferMeter(names[::N // SAMPLE])
    reader = Engine()
    try:
        t0 = time.monotonic()
        win.add_pvs(names + [f"{P}stop"])
        table = win.tabs.current_table()
        model = table.model
        # connect before the burst: connecting 50,000 PVs to an IOC whose scan thread
        # already saturates a core took 17 s to over 90 s (searches go unanswered)
        qtbot.waitUntil(lambda: model.connected_count == N + 1 and model.valued_count == N + 1,
                        timeout=60000)
        t_connect = time.monotonic() - t0
        assert engine.debug_summary().lean, "lean mode should be on above 2,000 PVs"
        qtbot.waitUntil(lambda: len(table.visible_names()) > 5 and meter.connected == SAMPLE, timeout=5000)
        visible = table.visible_names()
        # the burst begins
        bridge.put(f"{P}stop", 0)
        qtbot.wait(2000)      # ok-sleep: measurement, let the burst reach its steady rate
        rss0 = _rss_mb()
        upd0 = {n: model.state_of(n).update_count for n in visible}
        recv0, offer0, batches0 = bridge.updates_received, meter.updates, engine.stats.batches_sent
        lat.start()
        qtbot.wait(int(BURST_S * 1000))   # ok-sleep: the measurement window
        lat.stop()
        rss1 = _rss_mb()
        took = bridge.updates_received - recv0
        offered_per_pv = (meter.updates - offer0) / SAMPLE / BURST_S
        p99, mx = lat.p99_ms(), lat.max_ms()
        upd = [model.state_of(n).update_count - upd0[n] for n in visible]
        print("BURST-FIGURES", {"pvs": N, "seconds": BURST_S, "connect_s": round(t_connect, 1),
                                "offered_hz_per_pv": round(offered_per_pv, 2),
                                "offered_per_s": round(offered_per_pv * N),
                                "updates_taken": took, "updates_per_s": round(took / BURST_S),
                                "batches_per_s": round((engine.stats.batches_sent - batches0) / BURST_S, 2),
                                "loop_p99_ms": round(p99, 1), "loop_max_ms": round(mx, 1),
                                "rss_mb": [round(rss0, 1), round(rss1, 1)],
                                "visible_rows": len(visible), "visible_updates_min": min(upd)})
        # the IOC offers far more than the UI draws. Its one scan thread rarely processes
        # 500,000 records/s on this shared 2-core machine: 2.4 to 9.6 changes/s per PV
        # measured (120,000 to 480,000/s in all)
        assert offered_per_pv * N > 50_000, offered_per_pv
        # responsive: the operator's window keeps drawing through the burst (issue 12:
        # p99 <= 100 ms at 50,000 busy PVs). Real-time EPICS threads (IOC and libca as
        # root) starved the GUI thread to 0.6-1.8 s p99; see pvprobe.core.realtime
        assert p99 <= 100 and mx < 1000, (p99, mx)
        # visible rows live. At 50,000 PVs the engine's worker, sharing the cores with the
        # IOC, delivered 1 to 6 batches/s in our runs (each capped at 5,000 states; 50,000
        # lean refreshes per 2 s and the alarm flips), so visible rows took 0.7 to 5.6
        # updates/s (5,000 PVs: >= 2/s); bound: at least one update per 3 s
        assert min(upd) >= BURST_S / 3, upd
        # the alarm-only rows took their severity flips too
        assert took > N, took
        # memory bounded: 30 MB is 600 bytes per PV, or 20 bytes per update taken
        assert rss1 - rss0 < 30, (rss0, rss1)
        # the burst ends: processing stops; every row catches up with the IOC
        bridge.put(f"{P}stop", 1)
        t1 = time.monotonic()
        truth: dict[str, Any] = {}

        def ioc_stopped() -> bool:
            """Every record is disabled (status DISABLE, posted by its first scan after
            ``stop``): the IOC sends nothing more, and ``truth`` is what it holds."""
            truth.update(reader.read(names, timeout=30))
            return all(st.status == DISABLE for st in truth.values())

        qtbot.waitUntil(ioc_stopped, timeout=60000)
        def caught_up() -> bool:
            for n in names:
                st, t = model.state_of(n), truth[n]
                if st.severity != t.severity:
                    return False
            return all(model.state_of(n).value == truth[n].value for n in table.visible_names())
        qtbot.waitUntil(caught_up, timeout=30000)
        print("BURST-CATCH-UP", {"read_truth_and_catch_up_s": round(time.monotonic() - t1, 1)})
        # visible rows show the IOC's exact value
        row = model.row_of(visible[0])
        assert model.text(row, Col.VALUE) != ""
    finally:
        reader.close()      # 50,000 channels left open would keep libca searching after the IOC dies
        meter.close()
        lat.stop()
        win.force_close = True
        win.close()
        bridge.stop()
        engine.close()
