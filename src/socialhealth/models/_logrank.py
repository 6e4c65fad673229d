r"""Design-based log-rank and Harrington-Fleming G(rho, gamma) tests (R ``svylogrank``).

The log-rank test is the score test of ``beta = 0`` in a Cox model with the group indicators
``x_i`` (one column per level after the first). With sampling weights ``w_i`` the score is a
weighted total of per-row score residuals, and its design-based covariance is the covariance
of that estimated total (Rader 2014; Lumley 2010, ch. 7).

At ``beta = 0``, at each distinct event time ``t`` with ``d`` deaths, risk-set sums
``S0 = sum_{T_j >= t} w_j``, ``S1 = sum_{T_j >= t} w_j x_j`` and death sums ``S0_D``, ``S1_D``,
the Efron steps ``f_k = k / d`` (``k = 0..d-1``) give (as R's ``coxph.detail`` with its default
Efron ties)

    den_k = S0 - f_k S0_D,   E(t) = (1/d) sum_k (S1 - f_k S1_D) / den_k,
    dLambda(t) = sum_k (S0_D / d) / den_k.

With the Harrington-Fleming weight ``K(t) = S(t-)^rho (1 - S(t-))^gamma`` (``S`` the pooled
weighted Kaplan-Meier curve just before ``t``; ``K = 1`` for the log-rank test), row ``i``'s
score residual is

    U_i = delta_i K(T_i) (x_i - E(T_i)) - sum_{t <= T_i} K(t) dLambda(t) (x_i - E(t)),

and the score is ``U = sum_i w_i U_i``. With tied event times this is not the textbook
Breslow log-rank numerator (the Efron mean and hazard increment are used), which is what R
computes; without ties both coincide. ``V`` is the design covariance of the total
``sum_i w_i U_i`` (linearisation; replicate designs re-weight the same ``U_i`` with each
replicate's weights, as R does). Per level: ``z = U_j / sqrt(V_jj)`` with a two-sided normal
p-value; overall ``X^2 = U' V^{-1} U`` on ``k - 1`` degrees of freedom (chi-squared).

References
----------
Rader KA (2014) *Methods for Analyzing Survival and Binary Data in Complex Surveys*. Doctoral
dissertation, Harvard University.
Harrington DP, Fleming TR (1982) A class of rank test procedures for censored survival data.
*Biometrika* 69:553-566.
Efron B (1977) The efficiency of Cox's likelihood function for censored data. *JASA*
72:557-565.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 7.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from socialhealth._text import show, show_given
from socialhealth._deprecation import renamed_parameter
from socialhealth.design.extension import (level_codes, quadratic_form, r_complete_cases,
                                            r_factor)
from socialhealth.design.result_protocol import TEST_REASONS, Result
from socialhealth.errors import EstimationError, MissingColumnError, ModelError
from socialhealth.models._args import check_column


@dataclass
class LogrankResult(Result):
    """Result of :func:`logrank`: per-level scores and the overall chi-squared test.

    ``to_frame()`` has one row per level after the first (term, score, se, z, p);
    ``chisq``, ``df`` and ``p`` are the overall test.

    Examples
    --------
    >>> res = models.logrank(design, "time", "status", "group")   # doctest: +SKIP
    >>> res.chisq, res.p; res.to_frame()                          # doctest: +SKIP
    """

    _not_applicable = TEST_REASONS

    table: pd.DataFrame
    chisq: float
    df: int
    p: float
    method: str
    r_call: str = ""
    design_label: str = ""
    extra: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """Per-level scores, standard errors, z statistics and p-values (a copy)."""
        return self.table.copy()

    def __repr__(self) -> str:
        lines = [self.method + (f": {self.design_label}" if self.design_label else "")]
        with pd.option_context("display.width", 120, "display.float_format", "{:.6g}".format):
            lines.append(self.table.to_string(index=False))
        lines.append(f"Chisq = {self.chisq:.6g} on {self.df} df, p = {self.p:.4g}")
        if self.r_call:
            lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)


def _score_residuals(t, delta, X, w, rho: float, gamma: float) -> np.ndarray:
    """Per-row score residuals ``U_i`` at beta = 0 (module docstring); rows with ``w > 0``."""
    n, p = X.shape
    R = np.zeros((n, p))
    # pooled weighted Kaplan-Meier just before each event time
    times = np.unique(t[delta == 1])
    S_before = np.empty(len(times))
    S = 1.0
    for j, tt in enumerate(times):
        S_before[j] = S
        risk = t >= tt
        S *= 1.0 - w[(t == tt) & (delta == 1)].sum() / w[risk].sum()
    K_t = S_before**rho * (1.0 - S_before) ** gamma
    for j, tt in enumerate(times):
        risk = t >= tt
        dead = (t == tt) & (delta == 1)
        d = int(dead.sum())
        S0, S1 = w[risk].sum(), w[risk] @ X[risk]
        S0D, S1D = w[dead].sum(), w[dead] @ X[dead]
        f = np.arange(d) / d
        den = S0 - f * S0D
        E = ((S1[None, :] - f[:, None] * S1D[None, :]) / den[:, None]).mean(axis=0)
        dLambda = float(np.sum(S0D / d / den))
        R[dead] += K_t[j] * (X[dead] - E)
        R[risk] -= K_t[j] * dLambda * (X[risk] - E)
    return R


@renamed_parameter("group", "by", since="0.1.0")
def logrank(design, time: str, status: str, by: str, rho: float = 0.0,
            gamma: float = 0.0) -> LogrankResult:
    r"""Design-based log-rank test (or Harrington-Fleming G(rho, gamma) test) across groups.

    The score test of no group effect in a Cox model, with a design-based variance:
    ``U = sum_i w_i U_i`` from the score residuals at ``beta = 0`` (Efron ties, as R), each
    event time weighted by ``K(t) = S(t-)^rho (1 - S(t-))^gamma`` with ``S`` the pooled
    weighted Kaplan-Meier curve, ``V`` the design covariance of that total; per level
    ``z = U_j / se_j`` (normal), overall ``X^2 = U' V^{-1} U`` on ``k - 1`` df (chi-squared).
    Formulas in :mod:`socialhealth.models._logrank`. Rows with a missing time, status or group
    are left out (zero weight; the design is kept).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (a subset design gives a domain analysis).
    time : str
        Follow-up time column.
    status : str
        Event indicator column (1/True = event, 0/False = censored).
    by : str
        Grouping column; levels in sorted/category order, the first is the reference.
    rho, gamma : float, default 0
        Harrington-Fleming weights; ``rho=0, gamma=0`` is the log-rank test, ``rho=1`` a
        generalised Wilcoxon (Peto-Prentice type) test.

    Returns
    -------
    LogrankResult
        ``to_frame()``: term, score, se, z, p per level after the first; ``chisq``, ``df``,
        ``p`` for the overall test.

    Raises
    ------
    MissingColumnError, ModelError
        A column is missing, the status is not 0/1, or there are no events.
    EstimationError
        Fewer than two groups, or a singular covariance of the scores.

    References
    ----------
    Rader KA (2014) Doctoral dissertation, Harvard University. Harrington DP, Fleming TR (1982)
    *Biometrika* 69:553-566. Lumley T (2010) *Complex Surveys*, Wiley, ch. 7.

    Examples
    --------
    >>> import pandas as pd, socialhealth as sh
    >>> from socialhealth import models
    >>> df = pd.DataFrame({"time": [1., 2, 3, 4, 5, 6, 7, 8], "status": [1, 1, 0, 1, 1, 0, 1, 1],
    ...                    "g": ["a", "b"] * 4, "w": [1., 2, 1, 3, 1, 2, 2, 1]})
    >>> d = sh.SurveyDesign(df, weights="w")
    >>> res = models.logrank(d, "time", "status", "g")   # R: score -0.1153846, Chisq 0.005552735
    >>> round(float(res.to_frame().score[0]), 7), round(res.chisq, 9)
    (-0.1153846, 0.005552735)

    In R: ``svylogrank(Surv(time, status) ~ g, design, rho = 0, gamma = 0)``.
    """
    for arg, column in (("time", time), ("status", status), ("by", by)):
        check_column(column, arg, "logrank")
    data = design.data
    missing = [c for c in (time, status, by) if c not in data.columns]
    if missing:
        raise MissingColumnError(missing, data.columns, "the design data")
    for arg, value in (("rho", rho), ("gamma", gamma)):
        if isinstance(value, (bool, np.bool_, str, bytes)):
            raise ModelError(f"logrank: {arg}= must be a number >= 0 (rho=0, gamma=0: the "
                             f"log-rank test), not {show_given(value)}.")
    try:
        rho, gamma = float(rho), float(gamma)
    except (TypeError, ValueError):
        raise ModelError(f"rho and gamma must be numbers, not {show_given(rho)}, "
                         f"{show_given(gamma)}.") from None
    if not (0 <= rho < np.inf and 0 <= gamma < np.inf):    # NaN failed later as "singular"
        # (written as computed, 0 for the default 0.0, but NaN as NaN, not "missing")
        given = ", ".join(f"{n}={show_given(v) if v != v else show(v)}"
                          for n, v in (("rho", rho), ("gamma", gamma)))
        raise ModelError(f"rho and gamma must be finite numbers >= 0 (got {given}).")
    t = pd.to_numeric(data[time], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    st_raw = data[status]
    st = (st_raw.astype("float64") if pd.api.types.is_bool_dtype(st_raw) else
          pd.to_numeric(st_raw, errors="coerce")).to_numpy(dtype=float, na_value=np.nan)
    base = design.in_subset & ~np.isnan(t) & ~np.isnan(st)
    if not np.isin(st[base], (0.0, 1.0)).all():
        raise ModelError(f"the status column {status!r} must be 0/1 (or True/False).")
    g, levels = level_codes(data[by], base)
    used = base & (g >= 0)
    k = len(levels)
    if k < 2:
        raise EstimationError(f"logrank needs at least 2 groups among the rows used; {by!r} has "
                              f"{k}.")
    if not (st[used] == 1).any():
        raise ModelError("there are no events among the rows used; the log-rank test is undefined.")
    rows = np.flatnonzero(used)
    X = (g[rows, None] == np.arange(1, k)[None, :]).astype(float)
    w = design.weights[rows]
    R = np.zeros((len(data), k - 1))
    R[rows] = _score_residuals(t[rows], st[rows], X, w, rho, gamma)
    U = design.weights @ R
    V = design.totals_vcov(R, theta=np.zeros(k - 1))
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = U / se
    chisq = quadratic_form(
        U, V, EstimationError,
        f"the design covariance of the log-rank scores of the {k - 1} groups after the first is "
        f"singular (the design has {design.degf():g} degrees of freedom, PSUs minus strata, or "
        "a group has no events or a single PSU); cannot compute the test. Merge sparse groups "
        "or use a design with more PSUs.")
    table = pd.DataFrame({"term": [f"{by}={lv}" for lv in levels[1:]], "score": U, "se": se,
                          "z": z, "p": 2 * stats.norm.sf(np.abs(z))})
    name = "log-rank" if rho == 0 and gamma == 0 else f"G(rho={rho:g}, gamma={gamma:g})"
    return LogrankResult(
        table=table, chisq=chisq, df=k - 1, p=float(stats.chi2.sf(chisq, k - 1)),
        method=f"Design-based {name} test ({k} groups, reference {by}={levels[0]})",
        r_call=_r_call(design, time, status, by, levels, rho, gamma),
        design_label=design.label,
        extra={"levels": levels, "vcov": V, "n_rows": int(used.sum())},
    )


def _r_call(design, time: str, status: str, by: str, levels: list, rho: float,
            gamma: float) -> str:
    """The R ``svylogrank`` call: a text group with our reference level first
    (``factor(g, levels = c(...))`` when R's sorted order differs), and the rows with a missing
    time, status or group left out by ``subset()`` (R 4.1-1's ``svylogrank`` stops on them:
    "dims do not match the length of object")."""
    group = by
    if all(isinstance(lv, str) for lv in levels):
        group = r_factor(by, levels)
        if group == f"factor({by})":
            group = by
    keep = r_complete_cases([time, status, by], design.data, design.in_subset)
    des = f"subset(design, {keep})" if keep else "design"
    return (f"svylogrank(Surv({time}, {status}) ~ {group}, {des}, rho = {rho:g}, "
            f"gamma = {gamma:g})")
