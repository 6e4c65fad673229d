r"""Effect modification: the exposure effect within levels of a modifier (product-term model).

One survey GLM with the exposure, the modifier (categorical) and their product,

    g(mu) = b0 + x' b_x + sum_l m_l (g_l + x' c_l) + adjustment terms,

gives the stratum-specific effects ``b_x + c_l`` (the exposure effect when the modifier is at
level ``l``; ``c_ref = 0``) as linear contrasts ``k' b`` with variance ``k' V k`` (V the
design-based sandwich covariance), reported on the measure's scale (exp for odds/prevalence
ratios) with t intervals on the model's residual design df. The contrast vectors are built
from the model matrix itself (difference of the design rows for exposure level vs reference at
modifier level ``l``), so they do not depend on how columns are named.

Heterogeneity: the design-based Wald F test that every product-term coefficient is zero
(R ``regTermTest(model, ~exposure:modifier)``; Lumley 2010 §5.2.2).

References
----------
Lumley T (2010) *Complex Surveys*. Wiley, ch. 5. Knol MJ, VanderWeele TJ (2012) Recommendations
for presenting analyses of effect modification and interaction. *Int J Epidemiol* 41:514-520.
"""
from __future__ import annotations

import re
import warnings
from typing import TYPE_CHECKING, Literal
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from socialhealth._stack import user_stacklevel
from socialhealth._text import show, show_given
from socialhealth.design.formula import formula_variables, split_top_level
from socialhealth.design.result_protocol import Result, analysis_scale
from socialhealth.design.results import check_level
from socialhealth.design.structure import check_flag
from socialhealth.errors import MissingColumnError, ModelError, SocialHealthWarning
from socialhealth.models._association import (MEASURES, _check_adjust, _start, adjust_blocks,
                                             _no_df_note, check_names, exposure_term, to_maximum)

if TYPE_CHECKING:
    from socialhealth.design.glm import SurveyGLMResult, WaldTest

__all__ = ["InteractionResult", "interaction"]


@dataclass
class InteractionResult(Result):
    """Stratum-specific exposure effects and the interaction test (see :func:`interaction`).

    Result protocol: ``coef()``, ``se()`` and ``confint(level=)`` are on the link scale (log
    odds ratio, log prevalence/rate ratio, difference), where ``se`` is, one row per row of
    :meth:`to_frame` (labelled ``"<modifier>=<level>"``, plus the exposure level); the table's
    ratios are their ``exp()``. ``vcov`` does not apply (use ``model.vcov``).

    Attributes
    ----------
    table : see :meth:`to_frame`.
    wald : the Wald test of the product term(s) (``statistic``, ``df``, ``ddf``, ``p``).
    model : the fitted survey GLM; formula, exposure, modifier, measure.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> r = models.interaction(sd.design, exposure="lonely", outcome="poor_health", by="sex",
    ...                        adjust=["age"])
    >>> r.wald
    Wald test for lonely:C(sex) (lonely:C(sex)[T.male])
      F = 1.22257 on 1 and 707 df: p = 0.2692
      In R: regTermTest(model, ~lonely:C(sex), method = "Wald")

    In R: ``regTermTest(svyglm(poor_health ~ lonely * sex + age, design,
    family = quasibinomial()), ~lonely:sex)``.
    """

    table: pd.DataFrame
    wald: WaldTest
    model: SurveyGLMResult
    formula: str
    exposure: str
    modifier: str
    measure: str
    level: float = 0.95

    _not_applicable = {"vcov": "the stratum effects are contrasts of one model; their joint "
                               "covariance is not kept (use model.vcov)."}

    @property
    def r_call(self) -> str:
        """The matching R calls (model and interaction test)."""
        # the interaction term as the model's R formula writes it (factor(x, levels = ...) for
        # categories not in sorted order): regTermTest needs R's own term label
        rhs = self.model.r_call.split(" ~ ", 1)[1].split(", design = ", 1)[0]
        terms = split_top_level(rhs, "+")
        inter = [t for t in terms if ":" in re.sub(r"\([^()]*(\([^()]*\)[^()]*)*\)", "", t)]
        return f"model <- {self.model.r_call}; regTermTest(model, ~{' + '.join(inter)})"

    def _estimates(self, level: float) -> pd.DataFrame:
        t = self.table
        labels = [f"{self.modifier}={r.modifier_level}"
                  + (f", {self.exposure}[{r.level}]" if r.level is not None else "")
                  for r in t.itertuples(index=False)]
        return analysis_scale(labels, t["estimate"], t["se"], t["ci_low"], t["ci_high"],
                              MEASURES[self.measure][2], t["df"], level, self.level)

    def to_frame(self) -> pd.DataFrame:
        """Columns: ``modifier``, ``modifier_level``, ``exposure``, ``level`` (exposure level
        for a categorical exposure), ``estimate``, ``se`` (link scale), ``ci_low``,
        ``ci_high``, ``p``, ``n`` (rows of the model), ``df``, ``measure``,
        ``interaction_p`` (the Wald test, repeated on every row)."""
        return self.table.copy()

    def __repr__(self) -> str:
        lines = [f"Effect of {self.exposure} by {self.modifier} ({MEASURES[self.measure][3]})"]
        for r in self.table.itertuples(index=False):
            lv = f" [{r.level}]" if r.level is not None else ""
            lines.append(f"  {self.modifier} = {r.modifier_level!s:<12}{lv:<10}{r.estimate:>9.3f} "
                         f"({r.ci_low:.3f}, {r.ci_high:.3f})  p={r.p:.3g}")
        w = self.wald
        lines.append(f"Interaction: F = {w.statistic:.4g} on {w.df} and {w.ddf:g} df, p = "
                     f"{w.p:.4g}")
        lines.append(f"In R: {self.r_call}")
        return "\n".join(lines)


