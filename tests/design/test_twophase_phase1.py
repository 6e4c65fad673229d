"""TwoPhaseDesign with a stratified and/or clustered phase-1 sample, against R survey 4.1-1.

Reference numbers: tests/fixtures/twophase/make_twophase_phase1.R, which simulates 60 phase-1
clusters in 6 strata (about 2000 rows) and a stratified phase-2 subsample of rows, with a seed
(twophase_phase1_data.csv; no real data), and writes twophase_phase1_reference.json.
Means, totals, ratios, domain means and the phase contributions are compared at 1e-8
(relative), svyglm coefficients and covariances at 1e-7 (R fitted with
glm.control(epsilon = 1e-12)).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import DesignError, LonelyPSUError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "twophase"
TOL = 1e-8
GLM_TOL = 1e-7

# name in the JSON -> TwoPhaseDesign arguments (R call in the JSON's "call")
DESIGNS = {
    "clus_fpc": dict(phase1_psu="psu", phase1_fpc="Npsu_all"),
    "strat_clus_fpc": dict(phase1_psu="psu", phase1_strata="stratum1", phase1_fpc="Npsu"),
    "strat_clus_probs": dict(phase1_psu="psu", phase1_strata="stratum1", phase1_probs="p1"),
    "fpc_full": dict(phase1_fpc="Nall"),
    "strat_full": dict(phase1_strata="stratum1"),
    "strat_approx": dict(phase1_strata="stratum1", method="approx"),
    "strat_fpc_approx": dict(phase1_strata="stratum1", phase1_fpc="Nel", method="approx"),
    "strat_probs_approx": dict(phase1_strata="stratum1", phase1_probs="p1", method="approx"),
}


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(FIX / "twophase_phase1_data.csv")


@pytest.fixture(scope="module")
def ref():
    return json.loads((FIX / "twophase_phase1_reference.json").read_text())


def _close(got, want, tol=TOL):
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float),
                               rtol=tol, atol=0)


def _design(data, name):
    return sh.TwoPhaseDesign(data, subset="in2", strata="s2", **DESIGNS[name])


def _check(est, r, phases=None, tol=TOL):
    _close(est.to_frame().estimate, r["estimate"], tol)
    # a negative variance (R's vcov, e.g. the total of the p2n design: -15635694; R's SE is
    # NaN) is NaN here, with a warning (its standard error was reported as 0 before)
    want = np.array(r["vcov"], dtype=float)
    neg = np.flatnonzero(np.diag(want) < 0)
    want[neg, neg] = np.nan
    _close(est.vcov, want, tol)
    if phases is not None and r["phase1"] is not None:    # R's svyratio has no phases
        _close(phases[0], r["phase1"], tol)
        _close(phases[1], r["phase2"], tol)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_weights_degf_and_closed_forms(data, ref, name):
    d = _design(data, name)
    r = ref[name]
    _close(d.weights[d.phase2], r["weights"], 1e-12)
    assert d.degf() == r["degf"]
    est = d.mean("y")
    _check(est, r["mean_y"], d._last_phases)
    _check(d.mean(["y", "age"]), r["mean_y_age"], d._last_phases)
    est = d.total("y")
    _check(est, r["total_y"], d._last_phases)
    est = d.ratio("y", "age")
    _check(est, r["ratio"], d._last_phases)


@pytest.mark.parametrize("name", list(DESIGNS))
def test_domain_means(data, ref, name):
    d = _design(data, name)
    r = ref[name]
    est = d.mean("y", by="grp")
    _close(est.to_frame().estimate, r["by_grp_mean"]["estimate"])
    # = R's svyratio(~I(y * (grp == g)), ~I(grp == g), design), the domain mean as a ratio
    _close(est.to_frame().estimate, r["by_grp_ratio"]["estimate"])
    _close(np.diag(est.vcov), r["by_grp_ratio"]["variance"])
    _close(d.subset(data.grp == "b").mean("y").vcov[0, 0], r["by_grp_ratio"]["variance"][1])
    if DESIGNS[name].get("method") == "approx":
        # R's subset() of an approx design with phase-1 strata changes the phase-1 term, so
        # its svyby differs from its own svyratio (module docstring)
        diff = np.abs(np.diag(est.vcov) / r["by_grp_mean"]["variance"] - 1)
        assert (diff > 1e-3).all()
    else:
        # R's svyby reports only the variances for two-phase designs
        _close(np.diag(est.vcov), r["by_grp_mean"]["variance"])


@pytest.mark.parametrize("name", list(DESIGNS))
def test_r_code_is_the_reference_call(data, ref, name):
    d = _design(data, name)
    assert d.r_code("d") == ref[name]["call"]        # the call the R script evaluated
    text = d.describe()
    assert ref[name]["call"].replace("data = d", "data = df") in text
    if "phase1_psu" in DESIGNS[name]:
        assert "60 PSUs (psu)" in text
    if "phase1_strata" in DESIGNS[name]:
        assert "in 6 strata (stratum1)" in text


@pytest.mark.parametrize("name", list(DESIGNS))
def test_glm(data, ref, name):
    d = _design(data, name)
    r = ref[name]
    for key, formula, family in [("glm_gaussian", "y ~ x + age", "gaussian"),
                                 ("glm_quasibinomial", "case ~ x + age", "binomial")]:
        m = d.glm(formula, family=family)
        _close(m.params, r[key]["estimate"], GLM_TOL)
        _close(m.cov_params(), r[key]["vcov"], GLM_TOL)


def test_calibrated_clustered_design(data, ref):
    d = _design(data, "strat_clus_fpc").assign(grp_f=data.grp)
    cal = d.calibrate("~age + C(grp)")
    r = ref["cal_strat_clus_fpc"]
    _close(cal.weights[cal.phase2], r["weights"])
    _check(cal.mean("y"), r["mean_y"], cal._last_phases)
    _check(cal.total("y"), r["total_y"], cal._last_phases)
    _check(cal.ratio("y", "age"), r["ratio"], cal._last_phases)
    m = cal.glm("y ~ x + age")
    _close(m.params, r["glm_gaussian"]["estimate"], GLM_TOL)
    _close(m.cov_params(), r["glm_gaussian"]["vcov"], GLM_TOL)
    rk = d.calibrate("~age + C(grp)", calfun="raking")
    rr = ref["cal_raking_strat_clus_fpc"]
    _check(rk.mean("y"), rr["mean_y"], rk._last_phases)
    _check(rk.total("y"), rr["total_y"], rk._last_phases)


def _hand_phase1(data, d, psu, fpc):
    """The full phase-1 term of the mean of y: the double sum of Sarndal et al. (1992) 9.3
    over phase-2 pairs, sum_kl (Delta1_kl / pi1_kl) (y_k / pi1_k) (y_l / pi1_l) / pi2_kl,
    written out with the joint probabilities of stratified cluster (or row) sampling without
    replacement at phase 1 and stratified SRS of rows at phase 2."""
    sub = data[d.phase2]
    # phase 1: n_h of N_h PSUs in stratum h
    n_h = data.groupby("stratum1")[psu].nunique()
    nh, Nh = n_h[sub.stratum1].to_numpy(float), sub[fpc].to_numpy(float)
    f = nh / Nh
    same_st = sub.stratum1.to_numpy()[:, None] == sub.stratum1.to_numpy()[None, :]
    same_psu = sub[psu].to_numpy()[:, None] == sub[psu].to_numpy()[None, :]
    pi1kl = np.where(same_psu, f[:, None],
                     np.where(same_st, f[:, None] * (nh[:, None] - 1) / (Nh[:, None] - 1),
                              f[:, None] * f[None, :]))
    check1 = 1 - f[:, None] * f[None, :] / pi1kl
    # phase 2: n2_h of the n1_h phase-1 rows of phase-2 stratum h
    n1 = data.s2.value_counts()
    n2 = sub.s2.value_counts()
    a, b = n1[sub.s2].to_numpy(float), n2[sub.s2].to_numpy(float)
    same2 = sub.s2.to_numpy()[:, None] == sub.s2.to_numpy()[None, :]
    pi2 = b / a
    pi2kl = np.where(same2, (b * (b - 1) / (a * (a - 1)))[:, None], pi2[:, None] * pi2[None, :])
    np.fill_diagonal(pi2kl, pi2)
    # influence of the mean: u = (y - ybar) / N_hat, y_k / pi1_k = u_k / f_k
    w = 1 / (f * pi2)
    ybar = (w * sub.y).sum() / w.sum()
    yk = (sub.y.to_numpy() - ybar) / w.sum() / f
    return yk @ (check1 / pi2kl) @ yk


def test_full_phase1_term_by_hand(data):
    d = _design(data, "strat_clus_fpc")
    d.mean("y")
    _close(d._last_phases[0][0, 0], _hand_phase1(data, d, "psu", "Npsu"), 1e-10)


def test_unequal_phase1_strata_differ_from_r(data, ref):
    """R's twophase2 takes the joint phase-1 probability of two units of stratum h with the
    first stratum's sample size n_1; here it is the Horvitz-Thompson one (module docstring)."""
    r = ref["r_unequal_strata"]
    du = data[~data.psu.isin(r["dropped_psus"])].reset_index(drop=True)
    d = sh.TwoPhaseDesign(du, subset="in2", strata="s2", phase1_psu="psu",
                          phase1_strata="stratum1", phase1_fpc="Npsu")
    est = d.mean("y")
    hand = _hand_phase1(du, d, "psu", "Npsu")
    _close(d._last_phases[0][0, 0], hand, 1e-10)
    _close(est.to_frame().estimate, r["mean_y"]["estimate"])          # point estimate as R
    _close(d._last_phases[1], r["mean_y"]["phase2"])                  # phase-2 term as R
    assert abs(hand / r["mean_y"]["phase1"][0][0] - 1) > 1e-2         # R: 0.04243, here 0.04353
    # R's Dcheck of two PSUs of stratum h: -(1 - f_h) / (n_1 - 1), not -(1 - f_h) / (n_h - 1)
    n_h = du.groupby("stratum1").psu.nunique().to_numpy(float)
    f = n_h / du.groupby("stratum1").Npsu.first().to_numpy(float)
    _close(r["dcheck_other_psu"], -(1 - f) / (n_h[0] - 1), 1e-12)
    # the same for rows: phase-1 strata of rows sampled without replacement (fpc = rows)
    d = sh.TwoPhaseDesign(data, subset="in2", strata="s2", phase1_strata="stratum1",
                          phase1_fpc="Nel")
    est = d.mean("y")
    data_id = data.assign(row=np.arange(len(data)))
    hand = _hand_phase1(data_id, d, "row", "Nel")
    _close(d._last_phases[0][0, 0], hand, 1e-10)
    _close(d._last_phases[1], r["elem_mean_y"]["phase2"])
    assert abs(hand / r["elem_mean_y"]["phase1"][0][0] - 1) > 1e-4


