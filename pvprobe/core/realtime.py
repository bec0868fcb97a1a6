"""Keep EPICS threads off real-time scheduling on the operator's machine.

EPICS base gives its threads ``SCHED_FIFO`` priorities whenever the process may
(run as root, or with ``CAP_SYS_NICE``): libca's receive threads in our own
process, and an IOC's scan and CA-server threads. On a workstation that also
draws a GUI, real-time threads pre-empt the GUI thread whenever they have work:
measured here with 50,000 busy PVs from an IOC on the same 2 cores, the GUI loop
was late by 0.4-1.8 s (p99) with real-time EPICS threads and by 85 ms without.
A monitoring client and a demo IOC have no deadline that beats the operator's
window, so both run their EPICS threads under normal scheduling:

:func:`drop_realtime` removes ``CAP_SYS_NICE`` from this process (call it before
libca starts its threads) and from its bounding set, so the processes it starts
(the demo IOC, test IOCs) cannot take it either, even as root. EPICS base then
creates its threads without ``SCHED_FIFO`` (it retries without when refused): no
error, no message. Linux only; elsewhere, and without the capability, it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

CAP_SYS_NICE = 23
_PR_CAPBSET_DROP = 24
_CAP_VERSION_3 = 0x20080522
_SYS_CAPGET = {"x86_64": 125, "aarch64": 90}
_SYS_CAPSET = {"x86_64": 126, "aarch64": 91}


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def _load_libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()


def _syscalls() -> tuple[int, int] | None:
    machine = os.uname().machine
    if machine not in _SYS_CAPGET:
        return None
    return _SYS_CAPGET[machine], _SYS_CAPSET[machine]


def has_realtime_capability() -> bool:
    """This process holds ``CAP_SYS_NICE`` in its effective set (Linux)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> CAP_SYS_NICE & 1)
    except OSError:
        pass
    return False


def drop_realtime() -> bool:
    """Remove ``CAP_SYS_NICE`` from this process (effective, permitted, inheritable)
    and from its bounding set (so from every process it starts).

    Call it before libca (or any EPICS library) creates threads. Returns True if
    the capability was held and is now gone."""
    libc, calls = _LIBC, _syscalls()
    if libc is None or calls is None or not has_realtime_capability():
        return False
    # children too (an IOC we start, run as root): exec gives a root process its
    # bounding set, so without CAP_SYS_NICE there it has no real-time privilege
    libc.prctl(_PR_CAPBSET_DROP, CAP_SYS_NICE, 0, 0, 0)
    capget, capset = calls
    header = _CapHeader(_CAP_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.syscall(capget, ctypes.byref(header), data) != 0:
        return False
    mask = ~(1 << CAP_SYS_NICE) & 0xFFFFFFFF
    data[0].effective &= mask
    data[0].permitted &= mask
    data[0].inheritable &= mask
    if libc.syscall(capset, ctypes.byref(header), data) != 0:
        return False
    return not has_realtime_capability()


def thread_policies(pid: int | str = "self") -> dict[str, int]:
    """Scheduling policy of each thread of ``pid`` by thread name (0: normal,
    1: SCHED_FIFO, 2: SCHED_RR), from /proc (Linux; empty elsewhere)."""
    out: dict[str, int] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[f"{name}/{tid}"] = int(fields[38])     # field 41 of stat: policy
    return out


def report_threads() -> None:
    """Start libca as pvprobe does and print JSON: had the privilege, has it now,
    the policy of every thread (used by the tests)."""
    import json

    had = has_realtime_capability()
    from pvprobe.ca.context import ensure_context

    ensure_context(start_repeater=False)
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "from pvprobe.core.realtime import "
                            "has_realtime_capability as h; print(int(h()))"],
                           capture_output=True, text=True, timeout=60)
    print(json.dumps({"had": had, "has": has_realtime_capability(), "threads": thread_policies(),
                      "child_may": child.stdout.strip() != "0"}))


__all__ = ["drop_realtime", "has_realtime_capability", "report_threads", "thread_policies"]
