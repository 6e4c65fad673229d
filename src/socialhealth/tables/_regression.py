"""Regression tables: one model, or nested models side by side.

Each model contributes its estimates with confidence intervals and p-values exactly as its own
``to_frame()`` gives them (no re-computation): survey GLMs (``design.glm``, R ``svyglm``),
association tables (``models.association``), Cox models (``models.coxph``, R ``svycoxph``),
parametric survival models (``models.survreg``, R ``svysurvreg``) and proportional-odds models
(``models.ordinal``, R ``svyolr``). Estimates are exponentiated where the model is logistic
(odds ratio, OR), log-link (rate or prevalence ratio, RR / PR), Cox (hazard ratio, HR), a
log-time survival model (time ratio, TR) or proportional odds (OR); the column header says
which. Intervals are Wald intervals on the link scale (t with the model's residual design df
for GLMs, normal for Cox, survival and ordinal models, as R), exponentiated with the estimate.
Factor terms are grouped under their variable with the reference level shown as an em dash.
"""
from __future__ import annotations

import re
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from socialhealth._text import show_given
from socialhealth.design.structure import check_flag
from socialhealth.errors import ModelError
from socialhealth.tables import format as fmt
from socialhealth.tables.labels import level_label, variable_label
from socialhealth.tables.notes import Markers
from socialhealth.tables.table import Row, Table

__all__ = ["regression", "NUMBER_COLUMNS"]

#: Columns of ``regression(...).to_frame()``.
NUMBER_COLUMNS = ["model", "model_label", "term", "variable", "variable_label", "level",
                  "level_label", "reference", "estimate", "ci_low", "ci_high", "se", "p_value",
                  "exponentiated", "measure", "n"]

_TERM = re.compile(r"^(?:C\((\w+)[^)]*\)|(\w+))\[(?:T\.)?(.+)\]$")
_INTERCEPTS = ("Intercept", "(Intercept)")

_MEASURE_NAMES = {"OR": "odds ratio", "RR": "rate/risk ratio", "PR": "prevalence ratio",
                  "HR": "hazard ratio", "TR": "time ratio", "RD": "risk difference",
                  "Beta": "regression coefficient"}


class _Model:
    """What the table needs of one fitted model."""

    def __init__(self, frame, measure, exponentiated, n, data, method):
        self.frame, self.measure, self.exponentiated = frame, measure, exponentiated
        self.n, self.data, self.method = n, data, method


def _glm_measure(family: str, link: str) -> tuple[str, bool]:
    if link == "logit":
        return "OR", True
    if link == "log":
        return ("PR" if family == "binomial" else "RR"), True
    if family == "binomial" and link == "identity":
        return "RD", False
    return "Beta", False


