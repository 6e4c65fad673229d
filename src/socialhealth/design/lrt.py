"""Working likelihood-ratio tests and design-based AIC / BIC for survey GLMs.

Rao-Scott working likelihood-ratio test (R ``regTermTest(method = "LRT")``, ``anova``)
---------------------------------------------------------------------------------------
For a model with coefficients ``beta = (beta_1, beta_2)`` and the null ``beta_2 = 0`` (``q``
coefficients), the statistic is the difference in working deviance

    chisq = D(null fit) - D(full fit),

both deviances computed with the sampling weights rescaled to mean 1 over the rows of R's
design object (as the fits; the null model is refitted on the same rows; on a subset of a
calibrated, PPS or two-phase "full" design that mean includes the rows outside the domain, see
:mod:`socialhealth.design.glm`). Under the null it is asymptotically ``sum_j lambda_j
Z_j^2`` with ``lambda_j`` the eigenvalues of the design-effect matrix
``Delta = V0_22^{-1} V_22``, where ``V_22`` is the design-based (sandwich or replicate)
covariance of ``beta_2`` and ``V0_22`` its "naive" model-based counterpart, the inverse of the
weighted information ``(X' W X)^{-1}`` restricted to ``beta_2`` (Rao & Scott 1984; Lumley &
Scott 2013, 2014). The p-value refers ``chisq`` to that linear combination, with the chi-squared
terms divided by an independent ``chi^2_ddf / ddf`` when ``ddf`` (the model's residual degrees of
freedom by default) is finite: see :mod:`socialhealth.design.lincomb` (saddlepoint by default,
Satterthwaite, or exact). The printed "working 2logLR" is ``chisq / mean(lambda)``.

Design-based AIC (Lumley & Scott 2015; R ``AIC(svyglm)``)
    ``AIC = D + k * eff_p`` with ``D`` the working deviance and ``eff_p = tr(Delta)``, the
    trace of ``V0^{-1} V`` over the non-intercept coefficients (``null_has_intercept=True``,
    as R) or all of them; ``deltabar = eff_p / (number of those coefficients)``.
    Not available for the gaussian family: survey 4.1-1 computes a separate gaussian AIC
    (with the residual variance as a parameter) whose differences between models change with
    the units of the outcome (e.g. ``ypos ~ x1 + x2 + grp`` vs ``ypos ~ x1`` on the test data:
    22.97 with ``y``, 12.13 with ``2 y``), so it is not reproduced here.

Pseudo-R^2 (Lumley 2017; R ``psrsq(svyglm)``)
    Cox-Snell ``R2 = 1 - exp((D - D_0) / N)`` and Nagelkerke ``R2 / (1 - exp(-D_0 / N))``, with
    ``D`` the working deviance, ``D_0`` that of the null model (intercept only, or the offset
    alone without an intercept) refitted on the same rows, and ``N`` the sum of the rescaled
    weights of those rows (times the trials of a binomial count response): the design-based
    estimates of the population statistics. Discrete families only (binomial, poisson).

Design-based BIC (Lumley & Scott 2015; R ``BIC(svyglm, maximal = )``)
    Relative to a maximal model ``M`` that contains every coefficient of the model ``A``: with
    ``b`` the coefficients of ``M`` not in ``A`` (``q`` of them), ``W = b' V_b^{-1} b`` (Wald),
    ``Delta_b = V0_b^{-1} V_b`` and ``n`` the number of rows used,
    ``BIC = W + p_A log(n) + log det(Delta_b) + D_M`` and the effective sample size
    ``n_eff = n / det(Delta_b)^(1/q)``. For ``A = M``: ``BIC = D_M + p_M log(n)``.

References
----------
Rao JNK, Scott AJ (1984) *Annals of Statistics* 12:46-60.
Lumley T, Scott AJ (2013) Partial likelihood ratio tests for the Cox model under complex
sampling. *Statistics in Medicine* 32:110-123.
Lumley T, Scott AJ (2014) Tests for regression models fitted to survey data. *Australian &
New Zealand Journal of Statistics* 56:1-14.
Lumley T, Scott AJ (2015) AIC and BIC for modeling with complex survey data. *Journal of Survey
Statistics and Methodology* 3:1-18.
Lumley T (2017) Pseudo-R2 statistics under complex sampling. *Australian & New Zealand Journal
of Statistics* 59:187-194.
"""
from __future__ import annotations

