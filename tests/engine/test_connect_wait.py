"""Waiting for many PVs: the CLI keeps waiting while connections and values keep
arriving and gives up only after a quiet spell of ``--timeout`` seconds (issue 12,
item 3). A real EPICS base soft IOC of 20,000 ``ai`` records on its own free port,
CPU hogs on the (2-core) machine, the CLI as a separate process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPEATER_PORT, wait_listening

from pvprobe.core.caenv import free_port, loopback_env
from pvprobe.core.snapshot import read_snapshot

pytestmark = pytest.mark.timeout(300)

N = 20000
PREFIX = "PVPCW:"


def _names(n: int) -> list[str]:
    return [f"{PREFIX}ai{i:05d}" for i in range(n)]


@pytest.fixture
def big_ioc(tmp_path: Path, ca_repeater: object) -> Iterator[int]:
    """An EPICS base soft IOC serving N ai records (VAL = index); yields its port."""
    db = tmp_path / "big.db"
    db.write_text("".join(f'record(ai, "{n}") {{ field(VAL, "{i}") field(PINI, "YES") }}\n'
                          for i, n in enumerate(_names(N))))
    port = free_port()
    env = dict(os.environ)
    env.update(loopback_env(port, REPEATER_PORT))
    proc = subprocess.Popen([sys.executable, "-m", "epicscorelibs.ioc", "-d", str(db)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert wait_listening(port, 90, proc), "the IOC did not start"
        yield port
    finally:
        proc.kill()
        proc.wait(10)


@pytest.fixture
def cpu_hogs() -> Iterator[list[int]]:
    """Two busy-loop processes (the machine has 2 cores): a loaded machine. They stay in
    the test's session, so with autogroup scheduling they share the CLI's CPU share
    rather than getting groups of their own. Stopped by PID."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            os.kill(p.pid, signal.SIGKILL)
            p.wait(10)


def _client_env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(loopback_env(port, REPEATER_PORT))
    env["EPICS_CA_ADDR_LIST"] = f"127.0.0.1:{port}"
    return env


def _pvprobe(env: dict[str, str], *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pvprobe", *args], env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _saved(path: Path) -> dict[str, str]:
    """NAME -> value text of the rows that have a value."""
    return {r.name: r.value_text for r in read_snapshot(str(path)).rows if r.has_value}


@pytest.mark.parametrize("timeout", [None, "0.5"])
def test_snapshot_save_of_20000_pvs_on_a_loaded_machine_saves_all(big_ioc, cpu_hogs, tmp_path,
                                                                  timeout):
    """The IOC started just before, two CPU hogs: all 20,000 saved, exit 0 — with the
    default timeout and with a timeout (0.5 s) shorter than connecting them all takes:
    the wait goes on while connections and values keep arriving. Then compare (all
    equal) and restore (all 20,000 puts completed) on the same terms."""
    names = _names(N)
    pvlist = tmp_path / "list.txt"
    pvlist.write_text("\n".join(names) + "\n")
    out = tmp_path / "snap.csv"
    extra = ["--timeout", timeout] if timeout else []
    r = _pvprobe(_client_env(big_ioc), "snapshot", "save", "--pvlist", str(pvlist), "-o", str(out),
                 *extra, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "20000 PVs saved, 0 not connected" in r.stderr
    saved = _saved(out)
    assert len(saved) == N
    assert all(float(saved[n]) == i for i, n in enumerate(names))
    # compare reads them all again; restore puts them all back (completions awaited)
    r = _pvprobe(_client_env(big_ioc), "snapshot", "compare", str(out), *extra, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{N} equal, 0 different" in r.stderr
    r = _pvprobe(_client_env(big_ioc), "snapshot", "restore", str(out), "--yes", *extra, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"{N} PVs restored, 0 failed" in r.stderr


def test_get_of_20000_pvs_waits_past_a_short_timeout_while_connections_arrive(big_ioc, tmp_path):
    """--timeout 0.5 is shorter than connecting 20,000 PVs takes, but connections keep
    arriving: the wait goes on and every value is printed."""
    names = _names(N)
    r = _pvprobe(_client_env(big_ioc), "get", "--timeout", "0.5", *names, timeout=240)
    assert r.returncode == 0, r.stderr[-2000:]
    lines = r.stdout.splitlines()
    assert len(lines) == N
    assert lines[0].split()[0] == names[0] and float(lines[0].split()[1]) == 0
    assert lines[-1].split()[0] == names[-1]


def test_missing_names_are_reported_and_the_wait_ends(big_ioc, tmp_path):
    """1,000 names nobody serves among 100 that exist: the quiet spell after the last
    answer ends the wait (not the overall cap, not never); the missing ones are named,
    the others saved, exit 1."""
    present = _names(100)
    missing = [f"{PREFIX}nosuch{i:04d}" for i in range(1000)]
    pvlist = tmp_path / "list.txt"
    pvlist.write_text("\n".join(present + missing) + "\n")
    out = tmp_path / "snap.csv"
    timeout = 2.0
    t0 = time.monotonic()
    r = _pvprobe(_client_env(big_ioc), "snapshot", "save", "--pvlist", str(pvlist), "-o", str(out),
                 "--timeout", str(timeout), timeout=timeout + 60)
    elapsed = time.monotonic() - t0
    assert r.returncode == 1, r.stderr[-2000:]
    assert "100 PVs saved, 1000 not connected" in r.stderr
    reported = {line.split(": ")[1] for line in r.stderr.splitlines() if "not found" in line}
    assert reported == set(missing)
    saved = _saved(out)
    assert set(saved) == set(present)
    # the product's contract: the wait ends about `timeout` after the last answer
    # (interpreter start and 1,100 channels included; generous for a loaded machine)
    assert elapsed < timeout + 30, elapsed


def test_a_trickle_of_answers_keeps_the_wait_only_up_to_its_cap(demo_ioc, prefix):
    """The rule itself (:func:`pvprobe.engine.waits.wait_answers`, the wait of every
    synchronous call) on real CA answers: the demo ``sine`` changes every 0.1 s and each
    monitor update counts as an answer, so a 1 s quiet timeout does not end the wait,
    its 4 s cap does; once the updates stop, the quiet timeout ends it."""
    import epics

    from pvprobe.ca.context import ensure_context
    from pvprobe.engine.waits import wait_answers, wait_cap

    ensure_context()
    wake, answers = threading.Event(), [0]

    def on_update(**_kw: object) -> None:
        answers[0] += 1
        wake.set()

    pv = epics.PV(prefix + "sine", callback=on_update, auto_monitor=True)
    try:
        assert pv.wait_for_connection(5) and pv.get(timeout=5) is not None
        t0 = time.monotonic()
        why = wait_answers(lambda: answers[0], wake, lambda: True, 1.0, 4.0)
        elapsed = time.monotonic() - t0
        assert "limit of 4 s" in why, why
        assert 3.9 <= elapsed < 4.0 + 2.0, elapsed
        pv.clear_callbacks()                 # no more answers
        t0 = time.monotonic()
        why = wait_answers(lambda: answers[0], wake, lambda: True, 0.5, 3.0)
        assert why == "nothing arrived for 0.5 s"
        assert 0.45 <= time.monotonic() - t0 < 2.5
    finally:
        pv.clear_callbacks()
        pv.disconnect()
    assert wait_cap(2.0, 20000) == 60.0             # the documented figure
