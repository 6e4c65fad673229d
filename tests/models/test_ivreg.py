"""models.ivreg: design-based two-stage least squares against R survey 4.1-1 ``svyivreg``.

The reference (fixtures/ivreg/make_ivreg.R -> ivreg_reference.json) was computed by R on the
synthetic api-like example tables. For Taylor designs R's ``fit$cov.unscaled`` is the design
covariance (R's ``vcov()`` multiplies it by ``sigma^2``; recorded and checked below); for
replicate designs R's ``vcov()``.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import socialhealth as sh
from socialhealth.errors import FormulaError, MissingColumnError, ModelError

REF = json.loads((Path(__file__).parent / "fixtures" / "ivreg" / "ivreg_reference.json")
                 .read_text())
F1 = "api00 ~ ell + meals | mobility + meals + api99"
F2 = "api00 ~ ell + C(stype) | mobility + C(stype) + growth"


@pytest.fixture(scope="module")
def designs():
    strat = sh.datasets.load_example("apistrat")
    clus1 = sh.datasets.load_example("apiclus1")
    clus2 = sh.datasets.load_example("apiclus2")
    dstrat = sh.SurveyDesign(strat, strata="stype", weights="pw", fpc="fpc")
    dclus1 = sh.SurveyDesign(clus1, psu="dnum", weights="pw", fpc="fpc")
    return {
        "clus1": (dclus1, F1),
        "strat_factor": (dstrat, F2),
        "strat_domain_E": (dstrat.subset(dstrat.data["stype"] == "E"),
                           "api00 ~ ell + meals | mobility + meals"),
        "clus1_jk1": (dclus1.to_replicate("jk1"), F1),
        "strat_jkn": (dstrat.to_replicate("jkn"), F2),
        "clus1_missing_avg_ed": (dclus1, "api00 ~ ell + meals | mobility + meals + `avg.ed`"),
        "clus2": (sh.SurveyDesign(clus2, psu=["dnum", "snum"], weights="pw"), F1),
    }


@pytest.mark.parametrize("case", list(REF))
def test_coefficients_covariance_and_df_match_r(designs, case):
    design, formula = designs[case]
    fit = sh.models.ivreg(design, formula)
    ref = REF[case]
    np.testing.assert_allclose(fit.params.to_numpy(), ref["coef"], rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(fit.vcov.to_numpy(), np.array(ref["cov"]), rtol=1e-8,
                               atol=1e-8 * np.max(np.abs(ref["cov"])))
    assert fit.df_resid == ref["df"]
    if "nobs" in ref:
        assert fit.nobs == ref["nobs"]
    tab = fit.to_frame()
    assert list(tab.columns) == ["term", "estimate", "se", "ci_low", "ci_high", "df",
                                 "statistic", "p"]
    assert len(tab) == len(ref["coef"])


def test_r_vcov_of_a_taylor_fit_is_the_design_covariance_times_sigma_squared():
    """Documents R 4.1-1: vcov(svyivreg) = sigma^2 * cov.unscaled (AER's vcov.ivreg), which is
    why socialhealth is compared with cov.unscaled."""
    for case in ("clus1", "strat_factor", "clus2"):
        ref = REF[case]
        np.testing.assert_allclose(np.array(ref["r_vcov"]),
                                   ref["sigma"] ** 2 * np.array(ref["cov"]), rtol=1e-10)
        assert ref["sigma"] ** 2 > 1.5          # so the two really differ in these cases


def test_first_stage_f_and_r_squared_match_svyglm_and_lm(designs):
    design, formula = designs["clus1"]
    fs = sh.models.ivreg(design, formula).first_stage
    ref = REF["clus1"]["first"]
    row = fs.set_index("endogenous").loc["ell"]
    assert row["f"] == pytest.approx(ref["f"][0][0], rel=1e-8)
    assert row["p"] == pytest.approx(ref["p"][0][0], rel=1e-8)
    assert (row["df_num"], row["df_den"]) == (ref["df_num"], ref["df_den"])
    assert row["r_squared"] == pytest.approx(ref["r_squared"], rel=1e-10)


def test_missing_values_are_counted_and_left_out(designs):
    design, formula = designs["clus1_missing_avg_ed"]
    fit = sh.models.ivreg(design, formula)
    n_missing = int(design.data["avg.ed"].isna().sum())
    assert n_missing > 0 and fit.n_missing == n_missing
    assert fit.nobs == len(design.data) - n_missing
    assert f"{n_missing} left out (missing values)" in str(fit.summary())


def test_just_identified_equals_the_ratio_of_weighted_covariances(designs):
    """One endogenous regressor, one instrument, intercept: beta = cov_w(z, y) / cov_w(z, x)
    (the Wald / IV ratio), computed here without the package's estimator."""
    design, _ = designs["clus1"]
    d = design.data
    w = d["pw"].to_numpy()
    x, z, y = (d[c].to_numpy(float) for c in ("ell", "mobility", "api00"))

    def cov(a, b):
        return np.sum(w * (a - np.average(a, weights=w)) * (b - np.average(b, weights=w)))

    fit = sh.models.ivreg(design, "api00 ~ ell | mobility")
    assert fit.params["ell"] == pytest.approx(cov(z, y) / cov(z, x), rel=1e-10)


def test_exogenous_only_equals_weighted_least_squares(designs):
    """When every regressor is its own instrument, 2SLS is the survey-weighted linear model:
    the same coefficients and design covariance as design.glm."""
    design, _ = designs["clus1"]
    iv = sh.models.ivreg(design, "api00 ~ ell + meals | ell + meals")
    lm = design.glm("api00 ~ ell + meals")
    np.testing.assert_allclose(iv.params.to_numpy(), lm.params.to_numpy(), rtol=1e-10)
    np.testing.assert_allclose(iv.vcov.to_numpy(), lm.cov_params().to_numpy(), rtol=1e-8)
    assert iv.endogenous == [] and iv.first_stage.empty


def test_result_protocol_and_calls(designs):
    design, formula = designs["strat_factor"]
    fit = sh.models.ivreg(design, formula)
    ci90 = fit.confint(level=0.9)
    assert (ci90["ci_high"] - ci90["ci_low"] < fit.confint()["ci_high"]
            - fit.confint()["ci_low"]).all()
    assert fit.endogenous == ["ell"]
    assert fit.stata_call == "svy: ivregress 2sls api00 i.stype (ell = mobility growth)"
    assert fit.r_call.startswith("svyivreg(api00 ~ ell + factor(stype) | mobility + "
                                 "factor(stype) + growth, design)")
    html = fit._repr_html_()
    assert "<table" in html and "ell" in html


@pytest.mark.parametrize("formula,error,words", [
    ("api00 ~ ell + meals", FormulaError, "'|'"),
    ("api00 ~ ell | meals | mobility", FormulaError, "exactly one '|'"),
    ("api00 ~ ell + meals | mobility", ModelError, "not identified"),
    ("api00 ~ ell + meals | meals + nothere", FormulaError, "nothere"),
    ("api00 ~ ell | mobility + mobility2", ModelError, "collinear"),
    ("nothere ~ ell | mobility", MissingColumnError, "nothere"),
])
def test_bad_formulas_say_what_to_do(designs, formula, error, words):
    design, _ = designs["clus1"]
    design = design.assign(mobility2=2 * design.data["mobility"])
    with pytest.raises(error) as info:
        sh.models.ivreg(design, formula)
    assert words in str(info.value)


def test_an_instrument_unrelated_to_the_regressor_is_refused(designs):
    design, _ = designs["clus1"]
    # a constant instrument duplicates the intercept, so it cannot identify ell
    d2 = design.assign(const_z=np.ones(len(design.data)))
    with pytest.raises(ModelError, match="collinear"):
        sh.models.ivreg(d2, "api00 ~ ell | const_z")
