"""Section "Trend over years": prevalence by year (and country) and the logistic trend."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from socialhealth.report import formatting as _num
from socialhealth.report.context import Context
from socialhealth.report.document import ReportTable, Section
from socialhealth.report.figures import new_figure, to_report_figure
from socialhealth.report.rcode import r_string
from socialhealth.report.sections.methods import interval_caption

MIN_YEARS = 3


def survey_years(data: pd.DataFrame) -> tuple[np.ndarray, str] | None:
    """Each row's survey year and its R expression, or None when that is the interview year.

    A survey wave's interviews can run into the next calendar year (BRFSS 2016: 301 of the
    6,167 Tennessee interviews are in 2017; ESS round 9 in GB: 279 of 2,204 in 2019). Its
    weights make the *wave* represent the population, not each interview year, so a trend
    goes by survey year: the wave itself when waves are years (BRFSS, NHIS, GSS), otherwise
    the year in which most of the wave's interviews took place (ESS round 7 -> 2014; the
    earlier year on a tie). None when every row's survey year is its interview year (the
    GSS, the demo), so the trend stays ``x ~ year``.
    """
    if "wave" not in data.columns or "year" not in data.columns:
        return None
    wave = data["wave"].astype(object)
    year = pd.to_numeric(data["year"], errors="coerce")
    if wave.isna().any():
        return None
    waves = list(dict.fromkeys(str(w) for w in wave))
    if all(re.fullmatch(r"(19|20)\d\d", w) for w in waves):
        of = {w: int(w) for w in waves}
        expr = "as.integer(as.character(wave))"
    else:
        of = {}
        for w in waves:
            counts = year[(wave.astype(str) == w).to_numpy()].dropna().astype(int).value_counts()
            if counts.empty:
                return None
            top = counts[counts == counts.max()].index
            of[w] = int(min(top))
        expr = ("unname(c(" + ", ".join(f'"{w}" = {y}' for w, y in of.items())
                + ")[as.character(wave)])")
    sy = np.array([of[str(w)] for w in wave], dtype=float)
    if np.array_equal(sy, year.to_numpy(dtype=float), equal_nan=False):
        return None
    return sy, expr


def build_trend(ctx: Context) -> Section:
    """Weighted prevalence per survey year and the design-based logistic trend ``x ~ year``.

    The trend is the slope of ``svyglm(x ~ year, family = quasibinomial())`` per country: the
    change in log-odds per year (its exponential: the odds ratio per year). The year is the
    survey year (see :func:`survey_years`); where a wave's interviews ran into the next
    calendar year the section adds ``survey_year`` to the design and uses it.
    """
    sec = Section("trend", "Trend over years")
    why = ctx.exposure_reason() or (ctx.why_not("year") and ctx.why_not("year") + ".")
    if why:
        return sec.skip(why)
    by_survey = survey_years(ctx.data)
    if by_survey is None:
        return _trend(ctx, sec, "year", "interview")
    before = ctx.design
    ctx.design = before.assign(survey_year=by_survey[0])
    try:
        sec.r_code.append(f"des <- update(des, survey_year = {by_survey[1]})")
        return _trend(ctx, sec, "survey_year", "survey")
    finally:
        ctx.design = before


def _trend(ctx: Context, sec: Section, yc: str, kind: str) -> Section:
    exp = ctx.exposure
    x = exp.column
    years = ctx.levels(yc, among=x)
    if len(years) < MIN_YEARS:
        return sec.skip(f"{exp.name} was measured in {len(years)} {kind} "
                        f"{'year' if len(years) == 1 else 'years'} only "
                        f"({', '.join(str(int(y)) for y in years)}); a trend needs at least "
                        f"{MIN_YEARS} years. Use a repeated survey or pool waves.")
    countries = ctx.levels("country", among=x) if not ctx.why_not("country") else []
    by = [yc, "country"] if len(countries) > 1 else [yc]
    d = ctx.design
    est, r_call = ctx.domain_proportion(x, by)
    frame = est.to_frame().rename(columns={yc: "year"})
    by = ["year", *by[1:]]
    table = frame[[*by, "estimate", "se", "ci_low", "ci_high", "df"]].copy()
    table["year"] = table["year"].astype(int)
    sec.tables.append(ReportTable("Prevalence by year", table,
                                  percent=("estimate", "se", "ci_low", "ci_high"), digits=0,
                                  na_reason="the interval is undefined for a year in which none "
                                            "(0%) or all (100%) of the respondents who answered "
                                            "are classed as exposed."))
    sec.r_code.append(r_call)

    slopes = []
    groups = countries if len(countries) > 1 else [None]
    for c in groups:
        sub = d if c is None else d.subset((d.data["country"] == c).fillna(False).to_numpy())
        m = sub.glm(f"{x} ~ {yc}", family="binomial")
        f = m.to_frame()
        r = f[f["term"] == yc].iloc[0]
        slopes.append({"country": c if c is not None else "all", "log_odds_per_year": r["estimate"],
                       "se": r["se"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                       "odds_ratio_per_year": float(np.exp(r["estimate"])),
                       "or_ci_low": float(np.exp(r["ci_low"])),
                       "or_ci_high": float(np.exp(r["ci_high"])), "df": r["df"], "p": r["p"]})
        des = "des" if c is None else f"subset(des, country == {r_string(str(c))})"
        sec.r_code.append(f"svyglm({x} ~ {yc}, design = {des}, family = quasibinomial())")
    slope_table = pd.DataFrame(slopes)
    sec.tables.append(ReportTable(
        "Logistic trend: change in log-odds per year", slope_table, digits=4,
        note="Design-based logistic regression of the exposure on year (survey-weighted, "
             "quasibinomial), one model per country; odds ratio per year = exp(change in log-odds "
             "per year)."))
    first, last = int(min(years)), int(max(years))
    pct = _num.signed_nonzero   # a bound of -0.008% must not print as "0.0%"
    parts = [f"{s['country']}: {pct(100 * (s['odds_ratio_per_year'] - 1))}% odds per "
             f"year (95% CI {pct(100 * (s['or_ci_low'] - 1))}% to "
             f"{pct(100 * (s['or_ci_high'] - 1))}%)"
             if all(_num.finite(s[k]) for k in ("odds_ratio_per_year", "or_ci_low", "or_ci_high"))
             else f"{s['country']}: not estimable (the interval is undefined)"
             for s in slopes]
    said = (f"Interviews in {len(years)} years, {first}-{last}." if kind == "interview" else
            f"{len(years)} survey years, {first}-{last} (each survey wave at its survey year: "
            "some of its interviews ran into the next calendar year).")
    sec.text.append(f"{said} Trend in the "
                    f"proportion of respondents {exp.who}, as the change in its odds per year: "
                    + "; ".join(parts) + ".")
    from socialhealth.report.sections.sample import _persons

    if _persons(ctx.data.loc[d.in_subset], ctx.name) is not None:
        # a long panel: the years are the same persons again, not new samples
        sec.text.append("The years are interviews of the same persons (a panel), so this is "
                        "the change within one cohort as it ages, not a trend in the "
                        "population.")

    fig, axes = new_figure(8.0, 3.8)
    from socialhealth import plot

    plot.trend(frame, x="year", by="country" if len(by) > 1 else None, ax=axes[0],
               caption=None, ylabel="Prevalence (%)",
               xlabel="Year of interview" if kind == "interview" else "Survey year")
    axes[0].set_ylim(bottom=0)
    axes[0].set_title(f"{exp.name}: weighted prevalence by year, 95% CIs", fontsize=11)
    sec.figures.append(to_report_figure(fig, "Trend over years",
                                        "Lines: weighted prevalence; bands: "
                                        f"{interval_caption(ctx.ci_method)} per year."))
    return sec
