"""The harmonised schema (``schema.toml``): column kinds, levels, and typed empty columns."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover
    import tomli as tomllib


@lru_cache(maxsize=None)
def schema() -> dict[str, dict]:
    """``{column: {"kind": ..., "levels": [...], "group": ...}}`` in schema order."""
    text = resources.files("socialhealth.datasets").joinpath("schema.toml").read_text("utf-8")
    return tomllib.loads(text)["columns"]


DESIGN_COLUMNS = ("respondent_id", "survey", "wave", "year", "country", "weight", "strata", "psu")


def concept_columns() -> list[str]:
    """Schema columns other than the survey/design ones (the concepts a codebook documents)."""
    return [c for c in schema() if c not in DESIGN_COLUMNS]


def boolean(true: np.ndarray, known: np.ndarray) -> pd.arrays.BooleanArray:
    """Nullable boolean from a True mask and a known (non-missing) mask, without a Python loop."""
    return pd.arrays.BooleanArray(np.asarray(true, bool) & np.asarray(known, bool),
                                  ~np.asarray(known, bool))


def typed(column: str, values, n: int, levels: list[str] | None = None) -> pd.Series | pd.Categorical:
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
    return pd.Categorical(values, categories=lv, ordered=(kind == "ordered"))
