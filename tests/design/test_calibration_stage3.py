"""calibrate(stage=1) in designs with three or more stages, against R survey 4.1-1
``calibrate(design, formula, population, stage = 1)``.

Reference: ``fixtures/calibration_stage3/make_calibration_stage3.R`` (a seeded synthetic
sample of PSUs in two first-stage strata, second-, third- and fourth-stage units, with
population counts at every stage so that the within-PSU weights vary inside each PSU): three
stages stratified and unstratified at the first stage, calibrated to per-PSU totals of ``~x``,
``~x + z`` and ``~1``; without a finite population correction at stage 3, and at stage 2;
four stages; a two-stage design stratified at the second stage; a subset. Calibrated weights,
svymean / svytotal overall and by a domain, svyglm, and the first-stage-only SE
(``ultimate_cluster=True``) at 1e-10 relative.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.calibration_stage import StageRegressionResidual

HERE = Path(__file__).parent / "fixtures" / "calibration_stage3"
REF = json.loads((HERE / "calibration_stage3.json").read_text())
DATA = pd.read_csv(HERE / "calibration_stage3_data.csv").assign(inf=np.inf)
CASES = {c["name"]: c for c in REF["cases"]}
RTOL = 1e-10


def close(got, want, what):
    np.testing.assert_allclose(np.asarray(got, dtype=float).ravel(),
                               np.asarray(want, dtype=float).ravel(), rtol=RTOL, atol=0,
                               err_msg=what)


def design(case, **kw):
    spec = case["design"]
    # (no finite population correction at a stage: a column of infinite population counts,
    # as R's fpc = Inf)
    fpc = [f if f is not None else "inf" for f in spec["fpc"]]
    return sh.SurveyDesign(DATA, psu=spec["psu"], strata=spec["strata"] or None, fpc=fpc,
                           probs=spec["probs"] or None, **kw)


def per_psu(case):
    return dict(zip(case["psu_ids"], case["totals"], strict=True))


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
    for what in ("mean", "total"):
        b = getattr(cal, what)(["y1", "y2"], by="dom").to_frame()
        # R svyby: rows are the levels u, v; columns y1, y2 (coef() runs down the levels)
        est = b.pivot(index="dom", columns="term", values="estimate")[["y1", "y2"]]
        se = b.pivot(index="dom", columns="term", values="se")[["y1", "y2"]]
        close(est.to_numpy().T, case[f"by_{what}"], f"{what} by dom")
        close(se.to_numpy().T, case[f"by_{what}_se"], f"{what} SE by dom")
    g = cal.glm("y1 ~ x + dom")
    close(g.params, case["glm_coef"], "glm coefficients")
    close(g.bse, case["glm_se"], "glm SEs")
    one = design(case, ultimate_cluster=True).calibrate(case["formula"], per_psu(case), stage=1)
    close(one.mean(["y1", "y2"]).to_frame()["se"], case["ultimate_mean_se"],
          "first-stage-only SE")


def test_subset_of_three_stage_calibration_matches_r():
    case = CASES["3 stages, stratified, ~x"]
    cal = design(case).calibrate("~x", per_psu(case), stage=1)
    m = cal.subset(DATA["dom"] == "v").mean("y1").to_frame()
    close(m["estimate"], [REF["subset"]["mean"]], "subset mean")
    close(m["se"], [REF["subset"]["mean_se"]], "subset mean SE")


def test_residual_is_least_squares_on_scaled_x_not_weighted_least_squares():
    # One PSU, rows with within-PSU weights c = 1, 4, 9, 16 and x = 1, 2, 3, 4, calibrated
    # weights w = 2 and influence values z = 2 u: the residual is w (u - sqrt(c) x b) with b
    # the ordinary least-squares slope of u on sqrt(c) x = 1, 4, 9, 16 (no intercept).
    c = np.array([1.0, 4.0, 9.0, 16.0])
    x = np.array([[1.0], [2.0], [3.0], [4.0]])
    u = np.array([1.0, 3.0, 2.0, 5.0])
    w = np.full(4, 2.0)
    r = StageRegressionResidual(1, np.zeros(4, dtype=np.int64), x, c, w).residualize(w * u)
    s = np.array([1.0, 4.0, 9.0, 16.0])
    b = (s @ u) / (s @ s)                    # = 113 / 354
    np.testing.assert_allclose(r, w * (u - s * b), rtol=0, atol=1e-12)
    # (the c-weighted least-squares residual u - x B, B = sum c x u / sum c x^2, differs)
    B = (c * x[:, 0]) @ u / ((c * x[:, 0]) @ x[:, 0])
    assert not np.allclose(r, w * (u - x[:, 0] * B))


def test_population_totals_that_are_not_numbers_raise_a_design_error():
    # a total that is not a number raised Python's ValueError from float()
    case = CASES[next(iter(CASES))]
    d = design(case)
    bad = {k: {name: "a" for name in v} for k, v in per_psu(case).items()}
    with pytest.raises(sh.errors.DesignError, match="population total of .* must be a number"):
        d.calibrate(case["formula"], bad, stage=1)
    with pytest.raises(sh.errors.DesignError, match="must be a number"):
        d.calibrate("~x", {"(Intercept)": 300.0, "x": None})
    with pytest.raises(sh.errors.DesignError, match="must be numbers"):
        d.calibrate("~x", ["300", "many"])
