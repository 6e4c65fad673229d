"""Survey-weighted generalised linear models (R ``svyglm``) and Wald tests of terms.

Estimation (Binder 1983; Lumley & Scott 2017; Lumley 2010, ch. 5)
-----------------------------------------------------------------
The coefficients solve the weighted (pseudo-)likelihood score equations

    U(beta) = sum_i w_i x_i (y_i - mu_i) / V(mu_i) * dmu_i/deta_i = 0,
    g(mu_i) = x_i' beta (+ offset_i)

with ``w_i`` the sampling weights. They are found by iteratively reweighted least squares
(Fisher scoring) with working weights ``W_i = w_i (dmu_i/deta_i)^2 / V(mu_i)``, iterated to a
relative change in deviance ``|D - D_old| / (|D| + 0.1)`` below ``tol`` (default 1e-12; R's
default is 1e-8, which leaves standard errors about 1e-6 from the converged ones). The IRLS
path is the standard one (starting values ``mu_start`` as R's families, weights rescaled to
mean 1) and the bread uses the working weights of the last iteration, as R's ``glm`` does, so
``tol=1e-8`` reproduces R's default ``svyglm`` fits to about 1e-12 and the default ``tol``
those fitted with ``glm.control(epsilon = 1e-12)``. The families are quasi-likelihoods, as in
``svyglm``: ``binomial`` is R's ``quasibinomial`` (a 0/1 or proportion outcome; no integer
check), ``poisson`` is ``quasipoisson``; ``Gamma`` (``V(mu) = mu^2``, links inverse, log,
identity) is R's ``Gamma`` with its estimated dispersion.

Binomial counts: a response ``cbind(s, f)`` (successes, failures; R's two-column binomial
response) is fitted as the proportion ``y_i = s_i / n_i`` with prior weight ``n_i = s_i + f_i``,
i.e. the weights ``w_i n_i`` everywhere (IRLS, score, deviance; replicate refits too); rows with
``n_i = 0`` get weight 0. The Pearson residuals of the dispersion carry ``sqrt(n_i)``.
Note: survey 4.1-1 refits the replicates of such a model without the trials, so its replicate
standard errors disagree with its own full-sample fit; socialhealth refits with ``w_ir n_i``
(the same as R's ``glm(..., weights = repw / mean(w))`` per replicate, combined with
``svrVar``). Taylor designs match R's ``svyglm``.

Likelihood-ratio tests, ``anova`` of nested models and the design-based AIC/BIC are in
:mod:`socialhealth.design.lrt` (``result.lrt()``, ``design.anova()``, ``result.aic()``,
``result.bic()``).

Covariance: the sandwich (linearisation) estimator. With the bread ``A^{-1} = (X' W X)^{-1}``
(last IRLS step) and the score contributions ``u_i = x_i w_i (y_i - mu_i) dmu_i/deta_i / V(mu_i)``,
the influence values are ``z_i = u_i A^{-1}`` (so that ``beta_hat - beta ~ sum_i z_i``), and

    Var(beta_hat) = A^{-1} Var_design(sum_i u_i) A^{-1},

where ``Var_design`` is the design-based variance of an estimated total (strata, clusters,
fpc, lonely PSUs, calibration: :mod:`socialhealth.design.taylor_variance`). Replicate-weight
designs refit the model with every replicate's weights (starting from the full-sample
coefficients) and apply the replicate variance formula.

Degrees of freedom for t tests and intervals: ``df_resid = degf(design) + 1 - p`` (R).
Reported ``deviance`` and ``dispersion`` use the weights rescaled as R does (``pw_i = w_i /
mean(w)`` over the design's rows); they do not affect coefficients or standard errors.
``deviance = sum_i pw_i d(y_i, mu_i)``. ``dispersion`` is what R's ``summary.svyglm`` reports:
for Taylor designs the design-weighted variance (divisor n - 1) of the Pearson residuals
``r_i = (y_i - mu_i) / sqrt(V(mu_i))`` times the mean ``pw`` of the rows used; for replicate
designs ``sum_i pw_i r_i^2``. The dispersion is descriptive only: the sandwich covariance does
not use it.

Rows with a missing value in any model variable are left out but keep their place in the
design (zero weight; R's ``na.omit`` on ``svyglm`` keeps the PSU structure); the result counts
them (``n_missing``).

References
----------
Binder DA (1983) On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51:279-292.
Lumley T, Scott A (2017) Fitting regression models to survey data. *Statistical Science*
32:265-278.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 5.
McCullagh P, Nelder JA (1989) *Generalized Linear Models*, 2nd ed., ch. 2 (IRLS).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from scipy import linalg, special, stats

from socialhealth.design.coefficients import WaldCoefficients
from socialhealth.design.formula import (
    ModelFrame,
    binomial_counts,
    evaluate_offset,
    model_frame,
    normalise_formula,
    split_offsets,
    split_top_level,
)
from socialhealth.errors import ConvergenceError, FormulaError, ModelError, SeparationError
from socialhealth._deprecation import renamed_parameter

_EPS = np.finfo(float).eps


# ----------------------------------------------------------------------------- links
class _Link:
    """A link function g with inverse and derivative dmu/deta."""

    def __init__(self, name, link, linkinv, mu_eta, valid_eta=None):
        self.name = name
        self.link = link
        self.linkinv = linkinv
        self.mu_eta = mu_eta
        # a finite sum means every value is finite (one reduction instead of a boolean pass)
        self.valid_eta = valid_eta or (lambda eta: bool(np.isfinite(np.sum(eta))))


def _logit_inv(eta):
    # R's plogis with eta clamped so that mu stays in [eps, 1 - eps]
    thresh = 30.0
    return special.expit(np.clip(eta, -thresh, thresh))


def _logit_mu_eta(eta):
    e = np.exp(-np.abs(eta))
    return np.maximum(e / (1 + e) ** 2, _EPS)


def _probit_inv(eta):
    thresh = -stats.norm.ppf(_EPS)
    return special.ndtr(np.clip(eta, -thresh, thresh))


LINKS = {
    "identity": _Link("identity", lambda mu: mu, lambda eta: eta, lambda eta: np.ones_like(eta)),
    "log": _Link("log", np.log, lambda eta: np.maximum(np.exp(eta), _EPS),
                 lambda eta: np.maximum(np.exp(eta), _EPS)),
    "logit": _Link("logit", special.logit, _logit_inv, _logit_mu_eta),
    "probit": _Link("probit", special.ndtri, _probit_inv,
                    lambda eta: np.maximum(stats.norm.pdf(eta), _EPS)),
    "cloglog": _Link("cloglog", lambda mu: np.log(-np.log1p(-mu)),
                     lambda eta: np.clip(-np.expm1(-np.exp(eta)), _EPS, 1 - _EPS),
                     lambda eta: np.maximum(np.exp(eta) * np.exp(-np.exp(eta)), _EPS)),
    "inverse": _Link("inverse", lambda mu: 1 / mu, lambda eta: 1 / eta, lambda eta: -1 / eta**2,
                     lambda eta: bool(np.all(np.isfinite(eta)) and np.all(eta != 0))),
    "sqrt": _Link("sqrt", np.sqrt, lambda eta: eta**2, lambda eta: 2 * eta,
                  lambda eta: bool(np.all(np.isfinite(eta)) and np.all(eta > 0))),
}


# ----------------------------------------------------------------------------- families
def _ylogy(y, mu):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)


class _Family:
    """Variance function, unit deviance and starting values of a (quasi-)likelihood family."""

    def __init__(self, name, r_name, variance, dev_resids, mustart, valid_mu, check_y,
                 default_link, links):
        self.name = name
        self.r_name = r_name
        self.variance = variance
        self.dev_resids = dev_resids
        self.mustart = mustart
        self.valid_mu = valid_mu
        self.check_y = check_y
        self.default_link = default_link
        self.links = links


def _binomial_dev(y, mu, w):
    return 2 * w * (_ylogy(y, mu) + _ylogy(1 - y, 1 - mu))


def _poisson_dev(y, mu, w):
    return 2 * w * (_ylogy(y, mu) - (y - mu))


def _gamma_dev(y, mu, w):
    # R Gamma()$dev.resids: -2 w (log(y/mu) - (y - mu)/mu), with y log y = 0 at y = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        ly = np.where(y > 0, np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
    return -2 * w * (ly - (y - mu) / mu)


def _check_gamma_y(y):
    bad = ~(y > 0)
    if bad.any():
        raise ModelError(
            f"family='Gamma' needs a positive outcome; {int(bad.sum())} value(s) are zero or "
            f"negative (e.g. {y[bad][0]!r}). Drop those rows with design.subset(...) or model a "
            "transformed outcome."
        )


def _check_binomial_y(y):
    bad = (y < 0) | (y > 1)
    if bad.any():
        raise ModelError(
            f"family='binomial' needs a 0/1 (or proportion) outcome; {int(bad.sum())} value(s) lie "
            f"outside [0, 1] (e.g. {y[bad][0]!r}). Build an indicator, e.g. 'I(score >= 4) ~ ...'."
        )


def _check_poisson_y(y):
    bad = y < 0
    if bad.any():
        raise ModelError(f"family='poisson' needs a non-negative outcome; {int(bad.sum())} "
                         f"value(s) are negative.")


FAMILIES = {
    "gaussian": _Family(
        "gaussian", "gaussian", lambda mu: np.ones_like(mu), lambda y, mu, w: w * (y - mu) ** 2,
        lambda y, w: y.copy(), lambda mu: bool(np.all(np.isfinite(mu))), lambda y: None,
        "identity", ("identity", "log", "inverse"),
    ),
    "binomial": _Family(
        "binomial", "quasibinomial", lambda mu: mu * (1 - mu), _binomial_dev,
        lambda y, w: (w * y + 0.5) / (w + 1), lambda mu: bool(np.all((mu > 0) & (mu < 1))),
        _check_binomial_y, "logit", ("logit", "log", "identity", "probit", "cloglog"),
    ),
    "poisson": _Family(
        "poisson", "quasipoisson", lambda mu: mu.copy(), _poisson_dev,
        lambda y, w: y + 0.1, lambda mu: bool(np.all(np.isfinite(mu) & (mu > 0))),
        _check_poisson_y, "log", ("log", "identity", "sqrt"),
    ),
    "gamma": _Family(
        "gamma", "Gamma", lambda mu: mu * mu, _gamma_dev,
        lambda y, w: y.copy(), lambda mu: bool(np.all(np.isfinite(mu) & (mu > 0))),
        _check_gamma_y, "inverse", ("inverse", "log", "identity"),
    ),
}
#: The ``family=`` values of :func:`glm` (case-insensitive; also "logistic", "normal", "linear").
Family = Literal["gaussian", "binomial", "poisson", "Gamma", "gamma", "quasibinomial",
                 "quasipoisson"]
#: The ``link=`` values (which ones a family allows: see :func:`glm`).
Link = Literal["identity", "logit", "log", "inverse", "probit", "cloglog", "sqrt"]
_FAMILY_ALIASES = {"quasibinomial": "binomial", "logistic": "binomial", "quasipoisson": "poisson",
                   "normal": "gaussian", "linear": "gaussian"}


def _resolve_family(family: str, link: str | None) -> tuple[_Family, _Link]:
    key = str(family).lower()
    key = _FAMILY_ALIASES.get(key, key)
    if key not in FAMILIES:
        raise ModelError(
            f"family={family!r} is not supported; use 'gaussian', 'binomial' (quasibinomial), "
            "'poisson' (quasipoisson) or 'Gamma'."
        )
    fam = FAMILIES[key]
    lk = fam.default_link if link is None else str(link).lower()
    if lk not in fam.links:
        raise ModelError(
            f"link={link!r} is not available for family={fam.name!r}; choose one of "
            f"{', '.join(fam.links)}."
        )
    return fam, LINKS[lk]


# ----------------------------------------------------------------------------- linear algebra
def _cross(X: np.ndarray, W: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """X' diag(W) X from sqrt(W) X (W >= 0), in row blocks that stay in cache."""
    p = X.shape[1]
    A = np.zeros((p, p))
    sw = np.sqrt(W)
    for i in range(0, X.shape[0], chunk):
        Xw = X[i:i + chunk] * sw[i:i + chunk, None]
        A += Xw.T @ Xw
    return A


