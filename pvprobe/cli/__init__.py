"""Command line: the GUI (default) and its twins ``get``, ``put``, ``info``,
``monitor``, ``snapshot``, ``list`` (servers' channel lists) and ``demo-ioc``.
Output follows caget/caput/cainfo/camonitor.

One module per command (``gui``, ``get``, ``put``, ``info``, ``monitor``,
``snapshot``, ``lists``, ``demo``), each with ``build_parser()`` and ``run(args)``; what
they share is in ``common``. Heavy imports (epics, Qt, the IOC libraries)
happen inside the commands: the IOC and pyepics must never share a process,
and ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Optional

from ..core.realtime import drop_realtime
from . import gui

#: Subcommand -> the module of this package that runs it (imported when used).
COMMANDS = {"get": "get", "put": "put", "info": "info", "monitor": "monitor",
            "snapshot": "snapshot", "list": "lists", "demo-ioc": "demo"}
SUBCOMMANDS = tuple(COMMANDS)


def command_module(cmd: str) -> ModuleType:
    """The module that runs subcommand ``cmd`` (a key of :data:`COMMANDS`)."""
    return importlib.import_module(f"{__name__}.{COMMANDS[cmd]}")


def build_sub_parser(cmd: str) -> argparse.ArgumentParser:
    """The argument parser of subcommand ``cmd``."""
    return command_module(cmd).build_parser()


#: The environment variable giving the protocol of bare names (``--default-protocol`` wins).
DEFAULT_PROTOCOL_ENV = "PVPROBE_DEFAULT_PROTOCOL"


def take_default_protocol(argv: list[str]) -> tuple[list[str], Optional[str]]:
    """Apply ``--default-protocol {ca,pva}`` (anywhere before ``--``, for every command
    and the GUI), else $PVPROBE_DEFAULT_PROTOCOL, before any name is parsed (either
    wins over the GUI's saved setting: ``pvnames.default_protocol_given``). Returns
    the arguments without the option and an error message (or None)."""
    from ..core.pvnames import PROTOCOLS, set_default_protocol

    rest: list[str] = []
    chosen: Optional[str] = None
    origin = "--default-protocol"
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest += argv[i:]
            break
        if a == "--default-protocol":
            if i + 1 >= len(argv):
                return rest, "--default-protocol needs a value (ca or pva)"
            chosen = argv[i + 1]
            i += 2
            continue
        if a.startswith("--default-protocol="):
            chosen = a.split("=", 1)[1]
        else:
            rest.append(a)
        i += 1
    if chosen is None:
        chosen, origin = os.environ.get(DEFAULT_PROTOCOL_ENV, "").strip() or None, f"${DEFAULT_PROTOCOL_ENV}"
    if chosen is not None:
        try:
            set_default_protocol(chosen)
        except ValueError:
            return rest, f"{origin}: {chosen!r} is not one of {', '.join(PROTOCOLS)}"
    return rest, None


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run ``pvprobe ARGS`` (``sys.argv[1:]`` by default); returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # before libca or a demo IOC starts threads: no real-time EPICS threads that
    # would pre-empt the GUI thread (core.realtime)
    drop_realtime()
    argv, problem = take_default_protocol(argv)
    if problem:
        print(f"pvprobe: {problem}", file=sys.stderr)
        return 2
    if argv and argv[0] in COMMANDS:
        module = command_module(argv[0])
        return module.run(module.build_parser().parse_args(argv[1:]))
    return gui.run(gui.build_parser().parse_args(argv))
