"""Children that die with pvprobe, without code between fork and exec.

A ``preexec_fn`` runs Python in the forked child of a multi-threaded process
(libca's, pvxs's and pvprobe's own threads): CPython then runs its at-fork hooks
there, and a lock another thread held at the fork stays held for ever. A demo IOC
restart once hung so in ``Popen`` (the parent waiting on the exec pipe). Instead the
parent names itself in the child's environment and the child, once it runs, asks
Linux for SIGKILL when that parent goes (``PR_SET_PDEATHSIG``: delivered when the
*thread* that started the child exits, so start such children from a long-lived
thread)."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import MutableMapping

#: The environment variable that carries the parent's pid to the child.
ENV = "PVPROBE_DIE_WITH_PARENT"
_PR_SET_PDEATHSIG = 1


def mark_child_env(env: MutableMapping[str, str]) -> MutableMapping[str, str]:
    """Ask the child started with ``env`` to die with this process; returns ``env``."""
    env[ENV] = str(os.getpid())
    return env


def die_with_parent_from_env(environ: MutableMapping[str, str] = os.environ) -> bool:
    """In a child: if its environment names a parent, die (SIGKILL) when that parent
    goes, and exit now if it is already gone. True when the request was made."""
    value = environ.pop(ENV, "")
    if not value or not sys.platform.startswith("linux"):
        return False
    import ctypes

    parent = int(value)
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:      # the parent died before the request took effect
        os._exit(1)
    return True
