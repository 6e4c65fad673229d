"""to_replicate("mrbbootstrap"): Preston's multistage rescaled bootstrap, against R survey 4.1-1.

Expected values: fixtures/mrbbootstrap/mrbbootstrap_reference.json, written by
make_mrbbootstrap.R (same folder): for apiclus2 (fpc1 + fpc2), a stratified two-stage, a
one-stage and a three-stage synthetic design (data stored in the JSON), R's replicate
multipliers (survey:::mrbweights after set.seed(1)) and the units R kept at every stage of
every replicate. Given R's draws, our multipliers must equal R's (1e-12); our own draws are
checked for their statistical properties (half-samples, uniformity, unbiased variance).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth.design.replicate_weights import _mrb_draw, _mrb_multipliers
from socialhealth.errors import DesignError, ReplicateWeightsError, SocialHealthWarning

FIX = json.loads((Path(__file__).parent / "fixtures" / "mrbbootstrap"
                  / "mrbbootstrap_reference.json").read_text())
CASES = ["apiclus2", "strat2", "onestage", "threestage"]


def design(case):
    c = FIX[case]
    df = pd.DataFrame(c["data"])
    # strat2 has a PSU with one SSU (not certainty): R's Taylor variance stops there under
    # survey.lonely.psu = "fail"; R's mrbbootstrap gives it no term, our lonely_psu="remove"
    lonely = "remove" if case == "strat2" else "fail"
    return df, sh.SurveyDesign(df, psu=c["psu"], strata=c["strata"], fpc=c["fpc"], nest=True,
                               lonely_psu=lonely)


def r_selected(d, case):
    """R's kept units as (units x replicates) booleans per stage."""
    kept = np.asarray(FIX[case]["kept"], dtype=bool)          # replicates x rows x stages
    out = []
    for s, st in enumerate(d._stages):
        sel = np.zeros((st.n_psu, kept.shape[0]), dtype=bool)
        for r in range(kept.shape[0]):
            sel[st.unit[kept[r, :, s]], r] = True
        out.append(sel)
    return out


@pytest.mark.parametrize("case", CASES)
def test_multipliers_given_r_draws_equal_r(case):
    _, d = design(case)
    mult = _mrb_multipliers(d._stages, r_selected(d, case))
    expected = np.asarray(FIX[case]["multipliers"], dtype=float)
    assert mult.shape == expected.shape
    np.testing.assert_allclose(mult, expected, rtol=0, atol=1e-12)
    assert np.ptp(expected) > 0.5          # the replicates really vary


@pytest.mark.parametrize("case", CASES)
def test_scale_and_rscales_as_r(case):
    _, d = design(case)
    r = d.to_replicate("mrbbootstrap", replicates=6, seed=3)
    assert r.scale == FIX[case]["scale"] == 1
    np.testing.assert_allclose(r.rscales, FIX[case]["rscales"], rtol=1e-14)
    w = np.asarray(d._w, float)
    W = np.asarray(r.replicate_weights, float)
    # our draws give R's weight formula too: the stage-1 term is -lambda or lambda (n/n* - 1)
    assert W.shape == (len(w), 6) and np.all(np.isfinite(W))


@pytest.mark.parametrize("case", ["strat2", "threestage", "apiclus2"])
def test_half_of_every_stratum_is_drawn(case):
    _, d = design(case)
    sel = _mrb_draw(d._stages, 200, np.random.default_rng(5))
    for st, s in zip(d._stages, sel, strict=True):
        counts = np.zeros((st.n_strata, 200))
        np.add.at(counts, st.unit_stratum, s.astype(float))
        np.testing.assert_array_equal(counts, np.floor(st.n_units / 2)[:, None] * np.ones(200))


def test_draws_are_uniform_over_units():
    _, d = design("strat2")
    R = 20000
    sel = _mrb_draw(d._stages, R, np.random.default_rng(11))
    pvalues = []
    for st, s in zip(d._stages, sel, strict=True):
        for h in range(st.n_strata):
            units = np.flatnonzero(st.unit_stratum == h)
            if len(units) < 2:
                continue
            hits = s[units].sum(axis=1)
            pvalues.append(stats.chisquare(hits).pvalue)
            # pairs too: every pair of a 5-PSU stratum's units drawn together equally often
    assert len(pvalues) >= 10
    assert min(pvalues) > 1e-4, pvalues
    # and the draws of a stratum cover all subsets: stratum with 5 PSUs, n* = 2: 10 pairs
    st, s = d._stages[0], sel[0]
    units = np.flatnonzero(st.unit_stratum == 2)
    pair = (s[units] * (2 ** np.arange(5))[:, None]).sum(axis=0)
    _, counts = np.unique(pair, return_counts=True)
    assert len(counts) == 10 and stats.chisquare(counts).pvalue > 1e-4


