"""Section "Prevalence": the exposure overall and by age group, sex and country, 95% CIs."""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from socialhealth.report import formatting as _num
from socialhealth.report.context import Context
from socialhealth.report.document import ReportTable, Section
from socialhealth.report.figures import new_figure, to_report_figure
from socialhealth.report.rcode import with_des
from socialhealth.report.sections.methods import interval_caption

#: Grouping variables of the prevalence table, in order, with their display names.
GROUPS = {"age_group": "Age group", "sex": "Sex", "country": "Country"}
VALUE_COLUMNS = ["estimate", "se", "ci_low", "ci_high"]


def _unweighted_n(ctx: Context, by: str | None) -> pd.Series:
    d = ctx.data
    ok = ctx.design.in_subset & d[ctx.exposure.column].notna().to_numpy()
    if by is None:
        return pd.Series([int(ok.sum())])
    return d.loc[ok, by].value_counts()


def prevalence_rows(
        ctx: Context,
) -> tuple[pd.DataFrame, dict[str | None, Any], list[str], dict[str | None, str]]:
    """(table, {by: Estimate}, notes, {by: R call}): the overall row and one block per
    grouping variable."""
    x, d = ctx.exposure.column, ctx.design
    overall = d.proportion(x, method=ctx.ci_method)
    f = overall.to_frame()
    rows = [{"group": "All", "level": "all respondents", "n": int(_unweighted_n(ctx, None)[0]),
             **{c: float(f[c].iloc[0]) for c in VALUE_COLUMNS}, "df": float(f["df"].iloc[0])}]
    ests: dict[str | None, Any] = {None: overall}
    r_calls: dict[str | None, str] = {None: with_des(overall.r_call)}
    notes = []
    for by, label in GROUPS.items():
        why = ctx.why_not(by)
        if why:
            notes.append(f"Not shown by {label.lower()}: {why}.")
            continue
        levels = ctx.levels(by, among=x)
        if len(levels) < 2:
            notes.append(f"Not shown by {label.lower()}: every respondent is in one group "
                         f"({', '.join(map(str, levels))}).")
            continue
        est, r_call = ctx.domain_proportion(x, by)
        ests[by] = est
        r_calls[by] = r_call
        fr = est.to_frame()
        counts = _unweighted_n(ctx, by)
        for _, r in fr.iterrows():
            rows.append({"group": label, "level": str(r[by]), "n": int(counts.get(r[by], 0)),
                         **{c: float(r[c]) for c in VALUE_COLUMNS}, "df": float(r["df"])})
    table = pd.DataFrame(rows)
    # proportion() gives a 0%/100% group R's degenerate logit interval (p, p); the report shows
    # n/a with its stated reason instead
    edge = table["estimate"].isin((0.0, 1.0))
    table.loc[edge, ["ci_low", "ci_high"]] = np.nan
    return table, ests, notes, r_calls


def build_prevalence(ctx: Context) -> Section:
    """Weighted prevalence of the exposure with svyciprop 95% intervals (``ctx.ci_method``)."""
    exp = ctx.exposure
    sec = Section("prevalence", f"Prevalence of {exp.name[0].lower() + exp.name[1:]}")
    why = ctx.exposure_reason()
    if why:
        return sec.skip(why)
    table, ests, notes, r_calls = prevalence_rows(ctx)
    overall = table.iloc[0]
    answered = (f"{int(overall['n']):,} respondents answered"
                + (f", {exp.n_missing:,} with the exposure missing are left out"
                   if exp.n_missing else "; none missing"))
    if all(_num.finite(overall[c]) for c in ("estimate", "ci_low", "ci_high")):
        sec.text.append(
            f"{_num.percent(overall['estimate'])}% (95% CI {_num.percent(overall['ci_low'])}% "
            f"to {_num.percent(overall['ci_high'])}%) of respondents {exp.share} "
            f"({answered}). Intervals are {ctx.ci_method} intervals (R svyciprop method "
            f"\"{ctx.ci_method}\")"
            + (", which stay inside 0-100%." if ctx.ci_method != "mean" else
               ", Wald intervals on the percentage scale."))
    else:
        sec.text.append(
            f"The overall proportion of respondents {exp.who} cannot be given with an interval "
            f"({answered}): the {ctx.ci_method} interval is undefined for these data.")
    if exp.note:
        sec.text.append(f"Condition: {exp.note}")
    rule = _measured_how(ctx)
    if rule:
        sec.text.append(rule)
    sec.tables.append(ReportTable(
        "Prevalence with 95% confidence intervals", table,
        note="n = respondents with an answer (unweighted); estimate, se and CI are weighted "
             "percentages (%); df = design degrees of freedom of the interval.",
        percent=("estimate", "se", "ci_low", "ci_high"), digits=0,
        na_reason="the interval is undefined for a group in which none (0%) or all (100%) of "
                  "the respondents who answered are classed as exposed (R svyciprop gives NA "
                  "as well)."))
    sec.notes += notes
    sec.r_code += list(r_calls.values())
    groups = [by for by in ests if by is not None]
    if groups:
        widths = [max(2.6, 0.55 * len(ctx.levels(b, among=exp.column)) + 1.2) for b in groups]
        fig, axes = new_figure(min(11.0, sum(widths)), 3.6, ncols=len(groups),
                               width_ratios=widths, sharey=True)
        from socialhealth import plot

        for ax, by in zip(axes, groups, strict=True):
            plot.prevalence(ests[by], x=by, ax=ax, caption=None, xlabel=GROUPS[by],
                            ylabel="Prevalence (%)" if by == groups[0] else "")
            ax.axhline(100 * float(overall["estimate"]), color="#4D4D4D", lw=0.8, ls="--")
        fig.suptitle(f"{exp.name}: weighted prevalence with 95% CIs (dashed line: all)",
                     fontsize=11)
        sec.figures.append(to_report_figure(fig, "Prevalence by group",
                                            "Bars: weighted prevalence; whiskers: "
                                            f"{interval_caption(ctx.ci_method)}."))
    return sec


HEADLINE = ("lonely is the survey's headline loneliness indicator in the harmonised schema: the "
            "direct question (\"How often do you feel lonely?\") answered often or always where "
            "the survey asks it, otherwise a UCLA-3 score of 6 or more; the codebook says which.")


def _measured_how(ctx: Context) -> str:
    """One or two sentences from the codebook on how the exposure was measured."""
    parts = [HEADLINE] if ctx.exposure.source == "lonely" else []
    row = ctx._codebook_row(ctx.exposure.source)
    if row is not None:
        src = str(row.get("source_variables", "") or "").strip()
        rule = str(row.get("rule", "") or "").strip()
        note = str(row.get("notes", "") or "").strip()
        text = f"In this survey (codebook), {ctx.exposure.source}"
        said = False
        if src and src != ctx.exposure.source:
            text, said = text + f" comes from {src}", True
        if rule and rule not in ("synthetic", "derived"):
            text, said = text + f": {rule}", True
        if said:    # nothing to say when the column is its own source without a rule
            parts.append(text.rstrip(".") + ".")
        if note:
            parts.append(note[:1].upper() + note[1:].rstrip(".") + ".")
    return " ".join(parts)