from typing import Literal

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from socialhealth._options import is_choice
from socialhealth._text import show_given
from socialhealth.design.result_protocol import TEST_REASONS, Result
from socialhealth.design.results import check_df
from socialhealth.design.structure import check_flag
from socialhealth.design.glm_result import _singular_message
from socialhealth.design.lincomb import LINCOM_METHODS, pchisqsum
from socialhealth.design.wald import _quadratic_form
from socialhealth.errors import ArgumentError, ModelError


@dataclass
class LRTest(Result):
    """Rao-Scott working likelihood-ratio test of nested survey GLMs.

    ``chisq`` is the difference in working deviance, ``lambdas`` the design effects (its null
    distribution is ``sum lambda_j chi^2_1``), ``statistic = chisq / mean(lambdas)`` (R's
    printed "Working 2logLR"), ``p`` the p-value (``ddf`` finite: F-type reference),
    ``approximation`` how ``p`` was computed (:mod:`socialhealth.design.lincomb`).
    Returned by ``model.lrt(terms)`` and ``design.anova(m1, m2)`` (examples there).

    In R: ``regTermTest(model, ~terms, method = "LRT")``.
    """

    _not_applicable = TEST_REASONS

    terms: list[str]
    columns: list[str]
    chisq: float
    df: int
    ddf: float
    p: float
    lambdas: np.ndarray
    approximation: str
    r_call: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def statistic(self) -> float:
        """``chisq / mean(lambdas)``: the working 2 log LR as R prints it."""
        return float(self.chisq / np.mean(self.lambdas))

    def to_frame(self) -> pd.DataFrame:
        """One row: ``term, chisq, statistic, df, ddf, p, approximation``."""
        return pd.DataFrame({"term": [" + ".join(self.terms)], "chisq": [self.chisq],
                             "statistic": [self.statistic], "df": [self.df], "ddf": [self.ddf],
                             "p": [self.p], "approximation": [self.approximation]})

    def __repr__(self) -> str:
        sf = " ".join(f"{v:.3g}" for v in self.lambdas / np.mean(self.lambdas))
        ref = "chi-squared" if not np.isfinite(self.ddf) else f"F, denominator df = {self.ddf:g}"
        return (f"Working (Rao-Scott) LRT for {' + '.join(self.terms)} "
                f"({', '.join(self.columns)})\n  working 2logLR = {self.statistic:.6g}, p = "
                f"{self.p:.4g} ({self.approximation}; {ref})\n  deviance difference = "
                f"{self.chisq:.6g} on {self.df} df; scale factors: {sf}\n  In R: {self.r_call}")


def _pw(result) -> np.ndarray:
    if getattr(result, "_pw", None) is not None:
        return result._pw
    d = result.design
    w = d._w
    return w[result.frame.rows] / float(w[d._r_rows()].mean())


def _naive_cov(result) -> np.ndarray:
    """``(X' W X)^{-1}`` of the last IRLS step (R ``model$naive.cov``)."""
    return result._fit.solver.inverse()


def _refit_without(result, cols: list[int]):
    """Refit ``result``'s model on the same rows without the columns ``cols``; returns the
    working deviance of the reduced fit."""
    from socialhealth.design.glm import FAMILIES, LINKS, _check_separation, _irls
    from socialhealth.errors import ConvergenceError

    keep = [j for j in range(len(result.names)) if j not in set(cols)]
    X = result.frame.X
    y = result.frame.y
    pw = _pw(result)
    fam, lk = FAMILIES[result.family], LINKS[result.link]
    off = None if result._offset is None else result._offset[result.frame.rows]
    names = [result.names[j] for j in keep]
    if not keep:
        # empty null model: the deviance at eta = offset (or 0)
        from socialhealth.design.glm import _dev_sum

        eta = np.zeros(len(y)) if off is None else off
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            mu = lk.linkinv(eta)
        ybin = fam.name == "binomial" and bool(np.all((y == 0) | (y == 1)))
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            dev = _dev_sum(fam, y, mu, pw, ybin) if np.all(np.isfinite(mu)) else np.nan
        if not np.isfinite(dev):
            raise ModelError(
                f"without the tested terms the model has no coefficients, and eta = 0 is not "
                f"valid for the {result.link} link; test fewer terms (keep the intercept)."
            )
        return dev
    X0 = np.asfortranarray(X[:, keep])
    maxiter, tol = getattr(result, "_control", (100, 1e-12))
    fit = _irls(X0, y, pw, fam, lk, off, None, maxiter, tol, names)
    _check_separation(fit, fam, lk, X0, y, pw, names)
    if not fit.converged:
        raise ConvergenceError("the null model of the likelihood-ratio test did not converge.")
    return fit.deviance


