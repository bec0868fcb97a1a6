"""A small caproto IOC for the number and byte formatting tests (``test_number_format``):
the same PVs as the EPICS base soft IOC there (``numbers_db``), served by caproto.

PVs (``PREFIX`` from ``--prefix``): ``wave`` DOUBLE[64] = arange(64)/12, PREC 0;
``fwave`` FLOAT[8] = 0.1, 0.25, ..., PREC 0; ``ao`` DOUBLE 5.5, PREC 0; ``whole``
DOUBLE 5.0, PREC 0; ``w:0`` .. ``w:3`` writable DOUBLE[64], PREC 0; ``x:0`` .. ``x:3``
writable DOUBLE scalars, PREC 0; ``bytes`` CHAR[2048] of random bytes (``random_bytes``,
none of them NUL); ``nul`` CHAR[16] starting with a NUL (then "AB").
"""

from __future__ import annotations

import numpy as np
from caproto import ChannelType
from caproto.server import PVGroup, ioc_arg_parser, pvproperty, run

WAVE = (np.arange(64) / 12).tolist()
FWAVE = [0.1, 0.25, 1 / 3, 2.5, 1e-7, 123456.789, -0.5, 7.0]
N_WRITABLE = 4


def random_bytes(n: int = 2048, seed: int = 12) -> list[int]:
    """``n`` random bytes (fixed seed) that are not text, none of them NUL."""
    data = np.random.default_rng(seed).integers(1, 256, n).astype(np.uint8)
    data[0] = 0x1d
    return data.tolist()


NUL_FIRST = [0, 65, 66] + [0] * 13


def _ns() -> dict:
    d = ChannelType.DOUBLE
    ns: dict = {
        "__doc__": "Floats and bytes for pvprobe's formatting tests.",
        "wave": pvproperty(value=WAVE, max_length=64, dtype=d, precision=0, name="wave"),
        "fwave": pvproperty(value=FWAVE, max_length=8, dtype=ChannelType.FLOAT, precision=0,
                            name="fwave"),
        "ao": pvproperty(value=5.5, dtype=d, precision=0, name="ao"),
        "whole": pvproperty(value=5.0, dtype=d, precision=0, name="whole"),
        "bytes": pvproperty(value=random_bytes(), max_length=2048, dtype=ChannelType.CHAR,
                            name="bytes"),
        "nul": pvproperty(value=NUL_FIRST, max_length=16, dtype=ChannelType.CHAR, name="nul"),
    }
    for i in range(N_WRITABLE):
        ns[f"w{i}"] = pvproperty(value=[0.0] * 64, max_length=64, dtype=d, precision=0, name=f"w:{i}")
        ns[f"x{i}"] = pvproperty(value=0.0, dtype=d, precision=0, name=f"x:{i}")
    return ns


#: Built with the PVGroup metaclass so that every pvproperty in the namespace is collected.
NumbersIOC = type(PVGroup)("NumbersIOC", (PVGroup,), _ns())


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="PVPNUM:", desc=NumbersIOC.__doc__)
    ioc = NumbersIOC(**ioc_options)
    run(ioc.pvdb, **run_options)


if __name__ == "__main__":
    main()
