"""A put as a request object, Qt-free: what to write where, who asks, and the checks.

Every put the GUI sends (table cell or dialog, probe editor, record fields, snapshot
restore) is a :class:`PutRequest`. :meth:`PutRequest.prepare` checks it against the
PV as last seen — connected, write access, type, control limits, NELM, string
length (``putvalue.coerce_put_value``) — and gives the value to send, or raises
:class:`PutValueError` with the reason; nothing that fails a check is sent. The Qt
side (``pvprobe.qt.puts``) adds the confirmation, the put log and the completion
report, the same for every caller.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from .format import format_number, format_value
from .putvalue import MAX_STRING, PutValueError, coerce_put_value, describe_put_value, text_put_value
from .pvstate import PVState

#: Seconds a put may take before it is reported failed (the engine's own timeout).
DEFAULT_TIMEOUT = 10.0


def prepare(st: PVState, raw: Any) -> Any:
    """Check ``raw`` (a value, or an editor's text) against the PV and return the value
    to send; raises :class:`PutValueError` with the reason."""
    if not st.connected:
        raise PutValueError("not connected")
    if not st.write_access:
        raise PutValueError("no write access (read-only PV)" if st.access_known
                            else f"no puts of this pvAccess type ({st.native_type})")
    if isinstance(raw, str) and not raw.strip() and not (st.native_type == "STRING" or st.is_char_array):
        raise PutValueError("no value given")
    if isinstance(raw, str):
        raw = text_put_value(st, raw)          # a STRING array's elements, quoted as shown
    native, values = coerce_put_value(st, raw)
    if st.is_char_array and isinstance(raw, str):
        return raw
    if st.is_array:
        return values
    return values[0]


def put_refusal(st: PVState, raw: Any) -> Optional[str]:
    """Why ``raw`` cannot be put to ``st`` (None when it can)."""
    try:
        prepare(st, raw)
    except PutValueError as exc:
        return str(exc)
    return None


def value_shown(st: Optional[PVState], value: Any) -> str:
    """A prepared value as the confirmation and messages show it (enums as 'On (2)')."""
    if st is None or not st.native_type:
        return str(value)
    native, values = coerce_put_value(st, value)
    shown = describe_put_value(native, values)
    if st.is_enum and len(values) == 1 and isinstance(values[0], int) and 0 <= values[0] < len(st.enum_strs):
        shown = f"{st.enum_strs[values[0]]} ({values[0]})"
    unit = f" {st.units}" if st.units and not st.is_enum and native not in ("STRING", "CHAR") else ""
    return shown + unit


@dataclass
class PutRequest:
    """One put: ``value`` (or an editor's text) to PV ``name``, asked for by ``source``
    ("table", "probe", "fields", "restore": written to the put log). ``state`` is the
    PV as the caller last saw it (checks, confirmation, enum names in the put log);
    without one the value is sent as given (a restore plan checked it already)."""

    name: str
    value: Any
    source: str
    state: Optional[PVState] = None
    timeout: float = DEFAULT_TIMEOUT
    #: The current value as the confirmation shows it (default: the state's value).
    old_text: Optional[str] = None

    def prepare(self) -> Any:
        """The value to send, checked (raises :class:`PutValueError` with the reason)."""
        if self.state is None:
            return self.value
        return prepare(self.state, self.value)

    def confirmation_text(self, value: Any) -> str:
        """The question asked before the put of the prepared ``value``."""
        st = self.state
        old = self.old_text
        if old is None:
            old = (format_value(st, with_units=True) if st is not None else "") or "-"
        return (f"Put a new value to {self.name}?\n\n"
                f"    now:  {old}\n    new:  {value_shown(st, value)}\n\n"
                f"The put waits up to {self.timeout:g} s for completion.")


# -- what an editor needs to know (Qt-free) ---------------------------------------------------------
def editor_kind(st: Optional[PVState]) -> str:
    """Which editor fits: enum, number, string, text (CHAR waveform), array, readonly, disconnected."""
    if st is None or not st.ever_connected or not st.connected:
        return "disconnected"
    if not st.write_access:
        return "readonly"
    if st.is_char_array:
        return "text"
    if st.is_array:
        return "array"
    if st.is_enum:
        return "enum"
    if st.native_type == "STRING":
        return "string"
    return "number"


def read_only_reason(st: Optional[PVState], app_read_only: bool = False) -> str:
    """Why the editor is read-only ('' when it is not)."""
    if app_read_only:
        return "Read-only mode: pvprobe was started to watch only (--read-only); no puts are sent."
    if st is None:
        return "No PV."
    if not st.ever_connected:
        return "Not connected yet: puts become possible once the PV connects."
    if not st.connected:
        return "Disconnected: puts are disabled until the PV reconnects."
    if not st.write_access and not st.access_known:
        return (f"No puts of this pvAccess type ({st.native_type}: tables, images and "
                "structures are shown, not edited).")
    if not st.write_access:
        return ("Read-only: the IOC grants this client no write access (its access security, "
                "ASG, refuses writes from this user/host). Ask the IOC's owner to change it.")
    return ""


def precision_note(st: PVState, text: str) -> str:
    """A note when a number has more decimals than the PV displays (not a refusal)."""
    if st.precision is None or st.native_type not in ("DOUBLE", "FLOAT") or st.is_array:
        return ""
    t = text.strip().lower()
    if "e" in t or "." not in t:
        return ""
    decimals = len(t.split(".", 1)[1])
    if decimals > st.precision:
        try:
            shown = format_number(float(t), st.precision)
        except ValueError:
            return ""
        return f"note: more decimals than PREC {st.precision}; the IOC keeps them, displays {shown}"
    return ""


def edit_hint(st: PVState) -> str:
    """A short description of what an editor accepts (its tooltip)."""
    if st.is_enum:
        return "choose a state"
    if st.is_char_array:
        return f"text, at most {max(0, st.max_count - 1)} bytes"
    if st.native_type == "STRING" and st.is_array:
        return (f"up to {st.max_count} texts of at most {MAX_STRING} bytes, separated by spaces; "
                f'"quote" one that is empty or holds spaces')
    if st.native_type == "STRING":
        return f"text, at most {MAX_STRING} bytes"
    if st.is_array:
        return f"up to {st.max_count} numbers, separated by spaces or commas"
    lims = st.control_limits
    if lims and lims[0] is not None and lims[1] is not None and lims[1] > lims[0]:
        unit = f" {st.units}" if st.units else ""
        return f"a number from {lims[0]:g} to {lims[1]:g}{unit}"
    return "a number"


__all__ = ["DEFAULT_TIMEOUT", "PutRequest", "PutValueError", "edit_hint", "editor_kind", "precision_note",
           "prepare", "put_refusal", "read_only_reason", "value_shown"]
