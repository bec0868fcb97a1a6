"""Shared test set-up: an isolated loopback CA environment, a CA repeater and the demo IOC.

Runs at import, before any test imports epics (pyepics reads the environment
when libca initialises).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest

from pvprobe.core.caenv import DEMO_MAX_ARRAY_BYTES, free_port, loopback_env
from pvprobe.core.realtime import drop_realtime, has_realtime_capability

#: The test process could give threads real-time priorities when it started (root).
HAD_REALTIME = has_realtime_capability()
#: A pvprobe client started before this process gives that up (so with the privilege
#: when the tests run as root): test_realtime.py reads what it reports.
REALTIME_PROBE = subprocess.Popen(
    [sys.executable, "-c", "from pvprobe.core.realtime import report_threads; report_threads()"],
    env=dict(os.environ, EPICS_CA_AUTO_ADDR_LIST="NO", EPICS_CA_ADDR_LIST="127.0.0.1:1"),
    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
# The IOCs the tests start share the 2 cores with the client under test: as root they
# would run their scan and CA-server threads real-time and starve the GUI thread
# (the product does the same for its own libca threads and demo IOC, see core.realtime).
drop_realtime()


def _two_ports() -> tuple[int, int]:
    server = free_port()
    repeater = free_port()
    while repeater == server:
        repeater = free_port()
    return server, repeater


SERVER_PORT, REPEATER_PORT = _two_ports()
os.environ.update(loopback_env(SERVER_PORT, REPEATER_PORT))
os.environ["EPICS_CA_MAX_ARRAY_BYTES"] = DEMO_MAX_ARRAY_BYTES
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DEMO_PREFIX = "PVPTEST:"

#: Where things are: the tests (this folder), the repository, and the helper server
#: scripts the fixtures and tests start (``tests/servers/``, also importable as ``servers``).
TESTS_DIR = Path(__file__).resolve().parent
ROOT = TESTS_DIR.parent
SERVERS_DIR = TESTS_DIR / "servers"


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test (and every app it starts) gets its own settings file and put log,
    never the user's."""
    d = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("PVPROBE_SETTINGS", str(d / "pvprobe.ini"))
    monkeypatch.setenv("PVPROBE_PUTLOG", str(d / "putlog.jsonl"))
    monkeypatch.setenv("PVPROBE_HISTORY", str(d / "names.history"))
    monkeypatch.delenv("PVPROBE_GATEWAYS", raising=False)
    return str(d / "pvprobe.ini")


@pytest.fixture(autouse=True)
def no_modal_questions(monkeypatch: pytest.MonkeyPatch) -> None:
    """A modal question nobody answers would hang a test (e.g. a window closed by
    pytest-qt at teardown): unless a test patches it itself, answer Discard."""
    import sys

    if "PyQt5.QtWidgets" not in sys.modules:
        return
    from PyQt5.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a, **k: QMessageBox.Discard))


@pytest.fixture(scope="session", autouse=True)
def ca_repeater() -> Iterator[Optional[object]]:
    """A CA repeater on the test repeater port, so libca prints no 'caRepeater' noise."""
    from pvprobe.ca.repeater import ensure_repeater, stop_repeater

    proc = ensure_repeater(REPEATER_PORT, die_with_parent=True)
    yield proc
    stop_repeater(proc)


@pytest.fixture(scope="session")
def demo_ioc(ca_repeater: object) -> Iterator[object]:
    """The demo IOC serving on the session's ports (CA, and pvAccess on PVA kind "demo":
    QSRV2 and the PVA camera); stopped at the end."""
    from pvprobe.demo.launcher import DemoIOC

    ioc = DemoIOC(prefix=DEMO_PREFIX, server_port=SERVER_PORT, repeater_port=REPEATER_PORT,
                  pva_ports=PVA_PORTS["demo"])
    ioc.start(timeout=60)
    yield ioc
    ioc.stop()


