"""plot.qq(against_design=) and plot.scatter(style="subsample") against R survey 4.1-1
(svyqqplot with designx; svyplot style "subsample") on the synthetic apistrat, apisrs and
apiclus1 example data: fixtures/svyqq_designx_subsample_reference.json, written by
fixtures/svyqq_designx_subsample_reference.R (regeneration command in its header). R's drawn
numbers are the arguments its functions hand to plot() and the rows sample() drew, captured
with trace(). R's random draws cannot be reproduced (numpy's generator is not R's), so the
subsample is checked by its rule: R's jitter amounts on the rows R drew, and the frequencies
of the draws against the weights, for R's draws and for socialhealth's."""
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
from socialhealth.plot._design_scatter import jitter_amount  # noqa: E402

REF = json.loads((Path(__file__).parent / "fixtures"
                  / "svyqq_designx_subsample_reference.json").read_text())
TOL = 1e-10


_num = r_numbers   # R's JSON numbers (r_compare)


@pytest.fixture(scope="module")
def api():
    return sh.datasets.load_example("apistrat")


@pytest.fixture(scope="module")
def design(api):
    return sh.SurveyDesign(api, weights="pw", strata="stype", fpc="fpc")


@pytest.fixture(scope="module")
def dsrs():
    return sh.SurveyDesign(sh.datasets.load_example("apisrs"), weights="pw", fpc="fpc")


@pytest.fixture(scope="module")
def clus():
    return sh.datasets.load_example("apiclus1")


