r"""Predictive margins of a survey GLM and their differences and ratios.

Definition (Graubard & Korn 1999; Lane & Nelder 1982)
-----------------------------------------------------
For a fitted survey GLM with coefficients ``b`` and a variable ``x`` set to the value ``v``
for *everyone* (other covariates as observed), the predictive margin is the weighted average
prediction

    M_v = sum_i w_i mu_i(v) / sum_i w_i,      mu_i(v) = g^{-1}(x_i(v)' b),

over the rows used by the model (``average_over="model"``, default; R's ``svypredmeans``
averages over the same rows, those of the model's design after ``na.omit``) or over every row
of the design's subset with complete covariates (``average_over="design"``, e.g. to include
rows with a missing outcome). Differences
``M_a - M_ref`` are adjusted risk differences; ratios ``M_a / M_ref`` adjusted risk
(prevalence) ratios.

Variance
--------
``variance="linearisation"`` (default; Graubard & Korn 1999, full Taylor linearisation): the
influence value of row ``i`` for ``M_v`` is

    z_i(v) = w_i (mu_i(v) - M_v) / W  +  d_v' u_i,     d_v = sum_j w_j (dmu/deta)_j x_j(v) / W,

``u_i`` being the model's influence values for ``b`` (score times bread, as in the sandwich
variance of the GLM). The design-based variance of ``sum_i z_i`` (strata, clusters, fpc)
accounts for both the sampling variability of the covariate distribution and of ``b``,
including their covariance. Replicate designs re-estimate the model *and* the margins with
each replicate's weights.

``variance="svypredmeans"``: R ``survey::svypredmeans`` - the variance of the mean of the
fixed predictions plus ``d_v' V(b) d_v``, i.e. the two parts without their covariance.
Use it to reproduce R's numbers digit for digit. On NHANES (high cholesterol by race,
adjusted for age group and sex) the covariance term changes the SEs by 2-4%; a jackknife
(JKn) re-estimation of model and margins agrees with the full linearisation to 0.5% and not
with the svypredmeans variance (tests/models/test_margins.py).

Differences have variance ``c' V c``; ratios use the delta method on the log scale
(``var(log M_a - log M_r) = g' V g``, ``g = (1/M_a, -1/M_r)``) with the interval
``exp(log ratio +- t se)``. Intervals and tests use t with the design degrees of freedom.

References
----------
Graubard BI, Korn EL (1999) Predictive margins with survey data. *Biometrics* 55:652-659.
Korn EL, Graubard BI (1999) *Analysis of Health Surveys*. Wiley, §4.4.
Lane PW, Nelder JA (1982) Analysis of covariance and standardization as instances of
prediction. *Biometrics* 38:613-621.
Lumley T (2010) *Complex Surveys*. Wiley (``svypredmeans``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from socialhealth._options import is_choice
from socialhealth._text import r_number, show, show_given, show_list
from socialhealth._deprecation import (
    LINEARISATION_ALIASES,
    renamed_parameter,
    renamed_value,
    warn_renamed,
)
from socialhealth.design.formula import formula_variables, split_top_level
from socialhealth.design.extension import refuse_negative_replicate_weights
from socialhealth.design.result_protocol import Result, analysis_scale
from socialhealth.design.results import check_level
from socialhealth.errors import ConvergenceError, MissingColumnError, ModelError

__all__ = ["MarginsResult", "margins"]

_VARIANCES = ("linearisation", "svypredmeans")
#: ``variance=`` of :func:`margins`.
MarginsVariance = Literal["linearisation", "svypredmeans"]
#: ``average_over=`` of :func:`margins`.
AverageOver = Literal["model", "design"]


@dataclass
class MarginsResult(Result):
    """Predictive margins with their differences and ratios (see :func:`margins`).

    Result protocol: ``coef()``, ``se()`` and ``confint(level=)`` have one row per row of
    :meth:`to_frame`, labelled ``"margin: <level>"``, ``"difference: <level> - <reference>"``
    and ``"ratio: <level> / <reference>"`` (ratios: ``se`` of the log ratio and the interval
    ``exp(log ratio +- q se)``, as in the table); ``vcov`` is the covariance of the margins (the
    ``"margin"`` rows).

    Attributes
    ----------
    table : tidy table, see :meth:`to_frame`.
    vcov : covariance matrix of the margins (levels in order).
    levels, reference, variable, df, variance, average_over, r_call.
        (``average_over`` was ``over`` until 0.2; ``over`` still reads it, with a
        DeprecationWarning.)

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> res = models.margins(sd.design.glm("poor_health ~ C(lonely) + age", family="binomial"),
    ...                      "lonely")
    >>> res.margins.round(3).to_dict()
    {'False': 0.195, 'True': 0.368}
    >>> res.levels, res.reference
    ([False, True], False)

    In R: ``svypredmeans(model, ~factor(lonely))`` (see :func:`margins` for the ``variance=``
    option that matches it).
    """

    table: pd.DataFrame
    vcov: np.ndarray
    levels: list
    reference: object
    variable: str
    df: float
    variance: str
    average_over: str
    r_call: str
    level: float = 0.95

    def _estimates(self, level: float) -> pd.DataFrame:
        t = self.table
        labels = []
        for r in t.itertuples(index=False):
            sep = {"difference": " - ", "ratio": " / "}.get(r.kind)
            labels.append(f"{r.kind}: {r.level}" + (f"{sep}{r.reference}" if sep else ""))
        return analysis_scale(labels, t["estimate"], t["se"], t["ci_low"], t["ci_high"],
                              (t["kind"] == "ratio").to_numpy(), self.df, level, self.level)

    @property
    def over(self) -> str:
        """Deprecated spelling of :attr:`average_over`."""
        warn_renamed("MarginsResult", "over", "average_over", "0.1.0", attribute=True)
        return self.average_over

    def to_frame(self) -> pd.DataFrame:
        """Columns ``kind`` (``"margin"``, ``"difference"``, ``"ratio"``), ``variable``,
        ``level``, ``reference`` (for contrasts), ``estimate``, ``se`` (ratios: of the log
        ratio), ``ci_low``, ``ci_high``, ``statistic``, ``p`` (contrasts: H0 no difference),
        ``df``."""
        return self.table.copy()

    @property
    def margins(self) -> pd.Series:
        """The predictive margins (rows of kind ``"margin"``) indexed by level."""
        t = self.table[self.table["kind"] == "margin"]
        return pd.Series(t["estimate"].to_numpy(), index=[str(v) for v in t["level"]],
                         name="margin")

    def __repr__(self) -> str:
        lines = [f"Predictive margins of {self.variable} ({self.variance}; averaged over the "
                 f"{'model rows' if self.average_over == 'model' else 'design rows'})"]
        for r in self.table.itertuples(index=False):
            ref = "" if r.kind == "margin" else f" vs {r.reference}"
            lines.append(f"  {r.kind:<11}{str(r.level) + ref:<24}{r.estimate:>10.4g}"
                         f"  ({r.ci_low:.4g}, {r.ci_high:.4g})")
        lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)


# ----------------------------------------------------------------------------- helpers

def _r_call(model_call: str, variable: str, variance: str, other_rows: bool, at,
            complete: list[str] | None) -> str:
    """R's ``svypredmeans`` call: the model's ``svyglm`` call without the terms of
    ``variable`` (svypredmeans adds ``factor(variable)`` itself), on the design restricted to
    the rows with ``complete`` present (if given), and what R cannot match (``other_rows``:
    margins averaged over rows the model leaves out)."""
    model_call = re.sub(r", start = c\([^)]*\)", "", model_call)   # (start= is the full model's)
    head, _, rest = model_call.partition("(")
    formula, _, tail = rest.partition(", design = ")
    lhs, _, rhs = formula.partition(" ~ ")
    name = re.compile(rf"(?<![A-Za-z0-9._`]){re.escape(variable)}(?![A-Za-z0-9._`])|"
                      rf"`{re.escape(variable)}`")
    terms = split_top_level(rhs, "+")
    # the other terms; of an interaction x * z with the variable, z
    others = [t for t in terms if not name.search(t)]
    others += [p.strip() for t in terms if name.search(t) and ":" not in t
               for p in t.split("*") if not name.search(p) and p.strip() not in others]
    if complete:
        names = ", ".join(c if re.fullmatch(r"[A-Za-z.][A-Za-z0-9._]*", c) else f"`{c}`"
                          for c in complete)
        tail = tail.replace("design", f"subset(design, complete.cases({names}))", 1)
    # at= values of a variable that enters the model as it is (a linear term): R's grouping
    # is the variable itself, at predictat = c(...) (svypredmeans adds it as a linear term)
    linear_at = (at is not None and all(name.fullmatch(t) for t in terms if name.search(t))
                 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in at))
    group = (f"~{variable}, predictat = c({', '.join(r_number(v) for v in at)})"
             if linear_at else f"~factor({variable})")
    call = (f"svypredmeans({head}({lhs} ~ {' + '.join(others) or '1'}, design = {tail}, "
            f"{group})")
    notes = []
    if any(name.search(t) and (":" in t or "*" in t) for t in terms):
        notes.append(f"R's svypredmeans cannot fit {variable}'s interactions: its margins "
                     "differ")
    elif other_rows:
        notes.append("R averages over the model's rows only (average_over=\"model\"): its "
                     "margins differ")
    elif at is not None and not linear_at:
        notes.append(f"R predicts at the levels of factor({variable}), not at these at= values")
    if variance != "svypredmeans" and not notes:
        notes.append("the same margins; its standard errors are those of "
                     "variance=\"svypredmeans\"")
    return call + ("  # " + "; ".join(notes) if notes else "")


def _model_of(model):
    if hasattr(model, "models") and hasattr(model, "formulas"):   # AssociationTable
        fitted = [m for m in model.models if m is not None]
        if not fitted:
            raise ModelError("the association table holds no fitted model to compute margins from.")
        return fitted[-1]
    for attr in ("params", "frame", "design", "link", "family"):
        if not hasattr(model, attr):
            raise ModelError("margins() needs a survey GLM from design.glm(...) (or an association "
                             "table).")
    return model


def _levels(col: pd.Series, used: np.ndarray, at):
    if at is not None:
        if isinstance(at, (str, bytes, dict)) or np.ndim(at) != 1:
            raise ModelError(f"at= takes a list of the values to compare, e.g. at=[20, 40, 60] "
                             f"or at=['low', 'high'], not {show_given(at)}.")
        lv = list(at)
        if len(lv) < 1:
            raise ModelError("at= needs at least one value.")
        return lv
    if isinstance(col.dtype, pd.CategoricalDtype):
        present = set(col.iloc[np.flatnonzero(used)].dropna().unique())
        return [c for c in col.cat.categories if c in present]
    vals = pd.unique(col.iloc[np.flatnonzero(used)].dropna())
    if pd.api.types.is_bool_dtype(col):
        return [False, True]
    if pd.api.types.is_numeric_dtype(col):
        if len(vals) <= 2 and set(np.asarray(vals, dtype=float)) <= {0.0, 1.0}:
            return [0, 1]
        if len(vals) > 10:
            raise ModelError(
                f"{col.name!r} is numeric with {len(vals)} distinct values; give the values to "
                "predict at, e.g. at=[20, 40, 60].")
        vals = sorted(float(v) for v in vals)
        return [int(v) if v.is_integer() else v for v in vals]
    return sorted(vals, key=lambda v: (str(type(v)), v))


def _check_at_levels(formula: str, col: pd.Series, rows_m: np.ndarray, variable: str,
                     lv: list) -> None:
    """Refuse ``at=`` values of a categorical variable that the model has not seen: such a
    level has no coefficient, and its dummy columns would all be 0, i.e. the prediction of the
    reference level (R's ``predict()`` stops: "factor has new level")."""
    categorical = not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))
    if not categorical:
        pattern = rf"(?:C|factor)\(\s*`?{re.escape(variable)}`?\s*[,)]"
        categorical = re.search(pattern, formula) is not None
    if not categorical:
        return
    seen = pd.unique(col.iloc[rows_m].dropna())
    unknown = [v for v in lv if not any(v == s for s in seen)]
    if unknown:
        raise ModelError(
            f"at= value(s) {show_list(unknown)} are not levels of {variable!r} among "
            f"the model's rows (levels: {show_list(sorted(map(str, seen)))}); a "
            "level the model has not seen has no coefficient (R: predict() stops with 'factor "
            "has new level').")


