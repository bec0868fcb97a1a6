"""A p4p pvAccess server for the GUI tests (own process; PVA kinds "spare1"/"spare2").

    python tests/pva_gui_server.py PREFIX SERVER_PORT BROADCAST_PORT

PVs (names start with PREFIX):

- ``dbl``: NTScalar double 1.25, units "mm", precision 2, display -5..5, control -4..4,
  alarm limits, MINOR alarm with the message "drifting" (status DEVICE), a real time.
- ``int``: NTScalar int 5 with a put handler that applies the put.
- ``ro``: NTScalar int 7 without put handler (p4p refuses: "Put not supported").
- ``refuse``: NTScalar int 3 whose handler refuses with :data:`REFUSAL`.
- ``enum``: NTEnum (Off, On, Fault) = On, with put.
- ``notime``: NTScalar double 4.5 whose timestamp is 0.
- ``table``: NTTable (Name: string, Position: double, Count: int; 3 rows).
- ``nested``: a non-NT structure ``my:gui/Thing:1.0`` with nested substructures.
- ``union``: a structure whose ``value`` is a union (member ``text`` = "hello").
- ``img:mono16``: NTNDArray, mono uint16 :func:`mono16` (uniqueId 1).
- ``img:rgb8``: NTNDArray, RGB1 uint8 :func:`rgb8` (3 × W × H, ColorMode 2).
- ``img:lz4``: the mono uint16 frame lz4-compressed as ADCore's codec plugin sends it.
- ``img:liar``: an lz4 frame whose ``uncompressedSize`` is 2 bytes too large.
- ``img:stream``: lz4-compressed mono uint16 frames at 20 Hz, the square moved by one
  pixel each frame, uniqueId 1 2 3 5 6 7 9 ... (one id skipped after every 3rd frame).

Loopback only; prints READY once serving; runs until killed.
"""

from __future__ import annotations

import sys
import time

import numpy as np

W, H = 48, 32
REFUSAL = "interlocked: shutter open"
ALARM_MESSAGE = "drifting"
FIXED_TIME = 1_700_000_000.5
USHORT = 6


def mono16(shift: int = 0) -> np.ndarray:
    """H × W uint16: both bytes used, a bright square at (8+shift, 6)."""
    y, x = np.mgrid[0:H, 0:W]
    img = (x * 900 + y * 11 + 5).astype(np.uint16)
    img[6:14, 8 + shift % 30:16 + shift % 30] = 60000
    return img


def rgb8() -> np.ndarray:
    """H × W × 3 uint8: red rises with x, green with y, blue constant 200."""
    y, x = np.mgrid[0:H, 0:W]
    return np.stack([(x * 5) % 256, (y * 7) % 256, np.full_like(x, 200)], axis=-1).astype(np.uint8)


def stamp(v, t: float) -> None:
    v["timeStamp.secondsPastEpoch"] = int(t)
    v["timeStamp.nanoseconds"] = int(round((t - int(t)) * 1e9))


def ndarray(img: np.ndarray, uid: int, codec: str = "", size_lie: int = 0):
    """An NTNDArray of ``img`` (mono H×W or RGB1 H×W×3), lz4-compressed if asked."""
    import imagecodecs
    from p4p.nt import NTNDArray

    if img.ndim == 3:                     # RGB1: pvData dimensions (3, W, H), pixel-interleaved
        v = NTNDArray().wrap(img.reshape(-1), attrib={"ColorMode": 2})
        v["dimension"] = [{"size": 3, "offset": 0, "fullSize": 3, "binning": 1, "reverse": False},
                          {"size": W, "offset": 0, "fullSize": W, "binning": 1, "reverse": False},
                          {"size": H, "offset": 0, "fullSize": H, "binning": 1, "reverse": False}]
    else:
        v = NTNDArray().wrap(img, attrib={"ColorMode": 0})
    v["uniqueId"] = uid
    v["dataTimeStamp.secondsPastEpoch"] = int(FIXED_TIME)
    stamp(v, FIXED_TIME)
    if codec:
        packed = np.frombuffer(imagecodecs.lz4_encode(img.tobytes()), dtype=np.uint8)
        v["value"] = ("ubyteValue", packed)
        v["codec.name"] = codec
        v["codec.parameters"] = USHORT
        v["compressedSize"] = packed.size
        v["uncompressedSize"] = img.nbytes + size_lie
    return v


class Applier:
    def put(self, pv, op) -> None:
        v = op.value()
        stamp(v, time.time())
        pv.post(v)
        op.done()


class Refuser:
    def put(self, pv, op) -> None:
        op.done(error=REFUSAL)


