"""calibrate(stage=1): calibration of a two-stage sample to totals known for each sampled PSU,
against R survey 4.1-1 ``calibrate(design, formula, population, stage = 1)``.

Reference: ``fixtures/calibration_stage/make_calibration_stage.R`` (a seeded synthetic
two-stage sample, unstratified and stratified at the first stage, calibrated to per-PSU
totals of ``~x``, ``~1`` and ``~x + z``; and the synthetic apiclus2 example, districts with
two or more sampled schools calibrated to their schools' number and 1999 API from apipop).
Calibrated weights, svymean / svytotal (overall and by a domain variable), svyglm
coefficients and SEs, and the first-stage-only SE (``survey.ultimate.cluster``) at 1e-8
relative: the calibration is linear (one solve per PSU), so there is no iteration tolerance.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import ArgumentError, DesignError, NegativeWeightsWarning

HERE = Path(__file__).parent / "fixtures" / "calibration_stage"
REF = json.loads((HERE / "calibration_stage.json").read_text())
DATA = pd.read_csv(HERE / "calibration_stage_data.csv")
CASES = {c["name"]: c for c in REF["cases"]}
RTOL = 1e-8


def close(got, want, what):
    np.testing.assert_allclose(np.asarray(got, dtype=float).ravel(),
                               np.asarray(want, dtype=float).ravel(), rtol=RTOL, atol=0,
                               err_msg=what)


def design(case, data=DATA, **kw):
    if case["design"]["strata"]:
        return sh.SurveyDesign(data, psu=["psu", "ssu"], strata="st", fpc=["fpc1", "fpc2"], **kw)
    return sh.SurveyDesign(data, psu=["psu", "ssu"], fpc=["fpc1u", "fpc2"], **kw)


def per_psu(case):
    return dict(zip(case["psu_ids"], case["totals"]))


@pytest.mark.parametrize("name", list(CASES))
def test_stage1_matches_r(name):
    case = CASES[name]
    cal = design(case).calibrate(case["formula"], per_psu(case), stage=1)
    close(cal.weights, case["weights"], "weights")
    m = cal.mean(["y1", "y2"]).to_frame()
    close(m["estimate"], case["mean"], "mean")
    close(m["se"], case["mean_se"], "mean SE")
    t = cal.total(["y1", "y2"]).to_frame()
    close(t["estimate"], case["total"], "total")
    close(t["se"], case["total_se"], "total SE")
    b = cal.mean(["y1", "y2"], by="a").to_frame()
    # R svyby: rows are the levels p, q; columns y1, y2 (coef() runs down the levels first)
    est = b.pivot(index="a", columns="term", values="estimate")[["y1", "y2"]]
    se = b.pivot(index="a", columns="term", values="se")[["y1", "y2"]]
    close(est.to_numpy().T, case["by_mean"], "mean by a")
    close(se.to_numpy().T, case["by_mean_se"], "mean SE by a")
    g = cal.glm("y1 ~ x + a")
    close(g.params, case["glm_coef"], "glm coefficients")
    close(g.bse, case["glm_se"], "glm SEs")
    one = design(case, ultimate_cluster=True).calibrate(case["formula"], per_psu(case), stage=1)
    close(one.mean(["y1", "y2"]).to_frame()["se"], case["ultimate_mean_se"],
          "first-stage-only SE")


def test_stage1_apiclus2_matches_r():
    r = REF["apiclus2"]
    apiclus2 = sh.datasets.load_example("apiclus2")
    sizes = apiclus2.groupby("dnum").size()
    a2 = apiclus2[apiclus2["dnum"].isin(sizes[sizes >= 2].index)]
    d = sh.SurveyDesign(a2, psu=["dnum", "snum"], fpc=["fpc1", "fpc2"])
    with pytest.warns(NegativeWeightsWarning, match="calibrated weights are negative"):
        cal = d.calibrate("~api99", dict(zip(r["psu_ids"], r["totals"])), stage=1)
    close(cal.weights, r["weights"], "weights")
    assert cal.weights.min() < 0 and np.isclose(cal.weights.min(), r["min_weight"])
    m = cal.mean("api00").to_frame()
    close(m["estimate"], [r["mean"]], "mean")
    close(m["se"], [r["mean_se"]], "mean SE")
    t = cal.total("enroll").to_frame()
    close(t["estimate"], [r["total"]], "total")
    close(t["se"], [r["total_se"]], "total SE")


def test_psu_totals_are_met_and_order_free():
    case = CASES["stratified ~x"]
    d = design(case)
    tot = per_psu(case)
    shuffled = dict(reversed(list(tot.items())))
    cal = d.calibrate("~x", shuffled, stage=1)
    close(cal.weights, case["weights"], "weights (totals given in another order)")
    # every PSU's estimated totals of 1 and x, times its first-stage probability, are its totals
    pi = np.where(DATA["st"] == 1, 8 / 40, 8 / 60)
    for psu, want in tot.items():
        rows = (DATA["psu"] == psu).to_numpy()
        got = [np.sum(cal.weights[rows] * pi[rows]),
               np.sum(cal.weights[rows] * pi[rows] * DATA["x"][rows])]
        np.testing.assert_allclose(got, [want["(Intercept)"], want["x"]], rtol=1e-10)
    frame = pd.DataFrame.from_dict(tot, orient="index")
    close(d.calibrate("~x", frame, stage=1).weights, case["weights"], "DataFrame of totals")


def test_stage1_errors_say_what_to_do():
    case = CASES["stratified ~x"]
    d = design(case)
    tot = per_psu(case)
    with pytest.raises(DesignError, match="missing for 1 sampled PSU"):
        d.calibrate("~x", {k: v for k, v in tot.items() if k != 3}, stage=1)
    with pytest.raises(DesignError, match="not sampled PSUs"):
        d.calibrate("~x", {**tot, 999: tot[1]}, stage=1)
    with pytest.raises(DesignError, match="dict"):
        d.calibrate("~x", list(tot.values()), stage=1)
    with pytest.raises(DesignError, match="linearly"):
        d.calibrate("~x", tot, stage=1, calfun="raking")
    with pytest.raises(DesignError, match="bounds="):
        d.calibrate("~x", tot, stage=1, bounds=(0.5, 2))
    with pytest.raises(ArgumentError, match="stage= must be 0"):
        d.calibrate("~x", tot, stage=2)
    nofpc = sh.SurveyDesign(DATA, psu=["psu", "ssu"], strata="st")
    with pytest.raises(DesignError, match="fpc="):
        nofpc.calibrate("~x", tot, stage=1)
    with pytest.raises(DesignError, match="no PSUs"):
        sh.SurveyDesign(DATA, fpc="fpc1u").calibrate("~x", tot, stage=1)
    small = DATA[~((DATA["psu"] == 2) & (DATA["ssu"] > DATA.loc[DATA["psu"] == 2, "ssu"].min()))]
    with pytest.raises(DesignError, match="at least as many respondents"):
        design(case, data=small).calibrate("~x", tot, stage=1)
    with pytest.raises(DesignError, match="to_replicate"):
        d.calibrate("~x", tot, stage=1).to_replicate("jkn", recalibrate=True)
    rep = d.to_replicate("jkn")
    with pytest.raises(DesignError, match="Taylor"):
        rep.calibrate("~x", tot, stage=1)


def test_stage1_then_population_calibration_and_subset_match_r():
    # R applies the population calibration's residuals first, then the within-PSU ones below
    # the first stage; a subset keeps the calibration (rows outside get weight 0)
    r = REF["chained"]
    case = CASES["stratified ~x"]
    cal = design(case).calibrate("~x", per_psu(case), stage=1)
    both = cal.calibrate("~a", {"(Intercept)": 1500, "aq": 700})
    close(both.weights, r["weights"], "weights")
    m = both.mean("y1").to_frame()
    close(m["estimate"], [r["mean"]], "mean")
    close(m["se"], [r["mean_se"]], "mean SE")
    s = cal.subset(DATA["a"] == "q").mean("y1").to_frame()
    close(s["estimate"], [r["subset_mean"]], "subset mean")
    close(s["se"], [r["subset_mean_se"]], "subset mean SE")
