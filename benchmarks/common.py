"""Shared helpers for the pvprobe benchmarks (no epics import here).

The benchmark drivers never load libca themselves: every CA client runs in its
own subprocess (``benchmarks/clients.py``) so its CPU time and RSS can be
measured alone, and every IOC (EPICS base soft IOC from ``epicscorelibs``) runs
in its own process on free loopback ports.

Records generated here:

* ``static``: ``ai`` records, no scanning (connect / memory benchmarks);
* ``updating``: ``calc`` records with ``SCAN=".1 second"`` and ``CALC="VAL+1"``.
  One record per PV, no input links: the cheapest way to make a base IOC post
  10 monitors/s per PV. Since each processing adds 1, a client can tell from
  the value how often the IOC really processed a record, whether or not the
  client saw every update.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Optional

import psutil

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from pvprobe.ca.repeater import ensure_repeater, stop_repeater  # noqa: E402
from pvprobe.core.caenv import free_port, loopback_env  # noqa: E402
from pvprobe.core.realtime import drop_realtime  # noqa: E402

# IOCs and clients started from here run without real-time EPICS threads, as the app
# and its demo IOC do (pvprobe.core.realtime): a root IOC's SCHED_FIFO threads would
# otherwise measure the kernel's scheduler, not the clients.
drop_realtime()

PY = sys.executable
CLIENTS = str(HERE / "clients.py")
MAX_ARRAY_BYTES = str(2 ** 24)


def log(*args: object) -> None:
    """Progress goes to stderr; stdout carries exactly one JSON line."""
    print("[bench]", *args, file=sys.stderr, flush=True)


def emit(result: dict) -> None:
    print(json.dumps(result, sort_keys=False), flush=True)


def ratio(a: Optional[float], b: Optional[float], nd: int = 2) -> Optional[float]:
    if a is None or b is None or b == 0:
        return None
    return round(a / b, nd)


def rnd(x: Optional[float], nd: int = 3) -> Optional[float]:
    return None if x is None else round(float(x), nd)


# ----------------------------------------------------------------------------- records

def pv_names(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i:06d}" for i in range(n)]


def write_db(path: Path, prefix: str, n: int, kind: str) -> list[str]:
    """Write ``n`` records named ``prefix000000``...; returns the names."""
    names = pv_names(prefix, n)
    parts = []
    if kind == "static":
        for i, name in enumerate(names):
            parts.append(f'record(ai, "{name}") {{\n  field(VAL, "{i}")\n  field(PINI, "YES")\n'
                         f'  field(EGU, "mm")\n  field(PREC, "2")\n}}\n')
    elif kind == "updating":
        for name in names:
            parts.append(f'record(calc, "{name}") {{\n  field(SCAN, ".1 second")\n'
                         f'  field(CALC, "VAL+1")\n}}\n')
    else:
        raise ValueError(kind)
    path.write_text("".join(parts))
    return names


# ----------------------------------------------------------------------------- processes

def cpu_seconds(pid: int) -> float:
    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


def cpu_percent(pid: int, seconds: float) -> float:
    """CPU use of ``pid`` over the next ``seconds`` (100 % = one core)."""
    p = psutil.Process(pid)
    t0, c0 = time.monotonic(), sum(p.cpu_times()[:2])
    time.sleep(seconds)
    t1, c1 = time.monotonic(), sum(p.cpu_times()[:2])
    return 100.0 * (c1 - c0) / (t1 - t0)


class CpuWindow:
    """CPU% of several processes over one window: ``start()`` then ``stop()``."""

    def __init__(self, pids: dict[str, int]):
        self.pids = pids
        self._t0 = 0.0
        self._c0: dict[str, float] = {}

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._c0 = {k: cpu_seconds(p) for k, p in self.pids.items()}

    def stop(self) -> dict[str, float]:
        dt = time.monotonic() - self._t0
        out = {}
        for k, p in self.pids.items():
            try:
                out[k] = round(100.0 * (cpu_seconds(p) - self._c0[k]) / dt, 1)
            except psutil.Error:
                out[k] = None
        return out


def kill_pid(proc: Optional[subprocess.Popen], grace: float = 3.0) -> None:
    """Stop a child we started, by its PID: SIGTERM, then SIGKILL."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


def tcp_listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        try:
            s.connect(("127.0.0.1", port))
            return True
        except OSError:
            return False


