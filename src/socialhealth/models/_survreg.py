r"""Design-based parametric survival (accelerated failure time) regression (R ``svysurvreg``).

Model (Kalbfleisch & Prentice 2002, ch. 2-3)
--------------------------------------------
For follow-up time ``T`` (right-censored: ``delta = 1`` event, ``0`` censored), covariates ``x``
(with an intercept), coefficients ``beta`` and scale ``sigma > 0``,

    y = log T = x' beta + sigma e          (``y = T`` for ``dist="gaussian"``/``"logistic"``)

with ``e`` standard minimum extreme value (``"weibull"``; ``"exponential"`` fixes
``sigma = 1``), standard normal (``"lognormal"``, ``"gaussian"``) or standard logistic
(``"loglogistic"``, ``"logistic"``). A covariate multiplies the survival time by the *time
ratio* ``exp(beta_j)`` (log-time distributions). With ``z_i = (y_i - x_i' beta) / sigma``,
``f`` and ``S`` the density and survival function of ``e``, and weights ``w_i``, the weighted
log-likelihood is

    l(beta, tau) = sum_i w_i [ delta_i (log f(z_i) - tau) + (1 - delta_i) log S(z_i) ]
                   - sum_i w_i delta_i log T_i          (log-time distributions only)

in the parameters ``(beta, tau = log sigma)`` (as R's ``survreg``; the last term, the Jacobian
of ``log T``, makes it the likelihood of ``T`` and does not change the estimates). With
``g = log f`` (events) or ``log S`` (censored) and ``g'``, ``g''`` its derivatives in ``z``,
the row's score is ``u_i = (-g'_i x_i / sigma, -g'_i z_i - delta_i)`` and the observed
information ``I = -sum_i w_i H_i`` with

    H_beta,beta = g'' x x' / sigma^2,  H_beta,tau = (g'' z + g') x / sigma,
    H_tau,tau = g'' z^2 + g' z.

Estimation: Newton-Raphson on ``(beta, tau)`` with step halving (a ridge added to ``I`` while
it is not positive definite), from weighted least squares starting values, to a relative
change in ``l`` below ``tol`` (default 1e-12) and a step below 1e-7.

Covariance (Binder 1983): the influence values ``z_i = w_i u_i I^{-1}`` (R's weighted
``dfbeta`` residuals of ``survreg``) give

    Var(beta_hat, tau_hat) = I^{-1} Var_design(sum_i w_i u_i) I^{-1},

the design-based variance of the total of ``z_i`` (strata, clusters, fpc, lonely PSUs), as R
survey's ``svysurvreg``. Replicate-weight designs refit the model with every replicate's
weights (R: ``withReplicates(des, function(w, data) survreg(..., weights = w))``; survey
4.1-1 has no ``svysurvreg`` method for replicate designs). Tests and intervals are normal (z),
as R's ``summary(svysurvreg(...))`` (``summary.survreg``). The scale's standard error is
``sigma * se(log sigma)`` (delta method).

The weights are divided by their mean over the rows of R's design object
(:meth:`~socialhealth.design.base.DesignBase.model_weight_mean`), as ``svysurvreg`` does, so
``SurvregResult.loglik`` is R's ``$ll``; the estimates and covariance do not depend on it.

Rows with a missing time, status or covariate are left out (zero weight, the design kept;
R ``na.omit``). (R survey 4.1-1's ``svysurvreg`` stops on a domain of a calibrated design
when some rows of the domain have missing values: its ``design[-nas, ]`` drops rows by their
positions in the domain's model frame. Here they are left out; the fit and covariance equal
R's on the domain defined without those rows.)

Checked against R survey 4.1-1 / survival 3.5-3 (tests/models/test_survreg.py, ~1e-12
relative): the six distributions on a stratified cluster design with fpc, a single-PSU
stratum (``lonely_psu="adjust"``), domains, a post-stratified design and its domain,
two-phase designs (``method="full"`` and ``"approx"``), and JKn replicate designs and a
domain (R: ``withReplicates`` of ``survreg(weights =)`` refits).

References
----------
Kalbfleisch JD, Prentice RL (2002) *The Statistical Analysis of Failure Time Data*, 2nd ed.
Wiley, ch. 2-3.
Binder DA (1983) On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51:279-292.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 7.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import special

from socialhealth._text import show_given, show_list
from socialhealth.design.coefficients import WaldCoefficients
from socialhealth.design.extension import r_formula
from socialhealth.design.formula import model_frame
from socialhealth.design.result_protocol import Summary
from socialhealth.design.structure import check_flag
from socialhealth.errors import (ArgumentError, ConvergenceError, MissingColumnError, ModelError,
                                 SeparationError)
from socialhealth.models._args import check_column
from socialhealth.models._response import event_values
from socialhealth.models._newton import newton_ascent

__all__ = ["SurvregResult", "survreg"]

#: distribution -> (error distribution, log of time?, fixed scale or None)
_DISTS: dict[str, tuple[str, bool, float | None]] = {
    "weibull": ("extreme", True, None),
    "exponential": ("extreme", True, 1.0),
    "lognormal": ("gaussian", True, None),
    "loglogistic": ("logistic", True, None),
    "gaussian": ("gaussian", False, None),
    "logistic": ("logistic", False, None),
}
_DIST_LABEL = {"weibull": "Weibull", "exponential": "exponential", "lognormal": "log-normal",
               "loglogistic": "log-logistic", "gaussian": "Gaussian", "logistic": "logistic"}
#: standard deviation and mean of the standard error distribution (starting values only)
_ERR_MOMENTS = {"extreme": (np.pi / np.sqrt(6), -np.euler_gamma), "gaussian": (1.0, 0.0),
                "logistic": (np.pi / np.sqrt(3), 0.0)}


# ----------------------------------------------------------------------------- likelihood
def _row_terms(family: str, z: np.ndarray, delta: np.ndarray):
    """Per row: ``g = log f(z)`` (events) or ``log S(z)`` (censored), and ``g'``, ``g''``."""
    ev = delta == 1
    if family == "extreme":
        ez = np.exp(z)
        g = np.where(ev, z - ez, -ez)
        g1 = np.where(ev, 1.0 - ez, -ez)
        g2 = -ez
    elif family == "logistic":
        p = special.expit(z)
        g = np.where(ev, special.log_expit(z) + special.log_expit(-z), special.log_expit(-z))
        g1 = np.where(ev, 1.0 - 2.0 * p, -p)
        g2 = np.where(ev, -2.0 * p * (1.0 - p), -p * (1.0 - p))
    else:  # gaussian
        log_s = special.log_ndtr(-z)
        h = np.exp(-0.5 * z * z - 0.5 * np.log(2 * np.pi) - log_s)     # hazard phi / S
        g = np.where(ev, -0.5 * z * z - 0.5 * np.log(2 * np.pi), log_s)
        g1 = np.where(ev, -z, -h)
        g2 = np.where(ev, -1.0, -h * (h - z))
    return g, g1, g2