def _deffs(V: np.ndarray, V0: np.ndarray) -> np.ndarray:
    """Eigenvalues of ``V0^{-1} V`` (generalised symmetric problem ``V x = lambda V0 x``),
    largest first."""
    from scipy import linalg

    V = (V + V.T) / 2
    V0 = (V0 + V0.T) / 2
    try:
        ev = linalg.eigh(V, V0, eigvals_only=True)
    except linalg.LinAlgError:
        raise ModelError("the model-based covariance of the tested coefficients is singular; "
                         "the design effects are undefined.") from None
    return np.sort(ev)[::-1]


def _lambdas(result, cols: list[int]) -> np.ndarray:
    return _deffs(result._cov[np.ix_(cols, cols)], _naive_cov(result)[np.ix_(cols, cols)])


def _check_ddf(ddf: float, result) -> None:
    """Non-positive denominator df (the model's residual df ``degf + 1 - p`` when the design
    has too few PSUs for the model): no F reference distribution (R's saddlepoint p-value fails
    there, its Satterthwaite one is NaN)."""
    if np.isfinite(ddf) and not ddf > 0:
        raise ModelError(
            f"the denominator degrees of freedom are {ddf:g}, not positive: the model's residual "
            f"df are design df + 1 - {len(result.names)} coefficients, too few PSUs for this "
            "model. Pass df=np.inf (test='Chisq' in anova) for a chi-squared reference, or fit "
            "fewer coefficients.")


def _check_approximation(approximation: str) -> str:
    if not is_choice(approximation, LINCOM_METHODS):
        raise ModelError(f"approximation={show_given(approximation)} must be one of "
                         f"{', '.join(LINCOM_METHODS)} "
                         "(the null distribution: a linear combination of chi-squares).")
    return approximation


def lrt(result, terms,
        approximation: Literal["saddlepoint", "satterthwaite", "exact",
                               "integration"] = "saddlepoint",
        df: float | None = None) -> LRTest:
    """Rao-Scott working likelihood-ratio test that the coefficients of ``terms`` are zero.

    The null model (without those columns) is refitted on the same rows and weights;
    ``chisq = D_null - D_full`` (working deviances) is referred to
    ``sum_j lambda_j chi^2_1 / (chi^2_ddf / ddf)`` with ``lambda_j`` the eigenvalues of the
    design-effect matrix of the tested coefficients (formulas in :mod:`socialhealth.design.lrt`).

    Parameters
    ----------
    result : SurveyGLMResult
    terms : str or list
        As for :meth:`SurveyGLMResult.wald_test`: terms, variables or coefficient names.
    approximation : {"saddlepoint", "satterthwaite", "exact"}
        The null distribution's tail probability (R ``lrt.approximation``); ``"exact"`` (alias
        ``"integration"``, R's name) is exact (Ruben's series, :mod:`socialhealth.design.lincomb`).
    df : float, optional
        Denominator degrees of freedom; default the model's ``df_resid``; ``np.inf`` for a
        chi-squared reference.

    Returns
    -------
    LRTest

    Examples
    --------
    >>> import numpy as np, pandas as pd, socialhealth as sh
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"psu": np.repeat(np.arange(10), 20), "w": rng.uniform(1, 3, 200),
    ...                    "x": rng.normal(size=200), "g": rng.choice(["a", "b", "c"], 200)})
    >>> df["y"] = (rng.uniform(size=200) < 1 / (1 + np.exp(-df["x"]))).astype(float)
    >>> m = sh.SurveyDesign(df, psu="psu", weights="w").glm("y ~ x + C(g)", family="binomial")
    >>> t = m.lrt("C(g)")
    >>> t.df, bool(0 < t.p < 1), len(t.lambdas)
    (2, True, 2)
    >>> bool(abs(m.lrt("C(g)", approximation="satterthwaite").p - t.p) < 0.05)
    True

    In R: ``regTermTest(m, ~g, method = "LRT")`` (``lrt.approximation = "saddlepoint"``).
    """
    _check_approximation(approximation)
    labels, cols = result._resolve_terms(terms)
    chisq = _refit_without(result, cols) - result._fit.deviance
    lam = _lambdas(result, cols)
    df = check_df(df, ModelError)
    ddf = result.df_resid if df is None else df
    _check_ddf(ddf, result)
    p = pchisqsum(chisq, np.ones(len(cols)), lam, method=approximation, ddf=ddf)
    tt = " + ".join(labels)
    return LRTest(labels, [result.names[c] for c in cols], float(chisq), len(cols), float(ddf), p,
                  lam, approximation,
                  f'regTermTest(model, ~{tt}, method = "LRT", lrt.approximation = '
                  f'"{approximation}")')


