"""Archer-Lemeshow goodness-of-fit test of a survey logistic regression.

The Hosmer-Lemeshow idea carried over to survey data (Archer & Lemeshow 2006; Archer,
Lemeshow & Hosmer 2007): group the rows by quantiles of the fitted probability, and test with
the design-based variance whether the mean residual ``y - fitted`` is the same in every group.
Computed as R users compute it with the survey package: a survey regression of the residual
on the group and ``regTermTest``'s Wald F test of the group.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from numbers import Integral

import numpy as np
import pandas as pd

from socialhealth._stack import user_stacklevel
from socialhealth._text import show_given
from socialhealth.design.result_protocol import TEST_REASONS, Result
from socialhealth.errors import ModelError, SocialHealthWarning

__all__ = ["goodness_of_fit", "GoodnessOfFitResult"]


@dataclass(repr=False)
class GoodnessOfFitResult(Result):
    """Result of :func:`goodness_of_fit`.

    ``statistic`` is the Wald F (``chisq / df``) on ``df`` and ``ddf`` degrees of freedom with
    p-value ``p``; ``chisq`` the Wald statistic itself; ``groups`` the number of groups used.
    ``to_frame()`` has one row per group: ``group``, ``n`` (rows), ``fitted_low`` /
    ``fitted_high`` (the range of fitted probabilities in the group), ``observed`` and
    ``expected`` (weighted means of the outcome and of the fitted probability), and
    ``mean_residual`` with its design-based ``se``.
    """

    _not_applicable = TEST_REASONS

    table: pd.DataFrame
    statistic: float
    df: int
    ddf: float
    p: float
    chisq: float
    groups: int
    nobs: int
    r_call: str = ""
    design_label: str = ""
    extra: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per group (a copy); the test itself is in ``statistic``, ``df``, ``ddf``,
        ``p``."""
        return self.table.copy()

    def __repr__(self) -> str:
        lines = ["Archer-Lemeshow goodness-of-fit test"
                 + (f": {self.design_label}" if self.design_label else "")]
        with pd.option_context("display.width", 120, "display.float_format", "{:.6g}".format):
            lines.append(self.table.to_string(index=False))
        lines.append(f"F = {self.statistic:.6g} on {self.df} and {self.ddf:g} df: "
                     f"p = {self.p:.4g} ({self.groups} groups of the fitted probability, "
                     f"{self.nobs} rows)")
        if self.r_call:
            lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)


def _free_name(columns, stem: str) -> str:
    name = stem
    while name in columns:
        name += "_"
    return name


