"""models.logrank against R survey 4.1-1 ``svylogrank`` (Taylor, JKn and bootstrap designs).

Expected values: fixtures/logrank/logrank_reference.json, written by make_logrank.R, which also
generates the seeded synthetic data (logrank_data.csv: 3 strata x 5 PSUs, integer times with
many ties, R's JKn and bootstrap replicate weights). Per level: score, se, z, p; overall
chi-squared and p; log-rank and G(rho, gamma) for rho, gamma in {0, 1}; 2 and 3 groups; a
domain (subset) test. Tolerance 1e-8 relative.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import socialhealth as sh
from socialhealth import models
from socialhealth.errors import EstimationError, MissingColumnError, ModelError

HERE = Path(__file__).parent / "fixtures" / "logrank"
REF = json.loads((HERE / "logrank_reference.json").read_text())
TOL = 1e-8


@pytest.fixture(scope="module")
def designs():
    df = pd.read_csv(HERE / "logrank_data.csv")
    out = {"taylor": sh.SurveyDesign(df, weights="w", strata="stratum", psu="psu")}
    for kind, prefix in (("jkn", "jk"), ("bootstrap", "bs")):
        cols = [c for c in df.columns if c.startswith(prefix)]
        out[kind] = sh.ReplicateDesign(df, weights="w", replicate_weights=cols, method="other",
                                       scale=REF[kind]["scale"], rscales=REF[kind]["rscales"])
    return out


CASES = [(kind, key) for kind in ("taylor", "jkn", "bootstrap") for key in REF[kind]
         if isinstance(REF[kind][key], dict)]


@pytest.mark.parametrize("kind,key", CASES)
def test_logrank_matches_r(designs, kind, key):
    ref = REF[kind][key]
    d = designs[kind]
    parts = key.split("_")
    if parts[0] == "sub":
        d = d.subset(d.data["sub"] == 1)
        parts = parts[1:]
    rho, gamma = int(parts[1][3:]), int(parts[2][5:])
    res = models.logrank(d, "time", "status", parts[0], rho=rho, gamma=gamma)
    tab = res.to_frame()
    for col, rcol in (("score", "score"), ("se", "se"), ("z", "z"), ("p", "p_z")):
        np.testing.assert_allclose(tab[col].to_numpy(), np.atleast_1d(ref[rcol]), rtol=TOL)
    assert res.chisq == pytest.approx(ref["chisq"], rel=TOL)
    assert res.p == pytest.approx(ref["p"], rel=TOL)
    assert res.df == len(tab)


def test_no_ties_score_is_observed_minus_expected():
    # without ties the score is the textbook weighted log-rank numerator
    # sum_t [D_1(t) - Y_1(t) D(t) / Y(t)], computed here by hand
    t = np.array([1., 2, 3, 4, 5, 6])
    st = np.array([1, 1, 0, 1, 1, 0])
    g = np.array([0, 1, 0, 1, 0, 1])
    w = np.array([1., 2, 1, 3, 1, 2])
    expected = 0.0
    for tt in t[st == 1]:
        risk = t >= tt
        dead = (t == tt) & (st == 1)
        expected += w[dead & (g == 1)].sum() - w[risk & (g == 1)].sum() * w[dead].sum() / w[risk].sum()
    d = sh.SurveyDesign(pd.DataFrame({"t": t, "s": st, "g": g, "w": w}), weights="w")
    res = models.logrank(d, "t", "s", "g")
    assert res.to_frame().score[0] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(-0.4222222222222, rel=1e-12)      # R svylogrank


def test_logrank_errors(designs):
    d = designs["taylor"]
    with pytest.raises(MissingColumnError):
        models.logrank(d, "time", "died", "g2")
    with pytest.raises(EstimationError, match="at least 2 groups"):
        models.logrank(d.subset(d.data.g2 == "b"), "time", "status", "g2")
    with pytest.raises(ModelError, match="0/1"):
        models.logrank(d.assign(s2=d.data.status * 2), "time", "s2", "g2")
    with pytest.raises(ModelError, match=">= 0"):
        models.logrank(d, "time", "status", "g2", rho=-1)
