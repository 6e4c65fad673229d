"""Model matrices from R/statsmodels-style formulas, for survey regression.

``"api00 ~ ell + meals + C(stype)"`` is turned into a response vector and a design matrix on
the rows that a survey model uses (rows inside the design's subset with no missing model
variable). The syntax is that of `formulaic <https://matthewwardrop.github.io/formulaic/>`_,
which follows patsy/statsmodels:

* ``C(x)``: categorical with treatment (dummy) contrasts; the reference is the first level in
  sorted order (R's factor default) or the first category of a pandas ``Categorical``;
  ``C(x, contr.treatment("b"))`` or ``C(x, Treatment(reference="b"))`` choose the reference.
  A string/object column used without ``C()`` is categorical too (an R factor).
* ``factor(x)`` is accepted as R's spelling of ``C(x)``.
* ``I(x >= 4)`` evaluates a Python expression (a boolean gives 0/1); ``np.log(x)`` etc. work.
* ``a:b`` interaction, ``a*b`` main effects plus interaction, ``- 1`` / ``0 +`` no intercept.
* Column names that are not Python identifiers are quoted with backticks: ```sch.wide```.
* A boolean response is 0/1 (R's logical response).
* ``offset(expr)`` terms (R) are taken out of the formula by :func:`split_offsets` and added to
  the linear predictor by the GLM (``"y ~ x + offset(log(n))"``).

Column names are checked before formulaic sees the formula, so a typo raises
:class:`~socialhealth.errors.FormulaError` (or :class:`~socialhealth.errors.MissingColumnError`)
naming the column. Formulas that are a plain sum of numeric columns are built directly with
numpy (no formula machinery), which matters for million-row surveys.

In R: ``model.frame`` / ``model.matrix`` with ``na.action = na.omit``.
"""
from __future__ import annotations

import functools
import re
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth.errors import FormulaError
from socialhealth.design.variables import is_categorical

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*$")
_BACKTICK = re.compile(r"`([^`]+)`")
_FACTOR = re.compile(r"(?<![A-Za-z_0-9.])factor\(")
_QUOTED = re.compile(r"(['\"]).*?\1")