def _set_value(frame: pd.DataFrame, var: str, value, original: pd.Series) -> pd.DataFrame:
    out = frame.copy()
    n = len(out)
    if isinstance(original.dtype, pd.CategoricalDtype):
        out[var] = pd.Categorical([value] * n, categories=original.cat.categories,
                                  ordered=original.cat.ordered)
    elif pd.api.types.is_bool_dtype(original):
        out[var] = np.full(n, bool(value))
    elif pd.api.types.is_numeric_dtype(original):
        out[var] = np.full(n, float(value))
    else:
        out[var] = pd.Series([value] * n, index=out.index, dtype=original.dtype)
    return out


def _model_influence(res, X, y, pw, lk, fam):
    """Influence values of the GLM coefficients (m x p): score_i x bread, and the bread."""
    beta = res.params.to_numpy()
    eta = X @ beta
    mu = lk.linkinv(eta)
    mu_eta = lk.mu_eta(eta)
    var = fam.variance(mu)
    W = pw * mu_eta**2 / var
    A = (X * W[:, None]).T @ X
    bread = np.linalg.inv(A)
    score_w = pw * (y - mu) * mu_eta / var
    return (X * score_w[:, None]) @ bread


def _check_model_variable(res, data: pd.DataFrame, variable: str) -> set:
    """The model's covariates; raises when ``variable`` is not one or the model is unsupported."""
    if variable not in data.columns:
        raise MissingColumnError([variable], data.columns, "the model's design data")
    used_vars = (set().union(*res.frame.term_variables.values()) if res.frame.term_variables
                 else set())
    if variable not in used_vars:
        raise ModelError(f"{variable!r} is not a covariate of the model {res.formula!r}.")
    if getattr(res, "offset", None) is not None:
        raise ModelError("margins() does not support models with an offset.")
    if getattr(res, "trials", None) is not None:
        raise ModelError("margins() does not support binomial-count models (cbind(successes, "
                         "failures) response) yet; fit the 0/1 outcome per trial instead.")
    return used_vars


