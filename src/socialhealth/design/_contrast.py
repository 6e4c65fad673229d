"""Linear and nonlinear contrasts of survey estimates by the delta method (R ``svycontrast``).

A contrast is a function ``f(theta)`` of estimates ``theta`` (means, totals, ratios,
proportions, domain estimates, regression coefficients) with covariance ``V``. Its estimate is
``f(theta_hat)`` and its covariance, for several contrasts ``f = (f_1, ..., f_m)``, is

    Var(f) = J V J',   J_jk = d f_j / d theta_k at theta_hat

(the delta method; Binder 1983, Lumley 2010 §2.5/§3.4). For a linear contrast ``c' theta`` this
is exact: ``J = c'``. Expressions are parsed with :mod:`ast` (never evaluated as Python) and
differentiated exactly by forward-mode automatic differentiation: each node of the expression
tree carries its value and its gradient with respect to ``theta``, combined by the sum,
product, quotient and chain rules.

Replicate designs: the covariance ``V`` of the estimates comes from the replicates, and the
contrast uses the same delta method, which is what R's ``svycontrast`` does for replicate
estimates computed without ``return.replicates = TRUE``.

References
----------
Binder DA (1983) On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51:279-292.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*, Wiley, §2.5, §3.4.
Griewank A, Walther A (2008) *Evaluating Derivatives*, 2nd ed., SIAM (forward mode).
"""
from __future__ import annotations

import ast
import re
from typing import Any, Mapping, NoReturn, Sequence

import numpy as np
import pandas as pd

from socialhealth._text import r_number, show_given, show_list
from socialhealth.design.results import (Estimate, check_df, check_level, r_contrast_call,
                                         r_contrast_source)
from socialhealth.errors import EstimationError, FormulaError

__all__ = ["contrast", "ContrastEstimate"]

FUNCTIONS = ("exp", "log", "sqrt", "expit", "logit")
_TOKEN = re.compile(r"(?<![A-Za-z0-9_.])[A-Za-z_.][A-Za-z0-9_.]*")


class ContrastEstimate(Estimate):
    """An :class:`~socialhealth.design.Estimate` of contrasts whose tidy table and intervals
    default to the level asked for in :func:`contrast` (``level``).

    Examples
    --------
    >>> import numpy as np, pandas as pd, socialhealth as sh
    >>> d = sh.SurveyDesign(pd.DataFrame({"y": [1., 2, 4, 5], "z": [2., 2, 3, 5], "w": 1.0}),
    ...                     weights="w")
    >>> c = sh.design.contrast(d.mean(["y", "z"]), "y / z", level=0.9)
    >>> list(c.to_frame().columns)
    ['term', 'level', 'estimate', 'se', 'ci_low', 'ci_high', 'df']

    In R: ``confint(svycontrast(est, quote(y/z)), level = 0.9, df = degf(design))``.
    """

    def confint(self, level: float | None = None, df: float | None = None) -> pd.DataFrame:
        """Wald intervals ``estimate +- q se`` (``q``: t with ``df``, default the source's df)."""
        return super().confint(self.level if level is None else level, df)

    def to_frame(self, level: float | None = None, df: float | None = None) -> pd.DataFrame:
        """Tidy table: ``term``, ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``df``."""
        return super().to_frame(self.level if level is None else level, df)


# ----------------------------------------------------------------------------- sources
def _source(result) -> tuple[np.ndarray, np.ndarray, list[str], float, str]:
    """(theta, V, labels, df, design label) of an Estimate or a fitted survey GLM."""
    if isinstance(result, Estimate):
        theta = result.table["estimate"].to_numpy(dtype=float)
        V = np.asarray(result.vcov, dtype=float)
        labels = list(result.estimate.index)
        df = float(np.min(np.atleast_1d(np.asarray(result.df, dtype=float))))
        return theta, V, labels, df, result.design_label
    params = getattr(result, "params", None)
    cov = getattr(result, "cov_params", None)
    if isinstance(params, pd.Series) and callable(cov):
        V = np.asarray(cov(), dtype=float)
        df = float(getattr(result, "df_resid", np.inf))
        design: Any = getattr(result, "design", None)
        label = design._short_label() if hasattr(design, "_short_label") else ""
        return params.to_numpy(dtype=float), V, [str(i) for i in params.index], df, label
    raise EstimationError(
        "contrast() needs an estimate from a design verb (mean, total, ratio, proportion, ...) or "
        f"a fitted design.glm(); got {type(result).__name__}."
    )


