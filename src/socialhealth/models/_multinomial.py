r"""Baseline-category (multinomial) logistic regression on survey data (Stata ``svy: mlogit``).

Model (Agresti 2013, ch. 8)
---------------------------
For an unordered outcome with levels ``1, ..., K`` (``K >= 3``), a reference level ``r`` and
covariates ``x`` (intercept included),

    log( P(Y = k | x) / P(Y = r | x) ) = x' beta_k,        k != r,

so ``P(Y = k | x) = exp(x' beta_k) / sum_j exp(x' beta_j)`` with ``beta_r = 0``; ``exp`` of a
coefficient is a *relative-risk ratio* (Stata's ``rrr``): the factor by which one unit of the
covariate multiplies the odds of level ``k`` against the reference level. The ``(K-1) p``
coefficients are ordered level by level (all terms of the first non-reference level, then
the next) and named ``"level:term"``.

Reference level: the first level by default, as R ``nnet::multinom``. R ``VGAM::multinomial``
(hence ``svyVGAM::svy_vglm``) uses the *last* level unless ``refLevel =`` is given, and Stata
``mlogit`` the most frequent level unless ``baseoutcome()`` is given; ``reference=`` picks any
level, so every software's numbers can be reproduced.

Estimation: the weighted log-likelihood
``l(beta) = sum_i w_i [ x_i' beta_{y_i} - log sum_j exp(x_i' beta_j) ]`` is maximised by
Newton-Raphson with step halving, with score ``U = sum_i w_i (y_i - p_i) (x) x_i`` (``y_i`` the
indicators of the non-reference levels, ``p_i`` their probabilities) and information
``I = sum_i w_i (diag(p_i) - p_i p_i') (x) x_i x_i'``, to a relative change of the
log-likelihood below ``tol`` and steps below 1e-7 relative. The weights are rescaled to mean 1
inside the fit (the estimates do not depend on their scale).

Covariance (Binder 1983; Lumley 2010, §5.2): the influence value of row ``i`` is
``z_i = w_i u_i' I^{-1}`` with ``u_i = (y_i - p_i) (x) x_i`` its score, and
``Var(beta_hat) = Var_design(sum_i z_i)``, the design's Taylor variance of a total (strata,
clusters, fpc, multistage, lonely PSUs and domains as for every other estimator). Replicate
designs refit the model with every replicate's weights (warm start at the full-sample
estimate) and apply the design's replicate variance formula. With two outcome levels this is
exactly ``svyglm(..., family = quasibinomial())``.

Inference: Wald t statistics and intervals with ``df = degf - (p - 1)`` residual degrees of
freedom (the design degrees of freedom less the covariates of one equation, as
:func:`~socialhealth.models.ordinal` reports and R ``svyglm`` uses for a 2-level outcome).
Stata ``svy: mlogit`` uses t with the design degrees of freedom; R ``svyolr`` / ``svy_vglm``
print normal p-values: with many PSUs all agree.

Rows with a missing outcome or covariate are left out (zero weight, the design kept).

References
----------
Agresti A (2013) *Categorical Data Analysis*, 3rd ed. Wiley, ch. 8.
Albert A, Anderson JA (1984) On the existence of maximum likelihood estimates in logistic
regression models. *Biometrika* 71:1-10.
Binder DA (1983) On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51:279-292.
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, §5.2, §6.
StataCorp. *Stata Survey Data Reference Manual*: ``svy estimation`` (``svy: mlogit``) and
*Stata Base Reference Manual*: ``mlogit``.
"""
from __future__ import annotations

import re
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import special

from socialhealth._text import show_given, show_list
from socialhealth.design.coefficients import WaldCoefficients, coefficient_lines
from socialhealth.design.result_protocol import Summary
from socialhealth.design.structure import check_flag
from socialhealth.errors import (ArgumentError, ConvergenceError, FormulaError, ModelError,
                                 SeparationError)