@pytest.mark.parametrize("case", ["apiclus2", "strat2", "threestage", "onestage"])
def test_bootstrap_variance_of_a_total_matches_taylor(case):
    df, d = design(case)
    R = 20000
    r = d.to_replicate("mrbbootstrap", replicates=R, seed=2026)
    y = df["y"].to_numpy(float)
    W = np.asarray(r.replicate_weights, float)
    theta = np.asarray(d._w, float) @ y
    dev2 = (W.T @ y - theta) ** 2          # E[theta_r] = theta exactly (multipliers mean 1)
    v_boot = dev2.mean()
    mc_se = dev2.std(ddof=1) / np.sqrt(R)
    v_taylor = float(d.total("y").to_frame()["se"].iloc[0]) ** 2
    assert abs(v_boot - v_taylor) < 4 * mc_se, (v_boot, v_taylor, mc_se)
    assert mc_se < 0.05 * v_taylor       # the check has power


def test_with_replacement_design_uses_first_stage_with_warning_as_r():
    df, _ = design("apiclus2")
    df = df.assign(w=1.0)
    d = sh.SurveyDesign(df, psu=["dnum", "snum"], weights="w")
    with pytest.warns(SocialHealthWarning, match="only first stage"):
        r = d.to_replicate("mrbbootstrap", replicates=5, seed=1)
    assert "only first stage used" in FIX["no_fpc_warning"]
    W = pd.DataFrame(np.asarray(r.replicate_weights, float))
    assert (W.groupby(df["dnum"].to_numpy()).nunique() == 1).all().all()   # constant in a PSU