def _aliased(A: np.ndarray, names: Sequence[str]) -> list[str]:
    """Columns that are (numerically) linear combinations of earlier columns.

    Sequential check on the correlation-scaled cross-product: a column is aliased when its
    residual sum of squares after regression on the kept earlier columns is below 1e-9 of its
    own (R's QR rank detection keeps the earlier column in the same way).
    """
    d = np.diag(A).copy()
    out = []
    keep: list[int] = []
    scale = np.sqrt(np.where(d > 0, d, 1.0))
    S = A / scale[:, None] / scale[None, :]
    for j in range(len(d)):
        if not d[j] > 0:
            out.append(names[j])
            continue
        if keep:
            Skk = S[np.ix_(keep, keep)]
            skj = S[keep, j]
            try:
                resid = S[j, j] - skj @ np.linalg.solve(Skk, skj)
            except np.linalg.LinAlgError:
                resid = 0.0
        else:
            resid = S[j, j]
        if resid < 1e-9:
            out.append(names[j])
        else:
            keep.append(j)
    return out


class _Solver:
    """Cholesky factor of an equilibrated cross-product, for repeated solves and the inverse."""

    def __init__(self, A: np.ndarray, names: Sequence[str]):
        d = np.diag(A)
        if not np.all(d > 0) or not np.all(np.isfinite(A)):
            self._fail(A, names)
        self.s = 1.0 / np.sqrt(d)
        try:
            self.c = linalg.cho_factor(A * self.s[:, None] * self.s[None, :], lower=False,
                                       check_finite=False)
        except linalg.LinAlgError:
            self._fail(A, names)
        rc = np.min(np.abs(np.diag(self.c[0]))) ** 2
        if rc < 1e-13:
            self._fail(A, names)

    @staticmethod
    def _fail(A, names):
        bad = _aliased(A, names)
        if bad:
            raise ModelError(
                f"the model matrix is rank deficient: column(s) {', '.join(map(repr, bad))} are "
                "linear combinations of earlier columns (aliased) among the rows used. Remove "
                "the redundant term(s), or check for a categorical level with no rows in the "
                "data/subset used (drop unused categories) or a variable that is constant there."
            )
        raise ModelError(
            "the model matrix is numerically singular (near-collinear columns); rescale or "
            "remove nearly redundant predictors."
        )

    def solve(self, b: np.ndarray) -> np.ndarray:
        return self.s * linalg.cho_solve(self.c, self.s * b, check_finite=False)

    def inverse(self) -> np.ndarray:
        p = len(self.s)
        inv = linalg.cho_solve(self.c, np.eye(p), check_finite=False)
        inv = inv * self.s[:, None] * self.s[None, :]
        return (inv + inv.T) / 2


# ----------------------------------------------------------------------------- IRLS
@dataclass
class _Fit:
    beta: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    deviance: float
    iterations: int
    converged: bool
    W: np.ndarray | None = None          # working weights of the last IRLS step
    solver: "_Solver | None" = None      # factor of X'WX of the last IRLS step
    last_step: float = 0.0               # largest coefficient change of the last step
    step: np.ndarray | None = None       # the last step itself (None: a least-squares start)


