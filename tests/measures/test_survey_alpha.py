"""Design-based Cronbach's alpha (``measures.survey_alpha``) against R survey 4.1-1:
``svycralpha(..., na.rm = TRUE)`` for alpha, and for its standard error the delta method
computed by R itself, ``svycontrast()`` of ``svymean()`` of the moments (R's symbolic
derivatives), on Taylor (stratified cluster with fpc, a domain) and JK1/JKn designs.

Reference: ``fixtures/survey_alpha/make_survey_alpha.R`` (seeded synthetic items with missing
answers). Closed forms: 1e-10 relative.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import MeasureError

REF = json.loads((Path(__file__).parent / "fixtures" / "survey_alpha"
                  / "survey_alpha.json").read_text())
DATA = pd.DataFrame(REF["data"]).astype({f"i{j}": float for j in range(1, 6)})
DATA["dom"] = DATA["dom"].astype(bool)


def design(kind):
    taylor = sh.SurveyDesign(DATA, psu="psu", strata="st", fpc="fpc", weights="w")
    if kind == "taylor":
        return taylor
    if kind == "taylor_subset":
        return taylor.subset(DATA["dom"])
    if kind == "jk1":
        return sh.SurveyDesign(DATA, psu="psu", weights="w").to_replicate("jk1")
    return taylor.to_replicate("jkn")


@pytest.mark.parametrize("name", sorted(REF["cases"]))
def test_survey_alpha_matches_r(name):
    case = REF["cases"][name]
    r = sh.measures.survey_alpha(design(case["kind"]), case["items"])
    np.testing.assert_allclose(r.alpha, case["svycralpha"], rtol=1e-10)
    np.testing.assert_allclose(r.alpha, case["alpha"], rtol=1e-10)
    np.testing.assert_allclose(r.alpha_se, case["se"], rtol=1e-10)
    assert r.n == case["n"]
    assert float(r) == r.alpha and r.se()["alpha"] == r.alpha_se


def test_unweighted_alpha_by_hand():
    """Equal weights, no clustering: alpha equals the textbook formula on the complete rows
    (the n/(n-1) factors cancel)."""
    df = DATA.assign(one=1.0)
    items = ["i1", "i2", "i4"]
    r = sh.measures.survey_alpha(sh.SurveyDesign(df, weights="one"), items)
    X = df[items].to_numpy()
    k = len(items)
    expected = k / (k - 1) * (1 - X.var(axis=0, ddof=1).sum() / X.sum(axis=1).var(ddof=1))
    np.testing.assert_allclose(r.alpha, expected, rtol=1e-12)
    np.testing.assert_allclose(r.alpha, sh.measures.reliability(df[items]).alpha, rtol=1e-12)


def test_rows_left_out_are_reported():
    r = sh.measures.survey_alpha(design("taylor"), [f"i{j}" for j in range(1, 6)])
    assert (r.n, r.n_dropped) == (355, 5)
    assert "5 left out" in repr(r)


@pytest.mark.parametrize("items, match", [
    (["i1"], "two or more"),
    ("i1", "two or more"),
    (["i1", "nope"], "not in the design's data"),
])
def test_bad_items_refused(items, match):
    with pytest.raises(MeasureError, match=match):
        sh.measures.survey_alpha(design("taylor"), items)