def test_refusals(data, ref):
    kw = dict(subset="in2", strata="s2")
    # full without fpc or probs: R ignores the phase-1 clusters (its phase-1 term is that of
    # the element design), so it is refused here
    no_fpc, elem = ref["refused"]["clus_no_fpc_full"], ref["refused"]["element_full"]
    _close(no_fpc["phase1"], elem["phase1"], 1e-12)
    with pytest.raises(DesignError, match="ignores the phase-1 clusters"):
        sh.TwoPhaseDesign(data, phase1_psu="psu", phase1_strata="stratum1", **kw)
    d = sh.TwoPhaseDesign(data, **kw)               # the element design R falls back to
    _check(d.mean("y"), elem, d._last_phases)
    # approx with clusters: R's approx treats the PSUs as the phase-2 sampling units
    with pytest.raises(DesignError, match="phase-2 sampling units"):
        sh.TwoPhaseDesign(data, phase1_psu="psu", phase1_fpc="Npsu", method="approx", **kw)
    # weights with full (R: "weights not accepted by method='full'")
    assert "not accepted" in ref["refused"]["weights_full"]
    with pytest.raises(DesignError, match="phase1_probs"):
        sh.TwoPhaseDesign(data, phase1_psu="psu", phase1_weights="Npsu", **kw)
    with pytest.raises(DesignError, match="not both"):
        sh.TwoPhaseDesign(data, phase1_psu="psu", phase1_fpc="Npsu", phase1_probs="p1", **kw)
    with pytest.raises(DesignError, match="multistage"):
        sh.TwoPhaseDesign(data, phase1_psu=["psu", "id"], phase1_fpc="Npsu", **kw)
    with pytest.raises(DesignError, match="phase1_strata="):
        sh.TwoPhaseDesign(data, subset="in2", strata=["stratum1", "s2"])
    bad = data.assign(p1=np.where(data.id % 2 == 0, data.p1, data.p1 / 2))
    with pytest.raises(DesignError, match="vary within a PSU"):
        sh.TwoPhaseDesign(bad, phase1_psu="psu", phase1_probs="p1", **kw)


