"""pyepics' libca and p4p's pvxs in ONE process, loaded in a chosen order (for tests).

    python tests/servers/pva_ca_mix.py ca-first|pva-first CA_PV PVA_PV PVA_PORT PVA_BROADCAST_PORT

Reads ``CA_PV`` through pvprobe's CA engine and the NTNDArray ``PVA_PV`` through
a p4p client (raw values), decodes the frame with pvprobe.core.ntndarray and
prints one JSON line: the CA value, the frame's shape and checksum, and the
EPICS shared libraries the process has loaded.
"""

from __future__ import annotations

import json
import sys
import threading
import time


def read_ca(name: str, timeout: float = 20.0):
    """One connected value of ``name`` through pvprobe's Engine (the product's path)."""
    from pvprobe.ca.context import ensure_context
    from pvprobe.ca.engine import Engine

    ensure_context()
    eng = Engine(tick_hz=20)
    got: dict = {}
    done = threading.Event()

    def on_batch(batch) -> None:
        for st in batch.states:
            if st.name == name and st.connected and st.value is not None:
                got["value"] = st.value
                done.set()
        eng.batch_done()

    eng.start(on_batch)
    eng.add([name])
    ok = done.wait(timeout)
    eng.close()
    if not ok:
        raise SystemExit(f"CA read of {name} timed out")
    return got["value"]


def read_pva(name: str, port: int, bport: int):
    from p4p.client.thread import Context

    ctx = Context("pva", conf=pva_client_conf(port, bport), useenv=False, nt=False)
    try:
        return ctx.get(name, timeout=10)
    finally:
        ctx.close()


def pva_client_conf(port: int, bport: int) -> dict:
    """Client settings reaching only a server on 127.0.0.1 with these ports."""
    return {"EPICS_PVA_ADDR_LIST": "127.0.0.1", "EPICS_PVA_AUTO_ADDR_LIST": "NO",
            "EPICS_PVA_SERVER_PORT": str(port), "EPICS_PVA_BROADCAST_PORT": str(bport)}


def fields_of(v):
    """NTNDArrayFields from a raw p4p NTNDArray Value (what a PVA source will do)."""
    from pvprobe.core.ntndarray import NTNDArrayFields

    attrs = {a["name"]: a["value"] for a in v["attribute"]}
    ts = v["dataTimeStamp"]
    return NTNDArrayFields(
        value=v["value"], dims=[d["size"] for d in v["dimension"]], codec=v["codec.name"],
        codec_type=v["codec.parameters"], uncompressed_size=v["uncompressedSize"],
        attributes=attrs, unique_id=v["uniqueId"],
        timestamp=ts["secondsPastEpoch"] + ts["nanoseconds"] * 1e-9)


def loaded_epics_libs() -> list[str]:
    keys = ("libca", "libCom", "pvxs", "_p4p")
    with open("/proc/self/maps") as fh:
        return sorted({ln.split()[-1] for ln in fh if ".so" in ln and any(k in ln for k in keys)})


def main() -> None:
    order, ca_pv, pva_pv, port, bport = sys.argv[1:6]
    from pvprobe.core.ntndarray import decode_frame

    out: dict = {"order": order}
    t0 = time.monotonic()
    if order == "ca-first":
        out["ca"] = read_ca(ca_pv)
        v = read_pva(pva_pv, int(port), int(bport))
    else:
        v = read_pva(pva_pv, int(port), int(bport))
        out["ca"] = read_ca(ca_pv)
    frame = decode_frame(fields_of(v))
    out["shape"] = list(frame.data.shape)
    out["sum"] = int(frame.data.astype("int64").sum())
    out["libs"] = loaded_epics_libs()
    out["seconds"] = round(time.monotonic() - t0, 3)
    if not isinstance(out["ca"], (int, float, str)):
        out["ca"] = repr(out["ca"])
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