def _counterfactual_matrices(res, data, variable, lv, rows_a, used_vars) -> list[np.ndarray]:
    """Model matrices of the rows averaged over with ``variable`` set to each level."""
    cols = sorted(used_vars)
    base = data[cols].iloc[rows_a]
    Xv = []
    for v in lv:
        Xn, ok = res.frame.rhs_matrix(_set_value(base, variable, v, data[variable]))
        if not ok.all():
            raise ModelError(f"cannot predict with {variable} = {show(v)} for every row (missing "
                             f"covariates).")
        Xv.append(Xn)
    return Xv


def _margins_table(M, V, lv, reference, variable, q, df) -> pd.DataFrame:
    """Margins, differences and log-scale ratios to ``reference`` with CIs and t tests."""
    L = len(lv)
    rows = []
    se = np.sqrt(np.clip(np.diag(V), 0, None))
    for j, v in enumerate(lv):
        rows.append(dict(kind="margin", variable=variable, level=v, reference=None, estimate=M[j],
                         se=se[j], ci_low=M[j] - q * se[j], ci_high=M[j] + q * se[j],
                         statistic=np.nan, p=np.nan, df=df))
    r = lv.index(reference)
    for j, v in enumerate(lv):
        if j == r:
            continue
        c = np.zeros(L)
        c[j], c[r] = 1.0, -1.0
        est = M[j] - M[r]
        s = float(np.sqrt(max(c @ V @ c, 0.0)))
        t = est / s if s > 0 else np.nan
        rows.append(dict(kind="difference", variable=variable, level=v, reference=reference,
                         estimate=est, se=s, ci_low=est - q * s, ci_high=est + q * s, statistic=t,
                         p=2 * stats.t.sf(abs(t), df) if np.isfinite(t) else np.nan, df=df))
    for j, v in enumerate(lv):
        if j == r:
            continue
        if M[j] <= 0 or M[r] <= 0:
            continue
        g = np.zeros(L)
        g[j], g[r] = 1.0 / M[j], -1.0 / M[r]
        lr = np.log(M[j] / M[r])
        s = float(np.sqrt(max(g @ V @ g, 0.0)))
        t = lr / s if s > 0 else np.nan
        rows.append(dict(kind="ratio", variable=variable, level=v, reference=reference,
                         estimate=np.exp(lr), se=s, ci_low=np.exp(lr - q * s),
                         ci_high=np.exp(lr + q * s),
                         statistic=t, p=2 * stats.t.sf(abs(t), df) if np.isfinite(t) else np.nan,
                         df=df))
    table = pd.DataFrame(rows)
    table["level"] = table["level"].astype(object)
    table["reference"] = table["reference"].astype(object)
    return table


