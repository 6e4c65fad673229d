"""design.ranktest against R survey 4.1-1 ``svyranktest`` (Taylor and JKn replicate designs).

Expected values: fixtures/ranktest/ranktest_reference.json, written by make_ranktest.R, which
also generates the seeded synthetic data (ranktest_data.csv, with R's JKn and bootstrap
replicate weights; "replicate" in the JSON is the JKn design).
Two-sample tests: estimate, t, df, p; k-sample tests (Taylor only: R's k-sample test fails on
replicate designs): X^2, ndf, ddf, p. Tolerance 1e-8 relative. The data have ties with
unequal weights, so R's tie convention for the weighted ranks is exercised; ``ym`` misses a
whole PSU (df of the rows used) and ``sub`` drops one PSU (domain test).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth.errors import EstimationError, FormulaError

HERE = Path(__file__).parent / "fixtures" / "ranktest"
REF = json.loads((HERE / "ranktest_reference.json").read_text())
TOL = 1e-8


@pytest.fixture(scope="module")
def designs():
    df = pd.read_csv(HERE / "ranktest_data.csv")
    tay = sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu")
    out = {"taylor": tay}
    for kind, prefix in (("replicate", "rw"), ("bootstrap", "bs")):
        cols = [c for c in df.columns if c.startswith(prefix)]
        out[kind] = sh.ReplicateDesign(df, weights="w", replicate_weights=cols, method="other",
                                       scale=REF[kind]["scale"], rscales=REF[kind]["rscales"])
    return out


def _call(design, key):
    parts = key.split("_")
    test = parts[-1]
    if parts[0] == "sub":
        design = design.subset(design.data["sub"] == 1)
        parts = parts[1:]
    return design.ranktest(f"{parts[0]} ~ {parts[1]}", test=test)


CASES = [(kind, key) for kind in ("taylor", "replicate", "bootstrap") for key in REF[kind]
         if isinstance(REF[kind][key], dict)]


@pytest.mark.parametrize("kind,key", CASES)
def test_ranktest_matches_r(designs, kind, key):
    ref = REF[kind][key]
    res = _call(designs[kind], key)
    fields = ["statistic", "df", "p", "estimate"] if "df" in ref else ["statistic", "ndf", "ddf", "p"]
    for f in fields:
        assert getattr(res, f) == pytest.approx(ref[f], rel=TOL, abs=1e-12), f


def test_two_sample_wilcoxon_by_hand():
    # equal weights, no ties: ranks (C_k - w/2)/N are (k - 1/2)/n; the estimate is the
    # difference of the mean scores of the two groups
    df = pd.DataFrame({"psu": [1, 2, 3, 4, 5, 6], "w": 1.0, "y": [1., 2, 3, 4, 5, 6],
                       "g": ["a", "a", "b", "a", "b", "b"]})
    d = sh.SurveyDesign(df, weights="w", psu="psu")
    res = d.ranktest("y", by="g")
    scores = (np.arange(1, 7) - 0.5) / 6
    expected = scores[[2, 4, 5]].mean() - scores[[0, 1, 3]].mean()
    assert res.estimate == pytest.approx(expected, rel=1e-12)
    assert res.df == 4.0


def test_ranktest_errors(designs):
    with pytest.raises(EstimationError, match="replicate"):
        designs["replicate"].ranktest("y ~ g3")
    assert REF["replicate_k_sample_error"] is True
    with pytest.raises(EstimationError, match="not one of"):
        designs["taylor"].ranktest("y ~ g2", test="savage")
    with pytest.raises(FormulaError):
        designs["taylor"].ranktest("y ~ 0")
    with pytest.raises(EstimationError, match="at least 2 groups"):
        designs["taylor"].subset(designs["taylor"].data.g2 == "x").ranktest("y ~ g2")
