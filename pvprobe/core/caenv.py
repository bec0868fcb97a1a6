"""Channel Access environment helpers: free loopback ports and isolated-CA settings.

No epics import here: these run before libca is loaded, in any process.
"""

from __future__ import annotations

import random
import socket

#: Where :func:`free_port` looks when the kernel's ephemeral range starts above it.
FIXED_PORTS_FROM = 20000


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for ports it assigns to sockets bound to port 0 (Linux's
    ``ip_local_port_range``; the usual 32768-60999 where it cannot be read)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split()[:2])
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def _bindable(port: int) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", port))
    except OSError:
        return False
    return True


def free_port() -> int:
    """A port number free for both TCP and UDP on 127.0.0.1 (CA and PVA servers use
    both), below the kernel's ephemeral range: a server stopped and started again on
    it (a restarted IOC or gateway) must find it free, and a client socket opened
    meanwhile (every CA or pvAccess client binds UDP sockets to port 0) could take a
    port from that range. A pvxs server whose UDP port was taken so exits with
    "Address already in use"."""
    lo, _ = ephemeral_range()
    if lo > FIXED_PORTS_FROM + 1000:
        pick = random.SystemRandom()
        for _ in range(500):
            port = pick.randrange(FIXED_PORTS_FROM, lo)
            if _bindable(port):
                return port
    for _ in range(200):          # no room below the ephemeral range: the kernel's pick
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
        if _bindable(port):
            return port
    raise RuntimeError("no free port found for both TCP and UDP")


def udp_port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something is bound to ``port`` (a CA repeater, for example)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.bind((host, port))
        except OSError:
            return True
    # A repeater bound to INADDR_ANY shows up on 0.0.0.0 too.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def loopback_env(server_port: int, repeater_port: int) -> dict[str, str]:
    """Environment that confines both a CA server and its clients to 127.0.0.1."""
    return {
        "EPICS_CA_SERVER_PORT": str(server_port),
        "EPICS_CA_REPEATER_PORT": str(repeater_port),
        "EPICS_CA_AUTO_ADDR_LIST": "NO",
        "EPICS_CA_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_INTF_ADDR_LIST": "127.0.0.1",
        "EPICS_CAS_AUTO_BEACON_ADDR_LIST": "NO",
        "EPICS_CAS_BEACON_ADDR_LIST": "127.0.0.1",
    }


#: The IOC needs room for the demo camera (1024*1024*2 bytes) and RGB frames.
DEMO_MAX_ARRAY_BYTES = str(16 * 1024 * 1024)