@renamed_parameter("over", "average_over", since="0.1.0")
def margins(
    model,
    variable: str,
    at: Sequence | None = None,
    reference=None,
    average_over: AverageOver = "model",
    variance: MarginsVariance = "linearisation",
    level: float = 0.95,
) -> MarginsResult:
    r"""Predictive margins (adjusted means/prevalences) of a survey GLM, with differences and
    ratios.

    Sets ``variable`` to each level for every row, averages the predicted outcome with the
    survey weights, and estimates design-based standard errors by linearisation (or replicate
    re-estimation); see the module docstring for the formulas.

    Parameters
    ----------
    model : a fitted ``design.glm(...)`` result, or an :class:`AssociationTable` (its most
        adjusted model is used).
    variable : a data column used in the model (``"lonely"`` also for a ``C(lonely)`` term).
    at : sequence, optional
        Values to set (default: the categories, ``[0, 1]`` for a 0/1 variable,
        ``[False, True]`` for a boolean); required for a continuous variable.
    reference : level the others are compared with (default: the first).
    average_over : {"model", "design"}, default "model"
        ``"model"``: the rows used by the model (as ``svypredmeans``); ``"design"``: every row
        of the design's subset with complete covariates. (Until 0.2 ``over=``; it is not a
        grouping, which is ``by`` elsewhere, nor Stata's ``margins, over()``.)
    variance : {"linearisation", "svypredmeans"}, default "linearisation"
        Full Graubard-Korn linearisation, or R's ``svypredmeans`` variance. Stata's
        spelling ``"linearization"`` is accepted, with a DeprecationWarning.
    level : confidence level.

    Returns
    -------
    MarginsResult
        ``to_frame()``: one ``margin`` row per level, then ``difference`` and ``ratio`` rows
        for each non-reference level.

    Raises
    ------
    ModelError : the variable is not in the model, the model has an offset, a continuous
        variable without ``at=``, an ``at=`` value that is not a level of a categorical
        variable among the model's rows, unknown options.

    References
    ----------
    Graubard & Korn (1999) Biometrics 55:652-659; Korn & Graubard (1999) *Analysis of Health
    Surveys*, §4.4; Lumley (2010) *Complex Surveys*.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> m = sd.design.glm("poor_health ~ C(lonely) + age + C(sex)", family="binomial")
    >>> res = models.margins(m, "lonely")
    >>> print(res.to_frame()[["kind", "level", "estimate", "ci_low", "ci_high"]]
    ...       .round(3).to_string())
             kind  level  estimate  ci_low  ci_high
    0      margin  False     0.195   0.187    0.202
    1      margin   True     0.367   0.334    0.400
    2  difference   True     0.173   0.139    0.207
    3       ratio   True     1.888   1.710    2.084

    In R: ``svypredmeans(svyglm(poor_health ~ age + sex, design, family = quasibinomial()),
    ~factor(lonely))`` (with ``variance="svypredmeans"``; where the model leaves rows out, on
    ``subset(design, complete.cases(...))`` of its variables, as ``res.r_call`` prints), then
    ``svycontrast(means, c(-1, 1))`` for the difference.
    """
    from socialhealth.design import glm as glm_module
    from socialhealth.design.extension import fit_glm

    if not is_choice(average_over, ("model", "design")):
        raise ModelError(f"average_over={show_given(average_over)} must be 'model' or 'design'.")
    level = check_level(level, ModelError)
    if not isinstance(variable, str):
        raise ModelError(f"variable= takes one column name of the model (a string), not "
                         f"{show_given(variable)}; call margins() once per variable.")
    variance = renamed_value("margins", "variance", variance, LINEARISATION_ALIASES, "0.1.0")
    if not is_choice(variance, _VARIANCES):
        raise ModelError(f"variance={show_given(variance)} must be 'linearisation' or "
                         "'svypredmeans'.")
    res = _model_of(model)
    design = res.design
    data = design.data
    used_vars = _check_model_variable(res, data, variable)
    fam = glm_module.FAMILIES[res.family]
    lk = glm_module.LINKS[res.link]
    beta = res.params.to_numpy()
    rows_m = res.frame.rows
    X_m = res.frame.X
    y_m = res.frame.y
    n = len(data)
    in_subset = design.in_subset
    w_all = design.weights

    # rows to average over
    if average_over == "model":
        rows_a = rows_m
    else:
        Xa, ok = res.frame.rhs_matrix(data)
        rows_a = np.flatnonzero(ok & in_subset)
    lv = _levels(data[variable], np.isin(np.arange(n), rows_m), at)
    if at is not None:
        _check_at_levels(res.formula, data[variable], rows_m, variable, lv)
    if reference is None:
        reference = lv[0]
    if not is_choice(reference, lv):
        raise ModelError(f"reference={show_given(reference)} is not among the levels "
                         f"{show_list(lv)}.")
    Xv = _counterfactual_matrices(res, data, variable, lv, rows_a, used_vars)
    L = len(lv)

    def compute(w_a, b):
        W = w_a.sum()
        M = np.empty(L)
        D = np.empty((len(b), L))
        mus = []
        for j in range(L):
            eta = Xv[j] @ b
            mu = lk.linkinv(eta)
            M[j] = w_a @ mu / W
            D[:, j] = (Xv[j] * (w_a * lk.mu_eta(eta))[:, None]).sum(axis=0) / W
            mus.append(mu)
        return M, D, mus, W

    w_a = w_all[rows_a]
    M, D, mus, W = compute(w_a, beta)

    union = np.zeros(n, dtype=bool)
    union[rows_a] = True
    union[rows_m] = True
    design_used = (design if union.sum() == in_subset.sum()
                   else design.with_weights(np.where(union, w_all, 0.0)))

    pw_m = w_all[rows_m]

    def influence_pred():
        Z = np.zeros((n, L))
        for j in range(L):
            Z[rows_a, j] += w_a * (mus[j] - M[j]) / W
        return Z

    def influence_full():
        Z = influence_pred()
        U = _model_influence(res, X_m, y_m, pw_m, lk, fam)
        Z[rows_m] += U @ D
        return Z

    n_calls = [0]

    def refit_full(w_r):
        n_calls[0] += 1
        wr = np.asarray(w_r, dtype=float)
        fit = fit_glm(X_m, y_m, wr[rows_m], res.family, res.link, start=beta, names=res.names)
        if not fit.converged:
            raise ConvergenceError(f"the model did not converge with replicate weights set "
                                   f"{n_calls[0]}.")
        Mr, _, _, _ = compute(wr[rows_a], fit.beta)
        return Mr

    def refit_pred(w_r):
        wr = np.asarray(w_r, dtype=float)[rows_a]
        return np.array([wr @ mus[j] / wr.sum() for j in range(L)])

    if variance == "linearisation":
        refuse_negative_replicate_weights(
            design_used, rows_m, "margins with variance='linearisation' (model refits per "
            "replicate)", "R's svyglm treats them as 0 in its refits (glm.fit keeps positive "
            "weights) while the predictions use them as given.")
        V = design_used.estimator_vcov(M, influence=influence_full, refit=refit_full)
    else:
        Vb = res.cov_params().to_numpy()
        V = design_used.estimator_vcov(M, influence=influence_pred, refit=refit_pred) + D.T @ Vb @ D
    df = float(design_used.degf())
    q = stats.t.ppf(1 - (1 - level) / 2,
                    df) if np.isfinite(df) and df > 0 else stats.norm.ppf(1 - (1 - level) / 2)

    table = _margins_table(M, V, lv, reference, variable, q, df)
    # svypredmeans averages over the rows of its model without the variable: the design is
    # restricted to the rows of our model (with the variable present); R cannot average over
    # rows the model leaves out (average_over="design" with a missing outcome)
    complete = None
    if len(rows_m) < int(np.sum(in_subset)):
        complete = formula_variables(res.formula, data)
    r_call = _r_call(res.r_call, variable, variance, len(rows_a) != len(rows_m), at, complete)
    return MarginsResult(table=table, vcov=V, levels=lv, reference=reference, variable=variable,
                         df=df, variance=variance, average_over=average_over,
                         r_call=r_call, level=level)