def pvs_of() -> dict:
    from p4p import Type, Value
    from p4p.nt import NTEnum, NTScalar, NTTable
    from p4p.server.thread import SharedPV

    pvs = {}
    d = NTScalar("d", display=True, control=True, valueAlarm=True, form=True).wrap(1.25)
    d["display.units"], d["display.precision"] = "mm", 2
    d["display.description"] = "drift sensor"
    d["display.limitLow"], d["display.limitHigh"] = -5.0, 5.0
    d["control.limitLow"], d["control.limitHigh"] = -4.0, 4.0
    d["valueAlarm.lowAlarmLimit"], d["valueAlarm.lowWarningLimit"] = -4.5, -3.0
    d["valueAlarm.highWarningLimit"], d["valueAlarm.highAlarmLimit"] = 3.0, 4.5
    d["alarm.severity"], d["alarm.status"], d["alarm.message"] = 1, 1, ALARM_MESSAGE
    stamp(d, time.time())
    pvs["dbl"] = SharedPV(initial=d)
    for name, value, handler in (("int", 5, Applier()), ("ro", 7, None), ("refuse", 3, Refuser())):
        v = NTScalar("i").wrap(value)
        stamp(v, FIXED_TIME)
        pvs[name] = SharedPV(initial=v, handler=handler)
    en = NTEnum().wrap({"index": 1, "choices": ["Off", "On", "Fault"]})
    stamp(en, FIXED_TIME)
    pvs["enum"] = SharedPV(initial=en, handler=Applier())
    pvs["notime"] = SharedPV(initial=NTScalar("d").wrap(4.5))

    tab = NTTable([("name", "s"), ("pos", "d"), ("count", "i")]).wrap(
        [{"name": "x", "pos": 1.5, "count": 1}, {"name": "y", "pos": -2.0, "count": 2},
         {"name": "z", "pos": 0.25, "count": 3}])
    tab["labels"] = ["Name", "Position", "Count"]
    stamp(tab, FIXED_TIME)
    pvs["table"] = SharedPV(initial=tab)

    nested_t = Type(id="my:gui/Thing:1.0", spec=[
        ("serial", "s"), ("temperature", "d"),
        ("motor", ("S", None, [("pos", "d"), ("moving", "?"),
                               ("limits", ("S", None, [("low", "d"), ("high", "d")]))])),
        ("samples", "ai")])
    pvs["nested"] = SharedPV(initial=Value(nested_t, {
        "serial": "SN-42", "temperature": 21.5,
        "motor": {"pos": 3.25, "moving": True, "limits": {"low": -1.0, "high": 11.0}},
        "samples": np.array([1, 2, 3], dtype=np.int32)}))
    uni_t = Type(id="my:gui/Union:1.0", spec=[("value", ("U", None, [("number", "d"), ("text", "s")]))])
    pvs["union"] = SharedPV(initial=Value(uni_t, {"value": ("text", "hello")}))

    pvs["img:mono16"] = SharedPV(initial=ndarray(mono16(), 1))
    pvs["img:rgb8"] = SharedPV(initial=ndarray(rgb8(), 2))
    pvs["img:lz4"] = SharedPV(initial=ndarray(mono16(), 3, "lz4"))
    pvs["img:liar"] = SharedPV(initial=ndarray(mono16(), 4, "lz4", size_lie=2))
    return pvs


def main() -> None:
    prefix, port, bport = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from p4p.server import Server
    from p4p.server.thread import SharedPV

    pvs = pvs_of()
    stream = SharedPV(initial=ndarray(mono16(0), 1, "lz4"))
    pvs["img:stream"] = stream
    conf = {"EPICS_PVAS_INTF_ADDR_LIST": "127.0.0.1", "EPICS_PVAS_SERVER_PORT": str(port),
            "EPICS_PVAS_BROADCAST_PORT": str(bport), "EPICS_PVAS_AUTO_BEACON_ADDR_LIST": "NO",
            "EPICS_PVAS_BEACON_ADDR_LIST": "127.0.0.1"}
    with Server(providers=[{prefix + k: v for k, v in pvs.items()}], conf=conf, useenv=False):
        print("READY", flush=True)
        uid, sent = 1, 1
        next_t = time.monotonic()
        while True:
            next_t += 0.05
            time.sleep(max(0.0, next_t - time.monotonic()))  # ok-sleep: the server's 20 Hz clock
            uid += 2 if sent % 3 == 0 else 1
            sent += 1
            frame = ndarray(mono16(sent), uid, "lz4")
            stamp(frame, time.time())
            stream.post(frame)


if __name__ == "__main__":
    main()
