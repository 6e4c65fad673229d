"""Design-based estimates on the demo survey recover the documented true values.

The truths (``DEMO_TRUTH``) are fixed by the generating model and the finite population, not by
the design engine: finite-population prevalences of ``lonely`` (computed from all ~1.8 million
population units) and the conditional coefficients of the generating logistic models.

Multiplicity rule (decided before looking at results; the seed is the package default 2024 and
was not tuned). For a family of m confidence intervals from a valid method:

* every 99.9% CI must cover its truth: the chance that at least one of m fails by bad luck is
  at most m x 0.001 (< 5% for m <= 40);
* the number of 95% CIs that miss must be at most the 0.999 quantile of Binomial(m, 0.05)
  (e.g. 6 of 35): a failure by bad luck has probability < 0.1%, while a biased estimator or an
  SE that is too small misses far more often.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth.datasets.demo import DEMO_REPLICATE, DEMO_TRUTH, generate_demo

AGE_GROUPS = ["16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"]
ADJUST = "lonely + C(age_group) + sex + smoker + obese + physically_inactive"


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return generate_demo()


@pytest.fixture(scope="module")
def design(df):
    return sh.SurveyDesign(df, weights="weight", strata="strata", psu="psu", nest=True)


@pytest.fixture(scope="module")
def rep_design(df):
    return sh.ReplicateDesign(df, weights="weight", replicate_weights="^repw_[0-9]+$",
                              **DEMO_REPLICATE)


def _check_family(est, se, dof, truth, lo95, hi95, label):
    """Apply the multiplicity rule of the module docstring; return the 95% miss count."""
    est, se, dof, truth = (np.asarray(x, dtype=float) for x in (est, se, dof, truth))
    lo95, hi95 = np.asarray(lo95, dtype=float), np.asarray(hi95, dtype=float)
    q = stats.t.ppf(0.9995, dof)
    z = (est - truth) / se
    assert (np.abs(z) < q).all(), f"{label}: a 99.9% CI misses the truth, z = {np.round(z, 2)}"
    miss95 = int(np.sum((truth < lo95) | (truth > hi95)))
    allowed = int(stats.binom.ppf(0.999, len(truth), 0.05))
    assert miss95 <= allowed, f"{label}: {miss95} of {len(truth)} 95% CIs miss (allowed {allowed})"
    return miss95


def _prevalence_table(d, by):
    return d.mean("lonely", by=by).to_frame()


def test_overall_and_country_prevalence(design):
    p = DEMO_TRUTH["lonely_prevalence"]
    t = design.mean("lonely").to_frame()
    assert t["ci_low"].iloc[0] <= p["overall"] <= t["ci_high"].iloc[0]
    t = _prevalence_table(design, "country")
    truth = [p["by_country"][c] for c in t["country"]]
    _check_family(t["estimate"], t["se"], t["df"], truth, t["ci_low"], t["ci_high"], "country")


def test_prevalence_by_country_and_age_group(design):
    p = DEMO_TRUTH["lonely_prevalence"]["by_country_age_group"]
    t = _prevalence_table(design, ["country", "age_group"])
    assert len(t) == 14
    truth = [p[c][str(g)] for c, g in zip(t["country"], t["age_group"])]
    _check_family(t["estimate"], t["se"], t["df"], truth, t["ci_low"], t["ci_high"], "age x country")


def test_prevalence_by_country_and_year(design):
    p = DEMO_TRUTH["lonely_prevalence"]["by_country_year"]
    t = _prevalence_table(design, ["country", "year"])
    assert len(t) == 18
    truth = [p[c][int(y)] for c, y in zip(t["country"], t["year"])]
    _check_family(t["estimate"], t["se"], t["df"], truth, t["ci_low"], t["ci_high"], "year x country")


def test_replicate_design_agrees_with_taylor_and_covers(design, rep_design):
    p = DEMO_TRUTH["lonely_prevalence"]["by_country_age_group"]
    taylor = _prevalence_table(design, ["country", "age_group"])
    rep = _prevalence_table(rep_design, ["country", "age_group"])
    np.testing.assert_allclose(rep["estimate"], taylor["estimate"], rtol=1e-10)
    # 60 bootstrap replicates: the SE of a variance estimate is about sqrt(2/59) = 18%, so the
    # SE ratio has SD ~ 9%; 0.6-1.6 is more than 4 SDs on either side.
    ratio = rep["se"].to_numpy() / taylor["se"].to_numpy()
    assert ((ratio > 0.6) & (ratio < 1.6)).all(), np.round(ratio, 2)
    assert 0.8 < np.median(ratio) < 1.25
    truth = [p[c][str(g)] for c, g in zip(rep["country"], rep["age_group"])]
    _check_family(rep["estimate"], rep["se"], rep["df"], truth, rep["ci_low"], rep["ci_high"],
                  "replicate age x country")


def _term(index, var):
    """Name of the model parameter of a 0/1 variable (``lonely`` or ``lonely[T.True]``)."""
    names = [n for n in index if n == var or n.startswith(var + "[")]
    assert len(names) == 1, (var, list(index))
    return names[0]


def _glm_rows(model, truths: dict, label: str):
    """(estimate, se, truth, lo95, hi95) rows on the log scale for the terms in ``truths``."""
    params, bse = model.params, model.bse
    ci = model.conf_int()
    rows = []
    for var, true in truths.items():
        if var == "female":        # sex is coded female (reference) / male: OR_female = 1/OR_male
            name = _term(params.index, "sex")
            sign = -1.0
        else:
            name = _term(params.index, var)
            sign = 1.0
        lo, hi = sorted((sign * ci.loc[name].iloc[0], sign * ci.loc[name].iloc[1]))
        rows.append((f"{label}:{var}", sign * params[name], bse[name], np.log(true), lo, hi,
                     model.df_resid))
    return rows


def test_outcome_odds_ratios(design):
    rows = []
    for outcome, ors in DEMO_TRUTH["odds_ratios"].items():
        m = design.glm(f"{outcome} ~ {ADJUST}", family="binomial")
        rows += _glm_rows(m, ors, outcome)
    t = pd.DataFrame(rows, columns=["term", "est", "se", "truth", "lo", "hi", "df"])
    assert len(t) == 35
    _check_family(t["est"], t["se"], t["df"], t["truth"], t["lo"], t["hi"], "odds ratios")


def test_cognitive_score_effects(design, df):
    older = design.subset((df["age"] >= 50).to_numpy())
    age50 = df["age_group"].astype(str).where(df["age"] >= 50)   # missing below 50
    older = older.assign(age_group50=age50)
    m = older.glm("cognitive_score ~ lonely + C(age_group50) + sex + smoker + obese"
                  " + physically_inactive", family="gaussian")
    truths = DEMO_TRUTH["cognitive_score_effects"]
    rows = []
    for var, true in truths.items():
        name = _term(m.params.index, "sex" if var == "female" else var)
        sign = -1.0 if var == "female" else 1.0
        lo, hi = sorted(sign * m.conf_int().loc[name].to_numpy())
        rows.append((sign * m.params[name], m.bse[name], true, lo, hi, m.df_resid))
    t = pd.DataFrame(rows, columns=["est", "se", "truth", "lo", "hi", "df"])
    _check_family(t["est"], t["se"], t["df"], t["truth"], t["lo"], t["hi"], "cognitive score")


def test_loneliness_trend(design, df):
    # census (finite-population) trend of lonely ~ year within each country
    for country in ("GB", "US"):
        sub = design.subset((df["country"] == country).to_numpy())
        m = sub.glm("lonely ~ year", family="binomial")
        lo, hi = m.conf_int().loc["year"]
        assert lo <= DEMO_TRUTH["lonely_trend_census"][country] <= hi, (country, lo, hi)
    # the conditional model coefficient, with the generating model's terms
    edu = df["education"]
    d = design.assign(
        edu_low=np.where(edu.isna(), np.nan, (edu.astype(str) == "low").astype(float)),
        income_q1=np.where(df["income_quintile"].isna(), np.nan,
                           (df["income_quintile"] == 1).astype(float)),
    )
    m = d.glm("lonely ~ year + C(country) + C(age_group) + sex + lives_alone + edu_low + income_q1",
              family="binomial")
    lo, hi = m.conf_int().loc["year"]
    assert lo <= DEMO_TRUTH["lonely_trend_log_odds_per_year"] <= hi
    assert m.params["year"] > 0


def test_mortality_hazard_ratios(design, df):
    """Exponential survival: a survey Poisson model of deaths with offset log(follow-up time)
    is the exponential-model likelihood, so its rate ratios estimate the true hazard ratios."""
    d = design.assign(log_followup=np.log(df["followup_years"]))
    m = d.glm(f"died ~ {ADJUST}", family="poisson", offset="log_followup")
    rows = _glm_rows(m, DEMO_TRUTH["hazard_ratios"], "mortality")
    t = pd.DataFrame(rows, columns=["term", "est", "se", "truth", "lo", "hi", "df"])
    _check_family(t["est"], t["se"], t["df"], t["truth"], t["lo"], t["hi"], "hazard ratios")
    hr_lonely = float(np.exp(t.loc[t.term == "mortality:lonely", "est"].iloc[0]))
    assert 1.0 < hr_lonely < 1.8


def test_replicate_design_glm(design, rep_design):
    """The bootstrap replicate weights give logistic-regression SEs close to Taylor's and CIs
    that cover the true odds ratios (depression; same multiplicity rule)."""
    f = f"depression ~ {ADJUST}"
    rep = rep_design.glm(f, family="binomial")
    tay = design.glm(f, family="binomial")
    np.testing.assert_allclose(rep.params, tay.params, rtol=1e-8)
    ratio = (rep.bse / tay.bse).to_numpy()
    assert ((ratio > 0.6) & (ratio < 1.6)).all(), np.round(ratio, 2)
    t = pd.DataFrame(_glm_rows(rep, DEMO_TRUTH["odds_ratios"]["depression"], "rep"),
                     columns=["term", "est", "se", "truth", "lo", "hi", "df"])
    _check_family(t["est"], t["se"], t["df"], t["truth"], t["lo"], t["hi"], "replicate ORs")
