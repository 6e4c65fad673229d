"""Issue 7 acceptance: an association table on the real GSS 2020 panel wave equals
``SurveyDesign.glm`` on the same model; its odds ratios are exp(coef) with intervals built on
the log scale from t with the design-based residual df.

Exposure: feeling isolated from others often or very often (``lonely2_2`` >= 4, harmonised as
``ucla3_isolated == 3``); outcome: fair/poor health; adjustment: age and sex. Skips when the
real file is absent (it is never committed). R's numbers for the same models (svyglm,
quasibinomial) are in fixtures/association/gss2020_reference.json (make_gss2020.R).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth import models


R2020 = json.loads((Path(__file__).parent / "fixtures" / "association" / "gss2020_reference.json").read_text())


@pytest.fixture(scope="module")
def design2020(shared_data_dir):
    path = shared_data_dir / "gss" / "gss_panel20_extract.dta"
    if not path.exists():
        pytest.skip("GSS 2016-2020 panel extract not available")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sd = sh.datasets.load("gss_panel20", path=path, wave=2020)
    iso = sd.data["ucla3_isolated"]
    return sd.design.assign(isolated=(iso == 3).astype("float").where(iso.notna()))


def test_association_table_equals_glm_on_gss_2020(design2020):
    d = design2020
    table = models.association(d, exposure="isolated", outcome="poor_health",
                               adjust=[["age", "sex"]], measure="or").to_frame()
    assert list(table["estimate"].index) == [0, 1] and len(table) == 2
    # same rows in both models (complete cases over every model's variables)
    complete = d.data[["isolated", "poor_health", "age", "sex"]].notna().all(axis=1)
    dc = d.subset(complete)
    for row, formula in zip(table.itertuples(), ["poor_health ~ isolated",
                                                 "poor_health ~ isolated + age + sex"]):
        m = dc.glm(formula, family="binomial")
        b, se, df = m.params["isolated"], m.bse["isolated"], m.df_resid
        q = stats.t.ppf(0.975, df)
        np.testing.assert_allclose(row.estimate, np.exp(b), rtol=1e-12)
        np.testing.assert_allclose([row.ci_low, row.ci_high], np.exp([b - q * se, b + q * se]), rtol=1e-12)
        np.testing.assert_allclose(row.p, m.pvalues["isolated"], rtol=1e-10)
        assert row.n == m.nobs == int((complete & d.in_subset).sum())
        # R: df.residual = degf(subset design) + 1 - p, the subset being the complete cases
        assert row.df == df == dc.degf() + 1 - len(m.params)
    # the design is the 2020 wave's: 143 strata, 283 PSUs (df 140), lonely PSUs adjusted;
    # the complete cases leave fewer PSUs, hence a smaller residual df
    assert d.degf() == 140 and d.lonely_psu == "adjust" and dc.degf() < 140
    # isolation is associated with worse health in this wave (a substantive sanity check)
    assert table["estimate"].iloc[0] > 1


def test_association_table_equals_r_svyglm_on_gss_2020(design2020):
    """The same two models in R survey 4.1-1 (make_gss2020.R, svyglm quasibinomial with
    epsilon 1e-13): odds ratios, t intervals, p-values, n and residual df."""
    d = design2020
    table = models.association(d, exposure="isolated", outcome="poor_health",
                               adjust=[["age", "sex"]], measure="or").to_frame()
    assert len(table) == len(R2020["results"]) == 2
    for row, r in zip(table.itertuples(), R2020["results"]):
        assert row.estimate == pytest.approx(r["estimate"], rel=1e-9)
        assert row.se == pytest.approx(r["se"], rel=1e-8)
        assert row.ci_low == pytest.approx(r["ci_low"], rel=1e-9)
        assert row.ci_high == pytest.approx(r["ci_high"], rel=1e-9)
        assert row.p == pytest.approx(r["p"], rel=1e-7)
        assert row.n == r["n"] and row.df == r["df"]
    assert d.degf() == R2020["degf_design"]
