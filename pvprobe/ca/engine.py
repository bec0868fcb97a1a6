"""The engine over Channel Access: :class:`pvprobe.engine.core.Engine` with the CA
source (:mod:`pvprobe.ca.source`), in the one CA context of the process.

Create it in the main thread (the context is created there on first use); then
either :meth:`~Engine.start` the worker (GUI, monitor: an ``epics.ca.CAThread``)
or use the synchronous calls (CLI). The names below are re-exported for the code
that imported them from here.
"""

from __future__ import annotations

from ..engine.batches import MAX_BATCH_STATES
from ..engine.channels import DEFAULT_CONNECTION_TIMEOUT
from ..engine.core import Engine as _Engine
from ..engine.core import EngineStats
from ..engine.debug import ChannelDebug, EngineDebug
from ..engine.lean import LEAN_DECODE_BUDGET_PER_S, LEAN_REFRESH_S, LEAN_REFRESH_STEP_S
from ..engine.mux import MuxSource
from ..engine.pacing import PACED_DEPTH, POLL_AFTER_EARLY
from ..engine.puts import PUT_WINDOW
from ..engine.waits import (
    ANSWER_BATCH_S,
    WAIT_CAP_FACTOR,
    WAIT_CAP_PER_PV_S,
    get_timeout,
    wait_cap,
)
from .context import ensure_context, register_engine
from .source import AUTOMONITOR_MAXLENGTH, CASource, describe_ca_exception

__all__ = ["Engine", "CAError", "EngineStats", "ChannelDebug", "EngineDebug",
           "AUTOMONITOR_MAXLENGTH", "DEFAULT_CONNECTION_TIMEOUT", "MAX_BATCH_STATES",
           "LEAN_DECODE_BUDGET_PER_S", "LEAN_REFRESH_S", "LEAN_REFRESH_STEP_S", "PACED_DEPTH",
           "POLL_AFTER_EARLY", "PUT_WINDOW", "ANSWER_BATCH_S", "WAIT_CAP_FACTOR",
           "WAIT_CAP_PER_PV_S", "get_timeout", "wait_cap", "describe_ca_exception"]


class CAError(Exception):
    """A CA operation failed; the message names the PV and the reason."""


def _pva_source():
    """The pvAccess source, made on the first ``pva://`` name (p4p is imported only
    then, and only after the CA context exists: see :mod:`pvprobe.pva.source`)."""
    from ..pva.source import PVASource
    return PVASource()


class Engine(_Engine):
    """The engine over Channel Access, with pvAccess for ``pva://`` names. Create it
    in the main thread, then either :meth:`start` the worker (GUI, monitor) or use
    the synchronous calls (CLI)."""

    def __init__(self, tick_hz: float = 20.0, automonitor_maxlength: int = AUTOMONITOR_MAXLENGTH):
        ensure_context()
        source = MuxSource(CASource(), {"pva": _pva_source})
        super().__init__(source, tick_hz=tick_hz, automonitor_maxlength=automonitor_maxlength)
        register_engine(self)
        self._channel_lists = None

    def channel_lists(self):
        """The pvAccess servers' own channel lists (:class:`pvprobe.pva.channel_lists.
        ServerLists`: discovery and each pvxs server's ``server`` PV, plain sockets, no
        p4p), made on first use; the window's name completion refreshes them."""
        if self._channel_lists is None:
            from ..pva.channel_lists import ServerLists
            self._channel_lists = ServerLists()
        return self._channel_lists
