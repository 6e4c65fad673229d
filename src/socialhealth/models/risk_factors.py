r"""Social isolation and loneliness next to established risk factors, on the same data.

:func:`compare_risk_factors` estimates the association of each exposure (loneliness,
isolation, living alone) and each comparator (smoking, obesity, physical inactivity) with one
outcome on the *same rows* (complete cases on every factor, the outcome and the adjustment
set, so ``n`` is identical) with the *same adjustment set*, one survey GLM per factor (or one
mutually adjusted model with ``mutual=True``). Published pooled estimates from
:mod:`socialhealth.models.anchors` are appended as rows with ``source="anchor"``, exactly as
published (never re-estimated).

Orientation. Published estimates differ in direction: Holt-Lunstad et al. (2010) report
OR > 1 as the benefit of *stronger* relationships (deficit measures were inverted by the
authors); physical-activity and smoking-cessation meta-analyses report the *benefit* of the
behaviour (ratio < 1). The anchors file marks each row with ``direction`` and
``adverse_rule``; here every anchor is put on the "adverse state vs favourable state" scale
(:func:`socialhealth.models.anchors.adverse_scale`: ``1/ratio`` with CI ``(1/U, 1/L)`` where
``adverse_rule == "reciprocal"``, unchanged where ``"as published"``), the published numbers
are kept in ``published_*`` columns and the ``orientation`` column says what was done. Survey
rows are oriented as coded: the ratio for the factor being present (1) vs absent (0).

Survey estimates and anchors are different quantities (odds ratios of a cross-sectional or
proxy outcome vs pooled hazard ratios of death from cohorts); the table puts them side by
side, it does not make them comparable.

References
----------
Holt-Lunstad J, Smith TB, Layton JB (2010) PLoS Med 7:e1000316. Holt-Lunstad J et al. (2015)
Perspect Psychol Sci 10:227-237. Lumley T (2010) *Complex Surveys*, ch. 5. Sources of the
comparator anchors: :func:`socialhealth.models.anchors.citations`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, Mapping

import numpy as np
import pandas as pd

from socialhealth._text import show, show_given
from socialhealth.design.result_protocol import Result
from socialhealth.design.formula import formula_variables
from socialhealth.design.structure import check_flag
from socialhealth.errors import MissingColumnError, ModelError
from socialhealth.models import anchors as anchors_module
from socialhealth.models._association import MEASURES, _check_adjust, adjust_blocks, check_names

__all__ = ["RiskFactorTable", "compare_risk_factors"]

# Which published anchors belong to a factor: a regular expression on the factor's name or
# label -> the anchors' ``exposure`` values. Used only when anchor_match= is not given.
_ANCHOR_KEYWORDS = (
    (r"lonel", ("loneliness", "loneliness (inversed)")),
    (r"isolat", ("social isolation", "social isolation (inversed)")),
    (r"alone", ("living alone", "living alone (inversed)")),
    (r"smok", ("current smoking",)),
    (r"obes|bmi", ("obesity (all grades)",)),
    (r"inactiv|physical|exercis", ("physical activity",)),
    (r"alcohol|drink", ("alcohol intake",)),
)

COLUMNS = ["source", "role", "factor", "label", "measure", "estimate", "ci_low", "ci_high", "p",
           "n", "outcome", "adjusted_for", "orientation", "published_estimate",
           "published_ci_low", "published_ci_high", "anchor_key", "anchor_exposure",
           "anchor_contrast", "anchor_subgroup", "anchor_outcome", "direction", "status",
           "citation"]


@dataclass
class RiskFactorTable(Result):
    """Result of :func:`compare_risk_factors`.

    Result protocol: ``to_frame()`` and ``summary()``; ``coef()``, ``se()``, ``confint()``,
    ``vcov`` and ``float()`` do not apply (survey rows and published anchors mixed).

    ``table`` (see :meth:`to_frame`), ``models`` (factor -> fitted survey GLM), ``n`` (rows
    used by every survey model), ``formulas``.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> t = models.compare_risk_factors(sd.design, exposures=["lonely"], outcome="died",
    ...                                 comparators=["smoker", "obese"])
    >>> print(t.survey()[["factor", "role", "estimate", "ci_low", "ci_high"]].round(3).to_string())
       factor        role  estimate  ci_low  ci_high
    0  lonely    exposure     1.513   1.220    1.877
    1  smoker  comparator     1.166   0.986    1.380
    2   obese  comparator     1.330   1.174    1.508
    >>> sorted(t.models), t.n
    (['lonely', 'obese', 'smoker'], 17808)
    """

    table: pd.DataFrame
    models: dict
    formulas: dict
    n: int

    _not_applicable = dict.fromkeys(
        ("coef", "se", "confint", "vcov", "float"),
        "the table mixes survey estimates with published anchors on their own scales and "
        "without standard errors; read them from to_frame() (survey(): the survey rows; "
        "models: the fitted survey models).")

    def to_frame(self) -> pd.DataFrame:
        """Tidy table, survey rows first then anchors. Columns: ``source`` ("survey" |
        "anchor"), ``role`` ("exposure" | "comparator"), ``factor``, ``label``, ``measure``,
        ``estimate``, ``ci_low``, ``ci_high`` (anchors: on the adverse scale), ``p``, ``n``,
        ``outcome``, ``adjusted_for``, ``orientation``, ``published_estimate``,
        ``published_ci_low``, ``published_ci_high``, ``anchor_key``, ``anchor_exposure``,
        ``anchor_contrast``, ``anchor_subgroup``, ``anchor_outcome``, ``direction``,
        ``status``, ``citation``."""
        return self.table.copy()

    def survey(self) -> pd.DataFrame:
        """Survey rows only (``socialhealth.plot.risk_factors(t.survey(), t.anchors(),
        label="label", anchor_label="label")``)."""
        return self.table[self.table["source"] == "survey"].reset_index(drop=True)

    def anchors(self) -> pd.DataFrame:
        """Published anchor rows only (adverse orientation in estimate/ci columns)."""
        return self.table[self.table["source"] == "anchor"].reset_index(drop=True)

    def __repr__(self) -> str:
        lines = [f"Risk factors on the same {self.n} rows (survey) and published anchors"]
        for r in self.table.itertuples(index=False):
            ci = "" if pd.isna(r.ci_low) else f" ({r.ci_low:.2f}, {r.ci_high:.2f})"
            extra = f" n={r.n}" if r.source == "survey" else f" [{r.anchor_key}; {r.orientation}]"
            lines.append(f"  {r.source:<7}{r.label:<28}{r.measure:<5}{r.estimate:>7.2f}{ci}{extra}")
        return "\n".join(lines)


def _as_items(spec, role) -> list[tuple[str, str]]:
    """[(label, term)] from a list of columns/expressions or a {label: column} mapping."""
    if spec is None:
        return []
    if isinstance(spec, str):
        spec = [spec]
    if np.ndim(spec) == 0 and not isinstance(spec, Mapping):
        raise ModelError(f"{role}s= takes column names: one name, a list of names or a "
                         f"{{label: column}} mapping, not {show_given(spec)}.")
    items = list(spec.items()) if isinstance(spec, Mapping) else [(s, s) for s in spec]
    out = []
    for label, term in items:
        term = str(term).strip()
        if re.search(r"(>=|<=|==|!=|>|<)", term) and not term.startswith("I("):
            term = f"I({term})"
        out.append((str(label), term))
    if not out and role == "exposure":
        raise ModelError("give at least one exposure (e.g. exposures=['lonely']).")
    return out


def _anchor_rows(label_for: dict, match: Mapping | None, outcome_filter: str
                 | None) -> pd.DataFrame:
    a = anchors_module.adverse_scale(anchors_module.load())
    if outcome_filter:
        a = a[a["outcome"].astype(str).str.startswith(outcome_filter)]
    rows = []
    for factor, label in label_for.items():
        if match is not None:
            wanted = match.get(factor, match.get(label))
            if wanted is None:
                continue
            wanted = [wanted] if isinstance(wanted, str) else list(wanted)
            sel = a[a["exposure"].isin(wanted) | a["source_key"].isin(wanted)]
        else:
            keys: tuple[str, ...] = ()
            for pattern, exposures in _ANCHOR_KEYWORDS:
                if re.search(pattern, f"{factor} {label}", flags=re.IGNORECASE):
                    keys = exposures
                    break
            sel = a[a["exposure"].isin(keys)]
        for r in sel.itertuples(index=False):
            if r.adverse_rule == "reciprocal":
                orient = (f"inverted (1/x): published as '{r.direction}' (ratio < 1 = benefit); "
                          "shown as the ratio for the adverse state")
            elif r.direction == "benefit of connection":
                orient = ("as published: OR > 1 = survival benefit of stronger relationships, "
                          "equal to the OR of death for weaker vs stronger (deficit measures "
                          "inverted by the authors)")
            else:
                orient = f"as published ({r.direction})"
            rows.append({
                "source": "anchor", "role": None, "factor": factor, "label": label,
                "measure": r.measure, "estimate": r.adverse_estimate, "ci_low": r.adverse_ci_low,
                "ci_high": r.adverse_ci_high, "p": np.nan, "n": r.n, "outcome": r.outcome,
                "adjusted_for": r.subgroup, "orientation": orient,
                "published_estimate": r.estimate, "published_ci_low": r.ci_low,
                "published_ci_high": r.ci_high, "anchor_key": r.source_key,
                "anchor_exposure": r.exposure, "anchor_contrast": r.contrast,
                "anchor_subgroup": r.subgroup, "anchor_outcome": r.outcome,
                "direction": r.direction, "status": r.status, "citation": r.citation,
            })
    return pd.DataFrame(rows, columns=COLUMNS)


def compare_risk_factors(
    design,
    exposures,
    comparators=("smoker", "obese", "physically_inactive"),
    outcome: str = "died",
    adjust=None,
    measure: Literal["or", "pr", "rr", "coef"] = "or",
    mutual: bool = False,
    anchors: bool = True,
    anchor_match: Mapping | None = None,
    anchor_outcome: str | None = "all-cause mortality",
    level: float = 0.95,
) -> RiskFactorTable:
    r"""Loneliness/isolation and comparator risk factors on the same data, with published anchors.

    For each factor ``f`` (exposures then comparators) fits ``outcome ~ f + adjust`` (or one
    model with all factors, ``mutual=True``) as a survey GLM on the rows complete on *every*
    factor, the outcome and the adjustment variables, and reports the factor's ratio
    (``measure``) with its design-based CI. Published anchors are appended as published and
    oriented explicitly (module docstring).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign.
    exposures : columns or expressions (``"social_isolation_index >= 2"`` becomes
        ``I(social_isolation_index >= 2)``), or a ``{label: column}`` mapping.
    comparators : the same for the comparators (default smoker, obese, physically_inactive).
    outcome : binary outcome column (``"died"``, ``"poor_health"``).
    adjust : adjustment terms (a flat list, or blocks that are all included).
    measure : ``"or"`` (default), ``"pr"`` or ``"coef"`` (see ``association``).
    mutual : one model with every factor (mutually adjusted) instead of one per factor.
    anchors : append published anchors (``False``: survey rows only).
    anchor_match : ``{factor or label: anchor exposure(s) or source_key(s)}``; default: keyword
        matching on the factor name (lonel -> loneliness, isolat -> social isolation, smok ->
        current smoking, obes -> obesity, inactiv/physical -> physical activity, ...).
    anchor_outcome : keep anchors whose outcome starts with this (default all-cause
        mortality); ``None`` keeps all.
    level : confidence level.

    Returns
    -------
    RiskFactorTable
        ``to_frame()`` with a ``source`` column ("survey" | "anchor"); ``.survey()``,
        ``.anchors()`` for ``socialhealth.plot.risk_factors``.

    Raises
    ------
    MissingColumnError / FormulaError : a factor, the outcome or an adjustment variable is not
    in the data. ModelError : a factor is constant on the common rows; unknown measure.
    SeparationError / ConvergenceError : from the model that failed, naming the factor.

    References
    ----------
    Holt-Lunstad et al. (2010) PLoS Med 7:e1000316; Holt-Lunstad et al. (2015) Perspect Psychol
    Sci 10:227-237; Lumley (2010) *Complex Surveys*, ch. 5.

    Examples
    --------
    >>> import socialhealth as sh
    >>> from socialhealth import models
    >>> sd = sh.datasets.load("demo")                 # synthetic survey shipped with socialhealth
    >>> t = models.compare_risk_factors(sd.design, exposures=["lonely"],
    ...                                 comparators=["smoker", "obese", "physically_inactive"],
    ...                                 outcome="died", adjust=["age", "sex"])
    >>> print(t.survey()[["factor", "estimate", "ci_low", "ci_high"]].round(3).to_string())
                    factor  estimate  ci_low  ci_high
    0               lonely     1.792   1.397    2.298
    1               smoker     2.355   1.943    2.853
    2                obese     1.288   1.122    1.479
    3  physically_inactive     1.729   1.502    1.991
    >>> len(t.anchors()) > 0                      # published pooled estimates, for comparison
    True
    >>> ax = sh.plot.risk_factors(t.survey(), t.anchors(), label="label", anchor_label="label")

    In R: ``svyglm(died ~ lonely + age + sex, design, family = quasibinomial())`` for each factor
    on ``subset(design, complete.cases(...))``; the anchors have no R equivalent.
    """
    if not isinstance(measure, str) or measure not in MEASURES or measure == "rd":
        raise ModelError(f"measure={show_given(measure)}: use 'or', 'pr' or 'coef' (ratios are "
                         "compared).")
    family, link, expo, _ = MEASURES[measure]
    data = design.data
    check_names(outcome=outcome)
    mutual = check_flag(mutual, "mutual", "compare_risk_factors()")
    anchors = check_flag(anchors, "anchors", "compare_risk_factors()")
    if anchor_outcome is not None and not isinstance(anchor_outcome, str):
        raise ModelError(f"anchor_outcome= takes the outcome of the published anchors as text "
                         f"(e.g. 'all-cause mortality') or None, not {show_given(anchor_outcome)}.")
    if anchor_match is not None and not isinstance(anchor_match, Mapping):
        raise ModelError(f"anchor_match= takes a mapping of factor to the anchors' exposure "
                         f"names, e.g. {{'lonely': ['loneliness']}}, not "
                         f"{show_given(anchor_match)}.")
    if outcome not in data.columns and "(" not in outcome:
        raise MissingColumnError([outcome], data.columns, "the design data (outcome)")
    ex = _as_items(exposures, "exposure")
    co = _as_items(comparators, "comparator")
    items = [(lab, term, "exposure") for lab, term in ex] + [(lab, term, "comparator") for lab,
                                                             term in co]
    labels = [i[0] for i in items]
    if len(set(labels)) != len(labels):
        raise ModelError(f"factor labels must be unique; got {labels}.")
    blocks = adjust_blocks(adjust)
    _check_adjust(blocks, data)
    adj = [t for b in blocks for t in b]
    for lab, term, role in items:
        if term not in data.columns and "(" not in term:
            raise MissingColumnError([term], data.columns, f"the design data ({role} {lab!r})")
    full = f"{outcome} ~ " + " + ".join([t for _, t, _ in items] + adj)
    variables = formula_variables(full, data)
    ok = data[variables].notna().all(axis=1).to_numpy() & design.in_subset
    if not ok.any():
        raise ModelError(f"no row has complete data on {', '.join(variables)}.")
    work = design.subset(ok) if ok.sum() < design.in_subset.sum() else design
    n_common = int(ok.sum())
    models, formulas, rows = {}, {}, []

    def coef_row(res, lab, term, role):
        tab = res.to_frame(exponentiate=expo, level=level)
        key = term.replace(" ", "").replace("`", "")
        hit = tab[tab["term"].str.replace(" ", "").str.replace("`", "").str.startswith(key)]
        if len(hit) != 1:
            raise ModelError(f"factor {lab!r} ({term}) must give one coefficient (a 0/1, boolean "
                             f"or numeric column); the model has {list(hit['term'])}.")
        h = hit.iloc[0]
        return {"source": "survey", "role": role, "factor": term, "label": lab,
                "measure": measure.upper(), "estimate": h["estimate"], "ci_low": h["ci_low"],
                "ci_high": h["ci_high"], "p": h["p"], "n": res.nobs, "outcome": outcome,
                "adjusted_for": ", ".join(adj) + (" + other factors" if mutual else ""),
                "orientation": "as coded: factor present (1) vs absent (0)"}

    def check_varies(lab, term):
        if term in data.columns and data.loc[ok, term].nunique() < 2:
            raise ModelError(f"factor {lab!r} is constant ({show(data.loc[ok, term].iloc[0])}) on "
                             f"the {n_common} common rows; it cannot be compared.")

    for lab, term, _ in items:
        check_varies(lab, term)
    if mutual:
        res = work.glm(full, family=family, link=link)
        for lab, term, role in items:
            rows.append(coef_row(res, lab, term, role))
            models[lab], formulas[lab] = res, full
    else:
        for lab, term, role in items:
            f = f"{outcome} ~ " + " + ".join([term] + adj)
            try:
                res = work.glm(f, family=family, link=link)
            except ModelError as exc:
                raise type(exc)(f"factor {lab!r} ({f}): {exc}") from exc
            rows.append(coef_row(res, lab, term, role))
            models[lab], formulas[lab] = res, f
    survey = pd.DataFrame(rows).reindex(columns=COLUMNS)
    parts = [survey]
    if anchors:
        a = _anchor_rows({term: lab for lab, term, _ in items}, anchor_match, anchor_outcome)
        if len(a):
            parts.append(a)
    table = pd.concat(parts, ignore_index=True) if len(parts) > 1 else survey
    return RiskFactorTable(table=table, models=models, formulas=formulas, n=n_common)
