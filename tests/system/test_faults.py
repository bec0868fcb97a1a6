"""Faults done for real: an IOC serving 2,000 PVs is SIGKILLed and restarted 20 times
under a table, a strip chart, a waveform plot, an image view and a probe; an IOC is
SIGSTOPped and SIGCONTinued; two IOCs serve the same PV names.

Nothing here mocks CA: the IOCs are real processes, the client is pvprobe's engine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPEATER_PORT, RESTART_PORT, ROOT, SERVERS_DIR

from pvprobe.demo.launcher import DemoIOC

pytestmark = pytest.mark.timeout(230)

FAULT_IOC = SERVERS_DIR / "fault_ioc.py"
PREFIX = "PVPFLT:"
PREFIX2 = "PVPFLT2:"
CYCLES = int(os.environ.get("PVPROBE_FAULT_CYCLES", "20"))
#: Cycles before the baseline reading (the heap settles; see the memory bound below).
WARMUP_CYCLES = 5
#: libca notices a killed IOC at once (its TCP circuit closes); EPICS_CA_CONN_TMO
#: (30 s by default) bounds the case where no FIN arrives. The assertion uses it.
CONN_TMO = float(os.environ.get("EPICS_CA_CONN_TMO", "30"))


def scalar_names(prefix: str) -> list[str]:
    layout = (("ai", 400), ("ao", 100), ("bi", 100), ("bo", 100), ("mbbi", 50), ("mbbo", 50),
              ("longin", 100), ("stringin", 100))
    return [f"{prefix}{kind}:{i:03d}" for kind, n in layout for i in range(n)]


class FaultIOC(DemoIOC):
    """The demo IOC's records plus 1,000 more scalars (``tests/servers/fault_ioc.py``)."""

    def __init__(self, prefix: str, extra: list[str], **kw) -> None:
        super().__init__(prefix=prefix, **kw)
        self._extra = extra

    def _spawn(self, env: dict[str, str]) -> None:
        import collections  # noqa: F401  (parent's attributes are reused as they are)
        import tempfile

        from conftest import dies_with_parent

        self._close_log()
        self._log = tempfile.NamedTemporaryFile(prefix="pvprobe-fault-ioc-", suffix=".log",
                                                delete=False)
        self._ready.clear()
        self._stdout_lines.clear()
        env = dict(env, PYTHONPATH=str(ROOT))
        cmd = [sys.executable, str(FAULT_IOC), self.prefix, *self._extra]
        self._proc = subprocess.Popen(dies_with_parent(cmd), env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE, stderr=self._log,
                                      start_new_session=True, close_fds=True)
        self._reader = threading.Thread(target=self._drain, args=(self._proc,),
                                        name="fault-ioc-stdout", daemon=True)
        self._reader.start()

    def signal(self, sig: int) -> None:
        assert self._proc is not None
        os.kill(self._proc.pid, sig)

    def kill(self) -> None:
        """SIGKILL, reap; the next start() uses the same ports."""
        proc = self._proc
        assert proc is not None
        proc.kill()
        proc.wait(10)
        if self._reader is not None:
            self._reader.join(5)
            self._reader = None
        self._proc = None


@pytest.fixture
def fault_ioc(ca_repeater: object) -> Iterator[FaultIOC]:
    ioc = FaultIOC(PREFIX, [PREFIX2], server_port=RESTART_PORT, repeater_port=REPEATER_PORT)
    ioc.start(timeout=90)
    yield ioc
    ioc.stop()


def _threads() -> int:
    """OS threads of this process (libca's native threads included)."""
    return len(os.listdir("/proc/self/task"))


#: After warm-up, at most this many cycles may end with a new RSS high (by > 1 MB):
#: heap steps, not a trend (a 2 MB-per-cycle leak makes ~14 of the 15).
MAX_RSS_RISES = 4