@pytest.fixture(scope="session")
def prefix(demo_ioc: object) -> str:
    """PV name prefix of the running demo IOC."""
    return demo_ioc.prefix  # type: ignore[attr-defined]


# -- engine fixtures -----------------------------------------------------------------------

#: A second server port for an IOC that tests kill and restart (the session IOC stays up).
RESTART_PORT = free_port()
while RESTART_PORT in (SERVER_PORT, REPEATER_PORT):
    RESTART_PORT = free_port()
#: Ports of the session's string-array servers (``caproto_ioc``, ``softioc_strings``).
CAPROTO_PORT = free_port()
while CAPROTO_PORT in (SERVER_PORT, REPEATER_PORT, RESTART_PORT):
    CAPROTO_PORT = free_port()
STRINGS_SOFT_PORT = free_port()
while STRINGS_SOFT_PORT in (SERVER_PORT, REPEATER_PORT, RESTART_PORT, CAPROTO_PORT):
    STRINGS_SOFT_PORT = free_port()
os.environ["EPICS_CA_ADDR_LIST"] = " ".join(
    f"127.0.0.1:{p}" for p in (SERVER_PORT, RESTART_PORT, CAPROTO_PORT, STRINGS_SOFT_PORT))
#: Ports of the number/bytes formatting servers (``numbers_server`` in test_number_format.py).
NUMBERS_PORTS: dict[str, int] = {}
for _kind in ("softioc", "caproto"):
    _port = free_port()
    while _port in (SERVER_PORT, REPEATER_PORT, RESTART_PORT, CAPROTO_PORT, STRINGS_SOFT_PORT,
                    *NUMBERS_PORTS.values()):
        _port = free_port()
    NUMBERS_PORTS[_kind] = _port
os.environ["EPICS_CA_ADDR_LIST"] += "".join(f" 127.0.0.1:{p}" for p in NUMBERS_PORTS.values())

# -- pvAccess ports --------------------------------------------------------------------------
#: (TCP, UDP) ports of each pvAccess server a test session may start. Servers on one host
#: must not share a UDP search port (a unicast search on loopback reaches one socket only),
#: so each has its own, and the client searches all of them (pvxs takes host:port entries).
#: The client context reads the environment once, at the first pva:// name of the process.
PVA_SERVERS = ("demo", "nt", "qsrv", "adsim", "gateway", "spare1", "spare2", "spare3", "lean")
_taken = {SERVER_PORT, REPEATER_PORT, RESTART_PORT, CAPROTO_PORT, STRINGS_SOFT_PORT,
          *NUMBERS_PORTS.values()}
PVA_PORTS: dict[str, tuple[int, int]] = {}
for _kind in PVA_SERVERS:
    _pair = []
    while len(_pair) < 2:
        _port = free_port()
        if _port not in _taken:
            _taken.add(_port)
            _pair.append(_port)
    PVA_PORTS[_kind] = (_pair[0], _pair[1])
os.environ["EPICS_PVA_ADDR_LIST"] = " ".join(f"127.0.0.1:{u}" for _, u in PVA_PORTS.values())
os.environ["EPICS_PVA_AUTO_ADDR_LIST"] = "NO"


def pva_server_env(kind: str) -> dict[str, str]:
    """Environment of a pvAccess server process of this session (``kind`` in PVA_SERVERS):
    its own TCP and UDP ports, loopback only."""
    tcp, udp = PVA_PORTS[kind]
    return {"EPICS_PVAS_SERVER_PORT": str(tcp), "EPICS_PVAS_BROADCAST_PORT": str(udp),
            "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1",
            "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO", "EPICS_PVA_SERVER_PORT": str(tcp),
            "EPICS_PVA_BROADCAST_PORT": str(udp)}


@pytest.fixture
def engine(demo_ioc: object) -> Iterator[object]:
    """A fresh pvprobe Engine (CA context shared by the whole test process)."""
    from pvprobe.ca.engine import Engine

    eng = Engine(tick_hz=20)
    yield eng
    eng.close()


