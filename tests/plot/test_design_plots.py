"""plot.hist / plot.boxplot / plot.smooth against R survey 4.1-1 (svyhist, svyboxplot,
svysmooth(method = "locpoly")) on apistrat: fixtures/svyplots_reference.json, written by
fixtures/svyplots_reference.R (regeneration command in its header)."""
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
from socialhealth.errors import PlotError  # noqa: E402

REF = json.loads((Path(__file__).parent / "fixtures" / "svyplots_reference.json").read_text())
TOL = 1e-10


def _num(values) -> np.ndarray:
    """R's JSON numbers; jsonlite writes NaN / Inf as strings."""
    return np.array([float(v) if isinstance(v, str) else v for v in np.atleast_1d(values)],
                    dtype=float)


@pytest.fixture(scope="module")
def api():
    data = sh.datasets.load_example("apistrat")
    return data.assign(ell_frac=data["ell"] / 100)


@pytest.fixture(scope="module")
def design(api):
    return sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _check_hist(table: pd.DataFrame, ref: dict) -> None:
    breaks = np.r_[table["bin_low"].to_numpy(), table["bin_high"].iloc[-1]]
    np.testing.assert_allclose(breaks, _num(ref["breaks"]), rtol=TOL, atol=1e-12)
    np.testing.assert_allclose(table["mid"], _num(ref["mids"]), rtol=TOL)
    np.testing.assert_allclose(table["density"], _num(ref["density"]), rtol=TOL, atol=1e-15)
    np.testing.assert_allclose(table["count"], _num(ref["counts"]), rtol=TOL, atol=1e-9)


@pytest.mark.parametrize("case, variable, kwargs", [
    ("api00_sturges", "api00", {}),
    ("enroll_sturges", "enroll", {}),
    ("api00_breaks", "api00", {"breaks": [300, 500, 600, 650, 700, 800, 1000]}),
    ("api00_10", "api00", {"breaks": 10}),
    ("avg_ed_sturges", "avg.ed", {}),          # 5 missing values
    ("ell_frac_sturges", "ell_frac", {}),      # breaks 0, 0.1, ..., 0.7 with values on them
    ("api00_sturges_freq", "api00", {"probability": False}),
])
def test_hist_matches_svyhist(design, case, variable, kwargs):
    p = sh.plot.hist(design, variable, **kwargs)
    _check_hist(p.to_frame(), REF["hist"][case])
    heights = [bar.get_height() for bar in p.ax.patches]
    column = "density" if kwargs.get("probability", True) else "count"
    np.testing.assert_allclose(heights, p.to_frame()[column], rtol=1e-12)


def test_hist_shares_sum_to_one_and_counts_to_the_population(design, api):
    t = sh.plot.hist(design, "avg.ed").to_frame()
    assert t["proportion"].sum() == pytest.approx(1.0, abs=1e-12)
    assert t["count"].sum() == pytest.approx(api["pw"].sum(), rel=1e-12)   # as R: all rows


def test_hist_by_group_is_svyhist_on_each_subset(design):
    t = sh.plot.hist(design, "api00", by="stype").to_frame()
    assert list(dict.fromkeys(t["stype"])) == ["E", "H", "M"]
    for g in ("E", "H"):
        _check_hist(t[t["stype"] == g].reset_index(drop=True),
                    REF["hist"][f"api00_sturges_stype_{g}"])


def test_hist_of_a_subset_takes_breaks_from_the_subset(design):
    p = sh.plot.hist(design.subset(design.data["stype"] == "H"), "api00")
    _check_hist(p.to_frame(), REF["hist"]["api00_subset_H"])


def _check_box(row, stats, n) -> None:
    got = [row["whisker_low"], row["q1"], row["median"], row["q3"], row["whisker_high"]]
    np.testing.assert_allclose(got, stats, rtol=TOL)
    assert row["n"] == pytest.approx(n, rel=TOL)


