"""A pvAccess NTNDArray camera for the benchmarks: a p4p server publishing frames.

  python benchmarks/pva_camera.py --name BENCH:image [--size 1024x1024] [--rate 0|30|60|120]
                                  [--codec none|lz4] [--tcp-port P] [--udp-port U]
                                  [--log FILE] [--frames K]

* UInt16 Mono frames (``--size WxH``, default 1024×1024): Gaussian spots on a
  flat background with noise where there is signal (lz4 packs them ~3.5×);
  ``--frames`` distinct frames made (and compressed) once, posted in turn: the
  benchmark measures the viewers, not the encoder. Each post copies the frame's
  bytes into a new pvData array, as a camera fills a new buffer per frame.
* ``--rate 0``: as fast as it can (``post`` in a tight loop; pvxs squashes, per
  client, what a slow client cannot take); ``--rate F``: F frames/s, drift-free
  (late frames are not caught up in bursts).
* ``--codec lz4``: as areaDetector's codec plugin sends it: ``value`` = ubyte[]
  holding one raw LZ4 block (imagecodecs ``lz4_encode``, no header),
  ``codec.name`` = "lz4", ``codec.parameters`` = 6 (ushort), ``compressedSize``,
  ``uncompressedSize``.
* ``uniqueId`` counts up from 1; ``timeStamp`` and ``dataTimeStamp`` are the
  publish time (``time.time()`` just before ``post``): a viewer's latency is its
  paint time minus ``dataTimeStamp``.
* Serves on 127.0.0.1 only, on the given TCP and UDP (search) ports (0: free
  ones), and prints ``CAMERA-READY {json}`` with them once serving.
* ``--log FILE``: every 0.2 s a line ``<time.time()> <uniqueId>`` (what was
  published so far: a benchmark reads the rate over any window from it); on
  SIGTERM/SIGINT (or ``--seconds``) the summary (frames, seconds, frames/s
  achieved) is printed as one JSON line and appended to the log.
"""

from __future__ import annotations

import argparse
import functools
import json
import signal
import sys
import time
from typing import Any

import numpy as np

#: pvData scalar type code of ushort (NTNDArray ``codec.parameters``).
PV_USHORT = 6
LOG_PERIOD_S = 0.2


@functools.lru_cache(maxsize=2)
def _spots(width: int, height: int, seed: int) -> np.ndarray:
    """60 Gaussian spots on a flat background of 100 (float, made once)."""
    rng = np.random.default_rng(seed)
    y, x = np.ogrid[:height, :width]
    img = np.full((height, width), 100.0)
    for _ in range(60):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        s, amp = rng.uniform(3, 15) * max(width, height) / 1024, rng.uniform(2000, 40000)
        img += amp * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s))
    return img


def make_pixels(width: int, height: int, k: int, seed: int = 0) -> np.ndarray:
    """Frame ``k``: the spots with 4 bits of noise where there is signal (a sparse,
    diffraction-like picture: lz4 packs it about 3.5 times), rolled ``37·k`` columns."""
    img = _spots(width, height, seed)
    noise = np.random.default_rng(seed + 1 + k).integers(0, 16, (height, width)) * (img > 110)
    return np.roll(np.clip(img + noise, 0, 65535), 37 * k, axis=1).astype(np.uint16)


def make_value(img: np.ndarray, codec: str) -> Any:
    """The NTNDArray Value of ``img``: plain, or lz4 as ADCore's codec plugin sends it."""
    from p4p.nt import NTNDArray

    v = NTNDArray().wrap(img, attrib={"ColorMode": 0})
    if codec == "lz4":
        import imagecodecs

        packed = imagecodecs.lz4_encode(np.ascontiguousarray(img).tobytes())
        v["value"] = ("ubyteValue", np.frombuffer(packed, dtype=np.uint8))
        v["codec.name"] = "lz4"
        v["codec.parameters"] = PV_USHORT
        v["compressedSize"] = len(packed)
        v["uncompressedSize"] = img.nbytes
    elif codec != "none":
        raise SystemExit(f"unknown codec {codec!r} (none, lz4)")
    return v


