"""Section "Connection and health": nested adjusted odds ratios of each outcome on the exposure.

For every outcome the models of ``content.toml`` are fitted on one analytic sample: the
respondents with no missing value in the outcome, the exposure or any covariate of the largest
model (complete cases), so that the odds ratios of the nested models differ only by the
adjustment, not by the sample. Each model is a survey-weighted logistic regression
(``design.glm(..., family="binomial")``; R ``svyglm(..., family = quasibinomial())`` on
``subset(des, <complete cases>)``), odds ratios ``exp(b)`` with Wald intervals
``exp(b +- t(df_resid) se)``.
"""
from __future__ import annotations

import re

import warnings

import numpy as np
import pandas as pd

from socialhealth.errors import SeparationError, SocialHealthError
from socialhealth.models import association
from socialhealth.report.content import content, outcome_label
from socialhealth.report import formatting as _num
from socialhealth.report.context import Context
from socialhealth.report.exposure import _lower_first
from socialhealth.report.document import ReportTable, Section
from socialhealth.report.figures import new_figure, to_report_figure
from socialhealth.report.rcode import with_des


def term(ctx: Context, column: str) -> str:
    """The formula term of a covariate: ``C(x)`` for categories, ``x`` for numbers / yes-no."""
    s = ctx.data[column]
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        return column
    return f"C({column})"


def coefficient_row(frame: pd.DataFrame, column: str) -> pd.Series | None:
    """The row of ``column``'s coefficient ("x" or "x[T.True]") in a model table."""
    t = frame["term"].astype(str)
    hit = frame[(t == column) | t.str.startswith(f"{column}[")]
    return None if hit.empty else hit.iloc[0]


def covariate_words(column: str) -> str:
    """A covariate as the model labels say it: comparators and outcomes (an outcome at
    baseline) by their display name in lower case (``obese`` -> "obesity"), other columns
    with spaces (``age_group`` -> "age group").

    Examples
    --------
    >>> [covariate_words(c) for c in ("obese", "physically_inactive", "age_group")]
    ['obesity', 'physical inactivity', 'age group']
    """
    from socialhealth.tables.labels import term_words

    return term_words(column)


def model_words(columns, at: str = "") -> str:
    """The label of a model by what it adds, as the report's tables say it: ``"+ age group,
    sex"``; ``at`` (e.g. "at 2006") follows the covariates when given.

    The one mechanism for the association table's and the longitudinal table's model labels;
    a panel column ``age_group@2006`` is named by its concept (the wave goes in ``at`` or in
    the table note).

    Examples
    --------
    >>> model_words(["age_group", "sex"])
    '+ age group, sex'
    >>> model_words(["obese@2006"], at="at 2006")
    '+ obesity at 2006'
    """
    words = ", ".join(covariate_words(str(c).split("@")[0]) for c in columns)
    return f"+ {words} {at}".rstrip() if columns else "unadjusted"


