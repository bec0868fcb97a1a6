"""The one sanctioned hop from the engine's worker thread into the GUI thread."""

from __future__ import annotations

import gc
import logging
import sys
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Optional

from PyQt5.QtCore import QObject, Qt, QTimer, pyqtSignal, pyqtSlot

from pvprobe.core import heap
from pvprobe.core.batch import Batch, PutResult
from pvprobe.core.putlog import PutLog, make_entry
from pvprobe.core.tuning import apply_gil_switch_interval

from .subscription import OnStates, Router, Subscription

log = logging.getLogger(__name__)

Consumer = Callable[[Batch], None]


class GuiThreadGarbage:
    """Cyclic garbage collected in the GUI thread only, while an engine feeds Qt.

    Python's collector runs in whichever thread allocates when a threshold trips:
    mostly the engine's worker. Garbage it finds there may hold Qt objects and PyQt
    slot proxies (signals connected to Python callables), destroyed then off the
    GUI thread: PyQt's proxy table was seen corrupt afterwards (the GUI thread
    spinning in ``PyQtSlotProxy::~PyQtSlotProxy`` at a test's teardown). As
    pyqtgraph's ``GarbageCollector`` does: automatic collection off, and a GUI
    timer collecting what the thresholds say is due, every :data:`INTERVAL_MS`.
    Reference-counted: automatic collection comes back when the last user releases.
    """

    INTERVAL_MS = 250
    _users = 0
    _was_enabled = True
    _timer: Optional[QTimer] = None

    @classmethod
    def acquire(cls) -> None:
        cls._users += 1
        if cls._users > 1:
            return
        cls._was_enabled = gc.isenabled()
        gc.disable()
        cls._timer = QTimer()
        cls._timer.setInterval(cls.INTERVAL_MS)
        cls._timer.timeout.connect(cls.collect_due)
        cls._timer.start()

    @classmethod
    def release(cls) -> None:
        if cls._users <= 0:
            return
        cls._users -= 1
        if cls._users == 0:
            if cls._timer is not None:
                cls._timer.stop()
                cls._timer = None
            cls.thaw()
            cls.collect_due()
            if cls._was_enabled:      # as it was before the first user came
                gc.enable()

    #: the interpreter's allocated memory blocks after the last full collection (the
    #: heap's size: never ``len(gc.get_objects(2))``, which hands out references to
    #: objects other threads are still building: a tuple made from a generator in the
    #: worker then failed with "SystemError: Objects/tupleobject.c: bad argument to
    #: internal function", and an image view lost its DataType enum strings)
    _old_base = 0

    @classmethod
    def collect_due(cls) -> None:
        """The young generation at every tick (cheap; what a worker allocated and freed
        meanwhile would have tripped it there), the middle one by its threshold, the
        oldest as CPython does itself: only once it grew by a quarter since its last
        collection (a full collection of a 100,000-PV session takes long enough to be
        seen: never on a fixed rhythm). GUI thread."""
        counts, limits = gc.get_count(), gc.get_threshold()
        gen = 0 if counts[0] else -1
        if limits[1] and counts[1] > limits[1]:
            gen = 1
            if sys.getallocatedblocks() > cls._old_base * 5 // 4 + 30000:
                gen = 2
        if gen >= 0:
            gc.collect(gen)
        if gen == 2:
            cls._old_base = sys.getallocatedblocks()

    #: A batch of more PVs than this, all connected, freezes the heap (see :meth:`settle`).
    FREEZE_ABOVE_PVS = 2000
    _frozen = False

    @classmethod
    def settle(cls) -> None:
        """A big table has just connected: what exists now lives as long as it does.
        ``gc.freeze()`` takes it out of every generation, so later full collections
        walk only what came since (a full collection of a 110,000-PV heap held the GUI
        thread 300-450 ms, once every quarter growth). The young generations are
        collected first (cheap); older cyclic garbage waits for :meth:`thaw`."""
        gc.collect(1)
        gc.freeze()
        cls._frozen = True
        cls._old_base = sys.getallocatedblocks()
        heap.trim()         # the connect burst's freed pages go back to the system

    @classmethod
    def thaw(cls) -> None:
        """Many rows went (or the last engine stopped): the frozen objects are collectable
        again, counted as before the freeze (a full collection once the heap grew by
        a quarter since)."""
        if cls._frozen:
            gc.unfreeze()
            cls._frozen = False

    @classmethod
    def frozen(cls) -> bool:
        return cls._frozen


