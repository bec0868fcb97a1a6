"""Parked fast channels (lean mode): a PVA row no view shows holds its pvxs channel but
no monitor (pvxs keeps ~25 KB per monitor), its value read by get when it connects and
on a rotation. Its connection, losses and values must still be right; a view that
shows it gets its monitor back. Real p4p servers."""

from __future__ import annotations

import time

import pytest
from conftest import NT_PREFIX, NT_RESTART_PREFIX, Collector, start_nt_server, wait_until

pytestmark = pytest.mark.timeout(120)


def _hub():
    from pvprobe.pva.fast import load_module

    mod, why = load_module()
    assert mod is not None, f"the fast path is not built or does not load: {why}"
    return mod.Hub()


class Reader:
    """Polls a hub as the source does: events, read_step, drain (bounded waits)."""

    def __init__(self, hub, period_s: float) -> None:
        self.hub, self.period = hub, period_s
        self.events: list = []
        self.values: dict = {}
        self.counts: dict = {}
        self._at = time.monotonic()

    def step(self) -> None:
        now = time.monotonic()
        self.events += self.hub.events()
        self.hub.read_step((now - self._at) / self.period)
        self._at = now
        for slot, item in self.hub.drain():
            self.values[slot] = item
            self.counts[slot] = self.counts.get(slot, 0) + 1

    def until(self, cond, timeout: float) -> bool:
        def polled() -> bool:
            self.step()
            return cond()
        return wait_until(polled, timeout)

    def codes(self, slot: int) -> list:
        return [ev[1] for ev in self.events if ev[0] == slot]


def test_a_parked_slot_is_read_by_get_and_follows_its_channel(pva_nt_restartable):
    from pvprobe.pva.fast import CONNECTED, DISCONNECTED, FAST_REQUEST

    hub = _hub()
    rd = Reader(hub, period_s=0.5)
    try:
        slot = hub.open(NT_RESTART_PREFIX + "ai", FAST_REQUEST, True)
        assert hub.parked()[0] == 1
        assert rd.until(lambda: CONNECTED in rd.codes(slot) and slot in rd.values, 10), rd.events
        meta = [ev[4] for ev in rd.events if ev[0] == slot and ev[1] == CONNECTED][0]
        assert meta["display.units"] == "mm" and meta["display.precision"] == 3, meta
        # the rotation reads it again: new values without a monitor
        first = rd.values[slot].stamp
        assert rd.until(lambda: rd.values[slot].stamp > first and rd.counts[slot] >= 3, 10), rd.counts
        reads = hub.parked()[1]
        assert reads >= 3

        # a monitor again, then parked again: values go on either way
        assert hub.unpark(slot) and hub.parked()[0] == 0
        n = rd.counts[slot]
        assert rd.until(lambda: rd.counts[slot] >= n + 3, 10)
        assert hub.park(slot) and not hub.park(slot) and hub.parked()[0] == 1
        n = rd.counts[slot]
        assert rd.until(lambda: rd.counts[slot] >= n + 2, 10)

        # the server dies: the parked slot says so and hands out nothing as live
        pva_nt_restartable[0].stop()
        assert rd.until(lambda: DISCONNECTED in rd.codes(slot), 15), rd.events
        rd.values.pop(slot, None)
        rd.step()
        assert slot not in rd.values and hub.take([slot], True) == []
        pva_nt_restartable[0] = start_nt_server("spare3", NT_RESTART_PREFIX)
        connects = rd.codes(slot).count(CONNECTED)
        hub.hurry_up()
        assert rd.until(lambda: rd.codes(slot).count(CONNECTED) > connects and slot in rd.values, 30), \
            rd.events[-5:]
    finally:
        hub.shutdown()


def test_parked_slots_of_a_missing_pv_and_a_closed_one(pva_nt_server):
    from pvprobe.pva.fast import CONNECTED, FAST_REQUEST

    hub = _hub()
    rd = Reader(hub, period_s=0.2)
    try:
        missing = hub.open(NT_PREFIX + "no_such_pv", FAST_REQUEST, True)
        gone = hub.open(NT_PREFIX + "ai", FAST_REQUEST, True)
        assert rd.until(lambda: CONNECTED in rd.codes(gone), 10)
        hub.close(gone)
        rd.step()
        rd.events.clear()
        rd.values.clear()
        with pytest.raises(ValueError, match="not open"):
            hub.park(gone)
        again = hub.open(NT_PREFIX + "int", FAST_REQUEST, True)     # reuses the closed slot
        assert again == gone
        assert rd.until(lambda: CONNECTED in rd.codes(again) and again in rd.values, 10)
        assert isinstance(rd.values[again].value, int)
        for _ in range(10):
            rd.step()
        assert rd.codes(missing) == [] and hub.parked()[0] == 2
        assert hub.parked()[2] <= 128
    finally:
        hub.shutdown()


def test_lean_mode_parks_the_pva_rows_no_view_shows(pva_nt_server, monkeypatch):
    """A big session in lean mode: the unwatched fast PVA rows are parked from the start
    (their values still come, on the rotation), a watched one is monitored, and rows
    that a view starts showing, or all once lean mode ends, get their monitors back."""
    import pvprobe.pva.fast as fast
    import pvprobe.pva.schedule as schedule
    from pvprobe.ca.engine import Engine

    monkeypatch.setattr(schedule, "DEFER_ABOVE", 3)
    monkeypatch.setattr(fast, "PARKED_REFRESH_S", 0.5)
    monkeypatch.setenv("PVPROBE_PVA_FAST", "big")
    names = [f"pva://{NT_PREFIX}{n}" for n in ("fmt", "int", "u16", "flag", "enum", "alarmed", "ai")]
    ai, shown = names[6], names[0]
    eng = Engine(tick_hz=20)
    col = Collector(eng)
    latest = col.latest
    eng.set_lean(True)
    eng.start(col)
    try:
        eng.watch("view", {shown})
        eng.add(names)
        assert wait_until(lambda: all(n in latest and latest[n].connected and latest[n].value is not None
                                      for n in names), 20), sorted(latest)
        src = eng.source.sources["pva"]
        links = {f"pva://{link.wire}": link for link in src._links.values()}

        def parked(name: str) -> bool:
            return links[name].fast in src.fast.parked
        assert wait_until(lambda: parked(ai) and not parked(shown), 10)
        assert sum(parked(n) for n in names) >= 4, [(n, links[n].fast) for n in names]
        assert wait_until(lambda: latest[ai].units == "mm" and latest[ai].precision == 3, 10)
        enum = names[4]
        assert latest[enum].enum_strs == ("Off", "On", "Fault") and latest[enum].value == 1
        assert latest[names[5]].severity == 2
        t0 = latest[ai].timestamp
        assert wait_until(lambda: latest[ai].timestamp > t0, 10), "a parked row is never re-read"

        eng.watch("view", {shown, ai})       # shown now: monitored
        assert wait_until(lambda: not parked(ai), 10)
        n0 = src.fast.slot_events(links[ai].fast)
        assert wait_until(lambda: src.fast.slot_events(links[ai].fast) > n0 + 2, 10)
        eng.set_lean(False)
        assert wait_until(lambda: not src.fast.parked, 10), src.fast.parked
    finally:
        eng.close()