from socialhealth.models._ordinal import _label, _outcome_codes
from socialhealth.models._newton import newton_ascent
from socialhealth.models._response import response_frame

__all__ = ["MultinomialResult", "multinomial"]

#: default largest number of outcome levels multinomial() fits (see its max_levels=)
MAX_OUTCOME_LEVELS = 30


# ----------------------------------------------------------------------------- likelihood
def _eta_full(theta, X, K1):
    """Linear predictors ``n x K`` with column 0 (the reference level) zero."""
    n, p = X.shape
    B = theta.reshape(K1, p)
    return np.column_stack([np.zeros(n), X @ B.T])


def _loglik(theta, X, y, w, K1) -> float:
    eta = _eta_full(theta, X, K1)
    lse = special.logsumexp(eta, axis=1)
    val = float(w @ (eta[np.arange(len(y)), y] - lse))
    return val if np.isfinite(val) else -np.inf


def _score_info(theta, X, y, w, K1):
    """Weighted score vector, per-row (unweighted) scores ``n x (K-1) p`` and information."""
    n, p = X.shape
    eta = _eta_full(theta, X, K1)
    P = special.softmax(eta, axis=1)[:, 1:]                 # n x (K-1)
    Y = np.zeros((n, K1))
    nz = y > 0
    Y[np.flatnonzero(nz), y[nz] - 1] = 1.0
    R = Y - P
    G = (R[:, :, None] * X[:, None, :]).reshape(n, K1 * p)
    U = w @ G
    info = np.empty((K1 * p, K1 * p))
    for k in range(K1):
        for m in range(k, K1):
            c = w * (P[:, k] * (k == m) - P[:, k] * P[:, m])
            blk = (X * c[:, None]).T @ X
            info[k * p:(k + 1) * p, m * p:(m + 1) * p] = blk
            info[m * p:(m + 1) * p, k * p:(k + 1) * p] = blk.T
    return U, G, info


def _start(X, y, w, K1, names):
    """Intercepts at the log odds of each level against the reference, slopes 0."""
    p = X.shape[1]
    B = np.zeros((K1, p))
    if "Intercept" in names:
        j = names.index("Intercept")
        share = np.array([w[y == k].sum() for k in range(K1 + 1)])
        share = np.maximum(share, 1e-8 * share.sum())
        B[:, j] = np.log(share[1:] / share[0])
    return B.ravel()


def _fit(X, y, w, K1, start, tol, max_iter):
    """Newton-Raphson with step halving (the log-likelihood is concave).

    Returns ``(theta, loglik, iterations, status, path)``; ``status`` is ``"converged"``,
    ``"max_iter"``, ``"singular"`` or ``"halving"``; ``path`` holds ``(theta, loglik)`` per
    iterate.
    """
    return newton_ascent(lambda t: _loglik(t, X, y, w, K1),
                         lambda t: _score_info(t, X, y, w, K1)[::2],
                         np.array(start, dtype=float), tol, max_iter)


def _collinear(X: np.ndarray, w: np.ndarray, names) -> None:
    from socialhealth.design.extension import aliased_columns

    bad = aliased_columns((X * w[:, None]).T @ X, list(names))
    if bad:
        raise ModelError(
            f"the multinomial model cannot estimate {', '.join(map(repr, bad))}: constant or a "
            "linear combination of other covariates among the rows used. Drop or combine them."
        )


