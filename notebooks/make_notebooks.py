"""Write the example notebooks (run from anywhere: ``python notebooks/make_notebooks.py``).

The notebooks are generated so that their text and code stay reviewable here; the test suite
(``tests/notebooks``) executes the .ipynb files. Outputs are not stored.
"""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

DATA_CELL = '''import os
from pathlib import Path

# Real survey files are NOT part of socialhealth: point SOCIALHEALTH_DATA at the folder that
# holds them (default: ../shared/data next to the repository).
DATA = Path(os.environ.get("SOCIALHEALTH_DATA", Path.cwd().resolve().parent.parent / "shared" / "data"))
{checks}
print("using", DATA)'''


def data_cell(files: dict[str, str], how: str) -> str:
    checks = []
    for var, rel in files.items():
        checks.append(f'{var} = DATA / "{rel}"')
    names = ", ".join(files)
    checks.append(f"for f in ({names},):\n    if not f.exists():\n        raise FileNotFoundError(\n"
                  f"            f\"{{f}} not found. {how} Then set the environment variable \"\n"
                  "            \"SOCIALHEALTH_DATA to the folder holding it and re-run.\")")
    return DATA_CELL.format(checks="\n".join(checks))


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str):
    return new_code_cell(text.strip())


def quickstart():
    return [
        md("""
# 01 Quickstart: the demo survey

`socialhealth` estimates loneliness, social connection and their links with health from
complex surveys, with design-based standard errors that match R's `survey` package.

This notebook uses the **synthetic demo survey** shipped with the package (GB + US,
2016-2024, 19,602 respondents, stratified two-stage sample). It is generated from a documented
model, so every estimate can be checked against the **true value** (`DEMO_TRUTH`).
No real person is in it.
"""),
        code("""
import socialhealth as sh
from socialhealth.datasets.demo import DEMO_TRUTH

sd = sh.datasets.load("demo")
sd
"""),
        md("""
## The design
`sd.design` is the survey design built from the harmonised `weight`, `strata` and `psu`
columns: Taylor linearisation, as R's `svydesign(ids = ~psu, strata = ~strata, weights = ~weight, nest = TRUE)`.
Only the first stage enters the variance (PSUs sampled with replacement within strata, the
usual approximation, as in R with `ids = ~psu`); the degrees of freedom are PSUs minus strata.
"""),
        code("""
d = sd.design
print(d.describe())
print("R:", d.r_code())
"""),
        md("""
## Prevalence of loneliness
`lonely` is the headline indicator ("How often do you feel lonely?": often/always).
`proportion()` gives the weighted share with a 95% confidence interval computed on the logit
scale with a t quantile on the design degrees of freedom, as R
`svyciprop(~lonely, des, method = "logit", na.rm = TRUE)`; `se` is the linearised standard error
of the share (R `svymean`). `by=` estimates each group as a domain (subpopulation) of the
whole design, as R `svyby(~lonely, ~country, des, svyciprop, method = "logit", vartype = "ci",
na.rm = TRUE)`; each group's interval uses that group's degrees of freedom.
"""),
        code("""
overall = d.proportion("lonely")
overall.to_frame()[["estimate", "se", "ci_low", "ci_high", "df"]]
"""),
        code("""
by_country = d.proportion("lonely", by="country").to_frame()
by_country["true value"] = by_country["country"].map(DEMO_TRUTH["lonely_prevalence"]["by_country"])
by_country[["country", "estimate", "ci_low", "ci_high", "true value"]]
"""),
        code("""
by_age = d.proportion("lonely", by="age_group")
ax = sh.plot.prevalence(by_age, title="Lonely (often/always) by age group")
"""),
        md("""
## Trend over years
"""),
        code("""
ax = sh.plot.trend(d.proportion("lonely", by=["year", "country"]),
                   title="Lonely by year and country")
"""),
        md("""
## Loneliness and health: nested adjusted odds ratios
`models.association` fits the unadjusted model and then adds blocks of confounders
(R `svyglm(..., family = quasibinomial())`), all on the same complete cases (`n`). `estimate`
is the odds ratio `exp(coef(m))`, with the Wald interval `exp(confint(m))` (t on the model's
residual degrees of freedom). The demo's true
conditional odds ratio of depression for loneliness is 3.0 (after adjusting for age, sex,
smoking, obesity and inactivity).
"""),
        code("""
assoc = sh.models.association(d, exposure="lonely", outcome="depression",
                              adjust=[["age_group", "sex"], ["smoker", "obese", "physically_inactive"]])
print("true odds ratio:", DEMO_TRUTH["odds_ratios"]["depression"]["lonely"])
assoc.to_frame()[["model_label", "estimate", "ci_low", "ci_high", "n"]]
"""),
        code("""
ax = sh.plot.forest(assoc.to_frame().assign(label=lambda t: t["model_label"]), label="label",
                    xlabel="Odds ratio of depression, lonely vs not (95% CI)")
"""),
        md("""
## Loneliness next to smoking, obesity and inactivity
The same survey, the same outcome (death during follow-up), each factor adjusted for age and
sex, beside published pooled estimates for all-cause mortality (different measures: for scale).
"""),
        code("""
rf = sh.models.compare_risk_factors(d, ["lonely"], outcome="died", adjust=["age_group", "sex"])
ax = sh.plot.risk_factors(rf.survey(), rf.anchors())
"""),
        md("""
## The whole report
`socialhealth report --dataset demo --output report.html` on the command line, or:
"""),
        code("""
rep = sh.report.build(sd)
print(rep.status[["title", "status"]].to_string(index=False))
"""),
    ]