def anova(design, model1, model2, test: Literal["F", "Chisq"] = "F",
          method: Literal["LRT", "Wald"] = "LRT",
          approximation: Literal["saddlepoint", "satterthwaite", "exact",
                                 "integration"] = "saddlepoint"):
    """Compare two nested survey GLMs (R ``anova(m1, m2)`` for ``svyglm``).

    Both models are fitted with the same family, link and rows. Usually the smaller model's
    coefficients are a subset (by name) of the larger model's; otherwise its columns must be
    linear combinations of the larger model's (e.g. merged categories), and the test is of
    the linear constraints ``L beta = 0`` that give the smaller model. (This equals R's
    ``regTermTest`` on the larger model reparametrised as the smaller one plus the
    constraints; survey 4.1-1's ``anova()`` of such models agrees on Taylor designs but gives
    other design effects on replicate designs.) ``method="LRT"`` (default): the Rao-Scott
    working likelihood-ratio test of the extra coefficients (:func:`lrt`); ``"Wald"``: their
    Wald F test. ``test="F"`` uses the larger model's residual df as denominator df,
    ``"Chisq"`` a chi-squared reference (LRT only).

    Parameters
    ----------
    design : the design both models were fitted on (``design.anova(m1, m2)``).
    model1, model2 : SurveyGLMResult, in either order.
    test : {"F", "Chisq"}
    method : {"LRT", "Wald"}
    approximation : {"saddlepoint", "satterthwaite", "exact"}
        Tail probability of the LRT's null distribution (as :func:`lrt`).

    Returns
    -------
    LRTest (method "LRT") or WaldTest (method "Wald").

    Examples
    --------
    >>> import numpy as np, pandas as pd, socialhealth as sh
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"psu": np.repeat(np.arange(10), 20), "w": rng.uniform(1, 3, 200),
    ...                    "x": rng.normal(size=200), "z": rng.normal(size=200)})
    >>> df["y"] = rng.poisson(np.exp(0.3 * df["x"]))
    >>> d = sh.SurveyDesign(df, psu="psu", weights="w")
    >>> m1 = d.glm("y ~ x", family="poisson"); m2 = d.glm("y ~ x + z", family="poisson")
    >>> a = d.anova(m1, m2)
    >>> a.columns, a.df
    (['z'], 1)

    In R: ``anova(m1, m2)`` (``test = "F"``, ``method = "LRT"``).
    """
    if not is_choice(test, ("F", "Chisq")):
        raise ModelError(f"test={show_given(test)} must be 'F' or 'Chisq'.")
    if not is_choice(method, ("LRT", "Wald")):
        raise ModelError(f"method={show_given(method)} must be 'LRT' or 'Wald'.")
    for m in (model1, model2):
        if not hasattr(m, "_fit") or not hasattr(m, "names"):
            raise ModelError("anova compares two survey GLMs fitted with design.glm(); for "
                             "loglinear models (design.loglin()) use model0.anova(model1).")
    small, big = (model1, model2) if len(model1.names) <= len(model2.names) else (model2, model1)
    if small.design is not big.design:
        raise ModelError("the two models are fitted on different design objects; fit both on "
                         "the same design (or the same subset of it).")
    if design is not None and design is not big.design and not (
            design.data is big.design.data and design.kind == big.design.kind):
        raise ModelError("the models are not fitted on this design (design.anova(m1, m2)).")
    if (small.family, small.link) != (big.family, big.link):
        raise ModelError("the two models have different families or links; they are not nested.")
    if not np.array_equal(small.frame.rows, big.frame.rows):
        raise ModelError(
            "the two models use different rows (missing values in a variable of one model "
            "only); fit both on the same rows, e.g. design.subset(rows complete for both)."
        )
    if len(small.names) == len(big.names):
        raise ModelError("the two models have the same number of coefficients; they are not "
                         "nested (or identical), so there is nothing to test.")
    if any(n not in big.names for n in small.names):
        return _anova_span(small, big, test, method, approximation)
    cols = [n for n in big.names if n not in small.names]
    if method == "Wald":
        return big.wald_test(cols) if test == "F" else _wald_chisq(big, cols)
    # (df=None: the model's residual df, checked by lrt() with a message about too few PSUs)
    out = lrt(big, cols, approximation=approximation, df=None if test == "F" else np.inf)
    # the deviance of the smaller model as fitted (same rows and weights as the refit)
    out.r_call = f'anova(small, big, test = "{test}", method = "LRT")'
    return out