def goodness_of_fit(model, groups: int = 10) -> GoodnessOfFitResult:
    """Archer-Lemeshow goodness-of-fit test of a survey logistic (binomial) regression.

    The rows the model used are put in ``g`` groups by the quantiles of their fitted
    probabilities ``p_i`` (R's default ``quantile``, unweighted, intervals closed on the
    right: ``cut(p, c(-Inf, quantile(p, (1:(g-1))/g), Inf))``). With the response residuals
    ``r_i = y_i - p_i``, the survey regression ``r ~ group`` is fitted on the model's design
    and its ``g - 1`` group coefficients are tested with the Wald F test:
    ``F = b' V^{-1} b / (g - 1)`` on ``g - 1`` and ``ddf = degf + 1 - g`` degrees of freedom,
    ``V`` the design-based covariance. A logistic model with an intercept has weighted mean
    residual 0, so this tests that the mean residual is 0 in every group: a small p-value says
    the fitted probabilities are off somewhere in their range.

    Parameters
    ----------
    model : SurveyGLMResult
        A model of ``design.glm(..., family="binomial")`` (any link) with a 0/1 response.
    groups : int, default 10
        Number of groups (deciles by default). Fitted probabilities with ties can leave groups
        empty; the test then uses the groups that have rows and warns.

    Returns
    -------
    GoodnessOfFitResult
        ``statistic``, ``df``, ``ddf``, ``p``, ``chisq`` (the Wald statistic, ``statistic *
        df``); ``to_frame()``: one row per group.

    Raises
    ------
    ModelError
        Not a binomial model, a ``cbind(successes, failures)`` response, fewer than two
        groups, or too few design degrees of freedom for the number of groups.

    Notes
    -----
    Stata's ``estat gof`` after ``svy: logistic`` reports the same Wald statistic with another
    finite-sample F adjustment (Archer & Lemeshow 2006); ``chisq`` is given so that it can be
    recomputed. Its groups may also be formed differently.

    References
    ----------
    Archer KJ, Lemeshow S (2006) Goodness-of-fit test for a logistic regression model fitted
    using survey sample data. *Stata Journal* 6:97-105.
    Archer KJ, Lemeshow S, Hosmer DW (2007) Goodness-of-fit tests for logistic regression
    models when data are collected using a complex sampling design. *Computational Statistics
    & Data Analysis* 51:4450-4464.

    Examples
    --------
    >>> import socialhealth as sh
    >>> apistrat = sh.datasets.load_example("apistrat")
    >>> apistrat["yes"] = apistrat["sch.wide"] == "Yes"
    >>> d = sh.SurveyDesign(apistrat, weights="pw", strata="stype", fpc="fpc")
    >>> m = d.glm("yes ~ api99 + ell + meals", family="binomial")
    >>> gof = sh.models.goodness_of_fit(m)
    >>> round(gof.statistic, 4), gof.df, gof.ddf, round(gof.p, 4)
    (1.7935, 9, 188.0, 0.0718)

    In R: ``r <- residuals(m, type = "response"); p <- fitted(m)``;
    ``g <- cut(p, c(-Inf, quantile(p, (1:9)/10), Inf))``;
    ``regTermTest(svyglm(r ~ g, update(design, r = r, g = g)), ~g)``
    (with ``r`` and ``g`` placed on the rows the model used).
    """
    from socialhealth.design.glm_result import SurveyGLMResult

    if not isinstance(model, SurveyGLMResult):
        raise ModelError("goodness_of_fit() takes a model from design.glm(..., "
                         f"family='binomial'), not {show_given(model)}.")
    if model.family not in ("binomial", "quasibinomial"):
        raise ModelError(f"goodness_of_fit() tests a logistic (binomial) model; this model's "
                         f"family is {model.family!r}. Fit it with family='binomial'.")
    if getattr(model, "trials", None) is not None:
        raise ModelError("goodness_of_fit() needs a 0/1 response; this model has a "
                         "cbind(successes, failures) response. Fit it on one row per person.")
    if isinstance(groups, bool) or not isinstance(groups, Integral) or groups < 2:
        raise ModelError(f"groups= must be a whole number of at least 2 (10 for deciles), not "
                         f"{show_given(groups)}.")
    groups = int(groups)
    rows = np.asarray(model.frame.rows)
    if groups > len(rows):
        raise ModelError(f"groups={groups} is more than the {len(rows)} rows the model used; "
                         "use fewer groups.")
    design = model.design
    fitted = model.predict(type="response").to_numpy()[rows]
    y = np.asarray(model.frame.y, dtype=float)
    residual = y - fitted
    cuts = np.quantile(fitted, np.arange(1, groups) / groups)        # R's type 7
    group = np.searchsorted(cuts, fitted, side="left")               # (cut_{k-1}, cut_k]
    used = np.unique(group)
    if len(used) < 2:
        raise ModelError("every fitted probability falls in one group (they are all equal), "
                         "so there is nothing to compare; the test needs a model whose fitted "
                         "probabilities differ between rows.")
    if len(used) < groups:
        warnings.warn(
            f"only {len(used)} of the {groups} groups have rows (tied fitted probabilities "
            "share a quantile); the test compares those groups.", SocialHealthWarning,
            stacklevel=user_stacklevel())
    degf = float(design.degf())
    ddf = degf + 1 - len(used)
    if not ddf > 0:
        raise ModelError(
            f"the design has {degf:g} degrees of freedom (PSUs minus strata), too few to test "
            f"{len(used)} groups (residual df {ddf:g}); use fewer groups (groups=).")
    n = len(design.data)
    col = {key: _free_name(design.data.columns, f"gof_{key}")
           for key in ("residual", "group", "outcome", "fitted")}
    codes = np.full(n, -1)
    codes[rows] = np.searchsorted(used, group)          # 0 .. len(used) - 1
    labels = [str(k + 1) for k in used]                 # the quantile group's number

    def on_rows(values) -> np.ndarray:                  # missing outside the model's rows
        out = np.full(n, np.nan)
        out[rows] = values
        return out

    d2 = design.assign(**{col["residual"]: on_rows(residual), col["outcome"]: on_rows(y),
                          col["fitted"]: on_rows(fitted),
                          col["group"]: pd.Categorical.from_codes(codes, categories=labels)})
    # (rows the model left out are missing here, and left out again)
    test = d2.glm(f"{col['residual']} ~ C({col['group']})").wald_test(f"C({col['group']})")
    means = d2.mean([col["residual"], col["outcome"], col["fitted"]],
                    by=col["group"]).to_frame()

    def by_group(key: str, column: str = "estimate") -> np.ndarray:
        rows_of = means[means["term"] == col[key]].set_index(col["group"])
        return rows_of.loc[labels, column].to_numpy()

    in_group = codes[rows]
    table = pd.DataFrame({
        "group": [int(lab) for lab in labels],
        "n": np.bincount(in_group, minlength=len(used)),
        "fitted_low": pd.Series(fitted).groupby(in_group).min().to_numpy(),
        "fitted_high": pd.Series(fitted).groupby(in_group).max().to_numpy(),
        "observed": by_group("outcome"),
        "expected": by_group("fitted"),
        "mean_residual": by_group("residual"),
        "se": by_group("residual", "se"),
    })
    q = f"(1:{groups - 1})/{groups}"
    r_call = (f"p <- fitted(model); g <- cut(p, c(-Inf, quantile(p, {q}), Inf)); "
              "regTermTest(svyglm(r ~ g, update(design, r = residuals(model, type = "
              "'response'), g = g)), ~g)")
    return GoodnessOfFitResult(
        table=table, statistic=float(test.statistic), df=int(test.df), ddf=float(test.ddf),
        p=float(test.p), chisq=float(test.statistic) * int(test.df), groups=len(used),
        nobs=len(rows), r_call=r_call, design_label=design.label)