def _model(result, level: float, exponentiate) -> list[tuple[_Model, str | None]]:
    """One or more (_Model, default label) from a result object."""
    name = type(result).__name__
    if name == "SurveyGLMResult":
        measure, expo = _glm_measure(result.family, result.link)
        if exponentiate is not None:
            expo = bool(exponentiate)
            measure = measure if expo or measure in ("RD", "Beta") else "Beta"
        tab = result.to_frame(exponentiate=expo, level=level)
        fam = {"binomial": "quasibinomial", "poisson": "quasipoisson"}.get(result.family,
                                                                           result.family)
        method = (f"Survey-weighted GLM ({fam}, {result.link} link; R: {result.r_call}); Wald "
                  "intervals and t tests with the model's residual design degrees of freedom.")
        return [(_Model(tab, measure, expo, result.nobs, result.design.data, method), None)]
    if name == "CoxResult":
        expo = True if exponentiate is None else bool(exponentiate)
        tab = result.to_frame(exponentiate=expo, level=level)
        method = (f"Design-based Cox model (R: {result.r_call}); Wald intervals and z tests.")
        return [(_Model(tab, "HR" if expo else "Beta", expo, result.nobs, result.design.data,
                        method), None)]
    if name == "SurvregResult":
        logged = result.dist not in ("gaussian", "logistic")
        expo = logged if exponentiate is None else bool(exponentiate)
        if expo and not logged:
            raise ModelError(f"regression(): a dist={result.dist!r} survival model is on the time "
                             "scale, so its coefficients cannot be shown as time ratios; pass "
                             "exponentiate=False.")
        tab = result.to_frame(exponentiate=expo, level=level)
        tab = tab[tab["kind"] == "coefficient"]
        method = (f"Design-based parametric survival model, {result.dist} distribution (R: "
                  f"{result.r_call}); Wald intervals and z tests; intercept and scale not shown.")
        return [(_Model(tab, "TR" if expo else "Beta", expo, result.nobs, result.design.data,
                        method), None)]
    if name == "OrdinalResult":
        expo = True if exponentiate is None else bool(exponentiate)
        tab = result.to_frame(exponentiate=expo, level=level)
        tab = tab[tab["kind"] == "coefficient"]
        method = (f"Survey-weighted proportional-odds model (R: {result.r_call}); OR of a higher "
                  "outcome level; Wald intervals and z tests; thresholds not shown.")
        return [(_Model(tab, "OR" if expo else "Beta", expo, result.nobs, result.design.data,
                        method), None)]
    if name == "AssociationTable":
        from socialhealth.models._association import MEASURES

        _, _, expo, _ = MEASURES[result.measure]
        measure = {"or": "OR", "pr": "PR", "rd": "RD", "coef": "Beta"}[result.measure]
        out: list[tuple[_Model, str | None]] = []
        t = result.to_frame()
        if not np.isclose(level, 0.95):
            raise ModelError("regression(): an association table's intervals were computed at its "
                             "own level; refit models.association(..., level=) instead.")
        for k, block in t.groupby("model", sort=True):
            res = result.models[k] if k < len(result.models) else None
            data = res.design.data if res is not None else None
            note = "; ".join(sorted({str(x) for x in block["note"] if isinstance(x, str) and x}))
            method = (f"Association of {variable_label(result.exposure)} with "
                      f"{variable_label(result.outcome)}: survey-weighted GLM per model "
                      f"({block['family'].iloc[0]}, {block['link'].iloc[0]} link)"
                      + (f"; {note}" if note else "") + ".")
            frame = block[["term", "estimate", "se", "ci_low", "ci_high",
                           "p"]].reset_index(drop=True)
            m = _Model(frame, measure, expo, int(block["n"].iloc[0]), data, method)
            out.append((m, f"{block['model_label'].iloc[0]}"))
        return out
    raise ModelError(
        f"regression() takes survey GLM, association, Cox, parametric survival or ordinal "
        f"results, not {name}; fit one with design.glm(...), models.association(...), "
        "models.coxph(...), models.survreg(...) or models.ordinal(...)."
    )


def _split(term: str, data: pd.DataFrame | None) -> tuple[str, object]:
    """(variable, level) of a model term; level None for a numeric or boolean term."""
    m = _TERM.match(term)
    if m:
        var = m.group(1) or m.group(2)
        lev = m.group(3)
        if lev in ("True",) and data is not None and var in data and \
                pd.api.types.is_bool_dtype(data[var]):
            return var, None
        return var, lev
    return term, None


def _levels(data: pd.DataFrame | None, var: str) -> list | None:
    if data is None or var not in data:
        return None
    s = data[var]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [str(c) for c in s.cat.categories]
    if pd.api.types.is_object_dtype(s) or pd.api.types.is_string_dtype(s):
        return [str(v) for v in sorted(pd.unique(s.dropna()), key=str)]
    return None


def _term_label(term: str, labels) -> str:
    if ":" in term:
        return " \u00d7 ".join(_term_label(t, labels) for t in term.split(":"))
    var, lev = _split(term, None)
    return variable_label(var, labels) + ("" if lev is None else f": {level_label(lev)}")