def fit_nested(ctx: Context, outcome: str) -> tuple[list[dict], dict, list[str], list[str]]:
    """Fit the nested models of one outcome.

    Returns ``(rows, fits, r_lines, notes)``: one row per model (odds ratio of the exposure),
    the fitted models by name, the R lines, and notes on covariates left out.
    """
    x = ctx.exposure.column
    own = {x, ctx.exposure.source}      # the exposure is never its own covariate (smoker)
    notes: list[str] = []
    specs = []
    covariates: list[str] = []
    label = outcome_label(outcome)
    # covariates measured in the survey but never answered by a respondent who answered the
    # outcome and the exposure (asked in other waves of a pooled panel): no model holding one
    # can be fitted, so they are left out of this outcome's models, as unmeasured ones are
    unseen = _never_with(ctx, [outcome, x], [c for m in content()["models"] for c in m["adds"]
                                             if c not in own and not ctx.why_not(c)])
    for m in content()["models"]:
        itself = [c for c in m["adds"] if c in own]
        adds = [c for c in m["adds"] if c not in own]
        added = [c for c in adds if not ctx.why_not(c) and c not in unseen]
        missing = [c for c in adds if ctx.why_not(c)]
        apart = [c for c in adds if c in unseen]
        if itself:
            notes.append(f"{m['name']} does not add {covariate_words(itself[0])}: it is the "
                         "exposure.")
        if m["adds"] and not added:     # the model is not fitted: no "Model 3" in the table
            unmeasured = (f"{', '.join(map(covariate_words, missing))} "
                          f"{'is' if len(missing) == 1 else 'are'} not measured in this survey")
            if apart:
                notes.append(f"{label}: {m['name']} ({model_words(adds)}) is not fitted: "
                             + (f"{unmeasured}, and " if missing else "")
                             + f"{', '.join(map(covariate_words, apart))} "
                             f"{'is' if len(apart) == 1 else 'are'} never answered together "
                             "with the outcome and the exposure.")
            elif missing:
                notes.append(f"{m['name']} ({model_words(adds)}) is not fitted: {unmeasured}.")
            continue
        if missing:
            notes.append(f"{m['name']} leaves out {', '.join(map(covariate_words, missing))} (not "
                         "measured in this survey).")
        if apart:
            notes.append(f"{label}: {m['name']} leaves out "
                         f"{', '.join(map(covariate_words, apart))} (never answered together "
                         "with the outcome and the exposure).")
        covariates = covariates + added
        specs.append((m["name"], m["label"] if not (missing or itself or apart)
                      else model_words(added), list(covariates)))
    variables = [outcome, x, *covariates]
    d = ctx.design
    complete = d.in_subset.copy()
    for v in variables:
        complete &= ctx.data[v].notna().to_numpy()
    n = int(complete.sum())
    y = pd.to_numeric(ctx.data.loc[complete, outcome].astype(float))
    if n == 0:
        return [], {}, [], [f"{label}: not modelled; no respondent has the outcome, the "
                            f"exposure and {model_words(covariates)[2:]} all answered"
                            + _never_together(ctx, [outcome, x], covariates) + "."
                            if covariates else
                            f"{label}: not modelled; no respondent answered both the outcome "
                            "and the exposure."]
    if y.nunique() < 2:
        who = "every respondent" if bool(y.iloc[0]) else "no respondent"
        return [], {}, [], [f"{label}: not modelled; {who} in the analytic sample has the "
                            "outcome, so there is nothing to compare."]
    sub = d.subset(complete)
    cond = " & ".join(f"!is.na({v})" for v in variables)
    r_lines = [f"des_{outcome} <- subset(des, {cond})"]
    rows, fits = [], {}
    levels = {c: _levels(ctx.data.loc[complete, c]) for c in covariates
              if term(ctx, c).startswith("C(")}
    for name, label, m in _nested_models(sub, ctx, outcome, specs, notes, levels):
        f = m.to_frame(exponentiate=True)
        r = coefficient_row(f, x)
        if r is None:
            notes.append(f"{outcome_label(outcome)}, {name}: the exposure's odds ratio is not "
                         "estimable.")
            continue
        fits[name] = (m, f)
        rows.append({"outcome": outcome, "model": name, "adjusted_for": label, "n": n,
                     "events": int(y.sum()), "odds_ratio": float(r["estimate"]),
                     "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]),
                     "p": float(r["p"]), "df": float(r["df"])})
        r_lines.append(with_des(m.r_call).replace("design = des", f"design = des_{outcome}"))
    return rows, fits, r_lines, notes


def _never_with(ctx: Context, needed: list[str], covariates: list[str]) -> list[str]:
    """The covariates that no respondent of the subset answered together with every column of
    ``needed`` (the outcome and the exposure), in order."""
    ok = ctx.design.in_subset.copy()
    for v in needed:
        ok &= ctx.data[v].notna().to_numpy()
    if not ok.any():      # nothing to set a covariate against (the caller says why)
        return []
    return [c for c in dict.fromkeys(covariates) if not (ok & ctx.data[c].notna().to_numpy()).any()]


def _never_together(ctx: Context, needed: list[str], covariates: list[str]) -> str:
    """" (smoking is never answered together with them)": the covariates that no respondent
    answered together with the outcome and exposure (``needed``); "" when none alone is."""
    never = _never_with(ctx, needed, covariates)
    if not never:
        return ""
    words = model_words(never)[2:]
    one = len(never) == 1
    return (f" ({words} {'is' if one else 'are'} never answered together with the outcome and "
            "the exposure)")


