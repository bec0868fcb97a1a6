"""The demo IOC's pvAccess camera: NTNDArray frames, plain and lz4, from a p4p server.

Runs inside the demo IOC process beside QSRV2 (pythonSoftIOC's pvAccess server).
Checked here: two pvxs servers in one process share the UDP search port (pvxs
keeps one UDP listener per process and hands each search to every server), so
the p4p server takes the IOC's broadcast port and a TCP port of its own (0: any
free one), and a client that finds QSRV2 finds the camera too: one
``EPICS_PVA_ADDR_LIST`` entry names both.

Frame ``k`` of both PVs is the same picture, :func:`frame_pixels`, moving like
the CA camera ``image1`` (the same pattern, rolled the same way each frame);
``uniqueId`` is ``k + 1``. The lz4 PV carries the bytes as areaDetector's codec
plugin sends them (a raw LZ4 block, ``codec.parameters`` = 6 for ushort).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from typing import Any, Optional

import numpy as np

#: Width, height of the PVA camera's UInt16 Mono frames.
PVA_IMAGE_SIZE = (512, 512)
PVA_IMAGE_FPS = 10.0
#: PV names below the IOC's prefix: uncompressed and lz4 frames.
PLAIN_SUFFIX = "pva:image"
LZ4_SUFFIX = "pva:image:lz4"
#: pvData scalar type code of ushort (NTNDArray ``codec.parameters``).
PV_USHORT = 6


@functools.lru_cache(maxsize=4)
def _base(width: int, height: int) -> np.ndarray:
    from .ioc import mono_pattern

    pattern = mono_pattern(width, height)
    pattern.setflags(write=False)
    return pattern


def frame_pixels(k: int, size: tuple[int, int] = PVA_IMAGE_SIZE) -> np.ndarray:
    """Frame ``k``'s pixels (height × width uint16): image1's pattern, rolled as image1's is."""
    width, height = size
    return np.roll(_base(width, height), (3 * k, 7 * k), axis=(0, 1))


def _stamp(value: Any, field: str, t: float) -> None:
    sec = int(t)
    value[f"{field}.secondsPastEpoch"] = sec
    value[f"{field}.nanoseconds"] = int((t - sec) * 1e9)


class PVACamera:
    """Two SharedPVs (plain, lz4) served by one p4p Server; :meth:`publish` posts frame k."""

    def __init__(self, prefix: str, size: tuple[int, int] = PVA_IMAGE_SIZE) -> None:
        from p4p.nt import NTNDArray
        from p4p.server.thread import SharedPV

        self._nt = NTNDArray()
        self._size = size
        self.names = {"plain": prefix + PLAIN_SUFFIX, "lz4": prefix + LZ4_SUFFIX}
        plain, packed = self._values(0, time.time())
        # created from Values (not nt=...): posting whole Values is what we do later
        self._pvs = {self.names["plain"]: SharedPV(initial=plain),
                     self.names["lz4"]: SharedPV(initial=packed)}
        self._server: Optional[Any] = None

    def _values(self, k: int, t: float) -> tuple[Any, Any]:
        """The plain and the lz4 NTNDArray Value of frame ``k`` taken at time ``t``."""
        import imagecodecs

        img = np.ascontiguousarray(frame_pixels(k, self._size))
        plain = self._nt.wrap(img, attrib={"ColorMode": 0})
        packed = imagecodecs.lz4_encode(img.tobytes())
        comp = self._nt.wrap(img, attrib={"ColorMode": 0})
        comp["value"] = ("ubyteValue", np.frombuffer(packed, dtype=np.uint8))
        comp["codec.name"] = "lz4"
        comp["codec.parameters"] = PV_USHORT
        comp["compressedSize"] = len(packed)
        comp["uncompressedSize"] = img.nbytes
        for v in (plain, comp):
            v["uniqueId"] = k + 1
            _stamp(v, "timeStamp", t)
            _stamp(v, "dataTimeStamp", t)
        return plain, comp

    def start(self, broadcast_port: Optional[str], interfaces: str) -> dict[str, str]:
        """Serve on ``broadcast_port`` (the IOC's; None = pvxs default) and any free TCP
        port, on ``interfaces``; returns the server's effective configuration."""
        from p4p.server import Server

        conf = {"EPICS_PVAS_SERVER_PORT": "0", "EPICS_PVAS_INTF_ADDR_LIST": interfaces}
        if broadcast_port:
            conf["EPICS_PVAS_BROADCAST_PORT"] = broadcast_port
        if interfaces.startswith("127."):
            conf.update(EPICS_PVAS_AUTO_BEACON_ADDR_LIST="NO", EPICS_PVAS_BEACON_ADDR_LIST=interfaces)
        self._server = Server(providers=[self._pvs], conf=conf, useenv=False)
        return dict(self._server.conf())

    def publish(self, k: int) -> None:
        """Post frame ``k`` to both PVs (same pixels, same uniqueId and time)."""
        plain, packed = self._values(k, time.time())
        self._pvs[self.names["plain"]].post(plain)
        self._pvs[self.names["lz4"]].post(packed)

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None


def start_camera(prefix: str, environ: Mapping[str, str]) -> PVACamera:
    """A started PVACamera beside QSRV2: same broadcast port and interfaces as the IOC's."""
    cam = PVACamera(prefix)
    bport = environ.get("EPICS_PVAS_BROADCAST_PORT") or environ.get("EPICS_PVA_BROADCAST_PORT")
    intf = environ.get("EPICS_PVAS_INTF_ADDR_LIST") or "0.0.0.0"
    cam.start(bport, intf.split()[0])
    return cam
