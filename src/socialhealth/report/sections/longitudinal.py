"""Section "Longitudinal": the exposure at the first wave and health at the last, on a panel.

Added to the report when a linked panel is given (``report.build(..., panel=...)``; on the
command line ``socialhealth report --waves 2006,2010``). Two parts, both on the panel design
(baseline strata and PSUs, the panel weight):

* prospective odds ratios: each outcome at the last wave on the exposure at the first
  (:func:`socialhealth.models.prospective`), unadjusted, then adjusted as the association
  section (age group and sex; smoking, obesity, inactivity: each covariate at the first wave),
  then also for the outcome at the first wave; R ``svyglm(`y@2010` ~ `x@2006` + ...,
  design = des_panel, family = quasibinomial())``;
* the transition table of the exposure between the two waves
  (:func:`socialhealth.models.transitions`): weighted shares moving from each state to each,
  with R ``svyciprop`` intervals.

The section is skipped, saying why, when the panel lacks the exposure at either wave.
"""
from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np
import pandas as pd

from socialhealth.errors import SocialHealthError
from socialhealth.report import exposure as _exposure
from socialhealth.report.content import content, outcome_label
from socialhealth.report.context import Context
from socialhealth.report.document import ReportTable, Section
from socialhealth.report.figures import new_figure, to_report_figure
from socialhealth.report.sections.association import covariate_words, model_words, or_text
from socialhealth.report import formatting as _num


def _usable(panel, column: str) -> bool:
    d = panel.data
    return column in d.columns and bool(d[column].notna().any())


def _panel_with_exposure(ctx: Context, panel, w0: int, w1: int):
    """The panel with the exposure column at both waves (derived per wave for a condition)."""
    exp = ctx.exposure
    if exp.condition is None:
        return panel, exp.column
    cols = {}
    for w in (w0, w1):
        src = f"{exp.source}@{w}"
        if not _usable(panel, src):
            return panel, exp.column
        e = _exposure.parse(exp.spec)
        _e, derived = _exposure.derive(e, pd.DataFrame({exp.source: panel.data[src]}),
                                       None, "exposure")
        if derived is None:  # not reached: a condition always derives a column
            raise SocialHealthError(f"the exposure condition {exp.spec!r} derived no column.")
        yes = pd.Series(derived.to_numpy(dtype=float), index=panel.data.index)
        cols[f"{exp.column}@{w}"] = (yes == 1.0).astype("boolean").where(yes.notna())
    return panel.assign(**cols), exp.column


_YES_NO = {"True": "yes", "False": "no"}


def state_words(tr):
    """The transition table with a yes/no exposure's states in words ("yes", "no"; the
    column headers name the concept and the wave) instead of ``True`` / ``False``; other
    states (categories) are kept as they are."""
    t = tr.to_frame()
    states = set(t["from_state"].astype(str)) | set(t["to_state"].astype(str))
    if not states or not states <= set(_YES_NO):
        return tr
    t["from_state"] = t["from_state"].astype(str).map(_YES_NO)
    t["to_state"] = t["to_state"].astype(str).map(_YES_NO)
    levels = [_YES_NO[str(v)] for v in tr.levels] if tr.levels else None
    return replace(tr, table=t, levels=levels)


