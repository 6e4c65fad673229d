"""Calibration (post-stratification, raking, GREG) against R survey 4.1-1.

Expected values: tests/design/fixtures/calibration/calibration_reference.json, written by
make_calibration.R in the same folder (R 4.2.2, survey 4.1-1).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import (ConvergenceError, DesignError, MissingColumnError,
                                 NegativeWeightsWarning)

FIX = Path(__file__).parent / "fixtures" / "calibration" / "calibration_reference.json"
REF = json.loads(FIX.read_text())
RES, DES, META = REF["results"], REF["designs"], REF["meta"]
TOL = 1e-10


@pytest.fixture(scope="module")
def api(r_survey):
    return {n: r_survey.data(n) for n in ("apiclus1", "apistrat", "apipop")}


def pop_frame(key):
    return pd.DataFrame(META[key])


@pytest.fixture(scope="module")
def designs(api):
    clus1, strat = api["apiclus1"], api["apistrat"]
    dclus1 = sh.SurveyDesign(clus1, weights="pw", psu="dnum", fpc="fpc")
    dstrat = sh.SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    rclus1 = dclus1.to_replicate("jk1")
    rstrat = dstrat.to_replicate("jkn")
    pt, ps, pb = pop_frame("pop_types"), pop_frame("pop_schwide"), pop_frame("pop_both")
    tot = META["pop_totals"]
    out = {
        "ps_dclus1": dclus1.post_stratify("stype", pt),
        "ps_dstrat": dstrat.post_stratify("sch.wide", ps),
        "ps_dstrat_2way": dstrat.post_stratify(["stype", "sch.wide"], pb),
        "ps_dclus1_2way": dclus1.post_stratify(["stype", "sch.wide"], pb),
        "rake_dclus1": dclus1.rake([("stype", pt), ("sch.wide", ps)]),
        "rake_dstrat": dstrat.rake([("stype", pt), ("sch.wide", ps)]),
        "cal_lin_dclus1": dclus1.calibrate("~stype + api99", tot),
        "cal_rake_dclus1": dclus1.calibrate("~stype + api99", tot, calfun="raking"),
        "cal_logit_dclus1": dclus1.calibrate("~stype + api99", tot, calfun="logit", bounds=(0.7, 1.7)),
        "cal_lin_bounded_dclus1": dclus1.calibrate("~stype + api99", tot, bounds=(0.6, 1.6)),
        "cal_lin_dstrat": dstrat.calibrate("~stype + api99", tot),
        "ps_rclus1": rclus1.post_stratify("stype", pt),
        "ps_rstrat": rstrat.post_stratify("sch.wide", ps),
        "rake_rclus1": rclus1.rake([("stype", pt), ("sch.wide", ps)]),
        "cal_lin_rclus1": rclus1.calibrate("~stype + api99", tot),
        "cal_rake_rclus1": rclus1.calibrate("~stype + api99", tot, calfun="raking"),
    }
    out["ps_dclus1_asrep"] = out["ps_dclus1"].to_replicate("jk1")
    return out


def close(a, b, tol=TOL, scale=None):
    """Relative agreement; values that are zero in exact arithmetic (the SE of a calibrated
    count) are compared on the scale of ``scale`` (the estimates)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    ref = np.nanmax(np.abs(b)) if scale is None else np.nanmax(np.abs(np.asarray(scale, float)))
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * ref)


DESIGN_IDS = list(DES)


@pytest.mark.parametrize("name", DESIGN_IDS)
def test_calibrated_weights_equal_r(designs, name):
    d = designs[name]
    close(d.weights, DES[name]["weights"])
    if "repweights_head" in DES[name]:
        for j, col in enumerate(DES[name]["repweights_head"]):
            close(d.replicate_weights[:, j], col)


def _stat(d, rid):
    code = RES[rid]["code"]
    if code.startswith("svymean(~api00 + enroll"):
        return d.mean(["api00", "enroll"])
    if code.startswith("svytotal(~enroll + api00"):
        return d.total(["enroll", "api00"])
    if code.startswith("svymean(~stype"):
        return d.mean("stype")
    raise AssertionError(code)


STAT_IDS = [k for k, v in RES.items() if v["design"] in DES and k.split("_")[-1] in ("mean", "total", "stype")
            and not k.endswith("_deff")
            and "result" in v and not k.startswith("dclus1_") and "_by_" not in k]


