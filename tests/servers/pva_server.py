"""A p4p pvAccess server with one PV of every shape pvprobe must handle, for tests
(own process; server kind "nt" of conftest's PVA_PORTS).

    python tests/pva_server.py PREFIX SERVER_PORT BROADCAST_PORT

PVs (all names start with PREFIX; non-zero timestamps unless said):

- ``ai``: NTScalar double, display (units "mm", precision 3, limits -10..10, a
  description), control limits -8..8, valueAlarm (-9 -7 7 9); counts up by 0.5 at 10 Hz.
- ``fmt``: NTScalar double with the older ``display.format`` "%.2f", units "V", value 1.23456.
- ``alarmed``: NTScalar double in MAJOR alarm with the message "overheated" (status DEVICE).
- ``int``: NTScalar int with a put handler that applies the put (starts at 5).
- ``ro``: NTScalar int without put handler (p4p refuses: "Put not supported").
- ``refuse``: NTScalar int whose handler refuses with "interlocked: beam on".
- ``u64``, ``flag``, ``u16``: NTScalar uint64 (:data:`BIG_U64`), boolean (true) and
  ushort (65000), with put: types CA does not have.
- ``enum``: NTEnum (choices Off, On, Fault) with put.
- ``dwave`` / ``swave``: NTScalarArray double (1.5 2.5 3.5) / string (a "b c" d), with put.
- ``table``: NTTable (columns name: string, pos: double, count: int; 3 rows).
- ``nested``: a non-NT structure (``my:custom/Thing:1.0``) with nested substructures.
- ``variant``: a structure whose ``value`` is a variant (holding the double 2.5).
- ``union``: a structure whose ``value`` is a union (member ``text`` = "hello").
- ``notime``: NTScalar double 4.5 with timestamp 0 (never set).
- ``nd:plain`` and ``nd:CODEC`` for CODEC in lz4 bslz4 blosc jpeg zlib lz4hdf5: NTNDArray
  frames of :func:`frame_pixels` (jpeg: lossless 8-bit of :func:`frame_pixels8`).
- ``nd:liar``: an lz4 frame whose ``uncompressedSize`` is 2 bytes larger than the truth.
- ``nd:unknown``: a frame with codec "snappy9" (no one knows it).
- ``nd:stream``: plain frames at 20 Hz whose uniqueId skips: 1 2 3 [4 5 missing] 6 7 [8 missing] 9 ...
  (every 3rd frame sent is followed by a gap of one; see :func:`stream_ids`).

Listens on loopback only; prints READY once serving; runs until killed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import numpy as np

#: Frame pattern size (width, height).
W, H = 37, 23
#: Codecs of the compressed NTNDArray PVs.
CODECS = ("lz4", "bslz4", "blosc", "jpeg", "zlib", "lz4hdf5")
#: pvData scalar type codes (codec.parameters) of the frame types used here.
USHORT, UBYTE = 6, 5
#: A fixed time (2023-11-14) for the PVs that do not count.
FIXED_TIME = 1_700_000_000.25
REFUSAL = "interlocked: beam on"
#: The uint64 value of ``u64``: more digits than a double holds.
BIG_U64 = 2**60 + 3
ALARM_MESSAGE = "overheated"


def frame_pixels() -> np.ndarray:
    """The uint16 test pattern (H × W), values that use both bytes."""
    y, x = np.mgrid[0:H, 0:W]
    return (x * 1000 + y * 7 + 3).astype(np.uint16)


def frame_pixels8() -> np.ndarray:
    """The uint8 test pattern of the jpeg frame (lossless jpeg is 8-bit here)."""
    y, x = np.mgrid[0:H, 0:W]
    return ((x * 5 + y * 3) % 256).astype(np.uint8)


def stream_ids() -> Iterator[int]:
    """uniqueIds of ``nd:stream``: after each 3rd frame one id is skipped."""
    uid, sent = 0, 0
    while True:
        uid += 1
        sent += 1
        yield uid
        if sent % 3 == 0:
            uid += 1


def bslz4_encode(raw: bytes, itemsize: int) -> bytes:
    """bitshuffle/LZ4 as ADCore's NDPluginCodec sends it: no header, bitshuffle's
    default block size, each block as uint32 BE length + LZ4 data; the tail
    (fewer than 8 elements) stored raw."""
    import imagecodecs

    n = len(raw) // itemsize
    block = max(128, (8192 // itemsize) // 8 * 8)
    out = bytearray()
    done = 0
    while n - done >= 8:
        count = min(block, (n - done) // 8 * 8)
        chunk = raw[done * itemsize:(done + count) * itemsize]
        packed = imagecodecs.lz4_encode(imagecodecs.bitshuffle_encode(chunk, itemsize=itemsize, blocksize=count))
        out += len(packed).to_bytes(4, "big") + packed
        done += count
    return bytes(out + raw[done * itemsize:])


def encode(codec: str, img: np.ndarray) -> bytes:
    """``img`` compressed as areaDetector's codec plugin sends ``codec``."""
    import imagecodecs

    raw = img.tobytes()
    if codec == "lz4":
        return imagecodecs.lz4_encode(raw)
    if codec == "bslz4":
        return bslz4_encode(raw, img.dtype.itemsize)
    if codec == "blosc":
        return imagecodecs.blosc_encode(raw, typesize=img.dtype.itemsize, shuffle=1)
    if codec == "jpeg":
        return imagecodecs.jpeg8_encode(img, lossless=True)
    if codec == "zlib":
        return imagecodecs.zlib_encode(raw)
    if codec == "lz4hdf5":
        return imagecodecs.lz4h5_encode(raw)
    raise ValueError(codec)