class EngineBridge(QObject):
    """Turns the engine's per-tick callback into a queued Qt signal and applies batches.

    Construct it in the GUI thread. The engine calls :meth:`_on_batch_from_worker`
    in its worker thread; that only emits :attr:`batchReady`, which is queued to
    this object's (GUI) thread. There every registered consumer gets the batch, in
    registration order, and then ``engine.batch_done()`` is called exactly once,
    even if a consumer raised (the error is logged).
    """

    #: A Batch, emitted from the worker thread, delivered queued in the GUI thread.
    batchReady = pyqtSignal(object)
    #: A Batch, after all consumers applied it (GUI thread).
    batchApplied = pyqtSignal(object)
    #: One PutResult per finished put (GUI thread).
    putFinished = pyqtSignal(object)
    #: Bridges started and not stopped (see :meth:`running_bridges`).
    _running: weakref.WeakSet = weakref.WeakSet()

    @classmethod
    def running_bridges(cls) -> list[EngineBridge]:
        """Bridges whose engine still runs: a test harness stops them before it deletes
        the views (views deleted while a worker still feeds them were seen to hang PyQt)."""
        return list(cls._running)

    def __init__(self, engine: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._consumers: list[Consumer] = []
        #: Routes each batch's states to the subscribers of their names (see subscribe).
        self.router = Router()
        self._started = False
        self._stopped = False
        self.batches_applied = 0
        self.updates_received = 0      # the engine's running count, from the last batch
        self.engine_pvs = 0            # from the last batch
        self.engine_connected = 0      # from the last batch
        self.consumer_errors = 0
        self._read_only = False
        self._lean = False
        self._held = 0                 # PVs asked for (adds minus removes, with multiplicity)
        self._settled = False          # the last batch: a big table, all connected
        #: Lean mode switches itself on above this many PVs (None: only by set_lean).
        self.lean_threshold: Optional[int] = None
        self._refused_rid = 0          # refused puts get negative request ids
        #: Every put's result goes here (path resolved at each write).
        self.put_log = PutLog()
        self._put_sources: dict[int, tuple[str, tuple]] = {}   # request id -> (source, enum states)
        # Always queued: even an engine that calls back from the GUI thread never
        # re-enters a consumer or batch_done() from inside its own call.
        self.batchReady.connect(self._apply_batch, Qt.QueuedConnection)

    # -- subscribers -------------------------------------------------------------
    def subscribe(self, names: Iterable[str], on_states: Optional[OnStates], *,
                  keep_all: bool = False, whole_arrays: bool = False, paced: bool = False,
                  once: bool = False, watch: bool = False) -> Subscription:
        """Open ``names`` for one view and route their states to ``on_states``.

        What the view needs: ``keep_all`` every sample (``PVState.samples``),
        ``whole_arrays`` monitors on arrays above AUTOMONITOR_MAXLENGTH, ``paced``
        big arrays fetched one frame per :meth:`request_frame`, ``once`` one read per
        (re)connection and no monitor (fields like .DESC); ``watch`` keeps the names
        live in lean mode. ``on_states`` gets, in the GUI thread, the states of its
        names in each batch (None: the caller reads whole batches, as the table does).
        The returned :class:`Subscription`'s ``close()`` releases exactly what it took."""
        options = {k: True for k, on in (("monitor_arrays", whole_arrays), ("keep_all", keep_all),
                                         ("paced", paced), ("once", once)) if on}
        sub = Subscription(self, on_states, options, watch=watch)
        sub.add(names)
        return sub

    # -- consumers ---------------------------------------------------------------
    def add_consumer(self, consumer: Consumer) -> None:
        """Register a callable that gets every whole batch in the GUI thread (the table,
        which shows every PV it holds; views use :meth:`subscribe`)."""
        self._consumers.append(consumer)

    def remove_consumer(self, consumer: Consumer) -> None:
        try:
            self._consumers.remove(consumer)
        except ValueError:
            pass

    # -- lifecycle ---------------------------------------------------------------
    def start(self) -> None:
        """Start the engine; batches flow from now on."""
        if self._started:
            return
        self._started = True
        # The GUI thread must get the GIL back promptly while the worker decodes a big
        # batch (why and what was measured: core.tuning). The engine's context already
        # set it; a bridge over another engine must not depend on that.
        apply_gil_switch_interval()
        GuiThreadGarbage.acquire()
        EngineBridge._running.add(self)
        self.engine.start(self._on_batch_from_worker)

    def stop(self) -> None:
        """Stop the engine; batches still queued are dropped."""
        if self._stopped:
            return
        self._stopped = True
        EngineBridge._running.discard(self)
        if self._started:
            self.engine.stop()
            GuiThreadGarbage.release()

    @property
    def running(self) -> bool:
        return self._started and not self._stopped

    # -- the hop -------------------------------------------------------------------
    def _on_batch_from_worker(self, batch: Batch) -> None:
        """Called by the engine in its worker thread: emit and nothing else."""
        self.batchReady.emit(batch)

    @pyqtSlot(object)
    def _apply_batch(self, batch: Batch) -> None:
        if self._stopped:
            return
        try:
            self.updates_received = batch.updates_received
            self.engine_pvs = batch.pvs
            self.engine_connected = batch.connected
            self._settle_heap(batch.pvs, batch.connected)
            if self._read_only:
                for st in batch.states:
                    st.write_access = False
            for consumer in list(self._consumers):
                try:
                    consumer(batch)
                except Exception:  # a broken view must not stall the engine
                    self.consumer_errors += 1
                    log.exception("batch consumer %r failed on batch %s", consumer, batch.seq)
            if self.router:
                errors = self.router.errors
                self.router.dispatch(batch.states)
                self.consumer_errors += self.router.errors - errors
            self.batches_applied += 1
            if batch.put_results:
                self._log_puts(batch.put_results)
            try:
                for result in batch.put_results:
                    self.putFinished.emit(result)
                self.batchApplied.emit(batch)
            except Exception:
                log.exception("batch signal handler failed on batch %s", batch.seq)
        finally:
            self.engine.batch_done()

    def _settle_heap(self, pvs: int, connected: int) -> None:
        """Freeze the heap (GuiThreadGarbage.settle) when a big table becomes all connected."""
        settled = pvs > GuiThreadGarbage.FREEZE_ABOVE_PVS and connected >= pvs
        if settled and not self._settled:
            GuiThreadGarbage.settle()
        self._settled = settled

    # -- commands (non-blocking, forwarded) --------------------------------------
    def add(self, names: Iterable[str], **options: Any) -> None:
        """Open PVs; ``options`` go to ``Engine.add``. Views use :meth:`subscribe`, whose
        handle pairs every add with its remove."""
        names = list(names)
        if names:
            self._held += len(names)
            self._auto_lean()          # before the add: new PVs subscribe lean at once
            self.engine.add(names, **options)

    def remove(self, names: Iterable[str], **options: Any) -> None:
        """Release PVs; ``options``: those they were added with (see ``Engine.remove``)."""
        names = list(names)
        if names:
            self.engine.remove(names, **options)
            held = self._held
            self._held = max(0, held - len(names))
            if 4 * len(names) >= held or self._held <= GuiThreadGarbage.FREEZE_ABOVE_PVS:
                GuiThreadGarbage.thaw()     # rows removed en masse: their objects may go
            self._auto_lean()

    @property
    def lean(self) -> bool:
        """Lean mode is on (see :meth:`Engine.set_lean`)."""
        return self._lean

    def _auto_lean(self) -> None:
        """With :attr:`lean_threshold` set: lean above it, full monitors again below half."""
        thr = self.lean_threshold
        if thr is None:
            return
        want = self._held > thr or (self._lean and self._held > thr // 2)
        if want != self._lean:
            self.set_lean(want)

    def request_frame(self, name: str) -> None:
        """The view is ready for the next array of paced PV ``name`` (Engine.request_frame)."""
        self.engine.request_frame(name)

    def watch(self, owner: str, names: Iterable[str]) -> None:
        """Tell the engine which PVs ``owner`` shows now (full updates in lean mode)."""
        self.engine.watch(owner, names)

    def set_lean(self, enabled: bool) -> None:
        self._lean = bool(enabled)
        self.engine.set_lean(self._lean)

    def put(self, name: str, value: Any, timeout: float = 10.0, source: str = "app",
            state: Any = None) -> int:
        """Ask for a put; the :class:`PutResult` arrives later via :attr:`putFinished`.

        Every result is appended to the put log (``core.putlog``) with ``source``
        (``"table"``, ``"probe"``, ``"restore"``...); ``state``, the PV's
        :class:`PVState` if the caller has it, lets the log spell enum states."""
        if self.read_only:
            self._refused_rid -= 1
            result = PutResult(name=name, value=value, ok=False, request_id=self._refused_rid,
                               error=READ_ONLY_REASON)
            QTimer.singleShot(0, lambda: self.putFinished.emit(result))
            return self._refused_rid
        rid = self.engine.put(name, value, timeout)
        self._put_sources[rid] = (source, tuple(getattr(state, "enum_strs", ()) or ()))
        return rid

    @property
    def read_only(self) -> bool:
        """Read-only mode: every put is refused here, and every PV is shown without
        write access, so no view offers an editor (control-room screens that only watch)."""
        return self._read_only

    def set_read_only(self, on: bool) -> None:
        self._read_only = bool(on)

    def _log_puts(self, results: list) -> None:
        """Append one put-log line per result (never raises: a full disk must not stall puts)."""
        try:
            entries = []
            for r in results:
                source, enum_strs = self._put_sources.pop(r.request_id, ("app", ()))
                entries.append(make_entry(r.name, r.old_value, r.value, r.ok, r.error, source,
                                          r.seconds or None, enum_strs))
            self.put_log.append_entries(entries)
        except Exception:
            log.exception("could not write the put log %s", self.put_log.path)


#: Why a put was refused in read-only mode.
READ_ONLY_REASON = "refused: pvprobe runs in read-only mode (no puts from this app)"

__all__ = ["EngineBridge", "PutResult", "READ_ONLY_REASON"]