class IOC:
    """An EPICS base soft IOC (``python -m epicscorelibs.ioc -d file.db``) on its own port.

    The IOC runs an interactive Python console on stdin: we hold a pipe open and
    close it to stop the IOC (then SIGTERM/SIGKILL by PID if it lingers).
    """

    def __init__(self, db: Path, server_port: int, repeater_port: int, workdir: Path,
                 pva: bool = False):
        self.db = db
        self.pva = pva                      # also serve the records over pvAccess (QSRV2)
        self.pva_port = free_port()         # its PVA TCP and UDP (search) ports
        self.pva_udp = free_port()
        self.port = server_port
        self.repeater_port = repeater_port
        self.workdir = workdir
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(loopback_env(self.port, self.repeater_port))
        env.update({
            "EPICS_CA_MAX_ARRAY_BYTES": MAX_ARRAY_BYTES,
            # the IOC also starts a PVA server: keep it on loopback and free ports
            "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1",
            "EPICS_PVA_SERVER_PORT": str(self.pva_port),
            "EPICS_PVA_BROADCAST_PORT": str(self.pva_udp),
            "EPICS_PVAS_SERVER_PORT": str(self.pva_port),
            "EPICS_PVAS_BROADCAST_PORT": str(self.pva_udp),
            "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_ADDR_LIST": "127.0.0.1",
        })
        return env

    def start(self, timeout: float = 120.0) -> IOC:
        self._log = open(self.workdir / f"ioc-{self.port}.log", "wb")
        module = "pvxslibs.ioc" if self.pva else "epicscorelibs.ioc"   # pvxslibs: + QSRV2
        self.proc = subprocess.Popen([PY, "-m", module, "-d", str(self.db)],
                                     env=self.env(), stdin=subprocess.PIPE, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=str(self.workdir))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"IOC exited with {self.proc.returncode}; see {self._log.name}")
            if tcp_listening(self.port):
                # iocInit done (rsrv listens); let the PINI/scan start-up burst settle
                time.sleep(0.5)
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"IOC did not listen on {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(3.0)
            except subprocess.TimeoutExpired:
                kill_pid(self.proc)
        if self._log:
            self._log.close()


