"""Values from the data, written for people in messages.

A value taken from a numpy array or a pandas column is a numpy scalar, and numpy 2 writes
``repr(np.int64(62))`` as ``np.int64(62)``; a list or an Index of them shows
``[np.int64(62), np.int64(96)]`` or ``Index([...], dtype='int64')``. Messages (errors, warnings,
notes) format such values with :func:`show` (one value) or :func:`show_list` (several), which
write them as the plain value a user typed or sees in the data: ``62``, ``'urban'``, ``True``,
``2021-03-01``, ``missing``.

A float is written as a person would write it: ``0.3`` for the float ``0.1 + 0.2``
(``0.30000000000000004``), ``0.333333`` for ``1 / 3``. Its shortest form is kept when that has
at most 12 significant digits (what a user types, e.g. ``0.025`` or ``1e-08``); a longer one is
the tail of a computation and is written with 6 significant digits (:func:`_float_text`).
:func:`show_given` echoes an argument the user gave (a float keeps its decimal point; a tuple,
list or array is written element by element); :func:`amount` writes a computed count, total or
other number with 6 significant digits and thousands separators.
"""
from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["amount", "plain", "r_number", "r_quoted", "show", "show_given", "show_list"]


def r_number(value: Any) -> str:
    """A number for printed R code: the shortest text that reads back as the same double
    (Python's ``repr``: 0.05, not 0.050000000000000003; 14/15 as 0.9333333333333333), whole
    numbers without ".0".

    Examples
    --------
    >>> r_number(0.05), r_number(14 / 15), r_number(1e-8), r_number(3)
    ('0.05', '0.9333333333333333', '1e-08', '3')
    """
    text = repr(float(value))
    return text[:-2] if text.endswith(".0") else text


def r_quoted(value: Any) -> str:
    """A string literal for printed R code: ``value`` as text in double quotes, with
    backslashes and double quotes escaped.

    Examples
    --------
    >>> print(r_quoted('say "hi"'), r_quoted("urban"))
    "say \\"hi\\"" "urban"
    """
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def plain(value: Any) -> Any:
    """``value`` as a plain Python value: numpy/pandas scalars become int, float, bool or str;
    dates stay dates (``pd.Timestamp``; a ``datetime64`` array's ``.tolist()`` would give
    integers); a tuple is converted element by element."""
    if isinstance(value, tuple):
        return tuple(plain(v) for v in value)
    if isinstance(value, np.datetime64):
        return pd.Timestamp(value) if not np.isnat(value) else None
    if isinstance(value, np.timedelta64):
        return pd.Timedelta(value) if not np.isnat(value) else None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _significant_digits(text: str) -> int:
    """How many significant digits a number written as ``repr`` writes it has."""
    mantissa = text.lstrip("+-").split("e")[0].replace(".", "").lstrip("0")
    return len(mantissa)


def _float_text(x: float, *, point: bool = False) -> str:
    """A finite float as a person writes it: a whole number without ``.0`` (with it when
    ``point``), the shortest form when it has at most 12 significant digits (``0.3``,
    ``0.025``, ``1e-08``), else 6 significant digits (``0.3`` for ``0.30000000000000004``,
    ``0.333333`` for ``1 / 3``; from a million on, 12 significant digits, ``1234567.89123``
    for ``1234567.891234567``); a value that this would round to a whole number it is not is
    written as that number and the difference (``1 + 2.2e-16``, ``1000000 + 1e-07``)."""
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x)}.0" if point else str(int(x))
    text = repr(x)
    if _significant_digits(text) <= 12:
        return text
    text = f"{x:.12g}" if 1e6 <= abs(x) < 1e15 else f"{x:.6g}"
    whole = float(text)
    if whole.is_integer():
        # rounded to a whole number it is not: written as that number and the rounding step
        # (1 + 2.2e-16), so that a value refused for lying beyond a limit (a probability
        # above 1) never reads as the limit itself
        step = x - whole
        return f"{int(whole)} {'+' if step > 0 else '-'} {abs(step):.2g}"
    return text + ".0" if point and not any(c in text for c in ".ein") else text


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NaT or value is pd.NA:
        return True
    if isinstance(value, float) and value != value:
        return True
    return False


