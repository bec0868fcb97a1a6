"""Subscriptions as handles (EngineBridge.subscribe): a view gets only its own states,
and closing its handle releases exactly what it took, never another view's PVs.
Against the demo IOC through a real Engine (its debug_info counts the users)."""

from __future__ import annotations

import pytest


def _users(engine, name):
    d = engine.debug_info(name)
    return None if d is None else (d.users, d.users_keep_all)


def test_each_subscriber_gets_only_its_states(qtbot, bridge, prefix):
    a_name, b_name = prefix + "sine", prefix + "heartbeat"
    got_a, got_b, whole = [], [], []
    bridge.add_consumer(lambda b: whole.extend(s.name for s in b.states))
    a = bridge.subscribe([a_name], lambda states: got_a.extend(s.name for s in states))
    b = bridge.subscribe([b_name], lambda states: got_b.extend(s.name for s in states))
    qtbot.waitUntil(lambda: a_name in got_a and b_name in got_b, timeout=15000)
    assert set(got_a) == {a_name} and set(got_b) == {b_name}
    assert {a_name, b_name} <= set(whole)           # whole-batch consumers still see all
    a.close()
    n_a = len(got_a)
    seen = len(got_b)
    qtbot.waitUntil(lambda: len(got_b) >= seen + 2, timeout=10000)   # batches go on
    assert len(got_a) == n_a                        # a closed handle gets nothing more
    b.close()


def test_close_releases_exactly_what_it_took(qtbot, bridge, engine, prefix):
    name = prefix + "ao:003"
    plain = bridge.subscribe([name], lambda s: None)
    samples = bridge.subscribe([name], lambda s: None, keep_all=True)
    qtbot.waitUntil(lambda: _users(engine, name) == (2, 1), timeout=10000)
    samples.close()
    qtbot.waitUntil(lambda: _users(engine, name) == (1, 0), timeout=10000)
    samples.close()                                  # idempotent: nothing more released
    other = bridge.subscribe([name], lambda s: None)
    qtbot.waitUntil(lambda: _users(engine, name) == (2, 0), timeout=10000)
    plain.close()
    qtbot.waitUntil(lambda: _users(engine, name) == (1, 0), timeout=10000)   # other's stays
    other.close()
    qtbot.waitUntil(lambda: engine.debug_info(name) is None, timeout=10000)
    assert bridge.router.names() == set()


def test_one_callback_in_two_handles_gets_each_state_once(qtbot, bridge, prefix):
    name = prefix + "sine"
    batches = []

    def on_states(states):
        batches.append([s.name for s in states])

    a = bridge.subscribe([name], on_states)
    b = bridge.subscribe([name], on_states, keep_all=True)
    qtbot.waitUntil(lambda: len(batches) >= 3, timeout=15000)
    assert all(names == [name] for names in batches)
    a.close()
    b.close()


def test_handle_add_remove_and_set_names(qtbot, bridge, engine, prefix):
    n1, n2 = prefix + "ao:004", prefix + "ao:005"
    sub = bridge.subscribe([], lambda s: None, whole_arrays=True)
    sub.add([n1, n2, n1])
    assert sub.held().count(n1) == 2 and sub.names == [n1, n2]
    qtbot.waitUntil(lambda: _users(engine, n1) == (2, 0) and _users(engine, n2) == (1, 0),
                    timeout=10000)
    sub.set_names([n1])
    assert sub.held() == [n1]
    qtbot.waitUntil(lambda: _users(engine, n1) == (1, 0) and engine.debug_info(n2) is None,
                    timeout=10000)
    sub.remove([n2])                                  # not held: nothing released
    sub.close()
    qtbot.waitUntil(lambda: engine.debug_info(n1) is None, timeout=10000)
    with pytest.raises(RuntimeError):
        sub.add([n1])


def test_closing_one_view_leaves_the_others_pvs(qtbot, bridge, engine, prefix):
    """Two strip charts on one PV (keep_all), a waveform plot and a probe on it too:
    closing one leaves what the others asked for in place."""
    from pvprobe.qt.plots.strip_chart import StripChart
    from pvprobe.qt.probe.probe_panel import ProbePanel

    name = prefix + "setpoint"
    c1, c2 = StripChart(bridge), StripChart(bridge)
    probe = ProbePanel(bridge)
    for w in (c1, c2, probe):
        qtbot.addWidget(w)
    c1.add_pvs([name])
    c2.add_pvs([name])
    probe.set_pv(name)
    qtbot.waitUntil(lambda: _users(engine, name) is not None and _users(engine, name)[1] == 3,
                    timeout=15000)                   # two charts + the probe's samples
    c1.close_pvs()
    qtbot.waitUntil(lambda: _users(engine, name)[1] == 2, timeout=10000)
    c1.close_pvs()                                   # twice: nothing more released
    probe.close_pv()
    qtbot.waitUntil(lambda: _users(engine, name) == (1, 1), timeout=10000)
    c2.close_pvs()
    qtbot.waitUntil(lambda: engine.debug_info(name) is None, timeout=10000)
