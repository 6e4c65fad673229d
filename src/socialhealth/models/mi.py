"""Combine estimates from multiply imputed data sets with Rubin's rules.

The one public function, :func:`mi_combine`, takes the fits of the same model on ``m`` imputed
copies of a data set and returns the combined estimates, like R's ``mitools::MIcombine``.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given
from socialhealth.design.result_protocol import Result
from socialhealth.errors import ModelError

__all__ = ["MIResult", "mi_combine"]


@dataclass(frozen=True, eq=False, kw_only=True)
class MIResult(Result):
    """Combined multiple-imputation estimates (Rubin's rules).

    Result protocol: ``coef()`` (= ``params``), ``se()`` (= ``bse``), ``vcov`` (=
    ``cov_params()``), ``confint(level=)`` (t with the per-term ``df``; ``level=None`` is
    ``level``) and statsmodels' ``conf_int(alpha=)``.

    Attributes
    ----------
    params : pandas.Series
        Combined estimates (mean of the per-imputation estimates).
    vcov : pandas.DataFrame
        Total covariance ``T = U_bar + (1 + 1/m) B``.
    within : pandas.DataFrame
        Mean within-imputation covariance ``U_bar``.
    between : pandas.DataFrame
        Between-imputation covariance ``B`` (sample covariance, divisor ``m - 1``).
    df : pandas.Series
        Degrees of freedom per estimate (see :func:`mi_combine`).
    fmi : pandas.Series
        Fraction of missing information per estimate (MIcombine's ``missinfo``).
    m : int
        Number of imputations.
    level : float
        Confidence level of ``ci_low``/``ci_high``.
    df_complete : float
        Complete-data degrees of freedom used (``inf`` = Rubin 1987 df).

    Examples
    --------
    Five hot-deck imputations of the missing ``enroll`` values of ``apiclus2``, the same
    survey regression on each, combined:

    >>> import numpy as np
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> apiclus2 = sh.datasets.load_example("apiclus2")
    >>> missing = apiclus2["enroll"].isna()
    >>> observed = apiclus2.loc[~missing, "enroll"].to_numpy()
    >>> rng = np.random.default_rng(1)
    >>> fits = []
    >>> for _ in range(5):
    ...     imputed = apiclus2.copy()
    ...     imputed.loc[missing, "enroll"] = rng.choice(observed, int(missing.sum()))
    ...     d = sh.SurveyDesign(imputed, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    ...     fits.append(d.glm("api00 ~ enroll"))
    >>> res = models.mi_combine(fits)
    >>> res.m, int(missing.sum())
    (5, 5)
    >>> print(res.to_frame()[["term", "estimate", "se", "fmi"]].round(4).to_string())
            term  estimate       se     fmi
    0  Intercept  658.0896  11.7578  0.0886
    1     enroll    0.0231   0.0151  0.1577

    In R: ``summary(mitools::MIcombine(fits))`` with
    ``fits <- with(imputationList(imputed), svyglm(api00 ~ enroll, design))``.
    """

    params: pd.Series
    vcov: pd.DataFrame
    within: pd.DataFrame
    between: pd.DataFrame
    df: pd.Series
    fmi: pd.Series
    m: int
    level: float = 0.95
    df_complete: float = float("inf")

    @property
    def bse(self) -> pd.Series:
        """Standard errors, ``sqrt(diag(T))``."""
        return pd.Series(np.sqrt(np.diag(self.vcov.to_numpy())), index=self.params.index)

    def cov_params(self) -> pd.DataFrame:
        """Total covariance matrix (statsmodels-style accessor for :attr:`vcov`)."""
        return self.vcov

    def confint(self, level: float | None = None) -> pd.DataFrame:
        """Confidence intervals ``estimate ± t_{df, (1+level)/2} · se`` (per-term df);
        ``level=None`` is the level the result was combined at (:attr:`level`)."""
        return self._ci(self.level if level is None else _check_level(level))

    def conf_int(self, level: float | None = None, *, alpha: float | None = None) -> pd.DataFrame:
        """statsmodels-style alias of :meth:`confint`: ``conf_int(alpha=0.05)`` is
        ``confint(level=0.95)``.

        The positional/keyword ``level`` argument still works but is deprecated (statsmodels'
        ``conf_int`` takes ``alpha``); use ``confint(level=)``.
        """
        if alpha is not None:
            if level is not None:
                raise ModelError("give conf_int(alpha=) or confint(level=), not both.")
            if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.number)):
                raise ModelError(f"alpha must be a number between 0 and 1 (e.g. 0.05 for 95% "
                                 f"intervals), got {show_given(alpha)}.")
            return self._ci(_check_level(1.0 - float(alpha)))
        if level is not None:
            import warnings

            warnings.warn("MIResult.conf_int(level) is deprecated; use confint(level=...) (or "
                          "statsmodels' conf_int(alpha=...)).", DeprecationWarning,
                          stacklevel=user_stacklevel())
        return self.confint(level)

    def _estimates(self, level: float) -> pd.DataFrame:
        ci = self._ci(level)
        return pd.DataFrame({"estimate": self.params.to_numpy(dtype=float),
                             "se": self.bse.to_numpy(), "ci_low": ci["ci_low"].to_numpy(),
                             "ci_high": ci["ci_high"].to_numpy()},
                            index=[str(i) for i in self.params.index])

    def _ci(self, level: float) -> pd.DataFrame:
        crit = stats.t.ppf(0.5 + level / 2.0, self.df.to_numpy())
        se = self.bse.to_numpy()
        est = self.params.to_numpy()
        return pd.DataFrame(
            {"ci_low": est - crit * se, "ci_high": est + crit * se}, index=self.params.index
        )

    def to_frame(self, exponentiate: bool = False, level: float | None = None) -> pd.DataFrame:
        """Tidy table: term, estimate, se, ci_low, ci_high, df, statistic, p_value, fmi.

        ``statistic`` is ``estimate / se`` and ``p_value`` its two-sided t(df) p-value.  With
        ``exponentiate=True`` the estimate and CI limits are exponentiated (odds/hazard ratios;
        ``se`` stays on the log scale, unlike ``summary(MIresult, logeffect=TRUE)`` which
        reports the delta-method SE ``exp(b) * se``).
        """
        ci = self.confint(level)
        se = self.bse
        stat = self.params / se
        p = 2.0 * stats.t.sf(np.abs(stat.to_numpy()), self.df.to_numpy())
        out = pd.DataFrame(
            {
                "term": list(self.params.index),
                "estimate": self.params.to_numpy(),
                "se": se.to_numpy(),
                "ci_low": ci["ci_low"].to_numpy(),
                "ci_high": ci["ci_high"].to_numpy(),
                "df": self.df.to_numpy(),
                "statistic": stat.to_numpy(),
                "p_value": p,
                "fmi": self.fmi.to_numpy(),
            }
        )
        if exponentiate:
            for col in ("estimate", "ci_low", "ci_high"):
                out[col] = np.exp(out[col].to_numpy())
        return out

    def __repr__(self) -> str:
        head = (
            f"Multiple-imputation estimates (Rubin's rules), m = {self.m} imputations, "
            + ("Rubin 1987 df" if np.isinf(self.df_complete)
               else f"df_complete = {self.df_complete:g}")
        )
        with pd.option_context("display.width", 120, "display.max_columns", 20):
            return head + "\n" + self.to_frame().to_string(index=False,
                                                           float_format="{:.6g}".format)


def _check_level(level: float) -> float:
    if not (isinstance(level, (int, float)) and 0.0 < float(level) < 1.0):
        raise ModelError(f"level must be a number between 0 and 1 (e.g. 0.95), got "
                         f"{show_given(level)}.")
    return float(level)


def _extract(fit: Any, i: int) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """(estimates, covariance, names) from a fitted model or an (estimate, vcov) pair."""
    if hasattr(fit, "params") and hasattr(fit, "cov_params"):
        est_raw = fit.params
        cov_raw = fit.cov_params()
    elif isinstance(fit, (tuple, list)) and len(fit) == 2:
        est_raw, cov_raw = fit
    else:
        raise ModelError(
            f"imputation {i + 1}: expected a fitted model with .params and .cov_params() "
            f"or an (estimate, vcov) pair, got {type(fit).__name__}."
        )
    names = list(map(str, est_raw.index)) if isinstance(est_raw, pd.Series) else None
    try:
        est = np.atleast_1d(np.asarray(est_raw, dtype=float)).ravel()
        cov = np.atleast_2d(np.asarray(cov_raw, dtype=float))
    except (TypeError, ValueError) as exc:
        raise ModelError(f"imputation {i + 1}: estimates and covariance must be numeric "
                         f"({exc}).") from exc
    p = est.size
    if cov.shape != (p, p):
        raise ModelError(
            f"imputation {i + 1}: covariance has shape {cov.shape} but there are {p} estimates; "
            f"pass a {p} x {p} matrix."
        )
    if isinstance(cov_raw, pd.DataFrame) and names is not None:
        if list(map(str, cov_raw.index)) != names or list(map(str, cov_raw.columns)) != names:
            raise ModelError(
                f"imputation {i + 1}: the covariance rows/columns are not in the order of the "
                f"estimates."
            )
    if not (np.all(np.isfinite(est)) and np.all(np.isfinite(cov))):
        raise ModelError(f"imputation {i + 1}: estimates or covariance contain NaN or infinite "
                         f"values.")
    return est, cov, names


def mi_combine(
    fits: Sequence[Any],
    df_complete: float = float("inf"),
    level: float = 0.95,
    names: Sequence[str] | None = None,
) -> MIResult:
    r"""Combine the fits of one model on ``m`` imputed data sets with Rubin's rules.

    Parameters
    ----------
    fits : sequence
        One entry per imputation: either a fitted model with ``.params`` and ``.cov_params()``
        (statsmodels results, socialhealth survey GLM results, another :class:`MIResult`) or an
        ``(estimate, vcov)`` pair of a 1-D vector and a square matrix.  All must have the same
        terms in the same order.  At least two.
    df_complete : float, default inf
        Complete-data degrees of freedom :math:`\nu_{com}`.  ``inf`` (the default) gives Rubin's
        (1987) large-sample df; a finite value applies MIcombine's small-sample adjustment.
    level : float, default 0.95
        Confidence level of the intervals in :meth:`MIResult.to_frame`.
    names : sequence of str, optional
        Term names when the fits are plain arrays (default ``x0, x1, ...``).

    Returns
    -------
    MIResult
        ``.to_frame()`` gives term, estimate, se, ci_low, ci_high, df, statistic, p_value, fmi;
        ``.vcov`` the total covariance.

    Notes
    -----
    With per-imputation estimates :math:`\hat Q_j` and covariances :math:`U_j`,
    :math:`j = 1..m`:

    .. math::

        \bar Q = \frac1m \sum_j \hat Q_j,\quad
        \bar U = \frac1m \sum_j U_j,\quad
        B = \frac1{m-1} \sum_j (\hat Q_j - \bar Q)(\hat Q_j - \bar Q)^\top,\quad
        T = \bar U + (1 + 1/m) B.

    Per term, with :math:`r = (1 + 1/m) B_{kk} / \bar U_{kk}` (relative increase in variance):

    * degrees of freedom (Rubin 1987): :math:`\nu = (m - 1)(1 + 1/r)^2` (``inf`` when
      :math:`B_{kk} = 0`);
    * with finite ``df_complete`` (exactly as ``MIcombine(df.complete=)``):
      :math:`\nu_{obs} = \frac{\nu_{com} + 1}{\nu_{com} + 3}\,\nu_{com}\,
      \frac{\bar U_{kk}}{\bar U_{kk} + B_{kk}}` and :math:`\nu = 1 / (1/\nu_{obs} + 1/\nu)`.
      Note MIcombine's :math:`\nu_{obs}` uses :math:`\bar U/(\bar U + B)`, not Barnard & Rubin's
      (1999) :math:`1 - \gamma = \bar U / T`; we match MIcombine;
    * fraction of missing information: :math:`\lambda = (r + 2/(\nu + 3)) / (r + 1)`, with the
      final :math:`\nu`;
    * intervals :math:`\bar Q \pm t_{\nu,(1+level)/2}\sqrt{T_{kk}}`, as ``summary(MIresult)``.

    References
    ----------
    Rubin DB (1987). *Multiple Imputation for Nonresponse in Surveys*. Wiley.
    Barnard J, Rubin DB (1999). Small-sample degrees of freedom with multiple imputation.
    *Biometrika* 86:948–955.

    Examples
    --------
    >>> from socialhealth.models.mi import mi_combine
    >>> fits = [([0.40, 1.0], [[0.010, 0.0], [0.0, 0.020]]),
    ...         ([0.50, 1.2], [[0.012, 0.0], [0.0, 0.020]])]
    >>> res = mi_combine(fits, names=["lonely", "age"])
    >>> round(float(res.params["lonely"]), 3), round(float(res.vcov.loc["lonely", "lonely"]), 4)
    (0.45, 0.0185)

    In R: ``mitools::MIcombine(list_of_fits)`` or
    ``MIcombine(results = list_of_coefs, variances = list_of_vcovs, df.complete = Inf)``;
    intervals as ``summary(MIcombine(...))``.
    """
    level = _check_level(level)
    if isinstance(fits, (str, bytes)) or not isinstance(fits, Sequence):
        try:
            fits = list(fits)
        except TypeError as exc:
            raise ModelError("fits must be a list of fitted models or (estimate, vcov) "
                             "pairs.") from exc
    fits = list(fits)
    m = len(fits)
    if m < 2:
        raise ModelError(
            f"Rubin's rules need at least 2 imputations, got {m}; pass one fit per imputed data "
            f"set."
        )
    try:
        df_complete = float(df_complete)
    except (TypeError, ValueError) as exc:
        raise ModelError(f"df_complete must be a positive number or inf, got "
                         f"{show_given(df_complete)}.") from exc
    if not df_complete > 0:
        raise ModelError(f"df_complete must be a positive number or inf, got "
                         f"{show_given(df_complete)}.")

    extracted = [_extract(f, i) for i, f in enumerate(fits)]
    p = extracted[0][0].size
    term_names = extracted[0][2]
    for i, (est, _, nm) in enumerate(extracted[1:], start=2):
        if est.size != p:
            raise ModelError(
                f"imputation {i} has {est.size} estimates but imputation 1 has {p}; "
                "every fit must be the same model."
            )
        if nm is not None and term_names is not None and nm != term_names:
            raise ModelError(
                f"imputation {i} has terms {nm} but imputation 1 has {term_names}; "
                "every fit must have the same terms in the same order."
            )
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != p:
            raise ModelError(f"names has {len(names)} entries but there are {p} estimates.")
        term_names = names
    if term_names is None:
        term_names = [f"x{j}" for j in range(p)]

    Q = np.vstack([e[0] for e in extracted])  # m x p
    qbar = Q.mean(axis=0)
    ubar = np.mean(np.stack([e[1] for e in extracted]), axis=0)
    dev = Q - qbar
    B = dev.T @ dev / (m - 1)
    T = ubar + (1.0 + 1.0 / m) * B

    u = np.diag(ubar)
    b = np.diag(B)
    if np.any(u <= 0):
        bad = [term_names[j] for j in np.flatnonzero(u <= 0)]
        raise ModelError(
            f"the mean within-imputation variance is not positive for {bad}; check the covariances."
        )
    r = (1.0 + 1.0 / m) * b / u
    with np.errstate(divide="ignore"):
        df = np.where(r > 0, (m - 1) * (1.0 + 1.0 / np.where(r > 0, r, 1.0)) ** 2, np.inf)
    if np.isfinite(df_complete):
        dfobs = (df_complete + 1.0) / (df_complete + 3.0) * df_complete * u / (u + b)
        df = 1.0 / (1.0 / dfobs + 1.0 / df)
    fmi = (r + 2.0 / (df + 3.0)) / (r + 1.0)

    idx = pd.Index(term_names)
    return MIResult(
        params=pd.Series(qbar, index=idx, name="estimate"),
        vcov=pd.DataFrame(T, index=idx, columns=idx),
        within=pd.DataFrame(ubar, index=idx, columns=idx),
        between=pd.DataFrame(B, index=idx, columns=idx),
        df=pd.Series(df, index=idx, name="df"),
        fmi=pd.Series(fmi, index=idx, name="fmi"),
        m=m,
        level=level,
        df_complete=df_complete,
    )