def _diagnose(status, theta, info, info0, path, X, y, w, K1, names, terms, lv_names,
              max_iter) -> None:
    """Raise the right error for a fit in trouble; return if the fit is usable.

    Suspect: no convergence, a huge coefficient (``|beta| * range(x) > 20`` on a covariate,
    ``|beta| > 30`` on an intercept) or an information matrix that cannot be inverted or has
    collapsed (a diagonal element below 1e-8 of its value at the start). Then a linear
    programme on the data (:func:`socialhealth.design.extension.multinomial_separation`)
    decides between separation (named) and other trouble.
    """
    from socialhealth.design import extension

    p = X.shape[1]
    rng = np.ptp(X, axis=0) if len(X) else np.zeros(p)
    scale = np.where(rng > 0, rng, 2 / 3)      # an intercept: |beta| > 30
    scaled_all = np.abs(theta.reshape(K1, p)) * scale
    with np.errstate(invalid="ignore"):
        collapsed = info is None or np.any(~(np.diag(info) > 1e-8 * np.diag(info0)))
    suspect = status != "converged" or collapsed or np.any(scaled_all > 20)
    if not suspect:
        return
    pos = w > 0
    skip = [n for n in names if n.endswith(":Intercept")]
    direction = extension.multinomial_separation(X[pos], y[pos], K1 + 1, names, skip=skip)
    if direction is not None:
        levels = list(dict.fromkeys(n.split(":", 1)[0] for n in direction.names))
        raise SeparationError(
            f"separation in the multinomial model: the likelihood keeps rising (towards a finite "
            f"limit) as {direction.describe()}; the covariate(s) predict outcome level(s) "
            f"{show_list(levels)} against the others perfectly (strictly for "
            f"{direction.n_rows} row-level comparison(s); e.g. a category with no rows in a "
            f"level). The relative-risk ratio estimate is infinite. Merge sparse outcome "
            "levels or covariate categories, or drop the covariate."
        )
    scaled = [(float(np.max(np.abs(th.reshape(K1, p)) * scale)), ll) for th, ll in path]
    if status != "converged" and extension.diverging(scaled):
        big = [n for n, b in zip(names, scaled_all.ravel(), strict=True) if b > 20] or names
        raise SeparationError(
            f"separation in the multinomial model (numerically): the coefficient(s) "
            f"{', '.join(big)} keep growing while the likelihood still rises, until the "
            "information matrix is numerically singular (nearly separated data; outcome level "
            f"{show_list(list(dict.fromkeys(n.split(':', 1)[0] for n in big)))}). Merge sparse "
            "outcome levels or covariate categories, or drop the covariate."
        )
    if status == "singular" or collapsed:
        raise ModelError(
            f"the information matrix of the multinomial model is numerically singular "
            f"({', '.join(terms)}) although the covariates are not collinear and the data are "
            "not separated; rescale the covariates or drop nearly redundant ones."
        )
    if status != "converged":
        raise ConvergenceError(f"the multinomial model did not converge in {max_iter} "
                               "iterations; raise max_iter= or rescale the covariates.")