def _levels(s: pd.Series) -> list:
    """The levels of a categorical covariate seen in ``s``, in the model's order (reference
    first): the categories' order for a categorical, sorted values otherwise."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        seen = set(s.dropna())
        return [c for c in s.cat.categories if c in seen]
    return sorted(pd.unique(s.dropna()), key=str)


def _nested_models(sub, ctx: Context, outcome: str, specs, notes: list[str], levels=None):
    """``(name, label, fitted model)`` of each model in ``specs`` that could be fitted.

    The models are :func:`socialhealth.models.association`'s (odds ratios, its nested
    formulas) on ``sub``, the complete cases of the largest model. When one model fails
    (separation, no convergence), the others are still wanted: each model is then fitted
    alone by the same function and the failure becomes a note.
    """
    if not specs:
        return []
    x = ctx.exposure.column
    terms = [[term(ctx, c) for c in covs] for _, _, covs in specs]
    # association fits the unadjusted model first, then adds one block per model
    offset = 0 if not terms[0] else 1
    blocks = [t for t in terms[:1] if t] + [t[len(prev):] for prev, t in
                                            zip(terms, terms[1:], strict=False)]
    try:
        fitted = _association(sub, x, outcome, blocks).models[offset:]
        return [(name, label, m) for (name, label, _), m in zip(specs, fitted, strict=True)]
    except _FAILURES:
        pass
    out = []
    for (name, label, _), t in zip(specs, terms, strict=True):
        try:
            out.append((name, label, _association(sub, x, outcome, [t] if t else None)
                        .models[-1]))
        except _FAILURES as e:
            cause = e.__cause__ if type(e.__cause__) is type(e) else e  # without "model k (...)"
            if isinstance(cause, SeparationError):
                notes.append(f"{outcome_label(outcome)}, {name}: not estimable. "
                             f"{separation_in_words(cause, levels)}")
            else:
                notes.append(f"{outcome_label(outcome)}, {name}: not estimable ({cause}).")
    return out


_FAILURES = (SocialHealthError, ValueError, np.linalg.LinAlgError, FloatingPointError)


def _association(sub, x: str, outcome: str, blocks):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return association(sub, exposure=x, outcome=outcome, adjust=blocks, measure="or")


def build_association(ctx: Context) -> Section:
    """Odds ratios of each outcome on the exposure, unadjusted and adjusted (nested models)."""
    exp = ctx.exposure
    sec = Section("association", f"{exp.name} and health: nested adjusted odds ratios")
    why = ctx.exposure_reason()
    if why:
        return sec.skip(why)
    usable = []
    for o in ctx.outcomes:
        w = ctx.why_not(o)
        if w:
            sec.notes.append(f"Outcome left out: {w}.")
        else:
            usable.append(o)
    if not usable:
        return sec.skip("the survey measures none of the health outcomes "
                        f"({', '.join(_lower_first(outcome_label(o)) for o in ctx.outcomes)}).")
    rows, all_fits, model_notes = [], {}, []
    for o in usable:
        ctx.substep(f"association: models of {o}")
        r, fits, r_lines, notes = fit_nested(ctx, o)
        rows += r
        all_fits[o] = fits
        sec.r_code += r_lines
        model_notes += notes
    sec.notes += list(dict.fromkeys(model_notes))
    ctx.shared["fits"] = all_fits
    if not rows:
        return sec.skip("no model could be fitted (see the notes).")
    table = pd.DataFrame(rows)
    table.insert(1, "outcome_label", [outcome_label(o) for o in table["outcome"]])
    models = list(dict.fromkeys(table["model"]))
    labels = {m: lab for m, lab in zip(table["model"], table["adjusted_for"], strict=True)}
    sec.text.append(
        f"Odds ratios of each health outcome, respondents {exp.who} vs the other respondents, "
        "from survey-weighted logistic regressions. "
        + "; ".join(f"{m}: {labels[m]}" for m in models) + ". Within "
        "an outcome all models use the same respondents (complete cases for the largest "
        "model), so the odds ratios differ only by the adjustment.")
    sec.tables.append(ReportTable("Odds ratios (95% CI) by outcome and model", table, digits=2,
                                  shown=nested_display(table, models),
                                  note="n = respondents in the analytic sample (unweighted); "
                                       "events = those with the outcome; OR = odds ratio of the "
                                       "exposed vs the others; p from the design-based Wald t "
                                       "test on the model's residual degrees of freedom. "
                                       + "; ".join(f"{m}: {labels[m]}" for m in models) + ".",
                                  na_reason="not estimable from the fitted model (e.g. a "
                                            "coefficient without a finite standard error)."))
    plot_frame = pd.DataFrame({
        "label": table["outcome_label"], "group": table["model"],
        "estimate": table["odds_ratio"], "ci_low": table["ci_low"], "ci_high": table["ci_high"]})
    from socialhealth import plot

    fig, axes = new_figure(9.0, 1.6 + 0.24 * len(plot_frame))
    plot.forest(plot_frame, label="label", by="group", ax=axes[0], caption=None,
                xlabel="Odds ratio (95% CI, log scale)")
    fig.suptitle(f"{exp.name}: odds ratios of health outcomes", fontsize=11)
    sec.figures.append(to_report_figure(fig, "Forest plot of the nested models",
                                        "Odds ratios > 1: the outcome is more common among the "
                                        "exposed. Lines: 95% CIs. Models as in the text above."))
    return sec


def nested_display(table: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """The nested models side by side, as in a paper (R ``gtsummary::tbl_merge``): one row per
    outcome; n, events, then "OR (95% CI)" and p of each model. Cells are text from
    :mod:`socialhealth.report.formatting`."""
    rows = []
    for _outcome, g in table.groupby("outcome", sort=False):
        row = {"Outcome": g["outcome_label"].iloc[0], "n": _num.count(g["n"].iloc[0]),
               "Events": _num.count(g["events"].iloc[0])}
        by = {m: r for m, r in zip(g["model"], g.itertuples(index=False), strict=True)}
        for m in models:
            r = by.get(m)
            row[f"{m} OR (95% CI)"] = (or_text(r.odds_ratio, r.ci_low, r.ci_high)
                                        if r is not None else _num.NA)
            row[f"{m} p"] = _num.p_value(r.p) if r is not None else _num.NA
        rows.append(row)
    return pd.DataFrame(rows)


def or_text(v: float, lo: float, hi: float) -> str:
    """"1.23 (1.05-1.44)"."""
    if not _num.finite(v):
        return _num.NA
    return f"{_num.number(v)} ({_num.number(lo)}-{_num.number(hi)})"


def separation_in_words(e: SeparationError, levels: dict | None = None) -> str:
    """A separated model, said for a reader: which categories predict the outcome perfectly.

    ``C(age_group)[T.25-34]`` ... become "age group (25-34, 35-44, ...)"; without the terms
    (e.g. a Cox model) the exception's own first sentence is used. ``levels`` (a categorical
    covariate's levels in the analytic sample, reference first): when every level but the
    reference diverges, it is the reference category that has no cases (the intercept goes to
    -infinity and all other levels follow), so the reference is named.

    Examples
    --------
    >>> e = SeparationError("separated")
    >>> e.terms, e.n_rows = ["C(age_group)[T.25-64]", "C(age_group)[T.65+]"], 140
    >>> separation_in_words(e, {"age_group": ["15-24", "25-64", "65+"]})[:88]
    'Perfect or quasi-complete separation: age group (15-24, the reference category) predicts'
    >>> e.terms = ["obese[T.True]"]
    >>> separation_in_words(e)[:62]
    'Perfect or quasi-complete separation: obesity (yes) predicts t'
    """
    terms = getattr(e, "terms", None)
    if not terms:
        return str(e).split(". ")[0] + "."
    found: dict[str, list[str]] = {}
    for t in terms:
        m = re.fullmatch(r"C\((\w+)\)\[T\.(.+)\]", t) or re.fullmatch(r"(\w+)\[T\.(.+)\]", t)
        var, level = (m.group(1), m.group(2)) if m else (t, "")
        found.setdefault(var, []).append({"True": "yes", "False": "no"}.get(level, level))
    groups: dict[str, list[str]] = {}
    for var, lv in found.items():
        known = [str(x) for x in (levels or {}).get(var, [])]
        if len(known) > 2 and set(lv) == set(known[1:]):
            lv = [f"{known[0]}, the reference category"]
        groups[covariate_words(var)] = lv
    said = "; ".join(f"{v} ({', '.join(x for x in lv if x)})" if any(lv) else v
                     for v, lv in groups.items())
    n_named = sum(max(1, len(lv)) for lv in groups.values())
    n = getattr(e, "n_rows", None)
    verb = "predicts" if n_named == 1 else "predict"
    return (f"Perfect or quasi-complete separation: {said} {verb} the outcome perfectly"
            + (f" for {n} respondents" if n else "")
            + " (typically a category with no cases), so the maximum-likelihood estimate does "
              "not exist (R glm: 'fitted probabilities numerically 0 or 1 occurred').")
