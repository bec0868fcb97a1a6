"""``pvprobe demo-ioc``: the demo IOC in the foreground (its own process: no epics here)."""

from __future__ import annotations

import argparse

from .common import command_parser


def run(args: argparse.Namespace) -> int:
    from ..demo import ioc

    argv = ["--prefix", args.prefix] if args.prefix else []
    if args.no_pva:
        argv.append("--no-pva")
    return ioc.main(argv) or 0


def build_parser() -> argparse.ArgumentParser:
    p = command_parser("demo-ioc", "Run the demo IOC in the foreground and print the "
                                   "environment a client needs.")
    p.add_argument("--prefix", default=None, help="PV prefix (default PVPDEMO:)")
    p.add_argument("--no-pva", action="store_true",
                   help="serve Channel Access only (no QSRV2, no pvAccess camera)")
    return p
