"""to_replicate with single-PSU ("lonely") strata and certainty PSUs, against R survey 4.1-1.

Expected values: fixtures/replicate_lonely/replicate_lonely_reference.json, written by
make_replicate_lonely.R (same folder) from seeded synthetic data stored in the JSON:
R's ``as.svrepdesign`` under each ``options(survey.lonely.psu = ...)`` with replicate
multipliers per (stratum, PSU), scale, rscales and svymean/svytotal SEs, or R's error.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import ReplicateWeightsError

FIX = json.loads((Path(__file__).parent / "fixtures" / "replicate_lonely"
                  / "replicate_lonely_reference.json").read_text())
TOL = 1e-10
FPC = {"nofpc": None, "fpc": "N", "fpcfrac": "f"}
METHOD = {"JKn": "jkn", "BRR": "brr", "Fay": "fay", "bootstrap": "bootstrap",
          "subbootstrap": "subbootstrap"}


def close(a, b, tol=TOL):
    a, b = np.asarray(a, float), np.asarray(b, float)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * np.nanmax(np.abs(b)))


def frame(name):
    return pd.DataFrame(FIX["data"][name])


def design(case):
    return sh.SurveyDesign(frame(case["data"]), weights="w", strata="st", psu="psu",
                           fpc=FPC[case["fpc"]], nest=True, lonely_psu=case["lonely"])


def convert(case, seed=1):
    opts = {"fay_rho": 0.3} if case["type"] == "Fay" else {}
    if case["type"] in ("bootstrap", "subbootstrap"):
        opts = {"replicates": 20, "seed": seed}
    return design(case).to_replicate(METHOD[case["type"]], **opts)


def multipliers(rep, case):
    """Our replicate multipliers per (stratum, PSU) cell, in the fixture's cell order."""
    df = frame(case["data"])
    M = rep.replicate_weights / rep.weights[:, None]
    key = df["st"].astype(str) + " " + df["psu"].astype(str)
    cells = pd.DataFrame(case["cells"])
    rows = [int(np.flatnonzero(key.to_numpy() == f"{s} {p}")[0]) for s, p in zip(cells["st"], cells["psu"])]
    return M[rows]


JKN = [k for k, c in FIX["cases"].items() if c["type"] == "JKn" and "error" not in c]
JKN_ERR = [k for k, c in FIX["cases"].items() if c["type"] == "JKn" and "error" in c]


def test_fixture_covers_every_option():
    opts = {(c["data"], c["fpc"], c["lonely"]) for c in FIX["cases"].values()}
    assert len(opts) == 3 * 3 * 5
    assert len(JKN) == 38 and len(JKN_ERR) == 7


@pytest.mark.parametrize("cid", JKN)
def test_jkn_replicate_weights_equal_r(cid):
    case = FIX["cases"][cid]
    rep = convert(case)
    assert rep.n_replicates == case["n_replicates"]
    assert rep.degf() == case["degf"]
    close(multipliers(rep, case), np.column_stack(case["multipliers"]))
    close(rep.rscales, case["rscales"])
    close(rep.scale, case["scale"])


@pytest.mark.parametrize("cid", JKN)
def test_jkn_mean_total_se_equal_r(cid):
    case = FIX["cases"][cid]
    rep = convert(case)
    m, t = rep.mean(["y", "x"]), rep.total(["y", "x"])
    close(m.table["estimate"], case["mean"])
    close(m.table["se"], case["mean_se"])
    close(t.table["estimate"], case["total"])
    if cid in SELFREP_TOTAL:
        return                       # see test_adjust_total_with_certainty_strata
    close(t.table["se"], case["total_se"])


# R's svytotal on a replicate design leaves rows of certainty strata ("selfrep") out of the
# replicate totals, while svymean (and every other statistic) uses the exported replicate
# weights. The two only disagree in the 'adjust' replicates of a design that also has
# certainty strata, where R's weights scale the certainty rows by H/(H-1) too.
SELFREP_TOTAL = ["all_fpc_adjust_JKn", "all_fpcfrac_adjust_JKn"]


@pytest.mark.parametrize("cid", SELFREP_TOTAL)
def test_adjust_total_with_certainty_strata(cid):
    case = FIX["cases"][cid]
    df = frame(case["data"])
    cells = pd.DataFrame(case["cells"])
    rows = pd.MultiIndex.from_frame(df[["st", "psu"]].astype(str))
    pos = pd.MultiIndex.from_frame(cells.astype(str)).get_indexer(rows)
    M = np.column_stack(case["multipliers"])[pos]            # R's weights, per row
    w, y = df["w"].to_numpy(), df["y"].to_numpy()
    rs, scale = np.asarray(case["rscales"]), case["scale"]

    def se(mult):
        t = (w[:, None] * mult * y[:, None]).sum(0)
        return np.sqrt(scale * (rs * (t - t.mean()) ** 2).sum())

    certain = (df["f"] == 1).to_numpy()
    held = M.copy()
    held[certain] = 1.0
    close(se(held), case["total_se"][0])        # R's svytotal: certainty rows held fixed
    assert abs(se(M) / case["total_se"][0] - 1) > 0.05
    # ours uses R's replicate weights throughout (as R's svymean does)
    close(convert(case).total("y").table["se"].iloc[0], se(M))


