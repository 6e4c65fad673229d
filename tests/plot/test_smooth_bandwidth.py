"""Plug-in bandwidths (KernSmooth dpik / dpill) and svysmooth with R's default bandwidth:
plot.smooth / plot.density against R survey 4.1-1 and KernSmooth 2.23;
fixtures/svysmooth_bandwidth_reference.json, written by fixtures/svysmooth_bandwidth_reference.R
(regeneration command in its header)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import socialhealth as sh  # noqa: E402
from r_compare import r_numbers  # noqa: E402
from socialhealth.errors import PlotError  # noqa: E402
from socialhealth.plot._bandwidth import BandwidthError, dpik, dpill  # noqa: E402

REF = json.loads((Path(__file__).parent / "fixtures" /
                  "svysmooth_bandwidth_reference.json").read_text())
TOL = 1e-10
VECTORS = REF["vectors"]


_num = r_numbers   # R's JSON numbers (r_compare)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


# ------------------------------------------------------------------ plain vectors
@pytest.mark.parametrize("case", sorted(VECTORS))
def test_dpik_matches_kernsmooth(case):
    ref = VECTORS[case]
    assert dpik(_num(ref["x"])) == pytest.approx(ref["dpik"], rel=TOL)


@pytest.mark.parametrize("case", ["small_25", "uniform_12", "ties_10_levels", "density_small_7"])
def test_dpik_truncates_the_largest_value_as_kernsmooth(case):
    """Where the largest value falls on the grid's end it is dropped from the binned counts
    (KernSmooth's truncation); keeping it would move the bandwidth by more than 0.1%."""
    ref = VECTORS[case]
    assert abs(ref["dpik_untruncated"] / ref["dpik"] - 1) > 1e-3
    assert dpik(_num(ref["x"])) == pytest.approx(ref["dpik"], rel=TOL)


DPILL_CASES = sorted(c for c in VECTORS if "y" in VECTORS[c] and not str(
    VECTORS[c]["dpill"]).startswith("error"))


@pytest.mark.parametrize("case", DPILL_CASES)
@pytest.mark.parametrize("gridsize, key", [(401, "dpill"), (101, "dpill_101")])
def test_dpill_matches_kernsmooth(case, gridsize, key):
    ref = VECTORS[case]
    h = dpill(_num(ref["x"]), _num(ref["y"]), gridsize=gridsize)
    if case == "shifted_300":
        # x = 1e5 + 1000 z: R's quartic fits on raw powers of x lose digits; R's own answer on
        # the centred x (the same bandwidth in exact arithmetic) is the reference
        assert abs(ref[key] / VECTORS["normal_300"][key] / 1000 - 1) > 1e-6
        assert h == pytest.approx(1000 * VECTORS["normal_300"][key], rel=TOL)
    else:
        assert h == pytest.approx(ref[key], rel=TOL)
    if key == "dpill":
        assert h == pytest.approx(ref["dpill_centred"], rel=TOL)


def test_dpill_trims_one_percent_at_each_end():
    """n = 100: trim = 0.01 drops the outliers at -3 and 4 and R returns a bandwidth; the same
    data less one point (n = 99) keep them, and R stops (NaN: a gap no pilot kernel spans)."""
    with_trim, without = VECTORS["outliers_100"], VECTORS["outliers_99"]
    assert dpill(_num(with_trim["x"]), _num(with_trim["y"])) == pytest.approx(
        with_trim["dpill"], rel=TOL)
    assert without["dpill"].startswith("error")
    with pytest.raises(BandwidthError, match="gap"):
        dpill(_num(without["x"]), _num(without["y"]))


@pytest.mark.parametrize("case, match", [
    ("n_5", "at least 6"), ("constant", "are all equal"), ("gap", "gap"),
    ("four_levels", "fewer than 5 distinct"),
])
def test_dpill_undefined_where_r_fails(case, match):
    ref = REF["failures"][case]
    assert str(ref["dpill"]).startswith("error")          # R stops (or NaN -> stops)
    x, y = _num(ref["x"]), _num(ref["y"])
    with pytest.raises(BandwidthError, match=match):
        dpill(x, y)
    design = sh.SurveyDesign(pd.DataFrame({"x": x, "y": y, "w": 1.0}), weights="w")
    with pytest.raises(PlotError, match="single value" if case == "constant" else
                       "Give bandwidth="):
        sh.plot.smooth(design, "y", "x")
    if case != "constant":                        # a given bandwidth still works
        assert len(sh.plot.smooth(design, "y", "x", bandwidth=1.0).to_frame()) == 401


def test_dpik_undefined_without_spread():
    ref = REF["failures"]["constant"]
    assert ref["dpik"].startswith("error")
    with pytest.raises(BandwidthError, match="spread"):
        dpik(_num(ref["x"]))
    for case in ("n_5", "gap", "four_levels"):
        assert dpik(_num(REF["failures"][case]["x"])) == pytest.approx(
            REF["failures"][case]["dpik"], rel=TOL)


# ------------------------------------------------------------------ svysmooth on designs
@pytest.fixture(scope="module")
def designs():
    strat = sh.datasets.load_example("apistrat")
    clus1 = sh.datasets.load_example("apiclus1")
    syn = pd.DataFrame(REF["synthetic"]).astype(float)
    dstrat = sh.SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    return {
        "strat": dstrat,
        "strat_E": dstrat.subset(strat["stype"] == "E"),
        "strat_H": dstrat.subset(strat["stype"] == "H"),
        "strat_M": dstrat.subset(strat["stype"] == "M"),
        "clus1": sh.SurveyDesign(clus1, psu="dnum", weights="pw", fpc="fpc"),
        "syn": sh.SurveyDesign(syn, weights="w"),
    }


SMOOTH_CASES = {
    "strat_api00_ell": ("strat", "api00", "ell", 401),
    "strat_api00_enroll": ("strat", "api00", "enroll", 401),
    "strat_api00_mobility": ("strat", "api00", "mobility", 401),
    "strat_api00_avg_ed": ("strat", "api00", "avg.ed", 401),
    "strat_api00_meals_101": ("strat", "api00", "meals", 101),
    "strat_E_api00_ell": ("strat_E", "api00", "ell", 401),
    "clus1_api00_api99": ("clus1", "api00", "api99", 401),
    "clus1_api00_meals": ("clus1", "api00", "meals", 401),
    "syn_y_x": ("syn", "y", "x", 401),
}
DENSITY_CASES = {
    "dens_strat_api00": ("strat", "api00", 401),
    "dens_strat_enroll": ("strat", "enroll", 401),
    "dens_strat_ell": ("strat", "ell", 401),
    "dens_strat_avg_ed": ("strat", "avg.ed", 401),
    "dens_strat_mobility": ("strat", "mobility", 401),
    "dens_strat_meals_101": ("strat", "meals", 101),
    "dens_strat_E_api00": ("strat_E", "api00", 401),
    "dens_strat_H_api00": ("strat_H", "api00", 401),
    "dens_strat_M_api00": ("strat_M", "api00", 401),
    "dens_clus1_api00": ("clus1", "api00", 401),
    "dens_clus1_enroll": ("clus1", "enroll", 401),
    "dens_syn_x": ("syn", "x", 401),
    "dens_syn_k": ("syn", "k", 401),
}


def test_cases_cover_the_fixture():
    assert set(SMOOTH_CASES) | set(DENSITY_CASES) == set(REF["svysmooth"])


@pytest.mark.parametrize("case", sorted(SMOOTH_CASES))
def test_smooth_default_bandwidth_matches_svysmooth(designs, case):
    name, y, x, ngrid = SMOOTH_CASES[case]
    ref = REF["svysmooth"][case]
    design = designs[name]
    p = sh.plot.smooth(design, y, x, ngrid=ngrid)
    assert p.bandwidth == pytest.approx(ref["bandwidth"], rel=TOL)
    t = p.to_frame()
    np.testing.assert_allclose(t["x"], _num(ref["x"]), rtol=TOL)
    # the curve is undefined (NaN here, noise in R) where the window holds data at fewer than
    # two grid points; elsewhere it is R's
    data = design.data
    used = data[x].notna() & data[y].notna() & design.in_subset
    assert used.sum() == ref["n"]
    grid = t["x"].to_numpy()
    half = math.floor(4 * p.bandwidth / (grid[1] - grid[0]))
    occupied = np.zeros(len(grid), bool)
    occupied[np.searchsorted(grid, data.loc[used, x].to_numpy(float), side="right") - 1] = True
    n_occ = np.array([occupied[max(0, j - half):j + half + 1].sum() for j in range(len(grid))])
    ok = n_occ >= 2
    assert np.array_equal(t["y"].notna().to_numpy(), ok)
    np.testing.assert_allclose(t["y"].to_numpy()[ok], _num(ref["y"])[ok], rtol=TOL)


@pytest.mark.parametrize("case", sorted(DENSITY_CASES))
def test_density_default_bandwidth_matches_svysmooth(designs, case):
    name, x, ngrid = DENSITY_CASES[case]
    ref = REF["svysmooth"][case]
    p = sh.plot.density(designs[name], x, ngrid=ngrid)
    assert p.bandwidth == pytest.approx(ref["bandwidth"], rel=TOL)
    t = p.to_frame()
    assert list(t.columns) == ["x", "density"] and len(t) == ngrid
    np.testing.assert_allclose(t["x"], _num(ref["x"]), rtol=TOL)
    np.testing.assert_allclose(t["density"], _num(ref["y"]), rtol=TOL, atol=1e-15)
    np.testing.assert_allclose(p.ax.lines[-1].get_ydata(), _num(ref["y"]), rtol=TOL,
                               atol=1e-15)


def test_density_with_a_given_bandwidth(designs):
    ref = REF["dens_strat_api00_bw15"]
    p = sh.plot.density(designs["strat"], "api00", bandwidth=15)
    assert p.bandwidth == 15.0
    np.testing.assert_allclose(p.to_frame()["density"], _num(ref["y"]), rtol=TOL, atol=1e-15)


def test_density_by_group_is_svysmooth_on_each_subset(designs):
    p = sh.plot.density(designs["strat"], "api00", by="stype")
    t = p.to_frame()
    assert list(t.columns) == ["stype", "x", "density"]
    assert set(p.bandwidth) == {"E", "H", "M"}
    for level in "EHM":
        ref = REF["svysmooth"][f"dens_strat_{level}_api00"]
        part = t[t["stype"] == level]
        assert p.bandwidth[level] == pytest.approx(ref["bandwidth"], rel=TOL)
        np.testing.assert_allclose(part["x"], _num(ref["x"]), rtol=TOL)
        np.testing.assert_allclose(part["density"], _num(ref["y"]), rtol=TOL, atol=1e-15)
    assert [t.get_text() for t in p.ax.get_legend().get_texts()] == ["E", "H", "M"]


def test_density_of_a_normal_sample_integrates_to_about_one():
    """Hand check independent of R: equal weights, a large normal sample."""
    x = np.random.default_rng(5).normal(10, 2, 4000)
    d = sh.SurveyDesign(pd.DataFrame({"x": x, "w": 3.0}), weights="w")
    p = sh.plot.density(d, "x")
    t = p.to_frame()
    area = np.sum(t["density"]) * (t["x"].iloc[1] - t["x"].iloc[0])
    assert area == pytest.approx(1.0, abs=0.01)
    mid = np.abs(t["x"] - 10).idxmin()
    assert t["density"][mid] == pytest.approx(1 / (2 * math.sqrt(2 * math.pi)), rel=0.05)
    # Silverman's normal-reference bandwidth is close to the plug-in for normal data
    assert p.bandwidth == pytest.approx(1.06 * 2 * 4000 ** -0.2, rel=0.15)


def test_density_weights_shift_the_curve():
    """Weighting the upper half 3:1 moves the estimated population mass there."""
    x = np.linspace(0, 1, 201)
    d = sh.SurveyDesign(pd.DataFrame({"x": x, "w": np.where(x > 0.5, 3.0, 1.0)}), weights="w")
    t = sh.plot.density(d, "x", bandwidth=0.05).to_frame()
    low = t.loc[t["x"].between(0.1, 0.4), "density"].mean()
    high = t.loc[t["x"].between(0.6, 0.9), "density"].mean()
    assert high / low == pytest.approx(3.0, rel=0.02)


@pytest.mark.parametrize("kwargs, match", [
    ({"x": "nope"}, "not a column"),
    ({"x": "stype"}, "not numeric"),
    ({"x": "api00", "bandwidth": -1}, "positive"),
    ({"x": "api00", "bandwidth": True}, "positive number"),     # was silently 1.0
    ({"x": "api00", "bandwidth": np.float64("nan")}, r"number \(.*\), not NaN\.$"),
    ({"x": "api00", "bandwidth": 0.1}, "below the grid spacing"),
    ({"x": "api00", "ngrid": 1}, "ngrid"),
    ({"x": "api00", "ngrid": 401.0}, r"whole number of at least 2, not 401\.0\.$"),
    ({"x": "api00", "by": "nope"}, "not in the design"),
])
def test_density_errors(designs, kwargs, match):
    with pytest.raises(PlotError, match=match):
        sh.plot.density(designs["strat"], **kwargs)


def test_density_without_spread_asks_for_nothing_impossible():
    d = sh.SurveyDesign(pd.DataFrame({"x": [2.0] * 5, "w": 1.0}), weights="w")
    with pytest.raises(PlotError, match="fewer than two distinct values"):
        sh.plot.density(d, "x")
    # quartiles equal but values spread: the plug-in's scale is zero
    d = sh.SurveyDesign(pd.DataFrame({"x": [1.0] + [2.0] * 20 + [3.0], "w": 1.0}), weights="w")
    with pytest.raises(PlotError, match="Give bandwidth="):
        sh.plot.density(d, "x")
    assert len(sh.plot.density(d, "x", bandwidth=0.5).to_frame()) == 401


def test_smooth_keeps_an_explicit_bandwidth(designs):
    p = sh.plot.smooth(designs["strat"], "api00", "ell", bandwidth=10)
    assert p.bandwidth == 10.0
    assert p.to_frame()["y"].iloc[0] == pytest.approx(725.65, abs=0.01)


def test_smooth_plug_in_undefined_when_trimming_leaves_one_value():
    """98 equal values between two others: the trimmed x is constant, a given bandwidth works."""
    x = np.r_[0.0, np.full(98, 5.0), 10.0]
    d = sh.SurveyDesign(pd.DataFrame({"x": x, "y": np.arange(100.0), "w": 1.0}), weights="w")
    with pytest.raises(PlotError, match="trimming.*Give bandwidth="):
        sh.plot.smooth(d, "y", "x")
    assert sh.plot.smooth(d, "y", "x", bandwidth=3.0).bandwidth == 3.0


def test_smooth_refuses_a_yes_no_bandwidth(designs):
    """bandwidth=True used to be taken as 1.0 (float(True)) without a word."""
    with pytest.raises(PlotError, match="bandwidth must be a positive number"):
        sh.plot.smooth(designs["strat"], "api00", "ell", bandwidth=True)


def test_density_uses_negative_weights_as_they_are():
    """The documented behaviour: a linear calibration's negative weight is binned as it is."""
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "w": 1.0})
    cal = sh.SurveyDesign(df, weights="w").calibrate("~x", {"(Intercept)": 8.0, "x": 60.0})
    w = np.asarray(cal.weights, float)
    assert (w < 0).any()
    t = sh.plot.density(cal, "x", bandwidth=0.3).to_frame()
    at = t.loc[(t["x"] - df["x"][np.argmin(w)]).abs().idxmin(), "density"]
    assert at < 0


def test_density_by_a_group_with_one_value_names_it_and_the_way_out():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 9], "g": ["a"] * 5 + ["b"], "w": 1.0})
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(PlotError, match=r"in g = 'b'.*Leave that group out"):
        sh.plot.density(d, "x", by="g", bandwidth=1.0)
