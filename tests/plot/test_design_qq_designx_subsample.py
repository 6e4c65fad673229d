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
from socialhealth.errors import PlotError  # noqa: E402

REF = json.loads((Path(__file__).parent / "fixtures"
                  / "svyqq_designx_subsample_reference.json").read_text())
TOL = 1e-10


def _num(values) -> np.ndarray:
    """R's JSON numbers; jsonlite writes NA as the string "NA"."""
    values = values if isinstance(values, list) else [values]
    return np.array([np.nan if isinstance(v, str) else v for v in values], dtype=float)


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
