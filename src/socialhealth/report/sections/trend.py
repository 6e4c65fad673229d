"""Section "Trend over years": prevalence by year (and country) and the logistic trend."""
from __future__ import annotations

import numpy as np
import pandas as pd

from socialhealth.report import formatting as _num
from socialhealth.report.context import Context
from socialhealth.report.document import ReportTable, Section
from socialhealth.report.figures import new_figure, to_report_figure
from socialhealth.report.rcode import r_string
from socialhealth.report.sections.methods import interval_caption

MIN_YEARS = 3


def build_trend(ctx: Context) -> Section:
    """Weighted prevalence per year and the design-based logistic trend ``x ~ year``.

    The trend is the slope of ``svyglm(x ~ year, family = quasibinomial())`` per country: the
    change in log-odds per year (its exponential: the odds ratio per year).
    """
    exp = ctx.exposure
    x = exp.column
    sec = Section("trend", "Trend over years")
    why = ctx.exposure_reason() or (ctx.why_not("year") and ctx.why_not("year") + ".")
    if why:
        return sec.skip(why)
    years = ctx.levels("year", among=x)
    if len(years) < MIN_YEARS:
        return sec.skip(f"{exp.name} was measured in {len(years)} interview "
                        f"{'year' if len(years) == 1 else 'years'} only "
                        f"({', '.join(str(int(y)) for y in years)}); a trend needs at least "
                        f"{MIN_YEARS} years. Use a repeated survey or pool waves.")
    countries = ctx.levels("country", among=x) if not ctx.why_not("country") else []
    by = ["year", "country"] if len(countries) > 1 else ["year"]
    d = ctx.design
    est, r_call = ctx.domain_proportion(x, by)
    frame = est.to_frame()
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
        m = sub.glm(f"{x} ~ year", family="binomial")
        f = m.to_frame()
        r = f[f["term"] == "year"].iloc[0]
        slopes.append({"country": c if c is not None else "all", "log_odds_per_year": r["estimate"],
                       "se": r["se"], "ci_low": r["ci_low"], "ci_high": r["ci_high"],
                       "odds_ratio_per_year": float(np.exp(r["estimate"])),
                       "or_ci_low": float(np.exp(r["ci_low"])),
                       "or_ci_high": float(np.exp(r["ci_high"])), "df": r["df"], "p": r["p"]})
        des = "des" if c is None else f"subset(des, country == {r_string(str(c))})"
        sec.r_code.append(f"svyglm({x} ~ year, design = {des}, family = quasibinomial())")
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
    sec.text.append(f"Interviews in {len(years)} years, {first}-{last}. Trend in the "
                    f"proportion of respondents {exp.who}, as the change in its odds per year: "
                    + "; ".join(parts) + ".")

    fig, axes = new_figure(8.0, 3.8)
    from socialhealth import plot

    plot.trend(frame, x="year", by="country" if len(by) > 1 else None, ax=axes[0],
               caption=None, ylabel="Prevalence (%)", xlabel="Year of interview")
    axes[0].set_ylim(bottom=0)
    axes[0].set_title(f"{exp.name}: weighted prevalence by year, 95% CIs", fontsize=11)
    sec.figures.append(to_report_figure(fig, "Trend over years",
                                        "Lines: weighted prevalence; bands: "
                                        f"{interval_caption(ctx.ci_method)} per year."))
    return sec
