"""Section "Prevalence": the exposure overall and by age group, sex and country, 95% CIs."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from socialhealth.datasets._concepts import _sources
from socialhealth.report import formatting as _num
from socialhealth.report.context import Context
from socialhealth.report.document import ReportTable, Section
from socialhealth.report.exposure import _lower_first, column_words, subject_words
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
    sec = Section("prevalence", f"Prevalence of {_lower_first(exp.name)}")
    why = ctx.exposure_reason()
    if why:
        return sec.skip(why)
    table, ests, notes, r_calls = prevalence_rows(ctx)
    overall = table.iloc[0]
    # its own sentence: the exposure's wording may already end in brackets ("(ucla3_score >= 6)")
    answered = (f"{int(overall['n']):,} respondents answered"
                + (f"; {exp.n_missing:,} with the exposure missing are left out."
                   if exp.n_missing else ", none missing."))
    if all(_num.finite(overall[c]) for c in ("estimate", "ci_low", "ci_high")):
        sec.text.append(
            f"{_num.percent(overall['estimate'])}% (95% CI {_num.percent(overall['ci_low'])}% "
            f"to {_num.percent(overall['ci_high'])}%) of respondents {exp.share}. "
            f"{answered} Intervals are {ctx.ci_method} intervals (R svyciprop method "
            f"\"{ctx.ci_method}\")"
            + (", which stay inside 0-100%." if ctx.ci_method != "mean" else
               ", Wald intervals on the percentage scale."))
    else:
        sec.text.append(
            f"The overall proportion of respondents {exp.who} cannot be given with an interval: "
            f"the {ctx.ci_method} interval is undefined for these data. {answered}")
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


HEADLINE = ("The exposure lonely is the harmonised schema's headline loneliness indicator: the "
            "direct question (\"How often do you feel lonely?\") answered often or always, or "
            "its nearest equivalent (such as 'most or all of the time' on a past-week CES-D "
            "item), where the survey asks one, otherwise a UCLA-3 score of 6 or more; the "
            "codebook says which.")

#: Codebook rules that say nothing about how the column was made from the survey's variables.
_NO_RULE = ("", "synthetic", "derived")
_OTHERWISE = re.compile(r"^(?P<base>.*); otherwise (?P<alt>\S+) \((?P<n>\d+) rows\)$")
_MAP_ITEM = re.compile(r"^\s*(?P<code>[^→]+?)\s*→\s*(?P<value>.+?)\s*$")


def _and(names: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _names(names: list[str]) -> str:
    """Variable names in a sentence: "the variable hhmmb", "the variables a, b and c"."""
    return f"the variable{'' if len(names) == 1 else 's'} {_and(names)}"


def _value_words(value: str) -> str:
    return {"True": "yes", "False": "no"}.get(value, value)


def _map_words(text: str) -> str:
    """A codebook map "1→True, 2→True, 7→False" in words: "codes 1 or 2 counted as yes, 7 as
    no" (codes with the same value together, in the map's order); other text unchanged."""
    from socialhealth.datasets._codebook import codes_text

    found = [_MAP_ITEM.match(x) for x in text.split(", ")]
    items = [m for m in found if m is not None]
    if not items or len(items) < len(found):
        return text.replace("→", " counted as ")
    groups: dict[str, list[str]] = {}
    for m in items:
        groups.setdefault(_value_words(m["value"]), []).append(m["code"])
    said = [f"{codes_text(codes)} {'counted ' if i == 0 else ''}as {value}"
            for i, (value, codes) in enumerate(groups.items())]
    return "codes " + ", ".join(said)


