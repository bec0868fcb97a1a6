"""Through a real pvAccess gateway (``python -m p4p.gw``): values, the gateway's own
status PVs, its access rules (read-only, hidden) shown honestly, a PV two upstream
servers both serve, a gateway killed and restarted under 1,000 monitored PVs, and a
configuration the gateway refuses. The upstream servers sit on ports the client does
not search: what the client gets, it gets through the gateway."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from conftest import PVA_PORTS, free_port
from servers.pva_gateway import Gateway, GatewayError, Upstream

N_BUSY = 1000


def _ports(n: int) -> list[int]:
    taken = {p for pair in PVA_PORTS.values() for p in pair}
    out: list[int] = []
    while len(out) < n:
        p = free_port()
        if p not in taken and p not in out:
            out.append(p)
    return out


@pytest.fixture(scope="module")
def upstream(ca_repeater: object) -> Iterator[tuple[Upstream, Upstream, str]]:
    """Two p4p servers behind the gateway: A (N_BUSY counters at 2 Hz, a setpoint) and
    B (5 static PVs); both serve the name returned third (a duplicate)."""
    tag = os.getpid()
    dup = f"gwdup{tag}"
    pa, ua, pb, ub = _ports(4)
    a = Upstream(f"gwA{tag}", N_BUSY, 2.0, pa, ua, dup)
    try:
        b = Upstream(f"gwB{tag}", 5, 0.0, pb, ub, dup)
    except Exception:
        a.stop()
        raise
    yield a, b, dup
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def gateway(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    a, b, _ = upstream
    tcp, udp = PVA_PORTS["gateway"]
    pvlist = f".* ALLOW\n{a.prefix}:setp ALLOW RO\n{b.prefix}:3 DENY\n"   # the last match wins
    gw = Gateway(tmp_path_factory.mktemp("gw"), tcp, udp, [a.udp, b.udp], pvlist=pvlist).start()
    yield gw
    gw.stop()


@pytest.fixture
def engine(gateway) -> Iterator[object]:
    from pvprobe.ca.engine import Engine

    eng = Engine(tick_hz=20)
    yield eng
    eng.close()


def test_values_come_through_the_gateway(engine, upstream, gateway) -> None:
    a, b, _ = upstream
    got = engine.read([f"pva://{a.prefix}:setp", f"pva://{b.prefix}:2"], timeout=5)
    assert got[f"pva://{a.prefix}:setp"].connected and got[f"pva://{a.prefix}:setp"].value == 1.0
    assert got[f"pva://{b.prefix}:2"].value == 0.0
    # the gateway's own status PVs open like any PV
    stats = engine.read([f"pva://{gateway.status}clients", f"pva://{gateway.status}stats"], timeout=5)
    assert all(s.connected for s in stats.values()), stats


def test_a_read_only_pv_refuses_the_put_with_the_gateways_message(engine, upstream) -> None:
    a, _, _ = upstream
    name = f"pva://{a.prefix}:setp"
    res = engine.put_wait(name, 7.5, timeout=5)
    assert not res.ok
    assert "denied by gateway" in res.error.lower(), res.error
    again = engine.read([name], timeout=5)[name]
    assert again.value == 1.0        # nothing was written


def test_a_hidden_pv_is_not_found(engine, upstream) -> None:
    _, b, _ = upstream
    name = f"pva://{b.prefix}:3"
    st = engine.read([name], timeout=1.5)[name]
    assert not st.connected and "not found" in st.error
    assert engine.read([f"pva://{b.prefix}:4"], timeout=5)[f"pva://{b.prefix}:4"].connected


def test_a_pv_two_servers_serve_behind_one_gateway(engine, upstream) -> None:
    """The gateway connects to one of them; pvprobe shows that one's value, no error."""
    a, b, dup = upstream
    st = engine.read([f"pva://{dup}"], timeout=5)[f"pva://{dup}"]
    assert st.connected and not st.error
    assert st.value in (float(a.tcp), float(b.tcp))