def gss():
    return [
        md("""
# 02 GSS 2016-2020 panel: loneliness items and health

The General Social Survey 2016-2020 panel (NORC) re-interviewed 2016 respondents in 2018 and
2020. It has **no single headline loneliness question** in 2018/2020: 2020 asks how often
respondents lacked companionship (`lonely1_2`) and felt isolated (`lonely2_2`) on GSS's own
5-point scale; 2018 asks about feeling left out. `socialhealth` maps them to the UCLA-3 codes
and says so in the codebook.

**Data**: the real file `gss_panel20.dta` (public NORC data; not shipped with socialhealth).
"""),
        code(data_cell({"GSS_FILE": "gss/gss_panel20.dta"},
                       "Get the GSS 2016-2020 panel from https://gss.norc.org/get-the-data "
                       "(or gssr's gss_panel20, written to .dta with R haven).")),
        code("""
import socialhealth as sh

sd = sh.datasets.load("gss_panel20", path=GSS_FILE, wave=2020)
d = sd.design
print(d.describe())
"""),
        md("""
## What the 2020 wave measures
The codebook says how each harmonised concept was built, and why `lonely` is missing.
"""),
        code("""
cb = sd.codebook.set_index("concept")
for concept in ["lonely", "ucla3_companionship", "ucla3_isolated", "poor_health"]:
    row = cb.loc[concept]
    print(f"{concept} (from {row.source_variables}): {row.rule}")
    print(f"    {row.notes}")
"""),
        md("""
## Felt isolated from others, by age group
Weighted shares of each answer (R `svyby(~factor(ucla3_isolated), ~age_group, des, svymean, na.rm = TRUE)`).
"""),
        code("""
d = d.assign(isolated=sd.data["ucla3_isolated"].map({1: "hardly ever", 2: "some of the time", 3: "often"}))
shares = d.mean("isolated", by="age_group")
ax = sh.plot.likert(shares, by="age_group", levels=["hardly ever", "some of the time", "often"])
"""),
        md("""
## Feeling isolated often, and poor self-rated health
An explicit yes/no exposure: isolated often or very often (`ucla3_isolated == 3`). The
odds ratios of fair/poor health come from nested `svyglm(poor_health ~ isolated_often + ...,
family = quasibinomial())` models on the same complete cases; `p` is the Wald t test of the
exposure (R `summary(m)`).
"""),
        code("""
often = (sd.data["ucla3_isolated"] >= 3).astype(float).where(sd.data["ucla3_isolated"].notna())
d = d.assign(isolated_often=often)
d.proportion("isolated_often", by="sex").to_frame()[["sex", "estimate", "se", "ci_low", "ci_high", "df"]]
"""),
        code("""
assoc = sh.models.association(d, exposure="isolated_often", outcome="poor_health",
                              adjust=[["age_group", "sex"], ["education"]])
assoc.to_frame()[["model_label", "estimate", "ci_low", "ci_high", "p", "n"]]
"""),
        code("""
ax = sh.plot.forest(assoc.to_frame().assign(label=lambda t: t["model_label"]), label="label",
                    xlabel="Odds ratio of fair/poor health, isolated often vs not (95% CI)")
"""),
        md("""
## The report on this file
The same report as for the demo; sections the survey cannot support are skipped and say why.
On the command line: `socialhealth report --dataset gss_panel20 --path gss_panel20.dta --wave 2020 --exposure "ucla3_isolated>=3"`.
"""),
        code("""
rep = sh.report.build(sd, exposure="ucla3_isolated>=3")
for r in rep.status.itertuples():
    print(f"{r.title}: {r.status}")
"""),
    ]


