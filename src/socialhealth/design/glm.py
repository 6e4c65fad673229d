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
mean(w)`` over the rows of R's design object); they do not affect coefficients or standard
errors. Those rows are the rows of the subset, except on a subset (``design.subset(...)``) of a
calibrated (``post_stratify``, ``rake``, ``calibrate``, ``standardize``), PPS (``pps=``) or
two-phase ``method="full"`` or calibrated two-phase design: R's ``subset()`` keeps the rows
outside the domain there (weight 0), so the mean is over all the rows of the design the
subset was taken from (``subset(design, ...)``, R's ``svyglm(..., subset = )`` and ``svyby``
agree). The scale carries over to the deviance, the likelihood-ratio and ``anova`` deviance
differences, the design effects (the naive covariance ``(X' W X)^{-1}``), AIC and BIC
(:mod:`socialhealth.design.lrt`), not to p-values. ``deviance = sum_i pw_i d(y_i, mu_i)``.
``dispersion`` is what R's ``summary.svyglm`` reports: for Taylor designs the
design-weighted variance (divisor n - 1) of the Pearson residuals ``r_i = (y_i - mu_i) /
sqrt(V(mu_i))`` times ``mean(w) over R's rows after / before leaving out the rows with a
missing value`` (1 without missing values; rows left out are dropped, or kept with weight 0
as by R's ``subset()``); for replicate designs ``sum_i pw_i r_i^2``. The dispersion is
descriptive only: the sandwich covariance does not use it. Checked against R survey 4.1-1 on
domains of every such design (``tests/design/test_glm_domains.py``).

Rows with a missing value in any model variable are left out but keep their place in the
design (zero weight; R's ``na.omit`` on ``svyglm`` keeps the PSU structure); the result counts
them (``n_missing``).

Module layout: families and links :mod:`socialhealth.design.glm_families`; the IRLS fitter
:mod:`socialhealth.design.irls`; separation checks :mod:`socialhealth.design.glm_separation`;
batched replicate refits :mod:`socialhealth.design.glm_replicates`; the Wald test type
:mod:`socialhealth.design.wald`; the result :mod:`socialhealth.design.glm_result`. This module
holds :func:`glm` and re-exports those names.

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
from typing import Sequence

import numpy as np
import pandas as pd

from socialhealth._text import r_number, r_quoted, show_given
from socialhealth.design.formula import (
    ModelFrame,
    binomial_counts,
    evaluate_offset,
    model_frame,
    normalise_formula,
    split_offsets,
)
from socialhealth.errors import ConvergenceError, FormulaError, ModelError, SeparationError
from socialhealth._deprecation import renamed_parameter

# re-exported: the rest of the package (lrt, extension, margins) and tests import these here
from socialhealth.design.glm_families import _EPS as _EPS
from socialhealth.design.glm_families import _FAMILY_ALIASES as _FAMILY_ALIASES
from socialhealth.design.glm_families import FAMILIES as FAMILIES
from socialhealth.design.glm_families import LINKS as LINKS
from socialhealth.design.glm_families import Family as Family
from socialhealth.design.glm_families import Link as Link
from socialhealth.design.glm_families import _Family as _Family
from socialhealth.design.glm_families import _Link as _Link
from socialhealth.design.glm_families import _resolve_family as _resolve_family
from socialhealth.design.glm_replicates import _replicate_fits as _replicate_fits
from socialhealth.design.glm_result import SurveyGLMResult as SurveyGLMResult
from socialhealth.design.glm_separation import _check_separation as _check_separation
from socialhealth.design.glm_separation import _moving as _moving
from socialhealth.design.glm_separation import _separation_error as _separation_error
from socialhealth.design.irls import _aliased as _aliased
from socialhealth.design.irls import _cross as _cross
from socialhealth.design.irls import _dev_sum as _dev_sum
from socialhealth.design.irls import _dot as _dot
from socialhealth.design.irls import _Fit as _Fit
from socialhealth.design.irls import _intercept_start as _intercept_start
from socialhealth.design.irls import _irls as _irls
from socialhealth.design.irls import _Pass as _Pass
from socialhealth.design.irls import _Solver as _Solver
from socialhealth.design.wald import WaldTest as WaldTest
from socialhealth.design.wald import _split_terms as _split_terms


# ----------------------------------------------------------------------------- entry point
# numpy functions of a formula that R spells without the prefix
_R_FUNCTIONS = ("log", "exp", "sqrt", "log10", "log2", "log1p", "expm1", "abs")


def _r_formula(formula: str) -> str:
    """A formula in R's spelling: ``C(x)`` -> ``factor(x)``, ``np.log(x)`` (and the other
    functions of ``_R_FUNCTIONS``) -> ``log(x)``, ``**`` -> ``^``."""
    import re

    text = re.sub(r"(?<![A-Za-z_0-9.])C\(", "factor(", formula)
    text = re.sub(r"(?<![A-Za-z_0-9.])(?:np|numpy)\.(" + "|".join(_R_FUNCTIONS) + r")\(",
                  r"\1(", text)
    return text.replace("**", "^")


@renamed_parameter("maxiter", "max_iter", since="0.1.0")
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
    _check_control(max_iter, tol)
    formula_given, formula, offset_exprs, offset_name, offset_full = _offsets(
        formula, offset, design.data)
    md = _model_data(design, formula, family, fam, offset_full)
    fit = _full_fit(md, fam, lk, start, max_iter, tol)
    cov = _covariance(design, md, fit, fam, lk, max_iter, tol)
    df_resid = design._model_degf(md.rows) + 1 - len(md.names)   # as R: DesignBase._model_degf
    deviance, dispersion = _deviance_dispersion(design, md, fit, fam)
    r_call = _r_levels(_r_call(md, fam, lk, formula_given, offset_exprs, offset_name),
                       design.data)
    if start is not None:
        r_call = (r_call[:-1] + ", start = c("
                  + ", ".join(f"{r_number(float(v))}" for v in np.ravel(start)) + "))")
    result = SurveyGLMResult(
        beta=fit.beta, cov=cov, names=md.names, df_resid=df_resid, family=fam.name,
        link=lk.name, formula=formula_given, design=design, frame=md.frame, fit=fit,
        deviance=deviance, dispersion=dispersion, offset=offset_full, offset_name=offset_name,
        r_call=r_call, offset_exprs=offset_exprs,
        offset_array=offset is not None and not isinstance(offset, str),
        prior_weights=md.pw, trials=md.trials,
    )
    result._control = (max_iter, float(tol))             # refits (likelihood-ratio tests)
    return result


# ----------------------------------------------------------------------------- steps of glm()
def _check_control(max_iter, tol) -> None:
    """Validate the IRLS controls ``max_iter`` and ``tol``."""
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ModelError(f"max_iter must be a positive integer, not {show_given(max_iter)}.")
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, (int, float, np.number)) \
            or not 0 < tol < 1:
        raise ModelError(f"tol must lie in (0, 1), not {show_given(tol)}.")


def _offsets(formula: str, offset, data: pd.DataFrame):
    """Split R-style ``offset(expr)`` terms off the formula and add them to ``offset=``.

    Returns ``(formula_given, formula, offset_exprs, offset_name, offset_full)``: the
    normalised formula as given, the formula without offset terms, the offset expressions,
    the ``offset=`` column name (or None) and the summed offset over all rows of the data
    (or None when there is no offset).
    """
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
            try:
                v = np.asarray(offset, dtype=float).ravel()
            except (TypeError, ValueError):
                raise ModelError(
                    f"offset= takes the name of a numeric column of the design data or one "
                    f"number per row, not {show_given(offset)}."
                ) from None
            if v.shape != (len(data),):
                raise ModelError(f"offset has {v.shape[0]} values; the design has {len(data)} "
                                 f"rows.")
        offset_full = v if offset_full is None else offset_full + v
    return formula_given, formula, offset_exprs, offset_name, offset_full


@dataclass
class _ModelData:
    """The model frame and the per-row quantities of the rows used by a fit."""

    frame: ModelFrame
    rows: np.ndarray         # positions of the rows used in the design data
    X: np.ndarray
    y: np.ndarray
    names: list
    trials: np.ndarray | None    # binomial counts: successes + failures of the rows used
    counts: bool             # response given as cbind(successes, failures)
    scale: float             # mean design weight over the rows of R's design (_r_rows)
    pw: np.ndarray           # rescaled prior weights w_i / scale (x trials)
    off: np.ndarray | None   # offset of the rows used
    n_data: int              # rows of the design data


def _model_data(design, formula: str, family, fam, offset_full) -> _ModelData:
    """Build the model frame: rows used, X, y (proportions for counts), prior weights."""
    data = design.data
    in_subset = design.in_subset
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
    trials = None
    if counts is not None:
        frame.n_missing += n_bad
        trials = trials_all[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(trials > 0, succ_all[rows] / trials, 0.0)   # R: 0 where no trials
        frame.y = y
    fam.check_y(y)
    w_all = design._w
    # weights rescaled to mean 1 over the rows of R's design object (as R's svyglm; on a
    # subset of a calibrated/PPS/two-phase "full" design R keeps the other rows with weight
    # 0): changes neither the coefficients nor the SEs, but fixes the IRLS path (starting
    # values, stopping rule) and the reported deviance
    scale = float(w_all[design._r_rows()].mean())
    prior = 1.0 if trials is None else trials           # binomial counts: weight x trials (R glm)
    pw = w_all[rows] / scale * prior
    if (w_all[rows] < 0).any():
        # (weights below 0 come from a linear calibration; the IRLS takes their square root)
        raise ModelError(
            f"{int((w_all[rows] < 0).sum())} row(s) used by the model have negative weights "
            "(from an unbounded linear calibration), and a GLM needs weights >= 0 (R's svyglm "
            "stops too: 'negative weights not allowed'). Calibrate with bounds=(L, U), L >= 0, "
            "or calfun='raking' / 'logit', which keep the weights positive.")
    off = None if offset_full is None else offset_full[rows]
    return _ModelData(frame=frame, rows=rows, X=X, y=y, names=frame.columns, trials=trials,
                      counts=counts is not None, scale=scale, pw=pw, off=off, n_data=len(data))


def _full_fit(md: _ModelData, fam, lk, start, max_iter: int, tol: float):
    """The full-sample IRLS fit, checked for separation and convergence."""
    fit = _irls(md.X, md.y, md.pw, fam, lk, md.off, start, max_iter, tol, md.names)
    _check_separation(fit, fam, lk, md.X, md.y, md.pw, md.names)
    if not fit.converged:
        raise ConvergenceError(
            f"the survey GLM did not converge in {max_iter} IRLS iterations (last relative change "
            f"in deviance above tol={tol:g}). Check for separation or extreme predictor values, "
            "give better start= values, or raise max_iter=."
        )
    return fit


def _score_function(md: _ModelData, score_w: np.ndarray, taylor: bool):
    """Score contributions ``u_i = x_i * score_w_i`` (all design rows, zero where unused)."""
    X, rows, frame = md.X, md.rows, md.frame

    def estfun():
        # score contributions u_i = x_i * score_w_i (n x p, column-major for the PSU sums).
        # A Taylor design needs X no more after this: reuse its memory (large surveys)
        if len(rows) == md.n_data:
            if taylor and X.flags.f_contiguous:
                frame.release_X()            # rebuilt from the data if someone needs it
                return np.multiply(X, score_w[:, None], out=X)
            return np.multiply(X, score_w[:, None], out=np.empty(X.shape, order="F"))
        U = np.zeros((md.n_data, X.shape[1]), order="F")
        U[rows] = X * score_w[:, None]
        return U

    return estfun


def _refit_function(md: _ModelData, fit, fam, lk, max_iter: int, tol: float):
    """One replicate refit (weights over all design rows -> coefficients)."""
    X, y, names = md.X, md.y, md.names
    prior = 1.0 if md.trials is None else md.trials
    n_calls = [0]

    def refit(w_r):
        n_calls[0] += 1
        # each replicate refit starts at the full-sample coefficients with the same stopping
        # rule (R: glm(..., start = coef(full)) per replicate)
        wr = np.asarray(w_r, dtype=float)[md.rows] / md.scale * prior
        rf = _irls(X, y, wr, fam, lk, md.off, fit.beta, max_iter, tol, names)
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

    return refit


def _taylor_cov(design_used, fit, bread, estfun, refit) -> np.ndarray:
    """Taylor sandwich ``A^{-1} Var(sum_i u_i) A^{-1}``; PPS negative variances -> NaN."""
    # Var(sum_i u_i A^{-1}) = A^{-1} Var(sum_i u_i) A^{-1}: the Taylor variance (and any
    # calibration residualisation) is linear in the influence columns, so the design
    # variance of the scores is computed once and sandwiched (saves an n x p product)
    if getattr(design_used, "_spec", {}).get("pps") is not None:
        # PPS variances need not be positive semi-definite: the variance of the coefficients'
        # influence values u_i A^{-1} directly, so that only a negative variance of a
        # coefficient is NaN (as R); the scores' own variance may have a negative diagonal
        # while the coefficients' is positive (a NaN there would spread to every coefficient)
        cov = design_used._general_vcov(fit.beta, influence=lambda: estfun() @ bread,
                                        refit=refit)
        return (cov + cov.T) / 2
    meat = design_used._general_vcov(fit.beta, influence=estfun, refit=refit)
    cov = bread @ meat @ bread
    return (cov + cov.T) / 2


def _batched_replicates(design_used) -> bool:
    """True for replicate designs whose refits can run batched (weights as columns)."""
    return getattr(design_used, "kind", "") == "replicate" and (
        "_Wsrc" in getattr(design_used, "__dict__", {}) or hasattr(design_used, "_W"))


def _replicate_cov(design_used, md: _ModelData, fit, fam, lk, max_iter, tol) -> np.ndarray:
    """Replicate variance from all replicate refits at once."""
    # all replicate refits at once (same path as one refit per replicate)
    # each replicate's weights sum to 1 over the rows used, as R's svyglm refits
    # (glm.fit(weights = wi / sum(wi))): the estimates do not depend on it, but R's
    # stopping rule |dev - devold| / (|dev| + 0.1) does, so this stops where R stops
    # the design's replicate weights as columns read block by block (never the n x R
    # matrix), or a plain matrix
    src = getattr(design_used, "__dict__", {}).get("_Wsrc")
    reps = _replicate_fits(md.X, md.y, design_used._W if src is None else src, md.rows,
                           md.trials, fam, lk, md.off, fit.beta,
                           max_iter, tol, md.names)
    return design_used._rep_vcov(fit.beta, reps)


def _covariance(design, md: _ModelData, fit, fam, lk, max_iter: int, tol: float) -> np.ndarray:
    """Covariance of the coefficients: Taylor sandwich, batched or general replicate refits."""
    # bread (X'WX)^{-1} and score weights: W are the working weights of the last IRLS step and
    # the residuals those at the final coefficients, as R's glm/svyglm; with tol=1e-12 this
    # equals the sandwich at the converged coefficients up to the size of the last step
    mu_eta = lk.mu_eta(fit.eta)
    bread = fit.solver.inverse()
    score_w = fit.W * (md.y - fit.mu) / mu_eta              # estfun_i = x_i * score_w_i
    design_used = design._restrict_to_rows(md.rows)
    taylor = getattr(design_used, "kind", "") == "taylor"
    irls_design = getattr(design_used, "_irls_refit_design", None)
    if irls_design is not None:      # negative replicate weights count as 0, as in R's glm.fit
        design_used = irls_design("svyglm")
    estfun = _score_function(md, score_w, taylor)
    refit = _refit_function(md, fit, fam, lk, max_iter, tol)
    if taylor:
        return _taylor_cov(design_used, fit, bread, estfun, refit)
    if _batched_replicates(design_used):
        return _replicate_cov(design_used, md, fit, fam, lk, max_iter, tol)
    return design_used._general_vcov(fit.beta, influence=lambda: estfun() @ bread, refit=refit)


def _deviance_dispersion(design, md: _ModelData, fit, fam) -> tuple[float, float]:
    """Deviance with the rescaled weights and the dispersion as R's ``summary.svyglm``."""
    # deviance with the rescaled weights, and the dispersion as R's summary.svyglm reports it:
    # Taylor designs: the design (weighted) variance of the Pearson residuals
    # r_i = (y_i - mu_i)/sqrt(V(mu_i)) (svyvar, divisor n - 1) times the mean rescaled weight of
    # the rows used; replicate designs: sum_i pw_i r_i^2 with the rescaled weights pw
    y, pw = md.y, md.pw
    var = fam.variance(fit.mu)
    deviance = _dev_sum(fam, y, fit.mu, pw, fam.name == "binomial"
                        and bool(np.all((y == 0) | (y == 1))))
    pearson = (y - fit.mu) / np.sqrt(var)
    if getattr(design, "kind", "") == "replicate":
        dispersion = float(_dot(pw, pearson**2))
    else:
        # binomial counts: the Pearson residual of a row carries sqrt(trials) (R's glm prior
        # weight w * trials, of which the design weight w enters through the weighted variance)
        if md.trials is not None:
            pearson = pearson * np.sqrt(md.trials)
        # R's Pearson residuals carry sqrt(prior weight / pw_after) with pw_after the weights
        # rescaled over the rows of the design after na.omit (rows with a missing value
        # dropped, or kept with weight 0 where R's subset() keeps rows): the ratio of the mean
        # weight over R's rows after and before dropping the rows with a missing value
        design_used = design._restrict_to_rows(md.rows)
        after = float(design_used._w[design_used._r_rows()].mean())
        wu = design._w[md.rows]
        n_used = len(md.rows)
        centre = _dot(wu, pearson) / wu.sum()
        dispersion = float(after / md.scale * n_used / max(n_used - 1, 1)
                           * _dot(wu, (pearson - centre) ** 2) / wu.sum())
    return deviance, dispersion


def _r_levels(call: str, data: pd.DataFrame) -> str:
    """Categorical predictors whose category order is not R's sorted order (e.g. low < middle
    < high) written ``factor(x, levels = c(...))`` in the R call: our reference level is the
    first category, R's (on data read from a file) the first in sorted order."""
    import re

    head, sep, rhs = call.partition("~")
    if not sep:
        return call
    for col in data.columns:
        if not isinstance(col, str) or col not in rhs:     # (only the formula's columns)
            continue
        s = data[col]
        if (not isinstance(s.dtype, pd.CategoricalDtype)
                or not re.fullmatch(r"[A-Za-z.][A-Za-z0-9._]*", col)):
            continue
        present = set(s.dropna().unique())
        cats = [c for c in s.cat.categories if c in present]
        if not all(isinstance(c, str) for c in cats) or (
                cats == sorted(cats) and _sorted_alike_in_r(cats)):
            continue
        levels = "factor(" + col + ", levels = c(" + ", ".join(
            r_quoted(c) for c in cats) + "))"
        name = re.escape(col)
        as_factor = levels.replace("\\", "\\\\")        # (a replacement string: no escapes)
        rhs = re.sub(rf"factor\({name}\)", as_factor, rhs)
        rhs = re.sub(rf"(?<![A-Za-z0-9._(\"]){name}(?![A-Za-z0-9._(])", as_factor, rhs)
    return head + sep + rhs


def _sorted_alike_in_r(levels: list[str]) -> bool:
    """Whether R sorts these (already code-point sorted) levels in this order in every locale.

    R's ``factor()`` sorts by the locale's collation: ``"apple" < "Banana"`` in en_US, the
    other way in the C locale, and punctuation may be skipped. The order is the same everywhere
    when, for each neighbouring pair, the first character where they differ is two digits, two
    lower-case or two upper-case ASCII letters, a digit before a letter, or the end of the
    shorter one (``"ab" < "abc"``)."""
    def kind(ch: str) -> str:
        if ch.isascii() and ch.isdigit():
            return "digit"
        if ch.isascii() and ch.isalpha():
            return "lower" if ch.islower() else "upper"
        return "other"

    for a, b in zip(levels[:-1], levels[1:], strict=True):
        i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
        if i is None:
            continue                                      # one is a prefix of the other
        ka, kb = kind(a[i]), kind(b[i])
        if not (ka == kb != "other" or (ka == "digit" and kb in ("lower", "upper"))):
            return False
    return True


def _r_call(md: _ModelData, fam, lk, formula_given: str, offset_exprs, offset_name) -> str:
    """The equivalent R ``svyglm(...)`` call, for the summary."""
    frame = md.frame
    fam_r = fam.r_name + ("()" if lk.name == fam.default_link else f"(link = \"{lk.name}\")")
    r_form = _r_formula(frame.formula if not md.counts
                        else formula_given.split("~", 1)[0].strip() + " ~ "
                        + frame.formula.split("~", 1)[1].strip())
    r_form += "".join(f" + offset({e})" for e in offset_exprs)
    if offset_name is not None:
        r_form += f" + offset({offset_name})"
    return f"svyglm({r_form}, design = design" + (
        "" if fam.name == "gaussian" and lk.name == "identity" else f", family = {fam_r}") + ")"
