"""Free loopback ports for servers the tests (and the demo) start and restart."""

from __future__ import annotations

import socket

from pvprobe.core.caenv import FIXED_PORTS_FROM, ephemeral_range, free_port


def test_free_ports_lie_below_the_ephemeral_range_and_are_bindable():
    lo, hi = ephemeral_range()
    assert 0 < lo <= hi
    ports = {free_port() for _ in range(20)}
    for port in ports:
        if lo > FIXED_PORTS_FROM + 1000:
            assert FIXED_PORTS_FROM <= port < lo, port
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", port))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", port))
    assert len(ports) > 10          # picked at random, not one port again and again


def test_a_client_socket_cannot_take_a_free_port():
    """What a restarted server needs: sockets bound to port 0 (every CA and PVA client's
    UDP search socket) get ports from the ephemeral range, never ours."""
    lo, hi = ephemeral_range()
    if lo <= FIXED_PORTS_FROM + 1000:
        return      # no room below the range here: free_port falls back to the kernel's pick
    port = free_port()
    socks = []
    try:
        for _ in range(200):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
            assert s.getsockname()[1] != port and lo <= s.getsockname()[1] <= hi
    finally:
        for s in socks:
            s.close()
