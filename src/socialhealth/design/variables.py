"""Turn analysis variables into numeric columns, as R's model frames do.

A numeric column stays one column; a boolean becomes 0/1; a categorical, string or object column
becomes one 0/1 indicator per level (R's ``svymean(~factor)`` gives the proportion in each level).
Missing values stay NaN in every indicator so that the row is left out (``na.rm = TRUE``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from socialhealth.design.structure import as_list, require_columns
from socialhealth.errors import EstimationError


@dataclass
class AnalysisMatrix:
    """Analysis variables as numeric columns (R model-frame style).

    Attributes
    ----------
    values : (n, k) float array, NaN where missing; a categorical variable contributes one 0/1
        indicator column per level.
    terms : variable name of each column.
    levels : level of each column (``None`` for numeric variables).
    complete : (n,) bool, rows with no missing analysis variable.
    """
    values: np.ndarray           # n x k float, NaN where missing
    terms: list[str]             # variable of each column
    levels: list[object]         # level of each column (None for numeric)
    complete: np.ndarray         # rows with no missing analysis variable
    all_finite: bool = False     # True: known to hold no NaN and no infinity (checked)

    @property
    def any_categorical(self) -> bool:
        """True if any column is the indicator of a categorical level."""
        return any(lv is not None for lv in self.levels)


def is_categorical(s: pd.Series) -> bool:
    """True for categorical, object and string columns (analysed as one indicator per level).

    Examples
    --------
    >>> import pandas as pd
    >>> is_categorical(pd.Series(["a", "b"])), is_categorical(pd.Series([1.0, 2.0]))
    (True, False)
    """
    if pd.api.types.is_object_dtype(s) and _object_numbers(s) is not None:
        return False                      # numbers (with None/NaN) held in an object column
    return bool(
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s)
        or pd.api.types.is_string_dtype(s)
    )


def _object_numbers(s: pd.Series) -> np.ndarray | None:
    """An object column whose non-missing values are all real numbers (not bool, not text) as a
    float array; ``None`` otherwise. pandas makes such columns from lists with ``None`` or after
    row-wise edits; R would hold them as a numeric vector with NA."""
    vals = s.dropna().to_numpy()
    if len(vals) == 0:
        return None
    import numbers

    if all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in vals):
        return s.to_numpy(dtype=float, na_value=np.nan)
    return None


def categorical_levels(s: pd.Series) -> list:
    """Levels of a categorical column: the categories in order, else sorted observed values.

    Examples
    --------
    >>> import pandas as pd
    >>> categorical_levels(pd.Series(["b", "a", None, "b"]))
    ['a', 'b']
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        return list(s.cat.categories)
    return sorted(pd.unique(s.dropna()), key=lambda v: (str(type(v)), v))