@pytest.mark.parametrize("cid", JKN_ERR)
def test_jkn_lonely_fail_raises_like_r(cid):
    case = FIX["cases"][cid]
    assert "only one PSU" in case["error"]
    with pytest.raises(ReplicateWeightsError, match="single PSU"):
        convert(case)


@pytest.mark.parametrize("cid", [k for k, c in FIX["cases"].items() if c["type"] in ("BRR", "Fay")])
def test_brr_with_single_psu_strata_raises_like_r(cid):
    case = FIX["cases"][cid]
    assert case["error"] == "Some strata have fewer than 2 PSUs"
    with pytest.raises(ReplicateWeightsError, match="fewer than 2 PSUs"):
        convert(case)


@pytest.mark.parametrize("cid", [k for k, c in FIX["cases"].items() if c["type"] == "subbootstrap"])
def test_subbootstrap_with_single_psu_strata_raises_like_r(cid):
    case = FIX["cases"][cid]
    assert "NA/NaN/Inf" in case["error"]
    with pytest.raises(ReplicateWeightsError, match="subbootstrap"):
        convert(case)


BOOT = [k for k, c in FIX["cases"].items() if c["type"] == "bootstrap"]


def _lonely_or_certain_cells(case):
    df = frame(case["data"])
    cells = pd.DataFrame(case["cells"])
    n_psu = df.groupby("st")["psu"].nunique()
    lonely = cells["st"].map(n_psu).to_numpy() == 1
    certain = np.zeros(len(cells), bool)
    if case["fpc"] != "nofpc":
        certain = cells["st"].map(df.groupby("st")["f"].first()).to_numpy() == 1
    return lonely, certain


@pytest.mark.parametrize("cid", BOOT)
def test_bootstrap_deterministic_part_as_r(cid):
    """R's bootstrap is random; its deterministic part is that single-PSU strata keep
    multiplier 1 in every replicate (whatever survey.lonely.psu). Ours keeps 1 there too (and in
    certainty strata, where the Rao-Wu lambda is 0), or raises a clear error for 'fail' (as the
    jackknife) and for 'adjust'/'average', which R's bootstrap silently ignores."""
    case = FIX["cases"][cid]
    lonely, certain = _lonely_or_certain_cells(case)
    R = np.column_stack(case["multipliers"])
    assert (R[lonely] == 1).all()                      # R: lonely strata constant 1
    assert (R[~lonely] != 1).any()                     # ... and the others do vary
    d = design(case)
    has_lonely = bool((lonely & ~certain).any())
    if has_lonely and case["lonely"] in ("fail", "adjust", "average"):
        with pytest.raises(ReplicateWeightsError, match="single PSU"):
            convert(case)
        return
    rep = convert(case)
    M = multipliers(rep, case)
    assert (M[lonely | certain] == 1).all()
    assert (M[~(lonely | certain)] != 1).any()
    assert rep.n_replicates == 20 and d.n == len(frame(case["data"]))


def test_certainty_stratum_gets_no_jkn_replicate():
    """Hand check: a stratum with fpc = n_h (all PSUs taken) adds no replicate, and the SE of a
    total equals the Taylor SE computed without that stratum's contribution."""
    df = frame("all")
    d = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", fpc="N", nest=True,
                        lonely_psu="remove")
    rep = d.to_replicate("jkn")
    n_psu = df.groupby("st")["psu"].nunique()
    expected = int(n_psu[(n_psu > 1) & (df.groupby("st")["f"].first() < 1)].sum())
    assert rep.n_replicates == expected
    # Taylor variance of a total, by hand, over the strata with replicates
    v = 0.0
    for s, g in df.groupby("st"):
        n_h, f_h = g["psu"].nunique(), g["f"].iloc[0]
        if n_h < 2 or f_h == 1:
            continue
        t = (g["w"] * g["y"]).groupby(g["psu"]).sum()
        v += (1 - f_h) * n_h / (n_h - 1) * ((t - t.mean()) ** 2).sum()
    close(rep.total("y").table["se"].iloc[0], np.sqrt(v))


def test_jk1_stratified_refused_as_r():
    assert FIX["meta"]["jk1_stratified_error"] == "Can't use JK1 for a stratified design"
    case = {"data": "all", "fpc": "nofpc", "lonely": "adjust", "type": "JKn"}
    with pytest.raises(ReplicateWeightsError, match="jk1"):
        design(case).to_replicate("jk1")


def test_adjust_needs_two_strata():
    df = pd.DataFrame({"psu": [1, 1], "y": [1.0, 2.0], "w": [1.0, 1.0], "st": ["a", "a"]})
    d = sh.SurveyDesign(df, weights="w", strata="st", psu="psu", lonely_psu="adjust")
    with pytest.raises(ReplicateWeightsError, match="two strata"):
        d.to_replicate("jkn")
