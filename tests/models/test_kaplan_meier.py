"""socialhealth.models.kaplan_meier against R survey 4.1-1 ``svykm`` (fixture written by
tests/models/fixtures/kaplan_meier/make_kaplan_meier.R), a hand-computed 6-row example and
bad-input checks.

Data: a SYNTHETIC cohort simulated by the R script (set.seed(20261123); 312 rows, 4 strata x 5
PSUs, three loneliness groups with different exponential hazards, follow-up in whole months so
that event times are tied, administrative censoring at 60; 2 rows with missing time and 2 with
missing status), exported as km_cohort.csv, and R's JKn replicate analysis weights of the same
design (km_repweights.csv), so Python uses exactly R's replicates.

What R returns (see the fixture README): ``svykm(se = FALSE)`` is the weighted product-limit
curve on a grid of 0 and every observed time; ``svykm(se = TRUE)`` is the Aalen curve
``exp(-H)`` with one entry per event *row* (tied deaths listed one by one) and ``varlog`` =
Var(log S). Our ``to_frame()`` has one row per distinct event time: the value after the last
tied death, which is R's last entry at that time.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import (EstimationError, MissingColumnError, ModelError,
                                 SocialHealthError)
from socialhealth.models._kaplan_meier import KaplanMeierResult, kaplan_meier

FIX = Path(__file__).parent / "fixtures" / "kaplan_meier"
REF = json.loads((FIX / "kaplan_meier_reference.json").read_text())
PROBS = REF["meta"]["probs"]
CI_TIMES = REF["meta"]["ci_times"]
LEVELS = ["high", "low", "moderate"]          # R factor (alphabetical) order
TOL_EST = 1e-10   # point estimates (observed agreement ~1e-15)
TOL_SE = 1e-8     # variances / standard errors / limits (observed agreement ~1e-14)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return pd.read_csv(FIX / "km_cohort.csv")


@pytest.fixture(scope="module")
def design(cohort):
    return sh.SurveyDesign(cohort, weights="w", strata="stratum", psu="psu", nest=True)


@pytest.fixture(scope="module")
def rep_design(cohort):
    rw = pd.read_csv(FIX / "km_repweights.csv")
    assert (rw["id"].to_numpy() == cohort["id"].to_numpy()).all()
    data = pd.concat([cohort, rw.drop(columns="id")], axis=1)
    meta = REF["replicate_meta"]
    assert meta["type"] == "JKn" and meta["mse"] is False
    return sh.ReplicateDesign(data, weights="w", replicate_weights="^rw[0-9]+$", method="jkn",
                              scale=meta["scale"], rscales=meta["rscales"])


def _rel(a, b) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    assert a.shape == b.shape and len(a) > 0
    assert np.array_equal(np.isnan(a), np.isnan(b))
    ok = ~np.isnan(b)
    return float(np.max(np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300)))


def _num(values) -> np.ndarray:
    """R JSON numbers (null = NA) as floats."""
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _inf(values) -> np.ndarray:
    """R quantile.svykm results: null in the JSON is R's Inf (the curve never gets that low)."""
    return np.array([np.inf if v is None else v for v in values], dtype=float)


def _last_of_ties(case):
    """R's se=TRUE entries reduced to one per distinct time (the last tied death)."""
    t = np.asarray(case["time"], float)
    last = np.r_[t[1:] != t[:-1], True]
    return t[last], np.asarray(case["surv"])[last], np.asarray(case["varlog"])[last]


def _frame_of(km: KaplanMeierResult, group=None) -> pd.DataFrame:
    fr = km.to_frame()
    if group is not None:
        fr = fr[fr["group"] == group]
    return fr.reset_index(drop=True)


def _check_point(km, case, group=None):
    """se=FALSE: the step function at R's grid (0 and every observed time) equals R's curve."""
    at = km.at(case["time"])
    if group is not None:
        at = at[at["group"] == group]
    assert _rel(at["surv"], case["surv"]) < TOL_EST
    # the table lists exactly the times where R's curve steps down
    t, s = np.asarray(case["time"]), np.asarray(case["surv"])
    steps = t[1:][s[1:] != s[:-1]]
    fr = _frame_of(km, group)
    assert np.array_equal(fr["time"].to_numpy(), steps)
    q = km.quantile(case["quantile"]["probs"])
    if group is not None:
        q = q[q["group"] == group]
    assert np.array_equal(q["time"].to_numpy(), _inf(case["quantile"]["time"]))


