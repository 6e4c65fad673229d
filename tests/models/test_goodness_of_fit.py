"""sh.models.goodness_of_fit: the Archer-Lemeshow test of a survey logistic regression.

References from R survey 4.1-1 (fixtures/goodness_of_fit/make_goodness_of_fit.R): the
residuals by quantile group of the fitted probabilities, svyglm(r ~ g) and regTermTest(~g),
and svyby(~r, ~g, svymean) for the per-group table; models fitted to a tight tolerance in R.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import ModelError, SocialHealthWarning

REF = json.loads((Path(__file__).parent / "fixtures" / "goodness_of_fit"
                  / "goodness_of_fit_reference.json").read_text())
FORMULA = "yes ~ api99 + ell + meals"


def _designs():
    api = sh.datasets.load_example("apistrat")
    api["yes"] = (api["sch.wide"] == "Yes").astype(float)
    clus2 = sh.datasets.load_example("apiclus2")
    clus2["yes"] = (clus2["sch.wide"] == "Yes").astype(float)
    strat = sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")
    return strat, sh.SurveyDesign(clus2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])


STRAT, CLUS2 = _designs()
CASES = {
    "strat_logit": (lambda: STRAT, FORMULA, "logit", 10),
    "strat_probit": (lambda: STRAT, FORMULA, "probit", 10),
    "strat_groups5": (lambda: STRAT, FORMULA, "logit", 5),
    "clus2_missing": (lambda: CLUS2, "yes ~ api99 + enroll", "logit", 10),
    "strat_subset": (lambda: STRAT.subset(STRAT.data["stype"] != "E"), "yes ~ api99 + meals",
                     "logit", 8),
    "strat_jkn": (lambda: STRAT.to_replicate("jkn"), FORMULA, "logit", 10),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_r_survey(case):
    make, formula, link, groups = CASES[case]
    ref = REF[case]
    m = make().glm(formula, family="binomial", link=link, tol=1e-12)
    gof = sh.models.goodness_of_fit(m, groups=groups)
    np.testing.assert_allclose(gof.statistic, ref["F"], rtol=1e-10)
    np.testing.assert_allclose(gof.p, ref["p"], rtol=1e-9)
    assert (gof.df, gof.ddf, gof.nobs) == (ref["df"], ref["ddf"], ref["nobs"])
    np.testing.assert_allclose(gof.chisq, ref["F"] * ref["df"], rtol=1e-10)
    t = gof.to_frame()
    assert list(t["group"]) == list(range(1, groups + 1))
    assert list(t["n"]) == ref["group_n"]
    np.testing.assert_allclose(t["mean_residual"], ref["mean_residual"], rtol=1e-9, atol=1e-13)
    np.testing.assert_allclose(t["se"], ref["se"], rtol=1e-9)
    # the groups are R's quantile intervals (cut_{k-1}, cut_k]
    cuts = np.asarray(ref["breaks"])
    assert (t["fitted_high"].to_numpy()[:-1] <= cuts + 1e-12).all()
    assert (t["fitted_low"].to_numpy()[1:] > cuts - 1e-12).all()
    # the weighted mean residual is the observed minus the expected proportion
    np.testing.assert_allclose(t["observed"] - t["expected"], t["mean_residual"], atol=1e-12)


def test_tied_fitted_probabilities_use_the_groups_that_have_rows_and_warn():
    # two categorical predictors: six distinct fitted probabilities, so deciles share cuts
    design = STRAT.assign(poorer=STRAT.data["meals"] > 50)
    m = design.glm("yes ~ C(stype) + poorer", family="binomial")
    with pytest.warns(SocialHealthWarning, match=r"only \d of the 10 groups have rows"):
        gof = sh.models.goodness_of_fit(m)
    t = gof.to_frame()
    assert 2 <= gof.groups == len(t) < 10 and t["n"].sum() == 200
    # the same groups by pandas' cut of R's quantile intervals, then the Wald test directly
    fitted = m.predict(type="response")
    cuts = np.quantile(fitted, np.arange(1, 10) / 10)
    cell = pd.cut(fitted, np.r_[-np.inf, np.unique(cuts), np.inf], right=True,
                  labels=False).astype(int)
    assert sorted(cell.value_counts().to_numpy()) == sorted(t["n"])
    d = design.assign(res=design.data["yes"] - fitted, cell=pd.Categorical(cell.astype(str)))
    direct = d.glm("res ~ C(cell)").wald_test("C(cell)")
    assert direct.statistic > 1e-3            # a model that is not saturated: a real test
    np.testing.assert_allclose([gof.statistic, gof.df, gof.ddf],
                               [direct.statistic, direct.df, direct.ddf], rtol=1e-10)


@pytest.mark.parametrize("groups", [1, 0, True, 2.5, "10", None])
def test_groups_must_be_a_whole_number_of_at_least_two(groups):
    m = STRAT.glm(FORMULA, family="binomial")
    with pytest.raises(ModelError, match="groups= must be a whole number of at least 2"):
        sh.models.goodness_of_fit(m, groups=groups)


def test_other_families_and_too_few_design_df_are_refused():
    with pytest.raises(ModelError, match="logistic .binomial. model.*'gaussian'"):
        sh.models.goodness_of_fit(STRAT.glm("api00 ~ api99"))
    with pytest.raises(ModelError, match="takes a model from design.glm"):
        sh.models.goodness_of_fit(STRAT.mean("api00"))
    apiclus1 = sh.datasets.load_example("apiclus1")
    apiclus1["yes"] = apiclus1["sch.wide"] == "Yes"
    clus1 = sh.SurveyDesign(apiclus1, weights="pw", psu="dnum", fpc="fpc")
    assert clus1.degf() == 14
    m = clus1.glm("yes ~ api99 + meals", family="binomial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SocialHealthWarning)
        with pytest.raises(ModelError, match=r"14 degrees of freedom.*groups="):
            sh.models.goodness_of_fit(m, groups=15)
        with pytest.raises(ModelError, match="more than the 119 rows"):
            sh.models.goodness_of_fit(m, groups=500)
