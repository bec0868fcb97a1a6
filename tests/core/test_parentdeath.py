"""core.parentdeath: a child started with ``mark_child_env`` dies with its parent
(no code between fork and exec: see the module's docstring)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from pvprobe.core.parentdeath import ENV, die_with_parent_from_env, mark_child_env

PARENT = """
import subprocess, sys, time
from pvprobe.core.parentdeath import mark_child_env
import os
child = subprocess.Popen([sys.executable, "-c",
    "from pvprobe.core.parentdeath import die_with_parent_from_env as d; import time; "
    "print('ARMED' if d() else 'NOT ASKED', flush=True); time.sleep(120)"],
    env=mark_child_env(dict(os.environ)))
print(child.pid, flush=True)
time.sleep(120)
"""


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)  # ok-sleep: bounded poll
    return False


def test_the_child_dies_with_its_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        child = psutil.Process(int(parent.stdout.readline()))
        assert parent.stdout.readline().strip() == "ARMED"     # the child made its request
        parent.kill()
        parent.wait(10)

        def gone() -> bool:
            try:
                return child.status() == psutil.STATUS_ZOMBIE
            except psutil.NoSuchProcess:
                return True
        assert _wait(gone, 10), "the child outlived its killed parent"
    finally:
        parent.kill()
        parent.wait(10)


def test_without_the_variable_nothing_is_asked() -> None:
    env: dict[str, str] = {}
    assert die_with_parent_from_env(env) is False
    mark_child_env(env)
    assert env[ENV] == str(os.getpid())
