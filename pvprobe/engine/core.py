"""The engine: one worker turning a source's callbacks into coalesced batches.

A source's callbacks (its own threads) only store the newest value per PV, kept
samples and typed events in the :class:`~.inbox.Inbox`. The worker runs the
commands of the public API, applies the events, brings channels to what their
users need (:mod:`.channels`), fetches paced frames (:mod:`.pacing`), decodes the
newest value of each changed PV and hands one :class:`Batch` per tick to its
consumer. A new batch is handed over only once the consumer has called
:meth:`Engine.batch_done` for the previous one, so a slow consumer gets fewer,
fuller batches, never a queue. The synchronous calls of the command-line tools
(:mod:`.sync`) use the same parts without the worker.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Optional

from ..core.batch import Batch
from ..core.pvstate import PVState
from .batches import Coalescer
from .channels import Channel, Channels
from .debug import ChannelDebug, EngineDebug
from .events import (
    AccessRights,
    AddCmd,
    Connected,
    Disconnected,
    FrameCmd,
    FrameFetched,
    GetDone,
    LeanCmd,
    PutCmd,
    PutDone,
    RemoveCmd,
    ServerFound,
    WatchCmd,
)
from .inbox import Inbox
from .lean import LeanMode
from .needs import Use
from .pacing import Pacer
from .puts import Done, Puts
from .source import Source
from .sync import SyncCalls

log = logging.getLogger(__name__)


@dataclass
class EngineStats:
    updates_received: int = 0
    batches_sent: int = 0
    pvs: int = 0
    connected: int = 0
    ticks: int = 0
    decode_seconds: float = 0.0
    lean_refreshes: int = 0       # gets sent to refresh PVs on alarm-only monitors
    frames_announced: int = 0     # new arrays announced on paced PVs
    frames_fetched: int = 0       # of which fetched in full (the rest were superseded)
    poll_switches: int = 0        # paced PVs switched between announced and polled fetches


class Engine(SyncCalls):
    """The engine over one protocol source. Either :meth:`start` the worker (GUI,
    monitor) or use the synchronous calls (CLI)."""

    def __init__(self, source: Source, tick_hz: float = 20.0,
                 automonitor_maxlength: int = 65536) -> None:
        self.source = source
        self.tick = 1.0 / max(0.1, float(tick_hz))
        self.stats = EngineStats()
        self._inbox = Inbox(self.stats)
        self._wake = threading.Event()
        source.bind(self._inbox, self._wake.set)
        self._answers = 0                   # events processed (progress of synchronous waits)
        self._count_connected = True        # recount connected PVs at the next batch
        self._commands: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._ready = threading.Event()
        self._ready.set()
        self._warnings: list[str] = []
        #: The last protocol warnings (newest last, at most 200), for CLIs and status bars.
        self.warnings: list[str] = []
        self._puts = Puts()
        self._lean = LeanMode(cheap_updates=source.cheap_updates)
        self._batches = Coalescer(source, self._inbox, self._lean, self.stats)
        self._batches.tick = self.tick
        self._mark = self._batches.mark
        self._pacer = Pacer(source, self._inbox, self.stats, self._mark)
        self._channels = Channels(source, self._inbox, self._lean, self._pacer, self._mark,
                                  automonitor_maxlength)
        self._on_batch: Optional[Callable[[Batch], None]] = None
        self._worker: Optional[threading.Thread] = None
        self._running = False
        self._seq = 0
        self._rid = itertools.count(1)
        self._events = {GetDone: self._on_get_done,
                        FrameFetched: self._on_frame_fetched, Disconnected: self._on_disconnected,
                        AccessRights: self._on_access, ServerFound: self._on_server_found}
        self._command_handlers: dict[type, Callable[[Any], bool]] = {
            AddCmd: self._do_add, RemoveCmd: self._do_remove, PutCmd: self._do_put,
            LeanCmd: self._do_lean, FrameCmd: self._do_frame, WatchCmd: self._do_watch}

    # ------------------------------------------------------------------ settings

    @property
    def automonitor_maxlength(self) -> int:
        """Arrays longer than this are not monitored unless asked."""
        return self._channels.automonitor_maxlength

    @automonitor_maxlength.setter
    def automonitor_maxlength(self, n: int) -> None:
        self._channels.automonitor_maxlength = n

    @property
    def max_batch_states(self) -> int:
        """At most this many PV states per batch: a 20,000-PV connect reaches the UI
        in a few slices instead of one long model update (the rest go next tick)."""
        return self._batches.max_states

    @max_batch_states.setter
    def max_batch_states(self, n: int) -> None:
        self._batches.max_states = n

    @property
    def paced_depth(self) -> int:
        """Paced arrays in the pipeline per PV (fetches in flight + fetched, not handed over)."""
        return self._pacer.depth

    @paced_depth.setter
    def paced_depth(self, n: int) -> None:
        self._pacer.depth = n

    @property
    def lean_decode_budget(self) -> float:
        """Lean mode: decodes per second for PVs no view watches (cheap updates only)."""
        return self._lean.budget.per_s

    @lean_decode_budget.setter
    def lean_decode_budget(self, per_s: float) -> None:
        self._lean.budget.per_s = float(per_s)

    # ------------------------------------------------------------------ public API

    def start(self, on_batch: Callable[[Batch], None]) -> None:
        """Start the worker; ``on_batch`` is called in the worker thread."""
        if self._worker is not None:
            raise RuntimeError("engine already started")
        self._on_batch = on_batch
        self._running = True
        self._worker = self.source.worker_thread(self._run, "pvprobe-worker")
        self._worker.start()

    def batch_done(self) -> None:
        """The consumer applied the last batch: the next one may be delivered."""
        self._ready.set()
        self._wake.set()

    def _command(self, cmd: Any) -> None:
        self._commands.put(cmd)
        self._wake.set()

    def add(self, names: Iterable[str], monitor_arrays: bool = False, keep_all: bool = False,
            once: bool = False, paced: bool = False, light: bool = False) -> None:
        """Connect and monitor these PVs (non-blocking). ``monitor_arrays`` asks for
        monitors on arrays above the automonitor length; ``keep_all`` reports every
        update in ``PVState.samples`` instead of only the newest; ``once`` reads the
        value at each (re)connection without subscribing (for fields like ``.DESC``),
        ``light`` without its metadata; ``paced`` monitors a big array by announcement
        and fetches the newest one only when the consumer has taken the previous one
        (image views: no frame is copied that would never be shown; a user asking
        full monitors or every sample of the same PV wins). Adding a PV that is
        already open shares its channel: it serves what all its users need."""
        self._command(AddCmd(list(names), monitor_arrays, keep_all, once, paced, light))

    def remove(self, names: Iterable[str], monitor_arrays: bool = False, keep_all: bool = False,
               once: bool = False, paced: bool = False, light: bool = False) -> None:
        """Release one use of each PV: the one added with these options (if none was,
        the last one added), so that a PV others still use goes back to what they
        need (samples off when the last ``keep_all`` user goes, pacing back when the
        last full-monitor user goes, read-once when only read-once users are left, a
        big array unmonitored when nobody asks any more)."""
        self._command(RemoveCmd(list(names), monitor_arrays, keep_all, once, paced, light))

    def put(self, name: str, value: Any, timeout: float = 10.0, done: Done = None,
            wait: bool = True) -> int:
        """Put with completion callback (non-blocking). The :class:`PutResult`
        arrives in a later batch's ``put_results`` (and via ``done``, in the worker)."""
        rid = next(self._rid)
        self._command(PutCmd(rid, name, value, timeout, done, wait))
        return rid

    def set_lean(self, enabled: bool) -> None:
        """Lean mode, for very large tables. With cheap updates (CA's C monitor
        callback, the usual build), PVs no view watches (see :meth:`watch`) are
        decoded and handed over longest-waiting first, within a budget per second
        (LEAN_DECODE_BUDGET_PER_S: 25,000 busy PVs each every 2.5 s), instead of
        every tick. Without (Python callbacks take ~75,000 updates/s at most), they
        get alarm-only subscriptions and are re-read every LEAN_REFRESH_S. Watched
        PVs stay live either way."""
        self._command(LeanCmd(bool(enabled)))

    def request_frame(self, name: str) -> None:
        """The consumer is ready for the next array of paced PV ``name``.

        After the first call the PV is paced by these calls (pull): one get is sent
        per request, when a new array has been announced, so an array is fetched
        only when the consumer (the image view, once it painted the previous frame)
        can use it at once: no frame waits behind the display. Requests do not add
        up: a PV has at most one fetch outstanding."""
        self._command(FrameCmd(name))

    def watch(self, owner: str, names: Iterable[str]) -> None:
        """The PVs ``owner`` (a view) shows right now: they stay live in lean mode.
        Replaces that owner's previous set; an empty set stops watching."""
        self._command(WatchCmd(owner, set(names)))

    # ------------------------------------------------------------------ commands

    def _run_commands(self) -> None:
        flush = False
        while True:
            try:
                cmd = self._commands.get_nowait()
            except queue.Empty:
                break
            flush |= self._command_handlers[type(cmd)](cmd)
        if flush:
            self.source.flush()

    def _do_add(self, cmd: AddCmd) -> bool:
        self._count_connected = True
        use = Use.of(cmd.monitor_arrays, cmd.keep_all, cmd.once, cmd.paced, cmd.light)
        for name in cmd.names:
            self._mark(self._channels.add(name, use).sid)
        return True

    def _do_remove(self, cmd: RemoveCmd) -> bool:
        self._count_connected = True
        use = Use.of(cmd.monitor_arrays, cmd.keep_all, cmd.once, cmd.paced, cmd.light)
        for name in cmd.names:
            gone = self._channels.drop(name, use)
            if gone is not None:
                self._batches.forget(gone.sid)
        return True

    def _do_lean(self, cmd: LeanCmd) -> bool:
        if cmd.enabled == self._lean.enabled:
            return False
        self._lean.enabled = cmd.enabled
        self.source.set_lean(cmd.enabled)
        self._channels.follow(list(self._channels.by_name))
        return True

    def _do_frame(self, cmd: FrameCmd) -> bool:
        ch = self._channels.by_name.get(cmd.name)
        if ch is not None:
            self._pacer.request(ch)
        return False

    def _do_watch(self, cmd: WatchCmd) -> bool:
        changed = self._lean.watch(cmd.owner, cmd.names)
        watched = self._lean.watched
        for name in changed:
            ch = self._channels.by_name.get(name)
            if ch is not None and ch.link is not None:
                self.source.set_watched(ch, name in watched)
        if self._lean.enabled:
            self._channels.follow(changed)
            return True
        return False

    def _do_put(self, cmd: PutCmd) -> bool:
        self._start_put(cmd.rid, cmd.name, cmd.value, cmd.timeout, cmd.done, wait=cmd.wait)
        return True

    # ------------------------------------------------------------------ events

    def _take_warnings(self) -> None:
        texts = self.source.take_warnings()
        if texts:
            self._warnings += texts
            self.warnings += texts
            if len(self.warnings) > 200:
                del self.warnings[:-200]

    def _process_events(self) -> list[Channel]:
        """Apply the events the callbacks posted; returns channels that just connected."""
        self.source.poll()
        self._take_warnings()
        events = self._inbox.take_events()
        self._answers += len(events)
        connected: list[Channel] = []
        by_sid = self._channels.by_sid
        for ev in events:
            if type(ev) is PutDone:
                self._puts.finish(ev.rid, ev.ok, ev.error)
                continue
            ch = by_sid.get(ev.sid)
            if ch is None:
                continue
            if type(ev) is Connected:
                self._count_connected = True
                self._channels.connection_up(ch)
                connected.append(ch)
            else:
                self._events[type(ev)](ch, ev)
        if connected:
            self._channels.connected(connected)
        return connected

    def _on_disconnected(self, ch: Channel, ev: Disconnected) -> None:
        self._count_connected = True
        ch.state.connected = False
        self._pacer.disconnected(ch)
        if ch.sub is not None:     # the row waits for its value once back: not budgeted
            self.source.renew_first_value(ch)
        self._mark(ch.sid)

    def _on_access(self, ch: Channel, ev: AccessRights) -> None:
        ch.state.read_access, ch.state.write_access = ev.read, ev.write
        self._mark(ch.sid)

    def _on_server_found(self, ch: Channel, ev: ServerFound) -> None:
        if ch.state.connected:      # (a channel lost meanwhile is searched again when back)
            ch.state.host = ev.host
            self._mark(ch.sid)

    def _on_frame_fetched(self, ch: Channel, ev: FrameFetched) -> None:
        self._pacer.fetched(ch, ev)

    def _on_get_done(self, ch: Channel, ev: GetDone) -> None:
        state = ch.state
        if ev.error:
            state.error = f"get failed: {ev.error}"
            ch.meta_ok = True
        elif ev.meta and (not ev.value or not ch.meta_ok):
            ch.meta_ok = True
            self.source.apply_meta(state, ev.item)
        if ev.value and not ev.error:
            ch.get_raw = ev.item
            if ch.sub is not None and ch.sub.alarm_only and ch.meta_ok:
                # a lean refresh: news only if the IOC processed the record since
                if self.source.timestamp_of(ev.item) == state.timestamp:
                    return
                self.source.decode(state, ev.item)
            elif ch.once:
                self.source.decode(state, ev.item)
        self._mark(ch.sid)

    # ------------------------------------------------------------------ the loop

    def _run(self) -> None:
        next_tick = time.monotonic()
        while self._running:
            self._wake.wait(max(0.0, next_tick - time.monotonic()))
            self._wake.clear()
            try:
                self._run_commands()
                self._process_events()
                self._puts.expire()
                self._channels.expire_searches()
                if self._lean.refreshing:
                    self.stats.lean_refreshes += self._channels.refresh_lean()
                now = time.monotonic()
                if now >= next_tick or self._inbox.frame_waiting and self._ready.is_set():
                    # a fetched frame goes out at once: its fetch was paced by the consumer
                    next_tick = now + self.tick
                    self.stats.ticks += 1
                    if self._ready.is_set():
                        self._deliver()
                self._pacer.fetch_frames(self._channels.by_sid)
            except Exception:  # never let the worker die silently
                log.exception("engine worker error")

    # ------------------------------------------------------------------ batches

    def _deliver(self) -> None:
        states = self._batches.collect(self._channels)
        results = self._puts.take_results()
        warnings, self._warnings = self._warnings, []
        channels = self._channels.by_name
        if not states and not results and not warnings and len(channels) == self.stats.pvs:
            return      # nothing changed (a removal alone still reports the new PV count)
        self._seq += 1
        stats = self.stats
        stats.pvs = len(channels)
        if self._count_connected:    # O(PVs): only after connection changes, adds, removals
            self._count_connected = False
            stats.connected = sum(1 for c in channels.values() if c.state.connected)
        batch = Batch(seq=self._seq, states=states, put_results=results,
                      updates_received=stats.updates_received, pvs=stats.pvs,
                      connected=stats.connected, warnings=warnings)
        self._ready.clear()
        stats.batches_sent += 1
        try:
            if self._on_batch is not None:
                self._on_batch(batch)
        except Exception:
            log.exception("batch consumer failed")
            self._ready.set()

    # ------------------------------------------------------------------ puts

    def _start_put(self, rid: int, name: str, value: Any, timeout: float, done: Done,
                   wait: bool = True) -> None:
        """Check, convert and send a put (see :meth:`.puts.Puts.start`)."""
        self._puts.start(self.source, self._channels.by_name.get(name), rid, name, value,
                         timeout, done, wait)

    # ------------------------------------------------------------------ shutdown

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the worker; callbacks return at once from now on. The channels are
        left to the source's context shutdown (for CA, :func:`pvprobe.ca.context.shutdown`
        destroys the context in one call at exit: clearing tens of thousands of busy
        channels one by one takes seconds)."""
        self._running = False
        self._wake.set()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout)
        self.source.close()

    def close(self, timeout: float = 5.0) -> None:
        """Stop, then clear every subscription and channel: for an engine that goes
        away while the process (and its protocol context) lives on."""
        self.stop(timeout)
        if not self.source.alive():
            return
        for ch in list(self._channels.by_name.values()):
            if ch.link is not None:
                self.source.clear(ch)
                ch.link = None
        self.source.flush()
        self._channels.by_name.clear()
        self._channels.by_sid.clear()

    # ------------------------------------------------------------------ introspection

    @property
    def fast_callbacks(self) -> bool:
        """Updates go through the source's cheap path (CA: the C monitor callback)."""
        return self.source.cheap_updates

    def states(self) -> dict[str, PVState]:
        """Current states (copies). Safe only from the worker or without a worker."""
        return {n: c.state.copy() for n, c in self._channels.by_name.items()}

    def debug_info(self, name: str) -> Optional[ChannelDebug]:
        """A read-only snapshot of what the engine holds for ``name`` (None: no channel).
        For tests and diagnostics. Safe from any thread: it copies plain fields."""
        ch = self._channels.by_name.get(name)
        return None if ch is None else ChannelDebug.of(ch, self.source.on_cheap_path(ch))

    def debug_channels(self) -> dict[str, ChannelDebug]:
        """:meth:`debug_info` of every channel the engine holds, by name."""
        return {name: ChannelDebug.of(ch, self.source.on_cheap_path(ch))
                for name, ch in dict(self._channels.by_name).items()}

    def debug_summary(self) -> EngineDebug:
        """Engine-wide state for tests: channels held, subscriptions, lean mode, worker."""
        channels = self.debug_channels().values()
        worker = self._worker
        return EngineDebug(channels=len(channels),
                           subscribed=sum(c.subscribed for c in channels),
                           polling=sum(c.polling for c in channels),
                           lean=self._lean.enabled,
                           worker_alive=worker is not None and worker.is_alive())
