"""More faults done for real: an IOC that stops answering (SIGSTOP) and resumes
(SIGCONT); two IOCs serving the same PV names. The clients are pvprobe engines in
their own processes (``tests/servers/fault_client.py``), each with its own CA environment
(a short EPICS_CA_CONN_TMO; an address list naming both duplicate IOCs)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Optional

import pytest
from conftest import REPEATER_PORT, ROOT, SERVERS_DIR, wait_listening

from pvprobe.core.caenv import free_port, loopback_env

pytestmark = pytest.mark.timeout(200)

CLIENT = SERVERS_DIR / "fault_client.py"


def _env(server_port: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(loopback_env(server_port, REPEATER_PORT))
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


class SoftIOC:
    """An EPICS base soft IOC (epicscorelibs) in its own process; stdin is our pipe."""

    def __init__(self, db: Path, port: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "epicscorelibs.ioc", "-d", str(db)], env=_env(port),
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)   # a stopped process cannot die of SIGTERM
            self.proc.kill()
        self.proc.wait(10)


class Client:
    """tests/servers/fault_client.py: JSON lines read by a thread into a queue."""

    def __init__(self, names: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([sys.executable, str(CLIENT), *names], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.lines: queue.Queue[dict] = queue.Queue()
        self.last: dict = {}
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.put(json.loads(line))
            except ValueError:
                pass

    def wait_for(self, pred, timeout: float) -> Optional[dict]:
        """The first line (from now on, or the last one seen) satisfying ``pred``."""
        if self.last and pred(self.last):
            return self.last
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                d = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.last = d
            if pred(d):
                return d
        return None

    def stop(self) -> str:
        """Quit; returns its stderr."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
            self.proc.wait(20)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(10)
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


def _db(tmp_path: Path, prefix: str, n: int) -> Path:
    p = tmp_path / f"{prefix.strip(':')}.db"
    recs = [f'record(calc, "{prefix}c{i:04d}") {{ field(SCAN, "1 second") field(CALC, "A+1") '
            f'field(INPA, "{prefix}c{i:04d}") }}' for i in range(n)]
    p.write_text("\n".join(recs) + "\n")
    return p


@pytest.fixture
def ioc_pair(tmp_path: Path, ca_repeater: object) -> Iterator[tuple[list, list[str]]]:
    iocs: list[SoftIOC] = []
    yield iocs, []
    for ioc in iocs:
        ioc.stop()


# -- 2. SIGSTOP / SIGCONT --------------------------------------------------------------------

def test_sigstop_then_sigcont(tmp_path: Path, ioc_pair) -> None:
    """A frozen IOC keeps its TCP connection open: only EPICS_CA_CONN_TMO (3 s here,
    plus libca's echo wait) finds it dead. After SIGCONT every PV comes back by itself."""
    iocs, _ = ioc_pair
    port = free_port()
    n = 200
    iocs.append(SoftIOC(_db(tmp_path, "PVPSTOP:", n), port))
    names = [f"PVPSTOP:c{i:04d}" for i in range(n)]
    client = Client(names, _env(port, EPICS_CA_CONN_TMO="3"))
    try:
        assert client.wait_for(lambda d: d["connected"] == n, 30), "never all connected"
        # the subscriptions are answered: every PV has its value before the IOC stops
        assert client.wait_for(lambda d: d["valued"] == n, 30), "not every PV got its value"
        t0 = time.monotonic()
        os.kill(iocs[0].proc.pid, signal.SIGSTOP)
        # libca: no traffic for CONN_TMO -> echo request -> no reply within CONN_TMO -> down
        down = client.wait_for(lambda d: d["connected"] == 0, 3 + 3 + 10)
        t_down = time.monotonic() - t0
        assert down is not None, f"still connected {t_down:.1f} s after SIGSTOP"
        assert t_down >= 2.5      # not before the timeout: the IOC was only silent
        t1 = time.monotonic()
        os.kill(iocs[0].proc.pid, signal.SIGCONT)
        up = client.wait_for(lambda d: d["connected"] == n, 30)
        assert up is not None, "not all PVs back after SIGCONT"
        print("SIGSTOP-FIGURES", json.dumps({"pvs": n, "conn_tmo_s": 3,
                                             "disconnected_after_s": round(t_down, 2),
                                             "reconnected_after_s": round(time.monotonic() - t1, 2)}))
    finally:
        err = client.stop()
    assert "Traceback" not in err, err


# -- 3. the same name served by two IOCs -------------------------------------------------------

def test_duplicate_pv_names_warn(tmp_path: Path, ioc_pair) -> None:
    iocs, _ = ioc_pair
    p1, p2 = free_port(), free_port()
    n = 5
    db = _db(tmp_path, "PVPDUP:", n)
    iocs.append(SoftIOC(db, p1))
    iocs.append(SoftIOC(db, p2))
    # libca reports a duplicate only when both servers answer the same search: the
    # client starts once both IOCs serve (else it may connect before the second is up)
    for port in (p1, p2):
        assert wait_listening(port, 30), f"IOC on {port} never listened"
    names = [f"PVPDUP:c{i:04d}" for i in range(n)]
    env = _env(p1, EPICS_CA_ADDR_LIST=f"127.0.0.1:{p1} 127.0.0.1:{p2}")
    client = Client(names, env)
    warnings: list[str] = []
    try:
        def seen(d: dict) -> bool:
            warnings.extend(d["warnings"])
            return d["connected"] == n and len({w.split()[1] for w in warnings}) >= n
        # the second IOC may start a little later: its answers still arrive as duplicates
        last = client.wait_for(seen, 30)
        assert last is not None, f"warnings seen: {warnings}"
    finally:
        err = client.stop()
    assert client.proc.returncode == 0, err
    for name in names:
        w = [x for x in warnings if x.startswith(f"PV {name}:")]
        assert w, (name, warnings)
        # "PV X: served by localhost:p1 and localhost:p2 (duplicate; using the first)"
        assert "served by" in w[0] and "(duplicate; using the first)" in w[0], w[0]
        ports = {hp.rsplit(":", 1)[-1] for hp in w[0].split("served by ")[1].split(" (")[0].split(" and ")}
        assert ports == {str(p1), str(p2)}, w[0]
    # our handler replaced libca's default one, which prints to stderr
    assert "CA.Client.Exception" not in err, err
    assert "Traceback" not in err, err
