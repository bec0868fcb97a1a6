"""A small caproto IOC for tests: STRING arrays served the way caproto serves them
(``pvproperty(dtype=STRING, max_length=N)``), which differs from an EPICS base
waveform (FTVL=STRING). Started by the ``caproto_ioc`` fixture in ``conftest.py``.

PVs (``PREFIX`` from ``--prefix``):

- ``strs``: ``['string1', 'string2']``, room for 5; tests never write it.
- ``wstrs:0`` .. ``wstrs:9``: the same start value, for tests that write (each
  test uses its own and puts a known value first).
- ``str``: a scalar string; ``long``: an integer array of 5 (plain neighbours).
"""

from __future__ import annotations

from caproto import ChannelType
from caproto.server import PVGroup, ioc_arg_parser, pvproperty, run

START = ["string1", "string2"]
NELM = 5
N_WRITABLE = 10


def _strings(name: str) -> pvproperty:
    return pvproperty(value=list(START), max_length=NELM, dtype=ChannelType.STRING, name=name)


def _namespace() -> dict:
    ns: dict = {
        "__doc__": "String arrays (and two plain neighbours) for pvprobe's tests.",
        "strs": _strings("strs"),
        "text": pvproperty(value="hello", dtype=ChannelType.STRING, name="str"),
        "longs": pvproperty(value=[1, 2, 3], max_length=NELM, dtype=ChannelType.LONG, name="long"),
    }
    for i in range(N_WRITABLE):
        ns[f"wstrs{i}"] = _strings(f"wstrs:{i}")
    return ns


#: Built with the PVGroup metaclass so that every pvproperty in the namespace is collected.
StringsIOC = type(PVGroup)("StringsIOC", (PVGroup,), _namespace())


def main() -> None:
    ioc_options, run_options = ioc_arg_parser(default_prefix="PVPCAP:", desc=StringsIOC.__doc__)
    ioc = StringsIOC(**ioc_options)
    run(ioc.pvdb, **run_options)


if __name__ == "__main__":
    main()
