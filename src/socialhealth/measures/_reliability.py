"""Internal consistency of an item set: Cronbach's alpha (with CIs), McDonald's omega total.

Closed-form statistics (alpha, standardised alpha, Feldt and Duhachek confidence intervals,
item-rest correlations, alpha if an item is dropped) match R ``psych::alpha`` to rounding error;
omega total comes from a one-factor minimum-residual (minres / unweighted least squares) fit, as
``psych::omega(x, nfactors = 1, fm = "minres")``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given
from socialhealth._deprecation import renamed_parameter, warn_renamed
from socialhealth.design.result_protocol import Result
from socialhealth.errors import EstimationError, MeasureError, SocialHealthWarning

__all__ = ["ReliabilityResult", "reliability"]


@dataclass(frozen=True, kw_only=True)
class ReliabilityResult(Result):
    """What :func:`reliability` returns.

    Result protocol: ``coef()`` (alpha, std_alpha, omega_total), ``se()`` (``ase`` for alpha,
    NaN for the others) and ``confint(level=)`` (alpha's interval by ``ci_method`` at that
    level; NaN for the others); ``vcov`` does not apply.

    Attributes
    ----------
    alpha, std_alpha : float
        Cronbach's alpha from the covariance matrix, and standardised alpha (from correlations).
    ci : tuple of float
        ``(lower, upper)`` confidence interval of alpha by ``ci_method``.
    level, ci_method : float, str
        The level and the method (``"feldt"`` or ``"duhachek"``) of ``ci``.
    feldt_ci, duhachek_ci : tuple of float
        Both intervals, always computed (``psych::alpha`` prints both).
    ase : float
        Duhachek & Iacobucci (2004) asymptotic standard error of alpha (``psych`` ``ase``).
    omega_total : float
        McDonald's omega total from a one-factor minres fit to the correlation matrix; NaN for
        fewer than three items (a one-factor model is not identified), and NaN with a warning
        when the correlation matrix is singular (no more complete rows than items, or linearly
        dependent items), see ``notes``.
    loadings : pandas.Series
        The one-factor loadings behind ``omega_total`` (empty for fewer than three items).
    items : pandas.DataFrame
        One row per item: ``item, mean, sd, item_rest_r, alpha_if_dropped``.
    n, k : int
        Respondents used (complete cases, listwise) and number of items.
    n_dropped : int
        Rows left out because at least one item was missing.
    notes : tuple of str
        Anything a reader should know (e.g. why omega is NaN).

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import measures
    >>> df = sh.datasets.load("demo").data
    >>> r = measures.reliability(df[["ucla3_companionship", "ucla3_left_out", "ucla3_isolated"]])
    >>> round(r.alpha, 3), round(r.std_alpha, 3), round(r.omega_total, 3)
    (0.797, 0.797, 0.797)
    >>> r.n, r.n_dropped
    (18437, 1165)
    >>> print(r.items[["item", "item_rest_r", "alpha_if_dropped"]].round(3).to_string())
                      item  item_rest_r  alpha_if_dropped
    0  ucla3_companionship        0.642             0.722
    1       ucla3_left_out        0.637             0.727
    2       ucla3_isolated        0.642             0.721

    In R: ``psych::alpha(na.omit(df[, c("q1", "q2", "q3")]))`` (``$total$raw_alpha``, ``$feldt``).
    """

    alpha: float
    std_alpha: float
    ci: tuple[float, float]
    level: float
    ci_method: str
    feldt_ci: tuple[float, float]
    duhachek_ci: tuple[float, float]
    ase: float
    omega_total: float
    loadings: pd.Series
    items: pd.DataFrame
    n: int
    k: int
    n_dropped: int
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ci_level(self) -> float:
        """Deprecated spelling of :attr:`level` (the confidence level of ``ci``)."""
        warn_renamed("ReliabilityResult", "ci_level", "level", "0.1.0", attribute=True)
        return self.level
    _label_columns = ("statistic",)
    _not_applicable = {"vcov": "the covariance of alpha, standardised alpha and omega is not "
                               "computed; use se() (Duhachek's ase for alpha)."}

    def _estimates(self, level: float) -> pd.DataFrame:
        frame = self.to_frame()
        se = np.array([self.ase, np.nan, np.nan])
        if np.isclose(level, self.level):
            lo, hi = frame["ci_low"].to_numpy(dtype=float), frame["ci_high"].to_numpy(dtype=float)
        else:
            if self.ci_method == "feldt":
                a_lo, a_hi = _feldt(self.alpha, self.n, self.k, level)
            else:
                from scipy import stats

                z = stats.norm.ppf(1 - (1 - level) / 2)
                a_lo, a_hi = self.alpha - z * self.ase, self.alpha + z * self.ase
            lo, hi = np.array([a_lo, np.nan, np.nan]), np.array([a_hi, np.nan, np.nan])
        return pd.DataFrame({"estimate": frame["estimate"].to_numpy(dtype=float), "se": se,
                             "ci_low": lo, "ci_high": hi}, index=list(frame["statistic"]))

    def __repr__(self) -> str:
        return (
            f"ReliabilityResult(alpha={self.alpha:.4f} [{self.ci_method} {self.level:.0%} CI "
            f"{self.ci[0]:.4f}, {self.ci[1]:.4f}], std_alpha={self.std_alpha:.4f}, "
            f"omega_total={self.omega_total:.4f}, n={self.n}, k={self.k}, "
            f"n_dropped={self.n_dropped})"
        )

    def to_frame(self) -> pd.DataFrame:
        """Tidy summary: one row per statistic
        (``statistic, estimate, ci_low, ci_high, method, n, k``)."""
        rows = [
            ("alpha", self.alpha, self.ci[0], self.ci[1], self.ci_method),
            ("std_alpha", self.std_alpha, np.nan, np.nan, "correlations"),
            ("omega_total", self.omega_total, np.nan, np.nan, "one-factor minres"),
        ]
        out = pd.DataFrame(rows, columns=["statistic", "estimate", "ci_low", "ci_high", "method"])
        out["n"] = self.n
        out["k"] = self.k
        return out


def _feldt(alpha: float, n: int, k: int, level: float) -> tuple[float, float]:
    from scipy import stats   # scipy.stats (~50 MB) only when a reliability is computed

    df1, df2 = n - 1, (n - 1) * (k - 1)
    g = (1 - level) / 2
    lower = 1 - (1 - alpha) * stats.f.ppf(1 - g, df1, df2)
    upper = 1 - (1 - alpha) * stats.f.ppf(g, df1, df2)
    return float(lower), float(upper)


def _duhachek_ase(cov: np.ndarray, n: int) -> float:
    k = cov.shape[0]
    one = np.ones(k)
    jcj = one @ cov @ one
    tr = np.trace(cov)
    c2 = cov @ cov
    q = (2 * k**2 / ((k - 1) ** 2 * jcj**3)) * (
        jcj * (np.trace(c2) + tr**2) - 2 * tr * (one @ c2 @ one)
    )
    return float(np.sqrt(q / n))


def _alpha(cov: np.ndarray) -> float:
    k = cov.shape[0]
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


#: psych::fa(fm = "minres") keeps every uniqueness at or above this bound (its L-BFGS-B lower bound)
_MIN_UNIQUENESS = 0.005


def _minres_one_factor(r: np.ndarray) -> tuple[np.ndarray, bool]:
    """One-factor minres loadings of ``r`` and whether psych's uniqueness bound is active.

    Minimises the squared off-diagonal residuals :math:`\\sum_{i<j}(r_{ij} - \\lambda_i
    \\lambda_j)^2` over the loadings. When that solution has a loading with
    :math:`\\lambda_i^2 > 1 - 0.005` (a Heywood case: with three items the exact fit can give
    :math:`\\lambda_i^2 > 1` and omega above 1), the fit is redone as psych's ``fa(fm =
    "minres")`` does it: over uniquenesses :math:`\\psi \\in [0.005, \\max(1,
    \\mathrm{smc})]`, the loadings being the first principal axis of ``r`` with diagonal
    :math:`1 - \\psi`. Both fits minimise the same criterion and coincide when no bound is active.
    """
    from scipy import optimize

    k = r.shape[0]
    iu = np.triu_indices(k, 1)
    target = r[iu]

    def resid(load: np.ndarray) -> np.ndarray:
        return target - np.outer(load, load)[iu]

    def jac(load: np.ndarray) -> np.ndarray:
        j = np.zeros((len(target), k))
        rows = np.arange(len(target))
        j[rows, iu[0]] = -load[iu[1]]
        j[rows, iu[1]] = -load[iu[0]]
        return j

    vals, vecs = np.linalg.eigh(r)
    start = vecs[:, -1] * np.sqrt(vals[-1])
    if start.sum() < 0:
        start = -start
    fit = optimize.least_squares(resid, start, jac=jac, xtol=1e-15, ftol=1e-15, gtol=1e-15,
                                 method="lm")
    load = fit.x
    bounded = bool(np.any(load**2 > 1 - _MIN_UNIQUENESS))
    if bounded:
        load = _minres_bounded(r)
    if load.sum() < 0:
        load = -load
    return load, bounded


def _minres_bounded(r: np.ndarray) -> np.ndarray:
    """psych's parametrisation: minimise over bounded uniquenesses, loadings = first axis."""
    from scipy import optimize

    k = r.shape[0]
    off = ~np.eye(k, dtype=bool)

    def axis(psi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = r.copy()
        s[np.diag_indices(k)] = 1 - psi
        vals, vecs = np.linalg.eigh(s)
        return vals[::-1], vecs[:, ::-1], vecs[:, -1] * np.sqrt(max(vals[-1], 0.0))

    def fun(psi: np.ndarray) -> tuple[float, np.ndarray]:
        vals, vecs, load = axis(psi)
        e = r - np.outer(load, load)
        e[~off] = 0.0
        f = float(np.sum(e**2) / 2)                        # each pair once
        g_load = -2 * e @ load
        v1, e1 = vecs[:, 0], vals[0]
        gaps = e1 - vals[1:]
        pinv = (vecs[:, 1:] / gaps) @ vecs[:, 1:].T        # (e1 I - S)^+ on the other axes
        # d load / d S_ii = v1 v1_i^2 / (2 sqrt e1) + sqrt(e1) pinv[:, i] v1_i ; dS_ii = -dpsi_i
        dload = np.outer(v1, v1**2) / (2 * np.sqrt(e1)) + np.sqrt(e1) * pinv * v1
        return f, -(dload.T @ g_load)

    with np.errstate(divide="ignore", invalid="ignore"):
        smc = 1 - 1 / np.diag(np.linalg.inv(r))
    smc = np.clip(np.nan_to_num(smc, nan=0.0), 0.0, None)
    upper = max(float(smc.max()), 1.0)
    x = np.clip(1 - smc, _MIN_UNIQUENESS, upper)
    for _ in range(3):          # restarts polish the stop of L-BFGS-B at machine precision
        fit = optimize.minimize(fun, x, jac=True, method="L-BFGS-B",
                                bounds=[(_MIN_UNIQUENESS, upper)] * k,
                                options={"ftol": 0.0, "gtol": 0.0, "maxiter": 20000})
        if np.allclose(fit.x, x, rtol=0, atol=1e-15):
            break
        x = fit.x
    return axis(x)[2]


@renamed_parameter("ci", "level", since="0.1.0")
def reliability(
    items: pd.DataFrame,
    level: float = 0.95,
    ci_method: Literal["feldt", "duhachek"] = "feldt",
) -> ReliabilityResult:
    """Cronbach's alpha with its confidence interval, McDonald's omega total and item statistics.

    Rows with any missing item are left out (listwise; ``n`` and ``n_dropped`` say how many).
    Items must already point the same way: reverse negatively worded items first, e.g. pass
    the scored items of :func:`socialhealth.measures.score` (``measures.reliability(s.items)``)
    or compute ``max + min - x``. The statistics are unweighted, as in psych.

    Parameters
    ----------
    items : pandas.DataFrame
        One numeric column per item, one row per respondent.
    level : float, default 0.95
        Confidence level of the interval for alpha.
    ci_method : {"feldt", "duhachek"}, default "feldt"
        Which interval ``.ci`` reports (both are always in ``.feldt_ci`` / ``.duhachek_ci``).

    Returns
    -------
    ReliabilityResult

    Notes
    -----
    With item covariance matrix :math:`C` (``ddof = 1``), :math:`k` items and :math:`n`
    complete rows:

    * alpha :math:`= \\frac{k}{k-1}\\left(1 -
      \\frac{\\operatorname{tr} C}{\\mathbf 1' C \\mathbf 1}\\right)`;
      standardised alpha :math:`= k\\bar r / (1 + (k-1)\\bar r)` with :math:`\\bar r` the mean
      inter-item correlation.
    * Feldt interval (Feldt, Woodruff & Salih 1987):
      :math:`1 - (1-\\alpha) F_{1-\\gamma/2}(n-1, (n-1)(k-1))` to
      :math:`1 - (1-\\alpha) F_{\\gamma/2}(n-1, (n-1)(k-1))`, :math:`\\gamma = 1 -` ``level``.
    * Duhachek & Iacobucci (2004) interval: :math:`\\alpha \\pm z_{1-\\gamma/2}\\,\\mathrm{ase}`,
      :math:`\\mathrm{ase}^2 = Q/n`,
      :math:`Q = \\frac{2k^2}{(k-1)^2 (\\mathbf 1'C\\mathbf 1)^3}\\left[\\mathbf 1'C\\mathbf 1
      (\\operatorname{tr}C^2 + (\\operatorname{tr}C)^2) - 2\\operatorname{tr}C\\,\\mathbf
      1'C^2\\mathbf 1\\right]`.
    * Item-rest correlation: Pearson correlation of the item with the sum of the other items
      (``r.drop`` in psych).
    * Omega total (McDonald 1999): fit one factor to the correlation matrix :math:`R` by
      minimum residual (least squares on the off-diagonal elements), then
      :math:`\\omega_t = 1 - \\sum_i (1 - \\lambda_i^2) / \\mathbf 1' R \\mathbf 1`. With two
      items a one-factor model is not identified: omega is NaN and ``notes`` says so. With
      three items the fit is exact (:math:`\\lambda_1^2 = r_{12} r_{13} / r_{23}`). When that
      unrestricted fit puts a squared loading above 0.995 (a Heywood case; with three items
      :math:`\\lambda_1^2` can exceed 1 and omega 1), the fit is redone as psych's
      ``fa(fm = "minres")`` does: over uniquenesses :math:`\\psi_i \\ge 0.005`, the loadings
      being the first principal axis of :math:`R` with diagonal :math:`1 - \\psi`; ``notes``
      says so. (psych's optimiser stops early there: its omega can be ~1e-3 from this optimum,
      and its residual sum of squares is larger.) With no
      more complete rows than items (:math:`n \\le k`) the correlation matrix is singular
      (rank :math:`\\le n - 1`) and the fit degenerates (loadings beyond 1, omega far outside
      [0, 1]): omega is then NaN, with a ``SocialHealthWarning`` and a note.

    In R: ``psych::alpha(na.omit(x))`` (``$total$raw_alpha``, ``$total$std.alpha``,
    ``$total$ase``, ``$feldt``, the "95% confidence boundaries" Feldt and Duhachek lines,
    ``$item.stats$r.drop``, ``$alpha.drop$raw_alpha``) and
    ``psych::omega(na.omit(x), nfactors = 1, fm = "minres")$omega.tot``. ``pingouin``'s
    ``cronbach_alpha(x, nan_policy="listwise")`` gives the same alpha and Feldt interval.

    References
    ----------
    Cronbach LJ (1951) Psychometrika 16:297-334. Feldt LS, Woodruff DJ, Salih FA (1987) Appl
    Psychol Meas 11:93-103. Duhachek A, Iacobucci D (2004) J Appl Psychol 89:792-808.
    McDonald RP (1999) Test Theory: A Unified Treatment.

    Examples
    --------
    >>> import pandas as pd
    >>> from socialhealth import measures
    >>> x = pd.DataFrame({"a": [1, 2, 3, 4, 2], "b": [1, 3, 3, 4, 1], "c": [2, 2, 4, 4, 1]})
    >>> round(measures.reliability(x).alpha, 4)
    0.9258
    """
    if not isinstance(items, pd.DataFrame):
        raise MeasureError("reliability() needs a pandas DataFrame with one column per item.")
    if not is_choice(ci_method, ("feldt", "duhachek")):
        raise MeasureError(f"ci_method must be 'feldt' or 'duhachek', not "
                           f"{show_given(ci_method)}.")
    from socialhealth.design.results import check_level

    level = check_level(level, MeasureError)
    k = items.shape[1]
    if k < 2:
        raise MeasureError(f"reliability() needs at least two items; got {k}.")
    bad = [c for c in items.columns if not pd.api.types.is_numeric_dtype(items[c])]
    if bad:
        raise MeasureError(
            f"item column(s) {', '.join(map(repr, bad))} are not numeric; convert codes to numbers "
            "(e.g. pd.to_numeric) before computing reliability."
        )
    x = items.astype("float64")
    complete = x.notna().all(axis=1)
    x = x[complete]
    n = int(len(x))
    if n < 3:
        raise EstimationError(f"reliability() needs at least 3 complete rows; got {n}.")
    arr = x.to_numpy()
    cov = np.cov(arr, rowvar=False, ddof=1)
    sd = np.sqrt(np.diag(cov))
    zero = [str(c) for c, s in zip(x.columns, sd, strict=True) if s == 0]
    if zero:
        raise EstimationError(
            f"item(s) {', '.join(zero)} do not vary in the complete rows; alpha is undefined. "
            "Drop constant items."
        )
    corr = cov / np.outer(sd, sd)
    alpha = _alpha(cov)
    rbar = (corr.sum() - k) / (k * (k - 1))
    std_alpha = float(k * rbar / (1 + (k - 1) * rbar))
    feldt = _feldt(alpha, n, k, level)
    ase = _duhachek_ase(cov, n)
    from scipy import stats

    z = stats.norm.ppf(1 - (1 - level) / 2)
    duh = (alpha - z * ase, alpha + z * ase)

    total = arr.sum(axis=1)
    rows = []
    for i, name in enumerate(x.columns):
        rest = total - arr[:, i]
        r_ir = float(np.corrcoef(arr[:, i], rest)[0, 1])
        keep = [j for j in range(k) if j != i]
        a_drop = _alpha(cov[np.ix_(keep, keep)]) if k > 2 else np.nan
        rows.append((name, float(arr[:, i].mean()), float(sd[i]), r_ir, a_drop))
    item_df = pd.DataFrame(rows, columns=["item", "mean", "sd", "item_rest_r", "alpha_if_dropped"])

    notes: list[str] = []
    if k < 3:
        omega = float("nan")
        loadings = pd.Series(dtype="float64")
        notes.append(
            "omega total not computed: a one-factor model is not identified with two items "
            "(psych::omega needs at least three); report alpha (or the Spearman-Brown coefficient)."
        )
    elif n <= k or np.linalg.matrix_rank(corr) < k:
        # a correlation matrix of k items from n <= k rows has rank n - 1 < k: the one-factor
        # fit to a singular matrix gives loadings beyond 1 and omega far outside [0, 1]
        # (e.g. 1002 for three rows of three items)
        omega = float("nan")
        loadings = pd.Series(dtype="float64")
        why = (f"only {n} complete rows for {k} items (omega needs more rows than items)"
               if n <= k else "the items are linearly dependent (singular correlation matrix)")
        msg = (f"omega total not computed: {why}; the one-factor model cannot be fitted to a "
               "singular correlation matrix.")
        notes.append(msg)
        warnings.warn(msg, SocialHealthWarning, stacklevel=user_stacklevel())
    else:
        load, bounded = _minres_one_factor(corr)
        loadings = pd.Series(load, index=list(x.columns), name="loading")
        if bounded:
            notes.append(
                "Heywood case: the unrestricted one-factor fit gives an item a loading of "
                f"{np.sqrt(1 - _MIN_UNIQUENESS):.4f} or more (uniqueness below "
                f"{_MIN_UNIQUENESS}); the fit was redone with every uniqueness at least "
                f"{_MIN_UNIQUENESS}, as psych::fa(fm='minres') does. Omega is still suspect: "
                "the one-factor model does not describe these items well.")
        omega = float(1 - np.sum(1 - load**2) / corr.sum())
    if (item_df["item_rest_r"] < 0).any():
        neg = item_df.loc[item_df["item_rest_r"] < 0, "item"].astype(str).tolist()
        notes.append(
            f"item(s) {', '.join(neg)} correlate negatively with the rest: reverse-key them first."
        )
    chosen = feldt if ci_method == "feldt" else duh
    return ReliabilityResult(
        alpha=alpha, std_alpha=std_alpha, ci=chosen, level=level, ci_method=ci_method,
        feldt_ci=feldt, duhachek_ci=(float(duh[0]), float(duh[1])), ase=ase,
        omega_total=omega, loadings=loadings, items=item_df, n=n, k=k,
        n_dropped=int((~complete).sum()), notes=tuple(notes),
    )