def test_lonely_phase1_stratum(data):
    # stratum 7 with a single PSU: its phase-1 variance cannot be estimated
    lone = data.assign(stratum1=np.where(data.psu == 60, 7, data.stratum1))
    with pytest.raises(LonelyPSUError, match="single PSU"):
        sh.TwoPhaseDesign(lone, subset="in2", strata="s2", phase1_psu="psu",
                          phase1_strata="stratum1", phase1_fpc="Npsu")
    # without fpc (Poisson selection of PSUs) the strata play no role in the variance
    d = sh.TwoPhaseDesign(lone, subset="in2", strata="s2", phase1_psu="psu",
                          phase1_strata="stratum1", phase1_probs="p1")
    assert np.isfinite(d.mean("y").vcov).all()
    with pytest.raises(LonelyPSUError, match="single row"):
        sh.TwoPhaseDesign(data.assign(stratum1=np.where(data.id == 1, 9, data.stratum1)),
                          subset="in2", strata="s2", phase1_strata="stratum1", method="approx")


def test_nest(data):
    # PSU codes 1..10 repeated in every stratum: nest=True tells them apart
    local = data.assign(psu=(data.psu - 1) % 10 + 1)
    kw = dict(subset="in2", strata="s2", phase1_psu="psu", phase1_strata="stratum1",
              phase1_fpc="Npsu")
    a = sh.TwoPhaseDesign(data, **kw).mean("y")
    b = sh.TwoPhaseDesign(local, nest=True, **kw).mean("y")
    _close(b.vcov, a.vcov, 1e-12)
    with pytest.raises(sh.errors.NestingError):
        sh.TwoPhaseDesign(local, **kw)


