"""Command line: the GUI (default) and its twins ``get``, ``put``, ``info``,
``monitor``, ``snapshot`` and ``demo-ioc``. Output follows caget/caput/cainfo/camonitor.

One module per command (``gui``, ``get``, ``put``, ``info``, ``monitor``,
``snapshot``, ``demo``), each with ``build_parser()`` and ``run(args)``; what
they share is in ``common``. Heavy imports (epics, Qt, the IOC libraries)
happen inside the commands: the IOC and pyepics must never share a process,
and ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Optional

from ..core.realtime import drop_realtime
from . import gui

#: Subcommand -> the module of this package that runs it (imported when used).
COMMANDS = {"get": "get", "put": "put", "info": "info", "monitor": "monitor",
            "snapshot": "snapshot", "demo-ioc": "demo"}
SUBCOMMANDS = tuple(COMMANDS)


def command_module(cmd: str) -> ModuleType:
    """The module that runs subcommand ``cmd`` (a key of :data:`COMMANDS`)."""
    return importlib.import_module(f"{__name__}.{COMMANDS[cmd]}")


def build_sub_parser(cmd: str) -> argparse.ArgumentParser:
    """The argument parser of subcommand ``cmd``."""
    return command_module(cmd).build_parser()


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``pvprobe ARGS`` (``sys.argv[1:]`` by default); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # before libca or a demo IOC starts threads: no real-time EPICS threads that
    # would pre-empt the GUI thread (core.realtime)
    drop_realtime()
    if argv and argv[0] in COMMANDS:
        module = command_module(argv[0])
        return module.run(module.build_parser().parse_args(argv[1:]))
    return gui.run(gui.build_parser().parse_args(argv))
