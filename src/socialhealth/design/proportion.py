"""Proportions with confidence intervals that behave near 0 and 1 (R ``svyciprop``).

A survey proportion ``p = sum_i w_i y_i / sum_i w_i`` (``y`` a 0/1 indicator) is a mean, so its
point estimate and standard error are those of :meth:`DesignBase.mean`. What differs between the
methods is the confidence interval. With ``t = qt(1 - alpha/2, df)`` (``df`` the design degrees of
freedom; ``df=inf`` gives normal quantiles) and ``v = se(p)^2``:

``"logit"`` (default; R's default)
    Wald interval on the log-odds scale from the intercept-only quasibinomial survey GLM, whose
    estimate is ``logit(p)``. Taylor designs: its sandwich variance is exactly
    ``v / (p (1 - p))^2`` (the score is ``sum w (y - p)``, the information ``sum w p (1 - p)``);
    replicate designs: the replicate variance of ``logit(p_r)``, as R refits the GLM with every
    replicate. Interval ``expit(logit(p) +- t * se_logit)``.
``"xlogit"``
    The same transformation applied to the mean by the delta method (SUDAAN, SPSS): identical to
    ``"logit"`` on Taylor designs; on replicate designs it uses ``v / (p (1 - p))^2``.
``"likelihood"``
    Inverts the Rao-Scott scaled likelihood-ratio test of the working binomial model (Rao & Scott
    1984; Lumley & Scott 2014): the interval is the set of ``b`` with
    ``D(b) / phi <= delta * F(level; 1, df)`` where ``D(b) = 2 sum w~ [y log(p / expit(b)) +
    (1 - y) log((1 - p) / (1 - expit(b)))]`` is the working deviance (``w~`` the weights scaled to
    mean 1 over the rows of the design), ``phi = sum w~ (y - p)^2 / (p (1 - p)) / (n - 1)`` its
    quasibinomial dispersion (``n`` rows used), and
    ``delta = var_design(logit p) * sum w~ p (1 - p)`` the design effect of the coefficient. The
    roots are found exactly; R evaluates the profile on a grid and interpolates, so R's end points
    differ from the exact ones by about 1e-5 to 1e-3 (relative) -- see the tests.

    Replicate designs: the same construction with ``var_design(logit p)`` the replicate variance
    of the refitted coefficient (negative replicate weights count as 0, as in ``"logit"``). The
    Rao-Scott correction needs only a consistent design-based variance of the coefficient,
    linearisation or replication (Rao & Scott 1984; Lumley & Scott 2014, who use it for
    replicate-weight designs as well; Rust & Rao 1996 for replicate variances). **R differs:**
    ``svyciprop(method = "likelihood")`` returns ``NA`` for every replicate-weight design (survey
    4.1-1, with or without negative weights): its profile divides the working deviance by
    ``summary(fit)$dispersion``, which for a replicate-weight fit is ``n`` for a 0/1 outcome (its
    Pearson residuals carry a factor ``sqrt(n)``; seen with n = 80 and with apiclus1, n = 183)
    where the same fit on a linearisation design has ``n / (n - 1)``, so the deviance profile
    is about ``n`` times too flat and never reaches the cut-off. Giving R's own
    profile routine the linearisation fit with the replicate variance and df reproduces
    socialhealth's interval up to R's grid interpolation (tests/design/
    test_replicate_negative_tests.py).
``"asin"``
    Variance-stabilising arcsine-square-root transformation: ``a = asin(sqrt(p))``,
    ``se_a = se / (2 sqrt(p (1 - p)))``, interval ``sin(a +- t se_a)^2``. As in R the angle is
    not truncated, so for ``p`` near 0 an end beyond 0 folds back to a small positive value.
``"beta"``
    Korn & Graubard (1998): Clopper-Pearson interval with the effective sample size
    ``n* = p (1 - p) / v * (qt(alpha/2, n - 1) / qt(alpha/2, df))^2`` (``n`` = rows of the design,
    including rows with a missing value, as R's ``nrow(design)``) and ``x* = n* p``:
    ``[qbeta(alpha/2, x*, n* - x* + 1), qbeta(1 - alpha/2, x* + 1, n* - x*)]``. With no
    sampling variance (a census) ``n*`` is infinite and the interval is ``[p, p]``, the
    limit (R returns ``[0.5, 0.5]`` there: ``qbeta(a, Inf, Inf)``).
``"mean"``
    Plain Wald interval ``p +- t * se``.

When ``p`` is 0 or 1 the variance is 0 and, as in R, the transformed intervals are undefined
(NaN); ``"mean"`` gives the degenerate interval ``[p, p]``.

References
----------
Korn EL, Graubard BI (1998) Confidence intervals for proportions with small expected number of
positive counts estimated from survey data. *Survey Methodology* 24:193-201.
Rao JNK, Scott AJ (1984) On chi-squared tests for multiway contingency tables with cell
proportions estimated from survey data. *Annals of Statistics* 12:46-60.
Lumley T, Scott A (2014) Tests for regression models fitted to survey data. *Australian & New
Zealand Journal of Statistics* 56:1-14.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, §2.3.
Rust KF, Rao JNK (1996) Variance estimation for complex surveys using replication techniques.
*Statistical Methods in Medical Research* 5:283-310.
"""
from __future__ import annotations

from typing import Any, Literal, NamedTuple, Sequence, get_args

import numpy as np
import pandas as pd
from scipy import special   # scipy.stats/optimize (~50 MB) only where used: beta, likelihood

