"""quantile() against R survey 4.1-1 svyquantile (qrule = "math", interval.type = "mean").

Expected values: the shared R fixture (dclus1_quantile_api00) and
tests/design/fixtures/proportion/extra_reference.json (make_extra.R), plus hand computations.
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import EstimationError


@pytest.fixture(scope="module")
def designs(r_survey, ref):
    clus1 = r_survey.data("apiclus1")
    strat = r_survey.data("apistrat")
    rw = pd.DataFrame(r_survey.repweights("dclus1_jk1"), columns=[f"rw{j + 1}" for j in range(15)])
    return {
        "dclus1": sh.SurveyDesign(clus1, weights="pw", psu="dnum", fpc="fpc"),
        "dstrat": sh.SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc"),
        "dclus1_jk1": sh.ReplicateDesign(pd.concat([clus1, rw], axis=1), weights="pw",
                                         replicate_weights="^rw[0-9]+$", method="jk1",
                                         scale=ref["designs"]["dclus1_jk1"]["scale"]),
    }


def _check(f, r):
    np.testing.assert_array_equal(f.estimate, r["est"])
    np.testing.assert_array_equal(f.ci_low, np.array(r["ci_l"], dtype=float))
    np.testing.assert_array_equal(f.ci_high, np.array(r["ci_u"], dtype=float))
    np.testing.assert_allclose(f.se, np.array(r["se"], dtype=float), rtol=1e-12)


def test_quantile_matches_r(designs, ref):
    r = ref["results"]["dclus1_quantile_api00"]["result"]
    f = designs["dclus1"].quantile("api00", [0.25, 0.5, 0.75]).to_frame()
    assert list(f["quantile"]) == r["quantiles"]
    assert (f.df == 14).all()
    _check(f, r)


def test_quantile_replicate_design(designs, extra):
    f = designs["dclus1_jk1"].quantile("api00", [0.25, 0.5, 0.75]).to_frame()
    _check(f, extra["dclus1_jk1_quantile_api00"]["result"])


def test_quantile_two_variables_stratified(designs, extra):
    r = extra["dstrat_quantile_api00_enroll"]["result"]
    f = designs["dstrat"].quantile(["api00", "enroll"], [0.1, 0.5, 0.9]).to_frame()
    _check(f[f.term == "api00"], r["api00"])
    _check(f[f.term == "enroll"], r["enroll"])


def test_quantile_by_domain(designs, extra):
    t = pd.DataFrame(extra["dclus1_by_stype_quantile_api00"]["result"]["table"])
    f = designs["dclus1"].quantile("api00", [0.25, 0.5], by="stype").to_frame()
    for q in ("0.25", "0.5"):
        g = f[f["quantile"] == float(q)].reset_index(drop=True)
        np.testing.assert_array_equal(g.estimate, t[f"api00.{q}"])
        # a Woodruff limit below 0 is NA in R, NaN here (stype H and M, 25th percentile)
        np.testing.assert_array_equal(g.ci_low, t[f"ci_l.api00.{q}"].astype(float))
        np.testing.assert_array_equal(g.ci_high, t[f"ci_u.api00.{q}"].astype(float))
        np.testing.assert_allclose(g.se, t[f"se.api00.{q}"].astype(float), rtol=1e-12)
    data = designs["dclus1"].data
    assert list(f.df[f["quantile"] == 0.5]) == [float(data.loc[data.stype == s, "dnum"].nunique() - 1)
                                                for s in ("E", "H", "M")]


def test_math_rule_by_hand():
    # equal weights, values 10..50: F = 0.2, 0.4, ..., 1. Smallest x with F(x) >= p; R 4.1
    # returns the second value for p below F(x_(1)) = 0.2 (checked in R: svyquantile(~x, d, p))
    df = pd.DataFrame({"x": [30.0, 10, 50, 20, 40], "w": 1.0})
    d = sh.SurveyDesign(df, weights="w")
    ps = [0.001, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 0.9, 1.0]
    f = d.quantile("x", ps, ci=False).to_frame()
    assert list(f.estimate) == [20, 20, 10, 20, 20, 30, 30, 40, 50, 50]
    assert f.ci_low.isna().all()


def test_weighted_rule_by_hand():
    # weights 1,2,1,1,3 on 10,20,20,40,50 (total 8): F(10)=.125, F(20)=.5, F(40)=.625, F(50)=1
    df = pd.DataFrame({"x": [10.0, 20, 20, 40, 50], "w": [1.0, 2, 1, 1, 3]})
    d = sh.SurveyDesign(df, weights="w")
    f = d.quantile("x", [0.125, 0.3, 0.5, 0.55, 0.63], ci=False).to_frame()
    assert list(f.estimate) == [10, 20, 20, 40, 50]


def test_woodruff_by_hand(designs):
    # interval = inverse CDF at F(q) +- t * SE(mean of I(y <= q)); se = width / (2 t)
    from scipy import stats
    d = designs["dclus1"]
    y = np.sort(d.data.api00.to_numpy())            # equal weights in dclus1
    cdf = np.arange(1, len(y) + 1) / len(y)
    med = y[np.argmax(cdf >= 0.5)]                  # qrule 'math': smallest y with F(y) >= 0.5
    u = d.assign(u=(d.data.api00 <= med).astype(float)).mean("u")
    F, s = u.estimate.iloc[0], u.se.iloc[0]
    t = stats.t.ppf(0.975, 14)
    lo, hi = y[np.argmax(cdf >= F - t * s)], y[np.argmax(cdf >= F + t * s)]
    f = d.quantile("api00", 0.5).to_frame().loc[0]
    assert (f.ci_low, f.ci_high) == (lo, hi)
    assert f.se == pytest.approx((hi - lo) / (2 * t), rel=1e-14)


def test_other_level(designs):
    d = designs["dclus1"]
    a = d.quantile("api00", 0.5, level=0.9).to_frame()
    b = d.quantile("api00", 0.5).to_frame(level=0.9)
    assert (a.ci_low[0], a.ci_high[0]) == (b.ci_low[0], b.ci_high[0])
    assert a.ci_high[0] - a.ci_low[0] <= d.quantile("api00", 0.5).to_frame().eval("ci_high - ci_low")[0]


def test_bad_input(designs):
    d = designs["dclus1"]
    with pytest.raises(EstimationError, match="qrule"):
        d.quantile("api00", 0.5, qrule="shahvaish")
    with pytest.raises(EstimationError, match="interval_type"):
        d.quantile("api00", 0.5, interval_type="wald")
    with pytest.raises(EstimationError, match="probabilities"):
        d.quantile("api00", 50)
    with pytest.raises(EstimationError, match="numeric"):
        d.quantile("stype", 0.5)
    with pytest.raises(EstimationError, match="no non-missing"):
        d.assign(z=np.nan).quantile("z", 0.5)
