"""Pure numpy helpers for plots: valid elements, NaN-safe ranges, min/max
decimation to the screen's width, and CSV text of what is shown. No Qt, no epics."""

from __future__ import annotations

import io
import math
import time
import warnings
from collections.abc import Iterable, Sequence
from typing import Any, Optional

import numpy as np

from .pvstate import SEVERITY_NAMES


def valid_elements(value: object, count: Optional[int] = None) -> Optional[np.ndarray]:
    """The plottable part of an array PV's value: a 1-D numeric numpy array of at most
    ``count`` elements, or None (no value, strings, ...). Scalars become 1 element."""
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "U" or arr.dtype.kind == "S" or arr.dtype.kind == "O":
            return None
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            return None
    arr = arr.ravel()
    if count is not None and 0 <= count < len(arr):
        arr = arr[:count]
    return arr


def finite_range(y: np.ndarray) -> Optional[tuple[float, float]]:
    """(min, max) of the finite values of ``y``, or None if there are none."""
    if y is None or len(y) == 0:
        return None
    if y.dtype.kind in "biu":
        return float(y.min()), float(y.max())
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(y), np.nanmax(y)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        f = y[np.isfinite(y)]
        if not len(f):
            return None
        lo, hi = f.min(), f.max()
    return float(lo), float(hi)


def is_monotonic(x: np.ndarray) -> bool:
    """True if ``x`` never decreases (NaN makes it False)."""
    if len(x) < 2:
        return True
    with np.errstate(invalid="ignore"):
        return bool(np.all(x[1:] >= x[:-1]))


def visible_slice(x: Optional[np.ndarray], n: int, x0: float, x1: float, monotonic: bool = True,
                  pad: int = 1) -> slice:
    """Index range of the points with ``x0 <= x <= x1`` (plus ``pad`` either side).
    ``x`` None means x = index. A non-monotonic ``x`` gives everything."""
    if n == 0:
        return slice(0, 0)
    if x is None:
        if not (math.isfinite(x0) and math.isfinite(x1)):
            return slice(0, n)
        i0 = max(0, int(math.ceil(x0)) - pad)
        i1 = min(n, int(math.floor(x1)) + 1 + pad)
        return slice(min(i0, n), max(i1, min(i0, n)))
    if not monotonic:
        return slice(0, n)
    i0 = max(0, int(np.searchsorted(x[:n], x0, "left")) - pad)
    i1 = min(n, int(np.searchsorted(x[:n], x1, "right")) + pad)
    return slice(i0, max(i0, i1))


def bucket_starts(x: Optional[np.ndarray], n: int, buckets: int, by_x: bool = True) -> np.ndarray:
    """Start indices of about ``buckets`` buckets over ``n`` points: equal x width
    (``x`` increasing, empty buckets dropped) or, with ``x`` None / ``by_x`` False /
    non-finite ends, equal element count."""
    buckets = max(1, int(buckets))
    if x is not None and by_x and n > 1 and math.isfinite(x[0]) and math.isfinite(x[n - 1]) \
            and x[n - 1] > x[0]:
        edges = np.linspace(x[0], x[n - 1], buckets + 1)[:-1]
        idx = np.searchsorted(x[:n], edges, "left")
        keep = np.empty(len(idx), bool)
        keep[0] = True
        np.not_equal(idx[1:], idx[:-1], out=keep[1:])
        keep &= idx < n
        return idx[keep]
    return np.arange(0, n, int(math.ceil(n / buckets)))


