"""Multistage designs against R survey 4.1-1: fpc at every stage (3 stages), strata whose PSUs
were all taken (certainty, fpc == n), a single-PSU certainty stratum, lonely PSUs in a 2-stage
design under every lonely_psu option, and the ultimate-cluster approximation.

Expected values: tests/design/fixtures/multistage/multistage_reference.json, written by
make_multistage.R (same folder). Samples are rebuilt from apipop.csv (shared reference) with
the school ids and design columns stored in the JSON.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import LonelyPSUError

FIX = json.loads((Path(__file__).parent / "fixtures" / "multistage" / "multistage_reference.json").read_text())
RES, META = FIX["results"], FIX["meta"]
TOL = 1e-10


def close(a, b, tol=TOL, scale=None):
    a, b = np.asarray(a, float), np.asarray(b, float)
    ref = np.nanmax(np.abs(b)) if scale is None else np.nanmax(np.abs(np.asarray(scale, float)))
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * ref)


@pytest.fixture(scope="module")
def samples(r_survey):
    pop = r_survey.data("apipop").set_index("snum", drop=False)
    out = {}
    for key, cols in META["samples"].items():
        s = pop.loc[cols["snum"]].reset_index(drop=True)
        for c in ("st1", "fpc1", "fpc2", "fpc3"):
            if c in cols:
                s[c] = cols[c]
        out[key] = s
    out["nhanes"] = r_survey.data("nhanes")
    return out


def build(samples, name, lonely="fail", ultimate=False):
    s = samples[name]
    if name == "d3":
        return sh.SurveyDesign(s, psu=["cnum", "dnum", "snum"], fpc=["fpc1", "fpc2", "fpc3"],
                               lonely_psu=lonely, ultimate_cluster=ultimate)
    if name == "d2l":
        return sh.SurveyDesign(s, psu=["cnum", "dnum"], strata="st1", fpc=["fpc1", "fpc2"],
                               lonely_psu=lonely, ultimate_cluster=ultimate)
    return sh.SurveyDesign(s, psu=["cnum", "dnum", "snum"], strata="st1", fpc=["fpc1", "fpc2", "fpc3"],
                           lonely_psu=lonely, ultimate_cluster=ultimate)


def design_for(samples, rid):
    res = RES[rid]
    opts = res.get("options") or {}
    if res["design"] == "dnl":
        nh = samples["nhanes"]
        nl = nh[~((nh["SDMVSTRA"] == 75) & (nh["SDMVPSU"] == 2))].reset_index(drop=True)
        return sh.SurveyDesign(nl, psu="SDMVPSU", strata="SDMVSTRA", weights="WTMEC2YR", nest=True,
                               lonely_psu=opts.get("survey.lonely.psu", "fail"))
    return build(samples, res["design"], lonely=opts.get("survey.lonely.psu", "fail"),
                 ultimate=bool(opts.get("survey.ultimate.cluster", False)))


def res_design(rid):
    return RES[rid]["design"]


def _table(rid):
    return pd.DataFrame(RES[rid]["result"]["table"])


# lonely_psu="adjust" (R centres a lonely PSU's total at 0) and "average" within domains (R
# counts only strata with domain rows in H / H_ok) were engine differences found by these
# fixtures; both are fixed in taylor_variance and the cases below now run as ordinary tests.
ENGINE_XFAIL: dict[str, str] = {}


def ids(kind):
    out = [k for k in RES if k.endswith("_" + kind) and "result" in RES[k]
           and not (kind == "total" and k.endswith("_by_total"))]
    return [pytest.param(k, marks=pytest.mark.xfail(strict=True, reason="engine: " + ENGINE_XFAIL[k]))
            if k in ENGINE_XFAIL else k for k in out]


@pytest.mark.parametrize("rid", ids("mean") + ids("total") + ids("prop") + ids("subset"))
def test_estimates_equal_r(samples, rid):
    d = design_for(samples, rid)
    tab = _table(rid)
    kind = rid.rsplit("_", 1)[1]
    if kind == "mean":
        est = d.mean(["api00", "enroll"], deff=True)
    elif kind == "total" and res_design(rid) == "dnl":
        est = d.total("HI_CHOL")
    elif kind == "total":
        est = d.total("enroll", deff=True)
    elif kind == "prop":
        est = d.mean("sch.wide", deff=True)
    else:
        est = d.subset(d.data["awards"] == "Yes").mean("api00")
    t = est.table
    close(t["estimate"], tab["est"])
    close(t["se"], tab["se"])
    if "deff" in tab:
        close(t["deff"], tab["deff"])


@pytest.mark.parametrize("rid", ids("by2"))
def test_domains_two_by_variables(samples, rid):
    d = design_for(samples, rid)
    tab = _table(rid)
    est = d.mean("api00", by=["stype", "sch.wide"], deff=True).table
    assert list(est["stype"]) == list(tab["stype"])
    close(est["estimate"], tab["api00"])
    close(est["se"], tab["se"])
    # a domain with one sampled school (d3s: M/No on the synthetic data) has no SRS variance:
    # R's DEff is NaN there (0/0). The engine reports a number (~0): see the strict xfail
    # test_single_row_domain_deff_is_undefined below; the other domains at 1e-10
    r_deff = tab["DEff.api00"].astype(float).to_numpy()
    one = r_deff != r_deff
    for s, w in zip(tab["stype"][one], tab["sch.wide"][one]):
        assert ((d.data["stype"] == s) & (d.data["sch.wide"] == w)).sum() == 1
    close(est["deff"].to_numpy()[~one], r_deff[~one])


def test_single_row_domain_deff_is_undefined(samples):
    d = design_for(samples, "d3s_by2")
    tab = _table("d3s_by2")
    est = d.mean("api00", by=["stype", "sch.wide"], deff=True).table
    close(est["deff"], tab["DEff.api00"])


@pytest.mark.parametrize("rid", ids("by_total"))
def test_domain_totals(samples, rid):
    d = design_for(samples, rid)
    tab = _table(rid)
    est = d.total("enroll", by="stype").table
    close(est["estimate"], tab["enroll"])
    close(est["se"], tab["se"])


def test_lonely_fail_raises_like_r(samples):
    assert "only one PSU" in RES["d2l_fail_mean"]["error"]
    with pytest.raises(LonelyPSUError):
        build(samples, "d2l").mean("api00")


def test_degf(samples):
    for name in ("d3", "d3s", "d2l", "d3c"):  # (dnl: one-stage nhanes, checked by the lead's tests)
        assert build(samples, name, lonely="adjust").degf() == FIX["designs"][name]["degf"], name


def test_certainty_stratum_has_no_first_stage_variance(samples):
    """A stratum sampled with certainty (fpc1 == n) contributes only through its later stages:
    dropping stage 2-3 (ultimate cluster) leaves the other strata's variance alone, so the
    multistage SE must exceed the ultimate-cluster SE restricted to the sampled strata."""
    d = build(samples, "d3c")
    est = d.subset(d.data["st1"] == "LA").total("enroll").table["se"].iloc[0]
    assert est > 0          # the certainty county's districts and schools add variance
    uc = build(samples, "d3c", ultimate=True)
    assert uc.subset(uc.data["st1"] == "LA").total("enroll").table["se"].iloc[0] == 0
