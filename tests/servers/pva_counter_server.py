"""A p4p pvAccess server of N counters, for tests (own process).

    python tests/pva_counter_server.py PREFIX N RATE_HZ

``PREFIX:0`` ... ``PREFIX:{N-1}`` are NTScalar doubles that all count up by one,
RATE_HZ times a second, with the time of each post. Serves on the ports the
environment gives (EPICS_PVAS_SERVER_PORT / EPICS_PVAS_BROADCAST_PORT, loopback);
runs until killed.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    prefix, n, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    from p4p.nt import NTScalar
    from p4p.server import Server
    from p4p.server.thread import SharedPV

    pvs = {f"{prefix}:{i}": SharedPV(nt=NTScalar("d"), initial=0.0) for i in range(n)}
    with Server(providers=[pvs]):
        print("READY", flush=True)
        count, period = 0, 1.0 / rate
        nxt = time.monotonic()
        while True:
            count += 1
            now = time.time()
            for pv in pvs.values():
                pv.post(float(count), timestamp=now)
            nxt += period
            time.sleep(max(0.0, nxt - time.monotonic()))  # ok-sleep: the publisher's own rate


if __name__ == "__main__":
    main()
