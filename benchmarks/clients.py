"""CA client processes the benchmark drivers run: ``python clients.py MODE 'JSON-ARGS'``.

Each mode prints one JSON line on stdout. The environment (EPICS_CA_*) comes
from the driver, so it is in place before libca loads. Every wait is bounded.

Modes:
  recipe        pyepics bulk recipe at the ca level (the baseline)
  engine_read   pvprobe Engine.read (synchronous bulk read)
  naive         for n in names: epics.PV(n).get()
  monitor       pvprobe Engine worker: connect, subscribe, count updates (and
                optionally staleness and the IOC's real processing rate)
  pyepics_monitor  the usual pyepics way: epics.PV(name, callback=...) per PV,
                each callback storing the value and timestamp (the baseline of
                bench_updates); same window, staleness and rate figures as monitor
  p4p_monitor   the usual p4p way over pvAccess: Context("pva").monitor(name, cb) per
                PV (the baseline of bench_pva_table); same figures as monitor
  memory        RSS after Engine() init, then with all PVs subscribed and valued
  shutdown      Engine worker with all PVs subscribed, then exit; prints the quit time
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import threading
import time

T_START = time.monotonic()


def out(d: dict) -> None:
    print(json.dumps(d), flush=True)


def err(*a: object) -> None:
    print("[client]", *a, file=sys.stderr, flush=True)


def names_of(args: dict) -> list[str]:
    with open(args["list"]) as f:
        names = [ln.strip() for ln in f if ln.strip()]
    if args.get("limit"):
        names = names[: args["limit"]]
    return names


def rss_mb() -> float:
    import psutil
    return psutil.Process().memory_info().rss / 2 ** 20


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# ----------------------------------------------------------------------------- connect

def mode_recipe(args: dict) -> None:
    names = names_of(args)
    timeout = float(args.get("timeout", 30))
    t0 = time.monotonic()
    from epics import ca
    ca.initialize_libca()
    t_init = time.monotonic() - t0
    t1 = time.monotonic()
    chids = [ca.create_channel(n, connect=False, auto_cb=False) for n in names]
    deadline = time.monotonic() + timeout
    for c in chids:
        ca.connect_channel(c, timeout=max(0.001, deadline - time.monotonic()))
    ca.poll()
    t_conn = time.monotonic() - t1
    for c in chids:
        ca.get(c, wait=False)
    ca.poll()
    got = 0
    for c in chids:
        v = ca.get_complete(c, timeout=max(0.001, deadline - time.monotonic()))
        if v is not None:
            got += 1
    t_all = time.monotonic() - t1
    out({"n": len(names), "values": got, "init_s": round(t_init, 3),
         "connect_s": round(t_conn, 3), "inner_s": round(t_all, 3),
         "to_values_from_start_s": round(time.monotonic() - T_START, 3),
         "rss_mb": round(rss_mb(), 1), "cpu_s": round(cpu_s(), 2)})
    sys.stdout.flush()
    os._exit(0)  # skip pyepics' finalize_libca (slow with many channels): not measured here


def mode_engine_read(args: dict) -> None:
    names = names_of(args)
    t0 = time.monotonic()
    from pvprobe.ca.engine import Engine
    eng = Engine()
    t_init = time.monotonic() - t0
    t1 = time.monotonic()
    states = eng.read(names, timeout=float(args.get("timeout", 30)))
    t_all = time.monotonic() - t1
    got = sum(1 for s in states.values() if s.value is not None and not s.error)
    out({"n": len(names), "values": got, "init_s": round(t_init, 3), "inner_s": round(t_all, 3),
         "to_values_from_start_s": round(time.monotonic() - T_START, 3),
         "rss_mb": round(rss_mb(), 1), "cpu_s": round(cpu_s(), 2)})


def mode_naive(args: dict) -> None:
    names = names_of(args)
    budget = float(args.get("budget_s", 120))
    import epics
    t0 = time.monotonic()
    done = got = 0
    for n in names:
        v = epics.PV(n).get()
        done += 1
        got += v is not None
        if time.monotonic() - t0 > budget:
            break
    dt = time.monotonic() - t0
    out({"n_asked": len(names), "n_done": done, "values": got, "seconds": round(dt, 3),
         "ms_per_pv": round(1000 * dt / max(1, done), 2)})
    sys.stdout.flush()
    os._exit(0)


# ----------------------------------------------------------------------------- engine worker

class Consumer:
    """Counts batches; optionally keeps per-PV newest timestamp/value for staleness."""

    def __init__(self, eng, track: bool) -> None:
        self.eng = eng
        self.track = track
        self.lock = threading.Lock()
        self.batches = 0
        self.states = 0
        self.updates = 0
        self.connected = 0
        self.valued: set[str] = set()
        self.ts: dict[str, float] = {}
        self.val: dict[str, float] = {}

    def __call__(self, batch) -> None:
        with self.lock:
            self.batches += 1
            self.states += len(batch.states)
            self.updates = batch.updates_received
            self.connected = batch.connected
            if self.track:
                ts, val = self.ts, self.val
                for st in batch.states:
                    if st.value is not None:
                        ts[st.name] = st.timestamp
                        val[st.name] = st.value
            elif len(self.valued) < self.eng.stats.pvs or not self.eng.stats.pvs:
                for st in batch.states:
                    if st.value is not None:
                        self.valued.add(st.name)
        self.eng.batch_done()

    def n_valued(self) -> int:
        with self.lock:
            return len(self.ts) if self.track else len(self.valued)


def _start_engine(names: list[str], track: bool, tick_hz: float = 20.0, lean: bool = False):
    from pvprobe.ca.engine import Engine
    eng = Engine(tick_hz=tick_hz)
    cons = Consumer(eng, track)
    if lean:       # what the GUI does above 2,000 PVs, for rows no view shows
        eng.set_lean(True)
    eng.add(names)
    eng.start(cons)
    return eng, cons


def _wait_all_valued(cons: Consumer, n: int, timeout: float) -> float | None:
    t0 = time.monotonic()
    deadline = t0 + timeout
    while time.monotonic() < deadline:
        if cons.n_valued() >= n:
            return time.monotonic() - t0
        time.sleep(0.02)
    return None


def _pct(xs, q):
    import numpy as np
    return float(np.percentile(np.asarray(xs, dtype=float), q)) if len(xs) else None


def mode_monitor(args: dict) -> None:
    names = names_of(args)
    seconds = float(args.get("seconds", 20))
    track = bool(args.get("track", False))
    eng, cons = _start_engine(names, track, float(args.get("tick_hz", 20)), bool(args.get("lean", False)))
    t_values = _wait_all_valued(cons, len(names), float(args.get("connect_timeout", 120)))
    err(f"all valued after {t_values}")
    time.sleep(float(args.get("warmup", 2)))
    with cons.lock:
        u0, b0, s0 = cons.updates, cons.batches, cons.states
        v0 = dict(cons.val)
    out({"event": "window_start"})
    c0, t0 = cpu_s(), time.monotonic()
    ages: list[float] = []
    samples = 0
    end = t0 + seconds
    import random
    rng = random.Random(1)
    while time.monotonic() < end:
        time.sleep(rng.uniform(0.25, 0.75))  # random phase vs the IOC's 0.1 s scan bursts
        if track:
            with cons.lock:
                now = time.time()
                ages.extend(now - t for t in cons.ts.values())
            samples += 1
    with cons.lock:
        u1, b1, s1 = cons.updates, cons.batches, cons.states
        v1 = dict(cons.val)
    c1, t1 = cpu_s(), time.monotonic()
    dt = t1 - t0
    res = {"n": len(names), "seconds_to_all_values": None if t_values is None else round(t_values, 3),
           "window_s": round(dt, 2), "updates_per_s": round((u1 - u0) / dt),
           "batches_per_s": round((b1 - b0) / dt, 2), "states_per_s": round((s1 - s0) / dt),
           "cpu_percent": round(100 * (c1 - c0) / dt, 1), "rss_mb": round(rss_mb(), 1),
           "decode_s_total": round(eng.stats.decode_seconds, 2)}
    if track:
        # calc VAL+1: the value counts the IOC's processings, seen or not by us
        offered = sum(v1[k] - v0[k] for k in v1 if k in v0)
        res.update({"ioc_processed_per_s": round(offered / dt),
                    "staleness_samples": samples,
                    "staleness_s_p50": round(_pct(ages, 50), 3) if ages else None,
                    "staleness_s_p99": round(_pct(ages, 99), 3) if ages else None,
                    "staleness_s_max": round(max(ages), 3) if ages else None})
    out(res)
    t_stop = time.monotonic()
    from pvprobe.ca.context import shutdown
    shutdown()
    err(f"engine shutdown took {time.monotonic() - t_stop:.2f} s")
    sys.stdout.flush()
    os._exit(0)


def _window(seconds: float, snapshot, track_ages) -> tuple[dict, dict, float, float, list, int]:
    """The measuring window shared by the monitor modes: announces its start, samples
    value ages at random phases, returns (values before, after, cpu s, wall s, ages, samples)."""
    import random
    rng = random.Random(1)
    v0 = snapshot()
    out({"event": "window_start"})
    c0, t0 = cpu_s(), time.monotonic()
    ages: list[float] = []
    samples = 0
    while time.monotonic() < t0 + seconds:
        time.sleep(rng.uniform(0.25, 0.75))  # random phase vs the IOC's 0.1 s scan bursts
        ages.extend(track_ages(time.time()))
        samples += 1
    return v0, snapshot(), cpu_s() - c0, time.monotonic() - t0, ages, samples


def _callback_baseline(args: dict, names: list[str], subscribe) -> None:
    """The baselines' common part: ``subscribe(names, on_value)`` opens one monitor per
    name whose callback calls ``on_value(name, value, timestamp)``; then the window,
    staleness and rate figures of ``monitor``, printed."""
    seconds = float(args.get("seconds", 20))
    lock = threading.Lock()
    ts: dict[str, float] = {}
    val: dict[str, float] = {}
    count = [0]

    def on_value(name: str, value, timestamp: float) -> None:
        with lock:
            ts[name] = timestamp
            val[name] = value
            count[0] += 1
    t_start = time.monotonic()
    subs = subscribe(names, on_value)
    deadline = t_start + float(args.get("connect_timeout", 120))
    while time.monotonic() < deadline and len(ts) < len(names):
        time.sleep(0.05)
    t_values = time.monotonic() - t_start if len(ts) >= len(names) else None
    err(f"all valued after {t_values}")
    time.sleep(float(args.get("warmup", 2)))

    def snapshot():
        with lock:
            return {"n": count[0], "val": dict(val)}

    def track(now):
        with lock:
            return [now - t for t in ts.values()]
    s0, s1, cpu, dt, ages, samples = _window(seconds, snapshot, track)
    offered = sum(s1["val"][k] - s0["val"][k] for k in s1["val"] if k in s0["val"])
    out({"n": len(names), "pvs": len(subs), "seconds_to_all_values": None if t_values is None else round(t_values, 3),
         "window_s": round(dt, 2), "updates_per_s": round((s1["n"] - s0["n"]) / dt),
         "cpu_percent": round(100 * cpu / dt, 1), "rss_mb": round(rss_mb(), 1),
         "ioc_processed_per_s": round(offered / dt), "staleness_samples": samples,
         "staleness_s_p50": round(_pct(ages, 50), 3) if ages else None,
         "staleness_s_p99": round(_pct(ages, 99), 3) if ages else None,
         "staleness_s_max": round(max(ages), 3) if ages else None})
    sys.stdout.flush()
    os._exit(0)   # pyepics' own finalizer takes tens of seconds with busy PVs


def mode_pyepics_monitor(args: dict) -> None:
    """The baseline: one epics.PV per name with a value callback (pyepics' own
    monitors and ctypes callbacks, what a hand-written monitor tool does)."""
    import epics

    def subscribe(names, on_value):
        def callback(pvname=None, value=None, timestamp=None, **kw):
            on_value(pvname, value, timestamp)
        return [epics.PV(n, callback=callback, auto_monitor=True) for n in names]
    _callback_baseline(args, names_of(args), subscribe)


def mode_p4p_monitor(args: dict) -> None:
    """The pvAccess baseline: p4p's own thread client the usual way,
    ``Context("pva").monitor(name, callback)`` per name (``pva://`` prefixes dropped),
    each callback storing the value and timestamp; same figures as pyepics_monitor."""
    from p4p.client.thread import Context
    names = [n[len("pva://"):] if n.startswith("pva://") else n for n in names_of(args)]

    def subscribe(names, on_value):
        ctx = Context("pva")

        def callback(name: str):
            def on_update(v) -> None:
                if not isinstance(v, Exception):
                    on_value(name, float(v), v.timestamp)
            return on_update
        return [ctx.monitor(n, callback(n)) for n in names]
    _callback_baseline(args, names, subscribe)


def mode_memory(args: dict) -> None:
    names = names_of(args)
    from pvprobe.ca.engine import Engine
    eng = Engine()
    time.sleep(0.5)
    gc.collect()
    rss0 = rss_mb()
    from_init = time.monotonic()
    cons = Consumer(eng, False)
    eng.add(names)
    eng.start(cons)
    t_values = _wait_all_valued(cons, len(names), float(args.get("connect_timeout", 180)))
    time.sleep(1.0)
    gc.collect()
    rss1 = rss_mb()
    out({"n": len(names), "valued": cons.n_valued(), "seconds_to_all_values":
         None if t_values is None else round(t_values, 2), "rss0_mb": round(rss0, 1),
         "rss_mb": round(rss1, 1), "kb_per_pv": round((rss1 - rss0) * 1024 / max(1, len(names)), 2),
         "elapsed_s": round(time.monotonic() - from_init, 2)})
    sys.stdout.flush()
    os._exit(0)


def mode_shutdown(args: dict) -> None:
    names = names_of(args)
    eng, cons = _start_engine(names, False)
    t_values = _wait_all_valued(cons, len(names), float(args.get("connect_timeout", 120)))
    time.sleep(float(args.get("hold", 3)))
    out({"n": len(names), "valued": cons.n_valued(),
         "seconds_to_all_values": None if t_values is None else round(t_values, 2),
         "updates": cons.updates, "quit_at": time.time()})
    # normal interpreter exit: pvprobe's atexit handler stops the worker, clears
    # channels and destroys the context


MODES = {"recipe": mode_recipe, "engine_read": mode_engine_read, "naive": mode_naive,
         "monitor": mode_monitor, "pyepics_monitor": mode_pyepics_monitor,
         "p4p_monitor": mode_p4p_monitor, "memory": mode_memory,
         "shutdown": mode_shutdown}

if __name__ == "__main__":
    MODES[sys.argv[1]](json.loads(sys.argv[2]) if len(sys.argv) > 2 else {})
