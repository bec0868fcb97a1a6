"""Entry point of the PyInstaller bundle (packaging/pvprobe.spec).

In the bundle ``sys.executable`` is the ``pvprobe`` program itself, not a Python
interpreter. pvprobe starts its helper processes as ``sys.executable -m MODULE``
(the demo IOC: ``pvprobe.demo.ioc``; the CA repeater:
``caproto.commandline.repeater``), so this entry accepts exactly that form for
those modules and runs them like ``python -m`` would (and ``bundle_check``, the
self-check of CA and pvAccess in one process, packaging/bundle_check.py). Everything else goes to
the normal command line, :func:`pvprobe.cli.main`.
"""

from __future__ import annotations

import runpy
import sys

#: Modules the bundle may run as ``pvprobe -m MODULE`` (what pvprobe itself spawns).
RUNNABLE_MODULES = ("pvprobe.demo.ioc", "caproto.commandline.repeater", "pvprobe.ca.repeater_main",
                    "bundle_check")


def main() -> int:
    """Dispatch ``-m MODULE`` to the helper module, anything else to the CLI."""
    argv = sys.argv
    if len(argv) >= 3 and argv[1] == "-m":
        module = argv[2]
        if module not in RUNNABLE_MODULES:
            print(f"pvprobe: -m {module}: not available in this bundle "
                  f"(only {', '.join(RUNNABLE_MODULES)})", file=sys.stderr)
            return 2
        sys.argv = [argv[0]] + argv[3:]
        runpy.run_module(module, run_name="__main__", alter_sys=True)
        return 0
    from pvprobe.cli import main as cli_main

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