def regression(
    result,
    labels: Sequence[str] | None = None,
    level: float = 0.95,
    exponentiate: bool | None = None,
    intercept: bool = False,
    variable_labels: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Table:
    """Table of regression estimates (95% CI) and p-values, one model or several side by side.

    Each model's numbers are its own ``to_frame()`` (Wald intervals on the link scale with the
    model's degrees of freedom, exponentiated with the estimate for ratio measures; design-based
    p-values). Models go side by side in the order given, each under its label; a term a model
    does not contain is left blank. Factor terms (``age_group[T.25-34]``) are grouped under their
    variable, whose reference level is shown with an em dash.

    Parameters
    ----------
    result : model result or list of them
        ``design.glm(...)`` (survey GLM), ``models.association(...)`` (one column per nested
        model), ``models.coxph(...)``, ``models.survreg(...)`` (time ratios; intercept and
        scale not shown), ``models.ordinal(...)``, or a list of these.
    labels : list of str, optional
        Column labels of the models (default ``"Model 1"``, ``"Model 2"``, ...; an association
        table's own model labels).
    level : float, default 0.95
        Confidence level.
    exponentiate : bool, optional
        Default: exponentiate logistic (OR), log-link (RR, PR), Cox (HR), log-time parametric
        survival (TR, time ratio) and ordinal (OR) models and not identity-link ones (nor
        ``dist="gaussian"``/``"logistic"`` survival models). ``False`` shows coefficients on the
        link scale.
    intercept : bool, default False
        Show the intercept row (GLMs).
    variable_labels : dict, optional
        Display names of variables (default: :mod:`socialhealth.tables.labels`).
    title : str, optional
        Caption.

    Returns
    -------
    Table
        ``to_frame()`` columns: ``model`` (1, 2, ...), ``model_label, term, variable,
        variable_label, level, level_label, reference`` (True for the reference-level rows,
        whose numbers are NaN), ``estimate, ci_low, ci_high`` (exponentiated where
        ``exponentiated``), ``se`` (link scale), ``p_value, exponentiated, measure``
        (``"OR"``, ``"RR"``, ``"PR"``, ``"HR"``, ``"TR"``, ``"RD"``, ``"Beta"``), ``n`` (rows
        used).

    Raises
    ------
    ModelError
        An object that is not a supported model result; labels of the wrong length;
        ``variable_labels`` naming a variable that is in none of the models.

    References
    ----------
    Lumley T (2010) *Complex Surveys*, Wiley, ch. 5 and 7. Sjoberg DD et al. (2021) *The R
    Journal* 13:570-580 (gtsummary).

    Examples
    --------
    >>> import socialhealth as sh
    >>> design = sh.datasets.load("demo").design
    >>> m1 = design.glm("poor_health ~ lonely", family="binomial")
    >>> m2 = design.glm("poor_health ~ lonely + age_group + sex", family="binomial")
    >>> t = sh.tables.regression([m1, m2], labels=["Unadjusted", "Adjusted"])
    >>> t.header[1], t.spanners[0][0]
    ('OR (95% CI)', 'Unadjusted')
    >>> t.to_frame().query("term == 'lonely'")["measure"].tolist()
    ['OR', 'OR']

    In R: ``m1 <- svyglm(poor_health ~ lonely, design, family = quasibinomial())`` and
    ``gtsummary::tbl_merge(list(tbl_regression(m1, exponentiate = TRUE),
    tbl_regression(m2, exponentiate = TRUE)))``; the numbers are ``exp(coef(m))``,
    ``exp(confint(m, ddf = m$df.residual))`` and ``summary(m)$coefficients[, 4]``.
    """
    results = list(result) if isinstance(result, (list, tuple)) else [result]
    if exponentiate is not None:
        exponentiate = check_flag(exponentiate, "exponentiate", "regression()")
    intercept = check_flag(intercept, "intercept", "regression()")
    if labels is not None and (isinstance(labels, (str, Mapping)) or np.ndim(labels) != 1):
        raise ModelError(f"regression(): labels= takes one label per model, as a list (e.g. "
                         f"['Model 1', 'Model 2']), not {show_given(labels)}.")
    if variable_labels is not None and not isinstance(variable_labels, Mapping):
        raise ModelError(f"regression(): variable_labels= takes a mapping of variable to label, "
                         f"e.g. {{'age': 'Age (years)'}}, not {show_given(variable_labels)}.")
    if not results:
        raise ModelError("regression() needs at least one model result.")
    models, labels, default_labels = _models_and_labels(results, labels, level, exponentiate)
    pct = int(round(level * 100)) if np.isclose(level * 100, round(level * 100)) else level * 100
    marks = Markers()
    order, var_levels, var_data = _skeleton(models, intercept)
    if variable_labels:
        known = sorted({v for key in order for v in str(key).split(":")} - set(_INTERCEPTS))
        stray = sorted(str(k) for k in variable_labels if k not in known)
        if stray:
            raise ModelError(f"regression(): variable_labels= names "
                             f"{', '.join(map(repr, stray))}, not a variable of the models; "
                             f"choose from {', '.join(map(repr, known))}.")

    header = ["Characteristic"]
    spanners = []
    for k, m in enumerate(models):
        header += [f"{m.measure} ({pct}% CI)", "p-value"]
        spanners.append((labels[k], 1 + 2 * k, 3 + 2 * k))
    if len(models) == 1 and result is results[0] and not isinstance(result, (list, tuple)) \
            and default_labels[0] is None:
        spanners = []

    records: list[dict] = []
    rows: list[Row] = []
    for key in order:
        if not var_levels[key]:     # numeric, boolean, interaction or intercept term: one row
            _term_row(key, models, labels, variable_labels, marks, rows, records)
        else:
            _factor_rows(key, var_levels[key], var_data[key], models, labels, variable_labels,
                         marks, rows, records)
    cells = ["Respondents (n)"]
    for m in models:
        cells += [fmt.count(m.n), ""]
    rows.append(Row(cells))

    notes = _notes(models, labels)
    numbers = pd.DataFrame.from_records(records, columns=NUMBER_COLUMNS)
    for col in ("term", "level"):       # keep None (not NaN)
        numbers[col] = pd.Series([r[col] for r in records], dtype=object)
    if title is None:
        title = "Regression estimates" if len(models) == 1 else "Nested regression models"
    return Table(title=title, header=header, rows=rows, numbers=numbers, spanners=spanners,
                 notes=notes, marker_notes=marks.notes, kind="regression")


# ------------------------------------------------------------------------ steps of regression()
def _models_and_labels(results, labels, level, exponentiate):
    """The models of the table and their labels; returns ``(models, labels, default_labels)``."""
    models: list[_Model] = []
    default_labels: list[str | None] = []
    for r in results:
        for m, lab in _model(r, level, exponentiate):
            models.append(m)
            default_labels.append(lab)
    if labels is None:
        labels = [lab if lab is not None else f"Model {k + 1}" for k,
                  lab in enumerate(default_labels)]
    else:
        labels = [str(x) for x in labels]
        if len(labels) != len(models):
            raise ModelError(f"regression(): {len(labels)} labels for {len(models)} models; give "
                             "one label per model (an association table counts one per model).")
    return models, labels, default_labels


def _skeleton(models, intercept: bool):
    """Row skeleton: variables in order of first appearance, their levels, their data."""
    order: list[str] = []
    var_levels: dict[str, list] = {}
    var_data: dict[str, pd.DataFrame | None] = {}
    for m in models:
        for term in m.frame["term"]:
            if term in _INTERCEPTS and not intercept:
                continue
            var, lev = (term, None) if ":" in term else _split(term, m.data)
            key = var if lev is not None else term
            if key not in var_levels:
                order.append(key)
                var_levels[key] = []
                var_data[key] = m.data
            if lev is not None and lev not in var_levels[key]:
                var_levels[key].append(lev)
    return order, var_levels, var_data


def _lookup(m: _Model, var, lev, term):
    """The coefficient row of a term (lev None) or of a factor level, or None."""
    tab = m.frame
    if lev is None:
        hit = tab[tab["term"] == term]
    else:
        hit = tab[[(_split(t, m.data) == (var, lev)) and ":" not in t for t in tab["term"]]]
    return hit.iloc[0] if len(hit) else None


def _est_cells(m, r, marks):
    """Estimate (CI) and p-value cells with their markers."""
    if r is None:
        return ["", ""], ["", ""]
    f = fmt.ratio if m.exponentiated else (lambda x: fmt.number(x, fmt.RATIO_DIGITS))
    text = fmt.interval(f(r["estimate"]), f(r["ci_low"]), f(r["ci_high"]))
    mark = ""
    no_df = "df" in r.index and fmt.is_finite(r["df"]) and float(r["df"]) <= 0
    why = ("no residual design degrees of freedom: PSUs minus strata minus coefficients is "
           f"{int(float(r['df']))}; fit fewer terms" if no_df else "standard error undefined")
    if not fmt.is_finite(r["estimate"]):
        text, mark = fmt.DASH, marks("Not estimable (coefficient aliased or undefined).")
    elif not (fmt.is_finite(r["ci_low"]) and fmt.is_finite(r["ci_high"])):
        mark = marks(f"Interval not computable ({why}).")
    p = fmt.p_value(r["p"])
    pmark = marks(f"p-value not computable ({why}).") if p == fmt.DASH else ""
    return [text, p], [mark, pmark]


def _term_row(key, models, labels, variable_labels, marks, rows, records) -> None:
    """One row for a numeric, boolean, interaction or intercept term."""
    label = "Intercept" if key in _INTERCEPTS else _term_label(key, variable_labels)
    cells, markers = [label], [""]
    for k, m in enumerate(models):
        r = _lookup(m, key, None, key)
        c, mk = _est_cells(m, r, marks)
        cells += c
        markers += mk
        if r is not None:
            records.append(_record(k, labels, m, key, key, None, False, r, variable_labels))
    rows.append(Row(cells, markers, bold=True))


def _factor_rows(key, levs, data, models, labels, variable_labels, marks, rows,
                 records) -> None:
    """A factor: the variable row, its reference level, then its levels."""
    rows.append(Row([variable_label(key, variable_labels)] + [""] * (2 * len(models)),
                    bold=True))
    all_levels = _levels(data, key)
    ref = None
    if all_levels is not None:
        # the reference is the one level with respondents that has no coefficient (a declared
        # category nobody has is not a level of the model, nor a candidate)
        observed = {str(v) for v in pd.unique(data[key].dropna())}
        missing = [lv for lv in all_levels if lv not in levs and lv in observed]
        if len(missing) == 1:
            ref = missing[0]
    ordered = [lv for lv in all_levels if lv in levs] if all_levels else levs
    if ref is not None:
        cells, markers = [level_label(ref)], [""]
        for k, m in enumerate(models):
            present = any(_split(t, m.data)[0] == key for t in m.frame["term"])
            cells += [fmt.DASH if present else "", ""]
            markers += [marks("Reference level.") if present else "", ""]
            if present:
                records.append(_record(k, labels, m, None, key, ref, True, None,
                                       variable_labels))
        rows.append(Row(cells, markers, indent=1))
    for lev in ordered:
        cells, markers = [level_label(lev)], [""]
        for k, m in enumerate(models):
            r = _lookup(m, key, lev, None)
            c, mk = _est_cells(m, r, marks)
            cells += c
            markers += mk
            if r is not None:
                records.append(_record(k, labels, m, r["term"], key, lev, False, r,
                                       variable_labels))
        rows.append(Row(cells, markers, indent=1))


def _notes(models, labels) -> list[str]:
    """Footnotes: the measures, the method(s), the weighting."""
    measures = sorted({m.measure for m in models}, key=list(_MEASURE_NAMES).index)
    notes = ["; ".join(f"{x} = {_MEASURE_NAMES[x]}"
                       for x in measures) + "; CI = confidence interval."]
    if len({m.method for m in models}) == 1:
        notes.append(models[0].method)
    else:
        for k, m in enumerate(models):
            notes.append(f"{labels[k]}: {m.method}")
    notes.append("Estimates are weighted by the survey weights; standard errors, intervals and "
                 "p-values are design-based.")
    return notes


def _record(k, labels, m, term, var, lev, reference, r, variable_labels) -> dict:
    nan = np.nan
    return {
        "model": k + 1, "model_label": labels[k], "term": term, "variable": var,
        "variable_label": "Intercept" if var in _INTERCEPTS else (
            _term_label(var, variable_labels) if ":" in str(var)
            else variable_label(var, variable_labels)),
        "level": lev, "level_label": None if lev is None else level_label(lev),
        "reference": reference,
        "estimate": nan if r is None else float(r["estimate"]),
        "ci_low": nan if r is None else float(r["ci_low"]),
        "ci_high": nan if r is None else float(r["ci_high"]),
        "se": nan if r is None else float(r["se"]),
        "p_value": nan if r is None else float(r["p"]),
        "exponentiated": m.exponentiated, "measure": m.measure, "n": m.n,
    }