class Bench:
    """Temp dir + one CA repeater + IOCs; ``with Bench() as b:`` stops everything it started."""

    def __init__(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="pvprobe-bench-"))
        self.repeater_port = free_port()
        self.repeater: Optional[subprocess.Popen] = None
        self.iocs: list[IOC] = []
        self.children: list[subprocess.Popen] = []

    def __enter__(self) -> Bench:
        self.repeater = ensure_repeater(self.repeater_port, die_with_parent=True)
        return self

    def __exit__(self, *exc) -> None:
        for p in self.children:
            kill_pid(p)
        for ioc in self.iocs:
            try:
                ioc.stop()
            except Exception as e:  # keep stopping the rest
                log("IOC stop failed:", e)
        stop_repeater(self.repeater)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def ioc(self, prefix: str, n: int, kind: str, name: str = "ioc",
            pva: bool = False) -> tuple[IOC, list[str]]:
        db = self.tmp / f"{name}.db"
        names = write_db(db, prefix, n, kind)
        return self.ioc_multi([db], name, pva), names

    def ioc_multi(self, dbs: Sequence[Path], name: str = "ioc", pva: bool = False) -> IOC:
        if len(dbs) != 1:
            # concatenate: the tool takes one -d
            db = self.tmp / f"{name}-all.db"
            db.write_text("".join(Path(d).read_text() for d in dbs))
        else:
            db = dbs[0]
        ioc = IOC(db, free_port(), self.repeater_port, self.tmp, pva=pva)
        self.iocs.append(ioc)
        t0 = time.monotonic()
        ioc.start()
        log(f"IOC {name} up on port {ioc.port} in {time.monotonic() - t0:.1f} s (pid {ioc.pid})")
        return ioc

    def client_env(self, iocs: Iterable[IOC], **extra: str) -> dict[str, str]:
        iocs = list(iocs)
        env = dict(os.environ)
        env.update(loopback_env(iocs[0].port, self.repeater_port))
        if len(iocs) > 1:
            env["EPICS_CA_ADDR_LIST"] = " ".join(f"127.0.0.1:{i.port}" for i in iocs)
        env["EPICS_CA_MAX_ARRAY_BYTES"] = MAX_ARRAY_BYTES
        pva = [i for i in iocs if i.pva]
        if pva:       # each PVA server has its own search port: name them all
            env["EPICS_PVA_ADDR_LIST"] = " ".join(f"127.0.0.1:{i.pva_udp}" for i in pva)
            env["EPICS_PVA_AUTO_ADDR_LIST"] = "NO"
        # a settings file of the run's own: the user's would restore their tabs (and PVs)
        env["PVPROBE_SETTINGS"] = str(self.tmp / "pvprobe-settings.ini")
        env.update(extra)
        return env

    def write_list(self, names: Sequence[str], fname: str = "list.txt") -> Path:
        p = self.tmp / fname
        p.write_text("\n".join(names) + "\n")
        return p

    def spawn(self, argv: Sequence[str], env: dict[str, str], **kw) -> subprocess.Popen:
        proc = subprocess.Popen(list(argv), env=env, **kw)
        self.children.append(proc)
        return proc

    def run_client(self, mode: str, args: dict, env: dict[str, str], timeout: float) -> dict:
        """Run ``clients.py MODE`` with ``args`` (JSON on argv); returns its JSON line
        plus ``wall_s`` (process start to exit) and ``exit_code``."""
        argv = [PY, CLIENTS, mode, json.dumps(args)]
        t0 = time.monotonic()
        proc = self.spawn(argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_pid(proc)
            out, err = proc.communicate()
            log(f"client {mode} timed out after {timeout} s; stderr tail:", err.decode()[-2000:])
            return {"error": f"timeout after {timeout} s"}
        wall = time.monotonic() - t0
        lines = [ln for ln in out.decode().splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            log(f"client {mode} exit {proc.returncode}; stderr tail:", err.decode()[-2000:])
            res = {"error": f"exit code {proc.returncode}"}
        else:
            res = json.loads(lines[-1])
        res["wall_s"] = round(wall, 3)
        res["exit_code"] = proc.returncode
        return res


def run_client_windowed(b: Bench, mode: str, args: dict, env: dict[str, str], timeout: float,
                        watch: dict[str, int]) -> dict:
    """Like :meth:`Bench.run_client`, for clients that print ``{"event": "window_start"}``
    when their measuring window opens: CPU% of ``watch`` (name -> pid) plus the client
    itself (``client``) is measured over exactly that window (until the result line)."""
    import json as _json
    argv = [PY, CLIENTS, mode, _json.dumps(args)]
    proc = b.spawn(argv, env, stdout=subprocess.PIPE, stderr=None, text=True)
    deadline = time.monotonic() + timeout
    cw = None
    res: dict = {"error": "no result"}
    try:
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if not sel.select(timeout=0.5):
                if proc.poll() is not None:
                    break
                continue
            line = proc.stdout.readline()
            if not line:
                break
            line = line.strip()
            if not line.startswith("{"):
                continue
            d = _json.loads(line)
            if d.get("event") == "window_start":
                cw = CpuWindow(dict(watch, client=proc.pid))
                cw.start()
            else:
                res = d
                if cw is not None:
                    res["cpu_percent_window"] = cw.stop()
                break
        else:
            res = {"error": f"timeout after {timeout} s"}
        proc.wait(max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        kill_pid(proc)
        res.setdefault("error", "did not exit")
    res["exit_code"] = proc.returncode
    return res


def gui_run(b: Bench, label: str, pvlist, env: dict, ioc, warm: float, S: float) -> dict:
    """The GUI (offscreen) on ``pvlist`` with ``--stats``, quitting after ``warm + S + 1``
    s; CPU% of the GUI and the IOC over the steady window ``warm .. warm + S``. The
    stats file's figures plus ``quit_after``, ``exit_code``, ``cpu_percent_window``."""
    T = warm + S + 1.0
    stats = b.tmp / f"gui-stats-{label}.json"
    argv = [PY, "-m", "pvprobe", "--pvlist", str(pvlist), "--quit-after", f"{T:g}",
            "--stats", str(stats)]
    log(f"GUI {label}, --quit-after {T:g}, CPU window {warm:g}..{warm + S:g} s")
    t0 = time.monotonic()
    proc = b.spawn(argv, dict(env, QT_QPA_PLATFORM="offscreen"), stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    time.sleep(warm)
    cw = CpuWindow({"gui": proc.pid, "ioc": ioc.pid})
    cw.start()
    time.sleep(S)
    cpu = cw.stop()
    try:
        _, err = proc.communicate(timeout=T + 120 - (time.monotonic() - t0))
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    gui = json.loads(stats.read_text()) if stats.exists() else {"error": "no stats file"}
    if proc.returncode != 0:
        log("GUI stderr tail:", err.decode()[-1500:])
    gui.update({"quit_after": T, "exit_code": proc.returncode, "cpu_percent_window": cpu})
    log(label, gui)
    return gui
