"""Turn socialhealth results (anything with ``.to_frame()``) into the tidy frame a plot needs.

Estimate tables have the columns ``[by columns...], term, level, estimate, se, ci_low,
ci_high, df``; the *by columns* are the ones before ``term``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from socialhealth._text import show_given, show_list
from socialhealth.errors import PlotError


def as_frame(data, exponentiate: bool = False) -> pd.DataFrame:
    """A copy of ``data`` as a DataFrame: a DataFrame, or a result with ``to_frame()``.

    With ``exponentiate=True`` a model result is asked for ``to_frame(exponentiate=True)``
    (odds / hazard ratios).
    """
    if isinstance(data, pd.DataFrame):
        return data.copy()
    to_frame = getattr(data, "to_frame", None)
    if to_frame is None:
        raise PlotError(
            f"cannot plot an object of type {type(data).__name__}: pass a socialhealth result "
            "(an estimate or model with .to_frame()) or a pandas DataFrame."
        )
    if exponentiate and _accepts(to_frame, "exponentiate"):
        return to_frame(exponentiate=True).copy()
    return to_frame().copy()


def _accepts(func, name: str) -> bool:
    """Whether ``func`` takes a keyword argument ``name`` (without calling it)."""
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def require(frame: pd.DataFrame, columns: Sequence[str | None], what: str) -> None:
    """Raise :class:`~socialhealth.errors.PlotError` naming the absent ``columns`` of ``frame``.

    ``None`` entries are ignored (optional columns); the message lists the columns present.
    An entry that is not one column name (a list, a dict, a Series) is refused: each of these
    arguments names one column.
    """
    for c in columns:
        if c is not None and not isinstance(c, (str, int, np.integer)):
            raise PlotError(
                f"{what}: each column argument (x=, by=, estimate=, ci_low=, ...) takes one "
                f"column name of the data, not {show_given(c)}; the data has "
                f"{show_list(list(frame.columns), limit=12)}."
            )
    missing = [c for c in columns if c is not None and c not in frame.columns]
    if missing:
        raise PlotError(
            f"{what} needs column(s) {', '.join(map(repr, missing))}; the data has "
            f"{', '.join(map(str, frame.columns))}. Pass the column names as arguments "
            "(e.g. estimate=, ci_low=, ci_high=) or rename the columns."
        )


def needed(what: str, **columns) -> None:
    """Refuse None for a column argument the plot cannot do without (``estimate=``,
    ``ci_low=``, ...): pandas would look for a column named None.

    Examples
    --------
    >>> needed("forest()", estimate="estimate", ci_low="ci_low")   # no error
    """
    for arg, name in columns.items():
        if name is None:
            raise PlotError(f"{what} needs {arg}=, the name of a column of the data (default "
                            f"{arg!r}), not None.")


def by_columns(frame: pd.DataFrame) -> list[str]:
    """The grouping columns of an estimate table: those before ``term`` (none without ``term``).

    Examples
    --------
    >>> import pandas as pd
    >>> by_columns(pd.DataFrame(columns=["sex", "age_group", "term", "level", "estimate"]))
    ['sex', 'age_group']
    """
    cols = list(frame.columns)
    return cols[: cols.index("term")] if "term" in cols else []


def _one_level(value) -> bool:
    """True for a value that can be one level of a variable: text, a number (not NaN), True or
    False, a date; False for a list, a Series, a dict, NaN."""
    import datetime
    import numbers

    if isinstance(value, (str, bool, np.bool_, datetime.date)):     # (a Timestamp is a date)
        return True
    return isinstance(value, numbers.Number) and bool(value == value)      # (NaN != NaN)


def single_level(frame: pd.DataFrame, level=None, what: str = "this plot") -> pd.DataFrame:
    """Keep one ``level`` of a categorical estimate (rows with level ``None`` are kept as is).

    Raises :class:`~socialhealth.errors.PlotError` when several levels exist and none was
    chosen, or the chosen level was not estimated.

    Examples
    --------
    >>> import pandas as pd
    >>> f = pd.DataFrame({"term": ["x", "x"], "level": ["a", "b"], "estimate": [0.25, 0.75]})
    >>> single_level(f, "b")["estimate"].tolist()
    [0.75]
    """
    if level is not None and not _one_level(level):
        raise PlotError(f"{what}: level= takes one level of the estimated variable (text such "
                        f"as 'Often/always', or a number), not {show_given(level)}.")
    if "level" not in frame.columns or frame["level"].isna().all():
        return frame
    levels = list(dict.fromkeys(frame["level"].dropna().astype(str)))
    if level is None:
        if len(levels) == 1:
            return frame
        raise PlotError(
            f"{what} shows one level of a categorical variable, but the estimates have levels "
            f"{show_list(levels)}; pass level= (e.g. level={levels[-1]!r}) or use plot.likert() "
            "for the whole distribution."
        )
    if str(level) not in levels:
        raise PlotError(f"level {show_given(level)} is not among the estimated levels "
                        f"{show_list(levels)}.")
    return frame[frame["level"].astype(str) == str(level)]


def ordered_unique(values) -> list:
    """Unique values in order of first appearance (categorical order if categorical).

    Examples
    --------
    >>> ordered_unique(["b", "a", "b"])
    ['b', 'a']
    """
    s = pd.Series(values)
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s.dropna())
        return [c for c in s.cat.categories if c in present]
    return list(dict.fromkeys(s.dropna()))


def no_missing_groups(frame: pd.DataFrame, columns: Sequence[str | None], what: str) -> None:
    """Raise :class:`~socialhealth.errors.PlotError` when a grouping column has missing
    values (those rows would otherwise be left out of the figure without a word)."""
    for c in columns:
        if c is not None and c in frame.columns and frame[c].isna().any():
            n = int(frame[c].isna().sum())
            raise PlotError(f"{what}: {n} row(s) have a missing value of the grouping column "
                            f"{c!r} and cannot be placed; fill it (e.g. 'Missing') or drop "
                            "those rows first.")


def no_duplicates(frame: pd.DataFrame, columns: Sequence[str | None], what: str) -> None:
    """Raise :class:`~socialhealth.errors.PlotError` when two rows share the same position
    (the same values of ``columns``): one would be drawn over the other."""
    cols = [c for c in columns if c is not None]
    dup = frame.duplicated(subset=cols, keep=False)
    if dup.any():
        rows = frame.loc[dup, cols].drop_duplicates().to_dict("records")
        raise PlotError(f"{what}: several rows share {rows[:3]} and would be drawn on top of "
                        "each other; subset the table or pass the column that tells them apart "
                        "(by=).")
