"""Lean mode switches itself on for large tables, before the PVs are subscribed."""

from __future__ import annotations

import pytest

from pvprobe.qt.app.main_window import LEAN_THRESHOLD, LEAN_THRESHOLD_PY_CALLBACKS, MainWindow
from pvprobe.qt.bridge import EngineBridge

pytestmark = pytest.mark.timeout(120)


def test_bridge_goes_lean_above_threshold_and_back_below_half(qtbot, engine, scalar_names):
    bridge = EngineBridge(engine)
    bridge.lean_threshold = 10
    received = []
    bridge.add_consumer(lambda b: received.extend(s.name for s in b.states))
    bridge.start()
    try:
        bridge.add(scalar_names[:8])
        assert not bridge.lean
        bridge.add(scalar_names[8:12])          # 12 > 10: lean before these are added
        assert bridge.lean
        # every PV still gets its first value (the initial get), lean or not
        qtbot.waitUntil(lambda: set(scalar_names[:12]) <= set(received), timeout=15000)
        bridge.remove(scalar_names[:6])         # 6 > 5: stays lean (hysteresis)
        assert bridge.lean
        bridge.remove(scalar_names[6:8])        # 4 <= 5: full monitors again
        assert not bridge.lean
    finally:
        bridge.stop()


@pytest.mark.parametrize("callbacks", ["c", "py"])
def test_main_window_sets_the_threshold_for_its_callbacks(qtbot, demo_ioc, monkeypatch, callbacks):
    """With the C callback lean mode starts at LEAN_THRESHOLD PVs; with Python callbacks
    (no C compiler at install) at the lower LEAN_THRESHOLD_PY_CALLBACKS."""
    from pvprobe.ca.engine import Engine

    if callbacks == "py":
        monkeypatch.setenv("PVPROBE_PY_CALLBACKS", "1")
    engine = Engine(tick_hz=20)
    try:
        assert engine.fast_callbacks == (callbacks == "c"), "the C monitor callback is built (pip install -e .)"
        bridge = EngineBridge(engine)
        win = MainWindow(bridge)
        qtbot.addWidget(win, before_close_func=lambda w: setattr(w, "force_close", True))
        expected = LEAN_THRESHOLD if callbacks == "c" else LEAN_THRESHOLD_PY_CALLBACKS
        assert bridge.lean_threshold == expected and not win.lean
        assert not engine.debug_summary().lean
        win.force_close = True
        win.close()
    finally:
        engine.close()


def test_batches_are_capped_and_nothing_is_lost(qtbot, engine, scalar_names):
    """A big connect reaches the UI in slices of at most max_batch_states."""
    engine.max_batch_states = 100
    bridge = EngineBridge(engine)
    sizes, seen = [], set()

    def consume(batch):
        sizes.append(len(batch.states))
        seen.update(s.name for s in batch.states if s.value is not None)
    bridge.add_consumer(consume)
    bridge.start()
    try:
        bridge.add(scalar_names[:350])
        qtbot.waitUntil(lambda: set(scalar_names[:350]) <= seen, timeout=20000)
        assert max(sizes) <= 100 and len([s for s in sizes if s]) >= 4
    finally:
        bridge.stop()