@pytest.mark.parametrize("rid", STAT_IDS)
def test_estimates_equal_r(designs, rid):
    est = _stat(designs[RES[rid]["design"]], rid)
    tab = pd.DataFrame(RES[rid]["result"]["table"])
    close(est.table["estimate"], tab["est"])
    close(est.table["se"], tab["se"], scale=np.r_[tab["se"], tab["est"]])
    V = np.array(RES[rid]["result"]["vcov"], dtype=float).reshape(est.vcov.shape)
    close(est.vcov, V, scale=np.r_[V.ravel(), (tab["est"]) ** 2])


BY_IDS = [k for k, v in RES.items() if "_by_" in k and "result" in v]


@pytest.mark.parametrize("rid", BY_IDS)
def test_domain_estimates_equal_r(designs, rid):
    d = designs[RES[rid]["design"]]
    tab = pd.DataFrame(RES[rid]["result"]["table"])
    if "by_schwide" in rid:
        est = d.mean("api00", by="sch.wide").table
        close(est["estimate"], tab["api00"])
    else:
        est = d.total("enroll", by="stype").table
        close(est["estimate"], tab["enroll"])
    close(est["se"], tab["se"], scale=np.r_[tab["se"], est["estimate"]])


def test_fixture_entry_dclus1_poststrat_mean(designs):
    r = RES["dclus1_poststrat_mean"]["result"]["table"][0]
    est = designs["ps_dclus1"].mean("api00").table
    close(est["estimate"], [r["est"]], 1e-12)
    close(est["se"], [r["se"]], 1e-12)


def test_population_as_dict_equals_frame(designs, api):
    d = sh.SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")
    a = d.post_stratify("stype", {"E": 4421, "H": 755, "M": 1018}).mean("api00").table
    b = designs["ps_dclus1"].mean("api00").table
    close(a["se"], b["se"], 1e-14)


def test_post_stratified_counts_hit_population(designs):
    t = designs["ps_dstrat_2way"].total("stype").table
    close(t["estimate"], [4421, 755, 1018], 1e-12)
    assert designs["ps_dstrat_2way"].total("stype").table["se"].max() < 1e-8   # known counts: SE 0


# ------------------------------------------------------------------------------- errors
@pytest.fixture(scope="module")
def dclus1(api):
    return sh.SurveyDesign(api["apiclus1"], weights="pw", psu="dnum", fpc="fpc")


def test_sample_level_missing_from_population(dclus1):
    assert "error" in RES["ps_missing_level"]          # R refuses too
    with pytest.raises(DesignError, match="not in the population"):
        dclus1.post_stratify("stype", {"E": 4421, "H": 755})


def test_population_level_without_sample(dclus1):
    with pytest.raises(DesignError, match="no respondents"):
        dclus1.post_stratify("stype", {"E": 4421, "H": 755, "M": 1018, "X": 5})
    ok = dclus1.post_stratify("stype", {"E": 4421, "H": 755, "M": 1018, "X": 5}, partial=True)
    # post-stratified weights add up to each stratum's population count (X is left out)
    by = pd.Series(ok.weights).groupby(ok.data["stype"].to_numpy()).sum()
    np.testing.assert_allclose(by.loc[["E", "H", "M"]].to_numpy(), [4421, 755, 1018], rtol=1e-12)
    assert ok.weights.sum() == pytest.approx(4421 + 755 + 1018, rel=1e-12)


def test_nonpositive_population_count(dclus1):
    with pytest.raises(DesignError, match="positive"):
        dclus1.post_stratify("stype", {"E": 4421, "H": 0, "M": 1018})


def test_missing_column(dclus1):
    with pytest.raises(MissingColumnError):
        dclus1.post_stratify("stypo", {"E": 1})
    with pytest.raises(DesignError, match="Freq"):
        dclus1.post_stratify("stype", pd.DataFrame({"stype": ["E"], "N": [1]}))


def test_calibration_bounds_that_cannot_be_met(dclus1):
    assert RES["cal_bounds_fail"]["error"] == "Calibration failed"    # R fails as well
    with pytest.raises(ConvergenceError):
        dclus1.calibrate("~stype + api99", META["pop_totals"], bounds=(0.9, 1.1))


