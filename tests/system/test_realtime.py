"""No real-time EPICS threads beside the operator's window (issue 12, item 5).

As root, EPICS base gives libca's threads and an IOC's threads SCHED_FIFO; they then
pre-empt the GUI thread (50,000 busy PVs: loop lateness p99 0.6-1.8 s). pvprobe gives
that privilege up before libca starts, for itself and the IOCs it starts."""

from __future__ import annotations

import json

import conftest

from pvprobe.core.realtime import has_realtime_capability


def test_client_started_with_the_privilege_runs_libca_threads_normally() -> None:
    """A pvprobe process started while the test process still had the privilege
    (conftest, before it gave it up): libca's threads are all normal threads."""
    out, err = conftest.REALTIME_PROBE.communicate(timeout=60)
    assert conftest.REALTIME_PROBE.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    assert report["had"] == conftest.HAD_REALTIME
    assert not report["has"], report
    libca = {n: p for n, p in report["threads"].items() if n.split("/")[0] != "python"}
    assert libca, report          # libca started threads (CAC-UDP, timerQueue...)
    assert all(p == 0 for p in report["threads"].values()), report["threads"]
    # and a process it starts (the demo IOC, run as root) cannot take real-time priorities
    assert not report["child_may"], report


def test_the_test_process_gave_the_privilege_up() -> None:
    assert not has_realtime_capability()
    with open("/proc/self/status") as f:
        bnd = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    assert not bnd >> 23 & 1, hex(bnd)