def stamp(v: Any, k: int, t: float) -> None:
    """uniqueId ``k``; timeStamp and dataTimeStamp ``t``."""
    sec = int(t)
    ns = int((t - sec) * 1e9)
    v["uniqueId"] = k
    for f in ("timeStamp", "dataTimeStamp"):
        v[f + ".secondsPastEpoch"] = sec
        v[f + ".nanoseconds"] = ns


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(p) for p in text.lower().split("x"))
    except ValueError:
        raise SystemExit(f"--size wants WxH, e.g. 1024x1024, not {text!r}") from None
    if w <= 0 or h <= 0:
        raise SystemExit(f"--size must be positive, not {text!r}")
    return w, h


def serve(name: str, first: Any, tcp_port: int, udp_port: int) -> tuple[Any, Any, dict]:
    """A p4p Server with one SharedPV ``name`` on loopback; returns (server, pv, conf)."""
    from p4p.server import Server
    from p4p.server.thread import SharedPV

    pv = SharedPV(initial=first)
    conf = {"EPICS_PVAS_SERVER_PORT": str(tcp_port), "EPICS_PVAS_BROADCAST_PORT": str(udp_port),
            "EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
            "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1"}
    server = Server(providers=[{name: pv}], conf=conf, useenv=False)
    return server, pv, dict(server.conf())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="BENCH:image")
    ap.add_argument("--size", default="1024x1024", type=parse_size)
    ap.add_argument("--rate", type=float, default=0.0, help="frames/s (0: as fast as it can)")
    ap.add_argument("--codec", default="none", choices=("none", "lz4"))
    ap.add_argument("--tcp-port", type=int, default=0)
    ap.add_argument("--udp-port", type=int, default=0)
    ap.add_argument("--frames", type=int, default=8, help="distinct frames posted in turn")
    ap.add_argument("--log", default=None, help="file for '<time> <uniqueId>' lines and the summary")
    ap.add_argument("--seconds", type=float, default=0.0, help="stop by itself after this (0: never)")
    a = ap.parse_args(argv)
    width, height = a.size
    pixels = [make_pixels(width, height, k) for k in range(max(1, a.frames))]
    values = [make_value(img, a.codec) for img in pixels]
    # the bytes of each frame as sent: assigning them copies into a new pvData array
    payloads = [(("ubyteValue" if a.codec == "lz4" else "ushortValue"),
                 np.array(v["value"])) for v in values]
    stamp(values[0], 0, time.time())
    server, pv, conf = serve(a.name, values[0], a.tcp_port, a.udp_port)
    ratio = round(pixels[0].nbytes / len(values[0]["value"]), 3) if a.codec == "lz4" else 1.0
    print("CAMERA-READY " + json.dumps({
        "name": a.name, "tcp_port": int(conf.get("EPICS_PVAS_SERVER_PORT", 0)),
        "udp_port": int(conf.get("EPICS_PVAS_BROADCAST_PORT", 0)), "codec": a.codec,
        "size": [width, height], "rate": a.rate or "max", "compression_ratio": ratio}), flush=True)

    stop = [False]

    def on_signal(*_: Any) -> None:
        stop[0] = True
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log = open(a.log, "a", buffering=1) if a.log else None
    period = 1.0 / a.rate if a.rate > 0 else 0.0
    t0 = time.time()
    end = t0 + a.seconds if a.seconds > 0 else float("inf")
    t_next = time.perf_counter()
    next_log = t0
    k = 0
    try:
        while not stop[0]:
            k += 1
            i = k % len(values)
            v = values[i]
            v["value"] = payloads[i]          # a new buffer per frame, as a camera's
            now = time.time()
            stamp(v, k, now)
            pv.post(v)
            if log is not None and now >= next_log:
                log.write(f"{now:.6f} {k}\n")
                next_log = now + LOG_PERIOD_S
            if now >= end:
                break
            if period:                # drift-free; never catch up in bursts
                t_next = max(t_next + period, time.perf_counter() - period)
                delay = t_next - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
    finally:
        dt = time.time() - t0
        summary = {"published": k, "seconds": round(dt, 3), "published_per_s": round(k / dt, 1) if dt else None,
                   "rate": a.rate or "max", "codec": a.codec, "size": [width, height],
                   "compression_ratio": ratio}
        if log is not None:
            log.write(f"{time.time():.6f} {k}\n")
            log.write("SUMMARY " + json.dumps(summary) + "\n")
            log.close()
        print(json.dumps(summary), flush=True)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