@pytest.mark.parametrize("variable", ["api00", "enroll"])
def test_boxplot_by_group_matches_r_quantiles_and_whisker_rule(design, variable):
    ref = REF["boxplot"][f"{variable}_by_stype"]
    t = sh.plot.boxplot(design, variable, by="stype").to_frame()
    assert t["stype"].tolist() == ref["names"]
    for i, row in t.iterrows():
        np.testing.assert_allclose([row["min"], row["q1"], row["median"], row["q3"], row["max"]],
                                   ref["quantiles"][i], rtol=TOL)
        _check_box(row, ref["stats"][i], ref["n"][i])
        assert list(row["outliers"]) == _num(ref["out"][i]).tolist()
    t_all = sh.plot.boxplot(design, variable, by="stype", all_outliers=True).to_frame()
    for i, row in t_all.iterrows():
        assert list(row["outliers"]) == _num(ref["all_out"][i]).tolist()


def test_boxplot_draws_the_table(design):
    p = sh.plot.boxplot(design, "enroll", by="stype")
    t = p.to_frame()
    assert [lab.get_text() for lab in p.ax.get_xticklabels()] == ["E", "H", "M"]
    medians = [line.get_ydata()[0] for line in p.ax.lines if len(set(line.get_ydata())) == 1
               and line.get_ydata()[0] in set(t["median"])]
    assert set(medians) == set(t["median"])


def test_r_411_svyboxplot_by_group_draws_the_last_box_for_every_group():
    """Why the grouped boxes are checked against svyby(svyquantile): R 4.1-1's own drawing
    repeats group M's box."""
    bug = REF["boxplot"]["r411_svyboxplot_enroll_by_stype"]
    m = REF["boxplot"]["enroll_by_stype"]["stats"][2]
    assert [s[0] for s in bug["stats"]] == m and [s[1] for s in bug["stats"]] == m


def test_boxplot_without_groups_equals_svyboxplot(design, api):
    ref = REF["boxplot"]["enroll_all"]
    row = sh.plot.boxplot(design, "enroll").to_frame().iloc[0]
    _check_box(row, [s[0] for s in ref["stats"]], ref["n"])
    assert list(row["outliers"]) == _num(ref["out"]).tolist()
    # all_outliers: R's values (beyond the fences Q1 - 1.5 IQR, Q3 + 1.5 IQR) plus the observed
    # values between a fence and the whisker end, here below Q(0) (documented difference)
    row = sh.plot.boxplot(design, "enroll", all_outliers=True).to_frame().iloc[0]
    fence_low = row["q1"] - 1.5 * (row["q3"] - row["q1"])
    extra = sorted(v for v in api["enroll"] if fence_low <= v < row["whisker_low"])
    assert extra == [101]
    r_all = _num(REF["boxplot"]["enroll_all_all"]["out"]).tolist()
    assert list(row["outliers"]) == extra + r_all


@pytest.mark.parametrize("case, y, x", [
    ("api00_ell_10", "api00", "ell"), ("api00_ell_5", "api00", "ell"),
    ("api00_enroll_100", "api00", "enroll"),
])
def test_smooth_matches_svysmooth_locpoly(design, api, case, y, x):
    ref = REF["smooth"][case]
    p = sh.plot.smooth(design, y, x, bandwidth=ref["bandwidth"])
    t = p.to_frame()
    np.testing.assert_allclose(t["x"], _num(ref["x"]), rtol=TOL)
    ry = _num(ref["y"])
    # Undefined fits: data at fewer than two grid points within 4 bandwidths (from raw data)
    grid = t["x"].to_numpy()
    delta = grid[1] - grid[0]
    half = math.floor(4 * ref["bandwidth"] / delta)
    occupied = np.zeros(len(grid), bool)
    occupied[np.searchsorted(grid, api[x].to_numpy(float), side="right") - 1] = True
    n_occ = np.array([occupied[max(0, j - half):j + half + 1].sum() for j in range(len(grid))])
    undefined = n_occ < 2
    assert np.array_equal(t["y"].isna().to_numpy(), undefined)
    ok = ~undefined
    assert np.isfinite(ry[ok]).all()
    np.testing.assert_allclose(t["y"].to_numpy()[ok], ry[ok], rtol=TOL)
    assert (case != "api00_enroll_100") or undefined.sum() > 0   # R gives noise there
    line = p.ax.lines[-1]
    np.testing.assert_allclose(line.get_ydata()[ok], ry[ok], rtol=TOL)


