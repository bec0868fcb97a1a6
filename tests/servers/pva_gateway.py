"""A real pvAccess gateway (``python -m p4p.gw``) between the test client and
upstream p4p servers on ports the client does not search: every PVA answer the
client gets for these names comes through the gateway. Used by test fixtures."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent

#: The gateway's access rules: the default group reads and writes, RO only reads.
ACF = "ASG(DEFAULT) { RULE(1, READ) RULE(1, WRITE) }\nASG(RO) { RULE(1, READ) }\n"


class GatewayError(RuntimeError):
    """The gateway did not start; the message carries what it said."""


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


class Upstream:
    """One p4p server process behind the gateway (``tests/gateway_upstream.py``)."""

    def __init__(self, prefix: str, n: int, rate: float, tcp: int, udp: int,
                 dup: Optional[str] = None) -> None:
        self.prefix, self.n, self.tcp, self.udp = prefix, n, tcp, udp
        argv = [sys.executable, str(HERE / "gateway_upstream.py"), prefix, str(n), str(rate),
                str(tcp), str(udp)] + ([dup] if dup else [])
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("READY"):
            err = self.proc.stderr.read() if self.proc.stderr else ""
            self.stop()
            raise GatewayError(f"upstream server {prefix} did not start: {line!r} {err[-500:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)


class Gateway:
    """``python -m p4p.gw CONFIG`` listening on ``port``/``udp`` (loopback), searching
    the upstream servers' UDP ports; status PVs under ``status``. Stopped by PID."""

    def __init__(self, workdir: Path, port: int, udp: int, upstream_udp: list[int],
                 pvlist: str = ".* ALLOW\n", status: str = "GW:",
                 config: Optional[dict] = None) -> None:
        self.workdir, self.port, self.udp, self.status = workdir, port, udp, status
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "gw.acf").write_text(ACF)
        (workdir / "gw.pvlist").write_text(pvlist)
        self.config = config if config is not None else {
            "version": 2, "readOnly": False,
            "clients": [{"name": "up", "provider": "pva", "autoaddrlist": False,
                         "addrlist": " ".join(f"127.0.0.1:{u}" for u in upstream_udp),
                         "bcastport": upstream_udp[0]}],
            "servers": [{"name": "down", "clients": ["up"], "interface": ["127.0.0.1"],
                         "addrlist": "127.0.0.1", "autoaddrlist": False, "serverport": port,
                         "bcastport": udp, "statusprefix": status,
                         "access": str(workdir / "gw.acf"), "pvlist": str(workdir / "gw.pvlist")}],
        }
        self.config_path = workdir / "gw.json"
        self.config_path.write_text(json.dumps(self.config, indent=1))
        self.proc: Optional[subprocess.Popen] = None
        self.log = workdir / "gw.log"

    def start(self, timeout: float = 30.0) -> Gateway:
        """Start and wait until it listens; GatewayError with its own words if it exits
        (a config it refuses) or does not listen in time."""
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "p4p.gw", str(self.config_path)],
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                         env=dict(os.environ, PYTHONUNBUFFERED="1"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise GatewayError(f"the gateway exited with {self.proc.returncode}: {self._tail()}")
            if _listening(self.port):
                return self
            time.sleep(0.1)  # ok-sleep: polling the gateway's socket with a deadline
        self.stop()
        raise GatewayError(f"the gateway did not listen on {self.port} within {timeout} s: {self._tail()}")

    def _tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        errors = [ln for ln in lines if "rror" in ln or "xception" in ln]
        return " | ".join((errors or lines)[-3:])[-800:]

    def kill(self) -> None:
        """SIGKILL by PID (the gateway dies as a crashed one would)."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