@dataclass
class ModelFrame:
    """Response, design matrix and bookkeeping of a model formula on a data frame.

    Attributes
    ----------
    y : (m,) float response on the rows used.
    X : (m, p) float design matrix on the rows used (Fortran order). A Taylor-design GLM
        reuses its memory for the score contributions (``release_X``); accessing ``X``
        afterwards rebuilds it from the data.
    rows : (m,) integer positions (into the data) of the rows used.
    columns : coefficient names (``Intercept``, ``x``, ``C(g)[T.b]``, ``x:C(g)[T.b]`` ...).
    terms : term label -> positions of its columns (``{"C(g)": [2, 3]}``).
    term_variables : term label -> data columns the term uses.
    n_missing : rows of the subset left out because a model variable was missing.
    formula : the formula as given (after ``factor(`` -> ``C(`` rewriting).
    response : label of the response.
    """

    y: np.ndarray
    X_data: np.ndarray | None
    rows: np.ndarray
    columns: list[str]
    terms: dict[str, list[int]]
    term_variables: dict[str, set]
    n_missing: int
    formula: str
    response: str
    variables: list[str]
    _rhs_builder: Callable[[pd.DataFrame], tuple[np.ndarray, np.ndarray]] | None = field(
        repr=False, default=None)
    _data: pd.DataFrame | None = field(repr=False, default=None)

    @property
    def X(self) -> np.ndarray:
        """(m, p) design matrix of the rows used (rebuilt from the data if it was released)."""
        if self.X_data is None:
            if self._rhs_builder is None or self._data is None:
                raise FormulaError(f"the design matrix of {self.formula!r} was released and "
                                   "cannot be rebuilt (no data kept); build it again.")
            Xn, _ = self._rhs_builder(self._data.iloc[self.rows])
            self.X_data = np.asfortranarray(Xn, dtype=float)
        return self.X_data

    def release_X(self) -> None:
        """Drop the stored design matrix (it is rebuilt on the next access of ``X``)."""
        self.X_data = None

    @property
    def has_intercept(self) -> bool:
        """True when the design matrix has an ``Intercept`` column (no ``- 1`` / ``0 +``)."""
        return "Intercept" in self.columns

    def rhs_matrix(self, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Design matrix for new data (same columns and categorical levels as the fit).

        Returns ``(X, ok)``: ``X`` has one row per row of ``data`` (NaN rows where a covariate
        is missing) and ``ok`` marks the complete rows.
        """
        if self._rhs_builder is None:
            raise FormulaError(f"the model frame of {self.formula!r} keeps no builder for new "
                               "data; refit the model.")
        return self._rhs_builder(data)


def split_top_level(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` outside brackets, each part stripped (``"a, f(b, c)"`` ->
    ``["a", "f(b, c)"]``)."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(ch, 0)
        if ch == sep and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    parts.append(cur.strip())
    return parts

def normalise_formula(formula: str) -> str:
    """Rewrite R spellings formulaic does not know (``factor(x)`` -> ``C(x)``)."""
    if not isinstance(formula, str):
        raise FormulaError(f"the formula must be a string such as 'y ~ x + C(g)', not "
                           f"{type(formula).__name__}.")
    if formula.rstrip().endswith("~"):
        raise FormulaError(
            f"the formula {formula!r} has nothing on the right of '~'; write 'y ~ 1' for an "
            "intercept-only model or list the predictors, e.g. 'y ~ x + C(g)'."
        )
    return _FACTOR.sub("C(", formula.strip())


_R_NAME_WITH_DOT = re.compile(r"^[A-Za-z.][A-Za-z0-9._]*$")


def quote_dotted_names(formula: str, columns) -> str:
    """Backtick-quote column names with dots (R names such as ``sch.wide``) in a formula.

    R formulas use such names bare; in the Python formula syntax ``sch.wide`` would be an
    attribute lookup, so every bare occurrence of a data column whose name contains a dot is
    quoted. Names already in backticks are left alone.

    Examples
    --------
    >>> quote_dotted_names("api00 ~ sch.wide + ell", ["api00", "sch.wide", "ell"])
    'api00 ~ `sch.wide` + ell'
    """
    names = sorted((str(c) for c in columns if "." in str(c) and _R_NAME_WITH_DOT.match(str(c))),
                   key=len, reverse=True)
    if not names:
        return formula
    pattern = re.compile(
        r"(?<![A-Za-z0-9_.])(" + "|".join(map(re.escape, names)) + r")(?![A-Za-z0-9_.(])"
    )
    pieces = formula.split("`")
    for i in range(0, len(pieces), 2):            # even pieces are outside backticks
        pieces[i] = pattern.sub(lambda m: f"`{m.group(1)}`", pieces[i])
    return "`".join(pieces)


def split_offsets(formula: str) -> tuple[str, list[str]]:
    """Remove R-style ``offset(expr)`` terms from a formula's right-hand side.

    Returns the formula without them and the list of ``expr`` strings (evaluated later on the
    data, on the link scale). ``"y ~ x + offset(log(n))"`` -> ``("y ~ x", ["log(n)"])``.

    In R: ``glm(y ~ x + offset(log(n)), ...)``.
    """
    exprs = []
    out = formula
    while True:
        m = re.search(r"(?<![A-Za-z_0-9.])offset\(", out)
        if m is None:
            break
        depth, j = 1, m.end()
        while j < len(out) and depth:
            depth += {"(": 1, ")": -1}.get(out[j], 0)
            j += 1
        if depth:
            raise FormulaError(f"unbalanced parentheses in the offset term of {formula!r}.")
        exprs.append(out[m.end():j - 1].strip())
        start, end = m.start(), j
        before = out[:start].rstrip()
        if before.endswith("+"):
            before = before[:-1].rstrip()
            out = before + out[end:]
        else:
            after = out[end:].lstrip()
            if after.startswith("+"):
                after = after[1:].lstrip()
            out = before + (" " if before.endswith("~") else "") + after
    if out.rstrip().endswith("~"):
        out = out.rstrip() + " 1"
    return out, exprs


def binomial_counts(formula: str, data: pd.DataFrame):
    """Split an R binomial-count response ``cbind(successes, failures) ~ rhs``.

    Returns None when the response is not ``cbind(...)``; otherwise ``(formula, successes,
    trials)`` with the formula's response replaced by the successes expression (so the model
    frame drops rows where it is missing) and the successes and trials (successes + failures)
    evaluated on every row of ``data`` (NaN where missing).

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"s": [1, 2], "f": [3, 0], "x": [0.5, 1.0]})
    >>> f, succ, n = binomial_counts("cbind(s, f) ~ x", df)
    >>> f, succ.tolist(), n.tolist()
    ('s ~ x', [1.0, 2.0], [4.0, 2.0])

    In R: ``glm(cbind(s, f) ~ x, family = binomial)``.
    """
    lhs, tilde, rhs = formula.partition("~")
    lhs = lhs.strip()
    if not tilde or not re.match(r"^cbind\(.*\)$", lhs):
        return None
    parts = split_top_level(lhs[len("cbind("):-1], ",")
    if len(parts) != 2 or not all(parts):
        raise FormulaError(
            f"the response {lhs!r} must be cbind(successes, failures) with two expressions "
            "(R's binomial-count response), e.g. 'cbind(s, n - s) ~ x'."
        )
    succ = evaluate_offset(parts[0], data)
    fail = evaluate_offset(parts[1], data)
    bad = (succ < 0) | (fail < 0)
    if np.any(bad):
        raise FormulaError(
            f"cbind({parts[0]}, {parts[1]}): {int(np.sum(bad))} row(s) have a negative count of "
            "successes or failures; both must be >= 0."
        )
    return (f"I({parts[0]}) ~ {rhs.strip()}" if not _IDENT.match(parts[0])
            else f"{parts[0]} ~ {rhs.strip()}"), succ, succ + fail


@functools.lru_cache(maxsize=512)
def _parsed(formula: str):
    """formulaic's ``Formula`` of ``formula``, parsed once per string and kept: parsing is about
    a third of the time of building a small model matrix, and fits, margins and replicate refits
    rebuild the same formulas many times. (A Formula is not changed by using it.)"""
    from formulaic import Formula

    return Formula(formula)


def evaluate_offset(expr: str, data: pd.DataFrame) -> np.ndarray:
    """Values of an offset expression (``"log(n)"``, ``"np.log(n)"``, ``"n"``) for every row
    of ``data`` (NaN where it is missing)."""
    from formulaic import model_matrix

    variables = formula_variables(f"I({expr}) ~ 1", data)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            mm = model_matrix(_parsed(f"I({expr}) ~ 1"), data[variables], na_action="ignore")
    except Exception as exc:
        raise FormulaError(f"cannot evaluate offset({expr}): {type(exc).__name__}: {exc}") from None
    return np.asarray(mm.lhs.to_numpy(), dtype=float).ravel()


def formula_variables(formula: str, data: pd.DataFrame) -> list[str]:
    """Data columns a formula uses; raises FormulaError naming columns not in ``data``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"y": [1.0, 2.0], "x": [0.5, 1.5], "g": ["a", "b"], "z": [0, 1]})
    >>> formula_variables("y ~ x + C(g)", df)           # in the order of the data columns
    ['y', 'x', 'g']
    """
    placeholders: dict[str, str] = {}

    def repl(m):
        key = f"_sh_bt{len(placeholders)}_"
        placeholders[key] = m.group(1)
        return key

    formula = quote_dotted_names(formula, data.columns)
    quoted = _BACKTICK.findall(formula)
    masked = _BACKTICK.sub(repl, formula)
    if "~" not in masked:
        raise FormulaError(
            f"the formula {formula!r} has no '~': write the response on the left, e.g. 'y ~ x + "
            f"C(g)'."
        )
    try:
        required = set(_parsed(masked).required_variables)
    except Exception as exc:  # formulaic's parser errors carry no useful type
        raise FormulaError(f"cannot parse the formula {formula!r}: {exc}") from None
    required -= set(placeholders)
    columns = set(map(str, data.columns))
    # formulaic leaves out names of its own transforms (cc, cr, bs, center, ...) even where a
    # column of that name is meant: add every bare name (not a call, not in quotes) that is a column
    bare = _QUOTED.sub("", masked)
    for m in re.finditer(r"[A-Za-z_][A-Za-z_0-9.]*", bare):
        rest = bare[m.end():].lstrip()
        if m.group(0) in columns and not rest.startswith("(") and (m.start() == 0
                                                                   or bare[m.start() - 1] != "."):
            required.add(m.group(0))
    unknown = sorted(v for v in required if v not in columns)
    unknown += [q for q in quoted if q not in columns]
    if unknown:
        import difflib

        hints = []
        for u in unknown:
            close = difflib.get_close_matches(u, list(columns), n=3)
            if close:
                hints.append(f"{u!r}: did you mean {', '.join(map(repr, close))}?")
        raise FormulaError(
            f"the formula {formula!r} uses {', '.join(map(repr, unknown))}, not found among the "
            f"columns of the design data. {' '.join(hints)} Check the spelling, quote names "
            "that are not Python identifiers with backticks (`sch.wide`), or add the column "
            "with design.assign(...)."
        )
    used = [c for c in data.columns if str(c) in required or str(c) in quoted]
    return used


def additive_terms(formula: str, what: str = "formula") -> tuple[bool, list[str], list[str]]:
    """The intercept and terms of an additive right-hand side: ``(intercept, added, removed)``.

    The text after ``~`` (all of it when there is none) is split at the ``+`` and ``-`` signs
    outside brackets, quotes and backticks; each term is stripped. ``1`` keeps the intercept,
    ``0`` or ``-1`` drops it (the last such term decides); other terms after ``-`` are listed
    in ``removed``. An empty right-hand side is the intercept alone. Used for plain sums of
    columns (the GLM's fast path, calibration formulas); anything else goes to formulaic.

    Parameters
    ----------
    formula : str
        ``"~ a + C(b) - 1"``, ``"y ~ a + b"`` (the response is ignored) or ``"a + b"``.
    what : str
        What the formula is, for the error message (``"calibration formula"``).

    Returns
    -------
    tuple
        ``(intercept, added, removed)``.

    Raises
    ------
    FormulaError
        A ``+`` or ``-`` with no term after it.

    Examples
    --------
    >>> additive_terms("~ a + C(b, contr.treatment('x-y')) - 1")
    (False, ['a', "C(b, contr.treatment('x-y'))"], [])
    >>> additive_terms("y ~ 0 + a - b")
    (False, ['a'], ['b'])

    In R: ``attr(terms(~ a + b - 1), "term.labels")`` and ``attr(..., "intercept")``.
    """
    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    if not rhs.strip():
        return True, [], []
    pieces: list[tuple[str, str]] = []
    sign, cur, depth, quote = "+", "", 0, ""
    for ch in rhs:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch in "+-" and depth == 0:
            if cur.strip() or pieces or sign != "+":
                pieces.append((sign, cur.strip()))
            sign, cur = ch, ""
            continue
        cur += ch
    pieces.append((sign, cur.strip()))
    intercept, added, removed = True, [], []
    for sign, term in pieces:
        if not term:
            raise FormulaError(
                f"cannot parse the {what} {formula!r}: a '{sign}' has no term after it; write "
                "e.g. '~ stype + enroll'.")
        if term in ("0", "1"):
            intercept = not (term == "0" or sign == "-")
        elif sign == "-":
            removed.append(term)
        else:
            added.append(term)
    return intercept, added, removed


def _plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """pandas extension dtypes as plain NumPy ones, which formulaic understands.

    Nullable ``string`` becomes object (an R factor, like any text column), nullable
    ``boolean`` becomes bool and ``Int64``/``Float64`` become float. Rows with missing model
    variables are already excluded here, so nothing is lost.
    """
    out = {}
    for c in frame.columns:
        s = frame[c]
        if pd.api.types.is_object_dtype(s):
            from socialhealth.design.variables import _object_numbers

            nums = _object_numbers(s)
            if nums is not None:          # numbers held in an object column: numeric, as in R
                out[c] = nums
            continue
        if isinstance(s.dtype, pd.CategoricalDtype) or isinstance(s.dtype, np.dtype):
            continue
        if pd.api.types.is_bool_dtype(s):
            out[c] = s.to_numpy(dtype=bool)
        elif pd.api.types.is_numeric_dtype(s):
            out[c] = s.to_numpy(dtype=float, na_value=np.nan)
        elif pd.api.types.is_string_dtype(s):
            out[c] = s.to_numpy(dtype=object)
    return frame.assign(**out) if out else frame


def _is_plain_numeric(s: pd.Series) -> bool:
    return bool(
        (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s))
        and not isinstance(s.dtype, pd.CategoricalDtype)
    )


def _simple_terms(formula: str, data: pd.DataFrame):
    """(response, [terms], intercept) when the formula is ``y ~ a + b + ...`` of numeric columns."""
    lhs, _, rhs = formula.partition("~")
    lhs = lhs.strip()
    try:
        intercept, names, removed = additive_terms(rhs)
    except FormulaError:
        return None
    if removed or not all(_IDENT.match(p) for p in names):
        return None
    if not _IDENT.match(lhs) or lhs not in data.columns:
        return None
    if len(set(names)) != len(names) or lhs in names:
        return None
    for c in [lhs, *names]:
        if c not in data.columns or not _is_plain_numeric(data[c]):
            return None
    return lhs, names, intercept


def model_frame(data: pd.DataFrame, formula: str, mask: np.ndarray | None = None) -> ModelFrame:
    """Response and design matrix of ``formula`` on the rows of ``data`` selected by ``mask``
    that have no missing model variable.

    Parameters
    ----------
    data : the design's data frame (all rows).
    formula : ``"y ~ x + C(g)"`` (see the module docstring for the syntax).
    mask : boolean array (rows eligible, e.g. the design's subset); default all rows.

    Returns
    -------
    ModelFrame

    Raises
    ------
    FormulaError
        Unknown columns, unparsable formula, a non-numeric response, infinite values, or no
        complete rows.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> mf = model_frame(apistrat, "api00 ~ ell + C(stype)")
    >>> mf.columns
    ['Intercept', 'ell', 'C(stype)[T.H]', 'C(stype)[T.M]']
    >>> mf.X.shape, mf.terms
    ((200, 4), {'Intercept': [0], 'ell': [1], 'C(stype)': [2, 3]})

    In R: ``model.matrix(api00 ~ ell + stype, model.frame(..., na.action = na.omit))``.
    """
    formula = quote_dotted_names(normalise_formula(formula), data.columns)
    if not _BACKTICK.sub("x", formula).partition("~")[0].strip() and "~" in formula:
        raise FormulaError(
            f"the formula {formula!r} has no response: write the outcome on the left of '~', "
            "e.g. 'y ~ x' (R's svyglm errors on a one-sided formula too)."
        )
    variables = formula_variables(formula, data)
    n = len(data)
    eligible = np.ones(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    if variables:
        complete = data[variables].notna().all(axis=1).to_numpy()
    else:
        complete = np.ones(n, dtype=bool)
    used = eligible & complete
    n_missing = int((eligible & ~complete).sum())
    if not used.any():
        raise FormulaError(
            f"no rows left to fit {formula!r}: every row in the design's subset has a missing "
            f"value in one of {', '.join(map(repr, variables))}."
        )
    simple = _simple_terms(formula, data)
    if simple is not None:
        return _simple_frame(data, formula, simple, used, n_missing, variables)
    return _formulaic_frame(data, formula, used, n_missing, variables)


def _simple_frame(data, formula, simple, used, n_missing, variables) -> ModelFrame:
    lhs, names, intercept = simple
    rows = np.flatnonzero(used)
    all_rows = len(rows) == len(data)
    y = data[lhs].to_numpy(dtype=float, na_value=np.nan)
    y = y if all_rows else y[rows]
    cols = (["Intercept"] if intercept else []) + names
    X = np.empty((len(rows), len(cols)), order="F")
    j0 = 0
    if intercept:
        X[:, 0] = 1.0
        j0 = 1
    for j, c in enumerate(names):
        v = data[c].to_numpy(dtype=float, na_value=np.nan)
        X[:, j0 + j] = v if all_rows else v[rows]
    _check_finite(X, cols, formula)
    _check_finite(y[:, None], [lhs], formula)
    terms = {c: [i] for i, c in enumerate(cols)}
    term_vars = {c: ({c} if c != "Intercept" else set()) for c in cols}

    def builder(newdata: pd.DataFrame):
        missing = [c for c in names if c not in newdata.columns]
        if missing:
            raise FormulaError(f"newdata lacks the column(s) {', '.join(map(repr, missing))} of "
                               f"the model.")
        Xn = np.empty((len(newdata), len(cols)), order="F")
        if intercept:
            Xn[:, 0] = 1.0
        for j, c in enumerate(names):
            Xn[:, j0 + j] = pd.to_numeric(newdata[c], errors="coerce").to_numpy(dtype=float,
                                                                                na_value=np.nan)
        ok = ~np.isnan(Xn).any(axis=1)
        return Xn, ok

    return ModelFrame(y=y, X_data=X, rows=rows, columns=cols, terms=terms, term_variables=term_vars,
                      n_missing=n_missing, formula=formula, response=lhs, variables=variables,
                      _rhs_builder=builder, _data=data)


def _rows_dropped_warning():
    from socialhealth.errors import RowsDroppedWarning

    return RowsDroppedWarning


def _check_finite(X: np.ndarray, cols: list[str], formula: str) -> None:
    bad = np.isinf(X)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        raise FormulaError(
            f"column {cols[j]!r} of the formula {formula!r} has {int(bad[:, j].sum())} infinite "
            "value(s) (e.g. log of 0); transform or drop those rows with design.subset(...)."
        )


def _formulaic_frame(data, formula, used, n_missing, variables) -> ModelFrame:
    from formulaic import model_matrix

    rows = np.flatnonzero(used)
    sub = data[variables].iloc[rows] if variables else pd.DataFrame(index=data.index[rows])
    sub = _plain_dtypes(sub)
    # R's glm (and so svyglm) builds its model frame with drop.unused.levels = TRUE: a category
    # with no row among those used gets no coefficient (instead of an all-zero, aliased column)
    cats = {c: sub[c].cat.remove_unused_categories() for c in sub.columns
            if isinstance(sub[c].dtype, pd.CategoricalDtype)
            and len(sub[c].cat.categories) > sub[c].nunique(dropna=True)}
    if cats:
        sub = sub.assign(**cats)
    try:
        with np.errstate(divide="ignore", invalid="ignore"):   # inf/NaN are reported below
            mm = model_matrix(_parsed(formula), sub, na_action="ignore")
    except Exception as exc:
        raise FormulaError(f"cannot build the model matrix of {formula!r}: {type(exc).__name__}: "
                           f"{exc}") from None
    lhs = mm.lhs
    lhs_name = formula.partition("~")[0].strip().strip("`")
    if lhs_name in sub.columns and is_categorical(sub[lhs_name]):
        raise FormulaError(
            f"the response {lhs_name!r} of {formula!r} is not numeric (dtype "
            f"{sub[lhs_name].dtype}); it must be one numeric or boolean column (R's svyglm "
            "fails on it too). Build a 0/1 indicator, e.g. I(sch_wide == 'Yes') ~ ... ."
        )
    if lhs.shape[1] != 1:
        raise FormulaError(
            f"the response of {formula!r} gives {lhs.shape[1]} columns "
            f"({', '.join(map(str, lhs.columns))}); "
            "it must be one numeric or boolean column. For a categorical outcome build a 0/1 "
            "indicator, e.g. I(sch_wide == 'Yes') ~ ... ."
        )
    try:
        y = np.asarray(lhs.to_numpy(), dtype=float).ravel()
    except (TypeError, ValueError):
        raise FormulaError(f"the response of {formula!r} is not numeric.") from None
    rhs = mm.rhs
    X = np.asfortranarray(np.asarray(rhs.to_numpy(), dtype=float))
    cols = [str(c) for c in rhs.columns]
    _check_finite(X, cols, formula)
    _check_finite(y[:, None], [str(lhs.columns[0])], formula)
    # transforms can create NaN (np.log of a negative value): R's model.frame drops those rows
    nan_rows = np.isnan(X).any(axis=1) | np.isnan(y)
    if nan_rows.any():
        warnings.warn(
            f"the formula {formula!r} gives NaN for {int(nan_rows.sum())} row(s) with observed "
            "data (e.g. log of a negative number); those rows are left out of the fit (R: "
            "'NaNs produced', and the rows are dropped).",
            _rows_dropped_warning(), stacklevel=user_stacklevel(),
        )
        keep = ~nan_rows
        n_missing += int(nan_rows.sum())
        rows, X, y = rows[keep], np.asfortranarray(X[keep]), y[keep]
        if len(rows) == 0:
            raise FormulaError(f"no rows left to fit {formula!r}: transformed values are all "
                               f"missing.")
    spec = rhs.model_spec
    def label(t) -> str:
        return "Intercept" if str(t) == "1" else str(t)

    for t, ix in spec.term_indices.items():
        if not list(ix) and str(t) != "1":
            raise FormulaError(
                f"the term {label(t)!r} of {formula!r} has a single level among the rows used, "
                "so it has no contrast to estimate (R: 'contrasts can be applied only to factors "
                "with 2 or more levels'); leave it out of the formula.")

    terms = {label(t): list(ix) for t, ix in spec.term_indices.items()}
    term_vars = {}
    colset = set(map(str, data.columns))
    for t, vs in spec.term_variables.items():
        term_vars[label(t)] = {str(v) for v in vs if str(v) in colset}

    rhs_vars = sorted(set().union(*term_vars.values())) if term_vars else []

    def builder(newdata: pd.DataFrame):
        try:
            with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
                # missing categorical values: formulaic warns, the rows become NaN below
                warnings.simplefilter("ignore")
                Xn = spec.get_model_matrix(newdata, na_action="ignore")
        except Exception as exc:
            raise FormulaError(
                f"cannot build the model matrix of {formula!r} for new data: {type(exc).__name__}: "
                f"{exc}"
            ) from None
        Xn = np.asarray(Xn.to_numpy(), dtype=float)
        present = [v for v in rhs_vars if v in newdata.columns]
        ok = ~np.isnan(Xn).any(axis=1)
        if present:
            ok &= newdata[present].notna().all(axis=1).to_numpy()
        Xn[~ok] = np.nan
        return Xn, ok

    return ModelFrame(y=y, X_data=X, rows=rows, columns=cols, terms=terms, term_variables=term_vars,
                      n_missing=n_missing, formula=formula, response=str(lhs.columns[0]),
                      variables=variables, _rhs_builder=builder, _data=data)


_LEVEL = re.compile(r"^(?:C\((?P<cvar>[^,()]+)(?:,.*)?\)|(?P<var>.+?))\[(?:T\.)?(?P<level>.*)\]$")


def r_column_name(name: str) -> str:
    """R's model-matrix name of a formulaic/patsy column name.

    ``Intercept`` -> ``(Intercept)``; ``a[T.a2]`` and ``C(a)[T.a2]`` -> ``aa2``; ``b[no]``
    (full dummy coding) -> ``bno``; booleans ``f[T.True]`` -> ``fTRUE``; interaction pieces
    are converted one by one and joined by ``:`` (``a[T.a2]:b[T.yes]`` -> ``aa2:byes``).

    Examples
    --------
    >>> r_column_name("a[T.a2]:x"), r_column_name("Intercept"), r_column_name("C(g)[T.True]")
    ('aa2:x', '(Intercept)', 'gTRUE')

    In R: ``colnames(model.matrix(~a*x, data))``.
    """
    if name == "Intercept":
        return "(Intercept)"
    pieces = []
    for piece in str(name).split(":"):
        m = _LEVEL.match(piece)
        if m is None:
            pieces.append(piece)
            continue
        var = (m.group("cvar") or m.group("var")).strip()
        level = {"True": "TRUE", "False": "FALSE"}.get(m.group("level"), m.group("level"))
        pieces.append(f"{var}{level}")
    return ":".join(pieces)


def rhs_matrix(data: pd.DataFrame, formula: str, rows: np.ndarray
               | None = None) -> tuple[np.ndarray, list[str]]:
    """Model matrix of a one-sided formula (``"~a*b + x"``) on all rows of ``data``, with R's
    column names (:func:`r_column_name`), for calibration and other right-hand-side uses.

    Levels of categorical columns come from the rows ``rows`` (default: all rows); rows with a
    missing variable get NaN in every column. Interactions (``a:b``, ``a*b``), ``C()``,
    ``factor()`` and ``I()`` follow the module docstring; the columns and their order are R's
    ``model.matrix`` ones for formulas whose interactions include their main effects.

    Examples
    --------
    >>> df = pd.DataFrame({"a": ["u", "v", "v"], "x": [1.0, 2.0, 3.0]})
    >>> X, names = rhs_matrix(df, "~a*x"); names
    ['(Intercept)', 'av', 'x', 'av:x']
    >>> X[:, 3].tolist()
    [0.0, 2.0, 3.0]

    In R: ``model.matrix(~a*x, df)``.
    """
    from formulaic import model_matrix

    formula = normalise_formula(formula)
    rhs = formula.split("~", 1)[1] if "~" in formula else formula
    variables = formula_variables(f"~ {rhs}", data)
    n = len(data)
    eligible = np.ones(n, dtype=bool) if rows is None else np.zeros(n, dtype=bool)
    if rows is not None:
        eligible[np.asarray(rows)] = True
    complete = data[variables].notna().all(axis=1).to_numpy() if variables else np.ones(n, bool)
    use = np.flatnonzero(eligible & complete)
    if len(use) == 0:
        raise FormulaError(f"no complete rows to build the model matrix of {formula!r}.")
    sub = (_plain_dtypes(data[variables].iloc[use]) if variables
           else pd.DataFrame(index=data.index[use]))
    try:
        with np.errstate(divide="ignore", invalid="ignore"):
            mm = model_matrix(_parsed(f"~ {rhs}"), sub, na_action="ignore")
    except Exception as exc:
        raise FormulaError(f"cannot build the model matrix of {formula!r}: {type(exc).__name__}: "
                           f"{exc}") from None
    X = np.full((n, mm.shape[1]), np.nan)
    X[use] = np.asarray(mm.to_numpy(), dtype=float)
    return X, [r_column_name(str(c)) for c in mm.columns]
