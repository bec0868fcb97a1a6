"""pvprobe demo IOC: a real EPICS IOC (pythonSoftIOC) with ~1,050 PVs and three cameras.

Run: ``python -m pvprobe.demo.ioc --prefix PVPDEMO:``.  Never imports ``epics``
(pyepics): its libca and the IOC libraries collide in one process.

Scalar PVs are processed by EPICS itself (periodic SCAN + calc links); Python
only drives the waveforms, cameras, file name and heartbeat from an asyncio loop.

Every record is served over Channel Access and over pvAccess (QSRV2, as
``pva://NAME``); a third camera speaks only pvAccess: NTNDArray frames, plain
and lz4 (:mod:`pvprobe.demo.pva_camera`, a p4p server in this process).
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional

import numpy as np

from pvprobe.core.parentdeath import die_with_parent_from_env

DEFAULT_PREFIX = "PVPDEMO:"
READY_TOKEN = "PVPROBE-DEMO-READY"
MIN_ARRAY_BYTES = 16 * 1024 * 1024

#: Defaults libca / rsrv use when a variable is unset (shown to the user).
CA_DEFAULTS: dict[str, str] = {
    "EPICS_CA_SERVER_PORT": "5064",
    "EPICS_CA_REPEATER_PORT": "5065",
    "EPICS_CA_ADDR_LIST": "",
    "EPICS_CA_AUTO_ADDR_LIST": "YES",
    "EPICS_CA_MAX_ARRAY_BYTES": str(MIN_ARRAY_BYTES),
}
#: The same for the pvAccess client (pvxs defaults).
PVA_DEFAULTS: dict[str, str] = {
    "EPICS_PVA_ADDR_LIST": "",
    "EPICS_PVA_AUTO_ADDR_LIST": "YES",
    "EPICS_PVA_BROADCAST_PORT": "5076",
}

ACF_TEXT = """\
ASG(DEFAULT) {
    RULE(1, READ)
    RULE(1, WRITE)
}
ASG(READONLY) {
    RULE(1, READ)
}
"""

# (record type, count) of the 1,000 scalar PVs, in name order.
SCALAR_LAYOUT: tuple[tuple[str, int], ...] = (
    ("ai", 400), ("ao", 100), ("bi", 100), ("bo", 100),
    ("mbbi", 50), ("mbbo", 50), ("longin", 100), ("stringin", 100),
)
#: How many ai records change on their own.
DYNAMIC_AI = 200
#: SCAN periods used by the dynamic ai records (10, 5, 2, 1 Hz).
AI_SCANS: tuple[tuple[str, float], ...] = (
    (".1 second", 10.0), (".2 second", 5.0), (".5 second", 2.0), ("1 second", 1.0),
)
EGUS = ("mA", "degC", "Torr", "mm", "V", "counts", "Hz", "bar")
MBB_STATES = ("Zero", "One", "Two", "Three", "Four", "Five", "Six", "Seven")
AD_COLOR_MODES = ("Mono", "Bayer", "RGB1", "RGB2", "RGB3", "YUV444", "YUV422", "YUV421")
AD_DATA_TYPES = ("Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32",
                 "Int64", "UInt64", "Float32", "Float64")

IMAGE1_SIZE = (1024, 1024)   # width, height
IMAGE1_FPS = 15.0
IMAGE2_SIZE = (640, 480)     # width, height
IMAGE2_FPS = 10.0
WAVE_NELM = 2048
WAVE_HZ = 4.0


# --------------------------------------------------------------------------
# Environment


def ensure_array_bytes(environ: Optional[dict] = None) -> None:
    """Raise EPICS_CA_MAX_ARRAY_BYTES in ``environ`` to at least 16 MiB."""
    env = os.environ if environ is None else environ
    try:
        current = int(env.get("EPICS_CA_MAX_ARRAY_BYTES", "0"))
    except ValueError:
        current = 0
    if current < MIN_ARRAY_BYTES:
        env["EPICS_CA_MAX_ARRAY_BYTES"] = str(MIN_ARRAY_BYTES)


def client_env(environ: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """The EPICS_CA_* / EPICS_CAS_* / EPICS_PVA_* settings a client needs, defaults filled in."""
    env = os.environ if environ is None else environ
    result = dict(CA_DEFAULTS)
    result.update(PVA_DEFAULTS)
    result.update({k: v for k, v in env.items()
                   if k.startswith(("EPICS_CA_", "EPICS_CAS_", "EPICS_PVA_"))})
    return dict(sorted(result.items()))


def example_pvs(prefix: str) -> list[str]:
    """A few PV names worth typing into a client."""
    from .pva_camera import LZ4_SUFFIX

    return [f"{prefix}{n}" for n in ("sine", "setpoint", "enum", "wave", "ai:000",
                                     "image1:ArrayData", "image2:ArrayData")] + [
        f"pva://{prefix}sine", f"pva://{prefix}{LZ4_SUFFIX}"]


def client_env_text(prefix: str, environ: Optional[Mapping[str, str]] = None) -> str:
    """Lines printed once the IOC serves: exports, examples, then the ready token."""
    lines = [f"export {k}={v}" for k, v in client_env(environ).items()]
    lines.append("# example PVs: " + " ".join(example_pvs(prefix)))
    lines.append(f"{READY_TOKEN} prefix={prefix}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Records


def _scalar_names(prefix: str) -> Iterable[tuple[str, int, str]]:
    """(record type, index, name) for the 1,000 scalar PVs."""
    for rtype, count in SCALAR_LAYOUT:
        for i in range(count):
            yield rtype, i, f"{prefix}{rtype}:{i:03d}"


def _alarm_fields(lolo: float, low: float, high: float, hihi: float) -> dict[str, Any]:
    return dict(LOLO=lolo, LOW=low, HIGH=high, HIHI=hihi,
                LLSV="MAJOR", LSV="MINOR", HSV="MINOR", HHSV="MAJOR")


def _sim_ai(records: Any, name: str, scan: str, *, phase: float, step: float,
            amp: float, offset: float, noise: float, **fields: Any) -> None:
    """An ai fed by a calc that steps a sine: all processing happens in EPICS."""
    calc = records.calc(
        name + "_sim", CALC="A:=A+B;D+C*SIN(A)+E*(RNDM-0.5)",
        A=phase, B=step, C=amp, D=offset, E=noise)
    records.ai(name, SCAN=scan, INP=f"{calc.name} PP", **fields)


def build_scalars(records: Any, prefix: str) -> None:
    """The 1,000 mixed scalar records; the first DYNAMIC_AI ai move on their own."""
    for rtype, i, name in _scalar_names(prefix):
        egu = EGUS[i % len(EGUS)]
        if rtype == "ai" and i < DYNAMIC_AI:
            scan, rate = AI_SCANS[i % len(AI_SCANS)]
            period_s = 6.0 + (i % 7) * 3.0
            _sim_ai(records, name, scan, phase=0.7 * i, step=2 * math.pi / (period_s * rate),
                    amp=50.0, offset=50.0, noise=1.0, EGU=egu, PREC=2 + i % 2,
                    LOPR=0, HOPR=100, **_alarm_fields(10, 30, 70, 90))
        elif rtype == "ai":
            records.ai(name, INP=round(i * 0.25, 2), PINI="YES", EGU=egu, PREC=2,
                       LOPR=0, HOPR=100)
        elif rtype == "ao":
            records.ao(name, VAL=float(i), PINI="YES", EGU=egu, PREC=1, DRVL=-1000,
                       DRVH=1000, LOPR=-1000, HOPR=1000)
        elif rtype in ("bi", "bo"):
            kw = dict(ZNAM="Off", ONAM="On", OSV="NO_ALARM")
            if rtype == "bi":
                records.bi(name, INP=i % 2, PINI="YES", **kw)
            else:
                records.bo(name, VAL=i % 2, PINI="YES", **kw)
        elif rtype in ("mbbi", "mbbo"):
            states = _mbb_fields(MBB_STATES)
            if rtype == "mbbi":
                records.mbbi(name, INP=i % 8, PINI="YES", **states)
            else:
                records.mbbo(name, VAL=i % 8, PINI="YES", **states)
        elif rtype == "longin":
            records.longin(name, INP=i * 10, PINI="YES", EGU="counts", LOPR=0, HOPR=1000)
        elif rtype == "stringin":
            records.stringin(name, VAL=f"text {i:03d}", PINI="YES")


_MBB_PREFIXES = ("ZR", "ON", "TW", "TH", "FR", "FV", "SX", "SV",
                 "EI", "NI", "TE", "EL", "TV", "TT", "FT", "FF")


def _mbb_fields(states: Iterable[str]) -> dict[str, Any]:
    """ZRST/ZRVL, ONST/ONVL, ... for plain mbbi/mbbo records."""
    fields: dict[str, Any] = {}
    for i, (pre, text) in enumerate(zip(_MBB_PREFIXES, states)):
        fields[pre + "ST"] = text
        fields[pre + "VL"] = i
    return fields


def build_specials(records: Any, builder: Any, prefix: str) -> None:
    """sine, setpoint, enum, switch, long, message, readonly, wave:set, filename:set, slow."""
    p = prefix
    _sim_ai(records, f"{p}sine", ".1 second", phase=0.0, step=2 * math.pi / 100,
            amp=10.0, offset=0.0, noise=0.0, EGU="mm", PREC=3, LOPR=-10, HOPR=10,
            **_alarm_fields(-8, -5, 5, 8))
    records.ao(f"{p}setpoint", VAL=0.0, PINI="YES", EGU="V", PREC=2,
               DRVL=-100, DRVH=100, LOPR=-100, HOPR=100)
    records.mbbo(f"{p}enum", VAL=0, PINI="YES",
                 **_mbb_fields(("Off", "Standby", "On", "Fault")))
    records.bo(f"{p}switch", VAL=0, PINI="YES", ZNAM="Open", ONAM="Closed")
    records.longout(f"{p}long", VAL=0, PINI="YES", DRVL=-1000000, DRVH=1000000,
                    LOPR=-1000000, HOPR=1000000)
    records.stringout(f"{p}message", VAL="hello", PINI="YES")
    records.ao(f"{p}readonly", VAL=42.0, PINI="YES", ASG="READONLY", EGU="V", PREC=1,
               LOPR=0, HOPR=100)
    # Constant-link JSON initial values clear UDF (no INVALID before the first put).
    records.waveform(f"{p}wave:set", FTVL="DOUBLE", NELM=16, INP="[0]", PINI="YES")
    records.waveform(f"{p}filename:set", FTVL="CHAR", NELM=128, PINI="YES",
                     INP=f'{{const:"{_filename(0)}"}}')
    builder.aOut(f"{p}slow", initial_value=0.0, blocking=True, on_update=_slow_put,
                 EGU="s", PREC=2, DRVL=-1000, DRVH=1000)


async def _slow_put(value: float) -> None:
    """The put of ``{P}slow`` completes (callback fires) only after 3 s."""
    await asyncio.sleep(3.0)


def build_camera(builder: Any, prefix: str, *, dtype: str, nelm: int, sizes: tuple[int, int, int],
                 ndims: int, color: int, dtype_code: int) -> dict[str, Any]:
    """areaDetector-like plugin PVs; returns the records Python updates."""
    def longin(suffix: str, value: int) -> Any:
        return builder.longIn(prefix + suffix, initial_value=value)

    recs = {
        "size0": longin("ArraySize0_RBV", sizes[0]),
        "size1": longin("ArraySize1_RBV", sizes[1]),
        "size2": longin("ArraySize2_RBV", sizes[2]),
        "ndims": longin("NDimensions_RBV", ndims),
        "color": builder.mbbIn(prefix + "ColorMode_RBV", *AD_COLOR_MODES, initial_value=color),
        "dtype": builder.mbbIn(prefix + "DataType_RBV", *AD_DATA_TYPES, initial_value=dtype_code),
        "uid": longin("UniqueId_RBV", 0),
        "data": builder.WaveformIn(prefix + "ArrayData", datatype=dtype, length=nelm),
        "counter": longin("ArrayCounter_RBV", 0),
    }
    return recs


def build_dynamic(builder: Any, prefix: str) -> dict[str, Any]:
    """Python-driven records: wave, filename, heartbeat and both cameras."""
    p = prefix
    w1, h1 = IMAGE1_SIZE
    w2, h2 = IMAGE2_SIZE
    return {
        "wave": builder.WaveformIn(f"{p}wave", datatype=np.float64, length=WAVE_NELM,
                                   EGU="V", PREC=3, LOPR=-1, HOPR=1),
        # x axis for ``wave`` (same length at every update): time in ms
        "wave_x": builder.WaveformIn(f"{p}wave:x", datatype=np.float64, length=WAVE_NELM,
                                     EGU="ms", PREC=3, LOPR=0, HOPR=1000),
        "filename": builder.longStringIn(f"{p}filename", length=128,
                                         initial_value=_filename(1)),
        "heartbeat": builder.longIn(f"{p}heartbeat", initial_value=0),
        "image1": build_camera(builder, f"{p}image1:", dtype="uint16", nelm=w1 * h1,
                               sizes=(w1, h1, 0), ndims=2, color=0, dtype_code=3),
        "image2": build_camera(builder, f"{p}image2:", dtype="uint8", nelm=3 * w2 * h2,
                               sizes=(3, w2, h2), ndims=3, color=2, dtype_code=1),
    }


# --------------------------------------------------------------------------
# Data generators (numpy only, no per-pixel Python loops)


def _filename(n: int) -> str:
    return f"/data/2026/scan_{n:04d}.h5"


def mono_pattern(width: int, height: int) -> np.ndarray:
    """A periodic UInt16 pattern (gradient waves + Gaussian spot) using 0..65535."""
    x = np.linspace(0, 2 * np.pi, width, endpoint=False)[None, :]
    y = np.linspace(0, 2 * np.pi, height, endpoint=False)[:, None]
    base = 0.25 * (1 + np.sin(x)) + 0.15 * (1 + np.cos(2 * y))
    yy, xx = np.ogrid[:height, :width]
    spot = np.exp(-(((xx - width / 2) ** 2) + ((yy - height / 2) ** 2)) / (2 * (width / 16) ** 2))
    img = base + 0.4 * spot
    img = (img - img.min()) / (img.max() - img.min())
    return np.round(img * 65535).astype(np.uint16)


def rgb_pattern(width: int, height: int) -> np.ndarray:
    """A periodic colour pattern, shape (height, width, 3) uint8 (RGB1 when flattened)."""
    x = np.linspace(0, 2 * np.pi, width, endpoint=False)[None, :]
    y = np.linspace(0, 2 * np.pi, height, endpoint=False)[:, None]
    r = 0.5 + 0.5 * np.sin(x)
    g = 0.5 + 0.5 * np.sin(x + 2.1) * np.cos(y)
    b = 0.5 + 0.5 * np.cos(2 * y + x)
    return np.round(np.stack(np.broadcast_arrays(r, g, b), axis=-1) * 255).astype(np.uint8)


def wave_data(n: int, phase: float) -> np.ndarray:
    """``n`` points of a chirped sine, phase-shifted."""
    t = np.linspace(0.0, 1.0, n)
    return np.sin(2 * np.pi * (3 + 5 * t) * t + phase)


# --------------------------------------------------------------------------
# Update loops (asyncio, in the dispatcher's loop)


async def _every(period: float, step: Callable[[int], None]) -> None:
    """Call ``step(k)`` every ``period`` seconds on a drift-free schedule."""
    loop = asyncio.get_running_loop()
    deadline = loop.time()
    k = 0
    reported = False
    while True:
        try:
            step(k)
        except Exception as exc:  # keep the IOC alive; report the first failure only
            if not reported:
                print(f"pvprobe demo IOC: {getattr(step, '__name__', step)} update failed: "
                      f"{exc!r}", file=sys.stderr, flush=True)
                reported = True
        k += 1
        deadline += period
        now = loop.time()
        if deadline < now:          # fell behind: skip, never queue
            deadline = now
        await asyncio.sleep(deadline - now)


def _publish_frame(cam: dict[str, Any], flat: np.ndarray, k: int) -> None:
    """UniqueId first, then pixels, then ArrayCounter (clients trigger on it)."""
    cam["uid"].set(k + 1)
    cam["data"].set(flat)
    cam["counter"].set(k + 1)


def start_updates(loop: asyncio.AbstractEventLoop, recs: dict[str, Any]) -> None:
    """Schedule all Python-driven updates on the dispatcher's loop."""
    mono = mono_pattern(*IMAGE1_SIZE)
    rgb = rgb_pattern(*IMAGE2_SIZE)

    def image1(k: int) -> None:
        _publish_frame(recs["image1"], np.roll(mono, (3 * k, 7 * k), axis=(0, 1)).ravel(), k)

    def image2(k: int) -> None:
        _publish_frame(recs["image2"], np.roll(rgb, (2 * k, 5 * k), axis=(0, 1)).ravel(), k)

    def wave(k: int) -> None:
        n = 100 + (k * 97) % (WAVE_NELM - 100 + 1)
        recs["wave_x"].set(np.linspace(0.0, 1000.0, n))
        recs["wave"].set(wave_data(n, 0.2 * k))

    def filename(k: int) -> None:
        recs["filename"].set(_filename(k + 1))

    def heartbeat(k: int) -> None:
        recs["heartbeat"].set(k)

    for period, step in ((1 / IMAGE1_FPS, image1), (1 / IMAGE2_FPS, image2),
                         (1 / WAVE_HZ, wave), (3.0, filename), (1.0, heartbeat)):
        asyncio.run_coroutine_threadsafe(_every(period, step), loop)


