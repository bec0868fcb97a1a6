"""pvAccess channels in big sessions: what the PVA source defers to save Python work
(a plain value monitor emptied at most every PVA_POLL_S above DEFER_ABOVE channels,
every LEAN_REFRESH_S in lean mode for PVs no view shows) and what it never defers
(watched PVs, every-sample users). Real p4p server process, real engine."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from conftest import SERVERS_DIR, pva_server_env

N = 40
RATE = 20.0


@pytest.fixture(scope="module")
def counters() -> Iterator[str]:
    """N PVA counters at RATE Hz (PVA kind "lean")."""
    prefix = f"lean{os.getpid()}"
    env = dict(os.environ, **pva_server_env("lean"))
    proc = subprocess.Popen([sys.executable, str(SERVERS_DIR / "pva_counter_server.py"), prefix, str(N), str(RATE)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                            start_new_session=True)
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("READY"), f"counter server did not start: {line!r}"
        yield prefix
    finally:
        proc.kill()
        proc.wait(10)


class Recorder:
    """Counts the batches' states per PV (worker thread)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.counts: dict[str, int] = {}

    def __call__(self, batch) -> None:
        for st in batch.states:
            if st.connected and st.value is not None:
                self.counts[st.name] = self.counts.get(st.name, 0) + 1
        self.engine.batch_done()

    def window(self, seconds: float) -> dict[str, int]:
        """States per PV handed over during ``seconds`` (a measuring window)."""
        before = dict(self.counts)
        time.sleep(seconds)  # ok-sleep: a measuring window of a rate
        return {k: v - before.get(k, 0) for k, v in self.counts.items()}


def _wait(pred, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)  # ok-sleep: bounded poll
    return False


@pytest.fixture
def pva_engine(counters: str, demo_ioc: object) -> Iterator[tuple]:
    from pvprobe.ca.engine import Engine

    eng = Engine(tick_hz=20)
    rec = Recorder(eng)
    eng.start(rec)
    names = [f"pva://{counters}:{i}" for i in range(N)]
    eng.add(names)
    assert _wait(lambda: all(rec.counts.get(n, 0) >= 2 for n in names), 20), "PVA counters not all updating"
    yield eng, rec, names
    eng.close()


def test_small_sessions_get_every_update(pva_engine) -> None:
    """Below DEFER_ABOVE channels nothing is deferred: each PV is handed over at the tick rate."""
    eng, rec, names = pva_engine
    got = rec.window(2.0)
    # 20 Hz counters and 20 Hz ticks: far more than the 4/s a deferred PV would get
    assert min(got[n] for n in names) >= 14, got


def test_deferred_above_the_threshold_unless_watched(pva_engine, monkeypatch) -> None:
    from pvprobe.pva.link import PVA_POLL_S

    eng, rec, names = pva_engine
    monkeypatch.setattr(eng.source.sources["pva"].schedule, "defer_above", 10)   # a big session
    eng.watch("test", set(names[:3]))
    got = rec.window(3.0)
    unwatched = [got[n] for n in names[3:]]
    watched = [got[n] for n in names[:3]]
    # a deferred PV: one state per PVA_POLL_S (0.25 s) at most, ~12 in 3 s
    assert max(unwatched) <= 3.0 / PVA_POLL_S + 3, unwatched
    assert min(unwatched) >= 6, unwatched      # still updating, at most 0.25 s (+ a tick) old
    assert min(watched) >= 40, watched         # the shown ones: every tick


def test_lean_mode_slows_unwatched_pva_pvs_and_a_watched_one_comes_at_once(pva_engine) -> None:
    eng, rec, names = pva_engine
    eng.watch("test", set(names[:2]))
    eng.set_lean(True)
    assert _wait(lambda: eng.debug_summary().lean, 5)
    rec.window(2.5)                            # the change settles (one slow period)
    got = rec.window(4.0)
    slow = [got[n] for n in names[2:]]
    assert max(slow) <= 4, slow                # every LEAN_REFRESH_S (2 s): 2, maybe 3
    assert min(slow) >= 1, slow                # but never frozen
    assert min(got[n] for n in names[:2]) >= 40
    # a PV that becomes shown gets its newest value at once, not at its next slow turn
    target = names[10]
    seen = rec.counts.get(target, 0)
    eng.watch("test", {target})
    assert _wait(lambda: rec.counts.get(target, 0) > seen + 3, 1.5), "newly shown PV still slow"


def test_a_big_session_empties_changing_queues_on_its_own_schedule(counters, demo_ioc, monkeypatch) -> None:
    """Above DEFER_ABOVE channels a monitor asks the whole structure with a queue of
    BIG_QUEUE and is emptied by that many pops, never up to an empty pop: pvxs then
    calls no handler (no GIL taken by its network thread) while the PV keeps
    changing, and the source empties it again on its own schedule."""
    import pvprobe.pva.schedule as schedule
    from pvprobe.ca.engine import Engine
    from pvprobe.pva.link import BIG_REQUEST, PVA_POLL_S

    monkeypatch.setattr(schedule, "DEFER_ABOVE", 10)
    monkeypatch.setenv("PVPROBE_PVA_FAST", "never")     # p4p's monitors (test_pva_fast: the C++ ones)
    eng = Engine(tick_hz=20)
    rec = Recorder(eng)
    eng.start(rec)
    names = [f"pva://{counters}:{i}" for i in range(N)]
    try:
        eng.add(names)
        assert _wait(lambda: all(rec.counts.get(n, 0) >= 2 for n in names), 20), "not all updating"
        src = eng.source.sources["pva"]
        big = [link for link in list(src._links.values()) if link.request == BIG_REQUEST]
        assert len(big) >= N - 10 and not any(link.narrow for link in big)
        e0, d0 = src.schedule.events, src.schedule.emptied
        got = rec.window(3.0)
        events, emptied = src.schedule.events - e0, src.schedule.emptied - d0
        counts = [got.get(n, 0) for n in names]
        assert min(counts) >= 6, counts          # still fresh: ~every PVA_POLL_S
        assert max(counts) <= 3.0 / PVA_POLL_S + 3, counts
        # 20 Hz counters: a queue popped up to empty would re-arm its handler at each
        # emptying (events ≈ emptyings); counted pops leave it unarmed
        assert emptied >= 6 * (N - 10), (events, emptied)
        assert events < 0.3 * emptied, (events, emptied)
    finally:
        eng.close()