def uk():
    return [
        md("""
# 03 Loneliness in the UK: the European Social Survey (GB)

The ESS asks "How much of the time during the past week did you feel lonely?" (`fltlnl`) in
rounds with the CES-D module (e.g. round 7, 2014-15) but not in round 9 (2018-19), which does
have social contact (`sclmeet`) and having someone to discuss intimate matters with (`inprdsc`).

UK household panels (Understanding Society, `"ukhls"`; ELSA, `"elsa"`) have loaders in
`socialhealth.datasets` but their files need a UK Data Service licence, so this notebook does
not use them.

**Data**: the real ESS GB files `ESS7GB.sav`, `ESS9GB.sav` (free registration at
https://ess.sikt.no/; not shipped with socialhealth).
"""),
        code(data_cell({"ESS7": "ess/ESS7GB.sav", "ESS9": "ess/ESS9GB.sav"},
                       "Register at https://ess.sikt.no/ and download the GB country files of "
                       "rounds 7 and 9 (SPSS).")),
        code("""
import warnings
import socialhealth as sh

with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    ess7 = sh.datasets.load("ess", path=ESS7)
for x in w:
    print("warning:", x.message)
ess7
"""),
        md("""
Round 7 country files carry no PSU or stratum (they are in a separate SDDF file), so the
design is **weights-only** and standard errors ignore clustering: pass `sddf_path=` when you
have the SDDF file.

Here `lonely` is felt lonely **most or all of the time in the past week** (`fltlnl` 3-4 of
1-4), a different question and scale from the demo's "often/always"; proportions and intervals
as R `svyby(~lonely, ~age_group, des, svyciprop, method = "logit", vartype = "ci", na.rm = TRUE)`.
"""),
        code("""
d7 = ess7.design
print(d7.describe())
d7.proportion("lonely", by="age_group").to_frame()[["age_group", "estimate", "se", "ci_low", "ci_high", "df"]]
"""),
        code("""
# felt lonely in the past week (ESS round 7, GB)
ax = sh.plot.likert(d7.mean("lonely_direct", by="age_group"), by="age_group")
"""),
        md("""
## Loneliness and health in ESS 7
"""),
        code("""
assoc = sh.models.association(d7, exposure="lonely", outcome="poor_health",
                              adjust=[["age_group", "sex"], ["smoker", "obese"]])
assoc.to_frame()[["model_label", "estimate", "ci_low", "ci_high", "n"]]
"""),
        md("""
## ESS round 9: no loneliness item, but social contact
"""),
        code("""
ess9 = sh.datasets.load("ess", path=ESS9)
cb = ess9.codebook.set_index("concept")
for concept in ["lonely", "contact_in_person", "social_support"]:
    row = cb.loc[concept]
    print(f"{concept} (from {row.source_variables}, {'measured' if row.measured else 'not measured'}): {row.notes}")
"""),
        code("""
d9 = ess9.design
print(d9.describe())
# how often respondents meet friends, relatives or colleagues (ESS round 9, GB)
ax = sh.plot.likert(d9.mean("contact_in_person", by="age_group"), by="age_group")
"""),
        md("""
`social_support`: at least one person with whom the respondent can discuss intimate and
personal matters (`inprdsc` 1 or more). Round 9 has a full design (PSUs and strata), so each
age group's interval uses its own design degrees of freedom (PSUs minus strata holding the
group), which are small for the youngest group.
"""),
        code("""
d9.proportion("social_support", by="age_group").to_frame()[["age_group", "estimate", "se", "ci_low", "ci_high", "df"]]
"""),
    ]