# ----------------------------------------------------------------------------- phase-2 clusters
CLUSTER_DESIGNS = {
    "p2c_full_fpc": dict(phase1_fpc="Npsu"),
    "p2c_full_probs": dict(phase1_probs="p1"),
    "p2c_approx_fpc": dict(phase1_fpc="Npsu", method="approx"),
    "p2c_approx": dict(method="approx"),
    "p2c_approx_probs": dict(phase1_probs="p1", method="approx"),
}


def _cluster_design(data, name):
    return sh.TwoPhaseDesign(data, subset="in2c", strata="urban", phase1_psu="psu",
                             phase1_strata="stratum1", phase2_psu="psu",
                             **CLUSTER_DESIGNS[name])


@pytest.mark.parametrize("name", list(CLUSTER_DESIGNS))
def test_phase2_clusters(data, ref, name):
    d = _cluster_design(data, name)
    r = ref[name]
    assert d.r_code("d") == r["call"]
    _close(d.weights[d.phase2], r["weights"], 1e-12)
    assert d.degf() == r["degf"]                       # phase-2 clusters minus strata
    _check(d.mean("yc"), r["mean_yc"], d._last_phases)
    _check(d.total("yc"), r["total_yc"], d._last_phases)
    _check(d.ratio("yc", "age"), r["ratio"], d._last_phases)
    est = d.mean("yc", by="grp")
    _close(est.to_frame().estimate, r["by_grp_mean"]["estimate"])
    _close(np.diag(est.vcov), r["by_grp_mean"]["variance"])
    for key, formula, family in [("glm_gaussian", "yc ~ age + case", "gaussian"),
                                 ("glm_quasibinomial", "case ~ age", "binomial")]:
        m = d.glm(formula, family=family)
        _close(m.params, r[key]["estimate"], GLM_TOL)
        _close(m.cov_params(), r[key]["vcov"], GLM_TOL)


