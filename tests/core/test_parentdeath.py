"""core.parentdeath: a child started with ``mark_child_env`` dies with its parent
(no code between fork and exec: see the module's docstring)."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import process_gone, wait_until

from pvprobe.core.parentdeath import ENV, die_with_parent_from_env, mark_child_env

PARENT = """
import subprocess, sys, time
from pvprobe.core.parentdeath import mark_child_env
import os
child = subprocess.Popen([sys.executable, "-c",
    "from pvprobe.core.parentdeath import die_with_parent_from_env as d; import time; "
    "print('ARMED' if d() else 'NOT ASKED', flush=True); time.sleep(120)"],  # ok-sleep
    env=mark_child_env(dict(os.environ)))
print(child.pid, flush=True)
time.sleep(120)  # ok-sleep: until the test kills this process
"""


def test_the_child_dies_with_its_parent() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        pid = int(parent.stdout.readline())
        assert parent.stdout.readline().strip() == "ARMED"     # the child made its request
        parent.kill()
        parent.wait(10)
        assert wait_until(lambda: process_gone(pid), 10), "the child outlived its killed parent"
    finally:
        parent.kill()
        parent.wait(10)


def test_without_the_variable_nothing_is_asked() -> None:
    env: dict[str, str] = {}
    assert die_with_parent_from_env(env) is False
    mark_child_env(env)
    assert env[ENV] == str(os.getpid())