def evidence():
    return [
        md("""
# 04 The evidence: published meta-analyses next to survey estimates

`socialhealth.models.anchors` bundles published pooled estimates (loneliness, isolation,
social relationships; smoking, obesity, physical activity, alcohol) with citations, DOIs and
the location in each paper. This notebook shows them, pools study-level estimates with a
random-effects model (`models.meta`, checked against R `metafor`), and puts loneliness next to
the classic risk factors.

The table is on the **adverse scale** (estimate > 1 = higher risk with the deficit or the risk
factor: protective estimates such as Holt-Lunstad's survival odds ratios are inverted). Measures:
OR odds ratio, HR hazard ratio, RR relative risk, RM relative mortality, ES the pooled effect
size as the paper reports it (a mix of HR, RR and OR); they are not converted into one another.
"""),
        code("""
import pandas as pd
import socialhealth as sh
from socialhealth.models import anchors

pd.set_option("display.max_colwidth", 100)   # show the exposures in full

a = anchors.adverse_scale(anchors.load())
shown = a[["source_key", "exposure", "outcome", "measure", "adverse_estimate", "adverse_ci_low", "adverse_ci_high"]].copy()
for c in ["adverse_estimate", "adverse_ci_low", "adverse_ci_high"]:
    shown[c] = [f"{x:.2f}" if pd.notna(x) else "not reported" for x in shown[c]]
shown
"""),
        md("""
## Random-effects pooling
`models.meta` fits fixed- and random-effects models (REML, DL, PM; Knapp-Hartung optional),
as `metafor::rma`. As an illustration we pool the **first 21 of the 148 studies** of
Holt-Lunstad et al. (2010), Table 1, the only rows transcribed so far (R:
`rma(yi = ln_or, sei = se, method = "REML")`, `predict()` for the prediction interval and
`confint()` for the Q-profile interval of tau^2).

**This is not a replication** of the published OR 1.50: 127 studies are missing.
"""),
        code("""
t = anchors.hl2010_table1_partial()
print(t.attrs["description"])
res = sh.models.meta(t["ln_or"], t["se"], method="reml", labels=t["study"], exponentiate=True)
res
"""),
        code("""
fr = res.to_frame()
ax = sh.plot.forest(fr, summary="REML model",
                    xlabel="Odds ratio of survival, stronger vs weaker relationships (PARTIAL: 21 of 148 studies)",
                    caption="Published study odds ratios with 95% CIs; pooled: REML random-effects model")
"""),
        md("""
## Loneliness next to smoking, obesity and inactivity (published)
All-cause mortality, adverse state vs favourable (physical activity inverted to inactivity).
Measures differ (HR, RR, OR, relative mortality) and are not converted into one another.
"""),
        code("""
pick = {
    "Loneliness": ("rico-uribe_2018", "loneliness", "overall"),
    "Smoking": ("gellert_2012", "current smoking", "overall"),
    "Obesity": ("flegal_2013", "obesity (all grades)", "overall"),
    "Physical inactivity": ("nocon_2008", "physical activity", "overall"),
}
rows = []
for label, (key, exposure, subgroup) in pick.items():
    r = a[(a.source_key == key) & (a.exposure == exposure) & (a.subgroup == subgroup)
          & a.outcome.str.startswith("all-cause mortality")].iloc[0]
    rows.append({"label": label, "estimate": r.adverse_estimate, "ci_low": r.adverse_ci_low,
                 "ci_high": r.adverse_ci_high, "measure": r.measure, "source": key})
published = pd.DataFrame(rows)
published
"""),
        md("""
## The same factors in a survey
The demo survey (synthetic) gives mutually comparable odds ratios of death during follow-up
for each factor, adjusted for age and sex, shown beside the published estimates.
"""),
        code("""
d = sh.datasets.load("demo").design
rf = sh.models.compare_risk_factors(d, ["lonely"], outcome="died", adjust=["age_group", "sex"])
ax = sh.plot.risk_factors(rf.survey(), rf.anchors())
"""),
    ]