def test_calibration_totals_must_match_model(dclus1):
    with pytest.raises(DesignError, match="missing"):
        dclus1.calibrate("~stype + api99", {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018})


def test_rake_nonconvergence_raises(dclus1):
    pt, ps = pop_frame("pop_types"), pop_frame("pop_schwide")
    with pytest.raises(ConvergenceError):
        dclus1.rake([("stype", pt), ("sch.wide", ps)], max_iter=1, epsilon=1e-12)


@pytest.mark.parametrize("rid", [k for k in RES if k.endswith("_subset")])
def test_domain_of_calibrated_design(designs, rid):
    d = designs[RES[rid]["design"]]
    est = d.subset(d.data["sch.wide"] == "Yes").mean("api00").table
    tab = pd.DataFrame(RES[rid]["result"]["table"])
    close(est["estimate"], tab["est"])
    close(est["se"], tab["se"])


@pytest.mark.parametrize("rid", [k for k in RES if k.endswith("_deff")])
def test_deff_of_calibrated_design(designs, rid):
    est = designs[RES[rid]["design"]].mean("api00", deff=True).table
    tab = pd.DataFrame(RES[rid]["result"]["table"])
    close(est["se"], tab["se"])
    close(est["deff"], tab["deff"])


@pytest.mark.parametrize("rid", [k for k in RES if k.endswith("_glm")])
def test_glm_on_calibrated_design(designs, rid):
    """svyglm on calibrated designs: the sandwich uses the calibration residuals of the
    estimating functions (Taylor) or refits with calibrated replicate weights."""
    m = designs[RES[rid]["design"]].glm("api00 ~ ell + meals")
    tab = pd.DataFrame(RES[rid]["result"]["table"])
    close(np.asarray(m.params), tab["est"], 1e-9)
    close(np.asarray(m.bse), tab["se"], 1e-9)


# ------------------------------------------------------------------------------- identities
def test_linear_calibration_on_cells_is_post_stratification(dclus1):
    """GREG on the indicators of all cells gives g_c = N_c / Nhat_c (Deville & Sarndal 1992),
    and the GREG residuals equal the post-stratum residuals because g is constant in a cell."""
    ps = dclus1.post_stratify("stype", {"E": 4421, "H": 755, "M": 1018})
    cal = dclus1.calibrate("~stype", {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018})
    close(cal.weights, ps.weights, 1e-12)
    close(cal.mean(["api00", "enroll"]).vcov, ps.mean(["api00", "enroll"]).vcov, 1e-10)


def test_intercept_only_calibration_is_ratio_adjustment(dclus1):
    cal = dclus1.calibrate("~1", [6000])
    close(cal.weights, dclus1.weights * 6000 / dclus1.weights.sum(), 1e-13)


def test_raking_calfun_equals_converged_ipf(dclus1):
    """Multiplicative calibration on the margins' indicators = iterative proportional fitting
    run to convergence (Deville, Sarndal & Sautory 1993)."""
    pt, ps = pop_frame("pop_types"), pop_frame("pop_schwide")
    ipf = dclus1.rake([("stype", pt), ("sch.wide", ps)], max_iter=500, epsilon=1e-13)
    n_yes = float(ps.loc[ps["sch.wide"] == "Yes", "Freq"].iloc[0])
    cal = dclus1.calibrate("~stype + sch.wide", {"(Intercept)": 6194, "stypeH": 755, "stypeM": 1018,
                                                 "sch.wideYes": n_yes}, calfun="raking", epsilon=1e-13)
    close(cal.weights, ipf.weights, 1e-9)


def test_totals_by_position_and_patsy_names(dclus1):
    tot = META["pop_totals"]
    a = dclus1.calibrate("~stype + api99", [tot["(Intercept)"], tot["stypeH"], tot["stypeM"], tot["api99"]])
    b = dclus1.calibrate("stype + api99", {"Intercept": tot["(Intercept)"], "stype[T.H]": tot["stypeH"],
                                           "stype[T.M]": tot["stypeM"], "api99": tot["api99"]})
    close(a.weights, DES["cal_lin_dclus1"]["weights"])
    close(b.weights, DES["cal_lin_dclus1"]["weights"])


