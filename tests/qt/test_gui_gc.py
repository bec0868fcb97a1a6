"""Cyclic garbage is collected in the GUI thread only while an engine feeds Qt
(bridge.GuiThreadGarbage): Qt objects and PyQt slot proxies in such garbage must
never be destroyed by a collection the engine's worker thread happens to trigger."""

from __future__ import annotations

import gc
import threading

from pvprobe.qt.bridge import EngineBridge, GuiThreadGarbage


class QuietEngine:
    """Just what EngineBridge.start/stop call (no protocol: nothing to connect)."""

    def start(self, on_batch) -> None:
        self.on_batch = on_batch

    def stop(self) -> None:
        pass


class Cycle:
    """A reference cycle that notes the thread that finalized it."""

    def __init__(self, seen: list) -> None:
        self.me = self
        self.seen = seen

    def __del__(self) -> None:
        self.seen.append(threading.current_thread().name)


def test_garbage_made_and_tripped_by_a_worker_is_collected_in_the_gui_thread(qtbot) -> None:
    bridge = EngineBridge(QuietEngine())
    was_enabled = gc.isenabled()
    bridge.start()
    try:
        assert not gc.isenabled()
        seen: list[str] = []

        def worker() -> None:      # makes cycles and allocates past every threshold
            for _ in range(200):
                Cycle(seen)
            junk = [[{} for _ in range(50)] for _ in range(4000)]
            del junk

        t = threading.Thread(target=worker, name="not-the-gui")
        t.start()
        t.join(30)
        assert seen == []                           # nothing collected in the worker
        users, timer = GuiThreadGarbage._users, GuiThreadGarbage._timer
        assert users == 1 and timer is not None and timer.isActive(), (users, timer)
        qtbot.waitUntil(lambda: len(seen) == 200, timeout=5000)   # the GUI timer did it
        assert set(seen) == {threading.current_thread().name}
    finally:
        bridge.stop()
    assert gc.isenabled() == was_enabled or gc.isenabled()
    assert GuiThreadGarbage._users == 0


def test_a_big_table_all_connected_freezes_the_heap_until_its_rows_go(qtbot, engine, scalar_names,
                                                                     monkeypatch) -> None:
    """Once a table above FREEZE_ABOVE_PVS is all connected, the objects then living are
    frozen (later full collections skip them); removing the rows en masse thaws them."""
    monkeypatch.setattr(GuiThreadGarbage, "FREEZE_ABOVE_PVS", 50)
    names = scalar_names[:100]
    bridge = EngineBridge(engine)
    bridge.add_consumer(lambda batch: None)
    bridge.start()
    try:
        assert not GuiThreadGarbage.frozen() and gc.get_freeze_count() == 0
        bridge.add(names)
        qtbot.waitUntil(lambda: bridge.engine_connected == bridge.engine_pvs == 100, timeout=15000)
        assert GuiThreadGarbage.frozen() and gc.get_freeze_count() > 0
        bridge.remove(names)
        assert not GuiThreadGarbage.frozen() and gc.get_freeze_count() == 0
    finally:
        bridge.stop()
    assert gc.get_freeze_count() == 0


def test_collecting_never_exposes_objects_another_thread_is_building() -> None:
    """The GUI's collector measures the heap without ``gc.get_objects()``: that hands
    out references to a tuple the worker is still building from a generator, whose
    resize then fails ("SystemError: Objects/tupleobject.c: bad argument to internal
    function": an image view lost its DataType enum strings so in a suite run)."""
    import time

    errors: list = []
    stop = threading.Event()

    def strings(n: int):
        for i in range(n):
            yield str(i) * 3

    def worker() -> None:     # what pyepics does for each enum's strings
        while not stop.is_set():
            try:
                tuple(strings(200))
            except SystemError as exc:
                errors.append(exc)

    was_enabled, thresholds = gc.isenabled(), gc.get_threshold()
    gc.disable()
    gc.set_threshold(700, 1, 1)       # every call reaches the full-collection check
    t = threading.Thread(target=worker, daemon=True)
    t.start()
    try:
        deadline = time.monotonic() + 4.0
        while time.monotonic() < deadline and not errors:
            GuiThreadGarbage.collect_due()
            GuiThreadGarbage.settle()
            GuiThreadGarbage.thaw()
            gc.collect(1)
    finally:
        stop.set()
        t.join(5)
        gc.set_threshold(*thresholds)
        if was_enabled:
            gc.enable()
    assert not errors, errors[:1]