def _anova_span(small, big, test, method, approximation):
    """Models nested by the span of their columns rather than by name (e.g. merged categories):
    the smaller model is ``L beta = 0`` in the larger one, ``L`` spanning the left null space
    of ``A`` with ``X_small = X_big A``; then ``Delta = (L V0 L')^{-1} (L V L')`` and the
    deviance difference of the two fits (Wald: ``(L b)' (L V L')^{-1} (L b)``)."""
    from scipy import linalg, stats

    from socialhealth.design.glm import WaldTest

    Xb, Xs = big.frame.X, small.frame.X
    A, *_ = np.linalg.lstsq(Xb, Xs, rcond=None)
    resid = Xs - Xb @ A
    if np.max(np.abs(resid)) > 1e-8 * (1 + np.max(np.abs(Xs))):
        raise ModelError(
            "the models are not nested: some columns of the smaller model are not linear "
            "combinations of the larger model's columns. Check that the larger model contains "
            "every term of the smaller one (categories may be merged in the smaller model)."
        )
    L = linalg.null_space(A.T).T                  # (p_big - p_small) x p_big, L A = 0
    q = L.shape[0]
    V = L @ big._cov @ L.T
    label = f"{big.formula} vs {small.formula}"
    if method == "Wald":
        b = L @ big._beta
        w = _quadratic_form(b, V, ModelError, _singular_message(big, q))
        if test == "F":
            return WaldTest([label], [label], w / q, q, big.df_resid,
                            float(stats.f.sf(w / q, q, big.df_resid)))
        return WaldTest([label], [label], w / q, q, np.inf, float(stats.chi2.sf(w, q)))
    approximation = _check_approximation(approximation)
    V0 = L @ _naive_cov(big) @ L.T
    lam = _deffs(V, V0)
    chisq = small._fit.deviance - big._fit.deviance
    ddf = big.df_resid if test == "F" else np.inf
    _check_ddf(ddf, big)
    p = pchisqsum(chisq, np.ones(q), lam, method=approximation, ddf=ddf)
    return LRTest([label], [label], float(chisq), q, float(ddf), p, lam, approximation,
                  f'anova(small, big, test = "{test}", method = "LRT")')


def _wald_chisq(big, cols):
    """Wald test with a chi-squared reference: ``statistic = W / q`` (as the F form), ``p`` from
    ``chi^2_q`` at ``W`` (R ``regTermTest(..., df = Inf)``)."""
    from scipy import stats

    from socialhealth.design.glm import WaldTest

    idx = [big.names.index(c) for c in cols]
    b = big._beta[idx]
    V = big._cov[np.ix_(idx, idx)]
    w = _quadratic_form(b, V, ModelError, _singular_message(big, len(idx)))
    return WaldTest(cols, cols, w / len(idx), len(idx), np.inf, float(stats.chi2.sf(w, len(idx))))


