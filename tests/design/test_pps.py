"""PPS designs against R survey 4.1-1: Brewer's approximation (pps="brewer") and
with-replacement PPS via probs=.

Expected values: tests/design/fixtures/pps/pps_reference.json, written by make_pps.R (same
folder). The samples are rebuilt from apipop.csv (shared reference) with the school ids and
inclusion probabilities stored in the JSON.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh

FIX = json.loads((Path(__file__).parent / "fixtures" / "pps" / "pps_reference.json").read_text())
RES, META = FIX["results"], FIX["meta"]
TOL = 1e-10


def close(a, b, tol=TOL, scale=None):
    a, b = np.asarray(a, float), np.asarray(b, float)
    ref = np.nanmax(np.abs(b)) if scale is None else np.nanmax(np.abs(np.asarray(scale, float)))
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * ref)


@pytest.fixture(scope="module")
def samples(r_survey):
    pop = r_survey.data("apipop")
    pop = pop[pop["enroll"].notna()].set_index("snum", drop=False)
    out = {}
    for key in ("samp", "samp1", "sampb"):
        s = pop.loc[META[key]["snum"]].reset_index(drop=True)
        s["p"] = META[key]["p"]
        out[key] = s
    s2 = r_survey.data("apipop").set_index("snum", drop=False)
    s2 = s2.loc[META["samp2"]["snum"]].reset_index(drop=True)
    s2["pi1"], s2["f2"] = META["samp2"]["pi1"], META["samp2"]["f2"]
    out["samp2"] = s2
    return out


@pytest.fixture(scope="module")
def designs(samples):
    S = sh.SurveyDesign
    s, s1, sb = samples["samp"], samples["samp1"], samples["sampb"]
    return {
        # probs= gives the weights 1/p; fpc= alone implies the same (test_brewer_weights_implied_by_fpc)
        "brewer1": S(s1, fpc="p", probs="p", pps="brewer"),
        "brewer_strat": S(s, strata="stype", fpc="p", probs="p", pps="brewer"),
        "brewer_big": S(sb, fpc="p", probs="p", pps="brewer"),
        "ppswr_big": S(sb, probs="p"),
        # two stages: PPS districts (Brewer), then schools without replacement (f2 = fraction)
        "brewer2": S(samples["samp2"], psu=["dnum", "snum"], fpc=["pi1", "f2"], probs=["pi1", "f2"], pps="brewer"),
        "ppswr2": S(samples["samp2"], psu=["dnum", "snum"], probs=["pi1", "f2"]),
        "ppswr1": S(s1, probs="p"),
        "ppswr_strat": S(s, strata="stype", probs="p"),
    }


# Engine difference found here (taylor_variance.taylor_vcov, reported to the lead): below a
# Brewer PPS stage R adds the next stage's variance multiplied by the PSU's inclusion
# probability pi_i (the recursion with n/N replaced by pi_i); the engine stops after the PPS
# stage. Checked by hand: V = V_brewer + sum_i pi_i V2_i reproduces R's brewer2 SEs to 1e-15.
XFAIL_DESIGNS: dict[str, str] = {}   # the stage below a Brewer stage is now added as pi_i * V2_i


def _mark(ids):
    return [pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=XFAIL_DESIGNS[RES[k]["design"]]))
            if RES[k]["design"] in XFAIL_DESIGNS else k for k in ids]


def _table(rid):
    return pd.DataFrame(RES[rid]["result"]["table"])


STAT = [k for k in RES if k.rsplit("_", 1)[1] in ("mean", "total", "prop", "subset") and "_by2" not in k]


@pytest.mark.parametrize("rid", _mark(STAT))
def test_estimates_equal_r(designs, rid):
    d = designs[RES[rid]["design"]]
    kind = rid.rsplit("_", 1)[1]
    tab = _table(rid)
    if kind == "mean":
        est = d.mean(["api00", "api99"], deff=True)
    elif kind == "total":
        est = d.total(["api00", "enroll"], deff=True)
    elif kind == "prop":
        est = d.mean("sch_wide" if "sch_wide" in d.data else "sch.wide", deff=True)
    else:
        est = d.subset(d.data["awards"] == "Yes").mean("api00")
    t = est.table
    close(t["estimate"], tab["est"])
    # the PPS total of enroll (the size measure) has SE 0 in exact arithmetic
    close(t["se"], tab["se"], scale=np.r_[tab["se"], 1e-6 * tab["est"]])
    if "deff" in tab:
        ok = tab["se"] > 1e-6 * tab["est"].abs()
        close(t["deff"][ok.to_numpy()], tab["deff"][ok], 1e-9)


@pytest.mark.parametrize("rid", _mark([k for k in RES if k.endswith("_by2")]))
def test_domains_two_by_variables(designs, rid):
    d = designs[RES[rid]["design"]]
    tab = _table(rid)
    est = d.mean("api00", by=["stype", "sch.wide"], deff=True).table
    assert list(est["stype"]) == list(tab["stype"]) and list(est["sch.wide"]) == list(tab["sch.wide"])
    close(est["estimate"], tab["api00"])
    close(est["se"], tab["se"])
    close(est["deff"], tab["DEff.api00"], 1e-9)


@pytest.mark.parametrize("rid", _mark([k for k in RES if k.endswith("_by2_total")]))
def test_domain_totals_two_by_variables(designs, rid):
    d = designs[RES[rid]["design"]]
    tab = _table(rid)
    est = d.total("enroll", by=["sch.wide", "awards"]).table
    close(est["estimate"], tab["enroll"])
    close(est["se"], tab["se"])


def test_brewer_smaller_than_with_replacement(designs):
    """Brewer's factor (1 - c_i pi_i) < 1 shrinks the with-replacement variance (Brewer 2002)."""
    a = designs["brewer_big"].mean("api00").table["se"].iloc[0]
    b = designs["ppswr_big"].mean("api00").table["se"].iloc[0]
    assert a < b
    r = _table("brewer_big_mean")["se"].iloc[0] / _table("ppswr_big_mean")["se"].iloc[0]
    close(a / b, [r])