from socialhealth._options import is_choice
from socialhealth._stack import user_stacklevel
from socialhealth._text import show, show_given
from socialhealth.design.results import Estimate, t_quantile
from socialhealth.design.structure import as_list, require_columns
from socialhealth.design.variables import analysis_matrix, is_categorical, subset_domains
from socialhealth.errors import EstimationError

#: ``method=`` of :func:`proportion`: the interval methods of R ``svyciprop``.
ProportionMethod = Literal["logit", "likelihood", "asin", "beta", "mean", "xlogit"]
#: The same names as a tuple, the one list the CLI, the report and the models check against.
METHODS: tuple[str, ...] = get_args(ProportionMethod)


# ----------------------------------------------------------------------------- result
class IntervalEstimate(Estimate):
    """An :class:`Estimate` whose interval is not ``estimate +- t se`` (proportions, quantiles).

    ``to_frame()`` and ``confint()`` default to the level the estimate was computed at; another
    ``level`` recomputes the method's own interval (``extra["interval"]``). Passing ``df=``
    explicitly gives the plain Wald interval with those degrees of freedom.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    >>> p = d.proportion("sch.wide", method="logit")
    >>> type(p).__name__, p.method
    ('IntervalEstimate', 'logit')
    >>> print(p.to_frame()[["level", "estimate", "ci_low", "ci_high"]].round(4).to_string())
      level  estimate  ci_low  ci_high
    0    No    0.2437  0.1860   0.3126
    1   Yes    0.7563  0.6874   0.8140
    >>> print(p.confint(level=0.9).round(4).to_string())       # logit interval at 90%
                   ci_low  ci_high
    sch.wide[No]   0.1946   0.3007
    sch.wide[Yes]  0.6993   0.8054

    In R: ``svyciprop(~I(sch.wide == "Yes"), dstrat, method = "logit", level = 0.9)``.
    """

    def confint(self, level: float | None = None, df: float | None = None) -> pd.DataFrame:
        """Confidence intervals by the estimate's own method (logit, beta, likelihood, ...).

        ``level=None`` gives the intervals computed with the estimate; another level recomputes
        the same method's interval (R ``svyciprop(..., level = )``); an explicit ``df=`` gives
        the Wald interval ``estimate +- t_df se``.
        """
        level = self.level if level is None else _check_level(level)
        recompute = self.extra.get("interval")
        if df is None and recompute is not None and not np.isclose(level, self.level):
            lo, hi = recompute(level)
            return pd.DataFrame({"ci_low": lo, "ci_high": hi}, index=self._labels())
        return super().confint(level, df)

    def to_frame(self, level: float | None = None, df: float | None = None) -> pd.DataFrame:
        """Tidy table as :meth:`Estimate.to_frame`, with the intervals of :meth:`confint`."""
        return super().to_frame(self.level if level is None else _check_level(level), df)

    def __repr__(self) -> str:
        text = super().__repr__()
        return text.replace("; CIs: t with design df",
                            f"; {self.level:.0%} CIs: {self.method} method")


# ----------------------------------------------------------------------------- inputs
def _check_level(level: float) -> float:
    from socialhealth.design.results import check_level

    return check_level(level)


def _indicators(design, variable: str) -> tuple[np.ndarray, list, np.ndarray]:
    """(n x k) 0/1 values (NaN where missing), the level of each column, complete rows."""
    if not isinstance(variable, str):
        raise EstimationError(
            f"proportion() takes one column name, not {show_given(variable)}; call it once per "
            "variable."
        )
    require_columns(design.data, [variable], "the design data")
    s = design.data[variable]
    if is_categorical(s) and not pd.api.types.is_bool_dtype(s):
        X = analysis_matrix(design.data, [variable])
        return X.values, list(X.levels), X.complete
    if pd.api.types.is_bool_dtype(s):
        vals = s.to_numpy(dtype=float, na_value=np.nan)
    elif pd.api.types.is_numeric_dtype(s):
        vals = s.to_numpy(dtype=float, na_value=np.nan)
        inside = design.in_subset & ~np.isnan(vals)
        bad = np.unique(vals[inside & (vals != 0) & (vals != 1)])
        if bad.size:
            shown = ", ".join(f"{v:g}" for v in bad[:8]) + (", ..." if bad.size > 8 else "")
            raise EstimationError(
                f"proportion() needs a 0/1 or boolean column, but {variable!r} also has the "
                f"value(s) {shown}. Recode it first, e.g. "
                f"design.assign(lonely=lambda df: df[{variable!r}] >= 3), or pass a categorical "
                "column to get the proportion in each level."
            )
    else:
        raise EstimationError(
            f"column {variable!r} has dtype {s.dtype}; proportion() needs a 0/1, boolean or "
            "categorical column."
        )
    vals = vals.reshape(-1, 1)
    return vals, [None], ~np.isnan(vals[:, 0])


# ----------------------------------------------------------------------------- intervals
def _expit(x):
    return special.expit(x)


def _logit(p):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(p / (1.0 - p))


def _wald_logit(p, se_logit, t):
    eta = _logit(p)
    return _expit(eta - t * se_logit), _expit(eta + t * se_logit)


def _asin_ci(p, se, t):
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.arcsin(np.sqrt(p))
        se_a = se / (2.0 * np.sqrt(p * (1.0 - p)))
    # as R: the angle is not truncated, so an end beyond 0 or pi/2 folds back
    return np.sin(a - t * se_a) ** 2, np.sin(a + t * se_a) ** 2


