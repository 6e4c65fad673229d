r"""Proportional-odds (cumulative link) model for an ordinal outcome on survey data (R ``svyolr``).

Model (McCullagh 1980; sign convention of ``MASS::polr`` and ``svyolr``)
-----------------------------------------------------------------------
For an outcome with ordered levels ``1 < 2 < ... < K``, covariates ``x`` (no intercept) and
thresholds ``zeta_1 < ... < zeta_{K-1}``,

    logit P(Y <= k | x) = zeta_k - x' beta,        k = 1, ..., K-1,

so ``beta > 0`` shifts the outcome towards *higher* levels and ``exp(beta)`` is the odds ratio
of being above any cut point. ``method="probit"`` replaces the logit by the probit.

Estimation: the weighted log-likelihood ``sum_i w_i log(F(zeta_{y_i} - eta_i) - F(zeta_{y_i-1} -
eta_i))`` is maximised by Newton-Raphson with analytic gradient and Hessian (step halving keeps
the thresholds ordered), to a relative change below ``tol`` (default 1e-12).

Covariance (Binder 1983; Lumley 2010, §5.2): with ``H`` the observed information of
``theta = (beta, zeta)`` and ``u_i`` the score of row ``i``, the influence values
``z_i = w_i u_i H^{-1}`` give ``Var(theta_hat) = H^{-1} Var_design(sum_i w_i u_i) H^{-1}``;
replicate designs refit with every replicate's weights. Intervals are normal (z), as R's
``confint(svyolr)``. R fits ``svyolr`` with ``optim`` (BFGS) and a finite-difference Hessian,
so its default output differs from the converged answer by about 1e-5; pass
``control = list(reltol = 1e-15, ndeps = rep(1e-6, k))`` to ``svyolr`` to compare digits.

Rows with a missing outcome or covariate are left out (zero weight, the design kept).

References
----------
McCullagh P (1980) Regression models for ordinal data. *JRSS B* 42:109-142.
Binder DA (1983) *International Statistical Review* 51:279-292.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, §6.3.
Venables WN, Ripley BD (2002) *Modern Applied Statistics with S*, §7.3 (``polr``).
"""
from __future__ import annotations

from typing import Iterable, Literal, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from socialhealth._text import show_given, show_list
from socialhealth.design.coefficients import WaldCoefficients
from socialhealth.design.extension import r_factor, r_formula
from socialhealth.design.result_protocol import Summary
from socialhealth.design.results import check_level
from socialhealth.design.structure import check_flag
from socialhealth.models._newton import newton_ascent
from socialhealth.models._response import response_frame
from socialhealth.errors import (ArgumentError, ConvergenceError, ModelError,
                                 SeparationError)

__all__ = ["OrdinalResult", "ordinal"]


# ----------------------------------------------------------------------------- links
def _logistic():
    def F(z):
        return special.expit(z)

    def f(z):
        p = special.expit(z)
        return p * (1 - p)

    def fprime(z):
        p = special.expit(z)
        return p * (1 - p) * (1 - 2 * p)

    return F, f, fprime


def _probit():
    def fprime(z):
        return -z * stats.norm.pdf(z)

    return stats.norm.cdf, stats.norm.pdf, fprime


_METHODS = {"logistic": _logistic, "probit": _probit}


# ----------------------------------------------------------------------------- likelihood
def _pieces(theta, X, y, q, F, f, fprime):
    """Per-row probability, per-row gradient of log p (m x k) and the bound vectors."""
    p = X.shape[1]
    beta, zeta = theta[:p], theta[p:]
    eta = X @ beta if p else np.zeros(len(y))
    zpad = np.concatenate([[-np.inf], zeta, [np.inf]])
    u = zpad[y + 1] - eta          # y in 0..K-1
    lo = zpad[y] - eta
    Fu, Fl = F(u), F(lo)
    prob = Fu - Fl
    fu = np.where(np.isfinite(u), f(np.where(np.isfinite(u), u, 0.0)), 0.0)
    fl = np.where(np.isfinite(lo), f(np.where(np.isfinite(lo), lo, 0.0)), 0.0)
    m = len(y)
    k = p + q
    # a_u = (-x, e_{y}) for the upper bound, a_l = (-x, e_{y-1}) for the lower bound
    Au = np.zeros((m, k))
    Al = np.zeros((m, k))
    if p:
        Au[:, :p] = -X
        Al[:, :p] = -X
    rows = np.arange(m)
    up_ok = y < q
    lo_ok = y > 0
    Au[rows[up_ok], p + y[up_ok]] = 1.0
    Al[rows[lo_ok], p + y[lo_ok] - 1] = 1.0
    Au[~up_ok] = 0.0
    Al[~lo_ok] = 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        G = (fu[:, None] * Au - fl[:, None] * Al) / prob[:, None]
    return prob, G, (Au, Al, u, lo)