@pytest.fixture(scope="module")
def dclus(clus):
    return sh.SurveyDesign(clus, weights="pw", psu="dnum", fpc="fpc")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _below_first_step(v: np.ndarray, w: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Positions below the first step of the weighted CDF, where R's qrule_math returns the
    second-smallest value and the plot the smallest (the inverse CDF; module notes)."""
    return probs < w[v == v.min()].sum() / w.sum()


# --------------------------------------------------------------------------- qq: designx
@pytest.mark.parametrize("case, variable, against, other, qrule", [
    ("enroll_math", "enroll", None, "dclus", None),
    ("enroll_hf8", "enroll", "enroll", "dclus", "hf8"),
    ("api00_srs_math", "api00", None, "dsrs", "math"),
    ("api00_api99_srs_hf8", "api00", "api99", "dsrs", "hf8"),
    ("avg_ed_math", "avg.ed", None, "dclus", None),           # 5 and 6 rows missing
])
def test_qq_against_a_second_design_is_r_quantiles_of_each_design(
        request, design, case, variable, against, other, qrule):
    second = request.getfixturevalue(other)
    kwargs = {} if qrule is None else {"qrule": qrule}
    if against is not None:
        kwargs["against"] = against
    p = sh.plot.qq(design, variable, against_design=second, **kwargs)
    t = p.to_frame()
    ref = REF["qrule_at"][case]
    k = len(ref["x"])
    assert len(t) == k
    np.testing.assert_allclose(t["probability"], (np.arange(1, k + 1) - 0.5) / k, rtol=1e-15)
    n_below = 0
    for col, d, name in (("x", second, against or variable), ("y", design, variable)):
        theirs = _num(ref[col])
        if qrule == "hf8":
            np.testing.assert_allclose(t[col], theirs, rtol=TOL)
            continue
        v = d.data[name].to_numpy(float)
        ok = np.isfinite(v)
        below = _below_first_step(v[ok], np.asarray(d.weights, float)[ok],
                                  t["probability"].to_numpy())
        np.testing.assert_allclose(t[col][~below], theirs[~below], rtol=TOL)
        assert (t[col][below] == v[ok].min()).all()
        n_below += int(below.sum())
    assert n_below <= 2
    missing = int(design.data[variable].isna().sum()
                  + second.data[against or variable].isna().sum())
    assert p.n_missing == missing


def test_qq_against_a_second_design_by_group(design, dclus):
    t = sh.plot.qq(design, "enroll", against_design=dclus, by="stype").to_frame()
    h = t[t["stype"] == "H"].reset_index(drop=True)
    ref = REF["qrule_at"]["enroll_math_H"]
    assert len(h) == len(ref["x"]) == 13          # 13 high schools in the cluster sample
    sub = [design.subset(design.data["stype"] == "H"), dclus.subset(dclus.data["stype"] == "H")]
    for col, d in (("y", sub[0]), ("x", sub[1])):
        inside = d.in_subset
        v = d.data["enroll"].to_numpy(float)[inside]
        below = _below_first_step(v, np.asarray(d.weights, float)[inside],
                                  h["probability"].to_numpy())
        np.testing.assert_allclose(h[col][~below], _num(ref[col])[~below], rtol=TOL)


def test_qq_against_a_second_design_of_a_subset(design, dclus):
    """A subset of the second design is used as R's subset(dclus, ...): only its rows."""
    sub = dclus.subset(dclus.data["stype"] == "H")
    t = sh.plot.qq(design.subset(design.data["stype"] == "H"), "enroll",
                   against_design=sub).to_frame()
    by = sh.plot.qq(design, "enroll", against_design=dclus, by="stype").to_frame()
    h = by[by["stype"] == "H"].drop(columns="stype").reset_index(drop=True)
    pd.testing.assert_frame_equal(t, h)


def test_qq_with_equal_weights_in_two_designs_draws_what_svyqqplot_draws(api, dsrs):
    """Equal weights and as many rows: R draws the sorted values of each, and so do the
    weighted quantiles at (i - 1/2) / n."""
    equal = sh.SurveyDesign(api.assign(one=1.0), weights="one")
    t = sh.plot.qq(equal, "api00", against_design=dsrs).to_frame()
    drawn = REF["qqplot_drawn"]["equal_api00"]
    np.testing.assert_array_equal(t["x"], _num(drawn["x"]))
    np.testing.assert_array_equal(t["y"], _num(drawn["y"]))


def test_r_411_designx_weights_only_the_longer_design(design, dclus, clus):
    """R's help example (200 stratified rows against 119 of the cluster sample, whose weights
    are equal): R draws the sorted enroll of the cluster sample, unweighted, against the
    stratified sample's quantiles at i / 119. socialhealth's x are the same (equal weights);
    its y are the quantiles at (i - 1/2) / 119 instead."""
    t = sh.plot.qq(design, "enroll", against_design=dclus).to_frame()
    for case in ("enroll_hf8", "enroll_math"):
        drawn = REF["qqplot_drawn"][case]
        assert _num(drawn["x"]).tolist() == sorted(clus["enroll"])
        np.testing.assert_array_equal(t["x"], _num(drawn["x"]))
        # R's y: its quantile rule at i / k, the last point the largest value
        assert _num(drawn["y"])[-1] == design.data["enroll"].max()
        assert not np.allclose(t["y"], _num(drawn["y"]))


def test_r_411_designx_takes_the_left_hand_variable(design, dclus, clus):
    """svyqqplot(api00 ~ api99, d, designx = dclus) draws api00 of dclus (labelled api99),
    not api99 as R's help page says; socialhealth looks up against= in the second design."""
    drawn = REF["qqplot_drawn"]["api00_api99"]
    assert _num(drawn["x"]).tolist() == sorted(clus["api00"])
    assert _num(drawn["x"]).tolist() != sorted(clus["api99"])
    t = sh.plot.qq(design, "api00", against="api99", against_design=dclus).to_frame()
    assert t["x"].tolist() == sorted(clus["api99"])        # equal weights: the sorted values


def test_r_411_designx_stops_on_missing_values(design, dclus):
    assert REF["qqplot_na_error"] == "'x' and 'y' lengths differ"
    p = sh.plot.qq(design, "avg.ed", against_design=dclus)
    assert p.n_missing == 5 + 6 and len(p.to_frame()) == 113


@pytest.mark.parametrize("call, match", [
    (lambda d, c: sh.plot.qq(d, "api00", against="normal", against_design=c),
     "give against= a column name"),
    (lambda d, c: sh.plot.qq(d, "api00", against=stats.expon.ppf, against_design=c),
     "give against= a column name"),
    (lambda d, c: sh.plot.qq(d, "api00", against="nope", against_design=c),
     "second design.*'nope' is not a column"),
    (lambda d, c: sh.plot.qq(d, "api00", against_design=c.data), "takes a survey design"),
    (lambda d, c: sh.plot.qq(d, "api00", against_design=c, by="pw2"), "by column 'pw2'"),
])
def test_qq_against_design_clear_errors(design, dclus, call, match):
    with pytest.raises(PlotError, match=match):
        call(design, dclus)


def test_qq_against_design_by_column_missing_from_the_second_design(design, dclus):
    other = sh.SurveyDesign(dclus.data.drop(columns="stype"), weights="pw")
    with pytest.raises(PlotError, match="not in the data of the second design"):
        sh.plot.qq(design, "api00", against_design=other, by="stype")


def test_qq_against_design_all_missing_in_the_second_design(design):
    df = pd.DataFrame({"api00": [np.nan, np.nan], "w": 1.0})
    with pytest.raises(PlotError, match="no row of the second design"):
        sh.plot.qq(design, "api00", against_design=sh.SurveyDesign(df, weights="w"))


# --------------------------------------------------------------------------- subsample
@pytest.mark.parametrize("case, x, y, sub, jitter", [
    ("api00_api99", "api99", "api00", None, None),
    ("api00_avg_ed", "avg.ed", "api00", None, None),
    ("enroll_api00_amount", "api00", "enroll", None, (2, 5)),
    ("enroll_api00_amount0", "api00", "enroll", None, (0, 0)),
    ("api00_api99_H", "api99", "api00", "H", None),
])
def test_subsample_jitter_amounts_are_rs_on_the_rows_r_drew(api, case, x, y, sub, jitter):
    ref = REF["subsample"][case]
    data = api if sub is None else api[api["stype"] == sub].reset_index(drop=True)
    rows = np.array(ref["index"]) - 1
    xs, ys = data[x].to_numpy(float)[rows], data[y].to_numpy(float)[rows]
    ax, ay = (None, None) if jitter is None else jitter
    np.testing.assert_allclose([jitter_amount(xs, 3, ax), jitter_amount(ys, 3, ay)],
                               _num(ref["amount"]), rtol=TOL)
    # and R's plotted points are the drawn values moved by at most that amount
    for drawn, values, amount in ((ref["xs"], xs, ref["amount"][0]),
                                  (ref["ys"], ys, ref["amount"][1])):
        moved = _num(drawn) - values
        ok = np.isfinite(moved)
        assert (np.abs(moved[ok]) <= amount).all() and np.abs(moved[ok]).max() > amount / 2


def test_r_subsample_draws_rows_with_a_missing_value(api):
    """R draws among all rows; 2 of its 100 draws had no avg.ed and were not plotted."""
    ref = REF["subsample"]["api00_avg_ed"]
    rows = np.array(ref["index"]) - 1
    assert api["avg.ed"].isna().to_numpy()[rows].sum() == 2
    assert np.isnan(_num(ref["xs"])).sum() == 2


def _chi_square_p(counts: np.ndarray, w: np.ndarray) -> float:
    expected = counts.sum() * w / w.sum()
    return float(stats.chisquare(counts, expected).pvalue)


def test_r_subsample_frequencies_follow_the_weights(api):
    """How R draws (our reading of its code, checked on its draws): 200,000 draws, each row's
    frequency proportional to its weight (chi-square over the 200 rows; by stratum each
    share within 4 binomial standard errors)."""
    counts = np.array(REF["subsample_counts"]["counts"], dtype=float)
    w = api["pw"].to_numpy(float)
    assert counts.sum() == 400 * 500
    assert _chi_square_p(counts, w) > 0.001
    assert _chi_square_p(counts, np.ones_like(w)) < 1e-12      # not equal probabilities


def test_subsample_frequencies_follow_the_weights(design, api):
    w = api["pw"].to_numpy(float)
    rng = np.random.default_rng(7)
    counts = np.zeros(len(api))
    for _ in range(40):
        t = sh.plot.scatter(design, "api99", "api00", style="subsample", sample_size=5000,
                            seed=rng).to_frame()
        counts += np.bincount(api.index.get_indexer(t.index), minlength=len(api))
        plt.close("all")
    assert counts.sum() == 200_000
    assert _chi_square_p(counts, w) > 0.001
    assert _chi_square_p(counts, np.ones_like(w)) < 1e-12
    # by stratum, against R's frequencies: the same shares within binomial error
    r_counts = np.array(REF["subsample_counts"]["counts"], dtype=float)
    for s in ("E", "H", "M"):
        m = (api["stype"] == s).to_numpy()
        share = w[m].sum() / w.sum()
        se = np.sqrt(share * (1 - share) / 200_000)
        assert abs(counts[m].sum() / 200_000 - share) < 4 * se
        assert abs(r_counts[m].sum() / 200_000 - share) < 4 * se


def test_subsample_table_size_rows_and_jitter(design, api):
    p = sh.plot.scatter(design, "api99", "api00", style="subsample", seed=1)
    t = p.to_frame()
    assert len(t) == 500 and list(t.columns) == ["x", "y", "weight", "x_jittered",
                                                 "y_jittered"]
    assert t.index.duplicated().any()                           # with replacement, as R
    np.testing.assert_array_equal(t["x"], api.loc[t.index, "api99"])
    np.testing.assert_array_equal(t["weight"], api.loc[t.index, "pw"])
    for c in ("x", "y"):
        moved = (t[f"{c}_jittered"] - t[c]).abs()
        assert moved.max() <= 0.6 and moved.max() > 0.5        # R's default: 3/5 of gap 1
    offsets = p.ax.collections[0].get_offsets()
    np.testing.assert_allclose(offsets[:, 0], t["x_jittered"])
    np.testing.assert_allclose(offsets[:, 1], t["y_jittered"])
    again = sh.plot.scatter(design, "api99", "api00", style="subsample", seed=1).to_frame()
    pd.testing.assert_frame_equal(t, again)
    other = sh.plot.scatter(design, "api99", "api00", style="subsample", seed=2).to_frame()
    assert not t.index.equals(other.index)


def test_subsample_uses_only_complete_rows_of_the_subset(design, api):
    sub = design.subset(design.data["stype"] == "H")
    t = sh.plot.scatter(sub, "avg.ed", "api00", style="subsample", sample_size=3000,
                        seed=3).to_frame()
    assert len(t) == 3000
    chosen = api.loc[t.index]
    assert (chosen["stype"] == "H").all() and chosen["avg.ed"].notna().all()
    assert t.index.nunique() == ((api["stype"] == "H") & api["avg.ed"].notna()).sum()
    p = sh.plot.scatter(design, "avg.ed", "api00", style="subsample", sample_size=50, seed=3)
    assert p.n_missing == 5 and len(p.to_frame()) == 50


def test_subsample_without_jitter_by_hand():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4], "y": [1.0, 2, 3, 4], "w": [5.0, 1, 5, 3]})
    d = sh.SurveyDesign(df, weights="w").subset(np.array([False, True, False, True]))
    t = sh.plot.scatter(d, "x", "y", style="subsample", sample_size=400, seed=5,
                        jitter=False).to_frame()
    assert set(t.index) == {1, 3}                                # outside the subset: never
    assert (t["x_jittered"] == t["x"]).all() and (t["y_jittered"] == t["y"]).all()
    assert 0.65 < (t.index == 3).mean() < 0.85                   # 3/4, sd 0.02


