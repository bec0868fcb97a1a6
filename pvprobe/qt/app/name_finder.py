"""Finding PV names in the window: completion in the table's add box, the probe's name
box and the image view's source box; the name history (every name added to a table,
probed or opened as an image); globs in the add box; the gateways' channel lists and
their status view; the channel lists pvAccess servers publish themselves (pvxs's
``server`` PV), gathered off the GUI thread by the engine's ``channel_lists()`` at the
first completion, every :data:`LISTS_REFRESH_MS` after and from Open > Refresh server
channel lists. The logic is Qt-free (:mod:`pvprobe.core.name_sources`); this only
wires it to the window's tabs, views, menus and status bar."""

from __future__ import annotations

import logging
import weakref
from typing import Any, Optional

from PyQt5.QtCore import QObject, QTimer, pyqtSignal
from PyQt5.QtWidgets import QInputDialog, QMenu, QWidget

from pvprobe.core.name_history import NameHistory
from pvprobe.core.name_sources import (
    GATEWAY_PROBES,
    NameSources,
    cache_key,
    gateway_prefix_error,
    gateway_prefixes,
    gateway_status_names,
)
from pvprobe.core.pvnames import split_names
from pvprobe.core.pvstate import PVState

from ..table.table_widget import describe_rejected
from ..widgets.name_completer import NameCompleter, attach_completer

log = logging.getLogger(__name__)

#: The settings key holding gateway status prefixes (one per line).
GATEWAY_SETTING = "names/gateway_status"
#: The settings key: false stops the automatic refreshes of the servers' channel lists.
LISTS_SETTING = "names/server_lists"
#: Milliseconds the tab names are gathered after rows came or went.
TABS_DELAY_MS = 300
#: Milliseconds between refreshes of the servers' channel lists (once completion was used).
LISTS_REFRESH_MS = 5 * 60 * 1000