def test_degf(designs):
    for name, d in designs.items():
        assert d.degf() == FIX["designs"][name]["degf"], name


def test_brewer_weights_implied_by_fpc(samples):
    d = sh.SurveyDesign(samples["samp1"], fpc="p", pps="brewer")
    close(d.mean("api00").table["estimate"], _table("brewer1_mean")["est"][:1])


def test_two_stage_brewer_by_hand(samples):
    """The formula R uses for brewer2 (first stage Brewer, second stage SRSWOR), written out:
    V = n/(n-1) sum_i (1 - pi_i)(T_i - Tbar)^2 + sum_i pi_i (1 - f2_i) m_i/(m_i - 1) sum_j (z_ij - zbar_i)^2
    with z_ij = y_ij / (pi_i f2_i), T_i = sum_j z_ij. Reproduces R's SE of the api00 total."""
    s = samples["samp2"]
    w = 1 / (s["pi1"] * s["f2"])
    z = (w * s["api00"]).to_numpy()
    g = s["dnum"].to_numpy()
    T = pd.Series(z).groupby(g).sum()
    pi = s.groupby("dnum")["pi1"].first()[T.index].to_numpy()
    n = len(T)
    V = n / (n - 1) * np.sum((1 - pi) * (T.to_numpy() - T.mean()) ** 2)
    for _, grp in s.groupby("dnum"):
        zz, m, f = z[grp.index], len(grp), grp["f2"].iloc[0]
        if m > 1:
            V += grp["pi1"].iloc[0] * (1 - f) * m / (m - 1) * np.sum((zz - zz.mean()) ** 2)
    close([np.sqrt(V)], [_table("brewer2_total")["se"].iloc[0]], 1e-12)
