"""socialhealth.models.association: nested survey GLMs against R survey 4.1-1 svyglm (fixture
written by tests/models/fixtures/association/make_association.R on the synthetic nhanes
example data, sh.datasets.load_example), exact equality with design.glm, the missing-value rule and
bad input."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth.errors import (FormulaError, MissingColumnError, ModelError, SeparationError,
                                 SocialHealthWarning)
from socialhealth.models import association

REF = json.loads((Path(__file__).parent / "fixtures" / "association" / "association_reference.json").read_text())["results"]
ADJ = [["agecat"], ["C(RIAGENDR)"]]


@pytest.fixture(scope="module")
def nhanes(r_survey):
    return r_survey.data("nhanes")


@pytest.fixture(scope="module")
def design(nhanes):
    return sh.SurveyDesign(nhanes, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU", nest=True)


def _compare(t, ref, tol_est, tol_p, models=(0, 1, 2)):
    f = t.to_frame()
    for k in models:
        r = ref[k]
        sub = f[f["model"] == k]
        assert list(sub["level"]) == ["2", "3", "4"]
        np.testing.assert_allclose(sub["estimate"], r["estimate"], rtol=tol_est)
        np.testing.assert_allclose(sub["ci_low"], r["ci_low"], rtol=tol_est)
        np.testing.assert_allclose(sub["ci_high"], r["ci_high"], rtol=tol_est)
        np.testing.assert_allclose(sub["se"], r["se"], rtol=tol_est)
        np.testing.assert_allclose(sub["p"], r["p"], rtol=tol_p)
        assert (sub["n"] == r["n"]).all()
        assert (sub["df"] == r["df"]).all()


def test_odds_ratios_match_r(design):
    t = association(design, "race", "HI_CHOL", adjust=ADJ, measure="or", categorical=True)
    _compare(t, REF["or"], 1e-9, 1e-8)
    f = t.to_frame()
    assert list(f["model_label"].unique()) == ["unadjusted", "+ agecat", "+ C(RIAGENDR)"]
    assert f["adjusted_for"].iloc[-1] == "agecat, C(RIAGENDR)"
    assert len(t.models) == 3


def test_prevalence_ratios_match_r_log_binomial(design):
    t = association(design, "race", "HI_CHOL", adjust=ADJ, measure="pr", categorical=True)
    assert (t.to_frame()["family"] == "binomial").all()
    # R's log-binomial fits (step-halving, epsilon 1e-13) agree to ~1e-7 in the p-values
    _compare(t, REF["pr_logbinomial"], 1e-6, 1e-5)


def test_coefficients_match_r(design):
    t = association(design, "race", "HI_CHOL", adjust=ADJ, measure="coef", categorical=True)
    _compare(t, REF["coef"], 1e-9, 1e-9)


def test_risk_difference_unadjusted_matches_r(design):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SocialHealthWarning)
        t = association(design, "race", "HI_CHOL", adjust=ADJ, measure="rd", categorical=True)
    _compare(t, REF["rd"], 1e-9, 1e-9, models=(0,))


def test_rows_equal_design_glm_exactly(design):
    # the table is exp(coef) of design.glm on the same model, with log-scale t intervals using
    # the model's residual design df (hand computation from params, bse and df_resid)
    t = association(design, "race", "HI_CHOL", adjust=ADJ, measure="or", categorical=True)
    dcc = design.subset(design.data[["HI_CHOL", "race", "agecat", "RIAGENDR"]].notna().all(axis=1))
    m = dcc.glm("HI_CHOL ~ C(race) + agecat + C(RIAGENDR)", family="binomial")
    row = t.to_frame().query("model == 2")
    b = m.params[[c for c in m.params.index if c.startswith("C(race)")]].to_numpy()
    se = m.bse[[c for c in m.bse.index if c.startswith("C(race)")]].to_numpy()
    q = stats.t.ppf(0.975, m.df_resid)
    assert np.array_equal(row["estimate"].to_numpy(), np.exp(b))
    np.testing.assert_allclose(row["ci_low"], np.exp(b - q * se), rtol=1e-14)
    np.testing.assert_allclose(row["ci_high"], np.exp(b + q * se), rtol=1e-14)
    np.testing.assert_allclose(row["p"], 2 * stats.t.sf(np.abs(b / se), m.df_resid), rtol=1e-12)
    assert (row["df"] == m.df_resid).all()


def test_complete_cases_versus_available_cases(nhanes):
    df = nhanes.copy()
    rng = np.random.default_rng(0)
    df.loc[rng.choice(len(df), 500, replace=False), "agecat"] = np.nan
    df.loc[rng.choice(len(df), 300, replace=False), "RIAGENDR"] = np.nan
    d = sh.SurveyDesign(df, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU", nest=True)
    cc = association(d, "race", "HI_CHOL", adjust=ADJ, categorical=True).to_frame()
    n_cc = int(df[["HI_CHOL", "race", "agecat", "RIAGENDR"]].notna().all(axis=1).sum())
    assert (cc["n"] == n_cc).all()
    ac = association(d, "race", "HI_CHOL", adjust=ADJ, categorical=True, complete_cases=False).to_frame()
    n_by_model = ac.groupby("model")["n"].first().to_list()
    expected = [int(df[cols].notna().all(axis=1).sum()) for cols in
                (["HI_CHOL", "race"], ["HI_CHOL", "race", "agecat"], ["HI_CHOL", "race", "agecat", "RIAGENDR"])]
    assert n_by_model == expected
    assert expected[0] > expected[1] > expected[2] == n_cc
    # available cases: each model equals design.glm on the full design
    m0 = d.glm("HI_CHOL ~ C(race)", family="binomial")
    np.testing.assert_array_equal(ac.query("model == 0")["estimate"].to_numpy(),
                                  np.exp(m0.params.iloc[1:].to_numpy()))


def test_binary_exposure_one_row_per_model(design, nhanes):
    d = design.assign(female=(nhanes["RIAGENDR"] == 2).astype(float))
    f = association(d, "female", "HI_CHOL", adjust=[["agecat"]]).to_frame()
    assert len(f) == 2 and list(f["term"]) == ["female", "female"]
    assert f["level"].isna().all()


def test_prevalence_ratio_falls_back_to_modified_poisson():
    rng = np.random.default_rng(11)
    n = 2000
    x = rng.uniform(0, 10, n)
    e = rng.integers(0, 2, n)
    y = rng.binomial(1, np.minimum(0.97, 0.08 * np.exp(0.28 * x + 0.3 * e)))
    df = pd.DataFrame({"y": y, "x": x, "e": e, "w": rng.uniform(1, 2, n),
                       "st": rng.integers(0, 10, n), "psu": rng.integers(0, 4, n)})
    d = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", nest=True)
    with pytest.warns(SocialHealthWarning, match="Zou 2004"):
        t = association(d, "e", "y", adjust=["x"], measure="pr")
    f = t.to_frame()
    adj = f.query("model == 1").iloc[0]
    assert adj["family"] == "poisson" and "quasi-Poisson" in adj["note"]
    m = d.glm("y ~ e + x", family="poisson")
    assert adj["estimate"] == pytest.approx(float(np.exp(m.params["e"])), rel=1e-12)
    with pytest.raises(ModelError, match="model 1.*boundary"):
        association(d, "e", "y", adjust=["x"], measure="pr", pr_fallback=False)


# ----------------------------------------------------------------------------- bad input
def test_adjust_variable_not_in_data(design):
    with pytest.raises(MissingColumnError, match="education"):
        association(design, "race", "HI_CHOL", adjust=[["agecat"], ["education"]])
    with pytest.raises(FormulaError, match="educ"):
        association(design, "race", "HI_CHOL", adjust=[["C(educ)"]])
    with pytest.raises(MissingColumnError):
        association(design, "lonely", "HI_CHOL")
    with pytest.raises(MissingColumnError):
        association(design, "race", "died")


def test_reference_level(design, nhanes):
    d = design.assign(race_s=nhanes["race"].map({1: "a", 2: "b", 3: "c", 4: "d"}))
    t = association(d, "race_s", "HI_CHOL", reference="b").to_frame()
    assert list(t["level"]) == ["a", "c", "d"]
    # odds ratio of a vs b = 1 / (odds ratio of b vs a): R's unadjusted factor(race)2 row
    assert t["estimate"].iloc[0] == pytest.approx(1 / REF["or"][0]["estimate"][0], rel=1e-9)
    with pytest.raises(ModelError, match="not a level"):
        association(d, "race_s", "HI_CHOL", reference="z")


def test_unknown_measure(design):
    with pytest.raises(ModelError, match="measure"):
        association(design, "race", "HI_CHOL", measure="hr")


def test_exposure_with_one_level_in_domain(design, nhanes):
    dom = design.subset(nhanes["race"] == 1)
    with pytest.raises(ModelError, match="single value"):
        association(dom, "race", "HI_CHOL", categorical=True)


def test_perfect_separation_names_the_model():
    rng = np.random.default_rng(2)
    n = 400
    e = rng.integers(0, 2, n)
    df = pd.DataFrame({"e": e, "y": e.copy(), "z": rng.normal(size=n), "w": 1.0})
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(SeparationError, match="model 0"):
        association(d, "e", "y", adjust=["z"])


@pytest.mark.realdata
def test_gss_poor_health_by_rare_friends(shared_data_dir):
    # real GSS 2016 data; R numbers from make_association.R (only R's output is committed)
    path = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    assert len(REF["gss2016_or"]) == 3, "the committed R fixture must hold the GSS case (make_association.R)"
    if not path.exists():
        pytest.skip("GSS panel extract not available")
    pyreadstat = pytest.importorskip("pyreadstat")
    g, _ = pyreadstat.read_dta(str(path))
    g = g[g["samptype"] == 2016].reset_index(drop=True)

    def ind(cond, src):
        return np.where(g[src].isna(), np.nan, cond.astype(float))

    gd = pd.DataFrame({"stratum": g["vstrat_1a"], "psu": g["vpsu_1a"], "wt": g["wtssall_1a"],
                       "poor_health": ind(g["health_1a"] >= 3, "health_1a"), "age": g["age_1a"],
                       "female": ind(g["sex_1a"] == 2, "sex_1a"), "degree": g["degree_1a"],
                       "rare_friends": ind(g["socfrend_1a"] >= 6, "socfrend_1a")})
    d = sh.SurveyDesign(gd, weights="wt", strata="stratum", psu="psu", nest=True)
    t = association(d, "rare_friends", "poor_health", adjust=[["age", "female"], ["C(degree)"]])
    f = t.to_frame()
    assert sorted(f["model"].unique()) == [0, 1, 2]
    for k, r in enumerate(REF["gss2016_or"]):
        row = f[f["model"] == k].iloc[0]
        assert row["estimate"] == pytest.approx(r["estimate"], rel=1e-9)
        assert row["ci_low"] == pytest.approx(r["ci_low"], rel=1e-9)
        assert row["ci_high"] == pytest.approx(r["ci_high"], rel=1e-9)
        assert row["p"] == pytest.approx(r["p"], rel=1e-8)
        assert row["n"] == r["n"] and row["df"] == r["df"]


def test_models_namespace_exports():
    import types

    from socialhealth import models

    for name in ("association", "interaction", "margins", "coxph", "ordinal", "mi_combine", "meta",
                 "compare_risk_factors"):
        assert callable(getattr(models, name)), name
    assert isinstance(models.anchors, types.ModuleType)
    assert callable(models.anchors.load)


def test_log_binomial_that_does_not_settle_says_so(design, monkeypatch):
    """to_maximum refits a log-binomial model until its coefficients settle; when the refits run
    out first, the estimate is returned with a ConvergenceWarning instead of silently."""
    from socialhealth.errors import ConvergenceWarning
    from socialhealth.models import _association

    orig = _association.to_maximum
    monkeypatch.setattr(_association, "to_maximum",
                        lambda d, r, kw, settle=1e-13, max_refits=200: orig(d, r, kw, 0.0, 2))
    with pytest.warns(ConvergenceWarning, match="did not settle at the maximum .* after 2 refits"):
        association(design, "race", "HI_CHOL", measure="pr", categorical=True)
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)    # the default settles: no warning
        association(design, "race", "HI_CHOL", measure="pr", categorical=True)