def _loglik(theta, X, y, w, q, link):
    F, f, fp = link
    p = X.shape[1]
    zeta = theta[p:]
    if np.any(np.diff(zeta) <= 0):
        return -np.inf
    eta = X @ theta[:p] if p else np.zeros(len(y))
    zpad = np.concatenate([[-np.inf], zeta, [np.inf]])
    prob = F(zpad[y + 1] - eta) - F(zpad[y] - eta)
    if np.any(prob <= 0):
        return -np.inf
    return float(w @ np.log(prob))


def _score_info(theta, X, y, w, q, link):
    """Weighted score vector, per-row (unweighted) scores and observed information."""
    F, f, fp = link
    prob, G, (Au, Al, u, lo) = _pieces(theta, X, y, q, F, f, fp)
    fpu = np.where(np.isfinite(u), fp(np.where(np.isfinite(u), u, 0.0)), 0.0)
    fpl = np.where(np.isfinite(lo), fp(np.where(np.isfinite(lo), lo, 0.0)), 0.0)
    # Hessian of log p: (f'(u) a_u a_u' - f'(l) a_l a_l') / p - g g'
    cu = w * fpu / prob
    cl = w * fpl / prob
    H = (Au * cu[:, None]).T @ Au - (Al * cl[:, None]).T @ Al - (G * w[:, None]).T @ G
    U = w @ G
    return U, G, -H


def _start(X, y, w, q):
    cum = np.array([w[y <= k].sum() for k in range(q)]) / w.sum()
    cum = np.clip(cum, 1e-6, 1 - 1e-6)
    zeta = special.logit(cum)
    if np.any(np.diff(zeta) <= 0):
        zeta = np.sort(zeta) + np.arange(q) * 1e-3
    return np.concatenate([np.zeros(X.shape[1]), zeta])


def _fit(X, y, w, q, link, start, tol, max_iter):
    """Newton-Raphson with step halving (thresholds kept ordered).

    Returns ``(theta, loglik, iterations, status, path)`` with ``status`` one of
    ``"converged"``, ``"max_iter"``, ``"singular"`` (information not solvable) and
    ``"halving"``; ``path`` holds ``(theta, loglik)`` per iterate (see :func:`_diagnose`).
    """
    theta = np.array(start, dtype=float)
    if not np.isfinite(_loglik(theta, X, y, w, q, link)):
        theta = _start(X, y, w, q)
    return newton_ascent(lambda t: _loglik(t, X, y, w, q, link),
                         lambda t: _score_info(t, X, y, w, q, link)[::2], theta, tol, max_iter)


def _collinear(X: np.ndarray, w: np.ndarray, names) -> None:
    """ModelError when ``[1, X]`` is rank deficient on the rows used (a constant covariate is
    collinear with the thresholds): the likelihood is flat along such a direction."""
    from socialhealth.design.extension import aliased_columns

    Z = np.column_stack([np.ones(len(X)), X])
    bad = aliased_columns((Z * w[:, None]).T @ Z, ["(thresholds)"] + list(names))
    if bad:
        raise ModelError(
            f"the ordinal model cannot estimate covariate(s) {', '.join(map(repr, bad))}: they are "
            "constant or linear combinations of other covariates among the rows used (the "
            "thresholds play the part of an intercept). Drop or combine them."
        )


