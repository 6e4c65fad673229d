"""socialhealth.models.coxph against R survey 4.1-1 svycoxph (fixture written by
tests/models/fixtures/coxph/make_coxph.R), plus bad-input checks.

Data: a SYNTHETIC cohort simulated by the R script (set.seed(20261123); Weibull proportional
hazards in logbili, protime, albumin and trt, independent censoring, times recorded weekly in
days so that event times are tied), with selection probabilities from a logistic model on
age * edema as in the ?svycoxph example (cohort_synthetic.csv, exported by the R script), and
the real GSS 2016-2020 panel extract (read at test time from ../shared/data; skipped when
absent; only R's numbers are committed).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import MissingColumnError, ModelError, SeparationError, FormulaError
from socialhealth.models import coxph

FIX = Path(__file__).parent / "fixtures" / "coxph"
REF = json.loads((FIX / "coxph_reference.json").read_text())
TAYLOR = {c["id"]: c for c in REF["taylor"]}
TOL = 1e-8      # R fitted with coxph.control(eps = 1e-11); we agree to ~1e-13


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    df = pd.read_csv(FIX / "cohort_synthetic.csv")
    df["w"] = 1 / df["randprob"]
    return df


def _rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _check(m, case, tol=TOL):
    assert m.nobs == case["n"]
    assert m.n_events == case["nevent"]
    assert _rel(m.params.to_numpy(), case["coef"]) < tol
    assert _rel(m.cov_params().to_numpy(), np.array(case["vcov"])) < tol
    assert _rel(m.bse.to_numpy(), case["se"]) < tol
    assert _rel(m.pvalues.to_numpy(), case["p"]) < 1e-6
    assert _rel(m.loglik, case["loglik"]) < 1e-10


RHS = "logbili + protime + albumin"


def test_fixture_data_is_what_r_wrote(cohort):
    # the committed CSV against the summary R stored when it simulated it (make_coxph.R)
    meta = REF["meta"]["data"]
    assert len(cohort) == meta["rows"] == 362
    assert int(cohort["dead"].sum()) == meta["events"] == 151
    assert int(cohort.loc[cohort["sex"] == "f", "dead"].sum()) == meta["events_female"] == 128
    ev = cohort.loc[cohort["dead"] == 1, "time"].value_counts()
    assert int((ev > 1).sum()) == meta["tied_event_times"] == 16     # ties: Efron != Breslow
    assert int(ev[ev > 1].sum()) == meta["events_at_tied_times"] == 35
    assert (cohort["time"] % 1 == 0).all() and (cohort["time"] > 0).all()
    assert TAYLOR["cohort_efron"]["coef"] != TAYLOR["cohort_breslow"]["coef"]


def test_efron_matches_svycoxph(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    m = coxph(d, "time", "dead", RHS)
    case = TAYLOR["cohort_efron"]
    _check(m, case)
    # normal-theory intervals (R confint(svycoxph)) and hazard ratios
    tab = m.to_frame()
    assert _rel(np.log(tab["ci_low"]), case["ci_low"]) < TOL
    assert _rel(np.log(tab["ci_high"]), case["ci_high"]) < TOL
    assert _rel(np.log(tab["estimate"]), case["coef"]) < TOL
    assert list(tab.columns[:7]) == ["term", "estimate", "se", "ci_low", "ci_high", "statistic", "p"]


def test_r_default_convergence_within_1e6(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    m = coxph(d, "time", "dead", RHS)
    case = TAYLOR["cohort_efron_default_control"]
    assert _rel(m.params.to_numpy(), case["coef"]) < 1e-6
    assert _rel(m.bse.to_numpy(), case["se"]) < 1e-6


def test_log_transform_in_formula(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    m = coxph(d, "time", "dead", "np.log(bili) + protime + albumin")
    assert _rel(m.params.to_numpy(), TAYLOR["cohort_efron"]["coef"]) < TOL


def test_breslow_matches(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    _check(coxph(d, "time", "dead", RHS, ties="breslow"), TAYLOR["cohort_breslow"])


def test_baseline_strata_match(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    _check(coxph(d, "time", "dead", RHS, strata="sex"), TAYLOR["cohort_strata_sex"])


def test_domain_subset_matches(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    m = coxph(d.subset(cohort["sex"] == "f"), "time", "dead", RHS)
    _check(m, TAYLOR["cohort_subset_female"])


def test_cluster_design_and_factor(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema", psu="clus", nest=True)
    m = coxph(d, "time", "dead", RHS + " + C(trt)")
    _check(m, TAYLOR["cohort_cluster_trt"])
    assert m.names[-1] == "C(trt)[T.2]"


def test_list_covariates_equal_formula(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    a = coxph(d, "time", "dead", ["logbili", "protime", "albumin"])
    b = coxph(d, "time", "dead", RHS)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-14)


def test_replicate_design_matches(cohort):
    case = REF["replicate"][0]
    rw = pd.read_csv(FIX / "cohort_jkn_repweights.csv.gz")
    assert (rw["id"].to_numpy() == cohort["id"].to_numpy()).all()
    r = sh.ReplicateDesign(cohort, weights="w", replicate_weights=rw.drop(columns="id").to_numpy(),
                           method=case["type"].lower(), scale=case["scale"],
                           rscales=case["rscales"], mse=case["mse"])
    m = coxph(r, "time", "dead", RHS)
    assert _rel(m.params.to_numpy(), case["coef"]) < TOL
    # R refits each replicate with coxph's default tolerance: agreement ~4e-8
    assert _rel(m.cov_params().to_numpy(), np.array(case["vcov"])) < 1e-6


def test_missing_values_left_out(cohort):
    df = cohort.copy()
    df.loc[[0, 5, 9], "protime"] = np.nan
    d = sh.SurveyDesign(df, weights="w", strata="edema")
    m = coxph(d, "time", "dead", RHS)
    assert m.nobs == len(df) - 3 and m.n_missing == 3
    # same as fitting on the domain of complete rows (the design is kept)
    m2 = coxph(d.subset(df["protime"].notna()), "time", "dead", RHS)
    np.testing.assert_allclose(m.params, m2.params, rtol=1e-12)
    np.testing.assert_allclose(m.cov_params(), m2.cov_params(), rtol=1e-10)


def test_efron_equals_breslow_without_ties():
    # no tied event times -> the two tie rules give the same fit (hand fact, Efron 1977)
    rng = np.random.default_rng(1)
    n = 200
    df = pd.DataFrame({"x": rng.normal(size=n), "t": rng.permutation(n) + 1.0,
                       "e": rng.integers(0, 2, n), "w": rng.uniform(1, 3, n)})
    d = sh.SurveyDesign(df, weights="w")
    a, b = coxph(d, "t", "e", ["x"]), coxph(d, "t", "e", ["x"], ties="breslow")
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12)


def test_one_covariate_hand_score():
    # two distinct event times, weights 1: the Breslow score at beta = 0 is
    # sum over events of (x_i - mean of x over the risk set); check the estimate solves U = 0
    df = pd.DataFrame({"t": [1., 2., 3., 4., 5., 6., 7., 8., 9., 10., 11., 12.],
                       "e": [1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 1, 1],
                       "x": [1., 0., 1., 0., 1., 0., 0., 1., 0., 1., 0., 0.], "w": 1.0})
    d = sh.SurveyDesign(df, weights="w")
    m = coxph(d, "t", "e", ["x"], ties="breslow", min_events=5, events_per_variable=1)
    b = float(m.params.iloc[0])
    U = 0.0
    for i in range(len(df)):
        if df.e[i]:
            risk = df.t >= df.t[i]
            r = np.exp(b * df.x[risk])
            U += df.x[i] - float((df.x[risk] * r).sum() / r.sum())
    assert abs(U) < 1e-9


# ----------------------------------------------------------------------------- bad input
def test_too_few_events(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    keep = cohort["dead"].cumsum() <= 6          # the first rows, holding 6 events
    small = d.subset(keep)
    with pytest.raises(ModelError, match="6 event"):
        coxph(small, "time", "dead", RHS)


def test_events_per_variable_warning(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    sub = d.subset(cohort["dead"].cumsum() <= 15)    # 15 events, 3 coefficients
    with pytest.warns(UserWarning, match="events per variable"):
        coxph(sub, "time", "dead", RHS)


def test_non_positive_time(cohort):
    df = cohort.copy()
    df.loc[3, "time"] = 0
    d = sh.SurveyDesign(df, weights="w", strata="edema")
    with pytest.raises(ModelError, match="non-positive"):
        coxph(d, "time", "dead", RHS)


def test_bad_event_codes(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    with pytest.raises(ModelError, match="0/1"):
        coxph(d, "time", "status", RHS)      # status is 0/1/2 in the cohort


def test_missing_columns(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    with pytest.raises(MissingColumnError):
        coxph(d, "followup", "dead", RHS)
    with pytest.raises(FormulaError, match="lonely"):
        coxph(d, "time", "dead", ["lonely", "age"])


def test_bad_ties(cohort):
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    with pytest.raises(ModelError, match="ties"):
        coxph(d, "time", "dead", RHS, ties="exact")


def test_monotone_likelihood_is_an_error():
    rng = np.random.default_rng(3)
    n = 300
    g = rng.integers(0, 2, n)
    df = pd.DataFrame({"t": rng.exponential(1, n) + 0.01, "e": np.where(g == 1, 0, rng.integers(0, 2, n)),
                       "g": g.astype(float), "w": 1.0})
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(SeparationError, match="monotone likelihood"):
        coxph(d, "t", "e", ["g"])


# ----------------------------------------------------------------------------- real data
def _gss_frame(path):
    pyreadstat = pytest.importorskip("pyreadstat")
    g, _ = pyreadstat.read_dta(str(path))
    w1 = (g["samptype"] == 2016).to_numpy()

    def pick(a, b):
        return np.where(w1, g[a], g[b])

    sex = pick("sex_1a", "sex_1b")
    fr = pick("socfrend_1a", "socfrend_1b")
    return pd.DataFrame({
        "stratum": g["samptype"].to_numpy() * 10000 + pick("vstrat_1a", "vstrat_1b"),
        "psu": pick("vpsu_1a", "vpsu_1b"), "wt": pick("wtssall_1a", "wtssall_1b"),
        "age": pick("age_1a", "age_1b"),
        "female": np.where(np.isnan(sex), np.nan, (sex == 2).astype(float)),
        "rare_friends": np.where(np.isnan(fr), np.nan, (fr >= 6).astype(float)),
        "selected": (g["panstat"] != 0).to_numpy(),
        "died": (g["panstat"] == 33).astype(int).to_numpy(),
        "followup": np.where(w1, 4.0, 2.0),
    })


@pytest.mark.realdata
@pytest.mark.parametrize("case", REF["gss"], ids=lambda c: c["id"])
def test_gss_panel_proxy_mortality(shared_data_dir, case):
    path = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    if not path.exists():
        pytest.skip(f"{path} not found")
    gd = _gss_frame(path)
    d = sh.SurveyDesign(gd, weights="wt", strata="stratum", psu="psu", nest=True)
    ties = "breslow" if "breslow" in case["id"] else "efron"
    m = coxph(d.subset(gd["selected"]), "followup", "died", ["rare_friends", "age", "female"], ties=ties)
    _check(m, case, tol=1e-6)


def test_coef_se_and_float_like_r(cohort):
    # issue 12: R-like coef() / SE() accessors and float() for a one-coefficient model
    d = sh.SurveyDesign(cohort, weights="w", strata="edema")
    m = coxph(d, "time", "dead", RHS)
    case = TAYLOR["cohort_efron"]
    assert list(m.coef().index) == ["logbili", "protime", "albumin"]     # R: log(bili), ...
    assert _rel(m.coef().to_numpy(), case["coef"]) < TOL
    assert _rel(m.se().to_numpy(), case["se"]) < TOL
    assert float(m.coef()["albumin"]) == m.params["albumin"]
    with pytest.raises(sh.errors.EstimationError, match="single coefficient"):
        float(m)
    one = coxph(d, "time", "dead", ["logbili"])
    assert float(one) == float(one.params.iloc[0])
