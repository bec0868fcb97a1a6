"""pvAccess flow control for paced NTNDArray channels (image views), where the
server does it right.

With ``record[pipeline=true,queueSize=2]`` the server sends at most two frames
before the client acknowledges, and squashes what the camera makes meanwhile; the
PVA source then pops one frame per fetch (the view took the previous one), so a
frame comes off the wire only when the view can show it and every frame received
is painted — as the CA image path fetches only what the view asks. That saves the
camera's sending and pvxs's receiving (deserialising and copying) of frames no one
sees: on two cores, the CPU the view then paints with.

Only pvxs servers get it (p4p servers and gateways, QSRV2): pvapy's pvAccessCPP
server sent each frame twice and held frames for seconds with it. Which server
answers is found by a name search (:mod:`.finder`), what it is by its built-in
``server`` PV's ``op=info`` (:func:`.server_list.server_info`: version "PVXS ...").
Each check runs in a daemon thread of its own (image channels only: a few).
"""

from __future__ import annotations

import logging
import os
import threading
from collections import deque
from collections.abc import Callable

from .server_list import ServerListError, server_info

log = logging.getLogger(__name__)

#: The request options of a paced channel's monitor on a server that does flow
#: control right (see the module).
FLOW_OPTIONS = "record[pipeline=true,queueSize=2]"
#: How long the ``server`` PV may take to answer.
INFO_TIMEOUT_S = 2.0


def does_flow_control(info: dict) -> bool:
    """Whether a server's ``op=info`` answer says pvxs (its flow control is right)."""
    return str(info.get("version", "")).upper().startswith("PVXS")


class FlowChecks:
    """Asks servers whether they are pvxs; answers in :attr:`answers` as (sid, host, yes)."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self.answers: deque[tuple[int, str, bool]] = deque()
        self._wake = wake
        self._known: dict[str, bool] = {}       # host -> yes (servers asked before)
        self._closed = False
        #: ``PVPROBE_PVA_FLOW=0``: never (every paced channel pops what came, as on
        #: other servers)
        self.enabled = os.environ.get("PVPROBE_PVA_FLOW", "1").strip() not in ("0", "no", "off")

    def ask(self, sid: int, host: str) -> None:
        """Whether ``host`` (``host:port``) does flow control; the answer comes later."""
        if host in self._known:
            self.answers.append((sid, host, self._known[host]))
            self._wake()
            return
        threading.Thread(target=self._check, args=(sid, host), name="pvprobe-pva-flow",
                         daemon=True).start()

    def close(self) -> None:
        self._closed = True

    def _check(self, sid: int, host: str) -> None:
        try:
            yes = does_flow_control(server_info(host, INFO_TIMEOUT_S))
        except ServerListError as exc:
            log.debug("%s: no server info (%s): no flow control", host, exc)
            yes = False
        except Exception as exc:          # a socket error: say no, never crash the thread
            log.debug("%s: server info failed (%s)", host, exc)
            yes = False
        self._known[host] = yes
        if not self._closed:
            self.answers.append((sid, host, yes))
            self._wake()
