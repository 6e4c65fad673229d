"""plot.qq / plot.scatter against R survey 4.1-1 (svyqqmath, svyqqplot, svyplot) on the synthetic
apistrat and apisrs example data: fixtures/svyqq_scatter_reference.json, written by
fixtures/svyqq_scatter_reference.R (regeneration command in its header). R's numbers are the
arguments its functions hand to the graphics calls (plot, symbols, gplot.hexbin), captured with
trace()."""
from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402

import socialhealth as sh  # noqa: E402
from r_compare import r_numbers  # noqa: E402
from socialhealth.errors import PlotError  # noqa: E402

REF = json.loads((Path(__file__).parent / "fixtures" / "svyqq_scatter_reference.json").read_text())
TOL = 1e-10


_num = r_numbers   # R's JSON numbers (r_compare)


@pytest.fixture(scope="module")
def api():
    return sh.datasets.load_example("apistrat")


@pytest.fixture(scope="module")
def design(api):
    return sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _check_xy(table: pd.DataFrame, ref: dict) -> None:
    np.testing.assert_allclose(table["x"], _num(ref["x"]), rtol=TOL, atol=1e-12)
    np.testing.assert_allclose(table["y"], _num(ref["y"]), rtol=TOL, atol=1e-12)


# --------------------------------------------------------------------------- qq: normal
@pytest.mark.parametrize("case, variable, n_missing", [("api00", "api00", 0),
                                                        ("avg_ed", "avg.ed", 5)])
def test_qq_normal_matches_svyqqmath(design, case, variable, n_missing):
    p = sh.plot.qq(design, variable)
    _check_xy(p.to_frame(), REF["qqmath"][case])
    assert p.n_missing == n_missing
    line = p.ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), _num(REF["qqmath"][case]["x"]), rtol=TOL)
    np.testing.assert_allclose(line.get_ydata(), _num(REF["qqmath"][case]["y"]), rtol=TOL)


def test_qq_normal_of_a_subset_and_of_a_replicate_design(design):
    sub = design.subset(design.data["stype"] == "H")
    _check_xy(sh.plot.qq(sub, "api00").to_frame(), REF["qqmath"]["api00_subset_H"])
    _check_xy(sh.plot.qq(design.to_replicate(), "api00").to_frame(),
              REF["qqmath"]["api00_replicate"])


def test_qq_normal_by_group_is_svyqqmath_of_each_subset(design):
    t = sh.plot.qq(design, "enroll", by="stype").to_frame()
    assert list(dict.fromkeys(t["stype"])) == ["E", "H", "M"]
    for g in ("E", "H", "M"):
        _check_xy(t[t["stype"] == g].reset_index(drop=True), REF["qqmath"]["enroll_by_stype"][g])


def test_qq_normal_positions_by_hand():
    """Weights 1, 3, 1, 1 on 4, 1, 3, 2: sorted 1 (w 3), 2, 3, 4 (w 1 each); running shares
    3/6, 4/6, 5/6, 6/6 shrunk by n / (n + 1) = 4/5; equal weights give k / (n + 1)."""
    df = pd.DataFrame({"y": [4.0, 1, 3, 2], "w": [1.0, 3, 1, 1]})
    t = sh.plot.qq(sh.SurveyDesign(df, weights="w"), "y").to_frame()
    np.testing.assert_allclose(t["probability"], [0.4, 8 / 15, 2 / 3, 0.8], rtol=1e-14)
    np.testing.assert_allclose(t["x"], stats.norm.ppf([0.4, 8 / 15, 2 / 3, 0.8]), rtol=1e-14)
    assert t["y"].tolist() == [1, 2, 3, 4]
    eq = sh.plot.qq(sh.SurveyDesign(df.assign(w=2.0), weights="w"), "y").to_frame()
    np.testing.assert_allclose(eq["probability"], [0.2, 0.4, 0.6, 0.8], rtol=1e-14)


def test_qq_normal_with_negative_calibrated_weights_by_hand():
    """A linear calibration makes two weights negative; R's positions use the weights as
    they are, and a position outside (0, 1) has no normal quantile (NaN, not drawn)."""
    df = pd.DataFrame({"y": [5.0, 1, 4, 2, 8, 3, 7, 6], "x": [1.0, 2, 3, 4, 5, 6, 7, 8],
                       "w": 1.0})
    cal = sh.SurveyDesign(df, weights="w").calibrate("~x", {"(Intercept)": 8.0, "x": 60.0})
    w = np.asarray(cal.weights, float)
    assert (w < 0).sum() == 2
    t = sh.plot.qq(cal, "y").to_frame()
    order = np.argsort(df["y"].to_numpy(), kind="stable")
    share = np.cumsum(w[order]) / w.sum() * 8 / 9
    np.testing.assert_allclose(t["probability"], share, rtol=1e-12)
    inside = (share > 0) & (share < 1)
    assert not inside.all() and np.isnan(t["x"][~inside]).all()
    np.testing.assert_allclose(t["x"][inside], stats.norm.ppf(share[inside]), rtol=1e-12)


