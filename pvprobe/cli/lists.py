"""``pvprobe list``: the channel names pvAccess servers list themselves (like pvxs's
``pvxlist``): each pvxs server's built-in ``server`` PV (p4p servers and gateways, QSRV2
IOCs). Without ``--server``, the servers are those a discovery ping finds where a client
searches (EPICS_PVA_ADDR_LIST / EPICS_PVA_AUTO_ADDR_LIST). Plain sockets: no p4p, no
epics, no Qt."""

from __future__ import annotations

import argparse
import sys

from .common import err, positive


def run(args: argparse.Namespace) -> int:
    """Print the names (one a line, sorted, each once), or with ``--servers`` the
    servers found; a server that gives no list is said on stderr (status 1)."""
    from ..pva.channel_lists import gather
    from ..pva.server_list import ServerListError, parse_server

    for s in args.server or []:
        try:
            parse_server(s)
        except ServerListError as exc:
            err("list", f"--server: {exc}")
            return 2
    if args.servers:
        result = gather((), discover=True, discover_timeout=args.timeout, list_timeout=args.timeout)
        for s in result.discovered:
            print(s)
        if result.problem:
            err("list", result.problem)
        return 0 if result.discovered else 1
    result = gather(args.server or (), discover=not args.server, discover_timeout=args.timeout,
                    list_timeout=args.timeout)
    if result.problem:
        err("list", result.problem)
    if not result.lists:
        if not result.problem:
            err("list", f"no pvAccess server answered a discovery ping within {args.timeout:g} s")
        return 1
    names: set[str] = set()
    failed = 0
    for server, got in result.lists.items():
        if isinstance(got, str):
            err("list", f"{server}: {got}")
            failed += 1
        elif args.verbose:
            print(f"# From {server} ({len(got)} names)")
            print("\n".join(got))
        else:
            names.update(got)
    if not args.verbose and names:
        print("\n".join(sorted(names)))
    sys.stdout.flush()
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pvprobe list",
        description="Print the channel names pvAccess servers list themselves (pvxs servers: "
                    "p4p servers and gateways, QSRV2 IOCs; a gateway lists only its own status "
                    "PVs). Without --server, asks every server a discovery ping finds where a "
                    "client searches (EPICS_PVA_ADDR_LIST, EPICS_PVA_AUTO_ADDR_LIST).")
    p.add_argument("--server", action="append", metavar="HOST:PORT",
                   help="ask this server (its TCP address, e.g. 127.0.0.1:5075) instead of "
                        "discovering (repeatable)")
    p.add_argument("--servers", action="store_true",
                   help="print the servers a discovery ping finds (HOST:PORT), not their names")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="the names per server, each list after a '# From HOST:PORT' line")
    p.add_argument("--timeout", type=positive, default=2.0, metavar="S",
                   help="seconds to wait for discovery answers and for each server's list (default 2)")
    return p
