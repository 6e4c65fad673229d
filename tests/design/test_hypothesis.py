"""ttest() and chisq() against R survey 4.1-1 svyttest / svychisq.

Expected values: the shared R fixture (dclus1_ttest, dclus1_chisq_F) and
tests/design/fixtures/proportion/extra_reference.json (make_extra.R).
"""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import EstimationError, FormulaError


def _fix(df):
    df = df.copy()
    if "sch.wide" in df:
        df["sch_wide"] = df["sch.wide"]
    return df


@pytest.fixture(scope="module")
def designs(r_survey, ref):
    clus1 = _fix(r_survey.data("apiclus1"))
    strat = _fix(r_survey.data("apistrat"))
    nh = r_survey.data("nhanes")
    rw = pd.DataFrame(r_survey.repweights("dclus1_jk1"), columns=[f"rw{j + 1}" for j in range(15)])
    return {
        "dclus1": sh.SurveyDesign(clus1, weights="pw", psu="dnum", fpc="fpc"),
        "dstrat": sh.SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc"),
        "dnhanes": sh.SurveyDesign(nh, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU", nest=True),
        "dclus1_jk1": sh.ReplicateDesign(pd.concat([clus1, rw], axis=1), weights="pw",
                                         replicate_weights="^rw[0-9]+$", method="jk1",
                                         scale=ref["designs"]["dclus1_jk1"]["scale"]),
    }


# ----------------------------------------------------------------------------- t-test
def test_ttest_matches_r(designs, ref):
    r = ref["results"]["dclus1_ttest"]["result"]
    f = designs["dclus1"].ttest("api00", by="sch_wide").to_frame().loc[0]
    np.testing.assert_allclose([f.estimate, f.statistic, f.p], [r["diff"], r["t"], r["p"]], rtol=1e-12)
    assert f.df == r["df"] == 13


@pytest.mark.parametrize("entry,design,formula", [
    ("dclus1_ttest_ci", "dclus1", "api00 ~ sch_wide"),
    ("dstrat_ttest", "dstrat", "api00 ~ sch_wide"),
    ("dstrat_ttest_awards", "dstrat", "enroll ~ awards"),
    ("dclus1_jk1_ttest", "dclus1_jk1", "api00 ~ sch_wide"),
])
def test_ttest_formula_and_ci(designs, extra, entry, design, formula):
    r = extra[entry]["result"]
    res = designs[design].ttest(formula)
    f = res.to_frame().loc[0]
    np.testing.assert_allclose([f.estimate, f.statistic, f.p, f.ci_low, f.ci_high],
                               [r["estimate"], r["stat"], r["p"], r["ci_l"], r["ci_u"]], rtol=1e-12)
    assert f.df == r["df"]
    assert res.p == f.p                      # columns as attributes
    assert "In R: svyttest" in repr(res)


def test_ttest_equals_domain_mean_difference(designs):
    d = designs["dclus1"]
    m = d.mean("api00", by="sch_wide")
    f = d.ttest("api00 ~ sch_wide").to_frame().loc[0]
    assert f.estimate == pytest.approx(m.estimate.iloc[1] - m.estimate.iloc[0], rel=1e-13)


def test_ttest_bad_input(designs):
    d = designs["dclus1"]
    with pytest.raises(EstimationError, match="exactly 2 levels.*'stype' has 3: 'E', 'H', 'M'"):
        d.ttest("api00", by="stype")
    with pytest.raises(FormulaError, match="one-sample"):     # ttest("api00") is one-sample
        d.ttest("api00", by="sch_wide", mu=600)
    with pytest.raises(FormulaError, match="I\\(x - y\\)"):
        d.ttest("I(log(api00)) ~ 0")
    with pytest.raises(FormulaError, match="single grouping"):
        d.ttest("api00 ~ stype + awards")
    with pytest.raises(EstimationError, match="numeric"):
        d.ttest("stype ~ awards")


# ----------------------------------------------------------------------------- chi-square
def test_chisq_F_matches_r(designs, ref):
    r = ref["results"]["dclus1_chisq_F"]["result"]
    f = designs["dclus1"].chisq("sch_wide", "stype").to_frame().loc[0]
    np.testing.assert_allclose([f.statistic, f.ndf, f.ddf, f.p], [r["stat"], r["ndf"], r["ddf"], r["p"]], rtol=1e-10)


@pytest.mark.parametrize("entry,design,row,col,statistic", [
    ("dclus1_chisq_Chisq", "dclus1", "sch_wide", "stype", "Chisq"),
    ("dclus1_chisq_Wald", "dclus1", "sch_wide", "stype", "Wald"),
    ("dclus1_chisq_adjWald", "dclus1", "sch_wide", "stype", "adjWald"),
    ("dstrat_chisq_F", "dstrat", "stype", "awards", "F"),
    ("dstrat_chisq_Chisq", "dstrat", "stype", "awards", "Chisq"),
    ("dstrat_chisq_Wald", "dstrat", "stype", "awards", "Wald"),
    ("dstrat_chisq_adjWald", "dstrat", "stype", "awards", "adjWald"),
    ("dnhanes_chisq_F", "dnhanes", "agecat", "HI_CHOL", "F"),
    ("dnhanes_chisq_Chisq", "dnhanes", "agecat", "HI_CHOL", "Chisq"),
    ("dclus1_jk1_chisq_F", "dclus1_jk1", "sch_wide", "stype", "F"),
])
def test_chisq_statistics(designs, extra, entry, design, row, col, statistic):
    r = extra[entry]["result"]
    f = designs[design].chisq(row, col, statistic=statistic).to_frame().loc[0]
    np.testing.assert_allclose([f.statistic, f.ndf, f.p], [r["stat"], r["ndf"], r["p"]], rtol=1e-10)
    if r.get("ddf") is None:
        assert np.isnan(f.ddf)
    else:
        np.testing.assert_allclose(f.ddf, r["ddf"], rtol=1e-10)


def test_chisq_pearson_by_hand(designs):
    # X^2 = n sum (p_ij - p_i. p_.j)^2 / (p_i. p_.j) from the weighted cell proportions
    d = designs["dclus1"]
    tab = pd.crosstab(d.data.sch_wide, d.data.stype, values=d.weights, aggfunc="sum")
    P = (tab / tab.to_numpy().sum()).to_numpy()
    E = np.outer(P.sum(1), P.sum(0))
    X2 = len(d.data) * np.sum((P - E) ** 2 / E)
    res = d.chisq("sch_wide", "stype", statistic="Chisq")
    assert res.statistic == pytest.approx(X2, rel=1e-12)
    assert "Rao & Scott" in repr(res)


def test_chisq_bad_input(designs):
    d = designs["dclus1"]
    with pytest.raises(EstimationError, match="statistic='lincomb'"):
        d.chisq("sch_wide", "stype", statistic="lincomb")
    with pytest.raises(EstimationError, match="at least 2 levels"):
        d.subset(d.data.stype == "E").chisq("sch_wide", "stype")
