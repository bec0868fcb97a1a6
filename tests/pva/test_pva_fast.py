"""The C++ fast path of pvAccess monitors (pvprobe.pva._pvafast, pvprobe.pva.fast):
built and loadable with the pvxs p4p brings, values identical to p4p's, shapes it
does not suit handed to p4p, and a big session's rows on it. Real p4p servers;
test_pva_engine and test_pva_qsrv also run every test on this path."""

from __future__ import annotations

import pytest
from conftest import NT_PREFIX, wait_until

pytestmark = pytest.mark.timeout(120)


def _hub():
    from pvprobe.pva.fast import load_module

    mod, why = load_module()
    assert mod is not None, f"the fast path is not built or does not load: {why}"
    return mod, mod.Hub()


def _events(hub, want: int, timeout: float = 10.0) -> dict:
    """Events by slot until ``want`` slots have one (bounded)."""
    got: dict = {}

    def more() -> bool:
        for slot, code, a, b, meta in hub.events():
            got.setdefault(slot, []).append((code, a, b, meta))
        return len(got) >= want
    assert wait_until(more, timeout), f"events for {len(got)} of {want} slots: {got}"
    return got


def test_the_extension_is_built_for_the_pvxs_p4p_loads():
    import pvxslibs.version

    mod, hub = _hub()
    try:
        assert mod.BUILT_FOR.split(".")[:2] == mod.PVXS_VERSION.split()[1].split(".")[:2]
        assert mod.PVXS_VERSION.split()[1].startswith(pvxslibs.version.version.split(".dev")[0][:3])
        assert hub.opened() == 0 and hub.updates() == 0
    finally:
        hub.shutdown()
    with pytest.raises(RuntimeError, match="closed"):
        hub.open(NT_PREFIX + "ai")


def test_values_of_every_scalar_type_are_p4ps(pva_nt_server):
    from p4p.client.thread import Context

    from pvprobe.pva.fast import CONNECTED, FAST_REQUEST

    names = ["ai", "int", "u64", "flag", "u16", "enum", "fmt", "alarmed", "notime"]
    mod, hub = _hub()
    ctx = Context("pva", nt=False)
    try:
        slots = {hub.open(NT_PREFIX + n, FAST_REQUEST): n for n in names}
        events = _events(hub, len(names))
        codes = {slots[s]: ev[0] for s, ev in events.items()}
        assert all(c[0] == CONNECTED for c in codes.values()), codes
        assert codes["ai"][2] == "d" and codes["u64"][2] == "L" and codes["flag"][2] == "?"
        assert codes["u16"][2] == "H" and codes["enum"][2] == "enum" and codes["int"][2] == "i"
        assert codes["enum"][1] == "epics:nt/NTEnum:1.0"
        assert codes["enum"][3] == {"value.choices": ("Off", "On", "Fault")}
        assert codes["ai"][3]["display.units"] == "mm" and codes["int"][3] is not None
        got = dict(hub.take(list(slots), True))
        assert {slots[s] for s in got} == set(names)
        for slot, item in got.items():
            name = slots[slot]
            if name == "ai":
                continue          # counting: compared below against a fresh get
            v = ctx.get(NT_PREFIX + name)
            want = v["value.index"] if name == "enum" else v["value"]
            assert item.value == want and type(item.value) is type(want), (name, item, want)
            assert item.severity == v["alarm.severity"] and item.status == v["alarm.status"]
            assert item.message == v["alarm.message"], name
            secs, ns = v["timeStamp.secondsPastEpoch"], v["timeStamp.nanoseconds"]
            assert item.stamp == pytest.approx(secs + ns * 1e-9 if secs or ns else 0.0), name
        assert got[next(s for s, n in slots.items() if n == "alarmed")].message == "overheated"
        ai = next(s for s, n in slots.items() if n == "ai")
        n0 = hub.slot_events(ai)
        assert wait_until(lambda: hub.slot_events(ai) >= n0 + 3, 10), "ai stopped counting"
        drained = dict(hub.drain())
        assert ai in drained and isinstance(drained[ai].value, float)
        hub.get_meta(ai)
        metas: list = []
        assert wait_until(lambda: metas.extend(hub.metas()) or metas, 10), "no metadata"
        slot, meta, error = metas[0]
        assert slot == ai and not error
        assert meta["display.units"] == "mm" and meta["display.precision"] == 3
        assert meta["control.limitHigh"] == 8.0 and meta["valueAlarm.highAlarmLimit"] == 9.0
        assert meta["display"] is True and "value.choices" not in meta
    finally:
        hub.shutdown()
        ctx.close()


