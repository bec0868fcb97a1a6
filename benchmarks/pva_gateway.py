"""A real pvAccess gateway (``python -m p4p.gw CONFIG``) for the benchmarks.

The same set-up as the tests' gateway (``tests/servers/pva_gateway.py``; benchmarks do not
import tests): the gateway's client side searches the upstream servers' UDP ports
(which the measured client never searches), its server side listens on loopback on
its own TCP/UDP ports, every PV allowed, status PVs under ``GW:``. Started and
waited for with a deadline; stopped by PID (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from common import tcp_listening

ACF = "ASG(DEFAULT) { RULE(1, READ) RULE(1, WRITE) }\n"


class GatewayError(RuntimeError):
    """The gateway did not start; the message carries what it said."""


class Gateway:
    """``python -m p4p.gw`` between a client (``port``/``udp``) and upstream PVA servers
    whose UDP search ports are ``upstream_udp``."""

    def __init__(self, workdir: Path, port: int, udp: int, upstream_udp: list[int],
                 status: str = "GW:") -> None:
        self.workdir, self.port, self.udp = workdir, port, udp
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "gw.acf").write_text(ACF)
        (workdir / "gw.pvlist").write_text(".* ALLOW\n")
        config = {
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
        self.config_path.write_text(json.dumps(config, indent=1))
        self.log = workdir / "gw.log"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 30.0) -> Gateway:
        """Start; wait until it listens. GatewayError with its log tail otherwise."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("EPICS_PVA")}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "p4p.gw", str(self.config_path)],
                                         stdout=log, stderr=subprocess.STDOUT,
                                         env=dict(env, PYTHONUNBUFFERED="1"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise GatewayError(f"the gateway exited with {self.proc.returncode}: {self.tail()}")
            if tcp_listening(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        raise GatewayError(f"the gateway did not listen on {self.port} within {timeout} s: {self.tail()}")

    def tail(self) -> str:
        try:
            lines = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-3:])[-800:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
