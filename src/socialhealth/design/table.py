"""Weighted contingency tables of categorical variables (R ``svytable``).

``design.table("a", "b")`` adds up the analysis weights of the rows in each combination of levels of
the ``by`` columns. Like R's ``svytable`` (an ``xtabs`` of the weights) the result is the full
cross-tabulation: every combination of levels appears, with 0 where no row of the subset falls.
"""
from __future__ import annotations

import math
import numbers

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.design.structure import require_columns
from socialhealth.errors import ArgumentError, DesignError, EstimationError

__all__ = ["table"]

#: default largest number of distinct values of a numeric column that table() lists as levels
MAX_TABLE_LEVELS = 1000
#: default largest number of distinct values of a numeric column used as a factor of a test or
#: loglinear model (chisq, loglin, gofchisq): each value is a level with its own cells
MAX_FACTOR_LEVELS = 100


def check_factor_levels(column, s: pd.Series, n_levels: int, max_levels, what: str) -> None:
    """Refuse a numeric column with more than ``max_levels`` distinct values used as a factor.

    R treats every distinct number as a level (``factor(x)``), which is right for a few codes
    (0/1, 1..5) and wrong for a continuous measurement: a table or model of every distinct
    value of an age in days or an income. Categorical, boolean and text columns are taken as
    they are (their levels were chosen by whoever made them). ``max_levels=None``: no limit.

    Examples
    --------
    >>> check_factor_levels("x", pd.Series([1.5, 2.5]), 2, 100, "table()")   # no error
    """
    if max_levels is None:
        return
    if (isinstance(max_levels, (bool, np.bool_)) or not isinstance(max_levels, numbers.Integral)
            or int(max_levels) < 2):
        raise ArgumentError(f"max_levels={show_given(max_levels)} must be a whole number >= 2 or "
                            "None (no limit).")
    if (n_levels <= int(max_levels) or isinstance(s.dtype, pd.CategoricalDtype)
            or not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        return
    raise ArgumentError(
        f"the numeric column {column!r} has {n_levels} distinct values (more than "
        f"max_levels={max_levels}); {what} treats every distinct value as a category (as R "
        "does with a number), which for a measurement gives a meaningless table. Cut it into "
        f"categories first (e.g. design.assign({column}_cat=pd.cut(design.data[{column!r}], "
        f"bins=...))), or pass max_levels=None (or a larger number) to keep every value."
    )


def _exact_cell_sums(key: np.ndarray, w: np.ndarray, size: int) -> np.ndarray:
    """Correctly rounded sum of ``w`` within each cell ``key`` (``math.fsum`` per cell)."""
    order = np.argsort(key, kind="stable")
    bounds = np.searchsorted(key[order], np.arange(size + 1))
    ws = w[order]
    return np.array([math.fsum(ws[bounds[c]:bounds[c + 1]]) for c in range(size)], dtype=float)


def _levels_and_codes(s: pd.Series) -> tuple[list, np.ndarray]:
    """Levels of one by-column (categories in order, else sorted values) and each row's code."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.categories), s.cat.codes.to_numpy().astype(np.int64)
    codes, uniq = pd.factorize(s, sort=True)
    return list(uniq), codes.astype(np.int64)


def _columns(variables: tuple, by) -> list:
    """The by-columns from positional names (each a name, a list of names or ``"~a + b"``)
    and/or ``by=``."""
    if variables and by is not None:
        raise DesignError(
            "give the columns either positionally (table('sex', 'lonely')) or as by=[...], not "
            "both."
        )
    items = list(variables) if variables else ([] if by is None else [by])
    cols: list = []
    for item in items:
        if isinstance(item, str) and item.strip().startswith("~"):
            cols += [part.strip() for part in item.strip()[1:].split("+") if part.strip()]
        elif isinstance(item, (list, tuple, pd.Index)):
            cols += list(item)
        elif isinstance(item, str):
            cols.append(item)
        else:
            raise DesignError(
                f"table() takes column names positionally, not {show_given(item)}; options are "
                "keywords only, e.g. table('sex', 'lonely', round=True, Ntotal=100)."
            )
    return cols


def table(design, *variables, by=None, round: bool = False, Ntotal: float
          | None = None, max_levels: int | None = MAX_TABLE_LEVELS) -> pd.DataFrame:
    """Weighted counts of every combination of levels of the given columns (R ``svytable``).

    The count of a cell is ``n_c = sum_i w_i [row i is in cell c]`` over the rows of the
    design's subset (rows outside a subset have weight 0 and add nothing). With ``Ntotal`` the
    counts are rescaled to that total, ``n_c * Ntotal / sum_c n_c``; with ``round=True`` they
    are then rounded to the nearest integer (halves to even, as R's ``round``).

    Every combination of levels is listed, zeros included, as R's ``xtabs`` does. The levels of
    a column are its categories (pandas ``Categorical``, like an R factor) or else its sorted
    distinct values among all rows of ``design.data`` (so a level seen only outside the subset
    still gets a row with count 0, as with R factors). Rows with a missing value in any ``by``
    column are left out (R's default ``na.action``); their number is in
    ``result.attrs["n_missing"]`` (rows of the subset only).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    *variables : str or list of str
        Categorical columns, one or several (``table("sex", "lonely")``, R's formula
        ``~sex + lonely``); a list (``table(["sex", "lonely"])``) or an R-style string
        (``table("~sex + lonely")``) works too.
    by : str or list of str, optional (keyword)
        The same columns given by keyword instead (not together with positional ones).
    round : bool, default False (keyword only)
        Round the counts to whole numbers (R ``round = TRUE``).
    Ntotal : float, optional (keyword only)
        Rescale the counts so that they add up to ``Ntotal`` (e.g. 100 for percentages).
        ``None``: plain weighted counts.
    max_levels : int or None, default 1000 (keyword only)
        Refuse (:class:`~socialhealth.errors.ArgumentError`) a numeric column with more
        distinct values than this (a measurement, not codes): cut it into categories first.
        ``None``: no limit (R ``svytable`` takes any number of values).

    Returns
    -------
    pandas.DataFrame
        One row per combination, the first ``by`` column varying fastest (R's
        ``as.data.frame(svytable(...))`` order); columns: the ``by`` columns and ``n``.
        ``attrs``: ``n_missing`` (subset rows left out for a missing by-value), ``n_rows``
        (subset rows counted), ``r_call``.

    Notes
    -----
    R's ``svytable`` method for replicate designs defaults to
    ``Ntotal = sum(weights(design, "sampling"))``, which also counts the weights of rows whose
    by-value is missing, so R's replicate-design table is then rescaled up. Here the default
    is the plain weighted count on both design kinds; pass ``Ntotal=design.weights.sum()`` to
    reproduce R's replicate-design default. R's data-frame form of ``Ntotal`` (population sizes
    per stratum) is not supported.

    References
    ----------
    Lumley T (2010) *Complex Surveys*, Wiley, §3.5 (tables) and R ``survey::svytable``.

    Examples
    --------
    >>> import pandas as pd, socialhealth as sh
    >>> df = pd.DataFrame({"g": ["a", "b", "a", None], "w": [1.0, 2.0, 3.0, 4.0]})
    >>> t = sh.SurveyDesign(df, weights="w").table("g")
    >>> t["n"].tolist(), t.attrs["n_missing"]
    ([4.0, 2.0], 1)
    >>> df2 = pd.DataFrame({"sex": ["f", "m", "f"], "lonely": [1, 0, 0], "w": [1.0, 2.0, 3.0]})
    >>> sh.SurveyDesign(df2, weights="w").table("sex", "lonely")["n"].tolist()
    [3.0, 2.0, 1.0, 0.0]

    On the example data:

    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> dstrat = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    >>> print(dstrat.table("stype").to_string())
      stype       n
    0     E  4421.0
    1     H   755.0
    2     M  1018.0
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> dclus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> print(dclus1.table(["stype", "awards"], Ntotal=100).round(2).to_string())
      stype awards      n
    0     E     No  21.85
    1     H     No   5.04
    2     M     No   4.20
    3     E    Yes  49.58
    4     H    Yes   5.88
    5     M    Yes  13.45

    Several variables can also be given positionally (R ``svytable(~stype + awards, dclus1)``):

    >>> dclus1.table("stype", "awards").shape
    (6, 3)

    In R: ``svytable(~stype, dstrat)``; ``svytable(~stype + awards, dclus1, Ntotal = 100)``.
    """
    cols = _columns(variables, by)
    if not cols:
        raise EstimationError("table() needs at least one column, e.g. table('sex', 'lonely').")
    if len(set(cols)) != len(cols):
        raise EstimationError(f"by={cols!r} names a column twice; name each column once.")
    require_columns(design.data, cols, "the design data")
    if not isinstance(round, (bool, np.bool_)):
        raise DesignError(f"round= must be True or False, not {show_given(round)}.")
    if Ntotal is not None:
        if isinstance(Ntotal, (bool, np.bool_)) or not isinstance(Ntotal, numbers.Real):
            raise DesignError(
                f"Ntotal= must be a single positive number (or None), not {show_given(Ntotal)}; "
                "population sizes per stratum (R's data-frame Ntotal) are not supported."
            )
        if not np.isfinite(Ntotal) or Ntotal <= 0:
            raise DesignError(f"Ntotal= must be a finite number > 0, not {show_given(Ntotal)}.")

    data = design.data
    n = len(data)
    key = np.zeros(n, dtype=np.int64)
    missing = np.zeros(n, dtype=bool)
    level_list = []
    size = 1
    for c in cols:
        levels, codes = _levels_and_codes(data[c])
        check_factor_levels(c, data[c], len(levels), max_levels, "table()")
        missing |= codes < 0
        key += np.where(codes < 0, 0, codes) * size
        level_list.append(levels)
        size *= len(levels)

    w = np.asarray(design.weights, dtype=float)
    inside = w > 0
    used = inside & ~missing
    if not used.any():
        raise EstimationError(
            f"no rows to tabulate: every row of the subset has a missing value in "
            f"{', '.join(map(repr, cols))}."
        )
    if round:
        # counts that are exactly halfway in decimals (weights such as 12.25) must round as R's
        # do: R sums in extended precision, close to the correctly rounded sum math.fsum gives,
        # while a double-precision running sum can land one unit in the last place above or
        # below the half and round the other way
        counts = _exact_cell_sums(key[used], w[used], size)
    else:
        counts = np.bincount(key[used], weights=w[used], minlength=size)

    if Ntotal is not None:
        total = math.fsum(counts)
        if not total > 0:
            raise EstimationError("no weight left to rescale to Ntotal: every cell is 0.")
        counts = counts * (float(Ntotal) / total)
    if round:
        counts = np.round(counts)

    cells = np.arange(size)
    frame = {}
    for c, levels in zip(cols, level_list, strict=True):
        idx = cells % max(len(levels), 1)
        cells = cells // max(len(levels), 1)
        values = [levels[i] for i in idx]
        s = data[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            frame[c] = pd.Categorical(values, categories=s.cat.categories, ordered=s.cat.ordered)
        else:
            frame[c] = pd.Series(values, dtype=s.dtype if len(values) else object)
    out = pd.DataFrame(frame)
    out["n"] = counts
    out.attrs["n_missing"] = int((inside & missing).sum())
    out.attrs["n_rows"] = int(used.sum())
    extra = "" if Ntotal is None else f", Ntotal = {Ntotal:g}"
    extra += ", round = TRUE" if round else ""
    out.attrs["r_call"] = f"svytable(~{' + '.join(map(str, cols))}, design{extra})"
    return out
