"""Section "Loneliness next to smoking, obesity and inactivity".

The survey's odds ratios come from the fully adjusted model of the association section (the
exposure and the comparators in one model, adjusted for age group and sex), so they are
mutually adjusted. The published pooled estimates (all-cause mortality) are shown beside them
for scale only: they differ in outcome, measure (HR, RR, OR) and adjustment.
"""
from __future__ import annotations

import re

import pandas as pd

from socialhealth.report.content import content, outcome_label
from socialhealth.report.context import LONELINESS_ITEMS, Context
from socialhealth.report.document import ReportTable, Section
from socialhealth.report.exposure import _lower_first
from socialhealth.report.figures import new_figure, to_report_figure
from socialhealth.report.sections.association import coefficient_row


def published_anchors() -> pd.DataFrame:
    """The anchors chosen in ``content.toml``, adverse orientation: ``factor, label, estimate,
    ci_low, ci_high, measure, outcome, source, citation``."""
    from socialhealth.models import anchors

    a = anchors.adverse_scale(anchors.load())
    rows = []
    for spec in content()["anchors"]:
        hit = a[(a["source_key"] == spec["source_key"]) & (a["exposure"] == spec["exposure"])
                & (a["subgroup"] == spec["subgroup"]) & (a["outcome"] == spec["outcome"])]
        if hit.empty:
            continue
        r = hit.iloc[0]
        rows.append({"factor": spec["factor"], "label": spec["display"],
                     "estimate": float(r["adverse_estimate"]),
                     "ci_low": float(r["adverse_ci_low"]), "ci_high": float(r["adverse_ci_high"]),
                     "measure": r["measure"], "outcome": r["outcome"],
                     "published_exposure": r["exposure"] + (" (reciprocal: inactive vs active)"
                                                            if r["adverse_rule"] == "reciprocal"
                                                            else ""),
                     "source": source_label(r["citation"], r["source_key"]),
                     "citation": r["citation"]})
    return pd.DataFrame(rows)


def source_label(citation: str, key: str = "") -> str:
    """A published source by author and year: "Rico-Uribe et al. 2018".

    From the citation ("Rico-Uribe LA, Caballero FF, ... (2018). Title ..."): the first
    author's surname, "et al." for three or more authors ("A and B" for two), and the year;
    ``key`` ("rico-uribe_2018") when the citation cannot be read.

    Examples
    --------
    >>> source_label("Rico-Uribe LA, Caballero FF, Miret M (2018). Loneliness and mortality.")
    'Rico-Uribe et al. 2018'
    >>> source_label("Nocon M, Hiemann T (2008). Physical activity.")
    'Nocon and Hiemann 2008'
    >>> source_label("", "flegal_2013")
    'Flegal 2013'
    """
    m = re.match(r"^\s*(.+?)\s*\((\d{4})[a-z]?\)", str(citation or ""))
    if not m:
        k = str(key or "").rsplit("_", 1)
        if len(k) == 2 and k[1].isdigit():
            return f"{k[0][:1].upper()}{k[0][1:]} {k[1]}"
        return str(key or citation)
    authors = [a.strip() for a in m.group(1).split(",") if a.strip()]

    def surname(a: str) -> str:
        words = a.split()
        while len(words) > 1 and re.fullmatch(r"[A-Z]{1,4}", words[-1]):
            words = words[:-1]
        return " ".join(words)

    if len(authors) >= 3 or (authors and authors[-1].lower().startswith("et al")):
        who = f"{surname(authors[0])} et al."
    elif len(authors) == 2:
        who = f"{surname(authors[0])} and {surname(authors[1])}"
    else:
        who = surname(authors[0]) if authors else ""
    return f"{who} {m.group(2)}".strip()


def _not_measured_words(names: list[str]) -> str:
    """The published-estimates note's sentence on the comparators this survey does not
    measure (their rows are kept, for scale, as the section's intent says); "" if none.

    Examples
    --------
    >>> _not_measured_words(["Smoking", "Physical inactivity"])[:64]
    ' Smoking and physical inactivity are not measured in this survey'
    >>> _not_measured_words([])
    ''
    """
    if not names:
        return ""
    words = [names[0]] + [n.lower() for n in names[1:]]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    one = len(words) == 1
    return (f" {listed} {'is' if one else 'are'} not measured in this survey: "
            f"{'its' if one else 'their'} published estimate{'' if one else 's'} "
            f"{'is' if one else 'are'} shown for scale only, with no odds ratio from this "
            f"survey to compare.")


