r"""Design-based Cox proportional hazards model (R ``svycoxph``).

Estimation (Binder 1992; Lin & Wei 1989; Lumley 2010, ch. 7)
------------------------------------------------------------
The coefficients maximise the *weighted* partial likelihood. With sampling weights ``w_i``,
risk scores ``r_i = exp(x_i' beta)`` and, at a distinct event time ``t`` (within a baseline
stratum) with death set ``D_t`` of ``d`` rows, risk-set sums ``S0 = sum_{T_j >= t} w_j r_j``,
``S1 = sum w_j r_j x_j`` and death sums ``S0_D, S1_D``:

* Efron ties (default, as R ``coxph``/``svycoxph``): for ``k = 0, ..., d-1`` with ``f_k = k/d``,
  ``den_k = S0 - f_k S0_D``, ``xbar_k = (S1 - f_k S1_D) / den_k`` and the mean death weight
  ``m = sum_{D_t} w_i / d``,

      log PL = sum_i w_i delta_i x_i' beta - sum_t m sum_k log(den_k)
      U(beta) = sum_i w_i delta_i x_i - sum_t m sum_k xbar_k
      I(beta) = sum_t m sum_k [ (S2 - f_k S2_D) / den_k - xbar_k xbar_k' ]

* Breslow ties: ``f_k = 0`` (every death sees the full risk set).

Newton-Raphson (step halving when the log partial likelihood decreases) is run to a relative
change below ``tol`` (default 1e-11).

Covariance (Binder 1992): the score residual of row ``i`` (Therneau & Grambsch 2000, §3.7;
with Efron ties the deaths at ``t`` count with weight ``1 - f_k`` in the k-th risk set) is

    U_i = delta_i (x_i - mean_k xbar_k(T_i)) - r_i sum_{t <= T_i} sum_k c_ik m (x_i - xbar_k) /
    den_k,

``c_ik = 1`` for rows still at risk and ``1 - f_k`` for the deaths at ``t``. The influence
values ``z_i = w_i U_i I^{-1}`` (R's weighted ``dfbeta`` residuals) give

    Var(beta_hat) = I^{-1} Var_design(sum_i w_i U_i) I^{-1},

the design-based variance of the total ``sum_i z_i`` (strata, clusters, fpc, lonely PSUs).
Replicate-weight designs refit the model with every replicate's weights. Tests and intervals
are normal (z), as R's ``summary.svycoxph``.

Two-phase designs (case-cohort studies; Lin & Ying 1993, Barlow 1994, Borgan et al. 2000,
Breslow et al. 2009, Lumley 2010 ch. 8): on a :class:`~socialhealth.TwoPhaseDesign` the
weights are the phase-2 weights ``w_i = w1_i / pi2_i`` (e.g. ``n1_h / n2_h`` in the
phase-2 strata case/non-case), so the coefficients maximise the inverse-probability
weighted partial likelihood over the phase-2 rows (Borgan et al.'s estimator II for a
subcohort stratified on case status), and the covariance is the two-phase variance of the
same influence values ``z_i``: the phase-1 term (cohort sampling, ``method="full"`` or
``"approx"``) plus the phase-2 term (stratified subsampling of the cohort),
``Var = V1(z) + V2(z)`` with the formulas of :mod:`socialhealth.design.twophase`
(:meth:`CoxResult.phase_variances` gives the two). This is R's
``svycoxph(Surv(time, event) ~ x, design = twophase(id = list(~id, ~id), subset =
~in_subcohort | event, strata = list(NULL, ~event), data = d, method = "full"))`` (checked
against R survey 4.1-1 for ``method="full"``, ``"approx"`` and ``"simple"``, Efron and
Breslow ties, baseline strata, phase-2 strata crossing case status with a sampling stratum,
domains, and phase-2 covariates missing outside phase 2 or for some phase-2 rows:
tests/models/test_coxph_twophase.py). A domain (``coxph(cc.subset(mask), ...)``) gives R's
``svycoxph(..., design = cc, subset = ...)``. R's ``svycoxph(..., design = subset(cc, ...))``
agrees for ``method="approx"`` but, for ``method="full"``, reports other SEs: it takes the
dfbeta residuals from a model frame rebuilt over all phase-2 rows, not the domain rows the
model was fitted on (they are not the fitted model's score residuals); the same happens in R
for subsetted calibrated or PPS survey designs and calibrated two-phase designs (also
``"approx"``): there too this gives the ``subset =`` route's SEs. (Exception: on a domain of a
calibrated ``method="full"`` two-phase design the SEs differ slightly from R's (4e-4 relative
in the tests): R's calibrated-domain difference described in :mod:`socialhealth.design.twophase`.)

Log partial likelihood (``CoxResult.loglik``, R's ``svycoxph(...)$ll``). The weights are
rescaled as ``svycoxph`` does: divided by their mean over the rows of R's design object,
``w_i / (sum_{domain} w_j / n_R)``, where ``n_R`` counts rows outside the domain that R's
subset keeps with weight 0 (``prob = Inf``). R survey's subset drops the other rows of an
uncalibrated ``svydesign`` and of a replicate design (``n_R`` = domain rows) but keeps them for
a calibrated (``postStratify``, ``rake``, ``calibrate``) or PPS ``svydesign`` (``n_R`` = the rows
of the design when it was first calibrated, resp. all rows), a ``method = "full"`` two-phase
design and a calibrated two-phase design (``n_R`` = the phase-2 rows). Rows with missing
values count in ``n_R`` and in the domain sum, as in R. R's ``subset =`` argument and
``subset(design, ...)`` give the same ``ll`` in all these cases (checked against R survey
4.1-1: tests/models/test_coxph_loglik.py). The coefficients and covariance do not depend on
the rescaling; the log partial likelihood does: multiplying the weights by ``c`` gives
``c * ll - c log(c) sum_i w_i delta_i``. So the same domain model has another ``ll`` on a
calibrated design than on the uncalibrated one, and ``2 (ll[1] - ll[0])`` is not a
likelihood-ratio statistic with a chi-squared distribution under weighting; compare
``ll`` only with R's for the same design, and test with the Wald statistics. On replicate
designs R reports no ``ll`` (``svycoxph`` sets ``$loglik`` to ``NA``); here ``loglik`` is the
log partial likelihood of R's full-sample fit there, ``coxph(..., weights = w / mean(w))``
over the domain rows.

Rows with a missing value in the time, event or a covariate are left out (zero weight, the
design kept; R ``na.omit``). Only right-censored data (one row per person) are supported; no
delayed entry, time-varying covariates or frailty terms.

References
----------
Binder DA (1992) Fitting Cox's proportional hazards models from survey data. *Biometrika*
79:139-147.
Lin DY, Wei LJ (1989) The robust inference for the Cox proportional hazards model. *JASA*
84:1074-1078.
Therneau TM, Grambsch PM (2000) *Modeling Survival Data*. Springer, ch. 3 and 7.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 7.
Efron B (1977) The efficiency of Cox's likelihood function for censored data. *JASA* 72:557-565.
Lin DY, Ying Z (1993) Cox regression with incomplete covariate measurements. *JASA*
88:1341-1349.
Barlow WE (1994) Robust variance estimation for the case-cohort design. *Biometrics*
50:1064-1072.
Borgan O, Langholz B, Samuelsen SO, Goldstein L, Pogoda J (2000) Exposure stratified
case-cohort designs. *Lifetime Data Analysis* 6:39-58.
Breslow NE, Lumley T, Ballantyne CM, Chambless LE, Kulich M (2009) Using the whole cohort in
the analysis of case-cohort data. *American Journal of Epidemiology* 169:1398-1405.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given, show_list
from socialhealth.design.coefficients import WaldCoefficients
from socialhealth.design.results import check_level
from socialhealth.design.structure import check_flag
from socialhealth.design.extension import r_complete_cases, r_formula
from socialhealth.design.formula import model_frame
from socialhealth.design.result_protocol import Summary
from socialhealth.errors import (ConvergenceError, MissingColumnError, ModelError, SeparationError,
                                 SocialHealthWarning)
from socialhealth.models._args import check_amount, check_column
from socialhealth.models._newton import check_controls
from socialhealth.models._response import event_values
from socialhealth.models._coxcurve import FitData as _FitData

__all__ = ["CoxResult", "coxph"]

_TIES = ("efron", "breslow")


# ----------------------------------------------------------------------------- core fit
@dataclass
class _Prepared:
    """Rows sorted by (baseline stratum, time descending) with their group structure."""

    order: np.ndarray        # positions (into the used rows) in sorted order
    X: np.ndarray            # sorted, centred covariates (m x p)
    delta: np.ndarray        # sorted 0/1 events
    grp_start: np.ndarray    # start index of each (stratum, time) group
    grp_of_row: np.ndarray   # group of each sorted row
    strat_of_grp: np.ndarray # stratum code of each group
    n_groups: int


def _prepare(time, delta, X, strata) -> _Prepared:
    order = np.lexsort((-time, strata))
    t, s = time[order], strata[order]
    new = np.ones(len(t), dtype=bool)
    new[1:] = (t[1:] != t[:-1]) | (s[1:] != s[:-1])
    grp_start = np.flatnonzero(new)
    grp_of_row = np.cumsum(new) - 1
    return _Prepared(order, X[order], delta[order].astype(float), grp_start, grp_of_row,
                     s[grp_start], len(grp_start))


def _within_strata_cumsum(values: np.ndarray, strat: np.ndarray,
                          reverse: bool = False) -> np.ndarray:
    """Cumulative sums over sorted groups, restarting at every change of ``strat``."""
    v = values[::-1] if reverse else values
    s = strat[::-1] if reverse else strat
    c = np.cumsum(v, axis=0)
    start = np.ones(len(s), dtype=bool)
    start[1:] = s[1:] != s[:-1]
    seg = np.cumsum(start) - 1
    idx = np.flatnonzero(start)
    base = np.zeros((len(idx),) + c.shape[1:])
    base[1:] = c[idx[1:] - 1]
    out = c - base[seg]
    return out[::-1] if reverse else out


def _cox_terms(beta, P: _Prepared, w: np.ndarray, ties: str, want_resid: bool):
    """Log partial likelihood, score, information and (optionally) score residuals.

    ``w`` are the weights in sorted order. Returns (loglik, U, I, resid or None).
    """
    X, delta = P.X, P.delta
    p = X.shape[1]
    eta = X @ beta if p else np.zeros(len(delta))
    r = np.exp(eta)
    wr = w * r
    gs = P.grp_start
    G0 = np.add.reduceat(wr, gs)
    G1 = np.add.reduceat(wr[:, None] * X, gs, axis=0) if p else np.zeros((P.n_groups, 0))
    wd = w * delta
    D0 = np.add.reduceat(wr * delta, gs)
    D1 = np.add.reduceat((wr * delta)[:, None] * X, gs, axis=0) if p else np.zeros((P.n_groups, 0))
    dcount = np.add.reduceat(delta, gs)
    dw = np.add.reduceat(wd, gs)
    S0 = _within_strata_cumsum(G0, P.strat_of_grp)
    S1 = _within_strata_cumsum(G1, P.strat_of_grp)

    # event times whose deaths all have weight 0 (a replicate without their PSUs) add nothing
    # (m = 0); left out, also when their whole risk set has weight 0 (0 * log 0: the limit of
    # R's svycoxph replicate refits, which add 1e-10 to every weight). Zero-weight deaths at a
    # time with positive-weight deaths still count among Efron's tied deaths, as in R
    ev = np.flatnonzero((dcount > 0) & (dw > 0))
    if ties == "efron":
        d = dcount[ev].astype(np.int64)
        g_rep = np.repeat(ev, d)                      # one row per (event group, k)
        k = np.arange(len(g_rep)) - np.repeat(np.cumsum(d) - d, d)
        f = k / np.repeat(d, d)
        m = np.repeat(dw[ev] / d, d)
    else:
        g_rep = ev
        f = np.zeros(len(ev))
        m = dw[ev]
    den = S0[g_rep] - f * D0[g_rep]
    if np.any(den <= 0):
        raise ModelError("a risk set has zero total weight; check the weights and event times.")
    xbar = (S1[g_rep] - f[:, None] * D1[g_rep]) / den[:, None]
    loglik = float(wd @ eta - np.sum(m * np.log(den)))
    U = wd @ X - m @ xbar
    I_minus = (xbar * m[:, None]).T @ xbar

    # per-event-group hazard increments (c = 1 and c = 1 - f)
    a = m / den
    A = np.bincount(g_rep, weights=a, minlength=P.n_groups)
    Ad = np.bincount(g_rep, weights=(1 - f) * a, minlength=P.n_groups)
    B = np.column_stack([np.bincount(g_rep, weights=a * xbar[:, j],
                                     minlength=P.n_groups) for j in range(p)]) \
        if p else np.zeros((P.n_groups, 0))
    Bd = np.column_stack([np.bincount(g_rep, weights=(1 - f) * a * xbar[:, j],
                                      minlength=P.n_groups) for j in range(p)]) \
        if p else np.zeros((P.n_groups, 0))
    # cumulative over event times <= t within stratum: groups are sorted by time descending,
    # so accumulate from the end of each stratum
    cumA = _within_strata_cumsum(A, P.strat_of_grp, reverse=True)
    g = P.grp_of_row
    cA = cumA[g] - delta * (A[g] - Ad[g])
    I = (X * (wr * cA)[:, None]).T @ X - I_minus
    resid = None
    if want_resid:
        cumB = _within_strata_cumsum(B, P.strat_of_grp, reverse=True)
        cB = cumB[g] - delta[:, None] * (B[g] - Bd[g])
        cnt = np.bincount(g_rep, minlength=P.n_groups).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            xmean = np.column_stack([np.bincount(g_rep, weights=xbar[:, j],
                                                 minlength=P.n_groups) for j in range(p)]) \
                / np.where(cnt > 0, cnt, 1.0)[:, None] if p else np.zeros((P.n_groups, 0))
        resid = delta[:, None] * (X - xmean[g]) - r[:, None] * (X * cA[:, None] - cB)
    return loglik, U, I, resid


def _newton(P: _Prepared, w: np.ndarray, ties: str, beta0: np.ndarray, tol: float, max_iter: int):
    """Newton-Raphson with step halving.

    Returns ``(beta, loglik, loglik at beta0, iterations, status, path)``; ``status`` is
    ``"converged"``, ``"max_iter"``, ``"singular"`` (the information matrix could not be
    solved: classified by :func:`_diagnose`) or ``"halving"`` (no step raised the log partial
    likelihood); ``path`` holds ``(beta, loglik)`` per iterate.
    """
    beta = np.array(beta0, dtype=float)
    ll, U, I, _ = _cox_terms(beta, P, w, ties, False)
    ll0 = ll
    path = [(beta, ll)]
    for it in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(I, U)
        except np.linalg.LinAlgError:
            return beta, ll, ll0, it, "singular", path
        if not np.all(np.isfinite(step)):
            return beta, ll, ll0, it, "singular", path
        halvings = 0
        while True:
            new = beta + step
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                try:
                    ll_new, U_new, I_new, _ = _cox_terms(new, P, w, ties, False)
                except ModelError:           # a risk-set sum overflowed or vanished
                    ll_new = -np.inf
            if np.isfinite(ll_new) and ll_new >= ll - 1e-12 * abs(ll):
                break
            step = step / 2
            halvings += 1
            if halvings > 30:
                return beta, ll, ll0, it, "halving", path
        converged = (abs(ll_new - ll) <= tol * max(abs(ll_new), 1.0)
                     and np.max(np.abs(new - beta)) <= 1e-6 * (1 + np.max(np.abs(new))))
        beta, ll, U, I = new, ll_new, U_new, I_new
        path.append((beta, ll))
        if converged:
            return beta, ll, ll0, it, "converged", path
    return beta, ll, ll0, max_iter, "max_iter", path


def _not_identified(X: np.ndarray, w: np.ndarray, delta: np.ndarray, I0: np.ndarray, names) -> None:
    """ModelError when the information at beta = 0 is singular: a covariate constant within
    every risk set, or covariates collinear among the rows at risk (not separation: the
    partial likelihood is flat, not monotone, along such a direction)."""
    from socialhealth.design.extension import aliased_columns

    xm = (w @ X) / w.sum()
    ref = float(w @ delta) * ((w @ (X - xm) ** 2) / w.sum())
    flat = [n for n, a, r in zip(names, np.diag(I0), ref, strict=True) if not a > 1e-10 * r]
    if flat:
        raise ModelError(
            f"the Cox model cannot estimate the coefficient(s) of {', '.join(flat)}: the "
            "covariate does not vary within the risk sets of the events among the rows used (it "
            "is constant, or varies only between baseline strata or among rows censored before "
            "the first event). Drop it (or, for strata, do not also use it as a baseline stratum)."
        )
    bad = aliased_columns(I0, list(names))
    if bad:
        raise ModelError(
            f"the Cox information matrix is singular: covariate(s) {', '.join(map(repr, bad))} are "
            "linear combinations of the other covariates among the rows used (collinear). Drop "
            "or combine them."
        )


def _diagnose(status, beta, I, I0, path, X, t, delta, strata_codes, w, names, max_iter) -> None:
    """Raise the right error for a fit that ran into trouble, or return if the fit is usable.

    The fit is suspect if Newton-Raphson stopped without converging, a coefficient is huge
    (``|beta_j| * range(x_j) > 20``) or the information collapsed (a diagonal element below
    1e-8 of its value at 0). Then the data decide (linear programme,
    :func:`socialhealth.design.extension.cox_monotone`): a monotone direction is a
    :class:`SeparationError` naming the covariates. Otherwise a singular information met on a
    diverging path (coefficients growing, likelihood still rising) is numerical monotone
    likelihood, and anything else a ModelError / ConvergenceError.
    """
    from socialhealth.design import extension

    rng = np.ptp(X, axis=0) if len(X) else np.zeros(len(names))
    with np.errstate(invalid="ignore", divide="ignore"):
        collapsed = I is None or np.any(~(np.diag(I) > 1e-8 * np.diag(I0)))
    suspect = status != "converged" or np.any(np.abs(beta) * rng > 20) or collapsed
    if not suspect:
        return
    pos = w > 0
    direction = extension.cox_monotone(X[pos], t[pos], delta[pos], strata_codes[pos], names)
    if direction is not None:
        raise SeparationError(
            f"monotone likelihood in the Cox model: the partial likelihood keeps rising (towards a "
            f"finite limit) as "
            f"{direction.describe()}, because in every risk set the rows with the event have the "
            f"most extreme value of {' / '.join(direction.names)} (strictly so for "
            f"{direction.n_rows} event(s); e.g. no events, or only events, in a category or beyond "
            "a cut-off). The hazard ratio estimate is infinite (R coxph: 'coefficient may be "
            "infinite'). Combine sparse categories, drop or recode the covariate, or use a "
            "penalised (Firth) Cox model (R coxphf)."
        )
    scaled = [(float(np.max(np.abs(b) * rng)) if len(b) else 0.0, ll) for b, ll in path]
    if status in ("singular", "halving", "max_iter") or collapsed:
        if extension.diverging(scaled):
            big = [n for n, b,
                   r in zip(names, beta, rng, strict=True) if abs(b) * r > 20] or list(names)
            raise SeparationError(
                f"monotone likelihood in the Cox model (numerically): the coefficient(s) of "
                f"{', '.join(big)} keep growing while the partial likelihood still rises, until "
                "the information matrix is numerically singular. The data are nearly separated "
                "(events almost only at one extreme of the covariate within the risk sets): the "
                "hazard ratio is not estimable. Combine sparse categories, drop or recode the "
                "covariate, or use a penalised (Firth) Cox model (R coxphf)."
            )
    if status == "singular" or (status == "converged" and collapsed):
        raise ModelError(
            f"the Cox information matrix is numerically singular at the estimate "
            f"({', '.join(names)}) although the covariates are not collinear and the data are "
            "not separated; rescale the covariates (e.g. years rather than days) or drop "
            "nearly redundant ones."
        )
    if status == "halving":
        raise ConvergenceError("the Cox model did not converge: step halving failed to raise the "
                               "partial likelihood; rescale the covariates or drop nearly "
                               "redundant ones.")
    if status == "max_iter":
        raise ConvergenceError(f"the Cox model did not converge in {max_iter} Newton iterations; "
                               "raise max_iter= or rescale the covariates.")


# ----------------------------------------------------------------------------- result
class CoxResult(WaldCoefficients):
    """A fitted design-based Cox model (see :func:`coxph`).

    Attributes
    ----------
    params, bse, zvalues, pvalues : pandas Series indexed by coefficient name (log hazard ratios).
    nobs : rows used; n_events : events among them; n_missing : rows of the subset left out.
    loglik : (log partial likelihood at 0, at the estimate), R's ``svycoxph(...)$ll``: the
    weights divided by their mean over the rows of R's design object, which for a domain of a
    calibrated or PPS design, a ``method="full"`` or calibrated two-phase design also counts
    the rows outside the domain (R keeps them with weight 0), otherwise only the domain rows
    (module docstring). Its scale depends on that convention, so it is comparable only with
    R's for the same design; ``2 (ll[1] - ll[0])`` is no likelihood-ratio test under weights.
    R reports no ``ll`` on replicate designs (``NA``); here it is that of R's full-sample fit.
    ties, design, formula, iterations, r_call, naive_cov (inverse information with those
    weights, R ``naive.var``; R's ``inv.info`` equals it only for whole-number weights, as
    survival >= 3 fits other weights with ``robust = TRUE`` and stores the iid sandwich there).
    influence : DataFrame, the weighted influence values ``z_i`` (R's weighted ``dfbeta``
    residuals), one row per row used (index: positions in ``design.data``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = models.coxph(sd.design, "followup_years", "died", ["lonely", "age"])
    >>> m.params.round(4).to_dict(), m.bse.round(4).to_dict()
    ({'lonely': 0.5485, 'age': 0.0716}, {'lonely': 0.1025, 'age': 0.0021})

    In R: ``m <- svycoxph(Surv(followup_years, died) ~ lonely + age, design)``; ``coef(m)``,
    ``SE(m)``, ``exp(confint(m))``.
    """

    def __init__(self, *, beta, cov, naive_cov, names, nobs, n_events, n_missing, loglik, ties,
                 design, formula, iterations, r_call, df_design, influence=None, rows=None):
        self._beta = np.asarray(beta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.naive_cov = pd.DataFrame(naive_cov, index=names, columns=names)
        self.names = list(names)
        self.nobs = int(nobs)
        self.n_events = int(n_events)
        self.n_missing = int(n_missing)
        self.loglik = loglik
        self.ties = ties
        self.design = design
        self.formula = formula
        self.iterations = iterations
        self.r_call = r_call
        self.df_design = df_design
        #: the data of the fit, for predicted curves and refits (set by coxph())
        self._cox_fit_data: _FitData | None = None
        self.influence = pd.DataFrame(
            np.zeros((0, len(self.names))) if influence is None else influence,
            index=pd.Index([] if rows is None else rows, name="row"), columns=self.names)

    # params, bse, pvalues, cov_params(), conf_int(): WaldCoefficients (normal reference,
    # as R summary.svycoxph / confint)
    @property
    def _coef(self) -> np.ndarray:
        return self._beta

    @property
    def zvalues(self) -> pd.Series:
        """Wald statistics ``z = beta / se`` (R ``summary(svycoxph)``)."""
        return self.statistic

    def phase_variances(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Phase-1 and phase-2 parts of the covariance, on a two-phase design.

        The covariance of a Cox model fitted on a :class:`~socialhealth.TwoPhaseDesign` is the
        sum of a phase-1 part (sampling of the cohort) and a phase-2 part (subsampling within
        the cohort, e.g. the subcohort of a case-cohort study) of the same influence values
        (formulas in :mod:`socialhealth.design.twophase`). Their sum is ``cov_params()``.

        Returns
        -------
        (phase1, phase2) : tuple of DataFrames (p x p), indexed by coefficient name
            R: ``attr(m$var, "phases")``, ``$phase1`` and ``$phase2``.

        Raises
        ------
        DesignError
            The model was not fitted on a two-phase design.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> import socialhealth as sh
        >>> rng = np.random.default_rng(3)
        >>> n = 600
        >>> x = rng.normal(size=n)
        >>> t_ev = rng.exponential(1 / (0.1 * np.exp(0.7 * x)))
        >>> t_c = rng.uniform(1, 5, n)
        >>> cohort = pd.DataFrame({"time": np.minimum(t_ev, t_c), "event": (t_ev <= t_c) * 1,
        ...                        "x": x, "sub": rng.random(n) < 0.2})
        >>> cohort["x"] = cohort["x"].where(cohort["sub"] | (cohort["event"] == 1))
        >>> cc = sh.TwoPhaseDesign(cohort, subset="sub | event == 1", strata="event")
        >>> m = sh.models.coxph(cc, "time", "event", ["x"])
        >>> V1, V2 = m.phase_variances()
        >>> round(float(V1.iloc[0, 0] + V2.iloc[0, 0] - m.cov_params().iloc[0, 0]), 12)
        0.0

        In R: ``attr(svycoxph(Surv(time, event) ~ x, design = cc)$var, "phases")``.
        """
        from socialhealth.errors import DesignError

        split = getattr(self.design, "phase_variances", None)
        if split is None:
            raise DesignError(
                "phase_variances() needs a model fitted on a two-phase design "
                f"(sh.TwoPhaseDesign); this one was fitted on {self.design.label!r}."
            )
        Z = np.zeros((self.design.n, len(self.names)))
        Z[self.influence.index.to_numpy()] = self.influence.to_numpy()
        V1, V2 = split(Z)
        return (pd.DataFrame(V1, index=self.names, columns=self.names),
                pd.DataFrame(V2, index=self.names, columns=self.names))

    def predict_curve(self, newdata: pd.DataFrame, se: bool = False, level: float = 0.95,
                      se_method: Literal["r", "linearization"] = "r"):
        r"""Predicted survival curves ``S(t | z) = exp(-h(t) exp(z' beta))``, one per row of
        ``newdata`` (R ``predict(m, newdata, type = "curve", se = TRUE)``).

        ``h`` is the Breslow estimator of the baseline cumulative hazard with the design
        weights (in a model with baseline strata, that of the row's stratum). With ``se=True``
        the variance of the cumulative hazard ``H(t | z) = -log S(t | z)`` combines its design
        variance at fixed ``beta`` with the variance of ``beta``; the intervals are
        ``S exp(-/+ z_q se)`` on the log scale, upper end capped at 1 (R's ``confint`` of the
        curve). Formulas: the docstring of ``socialhealth.models._coxcurve``.

        Parameters
        ----------
        newdata : DataFrame
            Covariate values, one row per curve (every variable of the model; categorical
            values among the levels the model was fitted with; for a model with
            ``strata=``, also the stratum column).
        se : bool
            Compute standard errors and intervals. On a replicate-weight design the model is
            refitted and the curves recomputed with every replicate's weights (R stops:
            "replicate-weight designs not supported yet"; no R reference).
        level : float
            Confidence level of the intervals.
        se_method : ``"r"`` or ``"linearization"``
            ``"r"`` (default): R survey 4.1-1's formula, which adds the variance from ``beta``
            time by time and takes the covariance of the baseline hazard with ``beta`` from
            the latest increment only (so it is not the delta method's, and depends on R's
            centring of the covariates). ``"linearization"``: the full delta method (design
            variance of the influence values of ``H(t | z)``, including those of ``beta``);
            no R reference.

        Returns
        -------
        KaplanMeierResult
            One curve per row of ``newdata`` (group column ``curve``, labelled by the row's
            values; ``newdata`` attribute holds the rows), one row per distinct event time:
            ``to_frame()`` gives ``curve, time, n_risk, n_event, surv, se, se_log, ci_low,
            ci_high``; ``at(times)``, ``quantile(p)`` and ``sh.plot.survival`` work as for
            Kaplan-Meier curves. ``n_risk`` and ``n_event`` are the weighted numbers at risk
            and of events of the (stratum's) sample.

        Raises
        ------
        MissingColumnError
            ``newdata`` lacks a covariate (or, for a stratified model, the stratum column).
        ModelError
            A categorical value or stratum the model was not fitted with; missing values;
            ``se=True`` on a two-phase design.

        Notes
        -----
        R's ``se = FALSE`` curve enters tied deaths one at a time, each removing itself from
        the risk set of the next (a curve that depends on the row order). Here the curve is
        always Breslow's, which is R's ``se = TRUE`` curve; without tied event times the two
        R curves agree. R lists tied deaths one by one; the value here at a tied time is R's
        last one. R survey 4.1-1 cannot predict curves from a stratified model ("Stratified
        models are not supported yet"); those curves have no R reference. Breslow-ties fits
        are R's ``svycoxph(..., method = "breslow")`` (its ``ties = "breslow"`` stops on a
        ``svydesign``), whose predicted curves equal these (checked on the synthetic cohort of
        the tests with R 4.2.2: at day 1000, 0.905784 with interval 0.882313 to 0.929879).

        Examples
        --------
        >>> import pandas as pd
        >>> import socialhealth as sh
        >>> from socialhealth import models
        >>> sd = sh.datasets.load("demo")         # synthetic survey shipped with socialhealth
        >>> m = models.coxph(sd.design, "followup_years", "died", ["lonely", "age", "sex"])
        >>> new = pd.DataFrame({"lonely": [0, 1], "age": [70, 70], "sex": ["female", "female"]})
        >>> curves = m.predict_curve(new, se=True)
        >>> print(curves.at([10])[["curve", "surv", "ci_low", "ci_high"]].round(3).to_string())
                                  curve   surv  ci_low  ci_high
        0  lonely=0, age=70, sex=female  0.809   0.789    0.830
        1  lonely=1, age=70, sex=female  0.691   0.636    0.751
        >>> ax = sh.plot.survival(curves)               # one step curve per row of new

        In R: ``predict(m, newdata = new, type = "curve", se = TRUE)`` for ``m <-
        svycoxph(Surv(followup_years, died) ~ lonely + age + sex, design)``;
        ``confint(curve[[1]], parm = 10)``.
        """
        from socialhealth.models._coxcurve import predict_curve

        return predict_curve(self, newdata, se=check_flag(se, "se", "predict_curve()"), level=level,
                             se_method=se_method)

    def model_matrix(self, data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Covariate columns of the model (``names``, no intercept) for the rows of ``data``.

        Returns ``(X, ok)``: one row per row of ``data`` (NaN where a covariate is missing),
        ``ok`` marking the complete rows; categorical columns are coded with the model's levels.

        Examples
        --------
        >>> import socialhealth as sh
        >>> from socialhealth import models
        >>> sd = sh.datasets.load("demo")         # synthetic survey shipped with socialhealth
        >>> m = models.coxph(sd.design, "followup_years", "died", ["lonely", "sex"])
        >>> X, ok = m.model_matrix(sd.design.data.head(3))
        >>> X.shape
        (3, 2)

        In R: ``model.matrix(m)[, -1]`` (rows of the fit) or ``model.matrix(delete.response(
        terms(m)), newdata)[, -1]``.
        """
        if self._cox_fit_data is None:
            raise ModelError("this Cox result does not keep the data of its fit; fit it again "
                             "with models.coxph(design, ...).")
        frame = self._cox_fit_data.frame
        Xall, ok = frame.rhs_matrix(data)                                       # type: ignore
        keep = [list(frame.columns).index(n) for n in self.names]               # type: ignore
        return np.asarray(Xall, dtype=float)[:, keep], np.asarray(ok, dtype=bool)

    def refit(self, design) -> "CoxResult":
        """The same model (time, event, covariates, strata, ties, controls) on another design
        over the same data, e.g. a reweighted one.

        Examples
        --------
        >>> import socialhealth as sh
        >>> from socialhealth import models
        >>> sd = sh.datasets.load("demo")         # synthetic survey shipped with socialhealth
        >>> m = models.coxph(sd.design, "followup_years", "died", ["lonely", "age"])
        >>> bool(abs(m.refit(sd.design).params - m.params).max() < 1e-12)
        True

        In R: ``svycoxph(formula(m), design = newdesign)``.
        """
        if self._cox_fit_data is None:
            raise ModelError("this Cox result does not keep the data of its fit; fit it again "
                             "with models.coxph(design, ...).")
        return coxph(design, **self._cox_fit_data.spec)

    def to_frame(self, exponentiate: bool = True, level: float = 0.95) -> pd.DataFrame:
        """Tidy table ``term, estimate, se, ci_low, ci_high, statistic, p`` (+ n, n_events).

        ``exponentiate=True`` (default) gives hazard ratios and their intervals; ``se``,
        ``statistic`` (z) and ``p`` stay on the log scale.
        """
        exponentiate = check_flag(exponentiate, "exponentiate", "to_frame()")
        level = check_level(level, ModelError)
        ci = self.conf_int(1 - level)
        est, lo, hi = self._beta.copy(), ci["ci_low"].to_numpy(), ci["ci_high"].to_numpy()
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        return pd.DataFrame({
            "term": self.names, "estimate": est, "se": self.bse.to_numpy(), "ci_low": lo,
            "ci_high": hi, "statistic": self.zvalues.to_numpy(), "p": self.pvalues.to_numpy(),
            "n": self.nobs, "n_events": self.n_events,
        })

    def summary(self) -> Summary:
        """Printable table: hazard ratios, log-scale SEs, 95% CIs, z, p, and the matching R call."""
        tab = self.to_frame()
        lines = [f"Design-based Cox model ({self.ties} ties): {self.formula}",
                 f"Design: {self.design.label}",
                 f"{self.nobs} rows, {self.n_events} events"
                 + (f"; {self.n_missing} rows with missing values left out" if self.n_missing
                    else ""),
                 f"{'':<24}{'HR':>10}{'log se':>10}{'95% CI':>22}{'z':>9}{'p':>10}"]
        for r in tab.itertuples(index=False):
            lines.append(f"{r.term[:23]:<24}{r.estimate:>10.4g}{r.se:>10.4g}"
                         f"{f'{r.ci_low:.4g} - {r.ci_high:.4g}':>22}"
                         f"{r.statistic:>9.3f}{r.p:>10.3g}")
        lines.append(f"In R: {self.r_call}")
        return self._summary_text("\n".join(lines))

    def __repr__(self) -> str:
        return str(self.summary())


# ----------------------------------------------------------------------------- entry point
def _r_call(design, time: str, event: str, rhs: str, strata, ties: str, n_missing: int) -> str:
    """The R ``svycoxph`` call: categorical levels in our order, numpy functions in R's
    spelling, ``method = "breslow"`` (R 4.1-1's ``svycoxph`` on a ``svydesign`` stops on
    ``ties = "breslow"``: "variable lengths differ"), and on a replicate design with missing
    values the complete cases as a subset (with them, R's replicate fits pair the weights
    with the wrong rows: it drops the rows of ``na.action``, which it finds nowhere)."""
    data = design.data
    formula_r = r_formula(rhs, data) + (f" + strata({strata})" if strata else "")
    des = "design"
    if n_missing and getattr(design, "kind", "") == "replicate":
        used = [time, event, *([strata] if strata else []),
                *(c for c in data.columns if isinstance(c, str)
                  and re.search(rf"(?<![\w.]){re.escape(c)}(?![\w.])", rhs))]
        keep = r_complete_cases(used, data, design.in_subset)
        if keep:
            des = f"subset(design, {keep})"
    return f"svycoxph(Surv({time}, {event}) ~ {formula_r}, design = {des}" + (
        ', method = "breslow"' if ties == "breslow" else "") + ")"


def _as_rhs(covariates) -> str:
    if isinstance(covariates, str):
        rhs = covariates.split("~", 1)[1] if "~" in covariates else covariates
        return rhs.strip()
    try:
        cov = list(covariates)
    except TypeError:
        cov = [covariates]
    if not all(isinstance(c, str) for c in cov):
        raise ModelError(f"covariates= takes a column name, a list of column names or a "
                         f"formula such as '~ age + sex', not {show_given(covariates)}.")
    if not cov:
        raise ModelError("coxph needs at least one covariate.")
    # a column name that is not an identifier (a panel column such as ``age@2016``) is quoted
    # with backticks, as in R, so that a list of columns always parses
    return " + ".join(c if re.match(r"^[A-Za-z_][A-Za-z_0-9]*$", c) else f"`{c}`"
                      for c in map(str, cov))


def coxph(
    design,
    time: str,
    event: str,
    covariates: str | Sequence[str],
    strata: str | None = None,
    ties: Literal["efron", "breslow"] = "efron",
    min_events: int = 10,
    events_per_variable: float = 10.0,
    tol: float = 1e-11,
    max_iter: int = 50,
) -> CoxResult:
    r"""Design-based Cox proportional hazards regression (R ``svycoxph``).

    Maximises the weighted partial likelihood and estimates the covariance of the log hazard
    ratios by linearisation of the score (Binder 1992), ``I^{-1} Var_design(sum_i w_i U_i)
    I^{-1}`` with ``U_i`` the score residuals, or by refitting with replicate weights; see the
    module docstring for the formulas (Efron and Breslow ties). On a two-phase design
    (case-cohort study) ``Var_design`` is the phase-1 plus phase-2 variance
    (:meth:`CoxResult.phase_variances`), as R's ``svycoxph`` on a ``twophase`` design.

    Parameters
    ----------
    design : SurveyDesign, ReplicateDesign or TwoPhaseDesign (a subset design gives a domain
        analysis). On a :class:`~socialhealth.TwoPhaseDesign` (a case-cohort study) the model
        uses the phase-2 rows with the phase-2 weights and the two-phase variance (R
        ``svycoxph(Surv(time, event) ~ x, design = twophase(id = list(~id, ~id), subset =
        ~in_subcohort | event, strata = list(NULL, ~event), data = d))``); phase-2 covariates
        may be missing (NaN) outside phase 2.
    time : column with the follow-up time (> 0).
    event : column with the event indicator (1/True = event, 0/False = censored).
    covariates : list of columns (``["lonely", "age", "sex"]``; string columns are categorical)
        or a right-hand side in formula syntax (``"lonely + age + C(sex)"``, ``"np.log(bili)"``).
    strata : column defining baseline-hazard strata (R ``+ strata(x)``), optional.
    ties : ``"efron"`` (default, as R) or ``"breslow"``.
    min_events : fewer events than this raises :class:`~socialhealth.errors.ModelError`.
    events_per_variable : fewer events per coefficient than this gives a warning (Peduzzi et
        al. 1995 rule of thumb; estimates may be biased and intervals too narrow).
    tol, max_iter : Newton-Raphson stops when the relative change in the log partial
        likelihood is below ``tol``.

    Returns
    -------
    CoxResult
        ``params`` (log HR), ``bse``, ``cov_params()``, ``pvalues`` (z), ``conf_int()``,
        ``to_frame(exponentiate=True)`` (hazard ratios), ``naive_cov`` (model-based),
        ``loglik`` (R's ``$ll``: see :class:`CoxResult` for its weight scaling).

    Raises
    ------
    MissingColumnError / FormulaError : a column is not in the data.
    ModelError : non-positive times, event not 0/1, too few events, a covariate that does not
        vary within the risk sets or collinear covariates (checked at beta = 0).
    SeparationError : monotone likelihood (e.g. no events in a group): when the fit is suspect
        (no convergence, a huge coefficient, a collapsed information matrix) a linear programme
        on the data looks for a direction in which every event is ranked extreme in its risk
        set; the message names the covariates (see ``socialhealth.design.extension``).
    ConvergenceError : Newton-Raphson did not converge.

    References
    ----------
    Binder (1992) Biometrika 79:139-147; Lin & Wei (1989) JASA 84:1074-1078;
    Lumley (2010) *Complex Surveys*, ch. 7 and (two-phase designs) ch. 8; Therneau &
    Grambsch (2000), ch. 3; Borgan et al. (2000) Lifetime Data Analysis 6:39-58 (case-cohort
    weights); Breslow et al. (2009) Am J Epidemiol 169:1398-1405.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = models.coxph(sd.design, "followup_years", "died", ["lonely", "age", "sex"])
    >>> print(m.to_frame()[["term", "estimate", "ci_low", "ci_high", "n_events"]]
    ...       .round(3).to_string())
              term  estimate  ci_low  ci_high  n_events
    0       lonely     1.748   1.426    2.144      1840
    1          age     1.075   1.071    1.079      1840
    2  sex[T.male]     1.349   1.199    1.518      1840

    In R: ``svycoxph(Surv(followup_years, died) ~ lonely + age + sex, design)``.

    A case-cohort study: a random subcohort plus every case, the covariate measured only on
    them (phase-2 strata = case status, so cases have weight 1):

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(3)
    >>> n = 600
    >>> x = rng.normal(size=n)
    >>> t_ev = rng.exponential(1 / (0.1 * np.exp(0.7 * x)))
    >>> t_c = rng.uniform(1, 5, n)
    >>> cohort = pd.DataFrame({"time": np.minimum(t_ev, t_c), "event": (t_ev <= t_c) * 1,
    ...                        "x": x, "sub": rng.random(n) < 0.2})
    >>> cohort["x"] = cohort["x"].where(cohort["sub"] | (cohort["event"] == 1))
    >>> cc = sh.TwoPhaseDesign(cohort, subset="sub | event == 1", strata="event")
    >>> m = models.coxph(cc, "time", "event", ["x"])
    >>> print(m.to_frame()[["term", "estimate", "se", "n", "n_events"]].round(3).to_string())
      term  estimate    se    n  n_events
    0    x     1.614  0.11  249       159

    In R (same numbers: coefficient 0.479017, SE 0.110138): ``svycoxph(Surv(time, event) ~ x,
    design = twophase(id = list(~1, ~1), subset = ~I(sub | event == 1), strata = list(NULL,
    ~event), data = cohort))``.
    """
    if not isinstance(ties, str) or ties not in _TIES:
        raise ModelError(f"ties={show_given(ties)} is not supported; use 'efron' (R's default) "
                         "or 'breslow'.")
    check_column(time, "time", "coxph")
    check_column(event, "event", "coxph")
    if strata is not None:
        check_column(strata, "strata", "coxph")
    check_amount(min_events, "min_events", "coxph", "the fewest events a model is fitted with",
                 "10", whole=True)
    check_amount(events_per_variable, "events_per_variable", "coxph",
                 "the events per coefficient below which it warns", "10")
    check_controls(max_iter, tol)
    data = design.data
    if strata is not None and not strata.strip():
        # "" was read as no strata (a model other than the one asked for)
        raise ModelError(f"coxph: strata={show_given(strata)} is not a column name; name the "
                         f"column whose values define the baseline-hazard strata (one of "
                         f"{show_list(data.columns, limit=12)}), or leave strata=None for one "
                         "baseline hazard.")
    missing = [c for c in [time, event] + ([strata] if strata is not None else [])
               if c not in data.columns]
    if missing:
        raise MissingColumnError(missing, data.columns, "the design data")
    rhs = _as_rhs(covariates)
    in_subset = design.in_subset
    ev_all = event_values(data, event, in_subset)
    mask = in_subset & ~np.isnan(ev_all)
    strata_codes_all = None
    if strata is not None:
        codes, _ = pd.factorize(data[strata], sort=True)
        strata_codes_all = codes
        mask &= codes >= 0
    n_pre = int((in_subset & ~mask).sum())
    frame = model_frame(data, f"{time} ~ {rhs}", mask)
    rows = frame.rows
    keep_cols = [j for j, c in enumerate(frame.columns) if c != "Intercept"]
    names = [frame.columns[j] for j in keep_cols]
    if not names:
        raise ModelError("coxph needs at least one covariate besides the intercept.")
    X = np.asarray(frame.X[:, keep_cols], dtype=float)
    t = frame.y
    d = ev_all[rows]
    if np.any(~np.isin(d, (0.0, 1.0))):
        vals = sorted(set(np.unique(d)) - {0.0, 1.0})
        raise ModelError(f"event column {event!r} must be 0/1 (1 = event); found values "
                         f"{show_list(vals, limit=5)}.")
    if np.any(t <= 0):
        raise ModelError(
            f"time column {time!r} has {int((t <= 0).sum())} non-positive value(s) among the rows "
            "used; follow-up times must be > 0 (drop those rows with design.subset(...))."
        )
    # weights rescaled as svycoxph (rescale = TRUE): divided by the mean weight over the rows of
    # R's design object, zero-weight rows included (design.model_weight_mean()); the coefficients
    # and covariance do not change, the log partial likelihood is then R's ll.
    norm = design.model_weight_mean()
    w = design.weights[rows] / norm
    n_events = int(d.sum())
    if n_events < min_events:
        raise ModelError(
            f"too few events for a Cox model: {n_events} event(s) among {len(rows)} rows used "
            f"(minimum {min_events}). Pool follow-up, use a broader outcome, or lower min_events "
            "if you accept unstable estimates."
        )
    epv = n_events / len(names)
    if epv < events_per_variable:
        warnings.warn(
            f"{n_events} events for {len(names)} coefficients ({epv:.1f} events per variable, "
            f"below {events_per_variable:g}): hazard ratios may be biased and intervals too narrow "
            "(Peduzzi et al. 1995).", SocialHealthWarning, stacklevel=user_stacklevel())
    strata_codes = np.zeros(len(rows),
                            dtype=np.int64) if strata_codes_all is None else strata_codes_all[rows]
    centre = (w @ X) / w.sum()
    Xc = X - centre
    P = _prepare(t, d, Xc, strata_codes)
    ws = w[P.order]
    _, _, I0, _ = _cox_terms(np.zeros(len(names)), P, ws, ties, False)
    _not_identified(Xc, w, d, I0, names)
    beta, ll, ll0, it, status, path = _newton(P, ws, ties, np.zeros(len(names)), tol, max_iter)
    I_inv = I = resid = None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            _, U, I, resid = _cox_terms(beta, P, ws, ties, True)
            I_inv = np.linalg.inv(I)
        if not (np.all(np.isfinite(I_inv)) and np.all(np.isfinite(resid))):
            I_inv = None
    except (np.linalg.LinAlgError, ModelError):
        I_inv = None
    _diagnose(status, beta, I if I_inv is not None else None, I0, path, Xc, t, d, strata_codes,
              w, names, max_iter)
    Z_sorted = (ws[:, None] * resid) @ I_inv
    Z_used = np.empty_like(Z_sorted)
    Z_used[P.order] = Z_sorted

    def refit(wr):
        b, _, _, _, status, _ = _newton(P, wr[P.order], ties, beta, tol, max_iter)
        return b if status == "converged" else None

    cov, design_used = design.model_vcov(beta, rows, Z_used, refit, "Cox model")
    r_call = _r_call(design, time, event, rhs, strata, ties, frame.n_missing + n_pre)
    out = CoxResult(beta=beta, cov=cov, naive_cov=I_inv, names=names, nobs=len(rows),
                    n_events=n_events, n_missing=frame.n_missing + n_pre, loglik=(ll0, ll),
                    ties=ties, design=design, formula=f"Surv({time}, {event}) ~ {rhs}",
                    iterations=it, r_call=r_call, df_design=design_used.degf(),
                    influence=Z_used, rows=rows)
    out._cox_fit_data = _FitData(
        time=t, event=d, X=X, weights=w, strata=strata_codes, frame=frame,
        spec=dict(time=time, event=event, covariates=rhs, strata=strata, ties=ties,
                  min_events=min_events, events_per_variable=events_per_variable, tol=tol,
                  max_iter=max_iter))
    return out
