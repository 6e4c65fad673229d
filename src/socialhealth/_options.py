"""Checks of option arguments: ``method="logit"``, ``statistic="F"``, ``qrule="math"``.

An option is checked by asking whether it is among its valid values. Written as ``method in
METHODS`` that question fails on the wrong kind of value before any message can be written: a
pandas Series (a column passed by mistake) compares element by element and raises pandas'
"The truth value of a Series is ambiguous"; a list or dict raises "unhashable type" where the
valid values are a set or a dict's keys. :func:`is_choice` answers ``False`` for such a value, so
the caller raises its own message naming the valid values; :func:`check_choice` raises a
standard one. Messages write the value given with :func:`~socialhealth._text.show_given` (a
Series as "a pandas Series of 3 values", not its printout).

:func:`is_number` tells a real number from text and True/False, which ``float()`` would turn
into numbers (``float("10")``, ``float(True)``).
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from socialhealth._text import show_given, show_list
from socialhealth.errors import SocialHealthError

__all__ = ["check_choice", "is_choice", "is_number"]


def is_number(value: Any) -> bool:
    """True for a real number (int, float or a numpy number); False for True/False, text
    (``"10"``, which ``float()`` would read) and everything else.

    Examples
    --------
    >>> is_number(10), is_number(2.5), is_number(float("nan")), is_number("10"), is_number(True)
    (True, True, True, False, False)
    """
    import numbers

    return isinstance(value, numbers.Real) and not isinstance(value, bool) and \
        type(value).__name__ != "bool_"


def is_choice(value: Any, choices: Collection[Any]) -> bool:
    """True when ``value`` is one of ``choices``; False for anything else, including values
    that cannot be compared with them one to one (a Series, an array, a list, a dict).

    Examples
    --------
    >>> import pandas as pd
    >>> is_choice("logit", ("logit", "wald")), is_choice("probit", ("logit", "wald"))
    (True, False)
    >>> is_choice(pd.Series(["logit"]), ("logit", "wald")), is_choice(["logit"], {"logit"})
    (False, False)
    """
    try:
        hash(value)
    except TypeError:          # a Series, an array, a list, a dict, a set
        return False
    try:
        return bool(value in choices)
    except (TypeError, ValueError):   # an object whose == does not give True or False
        return False


def check_choice(value: Any, name: str, choices: Collection[Any],
                 error: type[SocialHealthError], *, where: str | None = None,
                 note: str = "") -> Any:
    """``value`` when it is one of ``choices``; otherwise ``error`` with a message naming the
    valid values and the value given (``note``, when given, is added as a sentence).

    Examples
    --------
    >>> from socialhealth.errors import EstimationError
    >>> check_choice("F", "statistic", ("F", "Chisq"), EstimationError)
    'F'
    >>> check_choice(1, "statistic", ("F", "Chisq"), EstimationError, where="chisq")
    Traceback (most recent call last):
    ...
    socialhealth.errors.EstimationError: chisq: statistic= must be one of 'F', 'Chisq', not 1.
    """
    if is_choice(value, choices):
        return value
    lead = f"{where}: " if where else ""
    tail = f" {note}" if note else ""
    raise error(f"{lead}{name}= must be one of {show_list(choices)}, not "
                f"{show_given(value)}.{tail}")