def test_qq_against_another_quantile_function(design, api):
    t = sh.plot.qq(design, "api00", against=stats.expon.ppf).to_frame()
    ref = REF["qqmath"]["api00"]
    np.testing.assert_allclose(t["x"], stats.expon.ppf(stats.norm.cdf(_num(ref["x"]))),
                               rtol=1e-9)
    np.testing.assert_allclose(t["y"], _num(ref["y"]), rtol=TOL)


# --------------------------------------------------------------------------- qq: variable
@pytest.mark.parametrize("case, against, qrule", [
    ("api00_api99_math", "api99", None), ("api00_api99_hf8", "api99", "hf8"),
    ("api00_avg_ed_math", "avg.ed", "math"),          # 5 rows without avg.ed left out
])
def test_qq_against_a_variable_is_r_quantiles_at_midpoints(design, case, against, qrule):
    kwargs = {} if qrule is None else {"qrule": qrule}
    p = sh.plot.qq(design, "api00", against=against, **kwargs)
    t = p.to_frame()
    ref = REF["qrule_at"][case]
    if qrule == "hf8":
        _check_xy(t, ref)
    else:
        _check_math_rule(design, t, ref, against, "api00")
    n = len(t)
    np.testing.assert_allclose(t["probability"], (np.arange(1, n + 1) - 0.5) / n, rtol=1e-15)
    assert p.n_missing == 200 - n


def _check_math_rule(design, t, ref, xname, yname) -> int:
    """R's qrule_math at every point, except below the first step of the CDF, where R returns
    the second-smallest value and the plot the smallest (the inverse CDF; module notes).
    Returns the number of such points."""
    data = design.data
    use = design.in_subset & data[xname].notna().to_numpy() & data[yname].notna().to_numpy()
    w = np.asarray(design.weights, float)[use]
    n_below = 0
    for col, name in (("x", xname), ("y", yname)):
        v = data.loc[use, name].to_numpy(float)
        first_share = w[v == v.min()].sum() / w.sum()      # F(x_(1)), ties included
        below = t["probability"].to_numpy() < first_share
        np.testing.assert_allclose(t[col][~below], _num(ref[col])[~below], rtol=TOL)
        vs = np.unique(v)
        assert (t[col][below] == vs[0]).all() and (_num(ref[col])[below] == vs[1]).all()
        n_below += int(below.sum())
    return n_below


def test_qq_against_a_variable_by_group(design):
    t = sh.plot.qq(design, "api00", against="api99", by="stype").to_frame()
    h = t[t["stype"] == "H"].reset_index(drop=True)
    n_below = _check_math_rule(design.subset(design.data["stype"] == "H"), h,
                               REF["qrule_at"]["api00_api99_math_H"], "api99", "api00")
    assert n_below == 2      # one point of each variable below its first CDF step


def test_qq_against_a_variable_points_are_design_quantiles(design):
    t = sh.plot.qq(design, "api00", against="api99").to_frame()
    probs = t["probability"].iloc[[9, 99, 149]].tolist()       # above the first CDF step
    q = design.quantile(["api99", "api00"], probs, ci=False).to_frame()
    np.testing.assert_allclose(t["x"].iloc[[9, 99, 149]], q[q["term"] == "api99"]["estimate"])
    np.testing.assert_allclose(t["y"].iloc[[9, 99, 149]], q[q["term"] == "api00"]["estimate"])


def test_qq_with_equal_weights_draws_what_svyqqplot_draws():
    srs = sh.datasets.load_example("apisrs")
    d = sh.SurveyDesign(srs, weights="pw", fpc="fpc")
    _check_xy(sh.plot.qq(d, "api00", against="api99").to_frame(),
              REF["qqplot_drawn"]["srs_api00_api99"])
    # why (i - 1/2) / n: R's own qrule_math at i / n, on the jumps of the CDF, moves 40 of the
    # 200 equal-weight (30.97) points to the next value through the rounding of running sums
    at_jumps = _num(REF["qrule_at"]["srs_api00_api99_math_i_over_n"]["x"])
    assert (at_jumps != np.sort(srs["api99"].to_numpy(float))).sum() == 40