def _check_se(km, case, group=None):
    """se=TRUE: curve, varlog, confint at fixed times and quantiles with Woodruff intervals."""
    t, s, v = _last_of_ties(case)
    fr = _frame_of(km, group)
    assert np.array_equal(fr["time"].to_numpy(), t)
    assert _rel(fr["surv"], s) < TOL_EST
    assert _rel(fr["se_log"] ** 2, v) < TOL_SE
    assert _rel(fr["se"], s * np.sqrt(v)) < TOL_SE
    at = km.at(case["confint"]["times"])
    if group is not None:
        at = at[at["group"] == group]
    assert _rel(at["ci_low"], _num(case["confint"]["low"])) < TOL_SE
    assert _rel(at["ci_high"], _num(case["confint"]["high"])) < TOL_SE
    q = km.quantile(case["quantile"]["probs"])
    if group is not None:
        q = q[q["group"] == group]
    for col in ("time", "ci_low", "ci_high"):
        assert np.array_equal(q[col].to_numpy(), _inf(case["quantile"][col])), col


# ----------------------------------------------------------------------------- fixture sanity
def test_fixture_data_is_what_r_wrote(cohort):
    assert len(cohort) == REF["meta"]["n"] == 312
    assert REF["meta"]["survey"] == "4.1.1"
    assert cohort["time"].isna().sum() == 2 and cohort["dead"].isna().sum() == 2


# ----------------------------------------------------------------------------- Taylor design
def test_whole_cohort_product_limit_matches_svykm(design):
    km = kaplan_meier(design, time="time", event="dead")
    assert km.estimator == "km" and not km.se
    _check_point(km, REF["taylor_km"])
    assert km.n_rows == 308 and km.n_missing == 4
    assert km.n_events == 180
    fr = km.to_frame()
    assert list(fr.columns) == ["time", "n_risk", "n_event", "surv", "se", "se_log", "ci_low",
                                "ci_high"]
    assert fr[["se", "ci_low", "ci_high"]].isna().all().all()


def test_whole_cohort_with_se_matches_svykm(design):
    km = kaplan_meier(design, time="time", event="dead", se=True)
    assert km.estimator == "aalen"      # R: "the survival curve is actually the Aalen estimator"
    _check_se(km, REF["taylor_se"])
    assert "svykm(Surv(time, dead > 0) ~ 1, design, se = TRUE)" in km.r_call


def test_by_group_matches_svykm_list(design):
    km0 = kaplan_meier(design, "time", "dead", by="group")
    km1 = kaplan_meier(design, "time", "dead", by="group", se=True)
    assert km1.groups["group"].tolist() == LEVELS == sorted(REF["by_se"])
    assert REF["by_se_equals_subset"] is True
    for g in LEVELS:
        _check_point(km0, REF["by_km"][g], group=g)
        _check_se(km1, REF["by_se"][g], group=g)
    assert list(km1.to_frame().columns[:2]) == ["group", "time"]


def test_domain_matches_svykm_on_subset(design):
    women = design.subset(design.data["female"] == 1)
    _check_point(kaplan_meier(women, "time", "dead"), REF["subset_km"])
    _check_se(kaplan_meier(women, "time", "dead", se=True), REF["subset_se"])


def test_post_stratified_design_matches_svykm(cohort):
    # calibration residuals enter the variance (R svykm on postStratify(des_cc, ~female, ...));
    # built on complete rows because R 4.1-1 svykm(se = TRUE) fails on a calibrated design
    # whose data have missing times (see the fixture README)
    complete = cohort.dropna(subset=["time", "dead"]).reset_index(drop=True)
    d = sh.SurveyDesign(complete, weights="w", strata="stratum", psu="psu", nest=True)
    pop = REF["poststrat_pop"]
    p = d.post_stratify("female", dict(zip(pop["female"], pop["Freq"])))
    _check_point(kaplan_meier(p, "time", "dead"), REF["poststrat_km"])
    _check_se(kaplan_meier(p, "time", "dead", se=True), REF["poststrat_se"])