def _levels(s: pd.Series, mask: np.ndarray) -> list:
    if isinstance(s.dtype, pd.CategoricalDtype):
        present = set(s[mask].dropna().unique())
        return [c for c in s.cat.categories if c in present]
    return sorted(pd.unique(s[mask].dropna()), key=lambda v: (str(type(v)), v))


def interaction(
    design,
    exposure: str,
    outcome: str,
    by: str,
    adjust=None,
    measure: Literal["or", "pr", "rd", "coef", "rr"] = "or",
    categorical: bool | None = None,
    reference=None,
    complete_cases: bool = True,
    level: float = 0.95,
) -> InteractionResult:
    r"""Exposure effect within each level of a modifier, with the Wald test of the interaction.

    Fits ``outcome ~ exposure * C(by) + adjust`` as a survey GLM and reports the exposure
    effect at every level of ``by`` (see the module docstring).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign.
    exposure, outcome : as :func:`socialhealth.models.association`.
    by : the modifier column (treated as categorical; reference = first level).
    adjust : adjustment terms (a flat list, or blocks that are all included).
    measure : ``"or"``, ``"pr"``, ``"rd"`` or ``"coef"`` (no fallbacks here: a model that
        fails raises).
    categorical, reference : exposure coding, as in ``association``.
    complete_cases : fit on rows complete on every model variable (always true for one model;
        kept for symmetry with ``association``).
    level : confidence level.

    Returns
    -------
    InteractionResult
        ``to_frame()`` one row per (modifier level, exposure level); ``wald`` the test.

    Raises
    ------
    MissingColumnError / FormulaError : unknown columns; ModelError : the modifier has fewer
    than 2 levels, or the exposure does not vary within a modifier level (the product term is
    then not estimable).

    References
    ----------
    Lumley (2010) *Complex Surveys*, ch. 5; Knol & VanderWeele (2012) Int J Epidemiol 41:514-520.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> r = models.interaction(sd.design, exposure="lonely", outcome="poor_health", by="sex",
    ...                        adjust=["age", "education"])
    >>> cols = ["modifier_level", "estimate", "ci_low", "ci_high"]
    >>> print(r.to_frame()[cols].round(3).to_string())          # odds ratios within each sex
      modifier_level  estimate  ci_low  ci_high
    0         female     2.676   2.126    3.367
    1           male     2.251   1.792    2.828
    >>> round(r.wald.p, 3)                                       # test of lonely x sex
    0.299

    In R: ``m <- svyglm(poor_health ~ lonely * factor(sex) + age + education, design,
    family = quasibinomial()); svycontrast(m, ...); regTermTest(m, ~lonely:factor(sex))``.
    """
    if not isinstance(measure, str) or measure not in MEASURES:
        raise ModelError(f"measure={show_given(measure)} is not one of {', '.join(MEASURES)}.")
    level = check_level(level, ModelError)
    family, link, expo, _ = MEASURES[measure]
    check_names(exposure=exposure, outcome=outcome, by=by)
    complete_cases = check_flag(complete_cases, "complete_cases", "interaction()")
    if categorical is not None:
        categorical = check_flag(categorical, "categorical", "interaction()")
    data = design.data
    for col, what in ((by, "modifier"), (outcome, "outcome")):
        if col not in data.columns and "(" not in col:
            raise MissingColumnError([col], data.columns, f"the design data ({what})")
    blocks = adjust_blocks(adjust)
    _check_adjust(blocks, data)
    terms = [t for b in blocks for t in b]
    x_term = exposure_term(data, exposure, categorical, reference)
    by_term = f"C({by})"
    formula = f"{outcome} ~ {x_term} + {by_term} + {x_term}:{by_term}" + "".join(f" + {t}"
                                                                                 for t in terms)
    variables = formula_variables(formula, data)
    ok = data[variables].notna().all(axis=1).to_numpy() & design.in_subset
    if not ok.any():
        raise ModelError(f"no row has complete data on {', '.join(variables)}.")
    work = design.subset(ok) if ok.sum() < design.in_subset.sum() else design
    by_levels = _levels(data[by], ok)
    if len(by_levels) < 2:
        raise ModelError(f"the modifier {by!r} has {len(by_levels)} level(s) among the rows used; "
                         "an interaction needs at least 2.")
    for lv in by_levels:
        m_l = ok & (data[by] == lv).to_numpy()
        if exposure in data.columns and data.loc[m_l, exposure].nunique() < 2:
            raise ModelError(
                f"the exposure {exposure!r} does not vary among the rows with {by} = {show(lv)} "
                f"({int(m_l.sum())} rows); its effect in that stratum cannot be estimated. Drop or "
                "merge that level of the modifier.")
    res = to_maximum(work, work.glm(formula, family=family, link=link,
                                    start=_start(work, formula, family, link)), {})
    # product term(s) for the Wald test
    prod_terms = [t for t, vs in res.frame.term_variables.items()
                  if ":" in t and exposure in vs and by in vs]
    if not prod_terms:
        raise ModelError(f"no product term of {exposure!r} and {by!r} in the model "
                         f"{res.formula!r}.")
    no_df = _no_df_note(res)
    if no_df:
        warnings.warn(f"interaction model {res.formula!r}: {no_df}.", SocialHealthWarning,
                      stacklevel=user_stacklevel())
    wald = res.wald_test(prod_terms)
    # contrast vectors from the model matrix
    x_levels: list = [None]
    ref: object
    comp: list
    if exposure in data.columns and x_term.startswith("C("):
        x_levels = _levels(data[exposure], ok)
        ref = x_levels[0] if reference is None else reference
        comp = [v for v in x_levels if v != ref]
    else:
        ref, comp = 0, [1]
    template = data.iloc[[int(np.flatnonzero(ok)[0])]][variables]
    b = res.params.to_numpy()
    V = res.cov_params().to_numpy()
    q = stats.t.ppf(1 - (1 - level) / 2, res.df_resid)
    rows = []
    for lv in by_levels:
        for a in comp:
            pair = pd.concat([template, template], ignore_index=True)
            if x_levels == [None]:
                if exposure in data.columns:
                    orig = data[exposure]
                    val = [True, False] if pd.api.types.is_bool_dtype(orig) else [1.0, 0.0]
                    pair[exposure] = pd.Series(val, dtype=orig.dtype
                                               if pd.api.types.is_bool_dtype(orig) else float)
                else:
                    raise ModelError("interaction() needs the exposure to be a data column.")
            else:
                orig = data[exposure]
                if isinstance(orig.dtype, pd.CategoricalDtype):
                    pair[exposure] = pd.Categorical([a, ref], categories=orig.cat.categories)
                else:
                    pair[exposure] = pd.Series([a, ref], dtype=orig.dtype)
            orig_by = data[by]
            if isinstance(orig_by.dtype, pd.CategoricalDtype):
                pair[by] = pd.Categorical([lv, lv], categories=orig_by.cat.categories)
            else:
                pair[by] = pd.Series([lv, lv], dtype=orig_by.dtype)
            Xp, okp = res.frame.rhs_matrix(pair)
            k = Xp[0] - Xp[1]
            est = float(k @ b)
            se = float(np.sqrt(max(k @ V @ k, 0.0)))
            t = est / se if se > 0 else np.nan
            lo, hi = est - q * se, est + q * se
            if expo:
                e_out, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
            else:
                e_out = est
            rows.append(dict(modifier=by, modifier_level=lv, exposure=exposure,
                             level=None if x_levels == [None] else a, estimate=e_out, se=se,
                             ci_low=lo, ci_high=hi, p=2 * stats.t.sf(abs(t), res.df_resid),
                             n=res.nobs, df=res.df_resid, measure=measure, interaction_p=wald.p))
    table = pd.DataFrame(rows)
    table["level"] = table["level"].astype(object)
    return InteractionResult(table=table, wald=wald, model=res, formula=formula, exposure=exposure,
                             modifier=by, measure=measure, level=level)