def test_one_stage_without_fpc_is_quiet():
    df, _ = design("onestage")
    df = df.assign(w=1.0)
    d = sh.SurveyDesign(df, psu="psu", strata="st", nest=True, weights="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d.to_replicate("mrbbootstrap", replicates=5, seed=1)


def test_missing_fpc_at_a_later_stage_raises():
    df, _ = design("strat2")
    d = sh.SurveyDesign(df, psu=["psu", "ssu"], strata="st", fpc=["N1"], nest=True)
    with pytest.raises(ReplicateWeightsError, match="fpc of every stage"):
        d.to_replicate("mrbbootstrap", replicates=5, seed=1)


def lonely_frame():
    df, _ = design("strat2")
    extra = pd.DataFrame({"st": 9, "psu": 1, "ssu": [1, 2, 3], "N1": 4, "N2": 10,
                          "y": [1.0, 5.0, 9.0]})
    return pd.concat([df, extra], ignore_index=True)


def test_single_psu_stratum_raises_naming_lonely_psu():
    df = lonely_frame()
    d = sh.SurveyDesign(df, psu=["psu", "ssu"], strata="st", fpc=["N1", "N2"], nest=True)
    with pytest.raises(ReplicateWeightsError, match="lonely_psu"):
        d.to_replicate("mrbbootstrap", replicates=5, seed=1)


def test_single_unit_at_stage_two_raises_naming_lonely_psu():
    df, _ = design("strat2")
    d = sh.SurveyDesign(df, psu=["psu", "ssu"], strata="st", fpc=["N1", "N2"], nest=True)
    with pytest.raises(ReplicateWeightsError, match="stage 2 has a single unit.*lonely_psu"):
        d.to_replicate("mrbbootstrap", replicates=5, seed=1)


def test_single_psu_stratum_removed_like_r():
    # R: n* = 0 gives the stratum's rows term 0 at that stage and every later one
    df = lonely_frame()
    d = sh.SurveyDesign(df, psu=["psu", "ssu"], strata="st", fpc=["N1", "N2"], nest=True,
                        lonely_psu="remove")
    r = d.to_replicate("mrbbootstrap", replicates=50, seed=1)
    W = np.asarray(r.replicate_weights, float) / np.asarray(d._w, float)[:, None]
    np.testing.assert_allclose(W[(df["st"] == 9).to_numpy()], 1.0, rtol=0, atol=1e-14)
    assert np.ptp(W[(df["st"] == 1).to_numpy()]) > 0.1


def test_certainty_psu_keeps_its_later_stages():
    # a single PSU taken with certainty (N = n = 1): no stage-1 term, but its SSUs are still
    # resampled (R instead drops them; Preston's rule with lambda_1 = 0 keeps them)
    df = lonely_frame()
    df.loc[df["st"] == 9, "N1"] = 1
    d = sh.SurveyDesign(df, psu=["psu", "ssu"], strata="st", fpc=["N1", "N2"], nest=True,
                        lonely_psu="remove")        # (for strat2's stage-2 singleton)
    r = d.to_replicate("mrbbootstrap", replicates=50, seed=1)
    W = np.asarray(r.replicate_weights, float) / np.asarray(d._w, float)[:, None]
    rows = (df["st"] == 9).to_numpy()
    assert np.ptp(W[rows]) > 0.1
    # n = 3, n* = 1, f2 = 0.3, F = 1: lambda = sqrt(0.7 / 2); terms -lambda or 2 lambda
    lam = np.sqrt(0.7 / 2)
    assert set(np.round(W[rows].ravel() - 1, 12)) <= {round(-lam, 12), round(2 * lam, 12)}


@pytest.mark.parametrize("method", ["mrbbootstrap", "bootstrap", "subbootstrap"])
@pytest.mark.parametrize("bad", [1, 0, 2.7, "10", None, True])
def test_replicates_must_be_a_whole_number_of_at_least_two(method, bad):
    # 2.7 was truncated to 2 replicates without a word, None raised Python's TypeError
    _, d = design("apiclus2")
    with pytest.raises(DesignError, match="replicates must be"):
        d.to_replicate(method, replicates=bad, seed=1)


def test_replicates_given_as_a_whole_float_or_numpy_integer():
    _, d = design("apiclus2")
    assert d.to_replicate("mrbbootstrap", replicates=6.0, seed=1).n_replicates == 6
    assert d.to_replicate("mrbbootstrap", replicates=np.int64(7), seed=1).n_replicates == 7


def test_same_seed_same_replicate_weights():
    _, d = design("threestage")
    a = d.to_replicate("mrbbootstrap", replicates=30, seed=11).replicate_weights
    b = d.to_replicate("mrbbootstrap", replicates=30, seed=11).replicate_weights
    c = d.to_replicate("mrbbootstrap", replicates=30, seed=12).replicate_weights
    assert np.array_equal(a, b) and not np.array_equal(a, c)


# ---------------------------------------------------------------- the method the design reports
# R keeps as.svrepdesign's type: print() says "Multistage rescaled bootstrap with 50
# replicates" for type = "mrbbootstrap" and "(n-1) bootstrap" for "subbootstrap"; both were
# reported as "bootstrap" here, as if Rao-Wu's bootstrap of the first stage had been drawn.
@pytest.mark.parametrize("method", ["mrbbootstrap", "subbootstrap", "bootstrap"])
def test_replicate_design_reports_the_bootstrap_it_was_made_with(method):
    _, d = design("apiclus2")
    r = d.to_replicate(method, replicates=8, seed=1)
    assert r.method == method
    first = f"Replicate-weight survey design ({method}, 8 replicates)"
    assert repr(r).splitlines()[0] == first == r.describe().splitlines()[0]
    assert first in str(r.mean("y"))                # results name the design
    scale, rscales = (1.0, 1 / 7) if method == "mrbbootstrap" else (1 / 7, 1.0)
    assert r.scale == pytest.approx(scale, rel=1e-15)
    np.testing.assert_allclose(r.rscales, rscales, rtol=1e-15)


def test_r_code_of_an_mrbbootstrap_design_is_svrepdesign_bootstrap_with_its_scales():
    # made by to_replicate: R's as.svrepdesign(type = "mrbbootstrap") of the Taylor design;
    # built from saved weights: R's svrepdesign() has no type "mrbbootstrap", so the weights go
    # in as bootstrap weights with as.svrepdesign's scale = 1 and rscales = 1/(R-1)
    from socialhealth.report.rcode import design_lines

    _, d = design("apiclus2")
    r = d.to_replicate("mrbbootstrap", replicates=8, seed=1)
    line = design_lines(r)[-1]
    assert line == (f"des <- as.svrepdesign({d.r_code()}, type = \"mrbbootstrap\", "
                    "replicates = 8)")
    W = np.asarray(r.replicate_weights)
    data = d.data.assign(**{f"bw{j + 1}": W[:, j] for j in range(8)})
    direct = sh.ReplicateDesign(data, weights=None, replicate_weights=[f"bw{j + 1}" for j in
                                                                      range(8)],
                                method="mrbbootstrap")
    line = design_lines(direct)[-1]
    assert 'type = "bootstrap", scale = 1, rscales = 0.14285714285714285' in line


@pytest.mark.parametrize("method", ["mrbbootstrap", "subbootstrap"])
def test_replicate_design_given_these_methods_uses_as_svrepdesign_scales(method):
    # a ReplicateDesign made by the user from saved replicate weights: the same scale and
    # rscales as to_replicate (R's as.svrepdesign), so the same standard errors
    df, d = design("apiclus2")
    r = d.to_replicate(method, replicates=8, seed=1)
    again = sh.ReplicateDesign(df, weights=np.asarray(r.weights), method=method,
                               replicate_weights=np.asarray(r.replicate_weights))
    assert again.method == method
    assert (again.scale, list(again.rscales)) == (r.scale, list(r.rscales))
    # the variance formula by hand: scale * sum rscales (theta_r - mean theta_r)^2
    y = df["y"].to_numpy(float)
    W = np.asarray(r.replicate_weights, float)
    theta_r = (W * y[:, None]).sum(0) / W.sum(0)
    factor = (1.0, 1 / 7) if method == "mrbbootstrap" else (1 / 7, 1.0)
    var = factor[0] * factor[1] * ((theta_r - theta_r.mean()) ** 2).sum()
    assert again.mean("y").se.iloc[0] == pytest.approx(np.sqrt(var), rel=1e-10)
    assert r.mean("y").se.iloc[0] == pytest.approx(np.sqrt(var), rel=1e-10)


def test_unknown_replicate_method_names_the_methods():
    df, _ = design("apiclus2")
    with pytest.raises(DesignError, match="mrbbootstrap.*sdr.*other"):
        sh.ReplicateDesign(df, weights=None, replicate_weights=np.ones((len(df), 3)),
                           method="mrb")
