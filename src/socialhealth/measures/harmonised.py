"""Scores of the harmonised schema's instrument columns, by the instruments' own rules.

The dataset loaders (the codebook engine, the demo generator) derive ``ucla3_score`` and
``lonely_ucla3`` from the harmonised items ``ucla3_companionship``, ``ucla3_left_out`` and
``ucla3_isolated`` (coded 1 hardly ever, 2 some of the time, 3 often). They call
:func:`ucla3_columns` and :func:`ucla3_lonely`, which score with
:func:`socialhealth.measures.score` (instrument ``ucla3``: sum of the three items, 3-9,
missing unless all three are answered) and categorise with
:func:`socialhealth.measures.categorise` at :data:`UCLA3_LONELY_CUTOFF`, so the rule is
written once.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from socialhealth.errors import MeasureError
from socialhealth.measures.categories import categorise
from socialhealth.measures.scoring import score

__all__ = ["UCLA3_ITEM_COLUMNS", "UCLA3_LONELY_CUTOFF", "ucla3_columns", "ucla3_lonely"]

#: The harmonised schema's UCLA-3 item columns, in the instrument's item order.
UCLA3_ITEM_COLUMNS = ("ucla3_companionship", "ucla3_left_out", "ucla3_isolated")

#: ``lonely_ucla3`` is a UCLA-3 score at or above this. A convention ("3-5 not lonely, 6-9
#: lonely"), not a published cut-off: Hughes et al. (2004) give none (see
#: ``measures.describe("ucla3")``).
UCLA3_LONELY_CUTOFF = 6


def ucla3_columns(items: pd.DataFrame, coding: str = "1-3") -> pd.DataFrame:
    """``ucla3_score`` and ``lonely_ucla3`` from the three harmonised UCLA-3 item columns.

    Parameters
    ----------
    items : pandas.DataFrame
        Columns ``ucla3_companionship``, ``ucla3_left_out``, ``ucla3_isolated`` (other columns
        are ignored); NaN / NA where an item is missing.
    coding : str, default "1-3"
        The items' coding (a ``ucla3`` coding name, see ``measures.describe("ucla3")``); the
        harmonised schema uses ``"1-3"``.

    Returns
    -------
    pandas.DataFrame
        Aligned with ``items``: ``ucla3_score`` (float, the sum of the three items, 3-9; NaN
        unless all three are answered) and ``lonely_ucla3`` (nullable boolean, True where the
        score is at least :data:`UCLA3_LONELY_CUTOFF`, NA where the score is missing).

    Raises
    ------
    socialhealth.errors.MeasureError
        An item column is absent, or an item has a code the coding does not allow.

    Notes
    -----
    In R: ``score <- rowSums(items)`` (NA if any item is NA) and ``lonely <- score >= 6``.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth.measures.harmonised import ucla3_columns
    >>> items = pd.DataFrame({"ucla3_companionship": [1, 2, 3], "ucla3_left_out": [2, 2, None],
    ...                       "ucla3_isolated": [2, 2, 3]})
    >>> out = ucla3_columns(items)
    >>> out["ucla3_score"].tolist(), out["lonely_ucla3"].tolist()
    ([5.0, 6.0, nan], [False, True, <NA>])
    """
    absent = [c for c in UCLA3_ITEM_COLUMNS if c not in items.columns]
    if absent:
        raise MeasureError(f"ucla3_columns needs the item columns {list(UCLA3_ITEM_COLUMNS)}; "
                           f"{absent} are absent.")
    frame = pd.DataFrame({c: items[c].to_numpy(dtype=float, na_value=np.nan)
                          for c in UCLA3_ITEM_COLUMNS}, index=items.index)
    total = score("ucla3", frame, items=list(UCLA3_ITEM_COLUMNS), coding=coding,
                  missing="complete").score
    return pd.DataFrame({"ucla3_score": total.to_numpy(dtype=float),
                         "lonely_ucla3": ucla3_lonely(total)}, index=items.index)


def ucla3_lonely(scores) -> pd.arrays.BooleanArray:
    """``lonely_ucla3`` from UCLA-3 total scores: at least :data:`UCLA3_LONELY_CUTOFF`.

    Parameters
    ----------
    scores : pandas.Series or array-like
        UCLA-3 total scores (3-9); NaN / NA where missing.

    Returns
    -------
    pandas.arrays.BooleanArray
        True where the score is at least :data:`UCLA3_LONELY_CUTOFF`, False below it, NA
        where the score is missing.

    Raises
    ------
    socialhealth.errors.MeasureError
        A score outside 3-9.

    Notes
    -----
    In R: ``score >= 6``.

    Examples
    --------
    >>> from socialhealth.measures.harmonised import ucla3_lonely
    >>> ucla3_lonely([3.0, 5.0, 6.0, 9.0, float("nan")]).tolist()
    [False, False, True, True, <NA>]
    """
    s = pd.Series(np.asarray(scores, dtype=float))
    category = categorise("ucla3", s, cutoff=UCLA3_LONELY_CUTOFF)
    lonely = pd.array(category.to_numpy() == "lonely", dtype="boolean")
    lonely[s.isna().to_numpy()] = pd.NA
    return lonely
