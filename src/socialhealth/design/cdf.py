"""The weighted empirical distribution function of a numeric variable (R ``svycdf``).

``F(v) = sum_i w_i [y_i <= v] / sum_i w_i`` over the rows with an observed ``y`` (inside the
design's subset). Each ``F(v)`` is the mean of the indicator ``[y <= v]``, so its standard
error and interval are those of that mean under the design (Taylor linearisation or replicate
weights, as :meth:`~socialhealth.design.base.DesignBase.mean`); R's ``svycdf`` gives the step
function only, and ``svymean(~I(y <= v), design)`` its standard error.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.design.results import Estimate
from socialhealth.errors import EstimationError

#: Most distinct values ``cdf`` evaluates without ``at=`` (one indicator column each).
MAX_POINTS = 200


def cdf(design, variable: str, at: Sequence[float] | None = None, by=None) -> Estimate:
    """Weighted empirical distribution function ``F(v)``, with design-based standard errors.

    ``F(v) = sum_i w_i [y_i <= v] / sum_i w_i`` over the rows with an observed ``y`` (R
    ``na.rm = TRUE``). Each ``F(v)`` is the design mean of the indicator ``[y <= v]``
    (Lumley 2010, §2.4), so the standard errors, intervals and domains (``by=``) are those of
    :meth:`~socialhealth.design.base.DesignBase.mean` on both design kinds.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variable : str
        A numeric column (a scale score, an age, days of poor health, ...).
    at : sequence of float, optional
        The values ``v`` at which to evaluate ``F``. Default: every distinct observed value of
        ``variable`` (the knots of R's step function), at most 200 of them.
    by : str or list of str, optional
        Domain variables: one distribution per observed combination (R ``svyby``).

    Returns
    -------
    Estimate
        ``to_frame()`` columns: [by...], term (the variable), level (the value ``v``),
        estimate (``F(v)``), se, ci_low, ci_high, df.

    Raises
    ------
    EstimationError
        ``variable`` is not numeric, has no observed value, or has more than 200 distinct
        values and ``at`` is not given.

    References
    ----------
    Lumley T (2010) *Complex Surveys*, Wiley, §2.4 (estimated population distribution
    functions).

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    >>> f = d.cdf("api00", at=[500, 600, 700])
    >>> print(f.to_frame()[["level", "estimate", "se"]].round(4).to_string())
       level  estimate      se
    0  500.0    0.0304  0.0131
    1  600.0    0.2857  0.0344
    2  700.0    0.7318  0.0337

    In R: ``svycdf(~api00, dstrat)`` (the step function; its value at 600 is
    ``svycdf(~api00, dstrat)[[1]](600)``) and ``svymean(~I(api00 <= 600), dstrat)`` (its
    standard error).
    """
    if not isinstance(variable, str):
        raise EstimationError(f"cdf() takes one column name, not {show_given(variable)}; call it "
                              "once per variable.")
    design._check_columns([variable])
    col = design.data[variable]
    if not (pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col)):
        raise EstimationError(
            f"cdf() needs a numeric column; {variable!r} has dtype {col.dtype}. For a "
            f"categorical variable use design.mean({variable!r}) (the share of each level).")
    y = col.to_numpy(dtype=float, na_value=np.nan)
    missing = np.isnan(y)
    if at is None:
        seen = np.unique(y[design._subset_mask() & ~missing])
        if len(seen) == 0:
            raise EstimationError(f"cdf(): {variable!r} has no observed value in the design's "
                                  "rows.")
        if len(seen) > MAX_POINTS:
            raise EstimationError(
                f"cdf(): {variable!r} has {len(seen):,} distinct values, more than "
                f"{MAX_POINTS} points to evaluate; give the values with at=, e.g. "
                f"at={show_given(np.quantile(seen, [0.25, 0.5, 0.75]).tolist())}.")
        values = seen
    else:
        try:
            values = np.asarray(at, dtype=float).ravel()
        except (TypeError, ValueError):
            raise EstimationError(f"cdf(): at= takes the values at which to evaluate the "
                                  f"distribution function, as numbers (e.g. at=[20, 25, 30]), "
                                  f"not {show_given(at)}.") from None
        if len(values) == 0 or not np.isfinite(values).all():
            raise EstimationError(
                f"cdf(): at= must be finite numbers; got {show_given(at)}.")
        values = np.unique(values)
    names = [f"_cdf_{j}" for j in range(len(values))]
    ind = {n: np.where(missing, np.nan, (y <= v).astype(float))
           for n, v in zip(names, values, strict=True)}
    est = design.assign(**ind).mean(names, by=by)
    table = est.table.copy()
    table["level"] = table["term"].map(dict(zip(names, values, strict=True))).astype(float)
    table["term"] = variable
    # (R code: the call, then a comment saying how R gives the standard errors at a value v)
    r_call = (f"svycdf(~{variable}, design)  # standard errors at a value v: "
              f"svymean(~I({variable} <= v), design, na.rm = TRUE)")
    if by is not None:                    # R's svycdf has no svyby method: one subset per domain
        by_f = " + ".join(map(str, table.columns[:list(table.columns).index("term")]))
        r_call = (f"svyby(~I({variable} <= v), ~{by_f}, design, svymean, na.rm = TRUE)  # v: a "
                  f"value; the step function of one domain: svycdf(~{variable}, "
                  f"subset(design, <domain>))")
    return replace(est, table=table, statistic="distribution function", r_call=r_call)