def test_estimator_choice_is_explicit(design):
    # the Aalen curve without SEs is R's se=TRUE curve; the product-limit curve with SEs keeps
    # svykm's se=FALSE point estimates
    a = kaplan_meier(design, "time", "dead", estimator="aalen")
    t, s, _ = _last_of_ties(REF["taylor_se"])
    assert _rel(a.to_frame()["surv"], s) < TOL_EST
    k = kaplan_meier(design, "time", "dead", se=True, estimator="km")
    assert _rel(k.at(REF["taylor_km"]["time"])["surv"], REF["taylor_km"]["surv"]) < TOL_EST


def test_cluster_design_matches_survfit_robust(cohort):
    """One-stage cluster design (PSUs only): svykm varlog, and survival::survfit(robust = TRUE,
    cluster = psu) standard errors, which are the infinitesimal jackknife without the G/(G-1)
    factor of the design variance. survfit's std.err is of log S for the Aalen curve
    (stype = 2) and of S itself for the product-limit curve (stype = 1); this checks the
    product-limit linearisation (estimator="km", no svykm counterpart)."""
    dcl = sh.SurveyDesign(cohort, weights="w", psu="psu_id")
    _check_se(kaplan_meier(dcl, "time", "dead", se=True), REF["cluster_se"])
    G = REF["robust_G"]
    shrink = math.sqrt((G - 1) / G)
    for est, key, col in [("aalen", "robust_aalen", "se_log"), ("km", "robust_km", "se")]:
        km = kaplan_meier(dcl, "time", "dead", se=True, estimator=est)
        rr = REF[key]
        at = km.at(rr["time"])
        assert _rel(at["surv"], rr["surv"]) < TOL_EST
        assert _rel(at[col] * shrink, rr["std_err"]) < TOL_SE
        fr = km.to_frame()
        steps = np.isin(rr["time"], fr["time"])
        assert _rel(fr["n_risk"], np.asarray(rr["n_risk"])[steps]) < TOL_EST
        assert _rel(fr["n_event"], np.asarray(rr["n_event"])[steps]) < TOL_EST


# ----------------------------------------------------------------------------- replicate design
def test_replicate_point_estimates_match_svykm(rep_design):
    _check_point(kaplan_meier(rep_design, "time", "dead"), REF["rep_km"])
    women = rep_design.subset(rep_design.data["female"] == 1)
    _check_point(kaplan_meier(women, "time", "dead"), REF["rep_subset_km"])
    by = kaplan_meier(rep_design, "time", "dead", by="group")
    for g in LEVELS:
        _check_point(by, REF["rep_by_km"][g], group=g)
    # what R 4.1-1 itself does on replicate designs (documented limitation, not ours)
    assert REF["rep_se_error"] == "SE not yet available"
    assert REF["rep_by_error"] != "none"


def _check_rep_var(km, case, group=None):
    at = km.at(case["time"])
    if group is not None:
        at = at[at["group"] == group]
    assert _rel(np.log(at["surv"]), case["logsurv"]) < TOL_EST
    assert _rel(at["se_log"] ** 2, case["varlog"]) < TOL_SE


def test_replicate_variance_matches_withreplicates(rep_design):
    """Replicate variance of log S(t) against withReplicates() around survival::survfit."""
    _check_rep_var(kaplan_meier(rep_design, "time", "dead", se=True), REF["rep_aalen_var"])
    _check_rep_var(kaplan_meier(rep_design, "time", "dead", se=True, estimator="km"),
                   REF["rep_km_var"])
    women = rep_design.subset(rep_design.data["female"] == 1)
    _check_rep_var(kaplan_meier(women, "time", "dead", se=True), REF["rep_subset_aalen_var"])
    by = kaplan_meier(rep_design, "time", "dead", by="group", se=True)
    for g in LEVELS:
        _check_rep_var(by, REF["rep_by_aalen_var"][g], group=g)


# ----------------------------------------------------------------------------- hand computation
@pytest.fixture
def six():
    # times 1, 2, 2+, 3, 4+, 5 (+ = censored); every row its own PSU, equal weights
    df = pd.DataFrame({"t": [1, 2, 2, 3, 4, 5], "d": [1, 1, 0, 1, 0, 1]})
    return sh.SurveyDesign(df)


