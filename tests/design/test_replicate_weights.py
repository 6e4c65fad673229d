"""as_replicate (R as.svrepdesign): replicate weights and estimates against R survey 4.1-1.

Expected values: R's exported replicate weights and results in the shared reference
(tests/fixtures/r_survey: make_reference.R, synthetic example data) and
tests/design/fixtures/replicate/replicate_reference.json (make_replicate.R, same folder).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.design.replicate_weights import hadamard
from socialhealth.errors import DesignError, ReplicateWeightsError

FIX = json.loads((Path(__file__).parent / "fixtures" / "replicate" / "replicate_reference.json").read_text())
TOL = 1e-12


def close(a, b, tol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.nanmax(np.abs(b)))


@pytest.fixture(scope="module")
def ref(r_survey):
    out = dict(r_survey.reference)
    out["set"] = r_survey
    return out


@pytest.fixture(scope="module")
def data(ref):
    d = {n: ref["set"].data(n) for n in ("apiclus1", "apiclus2", "apistrat", "nhanes")}
    d["nhanes"]["psu2"] = np.minimum(d["nhanes"]["SDMVPSU"], 2)
    return d


@pytest.fixture(scope="module")
def taylor(data):
    nh = data["nhanes"]
    return {
        "dclus1": sh.SurveyDesign(data["apiclus1"], weights="pw", psu="dnum", fpc="fpc"),
        "dclus1_nofpc": sh.SurveyDesign(data["apiclus1"], weights="pw", psu="dnum"),
        "dclus2": sh.SurveyDesign(data["apiclus2"], psu=["dnum", "snum"], fpc=["fpc1", "fpc2"]),
        "dstrat": sh.SurveyDesign(data["apistrat"], weights="pw", strata="stype", fpc="fpc"),
        "dnhanes": sh.SurveyDesign(nh, weights="WTMEC2YR", strata="SDMVSTRA", psu="SDMVPSU", nest=True),
        "dnhanes2": sh.SurveyDesign(nh, weights="WTMEC2YR", strata="SDMVSTRA", psu="psu2", nest=True),
        # R builds these from the subsetted data frame (make_replicate.R: nh11, nh3)
        "dnh11": sh.SurveyDesign(nh[nh["SDMVSTRA"] <= 85].reset_index(drop=True), weights="WTMEC2YR",
                                 strata="SDMVSTRA", psu="psu2", nest=True),
        "dnh3": sh.SurveyDesign(nh[nh["SDMVSTRA"] <= 77].reset_index(drop=True), weights="WTMEC2YR",
                                strata="SDMVSTRA", psu="psu2", nest=True),
    }


def r_weights(ref, name):
    return ref["set"].repweights(name)


# ------------------------------------------------------------------------ weights equal R's
@pytest.mark.parametrize("name,design,method", [
    ("dclus1_jk1", "dclus1", "jk1"),
    ("dnhanes_jkn", "dnhanes", "jkn"),
    ("dnhanes_brr", "dnhanes2", "brr"),
])
def test_replicate_weights_equal_r_export(ref, taylor, name, design, method):
    rep = taylor[design].to_replicate(method)
    close(rep.replicate_weights, r_weights(ref, name), 1e-13)
    info = ref["designs"][name]
    assert rep.n_replicates == info["n_replicates"]
    close(rep.scale, info["scale"])
    close(np.unique(np.round(rep.rscales, 12)), np.unique(np.round(info["rscales_unique"], 12)))
    assert rep.degf() == info["degf"]


@pytest.mark.parametrize("name,design,method,opts", [
    ("fay_nh", "dnhanes2", "fay", {"fay_rho": 0.3}),
    ("brr_nh3", "dnh3", "brr", {}),          # Hadamard order 4
    ("brr_nh11", "dnh11", "brr", {}),        # order 12 (Paley I, as R)
])
def test_fay_and_small_brr_weights_equal_r(taylor, name, design, method, opts):
    rep = taylor[design].to_replicate(method, **opts)
    # the fixture stores R's replicate multipliers per (stratum, PSU); rebuild R's row weights
    # as sampling weight x the multiplier of the row's cell
    info = FIX["designs"][name]
    cells = pd.DataFrame(info["cells"])
    mult = np.column_stack(info["multipliers"])
    data = taylor[design].data
    key = pd.MultiIndex.from_arrays([data["SDMVSTRA"].to_numpy(float), data["psu2"].to_numpy(float)])
    where = pd.MultiIndex.from_arrays([cells["stratum"].to_numpy(float), cells["psu"].to_numpy(float)]).get_indexer(key)
    assert (where >= 0).all()
    expected = data["WTMEC2YR"].to_numpy(float)[:, None] * mult[where]
    close(rep.replicate_weights, expected, 1e-13)
    close(rep.scale, FIX["designs"][name]["scale"])


def test_dstrat_jkn_rscales(ref, taylor):
    rep = taylor["dstrat"].to_replicate("jkn")
    close(sorted(set(np.round(rep.rscales, 13))), sorted(np.round(ref["designs"]["dstrat_jkn"]["rscales_unique"], 13)))
    assert rep.n_replicates == 200


# ------------------------------------------------------------------------ estimates equal R's
def _check_stat(est, result, tol=TOL):
    tab = pd.DataFrame(result["table"])
    close(est.table["estimate"], tab["est"], tol)
    close(est.table["se"], tab["se"], tol)


@pytest.mark.parametrize("rid,design,method,opts,call", [
    ("dclus1_jk1_mean", "dclus1", "jk1", {}, ("mean", ["api00", "enroll"])),
    ("dclus1_jk1_total", "dclus1", "jk1", {}, ("total", ["enroll"])),
    ("dstrat_jkn_mean", "dstrat", "jkn", {}, ("mean", ["api00", "enroll"])),
    ("dnhanes_jkn_mean_hichol", "dnhanes", "jkn", {}, ("mean", ["HI_CHOL"])),
    ("dnhanes_brr_mean_hichol", "dnhanes2", "brr", {}, ("mean", ["HI_CHOL"])),
    ("dnhanes_fay_mean_hichol", "dnhanes2", "fay", {"fay_rho": 0.3}, ("mean", ["HI_CHOL"])),
    ("dnhanes_brr_mse_mean_hichol", "dnhanes2", "brr", {"mse": True}, ("mean", ["HI_CHOL"])),
])
def test_reference_entries(ref, taylor, rid, design, method, opts, call):
    rep = taylor[design].to_replicate(method, **opts)
    est = getattr(rep, call[0])(call[1])
    _check_stat(est, ref["results"][rid]["result"])


@pytest.mark.parametrize("rid,design,method,opts", [
    ("dclus1_jk1_by_stype", "dclus1", "jk1", {}),
    ("dnhanes_jkn_by_agecat", "dnhanes", "jkn", {}),
    ("dnhanes_brr_by_agecat", "dnhanes2", "brr", {}),
    ("dnhanes_fay_by_agecat", "dnhanes2", "fay", {"fay_rho": 0.3}),
])
def test_reference_domain_entries(ref, taylor, rid, design, method, opts):
    rep = taylor[design].to_replicate(method, **opts)
    tab = pd.DataFrame(ref["results"][rid]["result"]["table"])
    if "stype" in rid:
        est = rep.mean("api00", by="stype").table
        close(est["estimate"], tab["api00"])
    else:
        est = rep.mean("HI_CHOL", by="agecat").table
        close(est["estimate"], tab["HI_CHOL"])
    close(est["se"], tab["se"])


@pytest.mark.parametrize("rid,design,method,opts", [
    ("jk1_nofpc_mean", "dclus1_nofpc", "jk1", {}),
    ("jk1_nofpc_total", "dclus1_nofpc", "jk1", {}),
    ("jk1_clus2_mean", "dclus2", "jk1", {}),
    ("jk1_clus2_total", "dclus2", "jk1", {}),
    ("brr_nh3_mean", "dnh3", "brr", {}),
    ("brr_nh3_total", "dnh3", "brr", {}),
    ("fay_nh_mean", "dnhanes2", "fay", {"fay_rho": 0.3}),
    ("fay_nh_total", "dnhanes2", "fay", {"fay_rho": 0.3}),
    ("brr_nh11_total", "dnh11", "brr", {}),
    ("fay_nh11_total", "dnh11", "fay", {"fay_rho": 0.5}),
])
def test_extra_r_cases(taylor, rid, design, method, opts):
    rep = taylor[design].to_replicate(method, **opts)
    res = FIX["results"][rid]
    fn = "mean" if rid.endswith("mean") else "total"
    terms = [r["term"] for r in res["result"]["table"]]
    _check_stat(getattr(rep, fn)(terms), res["result"], 1e-11)
    info = FIX["designs"][res["design"]]
    assert rep.n_replicates == info["n_replicates"]
    close(rep.scale, info["scale"])


@pytest.mark.parametrize("rid,method,opts", [("brr_nh11_mean", "brr", {}),
                                             ("fay_nh11_mean", "fay", {"fay_rho": 0.5})])
def test_order_12_means_equal_r(taylor, rid, method, opts):
    est = taylor["dnh11"].to_replicate(method, **opts).mean("HI_CHOL")
    _check_stat(est, FIX["results"][rid]["result"], 1e-11)


@pytest.mark.parametrize("n", list(FIX["meta"]["hadamard_matrices"]))
def test_hadamard_matrix_equals_r(n):
    R = np.array(FIX["meta"]["hadamard_matrices"][n]) * 2 - 1      # R returns 1/0
    np.testing.assert_array_equal(hadamard(int(n)), R)


def test_brr_total_equals_taylor_with_replacement(taylor):
    """McCarthy (1969): full orthogonal balance -> BRR variance of a total = the Taylor
    with-replacement variance (R: taylor_nh11_total)."""
    r = FIX["results"]["taylor_nh11_total"]["result"]["table"][0]
    close(taylor["dnh11"].total("HI_CHOL").table["se"], [r["se"]])


# ------------------------------------------------------------------------ Hadamard matrices
def test_hadamard_orders_as_r():
    """Same order as R's hadamard(n) for n = 1..100 (R skips 52, 76, 92, 100)."""
    r = FIX["meta"]["hadamard_orders"]
    for n in range(1, 101):
        H = hadamard(n)
        k = H.shape[0]
        assert (H @ H.T == k * np.eye(k)).all()
        assert (H[0] == 1).all()                 # row 1 (not used for strata) is all +1
        assert k == r[n - 1], n


