"""Checks of the survival and ordinal models' arguments at their public entry: a column name
that is not one string, a count or threshold given as text, NaN or a negative number. Each
raises :class:`~socialhealth.errors.ModelError` saying what to pass instead (a list for a
column name failed in pandas with "unhashable type"; text failed in a comparison)."""
from __future__ import annotations

import math

import numpy as np

from socialhealth._text import show_given
from socialhealth.errors import ModelError


def check_column(value, name: str, where: str) -> str:
    """``value`` when it is one column name (a string); a ModelError otherwise.

    Examples
    --------
    >>> check_column("died", "event", "coxph")
    'died'
    """
    if isinstance(value, str):
        return value
    hint = ("; pass the name itself, not a list" if isinstance(value, (list, tuple, set))
            else "")
    raise ModelError(f"{where}: {name}= takes one column name (a string), not "
                     f"{show_given(value)}{hint}.")


def check_amount(value, name: str, where: str, meaning: str, example: str, *,
                 whole: bool = False) -> float:
    """``value`` as a number >= 0 (a whole number when ``whole``); text, True/False, NaN,
    infinity and negative numbers raise a ModelError naming ``meaning`` and an ``example``.

    Examples
    --------
    >>> check_amount(10, "min_events", "coxph", "the fewest events", "10", whole=True)
    10.0
    """
    ok = (not isinstance(value, (bool, np.bool_))
          and isinstance(value, (int, float, np.integer, np.floating)))
    number = float(value) if ok else math.nan
    if ok and whole:
        ok = number.is_integer()
    if not (ok and math.isfinite(number) and number >= 0):
        kind = "a whole number >= 0" if whole else "a number >= 0"
        raise ModelError(f"{where}: {name}=, {meaning}, must be {kind} (e.g. {name}={example}), "
                         f"not {show_given(value)}.")
    return number
