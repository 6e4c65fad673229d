"""design.quantile(interval_type="score"): Francisco & Fuller's (1991) test-inversion interval,
against R survey 4.1-1 ``svyquantile(..., interval.type = "score")``.

Expected values: fixtures/quantile_score/quantile_score_reference.json, written by
make_quantile_score.R (same folder) from the package's example data apistrat and apiclus1 and a
seeded simulated stratified cluster sample (stored in the JSON, with unequal weights, ties,
missing values and a domain g). Every qrule (math, school, hf1-hf9) at p = 0.05 ... 0.95,
alpha = 0.1, df = Inf, and by-domain (svyby) estimates, SEs and limits, at 1e-8 relative.
R's endpoints come from uniroot (Brent's method) run to tolerance 1 / (100 sqrt(n)) on the data
scale, then mapped through the share of rows below the root, so they are data values (or
interpolations) that the implementation reproduces exactly, not to the root-finding tolerance.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.quantile import _brent_zero
from socialhealth.errors import EstimationError

HERE = Path(__file__).parent / "fixtures" / "quantile_score"
REF = json.loads((HERE / "quantile_score_reference.json").read_text())
TOL = 1e-8


def _designs():
    strat = sh.datasets.load_example("apistrat")
    clus1 = sh.datasets.load_example("apiclus1")
    sim = pd.DataFrame(REF["sim"])
    sim["y"] = pd.to_numeric(sim["y"]).astype(float)
    return {"dstrat": sh.SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc"),
            "dclus1": sh.SurveyDesign(clus1, weights="pw", psu="dnum", fpc="fpc"),
            "dsim": sh.SurveyDesign(sim, weights="w", strata="st", psu="psu", nest=True)}


DESIGNS = _designs()


def _arr(v):
    return np.array([np.nan if x is None else x for x in v], dtype=float)


@pytest.mark.parametrize("key", sorted(REF["cases"]))
def test_score_interval_matches_r(key):
    ref = REF["cases"][key]
    assert "error" not in ref
    df = None if ref["df"] is None else float(ref["df"])
    f = DESIGNS[ref["design"]].quantile(ref["var"], ref["probs"], level=ref["level"],
                                        interval_type="score", qrule=ref["qrule"],
                                        df=df).to_frame()
    for col in ("estimate", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(f[col].to_numpy(dtype=float), _arr(ref[col]), rtol=TOL,
                                   atol=1e-12, err_msg=col)


@pytest.mark.parametrize("key", sorted(REF["by"]))
def test_score_by_domain_matches_r(key):
    ref = REF["by"][key]
    f = DESIGNS[ref["design"]].quantile(ref["var"], [0.25, 0.5, 0.75], interval_type="score",
                                        qrule=ref["qrule"], by=ref["by"]).to_frame()
    f = f.sort_values(["quantile", ref["by"]], kind="stable").reset_index(drop=True)
    assert [str(g) for g in f[ref["by"]]] == ref["groups"]
    np.testing.assert_allclose(f["quantile"], ref["probs"])
    for col in ("estimate", "se", "ci_low", "ci_high"):
        np.testing.assert_allclose(f[col].to_numpy(dtype=float), _arr(ref[col]), rtol=TOL,
                                   err_msg=col)


def test_score_refused_on_replicate_designs_as_r():
    assert "should be one of" in REF["replicate_error"]          # R has no "score" there
    rep = DESIGNS["dclus1"].to_replicate("jk1")
    with pytest.raises(EstimationError, match="Taylor design"):
        rep.quantile("api00", 0.5, interval_type="score")


def test_score_test_without_sign_change_raises():
    # 10 equal-weight rows: the 1% quantile's score statistic is below -t on the whole search
    # range (R stops with uniroot's "f() values at end points not of opposite sign")
    d = sh.SurveyDesign(pd.DataFrame({"y": np.arange(1.0, 11.0), "w": 1.0}), weights="w")
    with pytest.raises(EstimationError, match="does not change sign"):
        d.quantile("y", 0.01, interval_type="score")


def test_score_hand_computed_srs():
    """y = 1..10, equal weights, one row per PSU: F(theta) = k/10 (k rows <= theta) with
    se(F) = sqrt(F (1 - F) / (n - 1)) (with-replacement SRS), so z_k = (k/10 - 1/2) / se:
    z_1 = -4, z_2 = -2.25, z_8 = 2.25, z_9 = 4, and t = qt(0.975, 9) = 2.262. The statistic
    crosses -t at theta = 2 and +t at theta = 9; the root finder stops on the side of each jump
    with the smaller |z -+ t| (theta just above 2, just below 9), whose unweighted shares
    0.2 and 0.8 map through the "math" rule to 2 and 8 (R: [2000, 8000] for y = 1000 * (1..10))."""
    from scipy import stats
    t = stats.t.ppf(0.975, 9)
    k = np.array([1, 2, 8, 9])
    F = k / 10
    z = (F - 0.5) / np.sqrt(F * (1 - F) / 9)
    np.testing.assert_allclose(z, [-4, -2.25, 2.25, 4])
    assert abs(-t - z[1]) < abs(-t - z[0]) and abs(t - z[2]) < abs(t - z[3])
    d = sh.SurveyDesign(pd.DataFrame({"y": np.arange(1.0, 11.0), "w": 1.0}), weights="w")
    f = d.quantile("y", 0.5, interval_type="score").to_frame()
    assert (f.ci_low[0], f.ci_high[0]) == (2.0, 8.0)
    assert f.se[0] == pytest.approx((8 - 2) / (2 * t), rel=1e-12)


def test_brent_zero_hand():
    f = lambda x: x * x - 2                                        # noqa: E731
    r = _brent_zero(f, 0.0, 2.0, f(0.0), f(2.0), 1e-10)
    assert abs(r - np.sqrt(2)) < 1e-9


TIES = json.loads((HERE / "quantile_ties_reference.json").read_text())["cases"]


# R's hf3 in stratum E (equal weights, tied api00 values) picks the next value at p = 0.35 and
# 0.70 where socialhealth's distinct-value "nearest even" rule keeps 615 and 692: a known,
# pre-existing hf3 difference (also before _r_position), not one of arithmetic
_HF3_KNOWN = {"E|api00|hf3"}


@pytest.mark.parametrize("key", [pytest.param(k, marks=pytest.mark.xfail(
    strict=True, reason="R's hf3 rule with tied values differs (see _HF3_KNOWN)"))
    if k in _HF3_KNOWN else k for k in sorted(TIES)])
def test_step_rules_at_exact_ties_match_r(key):
    """math / school / hf3 at every p = k/n, where F(x_k) = p up to an ulp: R counts the rows
    with C_k <= p C_n but calls the tie exact only when p - C_k / C_n == 0 (_r_position).
    Expected values from make_quantile_ties.R (exact equality)."""
    where, var, qrule = key.split("|")
    if where == "equal":
        n = 50
        d = sh.SurveyDesign(pd.DataFrame({"x": np.arange(1.0, 51.0), "w": float(var)}),
                            weights="w")
        var = "x"
    else:
        df = sh.datasets.load_example("apistrat")
        if where != "all":
            df = df[df["stype"] == where].reset_index(drop=True)
        n = len(df)
        d = sh.SurveyDesign(df, weights="pw")
    probs = list(np.arange(1, n) / n)
    got = d.quantile(var, probs, ci=False, qrule=qrule).to_frame()["estimate"].to_numpy()
    np.testing.assert_array_equal(got, np.array(TIES[key], dtype=float))
