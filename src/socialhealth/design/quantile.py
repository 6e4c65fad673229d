"""Survey quantiles with Woodruff confidence intervals (R ``svyquantile``, survey >= 4.0 defaults).

Point estimate (``qrule="math"``): the inverse of the weighted empirical distribution function
``F(x) = sum_i w_i I(y_i <= x) / sum_i w_i``, i.e. the smallest observed value ``x`` with
``F(x) >= p`` (Hyndman & Fan type 1 with weights). Like R survey 4.1, a probability below the
weight share of the smallest row returns the second-smallest row (R's behaviour, kept for
parity; it only matters for extreme quantiles of small samples).

Interval (``interval_type="mean"``, Woodruff 1952): the estimated CDF at the quantile,
``F(q_p)``, is the mean of the indicator ``u_i = I(y_i <= q_p)``; with ``s`` its design-based
standard error and ``t = qt(1 - alpha/2, df)``, the interval for the CDF
``[F(q_p) - t s, F(q_p) + t s]`` is mapped back through the same inverse CDF. The standard
error reported is the width of that interval divided by ``2 t`` (Francisco & Fuller 1991), as R
does. A limit of the CDF interval below 0 or above 1 gives a missing (NaN) confidence limit and
standard error, as R's ``NA``.

References
----------
Woodruff RS (1952) Confidence intervals for medians and other position measures. *JASA*
47:635-646. Francisco CA, Fuller WA (1991) Quantile estimation with a complex survey design.
*Annals of Statistics* 19:454-469. Hyndman RJ, Fan Y (1996) Sample quantiles in statistical
packages. *American Statistician* 50:361-365. Lumley T (2010) *Complex Surveys*, Wiley, §2.4.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from socialhealth.design.proportion import IntervalEstimate
from socialhealth.design.structure import as_list, require_columns
from socialhealth.design.variables import subset_domains
from socialhealth.errors import EstimationError

QRULES = ("math",)
INTERVAL_TYPES = ("mean",)


def _inverse_cdf(values: np.ndarray, cdf: np.ndarray, p: float) -> float:
    """R survey 4.1 ``qrule = "math"`` on sorted rows ``values`` with cumulative weights ``cdf``.

    The smallest value with ``F(value) >= p``. Two details follow R exactly: for
    ``0 <= p < F(x_(1))`` R returns the second-smallest row ``x_(2)`` rather than ``x_(1)``, and a
    probability outside ``[0, 1]`` (a Woodruff limit beyond the range) gives NaN (R's ``NA``).
    """
    if not np.isfinite(p) or p < 0 or p > 1:
        return np.nan
    n = len(values)
    hit = np.flatnonzero(cdf == p)
    if hit.size:
        return float(values[hit[0]])
    i = max(int(np.searchsorted(cdf, p, side="right")), 1)     # rows with F <= p, at least 1
    return float(values[min(i, n - 1)])


def _weighted_cdf(y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values (one per row, ties kept) and the cumulative weight share at each row."""
    order = np.argsort(y, kind="stable")
    ys, ws = y[order], w[order]
    return ys, np.cumsum(ws) / ws.sum()


def quantile(
    design,
    variables: str | Sequence[str],
    quantiles: float | Sequence[float] = (0.5,),
    ci: bool = True,
    level: float = 0.95,
    interval_type: str = "mean",
    qrule: str = "math",
    by: str | Sequence[str] | None = None,
    df: float | None = None,
) -> IntervalEstimate:
    """Quantiles of numeric variables with Woodruff confidence intervals.

    ``q_p = min{x : F(x) >= p}`` with ``F`` the weighted empirical CDF (``qrule="math"``); the
    confidence interval inverts a t interval for ``F(q_p)`` whose standard error is that of the
    mean of ``I(y <= q_p)`` (Woodruff 1952); ``se = (ci_high - ci_low) / (2 qt(1 - alpha/2, df))``.
    Formulas in :mod:`socialhealth.design.quantile`. Rows with a missing value in any of
    ``variables`` are left out (for all of them, as R's ``na.rm = TRUE``) with zero weight but
    keep their place in the design; ``df`` is then ``degf`` of the rows left in the domain, so
    PSUs whose rows are all missing no longer count (as R, which drops those rows first).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variables : str or list of str
        Numeric columns.
    quantiles : float or sequence of floats in [0, 1]
    ci : bool, default True
        Compute intervals and standard errors (otherwise they are NaN).
    level : float, default 0.95
    interval_type : {"mean"}
        Woodruff interval from the SE of the estimated CDF (R's default). Other R types
        (``"beta"``, ``"xlogit"``, ``"asin"``, ``"score"``, ``"quantile"``) are not implemented.
    qrule : {"math"}
        Inverse of the weighted ECDF (R's default). The interpolating rules (``"school"``,
        ``"hf1"``-``"hf9"``, ``"shahvaish"``) are not implemented.
    by : str or list of str, optional
        Domains; each is analysed as ``subset(design, domain)`` with its own degrees of freedom
        (R ``svyby(..., svyquantile, ...)``).
    df : float, optional
        Degrees of freedom for the t quantile; default ``degf`` of the design restricted to
        the rows used (of the domain, with ``by``).

    Returns
    -------
    IntervalEstimate
        ``to_frame()`` columns: [by...], term, quantile, estimate, se, ci_low, ci_high, df
        (``to_frame(level=0.9)`` recomputes the Woodruff limits at that level).
        ``vcov`` is diagonal (covariances between quantiles are not estimated).

    References
    ----------
    Woodruff RS (1952) *JASA* 47:635-646. Francisco CA, Fuller WA (1991) *Annals of Statistics*
    19:454-469. Lumley T (2010) *Complex Surveys*, Wiley, §2.4.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> d.quantile("api00", [0.25, 0.5, 0.75])
    Survey quantile (Woodruff): 1-stage cluster survey design (Taylor linearisation)
     term  quantile  estimate      se  ci_low  ci_high  df
    api00      0.25       591 20.2817     545      632  14
    api00       0.5       657 18.4167     621      700  14
    api00      0.75       715 17.7174     694      770  14
    119 rows used; 95% CIs: Woodruff method
    In R: svyquantile(~api00, design, quantiles = c(0.25, 0.5, 0.75), ci = TRUE, na.rm = TRUE)
    >>> med = d.quantile("api00", 0.5, by="stype")
    >>> print(med.to_frame()[["stype", "estimate", "ci_low", "ci_high", "df"]].to_string())
      stype  estimate  ci_low  ci_high    df
    0     E     668.0   628.0    700.0  14.0
    1     H     630.0   592.0    664.0   7.0
    2     M     662.0   517.0    850.0   7.0

    In R: ``svyquantile(~api00, dclus1, quantiles = c(0.25, 0.5, 0.75), ci = TRUE)``;
    ``svyby(~api00, ~stype, dclus1, svyquantile, quantiles = 0.5, ci = TRUE)``.
    """
    if qrule not in QRULES:
        raise EstimationError(
            f"qrule={qrule!r} is not supported; socialhealth implements {', '.join(QRULES)} "
            "(the inverse of the weighted empirical CDF, R's default)."
        )
    if interval_type not in INTERVAL_TYPES:
        raise EstimationError(
            f"interval_type={interval_type!r} is not supported; use 'mean' (Woodruff, R's default)."
        )
    try:
        level = float(level)
    except (TypeError, ValueError):
        raise EstimationError(f"level must be a number between 0 and 1, not {level!r}.") from None
    if not 0 < level < 1:
        raise EstimationError(f"level must be strictly between 0 and 1, not {level}.")
    try:
        probs = [float(q) for q in np.atleast_1d(np.asarray(quantiles, dtype=float))]
    except (TypeError, ValueError):
        raise EstimationError(
            f"quantiles must be probabilities between 0 and 1 (e.g. 0.5 for the median), "
            f"not {quantiles!r}."
        ) from None
    if not probs or any(not 0 <= q <= 1 for q in probs):
        raise EstimationError(f"quantiles must be probabilities between 0 and 1, not {quantiles!r}.")
    cols = as_list(variables)
    if not cols:
        raise EstimationError("name at least one variable.")
    require_columns(design.data, cols, "the design data")
    for c in cols:
        s = design.data[c]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            raise EstimationError(
                f"column {c!r} has dtype {s.dtype}; quantile() needs numeric columns."
            )

    inside = design.in_subset
    by_cols = as_list(by)
    codes, D, dom_table = subset_domains(design.data, inside, by_cols)

    rows_out = []
    w = design._w
    n_missing = 0
    n_used = 0
    # as R's svyquantile(na.rm = TRUE): rows missing any of the variables are dropped for all
    # of them, and the degrees of freedom are degf of the rows left (PSUs whose rows are all
    # missing no longer count)
    complete = np.ones(len(w), dtype=bool)
    for c in cols:
        complete &= ~np.isnan(design.data[c].to_numpy(dtype=float, na_value=np.nan))
    for dmn in range(D):
        in_dom = (codes == dmn) & complete
        sub = design._with_weights(np.where(in_dom, w, 0.0)) if in_dom.any() else design
        dfd = sub.degf() if df is None else float(df)
        q_t = float(stats.t.ppf(1 - (1 - level) / 2, dfd)) if np.isfinite(dfd) else float(
            stats.norm.ppf(1 - (1 - level) / 2))
        for c in cols:
            y = design.data[c].to_numpy(dtype=float, na_value=np.nan)
            ok = in_dom & ~np.isnan(y)
            if not ok.any():
                where = "" if not by_cols else " in the by-group " + ", ".join(
                    f"{b}={dom_table.iloc[dmn][b]}" for b in by_cols)
                raise EstimationError(f"no non-missing values of {c!r}{where}; cannot estimate a quantile.")
            values, cdf = _weighted_cdf(y[ok], w[ok])
            for p in probs:
                q = _inverse_cdf(values, cdf, p)
                lo = hi = se = np.nan
                if ci:
                    u = np.where(ok, (np.nan_to_num(y) <= q).astype(float), 0.0)[:, None]
                    F, V = sub._ratio_estimate(u, ok.astype(float)[:, None])
                    s = float(np.sqrt(max(V[0, 0], 0.0)))
                    F = float(np.atleast_1d(F)[0])
                    lo = _inverse_cdf(values, cdf, F - q_t * s)
                    hi = _inverse_cdf(values, cdf, F + q_t * s)
                    se = (hi - lo) / (2 * q_t)
                rows_out.append((dmn, c, p, q, se, lo, hi, dfd))
        n_missing += int(((codes == dmn) & ~complete).sum())
        n_used += int(in_dom.sum())

    out = pd.DataFrame(rows_out, columns=["dom", "term", "quantile", "estimate", "se", "lo", "hi", "df"])
    table = out[["term", "quantile", "estimate", "se"]].copy()
    if by_cols:
        by_rows = dom_table.loc[out["dom"].to_numpy()].reset_index(drop=True)
        table = pd.concat([by_rows, table], axis=1)
    se = table["se"].to_numpy(dtype=float)
    call = (f"svyquantile(~{' + '.join(cols)}, design, quantiles = c({', '.join(f'{p:g}' for p in probs)}), "
            f"ci = {'TRUE' if ci else 'FALSE'}, na.rm = TRUE)")
    if by_cols:
        call = (f"svyby(~{' + '.join(cols)}, ~{' + '.join(map(str, by_cols))}, design, svyquantile, "
                f"quantiles = c({', '.join(f'{p:g}' for p in probs)}), ci = TRUE, na.rm = TRUE)")
    dfs = out["df"].to_numpy(dtype=float)
    def interval(lvl):
        return quantile(design, variables, quantiles, True, lvl, interval_type, qrule, by, df).ci_override

    return IntervalEstimate(
        table=table,
        vcov=np.diag(se**2),
        df=dfs if by_cols else float(dfs[0]),
        statistic="quantile",
        n_rows=n_used,
        n_missing=n_missing,
        method="Woodruff",
        design_label=design._short_label(),
        r_call=call,
        ci_override=(out["lo"].to_numpy(dtype=float), out["hi"].to_numpy(dtype=float)),
        ci_level=level,
        extra={"interval": interval},
    )