def test_calibrated_totals_hit_population_and_bounds(designs, dclus1):
    for name, bounds in (("cal_lin_dclus1", None), ("cal_rake_dclus1", None),
                         ("cal_logit_dclus1", (0.7, 1.7)), ("cal_lin_bounded_dclus1", (0.6, 1.6))):
        d = designs[name]
        close(d.total("api99").table["estimate"], [META["pop_totals"]["api99"]], 1e-7)
        close(d.total("stype").table["estimate"], [4421, 755, 1018], 1e-7)
        g = d.weights / dclus1.weights
        if bounds:
            assert g.min() >= bounds[0] - 1e-12 and g.max() <= bounds[1] + 1e-12, name


def test_logit_needs_bounds(dclus1):
    with pytest.raises(DesignError, match="bounds"):
        dclus1.calibrate("~stype + api99", META["pop_totals"], calfun="logit")
    with pytest.raises(DesignError, match="calfun"):
        dclus1.calibrate("~stype + api99", META["pop_totals"], calfun="cubic")


def test_missing_calibration_variable(dclus1):
    d = dclus1.assign(x=np.where(np.arange(dclus1.n) == 3, np.nan, 1.0))
    with pytest.raises(DesignError, match="missing"):
        d.calibrate("~x", [6194])
    with pytest.raises(DesignError, match="missing"):
        d.assign(g=np.where(np.arange(d.n) == 3, None, "a")).post_stratify("g", {"a": 6194})


@pytest.mark.parametrize("name,ref_design", [("ps_dclus1", "ps_rclus1"), ("rake_dclus1", "rake_rclus1"),
                                              ("cal_lin_dclus1", "cal_lin_rclus1")])
def test_to_replicate_recalibrate(designs, name, ref_design):
    """recalibrate=True = convert first, then calibrate the replicate design (R's
    postStratify / rake / calibrate of as.svrepdesign(dclus1)); the default follows R's
    as.svrepdesign of a calibrated design (ps_dclus1_asrep)."""
    rep = designs[name].to_replicate("jk1", recalibrate=True)
    close(rep.weights, designs[ref_design].weights)
    close(rep.replicate_weights, designs[ref_design].replicate_weights)
    tab = pd.DataFrame(RES[ref_design + "_mean"]["result"]["table"])
    close(rep.mean(["api00", "enroll"]).table["se"], tab["se"])


def test_to_replicate_recalibrate_keeps_subset(designs):
    d = designs["ps_dclus1"]
    sub = d.subset(d.data["sch.wide"] == "Yes")
    rep = sub.to_replicate("jk1", recalibrate=True)
    tab = pd.DataFrame(RES["ps_rclus1_subset"]["result"]["table"])
    close(rep.mean("api00").table["se"], tab["se"])


def test_recalibrated_replicates_keep_rows_with_negative_calibrated_weights():
    # A linear calibration makes two weights negative (-1 and -3/7); to_replicate(recalibrate=
    # True) took rows with weight <= 0 for rows outside a subset and dropped them (mean
    # 7.015152 instead of 7.964286). R 4.1-1:
    #   d <- svydesign(id = ~psu, weights = ~w, data = df)
    #   rc <- calibrate(as.svrepdesign(d, type = "JK1"), ~x, c(`(Intercept)` = 8, x = 60))
    #   svymean(~y, rc)   # 7.96428571428572, SE 0.585988705069414; degf(rc) 6
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "y": [2.0, 1, 4, 3, 6, 5, 8, 9],
                       "w": 1.0, "psu": np.arange(8)})
    with pytest.warns(NegativeWeightsWarning, match="2 of 8 calibrated weights"):
        cal = sh.SurveyDesign(df, weights="w", psu="psu").calibrate(
            "~x", {"(Intercept)": 8.0, "x": 60.0})
    assert (cal.weights < 0).sum() == 2
    with pytest.warns(NegativeWeightsWarning):
        r = cal.to_replicate("jk1", recalibrate=True)
    f = r.mean("y").to_frame().loc[0]
    assert r.in_subset.all()
    np.testing.assert_allclose(f["estimate"], 7.96428571428572, rtol=1e-12)
    np.testing.assert_allclose(f["se"], 0.585988705069414, rtol=1e-10)
    assert f["df"] == 6
