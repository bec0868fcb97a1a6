"""A headless pvprobe client for fault tests, run in its own process so it can have
its own CA environment (libca reads EPICS_CA_* once per process).

``python tests/servers/fault_client.py NAME...`` opens the PVs with pvprobe's Engine and
prints one JSON line per batch that changes the connected count or carries warnings:
``{"t": seconds, "connected": n, "pvs": n, "warnings": [...], "hosts": {...}}``.
It reads commands from stdin: ``quit`` ends it.
"""

from __future__ import annotations

import json
import sys
import threading
import time


def main(names: list[str]) -> int:
    from pvprobe.ca.engine import Engine

    eng = Engine(tick_hz=20)
    t0 = time.monotonic()
    last = [-1, -1]
    hosts: dict[str, str] = {}
    valued: set[str] = set()
    out_lock = threading.Lock()

    def on_batch(batch) -> None:
        for st in batch.states:
            if st.connected:
                hosts[st.name] = st.host
            if st.value is not None:
                valued.add(st.name)
        if batch.connected != last[0] or len(valued) != last[1] or batch.warnings:
            last[0], last[1] = batch.connected, len(valued)
            with out_lock:
                print(json.dumps({"t": round(time.monotonic() - t0, 3), "connected": batch.connected,
                                  "valued": len(valued), "pvs": batch.pvs, "warnings": batch.warnings,
                                  "hosts": dict(hosts)}), flush=True)
        eng.batch_done()

    eng.start(on_batch)
    eng.add(names)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
    eng.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
