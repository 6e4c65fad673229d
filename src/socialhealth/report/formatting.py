"""The one place where the report turns numbers into text.

Every table cell and every number in a sentence goes through these functions, so that no
report (HTML, Markdown or PDF) shows ``nan``, ``inf``, ``-0.0`` or an unrounded float: a
number that cannot be computed becomes :data:`NA` and the table or sentence says why.
"""
from __future__ import annotations

import math
import re

#: Shown instead of a number that cannot be computed (the table's note says why).
NA = "n/a"
_NEG_ZERO = re.compile(r"^([+-])0(\.0*)?$")


def finite(v) -> bool:
    """True when ``v`` is a real, finite number (not None, NaN, inf, or a non-number).

    Examples
    --------
    >>> finite(1.5), finite(float("nan")), finite(None), finite("1")
    (True, False, False, False)
    """
    if v is None or isinstance(v, (str, bytes)):
        return False
    try:
        return math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def _unsign_zero(text: str) -> str:
    """'-0.0' / '+0.0' / '-0' -> '0.0' / '0' (a rounded zero has no sign)."""
    m = _NEG_ZERO.match(text)
    return text[1:] if m else text


def number(v, digits: int = 2, na: str = NA) -> str:
    """``v`` with ``digits`` decimals; ``na`` when it is not a finite number.

    Examples
    --------
    >>> number(1.23456), number(-0.0001), number(float("inf"))
    ('1.23', '0.00', 'n/a')
    """
    if not finite(v):
        return na
    return _unsign_zero(f"{float(v):.{digits}f}")


def signed(v, digits: int = 1, na: str = NA) -> str:
    """``v`` with a sign (``+1.2``, ``-3.0``) and ``digits`` decimals; zero has no sign.

    Examples
    --------
    >>> signed(1.234), signed(-0.01), signed(float("nan"))
    ('+1.2', '0.0', 'n/a')
    """
    if not finite(v):
        return na
    return _unsign_zero(f"{float(v):+.{digits}f}")


def signed_nonzero(v, digits: int = 1, na: str = NA) -> str:
    """Like :func:`signed`, but a non-zero value never prints as zero.

    A value that rounds to zero at ``digits`` decimals keeps its sign and is shown with two
    more decimals (a 95% CI bound of -0.008% must not read "0.0%": the reader could not tell
    whether the interval includes zero); below that display resolution (``10**-(digits+2)``)
    it reads ``-<0.001`` / ``+<0.001``, neither a false zero nor a dozen decimals. Exact zero
    prints as ``0.0``.

    Examples
    --------
    >>> signed_nonzero(4.86), signed_nonzero(-0.0081), signed_nonzero(0.0), signed_nonzero(None)
    ('+4.9', '-0.008', '0.0', 'n/a')
    >>> signed_nonzero(-7e-12), signed_nonzero(0.0004), signed_nonzero(0.0006)
    ('-<0.001', '+<0.001', '+0.001')
    """
    text = signed(v, digits, na)
    if text == na or float(v) == 0.0 or _NEG_ZERO.match("+" + text) is None:
        return text
    fine = digits + 2
    text = f"{float(v):+.{fine}f}"
    if _NEG_ZERO.match(text) is None:
        return text
    return f"{text[0]}<{10.0 ** -fine:.{fine}f}"


def percent(v, digits: int = 1, na: str = NA) -> str:
    """A proportion as a percentage number (no % sign): ``0.1234`` -> ``"12.3"``.

    Examples
    --------
    >>> percent(0.1234), percent(-1e-17), percent(float("nan"))
    ('12.3', '0.0', 'n/a')
    """
    return number(100 * float(v), digits, na) if finite(v) else na


def count(v, na: str = NA) -> str:
    """A count or degrees of freedom, with a thousands separator as in the report's sentences.

    Integers have no decimals; other values (a weighted count, a fractional df) one decimal.
    Years go through :func:`year` instead (2,018 is not a year).

    Examples
    --------
    >>> count(1823.0), count(12.25), count(16794), count(None)
    ('1,823', '12.2', '16,794', 'n/a')
    """
    if not finite(v):
        return na
    f = float(v)
    if f.is_integer():
        return f"{int(f):,}"
    return _unsign_zero(f"{f:,.1f}")


def year(v, na: str = NA) -> str:
    """A calendar year as it is written: no separator, no decimals.

    Examples
    --------
    >>> year(2018.0), year(float("nan"))
    ('2018', 'n/a')
    """
    if not finite(v):
        return na
    f = float(v)
    return str(int(f)) if f.is_integer() else number(f, 1, na)


def p_value(v, na: str = NA) -> str:
    """A p-value: 3 decimals, ``<0.001`` below 0.001.

    Examples
    --------
    >>> p_value(0.04567), p_value(1e-9), p_value(float("nan"))
    ('0.046', '<0.001', 'n/a')
    """
    if not finite(v):
        return na
    return "<0.001" if float(v) < 0.001 else number(v, 3, na)


def general(v, digits: int = 4, na: str = NA) -> str:
    """Up to ``digits`` significant digits (``:g``), for design constants such as a scale.

    Examples
    --------
    >>> general(0.05), general(2.0), general(float("nan"))
    ('0.05', '2', 'n/a')
    """
    if not finite(v):
        return na
    return _unsign_zero(f"{float(v):.{digits}g}")


def cell(v, digits: int = 3, na: str = NA) -> str:
    """Any table value as text: floats rounded to ``digits``, integers as they are, None and
    NaN as ``na``, other values with ``str``.

    Examples
    --------
    >>> cell(0.123456), cell(7), cell(None), cell("female"), cell(True)
    ('0.123', '7', 'n/a', 'female', 'True')
    """
    if v is None:
        return na
    if isinstance(v, (bool, str)):
        return str(v)
    try:
        import numpy as np

        if isinstance(v, np.bool_):
            return str(bool(v))
        if isinstance(v, np.integer):
            return str(int(v))
    except ImportError:  # pragma: no cover
        pass
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float) or hasattr(v, "__float__"):
        try:
            return number(float(v), digits, na)
        except (TypeError, ValueError):
            pass
    try:
        import pandas as pd

        if pd.isna(v):
            return na
    except (TypeError, ValueError):
        pass
    return str(v)