def test_jitter_amount_by_hand():
    """R: jitter(c(1.0, 1.25, 3.1)) range 2.1, rounded to 3 decimals, smallest gap 0.25,
    amount 3/5 * 0.25 = 0.15 (factor 3); a single value v: 3/5 * v / 10; amount 0: 3 z / 50."""
    assert jitter_amount(np.array([1.0, 1.25, 3.1])) == pytest.approx(0.15, rel=1e-12)
    assert jitter_amount(np.array([5.0, 5.0])) == pytest.approx(0.3, rel=1e-12)
    assert jitter_amount(np.array([0.0, 0.0])) == pytest.approx(0.06, rel=1e-12)
    assert jitter_amount(np.array([10.0, 60.0]), amount=0) == pytest.approx(3.0, rel=1e-12)
    assert jitter_amount(np.array([10.0, 60.0]), amount=2.5) == 2.5


@pytest.mark.parametrize("kwargs, match", [
    ({"sample_size": 0}, "sample_size must be a whole number"),
    ({"sample_size": 2.5}, "sample_size must be a whole number"),
    ({"jitter": (1,)}, "jitter must be two half-widths"),
    ({"jitter": (-1, 1)}, "jitter must be two half-widths"),
    ({"jitter": (np.float64(-1), None)}, r"not \(-1, None\)\.$"),   # not np.float64(-1.0)
    ({"sample_size": 10.0}, r"not 10\.0\.$"),
    ({"jitter": 3}, "jitter must be two half-widths"),
    ({"seed": "abc"}, "seed must be a whole number"),      # numpy: a bare TypeError
    ({"seed": -1}, "seed must be a whole number"),         # numpy: a bare ValueError
])
def test_subsample_clear_errors(design, kwargs, match):
    with pytest.raises(PlotError, match=match):
        sh.plot.scatter(design, "api99", "api00", style="subsample", **kwargs)


def test_subsample_refuses_negative_weights():
    df = pd.DataFrame({"x": [1.0, 2, 3, 4, 5, 6, 7, 8], "y": [2.0, 1, 4, 3, 6, 5, 8, 9],
                       "w": 1.0})
    cal = sh.SurveyDesign(df, weights="w").calibrate("~x", {"(Intercept)": 8.0, "x": 60.0})
    with pytest.raises(PlotError, match="negative weight"):
        sh.plot.scatter(cal, "x", "y", style="subsample")