class _Model:
    """The data of one fit: response ``y`` (log time or time), events, design matrix."""

    def __init__(self, y, delta, X, family: str, fixed_scale: float | None):
        self.y, self.delta, self.X = y, delta, X
        self.family = family
        self.fixed_tau = None if fixed_scale is None else float(np.log(fixed_scale))
        self.p = X.shape[1]
        self.k = self.p + (self.fixed_tau is None)

    def _split(self, theta):
        beta = theta[: self.p]
        tau = theta[self.p] if self.fixed_tau is None else self.fixed_tau
        sigma = np.exp(tau)
        z = (self.y - self.X @ beta) / sigma
        return tau, sigma, z

    def loglik(self, theta, w) -> float:
        """Weighted log-likelihood of ``y`` (without the Jacobian of log T)."""
        tau, _, z = self._split(theta)
        g, _, _ = _row_terms(self.family, z, self.delta)
        val = float(w @ (g - self.delta * tau))
        return val if np.isfinite(val) else -np.inf

    def scores_info(self, theta, w):
        """Per-row scores ``u_i`` (m x k, unweighted) and the observed information."""
        tau, sigma, z = self._split(theta)
        _, g1, g2 = _row_terms(self.family, z, self.delta)
        X = self.X
        G = np.empty((len(z), self.k))
        G[:, : self.p] = (-g1 / sigma)[:, None] * X
        info = np.empty((self.k, self.k))
        info[: self.p, : self.p] = -(X * (w * g2 / sigma**2)[:, None]).T @ X
        if self.fixed_tau is None:
            G[:, self.p] = -g1 * z - self.delta
            hbt = -(X.T @ (w * (g2 * z + g1))) / sigma
            info[: self.p, self.p] = hbt
            info[self.p, : self.p] = hbt
            info[self.p, self.p] = -float(w @ (g2 * z * z + g1 * z))
        return G, info

    def start(self, w) -> np.ndarray:
        """Weighted least squares of ``y`` on ``x`` (censored times as if events), the scale
        from the residual SD and the intercept moved by the mean of the error distribution."""
        X, y = self.X, self.y
        XtW = (X * w[:, None]).T
        try:
            beta = np.linalg.solve(XtW @ X, XtW @ y)
        except np.linalg.LinAlgError:
            beta = np.zeros(self.p)
        sd_e, mean_e = _ERR_MOMENTS[self.family]
        resid = y - X @ beta
        s = float(np.sqrt(w @ resid**2 / w.sum()))
        sigma = s / sd_e if s > 0 and np.isfinite(s) else 1.0
        if self.fixed_tau is not None:
            sigma = np.exp(self.fixed_tau)
        const = np.flatnonzero(np.all(X == 1.0, axis=0))
        if len(const):
            beta[const[0]] -= mean_e * sigma
        theta = beta if self.fixed_tau is not None else np.append(beta, np.log(sigma))
        return np.asarray(theta, dtype=float)

    def fit(self, w, start, tol: float, max_iter: int):
        """Newton-Raphson with step halving: ``(theta, loglik, iterations, status, path)``."""

        def score_info(theta):
            G, info = self.scores_info(theta, w)
            U = w @ G
            if not np.all(np.isfinite(info)):
                return U, info
            try:
                np.linalg.cholesky(info)
            except np.linalg.LinAlgError:
                # not positive definite away from the maximum: a ridge makes the step an ascent
                lam = max(-float(np.linalg.eigvalsh(info)[0]), 0.0)
                info = info + (1.5 * lam + 1e-8 * float(np.trace(np.abs(info))) + 1e-12) \
                    * np.eye(self.k)
            return U, info

        return newton_ascent(lambda t: self.loglik(t, w), score_info,
                             np.asarray(start, dtype=float), tol, max_iter)