def stamp(v, t: float) -> None:
    """Set the timeStamp of Value ``v`` to POSIX time ``t``."""
    v["timeStamp.secondsPastEpoch"] = int(t)
    v["timeStamp.nanoseconds"] = int(round((t - int(t)) * 1e9))


def ndarray(img: np.ndarray, uid: int, codec: str = "", size_lie: int = 0):
    """An NTNDArray Value of ``img`` (Mono), compressed with ``codec`` if given."""
    from p4p.nt import NTNDArray

    v = NTNDArray().wrap(img, attrib={"ColorMode": 0})
    v["uniqueId"] = uid
    v["dataTimeStamp.secondsPastEpoch"] = int(FIXED_TIME)
    stamp(v, FIXED_TIME)
    if codec:
        packed = np.frombuffer(encode(codec, img), dtype=np.uint8)
        v["value"] = ("ubyteValue", packed)
        v["codec.name"] = codec
        v["codec.parameters"] = UBYTE if img.dtype == np.uint8 else USHORT
        v["compressedSize"] = packed.size
        v["uncompressedSize"] = img.nbytes + size_lie
    return v


class Applier:
    """Put handler: applies the put (with the time of the put) and says done."""

    def put(self, pv, op) -> None:
        v = op.value()
        stamp(v, time.time())
        pv.post(v)
        op.done()


class Refuser:
    """Put handler that refuses every put with :data:`REFUSAL`."""

    def put(self, pv, op) -> None:
        op.done(error=REFUSAL)


def scalars(prefix: str) -> dict:
    """The NTScalar/NTEnum/array PVs (name -> SharedPV)."""
    from p4p.nt import NTEnum, NTScalar
    from p4p.server.thread import SharedPV

    pvs = {}
    ai = NTScalar("d", display=True, control=True, valueAlarm=True, form=True).wrap(0.0)
    ai["display.units"], ai["display.precision"] = "mm", 3
    ai["display.limitLow"], ai["display.limitHigh"] = -10.0, 10.0
    ai["display.description"] = "counting position"
    ai["control.limitLow"], ai["control.limitHigh"] = -8.0, 8.0
    ai["valueAlarm.active"] = True
    ai["valueAlarm.lowAlarmLimit"], ai["valueAlarm.lowWarningLimit"] = -9.0, -7.0
    ai["valueAlarm.highWarningLimit"], ai["valueAlarm.highAlarmLimit"] = 7.0, 9.0
    stamp(ai, time.time())
    pvs["ai"] = SharedPV(initial=ai)

    fmt = NTScalar("d", display=True).wrap(1.23456)
    fmt["display.format"], fmt["display.units"] = "%.2f", "V"
    stamp(fmt, FIXED_TIME)
    pvs["fmt"] = SharedPV(initial=fmt)

    alarmed = NTScalar("d").wrap(99.5)
    alarmed["alarm.severity"], alarmed["alarm.status"], alarmed["alarm.message"] = 2, 1, ALARM_MESSAGE
    stamp(alarmed, FIXED_TIME)
    pvs["alarmed"] = SharedPV(initial=alarmed)

    for name, handler in (("int", Applier()), ("ro", None), ("refuse", Refuser())):
        v = NTScalar("i").wrap(5)
        stamp(v, FIXED_TIME)
        pvs[name] = SharedPV(initial=v, handler=handler)

    for name, code, value in (("u64", "L", BIG_U64), ("flag", "?", True), ("u16", "H", 65000)):
        v = NTScalar(code).wrap(value)
        stamp(v, FIXED_TIME)
        pvs[name] = SharedPV(initial=v, handler=Applier())

    en = NTEnum().wrap({"index": 1, "choices": ["Off", "On", "Fault"]})
    stamp(en, FIXED_TIME)
    pvs["enum"] = SharedPV(initial=en, handler=Applier())

    dw = NTScalar("ad").wrap(np.array([1.5, 2.5, 3.5]))
    stamp(dw, FIXED_TIME)
    pvs["dwave"] = SharedPV(initial=dw, handler=Applier())
    sw = NTScalar("as").wrap(["a", "b c", "d"])
    stamp(sw, FIXED_TIME)
    pvs["swave"] = SharedPV(initial=sw, handler=Applier())

    nt = NTScalar("d", display=True).wrap(4.5)
    nt["display.format"] = "%.1f"
    pvs["notime"] = SharedPV(initial=nt)          # timeStamp left 0
    return pvs