def test_hand_computed_product_limit(six):
    km = kaplan_meier(six, "t", "d")
    fr = km.to_frame()
    # event times 1, 2, 3, 5; at risk 6, 5, 3, 1; one death each
    assert fr["time"].tolist() == [1, 2, 3, 5]
    assert fr["n_risk"].tolist() == [6, 5, 3, 1]
    assert fr["n_event"].tolist() == [1, 1, 1, 1]
    expected = [5 / 6, 5 / 6 * 4 / 5, 5 / 6 * 4 / 5 * 2 / 3, 0.0]   # 0.8333, 0.6667, 0.4444, 0
    assert np.allclose(fr["surv"], expected, rtol=1e-14, atol=0)
    at = km.at([0, 0.5, 1, 2.5, 4, 5, 9])
    assert np.allclose(at["surv"], [1, 1, 5 / 6, 2 / 3, 4 / 9, 0, 0], rtol=1e-14, atol=0)
    # median: first time with S <= 0.5 is 3 (S = 4/9); S never <= 0.5 before
    assert km.quantile([0.5])["time"].tolist() == [3.0]


def test_hand_computed_aalen_and_variance(six):
    km = kaplan_meier(six, "t", "d", se=True)
    fr = km.to_frame()
    # H = 1/6, 1/6 + 1/5 = 11/30, 11/30 + 1/3 = 7/10, 7/10 + 1 = 17/10
    assert np.allclose(fr["surv"], np.exp(-np.array([1 / 6, 11 / 30, 7 / 10, 17 / 10])),
                       rtol=1e-14, atol=0)
    # at t = 1 the influence of H is 1/6 - 1/36 = 5/36 for the death and -1/36 for the five
    # others (they sum to 0), so Var = 6/5 * (25 + 5)/1296 = 1/36: se_log = 1/6
    assert fr["se_log"].iloc[0] == pytest.approx(1 / 6, rel=1e-13)
    # product-limit at t = 1: influence of log S is -(1/5 - 1/30) = -1/6 for the death and
    # +1/30 for the others: Var = 6/5 * (1/36 + 5/900) = 1/25 (Greenwood 1/30 times n/(n-1))
    k = kaplan_meier(six, "t", "d", se=True, estimator="km")
    kf = k.to_frame()
    assert kf["se_log"].iloc[0] == pytest.approx(1 / 5, rel=1e-13)
    # S reaches 0 at t = 5: log S and its variance are undefined there
    assert kf["surv"].iloc[-1] == 0 and np.isnan(kf["se_log"].iloc[-1])
    # interval on the log scale, upper limit capped at 1
    z = 1.959963984540054
    lo, hi = km.at([1])[["ci_low", "ci_high"]].iloc[0]
    assert lo == pytest.approx(math.exp(-1 / 6 - z / 6), rel=1e-12)
    assert hi == 1.0            # exp(-1/6 + z/6) > 1
    # before the first event: S = 1, SE 0, interval NA as in R's confint.svykm
    before = km.at([0.5]).iloc[0]
    assert before["surv"] == 1 and before["se"] == 0 and np.isnan(before["ci_low"])


def test_weights_enter_as_frequencies():
    # integer weights give the same curve as repeating the rows
    df = pd.DataFrame({"t": [1, 2, 2, 3, 4, 5], "d": [1, 1, 0, 1, 0, 1], "w": [2, 1, 3, 1, 1, 2]})
    long = df.loc[df.index.repeat(df["w"])].reset_index(drop=True)
    a = kaplan_meier(sh.SurveyDesign(df, weights="w"), "t", "d").to_frame()
    b = kaplan_meier(sh.SurveyDesign(long), "t", "d").to_frame()
    assert np.allclose(a["surv"], b["surv"], rtol=1e-14, atol=0)
    # hand: at risk 10, 8, 4, 2 with deaths 2, 1, 1, 2 -> 8/10, 8/10*7/8, *3/4, 0
    assert np.allclose(a["surv"], [0.8, 0.7, 0.525, 0.0], rtol=1e-14, atol=0)