def test_shapes_it_does_not_suit_are_reported_and_a_missing_pv_waits(pva_nt_server):
    from pvprobe.pva.fast import UNSUITABLE

    mod, hub = _hub()
    try:
        slots = {hub.open(NT_PREFIX + n): n for n in ("dwave", "table", "nested", "nd:plain")}
        missing = hub.open(NT_PREFIX + "no:such:pv")
        events = _events(hub, 4)
        for slot, evs in events.items():
            assert evs[0][0] == UNSUITABLE, (slots[slot], evs)
        assert "NTTable" in events[next(s for s, n in slots.items() if n == "table")][0][1]
        assert missing not in events and hub.take([missing], True) == []
        hub.close(missing)
        with pytest.raises(ValueError, match="not open"):
            hub.close(missing)
        assert hub.opened() == 4
    finally:
        hub.shutdown()


def test_a_big_sessions_rows_are_fast_and_a_sample_user_leaves_the_path(pva_nt_server, monkeypatch):
    """Above DEFER_ABOVE channels new PVA channels are fast monitors (metadata from their
    first update, read in C++); a channel that then needs every sample moves to a p4p monitor without a gap."""
    import pvprobe.pva.schedule as schedule
    from pvprobe.ca.engine import Engine

    monkeypatch.setattr(schedule, "DEFER_ABOVE", 3)
    monkeypatch.setenv("PVPROBE_PVA_FAST", "big")
    names = [f"pva://{NT_PREFIX}{n}" for n in ("fmt", "int", "u16", "flag", "enum", "alarmed", "ai", "dwave")]
    eng = Engine(tick_hz=20)
    latest: dict = {}
    samples: dict = {}

    def consume(batch):
        for st in batch.states:
            latest[st.name] = st
            samples.setdefault(st.name, []).extend(st.samples)
        eng.batch_done()
    eng.start(consume)
    try:
        eng.add(names)
        assert wait_until(lambda: all(n in latest and latest[n].connected and latest[n].value is not None
                                      for n in names), 20), sorted(latest)
        src = eng.source.sources["pva"]
        fast = [link for link in src._links.values() if link.fast >= 0]
        assert len(fast) >= 4, [(link.wire, link.fast) for link in src._links.values()]
        ai = f"pva://{NT_PREFIX}ai"
        assert wait_until(lambda: latest[ai].units == "mm" and latest[ai].precision == 3, 10)
        assert latest[ai].alarm_limits == (-9, 9)
        enum = f"pva://{NT_PREFIX}enum"
        assert latest[enum].enum_strs == ("Off", "On", "Fault") and latest[enum].value == 1
        alarmed = f"pva://{NT_PREFIX}alarmed"
        assert latest[alarmed].severity == 2 and latest[alarmed].status_name == "overheated"
        dwave = f"pva://{NT_PREFIX}dwave"
        assert list(latest[dwave].value) == [1.5, 2.5, 3.5]       # left for p4p
        v0 = latest[ai].value
        assert wait_until(lambda: latest[ai].value != v0, 5), "ai frozen on the fast path"
        assert src.updates() > 0
        eng.add([ai], keep_all=True)
        assert wait_until(lambda: len(samples.get(ai, [])) >= 5, 10), samples.get(ai)
        kept = [s[1] for s in samples[ai]]
        assert all(b > a for a, b in zip(kept, kept[1:])) or len(set(kept)) >= 4, kept
        assert all(link.fast < 0 for link in src._links.values() if link.wire == f"{NT_PREFIX}ai")
    finally:
        eng.close()


def test_after_shutdown_nothing_reopens_the_context():
    from pvprobe.pva.fast import FastPath

    fp = FastPath(lambda: None, mode="always")
    assert fp.available, fp.why_not
    slot = fp.open(1, NT_PREFIX + "ai")
    fp.shutdown()
    fp.mute(slot, True)          # quietly nothing
    fp.close(slot)
    assert fp.drain(10) == [] and fp.events() == [] and fp.updates() == 0
    with pytest.raises(ValueError, match="shut down"):
        fp.get_meta(slot)
    with pytest.raises(ValueError, match="shut down"):
        fp.open(2, NT_PREFIX + "ai")


def test_a_reopened_monitor_drops_the_old_ones_events(pva_nt_server):
    """The source remakes a channel lost too long; an event the old monitor queued just
    before (its reconnection) must not reach the worker, or the row would say
    connected while the new monitor has not connected."""
    from pvprobe.pva.fast import CONNECTED

    mod, hub = _hub()
    try:
        slot = hub.open(NT_PREFIX + "ai")
        assert wait_until(lambda: hub.slot_events(slot) >= 1, 10), "never connected"
        n = hub.slot_events(slot)
        assert hub.reopen(slot)                    # the old monitor's CONNECTED is queued
        assert wait_until(lambda: hub.slot_events(slot) > n, 10), "the new monitor never connected"
        connected = [ev for ev in hub.events() if ev[1] == CONNECTED]
        assert len(connected) == 1, connected      # only the new monitor's
    finally:
        hub.shutdown()
