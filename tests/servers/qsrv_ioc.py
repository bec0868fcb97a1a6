"""A pythonSoftIOC IOC serving its records over CA and over pvAccess (QSRV2), for
tests (own process; PVA server kind "qsrv" of conftest's PVA_PORTS).

    python tests/qsrv_ioc.py PREFIX

Ports come from the environment (EPICS_CA_SERVER_PORT, EPICS_PVAS_SERVER_PORT ...).
Records (PREFIX + name):

- ``temp``: ai, EGU "degC", PREC 2, HOPR/LOPR 0..100,
  HIHI 90 (MAJOR) HIGH 80 (MINOR) LOW 10 (MINOR) LOLO 5 (MAJOR), value 21.25.
- ``hot``: ai like ``temp`` but at 95: in HIHI/MAJOR alarm.
- ``count``: longout, DRVL/DRVH 0..1000, value 7 (writable).
- ``mode``: mbbo with states Idle, Run, Fault (value Run); ``state``: mbbi (value Fault).
- ``on``: bo (Off/On, value Off).
- ``msg``: stringin "hello qsrv".
- ``wave``: waveform DOUBLE[8] (1.5 2.5 ... ), ``text``: waveform CHAR[32] "abc".

Prints READY once serving; runs until killed.
"""

from __future__ import annotations

import sys

import numpy as np

TEMP = 21.25
WAVE = [1.5 + i for i in range(5)]


def build(builder, prefix: str) -> None:
    """The records above."""
    alarms = dict(EGU="degC", PREC=2, LOPR=0, HOPR=100, HIHI=90, HIGH=80, LOW=10,
                  LOLO=5, HHSV="MAJOR", HSV="MINOR", LSV="MINOR", LLSV="MAJOR")
    builder.aIn(prefix + "temp", initial_value=TEMP, **alarms)
    builder.aIn(prefix + "hot", initial_value=95.0, **alarms)
    builder.longOut(prefix + "count", initial_value=7, DRVL=0, DRVH=1000, LOPR=0, HOPR=1000, EGU="cts")
    builder.mbbOut(prefix + "mode", "Idle", "Run", "Fault", initial_value=1)
    builder.mbbIn(prefix + "state", "Idle", "Run", "Fault", initial_value=2)
    builder.boolOut(prefix + "on", "Off", "On", initial_value=0)
    builder.stringIn(prefix + "msg", initial_value="hello qsrv")
    builder.WaveformOut(prefix + "wave", initial_value=np.array(WAVE + [0.0] * 3)[:5], length=8,
                        datatype=np.float64)
    builder.WaveformOut(prefix + "text", initial_value=np.frombuffer(b"abc\0", np.uint8), length=32,
                        datatype=np.uint8)


def main() -> None:
    prefix = sys.argv[1]
    from softioc import asyncio_dispatcher, builder, softioc

    dispatcher = asyncio_dispatcher.AsyncioDispatcher()
    build(builder, prefix)
    builder.LoadDatabase()
    softioc.iocInit(dispatcher, enable_pva=True)
    print("READY", flush=True)
    softioc.non_interactive_ioc()


if __name__ == "__main__":
    main()
