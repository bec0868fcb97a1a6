"""Self-check of pyepics' libca and p4p's pvxs in ONE process (from source or in the bundle).

    pvprobe -m bundle_check ca-first|pva-first CA_PV PVA_PV        # the bundle
    python packaging/bundle_check.py ca-first|pva-first CA_PV PVA_PV  # from source

``ca-first`` is pvprobe's own order (the CA context exists before p4p is imported:
the PVA source imports p4p on the first pva:// name); ``pva-first`` imports p4p
before pyepics loads libca. Then one Engine reads ``CA_PV`` over CA and
``pva://PVA_PV`` over pvAccess in the same call, and one JSON line tells the
values, the libca file pyepics loaded, and every EPICS library the process maps.
The environment (EPICS_CA_*, EPICS_PVA_*) says where the servers are.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

#: Fragments of the shared libraries worth reporting.
LIB_KEYS = ("libca", "libCom", "libpvxs", "_p4p", "libdbCore", "libComPYEPICS")


def loaded_epics_libs() -> list[str]:
    """The EPICS shared libraries mapped into this process (from /proc/self/maps)."""
    with open("/proc/self/maps") as fh:
        return sorted({ln.split()[-1] for ln in fh if ".so" in ln and any(k in ln for k in LIB_KEYS)})


def _plain(value: Any) -> Any:
    """A JSON-friendly summary of a PV value (arrays by shape and sum)."""
    if hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
        return {"shape": list(value.shape), "sum": int(value.astype("int64").sum())}
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (int, float, str)) or value is None else repr(value)


def codec_round_trips() -> dict[str, bool]:
    """Each imagecodecs codec pvprobe decodes NTNDArray frames with: encoded and decoded
    back (False: its extension module is missing, e.g. not bundled)."""
    import imagecodecs
    import numpy as np

    img = (np.arange(64 * 48, dtype=np.uint16).reshape(48, 64) * 7)
    raw = img.tobytes()
    pairs = {"lz4": ("lz4_encode", "lz4_decode"), "zlib": ("zlib_encode", "zlib_decode"),
             "blosc": ("blosc_encode", "blosc_decode"), "lz4hdf5": ("lz4h5_encode", "lz4h5_decode"),
             "bitshuffle": ("bitshuffle_encode", "bitshuffle_decode")}
    out = {}
    for codec, (enc, dec) in pairs.items():
        try:
            out[codec] = bytes(getattr(imagecodecs, dec)(getattr(imagecodecs, enc)(raw))) == raw
        except Exception:
            out[codec] = False
    try:
        grey = (img >> 8).astype(np.uint8)
        back = imagecodecs.jpeg8_decode(imagecodecs.jpeg8_encode(grey, level=100))
        out["jpeg"] = np.asarray(back).shape == grey.shape
    except Exception:
        out["jpeg"] = False
    return out


def check(order: str, ca_pv: str, pva_pv: str, timeout: float = 10.0) -> dict:
    """Load the two stacks in ``order``, read both PVs with one Engine, report."""
    if order not in ("ca-first", "pva-first"):
        raise SystemExit(f"bundle_check: order must be ca-first or pva-first, not {order!r}")
    if order == "pva-first":
        import p4p.client.raw  # noqa: F401  (pvxslibs and epicscorelibs' libCom load here)
    # every PVA channel starts on the C++ fast path (pvprobe.pva._pvafast): the image
    # leaves it for p4p, the CA record's twin over PVA (QSRV2) stays on it
    os.environ["PVPROBE_PVA_FAST"] = "always"
    from pvprobe.ca.context import ensure_context
    from pvprobe.ca.engine import Engine

    ensure_context()
    from epics import ca

    eng = Engine(tick_hz=20)
    try:
        got = eng.read([ca_pv, "pva://" + pva_pv, "pva://" + ca_pv], timeout=timeout)
    finally:
        eng.close()
    from pvprobe.pva.fast import load_module

    module, why = load_module()
    out: dict = {"order": order, "libca": getattr(ca.libca, "_name", "?"), "libs": loaded_epics_libs(),
                 "codecs": codec_round_trips()}
    out["pva_fast_path"] = {"loaded": module is not None, "why_not": why}
    for key, name in (("ca", ca_pv), ("pva", "pva://" + pva_pv), ("pva_scalar", "pva://" + ca_pv)):
        st = got[name]
        out[key] = {"connected": st.connected, "value": _plain(st.value), "error": st.error,
                    "protocol": st.protocol}
        if st.extra and "codec" in st.extra:
            out[key]["codec"] = st.extra["codec"]
            out[key]["unique_id"] = st.extra.get("unique_id")
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    out = check(*argv)
    print(json.dumps(out), flush=True)
    return 0 if out["ca"]["connected"] and out["pva"]["connected"] and out["pva_scalar"]["connected"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
