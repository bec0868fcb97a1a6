"""Start a CA repeater (caproto's) so libca finds one and prints no 'caRepeater' noise.

pyepics bundles libca but no ``caRepeater`` executable; libca then prints "The
executable 'caRepeater' couldn't be located" unless a repeater already listens
on EPICS_CA_REPEATER_PORT.  No epics import here: this runs before libca loads.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Optional

from pvprobe.core.caenv import udp_port_in_use

DEFAULT_REPEATER_PORT = 5065
REPEATER_MODULE = "caproto.commandline.repeater"   # what `caproto-repeater` runs
_PR_SET_PDEATHSIG = 1


class RepeaterError(RuntimeError):
    """The repeater process did not start or did not bind its port."""


def repeater_port(port: Optional[int] = None) -> int:
    """``port``, else $EPICS_CA_REPEATER_PORT, else 5065."""
    if port is not None:
        return int(port)
    return int(os.environ.get("EPICS_CA_REPEATER_PORT", DEFAULT_REPEATER_PORT))


def pdeathsig_preexec(sig: int = signal.SIGKILL) -> Optional[Callable[[], None]]:
    """A preexec_fn making the child receive ``sig`` when its parent dies (Linux only).

    Note: Linux delivers it when the *thread* that spawned the child exits, so
    spawn from a long-lived thread (the main thread, normally).
    """
    if not sys.platform.startswith("linux"):
        return None
    parent = os.getpid()
    libc = ctypes.CDLL(None, use_errno=True)   # resolved before fork

    def preexec() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:      # parent died before prctl took effect
            os._exit(1)

    return preexec


def ensure_repeater(port: Optional[int] = None, timeout: float = 5.0, *,
                    die_with_parent: bool = False) -> Optional[subprocess.Popen]:
    """Make sure a CA repeater listens on ``port``; return the Popen if we started one.

    ``die_with_parent=True`` ties the repeater to this process (private test/demo
    ports); otherwise it is detached in its own session and outlives us, like a
    system caRepeater.  Returns None when the port is already taken.
    """
    port = repeater_port(port)
    if udp_port_in_use(port):
        return None
    env = dict(os.environ, EPICS_CA_REPEATER_PORT=str(port))
    kwargs: dict = dict(env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL, close_fds=True)
    if die_with_parent:
        kwargs["preexec_fn"] = pdeathsig_preexec()
    else:
        kwargs["start_new_session"] = True
    proc = subprocess.Popen([sys.executable, "-m", REPEATER_MODULE, "-q"], **kwargs)
    _wait_bound(proc, port, timeout)
    return proc


def _wait_bound(proc: subprocess.Popen, port: int, timeout: float) -> None:
    """Wait until ``port`` is bound; raise RepeaterError if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if udp_port_in_use(port):
            return
        if proc.poll() is not None:
            if udp_port_in_use(port):   # lost a race with another repeater: fine
                return
            raise RepeaterError(f"CA repeater exited with code {proc.returncode} "
                                f"before binding UDP port {port}")
        time.sleep(0.05)
    stop_repeater(proc)
    raise RepeaterError(f"CA repeater did not bind UDP port {port} within {timeout} s")


def stop_repeater(proc: Optional[subprocess.Popen], timeout: float = 3.0) -> None:
    """Terminate a repeater we started (no-op for None or an exited process)."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)
