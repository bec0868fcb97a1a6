"""The probe: everything about one PV, safe puts, history and the record's fields.

A plain QWidget (put it in a QDockWidget or a tab; several can be open). All CA
traffic goes through the bridge: the panel adds the PV (every update kept for
the statistics when it is a scalar), its record's ``.RTYP`` and then the
candidate fields for that record type, and removes every one of them again in
:meth:`ProbePanel.close_pv` (also on close and on destruction).

Integration API: ``ProbePanel(bridge, name=None, parent=None)``, :meth:`set_pv`,
:attr:`pv_name`, :meth:`report_text`, :meth:`close_pv`, the signal
``openPlotRequested(name, kind)`` with kind ``"strip"``, ``"waveform"`` or ``"image"`` (a pvAccess NTNDArray), and
:attr:`confirm_puts` (default True).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from typing import Any, Optional

from PyQt5.QtCore import Qt, QTimer, pyqtSignal
from PyQt5.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PyQt5.QtWidgets import QApplication, QWidget

from pvprobe.core.format import format_value, full_value_text
from pvprobe.core.history import History, as_number
from pvprobe.core.probe_report import fmt_limits, format_timestamp_us, report_text
from pvprobe.core.protocol_text import frame_summary, listed_name
from pvprobe.core.pvnames import protocol_of, pv_name_error, strip_scheme
from pvprobe.core.pvstate import PVState
from pvprobe.core.record_fields import FieldDiscovery
from pvprobe.core.values import SEVERITY_PREFIX

from ..puts import PutSetting, PutWorkflow
from ..style.theme import ThemedMixin, alarm_colors, label_style, status_colors, theme_of
from ..subscription import Subscription
from ..table.table_brushes import PALETTES
from .probe_panel_ui import build_probe_panel_ui
from .pva_view import show_pva_info, time_text

#: How often the "x s ago / rate" line is refreshed (ms).
CLOCK_MS = 250
#: Array elements shown in the large value line.
ARRAY_PREVIEW = 5


def first_key(text: str) -> Optional[str]:
    """The first token of ``text`` as an engine key: a scheme is read, a bare name is
    taken as it is (keys of CA PVs are bare, whatever the default protocol)."""
    for tok in text.replace(",", " ").split():
        return strip_scheme(tok) if "://" in tok else tok
    return None


def first_name(text: str) -> Optional[str]:
    """The one PV name in dropped/typed text (the first token; ``ca://`` accepted)."""
    for tok in text.replace(",", " ").split():
        name = strip_scheme(tok.strip())
        if name:
            return name
    return None


class _Handles:
    """The probe's subscriptions, one per kind of need (the PV, its samples, record
    fields read once, fields monitored), closed together."""

    def __init__(self, bridge: Any, on_states: Any) -> None:
        self.bridge = bridge
        self.on_states = on_states
        self._subs: dict[tuple, Subscription] = {}

    def add(self, names: Iterable[str], **needs: bool) -> None:
        key = tuple(sorted(needs.items()))
        sub = self._subs.get(key)
        if sub is None:
            sub = self._subs[key] = self.bridge.subscribe([], self.on_states, watch=True, **needs)
        sub.add(names)

    def remove(self, names: Iterable[str]) -> None:
        """One use of each name, from the first handle that holds it."""
        for n in names:
            sub = next((s for s in self._subs.values() if n in s), None)
            if sub is not None:
                sub.remove([n])

    @property
    def names(self) -> list[str]:
        return [n for s in self._subs.values() for n in s.held()]

    def close(self) -> None:
        for sub in self._subs.values():
            sub.close()


def _consumer_for(panel: ProbePanel):
    ref = weakref.ref(panel)

    def consume(states: list[PVState]) -> None:
        p = ref()
        if p is not None:
            p._on_states(states)
    return consume


class ProbePanel(ThemedMixin, QWidget):
    """Everything about one PV. Several may be open; each holds its own subscriptions."""

    #: (PV name, "strip", "waveform" or "image") — the user asked for a plot (or image view) of this PV.
    openPlotRequested = pyqtSignal(str, str)
    #: The probed PV changed (new name, "" when closed).
    pvChanged = pyqtSignal(str)

    def __init__(self, bridge: Any, name: Optional[str] = None, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self._subs: Optional[_Handles] = None
        # released on destruction too (the lambda holds no reference to the widget)
        holder: list[Optional[_Handles]] = [None]
        self._holder = holder
        self.destroyed.connect(lambda *_: holder[0] is not None and holder[0].close())
        self._name = ""
        self.state: Optional[PVState] = None
        self.history = History()
        self.discovery: Optional[FieldDiscovery] = None
        self._field_names: set[str] = set()
        self._upgraded = False          # the scalar's second subscription keeps every update
        self._last_update_count = -1
        self._theme = theme_of()
        self._palette_name = "default"
        self._palette = alarm_colors(self._theme, self._palette_name)
        self._colours = status_colors(self._theme)
        self.last_message = ""
        self.setAcceptDrops(True)
        self.setWindowTitle("Probe")
        self._build()
        self._clock = QTimer(self)
        self._clock.setInterval(CLOCK_MS)
        self._clock.timeout.connect(self._refresh_clock)
        self._clock.start()
        if name:
            self.set_pv(name)

    # -- widgets -----------------------------------------------------------------------------
    def _build(self) -> None:
        build_probe_panel_ui(self)

    # -- public API ------------------------------------------------------------------------
    @property
    def pv_name(self) -> str:
        """The probed PV ("" when none)."""
        return self._name

    #: Ask before each put, and how long a put may take (seconds): the value editor's
    #: and the record fields' alike.
    confirm_puts = PutSetting("confirm", bool)
    put_timeout = PutSetting("timeout", float)

    def _put_runners(self) -> tuple[PutWorkflow, ...]:
        return (self.editor.runner, self.fields_view.runner)

    def set_palette(self, name: str) -> None:
        """Alarm colours: "default" or "colorblind" (as the table's)."""
        self._palette_name = name if name in PALETTES else "default"
        self._palette = alarm_colors(self._theme, self._palette_name)
        self._show_value()

    def _apply_theme(self) -> None:
        """Labels, editor, record fields and sparkline in the theme's colours."""
        name = self._theme
        self._colours = status_colors(name)
        self._palette = alarm_colors(name, self._palette_name)
        self.clock_label.setStyleSheet(label_style(self._colours.hint))
        for part in (self.editor, self.fields_view, self.sparkline):
            part.set_theme(name)
        if self.state is None:
            self._show_empty()
        else:
            self._show_value()
            self._show_info()

    def set_typed(self, text: str) -> bool:
        """Probe the name typed in ``text`` (a bare name takes the default protocol)."""
        return self.set_pv(first_name(text or "") or "")

    def set_pv(self, name: str) -> bool:
        """Probe ``name`` (closing the previous PV): an engine key (a bare name is CA) or
        a ``ca://``/``pva://`` address. False, with the reason shown, if invalid."""
        name = first_key(name or "") or ""
        reason = pv_name_error(name) if name else "empty name"
        if reason:
            self._message(f"Not a PV name: {reason}")
            return False
        if name == self._name:
            return True
        self.close_pv()
        self._name = name
        self.entry.setText(listed_name(name))
        self.name_label.setText(listed_name(name))
        self.setWindowTitle(f"Probe {name}")
        subs = _Handles(self.bridge, _consumer_for(self))
        self._subs = subs
        self._holder[0] = subs
        self.history = History()
        self.state = PVState(name=name)
        self._upgraded = False
        self._last_update_count = -1
        # record fields are a CA record's (a PVA PV shows its structure instead)
        pva = protocol_of(name) == "pva"
        self.discovery = None if pva else FieldDiscovery(name)
        rtyp = self.discovery.initial() if self.discovery else []
        self.fields_box.setVisible(not pva)
        self._field_names = set(rtyp)
        if not self._clock.isActive():
            self._clock.start()
        subs.add([name])
        if rtyp:
            subs.add(rtyp, once=True)
        self.editor.clear()
        self.fields_view.set_fields([], "reading the record type…" if rtyp else "")
        self._message("")
        self._show_all()
        self.pvChanged.emit(name)
        return True

    def close_pv(self) -> None:
        """Stop probing: every engine PV this probe added is removed."""
        if self._subs is not None:
            self._subs.close()
            self._subs = None
            self._holder[0] = None
        if self._name:
            self._name = ""
            self.state = None
            self.discovery = None
            self._field_names = set()
            self.editor.clear()
            self.fields_view.set_fields([], "")
            self._show_empty()
            self.pvChanged.emit("")

    def engine_names(self) -> list[str]:
        """The engine PVs this probe holds now (with multiplicity)."""
        return list(self._subs.names) if self._subs else []

    def report_text(self) -> str:
        """The whole probe as text (the same report as ``pvprobe info PV --fields``)."""
        if not self._name or self.state is None:
            return ""
        disc = self.discovery
        fields = disc.present() if disc else None
        note = disc.problem if disc else ""
        numeric = self.history.stats.count > 0
        return report_text(self.state, fields=fields, rtyp=disc.rtyp if disc else None,
                           fields_note=note, history=self.history.stats.snapshot() if numeric else None,
                           rate=self.history.rate() if self.state.ever_connected else None,
                           since_update=self.history.since_last())

    def copy_report(self) -> str:
        text = self.report_text()
        QApplication.clipboard().setText(text)
        self._message("Report copied to the clipboard")
        return text

    def reset_history(self) -> None:
        self.history.reset()
        self._show_history()

    # -- batches -------------------------------------------------------------------------------
    def _on_states(self, states: list[PVState]) -> None:
        """The states of this probe's PVs in one batch (routed by the bridge)."""
        if not self._name:
            return
        for st in states:
            if st.name == self._name:
                self._on_main(st)
            if st.name in self._field_names:
                self._on_field(st)

    def _on_main(self, st: PVState) -> None:
        first = not (self.state and self.state.ever_connected) and st.ever_connected
        self.state = st
        new = [(ts, v) for ts, v, _ in st.samples]
        if not new and st.update_count != self._last_update_count and st.value is not None:
            new = [(st.timestamp, st.value)]
        self._last_update_count = st.update_count
        if new and not st.is_array:
            self.history.add_many(new)
        elif new:
            self.history.add_many([(t, None) for t, _ in new])   # counted for the rate only
        if first and not st.is_array and not self._upgraded and self._subs is not None:
            # a second reference with keep_all: every update reaches the statistics
            self._upgraded = True
            self._subs.add([self._name], keep_all=True)
        self.editor.set_state(st)
        self._show_all()

    def _on_field(self, st: PVState) -> None:
        disc = self.discovery
        if disc is None or self._subs is None:
            return
        add, remove = disc.update(st)
        if add:
            self._field_names.update(add)
            self._subs.add(add)
        if remove:
            self._subs.remove(remove)
            self._field_names.difference_update(remove)
        self._show_fields()

    # -- showing -----------------------------------------------------------------------------------
    def _message(self, text: str) -> None:
        self.last_message = text
        self.status.setText(text)

    def _show_empty(self) -> None:
        self.name_label.setText("")
        self.conn_label.setText("")
        self.value_label.setText("—")
        self.value_label.setStyleSheet("")
        self._show_full(None)
        self.alarm_label.setText("")
        self.time_label.setText("")
        self.clock_label.setText("Type a PV name above or drop one here.")
        for lab in self.info.values():
            lab.setText("-")
        self.stats_label.setText("-")
        self.sparkline.set_values([])
        self.struct_box.hide()
        self.plot_button.setEnabled(False)

    def _show_all(self) -> None:
        self._show_value()
        self._show_info()
        self._show_history()
        self._refresh_clock()

    def _show_value(self) -> None:
        st = self.state
        if st is None:
            return
        c = self._colours
        if st.connected:
            self.conn_label.setText("● connected")
            self.conn_label.setStyleSheet(label_style(c.ok))
        elif st.ever_connected:
            self.conn_label.setText("○ DISCONNECTED")
            self.conn_label.setStyleSheet(label_style(c.muted, italic=True))
        elif st.error:
            self.conn_label.setText("✖ not found")
            self.conn_label.setStyleSheet(label_style(c.bad))
        else:
            self.conn_label.setText("… connecting")
            self.conn_label.setStyleSheet(label_style(c.muted))
        self._show_full(st if st.ever_connected else None)
        if not st.ever_connected:
            self.value_label.setText(st.error or "connecting…")
            self.value_label.setStyleSheet(label_style(c.muted))
            self.alarm_label.setText("")
            return
        text = (frame_summary(st) if st.native_type == "NDARRAY"
                else format_value(st, with_units=True, preview=ARRAY_PREVIEW)) or "(no value yet)"
        if st.is_char_array:
            text = f"“{text}”"
        if not st.connected:
            self.value_label.setText(f"DISCONNECTED (last: {text})")
            self.value_label.setStyleSheet(label_style(c.muted, italic=True, background=c.muted_fill))
            self.alarm_label.setText("")
            return
        self.value_label.setText(text)
        cols = self._palette.get(st.severity)
        if cols:
            bg, fg = cols
            self.value_label.setStyleSheet(f"background: {bg.name()}; color: {fg.name()};")
        else:
            self.value_label.setStyleSheet("")
        sev = SEVERITY_PREFIX.get(st.severity, "") + st.severity_name
        self.alarm_label.setText(f"Severity {sev}, status {st.status_name}")
        self.time_label.setText(time_text(st) if st.protocol == "pva"
                                else f"IOC time {format_timestamp_us(st.timestamp)}")
        self.struct_box.setVisible(self.structure_view.set_state(st))

    def _show_full(self, st: Optional[PVState]) -> None:
        """The full value under the PREC-formatted one, only where PREC hides digits."""
        full = full_value_text(st, with_units=True, preview=ARRAY_PREVIEW) if st is not None else None
        if full:
            self.full_label.setText(f"full value: {full}")
        self.full_label.setVisible(bool(full))

    def _show_info(self) -> None:
        st = self.state
        if st is None or not st.ever_connected:
            return
        i = self.info
        i["type"].setText(f"DBR_{st.native_type}")
        if st.is_array:
            i["count"].setText(f"{st.count} valid of {st.max_count} (NELM)")
        else:
            i["count"].setText(str(st.max_count))
        i["host"].setText(st.host or "-")
        i["access"].setText(st.access_text)
        i["access"].setStyleSheet("" if st.write_access else label_style(self._colours.bad))
        i["precision"].setText("-" if st.precision is None else str(st.precision))
        i["units"].setText(st.units or "-")
        i["display"].setText(fmt_limits(st.display_limits))
        i["alarm"].setText(fmt_limits(st.alarm_limits))
        i["warning"].setText(fmt_limits(st.warning_limits))
        i["control"].setText(fmt_limits(st.control_limits))
        i["enums"].setText(", ".join(f"{k}={s}" for k, s in enumerate(st.enum_strs)) or "-")
        kind = "waveform" if st.is_array else "strip"
        self.plot_button.setText("Waveform" if kind == "waveform" else "Strip chart")
        if st.protocol == "pva":
            show_pva_info(self, st)
        if st.native_type == "NDARRAY":
            self.plot_button.setText("Image view")
            self.plot_button.setEnabled(True)
            self.plot_button.setToolTip(f"Open {self._name} in an image view")
            return
        plottable = not (st.native_type in ("STRING", "TABLE", "STRUCT") or st.is_char_array)
        self.plot_button.setEnabled(plottable)
        self.plot_button.setToolTip(f"Open {self._name} in a {'waveform plot' if st.is_array else 'strip chart'}"
                                    if plottable else "Text PVs cannot be plotted")

    def _show_history(self) -> None:
        st = self.state
        if st is not None and st.is_array:
            self.stats_label.setText(f"{self.history.updates} updates (statistics for scalars only)")
            self.sparkline.hide()
            return
        s = self.history.stats.snapshot()
        if not s.count:
            self.stats_label.setText("no numeric values yet" if not (st and st.value is not None
                                                                     and as_number(st.value) is None)
                                     else f"{self.history.updates} updates (not numeric)")
            self.sparkline.setVisible(st is None or as_number(st.value) is not None or st.value is None)
            self.sparkline.set_values([])
            return
        p = st.precision if st is not None and st.precision is not None and 0 <= st.precision <= 12 else None
        f = (lambda x: f"{x:.{p}f}") if p is not None else (lambda x: f"{x:.6g}")
        skipped = f", {s.skipped} NaN/inf skipped" if s.skipped else ""
        self.stats_label.setText(f"n = {s.count}   min {f(s.min)}   max {f(s.max)}   "
                                 f"mean {f(s.mean)}   std {f(s.std)}{skipped}")
        self.sparkline.show()
        band = st.warning_limits if st is not None else None
        self.sparkline.set_values(self.history.values(), band)

    def _show_fields(self) -> None:
        disc = self.discovery
        if disc is None:
            return
        rows = disc.present()
        if disc.problem:
            status = disc.problem
        elif disc.rtyp is None:
            status = "reading the record type…"
        else:
            status = f"{disc.rtyp} record, {len(rows)} fields"
            if disc.pending:
                status += f" ({len(disc.pending)} still connecting)"
        self.fields_view.set_fields(rows, status)

    def _refresh_clock(self) -> None:
        if not self._name or self.state is None or not self.state.ever_connected or not self.isVisible():
            return
        ago = self.history.since_last()
        rate = self.history.rate()
        ago_text = "no update yet" if ago is None else f"last update {ago:.1f} s ago"
        self.clock_label.setText(f"{ago_text} · {rate:.1f} updates/s")

    # -- plots ----------------------------------------------------------------------------------
    def _request_plot(self) -> None:
        if self._name and self.state is not None:
            kind = ("image" if self.state.native_type == "NDARRAY"
                    else "waveform" if self.state.is_array else "strip")
            self.openPlotRequested.emit(self._name, kind)

    # -- drag and drop --------------------------------------------------------------------------
    def _drop_name(self, event: Any) -> Optional[str]:
        md = event.mimeData()
        if event.source() is self.name_label or not md.hasText():
            return None
        name = first_name(md.text())
        return name if name and not pv_name_error(name) else None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._drop_name(event):
            event.setDropAction(Qt.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        self.dragEnterEvent(event)  # type: ignore[arg-type]

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        name = self._drop_name(event)
        if not name:
            event.ignore()
            return
        event.setDropAction(Qt.CopyAction)
        event.accept()
        self.set_pv(name)

    # -- lifetime -------------------------------------------------------------------------------
    def closeEvent(self, event: Any) -> None:  # noqa: N802
        self.close_pv()
        self._clock.stop()
        super().closeEvent(event)