def _aliases(result, labels: list[str]) -> dict[str, int]:
    """Names an expression may use for each estimate: its label (``estimate.index``) and R's
    coefficient name (``a.2020`` for domains, ``grpb`` for a level, ``x`` for a variable)."""
    names: dict[str, list[int]] = {}

    def add(name, i):
        names.setdefault(str(name), [])
        if i not in names[str(name)]:
            names[str(name)].append(i)

    for i, lab in enumerate(labels):
        add(lab, i)
    if isinstance(result, Estimate):
        t = result.table
        by_cols = [c for c in t.columns if c not in ("term", "level", "estimate", "se", "deff")]
        terms = t["term"].astype(str).tolist() if "term" in t else [""] * len(t)
        levels = t["level"].tolist() if "level" in t else [None] * len(t)
        multi = len(set(zip(terms, [str(v) for v in levels], strict=True))) > 1
        for i in range(len(t)):
            lv = levels[i]
            has_level = lv is not None and not (isinstance(lv, float) and np.isnan(lv))
            term = terms[i] + (str(lv) if has_level else "")
            if by_cols:
                dom = ".".join(str(t[c].iloc[i]) for c in by_cols)
                add(dom + (":" + term if multi else ""), i)
            else:
                add(term, i)
    else:
        # model coefficients: R's names for patsy-style ones (Intercept -> (Intercept),
        # grp[T.b] -> grpb, a[T.x]:b -> ax:b)
        for i, lab in enumerate(labels):
            add("(Intercept)" if lab == "Intercept" else re.sub(r"\[T\.([^\]]+)\]", r"\1", lab), i)
    return {k: v[0] for k, v in names.items() if len(v) == 1}


# ----------------------------------------------------------------------------- expressions
class _Dual:
    """Value and gradient (forward-mode automatic differentiation)."""

    __slots__ = ("v", "g")

    def __init__(self, v: float, g: np.ndarray) -> None:
        self.v, self.g = float(v), g


def _parse(expr: str, aliases: dict[str, int]) -> tuple[ast.AST, dict[str, int]]:
    """AST of ``expr`` with every estimate name replaced by a placeholder identifier."""
    slots: dict[str, int] = {}

    def slot(name: str) -> str:
        if name not in aliases:
            raise FormulaError(
                f"contrast: {name!r} is not the name of an estimate; names available: "
                f"{show_list(aliases, limit=12)}. Quote names that are not identifiers with "
                "backticks, e.g. `(Intercept)`."
            )
        key = f"_est{aliases[name]}_"
        slots[key] = aliases[name]
        return key

    parts = re.split(r"`([^`]*)`", expr)
    if len(parts) % 2 == 0:
        raise FormulaError(f"contrast: unbalanced backtick in {expr!r}.")
    out = []
    for j, part in enumerate(parts):
        if j % 2:
            out.append(slot(part))
        else:
            out.append(_TOKEN.sub(lambda m: m.group(0) if m.group(0) in FUNCTIONS
                                  else slot(m.group(0)), part))
    text = "".join(out).replace("^", "**")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise FormulaError(f"contrast: cannot parse {expr!r} ({err.msg}).") from None
    return tree, slots