def longitudinal():
    return [
        md("""
# 05 Longitudinal: GSS panels, prospective models, change, mortality proxy and attrition

The GSS long panels re-interviewed the 2006 (and 2010) cross-sections two and four years later;
the 2016-2020 panel re-interviewed the 2016 and 2018 cross-sections in 2020. `socialhealth`
links the waves into one row per person (`datasets.load_panel`, columns `<concept>@<year>`) or
keeps every baseline respondent, followed or not (`datasets.load_panel_baseline`), for
attrition and mortality. Every model is design-based (baseline strata and PSUs, nested) and was
checked against R `survey` on these files (tests/models/fixtures/longitudinal).

**Data**: `gss_panel06_long.dta.zip` and `gss_panel20_extract.dta` (public NORC data; not
shipped with socialhealth).
"""),
        code(data_cell({"GSS06": "gss/gss_panel06_long.dta.zip",
                        "GSS20": "gss/gss_panel20_extract.dta"},
                       "Get the GSS panels from https://gss.norc.org/get-the-data (or gssr's "
                       "gss_panel06_long / gss_panel20, written to .dta with R haven).")),
        code("""
import warnings
import numpy as np
import pandas as pd
import socialhealth as sh

warnings.simplefilter("ignore", category=sh.errors.SocialHealthWarning)
panel = sh.datasets.load_panel("gss_panel06", GSS06, waves=[2006, 2008, 2010])
panel.provenance["panel"]["accounting"]
"""),
        md("""
## Social evenings in 2006 and self-rated health in 2010
Exposure: social evenings with relatives or friends less than monthly or never (GSS `socrel`,
`socfrend`) at wave 1; outcome: fair or poor self-rated health at wave 3, adjusted for age
group and sex and then for health at wave 1 (R `svyglm` on the linked rows).
"""),
        code("""
def rare(c):
    return c.isin(["less than monthly", "never"]).astype("boolean").where(c.notna())

panel = panel.assign(**{"rare_contact@2006": rare(panel.data["contact_in_person@2006"])})
pros = sh.models.prospective(panel, exposure="rare_contact", exposure_wave=2006,
                             outcome="poor_health", outcome_wave=2010, adjust=["age_group", "sex"])
pros.to_frame()[["model_label", "estimate", "ci_low", "ci_high", "p", "n"]]
"""),
        md("""
## Change with change, 2006 -> 2010
Within-person first differences: the change in self-rated health (1 excellent ... 4 poor) that
goes with a change in the frequency of social evenings (0 never ... 4 almost daily, the
`daily` level), as R `svyglm(d_outcome ~ d_exposure, des)` on the differences. Everything
about a person that does not change between the waves drops out.
"""),
        code("""
ch = sh.models.change(panel, exposure="contact_in_person", outcome="self_rated_health",
                      waves=(2006, 2010),
                      exposure_scores={"never": 0, "less than monthly": 1, "monthly": 2,
                                       "weekly": 3, "daily": 4},
                      outcome_scores={"excellent": 1, "good": 2, "fair": 3, "poor": 4})
print(ch)
ch.to_frame()
"""),
        md("""
## Mortality proxy, GSS 2016 -> 2020
The panel files record only that a person selected for the 2020 re-interview had died
(`panstat` 33): no date of death and no death-index linkage. The time scale is time on study in
interview years, so everyone with a known vital status has the same follow-up (4 years): the
survival curve has one step and the Cox model estimates a hazard ratio over that one interval.
Persons not re-interviewed for other reasons have an unknown vital status and are left out.
Kaplan-Meier as R `svykm(Surv(time, event) ~ health, des, se = TRUE)`; Cox model as R
`svycoxph(Surv(time, event) ~ age + male + poor_health, des)`, all at 2016 (age in years, male
vs female, fair/poor vs excellent/good health); `estimate` is the hazard ratio, `se` the
standard error of its log.
"""),
        code("""
base20 = sh.datasets.load_panel_baseline("gss_panel20", GSS20, waves=[2016, 2020])
mort = sh.datasets.mortality_followup(base20)
print(base20.provenance["panel"]["mortality"])
base20.data["followup_status"].value_counts().rename_axis("follow-up status").to_frame("persons")
"""),
        code("""
dm = mort.design.subset(mort.data["poor_health@2016"].notna().to_numpy())
dm = dm.assign(health=mort.data["poor_health@2016"].map({True: "fair/poor", False: "excellent/good"}))
km = sh.models.kaplan_meier(dm, time="time", event="event", by="health", se=True)
km.to_frame()
"""),
        code("""
cc = mort.data[["age@2016", "sex@2016", "poor_health@2016"]].notna().all(axis=1).to_numpy()
dc = mort.design.assign(
    age=mort.data["age@2016"].astype(float),
    male=(mort.data["sex@2016"] == "male").astype(float),
    poor_health=mort.data["poor_health@2016"].astype("Float64").astype(float)).subset(cc)
cox = sh.models.coxph(dc, time="time", event="event", covariates=["age", "male", "poor_health"],
                      min_events=5, events_per_variable=5)
cox.to_frame()[["term", "estimate", "ci_low", "ci_high", "se", "p", "n", "n_events"]]
"""),
        md("""
## Attrition, GSS 2006 -> 2010
Who was lost? The long panel files carry no cross-sectional weight for every 2006 respondent,
so the baseline sample is the persons interviewed in 2006 and 2008 (weight `wtpannr12`),
followed to 2010. Deaths and ineligible persons are not counted as lost.
"""),
        code("""
base06 = sh.datasets.load_panel_baseline("gss_panel06", GSS06, waves=[2006, 2010])
base06 = base06.assign(**{"rare_contact@2006": rare(base06.data["contact_in_person@2006"])})
att = sh.models.attrition(base06, baseline=["age_group", "sex", "education", "poor_health"],
                          outcome_model=dict(exposure="rare_contact", exposure_wave=2006,
                                             outcome="poor_health", outcome_wave=2010,
                                             adjust=["age_group", "sex"]))
print(att)
att.table
"""),
        md("""
### The weights, and the prospective model with and without them
`baseline / P(retained)` is the baseline weight divided by the fitted probability of being
followed (a design-based logistic model of retention on the baseline covariates). Its spread
(max/min) and Kish's effective sample size say how much precision the reweighting costs. The
standard errors below treat the weights as known; `variance="replicate"` re-estimates the
retention model in every replicate (next cell, on the 2016 -> 2020 panel).
"""),
        code("""
att.weights
"""),
        code("""
tab = att.outcome.assign(label=lambda t: t["weighting"] + ": " + t["model_label"])
ax = sh.plot.forest(tab, label="label",
                    xlabel="Odds ratio of fair/poor health in 2010, rare social evenings in 2006 (95% CI)")
"""),
        code("""
att20 = sh.models.attrition(base20, baseline=["age_group", "sex", "education", "poor_health"],
                            outcome_model=dict(exposure="lonely", exposure_wave=2016,
                                               outcome="poor_health", outcome_wave=2020,
                                               adjust=["age_group", "sex"]),
                            variance="replicate")
att20.outcome[["weighting", "model_label", "estimate", "ci_low", "ci_high", "se", "variance", "n"]]
"""),
    ]