# ----------------------------------------------------------------------------- bad input
@pytest.fixture
def small():
    df = pd.DataFrame({"t": [1.0, 2, 3, 4, 5, 6], "d": [1, 0, 1, 1, 0, 1],
                       "w": [1.0, 2, 1, 2, 1, 2], "g": list("aabbab")})
    return df


def test_missing_column(small):
    d = sh.SurveyDesign(small, weights="w")
    with pytest.raises(MissingColumnError, match="'tme'"):
        kaplan_meier(d, "tme", "d")
    with pytest.raises(MissingColumnError, match="'grp'"):
        kaplan_meier(d, "t", "d", by="grp")


def test_negative_times(small):
    d = sh.SurveyDesign(small.assign(t=[1.0, -2, 3, 4, 5, 6]), weights="w")
    with pytest.raises(ModelError, match="negative"):
        kaplan_meier(d, "t", "d")


def test_event_not_zero_one(small):
    d = sh.SurveyDesign(small.assign(d=[1, 0, 2, 1, 0, 1]), weights="w")
    with pytest.raises(ModelError, match="0/1"):
        kaplan_meier(d, "t", "d")
    d = sh.SurveyDesign(small.assign(d=["dead", "alive"] * 3), weights="w")
    with pytest.raises(ModelError, match="numeric"):
        kaplan_meier(d, "t", "d")


def test_all_zero_weights(small):
    # a design cannot be built with zero weights ...
    with pytest.raises(SocialHealthError):
        sh.SurveyDesign(small.assign(w=0.0), weights="w")
    # ... and a subset whose rows all lack the time leaves no weight for the curve
    d = sh.SurveyDesign(small.assign(t=[np.nan, np.nan, 3, 4, 5, 6]), weights="w")
    with pytest.raises(EstimationError, match="no rows left"):
        kaplan_meier(d.subset(d.data["g"].eq("a") & d.data["t"].isna()), "t", "d")
    with pytest.raises(EstimationError, match="zero weight"):
        kaplan_meier(d._with_weights(np.zeros(6)), "t", "d")


def test_bad_options(small):
    d = sh.SurveyDesign(small, weights="w")
    with pytest.raises(ModelError, match="estimator"):
        kaplan_meier(d, "t", "d", estimator="nelson")
    with pytest.raises(ModelError, match="level"):
        kaplan_meier(d, "t", "d", level=95)
    km = kaplan_meier(d, "t", "d", se=True)
    with pytest.raises(ModelError, match="between 0 and 1"):
        km.quantile([50])
    with pytest.raises(ModelError, match="times"):
        km.at([1, np.nan])


def test_boolean_event_with_missing_values():
    # nullable boolean event: NA rows are left out and counted, like a missing 0/1 value
    df = pd.DataFrame({"t": [1, 2, 2, 3, 4, 5, 6],
                       "d": pd.array([True, True, False, True, False, True, None], dtype="boolean")})
    km = kaplan_meier(sh.SurveyDesign(df), "t", "d")
    assert km.n_missing == 1 and km.n_rows == 6
    assert np.allclose(km.to_frame()["surv"], [5 / 6, 2 / 3, 4 / 9, 0.0], rtol=1e-14, atol=0)


def test_negative_calibrated_weights_are_refused():
    # A linear calibration makes the weights of x = 1, 2 negative (-1, -3/7); those rows
    # have events at t = 2, 1. R 4.1-1's svykm(Surv(t, ev) ~ 1, dc) then gives survival
    # 1.0536 and 1.1786 at t = 1, 2: a curve above 1. It used to drop the rows silently here.
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "t": [2.0, 1, 4, 3, 6, 5, 8, 9],
                       "ev": [1, 1, 0, 1, 1, 1, 0, 1], "w": 1.0, "psu": np.arange(8)})
    cal = sh.SurveyDesign(df, weights="w", psu="psu").calibrate(
        "~x", {"(Intercept)": 8.0, "x": 60.0})
    with pytest.raises(ModelError, match="2 row\\(s\\) have negative weights"):
        sh.models.kaplan_meier(cal, "t", "ev")
    # a subset without those rows is fine
    sub = cal.subset(cal.data["x"] > 2)
    assert sh.models.kaplan_meier(sub, "t", "ev").to_frame()["surv"].between(0, 1).all()