def build_risk_factors(ctx: Context) -> Section:
    """Mutually adjusted odds ratios of the exposure and the comparator risk factors."""
    exp = ctx.exposure
    own = {exp.column, exp.source}      # an exposure that is a comparator is not its own rival
    comps = {c: v for c, v in content()["comparators"].items() if c not in own}
    titles = [content()["comparator_titles"][c] for c in comps]
    sec = Section("risk_factors", f"{exp.name} next to "
                  + (", ".join(titles[:-1]) + " and " if len(titles) > 1 else "") + titles[-1])
    why = ctx.exposure_reason()
    if why:
        return sec.skip(why)
    measured = [c for c in comps if not ctx.why_not(c)]
    if not measured:
        return sec.skip("the survey measures none of the comparator risk factors: "
                        + "; ".join(ctx.why_not(c) for c in comps) + ".")
    for c in comps:
        if c not in measured:
            sec.notes.append(f"Comparator left out: {ctx.why_not(c)}.")
    fits = ctx.shared.get("fits", {})
    rows = []
    labels = {exp.column: exp.name, **comps}
    for outcome, by_model in fits.items():
        last = list(by_model)[-1] if by_model else None
        found = {} if last is None else {
            f: r for f in [exp.column, *measured]
            if (r := coefficient_row(by_model[last][1], f)) is not None}
        if len(found) < 2:      # say why a row of the association table is missing here
            sec.notes.append(f"{outcome_label(outcome)} is not shown: its fully adjusted model "
                             "(exposure and risk factors together) could not be estimated "
                             "(see the association section's notes).")
            continue
        for f, r in found.items():
            rows.append({"outcome": outcome, "outcome_label": outcome_label(outcome),
                         "model": last, "factor": f, "factor_label": labels.get(f, f),
                         "odds_ratio": float(r["estimate"]), "ci_low": float(r["ci_low"]),
                         "ci_high": float(r["ci_high"]), "p": float(r["p"])})
    if not rows:
        return sec.skip("no outcome model holds both the exposure and a comparator risk factor "
                        "(see the association section).")
    table = pd.DataFrame(rows)
    wide = table.pivot(index="outcome_label", columns="factor_label", values="odds_ratio")
    wide = wide.loc[list(dict.fromkeys(table["outcome_label"]))]
    wide.columns.name = None
    # an exposure that is itself a comparator (smoker) is one column, not two
    order = list(dict.fromkeys(labels.get(f, f) for f in [exp.column, *measured]
                               if labels.get(f, f) in wide.columns))
    sec.text.append(
        "Mutually adjusted odds ratios from the fully adjusted model of each outcome: the "
        "exposure and "
        + ", ".join(comps[c].lower() for c in measured)
        + " in one survey-weighted logistic regression, also adjusted for age group and sex "
        f"where measured; the exposure's odds ratio compares respondents {exp.who} with the "
        "others. Read across a row to compare the exposure's odds ratio"
        + (" (first column)" if order and order[0] == labels.get(exp.column, exp.column) else "")
        + " with those of the established risk factors for the same outcome.")
    sec.tables.append(ReportTable(
        "Odds ratios of each factor, by outcome (mutually adjusted)",
        wide[order].reset_index().rename(columns={"outcome_label": "outcome"}), digits=2,
        na_reason="the factor is not in that outcome's fully adjusted model (not measured, or "
                  "its coefficient could not be estimated)."))
    sec.tables.append(ReportTable("The same with 95% CIs", table.drop(columns=["outcome_label"]),
                                  digits=2, hide=("factor",),
                                  na_reason="not estimable from the fitted model "
                                  "(e.g. a coefficient without a finite standard error)."))

    anchors = published_anchors()
    if not anchors.empty:
        # the published loneliness estimate stands next to the survey's exposure only when
        # the exposure is a loneliness measure; otherwise it keeps its own name
        lonely = exp.source in LONELINESS_ITEMS
        shown = anchors.assign(label=[labels.get(exp.column) if f == "exposure" and lonely
                                      else lab for f, lab in zip(anchors["factor"],
                                                                 anchors["label"], strict=True)])
        sec.tables.append(ReportTable(
            "Published pooled estimates for all-cause mortality (for scale)",
            shown[["label", "estimate", "ci_low", "ci_high", "measure", "outcome",
                   "published_exposure", "source", "citation"]], digits=2, hide=("citation",),
            note="Orientation: ratio > 1 = higher mortality with the adverse state (physical "
                 "activity inverted). Measures differ (HR, RR, RM = relative mortality) and "
                 "are not converted; the survey's odds ratios above are for other outcomes "
                 "unless the outcome is death." + _not_measured_words(
                     [comps[c] for c in comps if c not in measured
                      and c in set(anchors["factor"])]) + " Sources: "
                 + " ".join(f"{s}: {c}" for s,
                            c in zip(shown["source"], shown["citation"], strict=True))))
    # figure: mortality if modelled, else the first outcome
    pick = "died" if "died" in set(table["outcome"]) else table["outcome"].iloc[0]
    survey_rows = table[table["outcome"] == pick]
    survey = pd.DataFrame({"label": survey_rows["factor_label"],
                           "estimate": survey_rows["odds_ratio"],
                           "ci_low": survey_rows["ci_low"], "ci_high": survey_rows["ci_high"]})
    from socialhealth import plot

    fig, axes = new_figure(9.0, 3.6)
    if not anchors.empty:
        anc = shown[shown["label"].isin(set(survey["label"]))][["label", "estimate", "ci_low",
                                                                 "ci_high", "source"]]
        plot.risk_factors(survey, anc if not anc.empty else None, ax=axes[0], caption=None,
                          survey_name=f"This survey: OR, {outcome_label(pick).lower()}",
                          anchor_name="Published meta-analysis: all-cause mortality",
                          xlabel="Ratio (95% CI, log scale)")
    else:
        plot.forest(survey, ax=axes[0], caption=None, xlabel="Odds ratio (95% CI, log scale)")
    # the published estimates are for mortality, not for the survey's outcome: the title must
    # not call them "risk factors for depression"
    said = _lower_first(outcome_label(pick))
    fig.suptitle(f"This survey: odds ratios for {said}; published: all-cause mortality",
                 fontsize=11)
    others = len(set(table["outcome"])) > 1
    which = (" (mortality)" if pick == "died" else " (the first outcome of the tables)") \
        if others else ""
    sec.figures.append(to_report_figure(
        fig, "Risk factors compared",
        f"Filled: this survey, mutually adjusted odds ratios for {said}{which}"
        + ("; the tables give every outcome" if others else "")
        + ". Open: published pooled estimates of all-cause mortality (different measures; for "
          "scale only)."))
    return sec