# ----------------------------------------------------------------------------- result
class MultinomialResult(WaldCoefficients):
    """A fitted survey multinomial (baseline-category logit) model (see :func:`multinomial`).

    Attributes
    ----------
    params, bse, statistic, pvalues : Series over the coefficients, named ``"level:term"``,
        level by level (R: ``as.vector(t(coef(multinom_fit)))`` with ``level:term`` names).
    coef_table : DataFrame of coefficients, one row per non-reference level, one column per
        term (the layout of R ``coef(nnet::multinom(...))``); se_table likewise.
    levels : outcome levels in order; reference : the reference level; outcome_levels : the
        non-reference levels (one equation each); terms : the covariate columns.
    nobs, n_missing, loglik (weights rescaled to mean 1 over the rows of R's design object),
    deviance (``-2 loglik``), df_resid (``degf - (p - 1)``, the t reference), iterations,
    r_call, stata_call.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = models.multinomial(sd.design, "self_rated_health ~ lonely + age")
    >>> m.reference, m.outcome_levels
    ('excellent', ['very good', 'good', 'fair', 'poor'])
    >>> m.coef_table.round(3).loc[["good", "poor"]]
          Intercept  lonely    age
    good     -1.342   0.709  0.028
    poor     -4.419   1.524  0.049

    In R: ``withReplicates(as.svrepdesign(design), function(w, data) coef(nnet::multinom(
    self_rated_health ~ lonely + age, data = data, weights = w, trace = FALSE)))``.
    """

    def __init__(self, *, theta, cov, terms, levels, reference, nobs, n_missing, loglik,
                 design, formula, df_resid, iterations, r_call, stata_call):
        self._theta = np.asarray(theta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.terms = list(terms)
        self.levels = list(levels)
        self.reference = reference
        self.outcome_levels = [v for v in self.levels if not _same(v, reference)]
        self.names = [f"{_label(v)}:{t}" for v in self.outcome_levels for t in self.terms]
        self.nobs = int(nobs)
        self.n_missing = int(n_missing)
        self.loglik = float(loglik)
        self.deviance = -2.0 * float(loglik)
        self.design = design
        self.formula = formula
        self.df_resid = float(df_resid)
        self.iterations = iterations
        self.r_call = r_call
        self.stata_call = stata_call

    @property
    def _coef(self) -> np.ndarray:
        return self._theta

    @property
    def _wald_df(self) -> float:
        return self.df_resid

    def _table(self, values) -> pd.DataFrame:
        return pd.DataFrame(np.asarray(values, dtype=float).reshape(len(self.outcome_levels),
                                                                     len(self.terms)),
                            index=[_label(v) for v in self.outcome_levels], columns=self.terms)

    @property
    def coef_table(self) -> pd.DataFrame:
        """Coefficients as a level x term table (R ``coef(nnet::multinom(...))``)."""
        return self._table(self._theta)

    @property
    def se_table(self) -> pd.DataFrame:
        """Standard errors as a level x term table."""
        return self._table(self.bse.to_numpy())

    def to_frame(self, exponentiate: bool = False, level: float = 0.95) -> pd.DataFrame:
        """Tidy table ``outcome_level, term, estimate, se, ci_low, ci_high, df, statistic, p``.

        One row per coefficient, level by level. With ``exponentiate=True`` estimates and
        intervals become relative-risk ratios ``exp(beta)`` (Stata ``svy: mlogit, rrr``; for
        the intercept, the odds of the level against the reference at ``x = 0``); ``se``
        stays on the log scale.
        """
        exponentiate = check_flag(exponentiate, "exponentiate", "to_frame()")
        ci = self.confint(level)
        est = self._theta.copy()
        lo, hi = ci["ci_low"].to_numpy().copy(), ci["ci_high"].to_numpy().copy()
        if exponentiate:
            est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
        lv = [_label(v) for v in self.outcome_levels for _ in self.terms]
        return pd.DataFrame({"outcome_level": lv, "term": self.terms * len(self.outcome_levels),
                             "estimate": est, "se": self.bse.to_numpy(), "ci_low": lo,
                             "ci_high": hi, "df": self.df_resid,
                             "statistic": self.statistic.to_numpy(),
                             "p": self.pvalues.to_numpy()})

    def summary(self) -> Summary:
        """Printable table: one block per non-reference level (estimate, standard error, t,
        p), and the R and Stata calls."""
        tab = self.to_frame()
        lines = [f"Survey multinomial logistic model: {self.formula}",
                 f"Design: {self.design.label}",
                 f"Outcome levels: {', '.join(map(_label, self.levels))}; reference level "
                 f"{_label(self.reference)}; {self.nobs} rows"
                 + (f"; {self.n_missing} left out (missing values)" if self.n_missing else ""),
                 f"t intervals and p-values with {self.df_resid:g} degrees of freedom"]
        for lvl, block in tab.groupby("outcome_level", sort=False):
            lines.append(f"log(P({lvl}) / P({_label(self.reference)})):")
            lines += coefficient_lines(block["term"], block["estimate"], block["se"],
                                       block["statistic"], block["p"])
        lines.append(f"In R: {self.r_call}")
        lines.append(f"In Stata: {self.stata_call}")
        return self._summary_text("\n".join(lines))

    def __repr__(self) -> str:
        return str(self.summary())


# ----------------------------------------------------------------------------- entry point
def _same(a, b) -> bool:
    try:
        return bool(a == b) or _label(a) == _label(b)
    except (TypeError, ValueError):
        return False


def _check_level_count(lhs: str, lv: list, max_levels) -> None:
    if max_levels is None:
        return
    if (isinstance(max_levels, (bool, np.bool_)) or not isinstance(max_levels, (int, np.integer))
            or max_levels < 3):
        raise ArgumentError(f"max_levels={show_given(max_levels)} must be a whole number >= 3 "
                            "or None (no limit).")
    if len(lv) > max_levels:
        raise ArgumentError(
            f"the outcome {lhs!r} has {len(lv)} distinct values among the rows used (more than "
            f"max_levels={max_levels}); a multinomial model makes each value a level with its "
            f"own equation ({len(lv) - 1} equations here). Group the values into categories "
            "first, model it as a number with design.glm(), or pass max_levels=None to fit "
            "every value as a level."
        )


def _stata_var(term: str) -> str:
    """One formula term in Stata's factor-variable notation (best effort: ``C(g)`` -> ``i.g``,
    ``x:C(g)`` -> ``c.x#i.g``)."""
    parts = [p.strip() for p in term.split(":")]
    out = []
    for p in parts:
        m = re.fullmatch(r"C\((\w+)\)", p)
        out.append(f"i.{m.group(1)}" if m else (f"c.{p}" if len(parts) > 1 else p))
    return "#".join(out)


def _stata_call(lhs: str, rhs: str, ref: str, intercept: bool) -> str:
    rhs = re.sub(r"-\s*1\b", "", rhs)
    terms = [t.strip() for t in rhs.split("+") if t.strip() not in ("", "0", "1")]
    opts = f"baseoutcome({ref})" + ("" if intercept else " noconstant")
    return f"svy: mlogit {' '.join([lhs] + [_stata_var(t) for t in terms])}, {opts}"


def _fit_multinomial(design, formula, reference, levels, tol, max_iter, max_levels,
                     min_levels: int = 3) -> MultinomialResult:
    """:func:`multinomial` with the smallest number of outcome levels as a parameter (2 gives
    logistic regression; used by the tests to check the reduction to ``svyglm``)."""
    if not isinstance(formula, str) or "~" not in formula:
        raise FormulaError("the formula must look like 'y ~ x1 + C(g)', not "
                           f"{show_given(formula)}.")
    for name, val in (("tol", tol), ("max_iter", max_iter)):
        if isinstance(val, (bool, np.bool_)) or not isinstance(val, (int, float, np.number)) \
                or not val > 0:
            raise ArgumentError(f"{name}={show_given(val)} must be a positive number.")
    resp = response_frame(design, formula, "_sh_multinomial_response_")
    lhs, rhs, ycol, frame = resp.name, resp.rhs, resp.column, resp.frame
    n_y_missing = resp.n_response_missing
    rows = frame.rows
    terms = list(frame.columns)
    if not terms:
        raise FormulaError(f"the formula {formula!r} has no intercept and no covariates.")
    X = np.ascontiguousarray(frame.X, dtype=float)
    if levels is None:
        _check_level_count(lhs, list(pd.unique(ycol.iloc[rows].dropna())), max_levels)
    codes, lv = _outcome_codes(ycol, rows, levels)
    if len(lv) < min_levels:
        raise ModelError(
            f"the outcome {lhs!r} has {len(lv)} level(s) ({show_list(lv)}); a multinomial "
            "model needs 3 or more levels. For 2 levels use logistic regression: "
            "design.glm(..., family='binomial')."
        )
    if reference is None:
        ref_i = 0
    else:
        hits = [i for i, v in enumerate(lv) if _same(v, reference)]
        if not hits:
            raise ArgumentError(f"reference={show_given(reference)} is not a level of the outcome "
                                f"{lhs!r}; choose one of {show_list(lv)}.")
        ref_i = hits[0]
    # codes with the reference first: 0 = reference, then the other levels in order
    order = [ref_i] + [i for i in range(len(lv)) if i != ref_i]
    recode = np.empty(len(lv), dtype=int)
    recode[order] = np.arange(len(lv))
    y = recode[codes]
    K1 = len(lv) - 1
    outcome_levels = [lv[i] for i in order[1:]]
    names = [f"{_label(v)}:{t}" for v in outcome_levels for t in terms]
    w = design.weights[rows] / design.model_weight_mean()
    _collinear(X, w, terms)
    start = _start(X, y, w, K1, terms)
    info0 = _score_info(start, X, y, w, K1)[2]
    theta, ll, it, status, path = _fit(X, y, w, K1, start, tol, max_iter)
    info_inv = info = None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            U, G, info = _score_info(theta, X, y, w, K1)
            info_inv = np.linalg.inv(info)
        if not np.all(np.isfinite(info_inv)):
            info_inv = None
    except np.linalg.LinAlgError:
        info_inv = None
    _diagnose(status, theta, info if info_inv is not None else None, info0, path, X, y, w, K1,
              names, terms, [_label(v) for v in outcome_levels], max_iter)
    if info_inv is None:    # (_diagnose raises first; kept so that no path goes on without it)
        raise ModelError("the information matrix of the multinomial model is singular at the "
                         "fit: its standard errors cannot be computed. Check the covariates "
                         "for collinearity or empty outcome levels.")
    Z_used = (G * w[:, None]) @ info_inv

    def refit(wr):
        m = float(np.mean(wr)) if len(wr) else 0.0
        wr = wr / m if m > 0 else wr
        th, _, _, st, _ = _fit(X, y, wr, K1, theta, tol, max_iter)
        return th if st == "converged" else None

    cov, design_used = design.model_vcov(theta, rows, Z_used, refit, "multinomial model")
    rhs_r = rhs.replace("C(", "factor(")
    ref_r = _label(lv[ref_i])
    y_r = f"factor({lhs})" if ref_i == 0 else f"relevel(factor({lhs}), ref = {ref_r!r})"
    vglm = (f"svyVGAM::svy_vglm({y_r} ~ {rhs_r}, design = design, family = "
            f"VGAM::multinomial(refLevel = 1))")
    replicate = getattr(design, "replicate_weights", None) is not None
    reps = (f"withReplicates({'design' if replicate else 'as.svrepdesign(design)'}, "
            f"function(w, data) coef(nnet::multinom({y_r} ~ {rhs_r}, data = data, "
            f"weights = w, trace = FALSE)))")
    r_call = (f"{reps}  # or {vglm}" if replicate else
              f"{vglm}  # or, with replicate standard errors, {reps}")
    stata_call = _stata_call(lhs, rhs, ref_r, "Intercept" in terms)
    return MultinomialResult(theta=theta, cov=cov, terms=terms, levels=lv, reference=lv[ref_i],
                             nobs=len(rows), n_missing=frame.n_missing + n_y_missing, loglik=ll,
                             design=design, formula=formula,
                             df_resid=design_used.degf() - (len(terms) - 1), iterations=it,
                             r_call=r_call, stata_call=stata_call)


def multinomial(
    design,
    formula: str,
    reference=None,
    levels: Sequence | None = None,
    tol: float = 1e-12,
    max_iter: int = 100,
    max_levels: int | None = MAX_OUTCOME_LEVELS,
) -> MultinomialResult:
    r"""Survey-weighted multinomial (baseline-category) logistic regression (Stata
    ``svy: mlogit``).

    For an unordered outcome with ``K >= 3`` levels and a reference level ``r``,

        log( P(Y = k | x) / P(Y = r | x) ) = x' beta_k,     k != r,

    fitted by weighted maximum likelihood (Newton-Raphson). The covariance is Binder's (1983)
    sandwich on Taylor designs (influence values ``z_i = w_i ((y_i - p_i) (x) x_i)' I^{-1}``,
    then the design variance of their total) and the replicate variance of refits on replicate
    designs; see the module docstring for the formulas. Use it for outcomes without an order
    (living arrangement) or when the proportional-odds assumption of
    :func:`~socialhealth.models.ordinal` fails.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (a subset design gives a domain analysis).
    formula : ``"living ~ lonely + age + C(sex)"``. The outcome's levels are the categories of
        a pandas Categorical (in order), else its sorted distinct values, else ``levels=``.
    reference : a level of the outcome, default the first level (R ``nnet::multinom``).
        R ``VGAM::multinomial`` uses the last level and Stata ``mlogit`` the most frequent
        unless told otherwise; pass theirs here to reproduce their coefficients.
    levels : explicit order of the outcome levels (the equations follow it).
    tol, max_iter : Newton-Raphson convergence (relative change of the log-likelihood).
    max_levels : int or None, default 30
        Refuse (:class:`~socialhealth.errors.ArgumentError`) an outcome with more distinct
        values than this when ``levels=`` is not given (each value gets its own equation).
        ``None``: no limit.

    Returns
    -------
    MultinomialResult
        ``params`` named ``"level:term"`` (level by level), ``bse``, ``cov_params()``,
        ``coef_table`` (level x term, as R ``coef(multinom)``), ``to_frame(exponentiate=True)``
        (relative-risk ratios with t intervals, ``df`` = ``degf - (p - 1)``).

    Raises
    ------
    ModelError : fewer than 3 outcome levels (use ``design.glm(..., family="binomial")``),
        an empty level, constant or collinear covariates.
    ArgumentError : an unknown ``reference=`` (the valid levels are named), more than
        ``max_levels`` outcome values.
    SeparationError : covariates predict a level perfectly (found by a linear programme on
        the data when the fit is suspect; the message names the coefficients and levels).
    FormulaError, MissingColumnError : unknown columns; ConvergenceError.

    References
    ----------
    Binder DA (1983) *Int Stat Rev* 51:279-292; Lumley T (2010) *Complex Surveys*, Wiley;
    Agresti A (2013) *Categorical Data Analysis*, 3rd ed., ch. 8; StataCorp, *Stata Survey Data
    Reference Manual* (``svy: mlogit``).

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = models.multinomial(sd.design, "self_rated_health ~ lonely + age + C(sex)",
    ...                        reference="good")
    >>> tab = m.to_frame(exponentiate=True)          # relative-risk ratios against "good"
    >>> print(tab[tab.term == "lonely"][["outcome_level", "estimate", "ci_low", "ci_high"]]
    ...       .round(3).to_string(index=False))
    outcome_level  estimate  ci_low  ci_high
        excellent     0.493   0.387    0.628
        very good     0.672   0.545    0.828
             fair     1.741   1.422    2.133
             poor     2.245   1.676    3.006

    In R (survey + nnet): ``withReplicates(as.svrepdesign(design), function(w, data)
    coef(nnet::multinom(relevel(factor(self_rated_health), ref = "good") ~ lonely + age +
    factor(sex), data = data, weights = w, trace = FALSE)))``, or with svyVGAM
    ``svy_vglm(factor(self_rated_health) ~ lonely + age + factor(sex), design, family =
    multinomial(refLevel = 3))`` ("good" is the 3rd level). In Stata, with the outcome coded
    1-5 in this order: ``svy: mlogit self_rated_health lonely age i.sex, baseoutcome(3) rrr``.
    """
    return _fit_multinomial(design, formula, reference, levels, tol, max_iter, max_levels)