def analysis_matrix(data: pd.DataFrame, variables,
                    where: str = "the design data") -> AnalysisMatrix:
    """Numeric analysis columns of ``variables`` (R ``model.frame`` of ``~x + y``).

    A numeric column stays one column, a boolean becomes 0/1, a categorical/string column becomes
    one 0/1 indicator per level (so its mean is the proportion in each level, as R
    ``svymean(~factor)``); a missing value is NaN in every indicator of the row.

    Examples
    --------
    >>> import pandas as pd
    >>> m = analysis_matrix(pd.DataFrame({"g": ["a", "b", "a"], "x": [1.0, None, 3.0]}), ["g", "x"])
    >>> m.terms, m.levels, m.complete.tolist()
    (['g', 'g', 'x'], ['a', 'b', None], [True, False, True])
    """
    cols = as_list(variables)
    if not cols:
        raise EstimationError("name at least one variable to estimate.")
    require_columns(data, cols, where)
    blocks: list[np.ndarray] = []
    terms: list[str] = []
    levels: list = []
    n = len(data)
    for c in cols:
        s = data[c]
        if pd.api.types.is_object_dtype(s) and not is_categorical(s):
            s = pd.Series(_object_numbers(s), index=s.index, name=c)
        if pd.api.types.is_bool_dtype(s) or (pd.api.types.is_numeric_dtype(s)
                                             and not isinstance(s.dtype, pd.CategoricalDtype)):
            blocks.append(s.to_numpy(dtype=float, na_value=np.nan).reshape(n, 1))
            terms.append(str(c))
            levels.append(None)
        elif is_categorical(s):
            lv = categorical_levels(s)
            if isinstance(s.dtype, pd.CategoricalDtype):
                codes = s.cat.codes.to_numpy()
                missing = codes < 0
            else:
                mapping = {v: i for i, v in enumerate(lv)}
                codes = s.map(mapping).to_numpy(dtype=float, na_value=np.nan)
                missing = np.isnan(codes)
                codes = np.where(missing, -1, codes).astype(np.int64)
            ind = (codes[:, None] == np.arange(len(lv))[None, :]).astype(float)
            ind[missing] = np.nan
            blocks.append(ind)
            terms.extend([str(c)] * len(lv))
            levels.extend(lv)
        else:
            raise EstimationError(
                f"column {c!r} has dtype {s.dtype}, which cannot be averaged; convert it to a "
                "number, a boolean or a category."
            )
    if len(blocks) == 1:
        # one block: used as it is (a float column's values are a read-only view of the
        # frame; nothing downstream writes into the analysis values)
        values = blocks[0]
    else:
        values = np.hstack(blocks) if blocks else np.empty((n, 0))
    if values.shape[1] == 1:
        # one pass for the usual case (no missing, no infinite value): then every row is complete
        finite = np.isfinite(values[:, 0])
        if finite.all():
            return AnalysisMatrix(values, terms, levels, finite, all_finite=True)
        complete = ~np.isnan(values[:, 0])
    else:
        complete = np.asarray(~np.isnan(values).any(axis=1))
    return AnalysisMatrix(values, terms, levels, complete)


@dataclass
class Domains:
    """Domains (subpopulations) of a ``by=`` argument, R ``svyby`` order.

    Attributes
    ----------
    codes : (n,) int, domain of each row; -1 when a by-value is missing (the row is in no domain).
    table : one row per domain with the by-variable values (first variable varying fastest).
    n_domains : number of observed domains.
    """
    codes: np.ndarray            # domain of each row, -1 when outside every domain (missing by)
    table: pd.DataFrame          # one row per domain: the by-variable values
    n_domains: int


def subset_domains(data: pd.DataFrame, inside: np.ndarray, by) -> tuple[np.ndarray, int,
                                                                        pd.DataFrame | None]:
    """Domain codes of every row (-1 outside the subset ``inside`` or any domain), the number of
    domains and their table, counting only domains observed among the subset's rows (as R's
    ``svyby`` on a subset design). Without ``by`` the whole subset is one domain (table None).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> df = pd.DataFrame({"stype": ["E", "H", "M", "H", "E"]})
    >>> inside = np.array([True, True, False, True, True])        # e.g. design.in_subset
    >>> codes, D, table = subset_domains(df, inside, "stype")
    >>> codes.tolist(), D, table["stype"].tolist()
    ([0, 1, -1, 1, 0], 2, ['E', 'H'])
    """
    if not as_list(by):
        return np.where(inside, 0, -1), 1, None
    dom = domains(data.loc[inside] if not inside.all() else data, by)
    codes = np.full(len(data), -1, dtype=np.int64)
    codes[inside] = dom.codes
    return codes, dom.n_domains, dom.table