def _evaluate(node: ast.AST, theta: np.ndarray, slots: dict[str, int], expr: str) -> _Dual:
    k = len(theta)

    def const(c: float) -> _Dual:
        return _Dual(c, np.zeros(k))

    def bad(what: str) -> NoReturn:
        raise FormulaError(
            f"contrast {expr!r}: {what} is not allowed; use estimate names, numbers, + - * / ** "
            f"(or ^) and {', '.join(FUNCTIONS)}."
        )

    def ev(n) -> _Dual:
        if isinstance(n, ast.Expression):
            return ev(n.body)
        if isinstance(n, ast.Constant):
            if isinstance(n.value, bool) or not isinstance(n.value, (int, float)):
                bad(f"the constant {n.value!r}")
            return const(float(n.value))
        if isinstance(n, ast.Name):
            if n.id not in slots:
                bad(f"the name {n.id!r}")
            i = slots[n.id]
            g = np.zeros(k)
            g[i] = 1.0
            return _Dual(theta[i], g)
        if isinstance(n, ast.UnaryOp) and isinstance(n.op, (ast.USub, ast.UAdd)):
            a = ev(n.operand)
            return _Dual(-a.v, -a.g) if isinstance(n.op, ast.USub) else a
        if isinstance(n, ast.BinOp):
            a, b = ev(n.left), ev(n.right)
            if isinstance(n.op, ast.Add):
                return _Dual(a.v + b.v, a.g + b.g)
            if isinstance(n.op, ast.Sub):
                return _Dual(a.v - b.v, a.g - b.g)
            if isinstance(n.op, ast.Mult):
                return _Dual(a.v * b.v, a.g * b.v + b.g * a.v)
            if isinstance(n.op, ast.Div):
                with np.errstate(divide="ignore", invalid="ignore"):
                    v = a.v / b.v if b.v != 0 else np.nan
                    return _Dual(v, (a.g * b.v - b.g * a.v) / b.v**2 if b.v != 0 else a.g * np.nan)
            if isinstance(n.op, ast.Pow):
                with np.errstate(all="ignore"):
                    v = a.v ** b.v if a.v > 0 or float(b.v).is_integer() else np.nan
                    g = b.v * a.v ** (b.v - 1) * a.g
                    if np.any(b.g != 0):
                        g = g + v * np.log(a.v) * b.g if a.v > 0 else g * np.nan
                return _Dual(v, g)
            bad(f"the operator {type(n.op).__name__}")
        if isinstance(n, ast.Call):
            if not isinstance(n.func, ast.Name) or n.func.id not in FUNCTIONS or n.keywords \
                    or len(n.args) != 1:
                bad("this function call")
            a = ev(n.args[0])
            f = n.func.id
            with np.errstate(all="ignore"):
                if f == "exp":
                    v = np.exp(a.v)
                    return _Dual(v, v * a.g)
                if f == "log":
                    return _Dual(np.log(a.v) if a.v > 0 else np.nan, a.g / a.v)
                if f == "sqrt":
                    v = np.sqrt(a.v) if a.v >= 0 else np.nan
                    return _Dual(v, a.g / (2 * v))
                if f == "expit":
                    v = 1 / (1 + np.exp(-a.v))
                    return _Dual(v, v * (1 - v) * a.g)
                # logit
                v = np.log(a.v / (1 - a.v)) if 0 < a.v < 1 else np.nan
                return _Dual(v, a.g / (a.v * (1 - a.v)))
        bad(f"the expression element {type(n).__name__}")

    return ev(node)


def _linear(spec, aliases: dict[str, int], labels: list[str]) -> np.ndarray:
    k = len(labels)
    if isinstance(spec, Mapping):
        c = np.zeros(k)
        for name, value in spec.items():
            if str(name) not in aliases:
                raise FormulaError(f"contrast: {show_given(name)} is not the name of an estimate; "
                                   f"names: {show_list(aliases, limit=12)}.")
            c[aliases[str(name)]] = float(value)
        return c
    try:
        c = np.asarray(spec, dtype=float).ravel()
    except (TypeError, ValueError):
        raise FormulaError(f"a contrast is {k} numbers (one per estimate: {show_list(labels)}), "
                           f"a dict of numbers by name or an expression over the names "
                           f"({show_list(aliases, limit=12)}); got {show_given(spec)}.") from None
    if c.shape != (k,):
        raise FormulaError(f"a linear contrast needs {k} coefficients (one per estimate: "
                           f"{show_list(labels)}); got {c.size}.")
    return c