def aic(result, k: float = 2.0, null_has_intercept: bool = True) -> pd.Series:
    """Design-based AIC of Lumley & Scott (2015): ``deviance + k * eff_p``.

    ``eff_p = tr(V0^{-1} V)`` over the non-intercept coefficients (all coefficients with
    ``null_has_intercept=False``): the number of parameters inflated by their design effects.

    Parameters
    ----------
    result : SurveyGLMResult (not gaussian; see the module docstring).
    k : float, default 2
        Penalty per effective parameter.
    null_has_intercept : bool, default True
        Leave the intercept out of ``eff_p`` (R's default).

    Returns
    -------
    pandas.Series
        ``eff_p``, ``AIC``, ``deltabar`` (``eff_p`` divided by the number of coefficients in it).

    Examples
    --------
    >>> import numpy as np, pandas as pd, socialhealth as sh
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"psu": np.repeat(np.arange(10), 20), "w": rng.uniform(1, 3, 200),
    ...                    "x": rng.normal(size=200)})
    >>> df["y"] = rng.poisson(np.exp(0.3 * df["x"]))
    >>> m = sh.SurveyDesign(df, psu="psu", weights="w").glm("y ~ x", family="poisson")
    >>> a = m.aic()
    >>> bool(np.isclose(a["AIC"], m.deviance + 2 * a["eff_p"]))
    True

    In R: ``AIC(model)`` (columns ``eff.p``, ``AIC``, ``deltabar``).
    """
    if result.family == "gaussian":
        raise ModelError(
            "the design-based AIC is implemented for the binomial, poisson and Gamma families "
            "(deviance-based). R's gaussian AIC is not reproduced (its differences between "
            "models depend on the units of the outcome); for a gaussian model compare with "
            "bic(maximal=...), lrt() or wald_test()."
        )
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, float, np.number)) \
            or not np.isfinite(k) or k < 0:
        raise ArgumentError(f"k= of aic() is the penalty per effective parameter, a number "
                            f"(2 for AIC, log(n) for a BIC-like penalty) >= 0, not "
                            f"{show_given(k)}.")
    null_has_intercept = check_flag(null_has_intercept, "null_has_intercept", "aic()")
    idx = [j for j, n in enumerate(result.names) if not (null_has_intercept and n == "Intercept")]
    if not idx:
        raise ModelError("the model has no coefficient besides the intercept; eff_p is 0.")
    V = result._cov[np.ix_(idx, idx)]
    V0 = _naive_cov(result)[np.ix_(idx, idx)]
    eff_p = float(np.trace(np.linalg.solve(V0, V)))
    return pd.Series({"eff_p": eff_p, "AIC": result._fit.deviance + k * eff_p,
                      "deltabar": eff_p / len(idx)}, name="AIC")


PSEUDO_RSQUARED_METHODS = ("Cox-Snell", "Nagelkerke")


def pseudo_rsquared(result, method: str = "Cox-Snell") -> float:
    """Design-based pseudo-R^2 of a binomial or poisson survey GLM (Lumley 2017).

    ``R2_CS = 1 - exp((D - D_0) / N)`` (Cox & Snell) and ``R2_N = R2_CS / (1 - exp(-D_0 / N))``
    (Nagelkerke: divided by its largest possible value), where ``D`` is the model's working
    deviance, ``D_0`` the null model's (intercept only, or the offset alone for a model
    without an intercept; refitted on the same rows and weights) and ``N`` the sum of the
    rescaled weights (``w / mean(w)``, times the trials of a ``cbind()`` response) of the rows
    used. ``D / N`` estimates the population's mean deviance, so both are estimates of the
    population statistics.

    Parameters
    ----------
    result : SurveyGLMResult
        A binomial (any link, 0/1 or count response) or poisson model.
    method : {"Cox-Snell", "Nagelkerke"}
        Case does not matter.

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np, pandas as pd, socialhealth as sh
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"psu": np.repeat(np.arange(20), 10), "w": rng.uniform(1, 3, 200),
    ...                    "x": rng.normal(size=200)})
    >>> df["y"] = (rng.random(200) < 1 / (1 + np.exp(-df["x"]))).astype(float)
    >>> m = sh.SurveyDesign(df, psu="psu", weights="w").glm("y ~ x", family="binomial")
    >>> cs, nk = m.pseudo_rsquared(), m.pseudo_rsquared("Nagelkerke")
    >>> bool(0 < cs < nk < 1)
    True

    In R: ``psrsq(model, method = "Cox-Snell")``; ``psrsq(model, method = "Nagelkerke")``.
    """
    chosen = {m.lower(): m for m in PSEUDO_RSQUARED_METHODS}.get(str(method).lower())
    if chosen is None:
        raise ArgumentError(f"method={show_given(method)} is not one of "
                            f"{', '.join(map(repr, PSEUDO_RSQUARED_METHODS))}.")
    if result.family not in ("binomial", "poisson"):
        raise ModelError(
            f"the pseudo-R^2 is defined here for discrete outcomes (binomial, poisson), not "
            f"the {result.family} family (R psrsq: 'Only implemented for discrete data'). For "
            "a gaussian model report the weighted R^2 of the fit, or compare models with "
            "aic()/bic().")
    non_intercept = [j for j, nm in enumerate(result.names) if nm != "Intercept"]
    d0 = float(_refit_without(result, non_intercept))
    d1 = float(result._fit.deviance)
    N = float(np.sum(_pw(result)))
    cox_snell = 1.0 - float(np.exp((d1 - d0) / N))
    if chosen == "Cox-Snell":
        return cox_snell
    return cox_snell / (1.0 - float(np.exp(-d0 / N)))