def _beta_ci(p, var, level, df, nrow):
    from scipy import stats

    alpha = 1 - level
    if p in (0.0, 1.0):
        # undefined, as R (module docstring); a rounding-level variance (1e-64 for p = 1 with
        # uneven weights) would otherwise give n* = 0 and the interval (0, 1)
        return np.nan, np.nan, np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        if np.isfinite(df):
            ratio = stats.t.ppf(alpha / 2, nrow - 1) / stats.t.ppf(alpha / 2, df)
        else:
            ratio = stats.t.ppf(alpha / 2, nrow - 1) / stats.norm.ppf(alpha / 2)
        n_eff = p * (1 - p) / var * ratio**2
        if np.isinf(n_eff):
            # no sampling variance (e.g. a census, fpc = sample size) and 0 < p < 1: the
            # Clopper-Pearson limits tend to p as n* grows (R's qbeta(a, Inf, Inf) gives 0.5;
            # the upper-limit test below would give 1)
            return float(p), float(p), float(n_eff)
        x = n_eff * p
        lo = 0.0 if x == 0 else stats.beta.ppf(alpha / 2, x, n_eff - x + 1)
        hi = 1.0 if np.isclose(x, n_eff, rtol=0, atol=0) else stats.beta.ppf(1 - alpha / 2, x + 1,
                                                                             n_eff - x)
    return float(lo), float(hi), float(n_eff)


def _likelihood_ci(y, w_tilde, mu, info, var_logit, level, df):
    """Exact roots of the Rao-Scott scaled working deviance (see the module docstring).

    ``mu`` is the fitted proportion and ``info`` the naive information ``sum w~ mu (1 - mu)``
    of the intercept-only fit (R's ``naive.cov`` is its inverse, taken at the working weights of
    the last IRLS step), ``var_logit`` the design variance of the coefficient.
    """
    from scipy import optimize, stats

    used = w_tilde > 0
    y, wt = y[used], w_tilde[used]
    n = used.sum()
    if not (0 < mu < 1) or not np.isfinite(var_logit) or n < 2:
        return np.nan, np.nan
    delta = var_logit * info                           # design effect of the coefficient
    phi = np.sum(wt * (y - mu) ** 2) / (mu * (1 - mu)) / (n - 1)
    crit = float(stats.chi2.ppf(level, 1)) if not np.isfinite(df) else float(stats.f.ppf(level, 1,
                                                                                         df))
    s1, s0 = np.sum(wt * y), np.sum(wt * (1 - y))
    b0 = float(_logit(mu))

    def deviance(b):
        # 2 sum w~ [-y log expit(b) - (1 - y) log(1 - expit(b))], written stably in b
        return 2.0 * (s1 * np.logaddexp(0.0, -b) + s0 * np.logaddexp(0.0, b))

    target = deviance(b0) + delta * phi * crit

    def excess(b):
        return deviance(b) - target

    step = max(np.sqrt(var_logit), 1e-3)
    ends = []
    for sign in (-1.0, 1.0):
        far = b0 + sign * step
        k = 0
        while excess(far) < 0 and k < 200:
            step *= 2.0
            far = b0 + sign * step
            k += 1
        a, b = sorted((b0, far))
        ends.append(optimize.brentq(excess, a, b, xtol=1e-14, rtol=4 * np.finfo(float).eps,
                                    maxiter=500))
    return float(_expit(ends[0])), float(_expit(ends[1]))


_ROWS_PER_BLOCK = 1 << 16   # rows summed at a time (the block's temporaries stay in cache)


def _first_step_sums(y: np.ndarray, w: np.ndarray, scale: float, first: bool) -> list[float]:
    """The sums over rows that :func:`_glm_intercept` needs, with prior weights ``w / scale``,
    in row blocks (at millions of rows, n-vector temporaries are each mapped fresh from the
    kernel and faulted in; a block's stay in cache).

    Returns ``[sum w y, sum w (1 - y), sum w]`` and, for the first step from R's starting
    values (``first``), with ``r = 1 / (w + 1)`` and working weights
    ``W = w (w + 1/2) r^2 / 2``: ``sum w log(1 - r/2)``, ``sum W``, ``sum W L y``, ``sum W L``
    (``L = log(1 + 2 w)``), ``sum r w y``, ``sum r w``.
    """
    out = [0.0] * (9 if first else 3)
    for i in range(0, len(y), _ROWS_PER_BLOCK):
        yb = y[i:i + _ROWS_PER_BLOCK]
        wb = w[i:i + _ROWS_PER_BLOCK] / scale
        out[0] += float(np.einsum("i,i->", wb, yb))
        out[1] += float(np.einsum("i,i->", wb, 1.0 - yb))
        out[2] += float(wb.sum())
        if not first:
            continue
        r = wb + 1.0
        np.reciprocal(r, out=r)
        t = r * -0.5
        np.log1p(t, out=t)
        out[3] += float(np.einsum("i,i->", wb, t))
        W = np.add(wb, 0.5, out=t)                            # working weights w mu (1 - mu)
        W *= wb
        W *= r
        W *= r
        W *= 0.5
        out[4] += float(W.sum())
        L = np.multiply(wb, 2.0)
        np.log1p(L, out=L)
        L *= W
        out[5] += float(np.einsum("i,i->", L, yb))
        out[6] += float(L.sum())
        r *= wb
        out[7] += float(np.einsum("i,i->", r, yb))
        out[8] += float(r.sum())
    return out