def test_r_411_svyqqplot_with_one_design_ignores_the_weights(design, api):
    """Why socialhealth's points are checked against R's quantile rules rather than the drawn
    svyqqplot: with one design R plots the unweighted sorted values."""
    drawn = REF["qqplot_drawn"]["api00_api99"]
    assert _num(drawn["x"]).tolist() == sorted(api["api99"])
    assert _num(drawn["y"]).tolist() == sorted(api["api00"])
    ours = sh.plot.qq(design, "api00", against="api99").to_frame()
    assert not np.allclose(ours["x"], _num(drawn["x"]))


# --------------------------------------------------------------------------- qq: errors
@pytest.mark.parametrize("call, match", [
    (lambda d: sh.plot.qq(d, "nope"), "not a column"),
    (lambda d: sh.plot.qq(d, "stype"), "not numeric"),
    (lambda d: sh.plot.qq(d, "api00", against="stype"), "not numeric"),
    (lambda d: sh.plot.qq(d, "api00", by="nope"), "not in the design data; give one of its "
                                                  "columns: stype, snum"),
    (lambda d: sh.plot.qq(d, "api00", qrule="hf8"), "applies when against= is a column"),
    (lambda d: sh.plot.qq(d, "api00", against="api99", qrule="hf10"), "unknown qrule"),
    (lambda d: sh.plot.qq(d, "api00", against=3), "against= takes"),
    (lambda d: sh.plot.qq(d.data, "api00"), "takes a survey design"),
])
def test_qq_clear_errors(design, call, match):
    with pytest.raises(PlotError, match=match):
        call(design)


def test_qq_all_missing_variable():
    df = pd.DataFrame({"y": [np.nan, np.nan, np.nan], "x": [1.0, 2, 3], "w": 1.0})
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(PlotError, match="no row has a value of 'y'"):
        sh.plot.qq(d, "y")
    with pytest.raises(PlotError, match="no row has a value of 'x' and 'y'"):
        sh.plot.qq(d, "x", against="y")


# --------------------------------------------------------------------------- scatter: bubble
@pytest.mark.parametrize("case, x, kwargs", [
    ("api00_api99", "api99", {}), ("api00_avg_ed", "avg.ed", {}),      # 5 rows without avg.ed
    ("api00_api99_inches", "api99", {"inches": 0.1}),
])
def test_bubble_radii_are_rs_symbols_scaling(design, case, x, kwargs):
    ref = REF["bubble"][case]
    circles = _num(ref["circles"])                    # R: sqrt(weights), all rows
    r_radius = ref["inches"] * circles / np.nanmax(circles)
    p = sh.plot.scatter(design, x, "api00", **kwargs)
    t = p.to_frame()
    rows = t.index.to_numpy()
    np.testing.assert_allclose(t["radius"], r_radius[rows], rtol=TOL)
    np.testing.assert_allclose(t["size"], (2 * 72 * r_radius[rows]) ** 2, rtol=TOL)
    assert p.n_missing == 200 - len(t)
    np.testing.assert_allclose(p.ax.collections[0].get_sizes(), t["size"], rtol=1e-12)


def test_bubble_scale_counts_rows_not_drawn():
    """As R's symbols(): the largest weight of the design sets the scale even when its row is
    not drawn (missing x); measured on R's pdf output: radius = inches * sqrt(w / w_max)."""
    df = pd.DataFrame({"x": [1.0, 2, np.nan], "y": [1.0, 2, 3], "w": [1.0, 4, 100]})
    t = sh.plot.scatter(sh.SurveyDesign(df, weights="w"), "x", "y").to_frame()
    np.testing.assert_allclose(t["radius"], [0.005, 0.01], rtol=1e-14)


# --------------------------------------------------------------------------- transparent
@pytest.mark.parametrize("case, x, kwargs", [
    ("api00_api99", "api99", {}), ("api00_avg_ed", "avg.ed", {}),
    ("api00_api99_alpha", "api99", {"alpha": (0.2, 1)}),
])
def test_transparent_opacities_are_rs(design, case, x, kwargs):
    ref = REF["transparent"][case]
    p = sh.plot.scatter(design, x, "api00", style="transparent", **kwargs)
    t = p.to_frame()
    rows = t.index.to_numpy()
    np.testing.assert_allclose(t["alpha"], _num(ref["alpha"])[rows], rtol=TOL)
    # R hands rgb() colours on to the device with the opacity in 8 bits (255 a + 0.5)
    r_bytes = np.array([int(c[-2:], 16) for c in ref["col"]])[rows]
    assert ((255 * t["alpha"] + 0.5).astype(int).to_numpy() == r_bytes).all()
    np.testing.assert_allclose(p.ax.collections[0].get_facecolors()[:, 3], t["alpha"],
                               rtol=1e-12)


