"""Rounding rules of every socialhealth table, in one place.

* percentages: 1 decimal (``12.3``);
* ratios (OR, HR, RR, PR): 2 decimals (``1.27``);
* p-values: ``<0.001`` below 0.001, ``>0.999`` where 3 decimals would show 1.000, otherwise
  3 decimals;
* means and coefficients: 1 decimal by default (``digits=`` where a function takes it);
* counts: whole numbers with a thousands separator (``1,234``).

A rounded value is never shown as ``-0.0`` (the sign of a value that rounds to zero is dropped)
and a value that is not finite (NaN, inf) is never shown: the functions return :data:`DASH`
(an em dash) and the table adds a footnote saying why.
"""
from __future__ import annotations

import math

__all__ = ["DASH", "PERCENT_DIGITS", "RATIO_DIGITS", "MEAN_DIGITS", "number", "percent", "ratio",
           "p_value", "count", "interval", "is_finite"]

#: What a cell shows when its value cannot be computed (the table's footnotes say why).
DASH = "\u2014"
PERCENT_DIGITS = 1
RATIO_DIGITS = 2
MEAN_DIGITS = 1


def is_finite(x) -> bool:
    """True for a real, finite number (not None, NaN, inf or pandas NA).

    Examples
    --------
    >>> is_finite(1.5), is_finite(float("nan")), is_finite(None)
    (True, False, False)
    """
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def number(x, digits: int = MEAN_DIGITS) -> str:
    """``x`` rounded to ``digits`` decimals; never ``-0.0``; :data:`DASH` when not finite.

    Rounding is Python's (round half to even on the binary value, as R's ``sprintf``).

    Examples
    --------
    >>> number(2.345, 2), number(-0.04, 1), number(float("inf"))
    ('2.35', '0.0', '—')
    """
    if not is_finite(x):
        return DASH
    text = f"{float(x):.{int(digits)}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


def percent(p, digits: int = PERCENT_DIGITS) -> str:
    """A proportion ``p`` (0-1) as a percentage with 1 decimal.

    Examples
    --------
    >>> percent(0.12345), percent(-1e-9)
    ('12.3', '0.0')
    """
    return number(100.0 * float(p), digits) if is_finite(p) else DASH


def ratio(x, digits: int = RATIO_DIGITS) -> str:
    """A ratio (odds, hazard, rate, prevalence ratio) with 2 decimals.

    Examples
    --------
    >>> ratio(1.2649)
    '1.26'
    """
    return number(x, digits)


def p_value(p) -> str:
    """A p-value: ``<0.001``, 3 decimals, or ``>0.999`` (never 1.000); :data:`DASH` if not
    computable.

    Examples
    --------
    >>> p_value(0.0004), p_value(0.04449), p_value(1.0), p_value(float("nan"))
    ('<0.001', '0.044', '>0.999', '—')
    """
    if not is_finite(p):
        return DASH
    p = float(p)
    if p < 0.001:
        return "<0.001"
    text = f"{p:.3f}"
    return ">0.999" if text == "1.000" else text


def count(n) -> str:
    """A count as a whole number with a thousands separator.

    Examples
    --------
    >>> count(12345)
    '12,345'
    """
    if not is_finite(n):
        return DASH
    return f"{int(round(float(n))):,}"


def interval(estimate: str, low: str, high: str) -> str:
    """``"est (low, high)"``; a single :data:`DASH` for the interval when either end is missing.

    Examples
    --------
    >>> interval("12.3", "10.1", "14.6"), interval("0.0", "—", "—")
    ('12.3 (10.1, 14.6)', '0.0 (—)')
    """
    if DASH in (low, high):
        return f"{estimate} ({DASH})"
    return f"{estimate} ({low}, {high})"