def _glm_intercept(y: np.ndarray, w: np.ndarray, start: float | None = None,
                   epsilon: float = 1e-8, maxit: int = 25, scale: float = 1.0):
    """Intercept-only binomial IRLS exactly as R's ``glm`` runs it (Fisher scoring).

    ``y`` are 0/1 values (the first step's closed forms below assume it) and ``w / scale`` the
    prior weights of the rows used (the sums over rows: :func:`_first_step_sums`). Start
    ``mu_i = (w_i y_i + 0.5) / (w_i + 1)`` (R's binomial ``initialize``), or the coefficient
    ``start`` (replicate refits start from the full-sample fit, as R's ``svyglm``); each step is
    ``b = sum W z / sum W`` with working weights ``W = w mu (1 - mu)`` and working response
    ``z = eta + (y - mu) / (mu (1 - mu))``; stop when
    ``|dev - dev_old| / (|dev| + 0.1) < epsilon`` (``glm.control``). Returns the coefficient
    ``b``, the fitted ``mu`` and the information ``sum W`` at the working weights of the last
    step (R's ``naive.cov`` is its inverse). The converged value is ``logit(p)``; R's default
    tolerance stops within about 1e-9 of it, and reproducing the iterations reproduces R's interval
    digit for digit (McCullagh & Nelder 1989, §2.5).
    """
    if len(y) == 0:
        return np.nan, np.nan, np.nan
    sums = _first_step_sums(y, w, scale, first=start is None)
    s1, s0, sw = sums[0], sums[1], sums[2]

    def deviance(mu):
        out = 0.0
        if s1 > 0:
            out -= 2.0 * s1 * np.log(mu)
        if s0 > 0:
            out -= 2.0 * s0 * np.log1p(-mu)
        return out

    # After the first step every row has the same fitted value, so each later step is scalar:
    # with a = mu (1 - mu) the working weights are w a, the information a sum(w) and the
    # update b + sum w (y - mu) / (a sum w) = b + (s1 - mu sum w) / info.
    if start is None:
        # first step from R's starting values mu_i = (w_i y_i + 0.5) / (w_i + 1), one per row.
        # For 0/1 y, with r = 1 / (w + 1): y - mu = (y - 1/2) r, mu (1 - mu) = (w + 1/2) r^2 / 2,
        # eta = logit(mu) = (2 y - 1) log(1 + 2 w), and both y log(mu) and (1 - y) log(1 - mu)
        # reduce to log(1 - r / 2): two logarithms per row instead of three
        # (_first_step_sums)
        dev_old, info = -2.0 * sums[3], sums[4]
        sum_w_eta = 2.0 * sums[5] - sums[6]            # sum W eta = 2 sum W L y - sum W L
        sum_w_res = sums[7] - 0.5 * sums[8]            # sum w (y - 1/2) r
        b = (sum_w_eta + sum_w_res) / info
        mu_b = float(_expit(b))
        dev = deviance(mu_b)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            return b, mu_b, info
        dev_old = dev
        steps = maxit - 1
    else:
        b = float(start)
        mu_b = float(_expit(b))
        dev_old = float(-2.0 * (s1 * np.log(mu_b) + s0 * np.log1p(-mu_b)))
        info = np.nan
        steps = maxit
    for _ in range(steps):
        a = mu_b * (1.0 - mu_b)
        if not a > 0:                # mu at 0 or 1 in floating point: diverged (see below)
            b = np.nan
            break
        info = a * sw
        b = b + (s1 - mu_b * sw) / info
        mu_b = float(_expit(b))
        dev = deviance(mu_b)
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            break
        dev_old = dev
    if not np.isfinite(b) and 0 < s1 and 0 < s0:
        # diverged from a far start (see _glm_intercept_sums): the maximum, logit(s1 / sum w)
        mu_b = float(s1 / (s1 + s0))
        b, info = float(_logit(mu_b)), mu_b * (1.0 - mu_b) * sw
    return b, mu_b, info


def _glm_intercept_sums(s1: float, s0: float, start: float, epsilon: float = 1e-8,
                        maxit: int = 25) -> float:
    """:func:`_glm_intercept` started at ``start`` from the weighted counts alone.

    With a constant start every row has the same ``eta`` and ``mu``, so each IRLS step depends
    on the data only through ``s1 = sum w y`` and ``s0 = sum w (1 - y)``:
    ``b = eta + (s1 - mu (s1 + s0)) / (mu (1 - mu) (s1 + s0))``, the same iterations and stopping
    rule (equal up to rounding). Replicate refits of all replicates need only ``W' y``.
    """
    s1, s0 = np.float64(s1), np.float64(s0)
    total = s1 + s0

    def deviance(mu):
        out = 0.0
        if s1 > 0:
            out -= 2.0 * s1 * np.log(mu)
        if s0 > 0:
            out -= 2.0 * s0 * np.log1p(-mu)
        return out

    eta = np.float64(start)
    mu = _expit(eta)
    dev_old = float(-2.0 * (s1 * np.log(mu) + s0 * np.log1p(-mu)))
    b = float(eta)
    for _ in range(maxit):
        a = mu * (1.0 - mu)
        b = float(eta + (s1 - mu * total) / (a * total))
        mu_b = _expit(np.float64(b))
        dev = deviance(mu_b)
        eta, mu = np.float64(b), mu_b
        if abs(dev - dev_old) / (abs(dev) + 0.1) < epsilon:
            break
        dev_old = dev
    if not np.isfinite(b) and 0 < s1 and 0 < s0:
        # Fisher scoring from a start far from the answer can overshoot and diverge (a
        # replicate whose share is far from the full sample's): R's glm.fit then returns a
        # meaningless value (seen: -1.5e15 for a replicate share of 0.22). The maximum exists
        # and is logit(s1 / (s1 + s0)).
        b = float(_logit(s1 / total))
    return b