# ----------------------------------------------------------------------------- public
def contrast(result, contrasts, level: float = 0.95, df: float | None = None) -> ContrastEstimate:
    """Linear or nonlinear contrasts of estimates with delta-method standard errors.

    For contrasts ``f_j(theta)`` of the estimates ``theta`` (covariance ``V``), the estimates
    are ``f_j(theta_hat)`` and their covariance ``J V J'`` with ``J_jk = d f_j / d theta_k``
    (exact derivatives by automatic differentiation of the parsed expression). Intervals are
    ``f +- q se`` with ``q`` the t quantile on ``df`` degrees of freedom (default: the source's,
    i.e. ``degf(design)`` for estimates and the residual df for a GLM; ``df=float("inf")``
    gives R's default normal interval). Works alike for Taylor and replicate designs (the
    covariance ``V`` is the design's).

    Parameters
    ----------
    result : Estimate or SurveyGLMResult
        From ``mean``, ``total``, ``ratio``, ``proportion``, ``var`` (also with ``by=``) or
        ``glm``.
    contrasts : str, sequence of numbers, or dict
        An expression over the estimates' names (``"b.2020 / a.2020"``), a vector of linear
        coefficients (one per estimate), or a dict ``{name: expression or coefficients}`` for
        several contrasts at once (their covariance is kept). Names: the labels of
        ``result.estimate.index`` or R's coefficient names (domains ``a.2020`` = by-values
        joined by ``.``; a level ``grpb``; a variable ``x``; GLM coefficients ``(Intercept)``,
        ``x``); quote names that are not identifiers with backticks (`` `(Intercept)` ``,
        `` `x/y` ``). Operators ``+ - * / **`` (or ``^``), numbers, and ``exp``, ``log``,
        ``sqrt``, ``expit``, ``logit``. Expressions are parsed, never executed.
    level : float, default 0.95
        Confidence level of the intervals in ``to_frame()``.
    df : float, optional
        Degrees of freedom of the intervals (default: the source's).

    Returns
    -------
    ContrastEstimate
        ``to_frame()``: term (the contrast name), estimate, se, ci_low, ci_high, df;
        ``vcov``: covariance of the contrasts.

    Raises
    ------
    FormulaError
        Unknown names, disallowed syntax, or a linear contrast of the wrong length.

    References
    ----------
    Binder DA (1983) *International Statistical Review* 51:279-292. Lumley T (2010) *Complex
    Surveys*, Wiley, §2.5 and §3.4.

    Examples
    --------
    >>> import pandas as pd, socialhealth as sh
    >>> df = pd.DataFrame({"psu": [1, 1, 2, 2, 3, 3, 4, 4], "w": 1.0,
    ...                    "g": ["a", "b"] * 4, "y": [1., 3, 2, 5, 2, 4, 1, 3]})
    >>> d = sh.SurveyDesign(df, weights="w", psu="psu")
    >>> est = d.mean("y", by="g")
    >>> c = sh.design.contrast(est, {"ratio": "b / a", "diff": "b - a"})
    >>> c.to_frame()[["term", "estimate"]].round(4)
        term  estimate
    0  ratio      2.50
    1   diff      2.25

    In R: ``svycontrast(svyby(~y, ~g, d, svymean, covmat = TRUE), list(ratio = quote(b/a),
    diff = quote(b - a)))``.
    """
    level = check_level(level)
    df = check_df(df)
    theta, V, labels, src_df, label = _source(result)
    aliases = _aliases(result, labels)
    items: list[tuple[str, Any]]
    if isinstance(contrasts, str):
        items = [("contrast", contrasts)]
    elif isinstance(contrasts, Mapping):
        if not contrasts:
            raise FormulaError("contrast: give at least one contrast.")
        if all(isinstance(v, (int, float, np.number)) for v in contrasts.values()):
            items = [("contrast", dict(contrasts))]         # one linear contrast by name
        else:
            items = [(str(k), v) for k, v in contrasts.items()]
    elif isinstance(contrasts, (Sequence, np.ndarray)) and not isinstance(contrasts, str):
        items = [("contrast", contrasts)]
    else:
        raise FormulaError("contrasts must be an expression string, a vector of coefficients or a "
                           f"dict of them; got {type(contrasts).__name__}.")
    values, rows = [], []
    for _name, spec in items:
        if isinstance(spec, str):
            tree, slots = _parse(spec, aliases)
            out = _evaluate(tree, theta, slots, spec)
            values.append(out.v)
            rows.append(out.g)
        else:
            c = _linear(spec, aliases, labels)
            values.append(float(c @ theta))
            rows.append(c)
    J = np.vstack(rows)
    used = np.any(J != 0, axis=0)
    # only the estimates a contrast uses enter (0 * NaN of an undefined unused estimate is 0)
    Vc = J[:, used] @ V[np.ix_(used, used)] @ J[:, used].T
    table = pd.DataFrame({"term": [n for n, _ in items], "level": [None] * len(items),
                          "estimate": np.asarray(values, dtype=float),
                          "se": np.sqrt(np.clip(np.diag(Vc), 0, None))})
    use_df = src_df if df is None else df
    call = getattr(result, "r_call", "") or "est"
    if all(not isinstance(spec, str) for _n, spec in items):
        r_call = r_contrast_call(call, rows, None if len(items) == 1 and items[0][0] == "contrast"
                                 else [n for n, _ in items])
    else:      # R's nonlinear form: quote() of the expression, in R's coefficient names
        exprs = ", ".join(
            f"`{n}` = " + (f"quote({spec})" if isinstance(spec, str)
                           else "c(" + ", ".join(f"{r_number(float(v))}" for v in r) + ")")
            for (n, spec), r in zip(items, rows, strict=True))
        r_call = f"svycontrast({r_contrast_source(call)}, list({exprs}))"
    n_rows = getattr(result, "n_rows", None) or getattr(result, "nobs", 0) or 0
    return ContrastEstimate(table, Vc, use_df, "contrast", int(n_rows),
                            getattr(result, "n_missing", 0) or 0, method="delta method",
                            design_label=label, r_call=r_call,
                            level=float(level))