def bic(result, maximal) -> pd.Series:
    """Design-based BIC of Lumley & Scott (2015), relative to a maximal model.

    ``BIC = W + p log(n) + log det(Delta_b) + D_M`` with ``W`` the Wald statistic of the
    maximal model's coefficients not in this model, ``Delta_b`` their design-effect matrix,
    ``D_M`` the maximal model's working deviance and ``n`` the rows used (see the module
    docstring); ``n_eff = n / det(Delta_b)^(1/q)``.

    Parameters
    ----------
    result : SurveyGLMResult
    maximal : SurveyGLMResult
        A model on the same rows containing every coefficient of ``result`` (may be
        ``result`` itself).

    Returns
    -------
    pandas.Series
        ``p`` (coefficients), ``BIC``, ``neff`` (NaN when ``result`` is the maximal model).

    Examples
    --------
    >>> import numpy as np, pandas as pd, socialhealth as sh
    >>> rng = np.random.default_rng(1)
    >>> df = pd.DataFrame({"psu": np.repeat(np.arange(10), 20), "w": rng.uniform(1, 3, 200),
    ...                    "x": rng.normal(size=200), "z": rng.normal(size=200)})
    >>> df["y"] = rng.poisson(np.exp(0.3 * df["x"]))
    >>> d = sh.SurveyDesign(df, psu="psu", weights="w")
    >>> big = d.glm("y ~ x + z", family="poisson"); small = d.glm("y ~ x", family="poisson")
    >>> b = small.bic(maximal=big)
    >>> int(b["p"]), bool(b["neff"] > 0)
    (2, True)

    In R: ``BIC(small, big, maximal = big)``.
    """
    if not hasattr(maximal, "_fit"):
        raise ModelError("maximal= must be a survey GLM fitted with design.glm().")
    extra = [n for n in result.names if n not in maximal.names]
    if extra:
        raise ModelError(f"coefficient(s) {', '.join(map(repr, extra))} are in the model but not "
                         f"in "
                         "the maximal model; maximal= must contain every coefficient.")
    if not np.array_equal(result.frame.rows, maximal.frame.rows):
        raise ModelError("the model and the maximal model use different rows; fit both on the same "
                         "rows.")
    n = int(np.sum(_pw(result) > 0))
    pa, pm = len(result.names), len(maximal.names)
    idx = [j for j, nm in enumerate(maximal.names) if nm not in result.names]
    if idx:
        b = maximal._beta[idx]
        V = maximal._cov[np.ix_(idx, idx)]
        V0 = _naive_cov(maximal)[np.ix_(idx, idx)]
        wald = _quadratic_form(b, V, ModelError, _singular_message(maximal, len(idx)))
        sign, logdet = np.linalg.slogdet(np.linalg.solve(V0, V))
        if sign <= 0:
            raise ModelError("the design-effect matrix of the omitted coefficients is not positive "
                             "definite.")
        neff = n / np.exp(logdet / (pm - pa))
    else:
        wald, logdet, neff = 0.0, 0.0, np.nan
    return pd.Series({"p": float(pa), "BIC": wald + pa * np.log(n) + logdet + maximal._fit.deviance,
                      "neff": float(neff)}, name="BIC")