# ----------------------------------------------------------------------------- steps
class _Cells(NamedTuple):
    """The (domain, level) cells of one call: column ``j`` is domain ``j // k``, level ``j % k``."""

    num: np.ndarray        # n x (D k): the 0/1 value on the cell's rows used, else 0
    den: np.ndarray        # n x (D k): 1 on the cell's rows used, else 0
    used: np.ndarray       # rows used: complete, in the subset, in a domain
    complete: np.ndarray   # rows without a missing value
    codes: np.ndarray      # domain code of each row (-1: outside the subset)
    D: int                 # number of domains (1 without ``by``)
    k: int                 # number of levels (1 for a 0/1 column)
    levels: list           # level of each column of the variable ([None] for a 0/1 column)
    by_cols: list          # the ``by`` columns
    dom_table: pd.DataFrame | None  # one row per domain: its values of the ``by`` columns


class _LogitFit(NamedTuple):
    """Intercept-only quasibinomial GLM per cell (R ``svyglm(y ~ 1)``)."""

    eta: np.ndarray        # coefficient: logit of the fitted proportion
    mu: np.ndarray         # fitted proportion
    info: np.ndarray       # naive information at the last IRLS step
    var_logit: np.ndarray  # design variance of the coefficient


def _check_method(method) -> None:
    if not is_choice(method, METHODS):
        raise EstimationError(
            f"method={show_given(method)} is not a proportion interval method; use one of "
            f"{', '.join(METHODS)}."
        )


def _cells(design, variable: str, by) -> _Cells:
    """Indicator columns per (domain, level) cell, with the checks on the data."""
    vals, levels, complete = _indicators(design, variable)
    n, k = vals.shape
    inside = design._subset_mask()
    by_cols = as_list(by)
    if not by_cols and inside.all():
        # one domain holding every row: the design's kept codes (no new n-vector)
        codes, D, dom_table = design._one_domain_codes(), 1, None
    else:
        codes, D, dom_table = subset_domains(design.data, inside, by_cols)
    used = complete & inside & (codes >= 0)
    if not used.any():
        raise EstimationError(
            f"no rows left to estimate the proportion of {variable!r}: every row in the subset "
            "has a missing value."
        )
    all_used = bool(used.all())
    # every row used: no missing values, nothing to zero
    y = vals if all_used else np.where(used[:, None], np.nan_to_num(vals), 0.0)

    # one (domain, level) column per estimate
    if D == 1:
        ind = used[:, None]
    else:
        ind = (codes[:, None] == np.arange(D)[None, :]) & used[:, None]            # n x D
    for dmn in range(D):
        if not ind[:, dmn].any():
            label = "" if dom_table is None else ", ".join(
                f"{c}={show(dom_table.iloc[dmn][c], quote=False)}" for c in by_cols)
            raise EstimationError(
                f"the by-group {label} has no rows with a non-missing {variable!r}; drop that "
                "group (e.g. design.subset(...)) before estimating."
            )
    num = y if D == 1 else (ind[:, :, None] * y[:, None, :]).reshape(n, D * k)
    if D == 1 and all_used:
        # 1 in every row: a read-only view, no n x k array (the replicate products take the
        # kept weight sums for it)
        den = np.broadcast_to(np.ones(1), (n, k))
    else:
        den = np.repeat(ind.astype(float), k, axis=1)
    return _Cells(num, den, used, complete, codes, D, k, levels, by_cols, dom_table)


def _exact_ones(design, cells: _Cells, p: np.ndarray) -> None:
    """Set ``p`` to exactly 1 in the cells where every row used has the indicator 1.

    ``sum w y / sum w`` with ``y = 1`` can round to ``1 - 1 ulp`` (apistrat's weights), and then
    the logit fit diverged (estimate NaN) and the boundary rules (degenerate logit interval,
    the warning of the other methods) were not applied. R: ``svyciprop`` gives 1 there.
    """
    w = design._w
    for j in np.flatnonzero((p != 1.0) & (p > 1.0 - 1e-9)):
        rows = (cells.den[:, j] > 0) & (w > 0)
        if rows.any() and bool((cells.num[rows, j] == cells.den[rows, j]).all()):
            p[j] = 1.0


def _degrees_of_freedom(design, cells: _Cells, df) -> tuple[np.ndarray, np.ndarray]:
    """Degrees of freedom and row count per cell.

    R: each ``svyby`` call sees ``subset(design, domain)``, so a domain has its own df and rows.
    """
    codes, D, k = cells.codes, cells.D, cells.k
    if cells.by_cols:
        dfs_dom, nrow_dom = [], []
        for dmn in range(D):
            sub = design._with_weights(np.where(codes == dmn, design._w, 0.0))
            dfs_dom.append(sub.degf() if df is None else float(df))
            nrow_dom.append(int((codes == dmn).sum()))
    else:
        dfs_dom = [design.degf() if df is None else float(df)]
        nrow_dom = [int(design.in_subset.sum())]
    return np.repeat(np.asarray(dfs_dom, dtype=float), k), np.repeat(np.asarray(nrow_dom), k)


