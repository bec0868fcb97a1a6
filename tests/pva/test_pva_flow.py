"""Flow control for paced NTNDArray channels on pvxs servers (pvprobe.pva.flow): the
monitor asks ``pipeline=true`` once the channel's server says it is pvxs, and each
fetch then takes one frame off the wire; pvapy's pvAccessCPP server is left without.
Real servers (the p4p test server, pvapy's areaDetector simulator)."""

from __future__ import annotations

import time

import pytest
from conftest import ADSIM_CHANNEL, NT_PREFIX, PVA_PORTS, wait_until

pytestmark = pytest.mark.timeout(120)


def _start(tick_hz: float, then=None) -> tuple:
    """A running engine and the newest state by name; ``then(eng, batch)`` after each batch."""
    from pvprobe.ca.engine import Engine

    eng = Engine(tick_hz=tick_hz)
    latest: dict = {}

    def consume(batch):
        for st in batch.states:
            latest[st.name] = st
        eng.batch_done()
        if then is not None:
            then(eng, batch)
    eng.start(consume)
    return eng, latest


@pytest.fixture
def running(ca_repeater):
    eng, latest = _start(20)
    yield eng, latest
    eng.close()


def _link(eng, wire: str):
    src = eng.source.sources["pva"]
    return next(link for link in list(src._links.values()) if link.wire == wire)


def _uid(latest: dict, name: str) -> int:
    st = latest.get(name)
    return (st.extra or {}).get("unique_id", 0) if st is not None else 0


def test_pvxs_answers_say_flow_control_and_others_do_not():
    from pvprobe.pva.flow import does_flow_control

    assert does_flow_control({"implLang": "cpp", "version": "PVXS 1.5.3 (pip)"})
    assert not does_flow_control({"implLang": "cpp", "version": "pvAccess Server 7.1"})
    assert not does_flow_control({})


def test_a_paced_channel_on_a_pvxs_server_takes_one_frame_a_fetch(pva_nt_server, running):
    eng, latest = running
    name = "pva://" + NT_PREFIX + "nd:stream"
    eng.add([name], paced=True)
    eng.request_frame(name)
    assert wait_until(lambda: _uid(latest, name) > 0, 20), "no first frame"
    link = _link(eng, NT_PREFIX + "nd:stream")
    assert wait_until(lambda: link.flow, 15), "flow control not asked of a pvxs server"
    fetched, received = [], []
    for _ in range(8):
        before = _uid(latest, name)
        eng.request_frame(name)
        assert wait_until(lambda: _uid(latest, name) > before, 10), "no newer frame"
        fetched.append(_uid(latest, name))
        received.append(latest[name].extra["received"])
        deadline = time.monotonic() + 0.3       # the view paints, the stream runs on
        while time.monotonic() < deadline:
            time.sleep(0.05)  # ok-sleep: a slow consumer between two fetches
    assert all(b > a for a, b in zip(fetched, fetched[1:])), fetched
    # 20 frames/s published, ~3 s: each fetch took one frame (+1 for a fetch that found
    # the queue empty and waited for the next), never the ~6 sent meanwhile
    steps = [b - a for a, b in zip(received, received[1:])]
    assert max(steps) <= 2, (steps, fetched)
    assert fetched[-1] - fetched[0] >= 20, fetched
    assert latest[name].host == f"127.0.0.1:{PVA_PORTS['nt'][0]}"


def test_pvapys_server_is_left_without_flow_control(pva_adsim, running):
    eng, latest = running
    name = "pva://" + ADSIM_CHANNEL
    eng.add([name], paced=True)
    eng.request_frame(name)
    assert wait_until(lambda: _uid(latest, name) > 0, 30), "no frame of the simulator"
    src = eng.source.sources["pva"]
    host = f"127.0.0.1:{PVA_PORTS['adsim'][0]}"
    assert wait_until(lambda: latest[name].host == host, 15), latest[name].host
    assert wait_until(lambda: host in src.flow._known, 15), "its server was not asked"
    assert src.flow._known[host] is False and not _link(eng, ADSIM_CHANNEL).flow
    uid = _uid(latest, name)
    eng.request_frame(name)
    assert wait_until(lambda: _uid(latest, name) > uid, 10), "frames stopped"


@pytest.mark.parametrize("flow", ["1", "0"])
def test_a_fast_view_gets_every_frame_between_the_engines_ticks(pva_nt_server, monkeypatch, flow):
    """The frame a pull channel waits for wakes the worker when it arrives (also while
    the pacer polls with announcements paused): a view that asks again as soon as it
    painted gets the 20 Hz stream, not one frame per engine tick (here 2 Hz)."""
    monkeypatch.setenv("PVPROBE_PVA_FLOW", flow)
    name = "pva://" + NT_PREFIX + "nd:stream"

    def painted(eng, batch):
        if any(st.name == name for st in batch.states):
            eng.request_frame(name)       # painted: the next one, please
    eng, latest = _start(2, painted)
    try:
        eng.add([name], paced=True)
        eng.request_frame(name)
        assert wait_until(lambda: _uid(latest, name) > 0, 20), "no first frame"
        link = _link(eng, NT_PREFIX + "nd:stream")
        if flow == "1":
            assert wait_until(lambda: link.flow, 15), "no flow control"
        first = latest[name].extra["received"]
        t0 = time.monotonic()
        deadline = t0 + 3.0
        while time.monotonic() < deadline:
            time.sleep(0.1)  # ok-sleep: a measuring window of a rate
        got = latest[name].extra["received"] - first
        # 20 frames/s published (~2 of 3 sent, see the server's gaps): > 25 in 3 s; one
        # frame per tick would be 6
        assert got >= 25, got
    finally:
        eng.close()
