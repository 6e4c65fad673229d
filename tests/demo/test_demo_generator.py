"""The synthetic demo survey: determinism, schema, design sanity and the generating model.

These tests check the generator itself, without the design engine. Expected values come from the
documented model (module docstring of ``socialhealth.datasets.demo``) and from hand rules
written out here; the population-level check fits the loneliness model with statsmodels (an
independent estimator) on the full finite population.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from socialhealth.datasets import demo
from socialhealth.datasets.demo import DEMO_REPLICATE, DEMO_TRUTH, generate_demo

AGE_GROUPS = ["16-24", "25-34", "35-44", "45-54", "55-64", "65-74", "75+"]
CONTACT = ["daily", "weekly", "monthly", "less than monthly", "never"]

SCHEMA_COLUMNS = [
    "respondent_id", "survey", "wave", "year", "country", "weight", "strata", "psu",
    "age", "age_group", "sex", "region", "education", "income_quintile", "lives_alone",
    "lonely_direct", "lonely_direct3", "ucla3_companionship", "ucla3_left_out", "ucla3_isolated",
    "ucla3_score", "lonely_ucla3", "lonely", "contact_in_person", "contact_phone",
    "contact_online", "social_isolation_index", "social_support", "social_activity",
    "self_rated_health", "poor_health", "depression", "anxiety", "hypertension",
    "heart_disease", "stroke", "diabetes", "cognitive_score", "died", "followup_years",
    "smoker", "bmi", "obese", "physically_inactive", "heavy_drinker",
]
BOOL_COLUMNS = [
    "lives_alone", "lonely_ucla3", "lonely", "social_support", "social_activity", "poor_health",
    "depression", "anxiety", "hypertension", "heart_disease", "stroke", "diabetes", "died",
    "smoker", "obese", "physically_inactive", "heavy_drinker",
]


@pytest.fixture(scope="module")
def df() -> pd.DataFrame:
    return generate_demo()


def test_same_seed_gives_identical_frame(df):
    again = generate_demo(2024)
    pd.testing.assert_frame_equal(df, again)


def test_other_seed_gives_other_sample(df):
    other = generate_demo(7)
    assert not np.allclose(df["weight"].to_numpy()[:100], other["weight"].to_numpy()[:100])


def test_size_and_labels(df):
    assert 19_000 <= len(df) <= 21_000
    assert set(df["survey"]) == {"demo (synthetic)"}
    assert set(df["country"]) == {"GB", "US"}
    assert sorted(df["year"].unique()) == list(range(2016, 2025))
    assert (df["wave"] == df["year"].astype(str)).all()
    assert df["respondent_id"].is_unique


def test_schema_columns_and_types(df):
    missing = [c for c in SCHEMA_COLUMNS if c not in df.columns]
    assert missing == []
    for c in BOOL_COLUMNS:
        assert str(df[c].dtype) == "boolean", c
    assert df["age_group"].cat.ordered
    assert list(df["age_group"].cat.categories) == AGE_GROUPS
    assert list(df["lonely_direct"].cat.categories) == [
        "Never", "Hardly ever", "Occasionally", "Some of the time", "Often/always"]
    assert list(df["lonely_direct3"].cat.categories) == [
        "hardly ever or never", "some of the time", "often or always"]
    for c in ("contact_in_person", "contact_phone", "contact_online"):
        assert df[c].cat.ordered and list(df[c].cat.categories) == CONTACT
    assert list(df["self_rated_health"].cat.categories) == [
        "excellent", "very good", "good", "fair", "poor"]
    assert list(df["education"].cat.categories) == ["low", "middle", "high"]
    assert set(df["sex"].astype(str)) == {"female", "male"}
    for c in ("respondent_id", "survey", "wave", "country", "region"):
        assert pd.api.types.is_string_dtype(df[c]) or df[c].dtype == object, c
    assert df["age"].between(16, 94).all()
    assert df.loc[df["country"] == "US", "age"].min() >= 18


def test_age_group_matches_age(df):
    lower = np.array([16, 25, 35, 45, 55, 65, 75])
    expected = np.searchsorted(lower, df["age"].to_numpy(), side="right") - 1
    assert (df["age_group"].cat.codes.to_numpy() == expected).all()


def test_derived_columns_follow_their_rules(df):
    direct = df["lonely_direct"]
    ok = direct.notna()
    assert (df.loc[ok, "lonely"].astype(bool) == (direct[ok] == "Often/always")).all()
    assert df["lonely"].isna().equals(direct.isna())
    three = {"Never": "hardly ever or never", "Hardly ever": "hardly ever or never",
             "Occasionally": "some of the time", "Some of the time": "some of the time",
             "Often/always": "often or always"}
    assert (df.loc[ok, "lonely_direct3"].astype(str) == direct[ok].astype(str).map(three)).all()
    items = df[["ucla3_companionship", "ucla3_left_out", "ucla3_isolated"]]
    assert set(np.unique(items.stack().dropna().to_numpy())) <= {1.0, 2.0, 3.0}
    full = items.notna().all(axis=1)
    assert np.allclose(df.loc[full, "ucla3_score"], items[full].sum(axis=1))
    assert df.loc[~full, "ucla3_score"].isna().all()
    assert (df.loc[full, "lonely_ucla3"].astype(bool) == (df.loc[full, "ucla3_score"] >= 6)).all()
    srh = df["self_rated_health"]
    ok = srh.notna()
    assert (df.loc[ok, "poor_health"].astype(bool) == srh[ok].isin(["fair", "poor"])).all()
    ok = df["bmi"].notna()
    assert (df.loc[ok, "obese"].astype(bool) == (df.loc[ok, "bmi"] >= 30)).all()
    assert df.loc[~ok, "obese"].isna().all()
    assert df["social_isolation_index"].dropna().between(0, 5).all()
    assert df.loc[df["age"] < 50, "cognitive_score"].isna().all()
    assert df.loc[df["age"] >= 50, "cognitive_score"].notna().mean() > 0.9
    assert df["died"].isna().equals(df["followup_years"].isna())
    fu = df["followup_years"].notna()
    # follow-up ends by 31 December 2025 at the latest: interview in `year`, so <= 2026 - year
    assert (df.loc[fu, "followup_years"] <= 2026 - df.loc[fu, "year"] + 1e-9).all()
    assert (df.loc[fu, "followup_years"] > 0).all()       # log(follow-up) is finite


def test_missing_values_are_missing_not_false(df):
    # every item has some non-response, a small share, and it is <NA>/NaN
    for c in ("lonely", "depression", "smoker", "obese", "died", "income_quintile"):
        share = df[c].isna().mean()
        assert 0.003 < share < 0.12, (c, share)
    assert df["lives_alone"].notna().all()


def test_design_nesting_and_psus(df):
    per_psu = df.groupby("psu", observed=True)["strata"].nunique()
    assert (per_psu == 1).all(), "each PSU id must lie in one stratum (globally unique ids)"
    psus = df.groupby("strata", observed=True)["psu"].nunique()
    assert psus.min() >= 2
    assert len(psus) == 180                          # 9 years x (12 GB regions + 8 US strata)
    # proportionate allocation of 48 PSUs per country and year (at least 2 per stratum)
    per_cy = df.groupby(["country", "year"])["psu"].nunique()
    assert per_cy.between(48, 54).all(), per_cy.to_dict()
    # London (13.1% of GB adults) gets round(0.131 x 48) = 6 PSUs, Northern Ireland the minimum 2
    gb16 = df[(df["country"] == "GB") & (df["year"] == 2016)]
    n = gb16.groupby("region")["psu"].nunique()
    assert n["London"] == 6 and n["Northern Ireland"] == 2
    # strata never cross country or year
    assert (df.groupby("strata", observed=True)[["country", "year"]].nunique() == 1).all().all()


def test_weights_positive_and_sum_to_population(df):
    w = df["weight"].to_numpy()
    assert np.isfinite(w).all() and (w > 0).all()
    assert w.max() / w.min() > 10        # unequal weights
    # Horvitz-Thompson estimate of the population size: unbiased; allow 5%
    assert abs(w.sum() / DEMO_TRUTH["population_size"] - 1) < 0.05


def test_oversampling_of_older_adults_shows_in_weights(df):
    # within a PSU, adults 65+ are sampled at twice the rate: their weights are about half
    old = df["age"] >= 65
    ratio = (df[~old].groupby("psu", observed=True)["weight"].first()
             / df[old].groupby("psu", observed=True)["weight"].first()).dropna()
    assert 1.6 < ratio.median() < 2.5


def test_replicate_weights(df):
    rep = df.filter(regex=r"^repw_[0-9]+$")
    assert rep.shape[1] == 60 == len(DEMO_REPLICATE["rscales"])
    assert DEMO_REPLICATE["method"] == "bootstrap"
    assert DEMO_REPLICATE["scale"] == pytest.approx(1 / 59)
    assert DEMO_REPLICATE["mse"] is False
    r = rep.to_numpy()
    w = df["weight"].to_numpy()
    assert (r >= 0).all()
    # the factor repw / weight is constant within a PSU and equals n_h / (n_h - 1) times the
    # number of times the PSU was drawn (Rao-Wu: n_h - 1 draws with replacement)
    factor = np.round(r / w[:, None], 12)
    by_psu = pd.DataFrame(factor).groupby(df["psu"].cat.codes.to_numpy()).nunique()
    assert (by_psu.to_numpy() == 1).all()
    n_h_row = df.groupby("strata", observed=True)["psu"].transform("nunique").to_numpy()
    draws = factor * ((n_h_row - 1) / n_h_row)[:, None]
    assert np.allclose(draws, np.round(draws), atol=1e-9)
    assert (np.round(draws) <= (n_h_row - 1)[:, None]).all()
    # within each stratum the factors of each replicate sum to n_h (n_h - 1 draws x n_h/(n_h-1))
    first = df.groupby("psu", observed=True).head(1)
    sums = pd.DataFrame(factor[first.index]).groupby(first["strata"].to_numpy()).sum()
    n_h = first.groupby("strata", observed=True).size()
    assert np.allclose(sums.to_numpy(), n_h.loc[sums.index].to_numpy()[:, None])


def test_truth_constant_matches_population():
    fresh = demo.population_truth(2024)
    for key in ("population_size", "lonely_prevalence", "lonely_direct_share",
                "lonely_trend_census"):
        a = pd.json_normalize(fresh[key]) if isinstance(fresh[key], dict) else fresh[key]
        b = pd.json_normalize(DEMO_TRUTH[key]) if isinstance(DEMO_TRUTH[key], dict) else DEMO_TRUTH[key]
        if isinstance(a, pd.DataFrame):
            assert np.allclose(a.to_numpy(dtype=float), b.to_numpy(dtype=float), atol=1e-6), key
        else:
            assert a == b


def test_truth_values_are_the_documented_ones():
    # written out by hand from the module docstring table
    assert DEMO_TRUTH["hazard_ratios"]["lonely"] == 1.3
    assert DEMO_TRUTH["odds_ratios"]["depression"]["lonely"] == 3.0
    assert DEMO_TRUTH["odds_ratios"]["diabetes"]["obese"] == 3.0
    assert DEMO_TRUTH["odds_ratios"]["heart_disease"]["smoker"] == 1.8
    assert DEMO_TRUTH["lonely_trend_log_odds_per_year"] == 0.04
    assert DEMO_TRUTH["adjustment_set"] == [
        "lonely", "age_group", "sex", "smoker", "obese", "physically_inactive"]
    p = DEMO_TRUTH["lonely_prevalence"]
    # loneliness rises over time in both countries and is highest at 16-24
    for c in ("GB", "US"):
        by_year = p["by_country_year"][c]
        assert by_year[2024] > by_year[2016]
        ages = p["by_country_age_group"][c]
        assert max(ages, key=ages.get) == "16-24"
    assert p["by_country"]["US"] > p["by_country"]["GB"]


@pytest.mark.slow
def test_population_follows_the_loneliness_model():
    """A census logistic fit (statsmodels, grouped binomial) recovers the model coefficients."""
    import statsmodels.api as sm

    pop = demo.demo_population(2024)
    cells = pop.assign(
        us=(pop["country"] == "US").astype(int),
        female=(pop["sex"] == "female").astype(int),
        alone=pop["lives_alone"].astype(int),
        edu_low=(pop["education"] == "low").astype(int),
        inc1=(pop["income_quintile"] == 1).astype(int),
        yc=pop["year"] - 2020,
        ag=pop["age_group"].cat.codes,
        y=pop["lonely"].astype(int),
    ).groupby(["us", "female", "alone", "edu_low", "inc1", "yc", "ag"])["y"].agg(["sum", "count"])
    cells = cells.reset_index()
    X = pd.get_dummies(cells["ag"], prefix="ag", drop_first=True, dtype=float)
    X = pd.concat([cells[["us", "female", "alone", "edu_low", "inc1", "yc"]].astype(float), X], axis=1)
    X = sm.add_constant(X)
    endog = np.column_stack([cells["sum"], cells["count"] - cells["sum"]])
    fit = sm.GLM(endog, X, family=sm.families.Binomial()).fit()
    m = DEMO_TRUTH["lonely_model_log_odds"]
    truth = {
        "const": m["intercept"]["GB"], "us": m["intercept"]["US"] - m["intercept"]["GB"],
        "female": m["female"], "alone": m["lives_alone"], "edu_low": m["education_low"],
        "inc1": m["income_quintile_1"], "yc": m["year_minus_2020"],
        **{f"ag_{k}": m["age_group"][g] for k, g in enumerate(AGE_GROUPS) if k > 0},
    }
    z = (fit.params[list(truth)] - pd.Series(truth)) / fit.bse[list(truth)]
    assert (z.abs() < 4).all(), z.round(2).to_dict()