def rule_words(rule: str) -> str:
    """A codebook rule in words for a sentence: maps ("1→True, 7→False") as "codes 1 counted
    as yes, 7 as no", "→ missing" as "counted as missing", "x >= 30" as "x is 30 or more";
    the name of a shared map (an internal reference) is left out.

    Examples
    --------
    >>> rule_words("first answered of hlpdown: 1→True, 2→True, 3→True, 4→True, 7→False")
    'the first answered of hlpdown (codes 1-4 counted as yes, 7 as no)'
    >>> rule_words("1→1, 2→1, 3→2 (shared map lonely_5pt_to_ucla3); 8 or 9 → missing")
    'codes 1 or 2 counted as 1, 3 as 2; 8 or 9 counted as missing'
    >>> rule_words("yes if bmi >= 30")
    'yes if bmi is 30 or more'
    """
    text = re.sub(r"\s*\(shared map [^)]*\)", "", rule.strip())
    text = re.sub(r"\s*→\s*missing\b", " counted as missing", text)
    text = re.sub(r"(\w) >= (\d+(?:\.\d+)?)", r"\1 is \2 or more", text)
    parts = []
    for part in text.split("; "):
        if part.startswith("first answered of "):
            per = [p.partition(": ") for p in part[len("first answered of "):].split("; ")]
            parts.append("the first answered of " + " and ".join(
                f"{name} ({_map_words(m)})" for name, _, m in per))
        elif "→" in part:
            parts.append(_map_words(part))
        else:
            parts.append(part)
    return "; ".join(parts)


#: Harmonised columns that a codebook rule names as a fallback source, in words.
_SOURCE_WORDS = {"lonely_ucla3": "the UCLA-3 items (a score of 6 or more)"}


def _harmonised(names: list[str]) -> bool:
    """True when every name is a column of the harmonised schema (not a survey variable)."""
    from socialhealth.datasets._schema import schema

    known = schema()
    return bool(names) and all(n in known for n in names)


def _measured_how(ctx: Context) -> str:
    """One or two sentences from the codebook on how the exposure was measured: the survey's
    variables by name (harmonised columns in words), the rule in words, then the codebook's
    note. Counts are those of the analysed respondents, not of the file as loaded (a
    ``min_age=`` restriction drops rows after the codebook counted them)."""
    source = ctx.exposure.source
    parts = [HEADLINE] if source == "lonely" else []
    row = ctx._codebook_row(source)
    if row is None:
        return " ".join(parts)
    srcs = _sources(row.get("source_variables"))
    rule = str(row.get("rule", "") or "").strip()
    note = str(row.get("notes", "") or "").strip()
    what = subject_words(source)
    other = _OTHERWISE.match(rule)
    if other:
        alt, base = other["alt"], other["base"]
        alt_words = _SOURCE_WORDS.get(alt) or f"{subject_words(alt)} ({alt})"
        own = [s for s in srcs if s != alt]
        if base == "no direct item in this file":
            n = int((ctx.design.in_subset & ctx.data[alt].notna().to_numpy()).sum()) \
                if alt in ctx.data.columns else int(other["n"])
            sentence = (f"In this survey, {what} is taken from {alt_words} for the {n:,} "
                        f"respondents who answered them: this file has none of the direct items"
                        + (f" ({_and(own)})" if own else "")
                        + ".")
        else:
            sentence = (f"In this survey, {what} is coded from {_names(own)}: "
                        f"{rule_words(base)}; where that is missing, from {alt_words}"
                        + ("" if _restricted(ctx) else f" ({int(other['n']):,} respondents)")
                        + ".")
        parts.append(sentence)
    elif rule.lower() not in _NO_RULE:
        if srcs and srcs != [source] and _harmonised(srcs):
            items = _and([column_words(x)[1] for x in srcs])
            parts.append(f"In this survey, {what} is derived from the items {items}: "
                         f"{rule_words(rule).rstrip('.')}.")
        elif srcs and srcs != [source]:
            parts.append(f"In this survey, {what} is coded from {_names(srcs)}: "
                         f"{rule_words(rule).rstrip('.')}.")
        else:
            parts.append(f"In this survey, {what} is coded {rule_words(rule).rstrip('.')}.")
    if note.lower().rstrip(".") in _NO_RULE:       # "Codebook note: Derived." says nothing
        note = ""
    if note:
        first = re.split(r"[\s:;,(]", note, maxsplit=1)[0]
        if first not in (*srcs, source):      # a variable name keeps its case ("hhmmb is ...")
            note = note[:1].upper() + note[1:]
        parts.append(f"Codebook note: {note.rstrip('.')}.")
    return " ".join(parts)


def _restricted(ctx: Context) -> bool:
    """True when rows were dropped after loading (``min_age=``), so that counts the codebook
    made over the loaded file no longer describe the analysed respondents."""
    pop = (getattr(ctx.sd, "provenance", {}) or {}).get("population") or {}
    return bool(pop.get("restricted_by"))
