"""Public building blocks for estimators written outside :mod:`socialhealth.design`.

The design objects carry the variance machinery (R ``svyrecvar`` / ``withReplicates`` /
``subset``) as public methods: :attr:`~socialhealth.design.base.DesignBase.weights`,
:meth:`~socialhealth.design.base.DesignBase.variance_from_influence`,
:meth:`~socialhealth.design.base.DesignBase.with_replicates`,
:meth:`~socialhealth.design.base.DesignBase.estimator_vcov`,
:meth:`~socialhealth.design.base.DesignBase.model_vcov`,
:meth:`~socialhealth.design.base.DesignBase.totals_vcov`,
:meth:`~socialhealth.design.base.DesignBase.restrict_to_rows`,
:meth:`~socialhealth.design.base.DesignBase.with_weights` and
:meth:`~socialhealth.design.base.DesignBase.model_weight_mean` (the mean R's model fits
rescale the weights by). This module adds the few numerical
helpers that model code shares with the engine: level codes of a grouping column, aliased
(collinear) columns, a weighted GLM fit, and the separation / monotone-likelihood detectors
(:func:`cox_monotone`, :func:`ordinal_separation`, :func:`multinomial_separation`,
:func:`diverging`, :class:`Direction`),
and the refusal of negative replicate weights by refit-based estimators
(:func:`refuse_negative_replicate_weights`), and the Wald quadratic form ``b' V^{-1} b`` that
refuses a singular design covariance (:func:`quadratic_form`), and the weighted
distribution function's sort and R-rounded running sums and the quantile rules behind
``quantile()`` (:func:`sorted_with_r_sums`, :func:`quantile_function`), and the R text of a
model's right-hand side and of a factor with socialhealth's level order for the printed R
calls (:func:`r_formula`, :func:`r_factor`, :func:`r_complete_cases`).
They are thin public wrappers; the engine's private functions behind them may change.

Models in :mod:`socialhealth.models` use only these and the design methods
(tests/test_extension_api.py keeps it so); "Adding an estimator in one file" in
CONTRIBUTING.md shows a complete example.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from socialhealth.design._separation import (Direction, cox_monotone, diverging,
                                             multinomial_separation, ordinal_separation)
from socialhealth.errors import ModelError

__all__ = ["level_codes", "aliased_columns", "fit_glm", "Direction", "cox_monotone",
           "ordinal_separation", "multinomial_separation", "diverging",
           "refuse_negative_replicate_weights", "quadratic_form", "sorted_with_r_sums",
           "quantile_function", "r_formula", "r_factor", "r_complete_cases"]


def level_codes(values: pd.Series, used: np.ndarray) -> tuple[np.ndarray, list]:
    """Integer codes of a grouping column and the levels present among the rows used.

    Levels are the categories of a categorical column (in their order), ``[False, True]``
    for a boolean one, and the sorted distinct values otherwise; only levels with at least
    one row in ``used`` are kept and numbered ``0..k-1`` in that order. Missing values and
    rows of dropped levels get -1.

    Parameters
    ----------
    values : pandas.Series
        The grouping column (one value per row of the design data).
    used : boolean array
        Rows that count (e.g. ``design.in_subset`` and no missing outcome).

    Returns
    -------
    (codes, levels) : int array of length ``len(values)`` and the list of levels kept.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from socialhealth.design.extension import level_codes
    >>> codes, levels = level_codes(pd.Series(["b", "a", None, "c"]),
    ...                             np.array([True, True, True, False]))
    >>> codes.tolist(), levels
    ([1, 0, -1, -1], ['a', 'b'])
    """
    from socialhealth.design.hypothesis import _codes

    return _codes(values, np.asarray(used, dtype=bool))


def aliased_columns(crossprod: np.ndarray, names: Sequence[str]) -> list[str]:
    """Names of the columns that are linear combinations of earlier columns.

    Sequential check on the correlation-scaled cross-product ``A = X'WX``: column ``j`` is
    aliased when its residual sum of squares after regression on the earlier columns kept is
    below 1e-9 of its own, so the earlier column is kept (as R's pivoting QR in ``glm``).

    Parameters
    ----------
    crossprod : array (p x p)
        Weighted cross-product ``X'WX`` of the model matrix.
    names : sequence of str
        Column names (length p).

    Returns
    -------
    list of str (empty when the columns are linearly independent)

    Examples
    --------
    >>> import numpy as np
    >>> from socialhealth.design.extension import aliased_columns
    >>> X = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 2.0], [1.0, 2.0, 3.0]])   # x2 = 1 + x1
    >>> aliased_columns(X.T @ X, ["(Intercept)", "x1", "x2"])
    ['x2']

    In R: the ``NA`` coefficients of ``coef(glm(y ~ x1 + x2))``.
    """
    from socialhealth.design.glm import _aliased

    return _aliased(np.asarray(crossprod, dtype=float), list(names))


def fit_glm(X: np.ndarray, y: np.ndarray, weights: np.ndarray, family: str, link: str,
            start: np.ndarray | None = None, offset: np.ndarray | None = None,
            names: Sequence[str] | None = None, max_iter: int = 100, tol: float = 1e-10):
    """Weighted GLM fit by Fisher scoring (IRLS), the fitter behind ``design.glm``.

    Solves the weighted score equations ``sum_i w_i x_i (y_i - mu_i) mu'_i / V(mu_i) = 0``;
    use it to refit a model under replicate weights inside an ``estimator_vcov`` /
    ``with_replicates`` callback.

    Parameters
    ----------
    X : array (n x p)
        Model matrix of the rows used.
    y : array (n,)
        Response.
    weights : array (n,)
        Prior (sampling or replicate) weights.
    family, link : str
        As in ``design.glm`` (e.g. ``"binomial"``, ``"logit"``).
    start : array (p,), optional
        Starting coefficients (e.g. the full-sample estimate).
    offset : array (n,), optional
    names : sequence of str, optional
        Coefficient names (for messages).
    max_iter, tol
        Iteration limit and relative deviance tolerance (R ``glm.control``).

    Returns
    -------
    The fit, with attributes ``beta`` (coefficients), ``mu``, ``eta``, ``deviance``,
    ``iterations`` and ``converged``.

    Examples
    --------
    >>> import numpy as np
    >>> from socialhealth.design.extension import fit_glm
    >>> X = np.column_stack([np.ones(4), [0.0, 1.0, 2.0, 3.0]])
    >>> fit = fit_glm(X, np.array([1.0, 3.0, 5.0, 7.0]), np.ones(4), "gaussian", "identity")
    >>> fit.beta.round(6).tolist(), fit.converged
    ([1.0, 2.0], True)

    In R: ``glm.fit(X, y, weights = w, family = gaussian())``.
    """
    from socialhealth.design import glm as glm_module

    fam = glm_module.FAMILIES[family]
    lk = glm_module.LINKS[link]
    X = np.asarray(X, dtype=float)
    if names is None:
        names = [f"x{j}" for j in range(X.shape[1])]
    w = np.asarray(weights, dtype=float)
    if w.size and not np.all(w >= 0):
        bad = int(np.count_nonzero(~(w >= 0)))
        raise ModelError(
            f"fit_glm: {bad} weight(s) are negative or missing; a GLM needs weights of 0 or "
            "more (R glm.fit: 'negative weights not allowed'). Give the rows left out a "
            "weight of 0.")
    return glm_module._irls(X, np.asarray(y, dtype=float), w, fam, lk, offset, start,
                            max_iter, tol, list(names))


def refuse_negative_replicate_weights(design, rows, what: str, r_behaviour: str) -> None:
    """Raise when a replicate weight of ``rows`` is negative, for estimators whose replicate
    refits are not defined with negative weights.

    Replicate weights may be negative (ACS successive-difference replicates after
    calibration; see :class:`~socialhealth.design.replicate.ReplicateDesign`). An estimator
    that refits an iterative model per replicate calls this before asking for the replicate
    variance; other designs (and replicate designs without a negative weight on ``rows``)
    pass.

    Parameters
    ----------
    design : SurveyDesign, ReplicateDesign or TwoPhaseDesign
    rows : array of int, boolean mask, or None
        Rows the estimator uses (None: the rows in the design's subset).
    what : str
        The estimator, named in the message.
    r_behaviour : str
        What R survey does with such weights, quoted in the message.

    Raises
    ------
    ReplicateWeightsError
        Naming the replicates (1-based) with a negative weight on ``rows``.

    Examples
    --------
    >>> import numpy as np
    >>> import socialhealth as sh
    >>> from socialhealth.design.extension import refuse_negative_replicate_weights
    >>> scd = sh.datasets.load_example("scd")
    >>> W = np.ones((6, 3)); W[0, 1] = -0.5
    >>> r = sh.ReplicateDesign(scd, weights=None, replicate_weights=W, method="other", scale=1)
    >>> refuse_negative_replicate_weights(r, np.arange(1, 6), "my model", "R stops.")
    >>> try:
    ...     refuse_negative_replicate_weights(r, None, "my model", "R stops.")
    ... except sh.errors.ReplicateWeightsError as e:
    ...     print(str(e).split(";")[0])
    my model cannot use negative replicate weights (replicate weight set(s) 2)
    """
    refuse = getattr(design, "_refuse_negative_replicates", None)
    if refuse is not None:
        refuse(rows, what, r_behaviour)


def quadratic_form(b, V, error: type, message: str) -> float:
    """Wald quadratic form ``b' V^{-1} b``, refusing a singular covariance ``V``.

    A design-based covariance has rank at most the design's degrees of freedom (PSUs minus
    strata); with more coefficients than that it is singular up to rounding, and a plain
    ``solve`` returns an arbitrary huge (or negative) statistic. ``V`` counts as singular when
    the smallest eigenvalue of its correlation matrix is below 1e-10 times the largest (R's
    ``solve`` stops there too: "system is computationally singular").

    Parameters
    ----------
    b : array of length q
    V : (q, q) array
        Covariance of ``b``.
    error : exception class
        Raised (with ``message``) when ``V`` is singular, not finite or has a zero variance.
    message : str
        What is wrong and what to do (e.g. name the design df and suggest testing fewer
        coefficients).

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from socialhealth.design.extension import quadratic_form
    >>> quadratic_form([1.0, 2.0], np.diag([1.0, 4.0]), ValueError, "singular")
    2.0
    >>> quadratic_form([1.0, 2.0], np.ones((2, 2)), ValueError, "V is singular")
    Traceback (most recent call last):
    ...
    ValueError: V is singular
    """
    from socialhealth.design.wald import _quadratic_form

    return _quadratic_form(b, V, error, message)


def sorted_with_r_sums(y, w) -> tuple[np.ndarray, np.ndarray]:
    """The order of ``y`` (ties kept in row order, as R's ``order``) and the running sums of
    the weights in that order as R's ``cumsum`` rounds them (accumulated in extended
    precision), so that a plot or estimator built on the weighted distribution function
    decides exact ties ``F = p`` as R does (the engine's quantiles use the same two steps).

    Parameters
    ----------
    y : array of float, no NaN
    w : array of float, the weights of ``y``

    Returns
    -------
    (order, cumulative) : integer positions sorting ``y``; running weight sums in that order.

    Examples
    --------
    >>> import numpy as np
    >>> from socialhealth.design.extension import sorted_with_r_sums
    >>> order, cum = sorted_with_r_sums(np.array([3.0, 1.0, 3.0]), np.array([0.1, 0.2, 0.3]))
    >>> order.tolist(), cum.round(10).tolist()
    ([1, 0, 2], [0.2, 0.3, 0.6])
    """
    from socialhealth.design.quantile import _r_cumsum, _stable_order

    y = np.asarray(y, dtype=float)
    order = _stable_order(y)
    return order, _r_cumsum(np.asarray(w, dtype=float)[order])


def quantile_function(y, w, qrule: str = "math"):
    """``Q(p)``, the weighted quantile function of ``y`` under one of
    :data:`socialhealth.design.quantile.QRULES` (R ``svyquantile``'s ``qrule=``): the rule
    :meth:`SurveyDesign.quantile` applies, for code that needs quantiles at many ``p``
    without their standard errors (e.g. a QQ plot).

    Parameters
    ----------
    y : array of float, no NaN
    w : array of float > 0
    qrule : str

    Returns
    -------
    callable taking one probability ``p`` (NaN outside ``[0, 1]``).

    Examples
    --------
    >>> import numpy as np
    >>> from socialhealth.design.extension import quantile_function
    >>> q = quantile_function(np.array([1.0, 2.0, 3.0, 4.0]), np.ones(4), "math")
    >>> [float(q(p)) for p in (0.25, 0.5, 0.9)]
    [1.0, 2.0, 4.0]
    """
    from socialhealth.design.quantile import _quantile_rule

    return _quantile_rule(np.asarray(y, dtype=float), np.asarray(w, dtype=float), qrule)


def r_formula(rhs: str, data: pd.DataFrame) -> str:
    """A model's right-hand side (socialhealth's formula syntax) as R formula text.

    ``C(x)`` becomes ``factor(x)``, ``np.log(x)`` (and ``exp``, ``sqrt``, ``log10``, ``log2``,
    ``log1p``, ``expm1``, ``abs``) R's ``log(x)``, ``**`` R's ``^``, and a categorical column
    whose category order is not R's sorted order (e.g. low < middle < high) is written
    ``factor(x, levels = c(...))``, so that R's reference level is socialhealth's first
    category (as ``svyglm`` calls print them).

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth.design.extension import r_formula
    >>> df = pd.DataFrame({"edu": pd.Categorical(["low", "high"], ["low", "middle", "high"]),
    ...                    "x": [1.0, 2.0]})
    >>> r_formula("np.log(x) + edu", df)
    'log(x) + factor(edu, levels = c("low", "high"))'
    """
    from socialhealth.design.glm import _r_formula, _r_levels

    return _r_levels("~" + _r_formula(rhs), data)[1:]


def r_factor(column: str, levels: Sequence) -> str:
    """R text of a grouping or outcome column with socialhealth's ``levels`` in that order:
    ``factor(x)`` when R's sorted order is the same (numbers, or text already sorted),
    ``factor(x, levels = c(...))`` otherwise.

    Examples
    --------
    >>> from socialhealth.design.extension import r_factor
    >>> r_factor("edu", ["low", "middle", "high"])
    'factor(edu, levels = c("low", "middle", "high"))'
    >>> r_factor("edema", [0.0, 0.5, 1.0])
    'factor(edema)'
    """
    from socialhealth._text import r_quoted
    from socialhealth.design.glm import _sorted_alike_in_r

    name = column if _r_name(column) or "(" in column else f"`{column}`"
    text = [lv for lv in levels if isinstance(lv, str)]
    if len(text) != len(levels) or (text == sorted(text) and _sorted_alike_in_r(text)):
        return f"factor({name})"
    return f"factor({name}, levels = c({', '.join(r_quoted(lv) for lv in text)}))"


def r_complete_cases(columns: Sequence[str], data: pd.DataFrame, rows) -> str | None:
    """``!is.na(a) & !is.na(b)`` for the columns with a missing value among ``rows`` of
    ``data`` (for ``subset(design, ...)`` in a printed R call), or None when none has one.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from socialhealth.design.extension import r_complete_cases
    >>> df = pd.DataFrame({"t": [1.0, np.nan], "d": [1, 0]})
    >>> r_complete_cases(["t", "d"], df, np.array([True, True]))
    '!is.na(t)'
    """
    rows = np.asarray(rows)
    out = []
    for col in dict.fromkeys(columns):
        if col in data.columns and bool(data[col].iloc[np.flatnonzero(rows)
                                                      if rows.dtype == bool else rows]
                                        .isna().any()):
            out.append(f"!is.na({col if _r_name(col) else f'`{col}`'})")
    return " & ".join(out) or None


def _r_name(name: str) -> bool:
    import re

    return re.fullmatch(r"[A-Za-z.][A-Za-z0-9._]*", str(name)) is not None
