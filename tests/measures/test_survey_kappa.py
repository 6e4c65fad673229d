"""Design-based Cohen's kappa (``measures.survey_kappa``) against R survey 4.1-1:
``svykappa()`` where R can call it, and everywhere R's own delta method, ``svycontrast()`` of
``svymean()`` of the agreement and margin indicators (R's symbolic derivatives), on Taylor
(stratified cluster with fpc, a domain, missing answers) and JK1/JKn designs, and a category
that only one variable uses (which svykappa refuses).

Reference: ``fixtures/survey_kappa/make_survey_kappa.R`` (seeded synthetic answers).
Closed forms: 1e-10 relative.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import MeasureError

REF = json.loads((Path(__file__).parent / "fixtures" / "survey_kappa"
                  / "survey_kappa.json").read_text())
DATA = pd.DataFrame(REF["data"])
DATA["dom"] = DATA["dom"].astype(bool)


def design(kind):
    taylor = sh.SurveyDesign(DATA, psu="psu", strata="st", fpc="fpc", weights="w")
    if kind == "taylor":
        return taylor
    if kind == "taylor_subset":
        return taylor.subset(DATA["dom"])
    if kind == "jk1":
        return sh.SurveyDesign(DATA, psu="psu", weights="w").to_replicate("jk1")
    if kind == "jkn_subset":
        return taylor.to_replicate("jkn").subset(DATA["dom"])
    return taylor.to_replicate("jkn")


@pytest.mark.parametrize("name", sorted(REF["cases"]))
def test_survey_kappa_matches_r(name):
    case = REF["cases"][name]
    r = sh.measures.survey_kappa(design(case["kind"]), case["x"], case["y"])
    np.testing.assert_allclose(r.kappa, case["kappa"], rtol=1e-10)
    np.testing.assert_allclose(r.kappa_se, case["se"], rtol=1e-10)
    if "svykappa" in case:
        np.testing.assert_allclose(r.kappa, case["svykappa"], rtol=1e-10)
        np.testing.assert_allclose(r.kappa_se, case["svykappa_se"], rtol=1e-10)
    assert r.n == case["n"]
    assert float(r) == r.kappa and r.se()["kappa"] == r.kappa_se


def test_unweighted_kappa_by_hand():
    """Equal weights: kappa equals the textbook formula on the 3 x 3 table of counts."""
    df = DATA.assign(one=1.0)
    r = sh.measures.survey_kappa(sh.SurveyDesign(df, weights="one"), "a", "b")
    tab = pd.crosstab(df["a"], df["b"]).to_numpy() / len(df)
    po = np.trace(tab)
    pe = float(tab.sum(axis=1) @ tab.sum(axis=0))
    np.testing.assert_allclose(r.kappa, (po - pe) / (1 - pe), rtol=1e-12)
    np.testing.assert_allclose([r.observed, r.expected], [po, pe], rtol=1e-12)
    assert r.categories == ("hardly", "often", "some")


def test_missing_answers_are_counted_and_the_interval_uses_the_design_df():
    r = sh.measures.survey_kappa(design("taylor"), "am", "bm")
    assert (r.n, r.n_dropped) == (393, 7)
    from scipy import stats
    t = stats.t.ppf(0.975, 40 - 8)          # 40 PSUs in 8 strata
    np.testing.assert_allclose(r.ci, (r.kappa - t * r.kappa_se, r.kappa + t * r.kappa_se),
                               rtol=1e-12)
    f = r.to_frame()
    assert list(f.columns[:7]) == ["term", "estimate", "se", "ci_low", "ci_high", "df", "n"]
    assert "7 left out with a missing answer" in repr(r)


def test_bad_input_is_a_measure_error():
    d = design("taylor")
    with pytest.raises(MeasureError, match="'nope' is not in the design's data"):
        sh.measures.survey_kappa(d, "a", "nope")
    with pytest.raises(MeasureError, match="same one twice"):
        sh.measures.survey_kappa(d, "a", "a")
    one = DATA.assign(k1="x", k2="x")
    with pytest.raises(MeasureError, match="single category"):
        sh.measures.survey_kappa(sh.SurveyDesign(one, weights="w"), "k1", "k2")
    with pytest.raises(MeasureError, match="level=1.5"):
        sh.measures.survey_kappa(d, "a", "b", level=1.5)


def test_many_categories_no_fragmentation_warning():
    """60 categories (180 indicator columns) with max_categories=None: design.assign() joins
    the indicators in one concat, so pandas raises no 'highly fragmented' PerformanceWarning;
    kappa equals the weighted-share formula computed here from the raw columns."""
    import warnings

    rng = np.random.default_rng(20261207)
    n = 600
    a = rng.integers(0, 60, n)
    b = np.where(rng.uniform(size=n) < 0.5, a, rng.integers(0, 60, n))
    w = rng.uniform(1, 3, n)
    d = sh.SurveyDesign(pd.DataFrame({"a": a, "b": b, "w": w}), weights="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        res = sh.measures.survey_kappa(d, "a", "b", max_categories=None)
    assert len(res.categories) == 60
    p_o = w[a == b].sum() / w.sum()
    p_e = sum((w[a == c].sum() / w.sum()) * (w[b == c].sum() / w.sum()) for c in range(60))
    assert res.kappa == pytest.approx((p_o - p_e) / (1 - p_e), rel=1e-12)


def test_assign_many_columns_keeps_pandas_assign_semantics():
    """design.assign(): Series align on the index, callables see earlier columns, existing
    columns are replaced in place, new ones appended in order; no PerformanceWarning."""
    import warnings

    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "w": [1.0, 1.0, 2.0]}, index=[10, 11, 12])
    d = sh.SurveyDesign(df, weights="w")
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.PerformanceWarning)
        d2 = d.assign(s=pd.Series([7, 8, 9], index=[12, 11, 10]), x=lambda f: f["s"] * 2,
                      **{f"c{i}": np.full(3, i) for i in range(150)})
    assert list(d2.data.columns[:3]) == ["x", "w", "s"] and d2.data.columns[-1] == "c149"
    assert d2.data["s"].tolist() == [9, 8, 7] and d2.data["x"].tolist() == [18, 16, 14]
    assert d.data.columns.tolist() == ["x", "w"]