# ----------------------------------------------------------------------------- checks
def _side(name: str, value: int) -> str:
    """``grp[T.c]`` / ``C(grp)[T.c]`` with value 1 -> ``grp = c``, 0 -> ``grp other than c``."""
    m = re.match(r"^(?:C\((\w+)[^)]*\)|(\w+))\[T\.(.+)\]$", name)
    if m:
        var, level = m.group(1) or m.group(2), m.group(3)
        return f"{var} = {level}" if value == 1 else f"{var} other than {level}"
    return f"{name} = {value}"


def _one_sided_categories(X, delta, w, names) -> None:
    """SeparationError when a 0/1 covariate has every event on one side: the likelihood then
    rises without bound as its coefficient (with the intercept, for the 0 side) goes to
    +-infinity."""
    pos = w > 0
    has_intercept = "Intercept" in names
    for j, name in enumerate(names):
        col = X[pos, j]
        if name == "Intercept" or not np.all((col == 0) | (col == 1)):
            continue
        d = delta[pos]
        for value in ((1, 0) if has_intercept else (1,)):
            on = col == value
            if on.any() and (~on).any() and d[on].sum() == 0:
                side = _side(name, value)
                raise SeparationError(
                    f"no events among the {int(on.sum())} rows with {side} (all censored): the "
                    f"likelihood keeps rising as the coefficient of {name} goes to "
                    f"{'+' if value == 1 else '-'}infinity (an infinite time ratio). Combine "
                    "sparse categories, drop the covariate, or restrict the analysis to rows "
                    "where events occur."
                )


def _collinear(X, w, names) -> None:
    from socialhealth.design.extension import aliased_columns

    bad = aliased_columns((X * w[:, None]).T @ X, list(names))
    if bad:
        raise ModelError(
            f"the survival model cannot estimate covariate(s) {', '.join(map(repr, bad))}: they "
            "are constant or linear combinations of other covariates among the rows used "
            "(collinear with the intercept or each other). Drop or combine them."
        )