# --------------------------------------------------------------------------- hex
@pytest.mark.parametrize("case, x, y, kwargs", [
    ("api00_api99", "api99", "api00", {}), ("api00_api99_10", "api99", "api00", {"xbins": 10}),
    ("enroll_api00_20", "api00", "enroll", {"xbins": 20}),
    ("api00_avg_ed", "avg.ed", "api00", {}),
])
def test_hex_cells_counts_and_centroids_are_rs(design, api, case, x, y, kwargs):
    ref = REF["hex"][case]
    p = sh.plot.scatter(design, x, y, style="hex", **kwargs)
    t = p.to_frame()
    assert t["cell"].tolist() == ref["cell"]
    for ours, theirs in (("x", "x"), ("y", "y"), ("count", "count"),
                         ("x_centroid", "xcm"), ("y_centroid", "ycm")):
        np.testing.assert_allclose(t[ours], _num(ref[theirs]), rtol=TOL, err_msg=ours)
    complete = api[x].notna() & api[y].notna()
    # the weighted counts add up to the estimated population size of the rows drawn
    assert t["count"].sum() == pytest.approx(api.loc[complete, "pw"].sum(), rel=1e-12)
    assert t["n"].sum() == complete.sum() and p.n_missing == (~complete).sum()
    cid = _num(ref["cID"])                         # R's cell of every row (NA: missing)
    counts = pd.Series(api["pw"].to_numpy()[complete.to_numpy()]).groupby(
        cid[complete.to_numpy()].astype(int)).sum()
    np.testing.assert_allclose(t["count"], counts.to_numpy(), rtol=1e-12)
    coll = p.ax.collections[0]
    assert len(coll.get_paths()) == len(t)
    np.testing.assert_allclose(coll.get_array(), t["count"], rtol=1e-15)


def test_hex_of_a_subset_counts_only_its_rows(design, api):
    sub = design.subset(design.data["stype"] == "H")
    t = sh.plot.scatter(sub, "api99", "api00", style="hex").to_frame()
    assert t["count"].sum() == pytest.approx(api.loc[api["stype"] == "H", "pw"].sum(),
                                             rel=1e-12)
    assert t["n"].sum() == (api["stype"] == "H").sum()


def test_scatter_replicate_design_gives_the_same_numbers(design):
    rep = design.to_replicate()
    for style in ("bubble", "transparent", "hex"):
        pd.testing.assert_frame_equal(sh.plot.scatter(rep, "api99", "api00", style=style)
                                      .to_frame(),
                                      sh.plot.scatter(design, "api99", "api00", style=style)
                                      .to_frame())


def test_negative_weights_are_left_out_of_bubbles_with_a_warning():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "y": [2.0, 1, 4, 3, 6, 5, 8, 9],
                       "w": 1.0})
    cal = sh.SurveyDesign(df, weights="w").calibrate("~x", {"(Intercept)": 8.0, "x": 60.0})
    assert (cal.weights < 0).sum() == 2
    with pytest.warns(sh.errors.RowsDroppedWarning, match="2 row.s. with a negative weight"):
        t = sh.plot.scatter(cal, "x", "y").to_frame()
    assert len(t) == 6 and (t["weight"] > 0).all()
    h = sh.plot.scatter(cal, "x", "y", style="hex", xbins=2).to_frame()
    assert h["count"].sum() == pytest.approx(8.0, rel=1e-12)   # hexagons: weights as they are


@pytest.mark.parametrize("call, match", [
    (lambda d: sh.plot.scatter(d, "api99", "api00", style="grayhex"), "'grayhex' is 'hex'"),
    (lambda d: sh.plot.scatter(d, "api99", "api00", style="dots"), "unknown style"),
    (lambda d: sh.plot.scatter(d, "stype", "api00"), "not numeric"),
    (lambda d: sh.plot.scatter(d, "api99", "nope"), "not a column"),
    (lambda d: sh.plot.scatter(d, "api99", "api00", inches=0), "inches must be a positive"),
    (lambda d: sh.plot.scatter(d, "api99", "api00", style="transparent", alpha=(0, 2)),
     "two opacities"),
    (lambda d: sh.plot.scatter(d, "api99", "api00", style="hex", xbins=0), "xbins"),
    (lambda d: sh.plot.scatter(d.data, "api99", "api00"), "takes a survey design"),
])
def test_scatter_clear_errors(design, call, match):
    with pytest.raises(PlotError, match=match):
        call(design)


def test_scatter_all_missing_and_single_value():
    df = pd.DataFrame({"x": [np.nan, 1.0, 2], "y": [1.0, np.nan, np.nan], "z": 5.0, "w": 1.0})
    d = sh.SurveyDesign(df, weights="w")
    with pytest.raises(PlotError, match="no row has values of both 'x' and 'y'"):
        sh.plot.scatter(d, "x", "y")
    with pytest.raises(PlotError, match="at least two different values"):
        sh.plot.scatter(d, "z", "w", style="hex")
