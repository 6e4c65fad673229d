"""Section "Methods": how the numbers were made, and the R ``survey`` code giving the same."""
from __future__ import annotations

from socialhealth.report.context import Context
from socialhealth.report.document import Section
from socialhealth.report.rcode import r_string


#: What each interval method of the proportions is (R ``svyciprop(method=)``), in the words of
#: the methods section; the figure captions name the method as well.
CI_METHODS = {
    "logit": "the logit interval is a Wald interval for the log-odds from the intercept-only "
             "quasibinomial survey GLM, transformed back, so it stays within 0 and 1",
    "likelihood": "the likelihood interval is the set of proportions not rejected by the "
                  "Rao-Scott scaled chi-squared test of the binomial log-likelihood, so it "
                  "stays within 0 and 1",
    "asin": "the asin interval is a Wald interval for the arcsine of the square root of the "
            "proportion, transformed back, so it stays within 0 and 1",
    "beta": "the beta interval is Korn and Graubard's Clopper-Pearson interval on the effective "
            "sample size (the design effect taken into account), so it stays within 0 and 1",
    "mean": "the mean interval is a Wald interval on the proportion itself (estimate +/- t se), "
            "so it can reach below 0 or above 1",
    "xlogit": "the xlogit interval is a Wald interval for the logit of the weighted mean (its "
              "standard error by the delta method), transformed back, so it stays within 0 "
              "and 1",
}


def interval_caption(method: str) -> str:
    """The interval named in a figure caption: ``"95% CIs (svyciprop method \"beta\")"``."""
    return f'95% CIs (svyciprop method "{method}")'


def load_call(ctx: Context) -> str:
    """The Python call that loads the same data (from the survey's provenance): every load
    option that changes the data or the design (wave, weight, country, the ESS SDDF file, the
    demo's seed and replicate design) is written out."""
    prov = dict(getattr(ctx.sd, "provenance", {}) or {})
    args = [r_string(ctx.name)]
    if ctx.name == "demo":
        seed = prov.get("seed")
        if seed is not None and seed != 2024:
            args.append(f"seed={seed}")
        if getattr(ctx.sd.design, "kind", "") == "replicate":
            args.append("replicate=True")
    else:
        if prov.get("file"):
            args.append(f"path={r_string(str(prov['file']))}")
        opts = dict(prov.get("options", {}) or {})
        if opts.get("wave") is None and prov.get("wave") is not None:
            opts["wave"] = prov["wave"]
        if prov.get("sddf"):
            opts["sddf_path"] = str(prov["sddf"])
        for k, v in opts.items():
            if v is None:
                continue
            if isinstance(v, str):
                args.append(f"{k}={r_string(v) if k.endswith('_path') else repr(v)}")
            else:
                args.append(f"{k}={v!r}")
    min_age = (prov.get("options", {}) or {}).get("min_age")
    if min_age is not None and not any(a.startswith("min_age=") for a in args):
        args.append(f"min_age={int(min_age)}")   # datasets.load(..., min_age=) dropped the rest
    return f"sh.datasets.load({', '.join(args)})"


def build_methods(ctx: Context, sections: list[Section]) -> Section:
    """Methods text plus every R call of the other sections, in order."""
    sec = Section("methods", "Methods and R code")
    exp = ctx.exposure
    kind = getattr(ctx.design, "kind", "")
    spec = getattr(ctx.design, "spec", {}) or {}
    clustered = bool(spec.get("psu") or spec.get("strata"))
    var_text = ("replicate weights: every estimate is recomputed with each set of replicate "
                "weights and the variance is the scaled spread of the replicates"
                if kind == "replicate" else
                "Taylor series linearisation: the variance of each estimate is that of the sum "
                "of its influence values over the primary sampling units, within strata, PSUs "
                "treated as sampled with replacement (R svydesign without fpc)"
                if clustered else
                "Taylor series linearisation with weights only: this file has no strata or "
                "PSUs, so each respondent counts as a PSU sampled with replacement (R "
                "svydesign(id = ~1) without fpc) and clustering is ignored")
    sec.text += [
        "Point estimates are survey-weighted. Proportions are weighted means of 0/1 indicators "
        "(R svymean / svyciprop); estimates for subgroups are domain estimates that keep the "
        "whole design, so that subgroups with no respondents in some PSUs are handled as R's "
        "svyby / subset do.",
        f"Variance: {var_text}. Confidence intervals use t quantiles on the design degrees of "
        "freedom (" + ("PSUs minus strata; for replicate designs the rank of the replicate "
                       "weights minus one" if clustered or kind == "replicate" else
                       "respondents minus one, as for a weights-only design") + ").",
        f"Proportion intervals: method \"{ctx.ci_method}\" of svyciprop "
        f"({CI_METHODS.get(ctx.ci_method, 'as R svyciprop computes it')}).",
        "Odds ratios: survey-weighted logistic regressions (svyglm with quasibinomial family; "
        "sandwich variance), odds ratio exp(b) with Wald interval exp(b +/- t se) on the "
        "model's residual degrees of freedom (design df + 1 - number of coefficients).",
        "Missing values: each estimate uses the respondents with the variables it needs "
        "(available cases, R na.rm = TRUE); respondents with missing values keep their place "
        "in the design. Within an outcome the nested models share one complete-case sample.",
        "To reproduce the numbers in R (survey 4.1), export the harmonised data from Python "
        "and run the code below; every number in this report is what these calls print "
        "(same design, same formulas).",
    ]
    if ctx.name == "demo":
        sec.text.append("The demo data are synthetic: generated from a documented model with "
                        "known true values (in Python: socialhealth.datasets.demo.DEMO_TRUTH), "
                        "so the report can be checked against the truth.")
    fname = f"socialhealth_{ctx.name}.csv"
    lines = [
        "# In Python: export the analysis data",
        "#   import socialhealth as sh",
        f"#   sd = {load_call(ctx)}",
        f"#   sd.data.to_csv({r_string(fname)}, index=False)",
        "library(survey)",
        f'{ctx.r_data} <- read.csv({r_string(fname)}, na.strings = c("", "NA"))',
        "# yes/no columns (written by pandas as True/False) become 0/1",
        f"{ctx.r_data}[] <- lapply({ctx.r_data}, function(x) if (is.logical(x)) as.numeric(x) else "
        'if (is.character(x) && all(x %in% c("True", "False", NA))) as.numeric(x == "True") else '
        'x)',
    ]
    for s in sections:
        if s.key == "sample":
            lines += s.r_code
            lines += [e.r_update for e in [exp, *ctx.derived] if e.r_update]
        elif s.r_code:
            lines.append(f"# {s.title}")
            lines += s.r_code
    lines.append("# odds ratios and 95% CIs of a model m: "
                 "exp(cbind(coef(m), confint(m, ddf = m$df.residual)))")
    sec.r_code = lines
    return sec
