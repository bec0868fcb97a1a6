"""The harness: a server a fixture starts dies with the pytest process, even when
pytest is killed before its finalizers run (a CI timeout, Ctrl-C twice)."""

from __future__ import annotations

import subprocess
import sys

import psutil
from conftest import TESTS_DIR, process_gone, wait_until

PARENT = """
import subprocess, sys, time
sys.path.insert(0, sys.argv[1])
from conftest import dies_with_parent
p = subprocess.Popen(dies_with_parent([sys.executable, "-c", "import time; time.sleep(120)"]))  # ok-sleep
print(p.pid, flush=True)
time.sleep(120)  # ok-sleep: until the test kills this process
"""


def test_a_fixture_server_dies_when_pytest_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", PARENT, str(TESTS_DIR)], stdout=subprocess.PIPE,
                              text=True)
    try:
        pid = int(parent.stdout.readline())
        server = psutil.Process(pid)
        # the launcher has exec'd the server (same pid, the server's command line)
        assert wait_until(lambda: "sleep(120)" in " ".join(server.cmdline()), 20)
        parent.kill()
        parent.wait(10)
        assert wait_until(lambda: process_gone(pid), 10), "the server outlived the killed test process"
    finally:
        parent.kill()
        parent.wait(10)
