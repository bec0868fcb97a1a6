"""What every command of the CLI shares: the error printer, the engine factory,
argument types, PV name checks, the --timeout and float-format options, and
the caget-style value text.

Only ``pvprobe.core`` is imported here: epics (through the engine) is loaded
when a command first asks for an engine, so ``--help`` stays instant.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from typing import Any, Optional

from ..core.format import CAGET_FORMAT, MAX_FORMAT_DIGITS, FloatFormat, char_array_escaped, format_scalar, format_value
from ..core.pva_text import STRUCTURED, summary_text
from ..core.pvnames import PVListError, pv_name_error, strip_scheme
from ..core.pvs_format import read_names
from ..core.pvstate import PVState

#: --timeout of the reading commands (get, info, snapshot save and compare): Engine.read's
#: rule, see README "Command-line twins".
READ_TIMEOUT_HELP = ("give up on the PVs still missing once no connection or value has arrived "
                     "for S seconds (default 2, longer for big arrays: 0.5+log10(elements)); the "
                     "wait goes on while they keep arriving, at most 10*S + 2 ms per PV in all")


def err(prog: str, msg: str) -> None:
    """Print ``pvprobe PROG: MSG`` on stderr (``prog`` names the command, e.g. "get",
    "snapshot save" or an option)."""
    print(f"pvprobe {prog}: {msg}", file=sys.stderr)


def engine(**options: Any) -> Any:
    """A CA engine (``pvprobe.ca.engine.Engine(**options)``); epics loads here, not before."""
    from ..ca.engine import Engine

    return Engine(**options)


# ---------------------------------------------------------------------------- argument types

def _finite(text: str) -> float:
    """``text`` as a finite float, or the argparse error saying why not."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(v):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return v


def positive(text: str) -> float:
    """argparse type: a finite number > 0 (seconds, rates)."""
    v = _finite(text)
    if not v > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def non_negative(text: str) -> float:
    """argparse type: a finite number >= 0 (tolerances)."""
    v = _finite(text)
    if not v >= 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return v


def _digits(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of digits") from None
    if not 0 <= n <= MAX_FORMAT_DIGITS:
        raise argparse.ArgumentTypeError(f"digits must be 0..{MAX_FORMAT_DIGITS}, not {n}")
    return n


# ---------------------------------------------------------------------------- PV names

def check_names(prog: str, names: Sequence[str]) -> tuple[list[str], bool]:
    """The valid names (``ca://`` stripped) and whether all were valid; each invalid one reported."""
    good, ok = [], True
    for raw in names:
        name = strip_scheme(raw)
        reason = pv_name_error(name)
        if reason:
            err(prog, f"{raw!r}: invalid PV name ({reason})")
            ok = False
        else:
            good.append(name)
    return good, ok


def list_names(prog: str, path: str) -> Optional[tuple[list[str], bool]]:
    """The names in the PV list ``path`` (plain list or Phoebus .pvs) and whether every
    entry was valid (each rejected entry reported); None if the file cannot be read
    (reported)."""
    try:
        parsed = read_names(path)
    except PVListError as exc:
        err(prog, str(exc))
        return None
    for entry, reason in parsed.rejected:
        err(prog, f"{path}: {entry}: {reason}")
    return list(parsed.names), not parsed.rejected


# ---------------------------------------------------------------------------- options

#: Help of the global --default-protocol option (``pvprobe.cli.take_default_protocol`` applies it).
DEFAULT_PROTOCOL_HELP = ("protocol of names without ca:// or pva:// (default ca; also "
                         "$PVPROBE_DEFAULT_PROTOCOL); pva://NAME and ca://NAME always say it")
NAMES_EPILOG = "Names: NAME or ca://NAME (Channel Access), pva://NAME (pvAccess); lists may mix them."


def add_protocol_option(p: argparse.ArgumentParser) -> None:
    """--default-protocol, shown in the help (it is taken out of the arguments before
    the parsers see them: it works anywhere on the command line)."""
    p.add_argument("--default-protocol", choices=("ca", "pva"), help=DEFAULT_PROTOCOL_HELP)


def command_parser(cmd: str, description: str, pvs: bool = False) -> argparse.ArgumentParser:
    """The parser of ``pvprobe CMD``; with ``pvs``, its one-or-more PV names argument."""
    p = argparse.ArgumentParser(prog=f"pvprobe {cmd}", description=description, epilog=NAMES_EPILOG)
    if pvs:
        p.add_argument("pvs", nargs="+", metavar="PV")
    if cmd != "demo-ioc":           # the commands that take names
        add_protocol_option(p)
    return p


def add_timeout(p: argparse.ArgumentParser, help: str = READ_TIMEOUT_HELP) -> None:
    """The --timeout S option (positive seconds, default None: the command's own default)."""
    p.add_argument("--timeout", type=positive, default=None, metavar="S", help=help)


def add_float_options(p: argparse.ArgumentParser, fixed_short: bool = True) -> None:
    """caget's floating-point format options (default %g: 6 significant digits, like caget)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument("-e", "--exp", dest="fmt_e", type=_digits, metavar="N",
                   help="floats as %%e with N digits (caget -e)")
    fixed = ("-f", "--fixed") if fixed_short else ("--fixed",)
    g.add_argument(*fixed, dest="fmt_f", type=_digits, metavar="N",
                   help="floats as %%f with N digits (caget -f)")
    g.add_argument("-g", "--general", dest="fmt_g", type=_digits, metavar="N",
                   help="floats as %%g with N significant digits (caget -g; default: %%g, 6 digits)")
    g.add_argument("--prec", action="store_true",
                   help="floats with the record's PREC (%%.PRECf, as the GUI shows them)")


def float_format(args: argparse.Namespace) -> FloatFormat:
    """The floating-point format the options ask for (-e/-f/-g N, --prec), caget's %g by default."""
    for style in ("e", "f", "g"):
        digits = getattr(args, f"fmt_{style}", None)
        if digits is not None:
            return FloatFormat(style, digits)
    if getattr(args, "prec", False):
        return FloatFormat("prec")
    return CAGET_FORMAT


# ---------------------------------------------------------------------------- values

def value_fields(state: PVState, as_string: bool, floats: FloatFormat = CAGET_FORMAT) -> str:
    """caget-style value: arrays as ``count v0 v1 ...``, floats as ``floats`` says (caget's
    ``%g`` by default), CHAR waveforms with --string as caget -S prints them (escaped)."""
    if state.native_type in STRUCTURED:       # pvAccess tables, structures, images
        return summary_text(state)
    if state.is_char_array and as_string:
        return char_array_escaped(state.value if state.value is not None else b"")
    if state.is_array:
        vals = state.value if state.value is not None else []
        return " ".join([str(len(vals))] + [format_scalar(state, v, floats) for v in vals])
    return format_value(state, floats=floats)