def structures(prefix: str) -> dict:
    """NTTable, a nested structure, variant and union values."""
    from p4p import Type, Value
    from p4p.nt import NTTable
    from p4p.server.thread import SharedPV

    pvs = {}
    tt = NTTable([("name", "s"), ("pos", "d"), ("count", "i")])
    tab = tt.wrap([{"name": "x", "pos": 1.5, "count": 1}, {"name": "y", "pos": -2.0, "count": 2},
                   {"name": "z", "pos": 0.25, "count": 3}])
    tab["labels"] = ["Name", "Position", "Count"]
    stamp(tab, FIXED_TIME)
    pvs["table"] = SharedPV(initial=tab)

    nested_t = Type(id="my:custom/Thing:1.0", spec=[
        ("serial", "s"), ("temperature", "d"),
        ("motor", ("S", None, [("pos", "d"), ("moving", "?"),
                               ("limits", ("S", None, [("low", "d"), ("high", "d")]))])),
        ("samples", "ai"),
        ("timeStamp", ("S", "time_t", [("secondsPastEpoch", "l"), ("nanoseconds", "i"), ("userTag", "i")])),
    ])
    nested = Value(nested_t, {"serial": "SN-42", "temperature": 21.5,
                              "motor": {"pos": 3.25, "moving": True, "limits": {"low": -1.0, "high": 11.0}},
                              "samples": np.array([1, 2, 3], dtype=np.int32)})
    stamp(nested, FIXED_TIME)
    pvs["nested"] = SharedPV(initial=nested)

    var_t = Type(id="my:custom/Variant:1.0", spec=[("value", "v"), ("note", "s")])
    var = Value(var_t, {"value": 2.5, "note": "a variant"})
    pvs["variant"] = SharedPV(initial=var)

    uni_t = Type(id="my:custom/Union:1.0", spec=[("value", ("U", None, [("number", "d"), ("text", "s")]))])
    uni = Value(uni_t, {"value": ("text", "hello")})
    pvs["union"] = SharedPV(initial=uni)
    return pvs


def frames() -> dict:
    """The NTNDArray PVs except the stream."""
    from p4p.server.thread import SharedPV

    img = frame_pixels()
    pvs = {"nd:plain": SharedPV(initial=ndarray(img, 7))}
    for i, codec in enumerate(CODECS):
        pvs[f"nd:{codec}"] = SharedPV(initial=ndarray(frame_pixels8() if codec == "jpeg" else img,
                                                      10 + i, codec))
    pvs["nd:liar"] = SharedPV(initial=ndarray(img, 20, "lz4", size_lie=2))
    unknown = ndarray(img, 21, "lz4")
    unknown["codec.name"] = "snappy9"
    pvs["nd:unknown"] = SharedPV(initial=unknown)
    return pvs


def main() -> None:
    prefix, port, bport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from p4p import Value
    from p4p.server import Server
    from p4p.server.thread import SharedPV

    pvs = {**scalars(prefix), **structures(prefix), **frames()}
    img = frame_pixels()
    ids = stream_ids()
    stream = SharedPV(initial=ndarray(img, next(ids)))
    pvs["nd:stream"] = stream
    ai = pvs["ai"]
    ai_type = ai.current().type()
    conf = {"EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_SERVER_PORT": str(port),
            "EPICS_PVAS_BROADCAST_PORT": str(bport), "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
            "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1"}
    with Server(providers=[{prefix + k: v for k, v in pvs.items()}], conf=conf, useenv=False):
        print("READY", flush=True)
        n = 0
        next_t = time.monotonic()
        while True:
            next_t += 0.05
            time.sleep(max(0.0, next_t - time.monotonic()))  # ok-sleep: the server's 20 Hz clock
            n += 1
            now = time.time()
            frame = ndarray(img, next(ids))
            stamp(frame, now)
            stream.post(frame)
            if n % 2 == 0:                                   # ai counts at 10 Hz
                v = Value(ai_type, {"value": 0.5 * (n // 2)})
                stamp(v, now)
                ai.post(v)


if __name__ == "__main__":
    main()