@pytest.fixture
def bridge(qtbot: object, engine: object) -> Iterator[object]:
    """A started EngineBridge on the ``engine`` fixture (GUI thread: needs qtbot's app)."""
    from pvprobe.qt.bridge import EngineBridge

    br = EngineBridge(engine)
    br.start()
    yield br
    br.stop()


def wait_listening(port: int, timeout: float, proc: Optional[subprocess.Popen] = None) -> bool:
    """True once a server accepts TCP connections on 127.0.0.1:port (bounded poll;
    gives up early when ``proc``, the server's process, has ended)."""
    import socket
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)  # ok-sleep: polling a server socket with a deadline
    return False


def show_main_window(qtbot: object, bridge: object, settings_path: Path, **options: object) -> object:
    """A shown MainWindow (1000x640) on ``bridge`` with its own settings file; closed
    without questions at teardown."""
    from pvprobe.qt.app.main_window import MainWindow
    from pvprobe.qt.app.settings import Settings

    win = MainWindow(bridge, settings=Settings(settings_path), **options)
    qtbot.addWidget(win, before_close_func=lambda w: setattr(w, "force_close", True))
    win.resize(1000, 640)
    win.show()
    return win


@pytest.fixture(scope="session")
def scalar_names(prefix: str) -> list[str]:
    """The demo IOC's 1,000 scalar PVs."""
    layout = (("ai", 400), ("ao", 100), ("bi", 100), ("bo", 100), ("mbbi", 50), ("mbbo", 50),
              ("longin", 100), ("stringin", 100))
    return [f"{prefix}{kind}:{i:03d}" for kind, n in layout for i in range(n)]


@pytest.fixture
def restartable_ioc(ca_repeater: object) -> Iterator[object]:
    """A second demo IOC on its own port, for tests that kill and restart it."""
    from pvprobe.demo.launcher import DemoIOC

    ioc = DemoIOC(prefix="PVPRST:", server_port=RESTART_PORT, repeater_port=REPEATER_PORT)
    ioc.start(timeout=60)
    yield ioc
    ioc.stop()


# -- string-array servers: a caproto IOC and an EPICS base soft IOC ------------------------