# ----------------------------------------------------------------------------- result
class SurvregResult(WaldCoefficients):
    """A fitted design-based parametric survival model (see :func:`survreg`).

    Attributes
    ----------
    params, bse, zvalues, pvalues : pandas Series over the regression coefficients then
        ``"Log(scale)"`` (absent for ``dist="exponential"``, whose scale is fixed at 1), as the
        rows of R's ``summary(svysurvreg(...))``.
    coefficients : the regression coefficients (log time ratios for log-time distributions).
    scale, scale_se : ``sigma`` and its standard error ``sigma * se(log sigma)`` (0 when fixed).
    dist, nobs (rows used), n_events, n_missing (rows of the subset left out), loglik (log-
        likelihood of the intercept-only and of the fitted model, weights rescaled to mean 1
        over R's design object: R's ``svysurvreg(...)$ll``), naive_cov (inverse information,
        R's ``$inv.info``), df_resid (design df minus coefficients plus 1, R's
        ``$degf.resid``), iterations, design, formula, r_call.
    influence : DataFrame of the influence values ``z_i`` (R's weighted ``dfbeta``
        residuals), one row per row used (index: positions in ``design.data``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = models.survreg(sd.design, "followup_years", "died", ["lonely", "age"])
    >>> m.params.round(4).to_dict()
    {'Intercept': 8.688, 'lonely': -0.5484, 'age': -0.0718, 'Log(scale)': 0.0021}
    >>> round(m.scale, 4), round(m.scale_se, 4)
    (1.0021, 0.0271)

    In R: ``m <- svysurvreg(Surv(followup_years, died) ~ lonely + age, design)``;
    ``summary(m)``, ``m$scale``.
    """

    def __init__(self, *, theta, cov, naive_cov, names, n_coef, dist, nobs, n_events, n_missing,
                 loglik, design, formula, iterations, r_call, df_design, influence, rows):
        self._theta = np.asarray(theta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.names = list(names)
        self.n_coef = int(n_coef)
        self.naive_cov = pd.DataFrame(naive_cov, index=self.names, columns=self.names)
        self.dist = dist
        self.nobs = int(nobs)
        self.n_events = int(n_events)
        self.n_missing = int(n_missing)
        self.loglik = (float(loglik[0]), float(loglik[1]))
        self.design = design
        self.formula = formula
        self.iterations = int(iterations)
        self.r_call = r_call
        self.df_design = float(df_design)
        self.df_resid = float(df_design) - self.n_coef + 1
        self.influence = pd.DataFrame(influence, index=pd.Index(rows, name="row"),
                                      columns=self.names)

    @property
    def _coef(self) -> np.ndarray:
        return self._theta

    @property
    def zvalues(self) -> pd.Series:
        """Wald statistics ``z = estimate / se``, normal reference (R ``summary(svysurvreg)``)."""
        return self.statistic

    @property
    def coefficients(self) -> pd.Series:
        """The regression coefficients (without ``Log(scale)``; R ``coef(fit)``)."""
        return self.params.iloc[: self.n_coef]

    @property
    def scale(self) -> float:
        """The scale ``sigma`` (R ``fit$scale``); 1 for the exponential distribution. For the
        Weibull, the shape of the time distribution is ``1 / sigma``."""
        if len(self.names) > self.n_coef:
            return float(np.exp(self._theta[-1]))
        return float(_DISTS[self.dist][2] or 1.0)

    @property
    def scale_se(self) -> float:
        """Standard error of the scale, ``sigma * se(log sigma)`` (delta method); 0 when the
        scale is fixed (exponential)."""
        if len(self.names) > self.n_coef:
            return self.scale * float(self.bse.iloc[-1])
        return 0.0

    def time_ratios(self, level: float = 0.95) -> pd.DataFrame:
        """Time ratios ``exp(beta)`` of the covariates with their Wald intervals
        ``exp(beta +- z se)``: the factor by which a one-unit higher covariate multiplies the
        survival time (log-time distributions only).

        Returns
        -------
        DataFrame indexed by covariate: ``time_ratio``, ``ci_low``, ``ci_high``, ``p``.

        Raises
        ------
        ArgumentError
            For ``dist="gaussian"`` or ``"logistic"`` (time is not logged: the coefficients are
            differences in time, not ratios).

        Examples
        --------
        >>> import socialhealth as sh
        >>> sd = sh.datasets.load("demo")
        >>> m = sh.models.survreg(sd.design, "followup_years", "died", ["lonely"])
        >>> m.time_ratios().round(3)
                time_ratio  ci_low  ci_high    p
        lonely        0.61   0.493    0.755  0.0

        In R: ``exp(cbind(coef(m), confint(m)))``.
        """
        self._check_logged()
        tab = self.to_frame(exponentiate=True, level=level)
        tab = tab[tab["kind"] == "coefficient"]
        return pd.DataFrame({"time_ratio": tab["estimate"].to_numpy(),
                             "ci_low": tab["ci_low"].to_numpy(),
                             "ci_high": tab["ci_high"].to_numpy(), "p": tab["p"].to_numpy()},
                            index=tab["term"].to_list())

    def _check_logged(self) -> None:
        if not _DISTS[self.dist][1]:
            raise ArgumentError(
                f"time ratios need a log-time distribution; dist={self.dist!r} models the time "
                "itself, so its coefficients are differences in time (use to_frame() without "
                "exponentiate, or fit dist='lognormal' / 'loglogistic' / 'weibull').")

    def to_frame(self, exponentiate: bool = False, level: float = 0.95) -> pd.DataFrame:
        """Tidy table ``term, kind, estimate, se, ci_low, ci_high, statistic, p, n, n_events``.

        ``kind`` is ``"intercept"``, ``"coefficient"`` or ``"log_scale"`` (the ``Log(scale)``
        row). ``exponentiate=True`` turns the covariate rows into time ratios ``exp(beta)``
        with their intervals (``se``, ``statistic`` (z) and ``p`` stay on the log scale); the
        intercept and ``Log(scale)`` are left as they are.
        """
        exponentiate = check_flag(exponentiate, "exponentiate", "to_frame()")
        ci = self.confint(level)
        est = self._theta.copy()
        lo, hi = ci["ci_low"].to_numpy().copy(), ci["ci_high"].to_numpy().copy()
        kind = np.array(["coefficient"] * len(self.names), dtype=object)
        kind[self.n_coef:] = "log_scale"
        kind[[i for i, n in enumerate(self.names[: self.n_coef]) if n == "Intercept"]] = \
            "intercept"
        if exponentiate:
            self._check_logged()
            c = kind == "coefficient"
            est[c], lo[c], hi[c] = np.exp(est[c]), np.exp(lo[c]), np.exp(hi[c])
        return pd.DataFrame({"term": self.names, "kind": kind, "estimate": est,
                             "se": self.bse.to_numpy(), "ci_low": lo, "ci_high": hi,
                             "statistic": self.zvalues.to_numpy(), "p": self.pvalues.to_numpy(),
                             "n": self.nobs, "n_events": self.n_events})

    def summary(self) -> Summary:
        """Printable table as R's ``summary(svysurvreg(...))``: value, standard error, z and p of
        every coefficient and of ``Log(scale)``, the scale, and the R call."""
        tab = self.to_frame()
        lines = [f"Design-based parametric survival model ({_DIST_LABEL[self.dist]} "
                 f"distribution): {self.formula}",
                 f"Design: {self.design.label}",
                 f"{self.nobs} rows, {self.n_events} events"
                 + (f"; {self.n_missing} rows with missing values left out" if self.n_missing
                    else ""),
                 f"{'':<26}{'Value':>12}{'Std. Error':>12}{'z':>9}{'p':>11}"]
        for r in tab.itertuples(index=False):
            lines.append(f"{str(r.term)[:25]:<26}{r.estimate:>12.6g}{r.se:>12.6g}"
                         f"{r.statistic:>9.3f}{r.p:>11.3g}")
        if len(self.names) > self.n_coef:
            lines.append(f"Scale = {self.scale:.6g} (SE {self.scale_se:.4g})")
        else:
            lines.append(f"Scale fixed at {self.scale:g}")
        lines.append(f"In R: {self.r_call}")
        return self._summary_text("\n".join(lines))

    def __repr__(self) -> str:
        return str(self.summary())


# ----------------------------------------------------------------------------- entry point
def _rhs_of(covariates) -> str:
    from socialhealth.models._coxph import _as_rhs

    if covariates is None:
        return "1"
    if isinstance(covariates, str):
        rhs = _as_rhs(covariates)
        return rhs or "1"
    try:
        cov = list(covariates)
    except TypeError:
        cov = [covariates]
    return _as_rhs(cov) if cov else "1"


def survreg(
    design,
    time: str,
    event: str,
    covariates: str | Sequence[str] | None = None,
    dist: str = "weibull",
    tol: float = 1e-12,
    max_iter: int = 100,
) -> SurvregResult:
    r"""Design-based parametric survival (accelerated failure time) regression (R ``svysurvreg``).

    ``log T = x' beta + sigma e`` with ``e`` extreme-value (Weibull; exponential with
    ``sigma = 1``), normal (log-normal) or logistic (log-logistic) errors, or the same on ``T``
    itself (``"gaussian"``, ``"logistic"``), fitted to right-censored data by weighted maximum
    likelihood (Newton-Raphson on ``(beta, log sigma)``, as R's ``survreg``). The covariance is
    the design-based variance of the influence values ``w_i u_i I^{-1}`` (Binder 1983; ``u_i``
    the row's score, ``I`` the observed information), or the replicate variance of refits.
    See the module docstring for the likelihood and its derivatives.

    Parameters
    ----------
    design : SurveyDesign, ReplicateDesign or TwoPhaseDesign (a subset design gives a domain
        analysis). Calibrated designs (``post_stratify``, ``rake``, ``calibrate``) use their
        calibrated variance, as R.
    time : column with the follow-up time (> 0 for the log-time distributions).
    event : column with the event indicator (1/True = event, 0/False = censored).
    covariates : list of columns (``["lonely", "age", "sex"]``; string columns are
        categorical) or a right-hand side in formula syntax (``"lonely + age + C(sex)"``).
        ``None`` or ``[]``: intercept only. The model always has an intercept.
    dist : ``"weibull"`` (default, as R), ``"exponential"``, ``"lognormal"``,
        ``"loglogistic"``, ``"gaussian"`` or ``"logistic"``.
    tol, max_iter : Newton-Raphson stops when the relative change in the log-likelihood is
        below ``tol`` and no parameter moves by more than ``1e-7 (1 + max |theta|)``.

    Returns
    -------
    SurvregResult
        ``params`` (coefficients, then ``Log(scale)`` except for the exponential), ``bse``,
        ``zvalues``, ``pvalues`` (normal, as R's ``summary``), ``cov_params()``,
        ``confint(level=)``, ``scale`` and ``scale_se``, ``time_ratios()``,
        ``to_frame(exponentiate=True)`` (time ratios), ``nobs``, ``n_events``, ``loglik``.

    Raises
    ------
    MissingColumnError / FormulaError : a column is not in the data.
    ArgumentError : an unknown ``dist``.
    ModelError : non-positive times with a log-time distribution, an event column that is not
        0/1, no events among the rows used, constant or collinear covariates.
    SeparationError : a 0/1 covariate (e.g. a category) with no events on one side: its time
        ratio is infinite.
    ConvergenceError : Newton-Raphson did not converge.

    References
    ----------
    Kalbfleisch & Prentice (2002) *The Statistical Analysis of Failure Time Data*, 2nd ed.,
    ch. 2-3; Binder (1983) Int Stat Rev 51:279-292; Lumley (2010) *Complex Surveys*, ch. 7.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = models.survreg(sd.design, "followup_years", "died", ["lonely", "age", "sex"])
    >>> print(m.to_frame(exponentiate=True)[["term", "kind", "estimate", "ci_low", "ci_high"]]
    ...       .round(3).to_string())
              term         kind  estimate  ci_low  ci_high
    0    Intercept    intercept     8.887   8.419    9.354
    1       lonely  coefficient     0.572   0.466    0.703
    2          age  coefficient     0.930   0.925    0.935
    3  sex[T.male]  coefficient     0.741   0.658    0.835
    4   Log(scale)    log_scale     0.001  -0.052    0.054

    Lonely people's survival times are about 0.57 times the others' (a time ratio; with a
    Weibull scale near 1 the model is close to the exponential).

    In R: ``svysurvreg(Surv(followup_years, died) ~ lonely + age + sex, design,
    dist = "weibull")``.
    """
    if not isinstance(dist, str) or dist not in _DISTS:
        raise ArgumentError(f"dist={show_given(dist)} is not supported; use one of "
                            f"{show_list(list(_DISTS))} (R survreg's names).")
    family, log_time, fixed_scale = _DISTS[dist]
    check_column(time, "time", "survreg")
    check_column(event, "event", "survreg")
    data = design.data
    missing = [c for c in (time, event) if c not in data.columns]
    if missing:
        raise MissingColumnError(missing, data.columns, "the design data")
    rhs = _rhs_of(covariates)
    in_subset = design.in_subset
    ev_all = event_values(data, event, in_subset)
    mask = in_subset & ~np.isnan(ev_all)
    n_pre = int((in_subset & ~mask).sum())
    frame = model_frame(data, f"{time} ~ {rhs}", mask)
    rows = frame.rows
    names = list(frame.columns)
    X = np.ascontiguousarray(frame.X, dtype=float)
    t = np.asarray(frame.y, dtype=float)
    d = ev_all[rows]
    if np.any(~np.isin(d, (0.0, 1.0))):
        vals = sorted(set(np.unique(d)) - {0.0, 1.0})
        raise ModelError(f"event column {event!r} must be 0/1 (1 = event, 0 = censored); found "
                         f"values {show_list([float(v) for v in vals], limit=5)}.")
    if log_time and np.any(t <= 0):
        raise ModelError(
            f"time column {time!r} has {int((t <= 0).sum())} value(s) of zero or below among the "
            f"rows used; the {_DIST_LABEL[dist]} model is on log(time), so times must be > 0. "
            "Drop those rows with design.subset(...), correct the times, or use dist='gaussian' "
            "/ 'logistic' (time not logged)."
        )
    n_events = int(d.sum())
    if n_events == 0:
        raise ModelError(
            f"no events among the {len(rows)} rows used (every time is censored): a survival "
            "model cannot be estimated. Check the event column and the subset."
        )
    w = design.weights[rows] / design.model_weight_mean()
    _collinear(X, w, names)
    _one_sided_categories(X, d, w, names)
    y = np.log(t) if log_time else t
    model = _Model(y, d, X, family, fixed_scale)
    start = model.start(w)
    theta, ll, it, status, path = model.fit(w, start, tol, max_iter)
    info_inv = None
    G = None
    if status == "converged":
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            G, info = model.scores_info(theta, w)
        try:
            np.linalg.cholesky(info)
            info_inv = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            info_inv = None
    if info_inv is None or G is None or not np.all(np.isfinite(info_inv)):
        from socialhealth.design.extension import diverging

        rng = np.ptp(X, axis=0) if len(X) else np.zeros(len(names))
        scaled = [(float(np.max(np.abs(th[: len(names)]) * rng)), lv) for th, lv in path]
        if diverging(scaled):
            raise SeparationError(
                "the survival model does not converge: the coefficients keep growing while the "
                "likelihood still rises (nearly all events on one side of a covariate "
                "combination). Combine sparse categories or drop the covariate.")
        if status == "converged":
            raise ModelError(
                "the information matrix of the survival model is singular at the estimate; "
                "rescale the covariates (e.g. years rather than days) or drop nearly redundant "
                "ones.")
        raise ConvergenceError(
            f"the survival model did not converge ({status} after {it} Newton iterations); "
            "raise max_iter=, rescale the covariates or try another dist=.")
    Z_used = (G * w[:, None]) @ info_inv

    def refit(wr):
        # rows a replicate leaves out (weight 0) are dropped: 0 * log 0 would spoil the sums
        pos = wr > 0
        sub = model if pos.all() else _Model(y[pos], d[pos], X[pos], family, fixed_scale)
        th, _, _, st, _ = sub.fit(wr[pos], theta, tol, max_iter)
        return th if st == "converged" else None

    cov, design_used = design.model_vcov(theta, rows, Z_used, refit,
                                         f"{_DIST_LABEL[dist]} survival model")
    # log-likelihood of T (Jacobian of log T), and that of the intercept-only model
    jac = float(w @ (d * np.log(t))) if log_time else 0.0
    if len(names) == 1:
        ll0 = ll
    else:
        null = _Model(y, d, np.ones((len(y), 1)), family, fixed_scale)
        th0, ll0, _, st0, _ = null.fit(w, null.start(w), tol, max_iter)
        if st0 != "converged":
            ll0 = np.nan
    names_out = names + (["Log(scale)"] if fixed_scale is None else [])
    r_call = (f"svysurvreg(Surv({time}, {event}) ~ {r_formula(rhs, data)}, design = design, "
              f"dist = \"{dist}\")")
    if getattr(design, "kind", "") == "replicate":
        r_call += ("  # R survey 4.1-1 has svysurvreg only for svydesign objects (replicate "
                   "designs: no method)")
    return SurvregResult(theta=theta, cov=cov, naive_cov=info_inv, names=names_out,
                         n_coef=len(names), dist=dist, nobs=len(rows), n_events=n_events,
                         n_missing=frame.n_missing + n_pre, loglik=(ll0 - jac, ll - jac),
                         design=design, formula=f"Surv({time}, {event}) ~ {rhs}",
                         iterations=it, r_call=r_call, df_design=design_used.degf(),
                         influence=Z_used, rows=rows)