def build_longitudinal(ctx: Context) -> Section:
    """Prospective odds ratios (exposure at the first wave, outcomes at the last) and the
    exposure's transition table, on the linked panel in ``ctx.shared["panel"]``."""
    from socialhealth import models, plot

    exp = ctx.exposure
    sec = Section("longitudinal", f"{exp.name} over time: linked panel")
    panel = ctx.shared.get("panel")
    if panel is None:
        return sec.skip("no linked panel was given (on the command line: --waves FIRST,LAST).")
    ws = list(getattr(panel, "waves", None) or [])
    if len(ws) < 2:
        return sec.skip("the panel links fewer than two waves.")
    w0, w1 = ws[0], ws[-1]
    panel, x = _panel_with_exposure(ctx, panel, w0, w1)
    for w in (w0, w1):
        if not _usable(panel, f"{x}@{w}"):
            return sec.skip(f"{exp.name} is not measured at wave {w} of the panel (none of "
                            f"the {len(panel.data):,} persons linked answered it at {w}); the "
                            "panel cannot show its change or its prospective association.")
    acc = (panel.provenance.get("panel") or {}).get("accounting", {})
    wvar = (panel.provenance.get("panel") or {}).get("weight_variable")
    waves = (f"at both waves, {w0} and {w1}," if len(ws) == 2 else
             f"at every wave ({', '.join(map(str, ws[:-1]))} and {w1})")
    sec.text.append(
        f"{len(panel.data):,} persons interviewed {waves} and carrying the panel weight {wvar}"
        + (f" (of {int(acc['baseline']):,} interviewed at {w0})" if "baseline" in acc else "")
        + ". Design: the first wave's strata and PSUs with the panel weight.")
    sec.r_code.append("des_panel <- svydesign(ids = ~psu, strata = ~strata, weights = ~weight, "
                      "nest = TRUE, data = linked)   # linked: one row per person, "
                      "columns <concept>@<wave>")
    # ---------------------------------------------------------------- prospective models
    blocks = []
    for m in content()["models"]:
        got = [c for c in m["adds"] if _usable(panel, f"{c}@{w0}")]
        left = [c for c in m["adds"] if c not in got]
        if left:   # the table labels its models by what they add, not "Model 3"
            sec.notes.append(f"Not adjusted for {', '.join(covariate_words(c) for c in left)}"
                             f" (not measured at wave {w0}).")
        if got:
            blocks.append(got)
    rows = []
    for o in ctx.outcomes:
        if not _usable(panel, f"{o}@{w1}"):
            sec.notes.append(f"Outcome left out: {outcome_label(o).lower()} is not measured "
                             f"at wave {w1}.")
            continue
        base = _usable(panel, f"{o}@{w0}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t = models.prospective(panel, x, w0, o, w1, adjust=blocks or None,
                                       baseline_outcome=base)
        except (SocialHealthError, ValueError, np.linalg.LinAlgError) as e:
            sec.notes.append(f"{outcome_label(o)}: prospective models not estimable ({e}).")
            continue
        f = t.to_frame()
        # models labelled in words as in the association table: what each adds, the
        # covariates' wave in the table note, the outcome's own wave in its label
        words = (["unadjusted"] + [model_words(b) for b in blocks]
                 + ([model_words([o], at=f"at {w0}")] if base else []))
        for r in f.itertuples(index=False):
            k = int(r.model)   # prospective fits one model per block: words[k] is its label
            label = words[k] if k < len(words) else model_words(
                [c.strip() for c in str(r.model_label).removeprefix("+ ").split(",")])
            rows.append({"outcome": o, "outcome_label": outcome_label(o), "model": label,
                         "adjusted_for": r.adjusted_for, "n": int(r.n),
                         "odds_ratio": float(r.estimate), "ci_low": float(r.ci_low),
                         "ci_high": float(r.ci_high), "p": float(r.p), "df": float(r.df)})
        sec.r_code += [f"svyglm({fm}, design = des_panel, family = quasibinomial())"
                       for fm in t.r_formulas]
        if not base:
            sec.notes.append(f"{outcome_label(o)}: not measured at wave {w0}, so not adjusted "
                             "for at baseline.")
    if rows:
        table = pd.DataFrame(rows)
        shown = pd.DataFrame({
            "Outcome": [f"{r.outcome_label} ({w1})" for r in table.itertuples()],
            "Model": table["model"], "n": [_num.count(v) for v in table["n"]],
            "OR (95% CI)": [or_text(a, b, c) for a, b, c in
                            zip(table["odds_ratio"], table["ci_low"], table["ci_high"],
                                strict=True)],
            "p": [_num.p_value(v) for v in table["p"]]})
        sec.tables.append(ReportTable(
            f"Prospective odds ratios: outcome at {w1} by "
            f"{_exposure._lower_first(exp.name)} at {w0}", table,
            digits=2, shown=shown,
            note=f"Survey-weighted logistic regressions on the linked panel (complete cases of "
                 f"the largest model per outcome); covariates measured at {w0}; the last model "
                 f"also adjusts for the outcome at {w0} where it was measured.",
            na_reason="not estimable from the fitted model."))
        sec.text.append(f"Odds ratios of each health outcome at {w1}, respondents {exp.who} "
                        f"vs the other respondents, with the exposure as measured at {w0}.")
    else:
        sec.notes.append(f"No outcome measured at wave {w1} could be modelled.")
    # ---------------------------------------------------------------- transitions
    tr = state_words(models.transitions(panel, x, w0, w1, method=ctx.ci_method))
    tf = tr.to_frame()
    cols = ["from_state", "to_state", "n", "weighted", "row_share", "row_ci_low", "row_ci_high",
            "share", "ci_low", "ci_high"]
    sec.tables.append(ReportTable(
        f"Transitions of {_exposure._lower_first(exp.name)}, {w0} to {w1}", tf[cols],
        percent=("row_share", "row_ci_low", "row_ci_high", "share", "ci_low", "ci_high"),
        digits=0,
        labels={"from_state": f"{exp.name} at {w0}", "to_state": f"{exp.name} at {w1}",
                "weighted": "Weighted n", "row_share": f"Share of the {w0} state (%)",
                "row_ci": f"95% CI of the share of the {w0} state (%)",
                "share": "Share of all (%)", "ci": "95% CI of the share of all (%)"},
        note=f"Share of the {w0} state: weighted share of the persons in that state at {w0} "
             f"who are in the {w1} state (95% {ctx.ci_method} CI, each {w0} state a domain); "
             f"share of all: the cell's share of the {int(tr.n):,} persons answering at both "
             f"waves; n unweighted.",
        na_reason="the interval is undefined for a share of 0% or 100%."))
    sec.r_code.append(f"svytable(~`{x}@{w0}` + `{x}@{w1}`, des_panel)")
    fig, axes = new_figure(6.5, 3.6)
    # axis labels in words: the exposure's display name and the wave (a condition's derived
    # column name, e.g. contact_in_person_geless_than_monthly@2006, is cut off and unreadable)
    import textwrap

    plot.transitions(tr, ax=axes[0], caption=None,
                     ylabel=textwrap.fill(f"{exp.name}, {w0}", 32),
                     xlabel=f"{exp.name}, {w1}")
    sec.figures.append(to_report_figure(fig, f"Transitions {w0} to {w1}",
                                        "Cells: weighted share of each row's persons in each "
                                        "column's state at the later wave, 95% CIs."))
    return sec