def _sorted_codes(s: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(s, sort=True)``: codes (int64, -1 where missing) and the sorted levels.

    A column of numpy integers whose values span a short range (e.g. codes 1-5) is coded by
    counting: the codes are the values minus the smallest when every value in between is
    observed, else a look-up of each value's rank (one pass each, no hashing; about 4 times
    faster than factorize at 1M rows). Anything else goes through ``pd.factorize``."""
    x = s.to_numpy() if isinstance(s.dtype, np.dtype) and s.dtype.kind in "iu" else None
    if x is not None and len(x):
        lo, hi = int(x.min()), int(x.max())
        # (unsigned values above the largest int64 are left to factorize: lo must be an int64)
        if hi - lo < min(len(x), 1 << 16) and hi < 1 << 63:
            shifted = None
            if 0 <= lo and hi < 1 << 16:
                counts = np.bincount(x, minlength=hi + 1)[lo:]
            else:
                shifted = x.astype(np.int64) - lo
                counts = np.bincount(shifted)
            present = counts > 0
            levels = (np.flatnonzero(present) + lo).astype(x.dtype)
            if shifted is None:
                shifted = x.astype(np.int64, copy=False) - lo
            codes = shifted if present.all() else (np.cumsum(present) - 1)[shifted]
            return codes, pd.Index(levels)
    codes, uniq = pd.factorize(s, sort=True)
    return codes, uniq


def domains(data: pd.DataFrame, by, where: str = "the design data") -> Domains:
    """Domains from one or several by-variables (R ``svyby``): every observed combination.

    Rows are sorted with the first by-variable varying fastest, as R's ``svyby`` orders them.
    Rows with a missing by-value belong to no domain.

    Examples
    --------
    >>> import pandas as pd
    >>> dm = domains(pd.DataFrame({"sex": ["f", "m", "f"], "age": [1, 1, 2]}), ["sex", "age"])
    >>> dm.table.values.tolist(), dm.codes.tolist()
    ([['f', 1], ['m', 1], ['f', 2]], [0, 1, 2])

    In R: ``svyby(~y, ~sex + age, design, svymean)`` row order.
    """
    cols = as_list(by)
    require_columns(data, cols, where)
    code_list, level_list = [], []
    missing = np.zeros(len(data), dtype=bool)
    for c in cols:
        s = data[c]
        if isinstance(s.dtype, pd.CategoricalDtype):
            codes = s.cat.codes.to_numpy().astype(np.int64)
            lv = list(s.cat.categories)
        else:
            codes, uniq = _sorted_codes(s)
            lv = list(uniq)
        missing |= codes < 0
        code_list.append(codes)
        level_list.append(lv)
    # combined key, first variable fastest (R order)
    any_missing = bool(missing.any())
    if len(code_list) == 1:
        key = np.asarray(code_list[0], dtype=np.int64)        # -1 where missing already
        mult = max(len(level_list[0]), 1)
    else:
        key = np.zeros(len(data), dtype=np.int64)
        mult = 1
        for codes, lv in zip(code_list, level_list, strict=True):
            key = key + np.where(codes < 0, 0, codes) * mult
            mult *= max(len(lv), 1)
        if any_missing:
            key = np.where(missing, -1, key)
    inside = key[key >= 0] if any_missing else key
    if len(code_list) == 1 and not isinstance(data[cols[0]].dtype, pd.CategoricalDtype):
        present = np.arange(len(level_list[0]))   # factorized: every level is observed
    elif mult <= max(4 * len(data), 1 << 20):
        # observed combinations by counting (no sort of the rows)
        present = np.flatnonzero(np.bincount(inside, minlength=mult))
    else:
        present = np.unique(inside)
    if len(present) == mult:
        dom = key                          # every combination observed: the key is the code
    else:
        remap = np.full(mult, -1, dtype=np.int64)
        remap[present] = np.arange(len(present))
        dom = np.where(key >= 0, remap[np.clip(key, 0, None)], -1) if any_missing \
            else remap[key]
    rows = {}
    rem = present.copy()
    for c, lv in zip(cols, level_list, strict=True):
        idx = rem % max(len(lv), 1)
        rem = rem // max(len(lv), 1)
        values = [lv[i] for i in idx]
        if isinstance(data[c].dtype, pd.CategoricalDtype):
            rows[c] = pd.Categorical(values, categories=data[c].cat.categories,
                                     ordered=data[c].cat.ordered)
        else:
            rows[c] = values
    return Domains(dom, pd.DataFrame(rows), len(present))