# ------------------------------------------------------------------------ bootstrap
def test_bootstrap_rao_wu_unbiased_for_totals(taylor):
    """Rao & Wu (1988): the rescaled bootstrap variance of a total has expectation equal to the
    Taylor variance (with fpc: lambda = sqrt(m_h (1 - f_h) / (n_h - 1))); with 600 replicates
    the Monte Carlo error of the variance is about sqrt(2/600) = 5.8%, so 22% is 3.8 sd."""
    for name in ("dstrat", "dclus1"):
        d = taylor[name]
        rep = d.to_replicate("bootstrap", replicates=600, seed=1)
        v_boot = rep.total("enroll").table["se"].iloc[0] ** 2
        v_taylor = d.total("enroll").table["se"].iloc[0] ** 2
        assert abs(v_boot / v_taylor - 1) < 0.22, name
        close(rep.scale, 1 / 599)


def test_bootstrap_fpc_and_seed(taylor):
    d = taylor["dstrat"]
    a = d.to_replicate("bootstrap", replicates=20, seed=7).replicate_weights
    b = d.to_replicate("bootstrap", replicates=20, seed=7).replicate_weights
    assert np.array_equal(a, b)
    # with an fpc the multipliers shrink towards 1: 1 - lam + lam * n/m * count, lam = sqrt(1 - f)
    f = 100 / 4421                                   # stratum E: n = 100 of N = 4421
    lam = np.sqrt(1 - f)
    m = a[d.data.stype.to_numpy() == "E"] / d.weights[d.data.stype.to_numpy() == "E"][:, None]
    counts = (m - 1 + lam) / (lam * 100 / 99)
    assert np.allclose(counts, np.round(counts)) and (np.round(counts) >= 0).all()
    assert np.allclose(np.round(counts).sum(axis=0), 99)
    sub = d.to_replicate("subbootstrap", replicates=20, seed=7).replicate_weights
    ms = sub[d.data.stype.to_numpy() == "E"] / d.weights[d.data.stype.to_numpy() == "E"][:, None]
    assert np.allclose(ms * 99 / 100, np.round(ms * 99 / 100))