def test_smooth_of_a_straight_line_is_that_line():
    """Local-linear fits reproduce a line exactly (hand check, unequal weights)."""
    x = np.linspace(0, 10, 41)
    data = pd.DataFrame({"x": x, "y": 3 - 2 * x, "w": 1 + (np.arange(41) % 3)})
    d = sh.SurveyDesign(data, weights="w")
    t = sh.plot.smooth(d, "y", "x", bandwidth=1.0, ngrid=41).to_frame()
    np.testing.assert_allclose(t["y"], 3 - 2 * t["x"], atol=1e-10)


def test_results_expose_ax_figure_and_labels(design):
    p = sh.plot.hist(design, "api00")
    assert p.figure is p.ax.figure and p.get_xlabel() == "Api00"
    assert "histogram" in repr(p)
    ax = plt.figure().add_subplot()
    q = sh.plot.smooth(design, "api00", "ell", bandwidth=10, ax=ax, points=True,
                       ylabel="$ score $", title="A $5 plot")
    assert q.ax is ax and ax.get_ylabel() == "$ score $"
    assert all(not t.get_parse_math() for t in ax.texts)


@pytest.mark.parametrize("call, match", [
    (lambda d: sh.plot.hist(d, "nope"), "not a column"),
    (lambda d: sh.plot.hist(d, "stype"), "not numeric"),
    (lambda d: sh.plot.hist(d, "api00", breaks=[500, 600]), "do not span"),
    (lambda d: sh.plot.hist(d, "api00", breaks="Scott"), "not supported"),
    (lambda d: sh.plot.hist(d, "api00", breaks=[1, 1, 2]), "increasing"),
    (lambda d: sh.plot.boxplot(d, "api00", by="nope"), "not in the design"),
    (lambda d: sh.plot.smooth(d, "api00", "ell", bandwidth=0), "positive"),
    (lambda d: sh.plot.smooth(d, "api00", "ell", bandwidth=0.01), "grid spacing"),
    (lambda d: sh.plot.hist(d.data, "api00"), "takes a survey design"),
])
def test_clear_errors(design, call, match):
    with pytest.raises(PlotError, match=match):
        call(design)


@pytest.mark.parametrize("case", REF["pretty"], ids=lambda c: f"{c['lo']}-{c['hi']}-{c['n']}")
def test_breaks_follow_r_pretty(case):
    from socialhealth.plot.design_plots import r_pretty

    got = r_pretty(case["lo"], case["hi"], int(case["n"]))
    np.testing.assert_allclose(got, _num(case["breaks"]), rtol=1e-12, atol=0)


def test_replicate_design_gives_the_same_pictures(design):
    """Histogram, boxes and smoother use the weights and quantiles only: a replicate version
    of the design (same full-sample weights) gives the same numbers."""
    rep = design.to_replicate()
    pd.testing.assert_frame_equal(sh.plot.hist(rep, "api00").to_frame(),
                                  sh.plot.hist(design, "api00").to_frame())
    pd.testing.assert_frame_equal(sh.plot.boxplot(rep, "enroll", by="stype").to_frame(),
                                  sh.plot.boxplot(design, "enroll", by="stype").to_frame())
    pd.testing.assert_frame_equal(sh.plot.smooth(rep, "api00", "ell", bandwidth=10).to_frame(),
                                  sh.plot.smooth(design, "api00", "ell", bandwidth=10).to_frame())