class NameFinder(QObject):
    """One per main window (``window.name_finder``)."""

    #: A refresh of the servers' channel lists ended (from its thread: queued).
    serverListsReady = pyqtSignal(object, bool)

    def __init__(self, window: Any, history: Optional[NameHistory] = None) -> None:
        super().__init__(window)
        self.window = window
        self.sources = NameSources(history if history is not None else NameHistory().load())
        self._seen: dict[int, set[str]] = {}       # table id -> names already remembered
        self._tabs_timer = self._timer(TABS_DELAY_MS, self._refresh_tabs)
        self._save_timer = self._timer(1000, self._save_if_due)
        self._problems = list(self.sources.problems)      # a damaged history: said once, then carried on
        # only bound methods of Qt objects are connected to other objects' signals (PyQt
        # drops those with their object; a lambda would call into a finder already gone)
        window.tabs.tableCreated.connect(self._attach_table)
        window.tabs.currentChanged.connect(self._tab_changed)      # a tab closed
        for t in window.tabs.tables():
            self._attach_table(t)
        window.views.opened.append(self._attach_view)
        window.aboutToClose.connect(self.close)
        settings = getattr(window, "settings", None)
        lines = settings.get_lines(GATEWAY_SETTING, 20) if settings is not None else []
        self.gateways, problems = gateway_prefixes(lines)
        self._problems += problems
        for p in self._problems:
            log.warning("%s", p)
        if self._problems:          # once the window is built (its own messages come first)
            self._timer(0, self._say_problems).start()
        self._gw_posts: dict[str, int] = {}
        self._gw_sub = window.bridge.subscribe([cache_key(p) for p in self.gateways], self._on_gateway_states)
        make_lists = getattr(window.bridge.engine, "channel_lists", None)
        self._lists = make_lists() if callable(make_lists) else None
        #: Refresh the servers' lists by itself (first completion, then every 5 min);
        #: ``server_lists=false`` under [names]: only from the menu (no discovery pings).
        self.auto_lists = settings.get_bool(LISTS_SETTING, True) if settings is not None else True
        self._lists_started = not self.auto_lists
        self._lists_timer = QTimer(self)
        self._lists_timer.setInterval(LISTS_REFRESH_MS)
        self._lists_timer.timeout.connect(self._refresh_lists_by_timer)
        self._lists_first = self._timer(0, self._refresh_lists_by_timer)
        #: The last refresh's summary (status bar text), "" before the first.
        self.server_list_status = ""
        self.serverListsReady.connect(self._on_server_lists)

    def _timer(self, ms: int, slot: Any) -> QTimer:
        t = QTimer(self)
        t.setSingleShot(True)
        t.setInterval(ms)
        t.timeout.connect(slot)
        return t

    def _say_problems(self) -> None:
        self._say("; ".join(self._problems))

    def _say(self, text: str) -> None:
        say = getattr(self.window, "_show_message", None)
        if callable(say):
            say(text)

    # -- completion -----------------------------------------------------------------------
    def complete(self, typed: str, limit: int = 50) -> list[str]:
        if not self._lists_started and self._lists is not None:      # first use: fetch the lists
            self._lists_started = True
            self._lists_first.start()
            self._lists_timer.start()
        return self.sources.index.complete(typed, limit)

    def _completer(self, edit: Any, multi: bool) -> NameCompleter:
        return attach_completer(edit, self.complete, multi)

    # -- tables ---------------------------------------------------------------------------
    def _attach_table(self, table: Any) -> None:
        self._seen.setdefault(id(table), set())
        self._completer(table.entry, multi=True)
        table.entry_hook = self._on_entry
        table.listChanged.connect(self._tabs_timer.start)
        self._tabs_timer.start()

    def _tables(self) -> list[Any]:
        return list(self.window.tabs.tables())

    def _tab_changed(self, _index: int) -> None:
        """currentChanged's index is no delay (and -1 once the last tab goes)."""
        self._tabs_timer.start()

    def _refresh_tabs(self) -> None:
        """Names in the open tabs to the index; names new in a table to the history."""
        every: set[str] = set()
        fresh: list[str] = []
        seen: dict[int, set[str]] = {}
        for table in self._tables():
            names = set(table.names())
            fresh.extend(names - self._seen.get(id(table), set()))
            seen[id(table)] = names
            every |= names
        self._seen = seen                   # closed tabs forgotten
        self.sources.set_tabs(every)
        if fresh:
            self.remember(fresh)
        len(self.sources.index)     # sort now, not at the next keystroke

    def baseline(self) -> None:
        """The rows shown now (a restored session) are known, not newly used: only
        names added later go to the history."""
        for table in self._tables():
            self._seen[id(table)] = set(table.names())
        self._refresh_tabs()

    def _on_entry(self, table: Any, text: str) -> bool:
        """A glob typed in the add box adds every known name it matches (or says why not)."""
        result = self.sources.expand(text, shown=table.names())
        if result is None:
            return False
        kept = result.kept
        if result.names:
            added = table.add_pvs(result.names)
            parsed = split_names(" ".join(result.plain))      # names typed beside the globs
            added += table.add_pvs(parsed.names)
            msg = f"Added {len(added)} PV{'' if len(added) == 1 else 's'}: {result.message}"
            if parsed.rejected:
                msg += f"; {describe_rejected(parsed.rejected)}"
            kept = [tok for tok, _ in parsed.rejected]
        else:
            msg = result.message
        table.entry.setText(" ".join(kept))
        table.last_message = msg
        table.message.emit(msg)
        return True

    # -- views -----------------------------------------------------------------------------
    def _attach_view(self, kind: str, view: QWidget) -> None:
        if kind == "probe":
            self._completer(view.entry, multi=False)
            view.gateway_of = self.sources.gateway_of
            if view.pv_name:
                self.remember([view.pv_name])
            view.pvChanged.connect(self._on_probed)
        elif kind == "image":
            self._completer(view.source_edit, multi=False)
            self._remember_image(view)
            view.source_edit.returnPressed.connect(self._on_image_entry)

    def _on_probed(self, name: str) -> None:
        if name:
            self.remember([name])

    def _on_image_entry(self) -> None:
        """Enter in an image view's source box (after the view opened it, or not)."""
        w = self.sender()
        while w is not None and not hasattr(w, "is_open"):
            w = w.parent()
        if w is not None:
            self._remember_image(w)

    def _remember_image(self, view: Any) -> None:
        if view.is_open and view.source_edit.text().strip():
            self.remember([view.source_edit.text().strip()])

    # -- history ---------------------------------------------------------------------------
    def remember(self, names: list[str]) -> None:
        if self.sources.remember(names) and not self._save_timer.isActive():
            self._save_timer.start()

    def _save_if_due(self) -> None:
        if self.sources.save_due():
            self._save()
        elif self.sources.unsaved:
            self._save_timer.start()

    def _save(self) -> None:
        said = self.sources.save_error
        error = self.sources.save()
        if error and error != said:         # once, not at every throttled retry
            log.warning("%s", error)
            self._say(error)

    def close(self) -> None:
        """The window closes: write the history, drop the gateway subscriptions."""
        self._tabs_timer.stop()
        self._save_timer.stop()
        self._refresh_tabs()
        self._save()
        self._gw_sub.close()
        self._lists_timer.stop()
        self._lists_first.stop()
        self._lists = None

    # -- gateways ---------------------------------------------------------------------------
    def _on_gateway_states(self, states: list[PVState]) -> None:
        changed = False
        for st in states:
            for prefix in self.gateways:
                if (st.name == cache_key(prefix) and st.connected and st.value is not None
                        and self._gw_posts.get(prefix) != st.update_count):     # a new post
                    self._gw_posts[prefix] = st.update_count
                    value = [st.value] if isinstance(st.value, str) else list(st.value)
                    self.sources.set_gateway_cache(prefix, value)
                    changed = True
        if changed:
            len(self.sources.index)
            self._refresh_probes()

    def _refresh_probes(self) -> None:
        """Open probes of PVA PVs say now whether a gateway lists them."""
        from ..probe.pva_view import show_pva_info

        for panel in self.window.views.views("probe"):
            st = getattr(panel, "state", None)
            if st is not None and st.protocol == "pva" and st.ever_connected:
                show_pva_info(panel, st)

    def add_gateway(self, prefix: str) -> Optional[str]:
        """Watch one more gateway's channel list (and keep it in the settings); returns
        why not, or None."""
        prefix = prefix.strip()
        why = gateway_prefix_error(prefix)
        if why:
            return why
        if prefix not in self.gateways:
            self.gateways.append(prefix)
            self._gw_sub.add([cache_key(prefix)])
            settings = getattr(self.window, "settings", None)
            if settings is not None:        # kept for the next start (Settings.KEPT_KEYS)
                saved = settings.get_lines(GATEWAY_SETTING, 20)
                if prefix not in saved:
                    settings.qs.setValue(GATEWAY_SETTING, "\n".join(saved + [prefix]))
        return None

    def fill_menu(self, menu: QMenu) -> None:
        menu.addSeparator()
        self.gateway_action = menu.addAction("&Gateway status…", self.ask_gateway_status)
        self.lists_action = menu.addAction("&Refresh server channel lists", self.refresh_server_lists)

    # -- servers' own channel lists ----------------------------------------------------------
    def _refresh_lists_by_timer(self) -> None:
        self.refresh_server_lists(said=False)

    def _pva_states(self) -> list[PVState]:
        """The states of the PVA PVs in the tables and the probes."""
        states = [table.model.state_of(name) for table in self._tables()
                  for name in table.names() if name.startswith("pva://")]
        states += [getattr(panel, "state", None) for panel in self.window.views.views("probe")]
        return [st for st in states if st is not None]

    def refresh_server_lists(self, said: bool = True) -> bool:
        """Ask the pvAccess servers for their channel lists (discovery plus the servers of
        the PVA PVs shown), in the background; the answer updates the completion and (when
        ``said``, e.g. from the menu) the status bar. False when a refresh already runs."""
        if self._lists is None:
            if said:
                self._say("Server channel lists: not available with this engine")
            return False
        self._lists_started = True
        if self.auto_lists and not self._lists_timer.isActive():
            self._lists_timer.start()
        extra = self.sources.server_hosts(self._pva_states())
        started = self._lists.refresh(_poster(self, said), extra)
        if said:
            self._say("Server channel lists: asking the pvAccess servers…" if started
                      else "Server channel lists: a refresh is already under way")
        return started

    def _on_server_lists(self, result: Any, said: bool) -> None:
        before = dict(self.sources.server_problems)
        summary = self.sources.set_server_lists(result.lists, result.problem)
        len(self.sources.index)             # sort now, not at the next keystroke
        self.server_list_status = summary
        log.info("%s", summary)
        if said or (self.sources.server_problems and self.sources.server_problems != before):
            self._say(summary)

    def ask_gateway_status(self) -> None:
        if len(self.gateways) == 1:
            self.open_gateway_status(self.gateways[0])
            return
        prefix, ok = QInputDialog.getItem(self.window, "Gateway status", "Gateway status prefix (e.g. GW:):",
                                          self.gateways or ["GW:"], 0, True)
        if ok and prefix.strip():
            self.open_gateway_status(prefix)

    def open_gateway_status(self, prefix: str) -> Optional[Any]:
        """A tab of the gateway's status PVs (clients, cache, stats, rate tables) and
        probes of its stats and busiest PVs/hosts; None (with the reason said) for a bad prefix."""
        why = self.add_gateway(prefix)
        if why:
            self._say(f"Not opened: gateway status prefix {prefix!r}: {why}")
            return None
        prefix = prefix.strip()
        table = self.window.open_tab(gateway_status_names(prefix), title=f"Gateway {prefix}")
        for suffix in GATEWAY_PROBES:
            self.window.open_probe(f"pva://{prefix}{suffix}")
        self._say(f"Gateway {prefix}: its status PVs in tab “Gateway {prefix}”")
        return table


def _poster(finder: NameFinder, said: bool) -> Any:
    """What the refresh's thread calls with its result: a queued signal to ``finder`` if
    it still lives (held weakly: the thread must not keep a closed window's objects)."""
    ref = weakref.ref(finder)

    def post(result: Any) -> None:
        f = ref()
        if f is not None:
            try:
                f.serverListsReady.emit(result, said)
            except RuntimeError:        # its C++ side is gone: the window closed
                pass
    return post