def test_a_refused_configuration_gives_the_gateways_message(tmp_path: Path) -> None:
    tcp, udp = _ports(2)
    bad = Gateway(tmp_path, tcp, udp, [udp], config={"version": 2, "clients": [{"name": "up"}],
                                                     "servers": [{"name": "down", "clients": ["nope"]}]})
    with pytest.raises(GatewayError) as err:
        bad.start(timeout=30)
    assert "exited" in str(err.value)
    assert bad.proc is not None and bad.proc.poll() is not None     # gone, not hanging


class Rows:
    """The newest state per PV as a table would hold it (worker thread)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.states: dict = {}

    def __call__(self, batch) -> None:
        for st in batch.states:
            self.states[st.name] = st
        self.engine.batch_done()

    def count(self, pred) -> int:
        return sum(1 for s in list(self.states.values()) if pred(s))


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)  # ok-sleep: bounded poll
    return False


def _open_rows(engine, prefix: str) -> Rows:
    """N_BUSY rows of ``prefix``'s counters, all connected with a value."""
    rows = Rows(engine)
    engine.start(rows)
    engine.add([f"pva://{prefix}:{i}" for i in range(N_BUSY)])
    assert _wait(lambda: rows.count(lambda s: s.connected and s.value) == N_BUSY, 60), \
        rows.count(lambda s: s.connected)
    return rows


def _kill_and_restart(gateway, rows: Rows, cycle: int) -> None:
    """The gateway dies: every row says disconnected within the connection timeout; it
    returns: every row is back by itself with a fresh value (posted after the restart)."""
    gateway.kill()
    assert _wait(lambda: rows.count(lambda s: not s.connected) == N_BUSY, 10), \
        f"cycle {cycle}: {rows.count(lambda s: s.connected)} rows still say connected"
    stamp = time.time()
    gateway.start()
    assert _wait(lambda: rows.count(lambda s: s.connected and s.timestamp >= stamp) == N_BUSY, 60), \
        f"cycle {cycle}: {rows.count(lambda s: s.connected)} of {N_BUSY} back"


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_gateway_killed_and_restarted_under_1000_monitored_pvs(engine, upstream, gateway) -> None:
    """Every row goes to disconnected when the gateway dies (none shows its last value as
    live), all come back by themselves when it returns; memory flat over 20 cycles."""
    rows = _open_rows(engine, upstream[0].prefix)
    proc = psutil.Process()
    rss: list[float] = []
    for cycle in range(20):
        _kill_and_restart(gateway, rows, cycle)
        rss.append(proc.memory_info().rss / 2 ** 20)
    print("GATEWAY-CYCLES rss MB:", [round(x, 1) for x in rss])
    # flat: the last cycles use no more than the first ones plus a little (no per-cycle leak)
    assert max(rss[-5:]) - min(rss[2:7]) < 15, rss


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_lean_parked_rows_follow_a_gateway_killed_and_restarted(engine, upstream, gateway,
                                                                 monkeypatch) -> None:
    """Lean mode (a very large table): rows no view shows hold their channel but no
    monitor, read by get on a rotation. They too go to disconnected when the gateway
    dies and come back with fresh values by themselves; memory stays flat."""
    import pvprobe.pva.fast as fast

    monkeypatch.setattr(fast, "PARKED_REFRESH_S", 1.0)      # 1,000 reads/s: the budget

    engine.set_lean(True)
    rows = _open_rows(engine, upstream[0].prefix)
    src = engine.source.sources["pva"]
    assert _wait(lambda: len(src.fast.parked) == N_BUSY, 10), len(src.fast.parked)
    proc = psutil.Process()
    rss: list[float] = []
    for cycle in range(8):
        _kill_and_restart(gateway, rows, cycle)
        # and the rotation goes on reading them (each within its period)
        stamp = time.time()
        period = max(fast.PARKED_REFRESH_S, N_BUSY / fast.PARKED_READS_PER_S)
        assert _wait(lambda: rows.count(lambda s: s.timestamp >= stamp) == N_BUSY, 3 * period + 10), \
            f"cycle {cycle}: {rows.count(lambda s: s.timestamp >= stamp)} of {N_BUSY} re-read"
        rss.append(proc.memory_info().rss / 2 ** 20)
    print("GATEWAY-CYCLES (parked) rss MB:", [round(x, 1) for x in rss])
    assert len(src.fast.parked) == N_BUSY
    assert max(rss[-3:]) - min(rss[1:4]) < 15, rss
