"""The harmonised schema (``schema.toml``): column kinds, levels, and typed empty columns."""
from __future__ import annotations

import sys
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.errors import DatasetError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


@lru_cache(maxsize=None)
def schema() -> dict[str, dict]:
    """``{column: {"kind": ..., "levels": [...], "group": ...}}`` in schema order."""
    text = resources.files("socialhealth.datasets").joinpath("schema.toml").read_text("utf-8")
    return tomllib.loads(text)["columns"]


AGE_EDGES = (25, 35, 45, 55, 65, 75)   # common lower bounds of the age bands after the youngest
MIN_AGE_FIELD = "{min_age}"             # placeholder of the youngest band in schema.toml


def age_group_levels(min_age: int) -> list[str]:
    """The ``age_group`` levels of a survey whose population starts at ``min_age``.

    The youngest band runs from the survey's minimum age to the next common edge; the bands
    ``25-34`` ... ``65-74`` and ``75+`` are common to every survey (bands wholly below the
    minimum age are left out), so cross-survey comparisons keep working.

    Parameters
    ----------
    min_age : int
        The survey population's minimum age (codebook ``[population] min_age``).

    Returns
    -------
    list of str
        Ordered band labels, youngest first.

    Examples
    --------
    >>> from socialhealth.datasets._schema import age_group_levels
    >>> age_group_levels(15)[:2]
    ['15-24', '25-34']
    >>> age_group_levels(50)
    ['50-54', '55-64', '65-74', '75+']
    """
    if isinstance(min_age, bool) or not isinstance(min_age, (int, np.integer)) \
            or not 0 <= min_age <= 120:
        raise DatasetError(f"min_age must be a whole number of years between 0 and 120, not "
                           f"{show_given(min_age)}.")
    m = int(min_age)
    edges = [e for e in AGE_EDGES if e > m]
    if not edges:
        return [f"{m}+"]
    out = [f"{m}-{edges[0] - 1}"]
    for lo, hi in zip(edges, edges[1:], strict=False):
        out.append(f"{lo}-{hi - 1}")
    out.append(f"{edges[-1]}+")
    return out


def age_band_bounds(label: str) -> tuple[float, float]:
    """``(lowest, highest)`` age of an ``age_group`` label: ``"18-24"`` -> (18, 24), ``"75+"``
    -> (75, inf).

    Examples
    --------
    >>> from socialhealth.datasets._schema import age_band_bounds
    >>> age_band_bounds("15-24"), age_band_bounds("75+")
    ((15.0, 24.0), (75.0, inf))
    """
    text = str(label)
    if text.endswith("+"):
        return float(text[:-1]), float("inf")
    lo, hi = text.split("-")
    return float(lo), float(hi)


DESIGN_COLUMNS = ("respondent_id", "survey", "wave", "year", "country", "weight", "strata", "psu")


def concept_columns() -> list[str]:
    """Schema columns other than the survey/design ones (the concepts a codebook documents)."""
    return [c for c in schema() if c not in DESIGN_COLUMNS]


def boolean(true: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    """Nullable boolean from a True mask and a known (non-missing) mask, without a Python loop."""
    return pd.arrays.BooleanArray(np.asarray(true, bool) & np.asarray(known, bool),
                                  ~np.asarray(known, bool))


def typed(column: str, values, n: int,
          levels: list[str] | None = None) -> pd.Series | pd.Categorical:
    """Cast ``values`` (or all-missing when None) to the schema type of ``column``."""
    spec = schema()[column]
    kind = spec["kind"]
    if values is None:
        if kind == "bool":
            return pd.arrays.BooleanArray(np.zeros(n, bool), np.ones(n, bool))
        if kind == "int":
            return pd.arrays.IntegerArray(np.zeros(n, np.int64), np.ones(n, bool))
        values = [pd.NA] * n if kind not in ("float",) else np.full(n, np.nan)
    if kind == "string":
        return pd.array(values, dtype="string")
    if kind == "int":
        return pd.array(pd.to_numeric(pd.Series(values), errors="coerce").round(), dtype="Int64") \
            if not isinstance(values, list) else pd.array(values, dtype="Int64")
    if kind == "float":
        return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype="float64")
    if kind == "bool":
        return pd.array(values, dtype="boolean")
    lv = levels if levels is not None else spec.get("levels", [])
    if any(MIN_AGE_FIELD in str(v) for v in lv):
        raise DatasetError(f"the levels of {column} depend on the survey's minimum age: call it "
                           f"with "
                           "levels=age_group_levels(min_age).")
    return pd.Categorical(values, categories=lv, ordered=(kind == "ordered"))