# ------------------------------------------------------------------------ calibrated designs / subsets
def test_calibrated_design_replicates_perturb_calibrated_weights(taylor):
    d = taylor["dclus1"].post_stratify("stype", {"E": 4421, "H": 755, "M": 1018})
    rep = d.to_replicate("jk1")
    close(rep.weights, d.weights)
    # the full-sample estimate is the calibrated one
    close(rep.mean("api00").table["estimate"], d.mean("api00").table["estimate"])


# ------------------------------------------------------------------------ errors
def test_brr_needs_two_psus(taylor):
    assert "odd numbers" in FIX["results"]["brr_3psu_error"]["error"]       # R refuses too
    with pytest.raises(ReplicateWeightsError, match="exactly 2 PSUs.*86.*psu2"):
        taylor["dnhanes"].to_replicate("brr")


def test_jk1_refuses_stratified(taylor):
    assert "stratified" in FIX["results"]["jk1_stratified"]["error"]
    with pytest.raises(ReplicateWeightsError, match="jkn"):
        taylor["dstrat"].to_replicate("jk1")


def test_bad_method_and_options(taylor):
    with pytest.raises(DesignError, match="'jackknife' is not one of"):
        taylor["dclus1"].to_replicate("jackknife")
    with pytest.raises(DesignError, match=r"unknown option\(s\) \['rho'\]"):
        taylor["dclus1"].to_replicate("jk1", rho=0.5)
    with pytest.raises(DesignError, match=r"fay_rho must be in \[0, 1\)"):
        taylor["dnhanes2"].to_replicate("fay", fay_rho=1.0)