def show(value: Any, *, quote: bool = True) -> str:
    """One value as text: ``62`` (not ``np.int64(62)``), ``62`` for the float code 62.0,
    ``'urban'`` (quoted when ``quote``, as ``!r`` would), ``True``, ``2021-03-01`` for a date
    at midnight, ``missing`` for NaN/None/NA/NaT. A tuple (a cell of several variables) is
    written ``(1, 'urban')``."""
    value = plain(value)
    if isinstance(value, tuple):
        inner = ", ".join(show(v, quote=quote) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if _is_missing(value):
        return "missing"
    if isinstance(value, (pd.Timestamp, _dt.datetime)):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    if isinstance(value, (_dt.date, pd.Timedelta, _dt.timedelta)):
        return str(value)
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return repr(value) if quote else value
    return repr(value) if quote else str(value)


def show_given(value: Any) -> str:
    """A value the user gave, for a message saying it is not accepted: as :func:`show`, but a
    float keeps its decimal point (``4.0``, not ``4``, which would read as the whole number a
    message asks for), and a float from arithmetic loses its 17-digit tail (``0.3`` for
    ``0.1 + 0.2``). A tuple, list or numpy array is written element by element with
    :func:`show`, ``(6, 4)``, ``(0.2, 1.5)`` or ``[0, 0.5, 1]`` (the first 10 of a longer one),
    with ``None`` for an element left to the default. A pandas Series or data frame passed where
    one value goes is described (``a pandas Series of 3 values``), not printed.

    Examples
    --------
    >>> show_given(4.0), show_given(np.float64(-1)), show_given(np.int64(3)), show_given(None)
    ('4.0', '-1.0', '3', 'missing')
    >>> show_given(float("nan")), show_given([1.0, np.nan])
    ('NaN', '[1, NaN]')
    >>> show_given(0.1 + 0.2), show_given((np.float64(1 / 3), 6.0)), show_given([None, 2.5])
    ('0.3', '(0.333333, 6)', '[None, 2.5]')
    >>> show_given(pd.Series([1.0, 2.0, 3.0]))
    'a pandas Series of 3 values'
    """
    if isinstance(value, pd.Series):     # a column passed where one value goes
        return f"a pandas Series of {len(value)} value{'' if len(value) == 1 else 's'}"
    if isinstance(value, pd.DataFrame):
        return f"a data frame of {len(value)} rows"
    if isinstance(value, (tuple, list, np.ndarray)):
        items = list(np.ravel(value)) if isinstance(value, np.ndarray) else list(value)
        shown = ["None" if v is None else "NaN" if isinstance(v, (float, np.floating))
                 and v != v else show(v) for v in items[:10]]
        if len(items) > 10:
            shown.append(f"... ({len(items)} in all)")
        inner = ", ".join(shown)
        if isinstance(value, tuple):
            return f"({inner},)" if len(items) == 1 else f"({inner})"
        return f"[{inner}]"
    if isinstance(value, (float, np.floating)):
        # (a NaN the user passed is written NaN: "not missing" would read as a contradiction)
        return "NaN" if value != value else _float_text(float(value), point=True)
    return show(value)


def show_list(values: Iterable[Any], *, quote: bool = True, limit: int | None = None,
              sep: str = ", ") -> str:
    """Several values as text, e.g. ``62, 96`` or ``'a', 'b', 'c', ... (12 in all)`` when there
    are more than ``limit``. ``values`` may be a list, tuple, numpy array, pandas Index,
    Series or Categorical; each value is written by :func:`show`."""
    if isinstance(values, str):
        items: list[Any] = [values]
    elif isinstance(values, (pd.Series, pd.Index, pd.Categorical)):
        items = list(values)
    elif isinstance(values, np.ndarray):
        items = list(values.ravel())
    else:
        items = list(values)
    shown = items if limit is None or len(items) <= limit else items[:limit]
    text = sep.join(show(v, quote=quote) for v in shown)
    if len(shown) < len(items):
        text += f"{sep}... ({len(items)} in all)"
    return text


def amount(value: float) -> str:
    """A count, a total or another computed number for a message or a summary line, with
    thousands separators: ``19,602``, ``5,177,653`` for a large total (instead of
    ``5.17765e+06``), ``6,005.53`` (six significant digits below a million), ``0.333333``."""
    x = float(value)
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    if abs(x) >= 1e6:
        return f"{x:,.0f}"
    return f"{x:,.6g}"