#: Runs argv[1:] in place of itself once the kernel will SIGKILL it when the pytest
#: process dies (PR_SET_PDEATHSIG survives exec): a run killed by a timeout or Ctrl-C
#: leaves no server behind holding its ports (finalizers never run then).
_DIE_WITH_PARENT = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(1)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def wait_until(pred, timeout: float, step: float = 0.05) -> bool:
    """Poll ``pred`` until it is true (True) or ``timeout`` seconds pass (False)."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)  # ok-sleep: bounded poll
    return False


def process_gone(pid: int) -> bool:
    """Whether process ``pid`` has exited (gone or a zombie waiting for its reaper)."""
    import psutil

    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def dies_with_parent(argv: list[str]) -> list[str]:
    """``argv`` started so that it dies with this process (see ``_DIE_WITH_PARENT``)."""
    return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *argv]


class ServerProcess:
    """A CA server in its own process (own session), serving on ``port``; stopped by PID."""

    def __init__(self, argv: list[str], port: int, prefix: str, stdin_pipe: bool = False) -> None:
        import subprocess

        env = dict(os.environ)
        env.update(loopback_env(port, REPEATER_PORT))
        env["EPICS_CA_MAX_ARRAY_BYTES"] = DEMO_MAX_ARRAY_BYTES
        self.port, self.prefix = port, prefix
        self.proc = subprocess.Popen(dies_with_parent(argv), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, start_new_session=True,
                                     stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL)
        self.pid = self.proc.pid

    def wait_listening(self, timeout: float) -> None:
        """Return once the server accepts TCP connections; raise if it died or the time passed."""
        import socket
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} before listening")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.05)  # ok-sleep: polling a server socket with a deadline
        self.stop()
        raise RuntimeError(f"server not listening on port {self.port} after {timeout} s")

    def stop(self) -> None:
        """SIGTERM by PID, then SIGKILL if it has not gone within 10 s."""
        import signal
        import subprocess

        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self.proc.stdin is not None:
            self.proc.stdin.close()


CAPROTO_PREFIX = "PVPCAP:"
SOFT_STRINGS_PREFIX = "PVPSWF:"


@pytest.fixture(scope="session")
def caproto_ioc(ca_repeater: object) -> Iterator[ServerProcess]:
    """``tests/servers/caproto_ioc.py`` (a caproto server: STRING arrays ``strs``, ``wstrs:0..9``,
    a scalar ``str``, an integer array ``long``) on its own port; ``.prefix``, ``.port``,
    ``.pid``. Stopped by PID at the end of the session."""
    import sys

    ioc = ServerProcess([sys.executable, str(SERVERS_DIR / "caproto_ioc.py"),
                         "--prefix", CAPROTO_PREFIX, "--interfaces", "127.0.0.1"],
                        CAPROTO_PORT, CAPROTO_PREFIX)
    ioc.wait_listening(60)
    yield ioc
    ioc.stop()


def strings_db(prefix: str, n_writable: int = 10) -> str:
    """EPICS base records matching ``tests/servers/caproto_ioc.py``: waveforms FTVL=STRING, NELM=5,
    holding ``string1 string2``."""
    def wf(name: str) -> str:
        return (f'record(waveform, "{prefix}{name}") {{ field(FTVL, "STRING") field(NELM, "5") '
                f'field(INP, {{const: ["string1", "string2"]}}) field(PINI, "YES") }}\n')
    return (wf("strs") + "".join(wf(f"wstrs:{i}") for i in range(n_writable))
            + f'record(stringout, "{prefix}str") {{ field(VAL, "hello") field(PINI, "YES") }}\n')


@pytest.fixture(scope="session")
def softioc_strings(ca_repeater: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """An EPICS base soft IOC (``python -m epicscorelibs.ioc``) serving the same STRING
    arrays as ``caproto_ioc`` (waveform FTVL=STRING), on its own port; stopped by PID."""
    import sys

    db = tmp_path_factory.mktemp("strings") / "strings.db"
    db.write_text(strings_db(SOFT_STRINGS_PREFIX))
    ioc = ServerProcess([sys.executable, "-m", "epicscorelibs.ioc", "-d", str(db)],
                        STRINGS_SOFT_PORT, SOFT_STRINGS_PREFIX, stdin_pipe=True)
    ioc.wait_listening(60)
    yield ioc
    ioc.stop()


# -- markers: live (a real CA server process) and slow ---------------------------------------
#: Modules whose tests start CA servers themselves, in the test body (an app with --demo,
#: a DemoIOC): the hook below cannot see that from their fixtures.
LIVE_MODULES = {"test_demo_ioc.py", "test_gui.py", "test_startup_sigint.py"}
#: Single tests that start a server in their body, in modules that are otherwise fast.
LIVE_TESTS = {"test_demo_ioc_subcommand_runs_in_foreground_and_prints_environment"}
#: Modules of long tests: 50,000-PV bursts, 20,000-PV connects, 75 SIGKILLed writers (~30 s).
SLOW_MODULES = {"test_burst.py", "test_connect_wait.py", "test_kill_writer.py"}


def _starts_a_server(fixturedef: object) -> bool:
    """A fixture that starts a CA server: every one takes ``ca_repeater`` (it needs the
    session's repeater port), or picks one with ``request.getfixturevalue`` (the servers
    a test runs against, e.g. ``server`` in test_string_arrays.py)."""
    import inspect

    if fixturedef.argname == "ca_repeater":            # autouse: the repeater is no IOC
        return False
    if "ca_repeater" in fixturedef.argnames:
        return True
    if fixturedef.params:
        try:
            return "getfixturevalue" in inspect.getsource(fixturedef.func)
        except (OSError, TypeError):
            return False
    return False


_TESTS_RUN = [0]


@pytest.fixture(scope="session", autouse=True)
def garbage_in_the_main_thread() -> Iterator[None]:
    """Cyclic garbage is collected in the main (GUI) thread only, for the whole session,
    as the app does while its engine runs (bridge.GuiThreadGarbage): tests leave engines,
    CA and pvxs threads behind whose allocations would otherwise trigger collections of
    earlier tests' Qt objects in those threads."""
    import gc

    was = gc.isenabled()
    gc.disable()
    yield
    if was:
        gc.enable()


