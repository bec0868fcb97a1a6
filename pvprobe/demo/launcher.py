"""Launch the demo IOC in its own process, isolated on loopback, and stop it cleanly.

No epics import: the IOC runs in a child process (``python -m pvprobe.demo.ioc``)
so its IOC libraries never meet pyepics' libca.
"""

from __future__ import annotations

import atexit
import collections
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from typing import IO, Optional

from pvprobe.ca.repeater import ensure_repeater, stop_repeater
from pvprobe.core.caenv import free_port, loopback_env
from pvprobe.core.parentdeath import mark_child_env
from pvprobe.demo.ioc import DEFAULT_PREFIX, MIN_ARRAY_BYTES, READY_TOKEN

_LIVE: weakref.WeakSet[DemoIOC] = weakref.WeakSet()


class DemoIOCError(RuntimeError):
    """The demo IOC failed to start (the message carries its stderr tail)."""


class DemoIOCCancelled(DemoIOCError):
    """start() was cancelled (Ctrl-C) before the IOC was ready; nothing is left running."""


def _free_port_pair() -> tuple[int, int]:
    """Two different free loopback ports (server, repeater)."""
    server = free_port()
    for _ in range(50):
        repeater = free_port()
        if repeater != server:
            return server, repeater
    raise DemoIOCError("could not find two distinct free ports")


def _free_ports(n: int, taken: tuple[Optional[int], ...] = ()) -> list[int]:
    """``n`` different free loopback ports, none of ``taken``."""
    ports: list[int] = []
    for _ in range(50 * n):
        port = free_port()
        if port not in ports and port not in taken:
            ports.append(port)
            if len(ports) == n:
                return ports
    raise DemoIOCError(f"could not find {n} distinct free ports")


def pva_server_env(tcp_port: int, udp_port: int) -> dict[str, str]:
    """pvAccess server settings of the IOC: its own TCP and UDP (search) ports, loopback only."""
    return {"EPICS_PVAS_SERVER_PORT": str(tcp_port), "EPICS_PVAS_BROADCAST_PORT": str(udp_port),
            "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1",
            "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO"}


def pva_client_env(udp_port: int) -> dict[str, str]:
    """pvAccess client settings that search only the IOC (pvxs takes host:port entries)."""
    return {"EPICS_PVA_ADDR_LIST": f"127.0.0.1:{udp_port}", "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_BROADCAST_PORT": str(udp_port)}


def _array_bytes(environ: dict[str, str]) -> str:
    """16 MiB unless the user asked for more."""
    try:
        user = int(environ.get("EPICS_CA_MAX_ARRAY_BYTES", "0"))
    except ValueError:
        user = 0
    return str(max(user, MIN_ARRAY_BYTES))


