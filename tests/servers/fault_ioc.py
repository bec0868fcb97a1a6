"""An IOC for the fault tests, run as its own process (``python tests/servers/fault_ioc.py``).

The demo IOC's records under ``prefix`` (1,000 scalars, waveform, two cameras)
plus 1,000 more scalars under each extra prefix. Never imports ``epics``.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    from pvprobe.demo import ioc as demo

    prefix, extra = argv[0], argv[1:]
    demo.ensure_array_bytes()
    from softioc import asyncio_dispatcher, builder, softioc

    dispatcher = asyncio_dispatcher.AsyncioDispatcher()
    demo.build_scalars(builder.records, prefix)
    for p in extra:
        demo.build_scalars(builder.records, p)
    demo.build_specials(builder.records, builder, prefix)
    recs = demo.build_dynamic(builder, prefix)
    builder.LoadDatabase()
    softioc.iocInit(dispatcher, enable_pva=False)
    demo.start_updates(dispatcher.loop, recs)
    sys.stdout.write(demo.client_env_text(prefix))
    sys.stdout.flush()
    softioc.non_interactive_ioc()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
