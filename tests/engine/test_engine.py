"""The CA engine against the real demo IOC (no mocks)."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import Collector as SharedCollector

from pvprobe.core.format import char_array_to_text

pytestmark = pytest.mark.timeout(90)


def Collector(engine):     # noqa: N802  (every batch kept: tests look at batch contents)
    return SharedCollector(engine, keep_batches=True)


@pytest.fixture
def running(request, demo_ioc, monkeypatch):
    """A started engine with a Collector. Parametrize indirectly with "py" for the
    pure-Python monitor callbacks (installs without a C compiler); default: the
    C callback where it was built."""
    from pvprobe.ca.engine import Engine

    callbacks = getattr(request, "param", "c")
    if callbacks == "py":
        monkeypatch.setenv("PVPROBE_PY_CALLBACKS", "1")
    engine = Engine(tick_hz=20)
    assert engine.fast_callbacks == (callbacks == "c"), "the C callback module is not built"
    col = Collector(engine)
    engine.start(col)
    yield engine, col
    engine.close()


both_callbacks = pytest.mark.parametrize("running", ["c", "py"], indirect=True)


@both_callbacks
def test_bulk_connect_of_1000_scalars_delivers_all_values(running, demo_ioc, scalar_names):
    engine, col = running
    engine.add(scalar_names)
    col.wait(lambda: len(col.latest) == len(scalar_names)
             and all(s.connected and s.value is not None for s in col.latest.values()),
             30, "1,000 PVs connected with values")
    batch = col.batches[-1]
    assert batch.pvs == 1000 and batch.connected == 1000
    kinds = {st.native_type for st in col.latest.values()}
    assert {"DOUBLE", "ENUM", "LONG", "STRING"} <= kinds
    mbbi = col.latest[scalar_names[700]]
    assert mbbi.is_enum and mbbi.enum_strs, "enum strings known before the value is shown"


@both_callbacks
def test_monitor_updates_and_metadata(running, prefix):
    engine, col = running
    engine.add([prefix + "sine"])
    seen = set()

    def enough():
        st = col.latest.get(prefix + "sine")
        if st is not None and st.value is not None:
            seen.add(st.value)
        return len(seen) >= 5

    col.wait(enough, 10, "five distinct sine values")
    st = col.latest[prefix + "sine"]
    assert st.units == "mm" and st.precision == 3
    assert st.alarm_limits == (-8, 8) and st.warning_limits == (-5, 5)
    assert abs(st.timestamp - time.time()) < 5, "IOC timestamp, POSIX seconds"
    assert st.host.startswith(("127.0.0.1", "localhost"))


@both_callbacks
def test_many_updates_are_coalesced_into_one_state_per_batch(running, prefix):
    engine, col = running
    name = prefix + "sine"
    engine.add([name])
    col.wait(lambda: name in col.latest and col.latest[name].value is not None, 10, "sine")
    col.hold.set()                          # the consumer is busy: no batch_done
    n_batches = len(col.batches)
    before = col.batches[-1].updates_received
    ticks0 = engine.stats.ticks
    # the window: 20 worker ticks (1 s at 20 Hz), each a chance to deliver, while held
    col.wait(lambda: engine.stats.ticks >= ticks0 + 20, 5, "worker ticks while held")
    assert len(col.batches) <= n_batches + 1, "no batch may be delivered while the last is unacknowledged"
    col.hold.clear()
    engine.batch_done()
    col.wait(lambda: len(col.batches) >= n_batches + 2, 5, "the next batch")
    last = col.batches[-1]
    assert [s.name for s in last.states].count(name) == 1
    assert last.updates_received - before >= 5, "the IOC sent many updates meanwhile"


def test_variable_length_waveform_returns_valid_elements_only(engine, prefix):
    lengths = set()
    deadline = time.monotonic() + 10
    while len(lengths) < 2 and time.monotonic() < deadline:
        st = engine.read([prefix + "wave"])[prefix + "wave"]
        assert st.max_count == 2048
        assert isinstance(st.value, np.ndarray) and st.value.dtype == np.float64
        assert st.count == st.value.size <= 2048
        lengths.add(st.count)
        time.sleep(0.2)  # ok-sleep: the IOC changes the valid length a few times a second
    assert len(lengths) >= 2, f"valid length never changed: {lengths}"


def test_char_waveform_reads_as_text(engine, prefix):
    st = engine.read([prefix + "filename"])[prefix + "filename"]
    assert st.is_char_array
    text = char_array_to_text(st.value)
    assert text.startswith("/") and text.endswith(".h5"), text


@pytest.mark.parametrize("suffix, value, expect", [
    ("ao:010", 12.5, 12.5),
    ("ai:300", 3.25, 3.25),
    ("bo:010", "One", 1),
    ("bi:050", 1, 1),
    ("mbbo:010", "Three", 3),
    ("mbbi:040", 5, 5),
    ("longin:050", 123, 123),
    ("long", -77, -77),
    ("message", "hello pvprobe", "hello pvprobe"),
    ("stringin:050", "from test", "from test"),
    ("enum", "Standby", 1),
    ("switch", "Closed", 1),
    ("wave:set", [1.5, 2.5, 3.5], [1.5, 2.5, 3.5]),
    ("filename:set", "/tmp/x.h5", "/tmp/x.h5"),
])
def test_put_get_round_trip_per_record_type(engine, prefix, suffix, value, expect):
    name = prefix + suffix
    before = engine.read([name])[name]
    if before.native_type == "ENUM" and isinstance(value, str) and before.enum_strs:
        # bo/bi use ZNAM/ONAM, mbb* their own states: map the test's word onto the PV's states
        expect = before.enum_strs.index(value) if value in before.enum_strs else expect
        if value not in before.enum_strs:
            value = before.enum_strs[expect]
    res = engine.put_wait(name, value, timeout=5)
    assert res.ok, res.error
    st = engine.read([name])[name]
    got = st.value
    if st.is_char_array:
        got = char_array_to_text(got)
    elif isinstance(got, np.ndarray):
        got = got.tolist()
    assert got == expect


def test_put_to_read_only_pv_is_refused_with_a_clear_error(engine, prefix):
    st = engine.read([prefix + "readonly"])[prefix + "readonly"]
    assert st.connected and st.read_access and not st.write_access
    res = engine.put_wait(prefix + "readonly", 1.0, timeout=3)
    assert not res.ok and "read-only" in res.error
    assert engine.read([prefix + "readonly"])[prefix + "readonly"].value == 42.0


def test_put_refusals_before_sending(engine, prefix):
    res = engine.put_wait(prefix + "setpoint", 1000, timeout=3)
    assert not res.ok and "control limits" in res.error
    res = engine.put_wait(prefix + "enum", "NoSuchState", timeout=3)
    assert not res.ok and "not one of the states" in res.error
    res = engine.put_wait(prefix + "message", "x" * 41, timeout=3)
    assert not res.ok and "longer than" in res.error
    res = engine.put_wait(prefix + "wave:set", list(range(17)), timeout=3)
    assert not res.ok and "NELM" in res.error


def test_put_completion_timeout_is_reported(engine, prefix):
    t0 = time.monotonic()
    res = engine.put_wait(prefix + "slow", 1.0, timeout=0.5)
    assert not res.ok and "timeout" in res.error
    assert time.monotonic() - t0 < 3


def test_unknown_pv_fails_within_its_timeout(engine):
    t0 = time.monotonic()
    st = engine.read(["PVPROBE:NO:SUCH:PV"], timeout=1.0)["PVPROBE:NO:SUCH:PV"]
    assert time.monotonic() - t0 < 2.5
    assert not st.connected and "not found" in st.error


def test_large_array_is_not_monitored_unless_asked(running, prefix):
    engine, col = running
    data = prefix + "image1:ArrayData"
    engine.add([data])
    counter = prefix + "image1:ArrayCounter_RBV"
    engine.add([counter])
    col.wait(lambda: data in col.latest and col.latest[data].connected
             and counter in col.latest and col.latest[counter].value is not None, 10, "image connected")
    first = col.latest[counter].value
    # the window: the camera publishes frames (its counter moves) that a monitor would bring
    col.wait(lambda: col.latest[counter].value >= first + 5, 5, "frames published")
    st = col.latest[data]
    assert st.max_count == 1024 * 1024 and not st.monitored and st.value is None
    engine.add([data], monitor_arrays=True)
    col.wait(lambda: col.latest[data].value is not None, 10, "a frame after asking")
    st = col.latest[data]
    assert st.monitored and st.value.size == 1024 * 1024
    # CA has no unsigned 16-bit type: USHORT pixels travel as LONG (DataType_RBV says UInt16)
    assert st.value.dtype == np.int32 and 0 <= st.value.min() and st.value.max() <= 65535


@both_callbacks
def test_ioc_killed_then_restarted_pvs_resume_without_user_action(running, restartable_ioc):
    engine, col = running
    ioc = restartable_ioc
    names = [ioc.prefix + "heartbeat", ioc.prefix + "sine", ioc.prefix + "enum"]
    engine.add(names)
    col.wait(lambda: all(n in col.latest and col.latest[n].connected and col.latest[n].value is not None
                         for n in names), 15, "restartable IOC PVs connected")
    ioc.stop()
    col.wait(lambda: all(not col.latest[n].connected for n in names), 40, "disconnection shown")
    hb_before = col.latest[names[0]].update_count
    ioc.restart()
    col.wait(lambda: all(col.latest[n].connected for n in names), 40, "reconnection")
    col.wait(lambda: col.latest[names[0]].update_count > hb_before + 1, 10, "values flowing again")
    assert col.latest[names[2]].enum_strs, "metadata fetched again after reconnect"


def test_put_many_reports_each_result(engine, prefix):
    results = engine.put_many([(prefix + "ao:020", 5.5), (prefix + "readonly", 1.0),
                               (prefix + "enum", "On"), ("PVPROBE:NO:SUCH", 1)], timeout=3,
                              connect_timeout=1.0)
    assert [r.ok for r in results] == [True, False, True, False]
    assert "read-only" in results[1].error and "not found" in results[3].error
    got = engine.read([prefix + "ao:020", prefix + "enum"])
    assert got[prefix + "ao:020"].value == 5.5 and got[prefix + "enum"].value == 2


def test_once_mode_reads_without_subscribing_and_channels_are_shared(running, prefix):
    engine, col = running
    desc, hb = prefix + "sine.DESC", prefix + "heartbeat"
    engine.add([desc, hb], once=True)
    col.wait(lambda: desc in col.latest and col.latest[desc].value is not None
             and hb in col.latest and col.latest[hb].value is not None, 10, "once reads")
    assert isinstance(col.latest[desc].value, str) and not col.latest[hb].monitored
    first = col.latest[hb].value
    clock = hb + ".VAL"              # the same record on its own monitored channel
    engine.add([clock])
    col.wait(lambda: clock in col.latest and col.latest[clock].value is not None, 10, "clock")
    ticks = col.latest[clock].value
    # the window: the heartbeat ticks twice more; the once-read must not follow it
    col.wait(lambda: col.latest[clock].value >= ticks + 2, 5, "heartbeat ticks")
    assert col.latest[hb].value == first
    engine.add([hb])                 # a second user wants it monitored: upgraded, shared
    col.wait(lambda: col.latest[hb].monitored and col.latest[hb].value != first, 5, "monitor")
    assert engine.debug_info(hb).users == 2 and engine.debug_info(hb).subscribed
    engine.remove([hb])              # the monitoring user goes: the read-once user is left
    col.wait(lambda: not col.latest[hb].monitored, 5, "back to read-once after one removal")
    info = engine.debug_info(hb)
    assert info is not None and info.users == 1 and info.once and not info.subscribed
    engine.remove([hb], once=True)   # the last user: the channel goes
    col.wait(lambda: engine.debug_info(hb) is None, 5, "channel cleared")


@pytest.mark.parametrize("running", ["py"], indirect=True)
def test_lean_mode_alarm_only_until_watched(running, prefix):
    """Without the C callback, lean mode puts unwatched PVs on alarm-only monitors."""
    engine, col = running
    hb, sine = prefix + "heartbeat", prefix + "sine"
    engine.set_lean(True)
    engine.add([hb, sine])
    col.wait(lambda: all(n in col.latest and col.latest[n].value is not None for n in (hb, sine)),
             10, "initial values")
    first = col.latest[hb].update_count
    v0, refreshes0 = col.latest[hb].value, engine.stats.lean_refreshes
    # heartbeat ticks at 1 Hz without alarm changes: the alarm-only monitor sends
    # nothing, the lean refresh (a get every LEAN_REFRESH_S) still follows it
    col.wait(lambda: col.latest[hb].value != v0, 5, "value refreshed in lean mode")
    assert engine.stats.lean_refreshes > refreshes0
    first = col.latest[hb].update_count
    n_sine = col.latest[sine].update_count
    assert n_sine >= 1  # sine's severity changes every second or so: alarm events still arrive
    engine.watch("view", [hb])
    col.wait(lambda: col.latest[hb].update_count >= first + 2, 5, "full updates once watched")
    engine.watch("view", [])
    engine.set_lean(False)
    col.wait(lambda: col.latest[hb].update_count >= first + 4, 5, "full updates without lean mode")


def test_lean_mode_with_the_c_callback_decodes_unwatched_pvs_less_often(running, prefix):
    """With the C callback every PV keeps a full monitor; lean mode hands over an
    unwatched PV's newest value within a budget of decodes per second, the longest
    waiting first; a watched one every tick."""
    engine, col = running
    engine.lean_decode_budget = 4.0           # per second, for the unwatched PVs together
    fast, slow = prefix + "ai:000", prefix + "ai:004"        # both processed at 10 Hz
    engine.set_lean(True)
    engine.add([fast, slow])
    engine.watch("view", [fast])
    col.wait(lambda: all(n in col.latest and col.latest[n].value is not None for n in (fast, slow)),
             10, "initial values")
    n_fast, n_slow, t0 = col.latest[fast].update_count, col.latest[slow].update_count, time.monotonic()
    time.sleep(3.0)  # ok-sleep: a window of ~30 IOC updates per PV
    with col.lock:
        d_fast = col.latest[fast].update_count - n_fast
        d_slow = col.latest[slow].update_count - n_slow
    dt = time.monotonic() - t0
    # unwatched: still updating, but within the budget
    assert 2 <= d_slow <= 4.0 * dt + 2, (d_slow, dt)
    # watched: every update the IOC sends (10 Hz unless the box is starved), never fewer
    assert d_fast >= d_slow, (d_fast, d_slow)
    assert d_fast > 4.0 * dt + 2 or d_fast == d_slow, (d_fast, d_slow)
    assert engine.debug_info(slow).mask & 1, "a full value monitor, not alarm-only"
    engine.set_lean(False)
    n_slow = col.latest[slow].update_count
    col.wait(lambda: col.latest[slow].update_count >= n_slow + 15, 5, "every update without lean mode")


def test_lean_mode_first_values_are_not_held_back_by_the_decode_budget(running, scalar_names,
                                                                        restartable_ioc):
    """With the C callback and no decode budget left for unwatched PVs, each row still
    gets its first value as soon as it arrives, and again its first value after a
    reconnection (a big table's "all values" must not wait for the budget)."""
    engine, col = running
    engine.lean_decode_budget = 0.0           # no budgeted decode for unwatched PVs at all
    engine.set_lean(True)
    hb = restartable_ioc.prefix + "heartbeat"
    names = scalar_names[:300] + [hb]        # 300 mixed records, some at 10 Hz; none watched
    engine.add(names)
    col.wait(lambda: all(n in col.latest and col.latest[n].value is not None for n in names),
             20, "every unwatched PV's first value")
    before = col.latest[hb].timestamp
    restartable_ioc.stop()
    col.wait(lambda: not col.latest[hb].connected, 40, "disconnection shown")
    restartable_ioc.restart()
    col.wait(lambda: col.latest[hb].connected and col.latest[hb].timestamp > before, 40,
             "the first value after the reconnection")
    assert engine.debug_info(hb).mask & 1, "a full value monitor, not alarm-only"


@both_callbacks
def test_paced_array_is_fetched_only_when_the_consumer_takes_it(running, prefix):
    """An image view's ArrayData: a 1-element monitor announces each frame; the full
    frame is fetched only once the previous one was taken, so a busy consumer costs
    announcements, not copies of frames it would never show."""
    engine, col = running
    data = prefix + "image1:ArrayData"
    engine.add([data], paced=True)
    col.wait(lambda: data in col.latest and col.latest[data].value is not None, 10, "a first frame")
    st = col.latest[data]
    assert st.monitored and st.value.size == 1024 * 1024 and st.count == 1024 * 1024
    col.wait(lambda: engine.stats.frames_fetched >= 3, 10, "frames flowing")
    n_batches = len(col.batches)
    col.hold.set()                                   # the consumer is busy
    col.wait(lambda: len(col.batches) > n_batches, 5, "a batch the consumer holds")
    fetched0, announced0 = engine.stats.frames_fetched, engine.stats.frames_announced
    # the window: the 15 Hz camera announces frames while the consumer holds its batch
    col.wait(lambda: engine.stats.frames_announced >= announced0 + 10, 5, "announcements")
    announced = engine.stats.frames_announced - announced0
    fetched = engine.stats.frames_fetched - fetched0
    assert announced >= 10, announced
    assert fetched <= 1, f"{fetched} frames copied while the consumer was busy"
    ts_before = col.latest[data].timestamp
    col.hold.clear()
    engine.batch_done()
    col.wait(lambda: col.latest[data].timestamp > ts_before, 5, "a newer frame after the consumer is back")
    col.wait(lambda: engine.stats.frames_fetched >= fetched0 + 5, 10, "frames flowing again")
    # another user asking a full monitor on the same PV turns pacing off for both
    engine.add([data], monitor_arrays=True)
    col.wait(lambda: not engine.debug_info(data).paced and engine.debug_info(data).subscribed, 5,
             "full monitor")
    n = engine.stats.updates_received
    fetched1 = engine.stats.frames_fetched
    col.wait(lambda: engine.stats.updates_received >= n + 5, 10, "frames by monitor")
    assert engine.stats.frames_fetched - fetched1 <= 1


@both_callbacks
def test_paced_array_in_pull_mode_is_fetched_once_per_request(running, prefix):
    """Engine.request_frame (the image view calls it as it paints a frame): one get per
    request, only for a frame announced since; requests do not add up; announcements
    keep being counted (in C with the C callback, where they cost no Python)."""
    engine, col = running
    data = prefix + "image1:ArrayData"
    engine.add([data], paced=True)
    engine.request_frame(data)
    col.wait(lambda: data in col.latest and col.latest[data].value is not None, 10, "a first frame")
    col.wait(lambda: engine.stats.frames_fetched >= 1, 5, "the fetch counted")
    announced0 = engine.stats.frames_announced
    # a fetch still in flight lands before a few more announcements are counted
    col.wait(lambda: engine.stats.frames_announced >= announced0 + 3, 5, "announcements")
    fetched0, announced0 = engine.stats.frames_fetched, engine.stats.frames_announced
    ts0 = col.latest[data].timestamp
    # the window: the 15 Hz camera announces 10 frames, none requested
    col.wait(lambda: engine.stats.frames_announced >= announced0 + 10, 5, "announcements")
    assert engine.stats.frames_fetched == fetched0, "fetched without a request"
    for _ in range(3):                     # requests do not add up: one frame for three
        engine.request_frame(data)
    col.wait(lambda: col.latest[data].timestamp > ts0, 5, "the requested frame")
    announced1 = engine.stats.frames_announced
    # the window: 5 more announcements, in which a second (unrequested) fetch would land
    col.wait(lambda: engine.stats.frames_announced >= announced1 + 5, 5, "announcements")
    assert engine.stats.frames_fetched == fetched0 + 1
    # a request with no new frame yet is served by the next announcement
    ts1 = col.latest[data].timestamp
    engine.request_frame(data)
    col.wait(lambda: col.latest[data].timestamp > ts1, 5, "the next frame")


@both_callbacks
def test_pull_mode_polls_while_the_camera_is_ahead_and_listens_again_when_it_is_not(running, prefix):
    """A consumer slower than the camera: every frame was announced before it asked, so
    after POLL_AFTER_EARLY of them the announcement monitor is cleared and each request
    fetches at once. A consumer faster than the camera: a fetch returns the frame it
    already has, which is dropped, and announcements start again."""
    from pvprobe.ca.engine import POLL_AFTER_EARLY
    engine, col = running
    data = prefix + "image1:ArrayData"                  # the demo camera: 15 frames/s
    engine.add([data], paced=True)
    engine.request_frame(data)
    col.wait(lambda: data in col.latest and col.latest[data].value is not None, 10, "a first frame")
    def slot():
        return engine.debug_info(data)
    stamps = [col.latest[data].timestamp]

    def next_frame(pause: float) -> None:
        time.sleep(pause)  # ok-sleep: the consumer is busy with the last frame
        engine.request_frame(data)
        col.wait(lambda: col.latest[data].timestamp != stamps[-1], 5, "the requested frame")
        stamps.append(col.latest[data].timestamp)

    for _ in range(POLL_AFTER_EARLY + 2):               # slow consumer: ~4 frames per request
        next_frame(0.25)
    assert slot().polling and not slot().subscribed, "still on announcements"
    switches = engine.stats.poll_switches
    assert switches >= 1
    deadline = time.monotonic() + 10
    while slot().polling and time.monotonic() < deadline:    # fast consumer: asks at once
        next_frame(0.0)
    assert not slot().polling and slot().subscribed, "still polling a camera that fell behind"
    assert engine.stats.poll_switches > switches
    for _ in range(3):                                  # and frames keep coming
        next_frame(0.0)
    assert all(b > a for a, b in zip(stamps, stamps[1:])), "a frame delivered twice"


@both_callbacks
def test_a_pv_goes_back_to_what_its_remaining_users_need(running, prefix):
    """Options are released with their user: samples stop (and the C callback takes the
    PV back) when the last keep_all user goes; a camera's ArrayData goes back to pacing
    when the last full-monitor user goes, and is not monitored at all once only a
    plain user is left."""
    engine, col = running
    sine = prefix + "sine"

    class _Gone:                  # stands for a channel the worker has not created (yet)
        keep_all = paced = monitored = subscribed = fast_callback = False

    def slot(name):
        return engine.debug_info(name) or _Gone
    engine.add([sine])
    engine.add([sine], keep_all=True)                    # a strip chart joins a table
    col.wait(lambda: slot(sine).keep_all and slot(sine).subscribed,
             10, "keep_all subscription")
    assert not slot(sine).fast_callback         # samples come by the Python callback
    engine.remove([sine], keep_all=True)                 # the strip chart closes
    col.wait(lambda: not slot(sine).keep_all and slot(sine).subscribed
             and slot(sine).fast_callback == engine.fast_callbacks, 5, "back to newest-only")
    col.wait(lambda: sine in col.latest, 10, "a value")
    n = col.latest[sine].update_count
    col.wait(lambda: col.latest[sine].update_count >= n + 3, 10, "values still flowing")

    data = prefix + "image1:ArrayData"
    engine.add([data], paced=True)                       # an image view
    engine.add([data], monitor_arrays=True)              # a waveform plot of the same array
    col.wait(lambda: slot(data).subscribed and not slot(data).paced,
             10, "a full monitor for both")
    engine.remove([data], monitor_arrays=True)           # the plot closes
    col.wait(lambda: slot(data).paced and slot(data).subscribed, 5,
             "paced again")
    engine.request_frame(data)
    t = col.latest[data].timestamp if data in col.latest else 0.0
    col.wait(lambda: data in col.latest and col.latest[data].timestamp > t, 10, "a paced frame")
    engine.add([data])                                   # a table row showing the array
    engine.remove([data], paced=True)                    # the image view closes
    col.wait(lambda: not slot(data).subscribed and not slot(data).monitored,
             5, "a big array nobody monitors")
    engine.remove([data])
    engine.remove([sine])
    col.wait(lambda: engine.debug_info(data) is None and engine.debug_info(sine) is None, 5,
             "all released")


@both_callbacks
def test_capped_batches_give_every_pv_its_turn_under_constant_change(running, prefix):
    """More PVs change per tick than a batch may carry: the ones held back go first
    next time, so PVs opened after busy ones are not starved behind them."""
    engine, col = running
    engine.max_batch_states = 20
    busy = [f"{prefix}ai:{i:03d}" for i in range(200)]          # ~900 updates/s in all
    quiet = [f"{prefix}longin:{i:03d}" for i in range(100)]
    engine.add(busy)
    col.wait(lambda: sum(n in col.latest for n in busy) >= 150, 15, "busy PVs flowing")
    engine.add(quiet)
    col.wait(lambda: all(n in col.latest and col.latest[n].value is not None for n in quiet), 15,
             "every quiet PV's first value despite the busy ones")
    assert max(len(b.states) for b in col.batches) <= 20


def test_read_without_metadata_keeps_enum_strings_and_fetches_units_when_monitored(engine, prefix):
    """Snapshots read value, alarm and time only (enums keep their strings); a PV
    monitored later still gets its units."""
    sine, enum = prefix + "sine", prefix + "enum"
    got = engine.read([sine, enum], timeout=5, metadata=False)
    assert got[sine].value is not None and got[sine].units == "" and got[sine].timestamp > 0
    assert got[enum].enum_strs and got[enum].is_enum
    col = Collector(engine)
    engine.start(col)
    engine.add([sine])
    col.wait(lambda: sine in col.latest and col.latest[sine].units == "mm", 10, "units once monitored")