def _logit_fit(design, cells: _Cells, p: np.ndarray) -> _LogitFit:
    """The intercept-only GLM per cell and the design variance of its coefficient.

    R fits ``svyglm(y ~ 1, family = quasibinomial)`` on the (domain) design, with the weights
    scaled to mean 1 over the design's rows; its IRLS is reproduced so that the interval
    matches R's digit for digit (the converged value would be ``logit(p)``). Replicate
    designs refit with each replicate.
    """
    num, den, codes, k = cells.num, cells.den, cells.codes, cells.k
    m = cells.D * k
    eta = np.empty(m)
    mu_fit = np.empty(m)
    info = np.full(m, np.nan)
    scales = np.empty(m)
    # R's starting values mu_i = (w_i y_i + 1/2) / (w_i + 1) need w_i >= 0; negative weights
    # (after an unbounded linear calibration; R's glm refuses them) start at the converged
    # value logit(p), which the weighted score equation gives for any weights
    negative = bool(design._w.min(initial=0.0) < 0)
    for j in range(m):
        rows = codes == (j // k)
        scales[j] = float(design._w.mean() if rows.all() else design._w[rows].mean())
        sel = den[:, j] > 0
        if 0 < p[j] < 1:
            start = float(_logit(p[j])) if negative else None
            if sel.all():            # every row used: no copies of the rows used
                eta[j], mu_fit[j], info[j] = _glm_intercept(num[:, j], design._w, start=start,
                                                            scale=scales[j])
            else:
                eta[j], mu_fit[j], info[j] = _glm_intercept(num[sel, j], design._w[sel],
                                                            start=start, scale=scales[j])
        else:
            eta[j], mu_fit[j] = _logit(p[j]), p[j]

    def influence():
        with np.errstate(divide="ignore", invalid="ignore"):
            Z = num - mu_fit * den           # in place, same elementwise order as
            Z *= design._w[:, None]          # w (num - mu den) / (mu (1 - mu) sum w den)
            Z /= mu_fit * (1 - mu_fit) * np.einsum("i,ij->j", design._w, den)
            return Z

    # the rows of each cell (R's svyby analyses each domain as its own subset)
    influence.rows = lambda: den > 0   # type: ignore[attr-defined]

    def refit(w_r):
        out = np.full(m, np.nan)
        for j in range(m):
            sel = (den[:, j] > 0) & (w_r > 0)
            yj = num[sel, j]
            if sel.any() and np.isfinite(eta[j]):
                # a replicate without events (or without non-events) has no finite MLE;
                # R's IRLS stops after drifting to a large |logit|, and so do we
                # prior weights w_r / sum(w_r) over the rows used, as R's svyglm passes each
                # replicate to glm.fit (they set the stopping rule's deviance scale)
                wj = w_r[sel]
                with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                    out[j] = _glm_intercept(yj, wj / wj.sum(), start=eta[j])[0]
        return out

    def refit_all(W):
        # every replicate at once from its weighted counts (see _glm_intercept_sums);
        # W: the design's replicate weights (``W.tdot_parts([A, B])`` is ``W' [A, B]``)
        # (the same product as the ratio's replicate totals: ReplicateDesign keeps it)
        T = W.tdot_parts([num, den])
        # each replicate's prior weights sum to 1 over the rows used (R's svyglm: wi / sum(wi))
        with np.errstate(divide="ignore", invalid="ignore"):
            S1, S0 = T[:, :m] / T[:, m:], (T[:, m:] - T[:, :m]) / T[:, m:]
        out = np.full((W.shape[1], m), np.nan)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            for r in range(W.shape[1]):
                for j in range(m):
                    if S1[r, j] + S0[r, j] > 0 and np.isfinite(eta[j]):
                        out[r, j] = _glm_intercept_sums(S1[r, j], S0[r, j], eta[j])
        return out

    refit.batch = refit_all  # type: ignore[attr-defined]  # read by ReplicateDesign

    def groups():
        # the domains of the cells (svyby analyses each on its own): a replicate whose refit
        # is undefined in one domain is discarded for that domain's variance only
        from socialhealth.design.replicate import _disjoint_groups

        labels = np.asarray(_disjoint_groups(den)).astype(np.int64)
        # a cell with p = 0 or 1 has no finite logit (its refits are all NaN, its interval is
        # (p, p)): on its own, so that it does not void the variances of its domain's cells
        bad = ~np.isfinite(eta)
        labels[bad] = -1 - np.flatnonzero(bad)
        return labels

    refit.groups = groups  # type: ignore[attr-defined]  # read by ReplicateDesign

    irls_design = getattr(design, "_irls_refit_design", None)
    # negative replicate weights count as 0 in the refits, as in R (svyglm's glm.fit)
    vdesign = design if irls_design is None else irls_design("proportion (logit/likelihood)")
    with np.errstate(divide="ignore", invalid="ignore"):
        var_logit = np.diag(vdesign._general_vcov(eta, influence=influence, refit=refit))
    return _LogitFit(eta, mu_fit, info, var_logit)


def _intervals(design, cells: _Cells, method: str, level: float, p, se, var, dfs, nrows,
               fit: _LogitFit | None):
    """``(ci_low, ci_high, n_eff)`` per cell by ``method`` (formulas: module docstring)."""
    if fit is None and method in ("logit", "likelihood"):   # not reached: proportion() fits it
        raise EstimationError(f"method={method!r} needs the intercept-only GLM fit.")
    m = cells.D * cells.k
    lo = np.full(m, np.nan)
    hi = np.full(m, np.nan)
    n_eff = np.full(m, np.nan)
    wmean_cache: dict[int, float] = {}
    for j in range(m):
        t = t_quantile(level, dfs[j])
        with np.errstate(divide="ignore", invalid="ignore"):
            if method == "mean":
                lo[j], hi[j] = p[j] - t * se[j], p[j] + t * se[j]
            elif method == "xlogit":
                lo[j], hi[j] = _wald_logit(p[j], se[j] / (p[j] * (1 - p[j])), t)
            elif method == "logit" and p[j] in (0.0, 1.0) and np.isfinite(t):
                # all rows 0 (or all 1): R's svyciprop(method = "logit") returns the interval
                # (1, 1) for all ones and (3e-12, 3e-12) for all zeros (its IRLS stops at a huge
                # |logit| with se ~ 0); the exact limit is the degenerate interval (p, p)
                lo[j], hi[j] = p[j], p[j]
            elif method == "logit" and fit is not None:
                lo[j], hi[j] = (_expit(fit.eta[j] - t * np.sqrt(fit.var_logit[j])),
                                _expit(fit.eta[j] + t * np.sqrt(fit.var_logit[j])))
            elif method == "asin":
                lo[j], hi[j] = _asin_ci(p[j], se[j], t)
            elif method == "beta":
                lo[j], hi[j], n_eff[j] = _beta_ci(p[j], var[j], level, dfs[j], nrows[j])
            elif method == "likelihood" and fit is not None:
                dmn = j // cells.k
                rows = cells.codes == dmn
                if dmn not in wmean_cache:
                    wmean_cache[dmn] = float(design._w[rows].mean())
                wt = np.where(cells.used & rows, design._w, 0.0) / wmean_cache[dmn]
                lo[j], hi[j] = _likelihood_ci(cells.num[:, j], wt, fit.mu[j], fit.info[j],
                                              fit.var_logit[j], level, dfs[j])
    return lo, hi, n_eff


def _warn_boundary(variable: str, method: str, p: np.ndarray, lo: np.ndarray) -> None:
    """Warn where ``p`` is 0 or 1 and the method's interval is undefined (NaN)."""
    boundary = np.isnan(lo) & np.isin(p, (0.0, 1.0)) & (method != "logit")
    if boundary.any():
        import warnings

        from socialhealth.errors import SocialHealthWarning

        warnings.warn(
            f"the proportion of {variable!r} is exactly 0 or 1 in {int(boundary.sum())} "
            f"estimate(s), where the {method!r} interval is undefined: ci_low/ci_high are NaN (R's "
            "svyciprop gives NaN for asin/beta/xlogit and fails for likelihood). Use "
            "method='logit' or 'mean' for the degenerate interval (p, p).",
            SocialHealthWarning, stacklevel=user_stacklevel(),   # the user's call
        )


def _table(variable: str, cells: _Cells, estimate: np.ndarray, se: np.ndarray) -> pd.DataFrame:
    """[by...], term, level, estimate, se: one row per cell."""
    D, k = cells.D, cells.k
    table = pd.DataFrame({"term": [variable] * (D * k), "level": list(cells.levels) * D})
    if cells.dom_table is not None:   # by= given
        by_rows = cells.dom_table.loc[np.repeat(np.arange(D), k)].reset_index(drop=True)
        table = pd.concat([by_rows, table], axis=1)
    table["estimate"] = estimate
    table["se"] = se
    return table


def _r_call(variable: str, method: str, level: float, by_cols: list,
            df: float | None = None) -> str:
    """The R call computing the same numbers."""
    opts = (f", level = {level:.12g}" if level != 0.95 else "") + (
        "" if df is None else ", df = " + ("Inf" if np.isinf(df) else f"{float(df):.12g}"))
    if by_cols:
        return (f"svyby(~{variable}, ~{' + '.join(map(str, by_cols))}, design, svyciprop, "
                f"vartype = c('se', 'ci'), method = '{method}'{opts}, na.rm = TRUE)")
    return f"svyciprop(~{variable}, design, method = '{method}'{opts}, na.rm = TRUE)"


# ----------------------------------------------------------------------------- main verb
def proportion(
    design,
    variable: str,
    method: ProportionMethod = "logit",
    level: float = 0.95,
    by: str | Sequence[str] | None = None,
    df: float | None = None,
) -> Estimate:
    """Estimated proportion with a confidence interval suited to proportions near 0 or 1.

    The estimate is the weighted mean of a 0/1 indicator (``p = sum w y / sum w``) with its
    design-based standard error (as :meth:`mean`); with ``"logit"`` and ``"likelihood"`` it is,
    as in R's ``svyciprop``, the fitted value of the intercept-only logistic model, whose IRLS
    stops at R's criterion, so it can differ from ``sum w y / sum w`` in the ninth significant
    digit (up to about 3e-9 relative). ``method`` chooses the interval (formulas in
    :mod:`socialhealth.design.proportion`): ``"logit"`` (default), ``"likelihood"``, ``"asin"``,
    ``"beta"`` (Korn-Graubard), ``"mean"`` (Wald) or ``"xlogit"``. Rows with a missing value are
    left out with zero weight but keep their place in the design (R ``na.rm = TRUE``).

    On a :class:`ReplicateDesign`, ``"likelihood"`` gives the Rao-Scott interval with the
    replicate variance, where R's ``svyciprop(method = "likelihood")`` gives ``NA`` (its profile
    uses a dispersion on the wrong scale for replicate-weight fits; see the module docstring).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
    variable : str
        A 0/1 numeric or boolean column (anything else raises
        :class:`~socialhealth.errors.EstimationError` naming the offending values), or a
        categorical/string column: then one row per level, the proportion in that level with
        its own interval (each level treated as ``I(variable == level)``, as if
        ``svyciprop(~I(variable == level), design)`` were called per level).
    method : {"logit", "likelihood", "asin", "beta", "mean", "xlogit"}
    level : float, default 0.95
        Confidence level.
    by : str or list of str, optional
        Domains (R ``svyby(..., svyciprop, vartype = c("se", "ci"))``): each domain is analysed
        as ``subset(design, domain)``, so its degrees of freedom are those of the domain (PSUs
        minus strata with domain members; rank of the replicate weights minus one) and
        ``"beta"`` uses the domain's row count.
    df : float, optional
        Degrees of freedom of the t quantiles; default ``design.degf()`` (domain df with
        ``by=``); ``float("inf")`` for normal quantiles. ``"beta"`` uses it only in the
        Korn-Graubard ratio.

    Returns
    -------
    IntervalEstimate
        ``to_frame()`` columns: [by...], term, level, estimate, se, ci_low, ci_high, df;
        ``method`` holds the interval method, ``extra["n_eff"]`` the effective sample sizes
        for ``"beta"``. ``to_frame(level=0.9)`` recomputes the method's interval at that level.

    References
    ----------
    Korn EL, Graubard BI (1998) *Survey Methodology* 24:193-201. Rao JNK, Scott AJ (1984)
    *Annals of Statistics* 12:46-60. Lumley T (2010) *Complex Surveys*, Wiley, §2.3.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apiclus1 = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    >>> d = d.assign(ell0=lambda df: df.ell == 0)
    >>> d.proportion("ell0", method="beta")
    Survey proportion (beta): 1-stage cluster survey design (Taylor linearisation)
    term level  estimate        se      ci_low  ci_high  df
    ell0  None 0.0252101 0.0251238 0.000342453 0.148988  14
    119 rows used; 95% CIs: beta method
    In R: svyciprop(~ell0, design, method = 'beta', na.rm = TRUE)

    By school type; no high or middle school of this sample has ``ell == 0``, so there
    ``p = 0`` and the interval is undefined (NaN), as in R:

    >>> cols = ["stype", "estimate", "se", "ci_low", "ci_high", "df"]
    >>> print(d.proportion("ell0", by="stype", method="beta").to_frame()[cols].round(4).to_string())
      stype  estimate      se  ci_low  ci_high    df
    0     E    0.0353  0.0348  0.0005   0.2004  14.0
    1     H    0.0000  0.0000     NaN      NaN   7.0
    2     M    0.0000  0.0000     NaN      NaN   7.0
    >>> print(d.proportion("stype").to_frame()[["level", "estimate", "ci_low", "ci_high"]]
    ...       .round(4).to_string())
      level  estimate  ci_low  ci_high
    0     E    0.7143  0.6092   0.8004
    1     H    0.1092  0.0632   0.1823
    2     M    0.1765  0.1239   0.2451

    In R: ``svyciprop(~I(ell == 0), dclus1, method = "beta")``;
    ``svyby(~I(ell == 0), ~stype, dclus1, svyciprop, vartype = c("se", "ci"), method = "beta")``;
    ``svyciprop(~I(stype == "E"), dclus1)`` (and so on for each level).
    """
    _check_method(method)
    level = _check_level(level)
    from socialhealth.design.results import check_df

    df = check_df(df)
    cells = _cells(design, variable, by)
    p, vcov = design._ratio_estimate(cells.num, cells.den, domains=by is not None)
    p = np.asarray(p, dtype=float)
    _exact_ones(design, cells, p)
    var = np.clip(np.diag(vcov), 0.0, None)
    se = np.sqrt(var)
    dfs, nrows = _degrees_of_freedom(design, cells, df)
    fit = _logit_fit(design, cells, p) if method in ("logit", "likelihood") else None
    lo, hi, n_eff = _intervals(design, cells, method, level, p, se, var, dfs, nrows, fit)
    _warn_boundary(variable, method, p, lo)
    # logit/likelihood report the GLM's fitted proportion, as R does (equal to p up to R's
    # IRLS tolerance, ~1e-9 relative)
    estimate = p if fit is None else _expit(fit.eta)
    extra: dict[str, Any] = {
        "interval": lambda lvl: proportion(design, variable, method, lvl, by, df).ci_override}
    if method == "beta":
        extra["n_eff"] = n_eff
    return IntervalEstimate(
        table=_table(variable, cells, estimate, se),
        vcov=vcov,
        df=dfs if cells.by_cols or cells.k > 1 else float(dfs[0]),
        statistic="proportion",
        n_rows=int(cells.used.sum()),
        n_missing=int((design.in_subset & ~cells.complete).sum()),
        method=method,
        design_label=design._short_label(),
        r_call=_r_call(variable, method, level, cells.by_cols, df),
        ci_override=(lo, hi),
        level=level,
        extra=extra,
    )