def _rises(series: list[float], margin_mb: float = 1.0) -> int:
    """How many times the RSS climbs more than ``margin_mb`` above the level of its last
    climb (the first reading to start with): a slow leak climbs again and again, a heap
    step once."""
    rises, level = 0, series[0] if series else 0.0
    for v in series[1:]:
        if v > level + margin_mb:
            rises += 1
            level = v
    return rises


def test_rss_rises_tell_a_leak_from_heap_steps():
    steps = [539.0, 543.0, 542.9, 538.9, 542.9, 542.9, 538.9, 554.8, 554.8, 554.9, 554.8]
    assert _rises(steps) == 2
    leak = [400.0 + 2.0 * i for i in range(15)]
    assert _rises(leak) == 14 > MAX_RSS_RISES
    slow = [400.0 + 0.6 * i for i in range(15)]        # 0.6 MB per cycle: a new high every 2nd
    assert _rises(slow) > MAX_RSS_RISES


def _subscribed(engine) -> int:
    """PVs fed by the engine: subscribed, or a camera frame polled at each request (a
    paced PV whose camera is ahead of the view has no announcement monitor meanwhile)."""
    return sum(c.subscribed or c.polling for c in engine.debug_channels().values())


def _rss_mb() -> float:
    """RSS after a GC and malloc_trim: memory still in use, not freed heap glibc keeps."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2 ** 20


# -- 1. SIGKILL and restart, 20 times, under every view --------------------------------------

#: Set in the process that runs the 20 cycles themselves (see the test below).
IN_OWN_PROCESS = "PVPROBE_FAULT_OWN_PROCESS"


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_kill_and_restart_20_times() -> None:
    """20 IOC deaths and restarts under a table of 2,000 PVs and four views, in a
    pytest process of their own (:func:`test_kill_and_restart_cycles`): what a
    long-lived app sees, not a suite process that has run a thousand tests (their
    RSS checks measured the suite's heap; and three full suites hung in PyQt's
    ~PyQtSlotProxy, growing to 5 GB, in or after this test, which passes alone).
    Bounded: the child is killed after 18 minutes."""
    env = dict(os.environ, **{IN_OWN_PROCESS: "1"})
    node = f"{Path(__file__).resolve()}::test_kill_and_restart_cycles"
    try:
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", node],
                           env=env, cwd=str(ROOT), capture_output=True, text=True, timeout=1080)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the fault cycles did not end within {exc.timeout} s")
    figures = [ln for ln in r.stdout.splitlines() if ln.startswith("FAULT-FIGURES")]
    print("\n".join(figures))
    assert r.returncode == 0 and " passed" in r.stdout, r.stdout[-6000:] + r.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get(IN_OWN_PROCESS) != "1",
                    reason="runs inside test_kill_and_restart_20_times's own process")
def test_kill_and_restart_cycles(qtbot, fault_ioc: FaultIOC) -> None:
    """The cycles and every check (see :func:`_kill_and_restart`). A failed check comes
    back as text and fails here, in a frame that holds no widget."""
    problem = _kill_and_restart(qtbot, fault_ioc)
    assert not problem, problem


def _kill_and_restart(qtbot, fault_ioc: FaultIOC) -> str:
    """The cycles and their checks; returns "" or what failed."""
    from PyQt5.QtCore import Qt

    from pvprobe.ca.engine import Engine
    from pvprobe.qt.bridge import EngineBridge
    from pvprobe.qt.image.image_view import ImageView
    from pvprobe.qt.plots.strip_chart import StripChart
    from pvprobe.qt.plots.waveform_plot import WaveformPlot
    from pvprobe.qt.probe.probe_panel import ProbePanel
    from pvprobe.qt.style.theme import table_colors
    from pvprobe.qt.table.pvtable_model import DISCONNECTED_TEXT, Col
    from pvprobe.qt.table.table_widget import PVTableWidget

    names = scalar_names(PREFIX) + scalar_names(PREFIX2)
    assert len(names) == 2000
    engine = Engine(tick_hz=20)
    bridge = EngineBridge(engine)
    table = PVTableWidget(bridge)
    qtbot.addWidget(table)
    table.resize(1000, 500)
    table.show()
    chart_names = [f"{PREFIX}ai:{i:03d}" for i in range(3)]
    chart = StripChart(bridge, chart_names)
    wave = WaveformPlot(bridge, [f"{PREFIX}wave"])
    image = ImageView(bridge, f"{PREFIX}image1:")
    probe = ProbePanel(bridge, f"{PREFIX}ai:000")
    views = [chart, wave, image, probe]
    for v in views:
        qtbot.addWidget(v)
        v.show()
    bridge.start()
    problem = ""
    try:   # a failed check must not leave the worker running while qtbot deletes the views
        table.add_pvs(names)
        model = table.model
        grey = table_colors(model.theme_name, model.palette_name).disconnected_fg   # the theme's, no copy

        def all_live() -> bool:
            return (model.connected_count == len(names) and model.valued_count == len(names)
                    and image.feed is not None and image.feed.connected
                    and all(s.state is not None and s.state.connected for s in chart._series.values())
                    and all(t.state is not None and t.state.connected for t in wave._traces.values())
                    and probe.state is not None and probe.state.connected)

        def all_down() -> bool:
            return (model.connected_count == 0 and not image.feed.connected
                    and not any(s.state.connected for s in chart._series.values())
                    and not any(t.state.connected for t in wave._traces.values())
                    and not probe.state.connected)

        qtbot.waitUntil(all_live, timeout=60000)
        marks = {n: model.state_of(n).update_count for n in chart_names}
        engine_slots = engine.debug_summary().channels
        down_s: list[float] = []
        up_s: list[float] = []
        ioc_s: list[float] = []
        rss_series: list[float] = []
        base = None
        base_cycle = min(WARMUP_CYCLES, CYCLES - 1)   # after warm-up: caches, fonts, pyqtgraph items, heap arenas
        for cycle in range(CYCLES):
            if cycle == base_cycle:
                base = (engine.debug_summary().channels, _subscribed(engine),
                        threading.active_count(), _threads())
            t0 = time.monotonic()
            fault_ioc.kill()
            qtbot.waitUntil(all_down, timeout=int((CONN_TMO + 10) * 1000))
            down_s.append(time.monotonic() - t0)
            rss_down = _rss_mb()    # no frame fetch in flight now (see the memory checks below)
            # No stale value shown as live: every row says DISCONNECTED, greyed out.
            for row in range(model.rowCount()):
                assert model.text(row, Col.SEVERITY) == DISCONNECTED_TEXT
                assert model.text(row, Col.CONNECTION) == DISCONNECTED_TEXT
                assert model.data(model.index(row, int(Col.VALUE)), Qt.ForegroundRole).color() == grey
            assert "disconnected" in image.feed.message()
            assert "DISCONNECTED" in probe.conn_label.text()
            t1 = time.monotonic()
            fault_ioc.start(timeout=90)
            ioc_s.append(time.monotonic() - t1)
            qtbot.waitUntil(all_live, timeout=60000)
            up_s.append(time.monotonic() - t1)
            # every PV resumed: the dynamic ones update again (no user action)
            qtbot.waitUntil(lambda: all(model.state_of(n).update_count > marks[n] + 2 for n in chart_names),
                            timeout=10000)
            marks = {n: model.state_of(n).update_count for n in chart_names}
            rss_series.append(round(min(rss_down, _rss_mb()), 1))
        try:    # the last reconnection settles (record fields the probe drops, subscriptions)
            qtbot.waitUntil(lambda: (engine.debug_summary().channels, _subscribed(engine)) == base[:2],
                            timeout=5000)
        except qtbot.TimeoutError:
            pass    # the figures below say what differs
        end = (engine.debug_summary().channels, _subscribed(engine),
               threading.active_count(), _threads())
        # the lowest of 5 cycles from the one just before ``base``, and of the last 5 (see below)
        rss_base = min(rss_series[max(0, base_cycle - 1):max(0, base_cycle - 1) + 5])
        rss_end = min(rss_series[-5:])
        figures = {"cycles": CYCLES, "disconnect_s_max": round(max(down_s), 2),
                   "reconnect_s_median": round(sorted(up_s)[len(up_s) // 2], 2),
                   "reconnect_s_max": round(max(up_s), 2),
                   "ioc_start_s_median": round(sorted(ioc_s)[len(ioc_s) // 2], 2),
                   "slots": [base[0], end[0]], "subscriptions": [base[1], end[1]],
                   "py_threads": [base[2], end[2]], "os_threads": [base[3], end[3]],
                   "rss_mb": [rss_base, rss_end], "rss_per_cycle_mb": rss_series}
        print("FAULT-FIGURES", json.dumps(figures))
        # each message starts with the check's name: pytest's one-line summary shows which
        assert end[0] == base[0] <= engine_slots, f"slots {figures}"  # the probe drops record fields it has no use for
        assert end[1] == base[1], f"subscriptions {figures}"
        assert end[2] == base[2], f"py_threads {figures}"
        assert end[3] <= base[3] + 2, f"os_threads {figures}"  # libca may still be closing a dead circuit's thread
        # 15 cycles after warm-up. Measured (gc + malloc_trim before each reading), alone:
        # 145.2 -> 149.9 MB, every cycle between 145 and 158 MB in 4 MB steps (camera frames
        # in flight), no trend. In the full suite (a 370 MB process) the heap settled only
        # after ~5 cycles (366 -> 390 MB, then flat 390-398): hence WARMUP_CYCLES = 5. A leak
        # of the 2,000 channels' states (~1 KB each) per cycle would add 30 MB: bound 20 MB.
        # A cycle's figure is the lower of two readings (IOC down, and live again): one reading
        # moves in 4 MB steps with the camera frames (1024x1024 uint16) alive at that moment
        # (a flat run read 541-553 MB), enough new highs and spread to fail these checks
        # without a leak; memory that stays in use (a leak) is in both readings. Likewise the
        # lowest of 5 cycles at each end: a fresh-clone run read 137 ... 171 MB in 8 MB steps,
        # up and down (167 -> 159 -> 171 -> 167), and its one-cycle ends (147.2 -> 167.4)
        # failed the bound where the lowest of 5 (147.2 -> 159.0) did not; the same code
        # alone read 142.6 -> 142.7. A leak stays in every cycle, so in both minima too.
        assert rss_end - rss_base < 20.0, f"rss_mb {figures}"
        # no upward trend: a leak (the channels' states, ~2 MB per cycle) raises the RSS at
        # nearly every cycle; the heap of the full suite rises in a few steps and stays flat
        # between them (seen: 539-543 MB for 8 cycles, one 12 MB step, then 554.8 MB for 8)
        assert _rises(rss_series[WARMUP_CYCLES:]) <= MAX_RSS_RISES, f"rss_rises {figures}"
        assert max(down_s) < CONN_TMO + 5, f"disconnect_s_max {figures}"
        _close_views(table, chart, wave, image, probe)
        qtbot.waitUntil(lambda: bridge.engine_pvs == 0, timeout=10000)
    except Exception as exc:        # AssertionError, qtbot's TimeoutError: as text only
        problem = f"{type(exc).__name__}: {exc}"[:4000]
    finally:
        # also when a check failed: the views leave the bridge before qtbot deletes them
        _close_views(table, chart, wave, image, probe)
        bridge.stop()
        engine.close()
    return problem


def _close_views(table, chart, wave, image, probe) -> None:
    """Each view releases its PVs and leaves the bridge (again: a no-op)."""
    for close in (table.close_pvs, chart.close_pvs, wave.close_pvs, image.shutdown, probe.close_pv):
        try:
            close()
        except Exception as exc:     # the failing check is the news, not this
            print("closing a view failed:", exc)