def minmax_decimate(x: Optional[np.ndarray], y: np.ndarray, buckets: int,
                    by_x: bool = True, idx: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """Reduce ``y`` (at ``x``; None = index) to the min and max of each of about
    ``buckets`` buckets, so every peak survives: 2 points per bucket (3 when the
    bucket holds a NaN, which then stays a gap), plus the last point. ``by_x`` cuts buckets of equal
    x width (``x`` must be increasing); otherwise of equal element count; ``idx``
    gives the bucket starts directly (see :func:`bucket_starts`).
    Returns ``(x, y)`` unchanged (x made explicit) when there is nothing to gain."""
    n = len(y)
    buckets = max(1, int(buckets))
    if idx is None and n <= 2 * buckets:
        return (np.arange(n, dtype=np.float64) if x is None else x[:n]), y
    if idx is None:
        idx = bucket_starts(x, n, buckets, by_x)
    xb = idx.astype(np.float64) if x is None else x[idx]
    yf = y if y.dtype.kind == "f" else y.astype(np.float64)
    lo = np.fmin.reduceat(yf, idx)
    hi = np.fmax.reduceat(yf, idx)
    nan = np.isnan(yf)
    k = 3 if nan.any() else 2
    m = k * len(idx)
    xo = np.empty(m + 1)          # + the last point: the drawn extent is the data's
    yo = np.empty(m + 1)
    xo[:m] = np.repeat(xb, k)
    yo[0:m:k] = lo
    yo[1:m:k] = hi
    if k == 3:
        has_nan = np.add.reduceat(nan.astype(np.int32), idx) > 0
        yo[2:m:3] = np.where(has_nan, np.nan, hi)
    xo[m] = float(n - 1) if x is None else x[n - 1]
    yo[m] = yf[n - 1]
    return xo, yo


# -- readouts -------------------------------------------------------------------------------

def value_at(y: Optional[np.ndarray], x: float, xs: Optional[np.ndarray] = None,
             monotonic: bool = True) -> Optional[tuple[int, float]]:
    """(index, value) of the point of ``y`` nearest to ``x``: against the element index
    when ``xs`` is None, else against ``xs`` (its first ``len(y)`` elements; a
    ``monotonic`` one is searched, another scanned). None outside the data."""
    if y is None or not len(y) or not math.isfinite(x):
        return None
    if xs is None:
        i = int(round(x))
    else:
        n = min(len(xs), len(y))
        if n == 0:
            return None
        if monotonic:
            i = int(np.searchsorted(xs[:n], x))
            i = min(max(i, 0), n - 1)
            if i > 0 and abs(xs[i - 1] - x) <= abs(xs[i] - x):
                i -= 1
        else:
            with np.errstate(invalid="ignore"):
                i = int(np.nanargmin(np.abs(xs[:n] - x)))
    if not 0 <= i < len(y):
        return None
    return i, float(y[i])


def visible_columns(ys: dict[str, np.ndarray], x0: float, x1: float, xs: Optional[np.ndarray] = None,
                    x_header: str = "index", monotonic: bool = True) -> tuple[list[str], list[np.ndarray]]:
    """Headers and columns of the data between ``x0`` and ``x1``: x first (the element
    index when ``xs`` is None, else ``xs``, headed ``x_header``), then each array of
    ``ys`` at full resolution (cut to the length of x when there is an ``xs``)."""
    if xs is None:
        n = max((len(y) for y in ys.values()), default=0)
        sl = visible_slice(None, n, x0, x1, pad=0)
        headers, cols = [x_header], [np.arange(sl.start, sl.stop)]
    else:
        sl = visible_slice(xs, len(xs), x0, x1, monotonic, pad=0)
        headers, cols = [x_header], [xs[sl]]
    for name, y in ys.items():
        headers.append(name)
        col = y[sl]
        cols.append(col if xs is None else col[:len(cols[0])])
    return headers, cols


def trace_label(name: str, state: Any, has_data: bool) -> str:
    """A waveform trace's legend text: name, units, valid/maximum elements, and what is
    wrong (connecting, disconnected, not numeric, a scalar) from its PV ``state``."""
    st = state
    if st is None:
        return f"{name} (connecting)"
    unit = f" [{st.units}]" if st.units else ""
    if not st.connected:
        return f"{name}{unit} ({st.error or ('disconnected' if st.ever_connected else 'connecting')})"
    if st.value is not None and not has_data:
        return f"{name} (not numeric)"
    if st.max_count == 1:
        return f"{name}{unit} (a scalar: one point; a strip chart shows it over time)"
    text = f"{name}{unit} {st.count}/{st.max_count}"
    return f"{text} ({st.error})" if st.error else text


def x_source_texts(name: str, state: Any, monotonic: bool) -> tuple[str, str]:
    """(axis label, info text) of the x array PV ``name`` from its PV ``state``."""
    n = "?" if state is None or state.value is None else f"{state.count}/{state.max_count}"
    if state is not None and (state.error or not state.connected):
        n += f" ({state.error or 'disconnected'})"
    label = f"{name} [{state.units}]" if state is not None and state.units else name
    return label, f"x = {name} {n}" + ("" if monotonic else " (not monotonic)")


# -- CSV ----------------------------------------------------------------------------------

def _fmt_col(a: np.ndarray) -> list[str]:
    if a.dtype.kind in "biu":
        return [str(v) for v in a.tolist()]
    return ["" if v != v else repr(v) for v in a.astype(np.float64).tolist()]


def columns_csv(headers: Sequence[str], columns: Sequence[np.ndarray]) -> str:
    """Wide CSV: one column per array; shorter columns are left empty below their end.
    NaN is written as an empty cell. Floats keep full precision (``repr``)."""
    if len(headers) != len(columns):
        raise ValueError("one header per column")
    cols = [_fmt_col(np.asarray(c)) for c in columns]
    rows = max((len(c) for c in cols), default=0)
    out = io.StringIO()
    out.write(",".join(_csv_cell(h) for h in headers) + "\n")
    for i in range(rows):
        out.write(",".join(c[i] if i < len(c) else "" for c in cols) + "\n")
    return out.getvalue()


def samples_csv(series: Iterable[tuple[str, np.ndarray, np.ndarray, np.ndarray]]) -> str:
    """Long CSV of time series: ``pv,time,timestamp,value,severity`` rows, time in
    local ISO format, timestamp POSIX seconds. A gap (NaN) is a row with an empty
    value and severity ``DISCONNECTED``."""
    out = io.StringIO()
    out.write("pv,time,timestamp,value,severity\n")
    for name, t, v, s in series:
        cell = _csv_cell(name)
        for ti, vi, si in zip(t.tolist(), v.tolist(), s.tolist()):
            sev = SEVERITY_NAMES[si] if 0 <= si < len(SEVERITY_NAMES) else "DISCONNECTED"
            val = "" if vi != vi else repr(vi)
            out.write(f"{cell},{iso_time(ti)},{ti:.6f},{val},{sev}\n")
    return out.getvalue()


def iso_time(t: float) -> str:
    """Local time with milliseconds, e.g. ``2026-11-26 05:40:01.123``."""
    lt = time.localtime(t)
    return time.strftime("%Y-%m-%d %H:%M:%S", lt) + f".{int((t % 1) * 1000):03d}"


def _csv_cell(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


__all__ = ["valid_elements", "finite_range", "is_monotonic", "visible_slice", "minmax_decimate", "bucket_starts",
           "columns_csv", "samples_csv", "iso_time", "value_at", "visible_columns", "trace_label",
           "x_source_texts"]