def _diagnose(status, theta, I, I0, path, X, y, w, q, names, max_iter) -> None:
    """Raise the right error for a fit in trouble; return if the fit is usable.

    Suspect: no convergence, a huge coefficient (``|beta_j| * range(x_j) > 20``) or an
    information matrix that cannot be inverted or has collapsed (a diagonal element below
    1e-8 of its value at the start). Then the data decide (linear programme,
    :func:`socialhealth.design.extension.ordinal_separation`): a separating direction is a
    :class:`SeparationError` naming the covariates; otherwise a diverging path (coefficients
    growing, likelihood rising) is numerical separation, anything else ModelError /
    ConvergenceError.
    """
    from socialhealth.design import extension

    p = X.shape[1]
    rng = np.ptp(X, axis=0) if len(X) else np.zeros(p)
    beta = theta[:p]
    with np.errstate(invalid="ignore"):
        collapsed = I is None or np.any(~(np.diag(I) > 1e-8 * np.diag(I0)))
    suspect = status != "converged" or collapsed or np.any(np.abs(beta) * rng > 20)
    if not suspect:
        return
    pos = w > 0
    direction = extension.ordinal_separation(X[pos], y[pos], q + 1, names)
    if direction is not None:
        raise SeparationError(
            f"separation in the ordinal model: the likelihood keeps rising (towards a finite "
            f"limit) as {direction.describe()}, because {' / '.join(direction.names)} orders the "
            f"outcome levels perfectly at a cut point (strictly for {direction.n_rows} row(s); "
            "e.g. a category whose rows are all in the top or bottom level). The odds ratio "
            "estimate is infinite. Merge sparse outcome levels or covariate categories, or drop "
            "the covariate."
        )
    scaled = [(float(np.max(np.abs(th[:p]) * rng)) if p else 0.0, ll) for th, ll in path]
    if status != "converged" and extension.diverging(scaled):
        big = [n for n, b,
               r in zip(names, beta, rng, strict=True) if abs(b) * r > 20] or list(names)
        raise SeparationError(
            f"separation in the ordinal model (numerically): the coefficient(s) of "
            f"{', '.join(big)} keep growing while the likelihood still rises, until the "
            "information matrix is numerically singular (nearly separated data). Merge sparse "
            "outcome levels or covariate categories, or drop the covariate."
        )
    if status == "singular" or collapsed:
        raise ModelError(
            f"the information matrix of the ordinal model is numerically singular "
            f"({', '.join(names)}) although the covariates are not collinear and the data are "
            "not separated; rescale the covariates or drop nearly redundant ones."
        )
    if status != "converged":
        raise ConvergenceError(f"the ordinal model did not converge in {max_iter} iterations; "
                               "raise max_iter= or rescale the covariates.")