# --------------------------------------------------------------------------
# IOC start-up


def load_access_security(acf_path: str) -> None:
    """asSetFilename() in dbCore; must run before iocInit."""
    from epicscorelibs.ioc import dbCore

    fn = dbCore.asSetFilename
    fn.argtypes = [ctypes.c_char_p]
    fn.restype = ctypes.c_int
    if fn(acf_path.encode()) != 0:
        raise RuntimeError(f"asSetFilename({acf_path!r}) failed")


def _write_acf() -> str:
    fd, path = tempfile.mkstemp(prefix="pvprobe-demo-", suffix=".acf")
    with os.fdopen(fd, "w") as f:
        f.write(ACF_TEXT)
    return path


def parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="pvprobe demo-ioc", description=__doc__.splitlines()[0])
    parser.add_argument("--prefix", default=DEFAULT_PREFIX,
                        help=f"PV name prefix (default {DEFAULT_PREFIX})")
    parser.add_argument("--no-pva", action="store_true",
                        help="serve Channel Access only (no QSRV2, no pvAccess camera)")
    return parser.parse_args(argv)


def main(argv: Optional[list[str]] = None) -> int:
    """Build the database, start the IOC, print the client environment, serve until signalled."""
    die_with_parent_from_env()      # when the launcher asked (see core.parentdeath)
    args = parse_args(argv)
    prefix: str = args.prefix
    ensure_array_bytes()            # before the IOC libraries read it
    from softioc import asyncio_dispatcher, builder, softioc

    dispatcher = asyncio_dispatcher.AsyncioDispatcher()
    build_scalars(builder.records, prefix)
    build_specials(builder.records, builder, prefix)
    recs = build_dynamic(builder, prefix)
    builder.LoadDatabase()

    acf = _write_acf()
    try:
        load_access_security(acf)
        softioc.iocInit(dispatcher, enable_pva=not args.no_pva)
    finally:
        os.unlink(acf)
    if not args.no_pva:
        from .pva_camera import PVA_IMAGE_FPS, start_camera

        camera = start_camera(prefix, os.environ)
        recs["pva_camera"] = camera
        asyncio.run_coroutine_threadsafe(_every(1 / PVA_IMAGE_FPS, camera.publish), dispatcher.loop)
    start_updates(dispatcher.loop, recs)
    sys.stdout.write(client_env_text(prefix))
    sys.stdout.flush()
    softioc.non_interactive_ioc()    # returns never: epicsExit on SIGTERM/SIGINT
    return 0


if __name__ == "__main__":
    sys.exit(main())