@pytest.fixture(autouse=True)
def collect_after_each_test() -> Iterator[None]:
    """The young generations after every test, everything after every 25th (main thread)."""
    import gc

    yield
    _TESTS_RUN[0] += 1
    gc.collect(2 if _TESTS_RUN[0] % 25 == 0 else 1)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item):
    """Before pytest-qt deletes a test's widgets (its own teardown hook runs inside this
    one), stop every engine still feeding Qt: views deleted while a worker still sent
    them batches were seen to hang PyQt in ~PyQtSlotProxy after a failed check (a
    fixture that stops its bridge later finds it stopped: stop() is idempotent)."""
    try:
        from pvprobe.qt.bridge import EngineBridge
    except ImportError:         # no Qt in this run
        EngineBridge = None
    if EngineBridge is not None:
        for br in EngineBridge.running_bridges():
            try:
                br.stop()
            except Exception:   # the test's own teardown reports it
                pass
    return (yield)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark ``live`` every test that uses a server fixture (directly or through another,
    e.g. ``engine`` -> ``demo_ioc``), lives in LIVE_MODULES or is in LIVE_TESTS; ``slow`` those in
    SLOW_MODULES. ``python -m pytest -m "not live"`` runs the rest without any IOC."""
    for item in items:
        module = item.path.name
        defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
        if (module in LIVE_MODULES or getattr(item, "originalname", item.name) in LIVE_TESTS
                or any(_starts_a_server(d) for ds in defs.values() for d in ds)):
            item.add_marker(pytest.mark.live)
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


# -- pvAccess test servers: a p4p server ("nt"), a QSRV2 IOC ("qsrv"), pvapy's simulator --
#: PV prefixes of tests/servers/pva_server.py (session and restartable) and tests/servers/qsrv_ioc.py.
NT_PREFIX = "PVPNT:"
NT_RESTART_PREFIX = "PVPNTR:"
QSRV_PREFIX = "PVPQS:"
#: The NTNDArray channel of pvapy's areaDetector simulator.
ADSIM_CHANNEL = "PVPAD:image"
#: The CA side of the QSRV IOC (its own port; the client searches it too).
QSRV_CA_PORT = free_port()
while QSRV_CA_PORT in _taken:
    QSRV_CA_PORT = free_port()
_taken.add(QSRV_CA_PORT)
os.environ["EPICS_CA_ADDR_LIST"] += f" 127.0.0.1:{QSRV_CA_PORT}"


class PVAServerProcess(ServerProcess):
    """A pvAccess server in its own process on the ports of PVA server ``kind`` (and,
    with ``ca_port``, a CA server there); ``.port`` is its PVA TCP port. Stopped by PID."""

    def __init__(self, argv: list[str], kind: str, prefix: str, ca_port: Optional[int] = None) -> None:
        env = dict(os.environ)
        env.update(pva_server_env(kind))
        if ca_port is not None:
            env.update(loopback_env(ca_port, REPEATER_PORT))
            env["EPICS_CA_MAX_ARRAY_BYTES"] = DEMO_MAX_ARRAY_BYTES
        self.kind, self.port, self.prefix, self.ca_port = kind, PVA_PORTS[kind][0], prefix, ca_port
        self.proc = subprocess.Popen(dies_with_parent(argv), env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        self.pid = self.proc.pid


def start_nt_server(kind: str = "nt", prefix: str = NT_PREFIX, timeout: float = 60) -> PVAServerProcess:
    """``tests/servers/pva_server.py`` on the ports of PVA server ``kind``, listening when returned."""
    tcp, udp = PVA_PORTS[kind]
    srv = PVAServerProcess([sys.executable, str(SERVERS_DIR / "pva_server.py"), prefix,
                            str(tcp), str(udp)], kind, prefix)
    srv.wait_listening(timeout)
    return srv


@pytest.fixture(scope="session")
def pva_nt_server(ca_repeater: object) -> Iterator[PVAServerProcess]:
    """The p4p test server (tests/servers/pva_server.py: every NT shape, codecs, puts), prefix
    ``NT_PREFIX``, PVA kind "nt"; stopped by PID at the end of the session."""
    srv = start_nt_server()
    yield srv
    srv.stop()


@pytest.fixture
def pva_nt_restartable(ca_repeater: object) -> Iterator[list[PVAServerProcess]]:
    """A p4p test server of the test's own (prefix ``NT_RESTART_PREFIX``, PVA kind "spare3")
    that the test may stop and start again (``box[0] = start_nt_server("spare3",
    NT_RESTART_PREFIX)``); whatever is in ``box[0]`` is stopped at the end."""
    box = [start_nt_server("spare3", NT_RESTART_PREFIX)]
    yield box
    box[0].stop()


@pytest.fixture(scope="session")
def qsrv_ioc(ca_repeater: object) -> Iterator[PVAServerProcess]:
    """tests/servers/qsrv_ioc.py: pythonSoftIOC records over CA (port ``QSRV_CA_PORT``) and over
    PVA through QSRV2 (kind "qsrv"), prefix ``QSRV_PREFIX``; stopped by PID."""
    srv = PVAServerProcess([sys.executable, str(SERVERS_DIR / "qsrv_ioc.py"), QSRV_PREFIX],
                           "qsrv", QSRV_PREFIX, ca_port=QSRV_CA_PORT)
    srv.wait_listening(60)
    if not wait_listening(QSRV_CA_PORT, 30, srv.proc):
        srv.stop()
        raise RuntimeError(f"the QSRV IOC's CA server is not listening on {QSRV_CA_PORT}")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def pva_adsim(ca_repeater: object) -> Iterator[PVAServerProcess]:
    """pvapy's areaDetector simulator (``pvapy-ad-sim-server``), channel ``ADSIM_CHANNEL``,
    64×48 uint16 at 20 frames/s, no start delay, PVA kind "adsim"; skipped when pvapy is
    not installed."""
    import shutil

    exe = shutil.which("pvapy-ad-sim-server", path=str(Path(sys.executable).parent) + os.pathsep
                       + os.environ.get("PATH", ""))
    if exe is None:
        pytest.skip("pvapy (pvapy-ad-sim-server) is not installed")
    srv = PVAServerProcess([exe, "-cn", ADSIM_CHANNEL, "-nx", "64", "-ny", "48", "-dt", "uint16",
                            "-fps", "20", "-std", "0", "-rt", "3600", "-rp", "3600"],
                           "adsim", ADSIM_CHANNEL)
    srv.wait_listening(60)
    yield srv
    srv.stop()


class Collector:
    """Consumer for Engine.start: the newest state of each PV (and its samples); every
    batch acknowledged unless ``hold`` is set; ``keep_batches``: every batch kept too.
    :meth:`wait` polls a condition with a deadline."""

    def __init__(self, engine, keep_batches: bool = False):
        self.engine = engine
        self.keep_batches = keep_batches
        self.batches: list = []
        self.latest: dict = {}
        self.samples: dict = {}
        self.hold = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, batch):
        with self.lock:
            if self.keep_batches:
                self.batches.append(batch)
            for st in batch.states:
                self.latest[st.name] = st
                self.samples.setdefault(st.name, []).extend(st.samples)
        if not self.hold.is_set():
            self.engine.batch_done()

    def wait(self, predicate, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate():
                    return
            time.sleep(0.02)  # ok-sleep: polling a worker thread with a deadline
        raise AssertionError(f"timed out after {timeout} s waiting for {what}")
