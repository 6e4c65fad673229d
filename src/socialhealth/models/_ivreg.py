r"""Instrumental-variable (two-stage least squares) regression on survey data (R ``svyivreg``).

Model
-----
``y = X beta + e`` where some columns of ``X`` are *endogenous* (correlated with ``e``), and a
matrix ``Z`` of *instruments* (the exogenous columns of ``X`` and at least one excluded
instrument per endogenous column) satisfies ``E[Z' e] = 0``. The formula names both:
``"y ~ x + endogenous | x + instrument"`` (R ``AER::ivreg`` / ``svyivreg`` syntax; Stata
``svy: ivregress 2sls y x (endogenous = instrument)``).

Estimation (weighted two-stage least squares; Wooldridge 2010, §5.2 and §5.3): with the design
weights ``W = diag(w)``, the first stage gives the fitted regressors
``X_hat = Z (Z'WZ)^{-1} Z'WX`` and the second stage

    beta_hat = (X_hat' W X)^{-1} X_hat' W y,

the estimate ``ivreg(formula, weights = w)`` gives. It solves the estimating equations
``sum_i w_i x_hat_i (y_i - x_i' beta) = 0``.

Covariance (Binder 1983; the linearisation R's ``svyivreg`` uses): the influence value of row
``i`` is ``z_i = w_i e_i x_hat_i' (X_hat' W X)^{-1}`` with ``e_i = y_i - x_i' beta_hat``, and
``Var(beta_hat) = Var_design(sum_i z_i)``, the design's Taylor variance of a total (strata,
clusters, fpc, lonely PSUs, domains as for every other estimator). It treats the first stage as
known, which is right when the instruments are valid; when the model is over-identified and
the over-identifying restrictions fail in the population, the first stage adds variance this
formula misses, and replicate weights (which refit both stages) are the safer choice.
Replicate designs refit both stages with every replicate's weights (R ``svyivreg`` on a
``svyrep.design``).

Inference: Wald t with ``degf + 1 - p`` degrees of freedom, the residual degrees of freedom
R ``svyivreg`` sets (the design degrees of freedom less the covariates, as for ``svyglm``).

Differences from R survey 4.1-1: R's ``vcov()`` of a Taylor-design ``svyivreg`` fit returns
this covariance multiplied by ``sigma^2`` (its residual variance scaled by the mean weight):
``svyivreg`` stores the design covariance in ``cov.unscaled``, which ``AER``'s ``vcov.ivreg``
multiplies by ``sigma^2``. The covariance here is R's ``fit$cov.unscaled``, the design
variance of the influence totals; R's replicate-design fits agree with it. R also fails on
rows with a missing value; here they are counted and left out (zero weight, the design kept).

References
----------
Binder DA (1983) On the variances of asymptotically normal estimators from complex surveys.
*International Statistical Review* 51:279-292.
Kleiber C, Zeileis A (2008) *Applied Econometrics with R*. Springer, §3.4 (``ivreg``).
Lumley T (2010) *Complex Surveys: A Guide to Analysis Using R*. Wiley, §5.2.
Wooldridge JM (2010) *Econometric Analysis of Cross Section and Panel Data*, 2nd ed. MIT Press,
ch. 5.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from socialhealth._text import show_list
from socialhealth.design.coefficients import WaldCoefficients, coefficient_lines
from socialhealth.design.formula import formula_variables, model_frame
from socialhealth.design.result_protocol import Summary
from socialhealth.errors import FormulaError, MissingColumnError, ModelError
from socialhealth.models._multinomial import _stata_var

__all__ = ["IVResult", "ivreg"]

#: the response's name inside the formula engine (any column name works as the response)
_RESPONSE = "_sh_ivreg_response_"


# ----------------------------------------------------------------------------- estimator
def _two_stage(X: np.ndarray, Z: np.ndarray, y: np.ndarray, w: np.ndarray):
    """Weighted 2SLS: ``(beta, X_hat, bread)`` with ``bread = (X_hat' W X)^{-1}``; None when a
    stage is singular for these weights (a replicate that drops every row of a level)."""
    sw = np.sqrt(np.clip(w, 0.0, None))
    try:
        pi, *_ = np.linalg.lstsq(Z * sw[:, None], X * sw[:, None], rcond=None)
        Xh = Z @ pi
        A = (Xh * w[:, None]).T @ X
        bread = np.linalg.inv(A)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(bread)):
        return None
    beta = bread @ ((Xh * w[:, None]).T @ y)
    return beta, Xh, bread


def _split(formula) -> tuple[str, str, str]:
    if not isinstance(formula, str) or "~" not in formula or "|" not in formula:
        raise FormulaError(
            f"the formula must look like 'y ~ x + endogenous | x + instrument' (regressors, "
            f"then '|', then the instruments, as R's ivreg/svyivreg), not {formula!r}.")
    lhs, rest = (part.strip() for part in formula.split("~", 1))
    if rest.count("|") != 1:
        raise FormulaError(f"the formula {formula!r} must have exactly one '|' between the "
                           "regressors and the instruments.")
    rhs, inst = (part.strip() for part in rest.split("|"))
    if not lhs or not rhs or not inst:
        raise FormulaError(f"the formula {formula!r} needs a response, regressors and "
                           "instruments: 'y ~ x + endogenous | x + instrument'.")
    return lhs.strip("`"), rhs, inst


def _r_name(column: str) -> str:
    """A column name as R writes it (backquoted unless syntactic)."""
    return column if re.fullmatch(r"[A-Za-z.][A-Za-z0-9._]*", column) else f"`{column}`"


def _terms(side: str) -> list[str]:
    """The terms of one side of the formula, as written (``-1`` / ``0`` / ``1`` left out)."""
    side = re.sub(r"-\s*1\b", "", side)
    return [t.strip().replace("`", "") for t in side.split("+")
            if t.strip() not in ("", "0", "1")]


def _rank(M: np.ndarray, w: np.ndarray) -> int:
    sw = np.sqrt(np.clip(w, 0.0, None))
    return int(np.linalg.matrix_rank(M * sw[:, None]))


class IVResult(WaldCoefficients):
    """A design-based instrumental-variable (2SLS) regression (:func:`ivreg`).

    Attributes
    ----------
    names : coefficient names (``Intercept``, regressors).
    instruments : the instrument columns (``Intercept``, exogenous regressors, excluded
        instruments).
    endogenous : regressors that are not among the instruments.
    nobs : rows used; n_missing : rows of the subset left out for a missing value.
    df_resid : residual degrees of freedom of the t reference (``degf + 1 - p``).
    first_stage : per endogenous regressor, the weighted R-squared of its first-stage
        regression on the instruments and the design-based Wald F test that the excluded
        instruments' first-stage coefficients are 0 (a weak-instrument check; Stata's
        ``estat firststage`` reports the same kind of test).
    r_call, stata_call : the equivalent R and Stata commands.

    ``to_frame(level=)``, ``confint(level=)``, ``coef()``, ``se()``, ``vcov``, ``summary()``
    and ``_repr_html_`` as for every model.
    """

    def __init__(self, *, beta, cov, names, instruments, endogenous, nobs, n_missing, design,
                 formula, df_resid, first_stage, r_call, stata_call):
        self._beta = np.asarray(beta, dtype=float)
        self._cov = np.asarray(cov, dtype=float)
        self.names = list(names)
        self.instruments = list(instruments)
        self.endogenous = list(endogenous)
        self.nobs = int(nobs)
        self.n_missing = int(n_missing)
        self.design = design
        self.formula = formula
        self.df_resid = float(df_resid)
        self.first_stage = first_stage
        self.r_call = r_call
        self.stata_call = stata_call

    @property
    def _coef(self) -> np.ndarray:
        return self._beta

    @property
    def _wald_df(self) -> float:
        return self.df_resid

    def to_frame(self, level: float = 0.95) -> pd.DataFrame:
        """Tidy table ``term, estimate, se, ci_low, ci_high, df, statistic, p`` (one row per
        coefficient; t intervals with ``df_resid`` degrees of freedom)."""
        ci = self.confint(level)
        return pd.DataFrame({"term": self.names, "estimate": self._beta,
                             "se": self.bse.to_numpy(), "ci_low": ci["ci_low"].to_numpy(),
                             "ci_high": ci["ci_high"].to_numpy(), "df": self.df_resid,
                             "statistic": self.statistic.to_numpy(),
                             "p": self.pvalues.to_numpy()})

    def summary(self) -> Summary:
        """Printable coefficient table, the first-stage checks and the R and Stata calls."""
        tab = self.to_frame()
        lines = [f"Survey instrumental-variable (2SLS) regression: {self.formula}",
                 f"Design: {self.design.label}",
                 f"{self.nobs} rows" + (f"; {self.n_missing} left out (missing values)"
                                        if self.n_missing else "")
                 + f"; endogenous: {', '.join(self.endogenous)}",
                 f"t intervals and p-values with {self.df_resid:g} degrees of freedom"]
        lines += coefficient_lines(tab["term"], tab["estimate"], tab["se"], tab["statistic"],
                                   tab["p"])
        lines.append("First stage (excluded instruments):")
        for r in self.first_stage.itertuples(index=False):
            lines.append(f"  {r.endogenous}: R-squared {r.r_squared:.4f}; Wald F {r.f:.4g} on "
                         f"{r.df_num:g} and {r.df_den:g} df, p = {r.p:.4g}")
        lines.append(f"In R: {self.r_call}")
        lines.append(f"In Stata: {self.stata_call}")
        return self._summary_text("\n".join(lines))

    def __repr__(self) -> str:
        return str(self.summary())


# ----------------------------------------------------------------------------- first stage
def _first_stage(design, rows, X, Z, w, x_names, z_names, endogenous) -> pd.DataFrame:
    """Weighted R-squared and design-based Wald F of the excluded instruments for each
    endogenous regressor (its own weighted least-squares regression on the instruments)."""
    from scipy import stats

    excluded = [j for j, n in enumerate(z_names) if n not in x_names]
    out = []
    sw = np.sqrt(w)
    for name in endogenous:
        x = X[:, x_names.index(name)]
        g, *_ = np.linalg.lstsq(Z * sw[:, None], x * sw, rcond=None)
        fitted = Z @ g
        resid = x - fitted
        xbar = np.sum(w * x) / np.sum(w)
        r2 = 1.0 - np.sum(w * resid ** 2) / np.sum(w * (x - xbar) ** 2)
        bread = np.linalg.inv((Z * w[:, None]).T @ Z)
        infl = (Z * (w * resid)[:, None]) @ bread

        def refit(wr, x=x):
            s = np.sqrt(np.clip(wr, 0.0, None))
            try:
                return np.linalg.lstsq(Z * s[:, None], x * s, rcond=None)[0]
            except np.linalg.LinAlgError:
                return None

        cov, used = design.model_vcov(g, rows, infl, refit, f"first stage of {name}")
        V = cov[np.ix_(excluded, excluded)]
        b = g[excluded]
        k = len(excluded)
        df_den = used.degf() + 1 - Z.shape[1]
        try:
            wald = float(b @ np.linalg.solve(V, b))
        except np.linalg.LinAlgError:
            wald = np.nan
        f = wald / k
        p = float(stats.f.sf(f, k, df_den)) if df_den > 0 and np.isfinite(f) else np.nan
        out.append({"endogenous": name, "r_squared": float(r2), "f": f, "df_num": float(k),
                    "df_den": float(df_den), "p": p})
    return pd.DataFrame(out)


# ----------------------------------------------------------------------------- entry point
def ivreg(design, formula: str) -> IVResult:
    r"""Design-based instrumental-variable regression by two-stage least squares.

    ``"y ~ x + endogenous | x + instrument"``: the regressors before ``|``, the instruments
    after it. Exogenous regressors appear on both sides; every endogenous regressor needs at
    least one excluded instrument. The estimate is weighted 2SLS,
    ``beta = (X_hat' W X)^{-1} X_hat' W y`` with ``X_hat = Z (Z'WZ)^{-1} Z'WX``; its covariance
    is the design variance of the influence values ``w_i e_i x_hat_i' (X_hat' W X)^{-1}``
    (Binder 1983) on Taylor designs, and the replicate variance of refits of both stages on
    replicate designs. See :mod:`socialhealth.models._ivreg` for the formulas.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign (a subset keeps the full design for the variance).
    formula : str
        ``"y ~ x1 + x2 | x1 + z"`` with the formula syntax of :meth:`SurveyDesign.glm`
        (``C(g)`` for categories, ``x:g`` interactions, ``- 1`` or ``+ 0`` for no
        intercept on either side).

    Returns
    -------
    IVResult
        ``to_frame()`` (estimate, se, t interval with ``degf + 1 - p`` df, p),
        ``first_stage`` (R-squared and Wald F of the excluded instruments), ``summary()``.

    Raises
    ------
    FormulaError
        No ``|``, or a column that is not in the data.
    ModelError
        Fewer instruments than regressors, instruments without variation or collinear, or
        excluded instruments unrelated to the endogenous regressors (rank deficient).

    Notes
    -----
    R survey 4.1-1's ``vcov()`` of a Taylor-design ``svyivreg`` fit is this covariance times
    ``fit$sigma^2`` (``AER``'s ``vcov.ivreg`` rescales the design covariance that
    ``svyivreg`` stores in ``cov.unscaled``); socialhealth's covariance is R's
    ``fit$cov.unscaled``. On replicate designs R and socialhealth agree directly.
    The linearised variance treats the first stage as known; with over-identifying
    restrictions that fail in the population it is too small or too large, and replicate
    weights are the safer choice (compare both).

    References
    ----------
    Binder DA (1983) *International Statistical Review* 51:279-292. Wooldridge JM (2010)
    *Econometric Analysis of Cross Section and Panel Data*, 2nd ed., ch. 5. Kleiber C, Zeileis
    A (2008) *Applied Econometrics with R*, §3.4.

    Examples
    --------
    >>> import socialhealth as sh
    >>> clus = sh.datasets.load_example("apiclus1")
    >>> d = sh.SurveyDesign(clus, psu="dnum", weights="pw", fpc="fpc")
    >>> fit = sh.models.ivreg(d, "api00 ~ ell + meals | mobility + meals + `avg.ed`")
    >>> print(fit.to_frame()[["term", "estimate", "se", "df"]].round(3).to_string(index=False))
         term  estimate     se   df
    Intercept   748.029 30.109 12.0
          ell     6.450  3.861 12.0
        meals    -4.812  1.630 12.0
    >>> fit.n_missing                     # rows without avg.ed, left out
    6

    In R: ``svyivreg(api00 ~ ell + meals | mobility + meals + avg.ed, design)`` (library
    ``AER`` attached; R needs the rows with a missing value removed first, which ``fit.r_call``
    does with ``subset(design, complete.cases(...))``); the covariance is
    ``fit$cov.unscaled``. In Stata: ``svy: ivregress 2sls api00 meals (ell = mobility
    avg_ed)``.
    """
    lhs, rhs, inst = _split(formula)
    data = design.data
    if lhs not in data.columns:
        raise MissingColumnError([lhs], data.columns, "the design data")
    x_vars = [c for c in formula_variables(f"`{lhs}` ~ {rhs}", data) if c != lhs]
    z_vars = [c for c in formula_variables(f"`{lhs}` ~ {inst}", data) if c != lhs]
    variables = list(dict.fromkeys([lhs, *x_vars, *z_vars]))
    in_subset = np.asarray(design.in_subset, dtype=bool)
    complete = in_subset & data[variables].notna().all(axis=1).to_numpy()
    n_missing = int(in_subset.sum() - complete.sum())
    if not complete.any():
        raise ModelError(f"no row of the design has {show_list(variables)} all present; "
                         "check the columns for missing values.")
    frame = data[variables].assign(**{_RESPONSE: data[lhs]})
    fx = model_frame(frame, f"{_RESPONSE} ~ {rhs}", complete)
    fz = model_frame(frame, f"{_RESPONSE} ~ {inst}", complete)
    if not np.array_equal(fx.rows, fz.rows):
        raise ModelError("the regressors and the instruments leave out different rows; drop "
                         "rows with missing values first (design.subset(...)).")
    rows = fx.rows
    x_names, z_names = list(fx.columns), list(fz.columns)
    X = np.ascontiguousarray(fx.X, dtype=float)
    Z = np.ascontiguousarray(fz.X, dtype=float)
    y = np.asarray(fx.y, dtype=float)
    endogenous = [n for n in x_names if n not in z_names]
    if Z.shape[1] < X.shape[1]:
        raise ModelError(
            f"{Z.shape[1]} instrument column(s) ({show_list(z_names)}) for {X.shape[1]} "
            f"regressor column(s) ({show_list(x_names)}): the model is not identified. Every "
            "endogenous regressor needs at least one instrument that is not a regressor, and "
            "exogenous regressors must also be listed after '|'.")
    w = design.weights[rows] / design.model_weight_mean()
    if _rank(Z, w) < Z.shape[1]:
        raise ModelError(f"the instruments ({show_list(z_names)}) are collinear on the rows "
                         "used; remove the redundant ones.")
    if _rank(X, w) < X.shape[1]:
        raise ModelError(f"the regressors ({show_list(x_names)}) are collinear on the rows "
                         "used; remove the redundant ones.")
    fit = _two_stage(X, Z, y, w)
    if fit is None or np.linalg.matrix_rank(fit[1] * np.sqrt(w)[:, None]) < X.shape[1]:
        raise ModelError(
            f"the instruments do not identify the coefficients of {show_list(endogenous)}: "
            "their first-stage fitted values are collinear with the other regressors. Use "
            "instruments that are related to the endogenous regressors.")
    beta, Xh, bread = fit
    e = y - X @ beta
    infl = (Xh * (w * e)[:, None]) @ bread

    def refit(wr):
        got = _two_stage(X, Z, y, wr)
        return None if got is None else got[0]

    cov, design_used = design.model_vcov(beta, rows, infl, refit,
                                         "instrumental-variable regression")
    first = _first_stage(design, rows, X, Z, w, x_names, z_names, endogenous)
    rhs_r = rhs.replace("C(", "factor(")
    inst_r = inst.replace("C(", "factor(")
    # R's svyivreg stops on rows with a missing value ("arguments must have same length")
    des_r = ("design" if not n_missing else
             f"subset(design, complete.cases({', '.join(map(_r_name, variables))}))")
    x_terms, z_terms = _terms(rhs), _terms(inst)
    exog = [_stata_var(t) for t in x_terms if t in z_terms]
    endo = [_stata_var(t) for t in x_terms if t not in z_terms]
    excl = [_stata_var(t) for t in z_terms if t not in x_terms]
    stata_call = " ".join(["svy: ivregress 2sls", lhs, *exog,
                           f"({' '.join(endo)} = {' '.join(excl)})"])
    return IVResult(beta=beta, cov=cov, names=x_names, instruments=z_names,
                    endogenous=endogenous, nobs=len(rows), n_missing=n_missing, design=design,
                    formula=formula, df_resid=design_used.degf() + 1 - X.shape[1],
                    first_stage=first,
                    r_call=f"svyivreg({lhs} ~ {rhs_r} | {inst_r}, {des_r})  # with library(AER); "
                           "the design-based covariance is $cov.unscaled",
                    stata_call=stata_call)