def test_nullable_columns_and_groups_hand_computed():
    """Int64 / Float64 / boolean columns with missing values (hand computation)."""
    df = pd.DataFrame({"x": pd.array([1, 2, None, 4, 5, 6], dtype="Int64"),
                       "g": pd.array([True, None, False, True, False, True], dtype="boolean"),
                       "w": [1.0, 2, 1, 2, 1, 2]})
    d = sh.SurveyDesign(df, weights="w")
    t = sh.plot.hist(d, "x", by="g").to_frame()      # breaks 1..6 by 1 (R pretty, 4 classes)
    true = t[t["g"] == True]                          # noqa: E712
    # x = 1 (w 1), 4 (w 2), 6 (w 2): 1 falls in the first bin [1, 2] (include.lowest)
    np.testing.assert_allclose(true["proportion"], [0.2, 0, 0.4, 0, 0.4], rtol=1e-12)
    false = t[t["g"] == False]                        # noqa: E712
    # one value (5, w 1) and one missing (w 1): share 1, count 1 * 2 (R: all weights)
    np.testing.assert_allclose(false["count"], [0, 0, 0, 2.0, 0], rtol=1e-12)
    b = sh.plot.boxplot(d, "x", by="g").to_frame().set_index("g")
    # quantiles 0, .25, .5, .75, 1 of 1 (w .2), 4 (w .4), 6 (w .4) under qrule "math" (R:
    # 4 4 4 6 6), n = the group's weight total
    assert b.loc[True, ["min", "q1", "median", "q3", "max", "n"]].tolist() == [4, 4, 4, 6, 6, 5]
    assert b.loc[True, "outliers"] == ()
    all_out = sh.plot.boxplot(d, "x", by="g", all_outliers=True).to_frame().set_index("g")
    assert all_out.loc[True, "outliers"] == (1.0,)


def test_negative_calibrated_weights_count_as_in_r():
    """A linear (GREG) calibration can make weights negative; those rows stay in the sample
    (R's svyhist is svymean of the bin indicators with the weights as they are). The plots
    left them out (w > 0) before."""
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "y": [2.0, 1, 4, 3, 6, 5, 8, 9],
                       "w": 1.0})
    cal = sh.SurveyDesign(df, weights="w").calibrate("~x", {"(Intercept)": 8.0, "x": 60.0})
    w = cal.weights
    assert (w < 0).sum() == 2                      # x = 1, 2: -1 and -3/7
    h = sh.plot.hist(cal, "x", breaks=[0, 2, 4, 6, 8]).to_frame()
    # by hand: weighted share of each bin (R's right-closed bins), negative weights included
    shares = np.array([w[:2].sum(), w[2:4].sum(), w[4:6].sum(), w[6:].sum()]) / w.sum()
    np.testing.assert_allclose(h["proportion"], shares, rtol=1e-12)
    np.testing.assert_allclose(h["count"], shares * 8.0, rtol=1e-12)
    # the smoother uses them too: where negative weights dominate the kernel window the local
    # fit is undefined (NaN, a gap in the curve), elsewhere it is finite
    s = sh.plot.smooth(cal, "y", "x", bandwidth=2.0).to_frame()
    assert np.isfinite(s.loc[s["x"] >= 5, "y"]).all() and np.isnan(s.loc[s["x"] < 2, "y"]).any()
    plt.close("all")


@pytest.mark.parametrize("plot", ["hist", "boxplot"])
def test_rows_with_a_missing_group_are_left_out_with_a_warning(plot):
    """Regression: rows whose by= value is missing were dropped without a word."""
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6], "g": ["a", None, "b", "a", None, "b"],
                       "w": [1.0, 2, 1, 2, 1, 2]})
    d = sh.SurveyDesign(df, weights="w")
    with pytest.warns(sh.errors.RowsDroppedWarning, match="2 row.s. of the design with 'g' "
                                                          "missing are in no group"):
        getattr(sh.plot, plot)(d, "x", by="g")
    plt.close("all")
    full = sh.SurveyDesign(df.fillna({"g": "a"}), weights="w")
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error", sh.errors.RowsDroppedWarning)
        getattr(sh.plot, plot)(full, "x", by="g")
    plt.close("all")
