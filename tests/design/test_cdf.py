"""design.cdf (R ``svycdf``) against R survey 4.1-1.

Expected values: fixtures/cdf/cdf_reference.json, written by make_cdf.R (same folder) from the
synthetic example tables of sh.datasets.load_example: the knots and heights of R's step
function, and ``svymean(~I(y <= v), design)`` for the standard errors.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import socialhealth as sh
from socialhealth.errors import EstimationError

REF = json.loads((Path(__file__).parent / "fixtures" / "cdf" / "cdf_reference.json").read_text())


def _designs():
    strat = sh.SurveyDesign(sh.datasets.load_example("apistrat"), weights="pw", strata="stype",
                            fpc="fpc")
    clus1 = sh.SurveyDesign(sh.datasets.load_example("apiclus1"), weights="pw", psu="dnum",
                            fpc="fpc")
    return {"strat": strat, "clus1": clus1, "jk1": clus1.to_replicate("jk1"),
            "strat_subset": strat.subset(strat.data["stype"] == "E")}


D = _designs()
CASES = {"strat_api00": ("strat", "api00"), "strat_avg_ed": ("strat", "avg.ed"),
         "strat_subset_E": ("strat_subset", "api00"), "jk1_api00": ("jk1", "api00"),
         "clus1_enroll": ("clus1", "enroll")}


@pytest.mark.parametrize("case", list(CASES))
def test_step_function_equals_svycdf(case):
    design, var = CASES[case]
    got = D[design].cdf(var).to_frame()
    ref = REF[case]
    np.testing.assert_array_equal(got["level"], ref["knots"])
    np.testing.assert_allclose(got["estimate"], ref["heights"], rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", list(CASES))
def test_standard_errors_equal_svymean_of_the_indicator(case):
    design, var = CASES[case]
    pts = REF[case]["points"]
    got = D[design].cdf(var, at=pts["at"]).to_frame()
    np.testing.assert_array_equal(got["level"], pts["at"])
    np.testing.assert_allclose(got["estimate"], pts["estimate"], rtol=1e-10)
    np.testing.assert_allclose(got["se"], pts["se"], rtol=1e-8)


def test_by_domains_equal_svyby():
    ref = REF["strat_by_stype"]
    got = D["strat"].cdf("api00", at=[650], by="stype").to_frame()
    assert got["stype"].astype(str).tolist() == ref["level"]
    np.testing.assert_allclose(got["estimate"], ref["estimate"], rtol=1e-10)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-8)
    assert "svyby(~I(api00 <= v), ~stype" in D["strat"].cdf("api00", at=[650], by="stype").r_call


def test_missing_values_are_left_out_and_counted():
    df = sh.datasets.load_example("apistrat")
    f = D["strat"].cdf("avg.ed", at=[3.0])
    assert f.n_missing == int(df["avg.ed"].isna().sum()) > 0
    assert f.n_rows == int(df["avg.ed"].notna().sum())


def test_bad_input_names_what_to_do():
    with pytest.raises(EstimationError, match="numeric column; 'stype'.*design.mean"):
        D["strat"].cdf("stype")
    with pytest.raises(EstimationError, match="distinct values.*at="):
        sh.SurveyDesign(sh.datasets.load_example("apipop").assign(w=1.0),
                        weights="w").cdf("api00")
    with pytest.raises(EstimationError, match="finite numbers"):
        D["strat"].cdf("api00", at=[np.nan])
    with pytest.raises(EstimationError, match="one column name"):
        D["strat"].cdf(["api00", "api99"])


def test_two_phase_design_gives_the_mean_of_the_indicator():
    """Two-phase designs: F(v) and its SE are the design's mean of [y <= v] (the mean itself is
    compared with R's twophase() in test_twophase.py)."""
    import pandas as pd

    data = pd.read_csv(Path(__file__).resolve().parents[1] / "fixtures" / "twophase"
                       / "twophase_data.csv")
    d = sh.TwoPhaseDesign(data, subset="in_phase2", strata="strat", method="full")
    y = "age"
    v = float(data[y].median())
    got = d.cdf(y, at=[v]).to_frame().iloc[0]
    ind = d.assign(ind=np.where(data[y].isna(), np.nan, (data[y] <= v).astype(float))).mean("ind")
    want = ind.to_frame().iloc[0]
    assert got["estimate"] == pytest.approx(want["estimate"], rel=1e-12)
    assert got["se"] == pytest.approx(want["se"], rel=1e-12) and got["se"] > 0
