"""A p4p pvAccess server behind the test gateway (own process, own ports).

    python tests/gateway_upstream.py PREFIX N RATE_HZ TCP_PORT UDP_PORT [DUP_NAME]

Serves ``PREFIX:0`` ... ``PREFIX:{N-1}`` (NTScalar doubles counting up RATE_HZ
times a second; 0: static), ``PREFIX:setp`` (writable) and, if given, DUP_NAME
(a name another upstream server serves too; its value is the TCP port, so a
client can tell which one answered). Loopback only, on the given ports; prints
READY once serving; runs until killed.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    prefix, n, rate, tcp, udp = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
    from p4p.nt import NTScalar
    from p4p.server import Server
    from p4p.server.thread import SharedPV

    class Writable:
        def put(self, pv, op):
            pv.post(op.value(), timestamp=time.time())
            op.done()

    now = time.time()
    pvs = {f"{prefix}:{i}": SharedPV(nt=NTScalar("d"), initial=0.0, timestamp=now) for i in range(n)}
    pvs[f"{prefix}:setp"] = SharedPV(nt=NTScalar("d"), initial=1.0, handler=Writable(), timestamp=now)
    if len(sys.argv) > 6:
        pvs[sys.argv[6]] = SharedPV(nt=NTScalar("d"), initial=float(tcp), timestamp=now)
    conf = {"EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_SERVER_PORT": tcp,
            "EPICS_PVAS_BROADCAST_PORT": udp, "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1",
            "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO"}
    counters = [pvs[f"{prefix}:{i}"] for i in range(n)]
    with Server(providers=[pvs], conf=conf, useenv=False):
        print("READY", flush=True)
        count = 0
        while True:
            if rate <= 0:
                time.sleep(3600)  # ok-sleep: a static server idles
                continue
            count += 1
            t = time.time()
            for pv in counters:
                pv.post(float(count), timestamp=t)
            time.sleep(1.0 / rate)  # ok-sleep: the publisher's own rate


if __name__ == "__main__":
    main()