_CHUNK = 65536               # rows per block of X'WX
_K_MAX_ELEMENTS = 2**25      # largest stored table of row-wise products x_ij x_ik (replicates)
_REP_GROUP_ELEMENTS = 2**24  # replicates refitted together: m x group work arrays at most


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Inner product of two vectors without BLAS: a BLAS ``dot`` wakes the BLAS thread pool,
    which costs milliseconds per call on a busy machine (it dominated small fits)."""
    return float(np.einsum("i,i->", a, b))


def _dev_sum(fam: _Family, y, mu, w, ybin: bool) -> float:
    """Sum of the unit deviances (fast paths for 0/1 binomial and poisson outcomes)."""
    if fam.name == "binomial" and ybin:
        return float(-2.0 * _dot(w, np.log(np.where(y > 0.5, mu, 1.0 - mu))))
    if fam.name == "poisson":
        with np.errstate(divide="ignore", invalid="ignore"):
            ylogy = np.where(y > 0, y * np.log(np.where(y > 0, y, 1.0) / mu), 0.0)
        return float(2.0 * _dot(w, ylogy - (y - mu)))
    return float(np.sum(fam.dev_resids(y, mu, w)))


class _Pass:
    """One pass over the rows at coefficients ``beta``.

    Computes the linear predictor, fitted means, deviance and -- in the same pass -- the
    working weights ``W``, the cross-product ``X'WX`` and ``X'W r`` for the next scoring step
    (vectorised; the cross-product in row blocks that stay in cache).
    """

    def __init__(self, X, y, pw, fam, lk, off):
        self.X, self.y, self.pw, self.fam, self.lk, self.off = X, y, pw, fam, lk, off
        self.ybin = fam.name == "binomial" and bool(np.all((y == 0) | (y == 1)))
        self.canonical = (fam.name, lk.name) in (("binomial", "logit"), ("poisson", "log"))

    def fitted(self, beta):
        """``(eta, mu, deviance)`` at ``beta``, or None when the fitted values are invalid."""
        X, lk, fam, off = self.X, self.lk, self.fam, self.off
        eta = X @ beta
        if off is not None:
            eta += off
        mu = lk.linkinv(eta)
        # the logit and probit inverses clamp mu inside (0, 1): only eta needs checking
        clamped = lk.name in ("logit", "probit", "cloglog")
        if not (lk.valid_eta(eta) and (clamped or fam.valid_mu(mu))):
            return None
        dev = _dev_sum(fam, self.y, mu, self.pw, self.ybin)
        if not np.isfinite(dev):
            return None
        return eta, mu, dev

    def scoring(self, eta, mu, first=False):
        """Working weights ``W``, ``X'WX`` and ``X'W r`` (``X'W z`` on the first step)."""
        X, y, pw, fam, lk, off = self.X, self.y, self.pw, self.fam, self.lk, self.off
        if self.canonical:
            me = np.maximum(fam.variance(mu), _EPS)   # dmu/deta = V(mu) for canonical links
            W = pw * me
            Wr = pw * (y - mu)
        else:
            me = lk.mu_eta(eta)
            W = pw * me * me / fam.variance(mu)
            Wr = W * (y - mu) / me
        if first:
            Wr = Wr + W * (eta if off is None else eta - off)
        return W, _cross(X, W), X.T @ Wr


def _intercept_start(X, y, pw, lk: _Link) -> np.ndarray | None:
    """Coefficients of the intercept-only fit (0 for the other columns), or None without an
    intercept column."""
    ones = [j for j in range(X.shape[1]) if np.all(X[:, j] == 1.0)]
    if not ones:
        return None
    ybar = float(_dot(pw, y) / pw.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        b0 = float(lk.link(np.array([min(max(ybar, 1e-8), 1 - 1e-8) if lk.name != "identity"
                                     else ybar]))[0])
    if not np.isfinite(b0):
        return None
    beta = np.zeros(X.shape[1])
    beta[ones[0]] = b0
    return beta


def _irls(X, y, pw, fam: _Family, lk: _Link, offset, start, maxiter, tol, names) -> _Fit:
    """Fisher scoring (IRLS): ``beta_new = beta + (X'WX)^{-1} X'W r``, ``r`` working residuals.

    The first step from the family's starting means is the weighted least-squares fit of the
    working response; later steps use the update form, whose fixed point is the exact root of
    the score equations even when ``X'WX`` is ill-conditioned (for the identity-link gaussian
    model this is least squares with iterative refinement). Invalid fitted values or an
    increase in deviance halve the step. Stops when ``|D - D_old| / (|D| + 0.1) < tol``.
    """
    p = X.shape[1]
    beta: np.ndarray | None          # None before the first step from mustart
    step: np.ndarray | None          # None after that first step (it is the new beta)
    if start is not None and np.size(start) != X.shape[1]:
        # R: "length of 'start' should equal 2 and correspond to initial coefs for ..."
        raise ModelError(f"start= must have {X.shape[1]} values (one per coefficient: "
                         f"{', '.join(names)}).")
    if fam.name == "gaussian" and lk.name == "identity":
        off = 0.0 if offset is None else offset
        solver = _Solver(_cross(X, pw), names)
        beta = solver.solve(X.T @ (pw * (y - off)))
        for it in range(3):  # noqa: B007 - `it` counts the iterations after the loop
            eta = X @ beta + off
            step = solver.solve(X.T @ (pw * (y - eta)))
            beta = beta + step
            if np.max(np.abs(step)) <= 1e-15 * (1 + np.max(np.abs(beta))):
                break
        eta = X @ beta + off
        mu = eta
        return _Fit(beta, eta, mu, float(np.sum(fam.dev_resids(y, mu, pw))), it + 1, True, pw,
                    solver)

    ps = _Pass(X, y, pw, fam, lk, offset)
    first = start is None
    if not first:
        beta = np.asarray(start, dtype=float).copy()
        if beta.shape != (p,):
            raise ModelError(f"start= must have {p} values (one per coefficient: "
                             f"{', '.join(names)}).")
        state = ps.fitted(beta)
        if state is None:
            raise ModelError("start= gives invalid fitted values (e.g. probabilities outside (0, "
                             "1)); choose other starting values.")
        eta, mu, dev = state
    else:
        mu = fam.mustart(y, pw)
        with np.errstate(divide="ignore", invalid="ignore"):
            eta = lk.link(mu)
        beta = None
        if not lk.valid_eta(eta):
            # e.g. a log link with zero outcomes: start from the intercept-only fit instead
            beta = _intercept_start(X, y, pw, lk)
            st = None if beta is None else ps.fitted(beta)
            if st is None:
                raise ConvergenceError(
                    f"no valid starting values for the {fam.name} model with {lk.name} link; "
                    "give start= (one value per coefficient)."
                )
            eta, mu, _ = st
            first = False
        dev = _dev_sum(fam, y, mu, pw, ps.ybin)
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        W, A, g = ps.scoring(eta, mu, first=first)
        first = False
        try:
            solver = _Solver(A, names)
        except ModelError:
            if it == 1 or beta is None:
                raise                        # rank-deficient model matrix
            # X'WX broke down later: working weights degenerate near the boundary
            _check_separation(_Fit(beta, eta, mu, dev, it, False), fam, lk, X, y, pw, names)
            raise ConvergenceError(
                f"the IRLS fit broke down at iteration {it}: the working weights became "
                "degenerate (fitted values at the edge of the valid range). Check the link "
                "function and extreme predictor values, or give start= values."
            ) from None
        step = solver.solve(g)
        if beta is None:
            beta_new, step = step, None
        else:
            beta_new = beta + step
        new = ps.fitted(beta_new)
        halvings = 0
        if new is None and beta is None:
            # the first least-squares step left the valid region (typical for log-binomial
            # models): restart from the intercept-only fit, g(weighted mean of y)
            b0 = _intercept_start(X, y, pw, lk)
            st = None if b0 is None else ps.fitted(b0)
            if st is not None:
                beta = b0
                eta, mu, dev = st
                continue
        while new is None or (beta is not None and new[2] > dev + 1e-7 * (abs(dev) + 0.1)):
            if beta is None or step is None or halvings >= 40:   # step is None iff beta is
                if new is None:
                    raise ConvergenceError(
                        f"the {fam.name} model with {lk.name} link reached invalid fitted values "
                        f"(iteration {it}) and step-halving did not recover. Give starting values "
                        "with start= (e.g. for a log-binomial model: the log of the overall "
                        "prevalence for the intercept and 0 for the other coefficients)."
                    )
                break
            halvings += 1
            step = step / 2
            beta_new = beta + step
            new = ps.fitted(beta_new)
        eta, mu, dev_new = new
        crit = abs(dev_new - dev) / (abs(dev_new) + 0.1)
        tiny_step = (step is not None
                     and np.max(np.abs(step)) <= 1e-14 * (1 + np.max(np.abs(beta_new))))
        beta, dev = beta_new, dev_new
        last_step = np.inf if step is None else float(np.max(np.abs(step)))
        if crit < tol or tiny_step:
            converged = True
            break
    if beta is None:   # not reached: glm() checks max_iter >= 1
        raise ModelError(f"max_iter must be a positive integer, not {maxiter!r}.")
    # the bread and score weights of the last scoring step (R's glm convention)
    return _Fit(beta, eta, mu, dev, it, converged, W, solver, last_step, step)


def _replicate_fits(X, y, PW, fam: _Family, lk: _Link, offset, start, maxiter, tol,
                    names) -> np.ndarray:
    """Refit the model with every column of replicate weights ``PW`` (m x R) at once.

    The same Fisher-scoring path as :func:`_irls` started at ``start`` (the full-sample
    coefficients), with per-replicate step-halving and stopping rule, but batched: the linear
    predictors of all replicates are one matrix product ``X B``, and all cross-products
    ``X' diag(W_r) X`` one product ``W' K`` with ``K`` the row-wise products ``x_ij x_ik``
    (j <= k). Replicates are processed in groups that keep the m x R work arrays small.
    Returns the (R x p) replicate coefficients.
    """
    m, p = X.shape
    R = PW.shape[1]
    iu, ju = np.triu_indices(p)
    K = X[:, iu] * X[:, ju] if m * len(iu) <= _K_MAX_ELEMENTS else None
    off = None if offset is None else offset[:, None]
    ybin = fam.name == "binomial" and bool(np.all((y == 0) | (y == 1)))
    canonical = (fam.name, lk.name) in (("binomial", "logit"), ("poisson", "log"))
    clamped = lk.name in ("logit", "probit", "cloglog")
    yc = y[:, None]

    def cross_all(W):
        if K is not None:
            T = W.T @ K
        else:
            T = np.zeros((W.shape[1], len(iu)))
            for i in range(0, m, _CHUNK):
                sl = slice(i, i + _CHUNK)
                T += W[sl].T @ (X[sl][:, iu] * X[sl][:, ju])
        A = np.empty((W.shape[1], p, p))
        A[:, iu, ju] = T
        A[:, ju, iu] = T
        return A

    def fitted(B, P):
        eta = X @ B
        if off is not None:
            eta += off
        mu = lk.linkinv(eta)
        ok = np.isfinite(eta).all(axis=0)
        if not clamped:
            ok &= np.array([fam.valid_mu(mu[:, j]) for j in range(mu.shape[1])])
        with np.errstate(divide="ignore", invalid="ignore"):
            if fam.name == "binomial" and ybin:
                dev = -2.0 * np.einsum("ij,ij->j", P, np.log(np.where(yc > 0.5, mu, 1.0 - mu)))
            else:
                dev = fam.dev_resids(yc, mu, P).sum(axis=0)
        ok &= np.isfinite(dev)
        return eta, mu, dev, ok

    def scoring(eta, mu, P):
        if canonical:
            W = P * np.maximum(fam.variance(mu), _EPS)
            Wr = P * (yc - mu)
        else:
            me = lk.mu_eta(eta)
            W = P * me * me / fam.variance(mu)
            Wr = W * (yc - mu) / me
        return W, Wr

    out = np.empty((R, p))
    group = max(1, min(R, _REP_GROUP_ELEMENTS // max(m, 1)))
    for g0 in range(0, R, group):
        P_all = PW[:, g0:g0 + group]
        k = P_all.shape[1]
        B = np.repeat(np.asarray(start, dtype=float)[:, None], k, axis=1)
        eta, mu, dev, ok = fitted(B, P_all)
        if not ok.all():
            raise ConvergenceError(
                f"the full-sample coefficients give invalid fitted values with replicate weights "
                f"set {g0 + int(np.flatnonzero(~ok)[0]) + 1}; replicate variance cannot be "
                f"computed."
            )
        active = np.arange(k)
        last = np.zeros(k)
        for _it in range(1, maxiter + 1):
            P = P_all[:, active]
            W, Wr = scoring(eta[:, active], mu[:, active], P)
            A = cross_all(W)
            G = (Wr.T @ X).T                                 # p x |active| (X'Wr; this
            # orientation keeps numpy on BLAS for a column-major X)
            s = 1.0 / np.sqrt(np.einsum("kii->ki", A))       # equilibration
            As = A * s[:, :, None] * s[:, None, :]
            try:
                steps = (np.linalg.solve(As, (G.T * s)[:, :, None])[:, :, 0] * s).T
            except np.linalg.LinAlgError:
                raise ConvergenceError(
                    "a replicate refit has a singular X'WX (a replicate may drop every row of "
                    "a category); replicate variance cannot be computed."
                ) from None
            Bn = B[:, active] + steps
            eta_n, mu_n, dev_n, ok = fitted(Bn, P)
            dev_old = dev[active]
            bad = ~ok | (dev_n > dev_old + 1e-7 * (np.abs(dev_old) + 0.1))
            halvings = 0
            while bad.any() and halvings < 40:
                halvings += 1
                steps[:, bad] /= 2
                Bn[:, bad] = B[:, active[bad]] + steps[:, bad]
                e2, m2, d2, ok2 = fitted(Bn[:, bad], P[:, bad])
                eta_n[:, bad], mu_n[:, bad], dev_n[bad] = e2, m2, d2
                ok[bad] = ok2
                bad = ~ok | (dev_n > dev_old + 1e-7 * (np.abs(dev_old) + 0.1))
            if (~ok).any():
                raise ConvergenceError(
                    f"the model reached invalid fitted values with replicate weights set "
                    f"{g0 + int(active[np.flatnonzero(~ok)[0]]) + 1}; replicate variance cannot be "
                    f"computed."
                )
            crit = np.abs(dev_n - dev_old) / (np.abs(dev_n) + 0.1)
            tiny = np.max(np.abs(steps), axis=0) <= 1e-14 * (1 + np.max(np.abs(Bn), axis=0))
            B[:, active], eta[:, active], mu[:, active], dev[active] = Bn, eta_n, mu_n, dev_n
            last[active] = np.max(np.abs(steps), axis=0)
            done = (crit < tol) | tiny
            active = active[~done]
            if active.size == 0:
                break
        if active.size:
            raise ConvergenceError(
                f"the model did not converge in {maxiter} iterations with replicate weights set "
                f"{g0 + int(active[0]) + 1}; replicate variance cannot be computed."
            )
        if fam.name == "binomial":
            edge = ((mu < 1e-10) | (mu > 1 - 1e-10)).any(axis=0)
            edge &= last > 1e-6 * (1 + np.max(np.abs(B), axis=0))     # see _check_separation
            if edge.any():
                raise SeparationError(
                    f"with replicate weights set {g0 + int(np.flatnonzero(edge)[0]) + 1}: fitted "
                    "probabilities are numerically 0 or 1 (separation within a replicate), so the "
                    "replicate coefficients diverge; merge sparse categories or drop the predictor."
                )
        out[g0:g0 + k] = B.T
    return out


def _moving(fit: _Fit, X) -> bool:
    """Whether the last IRLS step still moved a linear predictor by more than 1e-3.

    Along a separating direction every Newton step moves the separated rows' ``eta`` by about
    1 (the log-likelihood's tail is exponential), however the covariates are scaled; a fit
    that really converged moves it by ~sqrt(tol) at most.
    """
    if not fit.converged or fit.step is None:
        return True
    return bool(np.max(np.abs(X @ fit.step)) > 1e-3)


def _check_separation(fit: _Fit, fam: _Family, lk: _Link, X, y, pw, names) -> None:
    """Raise if the maximum (pseudo-)likelihood estimate does not exist.

    Binomial with log/identity link: fitted probabilities on the boundary (ModelError).
    Binomial with logit/probit/cloglog link and poisson with log link: when the fit looks
    suspect (not converged, or fitted probabilities within 1e-4 of 0 or 1 -- fitted means
    below 1e-4 of the mean count for zero counts -- while the last step still moved a linear
    predictor, see :func:`_moving`), the data
    decide by a linear programme (:mod:`socialhealth.design._separation`): complete or
    quasi-complete separation, or zero counts that drive a coefficient to minus infinity,
    raise :class:`SeparationError` naming the coefficients involved. Rows with zero weight are
    left out of that check.
    """
    from socialhealth.design import _separation

    mu = fit.mu
    if fam.name == "binomial":
        edge = (mu < 1e-10) | (mu > 1 - 1e-10)
        if lk.name in ("log", "identity"):
            if edge.any():
                raise ModelError(
                    f"the binomial model with {lk.name} link has fitted probabilities at 0 or 1 "
                    f"for {int(edge.sum())} row(s): the estimate lies on the boundary of the "
                    f"parameter space "
                    "(R: 'algorithm stopped at boundary value'), so its standard errors are not "
                    "valid. Use the logit link (odds ratios), or a poisson model with log link for "
                    "prevalence ratios (Zou 2004, modified Poisson)."
                )
            return
        near = (mu < 1e-4) | (mu > 1 - 1e-4)
        if fit.converged and not (near.any() and _moving(fit, X)):
            return
        pos = pw > 0
        direction = _separation.binary_separation(X[pos], y[pos], names)
        if direction is not None and direction.names == ["Intercept"]:
            raise SeparationError(
                f"the outcome takes a single value (all {int(y[pos][0] > 0.5)}) among the "
                f"{int(pos.sum())} rows used, so no model can be fitted (the intercept goes to "
                f"{'+' if direction.signs[0] > 0 else '-'}infinity). Check the outcome coding and "
                "the subset."
            )
        if direction is not None:
            raise _separation_error(
                direction,
                f"perfect or quasi-complete separation: {' / '.join(direction.names)} predict(s) "
                f"the outcome perfectly for {direction.n_rows} row(s), so the maximum "
                f"(pseudo-)likelihood estimate does not exist and {direction.describe()} (R "
                "glm: 'fitted probabilities numerically 0 or 1 occurred'). Merge sparse "
                "categories, drop or recode the predictor, or use a penalised (Firth) model."
            )
        # not separated in exact arithmetic, but the fit still runs to the edge with moving
        # coefficients (a separated fit meets the deviance criterion while its coefficients
        # grow by ~1 per iteration); an extreme but converged fitted probability (a far-out
        # covariate value) is not separation
        if edge.any() and (not fit.converged
                           or fit.last_step > 1e-6 * (1 + np.max(np.abs(fit.beta)))):
            big = [f"{n} = {b:.3g}" for n, b in zip(names, fit.beta, strict=True) if abs(b) > 10]
            raise SeparationError(
                f"nearly separated data: fitted probabilities are numerically 0 or 1 for "
                f"{int(edge.sum())} row(s) and the coefficients keep moving"
                f"{' (' + ', '.join(big) + ')' if big else ''}, so the estimates are not "
                "usable. Check for a predictor (or category) that almost perfectly predicts the "
                "outcome; merge sparse categories, drop the predictor, or use a penalised (Firth) "
                "model."
            )
    elif fam.name == "poisson" and lk.name == "log":
        zero = y <= 0
        small = mu[zero] < (1e-4 * float(np.mean(y)) if np.any(y > 0) else np.inf)
        if not zero.any() or (fit.converged and not (np.any(small) and _moving(fit, X))):
            return
        pos = pw > 0
        direction = _separation.poisson_nonexistence(X[pos], y[pos], names)
        if direction is not None and not np.any(y[pos] > 0):
            raise SeparationError(
                f"every count is 0 among the {int(pos.sum())} rows used, so the poisson model "
                "cannot be fitted (the fitted means go to 0). Check the outcome and the subset."
            )
        if direction is not None:
            raise _separation_error(
                direction,
                f"the poisson model's estimate does not exist: {' / '.join(direction.names)} "
                f"pick(s) out {direction.n_rows} row(s) whose counts are all zero, so their "
                f"fitted means go to 0 and {direction.describe()} (R glm reports a huge "
                "coefficient and standard error instead). Merge the category with zero counts "
                "into another, drop those rows or the predictor."
            )


# ----------------------------------------------------------------------------- results
def _split_terms(text: str) -> list[str]:
    """``"~agecat + C(race)"`` -> ``["agecat", "C(race)"]`` (splits on top-level ``+``)."""
    return [p for p in split_top_level(text.strip().lstrip("~").strip(), "+") if p]


@dataclass
class WaldTest:
    """Wald F test that a set of coefficients is zero (R ``regTermTest(method = "Wald")``).

    ``statistic = b' V^{-1} b / q`` with ``q`` coefficients, referred to ``F(q, ddf)`` with
    ``ddf`` the model's residual degrees of freedom.
    """

    terms: list[str]
    columns: list[str]
    statistic: float
    df: int
    ddf: float
    p: float

    def to_frame(self) -> pd.DataFrame:
        """One row: ``term, statistic, df, ddf, p``."""
        return pd.DataFrame({"term": [" + ".join(self.terms)], "statistic": [self.statistic],
                             "df": [self.df], "ddf": [self.ddf], "p": [self.p]})

    def __repr__(self) -> str:
        return (f"Wald test for {' + '.join(self.terms)} ({', '.join(self.columns)})\n"
                f"  F = {self.statistic:.6g} on {self.df} and {self.ddf:g} df: p = {self.p:.4g}\n"
                f"  In R: regTermTest(model, ~{' + '.join(self.terms)}, method = \"Wald\")")


class SurveyGLMResult(WaldCoefficients):
    """A fitted survey-weighted GLM (see :func:`glm`).

    Attributes
    ----------
    params, bse, tvalues, pvalues : pandas Series indexed by coefficient name.
    df_resid : residual degrees of freedom ``degf(design) + 1 - p`` (t tests and intervals).
    nobs : rows used; n_missing : rows of the subset left out for missing model variables.
    deviance, dispersion : as R reports them (weights rescaled; see the module docstring).
    family, link, formula, design, iterations, converged.
    trials : for a ``cbind(successes, failures)`` response, the trials of the rows used
        (``None`` otherwise).
    """

    def __init__(self, *, beta, cov, names, df_resid, family, link, formula, design,
                 frame: ModelFrame,
                 fit: _Fit, deviance, dispersion, offset, offset_name, r_call,
                 offset_exprs=(), offset_array=False, prior_weights=None, trials=None):
        self._beta = np.asarray(beta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.names = list(names)
        self.df_resid = float(df_resid)
        self.family = family
        self.link = link
        self.formula = formula
        self.design = design
        self.frame = frame
        self.nobs = int(len(frame.rows))
        self.n_missing = int(frame.n_missing)
        self.deviance = float(deviance)
        self.dispersion = float(dispersion)
        self.iterations = fit.iterations
        self.converged = fit.converged
        self._fit = fit
        self._offset = offset                          # combined offset of every design row
        self._offset_name = offset_name                # offset= given as a column name
        self._offset_exprs = list(offset_exprs)        # offset(expr) terms of the formula
        self._offset_array = offset_array              # offset= given as an array
        self.r_call = r_call
        self._pw = prior_weights                       # IRLS weights: w / mean(w) (x trials)
        self.trials = trials                           # binomial counts: trials per row used
        self._control = (100, 1e-12)                   # (maxiter, tol) of the fit, set by glm()

    # ------------------------------------------------------------------ coefficient table
    # params, bse, pvalues, cov_params(), conf_int(): WaldCoefficients (t with df_resid)
    @property
    def _coef(self) -> np.ndarray:
        return self._beta

    @property
    def _wald_df(self) -> float:
        return self.df_resid

    @property
    def offset(self) -> np.ndarray | None:
        """The model's offset for every row of the design data (None: no offset)."""
        return self._offset

    @property
    def tvalues(self) -> pd.Series:
        """Wald t statistics ``params / bse`` (R ``summary(model)$coefficients[, "t value"]``)."""
        return self.statistic

    def to_frame(self, exponentiate: bool = False, level: float = 0.95) -> pd.DataFrame:
        """Tidy coefficient table: ``term, estimate, se, ci_low, ci_high, df, statistic, p``.

        With ``exponentiate=True`` the estimate and interval are ``exp()`` of the link-scale
        values (odds ratios for logit, prevalence/rate ratios for log links); ``se``,
        ``statistic`` and ``p`` stay on the link scale (the interval is not estimate +- se).
        """
        from socialhealth.design.results import check_level

        ci = self.conf_int(1 - check_level(level))
        est = self._beta.copy()
        lo, hi = ci["ci_low"].to_numpy(), ci["ci_high"].to_numpy()
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        return pd.DataFrame({
            "term": self.names, "estimate": est, "se": self.bse.to_numpy(), "ci_low": lo,
            "ci_high": hi, "df": self.df_resid, "statistic": self.tvalues.to_numpy(),
            "p": self.pvalues.to_numpy(),
        })

    # ------------------------------------------------------------------ tests
    def _resolve_terms(self, terms) -> tuple[list[str], list[int]]:
        items = _split_terms(terms) if isinstance(terms, str) else list(terms)
        if not items:
            raise ModelError("name at least one term or coefficient to test.")
        cols: list[int] = []
        labels = []
        by_var: dict[str, list[str]] = {}
        for t, vs in self.frame.term_variables.items():
            if len(vs) == 1:
                by_var.setdefault(next(iter(vs)), []).append(t)
        for item in items:
            raw = str(item).strip().lstrip("~").strip()
            key = normalise_formula(raw).replace(" ", "")
            terms_ns = {t.replace(" ", ""): t for t in self.frame.terms}
            if key in terms_ns:
                t = terms_ns[key]
                cols += self.frame.terms[t]
                labels.append(t)
            elif raw in self.names:
                cols.append(self.names.index(raw))
                labels.append(raw)
            elif raw in by_var and len(by_var[raw]) == 1:
                t = by_var[raw][0]
                cols += self.frame.terms[t]
                labels.append(t)
            else:
                raise ModelError(
                    f"{raw!r} is not a term or coefficient of the model. Terms: "
                    f"{', '.join(t for t in self.frame.terms if t != 'Intercept')}; coefficients: "
                    f"{', '.join(self.names)}."
                )
        seen = []
        for c in cols:
            if c not in seen:
                seen.append(c)
        return labels, seen

    def wald_test(self, terms: str | Sequence[str]) -> WaldTest:
        """Wald F test that all coefficients of one or more terms are zero.

        ``F = b' V^{-1} b / q`` with ``b`` the ``q`` coefficients of the terms and ``V`` their
        sandwich covariance; p-value from ``F(q, df_resid)`` (Lumley 2010, §5.2.2).

        Parameters
        ----------
        terms : a term of the formula (``"C(stype)"``, ``"agecat"``, ``"x:C(g)"``), a variable
            whose only term is tested (``"stype"`` for ``C(stype)``), a coefficient name, a
            list of these, or several joined with ``+`` (``"~agecat + C(race)"``: one joint test).

        Examples
        --------
        >>> import socialhealth as sh
        >>> nhanes = sh.datasets.load_example("nhanes")
        >>> d = sh.SurveyDesign(nhanes, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU",
        ...                     nest=True)
        >>> m = d.glm("HI_CHOL ~ C(race) + agecat + C(RIAGENDR)", family="binomial")
        >>> m.wald_test("agecat")
        Wald test for agecat (agecat[T.(19,39]], agecat[T.(39,59]], agecat[T.(59,Inf]])
          F = 36.6875 on 3 and 9 df: p = 2.249e-05
          In R: regTermTest(model, ~agecat, method = "Wald")
        >>> t = m.wald_test("~C(race) + C(RIAGENDR)")          # one joint test of two terms
        >>> t.df, t.ddf, round(t.p, 4)
        (4, 9.0, 0.0191)

        In R: ``regTermTest(m, ~agecat)`` (method = "Wald").
        """
        labels, cols = self._resolve_terms(terms)
        b = self._beta[cols]
        V = self._cov[np.ix_(cols, cols)]
        q = len(cols)
        try:
            stat = float(b @ np.linalg.solve(V, b)) / q
        except np.linalg.LinAlgError:
            raise ModelError("the covariance of the tested coefficients is singular; the Wald test "
                             "is undefined.") from None
        p = float(stats.f.sf(stat, q, self.df_resid))
        return WaldTest(labels, [self.names[c] for c in cols], stat, q, self.df_resid, p)

    def lrt(self, terms: str | Sequence[str],
            approximation: Literal["saddlepoint", "satterthwaite", "exact",
                                   "integration"] = "saddlepoint",
            df: float | None = None):
        """Rao-Scott working likelihood-ratio test of one or more terms (see
        :func:`socialhealth.design.lrt.lrt`).

        In R: ``regTermTest(model, ~term, method = "LRT", lrt.approximation = ...)``.
        """
        from socialhealth.design.lrt import lrt

        return lrt(self, terms, approximation=approximation, df=df)

    def aic(self, k: float = 2.0, null_has_intercept: bool = True) -> pd.Series:
        """Design-based AIC (Lumley & Scott 2015; see :func:`socialhealth.design.lrt.aic`).

        In R: ``AIC(model)``.
        """
        from socialhealth.design.lrt import aic

        return aic(self, k=k, null_has_intercept=null_has_intercept)

    def bic(self, maximal: "SurveyGLMResult | None" = None) -> pd.Series:
        """Design-based BIC relative to a maximal model (Lumley & Scott 2015; see
        :func:`socialhealth.design.lrt.bic`); ``maximal=None`` uses this model.

        In R: ``BIC(model, maximal = big)``.
        """
        from socialhealth.design.lrt import bic

        return bic(self, self if maximal is None else maximal)

    # ------------------------------------------------------------------ prediction
    def predict(self, newdata: pd.DataFrame | None = None,
                type: Literal["link", "response"] = "link", offset=None) -> pd.Series:
        """Linear predictor (``type="link"``) or mean (``type="response"``) for each row.

        ``newdata=None`` predicts for every row of the design's data (NaN where a covariate is
        missing), including the model's offset. For new data, ``offset(expr)`` terms of the
        formula are evaluated on ``newdata`` and a column-name ``offset=`` is read from it; an
        array offset must be passed again with ``offset=`` (added to the others).

        In R: ``predict(model, newdata, type = "link" | "response")`` (point predictions).
        """
        if type not in ("link", "response"):
            raise ModelError(f"type={type!r} must be 'link' or 'response'.")
        data = self.design.data if newdata is None else newdata
        X, ok = self.frame.rhs_matrix(data)
        eta = np.full(len(data), np.nan)
        eta[ok] = X[ok] @ self._beta
        if newdata is None:
            off = self._offset if offset is None else np.asarray(offset, dtype=float)
        else:
            off = None if offset is None else np.asarray(offset, dtype=float)
            if offset is None and self._offset_array:
                raise ModelError("the model has an array offset: pass offset= for the new data.")
            parts = [evaluate_offset(e, data) for e in self._offset_exprs]
            if self._offset_name is not None:
                if self._offset_name not in data.columns:
                    raise ModelError(f"newdata lacks the offset column {self._offset_name!r}.")
                parts.append(data[self._offset_name].to_numpy(dtype=float, na_value=np.nan))
            for v in parts:
                off = v if off is None else off + v
        if off is not None:
            eta = eta + off
        out = eta if type == "link" else LINKS[self.link].linkinv(eta)
        if type == "response":
            out = np.where(np.isnan(eta), np.nan, out)
        return pd.Series(out, index=data.index, name=f"predicted_{type}")

    # ------------------------------------------------------------------ display
    def summary(self) -> str:
        """Text summary like R's ``summary(svyglm)``: coefficients, SEs, t, p, dispersion."""
        tab = self.to_frame()
        lines = [
            f"Survey-weighted GLM: family {FAMILIES[self.family].r_name} (link = {self.link})",
            f"Formula: {self.formula}",
            f"Design: {self.design._short_label()}",
            "",
            f"{'':<28}{'Estimate':>13}{'Std. Error':>13}{'t value':>10}{'Pr(>|t|)':>11}",
        ]
        for r in tab.itertuples(index=False):
            stars = ("***" if r.p < 0.001 else "**" if r.p < 0.01 else "*" if r.p < 0.05
                     else "." if r.p < 0.1 else "")
            name = r.term if len(r.term) <= 27 else r.term[:24] + "..."
            lines.append(f"{name:<28}{r.estimate:>13.6g}{r.se:>13.6g}{r.statistic:>10.3f}"
                         f"{r.p:>11.3g} {stars}")
        lines += [
            "---",
            "Signif. codes: 0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1",
            f"(Dispersion parameter for {FAMILIES[self.family].r_name} family taken to be "
            f"{self.dispersion:.6g})",
            f"Residual df: {self.df_resid:g} (design df + 1 - {len(self.names)} coefficients); "
            f"deviance {self.deviance:.6g}",
            f"{self.nobs} rows used"
            + (f"; {self.n_missing} rows with missing values left out (design kept)"
               if self.n_missing else ""),
            f"IRLS iterations: {self.iterations}",
            f"In R: {self.r_call}",
        ]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return self.summary()


# ----------------------------------------------------------------------------- entry point
def _r_formula(formula: str) -> str:
    import re

    return re.sub(r"(?<![A-Za-z_0-9.])C\(", "factor(", formula)


@renamed_parameter("maxiter", "max_iter", since="0.2.0")
def glm(
    design,
    formula: str,
    family: Family = "gaussian",
    link: Link | None = None,
    max_iter: int = 100,
    tol: float = 1e-12,
    start: Sequence[float] | np.ndarray | None = None,
    offset: str | np.ndarray | pd.Series | None = None,
) -> SurveyGLMResult:
    """Fit a survey-weighted generalised linear model (R ``svyglm``).

    Solves ``sum_i w_i x_i (y_i - mu_i) / V(mu_i) dmu_i/deta_i = 0`` by IRLS and estimates the
    covariance with the design-based sandwich ``A^{-1} Var_design(sum_i u_i) A^{-1}`` (Taylor
    designs) or by refitting with each set of replicate weights (replicate designs); see the
    module docstring for the formulas.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (a subset design gives a domain regression).
    formula : str
        ``"y ~ x1 + x2 + C(g)"`` (formulaic/statsmodels syntax, see
        :mod:`socialhealth.design.formula`). String columns are categorical with the first
        sorted level as reference; ``factor(g)`` is accepted for ``C(g)``. With
        ``family="binomial"`` the response may be ``cbind(successes, failures)`` (counts).
    family : {"gaussian", "binomial", "poisson", "Gamma"}
        As ``svyglm``: ``binomial`` = ``quasibinomial()``, ``poisson`` = ``quasipoisson()``
        (aliases ``"quasibinomial"``, ``"quasipoisson"``), ``Gamma`` = ``Gamma()``.
    link : str, optional
        Default: identity / logit / log / inverse. Binomial also ``"log"`` (prevalence
        ratios; give ``start=`` if the default start fails), ``"identity"``, ``"probit"``,
        ``"cloglog"``; poisson ``"identity"``, ``"sqrt"``; gaussian ``"log"``, ``"inverse"``;
        Gamma ``"log"``, ``"identity"``.
    max_iter, tol : IRLS stops when ``|dev - dev_old| / (|dev| + 0.1) < tol``. The default
        1e-12 gives converged estimates (R ``glm.control(epsilon = 1e-12)``); ``tol=1e-8``
        reproduces R's default ``svyglm`` fits to about 1e-12 (same IRLS path and bread).
    start : starting coefficients (R ``start=``).
    offset : column name or array (on the link scale), e.g. log exposure for rates. R-style
        ``offset(expr)`` terms in the formula work too (``"y ~ x + offset(log(n))"``).

    Returns
    -------
    SurveyGLMResult
        ``params``, ``bse``, ``cov_params()``, ``df_resid``, ``pvalues``, ``conf_int()``,
        ``to_frame(exponentiate=...)``, ``wald_test(...)``, ``lrt(...)`` (Rao-Scott working
        likelihood-ratio test), ``aic()``, ``bic(maximal=...)``, ``predict(...)``,
        ``summary()``; ``design.anova(m1, m2)`` compares nested fits.

    Raises
    ------
    FormulaError : unknown column or malformed formula.
    ModelError : rank-deficient model matrix (names the aliased columns), bad outcome values.
    SeparationError : complete or quasi-complete separation (binomial with logit, probit or
        cloglog link) or a set of rows with only zero counts (poisson, log link): the estimate
        does not exist. Checked by a linear programme on the data when the fit is suspect
        (fitted values at the edge or no convergence); the message names the coefficients.
    ConvergenceError : IRLS did not converge in ``max_iter`` iterations.

    References
    ----------
    Binder (1983) Int Stat Rev 51:279-292; Lumley & Scott (2017) Stat Sci 32:265-278;
    Lumley (2010) *Complex Surveys*, ch. 5.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> d = sh.SurveyDesign(apistrat, strata="stype", weights="pw", fpc="fpc")
    >>> m = d.glm("api00 ~ ell + meals + mobility")
    >>> print(m.to_frame()[["term", "estimate", "se", "df", "p"]].round(4).to_string())
            term  estimate       se     df       p
    0  Intercept  787.1054  14.7897  194.0  0.0000
    1        ell   -1.2371   0.3565  194.0  0.0006
    2      meals   -1.9860   0.2549  194.0  0.0000
    3   mobility    0.0163   0.4914  194.0  0.9736
    >>> b = d.glm("I(`sch.wide` == 'Yes') ~ ell + meals", family="binomial")
    >>> print(b.to_frame(exponentiate=True)[["term", "estimate", "ci_low", "ci_high"]]
    ...       .round(3).to_string())                     # odds ratios
            term  estimate  ci_low  ci_high
    0  Intercept     2.469   1.167    5.224
    1        ell     0.976   0.947    1.006
    2      meals     1.015   0.997    1.034
    >>> b.predict(apistrat.head(3), type="response").round(3).tolist()
    [0.856, 0.805, 0.768]
    >>> print(b.summary())
    Survey-weighted GLM: family quasibinomial (link = logit)
    Formula: I(`sch.wide` == 'Yes') ~ ell + meals
    Design: Stratified element survey design (Taylor linearisation)
    <BLANKLINE>
                                     Estimate   Std. Error   t value   Pr(>|t|)
    Intercept                        0.903997     0.379874     2.380     0.0183 *
    ell                            -0.0240589    0.0154316    -1.559      0.121
    meals                           0.0152794   0.00907974     1.683      0.094 .
    ---
    Signif. codes: 0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1
    (Dispersion parameter for quasibinomial family taken to be 1.01481)
    Residual df: 195 (design df + 1 - 3 coefficients); deviance 217.751
    200 rows used
    IRLS iterations: 5
    In R: svyglm(I(`sch.wide` == 'Yes') ~ ell + meals, design = design, family = quasibinomial())

    In R: ``svyglm(api00 ~ ell + meals + mobility, design = dstrat)``;
    ``svyglm(I(sch.wide == "Yes") ~ ell + meals, design = dstrat, family = quasibinomial())``;
    ``predict(b, newdata = head(apistrat, 3), type = "response")``;
    ``svyglm(cbind(s, f) ~ x, design = d, family = quasibinomial())``;
    ``svyglm(y ~ x, design = d, family = Gamma(link = "log"))``.
    """
    fam, lk = _resolve_family(family, link)
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ModelError(f"max_iter must be a positive integer, not {max_iter!r}.")
    if not (0 < float(tol) < 1):
        raise ModelError(f"tol must lie in (0, 1), not {tol!r}.")
    data = design.data
    in_subset = design.in_subset
    # offsets: R-style offset(expr) terms in the formula, and/or offset= (a column or an array)
    formula_given = normalise_formula(formula)
    formula, offset_exprs = split_offsets(formula_given)
    offset_name = None
    offset_full = None
    for expr in offset_exprs:
        v = evaluate_offset(expr, data)
        offset_full = v if offset_full is None else offset_full + v
    if offset is not None:
        if isinstance(offset, str):
            if offset not in data.columns:
                raise FormulaError(f"offset column {offset!r} is not in the design data.")
            offset_name = offset
            v = pd.to_numeric(data[offset], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        else:
            v = np.asarray(offset, dtype=float).ravel()
            if v.shape != (len(data),):
                raise ModelError(f"offset has {v.shape[0]} values; the design has {len(data)} "
                                 f"rows.")
        offset_full = v if offset_full is None else offset_full + v
    mask = in_subset if offset_full is None else in_subset & np.isfinite(offset_full)
    # cbind(successes, failures) ~ ...: binomial counts (y = proportion, prior weight = trials)
    counts = binomial_counts(formula, data)
    if counts is not None:
        if fam.name != "binomial":
            raise ModelError(f"a cbind(successes, failures) response needs family='binomial', not "
                             f"{family!r}.")
        formula, succ_all, trials_all = counts
        ok = np.isfinite(succ_all) & np.isfinite(trials_all)
        n_bad = int((mask & ~ok).sum())
        mask = mask & ok
    frame = model_frame(data, formula, mask)
    if offset_full is not None:
        frame.n_missing += int((in_subset & ~np.isfinite(offset_full)).sum())
    rows = frame.rows
    X, y = frame.X, frame.y
    names = frame.columns
    trials = None
    if counts is not None:
        frame.n_missing += n_bad
        trials = trials_all[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(trials > 0, succ_all[rows] / trials, 0.0)   # R: 0 where no trials
        frame.y = y
    fam.check_y(y)
    w_all = design._w
    # weights rescaled to mean 1 over the design's rows (as R's svyglm): changes neither the
    # coefficients nor the SEs, but fixes the IRLS path (starting values, stopping rule) and
    # the reported deviance
    scale = float(w_all[in_subset].mean())
    prior = 1.0 if trials is None else trials           # binomial counts: weight x trials (R glm)
    pw = w_all[rows] / scale * prior
    off = None if offset_full is None else offset_full[rows]

    fit = _irls(X, y, pw, fam, lk, off, start, max_iter, tol, names)
    _check_separation(fit, fam, lk, X, y, pw, names)
    if not fit.converged:
        raise ConvergenceError(
            f"the survey GLM did not converge in {max_iter} IRLS iterations (last relative change "
            f"in deviance above tol={tol:g}). Check for separation or extreme predictor values, "
            "give better start= values, or raise max_iter=."
        )
    # bread (X'WX)^{-1} and score weights: W are the working weights of the last IRLS step and
    # the residuals those at the final coefficients, as R's glm/svyglm; with tol=1e-12 this
    # equals the sandwich at the converged coefficients up to the size of the last step
    mu_eta = lk.mu_eta(fit.eta)
    var = fam.variance(fit.mu)
    if fit.solver is None:   # not reached: every IRLS fit keeps the factor of its last step
        raise ConvergenceError("the GLM fit kept no factor of X'WX; refit the model.")
    bread = fit.solver.inverse()
    score_w = fit.W * (y - fit.mu) / mu_eta              # estfun_i = x_i * score_w_i

    design_used = design._restrict_to_rows(rows)

    taylor = getattr(design_used, "kind", "") == "taylor"

    def estfun():
        # score contributions u_i = x_i * score_w_i (n x p, column-major for the PSU sums).
        # A Taylor design needs X no more after this: reuse its memory (large surveys)
        if len(rows) == len(data):
            if taylor and X.flags.f_contiguous:
                frame.release_X()            # rebuilt from the data if someone needs it
                return np.multiply(X, score_w[:, None], out=X)
            return np.multiply(X, score_w[:, None], out=np.empty(X.shape, order="F"))
        U = np.zeros((len(data), X.shape[1]), order="F")
        U[rows] = X * score_w[:, None]
        return U

    n_calls = [0]

    def refit(w_r):
        n_calls[0] += 1
        # each replicate refit starts at the full-sample coefficients with the same stopping
        # rule (R: glm(..., start = coef(full)) per replicate)
        wr = np.asarray(w_r, dtype=float)[rows] / scale * prior
        rf = _irls(X, y, wr, fam, lk, off, fit.beta, max_iter, tol, names)
        try:
            _check_separation(rf, fam, lk, X, y, wr, names)
        except SeparationError as exc:
            raise SeparationError(f"with replicate weights set {n_calls[0]}: {exc}") from None
        if not rf.converged:
            raise ConvergenceError(
                f"the model did not converge with replicate weights set {n_calls[0]}; replicate "
                "variance cannot be computed (a replicate may drop every row of a category)."
            )
        return rf.beta

    if taylor:
        # Var(sum_i u_i A^{-1}) = A^{-1} Var(sum_i u_i) A^{-1}: the Taylor variance (and any
        # calibration residualisation) is linear in the influence columns, so the design
        # variance of the scores is computed once and sandwiched (saves an n x p product)
        meat = design_used._general_vcov(fit.beta, influence=estfun, refit=refit)
        cov = bread @ meat @ bread
        cov = (cov + cov.T) / 2
        if getattr(design_used, "_spec", {}).get("pps") is not None:
            # PPS variances need not be positive semi-definite: negative -> NaN (as R)
            from socialhealth.design.pps import nan_negative_variances

            absd = np.sqrt(np.abs(np.diag(meat)))
            cov = nan_negative_variances(cov, (np.abs(bread) @ absd) ** 2)
    elif getattr(design_used, "kind", "") == "replicate" and hasattr(design_used, "_W"):
        # all replicate refits at once (same path as one refit per replicate)
        # each replicate's weights sum to 1 over the rows used, as R's svyglm refits
        # (glm.fit(weights = wi / sum(wi))): the estimates do not depend on it, but R's
        # stopping rule |dev - devold| / (|dev| + 0.1) does, so this stops where R stops
        PW = design_used._W[rows]
        PW = PW / PW.sum(axis=0, keepdims=True)
        if trials is not None:
            PW = PW * trials[:, None]
        reps = _replicate_fits(X, y, PW, fam, lk, off, fit.beta,
                               max_iter, tol, names)
        cov = design_used._rep_vcov(fit.beta, reps)
    else:
        cov = design_used._general_vcov(fit.beta, influence=lambda: estfun() @ bread, refit=refit)
    df_resid = design._model_degf(rows) + 1 - len(names)   # as R: see DesignBase._model_degf

    # deviance with the rescaled weights, and the dispersion as R's summary.svyglm reports it:
    # Taylor designs: the design (weighted) variance of the Pearson residuals
    # r_i = (y_i - mu_i)/sqrt(V(mu_i)) (svyvar, divisor n - 1) times the mean rescaled weight of
    # the rows used; replicate designs: sum_i pw_i r_i^2 with the rescaled weights pw
    deviance = _dev_sum(fam, y, fit.mu, pw, fam.name == "binomial"
                        and bool(np.all((y == 0) | (y == 1))))
    pearson = (y - fit.mu) / np.sqrt(var)
    if getattr(design, "kind", "") == "replicate":
        dispersion = float(_dot(pw, pearson**2))
    else:
        # binomial counts: the Pearson residual of a row carries sqrt(trials) (R's glm prior
        # weight w * trials, of which the design weight w enters through the weighted variance)
        if trials is not None:
            pearson = pearson * np.sqrt(trials)
        wu = w_all[rows]
        n_used = len(rows)
        centre = _dot(wu, pearson) / wu.sum()
        dispersion = float(float(wu.mean()) / scale * n_used / max(n_used - 1, 1)
                           * _dot(wu, (pearson - centre) ** 2) / wu.sum())

    fam_r = fam.r_name + ("()" if lk.name == fam.default_link else f"(link = \"{lk.name}\")")
    r_form = _r_formula(frame.formula if counts is None
                        else formula_given.split("~", 1)[0].strip() + " ~ "
                        + frame.formula.split("~", 1)[1].strip())
    r_form += "".join(f" + offset({e})" for e in offset_exprs)
    if offset_name is not None:
        r_form += f" + offset({offset_name})"
    r_call = f"svyglm({r_form}, design = design" + (
        "" if fam.name == "gaussian" and lk.name == "identity" else f", family = {fam_r}") + ")"
    result = SurveyGLMResult(
        beta=fit.beta, cov=cov, names=names, df_resid=df_resid, family=fam.name, link=lk.name,
        formula=formula_given, design=design, frame=frame, fit=fit, deviance=deviance,
        dispersion=dispersion, offset=offset_full, offset_name=offset_name, r_call=r_call,
        offset_exprs=offset_exprs, offset_array=offset is not None and not isinstance(offset, str),
        prior_weights=pw, trials=trials,
    )
    result._control = (max_iter, float(tol))             # refits (likelihood-ratio tests)
    return result


def _separation_error(direction, message: str) -> SeparationError:
    """A SeparationError whose ``terms`` (the coefficients that diverge) and ``n_rows`` (the
    rows they predict perfectly) let a report say it in words."""
    err = SeparationError(message)
    err.terms = list(direction.names)
    err.n_rows = int(direction.n_rows)
    return err