# ----------------------------------------------------------------------------- result
class OrdinalResult(WaldCoefficients):
    """A fitted survey proportional-odds model (see :func:`ordinal`).

    Attributes
    ----------
    params, bse, zvalues, pvalues : Series over coefficients then thresholds (``"1|2"``, ...).
    coefficients, thresholds : the two parts of ``params``.
    levels : outcome levels in order; nobs, n_missing, deviance (``-2 loglik``, weights
    rescaled to mean 1 as R, over the rows of R's design object: on a subset of a calibrated
    or PPS design these include the rows outside the domain, see
    :mod:`socialhealth.design.glm`), df_resid (``degf - p``, R ``df.residual``), method, r_call.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = models.ordinal(sd.design, "self_rated_health ~ lonely + age")
    >>> m.coefficients.round(3).to_dict()
    {'lonely': 0.844, 'age': 0.026}
    >>> m.thresholds.round(3).to_dict()
    {'excellent|very good': 0.116, 'very good|good': 1.533, 'good|fair': 2.765, 'fair|poor': 4.694}

    In R: ``m <- svyolr(factor(self_rated_health, levels = c("excellent", "very good",
    "good", "fair", "poor")) ~ lonely + age, design)``; ``coef(m)``, ``m$zeta``, ``SE(m)``.
    """

    def __init__(self, *, theta, cov, names, n_coef, levels, nobs, n_missing, loglik, method,
                 design, formula, df_resid, iterations, r_call):
        self._theta = np.asarray(theta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.names = list(names)
        self.n_coef = int(n_coef)
        self.levels = list(levels)
        self.nobs = int(nobs)
        self.n_missing = int(n_missing)
        self.loglik = float(loglik)
        self.deviance = -2.0 * float(loglik)
        self.method = method
        self.design = design
        self.formula = formula
        self.df_resid = float(df_resid)
        self.iterations = iterations
        self.r_call = r_call

    # params, bse, pvalues, cov_params(), conf_int(): WaldCoefficients (normal reference,
    # as R svyolr)
    @property
    def _coef(self) -> np.ndarray:
        return self._theta

    @property
    def coefficients(self) -> pd.Series:
        """The regression coefficients (first ``n_coef`` entries of :attr:`params`)."""
        return self.params.iloc[: self.n_coef]

    @property
    def thresholds(self) -> pd.Series:
        """The cut-points (intercepts) between adjacent outcome levels (R ``svyolr$zeta``)."""
        return self.params.iloc[self.n_coef:]

    @property
    def zvalues(self) -> pd.Series:
        """Wald statistics ``z = estimate / se`` (R ``summary(svyolr)``)."""
        return self.statistic

    def to_frame(self, exponentiate: bool = False, level: float = 0.95) -> pd.DataFrame:
        """Tidy table ``term, kind, estimate, se, ci_low, ci_high, statistic, p``.

        ``kind`` is ``"coefficient"`` or ``"threshold"``. With ``exponentiate=True`` the
        coefficient rows become odds ratios (of a higher outcome level) with their intervals;
        thresholds stay on the logit scale.
        """
        exponentiate = check_flag(exponentiate, "exponentiate", "to_frame()")
        level = check_level(level, ModelError)
        ci = self.conf_int(1 - level)
        est = self._theta.copy()
        lo, hi = ci["ci_low"].to_numpy().copy(), ci["ci_high"].to_numpy().copy()
        kind = np.array(["coefficient"] * self.n_coef
                        + ["threshold"] * (len(self.names) - self.n_coef))
        if exponentiate:
            c = kind == "coefficient"
            est[c], lo[c], hi[c] = np.exp(est[c]), np.exp(lo[c]), np.exp(hi[c])
        return pd.DataFrame({"term": self.names, "kind": kind, "estimate": est,
                             "se": self.bse.to_numpy(), "ci_low": lo, "ci_high": hi,
                             "statistic": self.zvalues.to_numpy(), "p": self.pvalues.to_numpy()})

    def summary(self) -> Summary:
        """Printable table: value, standard error and z of every coefficient and threshold, and
        the R call."""
        tab = self.to_frame()
        lines = [f"Survey proportional-odds model ({self.method}): {self.formula}",
                 f"Design: {self.design.label}",
                 f"Outcome levels: {', '.join(map(str, self.levels))}; {self.nobs} rows"
                 + (f"; {self.n_missing} left out (missing values)" if self.n_missing else ""),
                 f"{'':<26}{'Value':>12}{'Std. Error':>12}{'z value':>10}"]
        for r in tab.itertuples(index=False):
            lines.append(f"{str(r.term)[:25]:<26}{r.estimate:>12.6g}{r.se:>12.6g}{r.statistic:>10.3f}")
        lines.append(f"In R: {self.r_call}")
        return self._summary_text("\n".join(lines))

    def __repr__(self) -> str:
        return str(self.summary())


# ----------------------------------------------------------------------------- entry point
def _label(v) -> str:
    """Level label as R prints it (whole numbers without a decimal point)."""
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _outcome_codes(s: pd.Series, rows: np.ndarray, levels: Sequence | None):
    sub = s.iloc[rows]
    if levels is not None:
        if isinstance(levels, (str, bytes, dict)) or not isinstance(levels, Iterable):
            raise ModelError(f"levels= takes the outcome levels in their order, lowest first "
                             f"(a list such as ['poor', 'fair', 'good']), not "
                             f"{show_given(levels)}.")
        lv = list(levels)
        unknown = set(sub.dropna().unique()) - set(lv)
        if unknown:
            raise ModelError(f"outcome values {show_list(sorted(map(str, unknown)), limit=5)} are "
                             f"not in levels= ({show_list(lv)}).")
    elif isinstance(s.dtype, pd.CategoricalDtype):
        lv = list(s.cat.categories)      # category order (as an R factor's levels)
    else:
        lv = sorted(pd.unique(sub.dropna()))
    mapping = {v: i for i, v in enumerate(lv)}
    codes = sub.map(mapping).to_numpy(dtype=float, na_value=np.nan)
    present = sorted(set(codes[~np.isnan(codes)].astype(int)))
    if len(present) < len(lv):
        # R drops nothing: an empty level makes polr fail; say which
        empty = [lv[i] for i in range(len(lv)) if i not in present]
        raise ModelError(
            f"outcome level(s) {show_list(empty)} have no rows among those used; drop them "
            "(e.g. remove unused categories) before fitting."
        )
    return codes.astype(int), lv


#: default largest number of outcome levels ordinal() fits (see its max_levels=)
MAX_OUTCOME_LEVELS = 30


def _check_level_count(lhs: str, lv: list, max_levels) -> None:
    """Refuse an outcome with more than ``max_levels`` distinct values (each is a level with
    its own threshold): almost always a continuous score passed by mistake."""
    if max_levels is None:
        return
    if (isinstance(max_levels, (bool, np.bool_)) or not isinstance(max_levels, (int, np.integer))
            or max_levels < 3):
        raise ArgumentError(f"max_levels={show_given(max_levels)} must be a whole number >= 3 or "
                            "None (no limit).")
    if len(lv) > max_levels:
        raise ArgumentError(
            f"the outcome {lhs!r} has {len(lv)} distinct values among the rows used (more than "
            f"max_levels={max_levels}); a proportional-odds model makes each value a level with "
            f"its own threshold ({len(lv) - 1} thresholds here). Cut it into ordered categories "
            "first (e.g. pd.cut), model it as a number with design.glm(), or pass "
            "max_levels=None to fit every value as a level (R svyolr does so without asking)."
        )


def ordinal(
    design,
    formula: str,
    method: Literal["logistic", "probit"] = "logistic",
    levels: Sequence | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
    max_levels: int | None = MAX_OUTCOME_LEVELS,
) -> OrdinalResult:
    r"""Survey-weighted proportional-odds (ordinal logistic) regression (R ``svyolr``).

    ``logit P(Y <= k) = zeta_k - x' beta`` (``MASS::polr`` convention: positive ``beta`` =
    higher outcome levels), fitted by weighted maximum likelihood with the design-based
    sandwich covariance; see the module docstring for the formulas.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (a subset design gives a domain analysis).
    formula : ``"self_rated_health ~ lonely + age + C(sex)"``. The outcome is ordered by
        its categories (a pandas Categorical) or by sorted value (numbers, strings), or by
        ``levels=``. At least 3 levels. ``factor(y)`` on the left is accepted.
    method : ``"logistic"`` (default) or ``"probit"``.
    levels : explicit order of the outcome levels (lowest first).
    tol, max_iter : Newton-Raphson convergence.
    max_levels : int or None, default 30
        Refuse (:class:`~socialhealth.errors.ArgumentError`) an outcome with more distinct
        values than this when ``levels=`` is not given: every value becomes a level with its
        own threshold, so a continuous score would give hundreds of parameters. ``None``: no
        limit (R ``svyolr`` fits any number of levels).

    Returns
    -------
    OrdinalResult
        ``params`` (coefficients then thresholds, named ``"a|b"`` as R), ``bse``,
        ``cov_params()``, ``to_frame(exponentiate=True)`` (odds ratios of a higher level).

    Raises
    ------
    ArgumentError : more than ``max_levels`` outcome values.
    FormulaError : unknown columns; ModelError : fewer than 3 levels, an empty level,
    constant or collinear covariates; SeparationError : a covariate orders the outcome levels
    perfectly at a cut point (found by a linear programme on the data when the fit is
    suspect; the message names the covariates); ConvergenceError.

    References
    ----------
    McCullagh (1980) JRSS B 42:109-142; Binder (1983); Lumley (2010) *Complex Surveys*, §6.3.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = models.ordinal(sd.design, "self_rated_health ~ lonely + age + C(sex)")
    >>> m.levels
    ['excellent', 'very good', 'good', 'fair', 'poor']
    >>> tab = m.to_frame(exponentiate=True)          # odds ratios of a worse health category
    >>> print(tab[tab.kind == "coefficient"][["term", "estimate", "ci_low", "ci_high"]]
    ...       .round(3).to_string())
                 term  estimate  ci_low  ci_high
    0          lonely     2.321   2.029    2.655
    1             age     1.027   1.025    1.028
    2  C(sex)[T.male]     0.960   0.900    1.024

    In R: ``svyolr(factor(self_rated_health, levels = c("excellent", "very good", "good",
    "fair", "poor")) ~ lonely + age + factor(sex), design)`` (the levels in their order: R's
    ``factor()`` sorts them alphabetically).
    """
    if not isinstance(method, str) or method not in _METHODS:
        raise ModelError(f"method={show_given(method)} is not supported; use 'logistic' or "
                         "'probit'.")
    link = _METHODS[method]()
    # the response is handled here (it may be categorical); the right side by the engine
    resp = response_frame(design, formula, "_sh_ordinal_response_")
    lhs, rhs, ycol, frame = resp.name, resp.rhs, resp.column, resp.frame
    n_y_missing = resp.n_response_missing
    rows = frame.rows
    keep = [j for j, c in enumerate(frame.columns) if c != "Intercept"]
    names = [frame.columns[j] for j in keep]
    X = np.ascontiguousarray(frame.X[:, keep], dtype=float)
    if levels is None:
        # before the codes: an empty level among hundreds would be reported first otherwise
        _check_level_count(lhs, list(pd.unique(ycol.iloc[rows].dropna())), max_levels)
    y, lv = _outcome_codes(ycol, rows, levels)
    if len(lv) < 3:
        raise ModelError(
            f"the outcome {lhs!r} has {len(lv)} level(s) ({show_list(lv)}); a proportional-odds "
            "model needs 3 or more ordered levels (use design.glm(..., family='binomial') for 2)."
        )
    q = len(lv) - 1
    # rescaled to mean 1 over the rows of R's design object, as svyolr (on a subset of a
    # calibrated/PPS design R keeps the other rows with weight 0)
    w = design.weights[rows] / design.model_weight_mean()
    _collinear(X, w, names)
    start = _start(X, y, w, q)
    I0 = _score_info(start, X, y, w, q, link)[2]
    theta, ll, it, status, path = _fit(X, y, w, q, link, start, tol, max_iter)
    I_inv = I = None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            U, G, I = _score_info(theta, X, y, w, q, link)
            I_inv = np.linalg.inv(I)
        if not np.all(np.isfinite(I_inv)):
            I_inv = None
    except np.linalg.LinAlgError:
        I_inv = None
    _diagnose(status, theta, I if I_inv is not None else None, I0, path, X, y, w, q, names,
              max_iter)
    Z_used = (G * w[:, None]) @ I_inv

    def refit(wr):
        th, _, _, status, _ = _fit(X, y, wr, q, link, theta, tol, max_iter)
        return th if status == "converged" else None

    cov, design_used = design.model_vcov(theta, rows, Z_used, refit, "ordinal model")
    thr_names = [f"{_label(a)}|{_label(b)}" for a, b in zip(lv[:-1], lv[1:], strict=True)]
    # the outcome's levels in our order (R's factor() sorts them: excellent, fair, good, ...)
    r_call = (f"svyolr({r_factor(lhs, lv)} ~ {r_formula(rhs, design.data)}, design = design"
              + (", method = \"probit\"" if method == "probit" else "") + ")")
    if method == "probit" and getattr(design, "kind", "") == "replicate":
        r_call += ("  # R survey 4.1-1's svyolr fits the replicates with the logistic link "
                   "whatever method=, so its standard errors differ")
    return OrdinalResult(theta=theta, cov=cov, names=names + thr_names, n_coef=len(names),
                         levels=lv, nobs=len(rows), n_missing=frame.n_missing + n_y_missing,
                         loglik=ll, method=method, design=design, formula=formula,
                         df_resid=design_used.degf() - len(names), iterations=it, r_call=r_call)