@pytest.mark.parametrize("name", ["p2c_full_fpc", "p2c_approx_fpc"])
def test_phase2_clusters_calibrated(data, ref, name):
    cal = _cluster_design(data, name).calibrate("~age")
    r = ref["cal_" + name]
    _check(cal.mean("yc"), r["mean_yc"], cal._last_phases)
    _check(cal.total("yc"), r["total_yc"], cal._last_phases)


def test_calibrated_stratified_approx(data, ref):
    cal = _design(data, "strat_fpc_approx").calibrate("~age")
    r = ref["cal_strat_fpc_approx"]
    _check(cal.mean("y"), r["mean_y"], cal._last_phases)
    _check(cal.total("y"), r["total_y"], cal._last_phases)


def test_phase2_cluster_refusals(data):
    kw = dict(subset="in2c", strata="urban", phase1_strata="stratum1")
    with pytest.raises(DesignError, match="needs phase1_psu"):
        sh.TwoPhaseDesign(data, phase2_psu="psu", **kw)
    with pytest.raises(DesignError, match="varies within a phase-2 cluster"):
        sh.TwoPhaseDesign(data.assign(in2c=data.in2c & (data.id % 2 == 0)), phase1_psu="psu",
                          phase2_psu="psu", phase1_fpc="Npsu", **kw)
    with pytest.raises(DesignError, match="varies within a phase-2 cluster"):
        sh.TwoPhaseDesign(data.assign(urban=data.id % 2), phase1_psu="psu",
                          phase2_psu="psu", phase1_fpc="Npsu", **kw)
    # approx needs the phase-2 clusters to be the phase-1 PSUs
    half = data.assign(sub=data.id % 2, in2c=data.in2c | (data.id % 2 == 0))
    with pytest.raises(DesignError, match="phase2_psu = phase1_psu"):
        sh.TwoPhaseDesign(half, phase1_psu="psu", phase2_psu="sub", method="approx", **kw)


def test_phase2_clusters_nested_in_phase1_clusters(data, ref):
    # phase 2 samples half-clusters cl2 within the phase-1 clusters (R id = list(~psu, ~cl2))
    d = sh.TwoPhaseDesign(data, subset="in2n", strata="urban", phase1_psu="psu",
                          phase1_strata="stratum1", phase1_fpc="Npsu", phase2_psu="cl2")
    r = ref["p2n_full_fpc"]
    _close(d.weights[d.phase2], r["weights"], 1e-12)
    assert d.degf() == r["degf"]
    _check(d.mean("yn"), r["mean_yn"], d._last_phases)
    _check(d.total("yn"), r["total_yn"], d._last_phases)
    m = d.glm("yn ~ age + case")
    _close(m.params, r["glm_gaussian"]["estimate"], GLM_TOL)
    _close(m.cov_params(), r["glm_gaussian"]["vcov"], GLM_TOL)
