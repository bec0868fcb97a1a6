"""Start a CA repeater (caproto's) so libca finds one and prints no 'caRepeater' noise.

pyepics bundles libca but no ``caRepeater`` executable; libca then prints "The
executable 'caRepeater' couldn't be located" unless a repeater already listens
on EPICS_CA_REPEATER_PORT.  No epics import here: this runs before libca loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Optional

from pvprobe.core.caenv import udp_port_in_use
from pvprobe.core.parentdeath import mark_child_env

DEFAULT_REPEATER_PORT = 5065
REPEATER_MODULE = "caproto.commandline.repeater"   # what `caproto-repeater` runs
#: The same repeater, dying with the process that started it (``die_with_parent``).
REPEATER_DYING_MODULE = "pvprobe.ca.repeater_main"


class RepeaterError(RuntimeError):
    """The repeater process did not start or did not bind its port."""


def repeater_port(port: Optional[int] = None) -> int:
    """``port``, else $EPICS_CA_REPEATER_PORT, else 5065."""
    if port is not None:
        return int(port)
    return int(os.environ.get("EPICS_CA_REPEATER_PORT", DEFAULT_REPEATER_PORT))


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
    module = REPEATER_MODULE
    if die_with_parent:      # the child asks for it itself (see core.parentdeath)
        mark_child_env(env)
        module = REPEATER_DYING_MODULE
    else:
        kwargs["start_new_session"] = True
    proc = subprocess.Popen([sys.executable, "-m", module, "-q"], **kwargs)
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