class DemoIOC:
    """The demo IOC as a child process; a context manager.

    The child gets PR_SET_PDEATHSIG(SIGKILL): Linux fires it when the *thread*
    that called start() exits, so call start() from a long-lived thread (the
    GUI/main thread), not from a short-lived worker.

    The IOC serves pvAccess too (QSRV2 and the PVA camera, one UDP search port and
    TCP ports of their own): ``pva_ports`` = (TCP, UDP) of QSRV2, chosen free when
    None; ``pva=False`` serves CA only.

    >>> with DemoIOC() as ioc:          # doctest: +SKIP
    ...     os.environ.update(ioc.client_env)
    """

    def __init__(self, prefix: str = DEFAULT_PREFIX, server_port: Optional[int] = None,
                 repeater_port: Optional[int] = None,
                 pva_ports: Optional[tuple[int, int]] = None, pva: bool = True) -> None:
        self._prefix = prefix
        self._server_port = server_port
        self._repeater_port = repeater_port
        self._pva = pva
        self._pva_ports = pva_ports
        self._proc: Optional[subprocess.Popen] = None
        self._repeater: Optional[subprocess.Popen] = None
        self._log: Optional[IO[bytes]] = None
        self._stdout_lines: collections.deque[str] = collections.deque(maxlen=200)
        self._ready = threading.Event()
        self._reader: Optional[threading.Thread] = None
        _LIVE.add(self)

    # -- properties -------------------------------------------------------

    @property
    def prefix(self) -> str:
        return self._prefix

    @property
    def pid(self) -> Optional[int]:
        return self._proc.pid if self._proc is not None else None

    @property
    def server_port(self) -> Optional[int]:
        return self._server_port

    @property
    def repeater_port(self) -> Optional[int]:
        return self._repeater_port

    @property
    def pva_ports(self) -> Optional[tuple[int, int]]:
        """(TCP, UDP) ports of the IOC's pvAccess server; None before start() or without PVA."""
        return self._pva_ports if self._pva else None

    @property
    def client_env(self) -> dict[str, str]:
        """CA (and pvAccess) variables a client must set to reach this IOC (ports chosen
        at start)."""
        if self._server_port is None or self._repeater_port is None:
            raise DemoIOCError("ports are chosen by start(); call it first")
        env = loopback_env(self._server_port, self._repeater_port)
        env["EPICS_CA_MAX_ARRAY_BYTES"] = _array_bytes(dict(os.environ))
        if self.pva_ports is not None:
            env.update(pva_client_env(self.pva_ports[1]))
        return env

    def _server_env(self) -> dict[str, str]:
        """The IOC process's environment: ours, the client settings (printed by the IOC)
        and its pvAccess server ports."""
        env = dict(os.environ)
        env.update(self.client_env)
        if self.pva_ports is not None:
            env.update(pva_server_env(*self.pva_ports))
        return env

    @property
    def stdout_lines(self) -> list[str]:
        """The last lines the IOC printed on stdout (client exports, banner...)."""
        return list(self._stdout_lines)

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle --------------------------------------------------------

    def start(self, timeout: float = 60.0, cancel: Optional[threading.Event] = None) -> DemoIOC:
        """Spawn the IOC and wait (bounded) for its ready line; raises DemoIOCError, or
        DemoIOCCancelled once ``cancel`` is set (the IOC and repeater are stopped)."""
        if self.is_running():
            return self
        if self._server_port is None or self._repeater_port is None:
            server, repeater = _free_port_pair()
            self._server_port = self._server_port or server
            self._repeater_port = self._repeater_port or repeater
        if self._pva and self._pva_ports is None:
            tcp, udp = _free_ports(2, (self._server_port, self._repeater_port))
            self._pva_ports = (tcp, udp)
        env = self._server_env()
        if self._repeater is None or self._repeater.poll() is not None:
            self._repeater = ensure_repeater(self._repeater_port, die_with_parent=True)
        self._spawn(env)
        self._wait_ready(timeout, cancel)
        return self

    def _spawn(self, env: dict[str, str]) -> None:
        self._close_log()
        self._log = tempfile.NamedTemporaryFile(prefix="pvprobe-demo-ioc-", suffix=".log",
                                                delete=False)
        self._ready.clear()
        self._stdout_lines.clear()
        cmd = [sys.executable, "-m", "pvprobe.demo.ioc", "--prefix", self._prefix]
        if not self._pva:
            cmd.append("--no-pva")
        self._proc = subprocess.Popen(      # no preexec_fn: see core.parentdeath
            cmd, env=mark_child_env(dict(env)), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=self._log, start_new_session=True, close_fds=True)
        self._reader = threading.Thread(target=self._drain, args=(self._proc,),
                                        name="demo-ioc-stdout", daemon=True)
        self._reader.start()

    def _drain(self, proc: subprocess.Popen) -> None:
        """Read the child's stdout to EOF (never let the pipe fill); flag readiness."""
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self._stdout_lines.append(line)
            if line.startswith(READY_TOKEN):
                self._ready.set()
        proc.stdout.close()

    def _wait_ready(self, timeout: float, cancel: Optional[threading.Event] = None) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return
            if cancel is not None and cancel.is_set():
                self._cleanup_failed()
                raise DemoIOCCancelled("demo IOC start cancelled")
            if self._proc is not None and self._proc.poll() is not None:
                code = self._proc.returncode
                tail = self.stderr_tail()
                self._cleanup_failed()
                raise DemoIOCError(f"demo IOC exited with code {code} before it was ready:\n"
                                   f"{tail}")
        tail = self.stderr_tail()
        self._cleanup_failed()
        raise DemoIOCError(f"demo IOC not ready within {timeout} s:\n{tail}")

    def _cleanup_failed(self) -> None:
        self._stop_ioc(2.0)
        stop_repeater(self._repeater)
        self._repeater = None
        self._close_log()

    def stderr_tail(self, max_chars: int = 4000) -> str:
        """The end of the IOC's stderr log (for error messages)."""
        if self._log is None:
            return ""
        try:
            with open(self._log.name, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - max_chars))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _stop_ioc(self, timeout: float) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)
            except ProcessLookupError:
                pass
        if self._reader is not None:
            self._reader.join(timeout)
            self._reader = None
        self._proc = None

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, wait, then SIGKILL; also stops a repeater we started. Idempotent."""
        self._stop_ioc(timeout)
        stop_repeater(self._repeater)
        self._repeater = None
        self._close_log()

    def restart(self, timeout: float = 60.0) -> DemoIOC:
        """Stop the IOC and start it again on the same ports (repeater kept running)."""
        self._stop_ioc(5.0)
        return self.start(timeout)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            try:
                os.unlink(self._log.name)
            except OSError:
                pass
            self._log = None

    def __enter__(self) -> DemoIOC:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running() else "stopped"
        return (f"DemoIOC(prefix={self._prefix!r}, server_port={self._server_port}, "
                f"repeater_port={self._repeater_port}, pva_ports={self.pva_ports}, {state})")


@atexit.register
def _stop_all() -> None:
    """Never leave a demo IOC behind when the app exits normally."""
    for ioc in list(_LIVE):
        try:
            ioc.stop(timeout=2.0)
        except Exception:
            pass
