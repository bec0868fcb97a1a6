"""A p4p pvAccess server publishing two NTNDArray frames, for tests (own process).

    python tests/servers/pva_ndarray_server.py PREFIX SERVER_PORT BROADCAST_PORT

``PREFIX:plain`` is an uncompressed UInt16 Mono frame (uniqueId 7),
``PREFIX:lz4`` the same pixels as areaDetector's codec plugin sends them with
lz4 (raw LZ4 block, ``codec.parameters`` = 6 for ushort, uniqueId 8). Listens
on loopback only; prints READY once serving; runs until killed.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def frame_pixels() -> np.ndarray:
    """The test pattern: 37 wide × 23 high, values that use both bytes of a uint16."""
    y, x = np.mgrid[0:23, 0:37]
    return (x * 1000 + y * 7 + 3).astype(np.uint16)


def main() -> None:
    prefix, port, bport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    import imagecodecs
    from p4p.nt import NTNDArray
    from p4p.server import Server
    from p4p.server.thread import SharedPV

    img = frame_pixels()
    nt = NTNDArray()
    plain = nt.wrap(img, attrib={"ColorMode": 0})
    plain["uniqueId"] = 7
    plain["dataTimeStamp.secondsPastEpoch"] = 1_700_000_000

    packed = imagecodecs.lz4_encode(img.tobytes())
    comp = nt.wrap(img, attrib={"ColorMode": 0})        # dimensions, attributes, ...
    comp["value"] = ("ubyteValue", np.frombuffer(packed, dtype=np.uint8))  # compressed bytes
    comp["codec.name"] = "lz4"
    comp["codec.parameters"] = 6                         # pvUShort
    comp["compressedSize"] = len(packed)
    comp["uncompressedSize"] = img.nbytes
    comp["uniqueId"] = 8

    pvs = {f"{prefix}:plain": SharedPV(initial=plain), f"{prefix}:lz4": SharedPV(initial=comp)}
    conf = {"EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_SERVER_PORT": str(port),
            "EPICS_PVAS_BROADCAST_PORT": str(bport), "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
            "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1"}
    with Server(providers=[pvs], conf=conf, useenv=False):
        print("READY", flush=True)
        while True:
            time.sleep(3600)  # ok-sleep: serving until the test kills this process


if __name__ == "__main__":
    main()