def scales():
    return [
        md("""
# 06 Scale structure in weighted survey data: reliability, factors, scores, agreement

Validating a loneliness scale in a complex survey: the reliability (Cronbach's alpha), the
factor structure and the principal components of its items should be estimated with the
survey weights, and their uncertainty with the design. Each cell names the R `survey` call it
matches (R 4.2, survey 4.1-1; checked in tests/notebooks).

Part 1 uses the **synthetic demo survey** (runs anywhere): the three UCLA-3 items (Hughes et
al. 2004: lack companionship, feel left out, feel isolated; 1 hardly ever, 2 some of the time,
3 often) and the direct question "How often do you feel lonely?". Part 2 repeats the main steps
on the real GSS 2018 file when it is present.
"""),
        code("""
import numpy as np
import socialhealth as sh

sd = sh.datasets.load("demo")
ITEMS = ["ucla3_companionship", "ucla3_left_out", "ucla3_isolated"]
# the direct question as a number: 1 never ... 5 often/always
direct = sd.data["lonely_direct"]
how_often = direct.cat.codes.astype(float).where(direct.notna()) + 1
d = sd.design.assign(lonely_how_often=how_often)
print(d.describe())
"""),
        md("""
## Reliability: design-based Cronbach's alpha
Alpha from the weighted item and total-score variances over the respondents who answered all
three items, as R `svycralpha(~ucla3_companionship + ucla3_left_out + ucla3_isolated, des,
na.rm = TRUE)`. R gives no standard error; `survey_alpha` adds a delta-method SE from the
design-based covariance of the item moments and a t interval on the design's degrees of freedom.
"""),
        code("""
alpha = sh.measures.survey_alpha(d, ITEMS)
print(alpha)
"""),
        md("""
## One factor? Maximum likelihood factor analysis
The weighted correlation matrix (from R `svyvar`) fitted by one factor, as R
`svyfactanal(~..., des, factors = 1, n = "effective")` on the complete cases. With three items
and one factor the model has **0 degrees of freedom**: it reproduces the three correlations
exactly, so it gives loadings but no test. Adding the direct question (1 never ... 5
often/always) gives 4 items and 2 degrees of freedom, so the test of one factor is defined.
`n = "effective"` uses a sample size at which simple random sampling would estimate the item
variances as precisely as this design does (the harmonic mean over the items), rather than the
number of rows, which overstates the evidence in a clustered, weighted sample (it can also
exceed the rows used, for items with lighter tails than the Normal).
"""),
        code("""
fa3 = sh.measures.survey_factanal(d, ITEMS, factors=1, n="effective")
fa4 = sh.measures.survey_factanal(d, ITEMS + ["lonely_how_often"], factors=1, n="effective")
print(fa3)
print()
print(fa4)
"""),
        md("""
## Principal components
R `svyprcomp(~..., des, scale. = TRUE)`: each row multiplied by the square root of its
(mean-1) weight, then centred and scaled. `proportion` is each component's share of the total
variance. R centres the weighted rows at their plain mean, so with unequal weights the first
component also picks up variation in the weights. `center="weighted"` centres the items at
their weighted means instead: its components are the eigenvectors of the design-based
correlation matrix (R `eigen(cov2cor(as.matrix(svyvar(~..., des))))`; shares printed before
the table), the shares a weighted analysis of the correlations gives.
"""),
        code("""
pc = sh.measures.survey_prcomp(d, ITEMS, scale=True)
pc_weighted = sh.measures.survey_prcomp(d, ITEMS, scale=True, center="weighted")
eig = pc_weighted.sdev.to_numpy() ** 2
print('shares from the design-based correlation matrix (center="weighted"):',
      ", ".join(f"{v / eig.sum():.4f}" for v in eig))
pc.to_frame()
"""),
        md("""
## Scoring UCLA-3 and the share scoring 6 or more
`measures.score` sums the three items with the instrument's rules (all three needed:
R `rowSums(items)`); Hughes et al. publish no cut-off, so the 6+ convention is asked for
explicitly with `categorise(..., cutoff=6)`. The share scoring 6+ is a design-based proportion
with a logit interval, as R `svyciprop(~ucla3_6plus, des, method = "logit", na.rm = TRUE)`.
"""),
        code("""
scored = sh.measures.score("ucla3", sd.data, items=ITEMS, coding="1-3")
category = sh.measures.categorise("ucla3", scored.score, cutoff=6)
d = d.assign(ucla3_total=scored.score,
             ucla3_6plus=(category == "lonely").astype("boolean").where(category.notna()))
print(category.value_counts().rename_axis("UCLA-3 6+").to_frame("respondents"))
share = d.proportion("ucla3_6plus")
share.to_frame()[["estimate", "se", "ci_low", "ci_high", "df"]]
"""),
        code("""
by_age = d.proportion("ucla3_6plus", by="age_group")
ax = sh.plot.prevalence(by_age, title="UCLA-3 score 6 or more, by age group")
"""),
        md("""
## Do the direct question and UCLA-3 6+ agree?
Cohen's kappa between "lonely often/always" (`lonely`) and a UCLA-3 score of 6 or more, with
survey weights, as R `svykappa(~lonely + ucla3_6plus, des)` (its SE; the interval here uses a
t quantile on the design's degrees of freedom, R `confint(k, df = degf(des))`).
"""),
        code("""
kappa = sh.measures.survey_kappa(d, "lonely", "ucla3_6plus")
print(kappa)
"""),
        md("""
## Part 2: the GSS 2018 (real data)
GSS 2018 asked the three loneliness items on its own 5-point scale (never ... very often),
mapped to the UCLA-3 codes 1-3 by `socialhealth` (never/rarely 1, sometimes 2, often/very often
3), and four "social evening" items (with relatives, neighbours, friends, at a bar; 1 never ...
7 almost daily here): alpha of both item sets and one factor for the social evenings.
Design: R `svydesign(ids = ~vpsu, strata = ~vstrat, weights = ~wtssnr,
nest = TRUE)`. **Data**: `GSS2018.dta` (public NORC data; not shipped with socialhealth). Without
it the next cell says so and does nothing.
"""),
        code("""
import os
from pathlib import Path

# as the other real-data notebooks: $SOCIALHEALTH_DATA, default ../shared/data
DATA = Path(os.environ.get("SOCIALHEALTH_DATA",
                           Path.cwd().resolve().parent.parent / "shared" / "data"))
GSS_FILE = DATA / "gss" / "GSS2018.dta"
HAVE_GSS = GSS_FILE.exists()
if HAVE_GSS:
    gss = sh.datasets.load("gss", path=GSS_FILE)
    EVENINGS = ["evenings_relatives", "evenings_neighbours", "evenings_friends", "evenings_bar"]
    # 1 never ... 7 almost daily (the categories run from almost daily to never)
    g = gss.design.assign(**{
        c: 7 - gss.data[c].cat.codes.astype(float).where(gss.data[c].notna()) for c in EVENINGS})
    print(g.describe())
    print()
    g_alpha_ucla = sh.measures.survey_alpha(g, ITEMS)
    g_alpha_evenings = sh.measures.survey_alpha(g, EVENINGS)
    g_fa = sh.measures.survey_factanal(g, EVENINGS, factors=1, n="effective")
    for result in (g_alpha_ucla, g_alpha_evenings, g_fa):
        print(result)
        print()
else:
    print(f"{GSS_FILE} not found, so Part 2 is skipped. Get GSS 2018 from "
          "https://gss.norc.org/get-the-data and set SOCIALHEALTH_DATA to the folder holding gss/.")
"""),
    ]


NOTEBOOKS = {
    "01_quickstart.ipynb": quickstart,
    "02_gss_loneliness_and_health.ipynb": gss,
    "03_uk_loneliness.ipynb": uk,
    "04_evidence.ipynb": evidence,
    "05_longitudinal.ipynb": longitudinal,
    "06_scale_structure.ipynb": scales,
}


def main() -> None:
    for name, cells in NOTEBOOKS.items():
        nb = new_notebook(cells=cells(), metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"}})
        nbformat.validate(nb)
        nbformat.write(nb, HERE / name)
        print("wrote", HERE / name)


if __name__ == "__main__":
    main()
