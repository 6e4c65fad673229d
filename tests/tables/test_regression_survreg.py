"""tables.regression on models.survreg results (time ratios), against R survey 4.1-1's
svysurvreg numbers in tests/models/fixtures/survreg/survreg_reference.json (synthetic data
simulated by make_survreg.R): exp(coef), exp(coef +- qnorm(0.975) se), summary p-values."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import socialhealth as sh
from socialhealth.errors import ModelError

FIX = Path(__file__).parents[1] / "models" / "fixtures" / "survreg"
REF = {c["id"]: c for c in json.loads((FIX / "survreg_reference.json").read_text())["taylor"]}


@pytest.fixture(scope="module")
def design():
    d = pd.read_csv(FIX / "survreg_data.csv")
    return sh.SurveyDesign(d, weights="wt", strata="stratum", psu="psu", fpc="fpc1",
                           lonely_psu="adjust")


def test_time_ratio_table_matches_r(design):
    m = sh.models.survreg(design, "time", "status", ["x", "lonely", "grp"], dist="lognormal")
    t = sh.tables.regression(m)
    assert t.header[1] == "TR (95% CI)"
    f = t.to_frame()
    case = REF["strat_clus_fpc_lognormal"]
    b, se, p = (np.array(case[k][1:5]) for k in ("value", "se", "p"))   # x, lonely, grpb, grpc
    q = stats.norm.ppf(0.975)
    rows = f[~f["reference"]].set_index("term").loc[["x", "lonely", "grp[T.b]", "grp[T.c]"]]
    np.testing.assert_allclose(rows["estimate"], np.exp(b), rtol=1e-8)
    np.testing.assert_allclose(rows["ci_low"], np.exp(b - q * se), rtol=1e-8)
    np.testing.assert_allclose(rows["ci_high"], np.exp(b + q * se), rtol=1e-8)
    np.testing.assert_allclose(rows["p_value"], p, rtol=1e-6)
    assert set(f["measure"]) == {"TR"} and "Intercept" not in set(f["term"])
    assert "Log(scale)" not in set(f["term"])
    assert any("TR = time ratio" in n for n in t.notes)


def test_time_scale_model_shows_coefficients(design):
    m = sh.models.survreg(design, "time", "status", ["x", "lonely", "grp"], dist="gaussian")
    t = sh.tables.regression(m)
    assert t.header[1] == "Beta (95% CI)"
    f = t.to_frame().set_index("term")
    case = REF["strat_clus_fpc_gaussian"]
    assert f.loc["x", "estimate"] == pytest.approx(case["value"][1], rel=1e-8)
    assert f.loc["lonely", "ci_low"] == pytest.approx(
        case["value"][2] - stats.norm.ppf(0.975) * case["se"][2], rel=1e-8)
    assert not f["exponentiated"].any()
    with pytest.raises(ModelError, match="exponentiate=False"):
        sh.tables.regression(m, exponentiate=True)
